/* Contrastive and supervised losses, forward and backward on the device.
 *
 * Contrastive batches hold 2N L2-normalised embeddings z (2N x dim, row-major): rows 0..N-1
 * are the first views, rows N..2N-1 the second views, and row i's positive is row
 * (i + N) mod 2N (torch.cat([z1, z2]) order).
 *
 * The losses of the NCE family share the similarity stage: S = z z^T / tau (2N x 2N logits,
 * one GEMM); a loss is then a per-row kernel over S (statistics such as lse, the loss, ranks),
 * a column sum of the row statistics into a small metrics buffer, and a backward kernel that
 * writes the symmetrised logit gradient G = (dL/dS + dL/dS^T) / tau, after which one GEMM
 * gives dL/dz = G z. Only the row and backward kernels differ between losses.
 *
 * Metrics are written to a small device tensor (make it host-visible to read it back):
 *   contrastive: the VKC_CONTRASTIVE_METRICS below
 *   xent:        mean loss, top-1 accuracy, top-5 accuracy, mean lse_b
 */
#ifndef VKCLR_LOSS_H
#define VKCLR_LOSS_H

#include "vkclr/gemm.h"
#include "vkclr/names.h"
#include "vkclr/reduce.h"

/* S (n2 x n2) = z z^T / tau, z n2 x dim. */
int vkc_similarity_record(VkcGemm *gemm, VkcCmd *cmd, VkcTensor z, uint32_t n2, uint32_t dim, float tau,
                          VkcTensor sim);

/* ---------------------------------------------------------------- the NCE family, one interface
 *
 * Every member shares the similarity stage S = z z^T / tau and differs in a per-row loss kernel
 * and a logit-gradient kernel (docs/losses.md has the formulas and how the members relate):
 *   ntxent (also "infonce")  global / ranking NCE with uniform in-batch noise
 *   nce                      local / binary NCE, K = 2N - 2 noise samples, log Z self-normalised
 *                            (0) or a learned scalar whose gradient the backward pass writes
 *   dcl                      decoupled contrastive loss: the positive left out of the denominator
 *   dcl-debiased             Chuang et al.'s debiased loss with class prior tau_plus
 * Whatever the loss, the forward pass also writes the metrics below, read off the same S. */
typedef enum { VKC_LOSS_NTXENT, VKC_LOSS_NCE, VKC_LOSS_DCL, VKC_LOSS_DCL_DEBIASED, VKC_LOSS_KINDS } VkcLossKind;

/* ntxent (alias infonce), nce, dcl, dcl-debiased */
extern const VkcName vkc_loss_names[];
static inline const char *vkc_loss_kind_name(VkcLossKind kind) { return vkc_name_of(vkc_loss_names, (int)kind); }
/* How local NCE treats log Z: self (self-normalised, 0) or learned (a trained scalar). */
extern const VkcName vkc_nce_logz_names[];

/* One row per loss of the family (vkc_losses[], src/loss/contrastive.c): everything vkclr
 * knows of a loss outside its shaders and its reference. The configuration's rules (--nce-logz,
 * --tau-plus), the training loop, vkclr bench head and the family's checks read these fields,
 * so a new loss is one row, a name in vkc_loss_names, its two shaders and its reference. */
typedef struct {
    VkcLossKind kind;
    VkcShader rows, grad;  /* its per-row loss kernel and its logit-gradient kernel */
    bool learns_logz;      /* has a log Z that may be learned (--nce-logz learned): the backward also
                            * writes d(mean loss)/d(log Z) */
    bool takes_tau_plus;   /* takes the class prior tau+ (--tau-plus): given, and in [0, 1) */
    bool benchmarked;      /* vkclr bench head times it */
    bool checked;          /* the family checks compare it with its reference (src/check/check_family.c) */
} VkcLossRow;

extern const VkcLossRow vkc_losses[VKC_LOSS_KINDS];
/* The row of `kind` (NULL: no such loss). */
const VkcLossRow *vkc_loss_row(VkcLossKind kind);
/* Does a loss of this kind with this --nce-logz setting train log Z as a parameter? */
bool vkc_loss_learns_logz(VkcLossKind kind, bool learned);
/* The names of the losses that learn log Z (or take tau+), "a, b", for messages. */
void vkc_loss_names_with(bool (*has)(const VkcLossRow *row), char *buf, size_t size);

