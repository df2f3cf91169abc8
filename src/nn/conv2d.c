/* conv2d, NCHW: forward, backward to the input, backward to the weights (split K plus an
 * ordered reduction). Two implementations, chosen per device (L->conv_im2col):
 *  - direct "implicit GEMM" kernels (GPUs): each invocation keeps a tile of outputs in
 *    registers and reads the input through texel buffers; nothing is unfolded.
 *  - im2col + GEMM (CPU devices): a chunk of the batch is unfolded into c->work and the
 *    tuned GEMM (shaders/gemm.comp) does the arithmetic; on lavapipe that is several times
 *    faster than the direct kernels even counting the unfold. */
#include <stdlib.h>
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

/* ---------------------------------------------------------------- im2col + GEMM path */

enum { PASS_FWD, PASS_BWD_IN, PASS_BWD_W };

#define COL_CAP_BYTES (16u << 20) /* one unfolded chunk: well inside maxStorageBufferRange, and a
                                   * work tensor per layer stays small (ResNet-18 has 20 convs) */

typedef struct {
    uint32_t n0, nimg, C, H, W, Ho, Wo, P4, pad, rows, L;
} ColPush;

typedef struct {
    uint32_t n0, nimg, C, P, P4, L, has_bias;
} UnpackPush;

typedef struct {
    uint32_t Cout, Cin, KK, ld, mode, has_bias;
} PackPush;

/* Layout of c->work for one pass: [a: packed weights or split-K partials][col][t], each
 * section 256-byte aligned. The batch is processed `nimg` images at a time. */
typedef struct {
    uint32_t P, P4, col_rows, t_rows, a_ld, nimg, nchunks;
    bool direct_out; /* forward/backward-input: the GEMM writes NCHW itself (no unpack pass) */
    uint32_t ipb, nslots; /* weight gradient: images per split-K slot, slots in all */
    VkDeviceSize off_col, off_t, end;
} ColPlan;

static VkDeviceSize align256(VkDeviceSize b) { return (b + 255) & ~(VkDeviceSize)255; }

static bool col_pass_possible(const VkcConv2d *c, int pass)
{
    if (pass == PASS_BWD_IN) return c->stride == 1; /* backward-input as a convolution of dy */
    /* A weight gradient with few input channels (the first layer) is a long, thin product
     * that the direct kernel does 2-3x faster on lavapipe than unfold + GEMM. */
    if (pass == PASS_BWD_W) return c->C_in * c->kernel * c->kernel + 1 > 64;
    return true;
}

