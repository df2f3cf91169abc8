#version 450
// Scatter GEMM output columns back to NCHW (the CPU path of conv2d, src/nn/conv2d.c):
//   y[n0+nl][c][r] = t[c][nl*P4 + r] + bias[c]     for r < P
// t is the product W * col with rows of length L = nimg*P4 (see conv2d_im2col.comp).
// One invocation copies one (channel, image) plane: vec4 stores when P is a multiple of 4.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x_id = 0) in;
#include "layers_common.glsl"

layout(binding = 0) uniform samplerBuffer T4;   // rgba32f view of t
layout(binding = 1) uniform samplerBuffer Bias; // [C] (unread when has_bias = 0)
layout(binding = 2, std430) writeonly buffer Y1 { float y[]; };
layout(binding = 2, std430) writeonly buffer Y4 { vec4 y4[]; };

layout(push_constant) uniform Push { uint n0, nimg, C, P, P4, L, has_bias; } p;

void main()
{
    const uint id = linear_invocation();
    const uint c = id % p.C, nl = id / p.C;
    if (nl >= p.nimg) return;
    const uint src = (c * p.L + nl * p.P4) >> 2;
    const uint dst = ((p.n0 + nl) * p.C + c) * p.P;
    const float b = p.has_bias != 0u ? LOAD(Bias, c) : 0.0;
    if (p.P % 4u == 0u) {
        for (uint r4 = 0u; r4 < p.P; r4 += 4u) y4[(dst + r4) >> 2] = texelFetch(T4, int(src + (r4 >> 2))) + b;
    } else {
        for (uint r4 = 0u; r4 < p.P; r4 += 4u) {
            const vec4 v = texelFetch(T4, int(src + (r4 >> 2))) + b;
            [[unroll]] for (uint q = 0u; q < 4u; q++)
                if (r4 + q < p.P) y[dst + r4 + q] = v[q];
        }
    }
}
