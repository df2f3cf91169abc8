/* Fully connected layer y = x W^T + b (PyTorch layout), through the GEMM.
 *   x: batch x in,  W: out x in,  b: out,  y: batch x out   (row-major floats)
 * Backward: dx = dy W, dW = dy^T x, db = column sums of dy (deterministic, vkclr/reduce.h).
 * Gradients are overwritten, not accumulated. */
#ifndef VKCLR_LINEAR_H
#define VKCLR_LINEAR_H

#include "vkclr/gemm.h"
#include "vkclr/reduce.h"

typedef struct {
    VkcContext *ctx;
    VkcGemm *gemm;
    VkcReduce *reduce;
    VkcKernel bias_add;
    uint32_t wg;
} VkcLinearKernels;

typedef struct {
    uint32_t in, out;
    VkcTensor weight, bias;   /* bias.size == 0: no bias */
    VkcTensor dweight, dbias;
    VkcTensor scratch;        /* only for batch > 4096: vkc_colsum_scratch_floats(batch, out) floats */
} VkcLinear;

int vkc_linear_kernels_init(VkcContext *ctx, VkcLinearKernels *k, VkcGemm *gemm, VkcReduce *reduce);
void vkc_linear_kernels_destroy(VkcLinearKernels *k);

int vkc_linear_forward(const VkcLinearKernels *k, VkcCmd *cmd, const VkcLinear *l, uint32_t batch, VkcTensor x,
                       VkcTensor y);
/* dx.size == 0 skips dx (first layer). */
int vkc_linear_backward(const VkcLinearKernels *k, VkcCmd *cmd, const VkcLinear *l, uint32_t batch, VkcTensor x,
                        VkcTensor dy, VkcTensor dx);

#endif
