/* Dataset readers: Fashion-MNIST from disk where installed; IDX, CIFAR-10/100 and PNG-folder
 * fixtures written here; every kind of bad input is rejected with a message naming the file. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <zlib.h>

#include "fixtures.h"
#include "vkclr/data.h"
#include "vkclr/resize.h"

#define LOAD_OK(call)                                                          \
    do {                                                                       \
        if ((call) != VKC_OK) fail_msg("%s failed: %s", #call, vkc_error());   \
    } while (0)

/* ---------------------------------------------------------------- IDX */

static bool data_is_dir_for_test(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void test_fashion_mnist(void **state)
{
    (void)state;
    if (!data_is_dir_for_test(VKC_DEFAULT_FASHION_MNIST)) skip();
    VkcDataset ds;
    LOAD_OK(vkc_dataset_load(&ds, NULL));  /* the default */
    assert_int_equal(ds.train.n, 60000);
    assert_int_equal(ds.test.n, 10000);
    assert_int_equal(ds.height, 28);
    assert_int_equal(ds.width, 28);
    assert_int_equal(ds.channels, 1);
    assert_int_equal(ds.nclasses, 10);
    assert_string_equal(ds.class_names[0], "T-shirt/top");
    assert_string_equal(ds.class_names[9], "Ankle boot");
    /* first labels and the first image, as numpy reads them from the same files */
    int32_t train_first[5] = {9, 0, 0, 3, 0}, test_first[5] = {9, 2, 1, 1, 6};
    assert_memory_equal(ds.train.labels, train_first, sizeof train_first);
    assert_memory_equal(ds.test.labels, test_first, sizeof test_first);
    long sum = 0;
    for (int i = 0; i < 784; i++) sum += ds.train.pixels[i];
    assert_int_equal(sum, 76247);
    int count[10] = {0};
    for (int i = 0; i < ds.train.n; i++) count[ds.train.labels[i]]++;
    for (int c = 0; c < 10; c++) assert_int_equal(count[c], 6000);
    vkc_dataset_limit(&ds, 100);
    assert_int_equal(ds.train.n, 100);
    vkc_dataset_free(&ds);
}

/* Big-endian IDX bytes: images n x rows x cols with pixel value (i * 7 + p) & 255, labels i % 3. */
static size_t idx_images(uint8_t *buf, uint32_t magic, int n, int rows, int cols)
{
    uint32_t head[4] = {magic, (uint32_t)n, (uint32_t)rows, (uint32_t)cols};
    for (int k = 0; k < 4; k++)
        for (int b = 0; b < 4; b++) buf[4 * k + b] = (uint8_t)(head[k] >> (24 - 8 * b));
    for (int i = 0; i < n * rows * cols; i++) buf[16 + i] = (uint8_t)((i / (rows * cols)) * 7 + i % (rows * cols));
    return 16 + (size_t)n * rows * cols;
}

static size_t idx_labels(uint8_t *buf, uint32_t magic, int n)
{
    uint32_t head[2] = {magic, (uint32_t)n};
    for (int k = 0; k < 2; k++)
        for (int b = 0; b < 4; b++) buf[4 * k + b] = (uint8_t)(head[k] >> (24 - 8 * b));
    for (int i = 0; i < n; i++) buf[8 + i] = (uint8_t)(i % 3);
    return 8 + (size_t)n;
}

static void gz_write(const char *path, const uint8_t *data, size_t bytes)
{
    gzFile f = gzopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(gzwrite(f, data, (unsigned)bytes), (int)bytes);
    gzclose(f);
}

/* A valid IDX set in dir: 4 train and 2 test images of 3x5, plain files. */
static void write_idx_set(const char *dir)
{
    uint8_t buf[256];
    fixture_write(dir, "train-images-idx3-ubyte", buf, idx_images(buf, 0x803, 4, 3, 5));
    fixture_write(dir, "train-labels-idx1-ubyte", buf, idx_labels(buf, 0x801, 4));
    fixture_write(dir, "t10k-images-idx3-ubyte", buf, idx_images(buf, 0x803, 2, 3, 5));
    fixture_write(dir, "t10k-labels-idx1-ubyte", buf, idx_labels(buf, 0x801, 2));
}

static void check_idx_set(const VkcDataset *ds)
{
    assert_int_equal(ds->train.n, 4);
    assert_int_equal(ds->test.n, 2);
    assert_int_equal(ds->height, 3);
    assert_int_equal(ds->width, 5);
    assert_int_equal(ds->channels, 1);
    assert_int_equal(ds->nclasses, 3);  /* labels 0..2 */
    assert_string_equal(ds->class_names[2], "2");
    assert_int_equal(vkc_image(ds, &ds->train, 2)[4], 2 * 7 + 4);
    assert_int_equal(ds->train.labels[3], 0);
    assert_int_equal(ds->test.labels[1], 1);
}

static void test_idx_plain_and_gzip(void **state)
{
    (void)state;
    char dir[256], spec[300];
    fixture_dir(dir);
    write_idx_set(dir);
    VkcDataset ds;
    snprintf(spec, sizeof spec, "idx:%s", dir);
    LOAD_OK(vkc_dataset_load(&ds, spec));
    check_idx_set(&ds);
    vkc_dataset_free(&ds);

    /* the same data gzip-compressed */
    const char *names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                            "t10k-labels-idx1-ubyte"};
    for (int k = 0; k < 4; k++) {
        char plain[400], gz[512];
        snprintf(plain, sizeof plain, "%s/%s", dir, names[k]);
        snprintf(gz, sizeof gz, "%s.gz", plain);
        FILE *f = fopen(plain, "rb");
        uint8_t buf[256];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        remove(plain);
        gz_write(gz, buf, n);
    }
    LOAD_OK(vkc_dataset_load(&ds, spec));
    check_idx_set(&ds);
    vkc_dataset_free(&ds);
    fixture_cleanup(dir);
}

