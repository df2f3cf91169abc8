/* Encoders and projection head as a small graph of layer ops (see vkclr/model.h).
 *
 * The graph is a list of ops in execution order over a list of values (activations). Forward
 * records the ops in order; backward records them in reverse, each op turning the gradient of
 * its output into gradients of its parameters and of its inputs. A value read by two ops (the
 * input of a residual block) gets the sum of both gradients: the first op to produce one
 * (going backward) writes it, later ones write into a scratch tensor that is then added. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vkclr/model.h"
#include "vkclr/rng.h"

#define PAD_FLOATS 64u /* every named tensor starts 256 bytes apart: texel-buffer offset alignment */
#define BN_EPS 1e-5f   /* batch norm's epsilon (PyTorch's default) */

/* Op kinds (VkcOpKind, vkclr/model.h); each has one row in op_kinds[] below (what it records
 * forward and backward, the work space it needs, how its parameters start). */
typedef VkcOpKind OpKind;

struct VkcModelValue {
    uint32_t C, H, W;  /* per image */
    VkcDtype dtype;    /* of the activation and its gradient */
    VkcTensor act, grad;
};

struct VkcModelOp {
    OpKind kind;
    int in, in2, out;  /* value indices (in2: second addend of VKC_OP_ADD) */
    int t_weight, t_gamma, t_beta, t_mean, t_var; /* named tensors, -1 if none */
    uint32_t kernel, stride; /* conv; max-pool: 0 (2x2 windows), or its window and stride ... */
    uint32_t pad;            /* ... and padding */
    bool relu;         /* batch norm with fused ReLU */
    VkcBnPool pool;    /* batch norm with a fused pool after it (the convnet's blocks) */
    bool bn_stats;     /* conv: its training forward writes the batch statistics of its output for
                        * the batch norm after it; that batch norm: reads them (set at creation) */
    VkcTensor stats;   /* batch norm: mean and 1/std of the last training forward */
};

const VkcName vkc_encoder_names[] = {
    {.name = "convnet", .value = VKC_ENCODER_CONVNET, .about = "three conv blocks"},
    {.name = "resnet10", .value = VKC_ENCODER_RESNET10},
    {.name = "resnet18", .value = VKC_ENCODER_RESNET18},
    {.name = "resnet34", .value = VKC_ENCODER_RESNET34},
    {0},
};

VkcModelConfig vkc_model_defaults(void)
{
    return (VkcModelConfig){.encoder = VKC_ENCODER_CONVNET, .width = 16, .head_layers = 2, .head_hidden = 0,
                            .out_dim = 128, .channels = 1, .height = 28, .width_px = 28};
}

/* Basic blocks per stage of the ResNets. */
static const int *resnet_blocks(VkcEncoderKind kind)
{
    static const int blocks10[4] = {1, 1, 1, 1}, blocks18[4] = {2, 2, 2, 2}, blocks34[4] = {3, 4, 6, 3};
    return kind == VKC_ENCODER_RESNET10 ? blocks10 : kind == VKC_ENCODER_RESNET18 ? blocks18 : blocks34;
}

static const char *encoder_name(VkcEncoderKind kind) { return vkc_name_of(vkc_encoder_names, (int)kind); }

int vkc_model_check(const VkcModelConfig *c)
{
    if (!strcmp(encoder_name(c->encoder), "?")) return vkc_fail("unknown encoder kind %d", (int)c->encoder);
    bool convnet = c->encoder == VKC_ENCODER_CONVNET;
    if (c->width < 1 || c->width > VKC_MODEL_WIDTH_MAX)
        return vkc_fail("encoder width %d is outside 1..%d", c->width, VKC_MODEL_WIDTH_MAX);
    if (c->head_layers < 2 || c->head_layers > 3) return vkc_fail("head layers must be 2 or 3, not %d", c->head_layers);
    if (c->head_hidden < 0 || c->head_hidden > VKC_MODEL_HEAD_HIDDEN_MAX)
        return vkc_fail("head hidden width %d is outside 0..%d", c->head_hidden, VKC_MODEL_HEAD_HIDDEN_MAX);
    if (c->out_dim < 1 || c->out_dim > VKC_MODEL_OUT_DIM_MAX)
        return vkc_fail("projection dimension %d is outside 1..%d", c->out_dim, VKC_MODEL_OUT_DIM_MAX);
    if (c->channels != 1 && c->channels != 3) return vkc_fail("images must have 1 or 3 channels, not %d", c->channels);
    if (c->stem != VKC_STEM_CIFAR && c->stem != VKC_STEM_IMAGENET) return vkc_fail("unknown stem %d", (int)c->stem);
    if (convnet && c->stem != VKC_STEM_CIFAR)
        return vkc_fail("the convnet has no stem to choose (--stem imagenet is for the ResNets)");
    /* convnet halves twice, resnet three times (five with the ImageNet stem): the smallest map
     * must keep at least 1 pixel. */
    int need = convnet ? 4 : c->stem == VKC_STEM_IMAGENET ? 32 : 8;
    if (c->height < need || c->width_px < need)
        return vkc_fail("%s needs images of at least %dx%d pixels, not %dx%d", encoder_name(c->encoder), need, need, c->height,
                        c->width_px);
    return VKC_OK;
}

VkcStem vkc_model_auto_stem(VkcEncoderKind encoder, int height, int width)
{
    return encoder != VKC_ENCODER_CONVNET && height >= 64 && width >= 64 ? VKC_STEM_IMAGENET : VKC_STEM_CIFAR;
}

int vkc_model_features(const VkcModelConfig *c)
{
    return c->encoder == VKC_ENCODER_CONVNET ? 4 * c->width : 8 * c->width;
}

/* ---------------------------------------------------------------- building the graph */

typedef struct {
    VkcModel *m;
    int ops_cap, values_cap, tensors_cap;
    VkcDtype dtype; /* of the values added next: the encoder's activations, then float32 */
    bool failed;
} Builder;

static void *grow(void *p, int *cap, int need, size_t size, Builder *b)
{
    if (need <= *cap) return p;
    int c = *cap ? *cap * 2 : 32;
    while (c < need) c *= 2;
    void *q = realloc(p, (size_t)c * size);
    if (!q) {
        b->failed = true;
        return p;
    }
    memset((char *)q + (size_t)*cap * size, 0, (size_t)(c - *cap) * size);
    *cap = c;
    return q;
}

static int add_value(Builder *b, uint32_t C, uint32_t H, uint32_t W)
{
    VkcModel *m = b->m;
    m->values = grow(m->values, &b->values_cap, m->nvalues + 1, sizeof *m->values, b);
    if (b->failed) return 0;
    m->values[m->nvalues] = (VkcModelValue){.C = C, .H = H, .W = W, .dtype = b->dtype};
    return m->nvalues++;
}

