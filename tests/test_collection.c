/* Image collections, written here: JPEG files of every flavour (baseline, progressive, gray,
 * CMYK, RGB, 4:2:0 and 4:4:4) decoded in full and at 1/2, 1/4, 1/8; images:DIR with nested
 * folders, hidden files and mixed sizes; folder:DIR with JPEG and PNG of several sizes; a small
 * STL-10 layout; every kind of bad file refused naming it, or left out and listed with
 * skip_bad; the producer streaming a collection (the same batches for any number of threads, a
 * corrupt image failing its batch or replaced with skip_bad); the evaluation crop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixtures.h"
#include "fixtures_jpeg.h"
#include "vkclr/augment.h"
#include "vkclr/data.h"

#define OK(call)                                                               \
    do {                                                                       \
        if ((call) != VKC_OK) fail_msg("%s failed: %s", #call, vkc_error());   \
    } while (0)

static const FixtureJpeg BASELINE_420 = {.space = JCS_YCbCr, .quality = 95, .subsample = 2};
static const FixtureJpeg BASELINE_444 = {.space = JCS_YCbCr, .quality = 95, .subsample = 1};
static const FixtureJpeg PROGRESSIVE = {.space = JCS_YCbCr, .quality = 95, .subsample = 2, .progressive = true};
static const FixtureJpeg GRAY = {.space = JCS_GRAYSCALE, .quality = 95};
static const FixtureJpeg RGB = {.space = JCS_RGB, .quality = 95};
static const FixtureJpeg CMYK = {.space = JCS_CMYK, .quality = 95};

static uint8_t luma(const uint8_t *p) { return vkc_luma(p[0], p[1], p[2]); }

/* Mean and largest absolute difference of n bytes. */
static void differences(const uint8_t *a, const uint8_t *b, size_t n, double *mean, int *max)
{
    double sum = 0;
    *max = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        sum += d;
        if (d > *max) *max = d;
    }
    *mean = sum / (double)n;
}

/* The source averaged over r x r blocks (what a 1/r DCT-scaled decode approximates). */
static uint8_t *block_mean(const uint8_t *src, int w, int h, int c, int r, int *ow, int *oh)
{
    *ow = (w + r - 1) / r, *oh = (h + r - 1) / r;
    uint8_t *o = malloc((size_t)*ow * *oh * c);
    for (int y = 0; y < *oh; y++)
        for (int x = 0; x < *ow; x++)
            for (int k = 0; k < c; k++) {
                int sum = 0, n = 0;
                for (int dy = 0; dy < r && y * r + dy < h; dy++)
                    for (int dx = 0; dx < r && x * r + dx < w; dx++, n++)
                        sum += src[((size_t)(y * r + dy) * w + x * r + dx) * c + k];
                o[((size_t)y * *ow + x) * c + k] = (uint8_t)((sum + n / 2) / n);
            }
    return o;
}

/* ---------------------------------------------------------------- JPEG flavours */

