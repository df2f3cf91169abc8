/* conv2d, NCHW: forward, backward to the input, backward to the weights, all as implicit
 * GEMMs (nothing is unfolded into memory). Two kernel families, picked per device class in
 * vkc_layers_init (L->conv_variant; VKCLR_CONV_PATH=reg|smem forces one, for checks):
 *  - reg (CPU drivers, lavapipe): shaders/conv2d_{fwd,dgrad,wgrad}_reg.comp. Workgroups of 16,
 *    each invocation a register tile of 8 channels x ~16 pixels (rows or 4x4 blocks of one
 *    image; reg_tile/wgrad_tile), inputs through texel buffers (rgba32f when rows are whole
 *    texels), vec4 stores, no shared memory (shared/notes/lavapipe.md). Data every lane of a
 *    subgroup needs (the weights; the x rows of the weight gradient) is fetched once per
 *    subgroup and passed round with subgroupShuffle at constant lanes (the device's subgroup
 *    size as a specialization constant; VKCLR_CONV_SG=0 turns it off). The forward can also
 *    write the batch statistics of its output for the batch norm after it (c->stats).
 *  - smem (GPUs): shaders/conv2d_{fwd,dgrad,wgrad}_smem.comp. 64x128 (32x128) block tiles of
 *    4x8 (4x4) per invocation, 256 invocations, staged through shared memory, double-buffered
 *    (shaders/conv2d_smem.glsl), vec4 weight and dy loads.
 * The weights are first rearranged reduction-major (shaders/conv2d_wpack.comp) into c->work;
 * the weight gradient is split over K = N*Ho*Wo into slots whose partial sums land in c->work
 * and are added in slot order by a second pass (reduce_chunks.comp): no float atomics, the
 * same inputs give bit-identical results (DESIGN.md decision 4). Tiles can be forced for
 * checks and tuning: VKCLR_CONV_{FWD,DGRAD,WGRAD}_TILE (reg) and _BLOCK (smem).
 *  - coop (16-bit activations, where the device runs cooperative matrices: ctx->coop.ok):
 *    the smem shaders built with -DCOOP (conv2d_{fwd,dgrad,wgrad}_coop_f16/_bf16) on the
 *    cooperative-matrix core shaders/coopmat_gemm.glsl: the same implicit GEMMs and epilogues,
 *    16-bit products (the weights rounded when staged) on the device's matrix shape, float32
 *    sums; tiles of subgroups and matrices per device class (coop.c). The forward writes the
 *    batch statistics of its output blocks, as reg does. With 16-bit activations this family
 *    is the default wherever it runs (explicit --precision fp16/bf16 and auto on GPUs).
 * Activations (x, y, dy, dx) may be 16-bit: every kernel has fp16 and bf16 builds
 * (shaders/precision.glsl) that convert on load and store; weights, their gradients, the
 * statistics and all accumulation stay float32. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coop.h"
#include "layers_internal.h"

typedef struct {
    uint32_t len, nchunks, stride, src;
} ReducePush;
VKC_PUSH_CONTRACT(ReducePush, REDUCE_CHUNKS);

typedef struct {
    uint32_t Cout, Cin, KK, ld, mode;
} PackPush;
VKC_PUSH_CONTRACT(PackPush, CONV2D_WPACK);

static int reduce_slots(VkcLayers *L, VkcCmd *cmd, const VkcConv2d *c, VkcTensor partials, uint32_t nslots,
                        uint32_t stride, VkcTensor dweight, VkcTensor dbias);

/* Forward and backward-input of the reg kernels (the same layout; "C" is the output channels
 * of the pass: Cout forward, Cin backward). */
typedef struct {
    uint32_t N, Cin, H, W, Cout, Ho, Wo, rblocks, segs, ldw, has_bias, groups;
} RegPush;
VKC_PUSH_CONTRACT(RegPush, CONV2D_FWD_REG);
VKC_PUSH_PREFIX(RegPush, CONV2D_DGRAD_REG);

typedef struct {
    uint32_t N, Cin, H, W, Cout, Ho, Wo, rows, nchunks, segs, has_bias;
} WgradPush;
VKC_PUSH_CONTRACT(WgradPush, CONV2D_WGRAD_REG);

/* conv2d_{fwd,dgrad}_smem.comp (and their coop builds): dgrad's Push ends at ld. */
typedef struct {
    uint32_t N, Cin, H, W, Cout, Ho, Wo, ld, has_bias, groups;
} SmemPush;
VKC_PUSH_CONTRACT(SmemPush, CONV2D_FWD_SMEM);
VKC_PUSH_PREFIX(SmemPush, CONV2D_DGRAD_SMEM);

typedef struct {
    uint32_t N, Cin, H, W, Cout, Ho, Wo, klen, has_bias;
} SmemWgradPush;
VKC_PUSH_CONTRACT(SmemWgradPush, CONV2D_WGRAD_SMEM);


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

static VkDeviceSize align256(VkDeviceSize b) { return (b + 255) & ~(VkDeviceSize)255; }
static VkcTensor part(VkcTensor t, VkDeviceSize offset, VkDeviceSize bytes) { return vkc_tensor_slice(t, offset, bytes); }

/* ---------------------------------------------------------------- tiles of the reg kernels */

enum { PASS_FWD = VKC_CONV_PASS_FORWARD, PASS_DGRAD = VKC_CONV_PASS_BACKWARD_INPUT, PASS_WGRAD = VKC_CONV_PASS_BACKWARD_WEIGHT };

/* Forward / backward-input: 4*tc4 channels x tr rows x tw columns per invocation, wg
 * invocations per workgroup. */
typedef struct {
    uint32_t tc4, tr, tw, wg;
} RegTile;

/* Weight gradient: 4*tco4 output x tci input channels x all taps, over tw output columns. */
typedef struct {
    uint32_t tco4, tci, tw, wg;
} WgradTile;

/* The tile the overrides give this pass and family, if any. */
static bool forced_tile(const VkcLayers *L, int pass, VkcConvVariant family, uint32_t v[4])
{
    if (family == VKC_CONV_COOP) return false; /* (no overrides: the checks go through the tuning table) */
    const uint32_t *t = L->ctx->kernels.conv_tile[pass][family == VKC_CONV_REG ? 0 : 1];
    if (!t[0]) return false;
    for (int i = 0; i < 4; i++) v[i] = t[i];
    return true;
}
/* Row segments of at most `cap` columns, as equal as possible, a multiple of `mult`. */
static uint32_t seg_width(uint32_t width, uint32_t cap, uint32_t mult)
{
    uint32_t segs = vkc_div_up(width, cap);
    uint32_t tw = vkc_div_up(width, segs);
    return vkc_div_up(tw, mult) * mult;
}

