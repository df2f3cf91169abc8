/* Debugging and parity (vkclr train --dump-steps K): the run's state before its first step and
 * the exact views its first K steps read, so that another implementation (tests/parity, the
 * PyTorch twin in python/vkclr_torch.py) can replay the same steps on the same weights and data.
 *
 *   OUT/init.safetensors  a checkpoint (vkc_checkpoint_save) written before the first step:
 *                         parameters, batch-norm running statistics, optimizer state
 *   OUT/views.npy         float32 [K][2 x batch][C][H][W]: step k's staging slot as the step read
 *                         it (rows: view 1 of every image, then view 2), written to
 *                         views.npy.tmp and renamed once all K steps are in it
 *   OUT/steps/NNNNNN.safetensors  the state after each of those steps (global step number
 *                         NNNNNN), so each step can be replayed from vkclr's own state: a
 *                         comparison that float rounding cannot make chaotic
 * One rank only (the slot holds the rank's own rows). */
#ifndef VKCLR_TRAIN_DUMP_H
#define VKCLR_TRAIN_DUMP_H

#include <stdio.h>

#include "vkclr/checkpoint.h"

typedef struct {
    FILE *f;               /* views.npy.tmp while steps are being written, else NULL */
    int64_t steps, written;
    int64_t first, last;   /* global steps whose state is written after them (0, 0: none) */
    size_t step_bytes;
    char path[1100];       /* views.npy */
} TrainDump;

/* Write c->out/init.safetensors (the run as `state` says it stands) and start views.npy for
 * `steps` steps of 2 x c->batch views of the model's image shape. steps <= 0: nothing (no-op). */
int train_dump_begin(TrainDump *d, const VkcTrainConfig *c, const VkcModel *m, const VkcOptim *opt, int64_t steps,
                     const VkcTrainState *state);
/* Append the next step's slot (a no-op once K steps are written or when not dumping); the file
 * is completed and renamed after the K-th. */
int train_dump_views(TrainDump *d, const float *views);
/* After global step state->step (1-based) has finished: the state into steps/, if it is a
 * dumped step. */
int train_dump_state(const TrainDump *d, const VkcTrainConfig *c, const VkcModel *m, const VkcOptim *opt,
                     const VkcTrainState *state);
/* Drop an unfinished views.npy.tmp (a run that stopped early); safe to call twice. */
void train_dump_close(TrainDump *d);

#endif
