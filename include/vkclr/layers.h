/* Encoder layers as compute shaders: conv2d, batch normalisation (2-D and 1-D), ReLU,
 * max-pool (2x2, and windows with stride and padding), global average pool, residual add. Each layer is a forward/backward pair
 * that records dispatches into a VkcCmd; nothing runs on the host.
 *
 * Layouts: activations are NCHW, [N][C][H][W] with W fastest, of the tensors' dtype (float32,
 * or 16-bit with --precision fp16/bf16: each kernel picks the build of its shader for the dtype
 * of the activations it is given, and computes in float32). Conv weights are
 * [C_out][C_in][k][k]. Per-channel vectors (bias, gamma, beta, running stats) are [C].
 *
 * Tensors bound to these kernels must start at an offset aligned for texel buffers (every
 * tensor from vkc_tensor_alloc is; slices must keep minTexelBufferOffsetAlignment).
 *
 * Determinism: every reduction (weight gradients, batch statistics, pooling) is split into
 * chunks whose partial sums land in a work buffer and are added in a fixed order by a second
 * dispatch. No float atomics: the same inputs give bit-identical outputs on the same device. */
#ifndef VKCLR_LAYERS_H
#define VKCLR_LAYERS_H

#include "vkclr/vk.h"

/* The pipelines of all layer kernels for one device, created on first use, plus the
 * per-device choices (workgroup sizes, register tiles, split counts). */
#define VKC_LAYERS_MAX_PIPELINES 128

typedef struct {
    VkcShader shader;
    uint32_t spec[VKC_MAX_SPEC];
    int nspec;
    VkcKernel kernel;
} VkcLayerPipeline;

/* Kernel families of conv2d (src/nn/conv2d.c): register tiles with texel reads for CPU
 * drivers, shared-memory block tiles for GPUs, and for 16-bit activations cooperative matrices
 * (tensor cores) where the device runs them. */
typedef enum { VKC_CONV_REG, VKC_CONV_SMEM, VKC_CONV_COOP } VkcConvVariant;

typedef struct {
    VkcContext *ctx;
    uint32_t wg_elem;      /* invocations per workgroup for element-wise and reduction kernels */
    uint32_t reduce_lanes; /* target number of invocations of a split reduction */
    VkcConvVariant conv_variant; /* float32's family, from the device type; VKCLR_CONV_PATH=reg|smem|coop forces one */
    bool conv_forced;            /* one family was asked for (VkcKernelOverrides): the tuning cache is not consulted */
    VkcLayerPipeline pipelines[VKC_LAYERS_MAX_PIPELINES];
    int npipelines;
} VkcLayers;

int vkc_layers_init(VkcContext *ctx, VkcLayers *L);
void vkc_layers_destroy(VkcLayers *L);

/* ---------------------------------------------------------------- conv2d */

typedef struct {
    uint32_t N, C_in, H, W;   /* input x: [N][C_in][H][W] */
    uint32_t C_out, kernel;   /* weight: [C_out][C_in][kernel][kernel]; kernel odd (1, 3, 5, 7) */
    uint32_t stride, pad;     /* stride 1 or 2; output H_out = (H + 2 pad - kernel) / stride + 1 */
    VkcDtype act;             /* dtype of x, y, dy and dx (the tensors must match): 16-bit activations
                               * run on cooperative matrices where the device has them */
    VkcTensor weight;
    VkcTensor bias;           /* [C_out], or a tensor with no buffer for a convolution without bias */
    VkcTensor work;           /* >= vkc_conv2d_work_bytes(): packed weights, split-K partials */
    /* Optional (no buffer: none): the forward also writes the per-channel statistics of y for
     * the batch norm that follows (VkcBatchNorm.conv_stats), >= vkc_conv2d_stats_floats() floats. */
    VkcTensor stats;
} VkcConv2d;

/* The kernel each pass of a convolution runs (vkclr tune): a family and its tile, named
 * "reg A,B,C,D", "smem A,B,C,D" or "coop WM,WN,TM,TN,BK". Without a choice in the tuning cache
 * (ctx->tuning, under vkc_conv2d_tuning_key) a pass runs, with 16-bit activations, the
 * cooperative-matrix kernels where the device runs them (ctx->coop.ok), else its device class's
 * family, with the built-in tile; VKCLR_CONV_PATH and the VKCLR_CONV_*_TILE / _BLOCK variables
 * override both (checks). */
