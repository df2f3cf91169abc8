/* Batch normalisation over (N, H, W) per channel, and its 1-D form (HW = 1) for the
 * projection head. Training forward: sum -> mean -> sum of squared deviations -> variance and
 * running statistics -> normalise; every reduction is chunked partial sums added in a fixed
 * order by a second dispatch. Activations may be 16-bit; statistics, work and parameters are
 * float32. */
#include <string.h>

#include "layers_internal.h"

typedef struct {
    uint32_t N, C, HW, len, nchunks;
} ReducePush;

typedef struct {
    uint32_t C, nchunks, M;
    float eps, momentum;
} FinalizePush;

typedef struct {
    uint32_t N, C, HW, M; /* M: count of the statistics */
} ApplyPush;

/* Planes of a multiple of 4 values are read 4 at a time (the shaders' VEC4 variants). */
static bool vec4_planes(const VkcBatchNorm *bn) { return bn->HW % 4 == 0; }

/* Chunks per channel: C * nchunks invocations should fill the device. */
static void split(const VkcLayers *L, const VkcBatchNorm *bn, uint32_t *len, uint32_t *nchunks)
{
    uint32_t M = bn->N * bn->HW;
    uint32_t n = vkc_div_up(L->reduce_lanes, bn->C);
    if (n > M) n = M;
    *len = vkc_div_up(M, n);
    if (*len < 16 && M >= 16) *len = 16; /* chunks shorter than this cost more in the second pass */
    if (vec4_planes(bn)) *len = (*len + 3) / 4 * 4; /* whole texels per chunk */
    *nchunks = vkc_div_up(M, *len);
}

VkDeviceSize vkc_batchnorm_work_bytes(const VkcLayers *L, const VkcBatchNorm *bn)
{
    uint32_t len, nchunks;
    split(L, bn, &len, &nchunks);
    return (VkDeviceSize)2 * nchunks * bn->C * 4; /* MODE 2 writes two sums per chunk */
}

static int check(const VkcLayers *L, const VkcBatchNorm *bn, const char *op)
{
    if (!bn->N || !bn->C || !bn->HW) return vkc_fail("%s: empty shape N=%u C=%u HW=%u", op, bn->N, bn->C, bn->HW);
    if (bn->N > L->ctx->props.limits.maxComputeWorkGroupCount[1])
        return vkc_fail("%s: batch %u exceeds the device's dispatch limit", op, bn->N);
    if (vkc_layers_need(op, "gamma", bn->gamma, bn->C) || vkc_layers_need(op, "beta", bn->beta, bn->C) ||
        vkc_layers_need(op, "running_mean", bn->running_mean, bn->C) ||
        vkc_layers_need(op, "running_var", bn->running_var, bn->C) ||
        vkc_layers_need(op, "stats", bn->stats, 2ull * bn->C) ||
        vkc_layers_need(op, "work", bn->work, vkc_batchnorm_work_bytes(L, bn) / 4))
        return VKC_ERR;
    return VKC_OK;
}

static int reduce(VkcLayers *L, VkcCmd *cmd, const VkcBatchNorm *bn, uint32_t mode, VkcTensor x, VkcTensor dy,
                  VkcTensor y)
{
    ReducePush push = {bn->N, bn->C, bn->HW, 0, 0};
    split(L, bn, &push.len, &push.nchunks);
    bool vec4 = vec4_planes(bn);
    uint32_t spec[6] = {L->wg_elem, 1, 1, mode, bn->relu, vec4};
    const VkcKernel *k;
    VkcShader shader;
    if (vkc_layers_variant(L, VKC_SHADER_BATCHNORM_REDUCE, x.dtype, &shader) ||
        vkc_layers_kernel(L, shader, vec4 ? "tttsb" : "ssssb", sizeof push, spec, 6, &k))
        return VKC_ERR;
    VkcTensor t[5] = {x, dy, y, bn->stats, bn->work};
    if (vkc_layers_dispatch_1d(L, cmd, k, t, &push, vkc_div_up(push.nchunks * bn->C, L->wg_elem))) return VKC_ERR;
    if (!bn->sync) return VKC_OK;
    /* Synchronised: the partial sums of every rank, added element-wise, before finalize. */
    uint32_t floats = (mode == 2 ? 2 : 1) * push.nchunks * bn->C;
    return bn->sync->record(bn->sync->user, cmd, vkc_tensor_slice(bn->work, 0, (VkDeviceSize)floats * 4), floats);
}

