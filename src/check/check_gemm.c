/* GEMM against ref_gemm: every transpose form, odd and tile-sized shapes, padded leading
 * dimensions, offsets that are not a multiple of 4, alpha/beta, batches; in float32 (gemm.comp)
 * and with 16-bit products on cooperative matrices (gemm_coop.comp, the coop16 group: every
 * tile of the device class, with the tolerance vkc_check_product_bound derives). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref.h"
#include "vkclr/check.h"
#include "vkclr/gemm.h"

typedef struct {
    bool ta, tb;
    int M, N, K;
    int pad;    /* extra elements per row (leading dimension = cols + pad) */
    int offset; /* elements of A, B, C before the matrix starts */
    int batch;
    float alpha, beta;
} Case;

/* fp32 sums of K products of values in [-1,1): the reference accumulates in double, the
 * shader in float with fma, so the difference grows like sqrt(K) * 6e-8. atol = 1e-5*sqrt(K)
 * with rtol 1e-5 is ~10x above what is observed and far below an indexing mistake (~0.1-1). */
static int run_case(VkcContext *ctx, VkcGemm *gemm, const Case *c, VkcCheckResult *r)
{
    VkcDtype ops = gemm->operands;
    int a_rows = c->ta ? c->K : c->M, a_cols = c->ta ? c->M : c->K;
    int b_rows = c->tb ? c->N : c->K, b_cols = c->tb ? c->K : c->N;
    int lda = a_cols + c->pad, ldb = b_cols + c->pad, ldc = c->N + c->pad;
    int batch = c->batch ? c->batch : 1;
    int sa = a_rows * lda, sb = b_rows * ldb, sc = c->M * ldc;
    int na = c->offset + batch * sa, nb = c->offset + batch * sb, nc = c->offset + batch * sc;
    float *A = malloc(na * sizeof(float)), *B = malloc(nb * sizeof(float));
    float *C = malloc(nc * sizeof(float)), *R = malloc(nc * sizeof(float));
    double *bound = NULL;
    VkcArena arena;
    VkcCmd cmd = {0};
    int rc = VKC_ERR;
    vkc_arena_init(&arena, ctx, VKC_MEMORY_DEVICE);
    if (!A || !B || !C || !R) {
        vkc_fail("out of memory");
        goto done;
    }
    ref_fill_uniform(A, na, 1 + c->M, -1.0f, 1.0f);
    ref_fill_uniform(B, nb, 2 + c->N, -1.0f, 1.0f);
    ref_fill_uniform(C, nc, 3 + c->K, -1.0f, 1.0f);
    memcpy(R, C, nc * sizeof(float));
    for (int b = 0; b < batch; b++)
        ref_gemm(c->ta, c->tb, c->M, c->N, c->K, c->alpha, A + c->offset + b * sa, lda, B + c->offset + b * sb, ldb,
                 c->beta, R + c->offset + b * sc, ldc);
    if (ops != VKC_F32) {
        /* 16-bit products: each element's bound from the magnitudes of its products, |alpha| S */
        float *absA = malloc(na * sizeof(float)), *absB = malloc(nb * sizeof(float)), *S = calloc(nc, sizeof(float));
        bound = malloc(nc * sizeof *bound);
        if (!absA || !absB || !S || !bound) {
            free(absA), free(absB), free(S);
            vkc_fail("out of memory");
            goto done;
        }
        for (int i = 0; i < na; i++) absA[i] = fabsf(A[i]);
        for (int i = 0; i < nb; i++) absB[i] = fabsf(B[i]);
        for (int b = 0; b < batch; b++)
            ref_gemm(c->ta, c->tb, c->M, c->N, c->K, fabsf(c->alpha), absA + c->offset + b * sa, lda,
                     absB + c->offset + b * sb, ldb, 0.0f, S + c->offset + b * sc, ldc);
        for (int i = 0; i < nc; i++) bound[i] = vkc_check_product_bound(ops, c->K) * S[i];
        free(absA), free(absB), free(S);
    }

    VkcTensor tA, tB, tC;
    if (vkc_tensor_alloc(&arena, na * sizeof(float), &tA) || vkc_tensor_alloc(&arena, nb * sizeof(float), &tB) ||
        vkc_tensor_alloc(&arena, nc * sizeof(float), &tC) || vkc_upload(ctx, tA, A, na * sizeof(float)) ||
        vkc_upload(ctx, tB, B, nb * sizeof(float)) || vkc_upload(ctx, tC, C, nc * sizeof(float)))
        goto done;
    size_t off = (size_t)c->offset * sizeof(float);
    VkcGemmArgs args = {
        .trans_a = c->ta, .trans_b = c->tb, .M = c->M, .N = c->N, .K = c->K,
        .A = vkc_tensor_slice(tA, off, tA.size - off), .lda = lda,
        .B = vkc_tensor_slice(tB, off, tB.size - off), .ldb = ldb,
        .C = vkc_tensor_slice(tC, off, tC.size - off), .ldc = ldc,
        .alpha = c->alpha, .beta = c->beta,
        .batch = batch, .stride_a = sa, .stride_b = sb, .stride_c = sc,
    };
    if (vkc_cmd_init(ctx, &cmd) || vkc_cmd_begin(&cmd) || vkc_gemm_record(gemm, &cmd, &args) || vkc_cmd_end(&cmd) ||
        vkc_cmd_submit_wait(&cmd) || vkc_download(ctx, tC, C, nc * sizeof(float)))
        goto done;
    char what[128];
    snprintf(what, sizeof what, "%s%s %dx%dx%d pad %d off %d batch %d%s%s", c->ta ? "T" : "N", c->tb ? "T" : "N",
             c->M, c->N, c->K, c->pad, c->offset, batch, ops == VKC_F32 ? "" : " ", ops == VKC_F32 ? "" : vkc_dtype_name(ops));
    if (ops == VKC_F32)
        vkc_check_compare(r, what, C, R, nc, 1e-5 * sqrt((double)c->K), 1e-5);
    else /* (the elements outside the products, beta*C and alpha: a few float32 roundings; fp16's
          * subnormals below 2^-14 are rounded absolutely, at most 2^-24 each, |b| <= 1) */
        vkc_check_compare_bounded(r, what, C, R, bound, nc, c->K * 0x1p-24, 4 * 0x1p-24);
    rc = VKC_OK;
done:
    vkc_cmd_destroy(&cmd);
    vkc_arena_destroy(&arena);
    free(A), free(B), free(C), free(R), free(bound);
    return rc;
}

