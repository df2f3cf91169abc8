#version 450
// ReLU. MODE 0 (forward): y = max(a, 0).  MODE 1 (backward): y = b where a > 0, else 0,
// with a = the forward output and b = dL/d(output): max(x,0) > 0 exactly where x > 0.
// Each invocation handles 4 consecutive floats and writes them with one vec4 store.
#extension GL_GOOGLE_include_directive : require
#include "texel.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 3) const uint MODE = 0;
layout(constant_id = 4) const bool VEC = false; // n % 4 == 0, A and B rgba32f views: one texel fetch per input
#include "layers_common.glsl"
#include "precision.glsl"

layout(binding = 0) uniform ACT_TEXELS A;
layout(binding = 1) uniform ACT_TEXELS B;
layout(binding = 2, std430) writeonly buffer Y1 { act_t y[]; };
layout(binding = 2, std430) writeonly buffer Y4 { act4_t y4[]; };

layout(push_constant) uniform Push { uint n; } p;

float op(uint i)
{
    const float a = act_load(A, i);
    if (MODE == 0) return max(a, 0.0);
    return a > 0.0 ? act_load(B, i) : 0.0;
}

void main()
{
    const uint i = 4u * linear_invocation();
    if (i >= p.n) return;
    if (VEC) {
        const vec4 a = act_load4(A, i >> 2);
        y4[i >> 2] = act4(MODE == 0 ? max(a, vec4(0.0)) : mix(vec4(0.0), act_load4(B, i >> 2), greaterThan(a, vec4(0.0))));
    } else if (i + 3u < p.n) {
        y4[i >> 2] = act4(vec4(op(i), op(i + 1u), op(i + 2u), op(i + 3u)));
    } else {
        for (uint j = i; j < p.n; j++) y[j] = act(op(j));
    }
}
