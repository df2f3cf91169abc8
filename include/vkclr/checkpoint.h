/* Checkpoints: a run's parameters, batch-norm running statistics, optimizer state, step and
 * configuration in one safetensors file (loadable with safetensors.numpy / .torch):
 *   tensors   the model's named tensors (vkclr/model.h), then "optimizer.state"
 *   metadata  format "vkclr-checkpoint-2" (1: before checksums), step and epoch (decimal
 *             strings), loss_scale and loss_scale_clean_steps (fp16 runs), config (the run's
 *             config.json, vkclr/config.h), interval (the metrics interval in progress: its
 *             steps and metric sums), knn_pending ("1" if the kNN monitor of this step is still
 *             owed), last ("LOSS ACCURACY" of the step), checksum ("crc32 header=H data=D")
 * Written atomically (vkclr/fileio.h): a crash leaves the old checkpoint or the new one.
 *
 * Nothing in a checkpoint is trusted: the header must be strict safetensors (JSON padded with
 * spaces; every tensor a known dtype, a shape and offsets that tile the data exactly), the
 * metadata's numbers decimal and in range, the configuration in the option table's ranges, and
 * the checksum must match. The checksum is zlib's CRC-32 (zlib.crc32 in Python) of the tensor
 * data (every byte after the header) and of the header bytes with the checksum entry
 * (`,"checksum":"..."`) cut out. A file without a checksum (written before vkclr had one) still
 * loads, with one warning on stderr per process. Every message names the file. */
#ifndef VKCLR_CHECKPOINT_H
#define VKCLR_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vkclr/config.h"
#include "vkclr/model.h"
#include "vkclr/optim.h"

#define VKC_CHECKPOINT_MAX_SUMS 16

/* Where a run stands, besides its tensors: in the checkpoint's metadata. */
typedef struct {
    int64_t step, epoch;      /* steps and whole epochs completed */
    double loss_scale;        /* fp16: the dynamic loss scale (1 otherwise) */
    int64_t loss_scale_clean; /* fp16: clean steps since the scale last changed */
    /* The logging interval in progress when it was written (vkclr train's metrics.jsonl): the
     * steps logged into it and the sums of their metrics, so that a resumed run writes the
     * lines an uninterrupted one would. 0 steps at epoch ends. */
    int interval_steps;
    int interval_nsums;
    double interval_sums[VKC_CHECKPOINT_MAX_SUMS];
    bool knn_pending; /* the kNN monitor of this step was interrupted: a resumed run runs it first */
    bool have_last;   /* the loss and positive-pair accuracy of step `step` (not in older files) */
    float last_loss, last_accuracy;
    bool checksummed; /* read: the file carried a checksum, and it matched */
} VkcTrainState;

/* The checkpoint file of `path`: path itself, or path/checkpoint.safetensors for a run
 * directory. Fails naming path when neither exists. */
int vkc_checkpoint_resolve(const char *path, char *file, size_t size);
/* The configuration (range-checked like the command line, messages naming the file and key)
 * and, if step is not NULL, the steps completed. Reads and checks the header only (the
 * header's checksum included); the tensor data is checked when it is loaded. */
int vkc_checkpoint_read_config(const char *path, VkcTrainConfig *cfg, int64_t *step);
int vkc_checkpoint_save(const char *path, const VkcModel *m, const VkcOptim *opt, const VkcTrainConfig *cfg,
                        const VkcTrainState *state);
/* The same, after every check a load makes on the whole file (the data's checksum, every
 * value finite): for commands that check a checkpoint before they open a device or compute. */
int vkc_checkpoint_check_file(const char *path, VkcTrainConfig *cfg, int64_t *step);
/* Load parameters, running statistics and optimizer state into an allocated model and
 * optimizer of the same architecture (opt NULL: the model only); *state (may be NULL): where
 * the run stood. Fails naming the file (and the tensor) when the file is corrupt (checksum),
 * truncated, not strict safetensors, a value is not finite, or a tensor is missing or has
 * another shape. */
int vkc_checkpoint_load(const char *path, VkcModel *m, VkcOptim *opt, VkcTrainState *state);
/* The model only (for evaluation: probe, kNN, feature export). */
int vkc_checkpoint_load_model(const char *path, VkcModel *m);
/* The model's parameters and running statistics into host memory (m->nparams and m->nbuffers
 * floats, zero the padding between tensors first), for a model m that may be a graph alone
 * (vkc_model_graph): what exporters read. The same checks and messages as vkc_checkpoint_load. */
int vkc_checkpoint_load_host(const char *path, const VkcModel *m, float *params, float *buffers);
/* Every check a load makes, on a whole checkpoint file held in memory (`origin` names it in
 * messages): structure, tensor table, checksum, metadata, configuration. cfg and state may be
 * NULL. For tools and the fuzz harness. */
int vkc_checkpoint_check_bytes(const uint8_t *bytes, size_t size, const char *origin, VkcTrainConfig *cfg,
                               VkcTrainState *state);

#endif