/* Tiles measured best on lavapipe (VKCLR_BENCH_CPU=1 and a sweep over the model shapes, with
 * the weights shared over the subgroup): about 16 output pixels x 8 channels per invocation
 * (32 vec4 accumulators): 2 rows of 8 or 4x4 blocks where rows are whole texels, 2 half rows
 * of 14, 2 rows of 7. */
static RegTile reg_tile(const VkcLayers *L, const VkcConv2d *c, int pass)
{
    uint32_t S = pass == PASS_DGRAD ? c->stride : 1;
    uint32_t outc = pass == PASS_FWD ? c->C_out : c->C_in;
    uint32_t width = pass == PASS_FWD ? vkc_conv2d_out_w(c) : c->W;
    RegTile t = {2, 2, 8, 16};
    if (c->kernel == 1) {
        t = (RegTile){8, 2, 8, 16}; /* short K: more channels per pixel fetched */
    } else if (c->stride == 2) {
        t = pass == PASS_FWD ? (RegTile){2, 2, 8, 16} : (RegTile){2, 4, 8, 16};
    } else if (width % 8 == 0) {
        t = (RegTile){2, 2, 8, 16};
    } else if (width % 4 == 0) {
        t = (RegTile){2, 4, 4, 16};
    } else if (width <= 8) {
        t = (RegTile){2, 2, width, 16};
    } else {
        t = (RegTile){2, 2, vkc_div_up(width, 2), 16};
    }
    if (t.tw > width) t.tw = vkc_div_up(width, S) * S;
    while (t.tc4 > 1 && 4 * t.tc4 / 2 >= outc) t.tc4 /= 2; /* no tiles of mostly padding channels */
    uint32_t v[4];
    if (forced_tile(L, pass, VKC_CONV_REG, v)) t = (RegTile){v[0], v[1], v[2], v[3]};
    if (pass == PASS_DGRAD) t.tr = vkc_div_up(t.tr, S) * S, t.tw = vkc_div_up(t.tw, S) * S;
    return t;
}

/* Weight gradient (measured as above): whole output rows up to 32 columns, 8 output x 8 input
 * channels (16 input channels for 1x1 kernels, 1 for a single input channel); 4 output
 * channels when that makes the co blocks whole subgroups (the x rows are then shared). */
static WgradTile wgrad_tile(const VkcLayers *L, const VkcConv2d *c)
{
    uint32_t Wo = vkc_conv2d_out_w(c);
    uint32_t tci = c->C_in == 1 ? 1 : c->kernel == 1 ? 16 : Wo <= 4 ? 4 : 8;
    WgradTile t = {c->C_in == 1 ? 1 : 2, tci < c->C_in ? tci : c->C_in, seg_width(Wo, 32, Wo % 4 == 0 ? 4 : 1), 16};
    uint32_t sg = L->ctx->subgroup_size;
    if (t.tco4 == 2 && sg > 1 && vkc_div_up(c->C_out, 8) % sg && vkc_div_up(c->C_out, 4) % sg == 0) t.tco4 = 1;
    uint32_t v[4];
    if (forced_tile(L, PASS_WGRAD, VKC_CONV_REG, v)) t = (WgradTile){v[0], v[1], v[2], v[3]};
    return t;
}

/* Floats per row of the packed weights: the pass's output channels rounded up to whole tiles. */
static uint32_t pack_ld(uint32_t channels, uint32_t tc4) { return vkc_div_up(channels, 4 * tc4) * 4 * tc4; }

/* ---------------------------------------------------------------- tiles of the smem kernels */

/* Block tile: bm x bn outputs per workgroup in steps of bk, each invocation 4 x 4*tn4; the
 * workgroup has (bm/4) * (bn/(4 tn4)) invocations. */
typedef struct {
    uint32_t bm, bn, bk, tn4;
} SmemTile;

static uint32_t smem_wg(const SmemTile *t) { return t->bm / 4 * (t->bn / (4 * t->tn4)); }

/* The shaders' staging arithmetic needs: whole vec4 rows of A per pass (fwd/dgrad), whole B
 * rows per pass (WG a multiple of bn, or of bk for the weight gradient), the double buffers
 * inside the device's shared memory. */
static bool smem_fits(const VkcLayers *L, const SmemTile *t, int pass)
{
    uint32_t wg = smem_wg(t);
    bool ok = t->bm % 4 == 0 && t->bn % (4 * t->tn4) == 0 && wg > 0 && t->bk % 4 == 0 &&
              wg <= L->ctx->props.limits.maxComputeWorkGroupInvocations &&
              (VkDeviceSize)8 * t->bk * (t->bm + t->bn) <= L->ctx->props.limits.maxComputeSharedMemorySize &&
              (pass == PASS_WGRAD ? wg % t->bk == 0 && (t->bk * t->bm) % wg == 0 && (t->bk * t->bn) % wg == 0
                                  : wg % t->bn == 0 && (t->bk * t->bn) % wg == 0);
    return ok;
}

static int smem_check(const VkcLayers *L, const SmemTile *t, int pass)
{
    if (!smem_fits(L, t, pass))
        return vkc_fail("conv2d: block tile %ux%ux%u (x%u) does not fit this pass or device", t->bm, t->bn, t->bk,
                        t->tn4);
    return VKC_OK;
}

static SmemTile smem_tile(const VkcLayers *L, const VkcConv2d *c, int pass)
{
    uint32_t m = pass == PASS_FWD ? c->C_out : pass == PASS_DGRAD ? c->C_in : c->C_out;
    /* 64 x 128 blocks of 4 x 8 per invocation (256), 32 x 128 of 4 x 4 for narrow layers;
     * the weight gradient's N (Cin*k*k) is narrow for first layers: 64 columns. */
    SmemTile t = m > 32 ? (SmemTile){64, 128, 16, 2} : (SmemTile){32, 128, 16, 1};
    if (pass == PASS_WGRAD && c->C_in * c->kernel * c->kernel < 64) t.bn = 64;
    /* Less shared memory than two 16 x (bm + bn) stages: halve bn. */
    if ((VkDeviceSize)8 * t.bk * (t.bm + t.bn) > L->ctx->props.limits.maxComputeSharedMemorySize) t.bn /= 2;
    uint32_t v[4];
    if (forced_tile(L, pass, VKC_CONV_SMEM, v)) t = (SmemTile){v[0], v[1], v[2], v[3]};
    return t;
}

