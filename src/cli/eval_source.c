#include "eval_source.h"

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
