#version 450
// Max-pool over non-overlapping 2x2 windows of planes of H x W (output H/2 x W/2, an odd last
// row/column dropped).
//   MODE 0 (forward): one invocation per output: y = max of its window.
//   MODE 1 (backward): one invocation per INPUT element: it recomputes the argmax of its window
//     (first maximum in row-major order, as the reference) and takes dy if it is that element,
//     0 otherwise. Every dx element is written exactly once: no atomics, no index buffer.
//   MODE 2 (backward, H and W even): one invocation per WINDOW: it finds the argmax once and
//     writes the window's four dx values as two vec2 stores. Same result as MODE 1 at about a
//     quarter of the loads (on lavapipe scalar stores also cost ~4x a vector store).
#extension GL_GOOGLE_include_directive : require
#include "texel.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 3) const uint MODE = 0;
#include "layers_common.glsl"
#include "precision.glsl"

layout(binding = 0) uniform ACT_TEXELS X;
layout(binding = 1) uniform ACT_TEXELS DY;
layout(binding = 2, std430) writeonly buffer Out { act_t o[]; };
layout(binding = 2, std430) writeonly buffer Out2 { act2_t o2[]; };

layout(push_constant) uniform Push { uint planes, H, W; } p;

void main()
{
    const uint Ho = p.H / 2u, Wo = p.W / 2u;
    const uint i = linear_invocation();
    if (MODE == 0) {
        if (i >= p.planes * Ho * Wo) return;
        const uint plane = i / (Ho * Wo), r = i % (Ho * Wo), oy = r / Wo, ox = r % Wo;
        const uint at = (plane * p.H + 2u * oy) * p.W + 2u * ox;
        o[i] = act(max(max(act_load(X, at), act_load(X, at + 1u)), max(act_load(X, at + p.W), act_load(X, at + p.W + 1u))));
    } else if (MODE == 2) {
        if (i >= p.planes * Ho * Wo) return;
        const uint plane = i / (Ho * Wo), r = i % (Ho * Wo), oy = r / Wo, ox = r % Wo;
        const uint at = (plane * p.H + 2u * oy) * p.W + 2u * ox; // even: W is even
        const vec4 v = vec4(act_load(X, at), act_load(X, at + 1u), act_load(X, at + p.W), act_load(X, at + p.W + 1u));
        // first maximum in row-major order, as MODE 1 and the reference
        uint best = 0u;
        float m = v.x;
        if (v.y > m) m = v.y, best = 1u;
        if (v.z > m) m = v.z, best = 2u;
        if (v.w > m) best = 3u;
        const float g = act_load(DY, i);
        o2[at >> 1] = act2(vec2(best == 0u ? g : 0.0, best == 1u ? g : 0.0));
        o2[(at + p.W) >> 1] = act2(vec2(best == 2u ? g : 0.0, best == 3u ? g : 0.0));
    } else {
        if (i >= p.planes * p.H * p.W) return;
        const uint plane = i / (p.H * p.W), r = i % (p.H * p.W), iy = r / p.W, ix = r % p.W;
        const uint oy = iy / 2u, ox = ix / 2u;
        float g = 0.0;
        if (oy < Ho && ox < Wo) {
            const uint at = (plane * p.H + 2u * oy) * p.W + 2u * ox;
            const uint idx[4] = uint[4](at, at + 1u, at + p.W, at + p.W + 1u);
            uint best = idx[0];
            float m = act_load(X, idx[0]);
            for (uint k = 1u; k < 4u; k++) {
                const float v = act_load(X, idx[k]);
                if (v > m) {
                    m = v;
                    best = idx[k];
                }
            }
            if (best == i) g = act_load(DY, (plane * Ho + oy) * Wo + ox);
        }
        o[i] = act(g);
    }
}
