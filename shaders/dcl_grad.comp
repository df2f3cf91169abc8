#version 450
// Gradient of the mean DCL loss (dcl_rows.comp) with respect to the logits, symmetrised:
//   a_ij = dl_i/dS_ij = -1                          for j = pos(i)
//                     = exp(S_ij - lse_neg_i)       for j a noise sample (softmax over noise)
//   G_ij = (a_ij + a_ji) * scale,   scale = 1 / (2N tau).
// One invocation per element of G.
#define LOSS_GRAD
#extension GL_GOOGLE_include_directive : require
#include "texel.glsl"
#include "contrastive_common.glsl"
layout(local_size_x_id = 0, local_size_y_id = 1) in;

float dloss(uint i, uint j)
{
    if (j == positive_of(i, p.n2)) return -1.0;
    const float lse_neg = texel(Rows, int(p.rows_off + i)).y;
    return exp(texel(S, int(p.s_off + i * p.n2 + j)).r - lse_neg);
}

void main()
{
    const uint j = gl_GlobalInvocationID.x, i = gl_GlobalInvocationID.y;
    if (i >= p.n2 || j >= p.n2) return;
    g[p.g_off + i * p.n2 + j] = i == j ? 0.0 : (dloss(i, j) + dloss(j, i)) * p.scale;
}
