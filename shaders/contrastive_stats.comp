#version 450
// Per-anchor statistics behind the loss-independent metrics of the NCE family, all read off the
// similarity matrix S = z z^T / tau (so z_i . z_j = tau S_ij). For anchor i with positive
// p = pos(i) and the K = 2N - 2 other rows as noise samples (q uniform, q = 1/K):
//   hit_i     = 1 if S_ip > S_ij for every noise sample j (the positive ranks first)
//   infonce_i = log sum_{j != i} exp(S_ij) - S_ip         (NT-Xent's row loss; gives the MI bound)
//   logzhat_i = log Z^(i),  Z^(i) = (1/K) sum_j exp(S_ij) / q(x_j) = sum_{j noise} exp(S_ij):
//               the importance-sampling estimate of the partition function Z(c) = sum_x exp(s(x,c))
//   align_i   = ||z_i - z_p||^2 = tau (S_ii + S_pp - 2 S_ip)   (2 - 2 z_i.z_p for unit rows)
//   unif_i    = sum_{j != i} exp(-2 ||z_i - z_j||^2)           (uniformity, t = 2, before the log)
// Log-sum-exps are shifted by their maxima (exponents <= 0); unif's exponents are <= 0 anyway.
// Writes st[2i] = (hit, infonce, logzhat, align), st[2i+1] = (unif, S_ip, 0, 0).
// One invocation per row; needs 2N >= 4 (at least one noise sample).
#extension GL_GOOGLE_include_directive : require
#include "texel.glsl"
#include "contrastive_common.glsl"
layout(local_size_x_id = 0) in;

layout(binding = 0) uniform TEXELS S;
layout(binding = 1, std430) writeonly buffer Stats { vec4 st[]; };

layout(push_constant) uniform Push {
    uint n2, s_off;
    float tau;
} p;

void main()
{
    const uint i = gl_GlobalInvocationID.x;
    if (i >= p.n2) return;
    const uint pos = positive_of(i, p.n2);
    const uint row = p.s_off + i * p.n2;
    const float sp = texel(S, int(row + pos)).r;
    const float sii = texel(S, int(row + i)).r;
    float m = -3.0e38;
    bool hit = true;
    for (uint j = 0; j < p.n2; j++) {
        if (j == i || j == pos) continue;
        const float s = texel(S, int(row + j)).r;
        m = max(m, s);
        hit = hit && s < sp;
    }
    const float m_all = max(m, sp);
    float neg = 0.0, all = exp(sp - m_all), unif = 0.0;
    for (uint j = 0; j < p.n2; j++) {
        if (j == i) continue;
        const float s = texel(S, int(row + j)).r;
        const float sjj = texel(S, int(p.s_off + j * p.n2 + j)).r;
        unif += exp(-2.0 * max(p.tau * (sii + sjj - 2.0 * s), 0.0));
        if (j == pos) continue;
        neg += exp(s - m);
        all += exp(s - m_all);
    }
    const float align = max(p.tau * (sii + texel(S, int(p.s_off + pos * p.n2 + pos)).r - 2.0 * sp), 0.0);
    st[2u * i] = vec4(hit ? 1.0 : 0.0, m_all + log(all) - sp, m + log(neg), align);
    st[2u * i + 1u] = vec4(unif, sp, 0.0, 0.0);
}
