/* Reliability of vkclr train, probe, export and augment on a device (lavapipe): checkpoints
 * whose metadata or bytes were changed are refused by every command, naming the file; an older
 * checkpoint without a checksum loads with one warning; a stop at any moment of a run (mid
 * interval, in the kNN monitor, in the final evaluation) resumes to the metrics.jsonl and
 * checkpoint of an uninterrupted run; nonsense is refused (a shorter schedule than the
 * checkpoint, a run directory without --force, data without training images); data without
 * test images says the evaluation was skipped; an export on a full disk keeps the old files.
 *
 * argv[1]: path of the built vkclr binary. Tiny runs: synthetic 8x8 images, a convnet of width 2. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "vkclr/train.h"
#include "fixtures.h"
#include "vkclr/npy.h"

static const char *vkclr_binary;
static char run_dir[256]; /* a finished 2-epoch run (8 steps) shared by the tests */

static VkcTrainConfig tiny(const char *out)
{
    VkcTrainConfig c = fixture_tiny_run(out, 16, 2, 2, 8); /* 4 steps per epoch */
    snprintf(c.data, sizeof c.data, "synthetic:8x8x1:64");
    c.log_every = 3;
    return c;
}

static void train_ok(const VkcTrainConfig *c, const char *resume, VkcStepHook hook, void *user, VkcTrainResult *res)
{
    if (vkc_train_run(c, resume, hook, user, res)) fail_msg("training failed: %s", vkc_error());
    assert_int_equal(res->validation_messages, 0);
}

static int setup(void **state)
{
    fixture_dir(run_dir);
    *state = run_dir;
    VkcTrainConfig c = tiny(run_dir);
    VkcTrainResult res;
    if (vkc_train_run(&c, NULL, NULL, NULL, &res) || res.steps != 8) {
        fprintf(stderr, "tiny run failed: %s\n", vkc_error());
        return -1;
    }
    return 0;
}

/* Run the binary; its exit status must be `status` and its output mention each fragment. */
static void expect(int status, const char *args, const char *a, const char *b)
{
    char out[16384];
    int got = fixture_run(vkclr_binary, args, out, sizeof out);
    if (got != status || (a && !strstr(out, a)) || (b && !strstr(out, b)))
        fail_msg("'vkclr %s' gave status %d (want %d) and output\n%s\n(want '%s' and '%s')", args, got, status, out,
                 a ? a : "", b ? b : "");
}

/* ---------------------------------------------------------------- changed checkpoints */

/* A copy of the run's checkpoint in dir/NAME/checkpoint.safetensors with metadata `key` (or,
 * with config_key, the configuration's key) set to a new value, checksum recomputed: what the
 * reader then sees is the changed value, not a changed byte. */
static const char *mutated(const char *dir, const char *name, const char *key, const char *config_key, cJSON *value)
{
    char src[400], rel[300];
    snprintf(src, sizeof src, "%s/checkpoint.safetensors", run_dir);
    size_t n;
    uint8_t *file = fixture_read(src, &n);
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)file[i] << (8 * i);
    char *htext = strndup((char *)file + 8, hlen);
    cJSON *h = cJSON_Parse(htext);
    cJSON *meta = cJSON_GetObjectItem(h, "__metadata__");
    if (config_key) {
        cJSON *cfg = cJSON_Parse(cJSON_GetObjectItem(meta, "config")->valuestring);
        cJSON_ReplaceItemInObjectCaseSensitive(cfg, config_key, value);
        char *ctext = cJSON_PrintUnformatted(cfg);
        cJSON_ReplaceItemInObjectCaseSensitive(meta, "config", cJSON_CreateString(ctext));
        free(ctext);
        cJSON_Delete(cfg);
    } else {
        cJSON_ReplaceItemInObjectCaseSensitive(meta, key, value);
    }
    char *nh = cJSON_PrintUnformatted(h);
    size_t len = strlen(nh), padded = (len + 7) / 8 * 8, data = n - 8 - hlen, total = 8 + padded + data;
    uint8_t *out = malloc(total);
    for (int i = 0; i < 8; i++) out[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    memcpy(out + 8, nh, len);
    memset(out + 8 + len, ' ', padded - len);
    memcpy(out + 8 + padded, file + 8 + hlen, data);
    fixture_resign(out, total);
    snprintf(rel, sizeof rel, "%s/checkpoint.safetensors", name);
    fixture_write(dir, rel, out, total);
    free(out), free(nh), free(htext), free(file);
    cJSON_Delete(h);
    static char path[400];
    snprintf(path, sizeof path, "%s/%s/checkpoint.safetensors", dir, name);
    return path;
}

