#version 450
// Gradient of the mean local-NCE loss (nce_rows.comp) with respect to the logits, symmetrised
// for the dz = G z GEMM (see ntxent_grad.comp). With Delta_ij = S_ij - b:
//   a_ij = dl_i/dS_ij = sigmoid(Delta_ij) - 1   for j = pos(i)   (= -sigmoid(-Delta))
//                     = sigmoid(Delta_ij)       for j a noise sample,   a_ii = 0,
//   G_ij = (a_ij + a_ji) * scale,   scale = 1 / (2N tau).
// One invocation per element of G; x runs along j.
#define LOSS_GRAD
#extension GL_GOOGLE_include_directive : require
#include "texel.glsl"
#include "contrastive_common.glsl"
layout(local_size_x_id = 0, local_size_y_id = 1) in;

float dloss(uint i, uint j, float b)
{
    const float d = texel(S, int(p.s_off + i * p.n2 + j)).r - b;
    return j == positive_of(i, p.n2) ? -sigmoid(-d) : sigmoid(d);
}

void main()
{
    const uint j = gl_GlobalInvocationID.x, i = gl_GlobalInvocationID.y;
    if (i >= p.n2 || j >= p.n2) return;
    const float b = p.learned != 0u ? texel(LogZ, int(p.logz_off)).r : 0.0;
    g[p.g_off + i * p.n2 + j] = i == j ? 0.0 : (dloss(i, j, b) + dloss(j, i, b)) * p.scale;
}
