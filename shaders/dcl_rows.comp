#version 450
// Decoupled contrastive loss (Yeh et al.), per row: NT-Xent with the positive taken out of
// the denominator,
//   l_i = -S_i,pos + log sum_{j != i, pos} exp(S_ij) = lse_neg_i - S_i,pos.
// lse_neg_i is the log of the in-batch partition estimate Z^(i) (see contrastive_stats.comp).
// Computed as m + log sum exp(S_ij - m), m the maximum over the noise samples: every exponent
// <= 0 and the sum >= 1. Writes rows[i] = (l_i, lse_neg_i, S_i,pos, 0). One invocation per row.
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
    float m = -3.0e38;
    for (uint j = 0; j < p.n2; j++)
        if (j != i && j != pos) m = max(m, texel(S, int(row + j)).r);
    float sum = 0.0;
    for (uint j = 0; j < p.n2; j++)
        if (j != i && j != pos) sum += exp(texel(S, int(row + j)).r - m);
    const float lse = m + log(sum), sp = texel(S, int(row + pos)).r;
    rows[i] = vec4(lse - sp, lse, sp, 0.0);
}
