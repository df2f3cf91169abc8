#version 450
// y_r = x_r / max(||x_r||, eps) for each row r of a rows x dim matrix (F.normalize semantics:
// eps keeps an all-zero row finite). One invocation per row.
layout(local_size_x_id = 0) in;

layout(binding = 0, std430) readonly buffer X { float x[]; };
layout(binding = 1, std430) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Push {
    uint rows, dim, x_off, y_off;
    float eps;
} p;

void main()
{
    const uint r = gl_GlobalInvocationID.x;
    if (r >= p.rows) return;
    const uint xr = p.x_off + r * p.dim, yr = p.y_off + r * p.dim;
    float ss = 0.0;
    for (uint d = 0; d < p.dim; d++) ss = fma(x[xr + d], x[xr + d], ss);
    const float inv = 1.0 / max(sqrt(ss), p.eps);
    for (uint d = 0; d < p.dim; d++) y[yr + d] = x[xr + d] * inv;
}
