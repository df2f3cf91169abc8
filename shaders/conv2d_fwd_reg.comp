#version 450
// conv2d forward, NCHW, as an implicit GEMM for CPU drivers (lavapipe): nothing is unfolded,
// every invocation keeps a register tile of outputs and reads its inputs through texel buffers.
//   y[n][co][oy][ox] = bias[co] + sum_{ci,ky,kx} w[co][ci][ky][kx] * x[n][ci][oy*S + ky - PAD][ox*S + kx - PAD]
// (x = 0 outside the image).
//
// Tile: 4*TCO4 output channels x TR output rows x TW output columns (one row segment per row)
// of one image. Per input channel the invocation reads the (TR-1)*S+KS input rows of its
// window once, (TW-1)*S+KS values each, and every value feeds all the taps and output pixels
// that use it: per input channel TCO*TR*TW*KS*KS multiply-adds for about
// ((TR-1)*S+KS) * ((TW-1)*S+KS) x values (a quarter of the fetches with VEC_X) and
// KS*KS*TCO4 weight texels. Weights are packed [Cin][KS][KS][co] (co padded to whole tiles,
// rgba32f), so a tap's 4 output channels are one texel. Constant-indexed register arrays only
// ([[unroll]] loops), padding by selects, no shared memory: shared/notes/lavapipe.md. On
// lavapipe loop-carried values live in memory and texel fetches are function calls, so each
// accumulator takes one update per input channel (the sum of its taps, kept in registers).
//
// Lanes run along tiles (lane_id() = (n*rblocks + row block)*segs + segment), the
// output-channel block is gl_WorkGroupID.y, so all lanes of a workgroup use the same weights.
#extension GL_GOOGLE_include_directive : require
// With SG (conv2d_reg.glsl) the lanes of a subgroup fetch different weight texels and share
// them, instead of every lane fetching every weight.
#define SG_ID 11
#include "texel.glsl"
#include "conv2d_reg.glsl"
layout(constant_id = 6) const uint TCO4 = 2;       // output channels per invocation / 4
layout(constant_id = 7) const uint TR = 1;         // output rows per invocation
layout(constant_id = 8) const uint TW = 8;         // output columns per invocation
layout(constant_id = 9) const bool VEC_X = false;  // W % 4 == 0 and TW*S % 4 == 0: x rows read as rgba32f texels
layout(constant_id = 10) const bool VEC_Y = false; // Wo % 4 == 0 and TW % 4 == 0: vec4 stores
// STATS: also write the per-channel statistics of y for the batch norm that follows, per group
// of tiles (a subgroup's tiles with SG, else one tile): group k writes, for output channel co,
//   part[(0*T + k)*Cout + co] = count of values, part[(1*T + k)*Cout + co] = their sum,
//   part[(2*T + k)*Cout + co] = their squared deviations from the group's own mean,
// T = the number of groups; batchnorm_finalize.comp MODE 4 combines the groups in order (no
// second and third pass over y).
layout(constant_id = 12) const bool STATS = false;

layout(binding = 0) uniform ACT_TEXELS X;    // [N][Cin][H][W]: 1-wide view, 4-wide when VEC_X
layout(binding = 1) uniform TEXELS Wp;   // rgba32f: [Cin*KS*KS][ldw texels]
layout(binding = 2) uniform TEXELS Bias; // r32f [Cout] (unread unless has_bias)
layout(binding = 3, std430) writeonly buffer Y1 { act_t y1[]; };
layout(binding = 3, std430) writeonly buffer Y4 { act4_t y4[]; };
layout(binding = 4, std430) writeonly buffer Stats { float part[]; }; // STATS only

layout(push_constant) uniform Push { uint N, Cin, H, W, Cout, Ho, Wo, rblocks, segs, ldw, has_bias, groups; } p;

// ---- storage access: the only lines that know how activations are stored ----
float load_x(uint i) { return act_load(X, i); }
vec4 load_x4(uint t) { return act_load4(X, t); } // elements 4t .. 4t+3
vec4 load_w4(uint t) { return texel(Wp, int(t)); }
float load_bias(uint i) { return texel(Bias, int(i)).r; }
void store_y(uint i, float v) { y1[i] = act(v); }
void store_y4(uint t, vec4 v) { y4[t] = act4(v); } // elements 4t .. 4t+3
void store_stat(uint i, float v) { part[i] = v; }
// ----