static ColPlan col_plan(const VkcLayers *L, const VkcConv2d *c, int pass)
{
    ColPlan p = {0};
    uint32_t KK = c->kernel * c->kernel, Ho = vkc_conv2d_out_h(c), Wo = vkc_conv2d_out_w(c);
    p.P = pass == PASS_BWD_IN ? c->H * c->W : Ho * Wo;
    p.P4 = (p.P + 3) & ~3u;
    /* (the forward and weight-gradient columns have room for the row of ones of the bias) */
    p.col_rows = pass == PASS_FWD ? c->C_in * KK + 1 : pass == PASS_BWD_IN ? c->C_out * KK : c->C_in * KK + 1;
    p.t_rows = pass == PASS_BWD_IN ? c->C_in : c->C_out;
    uint32_t widest = p.col_rows > p.t_rows ? p.col_rows : p.t_rows;
    uint64_t per_image = (uint64_t)widest * p.P4 * 4;
    p.nimg = per_image >= COL_CAP_BYTES ? 1 : (uint32_t)(COL_CAP_BYTES / per_image);
    const char *env = getenv("VKCLR_CONV_CHUNK"); /* images per chunk at most: for checks and tuning */
    if (env && atoi(env) > 0 && p.nimg > (uint32_t)atoi(env)) p.nimg = (uint32_t)atoi(env);
    if (p.nimg > c->N) p.nimg = c->N;
    p.nchunks = vkc_div_up(c->N, p.nimg);
    VkDeviceSize a_bytes;
    if (pass == PASS_BWD_W) {
        /* Split K further when the product is too small to give every core work: a narrow
         * dW (few input channels) would otherwise be a handful of invocations walking the whole
         * batch. Each slot of ipb images is one matrix of a batched GEMM. */
        uint32_t tiles = vkc_div_up(c->C_out, 8) * vkc_div_up(c->C_in * KK, 16);
        uint32_t want = tiles >= 128 ? 1 : vkc_div_up(128, tiles);
        p.ipb = vkc_div_up(p.nimg, want);
        uint32_t last = c->N - (p.nchunks - 1) * p.nimg;
        p.nslots = (p.nchunks - 1) * vkc_div_up(p.nimg, p.ipb) + vkc_div_up(last, p.ipb);
        a_bytes = (VkDeviceSize)p.nslots * c->C_out * p.col_rows * 4;
    } else {
        p.a_ld = (p.col_rows + 3) & ~3u;
        a_bytes = (VkDeviceSize)p.t_rows * p.a_ld * 4;
        /* Writing y straight from a GEMM batched over images saves the unpack pass but pads
         * each image's plane to whole GEMM tiles: worth it when the planes fill the tiles or
         * the product is so short (small K) that moving data dominates. */
        uint32_t tile = 4 * L->gemm.wide.tn4 * L->gemm.wide.wg_x;
        uint32_t padded = vkc_div_up(p.P, tile) * tile;
        p.direct_out = p.P % 4 == 0 && (p.col_rows <= 64 || (uint64_t)(padded - p.P) * 8 <= p.P);
    }
    uint64_t row = (uint64_t)p.nimg * p.P4;
    p.off_col = align256(a_bytes);
    p.off_t = p.off_col + align256(row * p.col_rows * 4);
    /* Weight gradient: one spare row after dy so the batched GEMM's size check (whole rows
     * from each slot's first column) holds for the later slots. */
    p.end = p.off_t + align256((row * p.t_rows + (pass == PASS_BWD_W ? row : 0)) * 4);
    return p;
}

/* Whether this pass takes the im2col path (1, with its plan) or the direct kernels (0). A
 * layer without a work tensor runs the direct kernels; one whose work tensor is smaller than
 * vkc_conv2d_work_bytes() asked for is a sizing mistake and an error (-1), not a quiet slowdown. */
static int use_col(const VkcLayers *L, const VkcConv2d *c, int pass, ColPlan *plan)
{
    if (!L->conv_im2col || !col_pass_possible(c, pass) || !c->work.buffer) return 0;
    *plan = col_plan(L, c, pass);
    if (c->work.size < plan->end)
        return vkc_fail("conv2d: work tensor of %llu bytes, this layer needs %llu (vkc_conv2d_work_bytes)",
                        (unsigned long long)c->work.size, (unsigned long long)plan->end);
    return 1;
}

VkDeviceSize vkc_conv2d_work_bytes(const VkcLayers *L, const VkcConv2d *c)
{
    uint32_t rows, nchunks, stride;
    weight_split(L, c, &rows, &nchunks, &stride);
    VkDeviceSize bytes = (VkDeviceSize)nchunks * stride * 4; /* direct weight-gradient kernel */
    if (L->conv_im2col) {
        if (col_pass_possible(c, PASS_BWD_W)) bytes = 0; /* the im2col path replaces it */
        for (int pass = PASS_FWD; pass <= PASS_BWD_W; pass++) {
            if (!col_pass_possible(c, pass)) continue;
            VkDeviceSize b = col_plan(L, c, pass).end;
            if (b > bytes) bytes = b;
        }
    }
    return bytes;
}

static VkcTensor part(VkcTensor t, VkDeviceSize offset, VkDeviceSize bytes)
{
    return vkc_tensor_slice(t, offset, bytes);
}

static uint64_t groups_for(const VkcLayers *L, uint64_t invocations)
{
    return (invocations + L->wg_elem - 1) / L->wg_elem;
}

/* Unfold images n0 .. n0+nimg-1 of src ([N][C][H][W]) into col (see conv2d_im2col.comp). */
static int im2col(VkcLayers *L, VkcCmd *cmd, VkcTensor src, VkcTensor col, uint32_t ks, uint32_t stride,
                  const ColPush *push)
{
    uint32_t spec[5] = {L->wg_elem, 1, 1, ks, stride};
    const VkcKernel *k;
    if (vkc_layers_kernel(L, VKC_SHADER_CONV2D_IM2COL, "sb", sizeof *push, spec, 5, &k)) return VKC_ERR;
    VkcTensor t[2] = {src, col};
    return vkc_layers_dispatch_1d(L, cmd, k, t, push, groups_for(L, (uint64_t)push->rows * push->nimg));
}

