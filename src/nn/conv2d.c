/* conv2d, NCHW: forward, backward to the input, backward to the weights (split K plus an
 * ordered reduction). The shaders are direct "implicit GEMM" kernels: each invocation keeps
 * a tile of outputs in registers and reads the input through texel buffers; nothing is
 * unfolded into an im2col buffer. */
#include <string.h>

#include "layers_internal.h"

typedef struct {
    uint32_t N, Cin, H, W, Cout, Ho, Wo, pad, has_bias;
} ConvPush;

typedef struct {
    uint32_t N, Cin, H, W, Cout, Ho, Wo, pad, rows, nchunks, has_bias;
} ConvWeightPush;

typedef struct {
    uint32_t len, nchunks, stride, src;
} ReducePush;

/* Register tile of the weight-gradient kernel: (co, ci) channels, TCO*TCI*k*k accumulators.
 * (The forward/backward-input tiles are per device: L->conv_tch x 4*L->conv_tpx4.) */

static void weight_tile(uint32_t kernel, uint32_t *tco, uint32_t *tci)
{
    if (kernel == 1) *tco = 8, *tci = 8;      /* 64 accumulators, 16 fetches per pixel */
    else if (kernel == 3) *tco = 4, *tci = 2; /* 72 accumulators, 22 fetches per pixel */
    else *tco = 2, *tci = 1;                  /* 5x5: 50, 7x7: 98 accumulators */
}

uint32_t vkc_conv2d_out_h(const VkcConv2d *c) { return (c->H + 2 * c->pad - c->kernel) / c->stride + 1; }
uint32_t vkc_conv2d_out_w(const VkcConv2d *c) { return (c->W + 2 * c->pad - c->kernel) / c->stride + 1; }

double vkc_conv2d_flops(const VkcConv2d *c)
{
    return 2.0 * c->N * c->C_out * vkc_conv2d_out_h(c) * vkc_conv2d_out_w(c) * c->C_in * c->kernel * c->kernel;
}

static int check_shape(const VkcConv2d *c, const char *op)
{
    if (!c->N || !c->C_in || !c->H || !c->W || !c->C_out)
        return vkc_fail("%s: empty shape N=%u C_in=%u H=%u W=%u C_out=%u", op, c->N, c->C_in, c->H, c->W, c->C_out);
    if (c->kernel % 2 == 0 || c->kernel > 7) return vkc_fail("%s: kernel %u is not odd and at most 7", op, c->kernel);
    if (c->stride != 1 && c->stride != 2) return vkc_fail("%s: stride %u is not 1 or 2", op, c->stride);
    if (c->pad >= c->kernel) return vkc_fail("%s: padding %u is not smaller than the kernel %u", op, c->pad, c->kernel);
    if (c->H + 2 * c->pad < c->kernel || c->W + 2 * c->pad < c->kernel)
        return vkc_fail("%s: input %ux%u with padding %u is smaller than the kernel %u", op, c->H, c->W, c->pad,
                        c->kernel);
    return vkc_layers_need(op, "weight", c->weight, (uint64_t)c->C_out * c->C_in * c->kernel * c->kernel);
}

static ConvPush conv_push(const VkcConv2d *c)
{
    return (ConvPush){c->N, c->C_in, c->H, c->W, c->C_out, vkc_conv2d_out_h(c), vkc_conv2d_out_w(c), c->pad,
                      c->bias.buffer != VK_NULL_HANDLE};
}

/* Split of the K = N*Ho rows of the weight gradient into chunks: enough invocations to fill
 * the device, and a partial buffer well inside one storage binding. */
static void weight_split(const VkcLayers *L, const VkcConv2d *c, uint32_t *rows, uint32_t *nchunks, uint32_t *stride)
{
    uint32_t tco, tci;
    weight_tile(c->kernel, &tco, &tci);
    uint32_t blocks = vkc_div_up(c->C_out, tco) * vkc_div_up(c->C_in, tci);
    uint32_t total_rows = c->N * vkc_conv2d_out_h(c);
    *stride = c->C_out * c->C_in * c->kernel * c->kernel + c->C_out;
    uint32_t n = vkc_div_up(L->reduce_lanes, blocks);
    uint32_t cap = (16u << 20) / *stride; /* 64 MiB of partials at most */
    if (n > cap) n = cap;
    if (n < 1) n = 1;
    if (n > total_rows) n = total_rows;
    *rows = vkc_div_up(total_rows, n);
    *nchunks = vkc_div_up(total_rows, *rows);
}

VkDeviceSize vkc_conv2d_work_bytes(const VkcLayers *L, const VkcConv2d *c)
{
    uint32_t rows, nchunks, stride;
    weight_split(L, c, &rows, &nchunks, &stride);
    return (VkDeviceSize)nchunks * stride * 4;
}

static int grid_x(const VkcLayers *L, uint64_t items, uint32_t per_invocation, uint32_t *gx)
{
    uint64_t g = (items + (uint64_t)per_invocation * L->wg_conv - 1) / ((uint64_t)per_invocation * L->wg_conv);
    if (g > L->ctx->props.limits.maxComputeWorkGroupCount[0])
        return vkc_fail("conv2d: %llu pixels are too many for one dispatch", (unsigned long long)items);
    *gx = (uint32_t)g;
    return VKC_OK;
}

