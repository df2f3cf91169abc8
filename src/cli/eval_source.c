#include <stdio.h>

#include "eval_source.h"
#include "vkclr/checkpoint.h"

int source_data(const char *data, const char *checkpoint, char *buf, size_t size, const char **spec)
{
    *spec = data;
    char file[1100];
    VkcTrainConfig cfg;
    /* A checkpoint that cannot be read fails here, before the data and the device are opened. */
    if (checkpoint && (vkc_checkpoint_resolve(checkpoint, file, sizeof file) || vkc_checkpoint_read_config(file, &cfg, NULL)))
        return VKC_ERR;
    if (data || !checkpoint) return VKC_OK;
    snprintf(buf, size, "%s", cfg.data);
    *spec = buf;
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
    case SOURCE_CHECKPOINT: return vkc_extractor_checkpoint(x, ctx, s->checkpoint, ds);
    default: return vkc_extractor_random_init(x, ctx, s->encoder, s->width, s->seed, ds);
    }
}