static int add_tensor(Builder *b, const char *prefix, const char *name, VkcTensorRole role, int ndim,
                      const uint32_t *shape, uint32_t flags)
{
    VkcModel *m = b->m;
    m->tensors = grow(m->tensors, &b->tensors_cap, m->ntensors + 1, sizeof *m->tensors, b);
    if (b->failed) return -1;
    VkcNamedTensor *t = &m->tensors[m->ntensors];
    snprintf(t->name, sizeof t->name, "%.60s.%.30s", prefix, name);
    t->ndim = ndim;
    t->count = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->count *= shape[i];
    }
    t->role = role;
    t->flags = flags;
    uint64_t *total = role == VKC_T_PARAM ? &m->nparams : &m->nbuffers;
    t->offset = *total;
    *total += (t->count + PAD_FLOATS - 1) / PAD_FLOATS * PAD_FLOATS;
    return m->ntensors++;
}

static VkcModelOp *add_op(Builder *b, OpKind kind, int in, int out)
{
    VkcModel *m = b->m;
    m->ops = grow(m->ops, &b->ops_cap, m->nops + 1, sizeof *m->ops, b);
    if (b->failed) return NULL;
    VkcModelOp *op = &m->ops[m->nops++];
    *op = (VkcModelOp){.kind = kind, .in = in, .in2 = -1, .out = out, .t_weight = -1, .t_gamma = -1, .t_beta = -1,
                       .t_mean = -1, .t_var = -1};
    return op;
}

/* conv (no bias: batch norm follows) -> returns the output value */
static int conv(Builder *b, const char *prefix, int in, uint32_t C_out, uint32_t kernel, uint32_t stride)
{
    if (b->failed) return 0;
    VkcModelValue v = b->m->values[in];
    uint32_t pad = kernel / 2;
    uint32_t Ho = (v.H + 2 * pad - kernel) / stride + 1, Wo = (v.W + 2 * pad - kernel) / stride + 1;
    int out = add_value(b, C_out, Ho, Wo);
    uint32_t shape[4] = {C_out, v.C, kernel, kernel};
    int t = add_tensor(b, prefix, "weight", VKC_T_PARAM, 4, shape, 0);
    VkcModelOp *op = add_op(b, VKC_OP_CONV, in, out);
    if (!op) return 0;
    op->t_weight = t;
    op->kernel = kernel;
    op->stride = stride;
    return out;
}

/* batch norm over the channels of `in` (2-D maps or 1-D features), optionally with ReLU and a
 * pool after it (one op: the normalised map is never stored) */
static int batchnorm_pool(Builder *b, const char *prefix, int in, bool relu, VkcBnPool pool)
{
    if (b->failed) return 0;
    VkcModelValue v = b->m->values[in];
    if (pool == VKC_BN_POOL_AVG) b->dtype = VKC_F32; /* the pooled features, as VKC_OP_AVGPOOL */
    int out = pool == VKC_BN_POOL_MAX2X2 ? add_value(b, v.C, v.H / 2, v.W / 2)
            : pool == VKC_BN_POOL_AVG    ? add_value(b, v.C, 1, 1)
                                         : add_value(b, v.C, v.H, v.W);
    uint32_t shape[1] = {v.C};
    int g = add_tensor(b, prefix, "weight", VKC_T_PARAM, 1, shape, VKC_PARAM_NO_DECAY);
    int be = add_tensor(b, prefix, "bias", VKC_T_PARAM, 1, shape, VKC_PARAM_NO_DECAY);
    int mean = add_tensor(b, prefix, "running_mean", VKC_T_BUFFER, 1, shape, 0);
    int var = add_tensor(b, prefix, "running_var", VKC_T_BUFFER, 1, shape, 0);
    VkcModelOp *op = add_op(b, VKC_OP_BN, in, out);
    if (!op) return 0;
    op->t_gamma = g;
    op->t_beta = be;
    op->t_mean = mean;
    op->t_var = var;
    op->relu = relu;
    op->pool = pool;
    return out;
}

static int batchnorm(Builder *b, const char *prefix, int in, bool relu)
{
    return batchnorm_pool(b, prefix, in, relu, VKC_BN_POOL_NONE);
}

static int simple(Builder *b, OpKind kind, int in, int in2)
{
    if (b->failed) return 0;
    VkcModelValue v = b->m->values[in];
    /* The pooled features (what the head, probes and kNN read) and the head are float32. */
    if (kind == VKC_OP_AVGPOOL) b->dtype = VKC_F32;
    int out = kind == VKC_OP_MAXPOOL ? add_value(b, v.C, v.H / 2, v.W / 2) /* 2x2 windows */
            : kind == VKC_OP_AVGPOOL ? add_value(b, v.C, 1, 1)
                                     : add_value(b, v.C, v.H, v.W);
    VkcModelOp *op = add_op(b, kind, in, out);
    if (!op) return 0;
    op->in2 = in2;
    return out;
}

/* max-pool of kernel x kernel windows at `stride`, padding kernel / 2 (ResNet's ImageNet stem) */
static int maxpool_window(Builder *b, int in, uint32_t kernel, uint32_t stride)
{
    if (b->failed) return 0;
    VkcModelValue v = b->m->values[in];
    VkcMaxPool mp = {.H = v.H, .W = v.W, .kernel = kernel, .stride = stride, .pad = kernel / 2};
    int out = add_value(b, v.C, vkc_maxpool_out(v.H, &mp), vkc_maxpool_out(v.W, &mp));
    VkcModelOp *op = add_op(b, VKC_OP_MAXPOOL, in, out);
    if (!op) return 0;
    op->kernel = kernel;
    op->stride = stride;
    op->pad = kernel / 2;
    return out;
}

static int linear(Builder *b, const char *prefix, int in, uint32_t out_features)
{
    if (b->failed) return 0;
    VkcModelValue v = b->m->values[in];
    int out = add_value(b, out_features, 1, 1);
    uint32_t shape[2] = {out_features, v.C * v.H * v.W};
    int t = add_tensor(b, prefix, "weight", VKC_T_PARAM, 2, shape, 0);
    VkcModelOp *op = add_op(b, VKC_OP_LINEAR, in, out);
    if (!op) return 0;
    op->t_weight = t;
    return out;
}

/* The convnet's batch norm + ReLU + pool run as one op unless the overrides say otherwise
 * (VKCLR_FUSE_POOL=0: for measuring what the fusion buys; the parameters and results are the
 * same either way). */
