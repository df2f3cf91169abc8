/* Evaluation of trained encoders: the probe and kNN on a checkpoint from a tiny vkclr train run
 * end to end (API and command line), the random-init baseline, the features of a checkpoint
 * equal to those of the model that wrote it, and clear errors for corrupt or mismatched
 * checkpoints (truncated file, another architecture or width, other data channels or size).
 *
 * argv[1]: path of the built vkclr binary (for the command-line tests). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "fixtures.h"
#include "vkclr/features.h"
#include "vkclr/knn.h"
#include "vkclr/probe.h"
#include "vkclr/train.h"

static const char *vkclr_binary;
static char run_dir[256];  /* a tiny training run shared by the tests */
static char ckpt[320];     /* its checkpoint.safetensors */

static void write_all(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* Two epochs of a width-4 convnet on 128 images: 8 steps, a checkpoint, probe and kNN at the end. */
static int setup(void **state)
{
    fixture_dir(run_dir);
    *state = run_dir;
    VkcTrainConfig c = fixture_tiny_run(run_dir, 32, 2, 4, 32);
    c.limit = 128;
    c.knn_k = 50;
    c.knn_bank = 500;
    c.knn_every = 1;
    c.probe_epochs = 3;
    c.probe_limit = 2000;
    VkcTrainResult res;
    if (vkc_train_run(&c, NULL, NULL, NULL, &res)) {
        fprintf(stderr, "training failed: %s\n", vkc_error());
        return -1;
    }
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", run_dir);
    printf("tiny run: probe top-1 %.4f top-5 %.4f, kNN top-1 %.4f top-5 %.4f\n", res.probe_top1, res.probe_top5,
           res.knn_top1, res.knn_top5);
    /* Fashion-MNIST has 10 balanced classes: even a barely trained encoder beats chance clearly. */
    if (!(res.probe_top1 > 0.3 && res.probe_top1 <= res.probe_top5 && res.probe_top5 <= 1) ||
        !(res.knn_top1 > 0.3 && res.knn_top1 <= res.knn_top5 && res.knn_top5 <= 1) || res.validation_messages) {
        fprintf(stderr, "implausible end-of-run evaluation\n");
        return -1;
    }
    return 0;
}

typedef struct {
    VkcContext ctx;
    VkcDataset ds;
    VkcArena arena;
} Env;

static void env_open(Env *e)
{
    VkcContextOptions o = fixture_context();
    if (vkc_context_create(&e->ctx, &o)) fail_msg("%s", vkc_error());
    if (vkc_dataset_load(&e->ds, "fashion-mnist")) fail_msg("%s", vkc_error());
    vkc_arena_init(&e->arena, &e->ctx, VKC_MEMORY_DEVICE);
}

static void env_close(Env *e)
{
    assert_int_equal(e->ctx.validation_messages, 0);
    vkc_arena_destroy(&e->arena);
    vkc_dataset_free(&e->ds);
    vkc_context_destroy(&e->ctx);
}

/* results.json and metrics.jsonl of the run carry the evaluation. */
static void test_run_outputs(void **state)
{
    (void)state;
    char path[400];
    size_t n;
    snprintf(path, sizeof path, "%s/results.json", run_dir);
    char *text = (char *)fixture_read(path, &n);
    cJSON *j = cJSON_Parse(text);
    assert_non_null(j);
    /* ... the trained encoder's figures and, beside them, its random initialisation's. */
    const char *keys[] = {"probe_top1", "probe_top5", "knn_top1", "knn_top5", "random_init_probe_top1",
                          "random_init_probe_top5", "random_init_knn_top1", "random_init_knn_top5"};
    for (int i = 0; i < 8; i++) {
        const cJSON *v = cJSON_GetObjectItem(j, keys[i]);
        if (!cJSON_IsNumber(v) || !(v->valuedouble > 0.3 && v->valuedouble <= 1)) fail_msg("results.json: %s", keys[i]);
    }
    assert_int_equal(cJSON_GetObjectItem(j, "knn_bank")->valueint, 500);
    assert_int_equal(cJSON_GetObjectItem(j, "eval_train_images")->valueint, 2000);
    assert_int_equal(cJSON_GetObjectItem(j, "eval_test_images")->valueint, 10000);
    cJSON_Delete(j);
    free(text);
    /* --knn-every 1 over 2 epochs: one monitor line after epoch 1 (epoch 2 is the final evaluation). */
    snprintf(path, sizeof path, "%s/metrics.jsonl", run_dir);
    text = (char *)fixture_read(path, &n);
    int monitors = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strstr(line, "knn_top1")) continue;
        cJSON *m = cJSON_Parse(line);
        assert_non_null(m);
        assert_int_equal(cJSON_GetObjectItem(m, "step")->valueint, 4);
        assert_int_equal(cJSON_GetObjectItem(m, "knn_queries")->valueint, 2000);
        double top1 = cJSON_GetObjectItem(m, "knn_top1")->valuedouble;
        assert_true(top1 > 0.2 && top1 <= 1);
        cJSON_Delete(m);
        monitors++;
    }
    assert_int_equal(monitors, 1);
    free(text);
}