int vkc_conv2d_forward(VkcLayers *L, VkcCmd *cmd, const VkcConv2d *c, VkcTensor x, VkcTensor y)
{
    if (check_shape(c, "conv2d forward")) return VKC_ERR;
    ConvPush push = conv_push(c);
    uint64_t out = (uint64_t)c->N * c->C_out * push.Ho * push.Wo;
    if (vkc_layers_need("conv2d forward", "x", x, (uint64_t)c->N * c->C_in * c->H * c->W) ||
        vkc_layers_need("conv2d forward", "y", y, out) ||
        (push.has_bias && vkc_layers_need("conv2d forward", "bias", c->bias, c->C_out)))
        return VKC_ERR;
    uint32_t spec[7] = {L->wg_conv, 1, 1, c->kernel, c->stride, L->conv_tch, L->conv_tpx4};
    const VkcKernel *k;
    uint32_t gx = 0;
    if (vkc_layers_kernel(L, "conv2d", "sssb", sizeof push, spec, 7, &k) ||
        grid_x(L, (uint64_t)c->N * push.Ho * push.Wo, 4 * L->conv_tpx4, &gx))
        return VKC_ERR;
    VkcTensor t[4] = {x, c->weight, push.has_bias ? c->bias : c->weight, y};
    return vkc_cmd_dispatch(cmd, k, t, 0, &push, gx, vkc_div_up(c->C_out, L->conv_tch), 1);
}

int vkc_conv2d_backward_input(VkcLayers *L, VkcCmd *cmd, const VkcConv2d *c, VkcTensor dy, VkcTensor dx)
{
    if (check_shape(c, "conv2d backward-input")) return VKC_ERR;
    ConvPush push = conv_push(c);
    if (vkc_layers_need("conv2d backward-input", "dy", dy, (uint64_t)c->N * c->C_out * push.Ho * push.Wo) ||
        vkc_layers_need("conv2d backward-input", "dx", dx, (uint64_t)c->N * c->C_in * c->H * c->W))
        return VKC_ERR;
    uint32_t spec[7] = {L->wg_conv, 1, 1, c->kernel, c->stride, L->conv_tch, L->conv_tpx4};
    const VkcKernel *k;
    uint32_t gx = 0;
    if (vkc_layers_kernel(L, "conv2d_bwd_input", "ssb", 8 * sizeof(uint32_t), spec, 7, &k) ||
        grid_x(L, (uint64_t)c->N * c->H * c->W, 4 * L->conv_tpx4, &gx))
        return VKC_ERR;
    VkcTensor t[3] = {dy, c->weight, dx};
    return vkc_cmd_dispatch(cmd, k, t, 0, &push, gx, vkc_div_up(c->C_in, L->conv_tch), 1);
}

int vkc_conv2d_backward_weight(VkcLayers *L, VkcCmd *cmd, const VkcConv2d *c, VkcTensor x, VkcTensor dy,
                               VkcTensor dweight, VkcTensor dbias)
{
    const char *op = "conv2d backward-weight";
    if (check_shape(c, op)) return VKC_ERR;
    ConvPush cp = conv_push(c);
    uint32_t rows, nchunks, stride, tco, tci;
    weight_split(L, c, &rows, &nchunks, &stride);
    weight_tile(c->kernel, &tco, &tci);
    uint32_t nw = c->C_out * c->C_in * c->kernel * c->kernel;
    if (vkc_layers_need(op, "x", x, (uint64_t)c->N * c->C_in * c->H * c->W) ||
        vkc_layers_need(op, "dy", dy, (uint64_t)c->N * c->C_out * cp.Ho * cp.Wo) ||
        vkc_layers_need(op, "dweight", dweight, nw) ||
        (cp.has_bias && vkc_layers_need(op, "dbias", dbias, c->C_out)) ||
        vkc_layers_need(op, "work", c->work, (uint64_t)nchunks * stride))
        return VKC_ERR;

    ConvWeightPush push = {c->N, c->C_in, c->H, c->W, c->C_out, cp.Ho, cp.Wo, c->pad, rows, nchunks, cp.has_bias};
    uint32_t spec[7] = {L->wg_elem < 32 ? L->wg_elem : 32, 1, 1, c->kernel, c->stride, tco, tci};
    const VkcKernel *k;
    if (vkc_layers_kernel(L, "conv2d_bwd_weight", "ssb", sizeof push, spec, 7, &k)) return VKC_ERR;
    uint64_t invocations = (uint64_t)nchunks * vkc_div_up(c->C_out, tco) * vkc_div_up(c->C_in, tci);
    VkcTensor t[3] = {x, dy, c->work};
    if (vkc_layers_dispatch_1d(L, cmd, k, t, &push, (invocations + spec[0] - 1) / spec[0])) return VKC_ERR;

    /* Second pass: add the chunks in order, into dweight and dbias. */
    uint32_t rspec[1] = {L->wg_elem};
    if (vkc_layers_kernel(L, "reduce_chunks", "sb", sizeof(ReducePush), rspec, 1, &k)) return VKC_ERR;
    ReducePush rw = {nw, nchunks, stride, 0};
    VkcTensor tw[2] = {c->work, dweight};
    if (vkc_layers_dispatch_1d(L, cmd, k, tw, &rw, vkc_div_up(nw, L->wg_elem))) return VKC_ERR;
    if (!cp.has_bias) return VKC_OK;
    ReducePush rb = {c->C_out, nchunks, stride, nw};
    VkcTensor tb[2] = {c->work, dbias};
    return vkc_layers_dispatch_1d(L, cmd, k, tb, &rb, vkc_div_up(c->C_out, L->wg_elem));
}
