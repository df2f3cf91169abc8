#version 450
// Local (binary) NCE, per-row loss. Derivation (Gutmann & Hyvarinen; Mnih & Teh):
// an anchor c sees one data sample x0 (its positive) and K noise samples x_i ~ q. The model
// p_m(x|c) = exp(s(x,c)) / Z(c) and the posterior that x came from the data rather than the
// noise, given the 1 : K mix, is
//   P(D=1 | x, c) = p_m(x|c) / (p_m(x|c) + K q(x)) = sigmoid(Delta(x)),
//   Delta(x) = s(x,c) - log Z(c) - log(K q(x)).
// In a batch the noise samples are the K = 2N - 2 other views, each drawn with q(x) = 1/K
// (uniform over the candidates the anchor is scored against), so log(K q(x)) = log 1 = 0 and
//   Delta(x) = S_cx - b,   b = log Z: 0 when self-normalised, else one learned scalar.
// The loss of anchor i is the logistic loss of classifying each candidate:
//   l_i = -log sigmoid(Delta(x0)) - sum_{j noise} log sigmoid(-Delta(x_j))
//       = softplus(b - S_i,pos) + sum_{j != i, pos} softplus(S_ij - b).
// Its derivative in b (for the learned log Z) is
//   dl_i/db = sigmoid(b - S_i,pos) - sum_j sigmoid(S_ij - b)
// which is written next to the loss so that the backward pass only needs a column sum.
// Writes rows[i] = (l_i, dl_i/db, 0, 0). One invocation per row.
#define LOSS_ROWS
#extension GL_GOOGLE_include_directive : require
#include "texel.glsl"
#include "contrastive_common.glsl"
layout(local_size_x_id = 0) in;

void main()
{
    const uint i = gl_GlobalInvocationID.x;
    if (i >= p.n2) return;
    const float b = p.learned != 0u ? texel(LogZ, int(p.logz_off)).r : 0.0;
    const uint pos = positive_of(i, p.n2);
    const uint row = p.s_off + i * p.n2;
    const float dpos = texel(S, int(row + pos)).r - b;
    float loss = softplus(-dpos), dldb = sigmoid(-dpos);
    for (uint j = 0; j < p.n2; j++) {
        if (j == i || j == pos) continue;
        const float d = texel(S, int(row + j)).r - b;
        loss += softplus(d);
        dldb -= sigmoid(d);
    }
    rows[i] = vec4(loss, dldb, 0.0, 0.0);
}
