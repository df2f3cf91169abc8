/* vkclr train, probe and export through the collection specs, end to end (the built binary on
 * lavapipe, tiny models): images:DIR with --eval-data, folder:DIR of JPEG files of mixed sizes,
 * stl10:DIR with a ResNet and its ImageNet stem; the same batches for any number of threads;
 * bad files refusing the run before it starts, or left out and listed with --skip-bad; an image
 * that fails to decode during training.
 *
 * argv[1]: path of the built vkclr binary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "vkclr/train.h" /* before fixtures.h: fixture_metrics_untimed */
#include "fixtures.h"
#include "fixtures_jpeg.h"

static const char *vkclr_binary;

#define OUT_SIZE 65536
static char out[OUT_SIZE];

static const FixtureJpeg GRAY = {.space = JCS_GRAYSCALE, .quality = 90};

/* vkclr ARGS (a printf format), expecting exit status `status`; the output in `out`. */
static void run(int status, const char *fmt, ...)
{
    char args[1800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    int got = fixture_run(vkclr_binary, args, out, sizeof out);
    if (got != status) fail_msg("vkclr %s: exit status %d, expected %d", args, got, status);
}

static void expect_output(const char *needle)
{
    if (!strstr(out, needle)) fail_msg("expected '%s' in the output", needle);
}

static cJSON *read_json(const char *dir, const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t n;
    char *text = (char *)fixture_read(path, &n);
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!j) fail_msg("%s is not JSON", path);
    return j;
}

static double json_number(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsNumber(v)) fail_msg("no number '%s'", key);
    return v->valuedouble;
}

static const char *json_string(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsString(v)) fail_msg("no string '%s'", key);
    return v->valuestring;
}

/* A class-dependent gray pattern of w x h: stripes whose direction and period say the class. */
static void pattern(uint8_t *px, int w, int h, int cls, int k)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int t = cls == 0 ? x : cls == 1 ? y : x + y;
            px[y * w + x] = (uint8_t)(((t * 8 / (3 + cls)) & 8) ? 220 - k : 30 + k);
        }
}

/* dir/photos/ (unlabeled, nested, gray JPEG of mixed sizes) and dir/labelled/{train,test}/<class>/. */
static void write_gray_collections(const char *dir)
{
    static const int sizes[4][2] = {{28, 28}, {40, 30}, {24, 36}, {56, 42}};
    uint8_t px[56 * 42];
    for (int i = 0; i < 48; i++) {
        char rel[128];
        const int *s = sizes[i % 4];
        pattern(px, s[0], s[1], i % 3, i);
        snprintf(rel, sizeof rel, "photos/%s/img%02d.jpg", i % 2 ? "a/b" : "c", i);
        fixture_jpeg(dir, rel, s[0], s[1], 1, px, GRAY);
        snprintf(rel, sizeof rel, "labelled/%s/class%d/%02d.jpg", i < 36 ? "train" : "test", i % 3, i);
        fixture_jpeg(dir, rel, s[0], s[1], 1, px, GRAY);
    }
}

