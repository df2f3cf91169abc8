/* conv2d shaders against ref_conv2d_*, and the reference backward against finite differences.
 *
 * Tolerances. Inputs, weights and dy are uniform in [-1, 1). Each output is a sum of K
 * products: K = C_in*k*k (forward), about C_out*k*k/stride^2 (backward to the input),
 * N*Ho*Wo (weights; C-ordered chunks of partial sums). The reference sums in double, the
 * shaders in float with fma, so errors grow like sqrt(K) * 6e-8 * (typical |term|):
 * atol = 2e-6 * sqrt(K), rtol = 1e-5 sits ~10x above what is observed and orders of magnitude
 * below any indexing mistake (an off-by-one tap or channel moves results by ~0.1-1).
 * The finite-difference check: the loss sum(y * g) is bilinear in (x, w), so central
 * differences are exact up to rounding, ~1e-16 * |loss| / h = 1e-9 with h = 1e-6; tolerance
 * 1e-7 + 1e-7 relative.
 * 16-bit activations (the -fp16 / -bf16 checks): x and dy are rounded to the dtype first, so
 * the reference sees what the device sees; the weights and every sum stay float32, and y and
 * dx are rounded once when stored: 2 units of the dtype's rounding (rig_unit) relative on top.
 * dw is float32 from the same rounded inputs: tolerances as float32.
 * Cooperative-matrix kernels (the coop family: 16-bit products, the weights rounded to the
 * activations' dtype when staged): each output gets the bound vkc_check_product_bound derives
 * for 16-bit products summed in float32, from the sum of its products' magnitudes (the
 * reference run on |x|, |w|, |dy|), on top of the output's own rounding (2 units relative, as
 * above). The coop16 group runs every tile of the device class; conv16 runs whatever the device
 * picks for 16-bit activations (coop where it has it). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref_layers.h"
#include "rig.h"

typedef struct {
    int N, C_in, H, W, C_out, k, stride, pad;
    bool bias;
} Case;

static const Case cases[] = {
    {1, 1, 5, 5, 1, 1, 1, 0, false},    /* batch 1, one channel, 1x1 */
    {2, 3, 7, 6, 5, 3, 1, 1, true},     /* odd sizes */
    {1, 4, 9, 9, 6, 3, 2, 1, true},     /* stride 2, batch 1 */
    {3, 8, 8, 8, 16, 1, 1, 0, true},    /* 1x1 */
    {2, 5, 6, 7, 3, 1, 2, 0, false},    /* 1x1 stride 2 (ResNet shortcut) */
    {2, 17, 12, 11, 20, 3, 1, 1, false}, /* channels past one register tile */
    {1, 3, 11, 13, 4, 5, 1, 2, true},   /* 5x5 */
    {2, 6, 10, 10, 9, 3, 2, 0, true},   /* no padding, stride 2 */
    {4, 32, 8, 8, 32, 3, 1, 1, true},   /* a real layer, small */
    {5, 1, 28, 28, 8, 3, 1, 1, true},   /* first layer of the MNIST convnet, 5 images */
    {55, 8, 6, 6, 4, 3, 1, 1, true},    /* many small images: weight-gradient split into slots, with a remainder */
    {2, 8, 9, 9, 6, 3, 2, 1, true},     /* stride 2, 8 input channels (a whole weight-gradient tile) */
    {2, 64, 6, 6, 8, 1, 2, 0, false},   /* 1x1 stride 2, 64 channels (ResNet shortcut) */
    {2, 8, 16, 16, 12, 3, 2, 1, true},  /* stride 2 over rows of whole texels (rgba32f reads) */
    {3, 6, 8, 12, 8, 1, 2, 0, false},   /* 1x1 stride 2, whole texels */
    {1, 3, 20, 20, 5, 7, 2, 3, true},   /* 7x7 stride 2 (ImageNet stem), padding 3 */
    {2, 3, 12, 16, 5, 5, 1, 2, false},  /* 5x5 over whole texels */
    {2, 5, 4, 4, 7, 3, 1, 1, true},     /* 4x4 planes (ResNet stage 4) */
};
#define NCASES (int)(sizeof cases / sizeof cases[0])

enum { FORWARD, BACKWARD_INPUT, BACKWARD_WEIGHT }; /* = VKC_CONV_PASS_* */

static double *absolute(const double *v, size_t n)
{
    double *a = malloc((n ? n : 1) * sizeof *a);
    for (size_t i = 0; a && i < n; i++) a[i] = fabs(v[i]);
    return a;
}

