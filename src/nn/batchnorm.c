/* Batch normalisation over (N, H, W) per channel, and its 1-D form (HW = 1) for the
 * projection head, optionally with a ReLU and a following pool fused in (bn->pool). Training
 * forward: sum -> mean -> sum of squared deviations -> variance and running statistics ->
 * normalise (and pool); every reduction is chunked partial sums added in a fixed order by a
 * second dispatch. The backward recomputes the ReLU mask and the max-pool's choices from x.
 * Activations may be 16-bit (the shaders' precision builds); statistics, work, parameters and
 * the average pool's features (and their gradient) are float32. */
#include <string.h>

#include "layers_internal.h"

typedef struct {
    uint32_t N, C, HW, len, nchunks;
} ReducePush;
VKC_PUSH_CONTRACT(ReducePush, BATCHNORM_REDUCE);

typedef struct {
    uint32_t C, nchunks, M;
    float eps, momentum;
} FinalizePush;
VKC_PUSH_CONTRACT(FinalizePush, BATCHNORM_FINALIZE);

typedef struct {
    uint32_t N, C, HW, M; /* M: count of the statistics */
} ApplyPush;
VKC_PUSH_CONTRACT(ApplyPush, BATCHNORM);

typedef struct {
    uint32_t N, C, H, W, M, len, nchunks;
} PoolPush;
VKC_PUSH_CONTRACT(PoolPush, BATCHNORM_POOL);

/* Planes of a multiple of 4 values are read 4 at a time (the shaders' VEC4 variants). */
static bool vec4_planes(const VkcBatchNorm *bn) { return bn->HW % 4 == 0; }
/* The fused max-pool reads two windows per step when rows are whole texels. */
static bool vec_windows(const VkcBatchNorm *bn) { return bn->W % 4 == 0; }

/* Chunks per channel: C * nchunks invocations should fill the device. `count` values per
 * channel, chunk lengths a multiple of `mult`. */
static void split_count(const VkcLayers *L, const VkcBatchNorm *bn, uint32_t count, uint32_t mult, uint32_t *len,
                        uint32_t *nchunks)
{
    uint32_t n = vkc_div_up(L->reduce_lanes, bn->C);
    if (n > count) n = count;
    *len = vkc_div_up(count, n);
    if (*len < 16 && count >= 16) *len = 16; /* chunks shorter than this cost more in the second pass */
    *len = vkc_div_up(*len, mult) * mult;
    *nchunks = vkc_div_up(count, *len);
}

/* Chunks of the N*HW values of a channel (statistics, and the backward without max-pool). */
static void split(const VkcLayers *L, const VkcBatchNorm *bn, uint32_t *len, uint32_t *nchunks)
{
    split_count(L, bn, bn->N * bn->HW, vec4_planes(bn) ? 4 : 1, len, nchunks); /* whole texels per chunk */
}

/* Chunks of the N*(H/2)*(W/2) windows of a channel (the backward with the max-pool). */
static void split_windows(const VkcLayers *L, const VkcBatchNorm *bn, uint32_t *len, uint32_t *nchunks)
{
    split_count(L, bn, bn->N * (bn->H / 2) * (bn->W / 2), vec_windows(bn) ? 2 : 1, len, nchunks);
}

VkDeviceSize vkc_batchnorm_work_bytes(const VkcLayers *L, const VkcBatchNorm *bn)
{
    uint32_t len, nchunks, wchunks = 0;
    split(L, bn, &len, &nchunks);
    if (bn->pool == VKC_BN_POOL_MAX2X2 && bn->H >= 2 && bn->W >= 2) split_windows(L, bn, &len, &wchunks);
    if (wchunks > nchunks) nchunks = wchunks;
    return (VkDeviceSize)2 * nchunks * bn->C * 4; /* MODE 2 writes two sums per chunk */
}

uint64_t vkc_batchnorm_out_floats(const VkcBatchNorm *bn)
{
    uint64_t planes = (uint64_t)bn->N * bn->C;
    return bn->pool == VKC_BN_POOL_MAX2X2 ? planes * (bn->H / 2) * (bn->W / 2)
         : bn->pool == VKC_BN_POOL_AVG    ? planes
                                          : planes * bn->HW;
}

