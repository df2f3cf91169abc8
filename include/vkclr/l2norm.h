/* Row-wise L2 normalisation of embeddings, y_r = x_r / max(||x_r||, eps) (F.normalize),
 * forward and backward. x, y, dy, dx: rows x dim, row-major floats. */
#ifndef VKCLR_L2NORM_H
#define VKCLR_L2NORM_H

#include "vkclr/vk.h"

#define VKC_L2NORM_EPS 1e-12f

typedef struct {
    VkcContext *ctx;
    VkcKernel forward, backward;
    uint32_t wg;
} VkcL2Norm;

int vkc_l2norm_init(VkcContext *ctx, VkcL2Norm *k);
void vkc_l2norm_destroy(VkcL2Norm *k);
int vkc_l2norm_forward(const VkcL2Norm *k, VkcCmd *cmd, uint32_t rows, uint32_t dim, VkcTensor x, VkcTensor y);
/* dx from x (the input, not y: the norm is recomputed) and dy. */
int vkc_l2norm_backward(const VkcL2Norm *k, VkcCmd *cmd, uint32_t rows, uint32_t dim, VkcTensor x, VkcTensor dy,
                        VkcTensor dx);

#endif
