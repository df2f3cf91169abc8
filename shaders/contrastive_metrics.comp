#version 450
#extension GL_GOOGLE_include_directive : require
#include "texel.glsl"
// The metrics of one contrastive batch from the per-row statistics of the loss kernel (column 0:
// l_i) and contrastive_stats.comp. Writes 8 floats (VKC_METRIC_* in include/vkclr/loss.h):
//   0 loss          mean_i l_i of the loss being trained
//   1 accuracy      mean_i hit_i
//   2 MI bound      log(2N - 1) - mean_i infonce_i  (van den Oord et al.: I(x; c) >= log(K+1) - L)
//   3 log Z^ mean   mean_i logzhat_i
//   4 log Z^ spread sqrt(mean_i (logzhat_i - mean)^2), two passes (no E[x^2] - E[x]^2 cancellation)
//   5 alignment     mean_i align_i  (each positive pair counted from both ends: the same mean)
//   6 uniformity    log( sum_i unif_i / (2N (2N - 1)) ): log-mean of exp(-2 d^2) over ordered pairs
//   7 log Z         the learned log Z of local NCE (0 when self-normalised or another loss)
// One invocation adds the rows in order: deterministic, and a few thousand rows are cheap next
// to the 2N x 2N kernels around it.
layout(local_size_x = 1) in;

layout(binding = 0) uniform TEXELS Rows;  // rgba32f loss rows (l_i, ...)
layout(binding = 1) uniform TEXELS Stats; // rgba32f, 2 per row
layout(binding = 2) uniform TEXELS LogZ;  // r32f
layout(binding = 3, std430) writeonly buffer M { float m[]; };

layout(push_constant) uniform Push {
    uint n2, rows_off, stats_off, logz_off, m_off, learned;
} p;

void main()
{
    float loss = 0.0, hits = 0.0, infonce = 0.0, logz = 0.0, align = 0.0, unif = 0.0;
    for (uint i = 0; i < p.n2; i++) {
        const vec4 a = texel(Stats, int(p.stats_off + 2u * i));
        loss += texel(Rows, int(p.rows_off + i)).x;
        hits += a.x;
        infonce += a.y;
        logz += a.z;
        align += a.w;
        unif += texel(Stats, int(p.stats_off + 2u * i + 1u)).x;
    }
    const float n = float(p.n2);
    const float logz_mean = logz / n;
    float var = 0.0;
    for (uint i = 0; i < p.n2; i++) {
        const float d = texel(Stats, int(p.stats_off + 2u * i)).z - logz_mean;
        var += d * d;
    }
    m[p.m_off + 0u] = loss / n;
    m[p.m_off + 1u] = hits / n;
    m[p.m_off + 2u] = log(n - 1.0) - infonce / n;
    m[p.m_off + 3u] = logz_mean;
    m[p.m_off + 4u] = sqrt(var / n);
    m[p.m_off + 5u] = align / n;
    m[p.m_off + 6u] = log(unif / (n * (n - 1.0)));
    m[p.m_off + 7u] = p.learned != 0u ? texel(LogZ, int(p.logz_off)).r : 0.0;
}