/* The dtype of the output (and of its gradient): x's, but float32 for the average pool's features. */
static int out_dtype(const char *op, const char *name, const VkcBatchNorm *bn, VkcTensor x, VkcTensor y)
{
    VkcDtype want = bn->pool == VKC_BN_POOL_AVG ? VKC_F32 : x.dtype;
    if (y.dtype != want)
        return vkc_fail("%s: %s is %s where %s was expected", op, name, vkc_dtype_name(y.dtype), vkc_dtype_name(want));
    return VKC_OK;
}

static int check(const VkcLayers *L, const VkcBatchNorm *bn, const char *op)
{
    if (!bn->N || !bn->C || !bn->HW) return vkc_fail("%s: empty shape N=%u C=%u HW=%u", op, bn->N, bn->C, bn->HW);
    if (bn->N > L->ctx->props.limits.maxComputeWorkGroupCount[1])
        return vkc_fail("%s: batch %u exceeds the device's dispatch limit", op, bn->N);
    if (bn->pool == VKC_BN_POOL_MAX2X2 && (bn->H < 2 || bn->W < 2 || bn->H * bn->W != bn->HW))
        return vkc_fail("%s: a 2x2 max-pool needs planes of at least 2x2 with H*W = HW (H=%u W=%u HW=%u)", op, bn->H,
                        bn->W, bn->HW);
    if (vkc_layers_need(op, "gamma", bn->gamma, bn->C) || vkc_layers_need(op, "beta", bn->beta, bn->C) ||
        vkc_layers_need(op, "running_mean", bn->running_mean, bn->C) ||
        vkc_layers_need(op, "running_var", bn->running_var, bn->C) ||
        vkc_layers_need(op, "stats", bn->stats, 2ull * bn->C) ||
        vkc_layers_need(op, "work", bn->work, vkc_batchnorm_work_bytes(L, bn) / 4))
        return VKC_ERR;
    return VKC_OK;
}

/* Synchronised batch norm: make the partial sums just written the element-wise sum over ranks. */
static int sync_sums(const VkcBatchNorm *bn, VkcCmd *cmd, uint32_t floats)
{
    if (!bn->sync) return VKC_OK;
    return bn->sync->record(bn->sync->user, cmd, vkc_tensor_slice(bn->work, 0, (VkDeviceSize)floats * 4), floats);
}

/* MODE 0/1: statistics of x; MODE 2: backward sums of dy (per plane with DY_PLANE, the
 * average pool's gradient). */
static int reduce(VkcLayers *L, VkcCmd *cmd, const VkcBatchNorm *bn, uint32_t mode, VkcTensor x, VkcTensor dy)
{
    ReducePush push = {bn->N, bn->C, bn->HW, 0, 0};
    split(L, bn, &push.len, &push.nchunks);
    bool vec4 = vec4_planes(bn), dy_plane = mode == 2 && bn->pool == VKC_BN_POOL_AVG;
    uint32_t spec[7] = {L->wg_elem, 1, 1, mode, mode == 2 && bn->relu, vec4, dy_plane};
    const VkcKernel *k;
    VkcShader shader;
    char kinds[8] = "sssssbs";
    if (vec4) kinds[0] = kinds[1] = 't';
    if (vkc_layers_variant(L, VKC_SHADER_BATCHNORM_REDUCE, x.dtype, &shader) ||
        vkc_layers_kernel(L, shader, kinds, sizeof push, spec, 7, &k))
        return VKC_ERR;
    /* dy in x's dtype at binding 1, or the average pool's float32 gradient at binding 6 (the
     * other binding gets a tensor of its type that is not read) */
    VkcTensor t[7] = {x, dy_plane ? x : dy, bn->stats, bn->gamma, bn->beta, bn->work, dy_plane ? dy : bn->stats};
    if (vkc_layers_dispatch_1d(L, cmd, k, t, &push, vkc_div_up(push.nchunks * bn->C, L->wg_elem))) return VKC_ERR;
    return sync_sums(bn, cmd, (mode == 2 ? 2 : 1) * push.nchunks * bn->C);
}

/* Where the finalize pass reads its partial sums, and how many chunks (or groups) there are. */
typedef struct {
    VkcTensor part;
    uint32_t nchunks;
} BnFinal;

