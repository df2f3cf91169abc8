#version 450
// Max-pool over planes of H x W.
// Non-overlapping 2x2 windows (output H/2 x W/2, an odd last row/column dropped):
//   MODE 0 (forward): one invocation per output: y = max of its window.
//   MODE 1 (backward): one invocation per INPUT element: it recomputes the argmax of its window
//     (first maximum in row-major order, as the reference) and takes dy if it is that element,
//     0 otherwise. Every dx element is written exactly once: no atomics, no index buffer.
//   MODE 2 (backward, H and W even): one invocation per WINDOW: it finds the argmax once and
//     writes the window's four dx values as two vec2 stores. Same result as MODE 1 at about a
//     quarter of the loads (on lavapipe scalar stores also cost ~4x a vector store).
// Windows of K x K, stride S, padding P (ResNet's ImageNet stem: 3, 2, 1), output Ho x Wo
// (push constants); padding never wins (it is minus infinity):
//   MODE 3 (forward): one invocation per output: the max of its window's pixels inside the plane.
//   MODE 4 (backward): one invocation per INPUT element: the sum of dy over the windows (at
//     most ceil(K / S)^2 of them) whose first maximum in row-major order is this element, in
//     window order (as the reference adds them). No atomics.
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

layout(push_constant) uniform Push { uint planes, H, W, Ho, Wo, K, S, P; } p;

// MODE 3, 4: the first maximum of window (oy, ox) of `plane`, as an index into X
uint window_argmax(uint plane, uint oy, uint ox)
{
    const int y0 = int(oy * p.S) - int(p.P), x0 = int(ox * p.S) - int(p.P);
    uint best = 0xffffffffu;
    float m = 0.0;
    for (int ky = max(y0, 0); ky < min(y0 + int(p.K), int(p.H)); ky++)
        for (int kx = max(x0, 0); kx < min(x0 + int(p.K), int(p.W)); kx++) {
            const uint at = (plane * p.H + uint(ky)) * p.W + uint(kx);
            const float v = act_load(X, at);
            if (best == 0xffffffffu || v > m) {
                m = v;
                best = at;
            }
        }
    return best;
}

void main()
{
    const uint Ho = p.H / 2u, Wo = p.W / 2u;
    const uint i = linear_invocation();
    if (MODE == 3) {
        if (i >= p.planes * p.Ho * p.Wo) return;
        const uint plane = i / (p.Ho * p.Wo), r = i % (p.Ho * p.Wo);
        o[i] = act(act_load(X, window_argmax(plane, r / p.Wo, r % p.Wo)));
    } else if (MODE == 4) {
        if (i >= p.planes * p.H * p.W) return;
        const uint plane = i / (p.H * p.W), r = i % (p.H * p.W);
        const int iy = int(r / p.W), ix = int(r % p.W);
        // windows oy with oy S - P <= iy < oy S - P + K
        const int oy0 = max(0, (iy + int(p.P) - int(p.K) + int(p.S)) / int(p.S));
        const int oy1 = min(int(p.Ho) - 1, (iy + int(p.P)) / int(p.S));
        const int ox0 = max(0, (ix + int(p.P) - int(p.K) + int(p.S)) / int(p.S));
        const int ox1 = min(int(p.Wo) - 1, (ix + int(p.P)) / int(p.S));
        float g = 0.0;
        for (int oy = oy0; oy <= oy1; oy++)
            for (int ox = ox0; ox <= ox1; ox++)
                if (window_argmax(plane, uint(oy), uint(ox)) == i) g += act_load(DY, (plane * p.Ho + uint(oy)) * p.Wo + uint(ox));
        o[i] = act(g);
    } else if (MODE == 0) {
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
