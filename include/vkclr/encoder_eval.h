/* Evaluation of an encoder on frozen features: feature extraction of a whole split through
 * the encoder in evaluation mode, and the weighted kNN classifier of the common SSL libraries.
 * Used by `vkclr train` at the end of a run (and meant for `vkclr probe`). */
#ifndef VKCLR_ENCODER_EVAL_H
#define VKCLR_ENCODER_EVAL_H

#include "vkclr/augment.h"
#include "vkclr/data.h"
#include "vkclr/gemm.h"
#include "vkclr/model.h"

/* Encoder outputs (split->n x m->features floats, row-major, into `out`) of every image of
 * `split`, in evaluation mode (batch norm with running statistics, no augmentation): images
 * are resized to the augmentation's view size if it differs and normalised with its mean/std.
 * Runs batches of up to m->max_batch images through a command buffer recorded once; `host` is
 * a VKC_MEMORY_STAGING arena for the input and output staging tensors. */
int vkc_features_extract(VkcModel *m, VkcArena *host, const VkcDataset *ds, const VkcSplit *split,
                         const VkcAugmentConfig *aug, float *out);

typedef struct {
    int k;        /* neighbours (200) */
    float temperature; /* votes weighted by exp(cos / T) (0.1) */
} VkcKnnConfig;

/* Weighted kNN (InstDisc / solo-learn protocol): bank and query features are L2-normalised,
 * cosine similarities come from one GEMM per chunk of queries on the device, each query's k
 * most similar bank entries vote for their class with weight exp(sim / T); top-1 accuracy is
 * the fraction of queries whose highest-voted class is their label. Ties between classes go
 * to the lower class index. */
int vkc_knn_accuracy(VkcContext *ctx, VkcGemm *gemm, const VkcKnnConfig *cfg, const float *bank,
                     const int32_t *bank_labels, int nbank, const float *query, const int32_t *query_labels,
                     int nquery, int dim, int nclasses, double *top1);

#endif
