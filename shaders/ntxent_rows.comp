#version 450
// NT-Xent (InfoNCE with uniform in-batch noise), per-row statistics.
// S is the 2N x 2N logit matrix z z^T / tau from the similarity stage (vkc_similarity_record);
// rows 0..N-1 are the first views and row i's positive is row (i + N) mod 2N. For row i:
//   lse_i  = log sum_{j != i} exp(S_ij)            (self-pair masked out)
//   loss_i = lse_i - S_i,pos(i)
//   hit_i  = 1 if S_i,pos(i) > S_ij for every j not in {i, pos(i)}  (positive ranked first)
// lse is computed as m + log sum exp(S_ij - m) with m the row maximum, so every exponent is
// <= 0: no overflow however small tau is (|S| <= 1/tau), and the sum is >= 1 (no log 0).
// Writes rows[i] = (loss_i, hit_i, lse_i, S_i,pos); the metric kernel averages the losses and
// the backward pass reads lse_i.
// One invocation per row.
#define LOSS_ROWS
#extension GL_GOOGLE_include_directive : require
#include "texel.glsl"
#include "contrastive_common.glsl"
layout(local_size_x_id = 0) in;

void main()
{
    const uint i = gl_GlobalInvocationID.x;
    if (i >= p.n2) return;
    const uint half_n = p.n2 / 2u;
    const uint pos = i < half_n ? i + half_n : i - half_n;
    const uint row = p.s_off + i * p.n2;
    const float sp = texel(S, int(row + pos)).r;

    float m = sp;
    bool hit = true;
    for (uint j = 0; j < p.n2; j++) {
        if (j == i || j == pos) continue;
        const float s = texel(S, int(row + j)).r;
        m = max(m, s);
        hit = hit && s < sp;
    }
    float sum = 0.0;
    for (uint j = 0; j < p.n2; j++)
        if (j != i) sum += exp(texel(S, int(row + j)).r - m);
    const float lse = m + log(sum);
    rows[i] = vec4(lse - sp, hit ? 1.0 : 0.0, lse, sp);
}
