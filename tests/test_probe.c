/* Linear probe, kNN and .npy files: a separable problem reaches 100%, runs are deterministic,
 * top-k on hand-made logits, kNN votes on a hand-made bank, .npy header bytes and round trips,
 * and clear errors for bad configurations and corrupt files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <cmocka.h>

#include "fixtures.h"
#include "vkclr/knn.h"
#include "vkclr/loss.h"
#include "vkclr/npy.h"
#include "vkclr/probe.h"
#include "vktest.h"

/* n points of `classes` Gaussian-free clusters: class c sits at 3 e_c plus noise in [-0.5, 0.5),
 * so every pair of classes is separated by a margin. Optional shard cap to exercise shards. */
static void separable(VkcArena *arena, uint32_t n, uint32_t dim, uint32_t classes, uint64_t seed, uint32_t shard_rows,
                      VkcFeatures *f)
{
    float *x = malloc(sizeof(float) * n * dim);
    int32_t *y = malloc(sizeof(int32_t) * n);
    uint64_t s = seed;
    for (uint32_t i = 0; i < n; i++) {
        y[i] = (int32_t)(i % classes);
        for (uint32_t d = 0; d < dim; d++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            x[i * dim + d] = (float)((s >> 40) / 16777216.0 - 0.5) + (d == (uint32_t)y[i] ? 3.0f : 0.0f);
        }
    }
    VK_OK(vkc_features_alloc(f, arena, n, dim, shard_rows ? (VkDeviceSize)shard_rows * dim * 4 : 0));
    VK_OK(vkc_features_upload(&vktest_ctx, f, 0, n, x));
    VK_OK(vkc_features_set_labels(&vktest_ctx, f, y, classes));
    free(x);
    free(y);
}

static void run_separable(VkcOptimKind opt, VkcProbeResult *res)
{
    VkcArena arena;
    vkc_arena_init(&arena, &vktest_ctx, VKC_MEMORY_DEVICE);
    VkcFeatures tr, te;
    separable(&arena, 600, 12, 10, 1, 128, &tr); /* 5 shards */
    separable(&arena, 200, 12, 10, 2, 0, &te);
    VkcProbeConfig pc = vkc_probe_defaults();
    pc.epochs = 10, pc.batch = 64, pc.optimizer = opt;
    if (opt == VKC_OPTIM_ADAMW) pc.lr = 0.01f;
    VK_OK(vkc_probe_run(&vktest_ctx, &pc, &tr, &te, 10, res));
    vkc_arena_destroy(&arena);
}

static void test_probe_separable(void **state)
{
    (void)state;
    VkcProbeResult a, b, c;
    run_separable(VKC_OPTIM_SGD, &a);
    assert_true(a.top1 == 1.0 && a.train_top1 == 1.0 && a.top5 == 1.0);
    assert_int_equal(a.steps, 10 * (600 / 64));
    assert_true(a.loss < 0.1);
    run_separable(VKC_OPTIM_SGD, &b); /* same seed: bit-identical */
    assert_memory_equal(&a.loss, &b.loss, sizeof a.loss);
    assert_memory_equal(&a.train_loss, &b.train_loss, sizeof a.train_loss);
    assert_memory_equal(&a.last_epoch_loss, &b.last_epoch_loss, sizeof a.last_epoch_loss);
    run_separable(VKC_OPTIM_ADAMW, &c);
    assert_true(c.top1 == 1.0 && c.train_top1 == 1.0);
    NO_VALIDATION_MESSAGES();
}

/* 10 rows of 7 logits where the label sits at rank r = row (ties with lower classes count
 * against it): top-1 = 1/10, top-5 = 5/10. */
