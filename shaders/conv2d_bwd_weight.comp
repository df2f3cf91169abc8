#version 450
// conv2d backward to the weights, first pass (split K):
//   dw[co][ci][ky][kx] = sum_{n,oy,ox} dy[n][co][oy][ox] * x[n][ci][oy*S + ky - pad][ox*S + kx - pad]
//   db[co]             = sum_{n,oy,ox} dy[n][co][oy][ox]
// The sum runs over K = N*Ho*Wo terms: far too many for one invocation. The output rows
// r = n*Ho + oy are cut into chunks of `rows` rows; invocation (chunk, co block, ci block)
// writes its chunk's partial sums of a TCO x TCI x KS*KS tile to
//   part[chunk*stride + (co*Cin + ci)*KK + tap]   and, for ci block 0, part[chunk*stride + Cout*Cin*KK + co],
// and reduce_chunks.comp adds the chunks in order: deterministic, no atomics.
// Per output pixel it fetches TCO dy values and TCI*KK x values for TCO*TCI*KK multiply-adds.
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
layout(constant_id = 3) const uint KS = 3;
layout(constant_id = 4) const uint STRIDE = 1;
layout(constant_id = 5) const uint TCO = 4;
layout(constant_id = 6) const uint TCI = 2;
#include "layers_common.glsl"

layout(binding = 0) uniform samplerBuffer X;   // [N][Cin][H][W]
layout(binding = 1) uniform samplerBuffer DY;  // [N][Cout][Ho][Wo]
layout(binding = 2, std430) writeonly buffer Part { float part[]; };

layout(push_constant) uniform Push { uint N, Cin, H, W, Cout, Ho, Wo, pad, rows, nchunks, has_bias; } p;

const uint KK = KS * KS;

void main()
{
    const uint P = p.Ho * p.Wo, HW = p.H * p.W;
    const uint nci = (p.Cin + TCI - 1u) / TCI, nco = (p.Cout + TCO - 1u) / TCO;
    const uint id = linear_invocation();
    // Adjacent invocations take adjacent ci blocks of the same (chunk, co block): their dy
    // fetches are the same addresses.
    const uint cib = id % nci, cob = (id / nci) % nco, chunk = id / (nci * nco);
    if (chunk >= p.nchunks) return;
    const uint ci0 = cib * TCI, co0 = cob * TCO;

    uint xplane[TCI], dyplane[TCO];
    for (uint i = 0; i < TCI; i++) xplane[i] = min(ci0 + i, p.Cin - 1u) * HW;
    for (uint c = 0; c < TCO; c++) dyplane[c] = min(co0 + c, p.Cout - 1u) * P;

    float acc[TCO][TCI][KK];
    float bacc[TCO];
    for (uint c = 0; c < TCO; c++) {
        bacc[c] = 0.0;
        for (uint i = 0; i < TCI; i++)
            for (uint t = 0; t < KK; t++) acc[c][i][t] = 0.0;
    }

    const uint r_end = min((chunk + 1u) * p.rows, p.N * p.Ho);
    for (uint r = chunk * p.rows; r < r_end; r++) {
        const uint n = r / p.Ho, oy = r % p.Ho;
        const uint xb = n * p.Cin * HW, dyb = n * p.Cout * P + oy * p.Wo;
        int iy[KS];
        bool row_in[KS];
        for (uint ky = 0; ky < KS; ky++) {
            iy[ky] = int(oy * STRIDE + ky) - int(p.pad);
            row_in[ky] = uint(iy[ky]) < p.H;
        }
        for (uint ox = 0; ox < p.Wo; ox++) {
            float g[TCO];
            for (uint c = 0; c < TCO; c++) {
                g[c] = LOAD(DY, dyb + dyplane[c] + ox);
                bacc[c] += g[c];
            }
            for (uint ky = 0; ky < KS; ky++)
                for (uint kx = 0; kx < KS; kx++) {
                    const int ix = int(ox * STRIDE + kx) - int(p.pad);
                    const bool inside = row_in[ky] && uint(ix) < p.W;
                    const uint off = inside ? xb + uint(iy[ky]) * p.W + uint(ix) : 0u;
                    for (uint i = 0; i < TCI; i++) {
                        const float v = LOAD(X, off + xplane[i]);
                        const float xv = inside ? v : 0.0;
                        for (uint c = 0; c < TCO; c++) acc[c][i][ky * KS + kx] = fma(g[c], xv, acc[c][i][ky * KS + kx]);
                    }
                }
        }
    }

    const uint stride = p.Cout * p.Cin * KK + p.Cout;
    const uint base = chunk * stride;
    for (uint c = 0; c < TCO; c++) {
        const uint co = co0 + c;
        if (co >= p.Cout) break;
        for (uint i = 0; i < TCI; i++) {
            const uint ci = ci0 + i;
            if (ci >= p.Cin) break;
            for (uint t = 0; t < KK; t++) part[base + (co * p.Cin + ci) * KK + t] = acc[c][i][t];
        }
        if (cib == 0u && p.has_bias != 0u) part[base + p.Cout * p.Cin * KK + co] = bacc[c];
    }
}