/* ---------------------------------------------------------------- the kernel of a pass */

/* How a pass runs: a kernel family and its tile (RegTile, WgradTile or SmemTile as 4 numbers,
 * VkcCoopTile as 5). */
typedef struct {
    VkcConvVariant family;
    uint32_t v[5];
} ConvChoice;

static const char *const pass_names[] = {"forward", "backward-input", "backward-weight"};
static const char *const family_names[] = {"reg", "smem", "coop"};
static const VkcCoopUse coop_use[3] = {VKC_COOP_CONV_FORWARD, VKC_COOP_CONV_BACKWARD_INPUT, VKC_COOP_CONV_BACKWARD_WEIGHT};

VkcConvVariant vkc_conv2d_family(const char *variant)
{
    return !strncmp(variant, "coop", 4) ? VKC_CONV_COOP : !strncmp(variant, "smem", 4) ? VKC_CONV_SMEM : VKC_CONV_REG;
}

static void choice_name(const ConvChoice *ch, char *text, size_t size)
{
    if (ch->family == VKC_CONV_COOP)
        snprintf(text, size, "coop %u,%u,%u,%u,%u", ch->v[0], ch->v[1], ch->v[2], ch->v[3], ch->v[4]);
    else
        snprintf(text, size, "%s %u,%u,%u,%u", family_names[ch->family], ch->v[0], ch->v[1], ch->v[2], ch->v[3]);
}

static VkcCoopTile coop_of(const ConvChoice *ch) { return (VkcCoopTile){ch->v[0], ch->v[1], ch->v[2], ch->v[3], ch->v[4]}; }

/* Does the device run this pass on cooperative matrices at all (16-bit activations it has them for)? */
static bool coop_runs(const VkcLayers *L, const VkcConv2d *c, int pass)
{
    VkcCoopTile t;
    return c->act != VKC_F32 && vkc_coop_tiles(L->ctx, c->act, coop_use[pass], &t, 1) == 1;
}

void vkc_conv2d_tuning_key(const VkcConv2d *c, int pass, char *key, size_t size)
{
    snprintf(key, size, "conv2d.%s c%u h%u w%u o%u k%u s%u p%u", pass_names[pass], c->C_in, c->H, c->W, c->C_out,
             c->kernel, c->stride, c->pad);
}

static ConvChoice default_choice(const VkcLayers *L, const VkcConv2d *c, int pass, VkcConvVariant family)
{
    ConvChoice ch = {family, {0}};
    if (family == VKC_CONV_COOP) {
        VkcCoopTile t = {0};
        if (c->act != VKC_F32) vkc_coop_tiles(L->ctx, c->act, coop_use[pass], &t, 1); /* none: fails at dispatch */
        ch.v[0] = t.wm, ch.v[1] = t.wn, ch.v[2] = t.tm, ch.v[3] = t.tn, ch.v[4] = t.bk;
    } else if (family == VKC_CONV_SMEM) {
        SmemTile t = smem_tile(L, c, pass);
        memcpy(ch.v, &t, sizeof t);
    } else if (pass == PASS_WGRAD) {
        WgradTile t = wgrad_tile(L, c);
        memcpy(ch.v, &t, sizeof t);
    } else {
        RegTile t = reg_tile(L, c, pass);
        memcpy(ch.v, &t, sizeof t);
    }
    return ch;
}

/* A choice read from the tuning cache, or NULL's "no": "reg A,B,C,D" or "smem A,B,C,D" with a
 * tile the pass and the device can run (a cache from another build is not trusted blindly). */
static bool parse_choice(const VkcLayers *L, const VkcConv2d *c, int pass, const char *text, ConvChoice *ch)
{
    char family[8];
    unsigned a[5];
    int n = sscanf(text, "%7s %u,%u,%u,%u,%u", family, &a[0], &a[1], &a[2], &a[3], &a[4]);
    memset(ch, 0, sizeof *ch);
    if (!strcmp(family, "coop") && n == 6) {
        ch->family = VKC_CONV_COOP;
        for (int i = 0; i < 5; i++) ch->v[i] = a[i];
        return c->act != VKC_F32 && vkc_coop_fits(L->ctx, c->act, coop_of(ch), coop_use[pass]);
    }
    if (n != 5) return false;
    if (!strcmp(family, "reg") && L->ctx->subgroup_shuffle) ch->family = VKC_CONV_REG;
    else if (!strcmp(family, "smem")) ch->family = VKC_CONV_SMEM;
    else return false;
    for (int i = 0; i < 4; i++) {
        if (a[i] < 1 || a[i] > 256) return false;
        ch->v[i] = a[i];
    }
    if (ch->family == VKC_CONV_SMEM) {
        SmemTile t;
        memcpy(&t, ch->v, sizeof t);
        return smem_fits(L, &t, pass);
    }
    /* reg: at most 8 vec4 channel groups, and 64 pixels (forward, backward-input) or 64 input
     * channels and 64 columns (backward-weight) per invocation; workgroups the device allows */
    bool big = pass == PASS_WGRAD ? ch->v[1] > 64 || ch->v[2] > 64 : ch->v[1] * ch->v[2] > 64;
    if (ch->v[0] > 8 || big || ch->v[3] > L->ctx->props.limits.maxComputeWorkGroupInvocations) return false;
    if (pass == PASS_WGRAD && ch->v[1] > c->C_in) ch->v[1] = c->C_in;
    if (pass == PASS_DGRAD) ch->v[1] = vkc_div_up(ch->v[1], c->stride) * c->stride,
                            ch->v[2] = vkc_div_up(ch->v[2], c->stride) * c->stride;
    return true;
}

/* The kernel of a pass: forced by the overrides (checks), else the tuning cache's choice for
 * this shape (vkclr tune), else the device class's family with its built-in tile. */
static ConvChoice choose(const VkcLayers *L, const VkcConv2d *c, int pass)
{
    uint32_t forced[4];
    if (!L->conv_forced && !forced_tile(L, pass, L->conv_variant, forced)) {
        char key[128];
        vkc_conv2d_tuning_key(c, pass, key, sizeof key);
        const char *text = vkc_tuning_get(&L->ctx->tuning, key);
        ConvChoice ch;
        if (text && parse_choice(L, c, pass, text, &ch)) return ch;
        /* 16-bit activations: the matrix units where the device has them */
        if (coop_runs(L, c, pass)) return default_choice(L, c, pass, VKC_CONV_COOP);
    }
    return default_choice(L, c, pass, L->conv_variant);
}

