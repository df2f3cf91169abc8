/* libvkclr's API (include/vkclr.h) through the shared library, as a program uses it: errors
 * and their messages, the evaluation transform's channel conversion, row strides, batches of
 * any size, both outputs, concurrent calls, closing a device with models loaded. That its
 * features are those of vkclr export is tests/lib/test_install.py's part. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "fixtures.h"
#include "fixtures_jpeg.h"
#include "vkclr.h"
#include "vkclr/augment.h"
#include "vkclr/train.h"

static char dir[256], gray_run[300], rgb_run[300];
static vkclr_device *dev;
static vkclr_model *gray, *rgb;

/* A tiny trained run on synthetic images of `channels` (12 x 12) into path. */
static int train(char *path, size_t size, int channels)
{
    snprintf(path, size, "%s/run%d", dir, channels);
    VkcTrainConfig c = fixture_tiny_run(path, 16, 1, 2, 8);
    snprintf(c.data, sizeof c.data, "synthetic:12x12x%d:64", channels);
    c.precision = VKC_F32;
    VkcTrainResult res;
    if (vkc_train_run(&c, NULL, NULL, NULL, &res)) {
        fprintf(stderr, "tiny run failed: %s\n", vkc_error());
        return -1;
    }
    return 0;
}

static int setup(void **state)
{
    (void)state;
    fixture_dir(dir);
    if (train(gray_run, sizeof gray_run, 1) || train(rgb_run, sizeof rgb_run, 3)) return -1;
    unsigned flags = fixture_context().validation ? VKCLR_OPEN_VALIDATION : 0;
    if (vkclr_device_open(VKCLR_DEVICE_AUTO, flags, NULL, &dev) || vkclr_model_load(dev, gray_run, &gray) ||
        vkclr_model_load(dev, rgb_run, &rgb)) {
        fprintf(stderr, "libvkclr: %s\n", vkclr_last_error());
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int messages = vkclr_device_validation_messages(dev);
    vkclr_device_close(dev); /* with both models still loaded: closes them too */
    fixture_cleanup(dir);
    return messages ? -1 : 0;
}

/* Deterministic pixels. */
static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)((i * 2654435761u + seed * 40503u) >> 7);
}

static void test_version(void **state)
{
    (void)state;
    assert_int_equal(vkclr_version(), VKCLR_VERSION);
    assert_string_equal(vkclr_version_string(), VKCLR_VERSION_STRING);
    char text[32];
    snprintf(text, sizeof text, "%d.%d.%d", VKCLR_VERSION_MAJOR, VKCLR_VERSION_MINOR, VKCLR_VERSION_PATCH);
    assert_string_equal(text, VKCLR_VERSION_STRING);
}

/* status, and a message that mentions `what` */
static void expect(int status, int want, const char *what)
{
    assert_int_equal(status, want);
    if (!strstr(vkclr_last_error(), what)) fail_msg("message '%s' does not mention '%s'", vkclr_last_error(), what);
}

