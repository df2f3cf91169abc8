/* A training run as the files of src/train share it. train.c runs it top-down:
 *
 *   resolve.c     the run's configuration and what it resolves to (ResolvedRun)
 *   setup.c       data, device, model, loss, optimizer, the two recorded steps, the producer
 *   step.c        the step loop: submit, wait, and each finished step's bookkeeping
 *   outputs.c     the output directory: config.json, metrics.jsonl, checkpoints, snapshots,
 *                 results.json, and what the terminal shows
 *   loss_scale.c  fp16's dynamic loss scale
 *   profile.c     --profile: GPU time per kernel class
 *   bench.c       vkclr bench train: the same step, timed
 *
 * The configuration a run was given is never changed: what "auto", the data, the device and
 * the ranks decide lives in ResolvedRun, and the configuration that config.json and the
 * checkpoints record is made from both (run_record). */
#ifndef VKCLR_TRAIN_RUN_H
#define VKCLR_TRAIN_RUN_H

#include <stdio.h>

#include "dist_step.h"
#include "dump.h"
#include "internal.h"
#include "vkclr/interrupt.h"
#include "vkclr/l2norm.h"
#include "vkclr/loss.h"
#include "vkclr/plot.h"

/* What a run's configuration resolves to. */
typedef struct {
    /* Resuming: the run saved in resume_dir, the file its configuration came from (its
     * checkpoint; config.json for a run stopped before its first checkpoint, which starts
     * again from step 0) and the steps it had done. */
    const char *resume_dir;  /* NULL: a new run */
    char resume_file[1100];
    bool resume_checkpoint;  /* resume_file is a checkpoint: parameters and state from it */
    int64_t start;
    /* Where it runs: this process's place among the ranks; rank 0 alone prints and writes. */
    VkcDist dist;            /* size >= 1 */
    int ranks;
    bool lead, quiet;
    bool sync_bn;            /* batch-norm statistics over all ranks */
    char out[512];           /* the output directory (a resumed run's own when none was given; a new run's
                              * runs/YYYYMMDD-HHMMSS, chosen when it is made, when none was given) */
    bool replace_run;        /* out holds another run that --force replaces */
    char ckpt_path[1100];    /* out/checkpoint.safetensors */
    /* What "auto" and the data decide. */
    VkcModelConfig model;    /* the configuration's, with the views' shape, the activation dtype and
                              * whether the loss learns log Z */
    char preset[16];         /* the augmentation preset */
    float lr;                /* the base learning rate */
    float weight_decay;
    /* The schedule (from the producer's steps per epoch). */
    int64_t steps_per_epoch, total, warmup, end; /* end: the step this process stops at */
    int global_batch;        /* images per step over all ranks */
    float peak_lr;
} ResolvedRun;

/* --profile: GPU time per kernel class (the model's op classes, the loss, the optimizer). */
#define PROFILE_MAX_CLASSES 16
enum { TS_LOSS_BEGIN, TS_LOSS_END, TS_OPTIM_BEGIN, TS_OPTIM_END, TS_STEP_BEGIN, TS_STEP_END, TS_COUNT };

typedef struct {
    bool on;
    int ts[2][TS_COUNT]; /* per slot: the timestamps around the loss, the optimizer and the step */
    const char *names[PROFILE_MAX_CLASSES];
    double ns[PROFILE_MAX_CLASSES];
    int nclasses;
    double step_ns;
    int64_t steps;
} Profile;

/* fp16: the dynamic loss scale. The loss's gradient is multiplied by it (the scale kernel,
 * reading buf) and the optimizer divides it out and skips a step whose gradients overflowed;
 * the scale (kept in the run's VkcTrainState, so a checkpoint carries it) halves then, and
 * doubles after a run of clean steps. Off (no buffer) for other precisions. */
typedef struct {
    VkcKernel kernel;
    VkcTensor buf;
    int skipped_in_interval;
} LossScale;

