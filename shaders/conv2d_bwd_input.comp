#version 450
// conv2d backward to the input, NCHW (the transposed convolution of dy):
//   dx[n][ci][iy][ix] = sum_{co,ky,kx} w[co][ci][ky][kx] * dy[n][co][oy][ox]
// over the (ky, kx) for which oy = (iy + pad - ky) / S and ox = (ix + pad - kx) / S are whole
// and inside the output. Same register tiling as the forward with the roles of the channels
// swapped: TCI input channels x TP consecutive input pixels per invocation, taps outside,
// output channels inside. Every dx element is written once (a gather, no atomics). With
// stride 2 three taps in four are masked out for a given pixel parity: wasted but correct.
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
layout(constant_id = 3) const uint KS = 3;
layout(constant_id = 4) const uint STRIDE = 1;
layout(constant_id = 5) const uint TCI = 8;    // input channels per invocation
layout(constant_id = 6) const uint TP4 = 2;    // groups of 4 input pixels per invocation
#include "layers_common.glsl"

layout(binding = 0) uniform samplerBuffer DY;  // [N][Cout][Ho][Wo]
layout(binding = 1) uniform samplerBuffer Wt;  // [Cout][Cin][KS][KS]
layout(binding = 2, std430) writeonly buffer DX1 { float dx[]; };
layout(binding = 2, std430) writeonly buffer DX4 { vec4 dx4[]; };

layout(push_constant) uniform Push { uint N, Cin, H, W, Cout, Ho, Wo, pad; } p;

const uint TP = 4u * TP4;

void main()
{
    const uint P = p.Ho * p.Wo, HW = p.H * p.W, KK = KS * KS;
    const uint q0 = gl_GlobalInvocationID.x * TP; // input pixel q = n*HW + iy*W + ix
    const uint ci0 = gl_WorkGroupID.y * TCI;
    if (q0 >= p.N * HW) return;

    uint dybase[TP];
    int ty0[TP], tx0[TP]; // iy + pad, ix + pad
    for (uint i = 0; i < TP; i++) {
        const uint q = min(q0 + i, p.N * HW - 1u);
        const uint n = q / HW, r = q % HW;
        dybase[i] = n * p.Cout * P;
        ty0[i] = int(r / p.W + p.pad);
        tx0[i] = int(r % p.W + p.pad);
    }
    uint wcol[TCI];
    for (uint c = 0; c < TCI; c++) wcol[c] = min(ci0 + c, p.Cin - 1u) * KK;
    const uint wstride = p.Cin * KK; // between output channels

    vec4 acc[TCI][TP4];
    for (uint c = 0; c < TCI; c++)
        for (uint j = 0; j < TP4; j++) acc[c][j] = vec4(0.0);

    for (uint ky = 0; ky < KS; ky++)
        for (uint kx = 0; kx < KS; kx++) {
            uint off[TP];
            bool hit[TP];
            for (uint i = 0; i < TP; i++) {
                const int ty = ty0[i] - int(ky), tx = tx0[i] - int(kx);
                const uint oy = uint(ty) / STRIDE, ox = uint(tx) / STRIDE;
                hit[i] = ty >= 0 && tx >= 0 && uint(ty) % STRIDE == 0u && uint(tx) % STRIDE == 0u && oy < p.Ho &&
                         ox < p.Wo;
                off[i] = hit[i] ? dybase[i] + oy * p.Wo + ox : 0u;
            }
            const uint tap = ky * KS + kx;
            for (uint co = 0; co < p.Cout; co++) {
                vec4 gv[TP4];
                for (uint i = 0; i < TP; i++) {
                    const float v = LOAD(DY, off[i] + co * P);
                    gv[i / 4u][i % 4u] = hit[i] ? v : 0.0;
                }
                for (uint c = 0; c < TCI; c++) {
                    const vec4 wv = vec4(LOAD(Wt, co * wstride + wcol[c] + tap));
                    for (uint j = 0; j < TP4; j++) acc[c][j] = fma(wv, gv[j], acc[c][j]);
                }
            }
        }

    const bool vec_store = HW % 4u == 0u;
    for (uint c = 0; c < TCI; c++) {
        const uint ci = ci0 + c;
        if (ci >= p.Cin) break;
        for (uint j = 0; j < TP4; j++) {
            const uint q = q0 + 4u * j;
            if (q >= p.N * HW) break;
            if (vec_store && q + 3u < p.N * HW) {
                dx4[((q / HW) * p.Cin + ci) * HW / 4u + (q % HW) / 4u] = acc[c][j];
            } else {
                for (uint k = 0; k < 4u && q + k < p.N * HW; k++)
                    dx[((q + k) / HW * p.Cin + ci) * HW + (q + k) % HW] = acc[c][j][k];
            }
        }
    }
}
