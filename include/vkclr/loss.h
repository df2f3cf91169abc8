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
 * Metrics are written to a device tensor of 4 floats (make it host-visible to read it back):
 *   NT-Xent: mean loss, positive-pair accuracy (fraction of rows whose positive is the most
 *            similar other row), mean lse_i (log of the partition sum), mean positive logit
 *   xent:    mean loss, top-1 accuracy, top-5 accuracy, mean lse_b
 */
#ifndef VKCLR_LOSS_H
#define VKCLR_LOSS_H

#include "vkclr/gemm.h"
#include "vkclr/reduce.h"

/* S (n2 x n2) = z z^T / tau, z n2 x dim. */
int vkc_similarity_record(VkcGemm *gemm, VkcCmd *cmd, VkcTensor z, uint32_t n2, uint32_t dim, float tau,
                          VkcTensor sim);

typedef struct {
    VkcContext *ctx;
    VkcGemm *gemm;
    VkcReduce *reduce;
    VkcKernel rows, grad;
    uint32_t wg_rows, wg_grad;
    uint32_t n2, dim;
    float tau;
    VkcTensor sim;     /* n2 x n2 logits z z^T / tau */
    VkcTensor stats;   /* n2 x 4: (loss_i, hit_i, lse_i, positive logit_i) */
    VkcTensor gsim;    /* n2 x n2 symmetrised logit gradient, scaled by 1/tau */
    VkcTensor scratch; /* for the metric column sum when n2 > 4096 */
} VkcNtxent;

/* Kernels and workspace (from `arena`) for batches of n2 = 2N embeddings (n2 even, >= 2). */
int vkc_ntxent_init(VkcContext *ctx, VkcNtxent *l, VkcGemm *gemm, VkcReduce *reduce, VkcArena *arena, uint32_t n2,
                    uint32_t dim, float tau);
void vkc_ntxent_destroy(VkcNtxent *l);
/* Similarity stage, row statistics and the 4 metrics (see above). */
int vkc_ntxent_forward(VkcNtxent *l, VkcCmd *cmd, VkcTensor z, VkcTensor metrics);
/* dz = d(mean loss)/dz; needs the forward recorded before it in the same command buffer. */
int vkc_ntxent_backward(VkcNtxent *l, VkcCmd *cmd, VkcTensor z, VkcTensor dz);

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