static bool fuse_pools(const Builder *b) { return !b->m->ctx || !b->m->ctx->kernels.unfused_pools; }

static void build_convnet(Builder *b, int x)
{
    const VkcModelConfig *c = &b->m->cfg;
    char p[64];
    int v = x;
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "encoder.block%d.conv", i + 1);
        v = conv(b, p, v, (uint32_t)c->width << i, 3, 1);
        snprintf(p, sizeof p, "encoder.block%d.bn", i + 1);
        if (fuse_pools(b)) {
            /* batch norm, ReLU and the pool as one op (fewer passes over the largest maps) */
            v = batchnorm_pool(b, p, v, true, i < 2 ? VKC_BN_POOL_MAX2X2 : VKC_BN_POOL_AVG);
            continue;
        }
        v = batchnorm(b, p, v, true);
        v = simple(b, i < 2 ? VKC_OP_MAXPOOL : VKC_OP_AVGPOOL, v, -1);
    }
    b->m->feature_value = v;
}

static void build_resnet(Builder *b, int x)
{
    const VkcModelConfig *c = &b->m->cfg;
    const int *blocks = resnet_blocks(c->encoder);
    char p[96];
    int v;
    if (c->stem == VKC_STEM_IMAGENET) {
        /* ImageNet stem: 7x7 stride-2 convolution, BN, ReLU, 3x3 stride-2 max-pool (a quarter
         * of the side before the first stage) */
        v = conv(b, "encoder.conv1", x, (uint32_t)c->width, 7, 2);
        v = batchnorm(b, "encoder.bn1", v, true);
        v = maxpool_window(b, v, 3, 2);
    } else {
        /* CIFAR stem: one 3x3 stride-1 convolution, no max-pool. */
        v = conv(b, "encoder.conv1", x, (uint32_t)c->width, 3, 1);
        v = batchnorm(b, "encoder.bn1", v, true);
    }
    for (int s = 0; s < 4; s++) {
        uint32_t planes = (uint32_t)c->width << s;
        for (int k = 0; k < blocks[s]; k++) {
            uint32_t stride = s > 0 && k == 0 ? 2 : 1;
            bool project = stride != 1 || (!b->failed && b->m->values[v].C != planes);
            int in = v;
            snprintf(p, sizeof p, "encoder.layer%d.%d.conv1", s + 1, k);
            int y = conv(b, p, in, planes, 3, stride);
            snprintf(p, sizeof p, "encoder.layer%d.%d.bn1", s + 1, k);
            y = batchnorm(b, p, y, true);
            snprintf(p, sizeof p, "encoder.layer%d.%d.conv2", s + 1, k);
            y = conv(b, p, y, planes, 3, 1);
            snprintf(p, sizeof p, "encoder.layer%d.%d.bn2", s + 1, k);
            y = batchnorm(b, p, y, false);
            int shortcut = in;
            if (project) {
                snprintf(p, sizeof p, "encoder.layer%d.%d.downsample.0", s + 1, k);
                shortcut = conv(b, p, in, planes, 1, stride);
                snprintf(p, sizeof p, "encoder.layer%d.%d.downsample.1", s + 1, k);
                shortcut = batchnorm(b, p, shortcut, false);
            }
            v = simple(b, VKC_OP_ADD, y, shortcut);
            v = simple(b, VKC_OP_RELU, v, -1);
        }
    }
    b->m->feature_value = simple(b, VKC_OP_AVGPOOL, v, -1);
}

static void build_head(Builder *b)
{
    const VkcModelConfig *c = &b->m->cfg;
    int hidden = c->head_hidden ? c->head_hidden : b->m->features;
    char p[64];
    int v = b->m->feature_value;
    for (int i = 0; i < c->head_layers; i++) {
        bool last = i == c->head_layers - 1;
        snprintf(p, sizeof p, "head.%d.linear", i);
        v = linear(b, p, v, (uint32_t)(last ? c->out_dim : hidden));
        snprintf(p, sizeof p, "head.%d.bn", i);
        v = batchnorm(b, p, v, !last);
    }
    b->m->embed_value = v;
}

static int build(VkcModel *m, const VkcModelConfig *cfg)
{
    if (vkc_model_check(cfg)) return VKC_ERR;
    m->cfg = *cfg;
    m->features = vkc_model_features(cfg);
    Builder b = {.m = m, .dtype = VKC_F32};
    /* The images arrive as float32; with 16-bit activations the first op converts them. */
    m->input_value = add_value(&b, (uint32_t)cfg->channels, (uint32_t)cfg->height, (uint32_t)cfg->width_px);
    int x = m->input_value;
    b.dtype = cfg->act_dtype;
    if (cfg->act_dtype != VKC_F32) x = simple(&b, VKC_OP_CAST, x, -1);
    m->image_value = x;
    if (cfg->encoder == VKC_ENCODER_CONVNET) build_convnet(&b, x);
    else build_resnet(&b, x);
    m->encoder_ops = m->nops;
    build_head(&b);
    m->logz_tensor = -1;
    if (cfg->loss_logz) m->logz_tensor = add_tensor(&b, "loss", "logz", VKC_T_PARAM, 1, (uint32_t[1]){1}, VKC_PARAM_NO_DECAY);
    if (b.failed) return vkc_fail("out of host memory building the %s graph", encoder_name(cfg->encoder));
    return VKC_OK;
}

static void free_graph(VkcModel *m)
{
    free(m->ts_fwd);
    free(m->ts_bwd);
    m->ts_fwd = m->ts_bwd = NULL;
    free(m->ops);
    free(m->values);
    free(m->tensors);
    m->ops = NULL;
    m->values = NULL;
    m->tensors = NULL;
}

/* ---------------------------------------------------------------- the ops: one row per kind */

/* What an op reads and writes in one pass. */
typedef struct {
    VkcTensor in, in2, out; /* activations (in2: second addend of a residual join) */
    VkcTensor dout;         /* backward: gradient of out */
    uint32_t batch;
} OpIO;

/* Work space and private tensors of one op for a batch. */
typedef struct {
    VkDeviceSize conv_work, bn_work, stats_work; /* shared by every op of the model: the largest need counts */
    VkDeviceSize own;                /* the op's own tensors (batch-norm statistics) */
} OpSizes;

/* Where the backward of an op writes the gradient of value v: straight into v's gradient if
 * nothing has written it yet in this pass, else into scratch (then added). */
typedef struct {
    VkcModel *m;
    VkcCmd *cmd;
    uint32_t batch;
    bool *ready;
} Backward;

