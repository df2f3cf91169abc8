#version 450
// conv2d forward, NCHW, as an implicit GEMM (no im2col buffer):
//   y[n][co][oy][ox] = bias[co] + sum_{ci,ky,kx} w[co][ci][ky][kx] * x[n][ci][oy*S + ky - pad][ox*S + kx - pad]
// with x = 0 outside the image.
//
// The output pixels of the whole batch are numbered q = n*P + oy*Wo + ox (P = Ho*Wo). Each
// invocation computes a register tile of TCO output channels x TP consecutive pixels, so per
// input value it fetches (TCO + TP) floats for TCO*TP multiply-adds. Loops run taps outside
// and input channels inside: the pixel offsets and padding masks of a tap are computed once
// and reused for every input channel. Inputs are read through r32f texel buffers (fast on
// lavapipe, cached on GPUs); outputs are stored as vec4 where the plane allows.
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
layout(constant_id = 3) const uint KS = 3;     // kernel size (odd)
layout(constant_id = 4) const uint STRIDE = 1;
layout(constant_id = 5) const uint TCO = 8;    // output channels per invocation
layout(constant_id = 6) const uint TP4 = 2;    // groups of 4 output pixels per invocation
#include "layers_common.glsl"

layout(binding = 0) uniform samplerBuffer X;    // [N][Cin][H][W]
layout(binding = 1) uniform samplerBuffer Wt;   // [Cout][Cin][KS][KS]
layout(binding = 2) uniform samplerBuffer Bias; // [Cout] (unread when has_bias = 0)
layout(binding = 3, std430) writeonly buffer Y1 { float y[]; };
layout(binding = 3, std430) writeonly buffer Y4 { vec4 y4[]; };

layout(push_constant) uniform Push { uint N, Cin, H, W, Cout, Ho, Wo, pad, has_bias; } p;

const uint TP = 4u * TP4;

void main()
{
    const uint P = p.Ho * p.Wo, HW = p.H * p.W, KK = KS * KS;
    const uint q0 = gl_GlobalInvocationID.x * TP;
    const uint co0 = gl_WorkGroupID.y * TCO;
    if (q0 >= p.N * P) return;

    // Where each pixel's window starts in x (it may start above/left of the image: padding).
    uint xbase[TP];
    int iy0[TP], ix0[TP];
    for (uint i = 0; i < TP; i++) {
        const uint q = min(q0 + i, p.N * P - 1u); // pixels past the end repeat the last one, unstored
        const uint n = q / P, r = q % P;
        xbase[i] = n * p.Cin * HW;
        iy0[i] = int((r / p.Wo) * STRIDE) - int(p.pad);
        ix0[i] = int((r % p.Wo) * STRIDE) - int(p.pad);
    }
    uint wrow[TCO];
    for (uint c = 0; c < TCO; c++) wrow[c] = min(co0 + c, p.Cout - 1u) * p.Cin * KK;

    vec4 acc[TCO][TP4];
    for (uint c = 0; c < TCO; c++)
        for (uint j = 0; j < TP4; j++) acc[c][j] = vec4(0.0);

    for (uint ky = 0; ky < KS; ky++)
        for (uint kx = 0; kx < KS; kx++) {
            uint off[TP];
            bool inside[TP];
            for (uint i = 0; i < TP; i++) {
                const int iy = iy0[i] + int(ky), ix = ix0[i] + int(kx);
                inside[i] = uint(iy) < p.H && uint(ix) < p.W;
                off[i] = inside[i] ? xbase[i] + uint(iy) * p.W + uint(ix) : 0u; // a safe address when outside
            }
            const uint tap = ky * KS + kx;
            for (uint ci = 0; ci < p.Cin; ci++) {
                vec4 xv[TP4];
                for (uint i = 0; i < TP; i++) {
                    const float v = LOAD(X, off[i] + ci * HW);
                    xv[i / 4u][i % 4u] = inside[i] ? v : 0.0;
                }
                for (uint c = 0; c < TCO; c++) {
                    const vec4 wv = vec4(LOAD(Wt, wrow[c] + ci * KK + tap));
                    for (uint j = 0; j < TP4; j++) acc[c][j] = fma(wv, xv[j], acc[c][j]);
                }
            }
        }

    // y[n][co][r]: 4 consecutive pixels are one vec4 when the plane size is a multiple of 4
    // (q0 is, so the group then never straddles two images).
    const bool vec_store = P % 4u == 0u;
    for (uint c = 0; c < TCO; c++) {
        const uint co = co0 + c;
        if (co >= p.Cout) break;
        const float b = p.has_bias != 0u ? LOAD(Bias, co) : 0.0;
        for (uint j = 0; j < TP4; j++) {
            const uint q = q0 + 4u * j;
            if (q >= p.N * P) break;
            const vec4 v = acc[c][j] + b;
            if (vec_store && q + 3u < p.N * P) {
                y4[((q / P) * p.Cout + co) * P / 4u + (q % P) / 4u] = v;
            } else {
                for (uint k = 0; k < 4u && q + k < p.N * P; k++)
                    y[((q + k) / P * p.Cout + co) * P + (q + k) % P] = v[k];
            }
        }
    }
}
