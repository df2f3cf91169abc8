/* Host side of shaders/l2norm_forward.comp and l2norm_backward.comp. */
#include <string.h>

#include "vkclr/l2norm.h"

typedef struct {
    uint32_t rows, dim, x_off, y_off;
    float eps;
} ForwardPush;
VKC_PUSH_CONTRACT(ForwardPush, L2NORM_FORWARD);

typedef struct {
    uint32_t rows, dim, x_off, dy_off, dx_off;
    float eps;
} BackwardPush;
VKC_PUSH_CONTRACT(BackwardPush, L2NORM_BACKWARD);

int vkc_l2norm_init(VkcContext *ctx, VkcL2Norm *k)
{
    memset(k, 0, sizeof *k);
    k->ctx = ctx;
    /* One invocation per row (a few hundred rows at training shapes): 8 per group on CPUs so
     * both cores get work, 64 on GPUs. */
    k->wg = ctx->is_cpu ? 8 : 64;
    uint32_t spec[1] = {k->wg};
    if (vkc_kernel_create(ctx, &k->forward, VKC_SHADER_L2NORM_FORWARD, "bb", sizeof(ForwardPush), spec, 1) ||
        vkc_kernel_create(ctx, &k->backward, VKC_SHADER_L2NORM_BACKWARD, "bbb", sizeof(BackwardPush), spec, 1)) {
        vkc_l2norm_destroy(k);
        return VKC_ERR;
    }
    return VKC_OK;
}

void vkc_l2norm_destroy(VkcL2Norm *k)
{
    if (k->ctx) {
        vkc_kernel_destroy(k->ctx, &k->forward);
        vkc_kernel_destroy(k->ctx, &k->backward);
    }
    memset(k, 0, sizeof *k);
}

int vkc_l2norm_forward(const VkcL2Norm *k, VkcCmd *cmd, uint32_t rows, uint32_t dim, VkcTensor x, VkcTensor y)
{
    uint64_t n = (uint64_t)rows * dim;
    if (!n) return vkc_fail("l2norm: empty shape %ux%u", rows, dim);
    if (!vkc_holds(x, n) || !vkc_holds(y, n)) return vkc_fail("l2norm %ux%u: x or y too small", rows, dim);
    ForwardPush push = {rows, dim, 0, 0, VKC_L2NORM_EPS};
    VkcTensor views[2] = {vkc_view_storage(k->ctx, x, &push.x_off), vkc_view_storage(k->ctx, y, &push.y_off)};
    return vkc_cmd_dispatch(cmd, &k->forward, views, 1u, &push, vkc_div_up(rows, k->wg), 1, 1);
}

int vkc_l2norm_backward(const VkcL2Norm *k, VkcCmd *cmd, uint32_t rows, uint32_t dim, VkcTensor x, VkcTensor dy,
                        VkcTensor dx)
{
    uint64_t n = (uint64_t)rows * dim;
    if (!n) return vkc_fail("l2norm backward: empty shape %ux%u", rows, dim);
    if (!vkc_holds(x, n) || !vkc_holds(dy, n) || !vkc_holds(dx, n))
        return vkc_fail("l2norm backward %ux%u: x, dy or dx too small", rows, dim);
    BackwardPush push = {rows, dim, 0, 0, 0, VKC_L2NORM_EPS};
    VkcTensor views[3] = {vkc_view_storage(k->ctx, x, &push.x_off), vkc_view_storage(k->ctx, dy, &push.dy_off),
                          vkc_view_storage(k->ctx, dx, &push.dx_off)};
    return vkc_cmd_dispatch(cmd, &k->backward, views, 3u, &push, vkc_div_up(rows, k->wg), 1, 1);
}
