/* NT-Xent / InfoNCE: similarity GEMM, per-row log-sum-exp kernel, metric column sum,
 * symmetrised gradient kernel, gradient GEMM. */
#include <string.h>

#include "../nn/view.h"
#include "vkclr/loss.h"

typedef struct {
    uint32_t n2, s_off;
} RowsPush;

typedef struct {
    uint32_t n2, s_off, stats_off, g_off;
    float scale;
} GradPush;

int vkc_similarity_record(VkcGemm *gemm, VkcCmd *cmd, VkcTensor z, uint32_t n2, uint32_t dim, float tau,
                          VkcTensor sim)
{
    if (!(tau > 0.0f)) return vkc_fail("similarity: temperature must be > 0 (got %g)", tau);
    /* S = z z^T: the NT form with z as both operands; alpha folds in 1/tau. Each S_ij and S_ji
     * are the same products accumulated in the same k order, so S is exactly symmetric. */
    VkcGemmArgs g = {.trans_b = true, .M = n2, .N = n2, .K = dim, .A = z, .lda = dim, .B = z, .ldb = dim,
                     .C = sim, .ldc = n2, .alpha = 1.0f / tau, .beta = 0.0f};
    return vkc_gemm_record(gemm, cmd, &g);
}

int vkc_ntxent_init(VkcContext *ctx, VkcNtxent *l, VkcGemm *gemm, VkcReduce *reduce, VkcArena *arena, uint32_t n2,
                    uint32_t dim, float tau)
{
    memset(l, 0, sizeof *l);
    if (n2 < 2 || n2 % 2) return vkc_fail("ntxent: need an even number >= 2 of embeddings (2N), got %u", n2);
    if (!dim) return vkc_fail("ntxent: embedding dimension 0");
    if (!(tau > 0.0f)) return vkc_fail("ntxent: temperature must be > 0 (got %g)", tau);
    if (n2 > 65535) return vkc_fail("ntxent: %u embeddings is more than one dispatch grid covers (65535)", n2);
    l->ctx = ctx;
    l->gemm = gemm;
    l->reduce = reduce;
    l->n2 = n2;
    l->dim = dim;
    l->tau = tau;
    /* Rows: one invocation each, a few hundred rows: 8 per group on CPUs, 64 on GPUs.
     * Gradient: element-wise 2-D; on CPUs a row of 16 lanes, on GPUs 16 x 16. */
    l->wg_rows = ctx->is_cpu ? 8 : 64;
    l->wg_grad = ctx->is_cpu ? 16 : 16;
    uint32_t spec_rows[1] = {l->wg_rows};
    uint32_t spec_grad[2] = {l->wg_grad, ctx->is_cpu ? 1 : 16};
    uint64_t nn = (uint64_t)n2 * n2;
    size_t scratch = vkc_colsum_scratch_floats(n2, 4);
    if (vkc_kernel_create(ctx, &l->rows, "ntxent_rows", "sb", sizeof(RowsPush), spec_rows, 1) ||
        vkc_kernel_create(ctx, &l->grad, "ntxent_grad", "stb", sizeof(GradPush), spec_grad, 2) ||
        vkc_tensor_alloc(arena, nn * 4, &l->sim) || vkc_tensor_alloc(arena, (VkDeviceSize)n2 * 16, &l->stats) ||
        vkc_tensor_alloc(arena, nn * 4, &l->gsim) || (scratch && vkc_tensor_alloc(arena, scratch * 4, &l->scratch))) {
        vkc_ntxent_destroy(l);
        return VKC_ERR;
    }
    return VKC_OK;
}

void vkc_ntxent_destroy(VkcNtxent *l)
{
    if (l->ctx) {
        vkc_kernel_destroy(l->ctx, &l->rows);
        vkc_kernel_destroy(l->ctx, &l->grad);
    }
    memset(l, 0, sizeof *l);
}

int vkc_ntxent_forward(VkcNtxent *l, VkcCmd *cmd, VkcTensor z, VkcTensor metrics)
{
    if (!vkc_holds(z, (uint64_t)l->n2 * l->dim) || !vkc_holds(metrics, 4))
        return vkc_fail("ntxent forward: z (%ux%u) or metrics (4 floats) tensor too small", l->n2, l->dim);
    if (vkc_similarity_record(l->gemm, cmd, z, l->n2, l->dim, l->tau, l->sim)) return VKC_ERR;
    RowsPush push = {l->n2, 0};
    uint32_t stats_off;
    VkcTensor views[2] = {vkc_view_texel(l->ctx, l->sim, &push.s_off), vkc_view_storage(l->ctx, l->stats, &stats_off)};
    if (stats_off) return vkc_fail("ntxent: statistics tensor not aligned"); /* own allocation: cannot happen */
    if (vkc_cmd_dispatch(cmd, &l->rows, views, 0, &push, vkc_div_up(l->n2, l->wg_rows), 1, 1)) return VKC_ERR;
    VkcColsumArgs c = {.x = l->stats, .rows = l->n2, .cols = 4, .ld = 4, .scale = 1.0f / (float)l->n2,
                       .out = metrics, .scratch = l->scratch};
    return vkc_colsum_record(l->reduce, cmd, &c);
}

int vkc_ntxent_backward(VkcNtxent *l, VkcCmd *cmd, VkcTensor z, VkcTensor dz)
{
    uint64_t n = (uint64_t)l->n2 * l->dim;
    if (!vkc_holds(z, n) || !vkc_holds(dz, n)) return vkc_fail("ntxent backward: z or dz (%ux%u) too small", l->n2, l->dim);
    GradPush push = {l->n2, 0, 0, 0, 1.0f / ((float)l->n2 * l->tau)};
    VkcTensor views[3] = {vkc_view_texel(l->ctx, l->sim, &push.s_off), vkc_view_texel(l->ctx, l->stats, &push.stats_off),
                          vkc_view_storage(l->ctx, l->gsim, &push.g_off)};
    push.stats_off /= 4; /* rgba32f view: offsets in texels (0 for our own allocation) */
    uint32_t gy = l->ctx->is_cpu ? l->n2 : vkc_div_up(l->n2, 16);
    if (vkc_cmd_dispatch(cmd, &l->grad, views, 0, &push, vkc_div_up(l->n2, l->wg_grad), gy, 1)) return VKC_ERR;
    /* dz (n2 x dim) = G (n2 x n2) z (n2 x dim); G already holds the 1/(2N tau). */
    VkcGemmArgs g = {.M = l->n2, .N = l->dim, .K = l->n2, .A = l->gsim, .lda = l->n2, .B = z, .ldb = l->dim,
                     .C = dz, .ldc = l->dim, .alpha = 1.0f, .beta = 0.0f};
    return vkc_gemm_record(l->gemm, cmd, &g);
}