/* The bound of each output of a cooperative-matrix pass: vkc_check_product_bound(K) times the
 * sum of the magnitudes of its products (the reference on absolute values), into bound[]. */
static int product_bounds(const Rig *g, const RefConv *rc, int which, const double *x, const double *w,
                          const double *dy, double *bound)
{
    int Ho = ref_conv_out(rc->H, rc->k, rc->stride, rc->pad), Wo = ref_conv_out(rc->W, rc->k, rc->stride, rc->pad);
    size_t nx = (size_t)rc->N * rc->C_in * rc->H * rc->W, nw = (size_t)rc->C_out * rc->C_in * rc->k * rc->k;
    size_t ny = (size_t)rc->N * rc->C_out * Ho * Wo;
    double *ax = absolute(x, nx), *aw = absolute(w, nw), *ady = absolute(dy, ny);
    double *sx = malloc(nx * sizeof *sx), *sw = malloc(nw * sizeof *sw);
    int status = VKC_ERR;
    if (ax && aw && ady && sx && sw) {
        double K = which == FORWARD ? (double)rc->C_in * rc->k * rc->k
                   : which == BACKWARD_INPUT ? (double)rc->C_out * rc->k * rc->k : (double)rc->N * Ho * Wo;
        double e = vkc_check_product_bound(g->act, K);
        if (which == FORWARD) {
            ref_conv2d_forward(rc, ax, aw, NULL, bound);
            for (size_t i = 0; i < ny; i++) bound[i] *= e;
        } else {
            ref_conv2d_backward(rc, ax, aw, ady, sx, sw, NULL);
            size_t n = which == BACKWARD_INPUT ? nx : nw;
            for (size_t i = 0; i < n; i++) bound[i] = e * (which == BACKWARD_INPUT ? sx[i] : sw[i]);
        }
        status = VKC_OK;
    } else {
        vkc_fail("out of memory");
    }
    free(ax), free(aw), free(ady), free(sx), free(sw);
    return status;
}

