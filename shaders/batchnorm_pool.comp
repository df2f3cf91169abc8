#version 450
// Batch normalisation (optionally with ReLU) fused with the pooling that follows it in the
// convnet: a 2x2 max-pool (POOL 1) or the global average pool (POOL 2). x is [N][C][H][W]
// with statistics already in stats = [mean | 1/sqrt(var + eps)] (batchnorm_reduce.comp and
// batchnorm_finalize.comp, as for plain batch norm); z = gamma (x - mean) invstd + beta, then
// max(z, 0) with RELU. The normalised map z is never stored: the forward writes only the
// pooled output, and the backward recomputes z (and the max-pool's argmax) from x with the
// same arithmetic.
//   MODE 0 (forward): POOL 1: y[n][c][oy][ox] = max of z over the window (2oy.., 2ox..)
//                     POOL 2: y[n][c]         = mean of z over the plane (summed in order)
//   MODE 1 (backward, POOL 1): with g = dy of the window at the first maximum of z in
//     row-major order (0 elsewhere, and 0 where that maximum is not > 0 with RELU: the ReLU's
//     mask), and dbeta = sum g, dgamma = sum g*xhat from batchnorm_finalize.comp:
//       dx = gamma * invstd * (g - (dbeta + xhat * dgamma) / M)
//     one invocation per window (an odd last row/column of x: cells with g = 0).
//   MODE 2 (backward sums, POOL 1): as batchnorm_reduce.comp MODE 2 over the windows: chunk
//     `chunk` of channel c (windows e0 .. e0+len of the N*Ho*Wo) writes sum g to
//     part[chunk*C + c] and sum g*(x - mean) to part[(nchunks + chunk)*C + c].
// (The global average pool's backward is batch norm's own backward with DY_PLANE.)
// VEC (W % 4 == 0, X a 4-wide view): two neighbouring windows per step, one texel per row.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "texel.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 3) const uint MODE = 0;
layout(constant_id = 4) const uint POOL = 1;
layout(constant_id = 5) const bool RELU = true;
layout(constant_id = 6) const bool VEC = false;
#include "layers_common.glsl"
#include "precision.glsl"

layout(binding = 0) uniform ACT_TEXELS X;      // [N][C][H][W]
layout(binding = 1) uniform ACT_TEXELS DY;     // backward: gradient of the pooled output [N][C][Ho][Wo]
layout(binding = 2) uniform TEXELS Stats;  // [2C]
layout(binding = 3) uniform TEXELS Gamma;
layout(binding = 4) uniform TEXELS Beta;
layout(binding = 5) uniform TEXELS DBeta;  // backward apply only
layout(binding = 6) uniform TEXELS DGamma; // backward apply only
layout(binding = 7, std430) writeonly buffer Out1 { act_t o1[]; };
layout(binding = 7, std430) writeonly buffer Out2 { act2_t o2[]; };
layout(binding = 7, std430) writeonly buffer Out4 { act4_t o4[]; };
layout(binding = 7, std430) writeonly buffer OutF { float of[]; }; // float32 outputs: pooled features, partial sums

layout(push_constant) uniform Push { uint N, C, H, W, M, len, nchunks; } p;

// ---- storage access: the only lines that know how activations are stored ----
// (precision.glsl: the activation dtype of this build; the average pool's features and the
// partial sums are float32 in every build)
float load_x(uint i) { return act_load(X, i); }
vec4 load_x4(uint t) { return act_load4(X, t); } // elements 4t .. 4t+3
float load_dy(uint i) { return act_load(DY, i); }
void store_y(uint i, float v) { o1[i] = act(v); }
void store_f32(uint i, float v) { of[i] = v; }
void store_y2(uint t, vec2 v) { o2[t] = act2(v); } // elements 2t, 2t+1
void store_dx(uint i, float v) { o1[i] = act(v); }
void store_dx4(uint t, vec4 v) { o4[t] = act4(v); } // elements 4t .. 4t+3
// ----

