#version 450
// Batch normalisation, first pass of the per-channel reductions over (n, hw) for x laid out
// [N][C][HW]. The M = N*HW values of channel c are cut into chunks of `len`; invocation
// (chunk, c) writes its chunk's sum to part[chunk*C + c] (and, in MODE 2, a second sum to
// part[(nchunks + chunk)*C + c]). batchnorm_finalize.comp adds the chunks in order.
//   MODE 0: sum x                                      (-> batch mean)
//   MODE 1: sum (x - mean)^2, mean from stats[c]       (-> biased batch variance; two passes
//           over x instead of E[x^2] - E[x]^2, which cancels catastrophically)
//   MODE 2: sum g and sum g*(x - mean), g = dy         (-> dbeta, dgamma)
//           with RELU, g = dy where the forward's output was > 0, else 0 (BN fused with a
//           following ReLU; the mask is recomputed from x, the statistics, gamma and beta with
//           the forward's arithmetic, so the output need not be kept or read)
//           with DY_PLANE, dy is one value per (n, c) plane, the gradient of a global average
//           pool that followed: g = dy[n*C + c] / HW (batchnorm_pool.comp POOL 2)
#extension GL_GOOGLE_include_directive : require
#include "texel.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 3) const uint MODE = 0;
layout(constant_id = 4) const bool RELU = false;
// VEC4 (HW % 4 == 0, chunk length % 4 == 0, X and DY bound as 4-wide views): four elements per
// texel fetch. Planes then start on whole texels, so a texel never straddles two images.
layout(constant_id = 5) const bool VEC4 = false;
layout(constant_id = 6) const bool DY_PLANE = false;
#include "layers_common.glsl"
#include "precision.glsl"

layout(binding = 0) uniform ACT_TEXELS X;
layout(binding = 1) uniform ACT_TEXELS DY;      // unread with DY_PLANE
layout(binding = 2) uniform TEXELS Stats; // [2C]: mean, 1/sqrt(var + eps)
layout(binding = 3) uniform TEXELS Gamma; // MODE 2 with RELU only
layout(binding = 4) uniform TEXELS Beta;  // MODE 2 with RELU only
layout(binding = 5, std430) writeonly buffer Part { float part[]; };
layout(binding = 6) uniform TEXELS DYPlane; // DY_PLANE only: float32 [N][C] (the pooled features' gradient)

layout(push_constant) uniform Push { uint N, C, HW, len, nchunks; } p;

void main()
{
    const uint id = linear_invocation();
    const uint c = id % p.C, chunk = id / p.C;
    if (chunk >= p.nchunks) return;
    const uint e0 = chunk * p.len, e1 = min(e0 + p.len, p.N * p.HW);
    // Walk elements e = n*HW + hw of the channel; idx is their address in x.
    uint hw = e0 % p.HW;
    uint idx = ((e0 / p.HW) * p.C + c) * p.HW + hw;
    const float mean = MODE == 0 ? 0.0 : LOAD(Stats, c);
    const float invstd = MODE == 2 ? LOAD(Stats, p.C + c) : 0.0;
    const float gamma = MODE == 2 && RELU ? LOAD(Gamma, c) : 0.0, beta = MODE == 2 && RELU ? LOAD(Beta, c) : 0.0;
    float s0 = 0.0, s1 = 0.0;
    if (VEC4) {
        vec4 a0 = vec4(0.0), a1 = vec4(0.0);
        for (uint e = e0; e < e1; e += 4u) {
            const vec4 x = act_load4(X, idx >> 2);
            if (MODE == 0) {
                a0 += x;
            } else if (MODE == 1) {
                const vec4 d = x - mean;
                a0 = fma(d, d, a0);
            } else {
                vec4 g = DY_PLANE ? vec4(LOAD(DYPlane, (e / p.HW) * p.C + c) / float(p.HW)) : act_load4(DY, idx >> 2);
                if (RELU) g = mix(vec4(0.0), g, greaterThan(fma(vec4(gamma), (x - mean) * invstd, vec4(beta)), vec4(0.0)));
                a0 += g;
                a1 = fma(g, x - mean, a1);
            }
            idx += 4u;
            hw += 4u;
            if (hw == p.HW) {
                hw = 0u;
                idx += (p.C - 1u) * p.HW;
            }
        }
        s0 = (a0.x + a0.y) + (a0.z + a0.w);
        s1 = (a1.x + a1.y) + (a1.z + a1.w);
    } else {
        for (uint e = e0; e < e1; e++) {
            const float x = act_load(X, idx);
            if (MODE == 0) {
                s0 += x;
            } else if (MODE == 1) {
                const float d = x - mean;
                s0 = fma(d, d, s0);
            } else {
                float g = DY_PLANE ? LOAD(DYPlane, (e / p.HW) * p.C + c) / float(p.HW) : act_load(DY, idx);
                if (RELU && !(fma(gamma, (x - mean) * invstd, beta) > 0.0)) g = 0.0;
                s0 += g;
                s1 = fma(g, x - mean, s1);
            }
            idx++;
            if (++hw == p.HW) {
                hw = 0u;
                idx += (p.C - 1u) * p.HW; // on to the same channel of the next image
            }
        }
    }
    part[chunk * p.C + c] = s0;
    if (MODE == 2) part[(p.nchunks + chunk) * p.C + c] = s1;
}