static int finalize_from(VkcLayers *L, VkcCmd *cmd, const VkcBatchNorm *bn, uint32_t mode, const BnFinal *f,
                         VkcTensor dgamma, VkcTensor dbeta)
{
    uint32_t ranks = bn->sync ? bn->sync->ranks : 1;
    FinalizePush push = {bn->C, f->nchunks, bn->N * bn->HW * ranks, bn->eps, bn->momentum};
    uint32_t spec[4] = {L->wg_elem, 1, 1, mode};
    const VkcKernel *k;
    if (vkc_layers_kernel(L, VKC_SHADER_BATCHNORM_FINALIZE, "sbbbbb", sizeof push, spec, 4, &k)) return VKC_ERR;
    VkcTensor t[6] = {f->part, bn->stats, bn->running_mean, bn->running_var, dgamma, dbeta};
    return vkc_layers_dispatch_1d(L, cmd, k, t, &push, vkc_div_up(bn->C, L->wg_elem));
}

static int finalize(VkcLayers *L, VkcCmd *cmd, const VkcBatchNorm *bn, uint32_t mode, uint32_t nchunks,
                    VkcTensor dgamma, VkcTensor dbeta)
{
    BnFinal f = {bn->work, nchunks};
    return finalize_from(L, cmd, bn, mode, &f, dgamma, dbeta);
}

static uint32_t stat_chunks(const VkcLayers *L, const VkcBatchNorm *bn)
{
    uint32_t len, nchunks;
    split(L, bn, &len, &nchunks);
    return nchunks;
}

/* batchnorm.comp: MODE 0 normalise, MODE 1 backward; t = {x, dy, gamma, beta, dbeta, dgamma, out} */
static int apply(VkcLayers *L, VkcCmd *cmd, const VkcBatchNorm *bn, uint32_t mode, const VkcTensor t[7])
{
    ApplyPush push = {bn->N, bn->C, bn->HW, bn->N * bn->HW * (bn->sync ? bn->sync->ranks : 1)};
    bool vec4 = vec4_planes(bn), dy_plane = mode == 1 && bn->pool == VKC_BN_POOL_AVG;
    uint32_t spec[7] = {L->wg_elem, 1, 1, mode, bn->relu, vec4, dy_plane};
    const VkcKernel *k;
    VkcShader shader;
    char kinds[10] = "sssssssbs";
    if (vec4) kinds[0] = kinds[1] = 't';
    if (vkc_layers_variant(L, VKC_SHADER_BATCHNORM, t[0].dtype, &shader) ||
        vkc_layers_kernel(L, shader, kinds, sizeof push, spec, 7, &k))
        return VKC_ERR;
    /* as reduce(): dy at binding 1, or the average pool's float32 gradient at binding 8 */
    VkcTensor tt[9] = {t[0], dy_plane ? t[0] : t[1], bn->stats, t[2], t[3], t[4], t[5], t[6],
                       dy_plane ? t[1] : bn->stats};
    /* segments of 64 values (batchnorm.comp), or 4 channels of the 1-D form */
    uint32_t gx = vkc_div_up(bn->HW == 1 ? vkc_div_up(bn->C, 4) : bn->C * vkc_div_up(bn->HW, 64), L->wg_elem);
    return vkc_cmd_dispatch(cmd, k, tt, 0, &push, gx, bn->N, 1);
}

/* batchnorm_pool.comp: MODE 0 normalise + pool, MODE 1 backward (max-pool), MODE 2 backward
 * sums (max-pool); t = {x, dy, beta, dbeta, dgamma, out} */
static int pool_pass(VkcLayers *L, VkcCmd *cmd, const VkcBatchNorm *bn, uint32_t mode, const VkcTensor t[6])
{
    bool max = bn->pool == VKC_BN_POOL_MAX2X2;
    bool vec = max ? vec_windows(bn) : vec4_planes(bn);
    PoolPush push = {bn->N, bn->C, bn->H, bn->W, bn->N * bn->HW * (bn->sync ? bn->sync->ranks : 1), 0, 0};
    if (!max) push.H = bn->HW, push.W = 1; /* the average pool only needs HW */
    uint64_t items;
    if (mode == 2) {
        split_windows(L, bn, &push.len, &push.nchunks);
        items = (uint64_t)push.nchunks * bn->C;
    } else if (mode == 1) {
        items = (uint64_t)bn->N * bn->C * ((bn->H + 1) / 2); /* rows of windows */
    } else {
        items = max ? (uint64_t)bn->N * bn->C * (bn->H / 2) : (uint64_t)bn->N * bn->C;
    }
    uint32_t spec[7] = {L->wg_elem, 1, 1, mode, max ? 1 : 2, bn->relu, vec};
    const VkcKernel *k;
    VkcShader shader;
    if (vkc_layers_variant(L, VKC_SHADER_BATCHNORM_POOL, t[0].dtype, &shader) ||
        vkc_layers_kernel(L, shader, vec ? "tssssssb" : "sssssssb", sizeof push, spec, 7, &k))
        return VKC_ERR;
    VkcTensor tt[8] = {t[0], t[1], bn->stats, bn->gamma, t[2], t[3], t[4], t[5]};
    if (vkc_layers_dispatch_1d(L, cmd, k, tt, &push, (items + L->wg_elem - 1) / L->wg_elem)) return VKC_ERR;
    return mode == 2 ? sync_sums(bn, cmd, 2 * push.nchunks * bn->C) : VKC_OK;
}

