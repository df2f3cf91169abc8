/* GEMM against ref_gemm for every transpose form, odd and tile-sized shapes, padded
 * leading dimensions, offsets, batches and beta accumulation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>
#include <cmocka.h>

#include "ref/ref.h"
#include "vkclr/gemm.h"
#include "vktest.h"

static VkcGemm gemm;

static int setup(void **state)
{
    if (vktest_setup(state)) return -1;
    return vkc_gemm_init(&vktest_ctx, &gemm);
}

static int teardown(void **state)
{
    vkc_gemm_destroy(&gemm);
    return vktest_teardown(state);
}

typedef struct {
    bool ta, tb;
    int M, N, K;
    int pad;      /* extra elements per row (leading dimension = cols + pad) */
    int offset;   /* elements of A, B, C before the matrix starts */
    int batch;
    float alpha, beta;
} Case;

/* Run one case on the device and compare with the reference. fp32 sums of K products of
 * values in [-1,1): the reference accumulates in double, the shader in float with fma;
 * the difference grows like sqrt(K) * eps * |values|, so atol = 1e-5 * sqrt(K) + rtol 1e-5 is
 * ~10x above what is observed and far below any indexing mistake (errors of order 0.1-1). */
static void run_case(const Case *c)
{
    int a_rows = c->ta ? c->K : c->M, a_cols = c->ta ? c->M : c->K;
    int b_rows = c->tb ? c->N : c->K, b_cols = c->tb ? c->K : c->N;
    int lda = a_cols + c->pad, ldb = b_cols + c->pad, ldc = c->N + c->pad;
    int batch = c->batch ? c->batch : 1;
    int sa = a_rows * lda, sb = b_rows * ldb, sc = c->M * ldc;
    int na = c->offset + batch * sa, nb = c->offset + batch * sb, nc = c->offset + batch * sc;
    float *A = malloc(na * sizeof(float)), *B = malloc(nb * sizeof(float));
    float *C = malloc(nc * sizeof(float)), *R = malloc(nc * sizeof(float));
    ref_fill_uniform(A, na, 1 + c->M, -1.0f, 1.0f);
    ref_fill_uniform(B, nb, 2 + c->N, -1.0f, 1.0f);
    ref_fill_uniform(C, nc, 3 + c->K, -1.0f, 1.0f);
    memcpy(R, C, nc * sizeof(float));
    for (int b = 0; b < batch; b++)
        ref_gemm(c->ta, c->tb, c->M, c->N, c->K, c->alpha, A + c->offset + b * sa, lda, B + c->offset + b * sb, ldb,
                 c->beta, R + c->offset + b * sc, ldc);

    VkcArena arena;
    VK_OK(vkc_arena_init(&arena, &vktest_ctx, VKC_MEMORY_DEVICE));
    VkcTensor tA, tB, tC;
    VK_OK(vkc_tensor_alloc(&arena, na * sizeof(float), &tA));
    VK_OK(vkc_tensor_alloc(&arena, nb * sizeof(float), &tB));
    VK_OK(vkc_tensor_alloc(&arena, nc * sizeof(float), &tC));
    VK_OK(vkc_upload(&vktest_ctx, tA, A, na * sizeof(float)));
    VK_OK(vkc_upload(&vktest_ctx, tB, B, nb * sizeof(float)));
    VK_OK(vkc_upload(&vktest_ctx, tC, C, nc * sizeof(float)));
    size_t off = (size_t)c->offset * sizeof(float);
    VkcGemmArgs args = {
        .trans_a = c->ta, .trans_b = c->tb, .M = c->M, .N = c->N, .K = c->K,
        .A = vkc_tensor_slice(tA, off, tA.size - off), .lda = lda,
        .B = vkc_tensor_slice(tB, off, tB.size - off), .ldb = ldb,
        .C = vkc_tensor_slice(tC, off, tC.size - off), .ldc = ldc,
        .alpha = c->alpha, .beta = c->beta,
        .batch = batch, .stride_a = sa, .stride_b = sb, .stride_c = sc,
    };
    VkcCmd cmd;
    VK_OK(vkc_cmd_init(&vktest_ctx, &cmd));
    VK_OK(vkc_cmd_begin(&cmd));
    VK_OK(vkc_gemm_record(&gemm, &cmd, &args));
    VK_OK(vkc_cmd_end(&cmd));
    VK_OK(vkc_cmd_submit_wait(&cmd));
    VK_OK(vkc_download(&vktest_ctx, tC, C, nc * sizeof(float)));
    int worst;
    double tol = 1e-5 * sqrt((double)c->K);
    double v = ref_max_violation(C, R, nc, tol, 1e-5, &worst);
    if (v > 1.0)
        fail_msg("%s%s M=%d N=%d K=%d pad=%d off=%d batch=%d: element %d is %g, expected %g", c->ta ? "T" : "N",
                 c->tb ? "T" : "N", c->M, c->N, c->K, c->pad, c->offset, batch, worst, C[worst], R[worst]);
    vkc_cmd_destroy(&cmd);
    vkc_arena_destroy(&arena);
    free(A), free(B), free(C), free(R);
    NO_VALIDATION_MESSAGES();
}

