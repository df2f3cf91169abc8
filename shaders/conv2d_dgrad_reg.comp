#version 450
// conv2d backward to the input, NCHW, as an implicit GEMM for CPU drivers (lavapipe): the
// transposed convolution of dy, nothing unfolded, register tiles, texel reads.
//   dx[n][ci][iy][ix] = sum_{co,ky,kx} w[co][ci][ky][kx] * dy[n][co][oy][ox]
// over the taps with iy + PAD - ky = oy*S and ix + PAD - kx = ox*S (whole, inside dy).
//
// Tile: 4*TCI4 input channels x TR rows x TW columns of dx of one image, TR and TW multiples
// of S, so the parity of every (pixel, tap) pair is known when the shader is specialised and
// the taps that miss dy cost nothing. Per output channel the invocation reads the rows of
// dy its window needs once and every value feeds every (tap, pixel) that uses it. Weights
// are packed [Cout][KS][KS][ci] with the taps flipped (conv2d_wpack.comp mode 1), so a tap's
// 4 input channels are one texel. Constant-indexed register arrays, selects for padding, no
// shared memory (shared/notes/lavapipe.md).
//
// Lanes run along tiles (lane_id() = (n*rblocks + row block)*segs + segment),
// the input-channel block is gl_WorkGroupID.y.
#extension GL_GOOGLE_include_directive : require
// With SG (conv2d_reg.glsl) the lanes of a subgroup fetch different weight texels and share
// them, instead of every lane fetching every (identical) weight.
#define SG_ID 11
#include "texel.glsl"
#include "conv2d_reg.glsl"
layout(constant_id = 6) const uint TCI4 = 2;        // input channels per invocation / 4
layout(constant_id = 7) const uint TR = 1;          // dx rows per invocation (a multiple of S)
layout(constant_id = 8) const uint TW = 8;          // dx columns per invocation (a multiple of S)
layout(constant_id = 9) const bool VEC_DY = false;  // Wo % 4 == 0 and (TW/S) % 4 == 0: dy rows as rgba32f texels
layout(constant_id = 10) const bool VEC_DX = false; // W % 4 == 0 and TW % 4 == 0: vec4 stores

layout(binding = 0) uniform ACT_TEXELS DY;   // [N][Cout][Ho][Wo]: 1-wide view, 4-wide when VEC_DY
layout(binding = 1) uniform TEXELS Wp;   // rgba32f: [Cout*KS*KS][ldw texels]
layout(binding = 2, std430) writeonly buffer DX1 { act_t dx1[]; };
layout(binding = 2, std430) writeonly buffer DX4 { act4_t dx4[]; };

layout(push_constant) uniform Push { uint N, Cin, H, W, Cout, Ho, Wo, rblocks, segs, ldw; } p;

// ---- storage access: the only lines that know how activations are stored ----
float load_dy(uint i) { return act_load(DY, i); }
vec4 load_dy4(uint t) { return act_load4(DY, t); } // elements 4t .. 4t+3
vec4 load_w4(uint t) { return texel(Wp, int(t)); }
void store_dx(uint i, float v) { dx1[i] = act(v); }
void store_dx4(uint t, vec4 v) { dx4[t] = act4(v); } // elements 4t .. 4t+3
// ----

// dy rows/columns of the window: from (first dx row)/S - OFFN on.
const uint OFFN = (KS - 1u - PAD + STRIDE - 1u) / STRIDE;
const uint NYR = (TR - 1u + PAD) / STRIDE + OFFN + 1u;
const uint NYC = (TW - 1u + PAD) / STRIDE + OFFN + 1u;
const uint LEAD4 = (OFFN + 3u) / 4u; // dy columns read before the window start (VEC_DY: whole texels)
const uint SKIP = 4u * LEAD4 - OFFN;
const uint NT = (SKIP + NYC + 3u) / 4u;
const uint NV = 4u * NT;
// Tap (d, k) of dx offset d (row or column within the tile) hits dy when (d + PAD - k) % S == 0,
// at window index (d + PAD - k)/S + OFFN (kept non-negative with + S*KS).
bool hits(uint d, uint k) { return (d + PAD + STRIDE * KS - k) % STRIDE == 0u; }
uint at(uint d, uint k) { return (d + PAD + STRIDE * KS - k) / STRIDE - KS + OFFN; }

const uint NWT = KK * TCI4;                         // weight texels per output channel
const uint NL = SG > 1u ? (NWT + SG - 1u) / SG : 1u; // ... fetched by each lane with SG

