/* GEMM against ref_gemm: every transpose form, odd and tile-sized shapes, padded leading
 * dimensions, offsets that are not a multiple of 4, alpha/beta, batches. */
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
    int a_rows = c->ta ? c->K : c->M, a_cols = c->ta ? c->M : c->K;
    int b_rows = c->tb ? c->N : c->K, b_cols = c->tb ? c->K : c->N;
    int lda = a_cols + c->pad, ldb = b_cols + c->pad, ldc = c->N + c->pad;
    int batch = c->batch ? c->batch : 1;
    int sa = a_rows * lda, sb = b_rows * ldb, sc = c->M * ldc;
    int na = c->offset + batch * sa, nb = c->offset + batch * sb, nc = c->offset + batch * sc;
    float *A = malloc(na * sizeof(float)), *B = malloc(nb * sizeof(float));
    float *C = malloc(nc * sizeof(float)), *R = malloc(nc * sizeof(float));
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
    snprintf(what, sizeof what, "%s%s %dx%dx%d pad %d off %d batch %d", c->ta ? "T" : "N", c->tb ? "T" : "N", c->M,
             c->N, c->K, c->pad, c->offset, batch);
    vkc_check_compare(r, what, C, R, nc, 1e-5 * sqrt((double)c->K), 1e-5);
    rc = VKC_OK;
done:
    vkc_cmd_destroy(&cmd);
    vkc_arena_destroy(&arena);
    free(A), free(B), free(C), free(R);
    return rc;
}

static int run_cases(VkcContext *ctx, const Case *cases, int n, VkcCheckResult *r)
{
    VkcGemm gemm;
    if (vkc_gemm_init(ctx, &gemm)) return VKC_ERR;
    int rc = VKC_OK;
    for (int i = 0; i < n && rc == VKC_OK; i++) rc = run_case(ctx, &gemm, &cases[i], r);
    vkc_gemm_destroy(&gemm);
    return rc;
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

int check_gemm_layouts(VkcContext *ctx, VkcCheckResult *r)
{
    static const Case cases[] = {
        {false, false, 37, 45, 29, 3, 0, 1, 1.0f, 0.0f}, /* odd lda: element-wise path */
        {false, false, 37, 45, 29, 4, 0, 1, 1.0f, 0.0f}, /* K=29 tail read from padded rows */
        {false, true, 37, 45, 29, 7, 1, 1, 0.5f, 1.0f},  /* offset 1 element, accumulate */
        {true, false, 37, 45, 29, 0, 5, 1, -2.0f, 0.25f},
        {false, false, 20, 24, 16, 0, 0, 3, 1.0f, 0.0f}, /* batch */
        {false, true, 9, 10, 11, 1, 2, 4, 1.0f, 1.0f},
        {true, false, 12, 70, 33, 0, 0, 2, 1.0f, 0.0f},
    };
    return run_cases(ctx, cases, (int)(sizeof cases / sizeof cases[0]), r);
}