/* Metrics of a contrastive batch, in this order (floats); vkc_metric_names are their keys in
 * metrics.jsonl:
 *   LOSS        mean loss of the selected kind
 *   ACCURACY    fraction of anchors whose positive outscores every noise sample
 *   MI_BOUND    log(2N - 1) - (mean NT-Xent loss): the InfoNCE lower bound on I(view1; view2)
 *   LOG_ZHAT    mean over anchors of log Z^, Z^(c) = (1/K) sum_i exp(s(x_i, c)) / q(x_i), q = 1/K
 *   LOG_ZHAT_SD its standard deviation over anchors
 *   ALIGNMENT   mean ||z - z+||^2 over positive pairs
 *   UNIFORMITY  log mean exp(-2 ||z - z'||^2) over pairs of distinct rows
 *   LOG_Z       the learned log Z of nce (0 for self-normalised nce and the other kinds) */
enum {
    VKC_METRIC_LOSS, VKC_METRIC_ACCURACY, VKC_METRIC_MI_BOUND, VKC_METRIC_LOG_ZHAT, VKC_METRIC_LOG_ZHAT_SD,
    VKC_METRIC_ALIGNMENT, VKC_METRIC_UNIFORMITY, VKC_METRIC_LOG_Z, VKC_CONTRASTIVE_METRICS
};
extern const char *const vkc_metric_names[VKC_CONTRASTIVE_METRICS];

typedef struct {
    VkcLossKind kind;
    float tau;           /* temperature, > 0 */
    float tau_plus;      /* a loss that takes_tau_plus: the class prior, in [0, 1) */
    bool learned_logz;   /* nce: log Z is the learned scalar in `logz` (else 0) */
    VkcTensor logz;      /* nce learned: 1 float, the parameter (read by the forward and backward) */
    VkcTensor dlogz;     /* nce learned: 1 float, written by the backward: d(mean loss)/d(log Z) */
} VkcLossParams;

typedef struct {
    VkcContext *ctx;
    VkcGemm *gemm;
    VkcReduce *reduce;
    VkcLossParams p;
    const VkcLossRow *row; /* the kind's row of vkc_losses */
    VkcKernel rows, grad, stats, metrics;
    uint32_t wg_rows, wg_grad;
    uint32_t n2, dim;
    VkcTensor sim;     /* n2 x n2 logits */
    VkcTensor lrows;   /* n2 x 4 loss rows, column 0 the row loss (the rest: what the backward needs) */
    VkcTensor mrows;   /* n2 x 8 metric statistics (contrastive_stats.comp) */
    VkcTensor gsim;    /* n2 x n2 symmetrised logit gradient */
    VkcTensor scratch; /* column sum of dl_i/dlogZ when n2 > 4096 */
} VkcContrastive;

/* Kernels and workspace for batches of n2 = 2N embeddings (n2 even, >= 4: one noise sample). */
int vkc_contrastive_init(VkcContext *ctx, VkcContrastive *l, VkcGemm *gemm, VkcReduce *reduce, VkcArena *arena,
                         uint32_t n2, uint32_t dim, const VkcLossParams *params);
void vkc_contrastive_destroy(VkcContrastive *l);
/* Similarity stage, loss rows and VKC_CONTRASTIVE_METRICS floats into `metrics`. */
int vkc_contrastive_forward(VkcContrastive *l, VkcCmd *cmd, VkcTensor z, VkcTensor metrics);
/* Multiply-adds x 2 of a forward and backward: the similarity GEMM and the gradient GEMM. */
double vkc_contrastive_flops(const VkcContrastive *l);
/* Does this loss write metric k (a VKC_METRIC_*)? All do but LOG_Z, which only a learned log Z has. */
bool vkc_contrastive_has_metric(const VkcContrastive *l, int k);
/* dz = d(mean loss)/dz (and params.dlogz for learned nce); needs the forward recorded before it. */
int vkc_contrastive_backward(VkcContrastive *l, VkcCmd *cmd, VkcTensor z, VkcTensor dz);

typedef struct {
    VkcContext *ctx;
    VkcReduce *reduce;
    VkcKernel rows, grad;
    uint32_t wg_rows, wg_grad;
    uint32_t batch, classes;
    VkcTensor stats;   /* batch x 4: (loss_b, top-1 hit, top-5 hit, lse_b) */
    VkcTensor scratch; /* for the metric column sum when batch > 4096 */
} VkcXent;

/* Softmax cross-entropy over `classes` logits per row with uint32 labels in [0, classes). */
int vkc_xent_init(VkcContext *ctx, VkcXent *l, VkcReduce *reduce, VkcArena *arena, uint32_t batch, uint32_t classes);
void vkc_xent_destroy(VkcXent *l);
/* logits: batch x classes; labels: batch uint32; metrics: 4 floats (a bad label gives a NaN loss). */
int vkc_xent_forward(VkcXent *l, VkcCmd *cmd, VkcTensor logits, VkcTensor labels, VkcTensor metrics);
/* dlogits = d(mean loss)/dlogits; needs the forward recorded before it. */
int vkc_xent_backward(VkcXent *l, VkcCmd *cmd, VkcTensor logits, VkcTensor labels, VkcTensor dlogits);

#endif