float mean_c, invstd_c, gamma_c, beta_c;

void channel(uint c)
{
    mean_c = LOAD(Stats, c);
    invstd_c = LOAD(Stats, p.C + c);
    gamma_c = LOAD(Gamma, c);
    beta_c = LOAD(Beta, c);
}

// The normalised activation: the same expression in every mode (and as batchnorm.comp).
float normalised(float x)
{
    const float v = fma(gamma_c, (x - mean_c) * invstd_c, beta_c);
    return RELU ? max(v, 0.0) : v;
}

// Index (0..3, row-major) of the first maximum of a window's activations.
uint argmax4(vec4 z)
{
    uint best = 0u;
    float m = z.x;
    if (z.y > m) m = z.y, best = 1u;
    if (z.z > m) m = z.z, best = 2u;
    if (z.w > m) best = 3u;
    return best;
}

// The window's gradient at each of its elements (x: its 4 inputs, g: dy of the window).
vec4 window_grad(vec4 x, float g)
{
    const vec4 z = vec4(normalised(x.x), normalised(x.y), normalised(x.z), normalised(x.w));
    const uint b = argmax4(z);
    if (RELU && !(z[b] > 0.0)) g = 0.0;
    return vec4(b == 0u ? g : 0.0, b == 1u ? g : 0.0, b == 2u ? g : 0.0, b == 3u ? g : 0.0);
}

float dgamma_c, dbeta_c;

void channel_grads(uint c)
{
    dgamma_c = LOAD(DGamma, c);
    dbeta_c = LOAD(DBeta, c);
}

// dx of 4 elements given their inputs and gradients g (backward apply), as batchnorm.comp.
vec4 dx_of(vec4 x, vec4 g)
{
    const vec4 xhat = (x - mean_c) * invstd_c;
    return gamma_c * invstd_c * (g - (dbeta_c + xhat * dgamma_c) / float(p.M));
}

