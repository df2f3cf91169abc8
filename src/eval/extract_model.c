/* Encoder features: a VkcExtractor that runs an encoder (include/vkclr/model.h) in evaluation
 * mode over images, for the probe, kNN and export (include/vkclr/features.h).
 *
 * Per batch of up to max_batch images: each image at the model's input size (decoded, its
 * shorter side resized to it and the centre cropped: src/eval/input.h), normalised into the
 * embedder's batch (vkclr/embed.h: the evaluation transform libvkclr runs too), the batch run,
 * and its rows uploaded into the feature shards.
 *
 * Three constructors share it: a model the caller owns (vkclr train's evaluation), a model
 * built from a checkpoint, and a model at its random initialisation. */
#include <stdlib.h>
#include <string.h>

#include "input.h"
#include "vkclr/checkpoint.h"
#include "vkclr/embed.h"
#include "vkclr/features.h"
#include "vkclr/interrupt.h"

/* Images per evaluation batch for models this file builds (halved until every tensor fits one
 * binding). */
#define EVAL_BATCH 256u

typedef struct {
    VkcEmbedder embedder;
    EvalInput input; /* a dataset's image at the model's size */
} Encoder;

static void encoder_destroy(VkcExtractor *x)
{
    Encoder *e = x->impl;
    if (!e) return;
    vkc_embedder_destroy(&e->embedder);
    eval_input_free(&e->input);
    free(e);
    x->impl = NULL;
}

static int encoder_extract(VkcExtractor *x, VkcContext *ctx, const VkcDataset *ds, const VkcSplit *split,
                           uint32_t first, uint32_t count, VkcFeatures *out, uint32_t row0)
{
    Encoder *enc = x->impl;
    VkcEmbedder *e = &enc->embedder;
    const VkcModel *m = e->model;
    int C = m->cfg.channels, H = m->cfg.height, W = m->cfg.width_px;
    if (ds->channels != C) return vkc_fail("the encoder takes %d-channel images, the data has %d", C, ds->channels);
    if (out->dim != (uint32_t)m->features)
        return vkc_fail("the encoder gives %d features, the matrix has %u columns", m->features, out->dim);
    if (first > (uint32_t)split->n || count > (uint32_t)split->n - first)
        return vkc_fail("images [%u, %u) outside the split's %d", first, first + count, split->n);
    uint32_t batch = m->max_batch;
    for (uint32_t done = 0; done < count; done += batch) {
        uint32_t n = count - done < batch ? count - done : batch;
        if (vkc_interrupt_check("encoder features")) return VKC_ERR;
        for (uint32_t i = 0; i < n; i++) {
            const uint8_t *img;
            if (eval_input_image(&enc->input, ds, split, (int)(first + done + i), &img) ||
                vkc_embedder_put(e, i, img, H, W, C, (size_t)W * C))
                return VKC_ERR;
        }
        const float *rows;
        if (vkc_embedder_run(e, n, false, &rows) || vkc_features_upload(ctx, out, row0 + done, n, rows))
            return VKC_ERR;
    }
    return VKC_OK;
}

/* A fresh extractor around an embedder that the caller then sets up (*out), for images of
 * channels x height x width. */
static int encoder_new(VkcExtractor *x, int channels, int height, int width, VkcEmbedder **out)
{
    memset(x, 0, sizeof *x);
    Encoder *e = calloc(1, sizeof *e);
    if (!e) return vkc_fail("out of host memory");
    x->impl = e;
    x->extract = encoder_extract;
    x->destroy = encoder_destroy;
    *out = &e->embedder;
    return eval_input_init(&e->input, height, width, channels);
}

int vkc_extractor_model(VkcExtractor *x, VkcModel *m, const VkcAugmentConfig *aug, const char *name)
{
    VkcEmbedder *e = NULL;
    if (encoder_new(x, m->cfg.channels, m->cfg.height, m->cfg.width_px, &e) || vkc_embedder_borrow(e, m, aug)) {
        vkc_extractor_destroy(x);
        return VKC_ERR;
    }
    x->dim = (uint32_t)m->features;
    snprintf(x->name, sizeof x->name, "%s", name);
    return VKC_OK;
}

/* The encoder of a checkpoint's run: trained (its tensors loaded) or at the random
 * initialisation the run started from (the run's seed). */
