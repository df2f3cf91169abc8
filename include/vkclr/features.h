/* Feature matrices on the device, and the interface that turns images into features.
 *
 * A VkcFeatures holds n rows of dim floats (row-major) plus n uint32 labels. One binding may
 * not exceed the device's maxStorageBufferRange (128 MiB on lavapipe; 60,000 Fashion-MNIST
 * images as raw pixels are 188 MB), so the rows are split into shards: shard s holds rows
 * [s * shard_rows, min((s + 1) * shard_rows, n)), each shard one tensor. Kernels that read
 * features run once per shard.
 *
 * A VkcExtractor computes features of images. Two kinds exist:
 *   - raw pixels (vkc_extractor_pixels): the image bytes / 255, HWC order, dim = h * w * c;
 *   - an encoder (vkc_extractor_model, vkc_extractor_checkpoint, vkc_extractor_random_init,
 *     src/eval/extract_model.c): the encoder of include/vkclr/model.h in evaluation mode (batch
 *     norm with its running statistics, no augmentation; images brought to the model's input
 *     size (shorter side resized, centre cropped) and normalised with the run's augmentation
 *     mean/std), its output
 *     (never the projection head's) as the features.
 * Both serve `vkclr probe`, `vkclr export` and the evaluation at the end of `vkclr train`. */
#ifndef VKCLR_FEATURES_H
#define VKCLR_FEATURES_H

#include "vkclr/augment.h"
#include "vkclr/data.h"
#include "vkclr/model.h"
#include "vkclr/vk.h"

#define VKC_FEATURES_MAX_SHARDS 64

typedef struct {
    uint32_t n, dim;
    uint32_t shard_rows, nshards;
    VkcTensor shards[VKC_FEATURES_MAX_SHARDS]; /* shard s: rows(s) x dim floats */
    VkcTensor labels;                          /* n uint32 class indices */
} VkcFeatures;

/* Shards of at most `max_shard_bytes` (0: min(64 MiB, maxStorageBufferRange)), from `arena`. */
int vkc_features_alloc(VkcFeatures *f, VkcArena *arena, uint32_t n, uint32_t dim, VkDeviceSize max_shard_bytes);
/* Rows in shard s. */
static inline uint32_t vkc_features_shard_n(const VkcFeatures *f, uint32_t s)
{
    uint32_t r0 = s * f->shard_rows;
    return f->n - r0 < f->shard_rows ? f->n - r0 : f->shard_rows;
}
/* The first n rows of f (n <= f->n) as a matrix of their own: a view, nothing copied. */
static inline VkcFeatures vkc_features_first(const VkcFeatures *f, uint32_t n)
{
    VkcFeatures v = *f;
    v.n = n < f->n ? n : f->n;
    v.nshards = (v.n + f->shard_rows - 1) / f->shard_rows;
    return v;
}
/* Copy rows [row0, row0 + count) from / to host memory (count * dim floats). */
int vkc_features_upload(VkcContext *ctx, VkcFeatures *f, uint32_t row0, uint32_t count, const float *x);
int vkc_features_download(VkcContext *ctx, const VkcFeatures *f, uint32_t row0, uint32_t count, float *x);
/* Labels (n values, each in [0, nclasses)): checked, converted to uint32 and uploaded. */
int vkc_features_set_labels(VkcContext *ctx, VkcFeatures *f, const int32_t *labels, uint32_t nclasses);

/* ---------------------------------------------------------------- feature extraction */

typedef struct VkcExtractor VkcExtractor;
struct VkcExtractor {
    char name[128]; /* what the features are, for reports: "pixels", "convnet (run/ckpt.safetensors)" */
    uint32_t dim;   /* features per image */
    /* Write the features of images [first, first + count) of `split` (images of `ds`) into rows
     * [row0, row0 + count) of `out` (out->dim == dim). Labels are not touched. */
    int (*extract)(VkcExtractor *x, VkcContext *ctx, const VkcDataset *ds, const VkcSplit *split, uint32_t first,
                   uint32_t count, VkcFeatures *out, uint32_t row0);
    void (*destroy)(VkcExtractor *x); /* may be NULL */
    void *impl;
};

/* Features and labels of a whole split (or its first `limit` images, limit 0: all) into a
 * fresh VkcFeatures from `arena`. An unlabeled split leaves the labels tensor unset (features
 * to export, not to probe). */
int vkc_extract_features(VkcExtractor *x, VkcContext *ctx, const VkcDataset *ds, const VkcSplit *split,
                         uint32_t limit, VkcArena *arena, VkcFeatures *out);
void vkc_extractor_destroy(VkcExtractor *x);

/* Raw pixels scaled to [0, 1], dim = height * width * channels. */
int vkc_extractor_pixels(VkcExtractor *x, const VkcDataset *ds);

/* The encoder of a model the caller built and owns (it must outlive the extractor; its
 * max_batch images per pass), inputs normalised with aug's mean/std: vkclr train's evaluation. */
int vkc_extractor_model(VkcExtractor *x, VkcModel *m, const VkcAugmentConfig *aug, const char *name);
/* The encoder stored in a checkpoint (a .safetensors file, or a run directory: its
 * checkpoint.safetensors): configuration from the file's metadata, the model built from it,
 * parameters and batch-norm running statistics loaded; activations of `precision` (a VkcDtype,
 * or -1: the run's; float32 where the device cannot store 16-bit ones). Images of any size are
 * brought to the model's input size (shorter side resized, centre cropped). Fails naming the
 * file and what differs when the data's channels are not those it was trained on, a tensor is
 * missing or has another shape (another architecture), or the file is truncated or corrupt. */
int vkc_extractor_checkpoint(VkcExtractor *x, VkcContext *ctx, const char *path, int precision, const VkcDataset *ds);
/* The same run's encoder at its random initialisation (the run's seed, input preparation and
 * precision): the baseline the trained encoder of that checkpoint must beat. */
int vkc_extractor_checkpoint_init(VkcExtractor *x, VkcContext *ctx, const char *path, int precision,
                                  const VkcDataset *ds);
/* The encoder of `model` (encoder, width, act_dtype; the image shape comes from ds and the
 * augmentation) at its random initialisation for `seed` (batch-norm running statistics 0 / 1),
 * its inputs prepared as in training with `aug` (NULL: the preset vkclr train would pick for
 * ds): the baseline a trained encoder must beat. */
int vkc_extractor_random_init(VkcExtractor *x, VkcContext *ctx, const VkcModelConfig *model, uint64_t seed,
                              const VkcAugmentConfig *aug, const VkcDataset *ds);

#endif
