#version 450
// x *= s[0] in place: the loss scale of fp16 training applied to the loss's gradient, read from
// a host-written buffer so the recorded step serves every scale. One invocation per element.
#extension GL_GOOGLE_include_directive : require
#include "texel.glsl"
layout(local_size_x_id = 0) in;
#include "layers_common.glsl"

layout(binding = 0, std430) readonly buffer S { float s[]; };
layout(binding = 1, std430) buffer X { float x[]; };

layout(push_constant) uniform Push { uint n; } p;

void main()
{
    const uint i = linear_invocation();
    if (i < p.n) x[i] *= s[0];
}
