#version 450
// conv2d backward to the weights, NCHW, first pass (split K) for CPU drivers (lavapipe):
//   dw[co][ci][ky][kx] = sum_{n,oy,ox} dy[n][co][oy][ox] * x[n][ci][oy*S + ky - PAD][ox*S + kx - PAD]
//   db[co]             = sum_{n,oy,ox} dy[n][co][oy][ox]
// an implicit GEMM over K = N*Ho*Wo: nothing unfolded, register tiles, texel reads.
//
// The K = N*Ho output rows r = n*Ho + oy are cut into chunks of `rows`; invocation (chunk,
// co block, ci block, column segment) walks its chunk's rows over TW output columns and keeps
// a 4*TCO4 x TCI x KS*KS tile of dw in registers. Per output row it reads the dy row segment
// of each of its output channels and the KS input rows of each of its input channels once
// (whole texels when VEC), and every x value feeds all the taps and channels that use it.
// It writes its partial sums to
//   part[(chunk*segs + seg)*stride + (co*Cin + ci)*KK + t]  and (ci block 0) part[... + Cout*Cin*KK + co],
// which reduce_chunks.comp adds in order: deterministic, no atomics (DESIGN.md decision 4).
#extension GL_GOOGLE_include_directive : require
// With SG (conv2d_reg.glsl) the output-channel blocks come in whole subgroups: neighbouring
// lanes take neighbouring co blocks of the same (chunk, segment, ci block), so they read the
// same x rows; each lane fetches a share of them and they exchange the values.
#define SG_ID 10
#include "texel.glsl"
#include "conv2d_reg.glsl"
layout(constant_id = 6) const uint TCO4 = 1;     // output channels per invocation / 4
layout(constant_id = 7) const uint TCI = 4;      // input channels per invocation
layout(constant_id = 8) const uint TW = 8;       // output columns per invocation
layout(constant_id = 9) const bool VEC = false;  // Wo % 4 == 0, W % 4 == 0, TW % 4 == 0, TW*S % 4 == 0: rgba32f reads

layout(binding = 0) uniform ACT_TEXELS X;    // [N][Cin][H][W]: 1-wide view, 4-wide when VEC
layout(binding = 1) uniform ACT_TEXELS DY;   // [N][Cout][Ho][Wo]: 1-wide view, 4-wide when VEC
layout(binding = 2, std430) writeonly buffer Part { float part[]; };

layout(push_constant) uniform Push { uint N, Cin, H, W, Cout, Ho, Wo, rows, nchunks, segs, has_bias; } p;

// ---- storage access: the only lines that know how activations are stored ----
float load_x(uint i) { return act_load(X, i); }
vec4 load_x4(uint t) { return act_load4(X, t); } // elements 4t .. 4t+3
float load_dy(uint i) { return act_load(DY, i); }
vec4 load_dy4(uint t) { return act_load4(DY, t); }
// ----

const uint TCO = 4u * TCO4;
const uint NX = (TW - 1u) * STRIDE + KS; // input columns of a row window
const uint LEAD4 = (PAD + 3u) / 4u;
const uint SKIP = 4u * LEAD4 - PAD;      // column c of the window is xs[SKIP + c]
const uint NT = (SKIP + NX + 3u) / 4u;
const uint NV = 4u * NT;
const uint NXL = SG > 1u ? (NX + SG - 1u) / SG : 1u; // x values per lane and row (scalar reads, SG)
const uint NTL = SG > 1u ? (NT + SG - 1u) / SG : 1u; // x texels per lane and row (VEC, SG)

