/* Encoders and the projection head, built from the layer kernels: a small graph of ops whose
 * forward and backward are recorded into a VkcCmd.
 *
 * Encoders (input N x C x H x W, output N x features):
 *   convnet   three conv3x3-BN-ReLU blocks of width w, 2w, 4w, with 2x2 max-pools between them
 *             and a global average pool: features 4w. Cheap enough for lavapipe.
 *   resnet10/18/34  ResNet with basic blocks [1,1,1,1] / [2,2,2,2] / [3,4,6,3], stage widths
 *             w, 2w, 4w, 8w (w = 64 is the standard ResNet), global average pool: features 8w,
 *             after one of two stems:
 *               cifar     3x3 stride-1 conv, BN, ReLU (for images of about 32 px)
 *               imagenet  7x7 stride-2 conv, BN, ReLU, 3x3 stride-2 max-pool (padding 1): the
 *                         torchvision ResNet's, for 64 px and more (STL-10's 96, ImageNet's 224)
 * Projection head (SimCLR v2): `head_layers` linear layers (no bias), each followed by 1-D batch
 * norm, with ReLU after every one but the last: features -> hidden -> ... -> out_dim.
 * Loss parameters: with `loss_logz`, the learned log Z of local NCE (vkclr/loss.h) is one more
 * parameter, "loss.logz" (1 float, initialised 0, no weight decay), so the optimizer updates it
 * and checkpoints save it like any other; the model's ops never read it.
 * The encoder output (not the head) is what probes and kNN use.
 *
 * Initialisation (what torchvision's ResNet and PyTorch's nn.Linear do):
 *   conv weights   Kaiming normal, fan_out mode, ReLU gain: N(0, 2 / (C_out k k))
 *   linear weights Kaiming uniform with a = sqrt(5): U(-1/sqrt(in), 1/sqrt(in))
 *   batch norm     gamma 1, beta 0, running mean 0, running variance 1
 * drawn from the counter-based generator keyed by the seed, so an initialisation is a pure
 * function of (architecture, seed).
 *
 * Memory: every parameter lives in ONE tensor (`params`) and every gradient in ONE tensor
 * (`grads`) at the same offsets, as the optimizer requires; batch-norm running statistics in a
 * third (`buffers`). The named-tensor table maps PyTorch-style names ("encoder.conv1.weight")
 * to slices of them, for checkpoints. */
#ifndef VKCLR_MODEL_H
#define VKCLR_MODEL_H

#include "vkclr/layers.h"
#include "vkclr/linear.h"
#include "vkclr/names.h"
#include "vkclr/optim.h"

typedef enum { VKC_ENCODER_CONVNET, VKC_ENCODER_RESNET10, VKC_ENCODER_RESNET18, VKC_ENCODER_RESNET34 } VkcEncoderKind;
extern const VkcName vkc_encoder_names[]; /* convnet, resnet10, resnet18, resnet34 */
typedef enum { VKC_STEM_CIFAR, VKC_STEM_IMAGENET } VkcStem; /* names: the --stem option's (src/ckpt/config.c) */

/* Limits vkc_model_check enforces (the command line's ranges come from these). */
#define VKC_MODEL_WIDTH_MAX 1024
#define VKC_MODEL_HEAD_HIDDEN_MAX 16384
#define VKC_MODEL_OUT_DIM_MAX 4096

typedef struct {
    VkcEncoderKind encoder;
    VkcStem stem;       /* resnet: the layers before the first stage (the convnet has none: cifar) */
    int width;          /* convnet: first block's channels; resnet: first stage's channels */
    int head_layers;    /* 2 or 3 */
    int head_hidden;    /* hidden width of the head; 0 = the feature width */
    int out_dim;        /* projection output (128) */
    bool loss_logz;     /* add the parameter "loss.logz" (nce with a learned log Z) */
    int channels, height, width_px; /* input images */
    VkcDtype act_dtype; /* the encoder's activations and their gradients: VKC_F32, or 16-bit
                         * (the images are converted by a first op; the pooled features, the
                         * head and every parameter stay float32) */
} VkcModelConfig;

/* Defaults: convnet width 16 (features 64), head 2 layers, hidden = features, out 128. */
VkcModelConfig vkc_model_defaults(void);
/* Fails naming what is wrong (unknown encoder, width, head layers, image too small). */
int vkc_model_check(const VkcModelConfig *cfg);
/* The stem when none is chosen: imagenet for a ResNet at 64 x 64 px and more, else cifar. */
VkcStem vkc_model_auto_stem(VkcEncoderKind encoder, int height, int width);
/* Encoder output width for a config. */
int vkc_model_features(const VkcModelConfig *cfg);