static void test_jpeg_flavours(void **state)
{
    (void)state;
    char dir[256];
    fixture_dir(dir);
    enum { W = 48, H = 40 };
    uint8_t *rgb = fixture_gradient(W, H, 1), gray[W * H], cmyk[W * H * 4];
    for (int i = 0; i < W * H; i++) {
        gray[i] = luma(rgb + 3 * i);
        /* Adobe CMYK is stored inverted: (C, M, Y, K) = (R, G, B, 255) reads back as R, G, B */
        cmyk[4 * i] = rgb[3 * i], cmyk[4 * i + 1] = rgb[3 * i + 1], cmyk[4 * i + 2] = rgb[3 * i + 2];
        cmyk[4 * i + 3] = 255;
    }
    fixture_jpeg(dir, "420.jpg", W, H, 3, rgb, BASELINE_420);
    fixture_jpeg(dir, "444.jpg", W, H, 3, rgb, BASELINE_444);
    fixture_jpeg(dir, "progressive.jpg", W, H, 3, rgb, PROGRESSIVE);
    fixture_jpeg(dir, "rgb.jpg", W, H, 3, rgb, RGB);
    fixture_jpeg(dir, "cmyk.jpg", W, H, 4, cmyk, CMYK);
    fixture_jpeg(dir, "gray.jpg", W, H, 1, gray, GRAY);
    const char *colour[] = {"420.jpg", "444.jpg", "progressive.jpg", "rgb.jpg", "cmyk.jpg"};
    for (size_t f = 0; f < sizeof colour / sizeof colour[0]; f++) {
        uint8_t *px;
        int h, w, max;
        double mean;
        char path[400];
        snprintf(path, sizeof path, "%s/%s", dir, colour[f]);
        OK(vkc_jpeg_read(path, 3, 1, VKC_DATA_MAX_IMAGE_PIXELS, &px, &h, &w));
        assert_int_equal(h, H), assert_int_equal(w, W);
        differences(px, rgb, (size_t)W * H * 3, &mean, &max);
        if (mean > 2.0 || max > 24) fail_msg("%s: decoded RGB differs by %.2f on average, %d at most", colour[f], mean, max);
        free(px);
        /* to gray: the luma */
        OK(vkc_jpeg_read(path, 1, 1, VKC_DATA_MAX_IMAGE_PIXELS, &px, &h, &w));
        differences(px, gray, (size_t)W * H, &mean, &max);
        if (mean > 2.0 || max > 16) fail_msg("%s: decoded gray differs by %.2f on average, %d at most", colour[f], mean, max);
        free(px);
        /* reduced scales: ceil(W / r) x ceil(H / r), close to the r x r block means */
        for (int r = 2; r <= 8; r *= 2) {
            int ow, oh;
            uint8_t *want = block_mean(rgb, W, H, 3, r, &ow, &oh);
            OK(vkc_jpeg_read(path, 3, r, VKC_DATA_MAX_IMAGE_PIXELS, &px, &h, &w));
            assert_int_equal(h, oh), assert_int_equal(w, ow);
            differences(px, want, (size_t)ow * oh * 3, &mean, &max);
            if (mean > 3.0 || max > 24)
                fail_msg("%s at 1/%d: differs from the block means by %.2f on average, %d at most", colour[f], r, mean,
                         max);
            free(px);
            free(want);
        }
    }
    /* a gray file, to gray and to RGB (the value in every channel) */
    uint8_t *px;
    int h, w, max;
    double mean;
    char path[400];
    snprintf(path, sizeof path, "%s/gray.jpg", dir);
    OK(vkc_jpeg_read(path, 1, 1, VKC_DATA_MAX_IMAGE_PIXELS, &px, &h, &w));
    differences(px, gray, (size_t)W * H, &mean, &max);
    assert_true(mean < 1.0 && max <= 8);
    free(px);
    OK(vkc_jpeg_read(path, 3, 1, VKC_DATA_MAX_IMAGE_PIXELS, &px, &h, &w));
    for (int i = 0; i < W * H; i++) assert_true(px[3 * i] == px[3 * i + 1] && px[3 * i] == px[3 * i + 2]);
    free(px);
    /* the pixel limit, from the header */
    ASSERT_ERROR_MENTIONS(vkc_jpeg_read(path, 1, 1, W * H - 1, &px, &h, &w), "gray.jpg", "--max-image-pixels");
    free(rgb);
    fixture_cleanup(dir);
}

/* ---------------------------------------------------------------- images:DIR */

static const uint8_t *decoded(VkcDecoder *d, const VkcDataset *ds, const VkcSplit *s, int i, int reduce, int *h,
                              int *w)
{
    VkcImage img;
    OK(vkc_decode_image(d, ds, s, i, reduce, &img));
    *h = img.height, *w = img.width;
    assert_int_equal(img.channels, ds->channels);
    return img.pixels;
}

