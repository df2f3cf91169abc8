/* Datasets, in one of two forms:
 *   resident     uint8 images in RAM, all of one size: IDX (MNIST, Fashion-MNIST), CIFAR-10/100
 *                binary batches, synthetic noise;
 *   collection   an index of encoded images (JPEG or PNG files, or the records of STL-10's
 *                binary files): per image where its bytes are and its size from its header,
 *                nothing decoded. Images keep their own sizes; a VkcDecoder (one per thread)
 *                decodes one when it is needed, so memory does not grow with the number of
 *                images.
 *
 * Layout of a decoded or resident image: height x width x channels bytes, channels interleaved
 * (HWC, the order of PNG rows); resident images of a split follow each other: pixel (y, x, c)
 * of image i is pixels[((i * height + y) * width + x) * channels + c]. channels is 1 (gray) or
 * 3 (RGB): a collection's images are converted to the dataset's channels as they are decoded.
 *
 * Splits: `train` and `test` carry labels (the linear probe and kNN learn from train and are
 * measured on test); `unlabeled` has none. Contrastive training uses train, then unlabeled.
 *
 * Loaders either return a complete dataset or VKC_ERR with a message naming the file and what
 * is wrong (vkc_error()); on error the dataset is left zeroed, never half-filled. A file that
 * cannot be an image (empty, truncated, not JPEG or PNG, zero or too many pixels, unreadable,
 * a symbolic-link loop) fails the load, unless VkcDataLimits.skip_bad is set: then it is left
 * out and listed in VkcDataset.skipped.
 */
#ifndef VKCLR_DATA_H
#define VKCLR_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vkclr/error.h"

#define VKC_DEFAULT_FASHION_MNIST "/usr/share/datasets/fashion-mnist"

/* Where a collection's image is: a file (offset 0), or a record inside one (STL-10). */
typedef enum { VKC_IMAGE_JPEG = 1, VKC_IMAGE_PNG, VKC_IMAGE_STL10 } VkcImageFormat;
typedef struct {
    uint64_t offset;       /* of the record in the file; 0 for image files */
    uint32_t path;         /* the file: its name starts at VkcDataset.paths + path */
    int32_t height, width; /* at full resolution, from the header */
    uint8_t format;        /* VkcImageFormat */
} VkcImageRef;

typedef struct {
    int n;             /* number of images */
    uint8_t *pixels;   /* resident: n * height * width * channels bytes, HWC per image; else NULL */
    VkcImageRef *refs; /* collection: n images, each of its own size; else NULL */
    int32_t *labels;   /* n class indices in [0, nclasses); NULL in the unlabeled split */
} VkcSplit;

typedef struct {
    char name[64];     /* reader and origin, e.g. "fashion-mnist", "cifar10" */
    /* Resident: every image's size. Collection: the size its images share, or, when they differ
     * (mixed_sizes), the square side a view gets by default: the median of the images' shorter
     * sides, at most VKC_DEFAULT_VIEW_MAX. */
    int height, width, channels;
    bool mixed_sizes;
    int nclasses;
    char **class_names; /* nclasses strings */
    VkcSplit train, test, unlabeled;
    char *paths;        /* a collection's file names, each NUL-terminated (VkcImageRef.path) */
    uint64_t max_image_pixels; /* a collection: the limit its decoders apply again */
    int nskipped;       /* with skip_bad: files left out, and why ("PATH: reason") */
    char **skipped;
    double load_seconds; /* what vkc_dataset_load took (reading, or indexing a collection) */
} VkcDataset;
#define VKC_DEFAULT_VIEW_MAX 224