/* The device and everything a step runs: recorded once per staging slot. */
typedef struct {
    VkcContext ctx;
    VkcArena dev, host;
    VkcModelKernels k;
    VkcGemm eval_gemm;       /* the kNN monitor's and the final evaluation's GEMMs (their products' type) */
    VkcL2Norm l2;
    VkcContrastive loss;
    VkcModel model;
    VkcOptim opt;
    VkcTensor slot[2];       /* host-visible staging slots the producer fills */
    VkcTensor input;         /* GPUs: the views copied into device memory */
    VkcTensor z, dz, dembed; /* normalised embeddings, their gradient, the embeddings' gradient */
    VkcTensor metrics[2];    /* per slot: the loss's metrics, read back */
    DistStep dstep;          /* more than one rank: the collectives of a step */
    VkcTensor zg, dzg;       /* ... and the global embeddings and their gradient */
    VkcCmd cmd[2];
} StepGraph;

/* The logging interval: the loss's metrics summed over its steps, and the speed figures. */
typedef struct {
    double msum[VKC_CONTRASTIVE_METRICS];
    int n, here;             /* its steps; of them, the ones this process ran (a resumed run
                              * starts with the checkpoint's partial interval) */
    double start;            /* when it began */
    double t_steady;         /* the steady-state speed counts from the end of this process's first step */
    int64_t steady_from;
    bool tty;                /* progress in place on a terminal */
} Interval;

/* The output directory's open files (rank 0) and --snapshot-minutes. */
typedef struct {
    FILE *metrics;
    VkcPlotter *plotter;     /* redraws curves.png in a thread after each metrics line */
    TrainDump dump;          /* --dump-steps */
    double snapshot_min[32], loop_start;
    int nsnapshots, next_snapshot;
} Outputs;

typedef struct {
    VkcTrainConfig cfg;      /* the run's configuration: the caller's, or (resuming) the checkpoint's with
                              * the options a resumed run may change; never changed after resolve */
    ResolvedRun rv;
    VkcTrainConfig record;   /* cfg with rv's values: what config.json and the checkpoints record */
    VkcDataset ds, train_ds; /* train_ds: ds with the training split cut to --limit */
    VkcDataset eval_ds;      /* --eval-data, when given */
    const VkcDataset *eval;  /* the probe's and kNN's data: &eval_ds or &ds (data.c) */
    TrainSkipped skipped;    /* --skip-bad: the files left out */
    VkcAugmentConfig aug;
    StepGraph g;
    LossScale scale;
    Profile prof;
    VkcProducer *producer;
    Outputs out;
    Interval iv;
    VkcTrainState state;     /* where the run stands: what a checkpoint saves */
    bool last_known;         /* res->last_loss is a step's (this process's, or the checkpoint's) */
    VkcTrainResult *res;
} Run;

/* train.c */
double train_now(void);
int64_t train_debug_nan_step(void); /* vkc_train_debug_nan_at's step (0: off) */

/* resolve.c */
int resolve_config(Run *r, const VkcTrainConfig *cfg, const char *resume_dir);
int resolve_views(Run *r);
int resolve_precision(Run *r);
int resolve_schedule(Run *r, int64_t steps_per_epoch);
void run_record(Run *r);
bool stop_requested(const Run *r);

/* setup.c */
int setup_data(Run *r);
int setup_model(Run *r);
int record_step(Run *r, int s);
int start_producer(Run *r);
void run_destroy(Run *r);

/* step.c */
int step_loop(Run *r, VkcStepHook hook, void *hook_user, int64_t *done);

/* outputs.c */
int check_out(Run *r);
int prepare_out(Run *r);
int open_outputs(Run *r);
void print_start(const Run *r);
int log_interval(Run *r, int64_t done, float last_loss, bool epoch_end);
int knn_monitor(Run *r, int64_t done);
int checkpoint(Run *r, int64_t done, bool knn_pending);
int snapshot(Run *r, int64_t done);
int finish_run(Run *r, int64_t done, double t0);

/* loss_scale.c */
int loss_scale_init(Run *r);
int loss_scale_record(Run *r, VkcCmd *cmd, uint32_t n);
int loss_scale_set(Run *r);
void loss_scale_after_step(Run *r);
void loss_scale_json(const Run *r, cJSON *obj, double skipped);
void loss_scale_destroy(Run *r);

/* profile.c */
void profile_mark(Run *r, VkcCmd *cmd, int s, int which);
void profile_accumulate(Run *r, int s);
void profile_report(const Run *r, cJSON *results);
void profile_shares(const Profile *p, VkcTrainBench *out);

#endif
