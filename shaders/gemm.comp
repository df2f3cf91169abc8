#version 450
#extension GL_EXT_control_flow_attributes : require
#extension GL_GOOGLE_include_directive : require
#include "texel.glsl"
// C = alpha * op(A) * op(B) + beta * C, for a batch of matrices (gl_WorkGroupID.z).
//   op(A) is M x K: A[m*lda + k], or A[k*lda + m] when TRANS_A.
//   op(B) is K x N: B[k*ldb + n], or B[n*ldb + k] when TRANS_B.
//
// Each invocation computes a TM x (4*TN4) block of C in registers. A and B are read through
// rgba32f texel buffers (one fetch = 4 floats): on CPU drivers (lavapipe) texel fetches are
// ~10x cheaper than storage-buffer loads, and on GPUs they go through the texture cache.
// Per step of 4 along k the block needs TM + 4*TN4 vec4 fetches (fewer for transposed forms)
// and does 16*TM*TN4 multiply-adds.
//
// ALIGNED: lda, ldb and the A/B offsets are multiples of 4, so rows start on a vec4 and a
// vec4 fetch never crosses a row. Otherwise every element is fetched on its own (slow path
// for odd shapes). Edges (M, N, K not multiples of the tile) are handled by clamping the
// indices that are read and skipping the stores outside C; the K tail is masked.

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;
layout(constant_id = 3) const uint TM = 8;        // rows of C per invocation
layout(constant_id = 4) const uint TN4 = 4;       // vec4 columns of C per invocation
layout(constant_id = 5) const bool TRANS_A = false;
layout(constant_id = 6) const bool TRANS_B = false;
layout(constant_id = 7) const bool ALIGNED = true;

layout(binding = 0) uniform TEXELS A;
layout(binding = 1) uniform TEXELS B;
layout(binding = 2, std430) buffer Cs { float c[]; };
layout(binding = 2, std430) buffer C4 { vec4 c4[]; };

layout(push_constant) uniform Push {
    uint M, N, K;
    uint lda, ldb, ldc;
    uint offA, offB, offC;          // element offsets into the bound tensors
    uint strideA, strideB, strideC; // elements between the matrices of a batch
    float alpha, beta;
} p;

// Element i of a 4-wide texel view (a macro: texel bindings are no function parameters).
#define fetch1(t, i) (texel(t, (i) >> 2)[(i) & 3u])