enum { VKC_CONV_PASS_FORWARD, VKC_CONV_PASS_BACKWARD_INPUT, VKC_CONV_PASS_BACKWARD_WEIGHT };
#define VKC_CONV_VARIANT_NAME 48
/* The family a variant name ("coop 2,1,1,2,16") belongs to. */
VkcConvVariant vkc_conv2d_family(const char *variant);
void vkc_conv2d_tuning_key(const VkcConv2d *c, int pass, char *key, size_t size);
/* The variant the pass would run now. */
int vkc_conv2d_variant(const VkcLayers *L, const VkcConv2d *c, int pass, char *name, size_t size);
/* Up to max variants the pass can run on this device, the built-in one first. */
int vkc_conv2d_candidates(const VkcLayers *L, const VkcConv2d *c, int pass, char (*names)[VKC_CONV_VARIANT_NAME],
                          int max);

uint32_t vkc_conv2d_out_h(const VkcConv2d *c);
uint32_t vkc_conv2d_out_w(const VkcConv2d *c);
/* Bytes of c->work the three passes need on this device: the weights rearranged for the
 * forward and backward-input kernels, the split-K partial sums of the weight gradient. A pass
 * given a smaller work tensor fails, naming both sizes. */
VkDeviceSize vkc_conv2d_work_bytes(const VkcLayers *L, const VkcConv2d *c);
/* Multiply-adds * 2 of one forward (the backward passes cost the same each). */
double vkc_conv2d_flops(const VkcConv2d *c);
/* Groups of output pixels whose statistics the forward writes into c->stats (for
 * VkcBatchNorm.conv_groups), or 0 when the device's kernels do not write them (GPU variant). */
uint32_t vkc_conv2d_stats_groups(const VkcLayers *L, const VkcConv2d *c);
/* Floats of c->stats: 3 x groups x C_out (count, sum, squared deviations from the group mean). */
uint64_t vkc_conv2d_stats_floats(const VkcLayers *L, const VkcConv2d *c);

/* y[n][co][oy][ox] = bias[co] + sum_{ci,ky,kx} w[co][ci][ky][kx] x[n][ci][oy*s+ky-pad][ox*s+kx-pad] */
int vkc_conv2d_forward(VkcLayers *L, VkcCmd *cmd, const VkcConv2d *c, VkcTensor x, VkcTensor y);
/* dx = dL/dx given dy = dL/dy (dx is overwritten). */
int vkc_conv2d_backward_input(VkcLayers *L, VkcCmd *cmd, const VkcConv2d *c, VkcTensor dy, VkcTensor dx);
/* dweight = dL/dw and, when the layer has a bias, dbias = dL/db (both overwritten). */
int vkc_conv2d_backward_weight(VkcLayers *L, VkcCmd *cmd, const VkcConv2d *c, VkcTensor x, VkcTensor dy,
                               VkcTensor dweight, VkcTensor dbias);

/* ---------------------------------------------------------------- batch normalisation */

/* Synchronised batch norm across data-parallel ranks. Each reduction pass writes per-chunk
 * partial sums into bn->work; with a sync set, the layer calls record() right after each
 * reduction (forward sum, forward squared deviations, backward sums) so the caller can make
 * work hold the element-wise sum over ranks before the finalize pass reads it, and the
 * finalize divides by the global count M = N * HW * ranks. Every rank must have the same N. */
typedef struct VkcBnSync {
    uint32_t ranks;
    /* Record what turns work[0..floats) into its sum over ranks (e.g. a host step). */
    int (*record)(void *user, VkcCmd *cmd, VkcTensor work, uint32_t floats);
    void *user;
} VkcBnSync;

/* Pooling fused into batch norm's output (the convnet's BN + ReLU + pool blocks): the
 * normalised map itself is then never stored; the backward recomputes it from x. */
typedef enum {
    VKC_BN_POOL_NONE,   /* y: [N][C][HW] */
    VKC_BN_POOL_MAX2X2, /* y: 2x2 max-pool of each H x W plane, [N][C][H/2][W/2] (as vkc_maxpool2x2_forward) */
    VKC_BN_POOL_AVG,    /* y: mean of each plane, [N][C] (as vkc_avgpool_forward) */
} VkcBnPool;

typedef struct {
    uint32_t N, C, HW;    /* x: [N][C][HW]; HW = H*W for images, 1 for the 1-D form (N x C) */
    float eps, momentum;  /* PyTorch's defaults: 1e-5 and 0.1 */
    bool relu;            /* fuse y = max(0, bn(x)) (before any pooling) */
    VkcBnPool pool;       /* fuse a following pool into the output */
    uint32_t H, W;        /* with VKC_BN_POOL_MAX2X2: the planes' shape (H*W = HW) */
    VkcTensor gamma, beta;                /* [C] */
    VkcTensor running_mean, running_var;  /* [C]; running_var is the unbiased batch variance average */
    VkcTensor stats;      /* [2C]: mean, 1/sqrt(var + eps) used by the last forward; backward reads them */
    VkcTensor work;       /* >= vkc_batchnorm_work_bytes(): partial sums of the split reductions */
    const VkcBnSync *sync; /* NULL: statistics of this batch alone */
    /* A training forward without sync may take the batch statistics from the convolution that
     * produced x (VkcConv2d.stats, conv_groups groups) instead of two passes over x. */
    VkcTensor conv_stats;
    uint32_t conv_groups;
} VkcBatchNorm;

