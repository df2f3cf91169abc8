#version 450
// conv2d backward to the weights, NCHW, first pass (split K) for GPUs: shared-memory block
// tiles, double-buffered (conv2d_smem.glsl), nothing unfolded into memory.
//   dw[co][ci][ky][kx] = sum_{n,oy,ox} dy[n][co][oy][ox] * x[n][ci][oy*S + ky - PAD][ox*S + kx - PAD]
//   db[co]             = sum_{n,oy,ox} dy[n][co][oy][ox]
// as C = A * B with M = Cout, N = Cin*KS*KS (+1: a column of ones gives db), K = N*Ho*Wo
// output pixels, cut into chunks of `klen` (gl_WorkGroupID.z):
//   A[co][k] = dy at pixel k (vec4 loads along the pixels when planes are whole vec4s)
//   B[k][j]  = x at tap j of pixel k (0 in the padding), 1 in the bias column
// Neighbouring invocations stage neighbouring pixels, so both reads coalesce. Chunk c writes
//   part[c*stride + (co*Cin + ci)*KK + t]  and  part[c*stride + Cout*Cin*KK + co],
// which reduce_chunks.comp adds in chunk order: deterministic, no atomics (DESIGN.md decision 4).
// COOP (conv2d_wgrad_coop_f16/_bf16): the same implicit GEMM on cooperative matrices
// (coopmat_gemm.glsl; 16-bit dy and x, float32 sums and partial sums), the same ordered split.
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
layout(constant_id = 14) const bool VEC = false; // Ho*Wo % 4 == 0: dy read as vec4 along the pixels
#else
layout(constant_id = 6) const uint BM = 64;   // output channels per workgroup (multiple of 4)
layout(constant_id = 7) const uint BN = 128;  // (input channel, tap) columns per workgroup
layout(constant_id = 8) const uint BK = 16;   // pixels per step (multiple of 4)
layout(constant_id = 9) const uint TN4 = 2;   // vec4 column groups per invocation
layout(constant_id = 10) const bool VEC = false; // Ho*Wo % 4 == 0: dy read as vec4 along the pixels
#endif

layout(binding = 0, std430) readonly buffer X { act_t x[]; };     // [N][Cin][H][W]
layout(binding = 1, std430) readonly buffer DY1 { act_t dy1[]; }; // [N][Cout][Ho][Wo]
layout(binding = 1, std430) readonly buffer DY4 { act4_t dy4[]; };
layout(binding = 2, std430) writeonly buffer Part { float part[]; };

layout(push_constant) uniform Push { uint N, Cin, H, W, Cout, Ho, Wo, klen, has_bias; } p;

// ---- storage access: the only lines that know how activations are stored ----
float load_x(uint i) { return act_float(x[i]); }
float load_dy(uint i) { return act_float(dy1[i]); }
vec4 load_dy4(uint t) { return act_float4(dy4[t]); } // elements 4t .. 4t+3
// ----

#ifndef COOP
#include "conv2d_smem.glsl"
#endif

const uint KK = KS * KS;
const uint AV = VEC ? 4u : 1u;            // pixels per A load
const uint A_PER = BK * BM / (WG * AV);   // A loads per invocation and stage (WG divides BK*BM/AV)
const uint A_STEP = WG * AV / BK;         // rows (co) between an invocation's A loads
const uint B_PER = BK * BN / WG;
const uint B_STEP = WG / BK;              // columns between an invocation's B loads

vec4 ra[A_PER];
float rb[B_PER];
uint m0, n0, kbeg, kend, NB;

void load_stage(uint t)
{
    const uint tid = gl_LocalInvocationID.x, P = p.Ho * p.Wo;
    // A: this invocation's pixel(s) k .. k+AV-1, rows m = tid / (BK/AV) + s*A_STEP.
    {
        const uint k = kbeg + t * BK + (tid % (BK / AV)) * AV;
        const uint kc = min(k, kend - 1u), img = kc / P, r = kc % P;
        [[unroll]] for (uint s = 0u; s < A_PER; s++) {
            const uint co = m0 + tid / (BK / AV) + s * A_STEP;
            const uint at = (img * p.Cout + min(co, p.Cout - 1u)) * P + r;
            if (VEC) {
                ra[s] = k < kend && co < p.Cout ? load_dy4(at >> 2) : vec4(0.0);
            } else {
                ra[s] = vec4(k < kend && co < p.Cout ? load_dy(at) : 0.0);
            }
        }
    }
    // B: this invocation's pixel k, columns j = tid / BK + s*B_STEP.
    {
        const uint k = kbeg + t * BK + tid % BK;
        const bool kok = k < kend;
        const uint kc = kok ? k : kbeg, img = kc / P, r = kc % P;
        const int iy0 = int((r / p.Wo) * STRIDE) - int(PAD), ix0 = int((r % p.Wo) * STRIDE) - int(PAD);
        const uint xb = img * p.Cin * p.H * p.W;
        [[unroll]] for (uint s = 0u; s < B_PER; s++) {
            const uint j = n0 + tid / BK + s * B_STEP;
            const uint ci = j / KK, tap = j % KK;
            const int iy = iy0 + int(tap / KS), ix = ix0 + int(tap % KS);
            const bool ok = kok && j < p.Cin * KK && uint(iy) < p.H && uint(ix) < p.W;
            const float v = ok ? load_x(xb + ci * p.H * p.W + uint(iy) * p.W + uint(ix)) : 0.0;
            rb[s] = j == p.Cin * KK && kok ? 1.0 : v;
        }
    }
}

void store_stage(uint b)
{
    const uint tid = gl_LocalInvocationID.x;
    [[unroll]] for (uint s = 0u; s < A_PER; s++) {
        const uint kk = (tid % (BK / AV)) * AV, m = tid / (BK / AV) + s * A_STEP;
        [[unroll]] for (uint e = 0u; e < AV; e++) stage_a(b, (kk + e) * BM + m, ra[s][e]);
    }
    [[unroll]] for (uint s = 0u; s < B_PER; s++) stage_b(b, (tid % BK) * BN + tid / BK + s * B_STEP, rb[s]);
}

void main()
{
    m0 = gl_WorkGroupID.y * BM;
    n0 = gl_WorkGroupID.x * BN;
    const uint chunk = gl_WorkGroupID.z, total = p.N * p.Ho * p.Wo;
    kbeg = chunk * p.klen;
    kend = min(kbeg + p.klen, total);
    NB = p.Cin * KK + (p.has_bias != 0u ? 1u : 0u);
    gemm_block(kend > kbeg ? (kend - kbeg + BK - 1u) / BK : 0u);

    const uint tx = gl_LocalInvocationID.x % WGX, ty = gl_LocalInvocationID.x / WGX;
    const uint nw = p.Cout * p.Cin * KK, stride = nw + p.Cout, base = chunk * stride;
    [[unroll]] for (uint i = 0u; i < 4u; i++) {
        const uint co = m0 + ty * 4u + i;
        [[unroll]] for (uint j = 0u; j < TN4; j++)
            [[unroll]] for (uint e = 0u; e < 4u; e++) {
                const uint col = n0 + (tx + j * WGX) * 4u + e;
                if (co < p.Cout && col < NB)
                    part[base + (col < p.Cin * KK ? co * p.Cin * KK + col : nw + co)] = acc[i][j][e];
            }
    }
}
