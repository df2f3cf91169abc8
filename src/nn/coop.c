/* Tiles of the cooperative-matrix kernels per device class. The matrix shape is the device's
 * (ctx->coop.shape, from its list); a tile says how many matrices each subgroup and how many
 * subgroups each workgroup take, so the same tables serve 8x8x8 (lavapipe), 16x16x16 (NVIDIA,
 * RADV, NVK), 16x8x16 and the Intel shapes. */
#include "coop.h"

uint32_t vkc_coop_bm(const VkcContext *ctx, VkcDtype d, VkcCoopTile t) { return t.wm * t.tm * ctx->coop.shape[d].M; }
uint32_t vkc_coop_bn(const VkcContext *ctx, VkcDtype d, VkcCoopTile t) { return t.wn * t.tn * ctx->coop.shape[d].N; }
uint32_t vkc_coop_wg(const VkcContext *ctx, VkcCoopTile t) { return t.wm * t.wn * ctx->subgroup_size; }

bool vkc_coop_fits(const VkcContext *ctx, VkcDtype d, VkcCoopTile t, VkcCoopUse use)
{
    const VkPhysicalDeviceLimits *l = &ctx->props.limits;
    if (!ctx->coop.ok[d] || !t.wm || !t.wn || !t.tm || !t.tn || !t.bk || t.tm * t.tn > 32) return false;
    uint32_t bm = vkc_coop_bm(ctx, d, t), bn = vkc_coop_bn(ctx, d, t), bk = t.bk, wg = vkc_coop_wg(ctx, t);
    /* stages of 16-bit A and B, twice, and the float32 block */
    uint64_t shared = 2ull * 2 * bk * (bm + bn) + 4ull * bm * bn;
    if (bk % ctx->coop.shape[d].K || bk > 128 || shared > l->maxComputeSharedMemorySize ||
        wg > l->maxComputeWorkGroupInvocations || wg > l->maxComputeWorkGroupSize[0])
        return false;
    /* the hand-over into 4 x 4*TN4 outputs per invocation (coopmat_gemm.glsl) */
    if ((bm * bn) % (16 * wg) || bn % (4 * (bm * bn / (16 * wg))) || bm % 4) return false;
    switch (use) {
    case VKC_COOP_GEMM: return (bm * bk) % wg == 0 && (bk * bn) % wg == 0;
    case VKC_COOP_CONV_FORWARD:
    case VKC_COOP_CONV_BACKWARD_INPUT: return wg % bn == 0 && (bk * bn) % wg == 0; /* whole B rows per pass */
    case VKC_COOP_CONV_BACKWARD_WEIGHT: return wg % bk == 0 && (bk * bm) % wg == 0 && (bk * bn) % wg == 0;
    }
    return false;
}

int vkc_coop_tiles(const VkcContext *ctx, VkcDtype d, VkcCoopUse use, VkcCoopTile *out, int max)
{
    /* {wm, wn, tm, tn, stages of K per bk}. GPUs: 2x2 subgroups of 2x2 matrices (a 64x64 block
     * at 16x16, 128 invocations on NVIDIA) first, as ggml's medium tile; larger and smaller
     * blocks for vkclr tune. CPU drivers (lavapipe emulates the matrices with SIMD lanes): a
     * 16x16 block of 8x8 matrices over one or two subgroups, whatever the subgroup size. */
    static const uint32_t gpu[][5] = {{2, 2, 2, 2, 2}, {2, 2, 2, 4, 1}, {2, 2, 4, 2, 1}, {2, 2, 1, 1, 2},
                                      {1, 1, 2, 2, 2}, {4, 2, 2, 2, 1}, {2, 4, 1, 2, 2}, {1, 2, 2, 2, 2}};
    static const uint32_t cpu[][5] = {{2, 1, 1, 2, 2}, {1, 1, 2, 2, 2}, {4, 1, 1, 2, 2}, {1, 2, 2, 1, 2},
                                      {2, 1, 2, 2, 2}, {1, 1, 2, 1, 2}, {2, 2, 1, 1, 2}, {1, 1, 4, 2, 2},
                                      {1, 1, 1, 2, 2}, {8, 1, 1, 2, 2}, {1, 1, 2, 4, 2}};
    const uint32_t(*list)[5] = ctx->is_cpu ? cpu : gpu;
    int n = ctx->is_cpu ? (int)(sizeof cpu / sizeof cpu[0]) : (int)(sizeof gpu / sizeof gpu[0]), count = 0;
    for (int i = 0; i < n && count < max; i++) {
        VkcCoopTile t = {list[i][0], list[i][1], list[i][2], list[i][3], list[i][4] * ctx->coop.shape[d].K};
        if (vkc_coop_fits(ctx, d, t, use)) out[count++] = t;
    }
    return count;
}

void vkc_coop_spec(const VkcContext *ctx, VkcDtype d, VkcCoopTile t, uint32_t spec[14])
{
    VkcCoopShape s = ctx->coop.shape[d];
    spec[0] = vkc_coop_wg(ctx, t), spec[1] = 1, spec[2] = 1;
    spec[6] = s.M, spec[7] = s.N, spec[8] = s.K;
    spec[9] = t.wm, spec[10] = t.wn, spec[11] = t.tm, spec[12] = t.tn, spec[13] = t.bk;
}
