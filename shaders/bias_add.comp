#version 450
// y[r][c] += b[c] for a rows x cols matrix with leading dimension ld: the bias of a linear
// layer, applied after the GEMM wrote x W^T into y.
layout(local_size_x_id = 0) in;

layout(binding = 0, std430) readonly buffer B { float b[]; };
layout(binding = 1, std430) buffer Y { float y[]; };

layout(push_constant) uniform Push {
    uint rows, cols, ld, b_off, y_off;
} p;

void main()
{
    const uint c = gl_GlobalInvocationID.x, r = gl_GlobalInvocationID.y;
    if (c >= p.cols || r >= p.rows) return;
    y[p.y_off + r * p.ld + c] += b[p.b_off + c];
}
