/* A training run's configuration, and the one table of its options.
 *
 * Every option of `vkclr train` is one row of vkc_train_options[] (src/ckpt/config.c; rows as
 * vkclr/options.h describes them): its flag, its field, type, range, default and help, whether
 * config.json (and so the checkpoint) records it under which key, and whether a resumed run
 * may change it. The table drives the command line's parsing and help, config.json writing and
 * reading (by key, every value range-checked like the flag), the checkpoint's metadata and
 * --resume's rules; `vkclr probe`, `export`, `tune` and `bench train` take the same rows.
 * Adding an option is one field here and one row there. */
#ifndef VKCLR_CONFIG_H
#define VKCLR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vkclr/data.h"
#include "vkclr/dist.h"
#include "vkclr/loss.h"
#include "vkclr/model.h"
#include "vkclr/names.h"
#include "vkclr/optim.h"
#include "vkclr/options.h"

typedef enum { VKC_LR_LINEAR, VKC_LR_SQRT } VkcLrScaling;
extern const VkcName vkc_lr_scaling_names[]; /* linear, sqrt */
extern const VkcName vkc_precision_names[];  /* fp32, fp16, bf16 (VkcDtype), auto (-1) */

typedef struct {
    char data[512];        /* dataset spec (vkc_dataset_load) */
    char eval_data[512];   /* labelled data of the probe and kNN ("": data) */
    int limit;             /* train on the first N training images (0: all) */
    int image_size;        /* views of S x S (0: the data's image size) */
    uint64_t max_image_pixels; /* data: refuse an image of more pixels (from its header, before decoding) */
    float max_data_gib;    /* data: refuse a dataset that would take more memory (GiB) */
    bool skip_bad;         /* data: leave out files that cannot be images (listed in the run directory) */
    VkcModelConfig model;  /* encoder, width, head; image shape is filled from the data */
    int batch;             /* images per step (2 x batch views) */
    int epochs;            /* length of the schedule */
    int stop_after;        /* stop (with a checkpoint) after this many epochs; 0: run to the end */
    VkcOptimKind optimizer;
    float lr;              /* base learning rate (0: by optimizer and scaling), scaled by the batch: */
    VkcLrScaling lr_scaling; /* linear: lr * batch / 256; sqrt: lr * sqrt(batch) */
    float weight_decay;    /* < 0: the optimizer's default */
    float warmup_epochs;   /* linear warm-up, then cosine decay to 0 */
    float temperature;
    int precision;         /* VkcDtype of the encoder's activations, or -1: auto (by device) */
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
    char snapshots[128];   /* "5,10,20": also save the checkpoint after that many minutes of training */
    bool profile;          /* GPU timestamps around every op: per-kernel-class time shares */
    bool quiet;            /* no progress output */
    bool force;            /* a new run may replace the run in `out` */
    /* Data parallel (see dist.h): `batch` images per rank, a global batch of batch * ranks. */
    VkcDist dist;          /* this process's place (vkc_dist_init); all zero: a single rank */
    /* Not an option either: the device as the environment sets it up (VKCLR_DEVICE, validation,
     * kernel overrides; the caller fills it, src/cli/cli.h: cli_environment); --device and
     * --quiet add to it. */
    VkcContextOptions context;
    int ranks;             /* recorded in the configuration: set from dist.size by vkc_train_run */
    int sync_bn;           /* batch-norm statistics over all ranks: 1, 0, or -1 (on when ranks > 1) */
    int dump_steps;        /* debugging/parity: the state before the first step, the views and the state
                            * after each of the first dump_steps steps, into `out` (src/train/dump.h) */
} VkcTrainConfig;

/* ---------------------------------------------------------------- the option table */

/* The rows (vkclr/options.h) of vkclr train, over VkcTrainConfig; their flags (VKC_OPT_SAVED,
 * VKC_OPT_RESUMABLE, VKC_OPT_ENCODER, VKC_OPT_OPTIONAL) say what config.json, --resume, probe
 * and export do with each. */
extern const VkcOption vkc_train_options[];
extern const int vkc_train_noptions;

/* The row of `flag` in vkc_train_options (NULL: none). */
const VkcOption *vkc_train_option(const char *flag);

/* The defaults: every row's `def`. */
VkcTrainConfig vkc_train_defaults(void);
/* Every option in range, and the rules between options (loss options, --stop-after <
 * --epochs). `given` (NULL: not from a command line) adds the rules about flags given for
 * nothing, and that --loss dcl-debiased needs --tau-plus. */
int vkc_config_check(const VkcTrainConfig *c, const VkcGiven *given);
/* The minutes of --snapshot-minutes, increasing (at most `max`); the count, or -1 with a message. */
int vkc_config_snapshots(const VkcTrainConfig *c, double *minutes, int max);

/* The data limits of a configuration (--max-image-pixels, --max-data-gib), for vkc_dataset_load_limited. */
VkcDataLimits vkc_config_data_limits(const VkcTrainConfig *c);

/* config.json: every saved option by key (malloc'd text). */
char *vkc_config_to_json(const VkcTrainConfig *c, bool pretty);
/* Read config.json text: every saved option by key, range-checked like its flag, then
 * vkc_config_check. Messages name `origin` (the file) and the key. */
int vkc_config_from_json(const char *text, const char *origin, VkcTrainConfig *c);

#endif