typedef enum { VKC_T_PARAM, VKC_T_BUFFER } VkcTensorRole;

typedef struct {
    char name[96];
    int ndim;
    uint32_t shape[4];
    uint32_t count;      /* floats */
    VkcTensorRole role;  /* parameter (in params/grads) or buffer (running statistics) */
    uint64_t offset;     /* float offset into params (and grads) or buffers */
    uint32_t flags;      /* VKC_PARAM_NO_DECAY */
} VkcNamedTensor;

typedef struct VkcModelOp VkcModelOp;
typedef struct VkcModelValue VkcModelValue;

typedef struct {
    VkcModelConfig cfg;
    VkcContext *ctx;
    VkcLayers *layers;
    VkcLinearKernels *linear;
    uint32_t max_batch;       /* activations are sized for this many images */
    int features;             /* encoder output width */

    VkcModelOp *ops;
    int nops, encoder_ops;    /* ops[0..encoder_ops) are the encoder, the rest the head */
    VkcModelValue *values;
    int nvalues;
    int input_value, feature_value, embed_value;
    int image_value;  /* the encoder's first input: input_value, or its 16-bit cast (no gradient) */
    int logz_tensor;          /* named tensor "loss.logz", -1 without cfg.loss_logz */

    VkcNamedTensor *tensors;  /* named-tensor table */
    int ntensors;
    uint64_t nparams, nbuffers; /* floats */
    VkcTensor params, grads, buffers;
    VkcTensor scratch;        /* gradient accumulation and conv/bn work space */
    VkcTensor conv_work, bn_work;
    VkcTensor stats_work;     /* batch statistics a convolution hands to the batch norm after it */
    VkDeviceSize activation_bytes; /* activations + their gradients */
    /* Profiling: when `profile` is set, forward and backward put a barrier and a GPU timestamp
     * before every op and after the last, indices in ts_fwd[0..nops] / ts_bwd[0..nops]
     * (ts_bwd[i] is taken before op i's backward; -1: not recorded). */
    bool profile;
    int *ts_fwd, *ts_bwd;
    /* Synchronised batch norm over data-parallel ranks (NULL: per-batch statistics): applies
     * to training forwards and backwards recorded while it is set. */
    const VkcBnSync *bn_sync;
} VkcModel;

/* The kernel families a model runs on (its loss and evaluation share the GEMM and the
 * reduction): created together; destroy is safe on a bundle whose init failed half way. The
 * bundle must not move after init (the linear kernels point into it). */
typedef struct {
    VkcGemm gemm;
    VkcReduce reduce;
    VkcLayers layers;
    VkcLinearKernels linear;
} VkcModelKernels;

int vkc_model_kernels_init(VkcContext *ctx, VkcModelKernels *k);
void vkc_model_kernels_destroy(VkcModelKernels *k);

/* Floating-point operations (multiply-adds x 2) of the convolutions and linear layers for a
 * batch: the forward, or forward and backward (what a training step costs; batch norm,
 * activations and pooling are memory traffic and not counted). */
double vkc_model_flops(const VkcModel *m, uint32_t batch, bool with_backward);

/* The distinct convolution shapes of cfg's encoder at a batch of `batch` views (no tensors
 * bound), up to max of them; their count, or -1 (vkc_error) for a configuration that does
 * not build. For vkclr tune. */
int vkc_model_conv_shapes(const VkcModelConfig *cfg, uint32_t batch, VkcConv2d *out, int max);

/* Convolution passes a training step runs (forward, backward to the weights, and to the input
 * where it needs a gradient) into *total, and how many of them run on cooperative matrices. */
int vkc_model_coop_passes(const VkcModel *m, int *total);

/* Kernel class of op i, for profiles: "conv", "batchnorm", "linear", "pool", "elementwise". */
const char *vkc_model_op_class(const VkcModel *m, int i);

/* Build the graph and allocate parameters, gradients, running statistics and activations for
 * batches of up to max_batch images from `device`. Parameters start zeroed: call
 * vkc_model_init_params. */
int vkc_model_create(VkcModel *m, VkcContext *ctx, VkcLayers *layers, VkcLinearKernels *linear,
                     const VkcModelConfig *cfg, uint32_t max_batch, VkcArena *device);
