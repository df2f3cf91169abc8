/* Running an encoder over images in host memory: what vkclr probe / export (through the
 * extractors of vkclr/features.h), vkclr train's evaluation and libvkclr (include/vkclr.h)
 * share, so that all of them see an image the same way.
 *
 * The evaluation transform (vkc_eval_image) turns a uint8 HWC image of any size, gray or RGB,
 * into what the model takes, C x H x W float32:
 *   1. channels: a gray image for an RGB model repeats its level in R, G and B; an RGB image for
 *      a gray model becomes its ITU-R 601 luma (vkc_luma, as PIL's convert("L"));
 *   2. size: its shorter side resized to the input's and the centre cropped to H x W (the
 *      augmentation's vkc_eval_box / vkc_eval_view, antialiased bilinear; an image of that size
 *      is taken as it is): what the extractors do to a dataset's images (src/eval/input.h, which
 *      decodes a JPEG at a reduced scale where the crop allows);
 *   3. per channel (x / 255 - mean) / std with the run's augmentation mean and std (vkc_normalize).
 * No randomness: the same image gives the same input, hence the same features.
 *
 * A VkcEmbedder runs a model in evaluation mode (batch norm with its running statistics) on
 * batches of such inputs: images are put into the slots of a host-visible input tensor, then a
 * command buffer recorded once per batch size class (powers of two up to the model's
 * max_batch) and output (features, or the projection head's output) runs them. Evaluation-mode
 * layers treat images independently: a batch of n runs the smallest class >= n, zero-padded. */
#ifndef VKCLR_EMBED_H
#define VKCLR_EMBED_H

#include "vkclr/augment.h"
#include "vkclr/config.h"
#include "vkclr/model.h"

/* The input normalisation of a run (vkclr/config.h): its augmentation preset (the one training
 * resolved, in config.json; for runs without one, the default for the model's input) with its
 * --aug settings. Fails naming the preset and settings. */
int vkc_run_augment(const VkcTrainConfig *cfg, VkcAugmentConfig *aug);

/* The model a run is evaluated with: its configuration, activations of `precision` (a VkcDtype,
 * or -1: the run's; float32 where ctx cannot store 16-bit ones). */
VkcModelConfig vkc_run_eval_model(const VkcTrainConfig *cfg, const VkcContext *ctx, int precision);

/* The transform in words, for the metadata of exported models (vkclr/onnx.h): what a runtime
 * must do to an image before the model. */
#define VKC_EVAL_TRANSFORM_TEXT                                                                   \
    "gray images repeat their level in R, G and B for an RGB model; RGB images become ITU-R 601 " \
    "luma for a gray model; then the image's shorter side is resized to the input's and the "     \
    "centre cropped to the input's height x width (the largest centred box of the input's aspect " \
    "ratio, resized with an antialiased bilinear filter as PIL's BILINEAR resize)"

/* What the evaluation transform needs besides its output (scratch that grows with the images). */
typedef struct {
    uint8_t *converted, *resized; /* channel conversion (h x w x C), model-size image (H x W x C) */
    size_t converted_bytes;
    float *scratch;               /* vkc_eval_view's */
    size_t scratch_floats;
} VkcEvalScratch;
void vkc_eval_scratch_free(VkcEvalScratch *s);

/* The evaluation transform (above) of image img (h x w x c, c 1 or 3, rows `stride` bytes
 * apart) for a model of C x H x W inputs normalised with mean/std, into out (C * H * W floats).
 * Fails for a channel count other than 1 or 3 or for want of memory. */
int vkc_eval_image(const uint8_t *img, int h, int w, int c, size_t stride, int C, int H, int W, const float *mean,
                   const float *std, VkcEvalScratch *s, float *out);

#define VKC_EMBED_CLASSES 16 /* batch size classes: 1, 2, 4, ... (max_batch <= 2^15) */

typedef struct {
    VkcModel *model;        /* what runs: borrowed, or &own */
    VkcAugmentConfig aug;   /* mean / std of the input normalisation */
    VkcArena host;          /* input and output staging */
    VkcTensor input;        /* max_batch x C x H x W */
    VkcTensor out[2];       /* max_batch x features, max_batch x out_dim */
    VkcCmd cmd[2][VKC_EMBED_CLASSES]; /* [projections][size class], recorded on first use */
    bool recorded[2][VKC_EMBED_CLASSES];
    VkcEvalScratch eval;
    /* A model this embedder built (vkc_embedder_build). */
    bool owns;
    VkcArena dev;
    VkcModelKernels kernels;
    VkcModel own;
} VkcEmbedder;

/* An embedder over a model the caller owns (it must outlive the embedder): vkclr train's
 * evaluation. */
int vkc_embedder_borrow(VkcEmbedder *e, VkcModel *m, const VkcAugmentConfig *aug);
/* An embedder that builds the model of cfg on ctx for batches of up to max_batch images
 * (halved until every tensor fits one binding), parameters zeroed: load them into
 * e->model (vkc_checkpoint_load_model, vkc_model_init_params). */
int vkc_embedder_build(VkcEmbedder *e, VkcContext *ctx, const VkcModelConfig *cfg, const VkcAugmentConfig *aug,
                       uint32_t max_batch);
void vkc_embedder_destroy(VkcEmbedder *e); /* safe on a zeroed or half-built embedder */

/* Batch slot i (< e->model->max_batch) takes image img through the evaluation transform. */
int vkc_embedder_put(VkcEmbedder *e, uint32_t i, const uint8_t *img, int h, int w, int c, size_t stride);
/* Run the images of slots [0, n): *rows points to n rows of features (projections: of the
 * head's output, before any L2 normalisation), valid until the next run. */
int vkc_embedder_run(VkcEmbedder *e, uint32_t n, bool projections, const float **rows);
/* Floats per row of vkc_embedder_run. */
static inline int vkc_embedder_dim(const VkcEmbedder *e, bool projections)
{
    return projections ? e->model->cfg.out_dim : e->model->features;
}

#endif