static void test_images_nested(void **state)
{
    (void)state;
    char dir[256], spec[300];
    fixture_dir(dir);
    uint8_t *rgb = fixture_gradient(64, 48, 2), gray[64 * 48];
    for (int i = 0; i < 64 * 48; i++) gray[i] = luma(rgb + 3 * i);
    fixture_jpeg(dir, "a/b/c.jpg", 40, 30, 1, gray, GRAY);     /* the rows of a 64-wide image: a pattern all the same */
    fixture_png_gray(dir, "a/d.png", 20, 20, 99);
    fixture_jpeg(dir, "e.JPG", 64, 48, 1, gray, GRAY);
    fixture_png_gray(dir, ".hidden/x.png", 4, 4, 1);           /* hidden: not walked */
    fixture_write(dir, "z/.DS_Store", "junk", 4);              /* hidden: not an image, not read */
    snprintf(spec, sizeof spec, "images:%s", dir);
    VkcDataset ds;
    OK(vkc_dataset_load(&ds, spec));
    assert_true(vkc_dataset_is_collection(&ds));
    assert_int_equal(ds.train.n, 0), assert_int_equal(ds.test.n, 0);
    assert_int_equal(ds.unlabeled.n, 3);
    assert_null(ds.unlabeled.labels);
    assert_int_equal(ds.nclasses, 0);
    assert_int_equal(vkc_dataset_ssl_count(&ds), 3);
    assert_int_equal(ds.channels, 1);
    assert_true(ds.mixed_sizes);
    assert_int_equal(ds.height, 30); /* median of the shorter sides 30, 20, 48 */
    assert_int_equal(ds.width, 30);
    char origin[512], want[400];
    const char *order[] = {"a/b/c.jpg", "a/d.png", "e.JPG"}; /* depth first, in byte order of the names */
    for (int i = 0; i < 3; i++) {
        vkc_image_origin(&ds, &ds.unlabeled, i, origin, sizeof origin);
        snprintf(want, sizeof want, "%s/%s", dir, order[i]);
        assert_string_equal(origin, want);
    }
    VkcDecoder *d;
    OK(vkc_decoder_create(&d));
    int h, w;
    const uint8_t *px = decoded(d, &ds, &ds.unlabeled, 1, 8, &h, &w); /* PNG: always full size */
    assert_int_equal(h, 20), assert_int_equal(w, 20), assert_int_equal(px[0], 99);
    decoded(d, &ds, &ds.unlabeled, 2, 2, &h, &w); /* JPEG at 1/2 */
    assert_int_equal(h, 24), assert_int_equal(w, 32);
    decoded(d, &ds, &ds.unlabeled, 2, 3, &h, &w); /* 3 allows 1/2 */
    assert_int_equal(h, 24), assert_int_equal(w, 32);
    decoded(d, &ds, &ds.unlabeled, 0, 8, &h, &w); /* 40x30 at 1/8: 5x4 */
    assert_int_equal(h, 4), assert_int_equal(w, 5);
    /* the file changed since it was indexed */
    fixture_jpeg(dir, "e.JPG", 32, 48, 1, gray, GRAY);
    VkcImage img;
    ASSERT_ERROR_MENTIONS(vkc_decode_image(d, &ds, &ds.unlabeled, 2, 1, &img), "e.JPG", "changed");
    vkc_decoder_destroy(d);
    vkc_dataset_free(&ds);
    /* one colour image makes the collection RGB; the gray ones are decoded to RGB */
    fixture_jpeg(dir, "a/colour.jpg", 64, 48, 3, rgb, BASELINE_420);
    OK(vkc_dataset_load(&ds, spec));
    assert_int_equal(ds.channels, 3);
    assert_int_equal(ds.unlabeled.n, 4);
    OK(vkc_decoder_create(&d));
    px = decoded(d, &ds, &ds.unlabeled, 2, 1, &h, &w); /* a/d.png */
    assert_int_equal(px[0], 99), assert_int_equal(px[1], 99), assert_int_equal(px[2], 99);
    vkc_decoder_destroy(d);
    /* --limit on a collection: training images are train's, then unlabeled's */
    vkc_dataset_limit(&ds, 2);
    assert_int_equal(vkc_dataset_ssl_count(&ds), 2);
    vkc_dataset_free(&ds);
    /* an empty folder, a missing one */
    char empty[300];
    snprintf(empty, sizeof empty, "images:%s/z", dir);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load(&ds, empty), "z", "no JPEG or PNG images");
    snprintf(empty, sizeof empty, "images:%s/nowhere", dir);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load(&ds, empty), "nowhere");
    free(rgb);
    fixture_cleanup(dir);
}

