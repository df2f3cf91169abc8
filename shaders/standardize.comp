#version 450
// Column-wise standardisation in place, in two modes:
//   center (mode 0): x[r][c] -= mean[c]
//   scale  (mode 1): x[r][c] *= std[c] > eps ? 1 / std[c] : 1   (constant columns stay centred)
// x runs along the columns, y along the rows.
layout(local_size_x_id = 0, local_size_y_id = 1) in;

layout(binding = 0, std430) buffer X { float x[]; };
layout(binding = 1, std430) readonly buffer Stat { float stat[]; };

layout(push_constant) uniform Push {
    uint rows, cols, x_off, s_off, mode;
    float eps;
} p;

void main()
{
    const uint c = gl_GlobalInvocationID.x, r = gl_GlobalInvocationID.y;
    if (c >= p.cols || r >= p.rows) return;
    const uint at = p.x_off + r * p.cols + c;
    const float s = stat[p.s_off + c];
    if (p.mode == 0u) x[at] -= s;
    else if (s > p.eps) x[at] *= 1.0 / s;
}