VkDeviceSize vkc_batchnorm_work_bytes(const VkcLayers *L, const VkcBatchNorm *bn);
/* Floats of the forward's output (and of the backward's dy): N*C*HW, pooled as bn->pool says. */
uint64_t vkc_batchnorm_out_floats(const VkcBatchNorm *bn);

/* training: normalise with the batch mean and biased variance over (N, HW) and update the
 * running statistics with `momentum`; otherwise normalise with the running statistics.
 * y = gamma (x - mean) / sqrt(var + eps) + beta (then max(0, .) when bn->relu, then the pool). */
int vkc_batchnorm_forward(VkcLayers *L, VkcCmd *cmd, const VkcBatchNorm *bn, bool training, VkcTensor x,
                          VkcTensor y);
/* Backward of a training-mode forward: dx, dgamma, dbeta (overwritten) from x and dy, the
 * gradient of the forward's output. The ReLU mask and the max-pool's choices are recomputed
 * from x, bn->stats, gamma and beta with the forward's arithmetic, so they are the forward's. */
int vkc_batchnorm_backward(VkcLayers *L, VkcCmd *cmd, const VkcBatchNorm *bn, VkcTensor x, VkcTensor dy,
                           VkcTensor dx, VkcTensor dgamma, VkcTensor dbeta);

/* ---------------------------------------------------------------- element-wise and pooling */

/* y = max(x, 0) over n floats (y may be x). */
int vkc_relu_forward(VkcLayers *L, VkcCmd *cmd, uint32_t n, VkcTensor x, VkcTensor y);
/* dx = dy where y > 0, else 0 (y is the forward output; dx may be dy). */
int vkc_relu_backward(VkcLayers *L, VkcCmd *cmd, uint32_t n, VkcTensor y, VkcTensor dy, VkcTensor dx);

/* y = a + b over n floats: the residual join. Its backward passes dy unchanged to both
 * branches; where the branches meet again going backward, their gradients are added with
 * this same kernel. y may be a or b. */
int vkc_add(VkcLayers *L, VkcCmd *cmd, uint32_t n, VkcTensor a, VkcTensor b, VkcTensor y);

/* y = x converted from float32 to y's dtype (the 16-bit input of an encoder). */
int vkc_cast(VkcLayers *L, VkcCmd *cmd, uint32_t n, VkcTensor x, VkcTensor y);

/* Max over non-overlapping 2x2 windows of `planes` = N*C planes of H x W; output
 * [planes][H/2][W/2] (an odd last row/column is dropped, as in PyTorch). */
int vkc_maxpool2x2_forward(VkcLayers *L, VkcCmd *cmd, uint32_t planes, uint32_t H, uint32_t W, VkcTensor x,
                           VkcTensor y);
/* dx gets dy at the first maximum of each window (row-major order), 0 elsewhere; recomputed
 * from x, so no index buffer is kept. */
int vkc_maxpool2x2_backward(VkcLayers *L, VkcCmd *cmd, uint32_t planes, uint32_t H, uint32_t W, VkcTensor x,
                            VkcTensor dy, VkcTensor dx);

/* Max over kernel x kernel windows at stride `stride` of planes padded by `pad` on every side
 * (the padding never wins: PyTorch's MaxPool2d(kernel, stride, pad)), e.g. ResNet's ImageNet
 * stem: 3, 2, 1. Output [planes][Ho][Wo], Ho = (H + 2 pad - kernel) / stride + 1. */
typedef struct {
    uint32_t planes, H, W;
    uint32_t kernel, stride, pad; /* pad < kernel <= 15 */
} VkcMaxPool;
uint32_t vkc_maxpool_out(uint32_t in, const VkcMaxPool *mp);
int vkc_maxpool_forward(VkcLayers *L, VkcCmd *cmd, const VkcMaxPool *mp, VkcTensor x, VkcTensor y);
/* dx[i] = the sum of dy over the windows whose first maximum (row-major order) is x[i]. */
int vkc_maxpool_backward(VkcLayers *L, VkcCmd *cmd, const VkcMaxPool *mp, VkcTensor x, VkcTensor dy, VkcTensor dx);

/* y[p] = mean of the HW values of plane p (planes = N*C): [N][C][HW] -> [N][C]. */
int vkc_avgpool_forward(VkcLayers *L, VkcCmd *cmd, uint32_t planes, uint32_t HW, VkcTensor x, VkcTensor y);
/* dx[p][i] = dy[p] / HW. */
int vkc_avgpool_backward(VkcLayers *L, VkcCmd *cmd, uint32_t planes, uint32_t HW, VkcTensor dy, VkcTensor dx);

#endif
