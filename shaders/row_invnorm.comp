#version 450
// Inverse L2 norms of rows: out[r] = 1 / max(||x_r||, eps) (F.normalize's denominator), so
// cosine similarities can be formed from raw dot products without rewriting the rows.
// One invocation per row.
layout(local_size_x_id = 0) in;

layout(binding = 0, std430) readonly buffer X { float x[]; };
layout(binding = 1, std430) writeonly buffer O { float o[]; };

layout(push_constant) uniform Push {
    uint rows, dim, x_off, o_off;
    float eps;
} p;

void main()
{
    const uint r = gl_GlobalInvocationID.x;
    if (r >= p.rows) return;
    float s0 = 0.0, s1 = 0.0;
    uint d = 0u, at = p.x_off + r * p.dim;
    for (; d + 2u <= p.dim; d += 2u) {
        const float a = x[at + d], b = x[at + d + 1u];
        s0 += a * a, s1 += b * b;
    }
    if (d < p.dim) s0 += x[at + d] * x[at + d];
    o[p.o_off + r] = 1.0 / max(sqrt(s0 + s1), p.eps);
}