/* folder:DIR with JPEG and PNG files of several sizes and both colour types. */
static void test_folder_jpeg_mixed(void **state)
{
    (void)state;
    char dir[256], spec[300];
    fixture_dir(dir);
    uint8_t *rgb = fixture_gradient(96, 64, 3), gray[96 * 64];
    for (int i = 0; i < 96 * 64; i++) gray[i] = luma(rgb + 3 * i);
    fixture_jpeg(dir, "train/cat/1.jpg", 96, 64, 3, rgb, PROGRESSIVE);
    fixture_jpeg(dir, "train/cat/2.jpeg", 50, 40, 1, gray, GRAY);
    fixture_png_rgb(dir, "train/dog/1.png", 30, 30, 1, 2, 3);
    fixture_jpeg(dir, "train/dog/2.jpg", 64, 48, 4, (uint8_t[64 * 48 * 4]){0}, CMYK);
    fixture_jpeg(dir, "test/dog/1.jpg", 40, 60, 3, rgb, BASELINE_444);
    snprintf(spec, sizeof spec, "folder:%s", dir);
    VkcDataset ds;
    OK(vkc_dataset_load(&ds, spec));
    assert_int_equal(ds.train.n, 4), assert_int_equal(ds.test.n, 1);
    assert_int_equal(ds.channels, 3);
    assert_int_equal(ds.nclasses, 2);
    int32_t labels[4] = {0, 1, 0, 1}; /* the classes interleaved */
    assert_memory_equal(ds.train.labels, labels, sizeof labels);
    assert_int_equal(ds.test.labels[0], 1);
    VkcDecoder *d;
    OK(vkc_decoder_create(&d));
    for (int i = 0; i < 4; i++) {
        int h, w, fh, fw;
        vkc_image_size(&ds, &ds.train, i, &fh, &fw);
        decoded(d, &ds, &ds.train, i, 1, &h, &w);
        assert_int_equal(h, fh), assert_int_equal(w, fw);
    }
    /* the CMYK file of zeros: inverted Adobe CMYK (K = 0 is full ink): black */
    int h, w;
    const uint8_t *px = decoded(d, &ds, &ds.train, 3, 1, &h, &w);
    assert_int_equal(px[0], 0), assert_int_equal(px[100], 0);
    vkc_decoder_destroy(d);
    vkc_dataset_free(&ds);
    free(rgb);
    fixture_cleanup(dir);
}

/* ---------------------------------------------------------------- bad files */

/* A copy of a file with bytes [from, to) cut off the end, or replaced. */
static void truncate_copy(const char *dir, const char *from_rel, const char *to_rel, size_t keep)
{
    size_t n;
    uint8_t *b = fixture_read(fixture_path(dir, from_rel), &n);
    fixture_write(dir, to_rel, b, keep < n ? keep : n);
    free(b);
}

/* Patch the height and width of a JPEG's first SOF0/SOF2 marker. */
static void patch_jpeg_size(const char *dir, const char *rel, int height, int width)
{
    size_t n;
    uint8_t *b = fixture_read(fixture_path(dir, rel), &n);
    for (size_t i = 2; i + 8 < n; i++)
        if (b[i] == 0xFF && (b[i + 1] == 0xC0 || b[i + 1] == 0xC2)) {
            b[i + 5] = (uint8_t)(height >> 8), b[i + 6] = (uint8_t)height;
            b[i + 7] = (uint8_t)(width >> 8), b[i + 8] = (uint8_t)width;
            break;
        }
    fixture_write(dir, rel, b, n);
    free(b);
}