static RegTile reg_of(const ConvChoice *ch) { return (RegTile){ch->v[0], ch->v[1], ch->v[2], ch->v[3]}; }
static WgradTile wgrad_of(const ConvChoice *ch) { return (WgradTile){ch->v[0], ch->v[1], ch->v[2], ch->v[3]}; }
static SmemTile smem_of(const ConvChoice *ch) { return (SmemTile){ch->v[0], ch->v[1], ch->v[2], ch->v[3]}; }

int vkc_conv2d_variant(const VkcLayers *L, const VkcConv2d *c, int pass, char *name, size_t size)
{
    if (pass < 0 || pass > 2) return vkc_fail("conv2d: no pass %d", pass);
    ConvChoice ch = choose(L, c, pass);
    choice_name(&ch, name, size);
    return VKC_OK;
}

int vkc_conv2d_candidates(const VkcLayers *L, const VkcConv2d *c, int pass, char (*names)[VKC_CONV_VARIANT_NAME],
                          int max)
{
    /* the built-in choice first (the reference the others are compared with), then tiles
     * around the device's own family's built-in (reg channel groups x pixel shapes, or smem
     * block shapes): the other family runs 10-50x slower on its non-native device class, and on
     * lavapipe each candidate's compile costs more than its timing, so only tiles that won
     * somewhere in measurements on lavapipe 22-26 (BENCHMARKS.md) are tried. With 16-bit
     * activations where the device runs cooperative matrices, the built-in is the coop kernel,
     * and its family's other tiles follow the device's own family's. */
    static const uint32_t reg[][3] = {{1, 2, 8}, {2, 2, 8}, {4, 2, 8}, {4, 1, 8}, {2, 4, 4}};
    static const uint32_t wgr[][2] = {{1, 4}, {1, 8}, {2, 4}, {2, 8}};
    static const uint32_t smem[][4] = {{64, 128, 16, 2}, {32, 128, 16, 1}, {64, 64, 16, 1}, {32, 64, 16, 1},
                                       {128, 64, 16, 2}, {64, 128, 8, 2}};
    ConvChoice list[64];
    int n = 0;
    bool coop = coop_runs(L, c, pass);
    VkcConvVariant own = L->conv_variant == VKC_CONV_COOP ? (L->ctx->is_cpu ? VKC_CONV_REG : VKC_CONV_SMEM) : L->conv_variant;
    if (coop) list[n++] = default_choice(L, c, pass, VKC_CONV_COOP);
    list[n++] = default_choice(L, c, pass, own);
    if (own == VKC_CONV_REG) {
        ConvChoice d = list[n - 1];
        if (pass == PASS_WGRAD)
            for (size_t i = 0; i < sizeof wgr / sizeof wgr[0]; i++)
                list[n++] = (ConvChoice){VKC_CONV_REG, {wgr[i][0], wgr[i][1], d.v[2], d.v[3], 0}};
        else
            for (size_t i = 0; i < sizeof reg / sizeof reg[0]; i++)
                list[n++] = (ConvChoice){VKC_CONV_REG, {reg[i][0], reg[i][1], reg[i][2], d.v[3], 0}};
    }
    if (own == VKC_CONV_SMEM)
        for (size_t i = 0; i < sizeof smem / sizeof smem[0]; i++)
            list[n++] = (ConvChoice){VKC_CONV_SMEM, {smem[i][0], smem[i][1], smem[i][2], smem[i][3], 0}};
    if (coop) {
        VkcCoopTile tiles[16];
        int nt = vkc_coop_tiles(L->ctx, c->act, coop_use[pass], tiles, 16);
        for (int i = 0; i < nt; i++)
            list[n++] = (ConvChoice){VKC_CONV_COOP, {tiles[i].wm, tiles[i].wn, tiles[i].tm, tiles[i].tn, tiles[i].bk}};
    }
    int out = 0;
    for (int i = 0; i < n && out < max; i++) {
        char text[VKC_CONV_VARIANT_NAME];
        choice_name(&list[i], text, sizeof text);
        ConvChoice ch;
        if (!parse_choice(L, c, pass, text, &ch)) continue; /* not for this pass or device */
        choice_name(&ch, text, sizeof text);
        bool dup = false;
        for (int k = 0; k < out; k++) dup |= !strcmp(names[k], text);
        if (!dup) snprintf(names[out++], VKC_CONV_VARIANT_NAME, "%s", text);
    }
    return out;
}

/* ---------------------------------------------------------------- block-tiled kernels (smem, coop) */

/* A pass's kernel in a block-tiled family: shared-memory (smem) or cooperative-matrix (coop).
 * Both run the same shaders (conv2d_*_smem.comp; the coop builds with -DCOOP, their own GEMM
 * core), so their host sides differ only in the build, the block and the tile's constants. */
typedef struct {
    bool coop;
    VkcShader shader;        /* the build (block_kernel) */
    uint32_t bm, bn, bk, wg; /* outputs x columns per workgroup, K per stage, invocations */
    uint32_t spec[15];       /* 0-2 workgroup, 3-5 kernel, stride, pad, then the tile's */
    int flag;                /* the constant after the tile: VEC (weight gradient), STATS (coop forward) */
} BlockKernel;

static BlockKernel block_of(const VkcLayers *L, const VkcConv2d *c, const ConvChoice *ch)
{
    BlockKernel b = {.coop = ch->family == VKC_CONV_COOP, .shader = VKC_SHADER_COUNT};
    if (b.coop) {
        VkcCoopTile t = coop_of(ch);
        b.bm = vkc_coop_bm(L->ctx, c->act, t), b.bn = vkc_coop_bn(L->ctx, c->act, t), b.bk = t.bk;
        b.wg = vkc_coop_wg(L->ctx, t);
        vkc_coop_spec(L->ctx, c->act, t, b.spec);
        b.flag = 14;
    } else {
        SmemTile t = smem_of(ch);
        b.bm = t.bm, b.bn = t.bn, b.bk = t.bk, b.wg = smem_wg(&t);
        uint32_t tile[10] = {b.wg, 1, 1, 0, 0, 0, t.bm, t.bn, t.bk, t.tn4};
        memcpy(b.spec, tile, sizeof tile);
        b.flag = 10;
    }
    b.spec[3] = c->kernel, b.spec[4] = c->stride, b.spec[5] = c->pad;
    return b;
}