static const int shapes[][3] = {
    {1, 1, 1}, {1, 1, 7}, {3, 5, 7}, {8, 16, 4}, {17, 33, 9}, {64, 64, 64}, {129, 31, 67},
    {200, 3, 50}, {2, 300, 13}, {513, 20, 4}, {16, 130, 259}, {1000, 64, 27},
};
#define NSHAPES (int)(sizeof shapes / sizeof shapes[0])

static void test_forms(bool ta, bool tb)
{
    for (int s = 0; s < NSHAPES; s++) {
        Case c = {ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], 0, 0, 1, 1.0f, 0.0f};
        run_case(&c);
    }
}

static void test_nn(void **state) { (void)state; test_forms(false, false); }
static void test_nt(void **state) { (void)state; test_forms(false, true); }
static void test_tn(void **state) { (void)state; test_forms(true, false); }

/* Padded rows (aligned and not), offsets that are not a multiple of 4, alpha/beta, batches. */
static void test_layouts(void **state)
{
    (void)state;
    const Case cases[] = {
        {false, false, 37, 45, 29, 3, 0, 1, 1.0f, 0.0f},  /* odd lda: element-wise path */
        {false, false, 37, 45, 29, 4, 0, 1, 1.0f, 0.0f},  /* K=29 tail read from padded rows */
        {false, true, 37, 45, 29, 7, 1, 1, 0.5f, 1.0f},   /* offset 1 element, accumulate */
        {true, false, 37, 45, 29, 0, 5, 1, -2.0f, 0.25f},
        {false, false, 20, 24, 16, 0, 0, 3, 1.0f, 0.0f},  /* batch */
        {false, true, 9, 10, 11, 1, 2, 4, 1.0f, 1.0f},
        {true, false, 12, 70, 33, 0, 0, 2, 1.0f, 0.0f},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i]);
}

static void test_bad_shapes(void **state)
{
    (void)state;
    VkcArena arena;
    VK_OK(vkc_arena_init(&arena, &vktest_ctx, VKC_MEMORY_DEVICE));
    VkcTensor t;
    VK_OK(vkc_tensor_alloc(&arena, 100 * sizeof(float), &t));
    VkcCmd cmd;
    VK_OK(vkc_cmd_init(&vktest_ctx, &cmd));
    VK_OK(vkc_cmd_begin(&cmd));
    VkcGemmArgs args = {.M = 20, .N = 20, .K = 20, .A = t, .B = t, .C = t, .lda = 20, .ldb = 20, .ldc = 20, .alpha = 1};
    assert_int_equal(vkc_gemm_record(&gemm, &cmd, &args), VKC_ERR);
    assert_non_null(strstr(vkc_error(), "too small"));
    args.M = 5, args.lda = 3;
    assert_int_equal(vkc_gemm_record(&gemm, &cmd, &args), VKC_ERR);
    assert_non_null(strstr(vkc_error(), "leading dimension"));
    VK_OK(vkc_cmd_end(&cmd));
    vkc_cmd_destroy(&cmd);
    vkc_arena_destroy(&arena);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nn), cmocka_unit_test(test_nt), cmocka_unit_test(test_tn),
        cmocka_unit_test(test_layouts), cmocka_unit_test(test_bad_shapes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