static void test_idx_bad_input(void **state)
{
    (void)state;
    char dir[256];
    fixture_dir(dir);
    VkcDataset ds;
    uint8_t buf[256];

    ASSERT_ERROR_MENTIONS(vkc_dataset_load_idx(&ds, "/nonexistent/mnist", "idx", NULL), "/nonexistent/mnist", "missing");
    ASSERT_ERROR_MENTIONS(vkc_dataset_load_idx(&ds, dir, "idx", NULL), "train-images-idx3-ubyte", "no such file");

    /* wrong magic: labels where images belong */
    write_idx_set(dir);
    fixture_write(dir, "train-images-idx3-ubyte", buf, idx_labels(buf, 0x801, 4));
    ASSERT_ERROR_MENTIONS(vkc_dataset_load_idx(&ds, dir, "idx", NULL), "train-images-idx3-ubyte", "wrong magic");
    assert_null(ds.train.pixels);  /* nothing half-loaded */

    /* truncated images */
    size_t n = idx_images(buf, 0x803, 4, 3, 5);
    fixture_write(dir, "train-images-idx3-ubyte", buf, n - 1);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load_idx(&ds, dir, "idx", NULL), "train-images-idx3-ubyte", "truncated");

    /* truncated header */
    fixture_write(dir, "train-images-idx3-ubyte", buf, 10);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load_idx(&ds, dir, "idx", NULL), "train-images-idx3-ubyte", "truncated");

    /* trailing bytes */
    fixture_write(dir, "train-images-idx3-ubyte", buf, n);
    buf[idx_labels(buf, 0x801, 2)] = 0;
    fixture_write(dir, "t10k-labels-idx1-ubyte", buf, idx_labels(buf, 0x801, 2) + 1);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load_idx(&ds, dir, "idx", NULL), "t10k-labels-idx1-ubyte", "unexpected data");

    /* image/label count mismatch */
    fixture_write(dir, "t10k-labels-idx1-ubyte", buf, idx_labels(buf, 0x801, 3));
    ASSERT_ERROR_MENTIONS(vkc_dataset_load_idx(&ds, dir, "idx", NULL), "t10k-images-idx3-ubyte", "2 images", "3 labels");

    /* test images of another size */
    fixture_write(dir, "t10k-labels-idx1-ubyte", buf, idx_labels(buf, 0x801, 2));
    fixture_write(dir, "t10k-images-idx3-ubyte", buf, idx_images(buf, 0x803, 2, 4, 4));
    ASSERT_ERROR_MENTIONS(vkc_dataset_load_idx(&ds, dir, "idx", NULL), "t10k-images-idx3-ubyte", "4x4");

    /* corrupt gzip: a gzip header followed by garbage */
    write_idx_set(dir);
    remove(fixture_path(dir, "train-labels-idx1-ubyte"));
    uint8_t corrupt[64] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    for (int i = 10; i < 64; i++) corrupt[i] = (uint8_t)(i * 37);
    fixture_write(dir, "train-labels-idx1-ubyte.gz", corrupt, sizeof corrupt);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load_idx(&ds, dir, "idx", NULL), "train-labels-idx1-ubyte.gz");

    /* unreadable: a folder where a file should be */
    remove(fixture_path(dir, "train-labels-idx1-ubyte.gz"));
    mkdir(fixture_path(dir, "train-labels-idx1-ubyte"), 0755);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load_idx(&ds, dir, "idx", NULL), "train-labels-idx1-ubyte", "cannot read");

    /* a label beyond the 10 Fashion-MNIST classes */
    remove(fixture_path(dir, "train-labels-idx1-ubyte"));
    n = idx_labels(buf, 0x801, 4);
    buf[8 + 1] = 12;
    fixture_write(dir, "train-labels-idx1-ubyte", buf, n);
    char spec[300];
    snprintf(spec, sizeof spec, "fashion-mnist:%s", dir);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load(&ds, spec), "label 12");
    assert_int_equal(ds.nclasses, 0);

    /* unreadable by permission (root reads anything, so only as another user) */
    write_idx_set(dir);
    if (geteuid() != 0) {
        chmod(fixture_path(dir, "train-images-idx3-ubyte"), 0);
        ASSERT_ERROR_MENTIONS(vkc_dataset_load_idx(&ds, dir, "idx", NULL), "train-images-idx3-ubyte");
    }
    fixture_cleanup(dir);
}

