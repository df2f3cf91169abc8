#version 450
// Copy conv weights [Cout][Cin][KK] into the A operand of a GEMM with rows padded to `ld`
// floats (a multiple of 4, so the GEMM takes its vec4 path), zeros in the padding:
//   mode 0 (forward):        a[co][ci*KK + t]            = w[co][ci][t]
//   mode 1 (backward-input): a[ci][co*KK + (KK-1-t)]     = w[co][ci][t]   (transposed, flipped)
// With has_bias (mode 0) column Cin*KK is the bias: a[co][Cin*KK] = bias[co] (it multiplies
// the row of ones that conv2d_im2col.comp appends).
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
#include "layers_common.glsl"

layout(binding = 0) uniform samplerBuffer Wt;
layout(binding = 1) uniform samplerBuffer Bias; // [Cout] (unread unless has_bias)
layout(binding = 2, std430) writeonly buffer A { float a[]; };

layout(push_constant) uniform Push { uint Cout, Cin, KK, ld, mode, has_bias; } p;

void main()
{
    const uint id = linear_invocation();
    const uint rows = p.mode == 0u ? p.Cout : p.Cin;
    if (id >= rows * p.ld) return;
    const uint row = id / p.ld, col = id % p.ld;
    const uint K = (p.mode == 0u ? p.Cin : p.Cout) * p.KK;
    float v = 0.0;
    if (col < K) {
        const uint other = col / p.KK, t = col % p.KK;
        v = p.mode == 0u ? LOAD(Wt, id - row * (p.ld - K))
                         : LOAD(Wt, (other * p.Cin + row) * p.KK + (p.KK - 1u - t));
    }
    if (p.has_bias != 0u && col == K) v = LOAD(Bias, row);
    a[id] = v;
}