typedef struct {
    const char *class_name; /* for profiles: conv, batchnorm, linear, pool, elementwise */
    int (*forward)(VkcModel *m, VkcCmd *cmd, const VkcModelOp *op, const OpIO *io, bool training);
    /* dx: where the gradient of op->in goes (no buffer: the model's input, not needed) */
    int (*backward)(Backward *B, const VkcModelOp *op, const OpIO *io, VkcTensor dx);
    void (*sizes)(const VkcModel *m, VkcLayers *L, const VkcModelOp *op, uint32_t batch, OpSizes *s); /* or NULL */
    int (*create)(VkcModel *m, VkcModelOp *op, VkcArena *device); /* private tensors, or NULL */
    /* Initial parameters and buffers of the op's named tensors (NULL: it has none). Tensor t
     * draws from its own stream (seed, t): adding a layer does not change the others' draws. */
    void (*init)(const VkcModel *m, const VkcModelOp *op, uint64_t seed, float *params, float *buffers);
    /* Multiply-adds x 2 of the forward for a batch (NULL: an op counted as memory traffic, not
     * arithmetic: batch norm, ReLU, pooling, additions). Each backward pass (input gradient,
     * weight gradient) costs the same again. */
    double (*flops)(const VkcModel *m, const VkcModelOp *op, uint32_t batch);
    bool own_input_grads;   /* backward writes the gradients of its inputs itself (residual join) */
} OpKindRow;

static uint32_t floats(const VkcModel *m, int v, uint32_t batch)
{
    const VkcModelValue *x = &m->values[v];
    return batch * x->C * x->H * x->W;
}

static float *tensor_data(const VkcModel *m, int t, float *params, float *buffers)
{
    return (m->tensors[t].role == VKC_T_PARAM ? params : buffers) + m->tensors[t].offset;
}

/* cast: the float32 images to 16-bit activations (no gradient: it reads the model's input) */

static int cast_forward(VkcModel *m, VkcCmd *cmd, const VkcModelOp *op, const OpIO *io, bool training)
{
    (void)training;
    return vkc_cast(m->layers, cmd, floats(m, op->in, io->batch), io->in, io->out);
}

static int cast_backward(Backward *B, const VkcModelOp *op, const OpIO *io, VkcTensor dx)
{
    (void)B, (void)op, (void)io, (void)dx;
    return VKC_OK;
}

/* conv2d (no bias: batch norm follows) */

static VkcConv2d conv_of(const VkcModel *m, const VkcModelOp *op, uint32_t batch)
{
    const VkcModelValue *in = &m->values[op->in], *out = &m->values[op->out];
    return (VkcConv2d){.N = batch, .C_in = in->C, .H = in->H, .W = in->W, .C_out = out->C, .kernel = op->kernel,
                       .stride = op->stride, .pad = op->kernel / 2, .act = in->dtype,
                       .weight = vkc_model_tensor(m, op->t_weight), .work = m->conv_work};
}

/* Whether this training forward hands the batch statistics from a conv to its batch norm
 * (not with synchronised batch norm: the ranks' partial sums must be plain sums). */
static bool stats_handoff(const VkcModel *m, const VkcModelOp *op, bool training)
{
    return training && op->bn_stats && !m->bn_sync;
}

static int conv_forward(VkcModel *m, VkcCmd *cmd, const VkcModelOp *op, const OpIO *io, bool training)
{
    VkcConv2d c = conv_of(m, op, io->batch);
    if (stats_handoff(m, op, training)) c.stats = m->stats_work;
    return vkc_conv2d_forward(m->layers, cmd, &c, io->in, io->out);
}

static int conv_backward(Backward *B, const VkcModelOp *op, const OpIO *io, VkcTensor dx)
{
    VkcConv2d c = conv_of(B->m, op, io->batch);
    if (vkc_conv2d_backward_weight(B->m->layers, B->cmd, &c, io->in, io->dout, vkc_model_grad(B->m, op->t_weight),
                                   (VkcTensor){0}))
        return VKC_ERR;
    return dx.buffer ? vkc_conv2d_backward_input(B->m->layers, B->cmd, &c, io->dout, dx) : VKC_OK;
}

static void conv_sizes(const VkcModel *m, VkcLayers *L, const VkcModelOp *op, uint32_t batch, OpSizes *s)
{
    VkcConv2d c = conv_of(m, op, batch);
    s->conv_work = vkc_conv2d_work_bytes(L, &c);
    s->stats_work = vkc_conv2d_stats_floats(L, &c) * 4;
}

