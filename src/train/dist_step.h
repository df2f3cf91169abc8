/* The data-parallel parts of a training step (src/train/dist_step.c).
 *
 * With R > 1 ranks the step is recorded as a few command-buffer segments with host steps
 * between them (vkc_cmd_host_step), each an MPI collective on staged memory:
 *   after the head forward and L2 normalisation   all-gather of the embeddings -> the global
 *                                                 2BR x dim matrix, in single-rank order
 *   between each batch-norm reduction and its     all-reduce of the partial sums (sync BN:
 *   finalize (forward mean, forward variance,     3 per batch-norm layer)
 *   backward sums)
 *   after the backward                            all-reduce of the gradient tensor
 * Every collective is a rank-order sum or a gather (dist.h): deterministic, identical bits on
 * every rank. One rank needs none of this: its step stays a single command buffer. */
#ifndef VKCLR_TRAIN_DIST_STEP_H
#define VKCLR_TRAIN_DIST_STEP_H

#include "vkclr/dist.h"
#include "vkclr/model.h"

typedef struct DistPoint DistPoint;

enum { DIST_GRADS, DIST_EMBED, DIST_BN, DIST_KINDS };

typedef struct {
    const VkcDist *dist;
    VkcModel *model;
    uint32_t batch, dim;    /* images per rank, embedding width */
    bool sync_bn;
    VkcBnSync bn;           /* handed to the model when sync_bn */
    VkcTensor bn_stage;     /* host-visible: one BN layer's partial sums */
    VkcTensor z_stage;      /* host-visible: this rank's 2B x dim embeddings */
    VkcTensor zg_stage;     /* host-visible: the global 2BR x dim matrix */
    VkcTensor grad_stage;   /* host-visible: the gradient tensor */
    float *gathered;        /* R x 2B x dim, rank after rank */
    uint64_t *replicated;   /* (offset, count) float ranges of gradients every rank holds whole */
    int nreplicated;
    DistPoint *points;      /* host steps recorded so far (a list; commands keep pointers to them) */
    /* Accounting over the run: seconds inside collectives (waiting for the slowest rank
     * included) and bytes this rank contributed, by kind. */
    double comm_seconds;
    uint64_t bytes[DIST_KINDS];
} DistStep;

int dist_step_init(DistStep *d, const VkcDist *dist, VkcModel *model, VkcArena *host, uint32_t batch, uint32_t dim,
                   bool sync_bn);
void dist_step_destroy(DistStep *d);
/* Record: z (2B x dim, this rank) -> zg (2BR x dim, every rank's embeddings in the order one
 * rank with batch BR would have: [view 0 of images 0..BR)][view 1 of images 0..BR)). */
int dist_step_gather_embeddings(DistStep *d, VkcCmd *cmd, VkcTensor z, VkcTensor zg);
/* Record: this rank's rows of dzg (the global loss's gradient) -> dz (2B x dim). */
int dist_step_own_rows(DistStep *d, VkcCmd *cmd, VkcTensor dzg, VkcTensor dz);
/* Record: the model's gradient tensor := its sum over ranks. */
int dist_step_allreduce_grads(DistStep *d, VkcCmd *cmd);

/* After a step: verify that every rank holds the same parameter bits (a hash of rank 0's
 * against each rank's own); fails on every rank if any differs. */
int dist_step_check_replicas(DistStep *d);

#endif