static void test_errors(void **state)
{
    (void)state;
    vkclr_model *m = (vkclr_model *)&m;
    vkclr_device *d = (vkclr_device *)&d;
    expect(vkclr_model_load(dev, "/nonexistent/run", &m), VKCLR_ERROR_FILE, "/nonexistent/run");
    assert_null(m);
    expect(vkclr_model_load(NULL, gray_run, &m), VKCLR_ERROR_ARGUMENT, "device");
    expect(vkclr_model_load(dev, NULL, &m), VKCLR_ERROR_ARGUMENT, "checkpoint");
    expect(vkclr_device_open(-2, 0, NULL, &d), VKCLR_ERROR_ARGUMENT, "-2");
    assert_null(d);
    expect(vkclr_device_open(VKCLR_DEVICE_AUTO, 0x80, NULL, &d), VKCLR_ERROR_ARGUMENT, "flags");
    expect(vkclr_device_open(999, 0, NULL, &d), VKCLR_ERROR_DEVICE, "999");
    /* a truncated checkpoint, and a file that is not one */
    char ckpt[400], cut[400];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", gray_run);
    snprintf(cut, sizeof cut, "%s/cut.safetensors", dir);
    FILE *in = fopen(ckpt, "rb"), *out = fopen(cut, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, in);
    fwrite(buf, 1, n - 100, out); /* the tiny model's file is a few kB: its tensor data cut short */
    fclose(in);
    fclose(out);
    expect(vkclr_model_load(dev, cut, &m), VKCLR_ERROR_FILE, "cut.safetensors");
    char not_one[400];
    fixture_write(dir, "not.safetensors", "{}", 2);
    snprintf(not_one, sizeof not_one, "%s/not.safetensors", dir);
    expect(vkclr_model_load(dev, not_one, &m), VKCLR_ERROR_FILE, "not.safetensors");
    vkclr_image img;
    expect(vkclr_image_read("/nonexistent.png", 3, &img), VKCLR_ERROR_FILE, "/nonexistent.png");
    expect(vkclr_image_read(ckpt, 2, &img), VKCLR_ERROR_ARGUMENT, "2 channels");
    assert_int_equal(vkclr_model_dim(gray, (vkclr_output)7), 0);
}

static void test_shapes(void **state)
{
    (void)state;
    int c, h, w;
    vkclr_model_input(rgb, &c, &h, &w);
    assert_int_equal(c, 3);
    assert_int_equal(h, 12);
    assert_int_equal(w, 12);
    vkclr_model_input(gray, &c, NULL, NULL);
    assert_int_equal(c, 1);
    assert_int_equal(vkclr_model_dim(rgb, VKCLR_FEATURES), 8); /* convnet width 2: 4 x 2 */
    assert_int_equal(vkclr_model_dim(rgb, VKCLR_PROJECTIONS), 8);
    assert_non_null(strstr(vkclr_model_describe(rgb), "convnet width 2"));
    assert_true(vkclr_device_name(dev)[0]);
}

/* Malformed images fail before any work, naming the image, and leave out untouched. */
static void test_bad_images(void **state)
{
    (void)state;
    uint8_t px[12 * 12 * 3];
    fill(px, sizeof px, 1);
    vkclr_image im[2] = {{.pixels = px, .height = 12, .width = 12, .channels = 3},
                         {.pixels = px, .height = 12, .width = 12, .channels = 2}};
    float out[16];
    for (int i = 0; i < 16; i++) out[i] = -7;
    expect(vkclr_embed(rgb, im, 2, VKCLR_FEATURES, out), VKCLR_ERROR_ARGUMENT, "image 1 has 2 channels");
    im[1] = (vkclr_image){.pixels = px, .height = 12, .width = 12, .channels = 3, .stride = 35};
    expect(vkclr_embed(rgb, im, 2, VKCLR_FEATURES, out), VKCLR_ERROR_ARGUMENT, "image 1");
    im[1] = (vkclr_image){.pixels = NULL, .height = 12, .width = 12, .channels = 3};
    expect(vkclr_embed(rgb, im, 2, VKCLR_FEATURES, out), VKCLR_ERROR_ARGUMENT, "image 1 has no pixels");
    im[1] = (vkclr_image){.pixels = px, .height = 0, .width = 12, .channels = 3};
    expect(vkclr_embed(rgb, im, 2, VKCLR_FEATURES, out), VKCLR_ERROR_ARGUMENT, "image 1");
    expect(vkclr_embed(rgb, im, 1, (vkclr_output)3, out), VKCLR_ERROR_ARGUMENT, "output 3");
    expect(vkclr_embed(rgb, NULL, 1, VKCLR_FEATURES, out), VKCLR_ERROR_ARGUMENT, "images");
    for (int i = 0; i < 16; i++) assert_true(out[i] == -7);
    assert_int_equal(vkclr_embed(rgb, im, 0, VKCLR_FEATURES, out), VKCLR_OK);
}

