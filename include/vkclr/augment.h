/* CPU augmentation for contrastive learning, and the two-view batch producer.
 *
 * A view of an image is made the way torchvision's SimCLR recipe makes it, on uint8 HWC
 * images: random resized crop -> horizontal flip -> colour jitter (p) -> random grayscale
 * -> Gaussian blur (p) -> solarize (p) -> per-channel (x/255 - mean) / std into float32 CHW.
 *
 * All randomness of view v of dataset image i in epoch e comes from a counter-based generator
 * keyed by (seed, e, i, v): a view never depends on which thread made it or in what order.
 *
 * Images of any size: the crop box is drawn on the image at its own resolution and resized to
 * the view size, so a large photograph keeps its detail until the crop is chosen. What depends
 * on the view size is defined relative to it, so a preset means the same at any size: the
 * blur kernel is 10% of the view's shorter side and the blur sigma range is in pixels of a
 * VKC_BLUR_REFERENCE_SIDE view (SimCLR's 224), scaled by side / 224.
 */
#ifndef VKCLR_AUGMENT_H
#define VKCLR_AUGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vkclr/data.h"
#include "vkclr/error.h"
#include "vkclr/rng.h"

/* ---------------------------------------------------------------- configuration */

typedef struct {
    int out_height, out_width;     /* view size; 0 = the dataset's size */
    float scale[2];                /* random resized crop: fraction of the area kept */
    float ratio[2];                /* ... and aspect ratio (width / height) range */
    float flip_p;                  /* horizontal flip probability */
    float jitter_p;                /* colour jitter probability */
    float brightness, contrast, saturation; /* factor drawn from [max(0, 1-x), 1+x] */
    float hue;                     /* hue shift drawn from [-hue, hue], hue <= 0.5 */
    float gray_p;                  /* random grayscale probability (RGB only) */
    float blur_p;                  /* Gaussian blur probability */
    float blur_sigma[2];           /* sigma range, pixels of a 224-pixel view (scaled with the view) */
    int blur_kernel;               /* odd kernel size; 0 = about 10% of the view side, at least 3 */
    float solarize_p;              /* invert pixels >= solarize_threshold with this probability */
    int solarize_threshold;
    float mean[3], std[3];         /* normalisation per channel, in [0, 1] units */
} VkcAugmentConfig;

/* Presets:
 *   simclr  ImageNet recipe: crop scale 0.08-1, flip 0.5, jitter strength 1 (0.8, 0.8, 0.8, 0.2)
 *           p 0.8, grayscale 0.2, blur p 0.5 sigma 0.1-2, ImageNet mean/std
 *   cifar   CIFAR recipe: as simclr with jitter strength 0.5 (0.4, 0.4, 0.4, 0.1), no blur,
 *           CIFAR-10 mean/std
 *   gray    MNIST-like: crop scale 0.2-1, flip 0.5, brightness/contrast 0.4 p 0.8, no blur,
 *           Fashion-MNIST mean/std */
int vkc_augment_preset(const char *name, VkcAugmentConfig *cfg);
/* The preset when none is chosen, for views of height x width: gray for 1 channel, cifar for
 * colour views up to 64x64, simclr for larger ones. */
const char *vkc_augment_default_preset(int channels, int height, int width);
/* Set one parameter by name, e.g. "scale=0.2:1", "blur_p=0.5", "mean=0.5:0.5:0.5"; or several
 * separated by commas. Fails naming the bad key or value. */
int vkc_augment_set(VkcAugmentConfig *cfg, const char *assignments);
/* Check ranges for images with `channels` channels. */
int vkc_augment_check(const VkcAugmentConfig *cfg, int channels);
/* Print every parameter, one "key=value" per line (the names vkc_augment_set takes). */
void vkc_augment_print(FILE *out, const VkcAugmentConfig *cfg, const char *indent);

/* ---------------------------------------------------------------- single ops (uint8, HWC, in place) */

/* torchvision's RandomResizedCrop box: (y, x, h, w) inside an H x W image. */
void vkc_aug_crop_box(VkcRng *rng, int H, int W, const float scale[2], const float ratio[2],
                      int *y, int *x, int *h, int *w);