static void test_spec_errors(void **state)
{
    (void)state;
    VkcDataset ds;
    ASSERT_ERROR_MENTIONS(vkc_dataset_load(&ds, "imagenet:/data"), "imagenet:/data", "unknown reader 'imagenet'");
    ASSERT_ERROR_MENTIONS(vkc_dataset_load(&ds, "cifar10"), "'cifar10'", "expected");
    ASSERT_ERROR_MENTIONS(vkc_dataset_load(&ds, "cifar10:"), "expected");
    ASSERT_ERROR_MENTIONS(vkc_dataset_load(&ds, "folder:/nonexistent/x"), "/nonexistent/x");
}

/* ---------------------------------------------------------------- CIFAR */

/* One CIFAR record: label byte(s), then planes R = 10 + p % 50, G = 100 + image, B = 200 + label. */
static void cifar_record(uint8_t *rec, int label_bytes, int coarse, int label, int image)
{
    if (label_bytes == 2) *rec++ = (uint8_t)coarse;
    *rec++ = (uint8_t)label;
    for (int p = 0; p < 1024; p++) {
        rec[p] = (uint8_t)(10 + p % 50);
        rec[1024 + p] = (uint8_t)(100 + image);
        rec[2048 + p] = (uint8_t)(200 + label % 50);
    }
}

static void write_cifar_file(const char *dir, const char *name, int label_bytes, int n, int first_image, int nclasses)
{
    size_t rec = (size_t)label_bytes + 3072;
    uint8_t *buf = malloc(rec * n);
    for (int i = 0; i < n; i++) cifar_record(buf + rec * i, label_bytes, i % 20, (first_image + i) % nclasses, first_image + i);
    fixture_write(dir, name, buf, rec * n);
    free(buf);
}

static void write_cifar10(const char *dir)
{
    char name[64];
    for (int k = 1; k <= 5; k++) {
        snprintf(name, sizeof name, "data_batch_%d.bin", k);
        write_cifar_file(dir, name, 1, 2, 2 * (k - 1), 10);
    }
    write_cifar_file(dir, "test_batch.bin", 1, 3, 50, 10);
}

static void test_cifar10(void **state)
{
    (void)state;
    char dir[256], spec[300];
    fixture_dir(dir);
    write_cifar10(dir);
    VkcDataset ds;
    snprintf(spec, sizeof spec, "cifar10:%s", dir);
    LOAD_OK(vkc_dataset_load(&ds, spec));
    assert_int_equal(ds.train.n, 10);
    assert_int_equal(ds.test.n, 3);
    assert_int_equal(ds.height, 32);
    assert_int_equal(ds.channels, 3);
    assert_int_equal(ds.nclasses, 10);
    assert_string_equal(ds.class_names[0], "airplane");
    assert_string_equal(ds.class_names[9], "truck");
    /* image 7 (batch 4, record 1): planar file -> interleaved pixel (y=1, x=3) */
    const uint8_t *px = vkc_image(&ds, &ds.train, 7) + (1 * 32 + 3) * 3;
    assert_int_equal(px[0], 10 + 35 % 50);
    assert_int_equal(px[1], 100 + 7);
    assert_int_equal(px[2], 200 + 7);
    assert_int_equal(ds.train.labels[7], 7);
    assert_int_equal(ds.test.labels[2], 52 % 10);
    vkc_dataset_free(&ds);

    /* names from the archive's batches.meta.txt; the archive's folder inside DIR is found */
    char sub[300];
    snprintf(sub, sizeof sub, "%s/cifar-10-batches-bin", dir);
    mkdir(sub, 0755);
    write_cifar10(sub);
    const char *meta = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n";
    FILE *f = fopen(fixture_path(dir, "cifar-10-batches-bin/batches.meta.txt"), "w");
    fputs(meta, f);
    fclose(f);
    remove(fixture_path(dir, "test_batch.bin"));
    LOAD_OK(vkc_dataset_load_cifar10(&ds, dir));
    assert_string_equal(ds.class_names[9], "j");
    assert_int_equal(ds.train.n, 10);
    vkc_dataset_free(&ds);
    fixture_cleanup(dir);
}