/* Load from a --data spec (resident sets are read whole; collections are indexed):
 *   fashion-mnist          Fashion-MNIST from /usr/share/datasets/fashion-mnist (the default;
 *                          NULL means this too; "" is refused)
 *   fashion-mnist:DIR      Fashion-MNIST IDX files in DIR
 *   mnist:DIR, idx:DIR     any IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
 *                          t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]); digit class names
 *   cifar10:DIR            data_batch_1..5.bin and test_batch.bin (DIR or DIR/cifar-10-batches-bin)
 *   cifar100:DIR           train.bin and test.bin, fine labels (DIR or DIR/cifar-100-binary)
 *   folder:DIR             DIR/train/<class>/ and DIR/test/<class>/: JPEG and PNG files at any
 *                          depth below each class folder (a collection)
 *   images:DIR             every JPEG and PNG file under DIR at any depth, unlabeled (a collection)
 *   stl10:DIR              STL-10's binary files (DIR or DIR/stl10_binary): train_X.bin,
 *                          train_y.bin, test_X.bin, test_y.bin and, when present, unlabeled_X.bin
 *                          (a collection of records)
 *   synthetic:HxWxC[:N[:SEED]]  N (default 10240) random-noise training images and 1000 test
 *                          images of 10 random classes, from SEED (default 0): for benchmarks */
int vkc_dataset_load(VkcDataset *ds, const char *spec);

/* What a --data spec may make vkclr read into memory. A few bytes of a JPEG or PNG header can
 * promise gigapixels, an IDX header declares its count and size: the limits are checked from
 * the headers, before anything is decoded or allocated, and each message names the file and the
 * flag that raises the limit. */
typedef struct {
    uint64_t max_image_pixels; /* one image (--max-image-pixels) */
    uint64_t max_bytes;        /* a resident dataset in memory, both splits (--max-data-gib) */
    bool skip_bad;             /* a collection leaves bad files out (listed in skipped) instead of failing */
} VkcDataLimits;
#define VKC_DATA_MAX_IMAGE_PIXELS (UINT64_C(1) << 26) /* 8192 x 8192 */
#define VKC_DATA_MAX_BYTES (UINT64_C(16) << 30)       /* 16 GiB */
/* vkc_dataset_load within `limits` (NULL: the defaults above, which vkc_dataset_load uses). */
int vkc_dataset_load_limited(VkcDataset *ds, const char *spec, const VkcDataLimits *limits);

/* The readers behind the spec. class_names may be NULL for idx ("0".."9"). */
int vkc_dataset_load_idx(VkcDataset *ds, const char *dir, const char *name, const char *const *class_names);
int vkc_dataset_load_cifar10(VkcDataset *ds, const char *dir);
int vkc_dataset_load_cifar100(VkcDataset *ds, const char *dir);
/* Class folders of JPEG and PNG files (a collection). Classes are the sub-folders of DIR/train
 * in byte order of their names; DIR/test is optional (empty test split if absent) but may only
 * use classes that train has. Images keep their sizes. The classes are interleaved in each split
 * in proportion to their sizes (the first images of a split are a sample of every class; within
 * a class, the order of the file names). The dataset is gray if every image is gray (or
 * gray+alpha), else RGB. PNG alpha is composited onto black; 16-bit samples are
 * scaled to 8 bits; CMYK JPEGs are converted to RGB. */
int vkc_dataset_load_folder(VkcDataset *ds, const char *dir);

/* Random-noise images with random labels, deterministic in seed: for benchmarks and tests. */
int vkc_dataset_synthetic(VkcDataset *ds, int ntrain, int ntest, int height, int width, int channels,
                          int nclasses, uint64_t seed);

void vkc_dataset_free(VkcDataset *ds);

/* Keep only the first n images of contrastive training, train first, then unlabeled
 * (n <= 0 or n >= both: keep all). */
void vkc_dataset_limit(VkcDataset *ds, int n);
/* Images of contrastive training: train.n + unlabeled.n. Image k is train's k-th, then
 * unlabeled's (k - train.n)-th. */
static inline int vkc_dataset_ssl_count(const VkcDataset *ds) { return ds->train.n + ds->unlabeled.n; }
static inline bool vkc_dataset_is_collection(const VkcDataset *ds) { return ds->paths != NULL; }
/* Contrastive training's image k: the split it is in, and *i its index there. */
static inline const VkcSplit *vkc_dataset_ssl_image(const VkcDataset *ds, int k, int *i)
{
    *i = k < ds->train.n ? k : k - ds->train.n;
    return k < ds->train.n ? &ds->train : &ds->unlabeled;
}