/* The pass's kernel, checked against the pass and the device, with its build for c->act. */
static int block_kernel(VkcLayers *L, const VkcConv2d *c, int pass, BlockKernel *b)
{
    static const VkcShader smem[3] = {VKC_SHADER_CONV2D_FWD_SMEM, VKC_SHADER_CONV2D_DGRAD_SMEM,
                                      VKC_SHADER_CONV2D_WGRAD_SMEM};
    static const VkcShader coop[3][2] = {{VKC_SHADER_CONV2D_FWD_COOP_F16, VKC_SHADER_CONV2D_FWD_COOP_BF16},
                                         {VKC_SHADER_CONV2D_DGRAD_COOP_F16, VKC_SHADER_CONV2D_DGRAD_COOP_BF16},
                                         {VKC_SHADER_CONV2D_WGRAD_COOP_F16, VKC_SHADER_CONV2D_WGRAD_COOP_BF16}};
    ConvChoice ch = choose(L, c, pass);
    *b = block_of(L, c, &ch);
    if (!b->coop) {
        SmemTile t = smem_of(&ch);
        return smem_check(L, &t, pass) || vkc_layers_variant(L, smem[pass], c->act, &b->shader) ? VKC_ERR : VKC_OK;
    }
    if (c->act == VKC_F32)
        return vkc_fail("conv2d %s: the cooperative-matrix kernels take 16-bit activations, not fp32", pass_names[pass]);
    if (!L->ctx->coop.ok[c->act])
        return vkc_fail("conv2d %s: no %s cooperative-matrix kernels on %s: %s", pass_names[pass],
                        vkc_dtype_name(c->act), L->ctx->props.deviceName, L->ctx->coop.why_not[c->act]);
    VkcCoopTile t = coop_of(&ch);
    if (!vkc_coop_fits(L->ctx, c->act, t, coop_use[pass]))
        return vkc_fail("conv2d %s: cooperative-matrix tile %u,%u,%u,%u,%u does not fit this pass or device",
                        pass_names[pass], t.wm, t.wn, t.tm, t.tn, t.bk);
    b->shader = coop[pass][c->act == VKC_BF16];
    return VKC_OK;
}

/* Chunks of the weight gradient's K = N*Ho*Wo for a block-tiled kernel: enough workgroups to
 * fill the device, chunk lengths whole steps. */
static void block_wgrad_split(const VkcLayers *L, const VkcConv2d *c, const BlockKernel *b, uint32_t *klen,
                              uint32_t *nchunks, uint32_t *stride)
{
    uint32_t total = c->N * vkc_conv2d_out_h(c) * vkc_conv2d_out_w(c);
    uint32_t nb = c->C_in * c->kernel * c->kernel + 1;
    uint32_t blocks = vkc_div_up(c->C_out, b->bm) * vkc_div_up(nb, b->bn);
    *stride = c->C_out * c->C_in * c->kernel * c->kernel + c->C_out;
    uint32_t n = vkc_div_up(L->reduce_lanes / b->wg, blocks);
    uint32_t cap = (16u << 20) / *stride; /* 64 MiB of partials at most */
    if (n > cap) n = cap;
    if (n > vkc_div_up(total, b->bk)) n = vkc_div_up(total, b->bk);
    if (n < 1) n = 1;
    *klen = vkc_div_up(vkc_div_up(total, n), b->bk) * b->bk;
    *nchunks = vkc_div_up(total, *klen);
}

/* Split of the weight gradient's K = N*Ho rows into chunks: enough invocations for the
 * device, partial sums well inside one binding. */
static void wgrad_split(const VkcLayers *L, const VkcConv2d *c, const WgradTile *t, uint32_t *rows,
                        uint32_t *nchunks, uint32_t *segs, uint32_t *stride)
{
    uint32_t Wo = vkc_conv2d_out_w(c), total = c->N * vkc_conv2d_out_h(c);
    *segs = vkc_div_up(Wo, t->tw);
    uint32_t blocks = vkc_div_up(c->C_out, 4 * t->tco4) * vkc_div_up(c->C_in, t->tci) * *segs;
    *stride = c->C_out * c->C_in * c->kernel * c->kernel + c->C_out;
    uint32_t n = vkc_div_up(L->reduce_lanes, blocks);
    uint32_t cap = (16u << 20) / (*stride * *segs); /* 64 MiB of partials at most */
    if (n > cap) n = cap;
    if (n < 1) n = 1;
    if (n > total) n = total;
    *rows = vkc_div_up(total, n);
    *nchunks = vkc_div_up(total, *rows);
}

/* Bytes of c->work each pass uses. */
static VkDeviceSize pass_work(const VkcLayers *L, const VkcConv2d *c, int pass)
{
    uint32_t KK = c->kernel * c->kernel;
    ConvChoice ch = choose(L, c, pass);
    if (ch.family != VKC_CONV_REG) {
        BlockKernel b = block_of(L, c, &ch);
        if (!b.bm || !b.bn || !b.bk || !b.wg) return 0; /* no tile fits: the pass fails, saying why */
        if (pass == PASS_WGRAD) {
            uint32_t klen, nchunks, stride;
            block_wgrad_split(L, c, &b, &klen, &nchunks, &stride);
            return (VkDeviceSize)nchunks * stride * 4;
        }
        uint32_t k = (pass == PASS_FWD ? c->C_in : c->C_out) * KK;
        return (VkDeviceSize)k * vkc_div_up(pass == PASS_FWD ? c->C_out : c->C_in, b.bm) * b.bm * 4;
    }
    if (pass == PASS_WGRAD) {
        WgradTile t = wgrad_of(&ch);
        uint32_t rows, nchunks, segs, stride;
        wgrad_split(L, c, &t, &rows, &nchunks, &segs, &stride);
        return (VkDeviceSize)nchunks * segs * stride * 4;
    }
    RegTile t = reg_of(&ch);
    uint32_t k = (pass == PASS_FWD ? c->C_in : c->C_out) * KK;
    return (VkDeviceSize)k * pack_ld(pass == PASS_FWD ? c->C_out : c->C_in, t.tc4) * 4;
}

VkDeviceSize vkc_conv2d_work_bytes(const VkcLayers *L, const VkcConv2d *c)
{
    VkDeviceSize bytes = 16;
    for (int pass = PASS_FWD; pass <= PASS_WGRAD; pass++) {
        VkDeviceSize b = align256(pass_work(L, c, pass));
        if (b > bytes) bytes = b;
    }
    return bytes;
}

static int need_work(const VkcLayers *L, const VkcConv2d *c, int pass, const char *op)
{
    VkDeviceSize need = pass_work(L, c, pass);
    if (!c->work.buffer) return vkc_fail("%s: no work tensor (vkc_conv2d_work_bytes)", op);
    if (c->work.size < need)
        return vkc_fail("%s: work tensor of %llu bytes, this layer needs %llu (vkc_conv2d_work_bytes)", op,
                        (unsigned long long)c->work.size, (unsigned long long)need);
    return VKC_OK;
}