static void test_cifar100(void **state)
{
    (void)state;
    char dir[256], spec[300];
    fixture_dir(dir);
    write_cifar_file(dir, "train.bin", 2, 5, 95, 100);
    write_cifar_file(dir, "test.bin", 2, 2, 0, 100);
    VkcDataset ds;
    snprintf(spec, sizeof spec, "cifar100:%s", dir);
    LOAD_OK(vkc_dataset_load(&ds, spec));
    assert_int_equal(ds.train.n, 5);
    assert_int_equal(ds.nclasses, 100);
    /* the fine label (second byte), not the coarse one */
    int32_t fine[5] = {95, 96, 97, 98, 99};
    assert_memory_equal(ds.train.labels, fine, sizeof fine);
    assert_int_equal(vkc_image(&ds, &ds.train, 4)[1], 100 + 99);
    vkc_dataset_free(&ds);
    fixture_cleanup(dir);
}

static void test_cifar_bad_input(void **state)
{
    (void)state;
    char dir[256];
    fixture_dir(dir);
    VkcDataset ds;
    write_cifar10(dir);

    /* truncated: one byte short of whole records */
    uint8_t *buf = malloc(2 * 3073);
    for (int i = 0; i < 2; i++) cifar_record(buf + 3073 * i, 1, 0, 1, i);
    fixture_write(dir, "data_batch_3.bin", buf, 2 * 3073 - 1);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load_cifar10(&ds, dir), "data_batch_3.bin", "truncated");
    assert_null(ds.train.pixels);

    /* empty */
    fixture_write(dir, "data_batch_3.bin", buf, 0);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load_cifar10(&ds, dir), "data_batch_3.bin", "empty");

    /* label out of range (a CIFAR-100 record read as CIFAR-10 would do this) */
    buf[3073] = 10;
    fixture_write(dir, "data_batch_3.bin", buf, 2 * 3073);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load_cifar10(&ds, dir), "data_batch_3.bin", "record 1", "label 10");

    /* missing batch */
    remove(fixture_path(dir, "data_batch_3.bin"));
    ASSERT_ERROR_MENTIONS(vkc_dataset_load_cifar10(&ds, dir), "data_batch_3.bin", "No such file");

    /* a folder where a batch should be: not readable as a file */
    mkdir(fixture_path(dir, "data_batch_3.bin"), 0755);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load_cifar10(&ds, dir), "data_batch_3.bin", "not a regular file");

    /* CIFAR-100 fine label beyond 99; and wrong class-name count */
    write_cifar_file(dir, "train.bin", 2, 2, 0, 100);
    write_cifar_file(dir, "test.bin", 2, 2, 0, 100);
    fixture_write(dir, "fine_label_names.txt", "apple\nbanana\n", 13);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load_cifar100(&ds, dir), "fine_label_names.txt", "2 class names");
    remove(fixture_path(dir, "fine_label_names.txt"));
    cifar_record(buf, 2, 3, 100, 0);
    fixture_write(dir, "test.bin", buf, 3074);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load_cifar100(&ds, dir), "test.bin", "label 100");
    free(buf);
    fixture_cleanup(dir);
}

/* ---------------------------------------------------------------- PNG folders */

/* Image i of a split as bytes: resident, or a collection's decoded at full size (valid until
 * the next call). */
static const uint8_t *image_of(const VkcDataset *ds, const VkcSplit *split, int i)
{
    static VkcDecoder *d;
    if (!d && vkc_decoder_create(&d)) fail_msg("%s", vkc_error());
    VkcImage img;
    LOAD_OK(vkc_decode_image(d, ds, split, i, 1, &img));
    return img.pixels;
}

