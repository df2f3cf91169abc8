/* General matrix multiply on the device: C = alpha * op(A) * op(B) + beta * C, batched.
 * The building block of linear layers and of convolution as GEMM. */
#ifndef VKCLR_GEMM_H
#define VKCLR_GEMM_H

#include "vkclr/vk.h"

/* Register-tile shape of one pipeline: workgroup wg_x * wg_y invocations, each computing
 * tm rows x 4*tn4 columns of C. */
typedef struct {
    uint32_t wg_x, wg_y, tm, tn4;
} VkcGemmTile;

#define VKC_GEMM_MAX_PIPELINES 24

typedef struct {
    VkcContext *ctx;
    VkcGemmTile wide, narrow; /* narrow: for N too small to fill a wide workgroup */
    struct {
        VkcGemmTile tile;
        bool trans_a, trans_b, aligned;
        VkcKernel kernel;
    } pipelines[VKC_GEMM_MAX_PIPELINES];
    int npipelines;
} VkcGemm;

typedef struct {
    bool trans_a, trans_b; /* op(A) = A^T / op(B) = B^T */
    uint32_t M, N, K;
    VkcTensor A, B, C;
    uint32_t lda, ldb, ldc;  /* elements between rows as stored */
    float alpha, beta;       /* beta = 0: C is only written (its old contents may be NaN) */
    uint32_t batch;          /* 0 or 1: one product */
    uint32_t stride_a, stride_b, stride_c; /* elements between the matrices of a batch */
} VkcGemmArgs;

/* Pick tile shapes for the device (VKCLR_GEMM_TILE="wg_x,wg_y,tm,tn4" overrides the wide one). */
int vkc_gemm_init(VkcContext *ctx, VkcGemm *g);
void vkc_gemm_destroy(VkcGemm *g);
/* Record one (batched) product into cmd; checks shapes against the tensors' sizes. */
int vkc_gemm_record(VkcGemm *g, VkcCmd *cmd, const VkcGemmArgs *args);
/* Multiply-adds * 2 of a product, for GFLOP/s figures. */
double vkc_gemm_flops(const VkcGemmArgs *args);

#endif
