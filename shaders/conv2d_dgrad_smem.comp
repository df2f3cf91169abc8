#version 450
// conv2d backward to the input, NCHW, as an implicit GEMM for GPUs: shared-memory block tiles,
// double-buffered (conv2d_smem.glsl), nothing unfolded into memory.
//   dx[n][ci][iy][ix] = sum_{co,ky,kx} w[co][ci][ky][kx] * dy[n][co][oy][ox],  iy + PAD - ky = oy*S, ix + PAD - kx = ox*S
// as C = A * B with M = Cin, N = N*H*W input pixels, K = Cout*KS*KS:
//   A[k][ci] = the packed, transposed, flipped weights (conv2d_wpack.comp mode 1): vec4 loads
//   B[k][q]  = dy at the tap k of pixel q that reaches it (0 where none does: padding, and
//              three taps in four with stride 2), gathered while staging, coalesced along rows.
// COOP (conv2d_dgrad_coop_f16/_bf16): the same implicit GEMM on cooperative matrices
// (coopmat_gemm.glsl; 16-bit weights and dy, float32 sums).
#extension GL_EXT_control_flow_attributes : require
#extension GL_GOOGLE_include_directive : require
#include "texel.glsl"
#include "precision.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 3) const uint KS = 3;
layout(constant_id = 4) const uint STRIDE = 1;
layout(constant_id = 5) const uint PAD = 1;
#ifdef COOP
#include "coopmat_gemm.glsl" // its tile: constants 6-13
#else
layout(constant_id = 6) const uint BM = 64;   // input channels per workgroup (multiple of 4)
layout(constant_id = 7) const uint BN = 128;  // input pixels per workgroup
layout(constant_id = 8) const uint BK = 16;   // reduction step
layout(constant_id = 9) const uint TN4 = 2;   // vec4 pixel groups per invocation
#endif

layout(binding = 0, std430) readonly buffer DY { act_t dy[]; };  // [N][Cout][Ho][Wo]
layout(binding = 1, std430) readonly buffer Wp { vec4 wp4[]; };  // [Cout*KS*KS][ld]
layout(binding = 2, std430) writeonly buffer DX1 { act_t dx1[]; };
layout(binding = 2, std430) writeonly buffer DX4 { act4_t dx4[]; };

layout(push_constant) uniform Push { uint N, Cin, H, W, Cout, Ho, Wo, ld; } p;

// ---- storage access: the only lines that know how activations are stored ----
float load_dy(uint i) { return act_float(dy[i]); }
vec4 load_w4(uint t) { return wp4[t]; }
void store_dx(uint i, float v) { dx1[i] = act(v); }
void store_dx4(uint t, vec4 v) { dx4[t] = act4(v); } // elements 4t .. 4t+3
// ----

#ifndef COOP
#include "conv2d_smem.glsl"
#endif

const uint KK = KS * KS;
const uint A4_PER = (BK * BM / 4u + WG - 1u) / WG;
const uint B_PER = BK * BN / WG;
const uint B_ROWS = WG / BN;

vec4 ra[A4_PER];
float rb[B_PER];
uint m0, q0, K;
bool qok;
uint qbase;
int qy, qx; // iy + PAD, ix + PAD of this invocation's pixel

void load_stage(uint t)
{
    const uint k0 = t * BK, tid = gl_LocalInvocationID.x;
    [[unroll]] for (uint s = 0u; s < A4_PER; s++) {
        const uint e = tid + s * WG, kk = e / (BM / 4u), m4 = e % (BM / 4u);
        const bool ok = e < BK * BM / 4u && k0 + kk < K;
        ra[s] = ok ? load_w4((k0 + kk) * (p.ld / 4u) + m0 / 4u + m4) : vec4(0.0);
    }
    [[unroll]] for (uint s = 0u; s < B_PER; s++) {
        const uint k = k0 + tid / BN + s * B_ROWS;
        const uint co = k / KK, tap = KK - 1u - k % KK;
        const int ty = qy - int(tap / KS), tx = qx - int(tap % KS);
        const uint oy = uint(ty) / STRIDE, ox = uint(tx) / STRIDE;
        const bool ok = qok && k < K && ty >= 0 && tx >= 0 && uint(ty) % STRIDE == 0u && uint(tx) % STRIDE == 0u &&
                        oy < p.Ho && ox < p.Wo;
        rb[s] = ok ? load_dy(qbase + co * p.Ho * p.Wo + oy * p.Wo + ox) : 0.0;
    }
}

void store_stage(uint b)
{
    const uint tid = gl_LocalInvocationID.x;
    [[unroll]] for (uint s = 0u; s < A4_PER; s++) {
        const uint e = tid + s * WG;
        if (e < BK * BM / 4u) {
            const uint kk = e / (BM / 4u), m = (e % (BM / 4u)) * 4u;
            [[unroll]] for (uint i = 0u; i < 4u; i++) stage_a(b, kk * BM + m + i, ra[s][i]);
        }
    }
    [[unroll]] for (uint s = 0u; s < B_PER; s++) stage_b(b, (tid / BN + s * B_ROWS) * BN + tid % BN, rb[s]);
}

void main()
{
    const uint HW = p.H * p.W, total = p.N * HW;
    m0 = gl_WorkGroupID.y * BM;
    q0 = gl_WorkGroupID.x * BN;
    K = p.Cout * KK;
    {
        const uint q = q0 + gl_LocalInvocationID.x % BN;
        qok = q < total;
        const uint qc = qok ? q : 0u, r = qc % HW;
        qbase = (qc / HW) * p.Cout * p.Ho * p.Wo;
        qy = int(r / p.W + PAD);
        qx = int(r % p.W + PAD);
    }
    gemm_block((K + BK - 1u) / BK);

    const uint tx = gl_LocalInvocationID.x % WGX, ty = gl_LocalInvocationID.x / WGX;
    [[unroll]] for (uint i = 0u; i < 4u; i++) {
        const uint ci = m0 + ty * 4u + i;
        if (ci >= p.Cin) continue;
        [[unroll]] for (uint j = 0u; j < TN4; j++) {
            const uint q = q0 + (tx + j * WGX) * 4u;
            if (HW % 4u == 0u && q < total) {
                store_dx4((((q / HW) * p.Cin + ci) * HW + q % HW) >> 2, acc[i][j]);
            } else {
                [[unroll]] for (uint e = 0u; e < 4u; e++)
                    if (q + e < total) store_dx(((q + e) / HW * p.Cin + ci) * HW + (q + e) % HW, acc[i][j][e]);
            }
        }
    }
}