/* The cases with float32 products, or with 16-bit ones (ops) in the cooperative-matrix tile `tile`. */
static int run_cases_with(VkcContext *ctx, const Case *cases, int n, VkcCheckResult *r, VkcDtype ops,
                          const VkcCoopTile *tile)
{
    VkcGemm gemm;
    if (vkc_gemm_init(ctx, &gemm)) return VKC_ERR;
    int rc = ops == VKC_F32 ? VKC_OK : vkc_gemm_set_coop(&gemm, ops, *tile);
    for (int i = 0; i < n && rc == VKC_OK; i++) rc = run_case(ctx, &gemm, &cases[i], r);
    vkc_gemm_destroy(&gemm);
    return rc;
}

static int run_cases(VkcContext *ctx, const Case *cases, int n, VkcCheckResult *r)
{
    return run_cases_with(ctx, cases, n, r, VKC_F32, NULL);
}

static const int shapes[][3] = {
    {1, 1, 1}, {1, 1, 7}, {3, 5, 7}, {8, 16, 4}, {17, 33, 9}, {64, 64, 64}, {129, 31, 67},
    {200, 3, 50}, {2, 300, 13}, {513, 20, 4}, {16, 130, 259}, {1000, 64, 27},
};
#define NSHAPES (int)(sizeof shapes / sizeof shapes[0])

static int check_form(VkcContext *ctx, VkcCheckResult *r, bool ta, bool tb)
{
    Case cases[NSHAPES];
    for (int s = 0; s < NSHAPES; s++)
        cases[s] = (Case){ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], 0, 0, 1, 1.0f, 0.0f};
    return run_cases(ctx, cases, NSHAPES, r);
}