void vkc_aug_hflip(uint8_t *img, int h, int w, int c);
void vkc_aug_brightness(uint8_t *img, size_t pixels, int c, float factor);  /* x * f */
void vkc_aug_contrast(uint8_t *img, size_t pixels, int c, float factor);    /* mean + (x - mean) * f */
void vkc_aug_saturation(uint8_t *img, size_t pixels, float factor);         /* RGB: gray + (x - gray) * f */
void vkc_aug_hue(uint8_t *img, size_t pixels, float shift);                 /* RGB: rotate hue by shift turns */
void vkc_aug_grayscale(uint8_t *img, size_t pixels);                        /* RGB -> luma in all 3 channels */
/* luma of ITU-R 601 (0.299, 0.587, 0.114), as PIL computes it */
static inline uint8_t vkc_luma(uint8_t r, uint8_t g, uint8_t b)
{
    return (uint8_t)((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
}
/* Separable Gaussian, reflected borders; scratch holds h * w * c floats. */
void vkc_aug_blur(uint8_t *img, int h, int w, int c, int kernel, float sigma, float *scratch);
void vkc_aug_solarize(uint8_t *img, size_t bytes, int threshold);
/* uint8 HWC -> float32 CHW, (x / 255 - mean[c]) / std[c] */
void vkc_normalize(const uint8_t *img, int h, int w, int c, const float *mean, const float *std, float *out);

/* ---------------------------------------------------------------- one view */

#define VKC_BLUR_REFERENCE_SIDE 224.0f

typedef struct {
    int y, x, h, w;
} VkcBox;

typedef struct VkcAugmenter VkcAugmenter;  /* config + scratch memory for one thread */

int vkc_augmenter_create(VkcAugmenter **aug, const VkcAugmentConfig *cfg, int height, int width, int channels);
void vkc_augmenter_destroy(VkcAugmenter *aug);
/* View size chosen by the config (out_height/out_width or the image size). */
void vkc_augmenter_out_size(const VkcAugmenter *aug, int *height, int *width);
/* One view of src (height x width x channels) as uint8 HWC at the view size. */
void vkc_augment_view_u8(VkcAugmenter *aug, const uint8_t *src, VkcRng *rng, uint8_t *out);
/* The same, normalised to float32 CHW. */
void vkc_augment_view(VkcAugmenter *aug, const uint8_t *src, VkcRng *rng, float *out);

/* Images of their own sizes, in two steps (the same draws as vkc_augment_view): the crop box
 * of an image of height x width at full resolution, then the view of that box of img (which
 * may be the image decoded at 1/img->reduce of its size), normalised to float32 CHW. Fails
 * only for want of memory (scratch grows with the crop) or an image of other channels. */
void vkc_augment_view_box(const VkcAugmenter *aug, VkcRng *rng, int height, int width, VkcBox *box);
int vkc_augment_view_image(VkcAugmenter *aug, const VkcImage *img, const VkcBox *box, VkcRng *rng, float *out);
/* The same view as uint8 HWC (before normalisation). */
int vkc_augment_view_image_u8(VkcAugmenter *aug, const VkcImage *img, const VkcBox *box, VkcRng *rng, uint8_t *out);

/* Evaluation input (no randomness): the image's shorter side resized to the view and the
 * centre cropped, i.e. the centred box of the view's aspect ratio that fills the image as far
 * as it can (vkc_eval_box, full-resolution coordinates), resized to out_height x out_width
 * (vkc_eval_view, into out; *scratch grows as needed). An image of the view's size is copied. */
void vkc_eval_box(int height, int width, int out_height, int out_width, VkcBox *box);
int vkc_eval_view(const VkcImage *img, const VkcBox *box, int out_height, int out_width, uint8_t *out,
                  float **scratch, size_t *scratch_floats);

/* ---------------------------------------------------------------- two-view batch producer */

/* One filled batch. views holds [2][batch][channels][height][width] float32: view 0 of every
 * image, then view 1 of every image (the two halves the loss pairs up). Images are numbered
 * as vkc_dataset_ssl_count counts them (the training split, then the unlabeled one); an
 * unlabeled image's label is -1. */
typedef struct {
    int slot;                /* which ring slot (and which caller-provided buffer) holds it */
    int64_t step;            /* global step; epoch = step / steps_per_epoch */
    int64_t epoch;
    float *views;
    const int32_t *indices;  /* the batch's training-image indices */
    const int32_t *labels;   /* and their labels (for monitoring only) */
} VkcBatch;

typedef struct {
    int batch;               /* images per batch (each gives two views) */
    int threads;             /* worker threads, >= 1 */
    int slots;               /* ring size, >= 1 (>= 2 to overlap with the consumer) */
    uint64_t seed;
    int64_t first_step;      /* resume: start at this global step */
    int rank, ranks;         /* data parallel (ranks >= 1; 0 counts as 1): each step's global batch is
                              * batch * ranks images of the epoch's shuffle, this producer fills
                              * images [rank * batch, (rank + 1) * batch) of it */
    void *const *slot_memory; /* NULL: allocated here; else `slots` buffers of vkc_producer_slot_bytes() */
    bool skip_bad;           /* an image that fails to decode is replaced by the next one that does ... */
    void (*on_bad)(void *user, const char *message); /* ... and reported once here (from a worker, under
                                                     * the producer's lock; may be NULL) */
    void *on_bad_user;
} VkcProducerOptions;

typedef struct {
    int64_t acquired;        /* batches handed to the consumer */
    int64_t waited;          /* ... of which the consumer had to wait for */
    double wait_seconds;     /* total time the consumer waited */
    double max_wait_seconds;
    int64_t filled;          /* batches the workers completed */
} VkcProducerStats;

typedef struct VkcProducer VkcProducer;

size_t vkc_producer_slot_bytes(const VkcDataset *ds, const VkcAugmentConfig *cfg, int batch);
/* Workers start filling at once. Uses the training and unlabeled splits; each epoch is a fresh
 * shuffle (from seed and epoch) of those n images cut into n / (batch * ranks) global batches
 * (the rest is dropped). */
int vkc_producer_create(VkcProducer **p, const VkcDataset *ds, const VkcAugmentConfig *cfg,
                        const VkcProducerOptions *opt);
int64_t vkc_producer_steps_per_epoch(const VkcProducer *p);
/* The next step's batch, in step order, waiting until it is filled. Fails (instead of
 * waiting forever) if the consumer already holds every slot, and with the decoder's message
 * (naming the file) if an image of the batch could not be decoded. */
int vkc_producer_acquire(VkcProducer *p, VkcBatch *batch);
/* Give a slot back for refilling. */
void vkc_producer_release(VkcProducer *p, const VkcBatch *batch);
void vkc_producer_stats(VkcProducer *p, VkcProducerStats *stats);
/* Stops the workers (after the image each is on) and frees everything; slots need not be released. */
void vkc_producer_destroy(VkcProducer *p);

/* The shuffled order of epoch `epoch`: a permutation of 0..n-1, deterministic in (seed, epoch). */
void vkc_epoch_order(uint64_t seed, int64_t epoch, int n, int32_t *order);

#endif