/* ---------------------------------------------------------------- passes */

static int wpack(VkcLayers *L, VkcCmd *cmd, const VkcConv2d *c, uint32_t mode, uint32_t ld, VkcTensor a)
{
    uint32_t spec[3] = {L->wg_elem, 1, 1};
    const VkcKernel *k;
    if (vkc_layers_kernel(L, VKC_SHADER_CONV2D_WPACK, "sb", sizeof(PackPush), spec, 3, &k)) return VKC_ERR;
    uint32_t KK = c->kernel * c->kernel;
    PackPush push = {c->C_out, c->C_in, KK, ld, mode};
    VkcTensor t[2] = {c->weight, a};
    uint64_t n = (uint64_t)(mode ? c->C_out : c->C_in) * KK * ld;
    return vkc_layers_dispatch_1d(L, cmd, k, t, &push, (n + L->wg_elem - 1) / L->wg_elem);
}

static int grid(const VkcLayers *L, uint64_t invocations, uint32_t wg, uint32_t *gx)
{
    uint64_t g = (invocations + wg - 1) / wg;
    if (g > L->ctx->props.limits.maxComputeWorkGroupCount[0])
        return vkc_fail("conv2d: %llu tiles are too many for one dispatch", (unsigned long long)invocations);
    *gx = (uint32_t)g;
    return VKC_OK;
}

/* The subgroup size the reg kernels share weight fetches over (their SG constant), or 0: the
 * device's own size when the workgroup is made of whole subgroups (conv_no_subgroup turns it off). */
static uint32_t reg_subgroup(const VkcLayers *L, uint32_t wg)
{
    uint32_t sg = L->ctx->subgroup_size;
    if (L->ctx->kernels.conv_no_subgroup) return 0;
    return sg > 1 && wg % sg == 0 ? sg : 0;
}

/* Groups the forward's statistics come in (see conv2d_fwd_reg.comp STATS): one per subgroup
 * of tiles, or per tile without subgroup sharing. */
uint32_t vkc_conv2d_stats_groups(const VkcLayers *L, const VkcConv2d *c)
{
    ConvChoice ch = choose(L, c, PASS_FWD);
    if (ch.family == VKC_CONV_COOP) { /* one per block of output pixels (conv2d_fwd_smem.comp STATS) */
        BlockKernel b = block_of(L, c, &ch);
        return b.bn ? vkc_div_up(c->N * vkc_conv2d_out_h(c) * vkc_conv2d_out_w(c), b.bn) : 0;
    }
    if (ch.family != VKC_CONV_REG) return 0;
    RegTile t = reg_of(&ch);
    uint64_t tiles = (uint64_t)c->N * vkc_div_up(vkc_conv2d_out_h(c), t.tr) * vkc_div_up(vkc_conv2d_out_w(c), t.tw);
    uint32_t sg = reg_subgroup(L, t.wg);
    return sg ? (uint32_t)(vkc_div_up(tiles, t.wg) * (t.wg / sg)) : (uint32_t)tiles;
}

uint64_t vkc_conv2d_stats_floats(const VkcLayers *L, const VkcConv2d *c)
{
    return 3ull * vkc_conv2d_stats_groups(L, c) * c->C_out;
}

/* Forward (x -> y) or backward to the input (dy -> dx) with the reg kernels. */
static int reg_conv(VkcLayers *L, VkcCmd *cmd, const VkcConv2d *c, int pass, VkcTensor src, VkcTensor dst)
{
    bool fwd = pass == PASS_FWD, has_bias = fwd && c->bias.buffer != VK_NULL_HANDLE;
    uint32_t Ho = vkc_conv2d_out_h(c), Wo = vkc_conv2d_out_w(c), KK = c->kernel * c->kernel;
    ConvChoice ch = choose(L, c, pass);
    RegTile t = reg_of(&ch);
    uint32_t outc = fwd ? c->C_out : c->C_in, inc = fwd ? c->C_in : c->C_out;
    uint32_t oh = fwd ? Ho : c->H, ow = fwd ? Wo : c->W; /* what the pass writes */
    uint32_t ih = fwd ? c->H : Ho, iw = fwd ? c->W : Wo; /* what it reads */
    uint32_t S = c->stride, ld = pack_ld(outc, t.tc4);
    VkcTensor a = part(c->work, 0, (VkDeviceSize)inc * KK * ld * 4);
    if (wpack(L, cmd, c, fwd ? 0 : 1, ld, a)) return VKC_ERR;
    /* Rows of the input read as whole texels: every window starts on a texel. */
    uint32_t step_in = fwd ? t.tw * S : t.tw / S;
    bool vec_in = iw % 4 == 0 && step_in % 4 == 0;
    bool vec_out = ow % 4 == 0 && t.tw % 4 == 0;
    bool stats = fwd && c->stats.buffer != VK_NULL_HANDLE;
    RegPush push = {c->N, c->C_in, c->H, c->W, c->C_out, Ho, Wo, vkc_div_up(oh, t.tr), vkc_div_up(ow, t.tw),
                    ld / 4, has_bias, stats ? vkc_conv2d_stats_groups(L, c) : 0};
    if (stats && vkc_layers_need("conv2d forward", "stats", c->stats, vkc_conv2d_stats_floats(L, c))) return VKC_ERR;
    (void)ih;
    uint32_t sg = reg_subgroup(L, t.wg);
    uint32_t spec[13] = {t.wg, 1, 1, c->kernel, S, c->pad, t.tc4, t.tr, t.tw, vec_in, vec_out, sg, stats};
    const VkcKernel *k;
    uint32_t gx = 0;
    char bindings[6];
    snprintf(bindings, sizeof bindings, fwd ? "%ctsbb" : "%ctb", vec_in ? 't' : 's');
    VkcShader shader;
    if (vkc_layers_variant(L, fwd ? VKC_SHADER_CONV2D_FWD_REG : VKC_SHADER_CONV2D_DGRAD_REG, src.dtype, &shader) ||
        vkc_layers_kernel(L, shader, bindings,
                          fwd ? VKC_PUSH_SIZE_CONV2D_FWD_REG : VKC_PUSH_SIZE_CONV2D_DGRAD_REG, spec, fwd ? 13 : 12, &k) ||
        grid(L, (uint64_t)c->N * push.rblocks * push.segs, t.wg, &gx))
        return VKC_ERR;
    uint32_t gy = vkc_div_up(outc, 4 * t.tc4);
    if (fwd) {
        /* (without statistics binding 4 is y again, unwritten) */
        VkcTensor tt[5] = {src, a, has_bias ? c->bias : a, dst, stats ? c->stats : dst};
        return vkc_cmd_dispatch(cmd, k, tt, stats ? 0 : 1u << 4, &push, gx, gy, 1);
    }
    VkcTensor tt[3] = {src, a, dst};
    return vkc_cmd_dispatch(cmd, k, tt, 0, &push, gx, gy, 1);
}