static void test_folder_gray_formats(void **state)
{
    (void)state;
    char dir[256];
    fixture_dir(dir);
    /* class "a": 8-bit gray 4x4 (sets the size), 16-bit gray, gray+alpha; class "b": palette of grays, 8x8 gray */
    uint8_t gray8[16];
    for (int i = 0; i < 16; i++) gray8[i] = (uint8_t)(i * 10);
    fixture_png(dir, "train/a/0.png", 4, 4, PNG_COLOR_TYPE_GRAY, 8, gray8, NULL, 0);
    uint16_t gray16[16];
    for (int i = 0; i < 16; i++) gray16[i] = (uint16_t)(200 * 257);
    fixture_png(dir, "train/a/1.png", 4, 4, PNG_COLOR_TYPE_GRAY, 16, gray16, NULL, 0);
    uint8_t ga[32];
    for (int i = 0; i < 16; i++) ga[2 * i] = 180, ga[2 * i + 1] = i < 8 ? 255 : 0;
    fixture_png(dir, "train/a/2.png", 4, 4, PNG_COLOR_TYPE_GRAY_ALPHA, 8, ga, NULL, 0);
    fixture_png_gray(dir, "train/b/big.png", 8, 8, 77);
    fixture_png_gray(dir, "test/b/0.png", 4, 4, 5);
    fixture_write(dir, "train/.hidden", "x", 1);  /* hidden entries are not classes or images */

    VkcDataset ds;
    char spec[300];
    snprintf(spec, sizeof spec, "folder:%s", dir);
    LOAD_OK(vkc_dataset_load(&ds, spec));
    assert_true(vkc_dataset_is_collection(&ds));
    assert_int_equal(ds.channels, 1);
    /* sizes 4, 4, 4, 8 (and the test image's 4): the median shorter side */
    assert_true(ds.mixed_sizes);
    assert_int_equal(ds.height, 4);
    assert_int_equal(ds.width, 4);
    assert_int_equal(ds.nclasses, 2);
    assert_string_equal(ds.class_names[0], "a");
    assert_string_equal(ds.class_names[1], "b");
    assert_int_equal(ds.train.n, 4);
    assert_int_equal(ds.test.n, 1);
    assert_int_equal(ds.unlabeled.n, 0);
    /* the classes interleaved in proportion: a at 1/6, 3/6, 5/6 of the split, b at 1/2 */
    int32_t labels[4] = {0, 0, 1, 0};
    assert_memory_equal(ds.train.labels, labels, sizeof labels);
    assert_memory_equal(image_of(&ds, &ds.train, 0), gray8, 16);
    for (int p = 0; p < 16; p++) {
        assert_int_equal(image_of(&ds, &ds.train, 1)[p], 200);          /* 16 -> 8 bits */
        assert_int_equal(image_of(&ds, &ds.train, 3)[p], p < 8 ? 180 : 0); /* alpha onto black */
    }
    int h, w;
    vkc_image_size(&ds, &ds.train, 2, &h, &w); /* images keep their own size */
    assert_int_equal(h, 8), assert_int_equal(w, 8);
    for (int p = 0; p < 64; p++) assert_int_equal(image_of(&ds, &ds.train, 2)[p], 77);
    assert_int_equal(ds.test.labels[0], 1);
    vkc_dataset_free(&ds);
    fixture_cleanup(dir);
}

