#version 450
// Second pass of a split reduction: out[i] = sum over chunks c = 0, 1, ... of
// part[src + c*stride + i], for i < len, added in chunk order so the result is the same on
// every run (no atomics). Used for conv weight and bias gradients.
#extension GL_GOOGLE_include_directive : require
#include "texel.glsl"
layout(local_size_x_id = 0) in;
#include "layers_common.glsl"

layout(binding = 0) uniform TEXELS Part;
layout(binding = 1, std430) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push { uint len, nchunks, stride, src; } p;

void main()
{
    const uint i = linear_invocation();
    if (i >= p.len) return;
    float s = 0.0;
    for (uint c = 0u; c < p.nchunks; c++) s += LOAD(Part, p.src + c * p.stride + i);
    o[i] = s;
}