static void assert_rows_close(const float *a, const float *b, int n, double tol)
{
    for (int i = 0; i < n; i++)
        if (!(fabs(a[i] - b[i]) <= tol * (fabs(b[i]) + 1e-3))) fail_msg("element %d: %.9g != %.9g", i, a[i], b[i]);
}

/* A gray image for an RGB model is the RGB image of its level repeated; an RGB image for a
 * gray model is its ITU-R 601 luma. Both at a size other than the model's (17 x 20: resized). */
static void test_channels(void **state)
{
    (void)state;
    enum { H = 17, W = 20 };
    uint8_t g[H * W], rgb3[H * W * 3], luma[H * W];
    fill(g, sizeof g, 2);
    fill(rgb3, sizeof rgb3, 3);
    float a[8], b[8];
    for (int i = 0; i < H * W; i++) luma[i] = vkc_luma(rgb3[3 * i], rgb3[3 * i + 1], rgb3[3 * i + 2]);

    vkclr_image as_gray = {.pixels = g, .height = H, .width = W, .channels = 1};
    uint8_t repeated[H * W * 3];
    for (int i = 0; i < H * W; i++) repeated[3 * i] = repeated[3 * i + 1] = repeated[3 * i + 2] = g[i];
    vkclr_image as_rgb = {.pixels = repeated, .height = H, .width = W, .channels = 3};
    assert_int_equal(vkclr_embed(rgb, &as_gray, 1, VKCLR_FEATURES, a), VKCLR_OK);
    assert_int_equal(vkclr_embed(rgb, &as_rgb, 1, VKCLR_FEATURES, b), VKCLR_OK);
    assert_memory_equal(a, b, sizeof a);

    vkclr_image colour = {.pixels = rgb3, .height = H, .width = W, .channels = 3};
    vkclr_image its_luma = {.pixels = luma, .height = H, .width = W, .channels = 1};
    assert_int_equal(vkclr_embed(gray, &colour, 1, VKCLR_FEATURES, a), VKCLR_OK);
    assert_int_equal(vkclr_embed(gray, &its_luma, 1, VKCLR_FEATURES, b), VKCLR_OK);
    assert_memory_equal(a, b, sizeof a);
    for (int i = 0; i < 8; i++) assert_true(isfinite(a[i]));
}

/* Rows of any stride give the image's features. */
static void test_stride(void **state)
{
    (void)state;
    enum { H = 12, W = 12, PAD = 13 };
    uint8_t tight[H * W * 3], padded[H * (W * 3 + PAD)];
    fill(tight, sizeof tight, 4);
    memset(padded, 0xAB, sizeof padded);
    for (int y = 0; y < H; y++) memcpy(padded + y * (W * 3 + PAD), tight + y * W * 3, W * 3);
    vkclr_image a = {.pixels = tight, .height = H, .width = W, .channels = 3};
    vkclr_image b = {.pixels = padded, .height = H, .width = W, .channels = 3, .stride = W * 3 + PAD};
    float fa[8], fb[8];
    assert_int_equal(vkclr_embed(rgb, &a, 1, VKCLR_FEATURES, fa), VKCLR_OK);
    assert_int_equal(vkclr_embed(rgb, &b, 1, VKCLR_FEATURES, fb), VKCLR_OK);
    assert_memory_equal(fa, fb, sizeof fa);
}

enum { MANY = 300 }; /* more than a batch (256): two runs */
static uint8_t many_px[MANY][10 * 14 * 3];
static vkclr_image many[MANY];

static void make_many(void)
{
    for (int i = 0; i < MANY; i++) {
        fill(many_px[i], sizeof many_px[i], 100 + (unsigned)i);
        many[i] = (vkclr_image){.pixels = many_px[i], .height = 10, .width = 14, .channels = 3};
    }
}