static void test_topk_handmade(void **state)
{
    (void)state;
    enum { B = 10, C = 7 };
    float logits[B * C];
    uint32_t labels[B];
    for (int b = 0; b < B; b++) {
        /* Distinct logits 0..6 in a row; the label is the class holding value 6 - rank. */
        int rank = b < C ? b : C - 1;
        for (int c = 0; c < C; c++) logits[b * C + c] = (float)((c + b) % C);
        for (int c = 0; c < C; c++)
            if (logits[b * C + c] == (float)(C - 1 - rank)) labels[b] = (uint32_t)c;
    }
    /* Rows 7..9: all logits equal, label 0 (rank 0, lower class wins ties), 4 (rank 4), 6 (rank 6). */
    for (int b = 7; b < B; b++)
        for (int c = 0; c < C; c++) logits[b * C + c] = 1.5f;
    labels[7] = 0, labels[8] = 4, labels[9] = 6;
    /* Expected hits: ranks 0..6 for rows 0..6, then 0, 4, 6: top-1 rows 0, 7; top-5 rows 0-4, 7, 8. */
    VkcArena arena;
    vkc_arena_init(&arena, &vktest_ctx, VKC_MEMORY_DEVICE);
    VkcArena host;
    vkc_arena_init(&host, &vktest_ctx, VKC_MEMORY_STAGING);
    VkcReduce reduce;
    VkcXent xe;
    VkcTensor tl, ty, tm;
    VkcCmd cmd;
    VK_OK(vkc_reduce_init(&vktest_ctx, &reduce));
    VK_OK(vkc_xent_init(&vktest_ctx, &xe, &reduce, &arena, B, C));
    VK_OK(vkc_tensor_alloc(&arena, sizeof logits, &tl));
    VK_OK(vkc_tensor_alloc(&arena, sizeof labels, &ty));
    VK_OK(vkc_tensor_alloc(&host, 16, &tm));
    VK_OK(vkc_upload(&vktest_ctx, tl, logits, sizeof logits));
    VK_OK(vkc_upload(&vktest_ctx, ty, labels, sizeof labels));
    VK_OK(vkc_cmd_init(&vktest_ctx, &cmd));
    VK_OK(vkc_cmd_begin(&cmd));
    VK_OK(vkc_xent_forward(&xe, &cmd, tl, ty, tm));
    VK_OK(vkc_cmd_end(&cmd));
    VK_OK(vkc_cmd_submit_wait(&cmd));
    const float *m = tm.mapped;
    assert_float_equal(m[1], 2.0 / 10, 1e-6);
    assert_float_equal(m[2], 7.0 / 10, 1e-6);
    vkc_cmd_destroy(&cmd);
    vkc_xent_destroy(&xe);
    vkc_reduce_destroy(&reduce);
    vkc_arena_destroy(&arena);
    vkc_arena_destroy(&host);
    NO_VALIDATION_MESSAGES();
}

/* Bank of 6 unit-ish 2-D vectors; similarities with the queries are 1, 0.8, 0.6, 0, 0, -1, so
 * the votes are sums of exp(s / 0.1) written out by hand. */
static void test_knn_handmade(void **state)
{
    (void)state;
    const float bank[12] = {1, 0, 0, 1, -1, 0, 0.6f, 0.8f, 0.8f, 0.6f, 0, -1};
    const int32_t bl[6] = {0, 1, 0, 2, 1, 2};
    const float q[4] = {1, 0, 0, 2}; /* the second has norm 2: cosine, not dot product */
    const int32_t ql[2] = {0, 2};
    VkcArena arena;
    vkc_arena_init(&arena, &vktest_ctx, VKC_MEMORY_DEVICE);
    VkcFeatures fb, fq;
    VK_OK(vkc_features_alloc(&fb, &arena, 6, 2, 0));
    VK_OK(vkc_features_alloc(&fq, &arena, 2, 2, 0));
    VK_OK(vkc_features_upload(&vktest_ctx, &fb, 0, 6, bank));
    VK_OK(vkc_features_upload(&vktest_ctx, &fq, 0, 2, q));
    VK_OK(vkc_features_set_labels(&vktest_ctx, &fb, bl, 3));
    VK_OK(vkc_features_set_labels(&vktest_ctx, &fq, ql, 3));
    VkcGemm gemm;
    VkcKnn knn;
    VK_OK(vkc_gemm_init(&vktest_ctx, &gemm));
    VK_OK(vkc_knn_init(&vktest_ctx, &knn, &gemm));
    float votes[6];
    VkcKnnResult res;
    /* k = 4. Query 0 (1,0): sims 1 (#0), 0.8 (#4), 0.6 (#3), then 0 at #1 and #5: the tie goes to
     * #1 (label 1). Votes: class 0 e^10, class 1 e^8 + e^0, class 2 e^6. Label 0: a hit.
     * Query 1 (0,2): 1 (#1), 0.8 (#3), 0.6 (#4), then 0 at #0 and #2 (both label 0): class 0 e^0,
     * class 1 e^10 + e^6, class 2 e^8. Label 2: rank 1, a top-5 hit only. */
    VkcKnnConfig kc = {.k = 4, .temperature = 0.1f};
    VK_OK(vkc_knn_evaluate(&knn, &kc, &fb, &fq, 3, &res, votes));
    const double want[6] = {exp(10), exp(8) + 1, exp(6), 1, exp(10) + exp(6), exp(8)};
    for (int i = 0; i < 6; i++) assert_float_equal(votes[i], want[i], 1e-5 * want[i]);
    assert_float_equal(res.top1, 0.5, 1e-12);
    assert_float_equal(res.top5, 1.0, 1e-12);
    assert_int_equal(res.k, 4);
    /* k larger than the bank: all six vote. */
    kc.k = 200;
    VK_OK(vkc_knn_evaluate(&knn, &kc, &fb, &fq, 3, &res, votes));
    assert_int_equal(res.k, 6);
    assert_float_equal(votes[0], exp(10) + exp(-10), 1e-5 * exp(10)); /* #0 and #2 */
    /* Mismatched widths and bad parameters are refused. */
    VkcFeatures f3;
    VK_OK(vkc_features_alloc(&f3, &arena, 2, 3, 0));
    ASSERT_ERROR_MENTIONS(vkc_knn_evaluate(&knn, &kc, &fb, &f3, 3, &res, NULL), "2 columns", "3");
    kc.temperature = 0;
    ASSERT_ERROR_MENTIONS(vkc_knn_evaluate(&knn, &kc, &fb, &fq, 3, &res, NULL), "temperature");
    vkc_knn_destroy(&knn);
    vkc_gemm_destroy(&gemm);
    vkc_arena_destroy(&arena);
    NO_VALIDATION_MESSAGES();
}