static int run_case(Rig *g, const Case *c, int which, VkcCheckResult *r)
{
    const char *dt = rig_dtype_suffix(g);
    double u = rig_unit(g);
    RefConv rc = {c->N, c->C_in, c->H, c->W, c->C_out, c->k, c->stride, c->pad};
    int Ho = ref_conv_out(c->H, c->k, c->stride, c->pad), Wo = ref_conv_out(c->W, c->k, c->stride, c->pad);
    size_t nx = (size_t)c->N * c->C_in * c->H * c->W, nw = (size_t)c->C_out * c->C_in * c->k * c->k;
    size_t ny = (size_t)c->N * c->C_out * Ho * Wo;
    double *x = rig_random(nx, 11 + nx, -1, 1), *w = rig_random(nw, 13 + nw, -1, 1);
    double *b = rig_random(c->C_out, 17, -1, 1), *dy = rig_random(ny, 19 + ny, -1, 1);
    double *y = malloc(ny * sizeof *y), *dx = malloc(nx * sizeof *dx), *dw = malloc(nw * sizeof *dw);
    double *db = malloc(c->C_out * sizeof *db), *bound = NULL;
    int status = VKC_ERR;
    if (!x || !w || !b || !dy || !y || !dx || !dw || !db) {
        vkc_fail("out of memory");
        goto done;
    }
    VkcConv2d conv = {.N = c->N, .C_in = c->C_in, .H = c->H, .W = c->W, .C_out = c->C_out, .kernel = c->k,
                      .stride = c->stride, .pad = c->pad, .act = g->act};
    char variant[VKC_CONV_VARIANT_NAME];
    if (vkc_conv2d_variant(&g->L, &conv, which, variant, sizeof variant)) goto done;
    bool coop = vkc_conv2d_family(variant) == VKC_CONV_COOP;
    VkcTensor tx, ty, tdy, tdx, tdw, tdb;
    /* x and dy rounded to the activation dtype before the reference sees them */
    if (rig_act(g, x, nx, &tx) || rig_tensor(g, w, nw, &conv.weight) || rig_act(g, NULL, ny, &ty) ||
        rig_act(g, dy, ny, &tdy) || rig_act(g, NULL, nx, &tdx) || rig_tensor(g, NULL, nw, &tdw) ||
        rig_tensor(g, NULL, c->C_out, &tdb) ||
        vkc_tensor_alloc(&g->arena, vkc_conv2d_work_bytes(&g->L, &conv), &conv.work))
        goto done;
    if (c->bias && rig_tensor(g, b, c->C_out, &conv.bias)) goto done;
    ref_conv2d_forward(&rc, x, w, c->bias ? b : NULL, y);
    ref_conv2d_backward(&rc, x, w, dy, dx, dw, c->bias ? db : NULL);
    if (coop) {
        size_t nb = which == FORWARD ? ny : which == BACKWARD_INPUT ? nx : nw;
        if (!(bound = malloc(nb * sizeof *bound)) || product_bounds(g, &rc, which, x, w, dy, bound)) goto done;
    }
    int rec = which == FORWARD          ? vkc_conv2d_forward(&g->L, &g->cmd, &conv, tx, ty)
              : which == BACKWARD_INPUT ? vkc_conv2d_backward_input(&g->L, &g->cmd, &conv, tdy, tdx)
                                        : vkc_conv2d_backward_weight(&g->L, &g->cmd, &conv, tx, tdy, tdw, tdb);
    if (rec || rig_run(g)) goto done;
    char what[160];
    snprintf(what, sizeof what, "N%d %dx%dx%d -> %d k%d s%d p%d%s%s, %s", c->N, c->C_in, c->H, c->W, c->C_out, c->k,
             c->stride, c->pad, c->bias ? " bias" : "", dt, variant);
    /* float32 sums (fp16's subnormals: 2^-24 absolute per product), or 16-bit products' bound */
    double K = which == FORWARD ? (double)c->C_in * c->k * c->k
               : which == BACKWARD_INPUT ? (double)c->C_out * c->k * c->k : (double)c->N * Ho * Wo;
    double atol = coop ? K * 0x1p-24 : 2e-6 * sqrt(K);
    if (which == FORWARD) {
        if (rig_compare_bounded(g, r, what, ty, y, bound, ny, atol, 1e-5 + 2 * u)) goto done;
    } else if (which == BACKWARD_INPUT) {
        if (rig_compare_bounded(g, r, what, tdx, dx, bound, nx, atol, 1e-5 + 2 * u)) goto done;
    } else {
        if (rig_compare_bounded(g, r, what, tdw, dw, bound, nw, atol, 1e-5)) goto done;
        /* db: sums of dy alone (times the column of ones), float32 */
        if (c->bias && rig_compare(g, r, what, tdb, db, c->C_out, 2e-6 * sqrt(K), 1e-5)) goto done;
    }
    status = VKC_OK;
done:
    free(x), free(w), free(b), free(dy), free(y), free(dx), free(dw), free(db), free(bound);
    return status;
}

static int run_all(VkcContext *ctx, VkcCheckResult *r, int which, VkcDtype act)
{
    Rig g;
    if (rig_init_dtype(&g, ctx, act, r)) return r->skipped ? VKC_OK : VKC_ERR;
    int rc = VKC_OK;
    for (int i = 0; i < NCASES && rc == VKC_OK; i++) rc = run_case(&g, &cases[i], which, r);
    rig_free(&g);
    return rc;
}

int check_conv_forward(VkcContext *ctx, VkcDtype dt, VkcCheckResult *r) { return run_all(ctx, r, FORWARD, dt); }

/* ---------------------------------------------------------------- statistics for batch norm */

/* The forward's batch statistics (VkcConv2d.stats) handed to a training batch norm
 * (VkcBatchNorm.conv_stats), against the reference conv followed by the reference batch norm:
 * the normalised output, the statistics used and the running statistics. The inputs are
 * offset (x in [0, 2), so y has a mean far from 0: a one-pass E[y^2] - E[y]^2 would lose it).
 * Tolerances as bn/forward (check_bn.c): the mean and variance are float sums whose relative
 * error is ~1e-6, so the normalised y agrees to ~1e-6 of its O(1) values: atol 2e-5, rtol 1e-5;
 * statistics 1e-5. With 16-bit activations y is rounded when stored and the batch norm
 * normalises the rounded values while the statistics may come from the float32 sums (or, on
 * devices without conv statistics, from the rounded y): 8 units of the dtype's rounding
 * absolute and 2 relative on the normalised y (|y - mean| / std is O(1-3)); a mean of
 * rounded values is off by at most one unit of the largest |y| (absolute, on the mean and the
 * running mean) and a variance by 2 units relative. On devices whose conv kernels write no statistics (groups = 0) the batch
 * norm computes its own, and the check covers that fallback. */