static int unpack(VkcLayers *L, VkcCmd *cmd, VkcTensor tmp, VkcTensor bias, VkcTensor dst, const UnpackPush *push)
{
    uint32_t spec[3] = {L->wg_elem, 1, 1};
    const VkcKernel *k;
    if (vkc_layers_kernel(L, VKC_SHADER_CONV2D_UNPACK, "tsb", sizeof *push, spec, 3, &k)) return VKC_ERR;
    VkcTensor t[3] = {tmp, push->has_bias ? bias : tmp, dst};
    return vkc_layers_dispatch_1d(L, cmd, k, t, push, groups_for(L, (uint64_t)push->C * push->nimg));
}

static int wpack(VkcLayers *L, VkcCmd *cmd, const VkcConv2d *c, uint32_t mode, uint32_t ld, bool bias_col,
                 VkcTensor a)
{
    uint32_t spec[3] = {L->wg_elem, 1, 1};
    const VkcKernel *k;
    if (vkc_layers_kernel(L, VKC_SHADER_CONV2D_WPACK, "ssb", sizeof(PackPush), spec, 3, &k)) return VKC_ERR;
    PackPush push = {c->C_out, c->C_in, c->kernel * c->kernel, ld, mode, bias_col};
    VkcTensor t[3] = {c->weight, bias_col ? c->bias : c->weight, a};
    return vkc_layers_dispatch_1d(L, cmd, k, t, &push, groups_for(L, (uint64_t)(mode ? c->C_in : c->C_out) * ld));
}

/* Forward (PASS_FWD: x -> y) or backward-input (PASS_BWD_IN: dy -> dx, stride 1, as the
 * convolution of dy with the transposed, flipped kernel and padding k-1-pad). */
static int col_conv(VkcLayers *L, VkcCmd *cmd, const VkcConv2d *c, int pass, const ColPlan *pl, VkcTensor src,
                    VkcTensor dst)
{
    bool fwd = pass == PASS_FWD, has_bias = fwd && c->bias.buffer != VK_NULL_HANDLE;
    uint32_t Ho = vkc_conv2d_out_h(c), Wo = vkc_conv2d_out_w(c), KK = c->kernel * c->kernel;
    /* Writing NCHW directly, the bias rides along as a column of A times the row of ones. */
    bool ones = has_bias && pl->direct_out;
    uint32_t K = (fwd ? c->C_in : c->C_out) * KK + ones;
    VkcTensor a = part(c->work, 0, (VkDeviceSize)pl->t_rows * pl->a_ld * 4);
    if (wpack(L, cmd, c, fwd ? 0 : 1, pl->a_ld, ones, a)) return VKC_ERR;
    for (uint32_t n0 = 0; n0 < c->N; n0 += pl->nimg) {
        uint32_t nimg = c->N - n0 < pl->nimg ? c->N - n0 : pl->nimg, len = nimg * pl->P4;
        VkcTensor col = part(c->work, pl->off_col, (VkDeviceSize)K * len * 4);
        VkcTensor tmp = part(c->work, pl->off_t, (VkDeviceSize)pl->t_rows * len * 4);
        ColPush cp = fwd ? (ColPush){n0, nimg, c->C_in, c->H, c->W, Ho, Wo, pl->P4, c->pad, K, len}
                         : (ColPush){n0, nimg, c->C_out, Ho, Wo, c->H, c->W, pl->P4, c->kernel - 1 - c->pad, K, len};
        if (im2col(L, cmd, src, col, c->kernel, fwd ? c->stride : 1, &cp)) return VKC_ERR;
        if (pl->direct_out) {
            /* One product per image: B runs on into the t section (the batched GEMM's size
             * check wants whole rows from the last image's first column). */
            VkDeviceSize plane = (VkDeviceSize)pl->t_rows * pl->P;
            VkcGemmArgs g = {.M = pl->t_rows, .N = pl->P, .K = K, .A = a,
                             .B = part(c->work, pl->off_col, pl->end - pl->off_col),
                             .C = part(dst, n0 * plane * 4, nimg * plane * 4), .lda = pl->a_ld, .ldb = len,
                             .ldc = pl->P, .alpha = 1.0f, .beta = 0.0f, .batch = nimg, .stride_b = pl->P4,
                             .stride_c = (uint32_t)plane};
            if (vkc_gemm_record(&L->gemm, cmd, &g)) return VKC_ERR;
            continue;
        }
        VkcGemmArgs g = {.M = pl->t_rows, .N = len, .K = K, .A = a, .B = col, .C = tmp,
                         .lda = pl->a_ld, .ldb = len, .ldc = len, .alpha = 1.0f, .beta = 0.0f};
        if (vkc_gemm_record(&L->gemm, cmd, &g)) return VKC_ERR;
        UnpackPush up = {n0, nimg, pl->t_rows, pl->P, pl->P4, len, has_bias};
        if (unpack(L, cmd, tmp, c->bias, dst, &up)) return VKC_ERR;
    }
    return VKC_OK;
}