static void test_bad_files(void **state)
{
    (void)state;
    char dir[256], spec[300];
    fixture_dir(dir);
    uint8_t *rgb = fixture_gradient(64, 64, 4);
    fixture_jpeg(dir, "good/1.jpg", 64, 64, 3, rgb, BASELINE_420);
    fixture_jpeg(dir, "good/2.jpg", 64, 64, 3, rgb, PROGRESSIVE);
    snprintf(spec, sizeof spec, "images:%s", dir);
    VkcDataset ds;
    OK(vkc_dataset_load(&ds, spec));
    vkc_dataset_free(&ds);
    size_t size;
    free(fixture_read(fixture_path(dir, "good/1.jpg"), &size));

    /* every kind of bad file: alone, it refuses the collection naming it */
    struct {
        const char *rel, *why;
    } bad[] = {
        {"bad/empty.jpg", "empty file"},
        {"bad/notes.txt", "not a JPEG or PNG"},
        {"bad/truncated.jpg", "truncated"},
        {"bad/zero.jpg", ""},
        {"bad/bomb.jpg", "--max-image-pixels"},
        {"bad/broken-link.jpg", "broken symbolic link"},
        {"bad/self-link.jpg", "symbolic-link loop"},
        {"bad/loop", "symbolic-link loop"},
        {"bad/fifo.jpg", "not a regular file"},
    };
    int nbad = (int)(sizeof bad / sizeof bad[0]);
    fixture_write(dir, "bad/empty.jpg", "", 0);
    fixture_write(dir, "bad/notes.txt", "just some notes\n", 16);
    truncate_copy(dir, "good/1.jpg", "bad/truncated.jpg", size / 2);
    truncate_copy(dir, "good/1.jpg", "bad/zero.jpg", size);
    patch_jpeg_size(dir, "bad/zero.jpg", 0, 64);
    truncate_copy(dir, "good/1.jpg", "bad/bomb.jpg", size);
    patch_jpeg_size(dir, "bad/bomb.jpg", 65000, 65000);
    char nowhere[400];
    snprintf(nowhere, sizeof nowhere, "%s/nowhere.jpg", dir);
    if (symlink(nowhere, fixture_path(dir, "bad/broken-link.jpg")) ||
        symlink("self-link.jpg", fixture_path(dir, "bad/self-link.jpg")) || symlink("..", fixture_path(dir, "bad/loop")) ||
        mkfifo(fixture_path(dir, "bad/fifo.jpg"), 0600))
        fail_msg("cannot make the links and the fifo");
    /* files the user may not read (root reads everything: only tested as another user) */
    if (geteuid() != 0) {
        truncate_copy(dir, "good/1.jpg", "bad/unreadable.jpg", size);
        chmod(fixture_path(dir, "bad/unreadable.jpg"), 0);
    }
    char hide[400], show[400];
    for (int k = 0; k < nbad; k++) { /* hide all but one (a hidden name is not walked) */
        for (int j = 0; j < nbad; j++) {
            snprintf(show, sizeof show, "%s/%s", dir, bad[j].rel);
            const char *slash = strrchr(bad[j].rel, '/');
            snprintf(hide, sizeof hide, "%s/bad/.%s", dir, slash + 1);
            if (j == k) rename(hide, show);
            else rename(show, hide);
        }
        ASSERT_ERROR_MENTIONS(vkc_dataset_load(&ds, spec), bad[k].rel, bad[k].why, "--skip-bad");
    }
    for (int j = 0; j < nbad; j++) {
        snprintf(show, sizeof show, "%s/%s", dir, bad[j].rel);
        const char *slash = strrchr(bad[j].rel, '/');
        snprintf(hide, sizeof hide, "%s/bad/.%s", dir, slash + 1);
        rename(hide, show);
    }
    /* all of them at once, with skip_bad: the good images, and every bad file listed once */
    VkcDataLimits lim = {.max_image_pixels = VKC_DATA_MAX_IMAGE_PIXELS, .max_bytes = VKC_DATA_MAX_BYTES,
                         .skip_bad = true};
    OK(vkc_dataset_load_limited(&ds, spec, &lim));
    assert_int_equal(ds.unlabeled.n, 2);
    int listed = geteuid() != 0 ? nbad + 1 : nbad;
    assert_int_equal(ds.nskipped, listed);
    for (int k = 0; k < nbad; k++) {
        int found = 0;
        for (int i = 0; i < ds.nskipped; i++) found += strstr(ds.skipped[i], bad[k].rel) != NULL;
        if (found != 1) fail_msg("%s listed %d times among the skipped files", bad[k].rel, found);
    }
    vkc_dataset_free(&ds);
    /* nothing good left: an error even with skip_bad */
    fixture_cleanup(dir);
    fixture_dir(dir);
    fixture_write(dir, "a.txt", "text", 4);
    snprintf(spec, sizeof spec, "images:%s", dir);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load_limited(&ds, spec, &lim), "no JPEG or PNG images", "every file was bad");
    free(rgb);
    fixture_cleanup(dir);
}

/* A JPEG whose header and end are intact but whose data is damaged: indexed, then refused
 * when it is decoded (libjpeg's warnings are errors here). */
static void test_corrupt_data(void **state)
{
    (void)state;
    char dir[256], spec[300];
    fixture_dir(dir);
    uint8_t *rgb = fixture_gradient(96, 96, 5);
    fixture_jpeg(dir, "x.jpg", 96, 96, 3, rgb, BASELINE_420);
    size_t n;
    uint8_t *b = fixture_read(fixture_path(dir, "x.jpg"), &n);
    /* the entropy-coded data: after the SOS header, before the EOI; garbage markers in it */
    for (size_t i = n / 2; i < n / 2 + 40 && i + 2 < n; i += 2) b[i] = 0xFF, b[i + 1] = 0xD0 + (uint8_t)(i % 7);
    fixture_write(dir, "x.jpg", b, n);
    free(b);
    snprintf(spec, sizeof spec, "images:%s", dir);
    VkcDataset ds;
    OK(vkc_dataset_load(&ds, spec));
    VkcDecoder *d;
    OK(vkc_decoder_create(&d));
    VkcImage img;
    ASSERT_ERROR_MENTIONS(vkc_decode_image(d, &ds, &ds.unlabeled, 0, 1, &img), "x.jpg");
    vkc_decoder_destroy(d);
    vkc_dataset_free(&ds);
    free(rgb);
    fixture_cleanup(dir);
}