static void test_probe_errors(void **state)
{
    (void)state;
    VkcProbeConfig pc = vkc_probe_defaults();
    pc.epochs = 0;
    ASSERT_ERROR_MENTIONS(vkc_probe_config_check(&pc), "epochs");
    pc = vkc_probe_defaults();
    pc.lr = -1;
    ASSERT_ERROR_MENTIONS(vkc_probe_config_check(&pc), "learning rate");
    pc = vkc_probe_defaults();
    pc.optimizer = VKC_OPTIM_LARS;
    ASSERT_ERROR_MENTIONS(vkc_probe_config_check(&pc), "optimizer");
    pc = vkc_probe_defaults();
    pc.batch = 0;
    ASSERT_ERROR_MENTIONS(vkc_probe_config_check(&pc), "batch");

    VkcArena arena;
    vkc_arena_init(&arena, &vktest_ctx, VKC_MEMORY_DEVICE);
    VkcFeatures a, b;
    VK_OK(vkc_features_alloc(&a, &arena, 8, 4, 0));
    VK_OK(vkc_features_alloc(&b, &arena, 8, 5, 0));
    int32_t bad[8] = {0, 1, 2, 3, 0, 1, 2, 3};
    ASSERT_ERROR_MENTIONS(vkc_features_set_labels(&vktest_ctx, &a, bad, 3), "label 3", "row 3");
    VkcProbeResult res;
    pc = vkc_probe_defaults();
    ASSERT_ERROR_MENTIONS(vkc_probe_run(&vktest_ctx, &pc, &a, &b, 4, &res), "4 columns", "5");
    ASSERT_ERROR_MENTIONS(vkc_features_alloc(&a, &arena, 0, 4, 0), "empty");
    ASSERT_ERROR_MENTIONS(vkc_features_alloc(&a, &arena, 100, 64, 100), "exceeds a shard");
    /* The model-backed extractors say why they cannot run yet (or, once the encoder lands, load). */
    VkcDataset ds;
    VK_OK(vkc_dataset_synthetic(&ds, 16, 8, 8, 8, 1, 4, 1));
    VkcExtractor x;
    VK_OK(vkc_extractor_pixels(&x, &ds));
    assert_int_equal(x.dim, 64);
    VkcFeatures f;
    VK_OK(vkc_extract_features(&x, &vktest_ctx, &ds, &ds.train, 10, &arena, &f));
    assert_int_equal(f.n, 10);
    float px[64];
    VK_OK(vkc_features_download(&vktest_ctx, &f, 3, 1, px));
    for (int i = 0; i < 64; i++) assert_float_equal(px[i], ds.train.pixels[3 * 64 + i] / 255.0f, 1e-7);
    vkc_extractor_destroy(&x);
    vkc_dataset_free(&ds);
    vkc_arena_destroy(&arena);
    NO_VALIDATION_MESSAGES();
}

/* ---------------------------------------------------------------- .npy */

