/* Shared by vkclr probe and vkclr export: where features come from (--pixels, --checkpoint,
 * --random-init) and how to open that source as a VkcExtractor. */
#ifndef VKCLR_CLI_EVAL_SOURCE_H
#define VKCLR_CLI_EVAL_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "vkclr/config.h"
#include "vkclr/features.h"

/* SOURCE_BASELINE: the random initialisation of a checkpoint's run (its encoder, width, seed). */
typedef enum { SOURCE_PIXELS, SOURCE_CHECKPOINT, SOURCE_RANDOM_INIT, SOURCE_BASELINE } SourceKind;

typedef struct {
    SourceKind kind;
    const char *checkpoint; /* SOURCE_CHECKPOINT, SOURCE_BASELINE */
    VkcEncoderKind encoder; /* SOURCE_RANDOM_INIT */
    VkcStem stem;           /* ... (-1: by the image size) */
    uint32_t width;
    uint64_t seed;
    int precision;          /* VkcDtype of the activations; -1: the checkpoint's, or auto for random init */
} Source;

/* JSON key / label of a source: "pixels", "checkpoint", "random_init" (both kinds of random init). */
const char *source_key(SourceKind k);
/* *spec := the data to take features of: eval_data if given, else data if given, else a
 * checkpoint's run's (labelled: what it evaluated on, its --eval-data or else its --data; not
 * labelled: its --data; copied into buf), else NULL (the default dataset). *channels := the
 * channels the checkpoint's encoder takes (0 without a checkpoint). Fails (message naming the
 * file) when the checkpoint cannot be read. */
int source_data(const char *eval_data, const char *data, const char *checkpoint, bool labelled, char *buf,
                size_t size, const char **spec, int *channels);
/* Load the data of source_data with the limits of enc (--max-image-pixels, --skip-bad, ...),
 * converted to `channels` (0: as they are). Messages name the spec. */
int source_load(const VkcTrainConfig *enc, const char *spec, int channels, VkcDataset *ds);
int source_open(const Source *s, VkcContext *ctx, const VkcDataset *ds, VkcExtractor *x);

#endif