/* The probe on the checkpoint's encoder (given as the run directory) works end to end, and the
 * features equal those of the checkpoint file given directly (the same bytes). */
static void test_probe_checkpoint(void **state)
{
    (void)state;
    Env e;
    env_open(&e);
    VkcExtractor x, y;
    VkcFeatures train, test, again;
    if (vkc_extractor_checkpoint(&x, &e.ctx, run_dir, -1, &e.ds) ||
        vkc_extract_features(&x, &e.ctx, &e.ds, &e.ds.train, 2000, &e.arena, &train) ||
        vkc_extract_features(&x, &e.ctx, &e.ds, &e.ds.test, 1000, &e.arena, &test) ||
        vkc_extractor_checkpoint(&y, &e.ctx, ckpt, -1, &e.ds) ||
        vkc_extract_features(&y, &e.ctx, &e.ds, &e.ds.test, 1000, &e.arena, &again))
        fail_msg("%s", vkc_error());
    assert_int_equal(x.dim, 16); /* convnet width 4: 4 x 4 features */
    assert_non_null(strstr(x.name, "convnet width 4"));
    float *a = malloc(1000 * 16 * 4), *b = malloc(1000 * 16 * 4);
    if (vkc_features_download(&e.ctx, &test, 0, 1000, a) || vkc_features_download(&e.ctx, &again, 0, 1000, b))
        fail_msg("%s", vkc_error());
    assert_memory_equal(a, b, 1000 * 16 * 4);
    double spread = 0;
    for (int i = 0; i < 1000 * 16; i++) {
        assert_true(isfinite(a[i]));
        spread += fabsf(a[i] - a[i % 16]);
    }
    assert_true(spread > 0); /* not the same row for every image */
    free(a);
    free(b);
    VkcProbeConfig pc = vkc_probe_defaults();
    pc.epochs = 5;
    VkcProbeResult pr;
    if (vkc_probe_run(&e.ctx, &pc, &train, &test, 10, &pr)) fail_msg("%s", vkc_error());
    printf("probe on the checkpoint: top-1 %.4f top-5 %.4f train %.4f\n", pr.top1, pr.top5, pr.train_top1);
    assert_true(pr.top1 > 0.3 && pr.top5 > pr.top1);
    vkc_extractor_destroy(&x);
    vkc_extractor_destroy(&y);
    env_close(&e);
}

