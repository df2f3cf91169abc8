#version 450
// Batch normalisation, per-channel second pass: adds the chunk partial sums of
// batchnorm_reduce.comp in chunk order (deterministic) and turns them into statistics.
//   MODE 0: stats.mean[c] = sum x / M
//   MODE 1: var = sum (x-mean)^2 / M (biased, used to normalise); stats.invstd[c] = 1/sqrt(var + eps);
//           running_mean += momentum (mean - running_mean);
//           running_var  += momentum (var * M/(M-1) - running_var)   (unbiased, as PyTorch)
//   MODE 2: evaluation: stats from the running statistics
//   MODE 3: backward: dbeta[c] = sum g, dgamma[c] = invstd * sum g (x - mean)
//   MODE 4: as MODE 1 (mean too) from the statistics a convolution wrote for groups of its
//           outputs (conv2d_fwd_reg.comp STATS): count n_k, sum s_k and squared deviations
//           q_k from the group's mean for groups k = 0 .. nchunks-1, combined in order
//           (Chan, Golub, LeVeque):  mean = sum s_k / M,  M var = sum q_k + n_k (s_k/n_k - mean)^2
#extension GL_GOOGLE_include_directive : require
#include "texel.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 3) const uint MODE = 0;
#include "layers_common.glsl"

layout(binding = 0) uniform TEXELS Part;
layout(binding = 1, std430) buffer Stats { float stats[]; };
layout(binding = 2, std430) buffer RunMean { float running_mean[]; };
layout(binding = 3, std430) buffer RunVar { float running_var[]; };
layout(binding = 4, std430) buffer DGamma { float dgamma[]; };
layout(binding = 5, std430) buffer DBeta { float dbeta[]; };

layout(push_constant) uniform Push { uint C, nchunks, M; float eps, momentum; } p;

float chunk_sum(uint c, uint which)
{
    float s = 0.0;
    for (uint k = 0u; k < p.nchunks; k++) s += LOAD(Part, (which * p.nchunks + k) * p.C + c);
    return s;
}

void main()
{
    const uint c = linear_invocation();
    if (c >= p.C) return;
    const float M = float(p.M);
    if (MODE == 0) {
        stats[c] = chunk_sum(c, 0u) / M;
    } else if (MODE == 1 || MODE == 4) {
        float var;
        if (MODE == 4) {
            const float mean = chunk_sum(c, 1u) / M;
            stats[c] = mean;
            float q = 0.0;
            for (uint k = 0u; k < p.nchunks; k++) {
                const float n = LOAD(Part, k * p.C + c);
                const float d = n > 0.0 ? LOAD(Part, (p.nchunks + k) * p.C + c) / n - mean : 0.0;
                q += LOAD(Part, (2u * p.nchunks + k) * p.C + c) + n * d * d;
            }
            var = q / M;
        } else {
            var = chunk_sum(c, 0u) / M;
        }
        stats[p.C + c] = 1.0 / sqrt(var + p.eps);
        const float unbiased = p.M > 1u ? var * (M / (M - 1.0)) : var;
        running_mean[c] = mix(running_mean[c], stats[c], p.momentum);
        running_var[c] = mix(running_var[c], unbiased, p.momentum);
    } else if (MODE == 2) {
        stats[c] = running_mean[c];
        stats[p.C + c] = 1.0 / sqrt(running_var[c] + p.eps);
    } else {
        dbeta[c] = chunk_sum(c, 0u);
        dgamma[c] = stats[p.C + c] * chunk_sum(c, 1u);
    }
}