typedef struct {
    uint32_t Cout, R, ck, nslots, stride;
} WReducePush;

/* Weight (and bias) gradient: per chunk of images, dy_chunk * col_chunk^T as GEMMs over the
 * chunk's pixels, split into slots of ipb images (one batched GEMM); with a bias the row of
 * ones in col makes the last column of each product the bias gradient. Then the slots are
 * added in order. */
static int col_weight(VkcLayers *L, VkcCmd *cmd, const VkcConv2d *c, const ColPlan *pl, VkcTensor x, VkcTensor dy,
                      VkcTensor dweight, VkcTensor dbias)
{
    uint32_t Ho = vkc_conv2d_out_h(c), Wo = vkc_conv2d_out_w(c);
    bool has_bias = c->bias.buffer != VK_NULL_HANDLE;
    uint32_t ck = c->C_in * c->kernel * c->kernel, R = has_bias ? ck + 1 : ck, stride = c->C_out * R;
    uint32_t slot = 0;
    for (uint32_t n0 = 0; n0 < c->N; n0 += pl->nimg) {
        uint32_t nimg = c->N - n0 < pl->nimg ? c->N - n0 : pl->nimg, len = nimg * pl->P4;
        VkcTensor col = part(c->work, pl->off_col, (VkDeviceSize)R * len * 4);
        VkcTensor g = part(c->work, pl->off_t, (VkDeviceSize)c->C_out * len * 4);
        ColPush xp = {n0, nimg, c->C_in, c->H, c->W, Ho, Wo, pl->P4, c->pad, R, len};
        ColPush gp = {n0, nimg, c->C_out, Ho, Wo, Ho, Wo, pl->P4, 0, c->C_out, len};
        if (im2col(L, cmd, x, col, c->kernel, c->stride, &xp) || im2col(L, cmd, dy, g, 1, 1, &gp)) return VKC_ERR;
        /* Slots of ipb images as one batched GEMM, then the leftover images (if any) as one more. */
        uint32_t full = nimg / pl->ipb, rem = nimg % pl->ipb;
        for (int tail = 0; tail < 2; tail++) {
            uint32_t batch = tail ? (rem ? 1 : 0) : full;
            if (!batch) continue;
            uint32_t imgs = tail ? rem : pl->ipb;
            VkDeviceSize k0 = tail ? (VkDeviceSize)full * pl->ipb * pl->P4 : 0; /* first column */
            /* A and B run to the end of the work tensor (see col_plan's spare row). */
            VkDeviceSize a0 = g.offset - c->work.offset + k0 * 4, b0 = col.offset - c->work.offset + k0 * 4;
            VkcGemmArgs w = {.trans_b = true, .M = c->C_out, .N = R, .K = imgs * pl->P4,
                             .A = part(c->work, a0, pl->end - a0), .B = part(c->work, b0, pl->end - b0),
                             .C = part(c->work, (VkDeviceSize)slot * stride * 4, (VkDeviceSize)batch * stride * 4),
                             .lda = len, .ldb = len, .ldc = R, .alpha = 1.0f, .beta = 0.0f, .batch = batch,
                             .stride_a = imgs * pl->P4, .stride_b = imgs * pl->P4, .stride_c = stride};
            if (vkc_gemm_record(&L->gemm, cmd, &w)) return VKC_ERR;
            slot += batch;
        }
    }
    uint32_t spec[3] = {L->wg_elem, 1, 1};
    const VkcKernel *k;
    if (vkc_layers_kernel(L, VKC_SHADER_CONV2D_WREDUCE, "sbb", sizeof(WReducePush), spec, 3, &k)) return VKC_ERR;
    WReducePush rp = {c->C_out, R, ck, slot, stride};
    VkcTensor t[3] = {part(c->work, 0, (VkDeviceSize)slot * stride * 4), dweight, has_bias ? dbias : dweight};
    return vkc_layers_dispatch_1d(L, cmd, k, t, &rp, groups_for(L, (uint64_t)stride));
}

