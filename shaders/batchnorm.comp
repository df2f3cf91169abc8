#version 450
// Batch normalisation, element-wise passes over x laid out [N][C][HW], with the per-channel
// statistics already in stats = [mean | 1/sqrt(var + eps)]:
//   MODE 0 (forward):  y = gamma[c] * (x - mean[c]) * invstd[c] + beta[c], then max(0, y) with RELU
//   MODE 1 (backward, training statistics): with xhat = (x - mean) * invstd, g = dy (masked
//     with RELU where the forward's output was > 0: recomputed from x with the forward's
//     arithmetic; or, with DY_PLANE, g = dy[n*C + c] / HW, the gradient of a global average
//     pool that followed), M = N*HW (over all ranks with sync BN) and dbeta = sum g, dgamma = sum g*xhat from the finalize pass:
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
layout(constant_id = 6) const bool DY_PLANE = false;
#include "layers_common.glsl"

layout(binding = 0) uniform samplerBuffer X;
layout(binding = 1) uniform samplerBuffer DY;     // backward only (r32f with DY_PLANE)
layout(binding = 2) uniform samplerBuffer Stats;  // [2C]
layout(binding = 3) uniform samplerBuffer Gamma;
layout(binding = 4) uniform samplerBuffer Beta;
layout(binding = 5) uniform samplerBuffer DBeta;  // backward only
layout(binding = 6) uniform samplerBuffer DGamma; // backward only
layout(binding = 7, std430) writeonly buffer Out1 { float o[]; };
layout(binding = 7, std430) writeonly buffer Out4 { vec4 o4[]; };

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
        const vec4 xhat = (texelFetch(X, int(idx >> 2)) - mean) * invstd;
        const vec4 v = fma(vec4(gamma), xhat, vec4(LOAD(Beta, c)));
        if (MODE == 0) {
            o4[idx >> 2] = RELU ? max(v, vec4(0.0)) : v;
        } else {
            vec4 g = DY_PLANE ? vec4(LOAD(DY, n * p.C + c) / float(p.HW)) : texelFetch(DY, int(idx >> 2));
            if (RELU) g = mix(vec4(0.0), g, greaterThan(v, vec4(0.0)));
            o4[idx >> 2] = gamma * invstd * (g - (LOAD(DBeta, c) + xhat * LOAD(DGamma, c)) / M);
        }
        return;
    }
    for (uint j = j0; j < min(j0 + 4u, block); j++) {
        const uint idx = n * block + j;
        const float mean = LOAD(Stats, c), invstd = LOAD(Stats, p.C + c), gamma = LOAD(Gamma, c);
        const float xhat = (LOAD(X, idx) - mean) * invstd;
        const float v = fma(gamma, xhat, LOAD(Beta, c));
        if (MODE == 0) {
            o[idx] = RELU ? max(v, 0.0) : v;
        } else {
            float g = DY_PLANE ? LOAD(DY, n * p.C + c) / float(p.HW) : LOAD(DY, idx);
            if (RELU && !(v > 0.0)) g = 0.0;
            o[idx] = gamma * invstd * (g - (LOAD(DBeta, c) + xhat * LOAD(DGamma, c)) / M);
        }
        if (++hw == p.HW) {
            hw = 0u;
            c++;
        }
    }
}