/* ---------------------------------------------------------------- STL-10 */

/* Record i: plane c, column x, row y holds (i * 31 + c * 50 + x + 2 * y) & 255. */
static void stl10_file(const char *dir, const char *name, int n, int first)
{
    uint8_t *b = malloc((size_t)n * 27648);
    for (int i = 0; i < n; i++)
        for (int c = 0; c < 3; c++)
            for (int x = 0; x < 96; x++)
                for (int y = 0; y < 96; y++)
                    b[(size_t)i * 27648 + c * 9216 + x * 96 + y] = (uint8_t)(((first + i) * 31 + c * 50 + x + 2 * y) & 255);
    fixture_write(dir, name, b, (size_t)n * 27648);
    free(b);
}

static void test_stl10(void **state)
{
    (void)state;
    char dir[256], spec[300];
    fixture_dir(dir);
    stl10_file(dir, "stl10_binary/train_X.bin", 3, 0);
    fixture_write(dir, "stl10_binary/train_y.bin", (uint8_t[3]){1, 10, 4}, 3);
    stl10_file(dir, "stl10_binary/test_X.bin", 2, 3);
    fixture_write(dir, "stl10_binary/test_y.bin", (uint8_t[2]){2, 3}, 2);
    stl10_file(dir, "stl10_binary/unlabeled_X.bin", 4, 5);
    snprintf(spec, sizeof spec, "stl10:%s", dir);
    VkcDataset ds;
    OK(vkc_dataset_load(&ds, spec));
    assert_int_equal(ds.train.n, 3), assert_int_equal(ds.test.n, 2), assert_int_equal(ds.unlabeled.n, 4);
    assert_int_equal(vkc_dataset_ssl_count(&ds), 7);
    assert_int_equal(ds.height, 96), assert_int_equal(ds.width, 96), assert_int_equal(ds.channels, 3);
    assert_false(ds.mixed_sizes);
    assert_int_equal(ds.nclasses, 10);
    assert_string_equal(ds.class_names[0], "airplane");
    assert_string_equal(ds.class_names[9], "truck");
    assert_int_equal(ds.train.labels[0], 0), assert_int_equal(ds.train.labels[1], 9), assert_int_equal(ds.train.labels[2], 3);
    assert_int_equal(ds.test.labels[1], 2);
    VkcDecoder *d;
    OK(vkc_decoder_create(&d));
    const VkcSplit *splits[3] = {&ds.train, &ds.test, &ds.unlabeled};
    int first[3] = {0, 3, 5};
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < splits[s]->n; i++) {
            int h, w;
            const uint8_t *px = decoded(d, &ds, splits[s], i, 8, &h, &w); /* records are never reduced */
            assert_int_equal(h, 96), assert_int_equal(w, 96);
            for (int y = 0; y < 96; y += 7)
                for (int x = 0; x < 96; x += 5)
                    for (int c = 0; c < 3; c++)
                        assert_int_equal(px[(y * 96 + x) * 3 + c], ((first[s] + i) * 31 + c * 50 + x + 2 * y) & 255);
        }
    char origin[400];
    vkc_image_origin(&ds, &ds.unlabeled, 3, origin, sizeof origin);
    assert_non_null(strstr(origin, "unlabeled_X.bin, record 3"));
    vkc_decoder_destroy(d);
    vkc_dataset_free(&ds);
    /* gray: the luma */
    OK(vkc_dataset_load(&ds, spec));
    OK(vkc_dataset_set_channels(&ds, 1));
    OK(vkc_decoder_create(&d));
    int h, w;
    const uint8_t *px = decoded(d, &ds, &ds.train, 0, 1, &h, &w);
    uint8_t want[3] = {(uint8_t)(0 + 0), 50, 100}; /* pixel (0, 0) of record 0 */
    assert_int_equal(px[0], vkc_luma(want[0], want[1], want[2]));
    vkc_decoder_destroy(d);
    vkc_dataset_free(&ds);
    /* class_names.txt, when present */
    const char names[] = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n";
    fixture_write(dir, "stl10_binary/class_names.txt", names, sizeof names - 1);
    OK(vkc_dataset_load(&ds, spec));
    assert_string_equal(ds.class_names[9], "j");
    vkc_dataset_free(&ds);
    fixture_write(dir, "stl10_binary/class_names.txt", "a\nb\n", 4);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load(&ds, spec), "class_names.txt", "10 class names");
    remove(fixture_path(dir, "stl10_binary/class_names.txt"));
    /* without unlabeled_X.bin: train and test only */
    remove(fixture_path(dir, "stl10_binary/unlabeled_X.bin"));
    OK(vkc_dataset_load(&ds, spec));
    assert_int_equal(ds.unlabeled.n, 0);
    vkc_dataset_free(&ds);
    /* bad input */
    fixture_write(dir, "stl10_binary/train_y.bin", (uint8_t[3]){1, 11, 4}, 3);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load(&ds, spec), "train_y.bin", "label 11", "1..10");
    fixture_write(dir, "stl10_binary/train_y.bin", (uint8_t[2]){1, 2}, 2);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load(&ds, spec), "train_y.bin", "2 labels", "3 images");
    fixture_write(dir, "stl10_binary/train_y.bin", (uint8_t[3]){1, 2, 3}, 3);
    truncate_copy(dir, "stl10_binary/test_X.bin", "stl10_binary/test_X.bin", 27648 + 100);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load(&ds, spec), "test_X.bin", "truncated");
    remove(fixture_path(dir, "stl10_binary/test_X.bin"));
    ASSERT_ERROR_MENTIONS(vkc_dataset_load(&ds, spec), "test_X.bin");
    fixture_cleanup(dir);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load(&ds, "stl10:/nonexistent"), "/nonexistent");
}

