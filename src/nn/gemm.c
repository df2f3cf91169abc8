/* Host side of shaders/gemm.comp (float32) and gemm_coop.comp (16-bit operands on cooperative
 * matrices): tile choice per device, pipelines per (shader, transpose, alignment, tile) created
 * on first use, shape checks, dispatch. */
#include <stdlib.h>
#include <string.h>

#include "coop.h"
#include "vkclr/gemm.h"

typedef struct {
    uint32_t M, N, K, lda, ldb, ldc, offA, offB, offC, strideA, strideB, strideC;
    float alpha, beta;
} GemmPush;
VKC_PUSH_CONTRACT(GemmPush, GEMM); /* gemm_coop.comp has the same block (shaders/meson.build) */

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

VkcDtype vkc_gemm_set_operands(VkcGemm *g, VkcDtype d)
{
    VkcCoopTile tile;
    g->operands = VKC_F32;
    if (d != VKC_F32 && vkc_coop_tiles(g->ctx, d, VKC_COOP_GEMM, &tile, 1) == 1) g->operands = d, g->coop_tile = tile;
    return g->operands;
}

int vkc_gemm_coop_tiles(const VkcContext *ctx, VkcDtype d, VkcCoopTile *out, int max)
{
    return d == VKC_F32 ? 0 : vkc_coop_tiles(ctx, d, VKC_COOP_GEMM, out, max);
}

int vkc_gemm_set_coop(VkcGemm *g, VkcDtype d, VkcCoopTile tile)
{
    if (d == VKC_F32 || !g->ctx->coop.ok[d])
        return vkc_fail("gemm: no %s cooperative-matrix kernels on %s%s%s", vkc_dtype_name(d), g->ctx->props.deviceName,
                        d == VKC_F32 ? "" : ": ", d == VKC_F32 ? "" : g->ctx->coop.why_not[d]);
    if (!vkc_coop_fits(g->ctx, d, tile, VKC_COOP_GEMM))
        return vkc_fail("gemm: cooperative-matrix tile %u,%u,%u,%u,%u does not fit %s", tile.wm, tile.wn, tile.tm,
                        tile.tn, tile.bk, g->ctx->props.deviceName);
    g->operands = d, g->coop_tile = tile;
    return VKC_OK;
}

/* The pipeline of `shader` with these specialization constants, created on first use. */
static int get_kernel(VkcGemm *g, VkcShader shader, const uint32_t *spec, int nspec, const char *bindings,
                      const VkcKernel **out)
{
    uint32_t key[14] = {0};
    memcpy(key, spec, sizeof *spec * nspec);
    for (int i = 0; i < g->npipelines; i++)
        if (g->pipelines[i].shader == shader && !memcmp(g->pipelines[i].spec, key, sizeof key)) {
            *out = &g->pipelines[i].kernel;
            return VKC_OK;
        }
    if (g->npipelines == VKC_GEMM_MAX_PIPELINES) return vkc_fail("gemm: too many pipeline variants");
    VkcKernel *k = &g->pipelines[g->npipelines].kernel;
    if (vkc_kernel_create(g->ctx, k, shader, bindings, sizeof(GemmPush), spec, nspec)) return VKC_ERR;
    g->pipelines[g->npipelines].shader = shader;
    memcpy(g->pipelines[g->npipelines].spec, key, sizeof key);
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
    GemmPush push = {a->M, a->N, a->K, a->lda, a->ldb, a->ldc, 0, 0, 0, a->stride_a, a->stride_b, a->stride_c,
                     a->alpha, a->beta};
    bool coop = g->operands != VKC_F32;
    VkcTensor A = coop ? vkc_view_storage(g->ctx, a->A, &offA) : vkc_view_texel(g->ctx, a->A, &offA);
    VkcTensor B = coop ? vkc_view_storage(g->ctx, a->B, &offB) : vkc_view_texel(g->ctx, a->B, &offB);
    VkcTensor C = vkc_view_storage(g->ctx, a->C, &offC);
    push.offA = offA, push.offB = offB, push.offC = offC;
    /* gemm.comp's aligned path reads whole vec4 rows up to the padded K; gemm_coop.comp reads
     * elements inside op(A) and op(B) only. */
    bool aligned = !coop && a->lda % 4 == 0 && a->ldb % 4 == 0 && offA % 4 == 0 && offB % 4 == 0 &&
                   (batch == 1 || (a->stride_a % 4 == 0 && a->stride_b % 4 == 0));
    uint64_t need_a = (uint64_t)(batch - 1) * a->stride_a + (aligned ? (uint64_t)a_rows * a->lda : span(a_rows, a_cols, a->lda));
    uint64_t need_b = (uint64_t)(batch - 1) * a->stride_b + (aligned ? (uint64_t)b_rows * a->ldb : span(b_rows, b_cols, a->ldb));
    uint64_t need_c = (uint64_t)(batch - 1) * a->stride_c + span(a->M, a->N, a->ldc);
    if (need_a * 4 > a->A.size || need_b * 4 > a->B.size || need_c * 4 > a->C.size)
        return vkc_fail("gemm %ux%ux%u: a tensor is too small (A needs %llu floats, has %llu; B %llu/%llu; C %llu/%llu)",
                        a->M, a->N, a->K, (unsigned long long)need_a, (unsigned long long)(a->A.size / 4),
                        (unsigned long long)need_b, (unsigned long long)(a->B.size / 4),
                        (unsigned long long)need_c, (unsigned long long)(a->C.size / 4));
    VkcTensor tensors[3] = {A, B, C};
    const VkcKernel *k = NULL;
    if (coop) {
        uint32_t spec[14] = {0};
        vkc_coop_spec(g->ctx, g->operands, g->coop_tile, spec);
        spec[3] = a->trans_a, spec[4] = a->trans_b;
        VkcShader shader = g->operands == VKC_F16 ? VKC_SHADER_GEMM_COOP_F16 : VKC_SHADER_GEMM_COOP_BF16;
        if (get_kernel(g, shader, spec, 14, "bbb", &k)) return VKC_ERR;
        uint32_t gx = vkc_div_up(a->N, vkc_coop_bn(g->ctx, g->operands, g->coop_tile));
        uint32_t gy = vkc_div_up(a->M, vkc_coop_bm(g->ctx, g->operands, g->coop_tile));
        return vkc_cmd_dispatch(cmd, k, tensors, 0x3, &push, gx, gy, batch);
    }
    VkcGemmTile tile = g->wide;
    if (a->N <= 4 * g->narrow.tn4 * g->narrow.wg_x && a->N < 4 * g->wide.tn4 * g->wide.wg_x) tile = g->narrow;
    uint32_t spec[8] = {tile.wg_x, tile.wg_y, 1, tile.tm, tile.tn4, a->trans_a, a->trans_b, aligned};
    if (get_kernel(g, VKC_SHADER_GEMM, spec, 8, "ttb", &k)) return VKC_ERR;
    uint32_t gx = vkc_div_up(a->N, 4 * tile.tn4 * tile.wg_x), gy = vkc_div_up(a->M, tile.tm * tile.wg_y);
    return vkc_cmd_dispatch(cmd, k, tensors, 0, &push, gx, gy, batch);
}