void main()
{
    const uint n0 = (gl_WorkGroupID.x * gl_WorkGroupSize.x + gl_LocalInvocationID.x) * 4u * TN4;
    const uint m0 = (gl_WorkGroupID.y * gl_WorkGroupSize.y + gl_LocalInvocationID.y) * TM;
    if (m0 >= p.M || n0 >= p.N) return;
    const uint batch = gl_WorkGroupID.z;
    const uint baseA = p.offA + batch * p.strideA;
    const uint baseB = p.offB + batch * p.strideB;
    const uint baseC = p.offC + batch * p.strideC;

    // Rows/columns outside C are clamped to the last valid one: they load real data and
    // their results are never stored. Along-m/n vec4 reads start at most at the last
    // multiple of 4 below M/N, so they stay inside the (padded) row.
    uint rowA[TM];
    [[unroll]] for (uint i = 0; i < TM; i++) rowA[i] = min(m0 + i, p.M - 1u);
    uint colB[4 * TN4];
    [[unroll]] for (uint j = 0; j < 4u * TN4; j++) colB[j] = min(n0 + j, p.N - 1u);
    const uint lastM4 = (p.M - 1u) & ~3u, lastN4 = (p.N - 1u) & ~3u;

    vec4 acc[TM][TN4];
    [[unroll]] for (uint i = 0; i < TM; i++)
        [[unroll]] for (uint j = 0; j < TN4; j++) acc[i][j] = vec4(0.0);

    const uint kfull = p.K & ~3u; // steps of 4 that need no masking
    for (uint k = 0; k < p.K; k += 4u) {
        const bool tail = k >= kfull;
        uint krow[4];
        [[unroll]] for (uint kk = 0; kk < 4u; kk++) krow[kk] = tail ? min(k + kk, p.K - 1u) : k + kk;

        vec4 a[TM];
        vec4 b[4][TN4];
        if (ALIGNED) {
            // Every read is one texel; no per-invocation branches, so CPU drivers keep all lanes busy.
            if (!TRANS_A) {
                [[unroll]] for (uint i = 0; i < TM; i++) a[i] = texel(A, int((baseA + rowA[i] * p.lda + k) >> 2));
            } else {
                [[unroll]] for (uint i = 0; i < TM; i += 4u) {
                    const uint m = min(m0 + i, lastM4);
                    vec4 r[4];
                    [[unroll]] for (uint kk = 0; kk < 4u; kk++) r[kk] = texel(A, int((baseA + krow[kk] * p.lda + m) >> 2));
                    [[unroll]] for (uint q = 0; q < 4u; q++)
                        if (i + q < TM) a[i + q] = vec4(r[0][q], r[1][q], r[2][q], r[3][q]);
                }
            }
            if (!TRANS_B) {
                [[unroll]] for (uint kk = 0; kk < 4u; kk++)
                    [[unroll]] for (uint j = 0; j < TN4; j++)
                        b[kk][j] = texel(B, int((baseB + krow[kk] * p.ldb + min(n0 + 4u * j, lastN4)) >> 2));
            } else {
                [[unroll]] for (uint j = 0; j < TN4; j++)
                    [[unroll]] for (uint q = 0; q < 4u; q++) {
                        const vec4 col = texel(B, int((baseB + colB[4u * j + q] * p.ldb + k) >> 2));
                        [[unroll]] for (uint kk = 0; kk < 4u; kk++) b[kk][j][q] = col[kk];
                    }
            }
        } else {
            // Element-wise reads for odd leading dimensions or offsets.
            [[unroll]] for (uint i = 0; i < TM; i++)
                [[unroll]] for (uint kk = 0; kk < 4u; kk++)
                    a[i][kk] = fetch1(A, baseA + (TRANS_A ? krow[kk] * p.lda + rowA[i] : rowA[i] * p.lda + krow[kk]));
            [[unroll]] for (uint kk = 0; kk < 4u; kk++)
                [[unroll]] for (uint j = 0; j < TN4; j++)
                    [[unroll]] for (uint q = 0; q < 4u; q++) {
                        const uint n = colB[4u * j + q];
                        b[kk][j][q] = fetch1(B, baseB + (TRANS_B ? n * p.ldb + krow[kk] : krow[kk] * p.ldb + n));
                    }
        }
        if (tail) {
            // Past K: vec4 reads along k see row padding (any value, even NaN); zero both sides.
            // Constant indices only, so the register tile never spills to memory.
            [[unroll]] for (uint kk = 1; kk < 4u; kk++)
                if (k + kk >= p.K) {
                    [[unroll]] for (uint i = 0; i < TM; i++) a[i][kk] = 0.0;
                    [[unroll]] for (uint j = 0; j < TN4; j++) b[kk][j] = vec4(0.0);
                }
        }
        [[unroll]] for (uint i = 0; i < TM; i++)
            [[unroll]] for (uint j = 0; j < TN4; j++) {
                acc[i][j] = fma(vec4(a[i].x), b[0][j], acc[i][j]);
                acc[i][j] = fma(vec4(a[i].y), b[1][j], acc[i][j]);
                acc[i][j] = fma(vec4(a[i].z), b[2][j], acc[i][j]);
                acc[i][j] = fma(vec4(a[i].w), b[3][j], acc[i][j]);
            }
    }

    const bool vec_store = (p.ldc & 3u) == 0u && (baseC & 3u) == 0u;
    [[unroll]] for (uint i = 0; i < TM; i++) {
        const uint m = m0 + i;
        [[unroll]] for (uint j = 0; j < TN4; j++) {
            const uint n = n0 + 4u * j;
            const uint at = baseC + m * p.ldc + n;
            vec4 v = p.alpha * acc[i][j];
            if (m < p.M && vec_store && n + 3u < p.N) {
                if (p.beta != 0.0) v += p.beta * c4[at >> 2];
                c4[at >> 2] = v;
            } else if (m < p.M) {
                [[unroll]] for (uint q = 0; q < 4u; q++)
                    if (n + q < p.N) c[at + q] = v[q] + (p.beta != 0.0 ? p.beta * c[at + q] : 0.0);
            }
        }
    }
}
