#version 450
// Batch normalisation, element-wise passes over x laid out [N][C][HW], with the per-channel
// statistics already in stats = [mean | 1/sqrt(var + eps)]:
//   MODE 0 (forward):  y = gamma[c] * (x - mean[c]) * invstd[c] + beta[c], then max(0, y) with RELU
//   MODE 1 (backward, training statistics): with xhat = (x - mean) * invstd, g = dy (masked by
//     y > 0 with RELU), M = N*HW (over all ranks with sync BN) and dbeta = sum g, dgamma = sum g*xhat from the finalize pass:
//       dx = gamma * invstd * (g - (dbeta + xhat * dgamma) / M)
//     (the mean and variance depend on every x of the channel: the two sums are their share).
// Invocation (q, n) handles 4 consecutive elements of image n's C*HW block, so the 1-D form
// (HW = 1, channel varies fastest) and images (channel constant along a plane) share a path.
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
layout(constant_id = 3) const uint MODE = 0;
layout(constant_id = 4) const bool RELU = false;
// VEC4 (HW % 4 == 0, X/DY/Y bound as rgba32f views): the invocation's 4 elements share one
// channel; one texel fetch per input and one vec4 store.
layout(constant_id = 5) const bool VEC4 = false;
#include "layers_common.glsl"
#include "precision.glsl"

layout(binding = 0) uniform ACT_SAMPLER X;
layout(binding = 1) uniform ACT_SAMPLER DY;       // backward only
layout(binding = 2) uniform ACT_SAMPLER Y;        // backward with RELU only: the forward output
layout(binding = 3) uniform samplerBuffer Stats;  // [2C]
layout(binding = 4) uniform samplerBuffer Gamma;
layout(binding = 5) uniform samplerBuffer Beta;   // forward: beta; backward: dbeta
layout(binding = 6) uniform samplerBuffer DGamma; // backward only
layout(binding = 7, std430) writeonly buffer Out1 { act_t o[]; };
layout(binding = 7, std430) writeonly buffer Out4 { act4_t o4[]; };

layout(push_constant) uniform Push { uint N, C, HW, M; } p; // M: the statistics' count (N*HW, times the ranks with sync BN)

void main()
{
    const uint block = p.C * p.HW;
    const uint j0 = 4u * (gl_WorkGroupID.x * gl_WorkGroupSize.x + gl_LocalInvocationID.x);
    const uint n = gl_WorkGroupID.y;
    if (j0 >= block) return;
    uint c = j0 / p.HW, hw = j0 % p.HW;
    const float M = float(p.M);
    if (VEC4) {
        const uint idx = n * block + j0; // a multiple of 4
        const float mean = LOAD(Stats, c), invstd = LOAD(Stats, p.C + c), gamma = LOAD(Gamma, c);
        const vec4 xhat = (act_load4(X, idx >> 2) - mean) * invstd;
        if (MODE == 0) {
            const vec4 v = fma(vec4(gamma), xhat, vec4(LOAD(Beta, c)));
            o4[idx >> 2] = act4(RELU ? max(v, vec4(0.0)) : v);
        } else {
            vec4 g = act_load4(DY, idx >> 2);
            if (RELU) g = mix(vec4(0.0), g, greaterThan(act_load4(Y, idx >> 2), vec4(0.0)));
            o4[idx >> 2] = act4(gamma * invstd * (g - (LOAD(Beta, c) + xhat * LOAD(DGamma, c)) / M));
        }
        return;
    }
    for (uint j = j0; j < min(j0 + 4u, block); j++) {
        const uint idx = n * block + j;
        const float mean = LOAD(Stats, c), invstd = LOAD(Stats, p.C + c), gamma = LOAD(Gamma, c);
        const float xhat = (act_load(X, idx) - mean) * invstd;
        if (MODE == 0) {
            const float v = fma(gamma, xhat, LOAD(Beta, c));
            o[idx] = act(RELU ? max(v, 0.0) : v);
        } else {
            float g = act_load(DY, idx);
            if (RELU && !(act_load(Y, idx) > 0.0)) g = 0.0;
            o[idx] = act(gamma * invstd * (g - (LOAD(Beta, c) + xhat * LOAD(DGamma, c)) / M));
        }
        if (++hw == p.HW) {
            hw = 0u;
            c++;
        }
    }
}
