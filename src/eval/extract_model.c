/* Encoder features: a VkcExtractor that runs an encoder (include/vkclr/model.h) in evaluation
 * mode over images, for the probe, kNN and export (include/vkclr/features.h).
 *
 * Per batch of up to max_batch images: each image at the model's input size (its shorter side
 * resized to it and the centre cropped, src/eval/input.h), normalised with the augmentation's
 * per-channel mean/std into a host-visible input tensor, submit a command buffer recorded once
 * (evaluation-mode forward, copy of the encoder output into a host-visible tensor), and upload
 * the rows into the feature shards. Evaluation-mode layers treat images independently, so a
 * short last batch is padded with zeros and its extra rows dropped.
 *
 * Three constructors share it: a model the caller owns (vkclr train's evaluation), a model
 * built from a checkpoint, and a model at its random initialisation. */
#include <stdlib.h>
#include <string.h>

#include "input.h"
#include "vkclr/checkpoint.h"
#include "vkclr/features.h"
#include "vkclr/interrupt.h"

/* Images per evaluation batch for models this file builds (halved until every tensor fits one
 * binding). */
#define EVAL_BATCH 256u

typedef struct {
    VkcModel *model;           /* the encoder that runs: borrowed, or &own.model */
    VkcAugmentConfig aug;      /* mean / std of the input normalisation */
    VkcArena host;             /* input and output staging */
    VkcTensor input, feats;
    VkcCmd cmd;
    bool prepared;
    EvalInput input_images;
    float *rows;
    /* A model this extractor built (checkpoint, random init). */
    VkcArena dev;
    VkcModelKernels kernels;
    VkcModel own;
} Encoder;

static void encoder_destroy(VkcExtractor *x)
{
    Encoder *e = x->impl;
    if (!e) return;
    vkc_cmd_destroy(&e->cmd);
    vkc_arena_destroy(&e->host);
    vkc_model_destroy(&e->own);
    vkc_model_kernels_destroy(&e->kernels);
    vkc_arena_destroy(&e->dev);
    eval_input_free(&e->input_images);
    free(e->rows);
    free(e);
    x->impl = NULL;
}

/* Staging tensors and the command buffer, on first use. */
static int encoder_prepare(Encoder *e)
{
    if (e->prepared) return VKC_OK;
    VkcModel *m = e->model;
    int C = m->cfg.channels, H = m->cfg.height, W = m->cfg.width_px;
    uint32_t batch = m->max_batch;
    if (eval_input_init(&e->input_images, H, W, C)) return VKC_ERR;
    e->rows = malloc((size_t)batch * m->features * sizeof(float));
    if (!e->rows) return vkc_fail("out of host memory for encoder features");
    if (vkc_tensor_alloc(&e->host, (VkDeviceSize)batch * C * H * W * 4, &e->input) ||
        vkc_tensor_alloc(&e->host, (VkDeviceSize)batch * m->features * 4, &e->feats) || vkc_cmd_init(m->ctx, &e->cmd))
        return VKC_ERR;
    e->prepared = true;
    bool profile = m->profile;
    m->profile = false;
    int rc = vkc_cmd_begin(&e->cmd) || vkc_model_forward(m, &e->cmd, e->input, batch, false, false) ||
             vkc_cmd_copy(&e->cmd, e->feats, vkc_model_features_tensor(m), (VkDeviceSize)batch * m->features * 4) ||
             vkc_cmd_end(&e->cmd);
    m->profile = profile;
    return rc ? VKC_ERR : VKC_OK;
}

static int encoder_extract(VkcExtractor *x, VkcContext *ctx, const VkcDataset *ds, const VkcSplit *split,
                           uint32_t first, uint32_t count, VkcFeatures *out, uint32_t row0)
{
    Encoder *e = x->impl;
    VkcModel *m = e->model;
    int C = m->cfg.channels, H = m->cfg.height, W = m->cfg.width_px, F = m->features;
    if (ds->channels != C) return vkc_fail("the encoder takes %d-channel images, the data has %d", C, ds->channels);
    if (out->dim != (uint32_t)F) return vkc_fail("the encoder gives %d features, the matrix has %u columns", F, out->dim);
    if (first > (uint32_t)split->n || count > (uint32_t)split->n - first)
        return vkc_fail("images [%u, %u) outside the split's %d", first, first + count, split->n);
    if (encoder_prepare(e)) return VKC_ERR;
    uint32_t batch = m->max_batch;
    size_t image_floats = (size_t)C * H * W;
    float *in = e->input.mapped;
    for (uint32_t done = 0; done < count; done += batch) {
        uint32_t n = count - done < batch ? count - done : batch;
        if (vkc_interrupt_check("encoder features")) return VKC_ERR;
        for (uint32_t i = 0; i < n; i++) {
            const uint8_t *img;
            if (eval_input_image(&e->input_images, ds, split, (int)(first + done + i), &img)) return VKC_ERR;
            vkc_normalize(img, H, W, C, e->aug.mean, e->aug.std, in + i * image_floats);
        }
        if (n < batch) memset(in + n * image_floats, 0, (batch - n) * image_floats * sizeof(float));
        if (vkc_cmd_submit_wait(&e->cmd)) return VKC_ERR;
        memcpy(e->rows, e->feats.mapped, (size_t)n * F * sizeof(float));
        if (vkc_features_upload(ctx, out, row0 + done, n, e->rows)) return VKC_ERR;
    }
    return VKC_OK;
}