/* The random-init baseline: deterministic per seed, different across seeds. */
static void test_random_init(void **state)
{
    (void)state;
    Env e;
    env_open(&e);
    VkcExtractor x;
    VkcFeatures f[3];
    uint64_t seeds[3] = {1, 1, 2};
    for (int i = 0; i < 3; i++) {
        VkcModelConfig mc = vkc_model_defaults();
        mc.width = 4;
        if (vkc_extractor_random_init(&x, &e.ctx, &mc, seeds[i], NULL, &e.ds) ||
            vkc_extract_features(&x, &e.ctx, &e.ds, &e.ds.test, 300, &e.arena, &f[i]))
            fail_msg("%s", vkc_error());
        vkc_extractor_destroy(&x);
    }
    float *a = malloc(300 * 16 * 4), *b = malloc(300 * 16 * 4), *c = malloc(300 * 16 * 4);
    if (vkc_features_download(&e.ctx, &f[0], 0, 300, a) || vkc_features_download(&e.ctx, &f[1], 0, 300, b) ||
        vkc_features_download(&e.ctx, &f[2], 0, 300, c))
        fail_msg("%s", vkc_error());
    assert_memory_equal(a, b, 300 * 16 * 4);
    assert_memory_not_equal(a, c, 300 * 16 * 4);
    free(a);
    free(b);
    free(c);
    /* Encoder names are parsed by the option table (test_options.c); the library refuses a kind
     * it does not know and a width outside the model's range. */
    VkcModelConfig bad = vkc_model_defaults();
    bad.encoder = (VkcEncoderKind)99;
    ASSERT_ERROR_MENTIONS(vkc_extractor_random_init(&x, &e.ctx, &bad, 0, NULL, &e.ds), "unknown encoder");
    bad = vkc_model_defaults();
    bad.width = 0;
    ASSERT_ERROR_MENTIONS(vkc_extractor_random_init(&x, &e.ctx, &bad, 0, NULL, &e.ds), "width 0");
    env_close(&e);
}

/* A copy of the checkpoint whose configuration (in the safetensors metadata) has key set to a
 * new value: the header is rewritten with its new length, the tensor data kept. */
static void write_with_config(const char *path, const char *key, cJSON *value)
{
    size_t n;
    uint8_t *file = fixture_read(ckpt, &n);
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)file[i] << (8 * i);
    char *htext = malloc(hlen + 1);
    memcpy(htext, file + 8, hlen);
    htext[hlen] = 0;
    cJSON *h = cJSON_Parse(htext);
    assert_non_null(h);
    cJSON *meta = cJSON_GetObjectItem(h, "__metadata__");
    cJSON *cfg = cJSON_Parse(cJSON_GetObjectItem(meta, "config")->valuestring);
    assert_non_null(cfg);
    cJSON_ReplaceItemInObject(cfg, key, value);
    char *ctext = cJSON_PrintUnformatted(cfg);
    cJSON_ReplaceItemInObject(meta, "config", cJSON_CreateString(ctext));
    char *nh = cJSON_PrintUnformatted(h);
    size_t len = strlen(nh), padded = (len + 7) / 8 * 8;
    uint8_t *out = malloc(8 + padded + (n - 8 - hlen));
    for (int i = 0; i < 8; i++) out[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    memcpy(out + 8, nh, len);
    memset(out + 8 + len, ' ', padded - len);
    memcpy(out + 8 + padded, file + 8 + hlen, n - 8 - hlen);
    fixture_resign(out, 8 + padded + (n - 8 - hlen));
    write_all(path, out, 8 + padded + (n - 8 - hlen));
    free(out);
    free(nh);
    free(ctext);
    cJSON_Delete(cfg);
    cJSON_Delete(h);
    free(htext);
    free(file);
}