/* probe, export and train --resume all refuse the checkpoint in dir/name, naming it. */
static void refused_by_all(const char *dir, const char *name, const char *file, const char *why)
{
    char args[1200], run[400];
    snprintf(run, sizeof run, "%s/%s", dir, name);
    snprintf(args, sizeof args, "probe --checkpoint %s --epochs 1 --no-knn --quiet", file);
    expect(1, args, file, why);
    snprintf(args, sizeof args, "export --checkpoint %s --features %s/x.npy", file, dir);
    expect(1, args, file, why);
    snprintf(args, sizeof args, "train --resume %s --quiet", run);
    expect(1, args, file, why);
}

static void test_changed_checkpoints(void **state)
{
    (void)state;
    if (!vkclr_binary) skip();
    char dir[256];
    fixture_dir(dir);
    static const struct {
        const char *key, *config_key, *text;
        double number;
        const char *why;
    } cases[] = {
        {"step", NULL, "abc", 0, "not a count of steps"},
        {"step", NULL, "-8", 0, "not a count of steps"},
        {"step", NULL, "99999999999999999", 0, "not a count of steps"},
        {"step", NULL, "2000000000000", 0, "beyond any schedule"},
        {"interval", NULL, "1 nan", 0, "'interval'"},
        {NULL, "limit", NULL, 1e300, "configuration key 'limit'"},
        {NULL, "limit", NULL, 3e9, "configuration key 'limit'"},
        {NULL, "limit", NULL, -1, "configuration key 'limit'"},
        {NULL, "width", NULL, 1e300, "configuration key 'width'"},
        {NULL, "batch", NULL, 1e19, "configuration key 'batch'"},
        {NULL, "lr", NULL, 1e39, "configuration key 'lr'"},
        {NULL, "seed", NULL, 1.8446744073709552e19, "configuration key 'seed'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "m%zu", i);
        cJSON *v = cases[i].text ? cJSON_CreateString(cases[i].text) : cJSON_CreateNumber(cases[i].number);
        const char *file = mutated(dir, name, cases[i].key, cases[i].config_key, v);
        refused_by_all(dir, name, file, cases[i].why);
    }
    /* A step of 100 in an 8-step run: probe and export have no schedule, training does. */
    const char *file = mutated(dir, "past", "step", NULL, cJSON_CreateString("100"));
    char args[1200];
    snprintf(args, sizeof args, "train --resume %s/past --quiet", dir);
    expect(1, args, file, "past the end of a 2-epoch schedule (8 steps)");
    /* A byte changed in the data, then in the header (no checksum recomputed): corrupt. */
    char src[400], rel[64];
    snprintf(src, sizeof src, "%s/checkpoint.safetensors", run_dir);
    size_t n;
    uint8_t *bytes = fixture_read(src, &n);
    for (int k = 0; k < 2; k++) {
        size_t at = k ? 40 : n - 7; /* a float of the optimizer state; a byte of the header */
        bytes[at] ^= 0x10;
        snprintf(rel, sizeof rel, "flip%d/checkpoint.safetensors", k);
        fixture_write(dir, rel, bytes, n);
        bytes[at] ^= 0x10;
        char name[16], path[400];
        snprintf(name, sizeof name, "flip%d", k);
        snprintf(path, sizeof path, "%s/%s", dir, rel);
        refused_by_all(dir, name, path, "corrupt");
    }
    free(bytes);
    fixture_cleanup(dir);
}

/* A checkpoint of format 1 (before checksums) loads, with one warning on stderr. */
static void test_old_checkpoint_warns(void **state)
{
    (void)state;
    if (!vkclr_binary) skip();
    char dir[256], src[400], args[1200], out[8192];
    fixture_dir(dir);
    snprintf(src, sizeof src, "%s/checkpoint.safetensors", run_dir);
    size_t n;
    uint8_t *file = fixture_read(src, &n);
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)file[i] << (8 * i);
    /* Cut the checksum entry out (spaces keep the length), and say format 1. */
    char *h = (char *)file + 8, *e = memmem(h, hlen, ",\"checksum\":\"", 13);
    assert_non_null(e);
    size_t elen = 13 + 35 + 1;
    memmove(e, e + elen, hlen - (size_t)(e - h) - elen);
    memset(h + hlen - elen, ' ', elen);
    char *fmt = memmem(h, hlen, "vkclr-checkpoint-2", 18);
    fmt[17] = '1';
    fixture_write(dir, "old/checkpoint.safetensors", file, n);
    free(file);
    snprintf(args, sizeof args, "export --checkpoint %s/old --features %s/f.npy --limit 10", dir, dir);
    assert_int_equal(fixture_run(vkclr_binary, args, out, sizeof out), 0);
    char *w = strstr(out, "has no checksum");
    assert_non_null(w);
    assert_null(strstr(w + 1, "has no checksum")); /* once */
    fixture_cleanup(dir);
}

