#version 450
// Debiased contrastive loss (Chuang et al. 2020), per row. Some of the K = 2N - 2 "negatives"
// share the anchor's class (probability tau+, the class prior), so the sum over negatives
// over-counts true negatives. Their estimate of the true-negative mass, with pos = exp(S_i,pos)
// and neg_j = exp(S_ij):
//   Ng_i = max( (sum_j neg_j - tau+ K pos) / (1 - tau+),  K e^{-1/tau} )
//   l_i  = -log( pos / (pos + Ng_i) ) = log(pos + Ng_i) - S_i,pos.
// The clamp keeps Ng at or above its theoretical minimum (every cosine >= -1, so every
// exp(s) >= e^{-1/tau}); as in the paper's code it replaces the estimate, so a clamped row
// gets no gradient through the negatives. tau+ = 0 gives NT-Xent (up to the clamp).
// Stability: everything is shifted by m = max_{j != i} S_ij (the positive included), so
//   P = exp(S_pos - m) <= 1, E = sum_j exp(S_ij - m) <= K, F = K exp(-1/tau - m),
// and l_i = m + log(P + Ng') - S_pos with Ng' the shifted Ng. P or E is 1 (whichever holds the
// maximum), so P + Ng' > 0 unless a cancelled estimate meets an underflowed floor: that needs
// 2/tau > 87 (tau < 0.023) and an anti-aligned positive.
// Writes rows[i] = (l_i, log(pos + Ng_i), clamped_i, 0). One invocation per row.
#define LOSS_ROWS
#extension GL_GOOGLE_include_directive : require
#include "texel.glsl"
#include "contrastive_common.glsl"
layout(local_size_x_id = 0) in;

void main()
{
    const uint i = gl_GlobalInvocationID.x;
    if (i >= p.n2) return;
    const uint pos = positive_of(i, p.n2);
    const uint row = p.s_off + i * p.n2;
    const float k = float(p.n2 - 2u);
    const float sp = texel(S, int(row + pos)).r;
    float m = sp;
    for (uint j = 0; j < p.n2; j++)
        if (j != i && j != pos) m = max(m, texel(S, int(row + j)).r);
    float e = 0.0;
    for (uint j = 0; j < p.n2; j++)
        if (j != i && j != pos) e += exp(texel(S, int(row + j)).r - m);
    const float pp = exp(sp - m);
    const float raw = (e - p.tau_plus * k * pp) / (1.0 - p.tau_plus);
    const float floor_ng = k * exp(-p.inv_tau - m);
    const bool clamped = raw < floor_ng;
    const float log_d = m + log(pp + (clamped ? floor_ng : raw));
    rows[i] = vec4(log_d - sp, log_d, clamped ? 1.0 : 0.0, 0.0);
}