static int stats_case(Rig *g, const Case *c, VkcCheckResult *r)
{
    const char *dt = rig_dtype_suffix(g);
    double u = rig_unit(g);
    RefConv rc = {c->N, c->C_in, c->H, c->W, c->C_out, c->k, c->stride, c->pad};
    int Ho = ref_conv_out(c->H, c->k, c->stride, c->pad), Wo = ref_conv_out(c->W, c->k, c->stride, c->pad);
    int HW = Ho * Wo, C = c->C_out;
    size_t nx = (size_t)c->N * c->C_in * c->H * c->W, nw = (size_t)C * c->C_in * c->k * c->k;
    size_t ny = (size_t)c->N * C * HW;
    double *x = rig_random(nx, 23 + nx, 0, 2), *w = rig_random(nw, 29 + nw, -1, 1), *b = rig_random(C, 31, -1, 1);
    double *gamma = rig_random(C, 37, 0.5, 1.5), *beta = rig_random(C, 41, -0.5, 0.5);
    double *rm = rig_random(C, 43, -0.2, 0.2), *rv = rig_random(C, 47, 0.5, 2);
    double *y = malloc(ny * sizeof *y), *yb = malloc(ny * sizeof *yb), *st = malloc(2 * C * sizeof *st);
    int status = VKC_ERR;
    if (!x || !w || !b || !gamma || !beta || !rm || !rv || !y || !yb || !st) {
        vkc_fail("out of memory");
        goto done;
    }
    VkcConv2d conv = {.N = c->N, .C_in = c->C_in, .H = c->H, .W = c->W, .C_out = C, .kernel = c->k,
                      .stride = c->stride, .pad = c->pad, .act = g->act};
    /* cooperative matrices multiply 16-bit weights: the reference gets them rounded too, so only
     * the float32 sums and the stores differ, as for the other families */
    char variant[VKC_CONV_VARIANT_NAME];
    if (vkc_conv2d_variant(&g->L, &conv, FORWARD, variant, sizeof variant)) goto done;
    if (vkc_conv2d_family(variant) == VKC_CONV_COOP) rig_round(g, w, nw);
    VkcBatchNorm bn = {.N = c->N, .C = C, .HW = HW, .eps = 1e-5f, .momentum = 0.1f};
    uint32_t groups = vkc_conv2d_stats_groups(&g->L, &conv);
    VkcTensor tx, ty, tyb;
    if (rig_act(g, x, nx, &tx) || rig_tensor(g, w, nw, &conv.weight) || rig_act(g, NULL, ny, &ty) ||
        rig_act(g, NULL, ny, &tyb) || rig_tensor(g, gamma, C, &bn.gamma) || rig_tensor(g, beta, C, &bn.beta) ||
        rig_tensor(g, rm, C, &bn.running_mean) || rig_tensor(g, rv, C, &bn.running_var) ||
        rig_tensor(g, NULL, 2 * C, &bn.stats) ||
        vkc_tensor_alloc(&g->arena, vkc_conv2d_work_bytes(&g->L, &conv), &conv.work) ||
        vkc_tensor_alloc(&g->arena, vkc_batchnorm_work_bytes(&g->L, &bn), &bn.work))
        goto done;
    if (c->bias && rig_tensor(g, b, C, &conv.bias)) goto done;
    /* (the reference updates rm and rv: after they were uploaded) */
    ref_conv2d_forward(&rc, x, w, c->bias ? b : NULL, y);
    ref_batchnorm_forward(c->N, C, HW, y, gamma, beta, 1e-5, 0.1, true, false, rm, rv, yb, st, st + C);
    if (groups) {
        if (rig_tensor(g, NULL, vkc_conv2d_stats_floats(&g->L, &conv), &conv.stats)) goto done;
        bn.conv_stats = conv.stats;
        bn.conv_groups = groups;
    }
    if (vkc_conv2d_forward(&g->L, &g->cmd, &conv, tx, ty) || vkc_batchnorm_forward(&g->L, &g->cmd, &bn, true, ty, tyb) ||
        rig_run(g))
        goto done;
    char what[160];
    snprintf(what, sizeof what, "N%d %dx%dx%d -> %d k%d s%d p%d%s, %u groups: bn y%s, %s", c->N, c->C_in, c->H, c->W,
             C, c->k, c->stride, c->pad, c->bias ? " bias" : "", groups, dt, variant);
    if (rig_compare(g, r, what, tyb, yb, ny, 2e-5 + 8 * u, 1e-5 + 2 * u)) goto done;
    snprintf(what, sizeof what, "N%d %dx%dx%d -> %d k%d s%d: mean, 1/std", c->N, c->C_in, c->H, c->W, C, c->k,
             c->stride);
    double ymax = 0;
    for (size_t i = 0; i < ny; i++) ymax = fmax(ymax, fabs(y[i]));
    if (rig_compare(g, r, what, bn.stats, st, 2 * C, 1e-5 + u * ymax, 1e-5 + 2 * u)) goto done;
    snprintf(what, sizeof what, "N%d %dx%dx%d -> %d k%d s%d: running mean", c->N, c->C_in, c->H, c->W, C, c->k,
             c->stride);
    if (rig_compare(g, r, what, bn.running_mean, rm, C, 1e-5 + u * ymax, 1e-5)) goto done;
    snprintf(what, sizeof what, "N%d %dx%dx%d -> %d k%d s%d: running var", c->N, c->C_in, c->H, c->W, C, c->k,
             c->stride);
    if (rig_compare(g, r, what, bn.running_var, rv, C, 1e-5, 1e-5 + 2 * u)) goto done;
    status = VKC_OK;
done:
    free(x), free(w), free(b), free(gamma), free(beta), free(rm), free(rv), free(y), free(yb), free(st);
    return status;
}