/* One call on 300 images gives each image's features alone (a batch's images are independent). */
static void test_batches(void **state)
{
    (void)state;
    make_many();
    static float all[MANY * 8], one[8];
    assert_int_equal(vkclr_embed(rgb, many, MANY, VKCLR_FEATURES, all), VKCLR_OK);
    for (int i = 0; i < MANY; i += 37) {
        assert_int_equal(vkclr_embed(rgb, &many[i], 1, VKCLR_FEATURES, one), VKCLR_OK);
        assert_rows_close(one, all + i * 8, 8, 1e-5);
    }
    /* projections: the head's output, not the features */
    static float proj[MANY * 8];
    assert_int_equal(vkclr_embed(rgb, many, MANY, VKCLR_PROJECTIONS, proj), VKCLR_OK);
    assert_memory_not_equal(proj, all, sizeof proj);
    for (int i = 0; i < MANY * 8; i++) assert_true(isfinite(proj[i]));
}

/* Calls from several threads on one model give what one thread gets. */
typedef struct {
    int first;
    float out[40 * 8];
    int status;
} Job;

static void *embed_job(void *arg)
{
    Job *j = arg;
    j->status = vkclr_embed(rgb, &many[j->first], 40, VKCLR_FEATURES, j->out);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    make_many();
    static Job jobs[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        jobs[i].first = 40 * i;
        assert_int_equal(pthread_create(&t[i], NULL, embed_job, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    static float serial[160 * 8];
    assert_int_equal(vkclr_embed(rgb, many, 160, VKCLR_FEATURES, serial), VKCLR_OK);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(jobs[i].status, VKCLR_OK);
        assert_rows_close(jobs[i].out, serial + 40 * i * 8, 40 * 8, 1e-5);
    }
}

/* A PNG or a JPEG read as the dataset readers read them; anything else refused, naming it. */
static void test_image_read(void **state)
{
    (void)state;
    uint8_t px[5 * 7 * 3];
    fill(px, sizeof px, 9);
    char path[300];
    snprintf(path, sizeof path, "%s/x.png", dir);
    assert_int_equal(vkc_png_write(path, px, 5, 7, 3), VKC_OK);
    vkclr_image img;
    assert_int_equal(vkclr_image_read(path, 3, &img), VKCLR_OK);
    assert_int_equal(img.height, 5);
    assert_int_equal(img.width, 7);
    assert_int_equal(img.channels, 3);
    assert_memory_equal(img.pixels, px, sizeof px);
    vkclr_image_free(&img);
    assert_null(img.pixels);
    assert_int_equal(vkclr_image_read(path, 1, &img), VKCLR_OK);
    assert_int_equal(img.channels, 1);
    vkclr_image_free(&img);

    fixture_jpeg(dir, "x.jpg", 7, 5, 3, px, (FixtureJpeg){.space = JCS_YCbCr, .progressive = true});
    snprintf(path, sizeof path, "%s/x.jpg", dir);
    uint8_t *want;
    int h, w;
    assert_int_equal(vkc_jpeg_read(path, 3, 1, VKC_DATA_MAX_IMAGE_PIXELS, &want, &h, &w), VKC_OK);
    assert_int_equal(vkclr_image_read(path, 3, &img), VKCLR_OK);
    assert_int_equal(img.height, 5);
    assert_int_equal(img.width, 7);
    assert_memory_equal(img.pixels, want, sizeof px);
    free(want);
    vkclr_image_free(&img);
    fixture_write(dir, "x.txt", "not an image", 12);
    snprintf(path, sizeof path, "%s/x.txt", dir);
    expect(vkclr_image_read(path, 3, &img), VKCLR_ERROR_FILE, "x.txt: neither a PNG nor a JPEG");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),    cmocka_unit_test(test_errors),  cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_bad_images), cmocka_unit_test(test_channels), cmocka_unit_test(test_stride),
        cmocka_unit_test(test_batches),    cmocka_unit_test(test_threads), cmocka_unit_test(test_image_read),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
