/* Checkpoints: a run's parameters, batch-norm running statistics, optimizer state, step and
 * configuration in one safetensors file (loadable with safetensors.numpy / .torch):
 *   tensors   the model's named tensors (vkclr/model.h), then "optimizer.state"
 *   metadata  format "vkclr-checkpoint-1", step and epoch (decimal strings), config (the
 *             run's config.json, vkclr/config.h)
 * Written atomically (vkclr/fileio.h): a crash leaves the old checkpoint or the new one. */
#ifndef VKCLR_CHECKPOINT_H
#define VKCLR_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "vkclr/config.h"
#include "vkclr/model.h"
#include "vkclr/optim.h"

/* The checkpoint file of `path`: path itself, or path/checkpoint.safetensors for a run
 * directory. Fails naming path when neither exists. */
int vkc_checkpoint_resolve(const char *path, char *file, size_t size);
/* The configuration (range-checked like the command line, messages naming the file and key)
 * and, if step is not NULL, the steps completed, without loading tensors. */
int vkc_checkpoint_read_config(const char *path, VkcTrainConfig *cfg, int64_t *step);
/* Where a run stands, besides its tensors: in the checkpoint's metadata. */
typedef struct {
    int64_t step, epoch;       /* steps and epochs completed */
    double loss_scale;         /* fp16: the dynamic loss scale (1 otherwise) */
    int64_t loss_scale_clean;  /* fp16: clean steps since the scale last changed */
} VkcTrainState;

int vkc_checkpoint_save(const char *path, const VkcModel *m, const VkcOptim *opt, const VkcTrainConfig *cfg,
                        const VkcTrainState *state);
/* Load parameters, running statistics and optimizer state into an allocated model and
 * optimizer of the same architecture (opt NULL: the model only); *state (may be NULL): where
 * the run stood. Fails naming the file and the tensor on a missing tensor, a shape mismatch or
 * a truncated file. */
int vkc_checkpoint_load(const char *path, VkcModel *m, VkcOptim *opt, VkcTrainState *state);
/* The model only (for evaluation: probe, kNN, feature export). */
int vkc_checkpoint_load_model(const char *path, VkcModel *m);

#endif