static int grid_x(const VkcLayers *L, uint64_t items, uint32_t per_invocation, uint32_t *gx)
{
    uint64_t g = (items + (uint64_t)per_invocation * L->wg_conv - 1) / ((uint64_t)per_invocation * L->wg_conv);
    if (g > L->ctx->props.limits.maxComputeWorkGroupCount[0])
        return vkc_fail("conv2d: %llu pixels are too many for one dispatch", (unsigned long long)items);
    *gx = (uint32_t)g;
    return VKC_OK;
}

/* The convolution kernels read and write float32 activations only (so far). */
static int float32_only(const char *op, VkcTensor a, VkcTensor b)
{
    if (a.dtype != VKC_F32 || b.dtype != VKC_F32)
        return vkc_fail("%s: %s activations are not implemented in the convolution kernels", op,
                        vkc_dtype_name(a.dtype != VKC_F32 ? a.dtype : b.dtype));
    return VKC_OK;
}

int vkc_conv2d_forward(VkcLayers *L, VkcCmd *cmd, const VkcConv2d *c, VkcTensor x, VkcTensor y)
{
    if (check_shape(c, "conv2d forward") || float32_only("conv2d forward", x, y)) return VKC_ERR;
    ConvPush push = conv_push(c);
    uint64_t out = (uint64_t)c->N * c->C_out * push.Ho * push.Wo;
    if (vkc_layers_need("conv2d forward", "x", x, (uint64_t)c->N * c->C_in * c->H * c->W) ||
        vkc_layers_need("conv2d forward", "y", y, out) ||
        (push.has_bias && vkc_layers_need("conv2d forward", "bias", c->bias, c->C_out)))
        return VKC_ERR;
    ColPlan plan;
    int col = use_col(L, c, PASS_FWD, &plan);
    if (col < 0) return VKC_ERR;
    if (col) return col_conv(L, cmd, c, PASS_FWD, &plan, x, y);
    uint32_t spec[7] = {L->wg_conv, 1, 1, c->kernel, c->stride, L->conv_tch, L->conv_tpx4};
    const VkcKernel *k;
    uint32_t gx = 0;
    if (vkc_layers_kernel(L, VKC_SHADER_CONV2D, "sssb", sizeof push, spec, 7, &k) ||
        grid_x(L, (uint64_t)c->N * push.Ho * push.Wo, 4 * L->conv_tpx4, &gx))
        return VKC_ERR;
    VkcTensor t[4] = {x, c->weight, push.has_bias ? c->bias : c->weight, y};
    return vkc_cmd_dispatch(cmd, k, t, 0, &push, gx, vkc_div_up(c->C_out, L->conv_tch), 1);
}

