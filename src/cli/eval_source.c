#include <stdio.h>

#include "eval_source.h"
#include "vkclr/checkpoint.h"

int source_dataset(const CliSpec *s, const CliCall *call, const char *checkpoint, bool labelled, VkcDataset *ds,
                   char *spec)
{
    const VkcTrainConfig *enc = call->train;
    bool eval_given = cli_train_given(call->args, "--eval-data");
    snprintf(spec, 512, "%s", eval_given ? enc->eval_data : enc->data);
    char file[1100];
    VkcTrainConfig cfg;
    /* A checkpoint that cannot be read fails here, before the data and the device are opened. */
    if (checkpoint && (vkc_checkpoint_resolve(checkpoint, file, sizeof file) || vkc_checkpoint_read_config(file, &cfg, NULL))) {
        fprintf(stderr, "vkclr %s: --checkpoint %s: %s\n", s->name, checkpoint, vkc_error());
        return 1;
    }
    /* what the checkpoint's run evaluated on (labelled), or trained on */
    if (checkpoint && !eval_given && !cli_train_given(call->args, "--data"))
        snprintf(spec, 512, "%s", labelled && cfg.eval_data[0] ? cfg.eval_data : cfg.data);
    VkcDataLimits lim = vkc_config_data_limits(enc);
    /* images of other channels than the encoder's are converted (gray repeated, RGB to luma) */
    if (vkc_dataset_load_limited(ds, spec, &lim) || (checkpoint && vkc_dataset_set_channels(ds, cfg.model.channels))) {
        fprintf(stderr, "vkclr %s: --data %s: %s\n", s->name, spec, vkc_error());
        return 1;
    }
    if (ds->nskipped) {
        fprintf(stderr, "vkclr %s: --skip-bad: %d file%s of %s left out:\n", s->name, ds->nskipped,
                ds->nskipped == 1 ? "" : "s", spec);
        for (int i = 0; i < ds->nskipped; i++) fprintf(stderr, "  %s\n", ds->skipped[i]);
    }
    return 0;
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