static void test_folder_color_formats(void **state)
{
    (void)state;
    char dir[256];
    fixture_dir(dir);
    fixture_png_rgb(dir, "train/cat/0.png", 6, 6, 10, 20, 30);
    uint8_t rgba[6 * 6 * 4];
    for (int i = 0; i < 36; i++) rgba[4 * i] = 250, rgba[4 * i + 1] = 100, rgba[4 * i + 2] = 0, rgba[4 * i + 3] = 255;
    fixture_png(dir, "train/cat/1.png", 6, 6, PNG_COLOR_TYPE_RGB_ALPHA, 8, rgba, NULL, 0);
    png_color palette[2] = {{255, 0, 0}, {0, 0, 255}};
    uint8_t indices[36];
    for (int i = 0; i < 36; i++) indices[i] = (uint8_t)(i % 2);
    fixture_png(dir, "train/dog/0.png", 6, 6, PNG_COLOR_TYPE_PALETTE, 8, indices, palette, 2);
    uint16_t rgb16[6 * 6 * 3];
    for (int i = 0; i < 36 * 3; i++) rgb16[i] = (uint16_t)((i % 3 + 1) * 60 * 257);
    fixture_png(dir, "train/dog/1.png", 6, 6, PNG_COLOR_TYPE_RGB, 16, rgb16, NULL, 0);
    fixture_png_gray(dir, "train/dog/2.png", 3, 3, 90);  /* gray in an RGB set, and smaller */

    VkcDataset ds;
    LOAD_OK(vkc_dataset_load_folder(&ds, dir));
    assert_int_equal(ds.channels, 3);
    assert_int_equal(ds.train.n, 5);
    assert_int_equal(ds.test.n, 0);  /* no test folder */
    /* interleaved: dog/0 (at 1/6), cat/0 (1/4), dog/1 (1/2), cat/1 (3/4), dog/2 (5/6) */
    int32_t labels[5] = {1, 0, 1, 0, 1};
    assert_memory_equal(ds.train.labels, labels, sizeof labels);
    const uint8_t *im;
    im = image_of(&ds, &ds.train, 1);
    assert_int_equal(im[0], 10), assert_int_equal(im[1], 20), assert_int_equal(im[2], 30);
    im = image_of(&ds, &ds.train, 3);
    assert_int_equal(im[0], 250), assert_int_equal(im[1], 100), assert_int_equal(im[2], 0);
    im = image_of(&ds, &ds.train, 0);  /* palette: pixel 0 red, pixel 1 blue */
    assert_int_equal(im[0], 255), assert_int_equal(im[2], 0), assert_int_equal(im[3], 0), assert_int_equal(im[5], 255);
    im = image_of(&ds, &ds.train, 2);
    assert_int_equal(im[0], 60), assert_int_equal(im[1], 120), assert_int_equal(im[2], 180);
    im = image_of(&ds, &ds.train, 4);  /* gray 3x3 -> RGB 3x3 */
    for (int i = 0; i < 9 * 3; i++) assert_int_equal(im[i], 90);
    vkc_dataset_free(&ds);
    fixture_cleanup(dir);
}

static void test_folder_bad_input(void **state)
{
    (void)state;
    char dir[256];
    fixture_dir(dir);
    VkcDataset ds;
    ASSERT_ERROR_MENTIONS(vkc_dataset_load_folder(&ds, dir), "train", "missing");
    mkdir(fixture_path(dir, "train/"), 0755);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load_folder(&ds, dir), "train", "no class folders");

    fixture_png_gray(dir, "train/a/0.png", 4, 4, 1);
    mkdir(fixture_path(dir, "train/empty/"), 0755);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load_folder(&ds, dir), "train/empty", "empty class folder");
    fixture_png_gray(dir, "train/empty/0.png", 4, 4, 1);
    LOAD_OK(vkc_dataset_load_folder(&ds, dir));
    vkc_dataset_free(&ds);

    /* not an image */
    fixture_write(dir, "train/a/notes.png", "hello, not a png", 16);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load_folder(&ds, dir), "train/a/notes.png", "not a JPEG or PNG", "--skip-bad");
    assert_null(ds.train.refs);
    remove(fixture_path(dir, "train/a/notes.png"));

    /* truncated PNG: the first half of a valid one */
    uint8_t px[64 * 64];
    for (int i = 0; i < 64 * 64; i++) px[i] = (uint8_t)(i * 13 + i / 7);
    fixture_png(dir, "train/a/1.png", 64, 64, PNG_COLOR_TYPE_GRAY, 8, px, NULL, 0);
    FILE *f = fopen(fixture_path(dir, "train/a/1.png"), "rb");
    uint8_t whole[8192];
    size_t n = fread(whole, 1, sizeof whole, f);
    fclose(f);
    fixture_write(dir, "train/a/1.png", whole, n / 2);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load_folder(&ds, dir), "train/a/1.png", "truncated");
    /* corrupt: bytes flipped in the middle (CRC mismatch): the header is fine, decoding fails */
    for (size_t i = n / 2; i < n / 2 + 8; i++) whole[i] ^= 0x5a;
    fixture_write(dir, "train/a/1.png", whole, n);
    LOAD_OK(vkc_dataset_load_folder(&ds, dir));
    VkcDecoder *dec;
    LOAD_OK(vkc_decoder_create(&dec));
    VkcImage img;
    ASSERT_ERROR_MENTIONS(vkc_decode_image(dec, &ds, &ds.train, 2, 1, &img), "train/a/1.png"); /* a/0, empty/0, a/1 */
    vkc_decoder_destroy(dec);
    vkc_dataset_free(&ds);
    remove(fixture_path(dir, "train/a/1.png"));

    /* images in a folder below a class folder belong to the class */
    fixture_png_gray(dir, "train/a/sub/deeper/2.png", 4, 4, 1);
    LOAD_OK(vkc_dataset_load_folder(&ds, dir));
    assert_int_equal(ds.train.n, 3);
    char origin[512];
    vkc_image_origin(&ds, &ds.train, 2, origin, sizeof origin);
    assert_non_null(strstr(origin, "train/a/sub/deeper/2.png"));
    assert_int_equal(ds.train.labels[2], 0);
    vkc_dataset_free(&ds);

    /* a test class that training does not have */
    fixture_png_gray(dir, "test/zebra/0.png", 4, 4, 1);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load_folder(&ds, dir), "test/zebra", "no training folder");
    fixture_cleanup(dir);
}

