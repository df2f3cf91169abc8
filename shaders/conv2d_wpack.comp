#version 450
// Conv weights [Cout][Cin][KK] rearranged as the reduction-major operand of the implicit-GEMM
// convolutions (src/nn/conv2d.c): row k of a holds one tap of one input channel for every
// output channel, padded with zeros to `ld` floats (whole register tiles, whole texels):
//   mode 0 (forward):                  a[(ci*KK + t)*ld + co] = w[co][ci][t]
//   mode 1 (backward to the input):    a[(co*KK + t)*ld + ci] = w[co][ci][KK-1-t]
// (mode 1 is the transposed, flipped kernel: the input gradient of a stride-1 convolution
// is dy convolved with it.)
#extension GL_GOOGLE_include_directive : require
#include "texel.glsl"
layout(local_size_x_id = 0) in;
#include "layers_common.glsl"

layout(binding = 0) uniform TEXELS Wt;
layout(binding = 1, std430) writeonly buffer A { float a[]; };

layout(push_constant) uniform Push { uint Cout, Cin, KK, ld, mode; } p;

void main()
{
    const uint id = linear_invocation();
    const uint rows = (p.mode == 0u ? p.Cin : p.Cout) * p.KK;
    if (id >= rows * p.ld) return;
    const uint k = id / p.ld, col = id % p.ld;
    const uint other = k / p.KK, t = k % p.KK; // other: ci (mode 0) or co (mode 1)
    float v = 0.0;
    if (p.mode == 0u && col < p.Cout) v = LOAD(Wt, (col * p.Cin + other) * p.KK + t);
    if (p.mode == 1u && col < p.Cin) v = LOAD(Wt, (other * p.Cin + col) * p.KK + (p.KK - 1u - t));
    a[id] = v;
}