static int stats_all(VkcContext *ctx, VkcCheckResult *r, VkcDtype act)
{
    Rig g;
    if (rig_init_dtype(&g, ctx, act, r)) return r->skipped ? VKC_OK : VKC_ERR;
    int rc = VKC_OK;
    for (int i = 0; i < NCASES && rc == VKC_OK; i++) rc = stats_case(&g, &cases[i], r);
    rig_free(&g);
    return rc;
}

int check_conv_forward_bn_stats(VkcContext *ctx, VkcDtype dt, VkcCheckResult *r) { return stats_all(ctx, r, dt); }
int check_conv_backward_input(VkcContext *ctx, VkcDtype dt, VkcCheckResult *r)
{
    return run_all(ctx, r, BACKWARD_INPUT, dt);
}
int check_conv_backward_weight(VkcContext *ctx, VkcDtype dt, VkcCheckResult *r)
{
    return run_all(ctx, r, BACKWARD_WEIGHT, dt);
}

/* ---------------------------------------------------------------- cooperative matrices */

/* The coop16 group: every case with the device class's built-in cooperative-matrix tile, and each
 * of its other tiles on a few cases (odd sizes with bias, stride 2, a real layer, the split
 * weight gradient), forced through the tuning table as vkclr tune does; skipped, with the
 * reason, where the device does not run them. */
static int run_coop(VkcContext *ctx, VkcCheckResult *r, int which, VkcDtype act, bool stats)
{
    static const char *const names[3] = {"fwd", "dgrad", "wgrad"};
    if (!ctx->coop.ok[act]) {
        r->skipped = true;
        snprintf(r->detail, sizeof r->detail, "conv2d_%s_coop_%s not run: %.440s", names[which],
                 act == VKC_F16 ? "f16" : "bf16", ctx->coop.why_not[act]);
        return VKC_OK;
    }
    Rig g;
    if (rig_init_dtype(&g, ctx, act, r)) return r->skipped ? VKC_OK : VKC_ERR;
    g.L.conv_forced = false; /* (VKCLR_CONV_PATH): this group picks its kernels through the table */
    static const bool every_tile[NCASES] = {[1] = true, [2] = true, [8] = true, [10] = true};
    int rc = VKC_OK, runs = 0;
    for (int i = 0; i < NCASES && rc == VKC_OK; i++) {
        const Case *c = &cases[i];
        VkcConv2d conv = {.N = c->N, .C_in = c->C_in, .H = c->H, .W = c->W, .C_out = c->C_out, .kernel = c->k,
                          .stride = c->stride, .pad = c->pad, .act = act};
        char key[128], list[64][VKC_CONV_VARIANT_NAME], previous[VKC_CONV_VARIANT_NAME] = "";
        vkc_conv2d_tuning_key(&conv, which, key, sizeof key);
        int n = vkc_conv2d_candidates(&g.L, &conv, which, list, 64);
        const char *old = vkc_tuning_get(&ctx->tuning, key);
        if (old) snprintf(previous, sizeof previous, "%s", old);
        bool first = true;
        for (int t = 0; t < n && rc == VKC_OK; t++) {
            if (vkc_conv2d_family(list[t]) != VKC_CONV_COOP || (!first && !every_tile[i])) continue;
            first = false;
            rc = vkc_tuning_set(&ctx->tuning, key, list[t], 0);
            if (rc == VKC_OK) rc = stats ? stats_case(&g, c, r) : run_case(&g, c, which, r);
            runs++;
        }
        if (previous[0]) vkc_tuning_set(&ctx->tuning, key, previous, 0);
        else vkc_tuning_remove(&ctx->tuning, key);
    }
    rig_free(&g);
    if (rc == VKC_OK && !runs) return vkc_fail("no cooperative-matrix tile fits these convolutions on this device");
    return rc;
}

