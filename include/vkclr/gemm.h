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

/* Tile of the cooperative-matrix GEMM (shaders/gemm_coop.comp, coopmat_gemm.glsl): a workgroup
 * of wm x wn subgroups, each tm x tn matrices of the device's shape (ctx->coop.shape), in
 * stages of bk along K. */
typedef struct {
    uint32_t wm, wn, tm, tn, bk;
} VkcCoopTile;

#define VKC_GEMM_MAX_PIPELINES 32

typedef struct {
    VkcContext *ctx;
    VkcGemmTile wide, narrow; /* narrow: for N too small to fill a wide workgroup */
    /* The products' operands: VKC_F32 (gemm.comp, float32 throughout), or VKC_F16 / VKC_BF16:
     * A and B (float32 in memory) rounded to 16 bits and multiplied on cooperative matrices with
     * float32 sums (gemm_coop.comp, coop_tile), where the device runs them (vkc_gemm_set_operands). */
    VkcDtype operands;
    VkcCoopTile coop_tile;
    struct {
        VkcShader shader;
        uint32_t spec[14];
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
/* Products of 16-bit operands for every later record: d = VKC_F16 or VKC_BF16 where the device
 * runs the cooperative-matrix kernels for d (ctx->coop.ok; the built-in tile for this device),
 * else (and for VKC_F32) float32. Returns the operand type now in use. */
VkcDtype vkc_gemm_set_operands(VkcGemm *g, VkcDtype d);
/* vkc_gemm_set_operands as a step of an initialisation chain: always VKC_OK. */
static inline int vkc_gemm_use(VkcGemm *g, VkcDtype d)
{
    vkc_gemm_set_operands(g, d);
    return VKC_OK;
}
/* The cooperative-matrix tiles of this device class that fit the device, the built-in one first. */
int vkc_gemm_coop_tiles(const VkcContext *ctx, VkcDtype d, VkcCoopTile *out, int max);
/* The same with a given tile; fails unless the device runs it (checks, tuning). */
int vkc_gemm_set_coop(VkcGemm *g, VkcDtype d, VkcCoopTile tile);
/* Record one (batched) product into cmd; checks shapes against the tensors' sizes. */
int vkc_gemm_record(VkcGemm *g, VkcCmd *cmd, const VkcGemmArgs *args);
/* Multiply-adds * 2 of a product, for GFLOP/s figures. */
double vkc_gemm_flops(const VkcGemmArgs *args);

#endif
