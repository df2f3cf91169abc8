/* Datasets: uint8 images resident in RAM, read from IDX (MNIST, Fashion-MNIST), CIFAR-10/100
 * binary batches, or folders of PNG images (one sub-folder per class).
 *
 * Layout: every image is height x width x channels bytes, channels interleaved (HWC, the
 * order of PNG rows), and the images of a split follow each other: pixel (y, x, c) of image i
 * is pixels[((i * height + y) * width + x) * channels + c]. channels is 1 (gray) or 3 (RGB).
 *
 * Loaders either return a complete dataset or VKC_ERR with a message naming the file and what
 * is wrong (vkc_error()); on error the dataset is left zeroed, never half-filled.
 */
#ifndef VKCLR_DATA_H
#define VKCLR_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "vkclr/error.h"

#define VKC_DEFAULT_FASHION_MNIST "/usr/share/datasets/fashion-mnist"

typedef struct {
    int n;            /* number of images */
    uint8_t *pixels;  /* n * height * width * channels bytes, HWC per image */
    int32_t *labels;  /* n class indices in [0, nclasses) */
} VkcSplit;

typedef struct {
    char name[64];     /* reader and origin, e.g. "fashion-mnist", "cifar10" */
    int height, width, channels;
    int nclasses;
    char **class_names; /* nclasses strings */
    VkcSplit train, test;
} VkcDataset;

/* Load from a --data spec:
 *   fashion-mnist          Fashion-MNIST from /usr/share/datasets/fashion-mnist (the default;
 *                          NULL means this too; "" is refused)
 *   fashion-mnist:DIR      Fashion-MNIST IDX files in DIR
 *   mnist:DIR, idx:DIR     any IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
 *                          t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]); digit class names
 *   cifar10:DIR            data_batch_1..5.bin and test_batch.bin (DIR or DIR/cifar-10-batches-bin)
 *   cifar100:DIR           train.bin and test.bin, fine labels (DIR or DIR/cifar-100-binary)
 *   folder:DIR             DIR/train/<class>/ *.png and DIR/test/<class>/ *.png
 *   synthetic:HxWxC[:N[:SEED]]  N (default 10240) random-noise training images and 1000 test
 *                          images of 10 random classes, from SEED (default 0): for benchmarks */
int vkc_dataset_load(VkcDataset *ds, const char *spec);

/* The folder a --data spec reads (fashion-mnist: its Debian folder; kind:DIR: DIR), "" for
 * one that reads none (synthetic). Fails for a spec vkc_dataset_load would refuse by its kind. */
int vkc_dataset_spec_folder(const char *spec, char *dir, size_t size);

/* What a --data spec may make vkclr read into memory. A few bytes of PNG header can promise
 * gigapixels (and the first image of a folder sets the size of every image), an IDX header
 * declares its count and size: the limits are checked from the headers, before anything is
 * decoded or allocated, and each message names the file and the flag that raises the limit. */
typedef struct {
    uint64_t max_image_pixels; /* one PNG image (--max-image-pixels) */
    uint64_t max_bytes;        /* the whole dataset in memory, both splits (--max-data-gib) */
} VkcDataLimits;
#define VKC_DATA_MAX_IMAGE_PIXELS (UINT64_C(1) << 26) /* 8192 x 8192 */
#define VKC_DATA_MAX_BYTES (UINT64_C(16) << 30)       /* 16 GiB */
/* vkc_dataset_load within `limits` (NULL: the defaults above, which vkc_dataset_load uses). */
int vkc_dataset_load_limited(VkcDataset *ds, const char *spec, const VkcDataLimits *limits);

/* The readers behind the spec. class_names may be NULL for idx ("0".."9"). */
int vkc_dataset_load_idx(VkcDataset *ds, const char *dir, const char *name, const char *const *class_names);
int vkc_dataset_load_cifar10(VkcDataset *ds, const char *dir);
int vkc_dataset_load_cifar100(VkcDataset *ds, const char *dir);
/* PNG class folders. Classes are the sub-folders of DIR/train in byte order of their names;
 * DIR/test is optional (empty test split if absent) but may only use classes that train has.
 * The dataset takes the size of the first training image (first class, first file by name);
 * other sizes are resized to it (antialiased bilinear). It is gray if every image is gray or
 * gray+alpha, else RGB. Alpha is composited onto black; 16-bit samples are scaled to 8 bits. */
int vkc_dataset_load_folder(VkcDataset *ds, const char *dir);

/* Random-noise images with random labels, deterministic in seed: for benchmarks and tests. */
int vkc_dataset_synthetic(VkcDataset *ds, int ntrain, int ntest, int height, int width, int channels,
                          int nclasses, uint64_t seed);

void vkc_dataset_free(VkcDataset *ds);

/* Keep only the first n training images (n <= 0 or n >= train.n: keep all). */
void vkc_dataset_limit(VkcDataset *ds, int n);

static inline size_t vkc_image_bytes(const VkcDataset *ds)
{
    return (size_t)ds->height * ds->width * ds->channels;
}
static inline const uint8_t *vkc_image(const VkcDataset *ds, const VkcSplit *split, int i)
{
    return split->pixels + (size_t)i * vkc_image_bytes(ds);
}

/* Per-channel mean and standard deviation of the training images, in [0, 1] units. */
void vkc_dataset_channel_stats(const VkcDataset *ds, float mean[3], float std[3]);

/* ---------------------------------------------------------------- PNG */

/* Decode a PNG to 8-bit gray (channels 1) or RGB (channels 3), h x w HWC; *pixels is malloc'd. */
int vkc_png_read(const char *path, int channels, uint8_t **pixels, int *height, int *width);
/* Write an 8-bit gray (channels 1) or RGB (channels 3) HWC image as PNG. */
int vkc_png_write(const char *path, const uint8_t *pixels, int height, int width, int channels);

#endif