const uint NXR = (TR - 1u) * STRIDE + KS; // input rows of the window
const uint NX = (TW - 1u) * STRIDE + KS;  // input columns of the window
// The window's columns start at ox0*S - PAD. xs[] holds them from column ox0*S - 4*LEAD4 on
// (whole texels when VEC_X), so column c of the window is xs[SKIP + c].
const uint LEAD4 = (PAD + 3u) / 4u;
const uint SKIP = 4u * LEAD4 - PAD;
const uint NT = (SKIP + NX + 3u) / 4u;    // texels per window row
const uint NV = 4u * NT;

const uint NWT = KK * TCO4;                       // weight texels per input channel
const uint NL = SG > 1u ? (NWT + SG - 1u) / SG : 1u; // ... fetched by each lane with SG
const uint SGA = SG > 1u ? SG : 1u;

void main()
{
    const uint ntiles = p.N * p.rblocks * p.segs;
    // With SG every lane of a subgroup must reach the broadcasts: lanes past the end compute
    // the last tile again and store nothing.
    const bool live = lane_id() < ntiles;
    if (SG <= 1u && !live) return;
    const uint tile = min(lane_id(), ntiles - 1u);
    const uint seg = tile % p.segs, rb = (tile / p.segs) % p.rblocks, n = tile / (p.segs * p.rblocks);
    const uint oy0 = rb * TR, ox0 = seg * TW, cob = gl_WorkGroupID.y;
    const uint HW = p.H * p.W;

    // Columns of xs[] (constant per invocation): whether inside the image, and a safe offset.
    const int cx0 = int(ox0 * STRIDE) - int(4u * LEAD4);
    uint colofs[NV];
    bool colok[NV];
    [[unroll]] for (uint v = 0u; v < NV; v++) {
        const int c = cx0 + int(v);
        colok[v] = uint(c) < p.W;
        colofs[v] = colok[v] ? uint(c) : 0u;
    }
    uint rowofs[NXR];
    bool rowok[NXR];
    [[unroll]] for (uint r = 0u; r < NXR; r++) {
        const int iy = int(oy0 * STRIDE + r) - int(PAD);
        rowok[r] = uint(iy) < p.H;
        rowofs[r] = rowok[r] ? uint(iy) * p.W : 0u;
    }

    vec4 acc[TCO4][TR][TW];
    [[unroll]] for (uint c = 0u; c < TCO4; c++)
        [[unroll]] for (uint rr = 0u; rr < TR; rr++)
            [[unroll]] for (uint j = 0u; j < TW; j++) acc[c][rr][j] = vec4(0.0);

    uint plane = n * p.Cin * HW;
    uint wrow = cob * TCO4;
    const uint wstep = KK * p.ldw;
    for (uint ci = 0u; ci < p.Cin; ci++, plane += HW, wrow += wstep) {
        vec4 wv[KK][TCO4];
        if (SG > 1u) {
            vec4 mine[NL];
            const uint lane = gl_SubgroupInvocationID;
            [[unroll]] for (uint k = 0u; k < NL; k++) {
                const uint i = min(lane + k * SG, NWT - 1u), t = i / TCO4, c = i % TCO4;
                mine[k] = load_w4(wrow + t * p.ldw + c);
            }
            [[unroll]] for (uint t = 0u; t < KK; t++)
                [[unroll]] for (uint c = 0u; c < TCO4; c++)
                    wv[t][c] = subgroupShuffle(mine[(t * TCO4 + c) / SG], (t * TCO4 + c) % SG);
        } else {
            [[unroll]] for (uint t = 0u; t < KK; t++)
                [[unroll]] for (uint c = 0u; c < TCO4; c++) wv[t][c] = load_w4(wrow + t * p.ldw + c);
        }
        float xs[NXR][NV];
        [[unroll]] for (uint r = 0u; r < NXR; r++) {
            if (VEC_X) {
                [[unroll]] for (uint t = 0u; t < NT; t++) {
                    const bool ok = rowok[r] && colok[4u * t];
                    const vec4 v = load_x4((plane + rowofs[r] + colofs[4u * t]) >> 2);
                    [[unroll]] for (uint q = 0u; q < 4u; q++) xs[r][4u * t + q] = ok ? v[q] : 0.0;
                }
            } else {
                [[unroll]] for (uint v = 0u; v < NV; v++) {
                    if (v < SKIP || v >= SKIP + NX) {
                        xs[r][v] = 0.0;
                    } else {
                        const float x = load_x(plane + rowofs[r] + colofs[v]);
                        xs[r][v] = rowok[r] && colok[v] ? x : 0.0;
                    }
                }
            }
        }
        // Every accumulator takes the sum of its KS*KS taps of this input channel in one update:
        // on CPU drivers the loop-carried accumulators live in memory (each update is a load,
        // a masked blend and a store), the sum within the iteration stays in registers.
        [[unroll]] for (uint c = 0u; c < TCO4; c++)
            [[unroll]] for (uint rr = 0u; rr < TR; rr++)
                [[unroll]] for (uint j = 0u; j < TW; j++) {
                    vec4 sum = wv[0][c] * xs[rr * STRIDE][SKIP + j * STRIDE];
                    [[unroll]] for (uint t = 1u; t < KK; t++)
                        sum = fma(wv[t][c], vec4(xs[rr * STRIDE + t / KS][SKIP + j * STRIDE + t % KS]), sum);
                    acc[c][rr][j] += sum;
                }
    }

    [[unroll]] for (uint c = 0u; c < TCO4; c++)
        [[unroll]] for (uint q = 0u; q < 4u; q++) {
            const uint co = (cob * TCO4 + c) * 4u + q;
            const float b = p.has_bias != 0u && co < p.Cout ? load_bias(co) : 0.0;
            [[unroll]] for (uint rr = 0u; rr < TR; rr++) {
                const uint oy = oy0 + rr;
                const bool row_in = live && co < p.Cout && oy < p.Ho;
                const uint base = ((n * p.Cout + co) * p.Ho + oy) * p.Wo + ox0;
                if (VEC_Y) {
                    [[unroll]] for (uint j = 0u; j < TW; j += 4u)
                        if (row_in && ox0 + j < p.Wo)
                            store_y4((base + j) >> 2, vec4(acc[c][rr][j][q], acc[c][rr][j + 1u][q],
                                                           acc[c][rr][j + 2u][q], acc[c][rr][j + 3u][q]) + b);
                } else {
                    [[unroll]] for (uint j = 0u; j < TW; j++)
                        if (row_in && ox0 + j < p.Wo) store_y(base + j, acc[c][rr][j][q] + b);
                }
            }
            if (STATS) {
                // This tile's count, sum and squared deviations from its own mean (exact: the
                // values are still in registers), then the subgroup's tiles combined in lane
                // order (Chan et al.) and written by its first lane.
                float cnt = 0.0, sum = 0.0;
                [[unroll]] for (uint rr = 0u; rr < TR; rr++)
                    [[unroll]] for (uint j = 0u; j < TW; j++) {
                        const bool in_ = live && oy0 + rr < p.Ho && ox0 + j < p.Wo;
                        cnt += in_ ? 1.0 : 0.0;
                        sum += in_ ? acc[c][rr][j][q] + b : 0.0;
                    }
                const float mean = cnt > 0.0 ? sum / cnt : 0.0;
                float m2 = 0.0;
                [[unroll]] for (uint rr = 0u; rr < TR; rr++)
                    [[unroll]] for (uint j = 0u; j < TW; j++) {
                        const float d = acc[c][rr][j][q] + b - mean;
                        m2 += live && oy0 + rr < p.Ho && ox0 + j < p.Wo ? d * d : 0.0;
                    }
                uint k = lane_id();
                if (SG > 1u) {
                    float gc = 0.0, gs = 0.0;
                    float lc[SGA], ls[SGA], lm[SGA];
                    [[unroll]] for (uint l = 0u; l < SG; l++) {
                        lc[l] = subgroupShuffle(cnt, l);
                        ls[l] = subgroupShuffle(sum, l);
                        lm[l] = subgroupShuffle(m2, l);
                        gc += lc[l];
                        gs += ls[l];
                    }
                    const float gmean = gc > 0.0 ? gs / gc : 0.0;
                    float gm2 = 0.0;
                    [[unroll]] for (uint l = 0u; l < SG; l++) {
                        const float d = lc[l] > 0.0 ? ls[l] / lc[l] - gmean : 0.0;
                        gm2 += lm[l] + lc[l] * d * d;
                    }
                    cnt = gc, sum = gs, m2 = gm2;
                    k = gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID;
                }
                if ((SG <= 1u || gl_SubgroupInvocationID == 0u) && co < p.Cout) {
                    store_stat(k * p.Cout + co, cnt);
                    store_stat((p.groups + k) * p.Cout + co, sum);
                    store_stat((2u * p.groups + k) * p.Cout + co, m2);
                }
            }
        }
}