/* ---------------------------------------------------------------- streaming */

/* 40 images of six sizes: JPEG (some large enough to be decoded at 1/2 and 1/4) and PNG. */
static void write_collection(const char *dir)
{
    const int sizes[6][2] = {{96, 64}, {40, 40}, {130, 100}, {64, 96}, {33, 47}, {200, 150}};
    uint8_t *rgb = fixture_gradient(200, 150, 6);
    for (int i = 0; i < 40; i++) {
        char rel[64];
        const int *s = sizes[i % 6];
        snprintf(rel, sizeof rel, "d%d/img%02d.%s", i % 3, i, i % 5 == 4 ? "png" : "jpg");
        if (i % 5 == 4) fixture_png_rgb(dir, rel, s[0], s[1], (uint8_t)(i * 5), 100, 200);
        else fixture_jpeg(dir, rel, s[0], s[1], 3, rgb, i % 2 ? PROGRESSIVE : BASELINE_444);
    }
    free(rgb);
}

/* Every batch of `steps` steps with `threads` workers; the views of all into out. */
static int stream(const VkcDataset *ds, const VkcAugmentConfig *cfg, int threads, int steps, float *out)
{
    VkcProducer *p;
    VkcProducerOptions opt = {.batch = 8, .threads = threads, .slots = 3, .seed = 5};
    if (vkc_producer_create(&p, ds, cfg, &opt)) return VKC_ERR;
    size_t floats = vkc_producer_slot_bytes(ds, cfg, 8) / sizeof(float);
    int rc = VKC_OK;
    for (int s = 0; s < steps && !rc; s++) {
        VkcBatch b;
        if ((rc = vkc_producer_acquire(p, &b))) break;
        memcpy(out + s * floats, b.views, floats * sizeof(float));
        vkc_producer_release(p, &b);
    }
    vkc_producer_destroy(p);
    return rc;
}

static void count_bad(void *user, const char *message)
{
    (void)message;
    ++*(int *)user;
}