/* images: for training, --eval-data for the probe; then vkclr probe and export of the run. */
static void test_images_with_eval_data(void **state)
{
    (void)state;
    char dir[256];
    fixture_dir(dir);
    write_gray_collections(dir);
    run(0,
        "train --data images:%s/photos --eval-data folder:%s/labelled --image-size 16 --width 2 --batch 8 --epochs 2 "
        "--probe-epochs 2 --knn-k 5 --out %s/run",
        dir, dir, dir);
    expect_output("48 unlabeled");
    expect_output("mixed sizes");
    expect_output("views 16x16");
    expect_output("indexed, decoded per batch");
    expect_output("evaluation data: folder:");
    char run_dir[300];
    snprintf(run_dir, sizeof run_dir, "%s/run", dir);
    cJSON *res = read_json(run_dir, "results.json");
    assert_string_equal(json_string(res, "evaluation"), "done");
    assert_true(json_number(res, "probe_top1") >= 0);
    assert_true(json_number(res, "knn_top1") >= 0);
    assert_int_equal((int)json_number(res, "eval_train_images"), 36);
    assert_int_equal((int)json_number(res, "eval_test_images"), 12);
    assert_int_equal((int)json_number(res, "skipped_files"), 0);
    cJSON_Delete(res);
    cJSON *cfg = read_json(run_dir, "config.json");
    assert_int_equal((int)json_number(cfg, "image_size"), 16);
    assert_int_equal((int)json_number(cfg, "image_height"), 16);
    assert_string_equal(json_string(cfg, "stem"), "cifar");
    assert_non_null(strstr(json_string(cfg, "eval_data"), "labelled"));
    cJSON_Delete(cfg);
    /* probe: the run's evaluation data by default */
    run(0, "probe --checkpoint %s --epochs 2 --k 5 --quiet", run_dir);
    expect_output("36 train + 12 test images, 3 classes");
    /* export: the unlabeled training images (the run's --data), and the labelled test split */
    run(0, "export --checkpoint %s --split unlabeled --features %s/u.npy", run_dir, dir);
    expect_output("48 x 8 float32");
    run(0, "export --checkpoint %s --features %s/t.npy", run_dir, dir);
    expect_output("12 x 8 float32");
    /* an unlabeled spec has no train or test split to export or probe */
    run(1, "export --checkpoint %s --data images:%s/photos --split test --features %s/x.npy", run_dir, dir, dir);
    expect_output("--split unlabeled");
    run(1, "probe --checkpoint %s --data images:%s/photos --quiet", run_dir, dir);
    /* the views of a collection's images, as a picture */
    run(0, "augment --data images:%s/photos --aug size=16x16 --count 4 --out %s/views.png", dir, dir);
    expect_output("mixed sizes, shown at 16x16x1");
    /* without --eval-data, a run on unlabeled images says why it has no evaluation */
    run(0, "train --data images:%s/photos --image-size 16 --width 2 --batch 8 --epochs 1 --out %s/run2", dir, dir);
    expect_output("--eval-data SPEC");
    /* the views' size and the augmentation's must agree; the convnet has no stem */
    run(1, "train --data images:%s/photos --image-size 16 --aug size=12x12 --batch 8 --out %s/run3", dir, dir);
    expect_output("--image-size 16 and --aug size=12x12 disagree");
    run(2, "train --data images:%s/photos --stem imagenet --out %s/run3", dir, dir);
    expect_output("no stem");
    fixture_cleanup(dir);
}

/* folder: of gray JPEG files of mixed sizes, the same batches with 1 and 3 threads. */
static void test_folder_threads(void **state)
{
    (void)state;
    char dir[256], a[300], b[300];
    fixture_dir(dir);
    write_gray_collections(dir);
    const char *common = "--image-size 20 --width 2 --batch 8 --epochs 2 --probe-epochs 1 --knn-k 0 --log-every 1 "
                         "--quiet";
    run(0, "train --data folder:%s/labelled %s --threads 1 --out %s/one", dir, common, dir);
    run(0, "train --data folder:%s/labelled %s --threads 3 --out %s/three", dir, common, dir);
    snprintf(a, sizeof a, "%s/one", dir);
    snprintf(b, sizeof b, "%s/three", dir);
    char *ma = fixture_metrics_untimed(a), *mb = fixture_metrics_untimed(b);
    if (strcmp(ma, mb)) fail_msg("the losses differ between 1 and 3 augmentation threads:\n%s\n%s", ma, mb);
    free(ma);
    free(mb);
    cJSON *ra = read_json(a, "results.json"), *rb = read_json(b, "results.json");
    assert_true(json_number(ra, "probe_top1") >= 0);
    assert_true(json_number(ra, "final_loss") == json_number(rb, "final_loss"));
    assert_true(json_number(ra, "probe_top1") == json_number(rb, "probe_top1"));
    cJSON_Delete(ra);
    cJSON_Delete(rb);
    fixture_cleanup(dir);
}

/* stl10: the binary files; a ResNet at 64 px gets the ImageNet stem by default. */
static void test_stl10_resnet(void **state)
{
    (void)state;
    char dir[256];
    fixture_dir(dir);
    const struct {
        const char *x, *y;
        int n;
    } files[] = {{"train_X.bin", "train_y.bin", 20}, {"test_X.bin", "test_y.bin", 10}, {"unlabeled_X.bin", NULL, 28}};
    for (int f = 0; f < 3; f++) {
        uint8_t *rec = malloc((size_t)files[f].n * 27648), labels[32];
        for (int i = 0; i < files[f].n; i++) {
            labels[i] = (uint8_t)(1 + i % 10);
            for (int k = 0; k < 27648; k++)
                rec[(size_t)i * 27648 + k] = (uint8_t)((k % 96) * (1 + i % 3) + (k / 9216) * 40 + i);
        }
        char rel[64];
        snprintf(rel, sizeof rel, "stl/%s", files[f].x);
        fixture_write(dir, rel, rec, (size_t)files[f].n * 27648);
        if (files[f].y) {
            snprintf(rel, sizeof rel, "stl/%s", files[f].y);
            fixture_write(dir, rel, labels, (size_t)files[f].n);
        }
        free(rec);
    }
    char run_dir[300];
    snprintf(run_dir, sizeof run_dir, "%s/run", dir);
    run(0,
        "train --data stl10:%s/stl --encoder resnet10 --width 2 --image-size 64 --batch 8 --epochs 1 --probe-epochs 1 "
        "--knn-k 3 --out %s",
        dir, run_dir);
    expect_output("20 train + 10 test images of 10 classes, 28 unlabeled");
    expect_output("48 training images"); /* train + unlabeled */
    cJSON *cfg = read_json(run_dir, "config.json");
    assert_string_equal(json_string(cfg, "stem"), "imagenet");
    cJSON_Delete(cfg);
    cJSON *res = read_json(run_dir, "results.json");
    assert_int_equal((int)json_number(res, "eval_train_images"), 20);
    assert_int_equal((int)json_number(res, "eval_test_images"), 10);
    cJSON_Delete(res);
    run(0, "probe --checkpoint %s --epochs 1 --k 3 --quiet", run_dir);
    expect_output("20 train + 10 test images, 10 classes");
    run(0, "export --checkpoint %s --split unlabeled --features %s/u.npy", run_dir, dir);
    expect_output("28 x 16 float32");
    /* --random-init probes the same stem choice at the data's size */
    run(0, "probe --random-init --encoder resnet10 --width 2 --data stl10:%s/stl --epochs 1 --k 3 --quiet", dir);
    fixture_cleanup(dir);
}

