#version 450
// Second pass of the weight gradient on the im2col path (src/nn/conv2d.c): add the split-K
// slots in slot order (deterministic, no atomics). Slot s holds a Cout x R matrix at
// part[s*stride]: columns 0 .. R-2 (or R-1 without bias) are dW[co][ci*KK + t], and with a
// bias the last column is dbias[co] (the product with the row of ones).
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
#include "layers_common.glsl"

layout(binding = 0) uniform samplerBuffer Part;
layout(binding = 1, std430) writeonly buffer DW { float dw[]; };
layout(binding = 2, std430) writeonly buffer DB { float db[]; };

layout(push_constant) uniform Push { uint Cout, R, ck, nslots, stride; } p;

void main()
{
    const uint i = linear_invocation();
    if (i >= p.Cout * p.R) return;
    float s = 0.0;
    for (uint c = 0u; c < p.nslots; c++) s += LOAD(Part, c * p.stride + i);
    const uint co = i / p.R, j = i % p.R;
    if (j < p.ck) dw[co * p.ck + j] = s;
    else db[co] = s;
}
