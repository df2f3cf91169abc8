#version 450
// Gradient of the mean NT-Xent loss with respect to the logits, symmetrised so that one GEMM
// gives the gradient with respect to the embeddings. With A_ij = dL/dS_ij
//   A_ij = (softmax_{j != i}(S_i.)_j - [j == pos(i)]) / 2N,   A_ii = 0,
// and S = z z^T / tau, dL/dz = (A + A^T) z / tau. This kernel writes
//   G_ij = (A_ij + A_ji) * scale,   scale = 1 / tau (folded in here),
// using lse_i from ntxent_rows (softmax_ij = exp(S_ij - lse_i) <= 1: no overflow).
// [j == pos(i)] and [i == pos(j)] are the same event, hence the 2.
// One invocation per element of G; x runs along j so a row of G is stored contiguously.
#define LOSS_GRAD
#extension GL_GOOGLE_include_directive : require
#include "texel.glsl"
#include "contrastive_common.glsl"
layout(local_size_x_id = 0, local_size_y_id = 1) in;

void main()
{
    const uint j = gl_GlobalInvocationID.x, i = gl_GlobalInvocationID.y;
    if (i >= p.n2 || j >= p.n2) return;
    float v = 0.0;
    if (i != j) {
        const uint half_n = p.n2 / 2u;
        const uint pos = i < half_n ? i + half_n : i - half_n;
        const float lse_i = texel(Rows, int(p.rows_off + i)).z;
        const float lse_j = texel(Rows, int(p.rows_off + j)).z;
        v = exp(texel(S, int(p.s_off + i * p.n2 + j)).r - lse_i) +
            exp(texel(S, int(p.s_off + j * p.n2 + i)).r - lse_j);
        if (j == pos) v -= 2.0;
    }
    g[p.g_off + i * p.n2 + j] = v * p.scale;
}