int vkc_batchnorm_forward(VkcLayers *L, VkcCmd *cmd, const VkcBatchNorm *bn, bool training, VkcTensor x,
                          VkcTensor y)
{
    const char *op = "batchnorm forward";
    uint64_t n = (uint64_t)bn->N * bn->C * bn->HW;
    if (check(L, bn, op) || vkc_layers_need(op, "x", x, n) ||
        vkc_layers_need(op, "y", y, vkc_batchnorm_out_floats(bn)) || out_dtype(op, "y", bn, x, y))
        return VKC_ERR;
    uint32_t nchunks = stat_chunks(L, bn);
    if (training && !bn->sync && bn->conv_stats.buffer) {
        /* The statistics the convolution wrote for groups of x: no pass over x. */
        if (vkc_layers_need(op, "conv_stats", bn->conv_stats, 3ull * bn->conv_groups * bn->C)) return VKC_ERR;
        BnFinal f = {bn->conv_stats, bn->conv_groups};
        if (finalize_from(L, cmd, bn, 4, &f, bn->stats, bn->stats)) return VKC_ERR;
    } else if (training) {
        if (reduce(L, cmd, bn, 0, x, x) || finalize(L, cmd, bn, 0, nchunks, bn->stats, bn->stats) ||
            reduce(L, cmd, bn, 1, x, x) || finalize(L, cmd, bn, 1, nchunks, bn->stats, bn->stats))
            return VKC_ERR;
    } else if (finalize(L, cmd, bn, 2, nchunks, bn->stats, bn->stats)) {
        return VKC_ERR;
    }
    if (bn->pool != VKC_BN_POOL_NONE) {
        VkcTensor t[6] = {x, x, bn->beta, bn->beta, bn->beta, y};
        return pool_pass(L, cmd, bn, 0, t);
    }
    VkcTensor t[7] = {x, x, bn->gamma, bn->beta, bn->beta, bn->gamma, y};
    return apply(L, cmd, bn, 0, t);
}

int vkc_batchnorm_backward(VkcLayers *L, VkcCmd *cmd, const VkcBatchNorm *bn, VkcTensor x, VkcTensor dy,
                           VkcTensor dx, VkcTensor dgamma, VkcTensor dbeta)
{
    const char *op = "batchnorm backward";
    uint64_t n = (uint64_t)bn->N * bn->C * bn->HW;
    if (check(L, bn, op) || vkc_layers_need(op, "x", x, n) ||
        vkc_layers_need(op, "dy", dy, vkc_batchnorm_out_floats(bn)) || vkc_layers_need(op, "dx", dx, n) ||
        vkc_layers_need(op, "dgamma", dgamma, bn->C) || vkc_layers_need(op, "dbeta", dbeta, bn->C) ||
        out_dtype(op, "dy", bn, x, dy) || vkc_layers_same_dtype(op, x, dx))
        return VKC_ERR;
    if (bn->pool == VKC_BN_POOL_MAX2X2) {
        uint32_t len, wchunks;
        split_windows(L, bn, &len, &wchunks);
        VkcTensor sums[6] = {x, dy, bn->beta, bn->beta, bn->beta, bn->work};
        VkcTensor t[6] = {x, dy, bn->beta, dbeta, dgamma, dx};
        if (pool_pass(L, cmd, bn, 2, sums) || finalize(L, cmd, bn, 3, wchunks, dgamma, dbeta)) return VKC_ERR;
        return pool_pass(L, cmd, bn, 1, t);
    }
    if (reduce(L, cmd, bn, 2, x, dy) || finalize(L, cmd, bn, 3, stat_chunks(L, bn), dgamma, dbeta)) return VKC_ERR;
    VkcTensor t[7] = {x, dy, bn->gamma, bn->beta, dbeta, dgamma, dx};
    return apply(L, cmd, bn, 1, t);
}
