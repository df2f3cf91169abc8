#version 450
// Deterministic column sums: out[c] = scale * sum_r f(x[r*ld + c]), f(v) = v or v*v, optionally
// followed by a square root (norms). No atomics: rows are split into fixed chunks that depend
// only on the shape; pass 1 writes one partial per (chunk, column) and pass 2 (the same shader
// over the partials, one chunk) adds them in chunk order, so the result is bit-identical from
// run to run. A vector sum is the column sum of an n x 1 matrix.
//
// One invocation per (column, chunk) adding its rows in order: each invocation reads a strided
// column, adjacent invocations read adjacent columns (coalesced on GPUs, one cache line per
// 8-16 lanes on CPUs).
layout(local_size_x_id = 0) in;

layout(binding = 0, std430) readonly buffer X { float x[]; };
layout(binding = 1, std430) writeonly buffer O { float o[]; };

layout(push_constant) uniform Push {
    uint rows, cols, ld;
    uint chunk_rows;  // rows per chunk; gl_WorkGroupID.y is the chunk
    uint x_off, o_off; // element offsets into the bound views
    uint square;      // 1: sum of squares
    uint root;        // 1: sqrt of the (scaled) sum
    float scale;
} p;

void main()
{
    const uint c = gl_GlobalInvocationID.x;
    if (c >= p.cols) return;
    const uint chunk = gl_WorkGroupID.y;
    const uint r0 = chunk * p.chunk_rows, r1 = min(r0 + p.chunk_rows, p.rows);
    // Four interleaved partial sums: shorter dependency chains and less rounding growth than
    // one running sum; combined in a fixed order.
    float s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    uint r = r0;
    uint at = p.x_off + r0 * p.ld + c;
    for (; r + 4u <= r1; r += 4u, at += 4u * p.ld) {
        float v0 = x[at], v1 = x[at + p.ld], v2 = x[at + 2u * p.ld], v3 = x[at + 3u * p.ld];
        if (p.square != 0u) v0 *= v0, v1 *= v1, v2 *= v2, v3 *= v3;
        s0 += v0, s1 += v1, s2 += v2, s3 += v3;
    }
    for (; r < r1; r++, at += p.ld) {
        float v = x[at];
        s0 += p.square != 0u ? v * v : v;
    }
    float s = ((s0 + s1) + (s2 + s3)) * p.scale;
    if (p.root != 0u) s = sqrt(s);
    o[p.o_off + chunk * p.cols + c] = s;
}