/* ---------------------------------------------------------------- nonsense refused */

static void test_nonsense_refused(void **state)
{
    (void)state;
    if (!vkclr_binary) skip();
    char dir[256], args[1200], path[400];
    fixture_dir(dir);
    /* A finished 2-epoch run resumed with a 1-epoch schedule. */
    snprintf(args, sizeof args, "train --resume %s --epochs 1 --quiet", run_dir);
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", run_dir);
    expect(1, args, path, "resume with at least --epochs 2");
    /* A new run into a directory holding one: refused, naming --resume and --force. */
    snprintf(args, sizeof args, "train --data synthetic:8x8x1:64 --width 2 --batch 16 --epochs 1 --knn-k 0 "
                                "--probe-epochs 0 --quiet --out %s", run_dir);
    expect(1, args, "already holds a run", "--force");
    expect(1, args, "--resume", NULL);
    snprintf(args, sizeof args, "train --resume %s --force", run_dir);
    expect(2, args, "--force", NULL);
    /* With --force into a copy of the run: the old run's files are replaced. */
    char copy[300];
    snprintf(copy, sizeof copy, "%s/copy", dir);
    VkcTrainConfig c = tiny(copy);
    VkcTrainResult res;
    train_ok(&c, NULL, NULL, NULL, &res);
    c.epochs = 1;
    c.force = true;
    train_ok(&c, NULL, NULL, NULL, &res);
    assert_int_equal(res.steps, 4);
    VkcTrainConfig back;
    int64_t step;
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", copy);
    if (vkc_checkpoint_read_config(path, &back, &step)) fail_msg("%s", vkc_error());
    assert_int_equal(step, 4);
    /* --stop-after an epoch the checkpoint has passed. */
    VkcTrainConfig again = tiny("");
    again.stop_after = 1;
    again.epochs = 3;
    assert_int_equal(vkc_train_run(&again, copy, NULL, NULL, &res), VKC_ERR);
    assert_non_null(strstr(vkc_error(), "--stop-after 1"));
    /* augment on IDX data without training images. */
    uint8_t images[16] = {0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 4}, labels[8] = {0, 0, 8, 1, 0, 0, 0, 0};
    uint8_t timages[32] = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 4}, tlabels[9] = {0, 0, 8, 1, 0, 0, 0, 1, 0};
    fixture_write(dir, "idx/train-images-idx3-ubyte", images, 16);
    fixture_write(dir, "idx/train-labels-idx1-ubyte", labels, 8);
    fixture_write(dir, "idx/t10k-images-idx3-ubyte", timages, 32);
    fixture_write(dir, "idx/t10k-labels-idx1-ubyte", tlabels, 9);
    snprintf(args, sizeof args, "augment --data idx:%s/idx --out %s/grid.png", dir, dir);
    expect(1, args, "no training images", NULL);
    snprintf(path, sizeof path, "%s/grid.png", dir);
    assert_int_equal(access(path, F_OK), -1);
    snprintf(args, sizeof args, "probe --pixels --data idx:%s/idx --epochs 1", dir);
    expect(1, args, "no training images", NULL);
    snprintf(args, sizeof args, "export --pixels --data idx:%s/idx --split train --features %s/e.npy", dir, dir);
    expect(1, args, "no images", NULL);
    fixture_cleanup(dir);
}

