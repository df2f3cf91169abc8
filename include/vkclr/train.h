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
 * logging interval: interval means of the loss's 8 metrics, learning rate, throughput),
 * curves.png (those metrics drawn against steps, redrawn after each line: vkclr/plot.h),
 * checkpoint.safetensors (parameters, batch-norm running statistics, optimizer state; step,
 * epoch and configuration in __metadata__), results.json (final figures: linear probe and kNN
 * accuracy of the encoder on the test split). */
#ifndef VKCLR_TRAIN_H
#define VKCLR_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "vkclr/checkpoint.h"
#include "vkclr/config.h"

/* The base learning rate a scaling rule starts from for an optimizer (SimCLR's 0.3 linear /
 * 0.075 sqrt for LARS and SGD, 1e-3 for AdamW). */
float vkc_train_default_lr(VkcOptimKind kind, VkcLrScaling scaling);
/* Learning rate of step t (0-based) of a schedule of `total` steps, `warmup` of them warm-up. */
float vkc_train_lr(float peak, int64_t t, int64_t warmup, int64_t total);

/* The model's input shape and stem as vkc_train_run would set them for the data ds: the view
 * size (--image-size, an augmentation size, or the data's), then the automatic stem. */
int vkc_train_model_shape(VkcTrainConfig *c, const VkcDataset *ds);

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
    int64_t skipped_steps;   /* fp16: steps skipped for overflowing gradients */
    VkDeviceSize device_bytes; /* device memory allocated */
    int ranks;               /* data-parallel ranks (1: no communication) */
    double comm_seconds;     /* time in collectives, the wait for slower ranks included */
    double comm_bytes_per_step[3]; /* bytes this rank contributes per step: gradients, embeddings, BN sums */
    int validation_messages; /* validation-layer reports seen (tests require 0) */
} VkcTrainResult;

/* The fields of metrics.jsonl lines that measure time: they differ between two runs of one
 * configuration. Every other field of every line is the same, bit for bit, in an uninterrupted
 * run and in one stopped (SIGINT, SIGKILL, a full disk) and resumed any number of times.
 * NULL-terminated. */
extern const char *const vkc_train_timing_keys[];

/* Called after every completed step with its loss (for tests and embedding applications); on
 * every rank, with the loss of the global batch. */
typedef void (*VkcStepHook)(void *user, int64_t step, float loss, float accuracy);

/* Train from scratch with `cfg`, or, if `resume_dir` is set, continue the run saved there:
 * its configuration is the checkpoint's, except the options a resumed run may change
 * (VKC_OPT_RESUMABLE in vkclr/config.h: --epochs, which changes the schedule, --stop-after,
 * --out, --device, --threads, --log-every, --profile, --quiet), which come from cfg. Writes
 * into cfg->out (resume: the resume directory when cfg->out is ""). Returns VKC_ERR with a
 * message on failure, including a non-finite loss (result->nonfinite set). */
int vkc_train_run(const VkcTrainConfig *cfg, const char *resume_dir, VkcStepHook hook, void *hook_user,
                  VkcTrainResult *result);

/* vkclr bench train: the steady-state speed of one configuration's training step. */
#define VKC_BENCH_MAX_CLASSES 16
typedef struct {
    char device[256];
    uint64_t nparams;
    int64_t steps;           /* timed steps */
    double seconds;          /* their wall time */
    double images_per_second, ms_per_step;
    /* The same steps by this process's CPU time (all its threads, a CPU driver's workers
     * included) divided by the online cores: on a CPU device shared with other jobs a far
     * steadier measure than wall time. */
    double cpu_images_per_second, cpu_ms_per_step;
    double flops_per_image;  /* convolutions, linear layers and the loss's GEMMs, forward and backward */
    double tflops;           /* effective: flops_per_image x images_per_second */
    double gpu_ms_per_step;  /* of a profiled step (barriers between ops), 0 without timestamps */
    int nclasses;            /* GPU time share per kernel class of the profiled steps */
    const char *class_names[VKC_BENCH_MAX_CLASSES]; /* static strings */
    double class_share[VKC_BENCH_MAX_CLASSES];
} VkcTrainBench;

/* Set up cfg's training step as vkc_train_run does (cfg->data gives the image shape: a
 * synthetic spec needs no disk), fill both staging slots with noise once, then run `warmup`
 * untimed and `steps` timed steps from one recorded command buffer (no augmentation, no data
 * wait), and three profiled steps for the time share per kernel class. */
int vkc_train_bench(const VkcTrainConfig *cfg, int warmup, int steps, VkcTrainBench *out);

/* Ask a running vkc_train_run to stop after the current step and write a checkpoint.
 * Async-signal-safe: call it from a SIGINT/SIGTERM handler. */
void vkc_train_request_stop(void);
/* Install SIGINT and SIGTERM handlers that call vkc_train_request_stop(). */
void vkc_train_install_signal_handlers(void);

/* Test hook: make the loss of step `step` (1-based) non-finite by feeding the optimizer a NaN
 * learning rate on the step before (0: off). */
void vkc_train_debug_nan_at(int64_t step);

#endif