void vkc_model_destroy(VkcModel *m);

/* Device bytes the model needs for a batch (parameters, gradients, activations, work), and
 * the largest single tensor; computed without allocating, so a caller can refuse a batch up
 * front. */
int vkc_model_memory(VkcContext *ctx, VkcLayers *layers, const VkcModelConfig *cfg, uint32_t batch,
                     VkDeviceSize *total, VkDeviceSize *largest);

/* ---------------------------------------------------------------- the graph, for exporters */

/* The kinds of ops a model is made of (their rows: op_kinds[] in src/nn/model.c). */
typedef enum {
    VKC_OP_CAST,    /* float32 images to 16-bit activations */
    VKC_OP_CONV,    /* convolution, no bias, zero padding `pad` */
    VKC_OP_BN,      /* batch norm of 2-D maps or 1-D features, then ReLU (relu), then a pool (pool) */
    VKC_OP_RELU,
    VKC_OP_MAXPOOL, /* max over kernel x kernel windows at `stride` (floor) */
    VKC_OP_AVGPOOL, /* mean of each plane: N x C x H x W -> N x C */
    VKC_OP_ADD,     /* in + in2 */
    VKC_OP_LINEAR,  /* y = x W^T, no bias */
    VKC_OP_KINDS
} VkcOpKind;

/* Op i as an exporter sees it: what it computes, on which values, with which named tensors. */
typedef struct {
    VkcOpKind kind;
    int in, in2, out;                 /* values (m->input_value, feature_value, ...); in2: VKC_OP_ADD's addend */
    int weight, gamma, beta, mean, var; /* named tensors (m->tensors), -1 if none */
    uint32_t kernel, stride, pad;     /* conv, max-pool */
    bool relu;                        /* batch norm */
    VkcBnPool pool;                   /* batch norm */
    float eps;                        /* batch norm: y = gamma (x - mean) / sqrt(var + eps) + beta */
} VkcOpInfo;

/* The graph and named-tensor table of cfg without a device (nothing allocated on one, no
 * parameters): what an exporter walks, with the tensors from vkc_checkpoint_load_host.
 * m->ops[0..encoder_ops) are the encoder; free with vkc_model_destroy. */
int vkc_model_graph(VkcModel *m, const VkcModelConfig *cfg);
VkcOpInfo vkc_model_op(const VkcModel *m, int i);

/* Kaiming initialisation from `seed` (see above), uploaded; running statistics reset. */
int vkc_model_init_params(VkcModel *m, uint64_t seed);

/* Record the forward pass of `batch` (<= max_batch) images in x (batch x C x H x W). Training
 * mode uses batch statistics and updates the running ones; evaluation uses the running ones.
 * with_head: also run the projection head. Results: vkc_model_features_tensor / _embed_tensor. */
int vkc_model_forward(VkcModel *m, VkcCmd *cmd, VkcTensor x, uint32_t batch, bool training, bool with_head);
/* Record the backward pass of a training forward with the head: gradients of every parameter
 * (overwritten) from dembed = dL/d(head output) (batch x out_dim). */
int vkc_model_backward(VkcModel *m, VkcCmd *cmd, VkcTensor x, uint32_t batch, VkcTensor dembed);

VkcTensor vkc_model_features_tensor(const VkcModel *m); /* max_batch x features */
VkcTensor vkc_model_embed_tensor(const VkcModel *m);    /* max_batch x out_dim */

/* The optimizer's view: one VkcParam per parameter tensor (caller frees *params). */
int vkc_model_optim_params(const VkcModel *m, VkcParam **params, int *nparams);

/* True if named tensor i is a batch norm's gamma or beta. With bn_sync set, the backward
 * writes their gradients already summed over ranks (identical on every rank). */
bool vkc_model_is_bn_param(const VkcModel *m, int i);

/* Trainable floats: the sum of the parameter tensors' sizes (m->nparams also counts the padding
 * that puts every tensor 256 bytes apart). The count PyTorch reports for the same model. */
uint64_t vkc_model_param_count(const VkcModel *m);

/* Slice of params/grads/buffers holding named tensor i. */
VkcTensor vkc_model_tensor(const VkcModel *m, int i);
/* Slice of grads holding the gradient of parameter tensor i. */
VkcTensor vkc_model_grad(const VkcModel *m, int i);

#endif
