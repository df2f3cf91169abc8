/* Linear probe: multinomial logistic regression trained on the device on frozen features.
 *
 *   1. standardise train and test features in place with the train split's per-column mean
 *      and (population) standard deviation; columns with std <= 1e-6 are only centred;
 *   2. train y = x W^T + b (W zero-initialised) with softmax cross-entropy, mini-batches drawn
 *      by a per-epoch shuffle (seeded; the last partial batch is dropped), SGD with momentum or
 *      AdamW, weight decay on W only, learning rate lr * (1 + cos(pi t / T)) / 2 over all T steps;
 *   3. report top-1 / top-5 accuracy and mean loss on the test and the train split.
 *
 * One epoch (gather batch -> linear -> loss -> backward -> optimizer, for every step) is
 * recorded into one command buffer once and resubmitted every epoch; the shuffle and the
 * per-step learning rates live in host-visible buffers written before each submit.
 * The same features, configuration and seed give bit-identical results on one device. */
#ifndef VKCLR_PROBE_H
#define VKCLR_PROBE_H

#include <stdio.h>

#include "vkclr/features.h"
#include "vkclr/optim.h"

typedef struct {
    uint32_t epochs;
    uint32_t batch;
    float lr;            /* peak learning rate */
    float weight_decay;  /* on W, not on b */
    VkcOptimKind optimizer; /* VKC_OPTIM_SGD or VKC_OPTIM_ADAMW */
    float momentum;      /* SGD */
    bool standardize;
    uint64_t seed;
    FILE *log;           /* per-epoch lines (NULL: quiet) */
    float *weight_out;   /* optional: receives the trained W (nclasses x dim, row-major) */
    float *bias_out;     /* optional: receives b (nclasses) */
    VkcDtype products;   /* operands of its GEMMs: VKC_F32, or 16-bit on cooperative matrices where
                          * the device runs them (vkc_gemm_set_operands); sums are float32 */
} VkcProbeConfig;

/* 30 epochs, batch 256, SGD momentum 0.9 (Nesterov), lr 0.1, weight decay 1e-4, standardised. */
VkcProbeConfig vkc_probe_defaults(void);
/* The optimizers the probe takes: sgd, adamw. */
extern const VkcName vkc_probe_optimizer_names[];
/* The peak learning rate an optimizer starts from: 0.1 for SGD, 1e-3 for AdamW. */
float vkc_probe_default_lr(VkcOptimKind optimizer);
/* Checks a configuration; the message names the field. */
int vkc_probe_config_check(const VkcProbeConfig *c);

typedef struct {
    double top1, top5, loss;                   /* test split */
    double train_top1, train_top5, train_loss; /* train split, after training */
    double last_epoch_loss;                    /* mean mini-batch loss of the last epoch */
    uint32_t steps;                            /* optimizer steps taken */
    double seconds_standardize, seconds_train, seconds_eval;
} VkcProbeResult;

/* The mini-batch order of an epoch: a permutation of [0, n), a pure function of (seed, epoch). */
void vkc_probe_shuffle(uint32_t *perm, uint32_t n, uint64_t seed, uint32_t epoch);

/* Train on `train`, evaluate on `test` (may have n == 0: test figures are then 0). Both are
 * standardised in place when cfg->standardize. Labels must lie in [0, nclasses). */
int vkc_probe_run(VkcContext *ctx, const VkcProbeConfig *cfg, VkcFeatures *train, VkcFeatures *test,
                  uint32_t nclasses, VkcProbeResult *out);

#endif