/* ---------------------------------------------------------------- decompression bombs */

/* A PNG whose header claims w x h while its data is one pixel's: the few bytes of a bomb. */
static void bomb_png(const char *dir, const char *rel, uint32_t w, uint32_t h)
{
    fixture_png_gray(dir, rel, 1, 1, 7);
    size_t n;
    uint8_t *png = fixture_read(fixture_path(dir, rel), &n);
    for (int i = 0; i < 4; i++) png[16 + i] = (uint8_t)(w >> (24 - 8 * i)), png[20 + i] = (uint8_t)(h >> (24 - 8 * i));
    uLong crc = crc32(0, png + 12, 17);
    for (int i = 0; i < 4; i++) png[29 + i] = (uint8_t)(crc >> (24 - 8 * i));
    fixture_write(dir, rel, png, n);
    free(png);
}

/* Limits checked from headers before anything is decoded or allocated, each refusal naming the
 * file and the flag that raises the limit. */
static void test_decompression_bombs(void **state)
{
    (void)state;
    char dir[256], spec[300];
    fixture_dir(dir);
    VkcDataset ds;
    /* 30000 x 30000 claimed in ~70 bytes: refused from the header, in a folder and alone. */
    bomb_png(dir, "train/a/0.png", 30000, 30000);
    fixture_png_gray(dir, "train/a/1.png", 4, 4, 1);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load_folder(&ds, dir), "train/a/0.png", "--max-image-pixels");
    uint8_t *px;
    int h, w;
    ASSERT_ERROR_MENTIONS(vkc_png_read(fixture_path(dir, "train/a/0.png"), 1, &px, &h, &w), "train/a/0.png",
                          "--max-image-pixels");
    /* A bomb later in the folder is refused too. */
    fixture_png_gray(dir, "train/a/0.png", 4, 4, 1);
    bomb_png(dir, "train/a/2.png", 65536, 65536);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load_folder(&ds, dir), "train/a/2.png", "--max-image-pixels");
    remove(fixture_path(dir, "train/a/2.png"));
    /* Small limits: a 20 x 20 image is 400 pixels. A collection is not held in memory: the
     * memory limit does not count its images. */
    snprintf(spec, sizeof spec, "folder:%s", dir);
    fixture_png_gray(dir, "train/a/2.png", 20, 20, 1);
    VkcDataLimits lim = {.max_image_pixels = 399, .max_bytes = 1u << 20};
    ASSERT_ERROR_MENTIONS(vkc_dataset_load_limited(&ds, spec, &lim), "train/a/2.png", "400 pixels");
    lim.max_image_pixels = 400;
    lim.max_bytes = 1;
    LOAD_OK(vkc_dataset_load_limited(&ds, spec, &lim));
    assert_int_equal(ds.max_image_pixels, 400);
    vkc_dataset_free(&ds);
    fixture_cleanup(dir);

    /* IDX: a 16-byte file that declares 60000 images of 28 x 28 is truncated, found before
     * 47 MB are allocated; a gzip file's declared size counts against the memory limit. */
    fixture_dir(dir);
    uint8_t head[16] = {0, 0, 8, 3, 0, 0, 0xea, 0x60, 0, 0, 0, 28, 0, 0, 0, 28};
    uint8_t labels[8] = {0, 0, 8, 1, 0, 0, 0xea, 0x60};
    fixture_write(dir, "train-images-idx3-ubyte", head, 16);
    fixture_write(dir, "train-labels-idx1-ubyte", labels, 8);
    fixture_write(dir, "t10k-images-idx3-ubyte", head, 16);
    fixture_write(dir, "t10k-labels-idx1-ubyte", labels, 8);
    snprintf(spec, sizeof spec, "idx:%s", dir);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load(&ds, spec), "train-images-idx3-ubyte", "truncated", "declares 60000 images");
    gzFile gz = gzopen(fixture_path(dir, "train-images-idx3-ubyte"), "wb");
    head[4] = 0x3f; /* 0x3f00ea60 images: 45 TB declared */
    head[11] = head[15] = 16;
    gzwrite(gz, head, 16);
    gzclose(gz);
    ASSERT_ERROR_MENTIONS(vkc_dataset_load(&ds, spec), "train-images-idx3-ubyte", "--max-data-gib");
    fixture_cleanup(dir);
    /* Synthetic data within the limit only. */
    ASSERT_ERROR_MENTIONS(vkc_dataset_load(&ds, "synthetic:4096x4096x3:10000000"), "synthetic", "--max-data-gib");
}