int check_coop_conv_forward(VkcContext *ctx, VkcDtype dt, VkcCheckResult *r) { return run_coop(ctx, r, FORWARD, dt, false); }
int check_coop_conv_forward_bn_stats(VkcContext *ctx, VkcDtype dt, VkcCheckResult *r)
{
    return run_coop(ctx, r, FORWARD, dt, true);
}
int check_coop_conv_backward_input(VkcContext *ctx, VkcDtype dt, VkcCheckResult *r)
{
    return run_coop(ctx, r, BACKWARD_INPUT, dt, false);
}
int check_coop_conv_backward_weight(VkcContext *ctx, VkcDtype dt, VkcCheckResult *r)
{
    return run_coop(ctx, r, BACKWARD_WEIGHT, dt, false);
}

/* ---------------------------------------------------------------- finite differences */

typedef struct {
    RefConv c;
    double *x, *w, *b, *g, *y;
} FdConv;

static double conv_loss(void *user)
{
    FdConv *f = user;
    ref_conv2d_forward(&f->c, f->x, f->w, f->b, f->y);
    int n = f->c.N * f->c.C_out * ref_conv_out(f->c.H, f->c.k, f->c.stride, f->c.pad) *
            ref_conv_out(f->c.W, f->c.k, f->c.stride, f->c.pad);
    double loss = 0.0;
    for (int i = 0; i < n; i++) loss += f->y[i] * f->g[i];
    return loss;
}

int check_conv_fd(VkcContext *ctx, VkcCheckResult *r)
{
    (void)ctx;
    static const RefConv shapes[] = {
        {2, 3, 5, 6, 4, 3, 1, 1}, {1, 2, 7, 7, 3, 3, 2, 1}, {2, 3, 4, 5, 2, 1, 2, 0}, {1, 2, 6, 5, 2, 5, 1, 2},
    };
    for (int s = 0; s < 4; s++) {
        FdConv f = {.c = shapes[s]};
        const RefConv *c = &f.c;
        int Ho = ref_conv_out(c->H, c->k, c->stride, c->pad), Wo = ref_conv_out(c->W, c->k, c->stride, c->pad);
        size_t nx = (size_t)c->N * c->C_in * c->H * c->W, nw = (size_t)c->C_out * c->C_in * c->k * c->k;
        size_t ny = (size_t)c->N * c->C_out * Ho * Wo;
        f.x = rig_random(nx, 3, -1, 1), f.w = rig_random(nw, 5, -1, 1), f.b = rig_random(c->C_out, 7, -1, 1);
        f.g = rig_random(ny, 9, -1, 1), f.y = malloc(ny * sizeof(double));
        double *dx = malloc(nx * sizeof *dx), *dw = malloc(nw * sizeof *dw), *db = malloc(c->C_out * sizeof *db);
        double *num = malloc((nx + nw) * sizeof *num);
        bool ok = f.x && f.w && f.b && f.g && f.y && dx && dw && db && num;
        if (ok) {
            ref_conv2d_backward(c, f.x, f.w, f.g, dx, dw, db);
            char what[96];
            snprintf(what, sizeof what, "k%d s%d p%d", c->k, c->stride, c->pad);
            rig_finite_diff(f.x, nx, 1e-6, conv_loss, &f, num);
            vkc_check_compare_f64(r, what, dx, num, nx, 1e-7, 1e-7);
            rig_finite_diff(f.w, nw, 1e-6, conv_loss, &f, num);
            vkc_check_compare_f64(r, what, dw, num, nw, 1e-7, 1e-7);
            rig_finite_diff(f.b, c->C_out, 1e-6, conv_loss, &f, num);
            vkc_check_compare_f64(r, what, db, num, c->C_out, 1e-7, 1e-7);
        }
        free(f.x), free(f.w), free(f.b), free(f.g), free(f.y), free(dx), free(dw), free(db), free(num);
        if (!ok) return vkc_fail("out of memory");
    }
    return VKC_OK;
}
