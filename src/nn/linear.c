/* Linear layer: three GEMM forms plus the bias, forward and backward. */
#include <string.h>

#include "vkclr/linear.h"

typedef struct {
    uint32_t rows, cols, ld, b_off, y_off;
} BiasPush;
VKC_PUSH_CONTRACT(BiasPush, BIAS_ADD);

int vkc_linear_kernels_init(VkcContext *ctx, VkcLinearKernels *k, VkcGemm *gemm, VkcReduce *reduce)
{
    memset(k, 0, sizeof *k);
    k->ctx = ctx;
    k->gemm = gemm;
    k->reduce = reduce;
    k->wg = ctx->is_cpu ? 32 : 256;
    uint32_t spec[1] = {k->wg};
    return vkc_kernel_create(ctx, &k->bias_add, VKC_SHADER_BIAS_ADD, "bb", sizeof(BiasPush), spec, 1);
}

void vkc_linear_kernels_destroy(VkcLinearKernels *k)
{
    if (k->ctx) vkc_kernel_destroy(k->ctx, &k->bias_add);
    memset(k, 0, sizeof *k);
}

static int check_shapes(const VkcLinear *l, uint32_t batch, VkcTensor x, VkcTensor y, const char *what)
{
    if (!batch || !l->in || !l->out) return vkc_fail("linear %s: empty shape (batch %u, %u -> %u)", what, batch, l->in, l->out);
    if (!vkc_holds(l->weight, (uint64_t)l->out * l->in) || (l->bias.size && !vkc_holds(l->bias, l->out)))
        return vkc_fail("linear %u -> %u: weight or bias tensor too small", l->in, l->out);
    if (!vkc_holds(x, (uint64_t)batch * l->in) || !vkc_holds(y, (uint64_t)batch * l->out))
        return vkc_fail("linear %s %u -> %u, batch %u: input or output tensor too small", what, l->in, l->out, batch);
    return VKC_OK;
}

int vkc_linear_forward(const VkcLinearKernels *k, VkcCmd *cmd, const VkcLinear *l, uint32_t batch, VkcTensor x,
                       VkcTensor y)
{
    if (check_shapes(l, batch, x, y, "forward")) return VKC_ERR;
    /* y (batch x out) = x (batch x in) W^T, W stored out x in: the NT form. */
    VkcGemmArgs g = {.trans_b = true, .M = batch, .N = l->out, .K = l->in, .A = x, .lda = l->in, .B = l->weight,
                     .ldb = l->in, .C = y, .ldc = l->out, .alpha = 1.0f, .beta = 0.0f};
    if (vkc_gemm_record(k->gemm, cmd, &g)) return VKC_ERR;
    if (!l->bias.size) return VKC_OK;
    BiasPush push = {batch, l->out, l->out, 0, 0};
    VkcTensor views[2] = {vkc_view_storage(k->ctx, l->bias, &push.b_off), vkc_view_storage(k->ctx, y, &push.y_off)};
    /* 2-D grid: x along the outputs (contiguous), y along the batch; the x extent is one group
     * row of width wg, so keep the grid's y count under the 65535 minimum limit. */
    if (batch > 65535) return vkc_fail("linear: batch %u exceeds 65535", batch);
    return vkc_cmd_dispatch(cmd, &k->bias_add, views, 1u, &push, vkc_div_up(l->out, k->wg), batch, 1);
}

int vkc_linear_backward(const VkcLinearKernels *k, VkcCmd *cmd, const VkcLinear *l, uint32_t batch, VkcTensor x,
                        VkcTensor dy, VkcTensor dx)
{
    if (check_shapes(l, batch, x, dy, "backward")) return VKC_ERR;
    if (!vkc_holds(l->dweight, (uint64_t)l->out * l->in) || (l->bias.size && !vkc_holds(l->dbias, l->out)))
        return vkc_fail("linear %u -> %u: weight or bias gradient tensor too small", l->in, l->out);
    if (dx.size) {
        if (!vkc_holds(dx, (uint64_t)batch * l->in)) return vkc_fail("linear backward: dx too small");
        /* dx (batch x in) = dy (batch x out) W (out x in): NN. */
        VkcGemmArgs g = {.M = batch, .N = l->in, .K = l->out, .A = dy, .lda = l->out, .B = l->weight, .ldb = l->in,
                         .C = dx, .ldc = l->in, .alpha = 1.0f, .beta = 0.0f};
        if (vkc_gemm_record(k->gemm, cmd, &g)) return VKC_ERR;
    }
    /* dW (out x in) = dy^T (out x batch) x (batch x in): TN, dy stored batch x out. */
    VkcGemmArgs g = {.trans_a = true, .M = l->out, .N = l->in, .K = batch, .A = dy, .lda = l->out, .B = x,
                     .ldb = l->in, .C = l->dweight, .ldc = l->in, .alpha = 1.0f, .beta = 0.0f};
    if (vkc_gemm_record(k->gemm, cmd, &g)) return VKC_ERR;
    if (!l->bias.size) return VKC_OK;
    VkcColsumArgs c = {.x = dy, .rows = batch, .cols = l->out, .ld = l->out, .scale = 1.0f, .out = l->dbias,
                       .scratch = l->scratch};
    return vkc_colsum_record(k->reduce, cmd, &c);
}
