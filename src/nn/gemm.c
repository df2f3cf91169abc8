/* Host side of shaders/gemm.comp: tile choice per device, pipelines per (transpose, alignment,
 * tile) created on first use, shape checks, dispatch. */
#include <stdlib.h>
#include <string.h>

#include "vkclr/gemm.h"

typedef struct {
    uint32_t M, N, K, lda, ldb, ldc, offA, offB, offC, strideA, strideB, strideC;
    float alpha, beta;
} GemmPush;
VKC_PUSH_CONTRACT(GemmPush, GEMM);

/* A wide tile the overrides give (VKCLR_GEMM_TILE), if it is one the shader can run. */
static int forced_tile(const uint32_t v[4], VkcGemmTile *t)
{
    if (!v[0] || !v[1] || !v[2] || !v[3] || v[2] % 4 || v[2] > 16 || v[3] > 8)
        return vkc_fail("GEMM tile %u,%u,%u,%u (VKCLR_GEMM_TILE): expected wg_x,wg_y,tm,tn4 with tm a multiple of 4 up "
                        "to 16, tn4 up to 8", v[0], v[1], v[2], v[3]);
    *t = (VkcGemmTile){v[0], v[1], v[2], v[3]};
    return VKC_OK;
}

int vkc_gemm_init(VkcContext *ctx, VkcGemm *g)
{
    memset(g, 0, sizeof *g);
    g->ctx = ctx;
    if (ctx->is_cpu) {
        /* lavapipe: 8-32 invocations, 8 rows x 4 vec4 columns each (shared/notes/lavapipe.md). */
        g->wide = (VkcGemmTile){8, 1, 8, 4};
        g->narrow = (VkcGemmTile){4, 2, 8, 4};
    } else {
        /* GPUs: 128 invocations, each 8 x 8: a 64 x 128 tile per workgroup (on an H200 this
         * beat 16x16 invocations of 8x8, 4x8 or 4x4 at 2048^3: see BENCHMARKS.md). */
        g->wide = (VkcGemmTile){16, 8, 8, 2};
        g->narrow = (VkcGemmTile){8, 32, 4, 2};
    }
    if (ctx->kernels.gemm_tile[0] && forced_tile(ctx->kernels.gemm_tile, &g->wide)) return VKC_ERR;
    return VKC_OK;
}

void vkc_gemm_destroy(VkcGemm *g)
{
    for (int i = 0; i < g->npipelines; i++) vkc_kernel_destroy(g->ctx, &g->pipelines[i].kernel);
    memset(g, 0, sizeof *g);
}

static int get_kernel(VkcGemm *g, VkcGemmTile tile, bool ta, bool tb, bool aligned, const VkcKernel **out)
{
    for (int i = 0; i < g->npipelines; i++) {
        if (!memcmp(&g->pipelines[i].tile, &tile, sizeof tile) && g->pipelines[i].trans_a == ta &&
            g->pipelines[i].trans_b == tb && g->pipelines[i].aligned == aligned) {
            *out = &g->pipelines[i].kernel;
            return VKC_OK;
        }
    }
    if (g->npipelines == VKC_GEMM_MAX_PIPELINES) return vkc_fail("gemm: too many pipeline variants");
    uint32_t spec[8] = {tile.wg_x, tile.wg_y, 1, tile.tm, tile.tn4, ta, tb, aligned};
    VkcKernel *k = &g->pipelines[g->npipelines].kernel;
    if (vkc_kernel_create(g->ctx, k, VKC_SHADER_GEMM, "ttb", sizeof(GemmPush), spec, 8)) return VKC_ERR;
    g->pipelines[g->npipelines].tile = tile;
    g->pipelines[g->npipelines].trans_a = ta;
    g->pipelines[g->npipelines].trans_b = tb;
    g->pipelines[g->npipelines].aligned = aligned;
    g->npipelines++;
    *out = k;
    return VKC_OK;
}

