#version 450
// C = alpha * op(A) * op(B) + beta * C on cooperative matrices (tensor cores), for a batch of
// matrices (gl_WorkGroupID.z): the products of gemm.comp with 16-bit operands (A and B are
// float32 in memory, rounded to fp16, or bf16 with COOP_BF16, when staged) and float32 sums.
//   op(A) is M x K: A[m*lda + k], or A[k*lda + m] when TRANS_A.
//   op(B) is K x N: B[k*ldb + n], or B[n*ldb + k] when TRANS_B.
// Workgroup (x, y) computes columns x*BN .. and rows y*BM .. through coopmat_gemm.glsl;
// neighbouring invocations stage neighbouring elements of a row as stored (coalesced for every
// transpose form); elements outside op(A) / op(B) are staged as 0, so M, N, K need not be
// multiples of anything. Stores as gemm.comp: a vec4 per 4 columns where C's rows allow it.
#extension GL_EXT_control_flow_attributes : require
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
layout(constant_id = 3) const bool TRANS_A = false;
layout(constant_id = 4) const bool TRANS_B = false;
#include "coopmat_gemm.glsl" // its tile: constants 6-13

layout(binding = 0, std430) readonly buffer As_ { float a[]; };
layout(binding = 1, std430) readonly buffer Bs_ { float bm[]; };
layout(binding = 2, std430) buffer Cs1 { float c[]; };
layout(binding = 2, std430) buffer Cs4 { vec4 c4[]; };

layout(push_constant) uniform Push {
    uint M, N, K;
    uint lda, ldb, ldc;
    uint offA, offB, offC;          // element offsets into the bound tensors
    uint strideA, strideB, strideC; // elements between the matrices of a batch
    float alpha, beta;
} p;

const uint A_PER = BM * BK / WG; // elements per invocation and stage (the host checks WG divides them)
const uint B_PER = BK * BN / WG;

float ra[A_PER], rb[B_PER];
uint m0, n0, baseA, baseB;

void load_stage(uint t)
{
    const uint k0 = t * BK, tid = gl_LocalInvocationID.x;
    [[unroll]] for (uint s = 0u; s < A_PER; s++) {
        const uint e = tid + s * WG;
        const uint kk = TRANS_A ? e / BM : e % BK, m = TRANS_A ? e % BM : e / BK;
        const uint gm = m0 + m, gk = k0 + kk;
        ra[s] = gm < p.M && gk < p.K ? a[baseA + (TRANS_A ? gk * p.lda + gm : gm * p.lda + gk)] : 0.0;
    }
    [[unroll]] for (uint s = 0u; s < B_PER; s++) {
        const uint e = tid + s * WG;
        const uint kk = TRANS_B ? e % BK : e / BN, n = TRANS_B ? e / BK : e % BN;
        const uint gn = n0 + n, gk = k0 + kk;
        rb[s] = gn < p.N && gk < p.K ? bm[baseB + (TRANS_B ? gn * p.ldb + gk : gk * p.ldb + gn)] : 0.0;
    }
}

void store_stage(uint b)
{
    const uint tid = gl_LocalInvocationID.x;
    [[unroll]] for (uint s = 0u; s < A_PER; s++) {
        const uint e = tid + s * WG;
        const uint kk = TRANS_A ? e / BM : e % BK, m = TRANS_A ? e % BM : e / BK;
        stage_a(b, kk * BM + m, ra[s]);
    }
    [[unroll]] for (uint s = 0u; s < B_PER; s++) {
        const uint e = tid + s * WG;
        const uint kk = TRANS_B ? e % BK : e / BN, n = TRANS_B ? e / BK : e % BN;
        stage_b(b, kk * BN + n, rb[s]);
    }
}

void main()
{
    const uint batch = gl_WorkGroupID.z;
    m0 = gl_WorkGroupID.y * BM;
    n0 = gl_WorkGroupID.x * BN;
    baseA = p.offA + batch * p.strideA;
    baseB = p.offB + batch * p.strideB;
    const uint baseC = p.offC + batch * p.strideC;
    gemm_block((p.K + BK - 1u) / BK);

    const uint tx = gl_LocalInvocationID.x % WGX, ty = gl_LocalInvocationID.x / WGX;
    const bool vec_store = (p.ldc & 3u) == 0u && (baseC & 3u) == 0u;
    [[unroll]] for (uint i = 0u; i < 4u; i++) {
        const uint m = m0 + ty * 4u + i;
        if (m >= p.M) continue;
        [[unroll]] for (uint j = 0u; j < TN4; j++) {
            const uint n = n0 + (tx + j * WGX) * 4u;
            const uint at = baseC + m * p.ldc + n;
            vec4 v = p.alpha * acc[i][j];
            if (vec_store && n + 3u < p.N) {
                if (p.beta != 0.0) v += p.beta * c4[at >> 2];
                c4[at >> 2] = v;
            } else {
                [[unroll]] for (uint q = 0u; q < 4u; q++)
                    if (n + q < p.N) c[at + q] = v[q] + (p.beta != 0.0 ? p.beta * c[at + q] : 0.0);
            }
        }
    }
}
