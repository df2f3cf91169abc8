#version 450
// conv2d forward, NCHW, as an implicit GEMM for GPUs: shared-memory block tiles,
// double-buffered (conv2d_smem.glsl), nothing unfolded into memory.
//   y[n][co][oy][ox] = bias[co] + sum_{ci,ky,kx} w[co][ci][ky][kx] * x[n][ci][oy*S + ky - PAD][ox*S + kx - PAD]
// as C = A * B with M = Cout, N = N*Ho*Wo output pixels, K = Cin*KS*KS:
//   A[k][co] = the packed weights (conv2d_wpack.comp mode 0, rows of ld floats): vec4 loads
//   B[k][q]  = x at tap k of pixel q (0 in the padding), gathered while staging; neighbouring
//              invocations take neighbouring pixels, so the reads coalesce along image rows.
// Workgroup (gl_WorkGroupID.x, .y) computes pixels x*BN .. and channels y*BM ..; vec4 stores
// when planes are whole vec4s.
// COOP (conv2d_fwd_coop_f16/_bf16): the same implicit GEMM on cooperative matrices
// (coopmat_gemm.glsl; 16-bit weights and x, float32 sums), which can also write the batch
// statistics of its output block for the batch norm after it (STATS, as conv2d_fwd_reg.comp:
// group k = gl_WorkGroupID.x, from the block's float32 sums still in shared memory).
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
layout(constant_id = 14) const bool STATS = false;
#else
layout(constant_id = 6) const uint BM = 64;   // output channels per workgroup (multiple of 4)
layout(constant_id = 7) const uint BN = 128;  // output pixels per workgroup
layout(constant_id = 8) const uint BK = 16;   // reduction step
layout(constant_id = 9) const uint TN4 = 2;   // vec4 pixel groups per invocation (WG = BM/4 * BN/(4 TN4))
#endif

layout(binding = 0, std430) readonly buffer X { act_t x[]; };      // [N][Cin][H][W]
layout(binding = 1, std430) readonly buffer Wp { vec4 wp4[]; };    // [Cin*KS*KS][ld]
layout(binding = 2, std430) readonly buffer Bias { float bias[]; }; // [Cout] (unread unless has_bias)
layout(binding = 3, std430) writeonly buffer Y1 { act_t y1[]; };
layout(binding = 3, std430) writeonly buffer Y4 { act4_t y4[]; };

#ifdef COOP
layout(binding = 4, std430) writeonly buffer Stats { float part[]; }; // STATS only
#endif

layout(push_constant) uniform Push { uint N, Cin, H, W, Cout, Ho, Wo, ld, has_bias, groups; } p;

// ---- storage access: the only lines that know how activations are stored ----
float load_x(uint i) { return act_float(x[i]); }
vec4 load_w4(uint t) { return wp4[t]; }
float load_bias(uint i) { return bias[i]; }
void store_y(uint i, float v) { y1[i] = act(v); }
void store_y4(uint t, vec4 v) { y4[t] = act4(v); } // elements 4t .. 4t+3
#ifdef COOP
void store_stat(uint i, float v) { part[i] = v; }
#endif
// ----

#ifndef COOP
#include "conv2d_smem.glsl"
#endif

const uint KK = KS * KS;
const uint A4_PER = (BK * BM / 4u + WG - 1u) / WG; // vec4s of A per invocation and stage
const uint B_PER = BK * BN / WG;                    // floats of B (WG is a multiple of BN)
const uint B_ROWS = WG / BN;                        // B rows staged per pass of the workgroup

vec4 ra[A4_PER];
float rb[B_PER];
uint m0, q0, K;
// This invocation's B column: one output pixel, fixed for the whole reduction.
bool qok;
uint qimg, qbase;
int qy, qx;

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
        const uint ci = k / KK, tap = k % KK;
        const int iy = qy + int(tap / KS), ix = qx + int(tap % KS);
        const bool ok = qok && k < K && uint(iy) < p.H && uint(ix) < p.W;
        rb[s] = ok ? load_x(qbase + ci * p.H * p.W + uint(iy) * p.W + uint(ix)) : 0.0;
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
    const uint P = p.Ho * p.Wo, total = p.N * P;
    m0 = gl_WorkGroupID.y * BM;
    q0 = gl_WorkGroupID.x * BN;
    K = p.Cin * KK;
    {
        const uint q = q0 + gl_LocalInvocationID.x % BN;
        qok = q < total;
        const uint qc = qok ? q : 0u, r = qc % P;
        qimg = qc / P;
        qbase = qimg * p.Cin * p.H * p.W;
        qy = int((r / p.Wo) * STRIDE) - int(PAD);
        qx = int((r % p.Wo) * STRIDE) - int(PAD);
    }
    gemm_block((K + BK - 1u) / BK);

    const uint tx = gl_LocalInvocationID.x % WGX, ty = gl_LocalInvocationID.x / WGX;
    [[unroll]] for (uint i = 0u; i < 4u; i++) {
        const uint co = m0 + ty * 4u + i;
        if (co >= p.Cout) continue;
        const float bv = p.has_bias != 0u ? load_bias(co) : 0.0;
        [[unroll]] for (uint j = 0u; j < TN4; j++) {
            const uint q = q0 + (tx + j * WGX) * 4u;
            const vec4 v = acc[i][j] + bv;
            if (P % 4u == 0u && q < total) {
                store_y4((((q / P) * p.Cout + co) * P + q % P) >> 2, v);
            } else {
                [[unroll]] for (uint e = 0u; e < 4u; e++)
                    if (q + e < total) store_y(((q + e) / P * p.Cout + co) * P + (q + e) % P, v[e]);
            }
        }
    }
#ifdef COOP
    if (STATS) {
        // Statistics of this block's outputs per channel (count, sum, squared deviations from
        // the block's own mean: two ordered passes over the float32 sums in shared memory),
        // the block being group gl_WorkGroupID.x of p.groups; batchnorm_finalize.comp MODE 4
        // combines the groups in order.
        const uint valid = min(BN, total - q0), k = gl_WorkGroupID.x;
        for (uint m = gl_LocalInvocationID.x; m < BM; m += WG) {
            const uint co = m0 + m;
            if (co >= p.Cout) continue;
            const float bv = p.has_bias != 0u ? load_bias(co) : 0.0;
            float sum = 0.0;
            for (uint n = 0u; n < valid; n++) sum += block_sum(m, n) + bv;
            const float mean = sum / float(valid);
            float m2 = 0.0;
            for (uint n = 0u; n < valid; n++) {
                const float d = block_sum(m, n) + bv - mean;
                m2 += d * d;
            }
            store_stat(k * p.Cout + co, float(valid));
            store_stat((p.groups + k) * p.Cout + co, sum);
            store_stat((2u * p.groups + k) * p.Cout + co, m2);
        }
    }
#endif
}