void main()
{
    const uint id = linear_invocation();
    const uint Ho = p.H / 2u, Wo = p.W / 2u, HW = p.H * p.W;
    if (MODE == 0u && POOL == 2u) {
        // one invocation per plane: the mean of its activations, summed in order
        if (id >= p.N * p.C) return;
        channel(id % p.C);
        float s = 0.0;
        if (VEC) {
            for (uint t = 0u; t < HW / 4u; t++) {
                const vec4 x = load_x4(id * (HW / 4u) + t);
                s += (normalised(x.x) + normalised(x.y)) + (normalised(x.z) + normalised(x.w));
            }
        } else {
            for (uint i = 0u; i < HW; i++) s += normalised(load_x(id * HW + i));
        }
        store_f32(id, s / float(HW));
        return;
    }
    if (MODE == 2u) {
        // backward sums over chunks of windows (see the top)
        const uint c = id % p.C, chunk = id / p.C;
        if (chunk >= p.nchunks) return;
        channel(c);
        const uint P = Ho * Wo, e0 = chunk * p.len, e1 = min(e0 + p.len, p.N * P);
        float s0 = 0.0, s1 = 0.0;
        for (uint e = e0; e < e1; e += VEC ? 2u : 1u) {
            const uint n = e / P, r = e % P, oy = r / Wo, ox = r % Wo;
            const uint at = ((n * p.C + c) * p.H + 2u * oy) * p.W + 2u * ox;
            const uint gat = (n * p.C + c) * P + r;
            if (VEC) {
                const vec4 top = load_x4(at >> 2), bot = load_x4((at + p.W) >> 2);
                const vec4 x0 = vec4(top.xy, bot.xy), x1 = vec4(top.zw, bot.zw);
                const vec4 g0 = window_grad(x0, load_dy(gat)), g1 = window_grad(x1, load_dy(gat + 1u));
                s0 += (g0.x + g0.y + g0.z + g0.w) + (g1.x + g1.y + g1.z + g1.w);
                s1 += dot(g0, x0 - mean_c) + dot(g1, x1 - mean_c);
            } else {
                const vec4 x = vec4(load_x(at), load_x(at + 1u), load_x(at + p.W), load_x(at + p.W + 1u));
                const vec4 g = window_grad(x, load_dy(gat));
                s0 += g.x + g.y + g.z + g.w;
                s1 += dot(g, x - mean_c);
            }
        }
        store_f32(chunk * p.C + c, s0);
        store_f32((p.nchunks + chunk) * p.C + c, s1);
        return;
    }
    // MODE 0 / 1 with the max-pool: one invocation per row of windows (the channel's
    // parameters fetched once for all of them), two windows per step with VEC; in the backward
    // the rows and cells of the (H+1)/2 x (W+1)/2 grid, so an odd last row/column is covered.
    const uint cw = MODE == 1u ? (p.W + 1u) / 2u : Wo, ch = MODE == 1u ? (p.H + 1u) / 2u : Ho;
    if (id >= p.N * p.C * ch) return;
    const uint plane = id / ch, oy = id % ch;
    channel(plane % p.C);
    if (MODE == 1u) channel_grads(plane % p.C);
    const bool has_b = 2u * oy + 1u < p.H; // an odd last row (backward): no window, g = 0
    if (VEC) {
        // W % 4 == 0: two whole windows per step, rows as texels
        for (uint ox = 0u; ox < cw; ox += 2u) {
            const uint at = (plane * p.H + 2u * oy) * p.W + 2u * ox;
            const uint gat = (plane * Ho + oy) * Wo + ox; // the window's pooled element
            const vec4 top = load_x4(at >> 2), bot = has_b ? load_x4((at + p.W) >> 2) : vec4(0.0);
            const vec4 x0 = vec4(top.xy, bot.xy), x1 = vec4(top.zw, bot.zw);
            if (MODE == 0u) {
                const vec4 z0 = vec4(normalised(x0.x), normalised(x0.y), normalised(x0.z), normalised(x0.w));
                const vec4 z1 = vec4(normalised(x1.x), normalised(x1.y), normalised(x1.z), normalised(x1.w));
                store_y2(gat >> 1, vec2(z0[argmax4(z0)], z1[argmax4(z1)]));
            } else {
                const vec4 g0 = has_b ? window_grad(x0, load_dy(gat)) : vec4(0.0);
                const vec4 g1 = has_b ? window_grad(x1, load_dy(gat + 1u)) : vec4(0.0);
                const vec4 d0 = dx_of(x0, g0), d1 = dx_of(x1, g1);
                store_dx4(at >> 2, vec4(d0.xy, d1.xy));
                if (has_b) store_dx4((at + p.W) >> 2, vec4(d0.zw, d1.zw));
            }
        }
        return;
    }
    for (uint ox = 0u; ox < cw; ox++) {
        // one cell: elements (2oy + dy, 2ox + dx) that exist
        const uint at = (plane * p.H + 2u * oy) * p.W + 2u * ox;
        const uint gat = (plane * Ho + oy) * Wo + ox;
        const bool has_r = 2u * ox + 1u < p.W;
        const vec4 x = vec4(load_x(at), has_r ? load_x(at + 1u) : 0.0, has_b ? load_x(at + p.W) : 0.0,
                            has_r && has_b ? load_x(at + p.W + 1u) : 0.0);
        if (MODE == 0u) {
            const vec4 z = vec4(normalised(x.x), normalised(x.y), normalised(x.z), normalised(x.w));
            store_y(gat, z[argmax4(z)]);
            continue;
        }
        const bool real = has_r && has_b && ox < Wo && oy < Ho;
        const vec4 g = real ? window_grad(x, load_dy(gat)) : vec4(0.0);
        const vec4 d = dx_of(x, g);
        store_dx(at, d.x);
        if (has_r) store_dx(at + 1u, d.y);
        if (has_b) store_dx(at + p.W, d.z);
        if (has_r && has_b) store_dx(at + p.W + 1u, d.w);
    }
}
