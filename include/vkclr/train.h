/* SimCLR training: the loop behind `vkclr train`, its checkpoints and its output directory.
 *
 * One step (2N = 2 x batch views): encoder and head forward -> L2 normalise -> contrastive loss
 * forward and backward (NT-Xent or another member of the NCE family, vkclr/loss.h) -> head and
 * encoder backward -> optimizer. The whole step is recorded once per
 * staging slot (two slots, so the CPU augments step t+1 into one while the GPU runs step t
 * from the other) and resubmitted; the learning rate and step number live in the optimizer's
 * small host-written buffer.
 *
 * Output directory: config.json (the resolved configuration), metrics.jsonl (one line per
 * logging interval: interval means of the loss's 8 metrics, learning rate, throughput), checkpoint.safetensors (parameters, batch-norm running statistics,
 * optimizer state; step, epoch and configuration in __metadata__), results.json (final
 * figures: linear probe and kNN accuracy of the encoder on the test split). */
#ifndef VKCLR_TRAIN_H
#define VKCLR_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "vkclr/augment.h"
#include "vkclr/dist.h"
#include "vkclr/loss.h"
#include "vkclr/model.h"
#include "vkclr/optim.h"

typedef enum { VKC_LR_LINEAR, VKC_LR_SQRT } VkcLrScaling;

typedef struct {
    char data[512];        /* dataset spec (vkc_dataset_load) */
    int limit;             /* train on the first N training images (0: all) */
    VkcModelConfig model;  /* encoder, width, head; image shape is filled from the data */
    int batch;             /* images per step (2 x batch views) */
    int epochs;            /* length of the schedule */
    int stop_after;        /* stop (with a checkpoint) after this many epochs; 0: run to the end */
    VkcOptimKind optimizer;
    float lr;              /* base learning rate, scaled by the batch: */
    VkcLrScaling lr_scaling; /* linear: lr * batch / 256; sqrt: lr * sqrt(batch) */
    float weight_decay;    /* < 0: the optimizer's default */
    float warmup_epochs;   /* linear warm-up, then cosine decay to 0 */
    float temperature;
    VkcLossKind loss;      /* contrastive loss (default ntxent) */
    bool nce_learned_logz; /* nce only: log Z is the learned parameter "loss.logz" (else 0) */
    float tau_plus;        /* dcl-debiased only: class prior tau+ in [0, 1) (0 for other losses) */
    char preset[16];       /* augmentation preset ("" = by image type) */
    char aug[512];         /* augmentation overrides, KEY=VALUE,... */
    uint64_t seed;
    int device;            /* -1: default choice */
    int threads;           /* augmentation threads */
    char out[512];         /* output directory */
    int log_every;         /* steps per metrics line */
    int knn_k;             /* kNN at the end (and every knn_every epochs): k (0: no kNN) */
    float knn_temperature;
    int knn_bank;          /* training images in the kNN bank (0: all the probe's training images) */
    int knn_every;         /* kNN monitor every this many epochs into metrics.jsonl (0: never) */
    int probe_epochs;      /* linear probe at the end: epochs (0: no probe) */
    int probe_limit;       /* training images the probe learns from (0: the whole training split) */
    bool profile;          /* GPU timestamps around every op: per-kernel-class time shares */
    bool quiet;            /* no progress output */
    /* Data parallel (see dist.h): `batch` images per rank, a global batch of batch * ranks. */
    VkcDist dist;          /* this process's place (vkc_dist_init); all zero: a single rank */
    int ranks;             /* recorded in the configuration: set from dist.size by vkc_train_run */
    int sync_bn;           /* batch-norm statistics over all ranks: 1, 0, or -1 (on when ranks > 1) */
} VkcTrainConfig;

/* lars, batch 256, lr 0.3 linear (SimCLR), etc.: see vkc_train_defaults() in train.c. */
VkcTrainConfig vkc_train_defaults(void);
/* The base learning rate a scaling rule starts from for an optimizer (SimCLR's 0.3 linear /
 * 0.075 sqrt for LARS and SGD, 1e-3 for AdamW). */
float vkc_train_default_lr(VkcOptimKind kind, VkcLrScaling scaling);
/* Learning rate of step t (0-based) of a schedule of `total` steps, `warmup` of them warm-up. */
float vkc_train_lr(float peak, int64_t t, int64_t warmup, int64_t total);

typedef struct {
    int64_t steps;           /* steps completed, in total (including a resumed run's) */
    int64_t epoch;           /* epochs completed */
    float last_loss, last_accuracy;
    double images_per_second; /* of this process's steps */
    double seconds;          /* wall time of this process's training loop */
    double gpu_wait_seconds; /* time the GPU sat idle waiting for an augmented batch */
    int64_t gpu_waits;       /* steps whose submit was delayed by augmentation */
    double probe_top1, probe_top5; /* linear probe, test split; < 0: not evaluated */
    double knn_top1, knn_top5;     /* kNN, test split; < 0: not evaluated */
    bool interrupted;        /* stopped by a signal (checkpoint written) */
    bool nonfinite;          /* stopped on a NaN/inf loss (no checkpoint written) */
    VkDeviceSize device_bytes; /* device memory allocated */
    int ranks;               /* data-parallel ranks (1: no communication) */
    double comm_seconds;     /* time in collectives, the wait for slower ranks included */
    double comm_bytes_per_step[3]; /* bytes this rank contributes per step: gradients, embeddings, BN sums */
    int validation_messages; /* validation-layer reports seen (tests require 0) */
} VkcTrainResult;

/* Called after every completed step with its loss (for tests and embedding applications); on
 * every rank, with the loss of the global batch. */
typedef void (*VkcStepHook)(void *user, int64_t step, float loss, float accuracy);

/* Train from scratch with `cfg`, or, if `resume_dir` is set, continue the run saved there
 * (its configuration comes from the checkpoint; `epochs_override` > 0 replaces the epoch
 * count, which changes the schedule). Writes into cfg->out (resume: the resume directory
 * unless cfg->out is set). Returns VKC_ERR with a message on failure, including a non-finite
 * loss (result->nonfinite set). */
int vkc_train_run(const VkcTrainConfig *cfg, const char *resume_dir, int epochs_override, VkcStepHook hook,
                  void *hook_user, VkcTrainResult *result);

/* Ask a running vkc_train_run to stop after the current step and write a checkpoint.
 * Async-signal-safe: call it from a SIGINT/SIGTERM handler. */
void vkc_train_request_stop(void);
/* Install SIGINT and SIGTERM handlers that call vkc_train_request_stop(). */
void vkc_train_install_signal_handlers(void);

/* Test hook: make the loss of step `step` (1-based) non-finite by feeding the optimizer a NaN
 * learning rate on the step before (0: off). */
void vkc_train_debug_nan_at(int64_t step);

/* The checkpoint file of `path`: path itself, or path/checkpoint.safetensors for a run
 * directory. Fails naming path when neither exists. */
int vkc_checkpoint_resolve(const char *path, char *file, size_t size);
/* Checkpoint files (safetensors): read the configuration and position of a run directory's
 * checkpoint without loading tensors. */
int vkc_checkpoint_read_config(const char *path, VkcTrainConfig *cfg, int64_t *step);
/* Load a checkpoint's parameters and batch-norm running statistics into a model created with
 * the checkpoint's cfg->model (for evaluation: probe, kNN, feature export). Fails naming the
 * file and the tensor on a missing tensor, a shape mismatch or a truncated file. */
int vkc_checkpoint_load_model(const char *path, VkcModel *m);

#endif
