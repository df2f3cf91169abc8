/* Weighted k-nearest-neighbour classification on L2-normalised features (the kNN monitor of
 * the common SSL libraries, from Wu et al. 2018): for each query q, the k bank rows with the
 * highest cosine similarity s_j = q.b_j / (|q| |b_j|) (ties: the lower bank index) vote for
 * their labels with weight exp(s_j / T); the class with the most weight is the prediction
 * (ties: the lower class) and top-5 counts the query's label among the five heaviest classes.
 *
 * On the device, per chunk of query rows: inverse row norms (once), a similarity chunk
 * S = Q B^T by GEMM (one per bank shard), a top-k selection kernel (one invocation per query,
 * a k-entry min-heap), and a vote kernel. Features are not modified. */
#ifndef VKCLR_KNN_H
#define VKCLR_KNN_H

#include "vkclr/features.h"
#include "vkclr/gemm.h"

typedef struct {
    uint32_t k;        /* 200; more than the bank holds: the whole bank */
    float temperature; /* 0.1 */
    uint32_t chunk;    /* query rows per similarity chunk; 0: as many as fit in 64 MiB */
} VkcKnnConfig;

VkcKnnConfig vkc_knn_defaults(void);

typedef struct {
    double top1, top5;
    uint32_t k; /* neighbours used */
    double seconds;
} VkcKnnResult;

typedef struct {
    VkcContext *ctx;
    VkcGemm *gemm;
    VkcKernel norms, topk, vote;
    uint32_t wg;
} VkcKnn;

int vkc_knn_init(VkcContext *ctx, VkcKnn *knn, VkcGemm *gemm);
void vkc_knn_destroy(VkcKnn *knn);
/* Classify every row of `queries` against `bank` (labels in [0, nclasses) on both). votes (may
 * be NULL): queries->n x nclasses floats receive each query's class weights. */
int vkc_knn_evaluate(VkcKnn *knn, const VkcKnnConfig *cfg, const VkcFeatures *bank, const VkcFeatures *queries,
                     uint32_t nclasses, VkcKnnResult *out, float *votes);

#endif
