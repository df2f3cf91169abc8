#version 450
// y = a + b element-wise: the join of a residual block (its backward is the identity to both
// branches; the two gradients meeting at the block input are summed by this same kernel).
// Each invocation handles 4 consecutive floats and writes them with one vec4 store.
#extension GL_GOOGLE_include_directive : require
#include "texel.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 3) const uint MODE = 0; // unused: keeps the host's element-wise path uniform
layout(constant_id = 4) const bool VEC = false; // n % 4 == 0, A and B rgba32f views: one texel fetch per input
#include "layers_common.glsl"
#include "precision.glsl"

layout(binding = 0) uniform ACT_TEXELS A;
layout(binding = 1) uniform ACT_TEXELS B;
layout(binding = 2, std430) writeonly buffer Y1 { act_t y[]; };
layout(binding = 2, std430) writeonly buffer Y4 { act4_t y4[]; };

layout(push_constant) uniform Push { uint n; } p;

float sum(uint i) { return act_load(A, i) + act_load(B, i); }

void main()
{
    const uint i = 4u * linear_invocation();
    if (i >= p.n) return;
    if (VEC) {
        y4[i >> 2] = act4(act_load4(A, i >> 2) + act_load4(B, i >> 2));
    } else if (i + 3u < p.n) {
        y4[i >> 2] = act4(vec4(sum(i), sum(i + 1u), sum(i + 2u), sum(i + 3u)));
    } else {
        for (uint j = i; j < p.n; j++) y[j] = act(sum(j));
    }
}
