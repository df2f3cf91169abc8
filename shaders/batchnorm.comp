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
// Invocation (c, segment, n) handles up to 64 values of plane (n, c); in the 1-D form (HW = 1)
// four neighbouring channels of row n.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "texel.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 3) const uint MODE = 0;
layout(constant_id = 4) const bool RELU = false;
// VEC4 (HW % 4 == 0, X and DY bound as 4-wide views): the invocation's 4 elements share one
// channel; one texel fetch per input and one vec4 store.
layout(constant_id = 5) const bool VEC4 = false;
layout(constant_id = 6) const bool DY_PLANE = false;
#include "layers_common.glsl"
#include "precision.glsl"

layout(binding = 0) uniform ACT_TEXELS X;
layout(binding = 1) uniform ACT_TEXELS DY;       // backward only, unread with DY_PLANE
layout(binding = 2) uniform TEXELS Stats;  // [2C]
layout(binding = 3) uniform TEXELS Gamma;
layout(binding = 4) uniform TEXELS Beta;
layout(binding = 5) uniform TEXELS DBeta;  // backward only
layout(binding = 6) uniform TEXELS DGamma; // backward only
layout(binding = 7, std430) writeonly buffer Out1 { act_t o[]; };
layout(binding = 7, std430) writeonly buffer Out4 { act4_t o4[]; };
layout(binding = 8) uniform TEXELS DYPlane; // DY_PLANE only: float32 [N][C]

layout(push_constant) uniform Push { uint N, C, HW, M; } p; // M: the statistics' count (N*HW, times the ranks with sync BN)

void main()
{
    // Invocation (c, segment) of image n (gl_WorkGroupID.y) walks up to SEG values of plane
    // (n, c): the channel's parameters are fetched once for all of them.
    const uint SEG = 64u;
    const uint id = gl_GlobalInvocationID.x, nseg = (p.HW + SEG - 1u) / SEG;
    const uint n = gl_WorkGroupID.y;
    if (!VEC4 && p.HW == 1u) {
        // the 1-D form [N][C]: four neighbouring channels per invocation
        [[unroll]] for (uint k = 0u; k < 4u; k++) {
            const uint c = 4u * id + k;
            if (c < p.C) {
                const uint idx = n * p.C + c;
                const float xhat = (act_load(X, idx) - LOAD(Stats, c)) * LOAD(Stats, p.C + c);
                const float gamma = LOAD(Gamma, c), v = fma(gamma, xhat, LOAD(Beta, c));
                if (MODE == 0) {
                    o[idx] = act(RELU ? max(v, 0.0) : v);
                } else {
                    float g = act_load(DY, idx);
                    if (RELU && !(v > 0.0)) g = 0.0;
                    o[idx] = act(gamma * LOAD(Stats, p.C + c) * (g - (LOAD(DBeta, c) + xhat * LOAD(DGamma, c)) / float(p.M)));
                }
            }
        }
        return;
    }
    const uint c = id / nseg, seg = id % nseg;
    if (c >= p.C) return;
    const float M = float(p.M);
    const float mean = LOAD(Stats, c), invstd = LOAD(Stats, p.C + c), gamma = LOAD(Gamma, c), beta = LOAD(Beta, c);
    const float dbeta = MODE == 1 ? LOAD(DBeta, c) : 0.0, dgamma = MODE == 1 ? LOAD(DGamma, c) : 0.0;
    const float gplane = MODE == 1 && DY_PLANE ? LOAD(DYPlane, n * p.C + c) / float(p.HW) : 0.0;
    const uint base = (n * p.C + c) * p.HW, lo = seg * SEG, hi = min(lo + SEG, p.HW);
    if (VEC4) {
        for (uint j = lo; j < hi; j += 4u) {
            const uint idx = base + j; // a multiple of 4
            const vec4 xhat = (act_load4(X, idx >> 2) - mean) * invstd;
            const vec4 v = fma(vec4(gamma), xhat, vec4(beta));
            if (MODE == 0) {
                o4[idx >> 2] = act4(RELU ? max(v, vec4(0.0)) : v);
            } else {
                vec4 g = DY_PLANE ? vec4(gplane) : act_load4(DY, idx >> 2);
                if (RELU) g = mix(vec4(0.0), g, greaterThan(v, vec4(0.0)));
                o4[idx >> 2] = act4(gamma * invstd * (g - (dbeta + xhat * dgamma) / M));
            }
        }
        return;
    }
    for (uint j = lo; j < hi; j++) {
        const uint idx = base + j;
        const float xhat = (act_load(X, idx) - mean) * invstd;
        const float v = fma(gamma, xhat, beta);
        if (MODE == 0) {
            o[idx] = act(RELU ? max(v, 0.0) : v);
        } else {
            float g = DY_PLANE ? gplane : act_load(DY, idx);
            if (RELU && !(v > 0.0)) g = 0.0;
            o[idx] = act(gamma * invstd * (g - (dbeta + xhat * dgamma) / M));
        }
    }
}