int check_gemm_nn(VkcContext *ctx, VkcCheckResult *r) { return check_form(ctx, r, false, false); }
int check_gemm_nt(VkcContext *ctx, VkcCheckResult *r) { return check_form(ctx, r, false, true); }
int check_gemm_tn(VkcContext *ctx, VkcCheckResult *r) { return check_form(ctx, r, true, false); }

static const Case layout_cases[] = {
        {false, false, 37, 45, 29, 3, 0, 1, 1.0f, 0.0f}, /* odd lda: element-wise path */
        {false, false, 37, 45, 29, 4, 0, 1, 1.0f, 0.0f}, /* K=29 tail read from padded rows */
        {false, true, 37, 45, 29, 7, 1, 1, 0.5f, 1.0f},  /* offset 1 element, accumulate */
        {true, false, 37, 45, 29, 0, 5, 1, -2.0f, 0.25f},
        {false, false, 20, 24, 16, 0, 0, 3, 1.0f, 0.0f}, /* batch */
        {false, true, 9, 10, 11, 1, 2, 4, 1.0f, 1.0f},
        {true, false, 12, 70, 33, 0, 0, 2, 1.0f, 0.0f},
};
#define NLAYOUTS (int)(sizeof layout_cases / sizeof layout_cases[0])

int check_gemm_layouts(VkcContext *ctx, VkcCheckResult *r) { return run_cases(ctx, layout_cases, NLAYOUTS, r); }

/* ---------------------------------------------------------------- cooperative matrices */

/* gemm_coop with operands of dtype d: the device class's built-in tile on every shape, transpose
 * form and layout above, then each of its other tiles on every transpose form of a few shapes
 * (tile edges in M, N and K, a batch). Skipped, with the reason, where the device does not run
 * them (ctx->coop.why_not). */
static int check_gemm_coop(VkcContext *ctx, VkcCheckResult *r, VkcDtype d)
{
    if (!ctx->coop.ok[d]) {
        r->skipped = true;
        snprintf(r->detail, sizeof r->detail, "gemm_coop_%s not run: %.450s", d == VKC_F16 ? "f16" : "bf16",
                 ctx->coop.why_not[d]);
        return VKC_OK;
    }
    VkcCoopTile tiles[16];
    int ntiles = vkc_gemm_coop_tiles(ctx, d, tiles, 16);
    Case cases[3 * NSHAPES + NLAYOUTS];
    int n = 0;
    for (int f = 0; f < 3; f++)
        for (int s = 0; s < NSHAPES; s++)
            cases[n++] = (Case){f == 2, f == 1, shapes[s][0], shapes[s][1], shapes[s][2], 0, 0, 1, 1.0f, 0.0f};
    for (int i = 0; i < NLAYOUTS; i++) cases[n++] = layout_cases[i];
    int rc = run_cases_with(ctx, cases, n, r, d, &tiles[0]);
    static const Case few[] = {{false, false, 37, 45, 29, 0, 0, 1, 1.0f, 0.0f}, {false, true, 129, 31, 67, 1, 1, 1, 1.0f, 0.0f},
                               {true, false, 20, 70, 33, 0, 0, 2, 0.5f, 1.0f}};
    for (int t = 1; t < ntiles && rc == VKC_OK; t++) rc = run_cases_with(ctx, few, 3, r, d, &tiles[t]);
    if (rc == VKC_OK) {
        char note[96];
        snprintf(note, sizeof note, " [%d tiles of %ux%ux%u]", ntiles, ctx->coop.shape[d].M, ctx->coop.shape[d].N,
                 ctx->coop.shape[d].K);
        strncat(r->detail, note, sizeof r->detail - strlen(r->detail) - 1);
    }
    return rc;
}

int check_coop_gemm(VkcContext *ctx, VkcDtype dt, VkcCheckResult *r) { return check_gemm_coop(ctx, r, dt); }