/* ---------------------------------------------------------------- resize, synthetic, PNG out */

static void test_resize(void **state)
{
    (void)state;
    float scratch[256];
    /* equal sizes copy exactly */
    uint8_t src[5 * 4 * 3], dst[5 * 4 * 3];
    for (int i = 0; i < 60; i++) src[i] = (uint8_t)(i * 41);
    assert_true(vkc_resize_scratch_floats(5, 4, 5, 4, 3) <= 256);
    vkc_resize_u8(src, 5, 4, 12, 3, dst, 5, 4, scratch);
    assert_memory_equal(src, dst, sizeof src);
    /* 1x2 -> 1x4 enlarges bilinearly: centres at 0.25 and 0.75 of a pixel */
    uint8_t two[2] = {0, 100}, four[4];
    vkc_resize_u8(two, 1, 2, 2, 1, four, 1, 4, scratch);
    uint8_t want4[4] = {0, 25, 75, 100};
    assert_memory_equal(four, want4, 4);
    /* 1x4 -> 1x2 shrinks with a triangle twice as wide: weights 0.75, 0.75, 0.25 over 1.75 */
    uint8_t row[4] = {0, 70, 140, 210}, half[2];
    vkc_resize_u8(row, 1, 4, 4, 1, half, 1, 2, scratch);
    assert_int_equal(half[0], (int)((0.75 * 0 + 0.75 * 70 + 0.25 * 140) / 1.75 + 0.5));
    assert_int_equal(half[1], (int)((0.25 * 70 + 0.75 * 140 + 0.75 * 210) / 1.75 + 0.5));
}

static void test_synthetic_and_png_roundtrip(void **state)
{
    (void)state;
    VkcDataset a, b;
    LOAD_OK(vkc_dataset_synthetic(&a, 20, 5, 7, 9, 3, 4, 42));
    LOAD_OK(vkc_dataset_synthetic(&b, 20, 5, 7, 9, 3, 4, 42));
    assert_memory_equal(a.train.pixels, b.train.pixels, 20 * vkc_image_bytes(&a));
    assert_memory_equal(a.test.labels, b.test.labels, 5 * sizeof(int32_t));
    float mean[3], std[3];
    vkc_dataset_channel_stats(&a, mean, std);
    for (int c = 0; c < 3; c++) assert_true(mean[c] > 0.4f && mean[c] < 0.6f && std[c] > 0.25f && std[c] < 0.33f);
    char dir[256];
    fixture_dir(dir);
    const char *path = fixture_path(dir, "x.png");
    LOAD_OK(vkc_png_write(path, a.train.pixels, 7, 9, 3));
    uint8_t *back;
    int h, w;
    LOAD_OK(vkc_png_read(path, 3, &back, &h, &w));
    assert_int_equal(h, 7);
    assert_int_equal(w, 9);
    assert_memory_equal(back, a.train.pixels, 7 * 9 * 3);
    free(back);
    ASSERT_ERROR_MENTIONS(vkc_png_write("/nonexistent/dir/x.png", a.train.pixels, 7, 9, 3), "/nonexistent/dir/x.png");
    vkc_dataset_free(&a);
    vkc_dataset_free(&b);
    fixture_cleanup(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fashion_mnist),
        cmocka_unit_test(test_idx_plain_and_gzip),
        cmocka_unit_test(test_idx_bad_input),
        cmocka_unit_test(test_spec_errors),
        cmocka_unit_test(test_cifar10),
        cmocka_unit_test(test_cifar100),
        cmocka_unit_test(test_cifar_bad_input),
        cmocka_unit_test(test_folder_gray_formats),
        cmocka_unit_test(test_folder_color_formats),
        cmocka_unit_test(test_folder_bad_input),
        cmocka_unit_test(test_decompression_bombs),
        cmocka_unit_test(test_resize),
        cmocka_unit_test(test_synthetic_and_png_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