int vkc_conv2d_backward_input(VkcLayers *L, VkcCmd *cmd, const VkcConv2d *c, VkcTensor dy, VkcTensor dx)
{
    if (check_shape(c, "conv2d backward-input") || float32_only("conv2d backward-input", dy, dx)) return VKC_ERR;
    ConvPush push = conv_push(c);
    if (vkc_layers_need("conv2d backward-input", "dy", dy, (uint64_t)c->N * c->C_out * push.Ho * push.Wo) ||
        vkc_layers_need("conv2d backward-input", "dx", dx, (uint64_t)c->N * c->C_in * c->H * c->W))
        return VKC_ERR;
    ColPlan plan;
    int col = use_col(L, c, PASS_BWD_IN, &plan);
    if (col < 0) return VKC_ERR;
    if (col) return col_conv(L, cmd, c, PASS_BWD_IN, &plan, dy, dx);
    uint32_t spec[7] = {L->wg_conv, 1, 1, c->kernel, c->stride, L->conv_tch, L->conv_tpx4};
    const VkcKernel *k;
    uint32_t gx = 0;
    if (vkc_layers_kernel(L, VKC_SHADER_CONV2D_BWD_INPUT, "ssb", 8 * sizeof(uint32_t), spec, 7, &k) ||
        grid_x(L, (uint64_t)c->N * c->H * c->W, 4 * L->conv_tpx4, &gx))
        return VKC_ERR;
    VkcTensor t[3] = {dy, c->weight, dx};
    return vkc_cmd_dispatch(cmd, k, t, 0, &push, gx, vkc_div_up(c->C_in, L->conv_tch), 1);
}

int vkc_conv2d_backward_weight(VkcLayers *L, VkcCmd *cmd, const VkcConv2d *c, VkcTensor x, VkcTensor dy,
                               VkcTensor dweight, VkcTensor dbias)
{
    const char *op = "conv2d backward-weight";
    if (check_shape(c, op) || float32_only(op, x, dy)) return VKC_ERR;
    ConvPush cp = conv_push(c);
    uint32_t rows, nchunks, stride, tco, tci;
    weight_split(L, c, &rows, &nchunks, &stride);
    weight_tile(c->kernel, &tco, &tci);
    uint32_t nw = c->C_out * c->C_in * c->kernel * c->kernel;
    if (vkc_layers_need(op, "x", x, (uint64_t)c->N * c->C_in * c->H * c->W) ||
        vkc_layers_need(op, "dy", dy, (uint64_t)c->N * c->C_out * cp.Ho * cp.Wo) ||
        vkc_layers_need(op, "dweight", dweight, nw) ||
        (cp.has_bias && vkc_layers_need(op, "dbias", dbias, c->C_out)))
        return VKC_ERR;

    const VkcKernel *k;
    ColPlan plan;
    int col = use_col(L, c, PASS_BWD_W, &plan);
    if (col < 0) return VKC_ERR;
    if (col) return col_weight(L, cmd, c, &plan, x, dy, dweight, dbias);
    {
        if (vkc_layers_need(op, "work", c->work, (uint64_t)nchunks * stride)) return VKC_ERR;
        ConvWeightPush push = {c->N, c->C_in, c->H, c->W, c->C_out, cp.Ho, cp.Wo, c->pad, rows, nchunks, cp.has_bias};
        uint32_t spec[7] = {L->wg_elem < 32 ? L->wg_elem : 32, 1, 1, c->kernel, c->stride, tco, tci};
        if (vkc_layers_kernel(L, VKC_SHADER_CONV2D_BWD_WEIGHT, "ssb", sizeof push, spec, 7, &k)) return VKC_ERR;
        uint64_t invocations = (uint64_t)nchunks * vkc_div_up(c->C_out, tco) * vkc_div_up(c->C_in, tci);
        VkcTensor t[3] = {x, dy, c->work};
        if (vkc_layers_dispatch_1d(L, cmd, k, t, &push, (invocations + spec[0] - 1) / spec[0])) return VKC_ERR;
    }

    /* Second pass: add the chunks in order, into dweight and dbias. */
    uint32_t rspec[1] = {L->wg_elem};
    if (vkc_layers_kernel(L, VKC_SHADER_REDUCE_CHUNKS, "sb", sizeof(ReducePush), rspec, 1, &k)) return VKC_ERR;
    ReducePush rw = {nw, nchunks, stride, 0};
    VkcTensor tw[2] = {c->work, dweight};
    if (vkc_layers_dispatch_1d(L, cmd, k, tw, &rw, vkc_div_up(nw, L->wg_elem))) return VKC_ERR;
    if (!cp.has_bias) return VKC_OK;
    ReducePush rb = {c->C_out, nchunks, stride, nw};
    VkcTensor tb[2] = {c->work, dbias};
    return vkc_layers_dispatch_1d(L, cmd, k, tb, &rb, vkc_div_up(c->C_out, L->wg_elem));
}