static void test_npy_header_bytes(void **state)
{
    (void)state;
    char h[257] = {0}; /* header bytes plus a terminator for strstr past the magic's 0x00 */
    uint64_t shape[2] = {60000, 784};
    size_t n = vkc_npy_header(h, sizeof h, VKC_NPY_F32, shape, 2);
    assert_int_equal(n, 128);
    assert_memory_equal(h, "\x93NUMPY\x01\x00", 8);
    assert_int_equal((unsigned char)h[8] | (unsigned char)h[9] << 8, 118);
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (60000, 784), }";
    assert_memory_equal(h + 10, dict, strlen(dict));
    for (size_t i = 10 + strlen(dict); i < n - 1; i++) assert_int_equal(h[i], ' ');
    assert_int_equal(h[n - 1], '\n');
    uint64_t one[1] = {5};
    n = vkc_npy_header(h, sizeof h, VKC_NPY_I64, one, 1);
    assert_int_equal(n % 64, 0);
    assert_non_null(strstr(h + 10, "'descr': '<i8', 'fortran_order': False, 'shape': (5,), }"));
    n = vkc_npy_header(h, sizeof h, VKC_NPY_U8, one, 1);
    assert_non_null(strstr(h + 10, "'descr': '|u1'"));
}

static void test_npy_roundtrip_and_errors(void **state)
{
    (void)state;
    char dir[256];
    fixture_dir(dir);
    char path[512];
    snprintf(path, sizeof path, "%s/f.npy", dir);
    float x[6] = {1, -2, 3.5f, 0, 1e-8f, 7};
    uint64_t shape[2] = {2, 3}, got_shape[4];
    VK_OK(vkc_npy_write(path, VKC_NPY_F32, shape, 2, x));
    VkcNpyType t;
    int ndim;
    void *data;
    VK_OK(vkc_npy_read(path, &t, got_shape, &ndim, &data));
    assert_int_equal(t, VKC_NPY_F32);
    assert_int_equal(ndim, 2);
    assert_true(got_shape[0] == 2 && got_shape[1] == 3);
    assert_memory_equal(data, x, sizeof x);
    free(data);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    assert_int_equal(ftell(f), 128 + sizeof x); /* 10 + 60-byte dict + padding: 128 */
    fclose(f);
    int64_t l[3] = {0, 9, -1};
    uint64_t ls[1] = {3};
    snprintf(path, sizeof path, "%s/l.npy", dir);
    VK_OK(vkc_npy_write(path, VKC_NPY_I64, ls, 1, l));
    VK_OK(vkc_npy_read(path, &t, got_shape, &ndim, &data));
    assert_true(t == VKC_NPY_I64 && ndim == 1 && got_shape[0] == 3);
    assert_memory_equal(data, l, sizeof l);
    free(data);

    /* Corrupt files. */
    fixture_write(dir, "magic.npy", "\x93NUMPX\x01\x00\x10\x00", 10);
    snprintf(path, sizeof path, "%s/magic.npy", dir);
    ASSERT_ERROR_MENTIONS(vkc_npy_read(path, &t, got_shape, &ndim, &data), "magic.npy", "magic");
    char hdr[128];
    size_t hn = vkc_npy_header(hdr, sizeof hdr, VKC_NPY_F32, shape, 2);
    fixture_write(dir, "short.npy", hdr, hn + 8); /* 2 of 6 floats */
    snprintf(path, sizeof path, "%s/short.npy", dir);
    ASSERT_ERROR_MENTIONS(vkc_npy_read(path, &t, got_shape, &ndim, &data), "short.npy", "truncated");
    fixture_write(dir, "hdr.npy", hdr, 30);
    snprintf(path, sizeof path, "%s/hdr.npy", dir);
    ASSERT_ERROR_MENTIONS(vkc_npy_read(path, &t, got_shape, &ndim, &data), "hdr.npy", "header");
    char f8[128];
    memcpy(f8, hdr, hn);
    char *d = strstr(f8 + 10, "<f4");
    memcpy(d, "<f8", 3);
    fixture_write(dir, "f8.npy", f8, hn);
    snprintf(path, sizeof path, "%s/f8.npy", dir);
    ASSERT_ERROR_MENTIONS(vkc_npy_read(path, &t, got_shape, &ndim, &data), "f8.npy", "<f8");
    snprintf(path, sizeof path, "%s/no/such/dir/x.npy", dir);
    ASSERT_ERROR_MENTIONS(vkc_npy_write(path, VKC_NPY_F32, shape, 2, x), "x.npy.tmp");
    fixture_cleanup(dir);
}

int main(void)
{
    const struct CMUnitTest vk_tests[] = {
        cmocka_unit_test(test_probe_separable),
        cmocka_unit_test(test_topk_handmade),
        cmocka_unit_test(test_knn_handmade),
        cmocka_unit_test(test_probe_errors),
    };
    const struct CMUnitTest cpu_tests[] = {
        cmocka_unit_test(test_npy_header_bytes),
        cmocka_unit_test(test_npy_roundtrip_and_errors),
    };
    int failed = cmocka_run_group_tests_name("npy", cpu_tests, NULL, NULL);
    return failed + cmocka_run_group_tests_name("probe", vk_tests, vktest_setup, vktest_teardown);
}