void main()
{
    const uint nci = (p.Cin + TCI - 1u) / TCI, nco = (p.Cout + TCO - 1u) / TCO;
    const uint id = lane_id();
    // Neighbouring lanes take neighbouring ci blocks of the same (chunk, segment, co block), or
    // with SG neighbouring co blocks of the same (chunk, segment, ci block).
    const uint cib = SG > 1u ? (id / nco) % nci : id % nci, cob = SG > 1u ? id % nco : (id / nci) % nco;
    const uint seg = (id / (nci * nco)) % p.segs;
    // With SG every lane of a subgroup must reach the shuffles: lanes past the end repeat the
    // last chunk and store nothing.
    const bool live = id / (nci * nco * p.segs) < p.nchunks;
    if (SG <= 1u && !live) return;
    const uint chunk = min(id / (nci * nco * p.segs), p.nchunks - 1u);
    const uint ci0 = cib * TCI, co0 = cob * TCO, ox0 = seg * TW;
    const uint HW = p.H * p.W, P = p.Ho * p.Wo;

    uint xplane[TCI], dyplane[TCO];
    [[unroll]] for (uint i = 0u; i < TCI; i++) xplane[i] = min(ci0 + i, p.Cin - 1u) * HW;
    [[unroll]] for (uint c = 0u; c < TCO; c++) dyplane[c] = min(co0 + c, p.Cout - 1u) * P;
    const int cx0 = int(ox0 * STRIDE) - int(4u * LEAD4);
    uint colofs[NV];
    bool colok[NV];
    [[unroll]] for (uint v = 0u; v < NV; v++) {
        const int c = cx0 + int(v);
        colok[v] = uint(c) < p.W;
        colofs[v] = colok[v] ? uint(c) : 0u;
    }
    bool outok[TW]; // output columns inside dy
    [[unroll]] for (uint j = 0u; j < TW; j++) outok[j] = ox0 + j < p.Wo;
    const uint oxs = min(ox0, p.Wo - 1u) & (VEC ? ~3u : ~0u);

    float acc[TCO][TCI][KK];
    float bacc[TCO];
    [[unroll]] for (uint c = 0u; c < TCO; c++) {
        bacc[c] = 0.0;
        [[unroll]] for (uint i = 0u; i < TCI; i++)
            [[unroll]] for (uint t = 0u; t < KK; t++) acc[c][i][t] = 0.0;
    }

    const uint r_end = min((chunk + 1u) * p.rows, p.N * p.Ho);
    for (uint r = chunk * p.rows; r < r_end; r++) {
        const uint n = r / p.Ho, oy = r % p.Ho;
        // dy row segment of every output channel (0 past the last column).
        float g[TCO][TW];
        const uint dyrow = n * p.Cout * P + oy * p.Wo + oxs;
        [[unroll]] for (uint c = 0u; c < TCO; c++) {
            if (VEC) {
                [[unroll]] for (uint j = 0u; j < TW; j += 4u) {
                    const vec4 v = load_dy4((dyrow + dyplane[c] + (outok[j] ? j : 0u)) >> 2);
                    [[unroll]] for (uint q = 0u; q < 4u; q++) g[c][j + q] = outok[j] ? v[q] : 0.0;
                }
            } else {
                [[unroll]] for (uint j = 0u; j < TW; j++) {
                    const float v = load_dy(dyrow + dyplane[c] + (outok[j] ? j : 0u));
                    g[c][j] = outok[j] ? v : 0.0;
                }
            }
            [[unroll]] for (uint j = 0u; j < TW; j++) bacc[c] += g[c][j];
        }
        const uint xb = n * p.Cin * HW;
        [[unroll]] for (uint ky = 0u; ky < KS; ky++) {
            const int iy = int(oy * STRIDE + ky) - int(PAD);
            const bool rowok = uint(iy) < p.H;
            const uint rowofs = xb + (rowok ? uint(iy) * p.W : 0u);
            [[unroll]] for (uint i = 0u; i < TCI; i++) {
                float xs[NV];
                if (SG > 1u && VEC) {
                    vec4 mine[NTL];
                    [[unroll]] for (uint k = 0u; k < NTL; k++) {
                        const uint t = min(gl_SubgroupInvocationID + k * SG, NT - 1u);
                        const bool ok = rowok && colok[4u * t];
                        const vec4 v = load_x4((rowofs + xplane[i] + colofs[4u * t]) >> 2);
                        mine[k] = ok ? v : vec4(0.0);
                    }
                    [[unroll]] for (uint t = 0u; t < NT; t++) {
                        const vec4 v = subgroupShuffle(mine[t / SG], t % SG);
                        [[unroll]] for (uint q = 0u; q < 4u; q++) xs[4u * t + q] = v[q];
                    }
                } else if (SG > 1u) {
                    float mine[NXL];
                    [[unroll]] for (uint k = 0u; k < NXL; k++) {
                        const uint v = SKIP + min(gl_SubgroupInvocationID + k * SG, NX - 1u);
                        const float x = load_x(rowofs + xplane[i] + colofs[v]);
                        mine[k] = rowok && colok[v] ? x : 0.0;
                    }
                    [[unroll]] for (uint v = 0u; v < NV; v++)
                        xs[v] = v < SKIP || v >= SKIP + NX ? 0.0 : subgroupShuffle(mine[(v - SKIP) / SG], (v - SKIP) % SG);
                } else if (VEC) {
                    [[unroll]] for (uint t = 0u; t < NT; t++) {
                        const bool ok = rowok && colok[4u * t];
                        const vec4 v = load_x4((rowofs + xplane[i] + colofs[4u * t]) >> 2);
                        [[unroll]] for (uint q = 0u; q < 4u; q++) xs[4u * t + q] = ok ? v[q] : 0.0;
                    }
                } else {
                    [[unroll]] for (uint v = 0u; v < NV; v++) {
                        if (v < SKIP || v >= SKIP + NX) {
                            xs[v] = 0.0;
                        } else {
                            const float x = load_x(rowofs + xplane[i] + colofs[v]);
                            xs[v] = rowok && colok[v] ? x : 0.0;
                        }
                    }
                }
                // One update of each accumulator per row (the sum over the row's columns, in
                // registers): on lavapipe every update of a loop-carried value is a masked
                // memory update, and Mesa >= 24 pays more for them than Mesa 22.
                [[unroll]] for (uint kx = 0u; kx < KS; kx++)
                    [[unroll]] for (uint c = 0u; c < TCO; c++) {
                        float s = 0.0;
                        [[unroll]] for (uint j = 0u; j < TW; j++) s = fma(g[c][j], xs[SKIP + j * STRIDE + kx], s);
                        acc[c][i][ky * KS + kx] += s;
                    }
            }
        }
    }

    const uint stride = p.Cout * p.Cin * KK + p.Cout;
    const uint base = (chunk * p.segs + seg) * stride;
    [[unroll]] for (uint c = 0u; c < TCO; c++) {
        const uint co = co0 + c;
        [[unroll]] for (uint i = 0u; i < TCI; i++) {
            const uint ci = ci0 + i;
            if (live && co < p.Cout && ci < p.Cin)
                [[unroll]] for (uint t = 0u; t < KK; t++) part[base + (co * p.Cin + ci) * KK + t] = acc[c][i][t];
        }
        if (live && co < p.Cout && cib == 0u && p.has_bias != 0u) part[base + p.Cout * p.Cin * KK + co] = bacc[c];
    }
}