static void test_bad_checkpoints(void **state)
{
    (void)state;
    Env e;
    env_open(&e);
    VkcExtractor x;
    char dir[256], path[400];
    fixture_dir(dir);

    /* Truncated: the tensor data stops early. */
    size_t n;
    uint8_t *file = fixture_read(ckpt, &n);
    snprintf(path, sizeof path, "%s/truncated.safetensors", dir);
    write_all(path, file, n - 1000);
    ASSERT_ERROR_MENTIONS(vkc_extractor_checkpoint(&x, &e.ctx, path, -1, &e.ds), path, "truncated");
    /* Cut inside the header. */
    write_all(path, file, 100);
    ASSERT_ERROR_MENTIONS(vkc_extractor_checkpoint(&x, &e.ctx, path, -1, &e.ds), path, "truncated");
    /* Not a safetensors file at all. */
    snprintf(path, sizeof path, "%s/garbage.safetensors", dir);
    write_all(path, "hello, this is not a checkpoint", 31);
    ASSERT_ERROR_MENTIONS(vkc_extractor_checkpoint(&x, &e.ctx, path, -1, &e.ds), path, "not a safetensors file");
    free(file);

    /* Another architecture than the tensors: the model of the metadata misses them. */
    snprintf(path, sizeof path, "%s/arch.safetensors", dir);
    write_with_config(path, "encoder", cJSON_CreateString("resnet10"));
    ASSERT_ERROR_MENTIONS(vkc_extractor_checkpoint(&x, &e.ctx, path, -1, &e.ds), path, "is missing",
                          "another architecture");
    /* Another width: the same names with other shapes. */
    snprintf(path, sizeof path, "%s/width.safetensors", dir);
    write_with_config(path, "width", cJSON_CreateNumber(8));
    ASSERT_ERROR_MENTIONS(vkc_extractor_checkpoint(&x, &e.ctx, path, -1, &e.ds), path, "dimension", "the model has 8");

    /* Data other than the checkpoint was trained on: 3 channels are refused; 32x32 images are
     * brought to the model's 28x28 (shorter side resized, centre cropped). */
    VkcDataset rgb, big;
    if (vkc_dataset_synthetic(&rgb, 64, 64, 28, 28, 3, 10, 1) || vkc_dataset_synthetic(&big, 64, 64, 32, 32, 1, 10, 1))
        fail_msg("%s", vkc_error());
    ASSERT_ERROR_MENTIONS(vkc_extractor_checkpoint(&x, &e.ctx, run_dir, -1, &rgb), ckpt, "1-channel", "3-channel");
    if (vkc_extractor_checkpoint(&x, &e.ctx, run_dir, -1, &big)) fail_msg("%s", vkc_error());
    VkcArena arena;
    vkc_arena_init(&arena, &e.ctx, VKC_MEMORY_DEVICE);
    VkcFeatures f;
    if (vkc_extract_features(&x, &e.ctx, &big, &big.test, 8, &arena, &f)) fail_msg("%s", vkc_error());
    assert_int_equal(f.n, 8);
    vkc_extractor_destroy(&x);
    vkc_arena_destroy(&arena);
    vkc_dataset_free(&rgb);
    vkc_dataset_free(&big);

    /* Paths that hold no checkpoint. */
    ASSERT_ERROR_MENTIONS(vkc_extractor_checkpoint(&x, &e.ctx, "/nonexistent/run", -1, &e.ds), "/nonexistent/run");
    ASSERT_ERROR_MENTIONS(vkc_extractor_checkpoint(&x, &e.ctx, dir, -1, &e.ds), dir, "without a checkpoint.safetensors");
    fixture_cleanup(dir);
    env_close(&e);
}