/* Kaiming normal, fan_out, ReLU gain sqrt(2): Box-Muller on (0, 1] uniforms. */
static void conv_init(const VkcModel *m, const VkcModelOp *op, uint64_t seed, float *params, float *buffers)
{
    const VkcNamedTensor *t = &m->tensors[op->t_weight];
    VkcRng rng = vkc_rng(seed, 0x1417u, (uint64_t)op->t_weight, 0);
    float *w = tensor_data(m, op->t_weight, params, buffers);
    double std = sqrt(2.0 / ((double)t->shape[0] * t->shape[2] * t->shape[3]));
    for (uint32_t k = 0; k < t->count; k++) {
        double u1 = 1.0 - vkc_rng_uniform(&rng), u2 = vkc_rng_uniform(&rng);
        w[k] = (float)(std * sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
    }
}

static double conv_flops(const VkcModel *m, const VkcModelOp *op, uint32_t batch)
{
    VkcConv2d c = conv_of(m, op, batch);
    return vkc_conv2d_flops(&c);
}

/* batch norm (2-D maps or 1-D features), optionally with a fused ReLU */

static VkcBatchNorm bn_of(const VkcModel *m, const VkcModelOp *op, uint32_t batch)
{
    const VkcModelValue *in = &m->values[op->in];
    return (VkcBatchNorm){.N = batch, .C = in->C, .HW = in->H * in->W, .eps = BN_EPS, .momentum = 0.1f,
                          .relu = op->relu, .pool = op->pool, .H = in->H, .W = in->W, .gamma = vkc_model_tensor(m, op->t_gamma),
                          .beta = vkc_model_tensor(m, op->t_beta), .running_mean = vkc_model_tensor(m, op->t_mean),
                          .running_var = vkc_model_tensor(m, op->t_var), .stats = op->stats, .work = m->bn_work,
                          .sync = m->bn_sync};
}

static int bn_forward(VkcModel *m, VkcCmd *cmd, const VkcModelOp *op, const OpIO *io, bool training)
{
    VkcBatchNorm bn = bn_of(m, op, io->batch);
    if (stats_handoff(m, op, training)) {
        const VkcModelOp *conv = op - 1; /* bn_stats: the op before is the conv that made x */
        VkcConv2d c = conv_of(m, conv, io->batch);
        bn.conv_stats = m->stats_work;
        bn.conv_groups = vkc_conv2d_stats_groups(m->layers, &c);
    }
    return vkc_batchnorm_forward(m->layers, cmd, &bn, training, io->in, io->out);
}

static int bn_backward(Backward *B, const VkcModelOp *op, const OpIO *io, VkcTensor dx)
{
    VkcBatchNorm bn = bn_of(B->m, op, io->batch);
    return vkc_batchnorm_backward(B->m->layers, B->cmd, &bn, io->in, io->dout, dx,
                                  vkc_model_grad(B->m, op->t_gamma), vkc_model_grad(B->m, op->t_beta));
}

static void bn_sizes(const VkcModel *m, VkcLayers *L, const VkcModelOp *op, uint32_t batch, OpSizes *s)
{
    VkcBatchNorm bn = bn_of(m, op, batch);
    s->bn_work = vkc_batchnorm_work_bytes(L, &bn);
    s->own = 2 * bn.C * 4 + 256; /* stats, aligned */
}

static int bn_create(VkcModel *m, VkcModelOp *op, VkcArena *device)
{
    return vkc_tensor_alloc(device, 2 * m->values[op->in].C * 4, &op->stats);
}

/* gamma 1, beta 0, running mean 0, running variance 1 */
static void bn_init(const VkcModel *m, const VkcModelOp *op, uint64_t seed, float *params, float *buffers)
{
    (void)seed;
    uint32_t C = m->tensors[op->t_gamma].count;
    float *gamma = tensor_data(m, op->t_gamma, params, buffers), *beta = tensor_data(m, op->t_beta, params, buffers);
    float *mean = tensor_data(m, op->t_mean, params, buffers), *var = tensor_data(m, op->t_var, params, buffers);
    for (uint32_t c = 0; c < C; c++) gamma[c] = 1.0f, beta[c] = 0.0f, mean[c] = 0.0f, var[c] = 1.0f;
}

/* ReLU */

static int relu_forward(VkcModel *m, VkcCmd *cmd, const VkcModelOp *op, const OpIO *io, bool training)
{
    (void)training;
    return vkc_relu_forward(m->layers, cmd, floats(m, op->in, io->batch), io->in, io->out);
}

static int relu_backward(Backward *B, const VkcModelOp *op, const OpIO *io, VkcTensor dx)
{
    return vkc_relu_backward(B->m->layers, B->cmd, floats(B->m, op->in, io->batch), io->out, io->dout, dx);
}

/* 2x2 max-pool */

static VkcMaxPool maxpool_of(const VkcModel *m, const VkcModelOp *op, uint32_t batch)
{
    const VkcModelValue *v = &m->values[op->in];
    return (VkcMaxPool){.planes = batch * v->C, .H = v->H, .W = v->W, .kernel = op->kernel, .stride = op->stride,
                        .pad = op->pad};
}

static int maxpool_forward(VkcModel *m, VkcCmd *cmd, const VkcModelOp *op, const OpIO *io, bool training)
{
    (void)training;
    VkcMaxPool mp = maxpool_of(m, op, io->batch);
    if (op->kernel) return vkc_maxpool_forward(m->layers, cmd, &mp, io->in, io->out);
    return vkc_maxpool2x2_forward(m->layers, cmd, mp.planes, mp.H, mp.W, io->in, io->out);
}

static int maxpool_backward(Backward *B, const VkcModelOp *op, const OpIO *io, VkcTensor dx)
{
    VkcMaxPool mp = maxpool_of(B->m, op, io->batch);
    if (op->kernel) return vkc_maxpool_backward(B->m->layers, B->cmd, &mp, io->in, io->dout, dx);
    return vkc_maxpool2x2_backward(B->m->layers, B->cmd, mp.planes, mp.H, mp.W, io->in, io->dout, dx);
}

/* global average pool */

static int avgpool_forward(VkcModel *m, VkcCmd *cmd, const VkcModelOp *op, const OpIO *io, bool training)
{
    (void)training;
    const VkcModelValue *v = &m->values[op->in];
    return vkc_avgpool_forward(m->layers, cmd, io->batch * v->C, v->H * v->W, io->in, io->out);
}

static int avgpool_backward(Backward *B, const VkcModelOp *op, const OpIO *io, VkcTensor dx)
{
    const VkcModelValue *v = &B->m->values[op->in];
    return vkc_avgpool_backward(B->m->layers, B->cmd, io->batch * v->C, v->H * v->W, io->dout, dx);
}

/* residual join y = a + b: both addends receive dy unchanged */

static int add_forward(VkcModel *m, VkcCmd *cmd, const VkcModelOp *op, const OpIO *io, bool training)
{
    (void)training;
    return vkc_add(m->layers, cmd, floats(m, op->in, io->batch), io->in, io->in2, io->out);
}

static int add_backward(Backward *B, const VkcModelOp *op, const OpIO *io, VkcTensor dx)
{
    (void)dx;
    uint32_t n = floats(B->m, op->in, io->batch);
    for (int k = 0; k < 2; k++) {
        int v = k ? op->in2 : op->in;
        VkcTensor g = B->m->values[v].grad;
        int rc = B->ready[v] ? vkc_add(B->m->layers, B->cmd, n, g, io->dout, g)
                             : vkc_cmd_copy(B->cmd, g, io->dout, (VkDeviceSize)n * 4);
        if (rc) return VKC_ERR;
        B->ready[v] = true;
    }
    return VKC_OK;
}

/* linear (no bias: batch norm follows) */

static VkcLinear linear_of(const VkcModel *m, const VkcModelOp *op)
{
    const VkcModelValue *in = &m->values[op->in], *out = &m->values[op->out];
    return (VkcLinear){.in = in->C * in->H * in->W, .out = out->C, .weight = vkc_model_tensor(m, op->t_weight),
                       .dweight = vkc_model_grad(m, op->t_weight)};
}

static int linear_forward(VkcModel *m, VkcCmd *cmd, const VkcModelOp *op, const OpIO *io, bool training)
{
    (void)training;
    VkcLinear l = linear_of(m, op);
    return vkc_linear_forward(m->linear, cmd, &l, io->batch, io->in, io->out);
}

static int linear_backward(Backward *B, const VkcModelOp *op, const OpIO *io, VkcTensor dx)
{
    VkcLinear l = linear_of(B->m, op);
    return vkc_linear_backward(B->m->linear, B->cmd, &l, io->batch, io->in, io->dout, dx);
}

static double linear_flops(const VkcModel *m, const VkcModelOp *op, uint32_t batch)
{
    VkcLinear l = linear_of(m, op);
    return 2.0 * batch * l.in * l.out;
}

/* PyTorch's nn.Linear: Kaiming uniform with a = sqrt(5), U(-1/sqrt(in), 1/sqrt(in)) */
static void linear_init(const VkcModel *m, const VkcModelOp *op, uint64_t seed, float *params, float *buffers)
{
    const VkcNamedTensor *t = &m->tensors[op->t_weight];
    VkcRng rng = vkc_rng(seed, 0x1417u, (uint64_t)op->t_weight, 0);
    float *w = tensor_data(m, op->t_weight, params, buffers);
    float bound = 1.0f / sqrtf((float)t->shape[1]);
    for (uint32_t k = 0; k < t->count; k++) w[k] = vkc_rng_range(&rng, -bound, bound);
}

static const OpKindRow op_kinds[VKC_OP_KINDS] = {
    [VKC_OP_CAST] = {.class_name = "elementwise", .forward = cast_forward, .backward = cast_backward},
    [VKC_OP_CONV] = {.class_name = "conv", .forward = conv_forward, .backward = conv_backward, .sizes = conv_sizes,
                     .init = conv_init, .flops = conv_flops},
    [VKC_OP_BN] = {.class_name = "batchnorm", .forward = bn_forward, .backward = bn_backward, .sizes = bn_sizes,
                   .create = bn_create, .init = bn_init},
    [VKC_OP_RELU] = {.class_name = "elementwise", .forward = relu_forward, .backward = relu_backward},
    [VKC_OP_MAXPOOL] = {.class_name = "pool", .forward = maxpool_forward, .backward = maxpool_backward},
    [VKC_OP_AVGPOOL] = {.class_name = "pool", .forward = avgpool_forward, .backward = avgpool_backward},
    [VKC_OP_ADD] = {.class_name = "elementwise", .forward = add_forward, .backward = add_backward,
                    .own_input_grads = true},
    [VKC_OP_LINEAR] = {.class_name = "linear", .forward = linear_forward, .backward = linear_backward,
                       .init = linear_init, .flops = linear_flops},
};

double vkc_model_flops(const VkcModel *m, uint32_t batch, bool with_backward)
{
    double total = 0;
    for (int i = 0; i < m->nops; i++) {
        const VkcModelOp *op = &m->ops[i];
        if (!op_kinds[op->kind].flops) continue;
        double f = op_kinds[op->kind].flops(m, op, batch);
        /* Backward: the weight gradient, and the input gradient unless the input is the image. */
        total += f * (with_backward ? (op->in == m->image_value ? 2 : 3) : 1);
    }
    return total;
}

const char *vkc_model_op_class(const VkcModel *m, int i) { return op_kinds[m->ops[i].kind].class_name; }

bool vkc_model_is_bn_param(const VkcModel *m, int i)
{
    for (int k = 0; k < m->nops; k++)
        if (m->ops[k].kind == VKC_OP_BN && (m->ops[k].t_gamma == i || m->ops[k].t_beta == i)) return true;
    return false;
}

/* ---------------------------------------------------------------- kernels and memory */

int vkc_model_kernels_init(VkcContext *ctx, VkcModelKernels *k)
{
    memset(k, 0, sizeof *k);
    if (vkc_layers_init(ctx, &k->layers) || vkc_gemm_init(ctx, &k->gemm) || vkc_reduce_init(ctx, &k->reduce) ||
        vkc_linear_kernels_init(ctx, &k->linear, &k->gemm, &k->reduce)) {
        vkc_model_kernels_destroy(k);
        return VKC_ERR;
    }
    return VKC_OK;
}

void vkc_model_kernels_destroy(VkcModelKernels *k)
{
    vkc_linear_kernels_destroy(&k->linear);
    vkc_reduce_destroy(&k->reduce);
    vkc_gemm_destroy(&k->gemm);
    vkc_layers_destroy(&k->layers);
}

/* A conv whose output feeds only the batch norm right after it hands that batch norm the batch
 * statistics from its epilogue, where the device's conv kernels write them. */
static void mark_stats(VkcModel *m, VkcLayers *L)
{
    for (int i = 0; i + 1 < m->nops; i++) {
        VkcModelOp *op = &m->ops[i], *next = &m->ops[i + 1];
        if (op->kind != VKC_OP_CONV || next->kind != VKC_OP_BN || next->in != op->out) continue;
        bool other = false;
        for (int k = 0; k < m->nops; k++)
            if (k != i + 1 && (m->ops[k].in == op->out || m->ops[k].in2 == op->out)) other = true;
        VkcConv2d c = conv_of(m, op, 1);
        if (other || !vkc_conv2d_stats_groups(L, &c)) continue;
        op->bn_stats = next->bn_stats = true;
    }
}

/* Device bytes of everything vkc_model_create allocates, given a built graph. */
static void sizes(const VkcModel *m, VkcLayers *L, uint32_t batch, VkDeviceSize *total, VkDeviceSize *largest,
                  VkDeviceSize *conv_work, VkDeviceSize *bn_work, VkDeviceSize *stats_work, VkDeviceSize *scratch)
{
    VkDeviceSize big = 0, act = 0, cw = 16, bw = 16, sw = 16;
    for (int i = 0; i < m->nvalues; i++) {
        if (i == m->input_value) continue;
        VkDeviceSize bytes = (VkDeviceSize)floats(m, i, batch) * vkc_dtype_size(m->values[i].dtype);
        act += 2 * bytes; /* activation and gradient */
        if (bytes > big) big = bytes;
    }
    for (int i = 0; i < m->nops; i++) {
        OpSizes s = {0};
        if (op_kinds[m->ops[i].kind].sizes) op_kinds[m->ops[i].kind].sizes(m, L, &m->ops[i], batch, &s);
        if (s.conv_work > cw) cw = s.conv_work;
        if (s.bn_work > bw) bw = s.bn_work;
        if (s.stats_work > sw && m->ops[i].bn_stats) sw = s.stats_work;
        act += s.own;
    }
    *conv_work = cw;
    *bn_work = bw;
    act += sw; /* the statistics hand-off (counted with the activations) */
    *stats_work = sw;
    *scratch = big;
    if (cw > big) big = cw;
    if (bw > big) big = bw;
    VkDeviceSize params = (VkDeviceSize)m->nparams * 4, buffers = (VkDeviceSize)m->nbuffers * 4;
    if (params > big) big = params;
    *largest = big;
    *total = act + cw + bw + *scratch + 2 * params + buffers;
}

int vkc_model_memory(VkcContext *ctx, VkcLayers *layers, const VkcModelConfig *cfg, uint32_t batch,
                     VkDeviceSize *total, VkDeviceSize *largest)
{
    VkcModel m;
    memset(&m, 0, sizeof m);
    m.ctx = ctx;
    if (build(&m, cfg)) {
        free_graph(&m);
        return VKC_ERR;
    }
    VkDeviceSize cw, bw, sw, scratch;
    mark_stats(&m, layers);
    sizes(&m, layers, batch, total, largest, &cw, &bw, &sw, &scratch);
    free_graph(&m);
    return VKC_OK;
}

int vkc_model_coop_passes(const VkcModel *m, int *total)
{
    int coop = 0;
    *total = 0;
    for (int i = 0; i < m->nops; i++) {
        if (m->ops[i].kind != VKC_OP_CONV) continue;
        VkcConv2d c = conv_of(m, &m->ops[i], m->max_batch);
        for (int pass = 0; pass < 3; pass++) {
            char name[VKC_CONV_VARIANT_NAME];
            /* (the image's cast gets no gradient: no backward-input pass) */
            if (pass == VKC_CONV_PASS_BACKWARD_INPUT && !m->values[m->ops[i].in].grad.buffer) continue;
            (*total)++;
            coop += !vkc_conv2d_variant(m->layers, &c, pass, name, sizeof name) &&
                    vkc_conv2d_family(name) == VKC_CONV_COOP;
        }
    }
    return coop;
}

int vkc_model_conv_shapes(const VkcModelConfig *cfg, uint32_t batch, VkcConv2d *out, int max)
{
    VkcModel m; /* the graph alone (the convolutions are the same with pools fused or not) */
    if (vkc_model_graph(&m, cfg)) return -1;
    int n = 0;
    for (int i = 0; i < m.nops; i++) {
        if (m.ops[i].kind != VKC_OP_CONV) continue;
        VkcConv2d c = conv_of(&m, &m.ops[i], batch);
        c.weight = c.work = (VkcTensor){0};
        bool seen = false;
        for (int k = 0; k < n; k++)
            seen |= out[k].C_in == c.C_in && out[k].H == c.H && out[k].W == c.W && out[k].C_out == c.C_out &&
                    out[k].kernel == c.kernel && out[k].stride == c.stride;
        if (!seen && n < max) out[n++] = c;
    }
    free_graph(&m);
    return n;
}

int vkc_model_graph(VkcModel *m, const VkcModelConfig *cfg)
{
    memset(m, 0, sizeof *m); /* no context: the convnet's pools fused, as a device builds them by default */
    if (build(m, cfg)) {
        free_graph(m);
        return VKC_ERR;
    }
    return VKC_OK;
}

VkcOpInfo vkc_model_op(const VkcModel *m, int i)
{
    const VkcModelOp *op = &m->ops[i];
    VkcOpInfo o = {.kind = op->kind, .in = op->in, .in2 = op->in2, .out = op->out, .weight = op->t_weight,
                   .gamma = op->t_gamma, .beta = op->t_beta, .mean = op->t_mean, .var = op->t_var,
                   .relu = op->relu, .pool = op->pool, .eps = BN_EPS};
    if (op->kind == VKC_OP_CONV) o.kernel = op->kernel, o.stride = op->stride, o.pad = op->kernel / 2;
    if (op->kind == VKC_OP_MAXPOOL) {
        if (op->kernel) o.kernel = op->kernel, o.stride = op->stride, o.pad = op->pad;
        else o.kernel = 2, o.stride = 2; /* 2x2 windows, no padding */
    }
    return o;
}

int vkc_model_create(VkcModel *m, VkcContext *ctx, VkcLayers *layers, VkcLinearKernels *linear,
                     const VkcModelConfig *cfg, uint32_t max_batch, VkcArena *device)
{
    memset(m, 0, sizeof *m);
    m->ctx = ctx;
    m->layers = layers;
    m->linear = linear;
    m->max_batch = max_batch;
    if (!max_batch) return vkc_fail("model: batch must be at least 1");
    if (build(m, cfg)) goto fail;
    VkDeviceSize total, largest, cw, bw, sw, scratch;
    mark_stats(m, layers);
    sizes(m, layers, max_batch, &total, &largest, &cw, &bw, &sw, &scratch);
    VkDeviceSize before = device->allocated;
    if (vkc_tensor_alloc(device, m->nparams * 4, &m->params) || vkc_tensor_alloc(device, m->nparams * 4, &m->grads) ||
        vkc_tensor_alloc(device, m->nbuffers * 4, &m->buffers) || vkc_tensor_alloc(device, cw, &m->conv_work) ||
        vkc_tensor_alloc(device, bw, &m->bn_work) || vkc_tensor_alloc(device, sw, &m->stats_work) ||
        vkc_tensor_alloc(device, scratch, &m->scratch))
        goto fail;
    for (int i = 0; i < m->nvalues; i++) {
        if (i == m->input_value) continue;
        VkcModelValue *v = &m->values[i];
        uint64_t n = floats(m, i, max_batch);
        if (vkc_tensor_alloc_typed(device, n, v->dtype, &v->act)) goto fail;
        /* The head's output gradient is the loss's, passed to vkc_model_backward; the images'
         * cast has none. */
        if (i != m->embed_value && i != m->image_value && vkc_tensor_alloc_typed(device, n, v->dtype, &v->grad))
            goto fail;
    }
    for (int i = 0; i < m->nops; i++)
        if (op_kinds[m->ops[i].kind].create && op_kinds[m->ops[i].kind].create(m, &m->ops[i], device)) goto fail;
    m->activation_bytes = device->allocated - before;
    m->ts_fwd = malloc(((size_t)m->nops + 1) * sizeof(int));
    m->ts_bwd = malloc(((size_t)m->nops + 1) * sizeof(int));
    if (!m->ts_fwd || !m->ts_bwd) {
        vkc_fail("out of host memory");
        goto fail;
    }
    for (int i = 0; i <= m->nops; i++) m->ts_fwd[i] = m->ts_bwd[i] = -1;
    return VKC_OK;
fail:
    vkc_fail_context("%s, batch %u", encoder_name(cfg->encoder), max_batch);
    free_graph(m);
    return VKC_ERR;
}

void vkc_model_destroy(VkcModel *m)
{
    free_graph(m);
    memset(m, 0, sizeof *m);
}

uint64_t vkc_model_param_count(const VkcModel *m)
{
    uint64_t n = 0;
    for (int i = 0; i < m->ntensors; i++)
        if (m->tensors[i].role == VKC_T_PARAM) n += m->tensors[i].count;
    return n;
}

VkcTensor vkc_model_tensor(const VkcModel *m, int i)
{
    const VkcNamedTensor *t = &m->tensors[i];
    VkcTensor base = t->role == VKC_T_PARAM ? m->params : m->buffers;
    return vkc_tensor_slice(base, t->offset * 4, (VkDeviceSize)t->count * 4);
}

VkcTensor vkc_model_grad(const VkcModel *m, int i)
{
    const VkcNamedTensor *t = &m->tensors[i];
    return vkc_tensor_slice(m->grads, t->offset * 4, (VkDeviceSize)t->count * 4);
}

VkcTensor vkc_model_features_tensor(const VkcModel *m) { return m->values[m->feature_value].act; }
VkcTensor vkc_model_embed_tensor(const VkcModel *m) { return m->values[m->embed_value].act; }

int vkc_model_optim_params(const VkcModel *m, VkcParam **params, int *nparams)
{
    VkcParam *p = calloc((size_t)m->ntensors, sizeof *p);
    if (!p) return vkc_fail("out of host memory");
    int n = 0;
    for (int i = 0; i < m->ntensors; i++) {
        if (m->tensors[i].role != VKC_T_PARAM) continue;
        p[n++] = (VkcParam){.param = vkc_model_tensor(m, i), .grad = vkc_model_grad(m, i), .flags = m->tensors[i].flags};
    }
    *params = p;
    *nparams = n;
    return VKC_OK;
}

/* ---------------------------------------------------------------- initialisation */

int vkc_model_init_params(VkcModel *m, uint64_t seed)
{
    /* Tensors no op initialises (loss.logz) start at 0. */
    float *p = calloc(m->nparams ? m->nparams : 1, sizeof(float));
    float *buf = calloc(m->nbuffers ? m->nbuffers : 1, sizeof(float));
    if (!p || !buf) {
        free(p);
        free(buf);
        return vkc_fail("out of host memory for %llu parameters", (unsigned long long)m->nparams);
    }
    for (int i = 0; i < m->nops; i++)
        if (op_kinds[m->ops[i].kind].init) op_kinds[m->ops[i].kind].init(m, &m->ops[i], seed, p, buf);
    int rc = vkc_upload(m->ctx, m->params, p, m->nparams * 4);
    if (!rc) rc = vkc_upload(m->ctx, m->buffers, buf, m->nbuffers * 4);
    free(p);
    free(buf);
    return rc;
}

/* ---------------------------------------------------------------- forward and backward */

/* A barrier and a timestamp before op i (profiling only: the barrier serialises the ops so
 * that the time between two timestamps is op i's alone). */
static void mark(VkcModel *m, VkcCmd *cmd, int *ts, int i)
{
    if (!m->profile) return;
    vkc_cmd_barrier(cmd);
    ts[i] = vkc_cmd_timestamp(cmd);
}

static OpIO op_io(const VkcModel *m, const VkcModelOp *op, VkcTensor x, uint32_t batch)
{
    return (OpIO){.in = op->in == m->input_value ? x : m->values[op->in].act,
                  .in2 = op->in2 >= 0 ? m->values[op->in2].act : (VkcTensor){0},
                  .out = m->values[op->out].act,
                  .dout = m->values[op->out].grad,
                  .batch = batch};
}

int vkc_model_forward(VkcModel *m, VkcCmd *cmd, VkcTensor x, uint32_t batch, bool training, bool with_head)
{
    if (batch == 0 || batch > m->max_batch)
        return vkc_fail("model forward: batch %u is outside 1..%u", batch, m->max_batch);
    int end = with_head ? m->nops : m->encoder_ops;
    for (int i = 0; i < end; i++) {
        const VkcModelOp *op = &m->ops[i];
        mark(m, cmd, m->ts_fwd, i);
        OpIO io = op_io(m, op, x, batch);
        if (op_kinds[op->kind].forward(m, cmd, op, &io, training)) return vkc_fail_context("model forward, op %d", i);
    }
    mark(m, cmd, m->ts_fwd, end);
    return VKC_OK;
}

static VkcTensor grad_target(Backward *B, int v, bool *accumulate)
{
    *accumulate = B->ready[v];
    return *accumulate ? vkc_tensor_as(B->m->scratch, B->m->values[v].dtype) : B->m->values[v].grad;
}

static int grad_commit(Backward *B, int v, bool accumulate)
{
    B->ready[v] = true;
    if (!accumulate) return VKC_OK;
    VkcTensor g = B->m->values[v].grad;
    return vkc_add(B->m->layers, B->cmd, floats(B->m, v, B->batch), g, vkc_tensor_as(B->m->scratch, g.dtype), g);
}

int vkc_model_backward(VkcModel *m, VkcCmd *cmd, VkcTensor x, uint32_t batch, VkcTensor dembed)
{
    if (batch == 0 || batch > m->max_batch)
        return vkc_fail("model backward: batch %u is outside 1..%u", batch, m->max_batch);
    bool *ready = calloc((size_t)m->nvalues, sizeof *ready);
    if (!ready) return vkc_fail("out of host memory");
    Backward B = {.m = m, .cmd = cmd, .batch = batch, .ready = ready};
    m->values[m->embed_value].grad = dembed;
    ready[m->embed_value] = true;
    int rc = VKC_OK;
    for (int i = m->nops - 1; i >= 0 && !rc; i--) {
        const VkcModelOp *op = &m->ops[i];
        const OpKindRow *kind = &op_kinds[op->kind];
        mark(m, cmd, m->ts_bwd, i);
        if (op->out == m->image_value) continue; /* the cast of the images: nothing wants their gradient */
        if (!ready[op->out]) {
            rc = vkc_fail("model backward: value %d has no gradient (graph not connected)", op->out);
            break;
        }
        OpIO io = op_io(m, op, x, batch);
        /* The images need no gradient (nor their 16-bit cast); an op that joins two values
         * writes both itself. */
        bool need_dx = op->in != m->input_value && op->in != m->image_value && !kind->own_input_grads, acc = false;
        VkcTensor dx = need_dx ? grad_target(&B, op->in, &acc) : (VkcTensor){0};
        rc = kind->backward(&B, op, &io, dx);
        if (!rc && need_dx) rc = grad_commit(&B, op->in, acc);
        if (rc) vkc_fail_context("model backward, op %d", i);
    }
    if (!rc) mark(m, cmd, m->ts_bwd, m->nops);
    m->values[m->embed_value].grad = (VkcTensor){0};
    free(ready);
    return rc;
}