static void test_producer_streaming(void **state)
{
    (void)state;
    char dir[256], spec[300];
    fixture_dir(dir);
    write_collection(dir);
    snprintf(spec, sizeof spec, "images:%s", dir);
    VkcDataset ds;
    OK(vkc_dataset_load(&ds, spec));
    assert_int_equal(ds.unlabeled.n, 40);
    VkcAugmentConfig cfg;
    OK(vkc_augment_preset("simclr", &cfg));
    OK(vkc_augment_set(&cfg, "size=24x24"));
    enum { STEPS = 12 }; /* 5 steps an epoch: crosses two epochs */
    size_t floats = vkc_producer_slot_bytes(&ds, &cfg, 8) / sizeof(float);
    float *one = malloc(STEPS * floats * sizeof(float)), *two = malloc(STEPS * floats * sizeof(float));
    OK(stream(&ds, &cfg, 1, STEPS, one));
    OK(stream(&ds, &cfg, 3, STEPS, two));
    if (memcmp(one, two, STEPS * floats * sizeof(float))) fail_msg("views differ between 1 and 3 decoding threads");
    bool finite = true, varied = false;
    for (size_t i = 0; i < STEPS * floats; i++) finite &= one[i] == one[i], varied |= one[i] != one[0];
    assert_true(finite && varied);

    /* a damaged image fails the batch it is in, naming the file ... */
    char victim[400];
    snprintf(victim, sizeof victim, "%s/d0/img03.jpg", dir);
    size_t n;
    uint8_t *b = fixture_read(victim, &n);
    for (size_t i = n / 2; i < n / 2 + 40 && i + 2 < n; i += 2) b[i] = 0xFF, b[i + 1] = 0xD3;
    FILE *f = fopen(victim, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
    free(b);
    int rc = stream(&ds, &cfg, 2, STEPS, two);
    assert_int_equal(rc, VKC_ERR);
    assert_non_null(strstr(vkc_error(), "img03.jpg"));
    /* ... or, with skip_bad, is replaced by the next image, and reported once */
    VkcProducer *p;
    int reported = 0;
    VkcProducerOptions opt = {.batch = 8, .threads = 2, .slots = 3, .seed = 5, .skip_bad = true, .on_bad = count_bad,
                              .on_bad_user = &reported};
    OK(vkc_producer_create(&p, &ds, &cfg, &opt));
    for (int s = 0; s < STEPS; s++) {
        VkcBatch bt;
        OK(vkc_producer_acquire(p, &bt));
        vkc_producer_release(p, &bt);
    }
    vkc_producer_destroy(p);
    assert_int_equal(reported, 1);
    free(one);
    free(two);
    vkc_dataset_free(&ds);
    fixture_cleanup(dir);
}

/* ---------------------------------------------------------------- evaluation crop */

static void test_eval_box(void **state)
{
    (void)state;
    VkcBox b;
    vkc_eval_box(30, 40, 16, 16, &b); /* landscape: the centred square */
    assert_int_equal(b.y, 0), assert_int_equal(b.x, 5), assert_int_equal(b.h, 30), assert_int_equal(b.w, 30);
    vkc_eval_box(90, 40, 20, 20, &b); /* portrait */
    assert_int_equal(b.y, 25), assert_int_equal(b.x, 0), assert_int_equal(b.h, 40), assert_int_equal(b.w, 40);
    vkc_eval_box(28, 28, 32, 32, &b); /* the whole image, enlarged */
    assert_int_equal(b.h, 28), assert_int_equal(b.w, 28);
    vkc_eval_box(50, 100, 10, 20, &b); /* the view's own aspect */
    assert_int_equal(b.h, 50), assert_int_equal(b.w, 100);
    /* the view of a box of an image decoded at 1/2: the same box, halved */
    uint8_t px[8 * 8];
    for (int i = 0; i < 64; i++) px[i] = (uint8_t)(i * 3);
    VkcImage img = {.pixels = px, .height = 8, .width = 8, .channels = 1, .stride = 8, .reduce = 2};
    uint8_t out[4 * 4];
    float *scratch = NULL;
    size_t nscratch = 0;
    VkcBox full = {.y = 4, .x = 4, .h = 8, .w = 8}; /* of the 16x16 original: rows 2..5, columns 2..5 here */
    OK(vkc_eval_view(&img, &full, 4, 4, out, &scratch, &nscratch));
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++) assert_int_equal(out[y * 4 + x], px[(y + 2) * 8 + x + 2]);
    free(scratch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jpeg_flavours),  cmocka_unit_test(test_images_nested),
        cmocka_unit_test(test_folder_jpeg_mixed), cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_corrupt_data),   cmocka_unit_test(test_stl10),
        cmocka_unit_test(test_producer_streaming), cmocka_unit_test(test_eval_box),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