/* Data without test images: the run says the evaluation is skipped, and results.json says why. */
static void test_no_test_images(void **state)
{
    (void)state;
    if (!vkclr_binary) skip();
    char dir[256], args[1200], out[8192], path[400];
    fixture_dir(dir);
    for (int i = 0; i < 16; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "data/train/%c/%02d.png", 'a' + i % 2, i);
        fixture_png_gray(dir, rel, 8, 8, (uint8_t)(i * 15));
    }
    snprintf(args, sizeof args, "train --data folder:%s/data --width 2 --batch 8 --epochs 1 --out %s/run", dir, dir);
    assert_int_equal(fixture_run(vkclr_binary, args, out, sizeof out), 0);
    assert_non_null(strstr(out, "has no test images"));
    snprintf(path, sizeof path, "%s/run/results.json", dir);
    size_t n;
    char *text = (char *)fixture_read(path, &n);
    cJSON *j = cJSON_Parse(text);
    const cJSON *e = cJSON_GetObjectItem(j, "evaluation");
    assert_true(cJSON_IsString(e));
    assert_non_null(strstr(e->valuestring, "skipped"));
    assert_non_null(strstr(e->valuestring, "no test images"));
    cJSON_Delete(j);
    free(text);
    fixture_cleanup(dir);
}

/* An export replaced on a full disk (a tmpfs with no page left: fixtures.h) keeps the old
 * features, labels and manifest, and the message names the file it could not write. */
static void test_export_full_disk(void **state)
{
    (void)state;
    if (!vkclr_binary) skip();
    if (!fixture_small_disks_ok) {
        printf("SKIP: no private mount namespace here (neither root nor user namespaces): no full disk to test on\n");
        skip();
    }
    char dir[256], disk[300], args[1200], log[300], f[320], m[320], tmp[340];
    fixture_dir(dir);
    snprintf(disk, sizeof disk, "%s/disk", dir);
    mkdir(disk, 0755);
    fixture_small_disk(disk, 1 << 20, false);
    snprintf(f, sizeof f, "%s/f.npy", disk);
    snprintf(m, sizeof m, "%s/f.export.json", disk);
    snprintf(log, sizeof log, "%s/log", dir);
    snprintf(args, sizeof args, "export --checkpoint %s --features %s --limit 40", run_dir, f);
    assert_int_equal(fixture_wait(fixture_spawn(vkclr_binary, args, log, 0)), 0);
    uint32_t rows;
    if (vkc_export_check(m, &rows)) fail_msg("%s", vkc_error());
    assert_int_equal(rows, 40);
    size_t n_before, n_after;
    uint8_t *before = fixture_read(f, &n_before);
    /* The disk is full: not one more page for the new files. */
    fixture_small_disk(disk, fixture_disk_used(disk), true);
    snprintf(args, sizeof args, "export --checkpoint %s --features %s --limit 60", run_dir, f);
    assert_int_equal(fixture_wait(fixture_spawn(vkclr_binary, args, log, 0)), 1);
    char *text = (char *)fixture_read(log, &n_after);
    printf("full disk: %s", text);
    assert_non_null(strstr(text, disk));
    free(text);
    uint8_t *after = fixture_read(f, &n_after);
    assert_int_equal(n_before, n_after);
    assert_memory_equal(before, after, n_before);
    if (vkc_export_check(m, &rows)) fail_msg("%s", vkc_error());
    assert_int_equal(rows, 40);
    snprintf(tmp, sizeof tmp, "%s.tmp", f);
    assert_int_equal(access(tmp, F_OK), -1);
    free(before), free(after);
    fixture_small_disk_remove(disk);
    fixture_cleanup(dir);
}

/* ---------------------------------------------------------------- stops and resumes */

typedef struct {
    int64_t stop_at; /* ask for a stop after this step (0: never) */
} Stopper;

static void stop_hook(void *user, int64_t step, float loss, float accuracy)
{
    (void)loss, (void)accuracy;
    Stopper *s = user;
    if (s->stop_at && step == s->stop_at) vkc_train_request_stop();
}