static int finalize(VkcLayers *L, VkcCmd *cmd, const VkcBatchNorm *bn, uint32_t mode, VkcTensor dgamma,
                    VkcTensor dbeta)
{
    uint32_t len, nchunks;
    split(L, bn, &len, &nchunks);
    uint32_t ranks = bn->sync ? bn->sync->ranks : 1;
    FinalizePush push = {bn->C, nchunks, bn->N * bn->HW * ranks, bn->eps, bn->momentum};
    uint32_t spec[4] = {L->wg_elem, 1, 1, mode};
    const VkcKernel *k;
    if (vkc_layers_kernel(L, VKC_SHADER_BATCHNORM_FINALIZE, "sbbbbb", sizeof push, spec, 4, &k)) return VKC_ERR;
    VkcTensor t[6] = {bn->work, bn->stats, bn->running_mean, bn->running_var, dgamma, dbeta};
    return vkc_layers_dispatch_1d(L, cmd, k, t, &push, vkc_div_up(bn->C, L->wg_elem));
}

static int apply(VkcLayers *L, VkcCmd *cmd, const VkcBatchNorm *bn, uint32_t mode, const VkcTensor t[8])
{
    ApplyPush push = {bn->N, bn->C, bn->HW, bn->N * bn->HW * (bn->sync ? bn->sync->ranks : 1)};
    bool vec4 = vec4_planes(bn);
    uint32_t spec[6] = {L->wg_elem, 1, 1, mode, bn->relu, vec4};
    const VkcKernel *k;
    VkcShader shader;
    if (vkc_layers_variant(L, VKC_SHADER_BATCHNORM, t[0].dtype, &shader) ||
        vkc_layers_kernel(L, shader, vec4 ? "tttssssb" : "sssssssb", sizeof push, spec, 6, &k))
        return VKC_ERR;
    uint32_t gx = vkc_div_up(vkc_div_up(bn->C * bn->HW, 4), L->wg_elem);
    return vkc_cmd_dispatch(cmd, k, t, 0, &push, gx, bn->N, 1);
}

int vkc_batchnorm_forward(VkcLayers *L, VkcCmd *cmd, const VkcBatchNorm *bn, bool training, VkcTensor x,
                          VkcTensor y)
{
    const char *op = "batchnorm forward";
    uint64_t n = (uint64_t)bn->N * bn->C * bn->HW;
    if (check(L, bn, op) || vkc_layers_need(op, "x", x, n) || vkc_layers_need(op, "y", y, n) ||
        vkc_layers_same_dtype(op, x, y))
        return VKC_ERR;
    if (training) {
        if (reduce(L, cmd, bn, 0, x, x, x) || finalize(L, cmd, bn, 0, bn->stats, bn->stats) ||
            reduce(L, cmd, bn, 1, x, x, x) || finalize(L, cmd, bn, 1, bn->stats, bn->stats))
            return VKC_ERR;
    } else if (finalize(L, cmd, bn, 2, bn->stats, bn->stats)) {
        return VKC_ERR;
    }
    VkcTensor t[8] = {x, x, x, bn->stats, bn->gamma, bn->beta, bn->gamma, y};
    return apply(L, cmd, bn, 0, t);
}

int vkc_batchnorm_backward(VkcLayers *L, VkcCmd *cmd, const VkcBatchNorm *bn, VkcTensor x, VkcTensor y,
                           VkcTensor dy, VkcTensor dx, VkcTensor dgamma, VkcTensor dbeta)
{
    const char *op = "batchnorm backward";
    uint64_t n = (uint64_t)bn->N * bn->C * bn->HW;
    if (check(L, bn, op) || vkc_layers_need(op, "x", x, n) || vkc_layers_need(op, "dy", dy, n) ||
        vkc_layers_need(op, "dx", dx, n) || (bn->relu && vkc_layers_need(op, "y", y, n)) ||
        vkc_layers_need(op, "dgamma", dgamma, bn->C) || vkc_layers_need(op, "dbeta", dbeta, bn->C) ||
        vkc_layers_same_dtype(op, x, dy) || vkc_layers_same_dtype(op, x, dx) ||
        (bn->relu && vkc_layers_same_dtype(op, x, y)))
        return VKC_ERR;
    if (!bn->relu) y = x; /* unread */
    if (reduce(L, cmd, bn, 2, x, dy, y) || finalize(L, cmd, bn, 3, dgamma, dbeta)) return VKC_ERR;
    VkcTensor t[8] = {x, dy, y, bn->stats, bn->gamma, dbeta, dgamma, dx};
    return apply(L, cmd, bn, 1, t);
}