/* Bad files refuse the run before anything trains; --skip-bad leaves them out and lists them. */
static void test_bad_files_and_skip_bad(void **state)
{
    (void)state;
    char dir[256], run_dir[300];
    fixture_dir(dir);
    write_gray_collections(dir);
    /* truncated: half of a good file */
    char good[400];
    snprintf(good, sizeof good, "%s/photos/c/img00.jpg", dir);
    size_t n, jpeg_size;
    uint8_t *bytes = fixture_read(good, &jpeg_size);
    fixture_write(dir, "photos/a/truncated.jpg", bytes, jpeg_size / 2);
    fixture_write(dir, "photos/notes.txt", "not an image\n", 13);
    snprintf(run_dir, sizeof run_dir, "%s/run", dir);
    const char *common = "--image-size 16 --width 2 --batch 8 --epochs 1 --probe-epochs 0 --knn-k 0";
    run(1, "train --data images:%s/photos %s --out %s", dir, common, run_dir);
    expect_output("photos/a/truncated.jpg");
    expect_output("--skip-bad");
    char path[400];
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", run_dir);
    assert_int_not_equal(access(path, F_OK), 0); /* nothing trained, nothing written */
    run(0, "train --data images:%s/photos %s --skip-bad --out %s", dir, common, run_dir);
    expect_output("--skip-bad: 2 files left out");
    char *list = (char *)fixture_read(fixture_path(run_dir, "skipped-files.txt"), &n);
    assert_non_null(strstr(list, "photos/a/truncated.jpg: ")); /* truncated in its header: libjpeg says so */
    assert_non_null(strstr(list, "photos/notes.txt: not a JPEG or PNG"));
    free(list);
    cJSON *res = read_json(run_dir, "results.json");
    assert_int_equal((int)json_number(res, "skipped_files"), 2);
    cJSON_Delete(res);

    /* damaged data behind an intact header: found while training. It stops the run, naming the
     * file (the checkpoint of the last finished epoch stays) ... */
    remove(fixture_path(dir, "photos/a/truncated.jpg"));
    remove(fixture_path(dir, "photos/notes.txt"));
    /* (the last bytes before the end-of-image marker: entropy-coded data, past the tables) */
    for (size_t i = jpeg_size - 26; i < jpeg_size - 4; i += 2) bytes[i] = 0xFF, bytes[i + 1] = 0xD5;
    fixture_write(dir, "photos/c/img00.jpg", bytes, jpeg_size);
    free(bytes);
    run(1, "train --data images:%s/photos %s --out %s/run2", dir, common, dir);
    expect_output("img00.jpg");
    /* ... or, with --skip-bad, the image is replaced by the next one and listed */
    run(0, "train --data images:%s/photos %s --skip-bad --out %s/run3", dir, common, dir);
    expect_output("failed to decode while training");
    snprintf(run_dir, sizeof run_dir, "%s/run3", dir);
    list = (char *)fixture_read(fixture_path(run_dir, "skipped-files.txt"), &n);
    assert_non_null(strstr(list, "img00.jpg"));
    free(list);
    fixture_cleanup(dir);
}

int main(int argc, char **argv)
{
    vkclr_binary = argc > 1 ? argv[1] : NULL;
    if (!vkclr_binary) {
        fprintf(stderr, "usage: test_collection_train VKCLR_BINARY\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_images_with_eval_data),
        cmocka_unit_test(test_folder_threads),
        cmocka_unit_test(test_stl10_resnet),
        cmocka_unit_test(test_bad_files_and_skip_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
