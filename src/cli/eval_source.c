#include <stdio.h>

#include "eval_source.h"
#include "vkclr/checkpoint.h"

int source_data(const char *eval_data, const char *data, const char *checkpoint, bool labelled, char *buf,
                size_t size, const char **spec, int *channels)
{
    *spec = eval_data ? eval_data : data;
    *channels = 0;
    char file[1100];
    VkcTrainConfig cfg;
    /* A checkpoint that cannot be read fails here, before the data and the device are opened. */
    if (checkpoint && (vkc_checkpoint_resolve(checkpoint, file, sizeof file) || vkc_checkpoint_read_config(file, &cfg, NULL)))
        return VKC_ERR;
    if (!checkpoint) return VKC_OK;
    *channels = cfg.model.channels;
    if (*spec) return VKC_OK;
    snprintf(buf, size, "%s", labelled && cfg.eval_data[0] ? cfg.eval_data : cfg.data);
    *spec = buf;
    return VKC_OK;
}

int source_load(const VkcTrainConfig *enc, const char *spec, int channels, VkcDataset *ds)
{
    VkcDataLimits lim = vkc_config_data_limits(enc);
    if (vkc_dataset_load_limited(ds, spec, &lim) || (channels && vkc_dataset_set_channels(ds, channels)))
        return vkc_fail_context("--data %s", spec ? spec : "fashion-mnist");
    if (ds->nskipped) {
        fprintf(stderr, "--skip-bad: %d file%s of %s left out:\n", ds->nskipped, ds->nskipped == 1 ? "" : "s", spec);
        for (int i = 0; i < ds->nskipped; i++) fprintf(stderr, "  %s\n", ds->skipped[i]);
    }
    return VKC_OK;
}

const char *source_key(SourceKind k)
{
    switch (k) {
    case SOURCE_PIXELS: return "pixels";
    case SOURCE_CHECKPOINT: return "checkpoint";
    default: return "random_init";
    }
}

int source_open(const Source *s, VkcContext *ctx, const VkcDataset *ds, VkcExtractor *x)
{
    switch (s->kind) {
    case SOURCE_PIXELS: return vkc_extractor_pixels(x, ds);
    case SOURCE_CHECKPOINT: return vkc_extractor_checkpoint(x, ctx, s->checkpoint, s->precision, ds);
    case SOURCE_BASELINE: return vkc_extractor_checkpoint_init(x, ctx, s->checkpoint, s->precision, ds);
    default: {
        VkcModelConfig mc = vkc_model_defaults();
        mc.encoder = s->encoder;
        mc.stem = s->stem;
        mc.width = (int)s->width;
        mc.act_dtype = s->precision < 0 ? vkc_auto_precision(ctx) : (VkcDtype)s->precision;
        return vkc_extractor_random_init(x, ctx, &mc, s->seed, NULL, ds);
    }
    }
}
