#version 450
// Gradient of the mean debiased contrastive loss (dcl_debiased_rows.comp) with respect to
// the logits, symmetrised. With D_i = pos + Ng_i (log D_i stored by the rows kernel):
//   unclamped row:  a_i,pos = (pos / D)(1 - tau+ K / (1 - tau+)) - 1
//                   a_ij    = exp(S_ij) / ((1 - tau+) D)          for j a noise sample
//   clamped row:    a_i,pos = pos / D - 1,   a_ij = 0             (Ng is a constant there)
//   G_ij = (a_ij + a_ji) * scale,   scale = 1 / (2N tau).
// exp(S_i,pos - log D) <= 1 (pos is one part of D). For a negative, D >= K e^{-1/tau} (the
// clamp) bounds exp(S_ij - log D) by e^{2/tau} / K: finite in float for tau > 0.023.
#define LOSS_GRAD
#extension GL_GOOGLE_include_directive : require
#include "texel.glsl"
#include "contrastive_common.glsl"
layout(local_size_x_id = 0, local_size_y_id = 1) in;

float dloss(uint i, uint j)
{
    const vec4 r = texel(Rows, int(p.rows_off + i));
    const bool clamped = r.z != 0.0;
    const float w = exp(texel(S, int(p.s_off + i * p.n2 + j)).r - r.y);
    if (j == positive_of(i, p.n2)) {
        const float k = float(p.n2 - 2u);
        return w * (clamped ? 1.0 : 1.0 - p.tau_plus * k / (1.0 - p.tau_plus)) - 1.0;
    }
    return clamped ? 0.0 : w / (1.0 - p.tau_plus);
}

void main()
{
    const uint j = gl_GlobalInvocationID.x, i = gl_GlobalInvocationID.y;
    if (i >= p.n2 || j >= p.n2) return;
    g[p.g_off + i * p.n2 + j] = i == j ? 0.0 : (dloss(i, j) + dloss(j, i)) * p.scale;
}