/* Stopped in the middle of a logging interval (step 5 of 12, lines every 3 steps), at an epoch
 * end inside the kNN monitor (step 4), and at the last step (inside the final evaluation): each
 * resumed run ends with the metrics.jsonl (timing fields aside) and checkpoint of an
 * uninterrupted run, and the evaluation interrupted leaves the checkpoint and no results.json. */
static void test_stops_resume_exactly(void **state)
{
    (void)state;
    char straight[256];
    fixture_dir(straight);
    VkcTrainConfig c = tiny(straight);
    c.epochs = 3;
    c.knn_k = 5;
    c.knn_bank = 64;
    c.knn_every = 1;
    c.probe_epochs = 2;
    VkcTrainResult res;
    train_ok(&c, NULL, NULL, NULL, &res);
    assert_int_equal(res.steps, 12);
    char *want = fixture_metrics_untimed(straight);
    static const int64_t stops[] = {5, 4, 12};
    for (size_t k = 0; k < sizeof stops / sizeof stops[0]; k++) {
        char dir[256], path[400];
        fixture_dir(dir);
        snprintf(c.out, sizeof c.out, "%s", dir);
        Stopper s = {stops[k]};
        train_ok(&c, NULL, stop_hook, &s, &res);
        assert_true(res.interrupted);
        assert_int_equal(res.steps, stops[k]);
        snprintf(path, sizeof path, "%s/results.json", dir);
        assert_int_equal(access(path, F_OK), -1);
        VkcTrainConfig back;
        int64_t step;
        snprintf(path, sizeof path, "%s/checkpoint.safetensors", dir);
        if (vkc_checkpoint_read_config(path, &back, &step)) fail_msg("%s", vkc_error());
        assert_int_equal(step, stops[k]);
        VkcTrainConfig again = tiny("");
        again.out[0] = 0;
        again.epochs = 3;
        train_ok(&again, dir, NULL, NULL, &res);
        assert_false(res.interrupted);
        assert_int_equal(res.steps, 12);
        char *got = fixture_metrics_untimed(dir);
        if (strcmp(want, got)) fail_msg("stopped at %lld: metrics.jsonl differs\nwant:\n%s\ngot:\n%s", (long long)stops[k], want, got);
        free(got);
        fixture_same_file(straight, dir, "checkpoint.safetensors");
        snprintf(path, sizeof path, "%s/results.json", dir);
        size_t n;
        char *text = (char *)fixture_read(path, &n);
        assert_non_null(strstr(text, "\"evaluation\":\t\"done\""));
        free(text);
        printf("stopped after step %lld, resumed: metrics.jsonl and checkpoint as uninterrupted\n", (long long)stops[k]);
        fixture_cleanup(dir);
    }
    free(want);
    fixture_cleanup(straight);
}

/* A stop asked for before the run starts (a signal while the data loads): nothing trained,
 * nothing of a run written, and the request does not outlive the run. */
static void test_stop_during_setup(void **state)
{
    (void)state;
    char dir[256], path[400];
    fixture_dir(dir);
    VkcTrainConfig c = tiny(dir);
    VkcTrainResult res;
    vkc_train_request_stop();
    train_ok(&c, NULL, NULL, NULL, &res);
    assert_true(res.interrupted);
    assert_int_equal(res.steps, 0);
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", dir);
    assert_int_equal(access(path, F_OK), -1);
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    assert_int_equal(access(path, F_OK), -1);
    train_ok(&c, NULL, NULL, NULL, &res); /* the next run is not stopped */
    assert_false(res.interrupted);
    assert_int_equal(res.steps, 8);
    fixture_cleanup(dir);
}

int main(int argc, char **argv)
{
    fixture_small_disks_init(); /* first, while this process has one thread */
    if (argc > 1) vkclr_binary = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_changed_checkpoints), cmocka_unit_test(test_old_checkpoint_warns),
        cmocka_unit_test(test_nonsense_refused),    cmocka_unit_test(test_no_test_images),
        cmocka_unit_test(test_export_full_disk),    cmocka_unit_test(test_stops_resume_exactly),
        cmocka_unit_test(test_stop_during_setup),
    };
    return cmocka_run_group_tests(tests, setup, fixture_teardown_dir);
}