void main()
{
    const uint ntiles = p.N * p.rblocks * p.segs;
    // With SG every lane of a subgroup must reach the shuffles: lanes past the end compute
    // the last tile again and store nothing.
    const bool live = lane_id() < ntiles;
    if (SG <= 1u && !live) return;
    const uint tile = min(lane_id(), ntiles - 1u);
    const uint seg = tile % p.segs, rb = (tile / p.segs) % p.rblocks, n = tile / (p.segs * p.rblocks);
    const uint iy0 = rb * TR, ix0 = seg * TW, cib = gl_WorkGroupID.y;
    const uint P = p.Ho * p.Wo;

    const int cx0 = int(ix0 / STRIDE) - int(4u * LEAD4); // dy column of ys[0]
    uint colofs[NV];
    bool colok[NV];
    [[unroll]] for (uint v = 0u; v < NV; v++) {
        const int c = cx0 + int(v);
        colok[v] = uint(c) < p.Wo;
        colofs[v] = colok[v] ? uint(c) : 0u;
    }
    uint rowofs[NYR];
    bool rowok[NYR];
    [[unroll]] for (uint r = 0u; r < NYR; r++) {
        const int oy = int(iy0 / STRIDE + r) - int(OFFN);
        rowok[r] = uint(oy) < p.Ho;
        rowofs[r] = rowok[r] ? uint(oy) * p.Wo : 0u;
    }

    vec4 acc[TCI4][TR][TW];
    [[unroll]] for (uint c = 0u; c < TCI4; c++)
        [[unroll]] for (uint rr = 0u; rr < TR; rr++)
            [[unroll]] for (uint j = 0u; j < TW; j++) acc[c][rr][j] = vec4(0.0);

    uint plane = n * p.Cout * P;
    uint wrow = cib * TCI4;
    const uint wstep = KK * p.ldw;
    for (uint co = 0u; co < p.Cout; co++, plane += P, wrow += wstep) {
        vec4 wv[KK][TCI4];
        if (SG > 1u) {
            vec4 mine[NL];
            const uint lane = gl_SubgroupInvocationID;
            [[unroll]] for (uint k = 0u; k < NL; k++) {
                const uint i = min(lane + k * SG, NWT - 1u), t = i / TCI4, c = i % TCI4;
                mine[k] = load_w4(wrow + (KK - 1u - t) * p.ldw + c);
            }
            [[unroll]] for (uint t = 0u; t < KK; t++)
                [[unroll]] for (uint c = 0u; c < TCI4; c++)
                    wv[t][c] = subgroupShuffle(mine[(t * TCI4 + c) / SG], (t * TCI4 + c) % SG);
        } else {
            [[unroll]] for (uint t = 0u; t < KK; t++)
                [[unroll]] for (uint c = 0u; c < TCI4; c++) wv[t][c] = load_w4(wrow + (KK - 1u - t) * p.ldw + c);
        }
        float ys[NYR][NV];
        [[unroll]] for (uint r = 0u; r < NYR; r++) {
            if (VEC_DY) {
                [[unroll]] for (uint t = 0u; t < NT; t++) {
                    const bool ok = rowok[r] && colok[4u * t];
                    const vec4 v = load_dy4((plane + rowofs[r] + colofs[4u * t]) >> 2);
                    [[unroll]] for (uint q = 0u; q < 4u; q++) ys[r][4u * t + q] = ok ? v[q] : 0.0;
                }
            } else {
                [[unroll]] for (uint v = 0u; v < NV; v++) {
                    if (v < SKIP || v >= SKIP + NYC) {
                        ys[r][v] = 0.0;
                    } else {
                        const float g = load_dy(plane + rowofs[r] + colofs[v]);
                        ys[r][v] = rowok[r] && colok[v] ? g : 0.0;
                    }
                }
            }
        }
        // Every accumulator takes the sum of its taps of this output channel in one update (as
        // in conv2d_fwd_reg.comp: loop-carried accumulators live in memory on CPU drivers).
        [[unroll]] for (uint c = 0u; c < TCI4; c++)
            [[unroll]] for (uint rr = 0u; rr < TR; rr++)
                [[unroll]] for (uint j = 0u; j < TW; j++) {
                    vec4 sum = vec4(0.0);
                    [[unroll]] for (uint ky = 0u; ky < KS; ky++)
                        [[unroll]] for (uint kx = 0u; kx < KS; kx++)
                            if (hits(rr, ky) && hits(j, kx))
                                sum = fma(wv[ky * KS + kx][c], vec4(ys[at(rr, ky)][SKIP + at(j, kx)]), sum);
                    acc[c][rr][j] += sum;
                }
    }

    [[unroll]] for (uint c = 0u; c < TCI4; c++)
        [[unroll]] for (uint q = 0u; q < 4u; q++) {
            const uint ci = (cib * TCI4 + c) * 4u + q;
            [[unroll]] for (uint rr = 0u; rr < TR; rr++) {
                const uint iy = iy0 + rr;
                const bool row_in = live && ci < p.Cin && iy < p.H;
                const uint base = ((n * p.Cin + ci) * p.H + iy) * p.W + ix0;
                if (VEC_DX) {
                    [[unroll]] for (uint j = 0u; j < TW; j += 4u)
                        if (row_in && ix0 + j < p.W)
                            store_dx4((base + j) >> 2, vec4(acc[c][rr][j][q], acc[c][rr][j + 1u][q],
                                                            acc[c][rr][j + 2u][q], acc[c][rr][j + 3u][q]));
                } else {
                    [[unroll]] for (uint j = 0u; j < TW; j++)
                        if (row_in && ix0 + j < p.W) store_dx(base + j, acc[c][rr][j][q]);
                }
            }
        }
}
