#version 450
// Unfold part of a batch of NCHW images into the columns of a GEMM (the CPU path of conv2d,
// src/nn/conv2d.c): for images n0 .. n0+nimg-1,
//   col[k][j] = x[n0+nl][ci][oy*S + ky - pad][ox*S + kx - pad]    (0 outside the image)
// with k = ci*KS*KS + ky*KS + kx (k < C*KS*KS) and j = nl*P4 + oy*Wo + ox, where P4 is the
// output plane Ho*Wo rounded up to a multiple of 4; the columns P .. P4-1 of an image are 0.
// When rows = C*KS*KS + 1 the last row is 1 for real pixels and 0 for padding (its product
// with dy is the bias gradient). Row length L = nimg*P4 (a multiple of 4).
//
// One invocation writes one (row, image) run of P4 floats as vec4 stores: the output
// position is stepped, not divided, and padding is a clamped fetch plus a select, so there
// are no per-invocation branches around the fetches.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x_id = 0) in;
layout(constant_id = 3) const uint KS = 3;
layout(constant_id = 4) const uint STRIDE = 1;
#include "layers_common.glsl"

layout(binding = 0) uniform samplerBuffer X; // [N][C][H][W]
layout(binding = 1, std430) writeonly buffer Col { vec4 col4[]; };

layout(push_constant) uniform Push { uint n0, nimg, C, H, W, Ho, Wo, P4, pad, rows, L; } p;

void main()
{
    const uint id = linear_invocation();
    const uint k = id % p.rows, nl = id / p.rows;
    if (nl >= p.nimg) return;
    const uint KK = KS * KS, P = p.Ho * p.Wo;
    const bool ones = k >= p.C * KK;
    const uint ci = min(k / KK, p.C - 1u), t = k % KK;
    const int dy = int(t / KS) - int(p.pad), dx = int(t % KS) - int(p.pad);
    const uint base = ((p.n0 + nl) * p.C + ci) * p.H * p.W;
    const uint dst = (k * p.L + nl * p.P4) >> 2;

    // (iy, ix): input position of output pixel r's tap, stepped along the output row with
    // selects only (no branches, no divisions).
    int iy = dy, ix = dx;
    const int ix_end = int(p.Wo * STRIDE) + dx, ystep = int(STRIDE);
    const float fill = ones ? 1.0 : 0.0;
    for (uint r4 = 0u; r4 < p.P4; r4 += 4u) {
        vec4 v;
        [[unroll]] for (uint q = 0u; q < 4u; q++) {
            const bool real = r4 + q < P;
            const bool inside = real && uint(iy) < p.H && uint(ix) < p.W;
            const float xv = LOAD(X, inside ? base + uint(iy * int(p.W) + ix) : 0u);
            v[q] = ones ? (real ? fill : 0.0) : (inside ? xv : 0.0);
            ix += ystep;
            const bool wrap = ix == ix_end;
            ix = wrap ? dx : ix;
            iy += wrap ? ystep : 0;
        }
        col4[dst + (r4 >> 2)] = v;
    }
}
