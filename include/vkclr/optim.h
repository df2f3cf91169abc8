/* Optimizers on the device: SGD with momentum (optionally Nesterov), LARS, AdamW.
 *
 * One optimizer updates many tensors with a handful of dispatches: every parameter tensor
 * must live in one VkBuffer (allocate them from one arena block), likewise every gradient.
 * The optimizer keeps its state (momentum; AdamW's m and v) in its own tensors.
 *
 * The learning rate and the step number are read from a small host-visible buffer that
 * vkc_optim_set_step() writes before each submit, so a command buffer recorded once with
 * vkc_optim_record() serves every step of a schedule.
 *
 * Tensors flagged VKC_PARAM_NO_DECAY (biases, batch-norm scale and shift) get no weight decay
 * and, under LARS, no trust-ratio adaptation (as in SimCLR). LARS norms are deterministic
 * two-pass reductions: per-chunk partials, then per-tensor sums in chunk order. */
#ifndef VKCLR_OPTIM_H
#define VKCLR_OPTIM_H

#include "vkclr/names.h"
#include "vkclr/vk.h"

typedef enum { VKC_OPTIM_SGD, VKC_OPTIM_LARS, VKC_OPTIM_ADAMW } VkcOptimKind;
extern const VkcName vkc_optim_names[]; /* lars, sgd, adamw */

typedef struct {
    VkcOptimKind kind;
    float momentum;      /* SGD, LARS (0.9) */
    bool nesterov;       /* SGD, LARS */
    float weight_decay;  /* all; AdamW's is decoupled */
    float eta;           /* LARS trust coefficient (0.001) */
    float beta1, beta2, eps; /* AdamW (0.9, 0.999, 1e-8) */
    bool check_finite;   /* before each update, look for inf/NaN gradients and skip the update
                          * if there are any (fp16 training with a loss scale) */
} VkcOptimConfig;

#define VKC_PARAM_NO_DECAY 1u

typedef struct {
    VkcTensor param, grad; /* same number of floats */
    uint32_t flags;        /* VKC_PARAM_NO_DECAY */
} VkcParam;

/* Elements per chunk: one workgroup's share of a tensor. */
#define VKC_OPTIM_CHUNK 2048u

typedef struct {
    VkcContext *ctx;
    VkcOptimConfig cfg;
    VkcKernel update, norms, trust;
    uint32_t wg;
    uint32_t ntensors, nchunks;
    uint64_t total;        /* parameter elements */
    VkcTensor params, grads; /* views covering every parameter / gradient tensor */
    VkcTensor state;       /* momentum (SGD, LARS) or m then v (AdamW), packed per tensor */
    VkcTensor table;       /* tensor and chunk table, see shaders/optim_table.glsl */
    VkcTensor partial;     /* LARS: per-chunk (sum w^2, sum g'^2) */
    VkcTensor ratios;      /* LARS: per tensor (trust, ||w||, ||g + wd w||, 0) */
    VkcTensor step;        /* host-visible {lr, step, 1-beta1^step, 1-beta2^step, 1/scale, nonfinite} */
    VkcKernel check_chunks, check_total; /* check_finite: grad_check's two passes */
    VkcTensor bad;         /* check_finite: non-finite gradients per chunk */
    float scale;           /* the gradients arrive multiplied by this (1 without a loss scale) */
} VkcOptim;

/* `device`: where state and tables go; `host`: a VKC_MEMORY_STAGING arena for the per-step
 * values. State starts at zero. */
int vkc_optim_init(VkcContext *ctx, VkcOptim *o, const VkcOptimConfig *cfg, const VkcParam *params, int nparams,
                   VkcArena *device, VkcArena *host);
void vkc_optim_destroy(VkcOptim *o);
/* Record one update of every tensor (after the backward pass in the same command buffer). */
int vkc_optim_record(VkcOptim *o, VkcCmd *cmd);
/* Learning rate and step (1 for the first update) of the next submit; clears the skip flag. */
int vkc_optim_set_step(VkcOptim *o, float lr, uint32_t step);
/* The gradients of the next steps arrive multiplied by `scale` (a loss scale): the update
 * divides by it. Needs cfg.check_finite unless scale is 1. Takes effect at the next set_step. */
int vkc_optim_set_grad_scale(VkcOptim *o, float scale);
/* After a submitted step finished: did check_finite find an inf or NaN and skip its update? */
bool vkc_optim_skipped(const VkcOptim *o);
/* Default hyper-parameters for a kind (SimCLR's LARS: momentum 0.9, eta 0.001, wd 1e-6). */
VkcOptimConfig vkc_optim_defaults(VkcOptimKind kind);

#endif