static inline size_t vkc_image_bytes(const VkcDataset *ds)
{
    return (size_t)ds->height * ds->width * ds->channels;
}
/* A resident image (split->pixels must be set). */
static inline const uint8_t *vkc_image(const VkcDataset *ds, const VkcSplit *split, int i)
{
    return split->pixels + (size_t)i * vkc_image_bytes(ds);
}
/* Size of image i at full resolution (a collection's from its header: nothing is read). */
void vkc_image_size(const VkcDataset *ds, const VkcSplit *split, int i, int *height, int *width);
/* "PATH" or "PATH, record R" of a collection's image, for messages; "image I" when resident. */
void vkc_image_origin(const VkcDataset *ds, const VkcSplit *split, int i, char *buf, size_t size);

/* Per-channel mean and standard deviation of the training images, in [0, 1] units: resident
 * datasets (a collection fails: its pixels are not in memory). */
int vkc_dataset_channel_stats(const VkcDataset *ds, float mean[3], float std[3]);

/* Convert a resident dataset's images to `channels` (gray -> RGB repeats the value, RGB ->
 * gray takes the luma), or set the channels a collection decodes to. */
int vkc_dataset_set_channels(VkcDataset *ds, int channels);

/* ---------------------------------------------------------------- decoding */

/* One decoded image: rows `stride` bytes apart. `reduce` says it is the source at 1/reduce of
 * its size (JPEG's DCT scaling): a box (y, x, h, w) of the full image is (y, x, h, w) / reduce
 * here. */
typedef struct {
    const uint8_t *pixels;
    int height, width, channels;
    size_t stride;
    int reduce;
} VkcImage;

/* A thread's decoding state: the file's bytes, the pixels, the JPEG decompressor. */
typedef struct VkcDecoder VkcDecoder;
int vkc_decoder_create(VkcDecoder **d);
void vkc_decoder_destroy(VkcDecoder *d);
/* Image i of split in ds->channels: resident images as they are (nothing copied); a
 * collection's read and decoded, a JPEG at 1/r of its size for the largest r in {1, 2, 4, 8}
 * not above max_reduce (DCT scaling: the cheapest way to a smaller image). The pixels stay valid
 * until the next call on d. Fails naming the file (corrupt or truncated data, a file that
 * changed since it was indexed). */
int vkc_decode_image(VkcDecoder *d, const VkcDataset *ds, const VkcSplit *split, int i, int max_reduce, VkcImage *img);
/* The largest r in {1, 2, 4, 8} with box / r still at least out in both directions (the
 * reduction a decoder may apply before a box of the image is resized to out). */
int vkc_max_reduce(int box_h, int box_w, int out_h, int out_w);

/* ---------------------------------------------------------------- PNG */

/* Decode a PNG to 8-bit gray (channels 1) or RGB (channels 3), h x w HWC; *pixels is malloc'd. */
int vkc_png_read(const char *path, int channels, uint8_t **pixels, int *height, int *width);
/* Write an 8-bit gray (channels 1) or RGB (channels 3) HWC image as PNG. */
int vkc_png_write(const char *path, const uint8_t *pixels, int height, int width, int channels);

/* ---------------------------------------------------------------- JPEG */

/* Decode a JPEG file (baseline or progressive; gray, YCbCr, RGB, CMYK or YCCK; any chroma
 * subsampling) to 8-bit gray (channels 1) or RGB (channels 3), at 1/reduce of its size (1, 2,
 * 4 or 8), refusing from the header an image of more than max_pixels; *pixels is malloc'd. */
int vkc_jpeg_read(const char *path, int channels, int reduce, uint64_t max_pixels, uint8_t **pixels, int *height,
                  int *width);
/* Decode JPEG bytes in memory the same way (`name` for messages). */
int vkc_jpeg_decode(const uint8_t *bytes, size_t size, const char *name, int channels, int reduce,
                    uint64_t max_pixels, uint8_t **pixels, int *height, int *width);

#endif
