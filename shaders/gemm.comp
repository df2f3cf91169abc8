#version 450
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

layout(binding = 0) uniform samplerBuffer A;
layout(binding = 1) uniform samplerBuffer B;
layout(binding = 2, std430) buffer Cs { float c[]; };
layout(binding = 2, std430) buffer C4 { vec4 c4[]; };

layout(push_constant) uniform Push {
    uint M, N, K;
    uint lda, ldb, ldc;
    uint offA, offB, offC;          // element offsets into the bound tensors
    uint strideA, strideB, strideC; // elements between the matrices of a batch
    float alpha, beta;
} p;

float fetch1(samplerBuffer t, uint i) { return texelFetch(t, int(i >> 2))[i & 3u]; }

// Four consecutive elements starting at i, which is a multiple of 4.
vec4 fetch4(samplerBuffer t, uint i) { return texelFetch(t, int(i >> 2)); }

// Elements k..k+3 of the row starting at `row`; krow[] holds k..k+3 clamped to K-1, which
// the element-wise path uses so that it never reads past the tensor.
vec4 along_k(samplerBuffer t, uint row, uint k, uint krow[4])
{
    if (ALIGNED) return fetch4(t, row + k);
    return vec4(fetch1(t, row + krow[0]), fetch1(t, row + krow[1]), fetch1(t, row + krow[2]), fetch1(t, row + krow[3]));
}

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
    // their results are never stored.
    uint rowA[TM];
    for (uint i = 0; i < TM; i++) rowA[i] = min(m0 + i, p.M - 1u);
    uint colB[4 * TN4];
    for (uint j = 0; j < 4u * TN4; j++) colB[j] = min(n0 + j, p.N - 1u);

    vec4 acc[TM][TN4];
    for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN4; j++) acc[i][j] = vec4(0.0);

    for (uint k = 0; k < p.K; k += 4u) {
        // a[i] = op(A)[m0+i][k..k+3]; b[kk][j] = op(B)[k+kk][n0+4j..n0+4j+3]
        vec4 a[TM];
        vec4 b[4][TN4];
        const bool tail = k + 4u > p.K;
        uint krow[4];
        for (uint kk = 0; kk < 4u; kk++) krow[kk] = min(k + kk, p.K - 1u);

        if (!TRANS_A) {
            for (uint i = 0; i < TM; i++) a[i] = along_k(A, baseA + rowA[i] * p.lda, k, krow);
        } else {
            // A is K x M in memory: a vec4 along m from each of the 4 rows k..k+3.
            for (uint i = 0; i < TM; i += 4u) {
                vec4 r[4];
                if (ALIGNED && m0 + i + 3u < p.M) {
                    for (uint kk = 0; kk < 4u; kk++) r[kk] = fetch4(A, baseA + krow[kk] * p.lda + m0 + i);
                } else {
                    for (uint kk = 0; kk < 4u; kk++)
                        for (uint q = 0; q < 4u; q++)
                            r[kk][q] = fetch1(A, baseA + krow[kk] * p.lda + rowA[min(i + q, TM - 1u)]);
                }
                for (uint q = 0; q < 4u && i + q < TM; q++) a[i + q] = vec4(r[0][q], r[1][q], r[2][q], r[3][q]);
            }
        }
        if (!TRANS_B) {
            for (uint kk = 0; kk < 4u; kk++)
                for (uint j = 0; j < TN4; j++) {
                    const uint n = n0 + 4u * j;
                    if (ALIGNED && n + 3u < p.N) {
                        b[kk][j] = fetch4(B, baseB + krow[kk] * p.ldb + n);
                    } else {
                        for (uint q = 0; q < 4u; q++) b[kk][j][q] = fetch1(B, baseB + krow[kk] * p.ldb + colB[4u * j + q]);
                    }
                }
        } else {
            // B is N x K in memory: a vec4 along k for each column n.
            for (uint j = 0; j < TN4; j++)
                for (uint q = 0; q < 4u; q++) {
                    const vec4 col = along_k(B, baseB + colB[4u * j + q] * p.ldb, k, krow);
                    for (uint kk = 0; kk < 4u; kk++) b[kk][j][q] = col[kk];
                }
        }
        if (tail) {
            // Past K: vec4 fetches along k read row padding (any value, even NaN); zero both sides.
            for (uint kk = p.K - k; kk < 4u; kk++) {
                for (uint i = 0; i < TM; i++) a[i][kk] = 0.0;
                for (uint j = 0; j < TN4; j++) b[kk][j] = vec4(0.0);
            }
        }
        for (uint i = 0; i < TM; i++)
            for (uint j = 0; j < TN4; j++) {
                acc[i][j] = fma(vec4(a[i].x), b[0][j], acc[i][j]);
                acc[i][j] = fma(vec4(a[i].y), b[1][j], acc[i][j]);
                acc[i][j] = fma(vec4(a[i].z), b[2][j], acc[i][j]);
                acc[i][j] = fma(vec4(a[i].w), b[3][j], acc[i][j]);
            }
    }

    const bool vec_store = (p.ldc & 3u) == 0u && (baseC & 3u) == 0u;
    for (uint i = 0; i < TM; i++) {
        const uint m = m0 + i;
        if (m >= p.M) break;
        for (uint j = 0; j < TN4; j++) {
            const uint n = n0 + 4u * j;
            if (n >= p.N) break;
            const uint at = baseC + m * p.ldc + n;
            vec4 v = p.alpha * acc[i][j];
            if (vec_store && n + 3u < p.N) {
                if (p.beta != 0.0) v += p.beta * c4[at >> 2];
                c4[at >> 2] = v;
            } else {
                for (uint q = 0; q < 4u && n + q < p.N; q++) {
                    float s = v[q];
                    if (p.beta != 0.0) s += p.beta * c[at + q];
                    c[at + q] = s;
                }
            }
        }
    }
}