/* vkclr probe --checkpoint RUN --random-init and vkclr export --checkpoint FILE. */
static void test_cli(void **state)
{
    (void)state;
    if (!vkclr_binary) skip();
    char dir[256], args[1024], out[8192], path[400];
    fixture_dir(dir);
    snprintf(args, sizeof args,
             "probe --checkpoint %s --random-init --width 4 --limit 1000 --test-limit 500 --epochs 3 --quiet "
             "--out %s/probe.json",
             run_dir, dir);
    assert_int_equal(fixture_run(vkclr_binary, args, out, sizeof out), 0);
    assert_null(strstr(out, "training bought")); /* --random-init replaces the run's own baseline */
    snprintf(path, sizeof path, "%s/probe.json", dir);
    size_t n;
    char *text = (char *)fixture_read(path, &n);
    cJSON *j = cJSON_Parse(text);
    assert_non_null(j);
    cJSON *results = cJSON_GetObjectItem(j, "results");
    for (int i = 0; i < 2; i++) {
        const cJSON *r = cJSON_GetObjectItem(results, i ? "checkpoint" : "random_init");
        assert_non_null(r);
        assert_int_equal(cJSON_GetObjectItem(r, "dim")->valueint, 16);
        double top1 = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "probe"), "top1")->valuedouble;
        assert_true(top1 > 0.3 && top1 <= 1);
    }
    cJSON_Delete(j);
    free(text);

    snprintf(args, sizeof args, "export --checkpoint %s --features %s/f.npy --split train --limit 300", ckpt, dir);
    assert_int_equal(fixture_run(vkclr_binary, args, out, sizeof out), 0);
    snprintf(path, sizeof path, "%s/f.npy", dir);
    uint8_t *npy = fixture_read(path, &n);
    assert_true(n > 10 && !memcmp(npy, "\x93NUMPY", 6));
    assert_non_null(strstr((char *)npy + 10, "'shape': (300, 16)"));
    size_t header = 10 + (size_t)(npy[8] | npy[9] << 8); /* version 1.0: uint16 header length */
    assert_int_equal(n, header + 300 * 16 * 4);
    free(npy);

    /* A checkpoint alone comes with its run's random initialisation and the difference. */
    snprintf(args, sizeof args, "probe --checkpoint %s --limit 1000 --test-limit 500 --epochs 2 --quiet", run_dir);
    assert_int_equal(fixture_run(vkclr_binary, args, out, sizeof out), 0);
    assert_non_null(strstr(out, "random_init"));
    assert_non_null(strstr(out, "training bought:  probe top-1"));
    snprintf(args, sizeof args, "probe --checkpoint %s/nothing-here --epochs 1", dir);
    assert_int_equal(fixture_run(vkclr_binary, args, out, sizeof out), 1);
    assert_non_null(strstr(out, "nothing-here"));
    fixture_cleanup(dir);
}

/* A run on synthetic data: probe and export read the same data spec from its checkpoint. */
static void test_synthetic_run(void **state)
{
    (void)state;
    if (!vkclr_binary) skip();
    char dir[256], args[1024], out[8192], path[400];
    fixture_dir(dir);
    VkcTrainConfig c = fixture_tiny_run(dir, 32, 1, 2, 16);
    snprintf(c.data, sizeof c.data, "synthetic:12x12x3:128:7");
    VkcTrainResult res;
    if (vkc_train_run(&c, NULL, NULL, NULL, &res)) fail_msg("%s", vkc_error());
    snprintf(args, sizeof args, "probe --checkpoint %s --epochs 1 --test-limit 200 --quiet", dir);
    assert_int_equal(fixture_run(vkclr_binary, args, out, sizeof out), 0);
    assert_non_null(strstr(out, "synthetic"));
    snprintf(args, sizeof args, "export --checkpoint %s --features %s/f.npy --split test --limit 50", dir, dir);
    assert_int_equal(fixture_run(vkclr_binary, args, out, sizeof out), 0);
    snprintf(path, sizeof path, "%s/f.npy", dir);
    size_t n;
    uint8_t *npy = fixture_read(path, &n);
    assert_non_null(strstr((char *)npy + 10, "'shape': (50, 8)"));
    free(npy);
    /* The spec's seed is part of the data: another seed is other images. */
    VkcDataset a, b;
    if (vkc_dataset_load(&a, "synthetic:12x12x3:128:7") || vkc_dataset_load(&b, "synthetic:12x12x3:128:8"))
        fail_msg("%s", vkc_error());
    assert_memory_not_equal(a.train.pixels, b.train.pixels, 12 * 12 * 3);
    vkc_dataset_free(&a);
    vkc_dataset_free(&b);
    fixture_cleanup(dir);
}

int main(int argc, char **argv)
{
    if (argc > 1) vkclr_binary = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_outputs),     cmocka_unit_test(test_probe_checkpoint),
        cmocka_unit_test(test_random_init),     cmocka_unit_test(test_bad_checkpoints),
        cmocka_unit_test(test_cli),             cmocka_unit_test(test_synthetic_run),
    };
    return cmocka_run_group_tests(tests, setup, fixture_teardown_dir);
}