static int reg_wgrad(VkcLayers *L, VkcCmd *cmd, const VkcConv2d *c, VkcTensor x, VkcTensor dy, VkcTensor dweight,
                     VkcTensor dbias)
{
    uint32_t Ho = vkc_conv2d_out_h(c), Wo = vkc_conv2d_out_w(c);
    bool has_bias = c->bias.buffer != VK_NULL_HANDLE;
    ConvChoice ch = choose(L, c, PASS_WGRAD);
    WgradTile t = wgrad_of(&ch);
    uint32_t rows, nchunks, segs, stride;
    wgrad_split(L, c, &t, &rows, &nchunks, &segs, &stride);
    bool vec = Wo % 4 == 0 && c->W % 4 == 0 && t.tw % 4 == 0 && (t.tw * c->stride) % 4 == 0;
    WgradPush push = {c->N, c->C_in, c->H, c->W, c->C_out, Ho, Wo, rows, nchunks, segs, has_bias};
    /* x rows shared over the subgroup when its lanes take co blocks of one ci block. */
    uint32_t sg = reg_subgroup(L, t.wg);
    if (sg && vkc_div_up(c->C_out, 4 * t.tco4) % sg) sg = 0;
    uint32_t spec[11] = {t.wg, 1, 1, c->kernel, c->stride, c->pad, t.tco4, t.tci, t.tw, vec, sg};
    const VkcKernel *k;
    VkcShader shader;
    if (vkc_layers_variant(L, VKC_SHADER_CONV2D_WGRAD_REG, x.dtype, &shader) ||
        vkc_layers_kernel(L, shader, vec ? "ttb" : "ssb", sizeof push, spec, 11, &k))
        return VKC_ERR;
    uint64_t invocations = (uint64_t)nchunks * segs * vkc_div_up(c->C_out, 4 * t.tco4) * vkc_div_up(c->C_in, t.tci);
    uint32_t gx = 0;
    if (grid(L, invocations, t.wg, &gx)) return VKC_ERR;
    VkcTensor partials = part(c->work, 0, (VkDeviceSize)nchunks * segs * stride * 4);
    VkcTensor tt[3] = {x, dy, partials};
    if (vkc_cmd_dispatch(cmd, k, tt, 0, &push, gx, 1, 1)) return VKC_ERR;

    return reduce_slots(L, cmd, c, partials, nchunks * segs, stride, dweight, dbias);
}

/* Ordered second pass of a split weight gradient: slots 0, 1, ... added in order into dweight
 * and dbias (slot s holds dW at part[s*stride] and db after it). */
static int reduce_slots(VkcLayers *L, VkcCmd *cmd, const VkcConv2d *c, VkcTensor partials, uint32_t nslots,
                        uint32_t stride, VkcTensor dweight, VkcTensor dbias)
{
    uint32_t nw = c->C_out * c->C_in * c->kernel * c->kernel;
    uint32_t rspec[1] = {L->wg_elem};
    const VkcKernel *k;
    if (vkc_layers_kernel(L, VKC_SHADER_REDUCE_CHUNKS, "sb", sizeof(ReducePush), rspec, 1, &k)) return VKC_ERR;
    ReducePush rw = {nw, nslots, stride, 0};
    VkcTensor tw[2] = {partials, dweight};
    if (vkc_layers_dispatch_1d(L, cmd, k, tw, &rw, vkc_div_up(nw, L->wg_elem))) return VKC_ERR;
    if (c->bias.buffer == VK_NULL_HANDLE) return VKC_OK;
    ReducePush rb = {c->C_out, nslots, stride, nw};
    VkcTensor tb[2] = {partials, dbias};
    return vkc_layers_dispatch_1d(L, cmd, k, tb, &rb, vkc_div_up(c->C_out, L->wg_elem));
}

/* Forward (x -> y) or backward to the input (dy -> dx) with a block-tiled kernel (smem or coop);
 * the coop forward also writes the batch statistics of y when c->stats is given. */
static int block_conv(VkcLayers *L, VkcCmd *cmd, const VkcConv2d *c, int pass, VkcTensor src, VkcTensor dst)
{
    bool fwd = pass == PASS_FWD, has_bias = fwd && c->bias.buffer != VK_NULL_HANDLE;
    uint32_t Ho = vkc_conv2d_out_h(c), Wo = vkc_conv2d_out_w(c), KK = c->kernel * c->kernel;
    BlockKernel b;
    if (block_kernel(L, c, pass, &b)) return VKC_ERR;
    bool stats = fwd && b.coop && c->stats.buffer != VK_NULL_HANDLE;
    uint32_t outc = fwd ? c->C_out : c->C_in, inc = fwd ? c->C_in : c->C_out;
    uint32_t ld = vkc_div_up(outc, b.bm) * b.bm;
    VkcTensor a = part(c->work, 0, (VkDeviceSize)inc * KK * ld * 4);
    if (wpack(L, cmd, c, fwd ? 0 : 1, ld, a)) return VKC_ERR;
    uint64_t pixels = (uint64_t)c->N * (fwd ? Ho * Wo : c->H * c->W);
    uint64_t gx = (pixels + b.bn - 1) / b.bn;
    if (gx > L->ctx->props.limits.maxComputeWorkGroupCount[0])
        return vkc_fail("conv2d: %llu pixels are too many for one dispatch", (unsigned long long)pixels);
    if (stats && vkc_layers_need("conv2d forward", "stats", c->stats, vkc_conv2d_stats_floats(L, c))) return VKC_ERR;
    SmemPush push = {c->N, c->C_in, c->H, c->W, c->C_out, Ho, Wo, ld, has_bias, stats ? (uint32_t)gx : 0};
    b.spec[b.flag] = stats; /* (a constant only the coop forward has) */
    const char *bindings = fwd ? (b.coop ? "bbbbb" : "bbbb") : "bbb";
    const VkcKernel *k;
    if (vkc_layers_kernel(L, b.shader, bindings, fwd ? VKC_PUSH_SIZE_CONV2D_FWD_SMEM : VKC_PUSH_SIZE_CONV2D_DGRAD_SMEM,
                          b.spec, fwd && b.coop ? b.flag + 1 : b.flag, &k))
        return VKC_ERR;
    uint32_t gy = vkc_div_up(outc, b.bm);
    if (fwd) {
        /* (without statistics binding 4 is y again, unwritten) */
        VkcTensor tt[5] = {src, a, has_bias ? c->bias : a, dst, stats ? c->stats : dst};
        return vkc_cmd_dispatch(cmd, k, tt, stats ? 0x7 : 0x17, &push, (uint32_t)gx, gy, 1);
    }
    VkcTensor tt[3] = {src, a, dst};
    return vkc_cmd_dispatch(cmd, k, tt, 0x3, &push, (uint32_t)gx, gy, 1);
}

