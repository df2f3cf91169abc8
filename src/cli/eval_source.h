/* Shared by vkclr probe and vkclr export: where features come from (--pixels, --checkpoint,
 * --random-init) and how to open that source as a VkcExtractor. */
#ifndef VKCLR_CLI_EVAL_SOURCE_H
#define VKCLR_CLI_EVAL_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
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
/* The dataset of a probe or an export: --eval-data if given, else --data if given (vkclr
 * train's rows in call->train), else what `checkpoint` (may be NULL) was evaluated on (labelled:
 * its --eval-data, else its --data) or trained on (not labelled: its --data), else the default;
 * loaded within --max-* limits (and --skip-bad), converted to the checkpoint's channels. `spec`
 * (512 bytes) gets its spec for messages. Prints what failed, naming the checkpoint or the data,
 * and returns 1; 0 when loaded. */
int source_dataset(const CliSpec *s, const CliCall *call, const char *checkpoint, bool labelled, VkcDataset *ds,
                   char *spec);
int source_open(const Source *s, VkcContext *ctx, const VkcDataset *ds, VkcExtractor *x);

#endif