static int from_checkpoint(VkcExtractor *x, VkcContext *ctx, const char *path, int precision, const VkcDataset *ds,
                           bool trained)
{
    memset(x, 0, sizeof *x);
    char file[1100];
    VkcTrainConfig cfg;
    int64_t step;
    if (vkc_checkpoint_resolve(path, file, sizeof file) || vkc_checkpoint_read_config(file, &cfg, &step))
        return VKC_ERR;
    /* Inputs as in training: the run's augmentation fixes the normalisation. */
    VkcAugmentConfig aug;
    if (vkc_run_augment(&cfg, &aug)) return vkc_fail_context("%s", file);
    /* The run's precision unless asked otherwise; float32 where the device has no 16-bit storage. */
    cfg.model = vkc_run_eval_model(&cfg, ctx, precision);
    VkcModelConfig *mc = &cfg.model;
    /* Images of any size are resized to the model's input; their channels must be its own. */
    if (mc->channels != ds->channels)
        return vkc_fail("%s was trained on %d-channel images (%s), the data %s has %d-channel images", file,
                        mc->channels, cfg.data, ds->name, ds->channels);

    VkcEmbedder *e = NULL;
    if (encoder_new(x, mc->channels, mc->height, mc->width_px, &e) ||
        vkc_embedder_build(e, ctx, mc, &aug, EVAL_BATCH)) {
        vkc_fail_context("%s: the model of its configuration", file);
        vkc_extractor_destroy(x);
        return VKC_ERR;
    }
    /* Missing tensors, other shapes, a truncated file: the message names the file and tensor. */
    if (trained ? vkc_checkpoint_load_model(file, e->model) : vkc_model_init_params(e->model, cfg.seed)) {
        vkc_extractor_destroy(x);
        return VKC_ERR;
    }
    x->dim = (uint32_t)e->model->features;
    const char *arch = vkc_name_of(vkc_encoder_names, (int)mc->encoder);
    if (trained)
        snprintf(x->name, sizeof x->name, "%s width %d, step %lld (%.90s)", arch, mc->width, (long long)step, file);
    else
        snprintf(x->name, sizeof x->name, "%s width %d, random init seed %llu (of %.90s)", arch, mc->width,
                 (unsigned long long)cfg.seed, file);
    return VKC_OK;
}

int vkc_extractor_checkpoint(VkcExtractor *x, VkcContext *ctx, const char *path, int precision, const VkcDataset *ds)
{
    return from_checkpoint(x, ctx, path, precision, ds, true);
}

int vkc_extractor_checkpoint_init(VkcExtractor *x, VkcContext *ctx, const char *path, int precision,
                                  const VkcDataset *ds)
{
    return from_checkpoint(x, ctx, path, precision, ds, false);
}

int vkc_extractor_random_init(VkcExtractor *x, VkcContext *ctx, const VkcModelConfig *model, uint64_t seed,
                              const VkcAugmentConfig *aug, const VkcDataset *ds)
{
    memset(x, 0, sizeof *x);
    VkcModelConfig mc = *model;
    const char *arch = vkc_name_of(vkc_encoder_names, (int)mc.encoder);
    VkcAugmentConfig preset;
    if (!aug) {
        if (vkc_augment_preset(vkc_augment_default_preset(ds->channels, ds->height, ds->width), &preset))
            return VKC_ERR;
        aug = &preset;
    }
    mc.channels = ds->channels;
    mc.height = aug->out_height ? aug->out_height : ds->height;
    mc.width_px = aug->out_width ? aug->out_width : ds->width;
    if ((int)mc.stem < 0) mc.stem = vkc_model_auto_stem(mc.encoder, mc.height, mc.width_px);
    mc.loss_logz = false;
    VkcEmbedder *e = NULL;
    if (encoder_new(x, mc.channels, mc.height, mc.width_px, &e) || vkc_embedder_build(e, ctx, &mc, aug, EVAL_BATCH) ||
        vkc_model_init_params(e->model, seed)) {
        vkc_fail_context("--random-init %s", arch);
        vkc_extractor_destroy(x);
        return VKC_ERR;
    }
    x->dim = (uint32_t)e->model->features;
    snprintf(x->name, sizeof x->name, "%s width %d, random init seed %llu", arch, mc.width,
             (unsigned long long)seed);
    return VKC_OK;
}