static int block_wgrad(VkcLayers *L, VkcCmd *cmd, const VkcConv2d *c, VkcTensor x, VkcTensor dy, VkcTensor dweight,
                       VkcTensor dbias)
{
    uint32_t Ho = vkc_conv2d_out_h(c), Wo = vkc_conv2d_out_w(c), KK = c->kernel * c->kernel;
    bool has_bias = c->bias.buffer != VK_NULL_HANDLE;
    BlockKernel b;
    if (block_kernel(L, c, PASS_WGRAD, &b)) return VKC_ERR;
    uint32_t klen, nchunks, stride;
    block_wgrad_split(L, c, &b, &klen, &nchunks, &stride);
    /* dy as vec4 along the pixels: planes of whole vec4s, and whole vec4 loads per pass. */
    b.spec[b.flag] = (Ho * Wo) % 4 == 0 && (b.bk * b.bm) % (b.wg * 4) == 0 && b.bk % 4 == 0;
    SmemWgradPush push = {c->N, c->C_in, c->H, c->W, c->C_out, Ho, Wo, klen, has_bias};
    const VkcKernel *k;
    if (vkc_layers_kernel(L, b.shader, "bbb", sizeof push, b.spec, b.flag + 1, &k)) return VKC_ERR;
    uint32_t gx = vkc_div_up(c->C_in * KK + has_bias, b.bn), gy = vkc_div_up(c->C_out, b.bm);
    if (nchunks > L->ctx->props.limits.maxComputeWorkGroupCount[2]) return vkc_fail("conv2d: too many chunks");
    VkcTensor partials = part(c->work, 0, (VkDeviceSize)nchunks * stride * 4);
    VkcTensor tt[3] = {x, dy, partials};
    if (vkc_cmd_dispatch(cmd, k, tt, 0x3, &push, gx, gy, nchunks)) return VKC_ERR;
    return reduce_slots(L, cmd, c, partials, nchunks, stride, dweight, dbias);
}

/* The layer was planned (kernel choice, work space) for activations of c->act. */
static int act_dtype(const char *op, const VkcConv2d *c, VkcTensor t)
{
    if (t.dtype != c->act)
        return vkc_fail("%s: activations of %s, but the layer was planned for %s (VkcConv2d.act)", op,
                        vkc_dtype_name(t.dtype), vkc_dtype_name(c->act));
    return VKC_OK;
}

/* ---------------------------------------------------------------- public entry points */

int vkc_conv2d_forward(VkcLayers *L, VkcCmd *cmd, const VkcConv2d *c, VkcTensor x, VkcTensor y)
{
    const char *op = "conv2d forward";
    if (check_shape(c, op)) return VKC_ERR;
    bool has_bias = c->bias.buffer != VK_NULL_HANDLE;
    if (vkc_layers_need(op, "x", x, (uint64_t)c->N * c->C_in * c->H * c->W) ||
        vkc_layers_need(op, "y", y, (uint64_t)c->N * c->C_out * vkc_conv2d_out_h(c) * vkc_conv2d_out_w(c)) ||
        (has_bias && vkc_layers_need(op, "bias", c->bias, c->C_out)) || need_work(L, c, PASS_FWD, op) ||
        vkc_layers_same_dtype(op, x, y) || act_dtype(op, c, x))
        return VKC_ERR;
    return choose(L, c, PASS_FWD).family == VKC_CONV_REG ? reg_conv(L, cmd, c, PASS_FWD, x, y)
                                                         : block_conv(L, cmd, c, PASS_FWD, x, y);
}

int vkc_conv2d_backward_input(VkcLayers *L, VkcCmd *cmd, const VkcConv2d *c, VkcTensor dy, VkcTensor dx)
{
    const char *op = "conv2d backward-input";
    if (check_shape(c, op)) return VKC_ERR;
    if (vkc_layers_need(op, "dy", dy, (uint64_t)c->N * c->C_out * vkc_conv2d_out_h(c) * vkc_conv2d_out_w(c)) ||
        vkc_layers_need(op, "dx", dx, (uint64_t)c->N * c->C_in * c->H * c->W) || need_work(L, c, PASS_DGRAD, op) ||
        vkc_layers_same_dtype(op, dy, dx) || act_dtype(op, c, dy))
        return VKC_ERR;
    return choose(L, c, PASS_DGRAD).family == VKC_CONV_REG ? reg_conv(L, cmd, c, PASS_DGRAD, dy, dx)
                                                           : block_conv(L, cmd, c, PASS_DGRAD, dy, dx);
}

int vkc_conv2d_backward_weight(VkcLayers *L, VkcCmd *cmd, const VkcConv2d *c, VkcTensor x, VkcTensor dy,
                               VkcTensor dweight, VkcTensor dbias)
{
    const char *op = "conv2d backward-weight";
    if (check_shape(c, op)) return VKC_ERR;
    bool has_bias = c->bias.buffer != VK_NULL_HANDLE;
    if (vkc_layers_need(op, "x", x, (uint64_t)c->N * c->C_in * c->H * c->W) ||
        vkc_layers_need(op, "dy", dy, (uint64_t)c->N * c->C_out * vkc_conv2d_out_h(c) * vkc_conv2d_out_w(c)) ||
        vkc_layers_need(op, "dweight", dweight, (uint64_t)c->C_out * c->C_in * c->kernel * c->kernel) ||
        (has_bias && vkc_layers_need(op, "dbias", dbias, c->C_out)) || need_work(L, c, PASS_WGRAD, op) ||
        vkc_layers_same_dtype(op, x, dy) || act_dtype(op, c, x))
        return VKC_ERR;
    return choose(L, c, PASS_WGRAD).family == VKC_CONV_REG ? reg_wgrad(L, cmd, c, x, dy, dweight, dbias)
                                                           : block_wgrad(L, cmd, c, x, dy, dweight, dbias);
}