static int encoder_new(VkcExtractor *x, VkcContext *ctx, const VkcAugmentConfig *aug, Encoder **out)
{
    memset(x, 0, sizeof *x);
    Encoder *e = calloc(1, sizeof *e);
    if (!e) return vkc_fail("out of host memory");
    e->aug = *aug;
    vkc_arena_init(&e->host, ctx, VKC_MEMORY_STAGING);
    x->impl = e;
    x->extract = encoder_extract;
    x->destroy = encoder_destroy;
    *out = e;
    return VKC_OK;
}

int vkc_extractor_model(VkcExtractor *x, VkcModel *m, const VkcAugmentConfig *aug, const char *name)
{
    Encoder *e = NULL;
    if (encoder_new(x, m->ctx, aug, &e)) return VKC_ERR;
    e->model = m;
    x->dim = (uint32_t)m->features;
    snprintf(x->name, sizeof x->name, "%s", name);
    return VKC_OK;
}

/* Build e->own from cfg on ctx for evaluation batches (parameters zeroed). */
static int encoder_build(Encoder *e, VkcContext *ctx, const VkcModelConfig *cfg)
{
    vkc_arena_init(&e->dev, ctx, VKC_MEMORY_DEVICE);
    if (vkc_model_check(cfg) || vkc_model_kernels_init(ctx, &e->kernels)) return VKC_ERR;
    uint32_t batch = EVAL_BATCH;
    for (;;) {
        VkDeviceSize total, largest;
        if (vkc_model_memory(ctx, &e->kernels.layers, cfg, batch, &total, &largest)) return VKC_ERR;
        if (largest <= ctx->props.limits.maxStorageBufferRange || batch == 1) break;
        batch /= 2;
    }
    if (vkc_model_create(&e->own, ctx, &e->kernels.layers, &e->kernels.linear, cfg, batch, &e->dev)) return VKC_ERR;
    e->model = &e->own;
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
    VkcModelConfig *mc = &cfg.model;
    VkcAugmentConfig aug;
    const char *preset = cfg.preset[0] ? cfg.preset : vkc_augment_default_preset(mc->channels, mc->height, mc->width_px);
    if (vkc_augment_preset(preset, &aug) || (cfg.aug[0] && vkc_augment_set(&aug, cfg.aug)))
        return vkc_fail_context("%s: augmentation '%s' / '%s' of the run", file, preset, cfg.aug);
    /* The run's precision unless asked otherwise; float32 where the device has no 16-bit storage. */
    if (precision < 0) precision = cfg.precision < 0 ? VKC_F32 : cfg.precision;
    mc->act_dtype = ctx->dtype_ok[precision] ? (VkcDtype)precision : VKC_F32;
    /* Images of any size are resized to the model's input; their channels must be its own. */
    if (mc->channels != ds->channels)
        return vkc_fail("%s was trained on %d-channel images (%s), the data %s has %d-channel images", file,
                        mc->channels, cfg.data, ds->name, ds->channels);

    Encoder *e = NULL;
    if (encoder_new(x, ctx, &aug, &e)) return VKC_ERR;
    if (encoder_build(e, ctx, mc)) {
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
    Encoder *e = NULL;
    if (encoder_new(x, ctx, aug, &e)) return VKC_ERR;
    if (encoder_build(e, ctx, &mc) || vkc_model_init_params(e->model, seed)) {
        vkc_fail_context("--random-init %s", arch);
        vkc_extractor_destroy(x);
        return VKC_ERR;
    }
    x->dim = (uint32_t)e->model->features;
    snprintf(x->name, sizeof x->name, "%s width %d, random init seed %llu", arch, mc.width,
             (unsigned long long)seed);
    return VKC_OK;
}
