/* Softmax cross-entropy with integer labels (the linear probe's loss). */
#include <string.h>

#include "vkclr/loss.h"

typedef struct {
    uint32_t batch, classes, x_off, label_off;
} RowsPush;
VKC_PUSH_CONTRACT(RowsPush, XENT_ROWS);

typedef struct {
    uint32_t batch, classes, x_off, stats_off, label_off, dx_off;
    float scale;
} GradPush;
VKC_PUSH_CONTRACT(GradPush, XENT_GRAD);

int vkc_xent_init(VkcContext *ctx, VkcXent *l, VkcReduce *reduce, VkcArena *arena, uint32_t batch, uint32_t classes)
{
    memset(l, 0, sizeof *l);
    if (!batch || !classes) return vkc_fail("xent: empty shape (batch %u, %u classes)", batch, classes);
    l->ctx = ctx;
    l->reduce = reduce;
    l->batch = batch;
    l->classes = classes;
    l->wg_rows = ctx->is_cpu ? 8 : 64;
    l->wg_grad = ctx->is_cpu ? 16 : 64;
    if (vkc_div_up(batch, l->wg_rows) > 65535 || batch > 65535)
        return vkc_fail("xent: batch %u exceeds the 65535 rows one dispatch covers", batch);
    uint32_t spec_rows[1] = {l->wg_rows}, spec_grad[1] = {l->wg_grad};
    size_t scratch = vkc_colsum_scratch_floats(batch, 4);
    if (vkc_kernel_create(ctx, &l->rows, VKC_SHADER_XENT_ROWS, "sbb", sizeof(RowsPush), spec_rows, 1) ||
        vkc_kernel_create(ctx, &l->grad, VKC_SHADER_XENT_GRAD, "stbb", sizeof(GradPush), spec_grad, 1) ||
        vkc_tensor_alloc(arena, (VkDeviceSize)batch * 16, &l->stats) ||
        (scratch && vkc_tensor_alloc(arena, scratch * 4, &l->scratch))) {
        vkc_xent_destroy(l);
        return VKC_ERR;
    }
    return VKC_OK;
}

void vkc_xent_destroy(VkcXent *l)
{
    if (l->ctx) {
        vkc_kernel_destroy(l->ctx, &l->rows);
        vkc_kernel_destroy(l->ctx, &l->grad);
    }
    memset(l, 0, sizeof *l);
}

static int check(const VkcXent *l, VkcTensor logits, VkcTensor labels)
{
    if (!vkc_holds(logits, (uint64_t)l->batch * l->classes) || !vkc_holds(labels, l->batch))
        return vkc_fail("xent: logits (%ux%u) or labels (%u) tensor too small", l->batch, l->classes, l->batch);
    return VKC_OK;
}

int vkc_xent_forward(VkcXent *l, VkcCmd *cmd, VkcTensor logits, VkcTensor labels, VkcTensor metrics)
{
    if (check(l, logits, labels)) return VKC_ERR;
    if (!vkc_holds(metrics, 4)) return vkc_fail("xent: metrics tensor needs 4 floats");
    RowsPush push = {l->batch, l->classes, 0, 0};
    uint32_t stats_off;
    VkcTensor views[3] = {vkc_view_texel(l->ctx, logits, &push.x_off), vkc_view_storage(l->ctx, labels, &push.label_off),
                          vkc_view_storage(l->ctx, l->stats, &stats_off)};
    if (stats_off) return vkc_fail("xent: statistics tensor not aligned");
    if (vkc_cmd_dispatch(cmd, &l->rows, views, 2u, &push, vkc_div_up(l->batch, l->wg_rows), 1, 1)) return VKC_ERR;
    VkcColsumArgs c = {.x = l->stats, .rows = l->batch, .cols = 4, .ld = 4, .scale = 1.0f / (float)l->batch,
                       .out = metrics, .scratch = l->scratch};
    return vkc_colsum_record(l->reduce, cmd, &c);
}

int vkc_xent_backward(VkcXent *l, VkcCmd *cmd, VkcTensor logits, VkcTensor labels, VkcTensor dlogits)
{
    if (check(l, logits, labels)) return VKC_ERR;
    if (!vkc_holds(dlogits, (uint64_t)l->batch * l->classes)) return vkc_fail("xent backward: dlogits too small");
    GradPush push = {l->batch, l->classes, 0, 0, 0, 0, 1.0f / (float)l->batch};
    VkcTensor views[4] = {vkc_view_texel(l->ctx, logits, &push.x_off), vkc_view_texel(l->ctx, l->stats, &push.stats_off),
                          vkc_view_storage(l->ctx, labels, &push.label_off),
                          vkc_view_storage(l->ctx, dlogits, &push.dx_off)};
    push.stats_off /= 4;
    return vkc_cmd_dispatch(cmd, &l->grad, views, 4u, &push, vkc_div_up(l->classes, l->wg_grad), l->batch, 1);
}