/* Elements a (rows x ld) operand spans: full rows except the last, which needs `cols`. */
static uint64_t span(uint32_t rows, uint32_t cols, uint32_t ld) { return (uint64_t)(rows - 1) * ld + cols; }

double vkc_gemm_flops(const VkcGemmArgs *a)
{
    return 2.0 * a->M * a->N * a->K * (a->batch > 1 ? a->batch : 1);
}

int vkc_gemm_record(VkcGemm *g, VkcCmd *cmd, const VkcGemmArgs *a)
{
    if (a->trans_a && a->trans_b) return vkc_fail("gemm: A^T B^T is not supported (swap the operands)");
    if (!a->M || !a->N || !a->K) return vkc_fail("gemm: empty product %ux%ux%u", a->M, a->N, a->K);
    uint32_t batch = a->batch ? a->batch : 1;
    uint32_t a_rows = a->trans_a ? a->K : a->M, a_cols = a->trans_a ? a->M : a->K;
    uint32_t b_rows = a->trans_b ? a->N : a->K, b_cols = a->trans_b ? a->K : a->N;
    if (a->lda < a_cols || a->ldb < b_cols || a->ldc < a->N)
        return vkc_fail("gemm: leading dimension smaller than the row (lda %u < %u, ldb %u < %u or ldc %u < %u)", a->lda,
                        a_cols, a->ldb, b_cols, a->ldc, a->N);
    uint32_t offA, offB, offC;
    VkcTensor A = vkc_view_texel(g->ctx, a->A, &offA), B = vkc_view_texel(g->ctx, a->B, &offB);
    VkcTensor C = vkc_view_storage(g->ctx, a->C, &offC);
    bool aligned = a->lda % 4 == 0 && a->ldb % 4 == 0 && offA % 4 == 0 && offB % 4 == 0 &&
                   (batch == 1 || (a->stride_a % 4 == 0 && a->stride_b % 4 == 0));
    /* The aligned path reads whole rows up to the padded K: the tensors must hold full rows. */
    uint64_t need_a = (uint64_t)(batch - 1) * a->stride_a + (aligned ? (uint64_t)a_rows * a->lda : span(a_rows, a_cols, a->lda));
    uint64_t need_b = (uint64_t)(batch - 1) * a->stride_b + (aligned ? (uint64_t)b_rows * a->ldb : span(b_rows, b_cols, a->ldb));
    uint64_t need_c = (uint64_t)(batch - 1) * a->stride_c + span(a->M, a->N, a->ldc);
    if (need_a * 4 > a->A.size || need_b * 4 > a->B.size || need_c * 4 > a->C.size)
        return vkc_fail("gemm %ux%ux%u: a tensor is too small (A needs %llu floats, has %llu; B %llu/%llu; C %llu/%llu)",
                        a->M, a->N, a->K, (unsigned long long)need_a, (unsigned long long)(a->A.size / 4),
                        (unsigned long long)need_b, (unsigned long long)(a->B.size / 4),
                        (unsigned long long)need_c, (unsigned long long)(a->C.size / 4));

    VkcGemmTile tile = g->wide;
    if (a->N <= 4 * g->narrow.tn4 * g->narrow.wg_x && a->N < 4 * g->wide.tn4 * g->wide.wg_x) tile = g->narrow;
    const VkcKernel *k = NULL;
    if (get_kernel(g, tile, a->trans_a, a->trans_b, aligned, &k)) return VKC_ERR;
    GemmPush push = {a->M, a->N, a->K, a->lda, a->ldb, a->ldc, offA, offB, offC,
                     a->stride_a, a->stride_b, a->stride_c, a->alpha, a->beta};
    VkcTensor tensors[3] = {A, B, C};
    uint32_t gx = vkc_div_up(a->N, 4 * tile.tn4 * tile.wg_x), gy = vkc_div_up(a->M, tile.tm * tile.wg_y);
    return vkc_cmd_dispatch(cmd, k, tensors, 0, &push, gx, gy, batch);
}
