/* Shared by the files of src/train. */
#ifndef VKCLR_TRAIN_INTERNAL_H
#define VKCLR_TRAIN_INTERNAL_H

#include "vkclr/train.h"

int train_parse_optimizer(const char *s, VkcOptimKind *k);
/* The configuration as a JSON object (malloc'd text). */
char *train_config_json(const VkcTrainConfig *c, bool pretty);
int train_config_parse(const char *text, VkcTrainConfig *c);
/* Write parts[] to path through a temporary file, flush, fsync and rename. */
int train_write_file_atomic(const char *path, const void *const *parts, const size_t *sizes, int nparts);
int train_checkpoint_save(const char *path, const VkcModel *m, const VkcOptim *opt, const VkcTrainConfig *cfg,
                          int64_t step, int64_t epoch);
/* Load parameters, running statistics and optimizer state into an allocated model and
 * optimizer of the same architecture (opt NULL: the model only); *step: steps completed. */
int train_checkpoint_load(const char *path, VkcModel *m, VkcOptim *opt, int64_t *step);

#endif
