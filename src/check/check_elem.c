/* ReLU, residual add, max-pool 2x2 and global average pool against their references, and the
 * reference backward passes against finite differences.
 *
 * Tolerances. ReLU, add, max-pool and their backward passes are exact in float (a copy, a
 * comparison or one rounded addition of two floats, which the double reference rounds the
 * same way): atol 1e-12, rtol 1e-7, i.e. bit-exact up to the float-to-double round trip.
 * The average pool sums HW floats in order: atol 1e-6 (a sum of <= 1000 values in [-1,1)
 * divided by HW), rtol 1e-6. Finite differences: every loss here is piecewise linear, so central
 * differences with h = 1e-6 are exact up to rounding (~1e-10) away from kinks, which random
 * inputs miss: tolerance 1e-7 + 1e-7 relative.
 * 16-bit builds (fp16, bf16): the inputs are rounded to the dtype first (the references see the
 * same values), the kernels compute in float32 and round each output once: ReLU and max-pool
 * stay exact copies, add, the average pool's gradient and the cast get 2 units of the dtype's
 * rounding on top (rig_unit); the average pool's float32 output is as before. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref_layers.h"
#include "rig.h"

static const int sizes[] = {1, 3, 4, 5, 17, 1003, 4096};
#define NSIZES (int)(sizeof sizes / sizeof sizes[0])

/* relu forward and backward, add; in place where the API allows it. */
static int eltwise_case(Rig *g, int n, int which, VkcCheckResult *r)
{
    const char *dt = rig_dtype_suffix(g);
    double *x = rig_random(n, 61 + n, -1, 1), *b = rig_random(n, 67 + n, -1, 1), *want = malloc(n * sizeof *want);
    int status = VKC_ERR;
    VkcTensor tx, tb, ty;
    if (!x || !b || !want) {
        vkc_fail("out of memory");
        goto done;
    }
    bool cast = which == 3;
    if ((cast ? rig_tensor(g, x, n, &tx) : rig_act(g, x, n, &tx)) || rig_act(g, b, n, &tb) || rig_act(g, NULL, n, &ty))
        goto done;
    char what[64];
    int rec;
    double rtol = 1e-7 + 2 * rig_unit(g);
    if (cast) {
        /* the cast's reference is the rounding itself: float32 copies, fp16 / bf16 to nearest even */
        memcpy(want, x, n * sizeof *want);
        rig_round(g, want, n);
        rec = vkc_cast(&g->L, &g->cmd, n, tx, ty);
        snprintf(what, sizeof what, "cast n=%d%s", n, dt);
        /* fp16: a GPU may round a float to half either way (SPIR-V leaves it open): 1 unit */
        rtol = g->act == VKC_F16 ? 0x1p-10 : 0;
    } else if (which == 0) {
        ref_relu_forward(n, x, want);
        rec = vkc_relu_forward(&g->L, &g->cmd, n, tx, ty);
        snprintf(what, sizeof what, "relu forward n=%d%s", n, dt);
        rtol = 1e-7;
    } else if (which == 1) {
        ref_relu_backward(n, x, b, want);
        rec = vkc_relu_backward(&g->L, &g->cmd, n, tx, tb, tb); /* dx over dy, in place */
        ty = tb;
        snprintf(what, sizeof what, "relu backward (in place) n=%d%s", n, dt);
        rtol = 1e-7;
    } else {
        ref_add(n, x, b, want);
        rec = vkc_add(&g->L, &g->cmd, n, tx, tb, n % 2 ? ty : tx); /* odd sizes out of place, even in place */
        if (n % 2 == 0) ty = tx;
        snprintf(what, sizeof what, "add n=%d%s", n, dt);
    }
    if (rec || rig_run(g) || rig_compare(g, r, what, ty, want, n, 1e-12, rtol)) goto done;
    status = VKC_OK;
done:
    free(x), free(b), free(want);
    return status;
}

static int eltwise_all(VkcContext *ctx, VkcCheckResult *r, int which, VkcDtype act)
{
    Rig g;
    if (rig_init_dtype(&g, ctx, act, r)) return r->skipped ? VKC_OK : VKC_ERR;
    int rc = VKC_OK;
    for (int i = 0; i < NSIZES && rc == VKC_OK; i++) rc = eltwise_case(&g, sizes[i], which, r);
    rig_free(&g);
    return rc;
}

int check_act_relu_forward(VkcContext *ctx, VkcDtype dt, VkcCheckResult *r) { return eltwise_all(ctx, r, 0, dt); }
int check_act_relu_backward(VkcContext *ctx, VkcDtype dt, VkcCheckResult *r) { return eltwise_all(ctx, r, 1, dt); }
int check_add(VkcContext *ctx, VkcDtype dt, VkcCheckResult *r) { return eltwise_all(ctx, r, 2, dt); }
int check_cast(VkcContext *ctx, VkcDtype dt, VkcCheckResult *r) { return eltwise_all(ctx, r, 3, dt); }

/* ---------------------------------------------------------------- pooling */

static const int pool_shapes[][3] = {{1, 2, 2}, {3, 5, 7}, {2, 6, 6}, {64, 28, 28}, {5, 7, 7}, {4, 14, 3}};
#define NPOOL (int)(sizeof pool_shapes / sizeof pool_shapes[0])

/* Windowed max-pools: planes, H, W, window, stride, padding (the ImageNet stem's 3, 2, 1 on
 * even and odd sizes, down to one pixel; overlapping windows at stride 1; no padding). */
static const int window_shapes[][6] = {
    {1, 1, 1, 3, 2, 1}, {3, 5, 7, 3, 2, 1}, {2, 6, 6, 3, 2, 1}, {16, 48, 48, 3, 2, 1}, {4, 7, 4, 3, 2, 1},
    {2, 2, 3, 3, 2, 1}, {3, 6, 5, 3, 1, 1}, {2, 9, 8, 3, 2, 0}, {2, 8, 8, 2, 2, 0},
};
#define NWINDOW (int)(sizeof window_shapes / sizeof window_shapes[0])

/* A max-pool of k x k windows at stride st, padding pad; k 0: the 2x2 kernels (vkc_maxpool2x2_*). */
static int maxpool_case(Rig *g, int planes, int H, int W, int k, int st, int pad, bool backward, VkcCheckResult *r)
{
    const char *dt = rig_dtype_suffix(g);
    bool windowed = k > 0;
    if (!windowed) k = st = 2, pad = 0;
    int Ho = (H + 2 * pad - k) / st + 1, Wo = (W + 2 * pad - k) / st + 1;
    VkcMaxPool mp = {(uint32_t)planes, (uint32_t)H, (uint32_t)W, (uint32_t)k, (uint32_t)st, (uint32_t)pad};
    int nx = planes * H * W, ny = planes * Ho * Wo;
    double *x = rig_random(nx, 71 + nx, -1, 1), *dy = rig_random(ny, 73 + ny, -1, 1);
    double *y = malloc(ny * sizeof *y), *dx = malloc(nx * sizeof *dx);
    int status = VKC_ERR;
    VkcTensor tx, tdy, ty, tdx;
    if (!x || !dy || !y || !dx) {
        vkc_fail("out of memory");
        goto done;
    }
    if (rig_act(g, x, nx, &tx) || rig_act(g, dy, ny, &tdy) || rig_act(g, NULL, ny, &ty) || rig_act(g, NULL, nx, &tdx))
        goto done;
    char what[96];
    snprintf(what, sizeof what, "maxpool %dx%d/%d pad %d %s %dx%dx%d%s", k, k, st, pad,
             backward ? "backward" : "forward", planes, H, W, dt);
    if (!backward) {
        ref_maxpool_forward(planes, H, W, k, st, pad, x, y);
        if ((windowed ? vkc_maxpool_forward(&g->L, &g->cmd, &mp, tx, ty)
                      : vkc_maxpool2x2_forward(&g->L, &g->cmd, planes, H, W, tx, ty)) ||
            rig_run(g) || rig_compare(g, r, what, ty, y, ny, 1e-12, 1e-7))
            goto done;
    } else {
        /* a sum of up to ceil(k / st)^2 gradients per element: rounded once per addition */
        ref_maxpool_backward(planes, H, W, k, st, pad, x, dy, dx);
        if ((windowed ? vkc_maxpool_backward(&g->L, &g->cmd, &mp, tx, tdy, tdx)
                      : vkc_maxpool2x2_backward(&g->L, &g->cmd, planes, H, W, tx, tdy, tdx)) ||
            rig_run(g) || rig_compare(g, r, what, tdx, dx, nx, 1e-7, 1e-7 + 4 * rig_unit(g)))
            goto done;
    }
    status = VKC_OK;
done:
    free(x), free(dy), free(y), free(dx);
    return status;
}

static int avgpool_case(Rig *g, int planes, int HW, bool backward, VkcCheckResult *r)
{
    const char *dt = rig_dtype_suffix(g);
    int nx = planes * HW;
    double *x = rig_random(nx, 79 + nx, -1, 1), *dy = rig_random(planes, 83 + planes, -1, 1);
    double *y = malloc(planes * sizeof *y), *dx = malloc(nx * sizeof *dx);
    int status = VKC_ERR;
    VkcTensor tx, tdy, ty, tdx;
    if (!x || !dy || !y || !dx) {
        vkc_fail("out of memory");
        goto done;
    }
    /* The planes are activations, the pooled values float32. */
    if (rig_act(g, x, nx, &tx) || rig_tensor(g, dy, planes, &tdy) || rig_tensor(g, NULL, planes, &ty) ||
        rig_act(g, NULL, nx, &tdx))
        goto done;
    char what[64];
    snprintf(what, sizeof what, "avgpool %s %dx%d%s", backward ? "backward" : "forward", planes, HW, dt);
    if (!backward) {
        ref_avgpool_forward(planes, HW, x, y);
        if (vkc_avgpool_forward(&g->L, &g->cmd, planes, HW, tx, ty) || rig_run(g) ||
            rig_compare(g, r, what, ty, y, planes, 1e-6, 1e-6))
            goto done;
    } else {
        ref_avgpool_backward(planes, HW, dy, dx);
        if (vkc_avgpool_backward(&g->L, &g->cmd, planes, HW, tdy, tdx) || rig_run(g) ||
            rig_compare(g, r, what, tdx, dx, nx, 1e-7, 1e-6 + 2 * rig_unit(g)))
            goto done;
    }
    status = VKC_OK;
done:
    free(x), free(dy), free(y), free(dx);
    return status;
}

static int pool_all(VkcContext *ctx, VkcCheckResult *r, bool max, bool backward, VkcDtype act)
{
    Rig g;
    if (rig_init_dtype(&g, ctx, act, r)) return r->skipped ? VKC_OK : VKC_ERR;
    int rc = VKC_OK;
    for (int i = 0; i < NPOOL && rc == VKC_OK; i++) {
        const int *s = pool_shapes[i];
        rc = max ? maxpool_case(&g, s[0], s[1], s[2], 0, 0, 0, backward, r)
                 : avgpool_case(&g, s[0], s[1] * s[2], backward, r);
    }
    for (int i = 0; max && i < NWINDOW && rc == VKC_OK; i++) {
        const int *s = window_shapes[i];
        rc = maxpool_case(&g, s[0], s[1], s[2], s[3], s[4], s[5], backward, r);
    }
    if (!max && rc == VKC_OK) rc = avgpool_case(&g, 7, 1, backward, r); /* 1x1 planes */
    rig_free(&g);
    return rc;
}

int check_pool_max_forward(VkcContext *ctx, VkcDtype dt, VkcCheckResult *r) { return pool_all(ctx, r, true, false, dt); }
int check_pool_max_backward(VkcContext *ctx, VkcDtype dt, VkcCheckResult *r) { return pool_all(ctx, r, true, true, dt); }
int check_pool_avg_forward(VkcContext *ctx, VkcDtype dt, VkcCheckResult *r) { return pool_all(ctx, r, false, false, dt); }
int check_pool_avg_backward(VkcContext *ctx, VkcDtype dt, VkcCheckResult *r) { return pool_all(ctx, r, false, true, dt); }

/* ---------------------------------------------------------------- finite differences */

typedef struct {
    int kind; /* 0 relu, 1 maxpool 2x2, 2 avgpool, 3 maxpool 3x3 stride 2 padding 1 (ImageNet stem) */
    int planes, H, W;
    double *x, *g, *y;
} FdElem;

static int out_count(const FdElem *f)
{
    switch (f->kind) {
    case 0: return f->planes * f->H * f->W;
    case 1: return f->planes * (f->H / 2) * (f->W / 2);
    case 3: return f->planes * ((f->H - 1) / 2 + 1) * ((f->W - 1) / 2 + 1);
    default: return f->planes;
    }
}

static double elem_loss(void *user)
{
    FdElem *f = user;
    if (f->kind == 0) ref_relu_forward(f->planes * f->H * f->W, f->x, f->y);
    else if (f->kind == 1) ref_maxpool2x2_forward(f->planes, f->H, f->W, f->x, f->y);
    else if (f->kind == 3) ref_maxpool_forward(f->planes, f->H, f->W, 3, 2, 1, f->x, f->y);
    else ref_avgpool_forward(f->planes, f->H * f->W, f->x, f->y);
    double loss = 0.0;
    for (int i = 0; i < out_count(f); i++) loss += f->y[i] * f->g[i];
    return loss;
}

int check_elem_fd(VkcContext *ctx, VkcCheckResult *r)
{
    (void)ctx;
    static const char *names[] = {"relu", "maxpool 2x2", "avgpool", "maxpool 3x3/2 pad 1"};
    for (int kind = 0; kind < 4; kind++) {
        FdElem f = {kind, 3, 5, 7, NULL, NULL, NULL};
        int n = f.planes * f.H * f.W;
        f.x = rig_random(n, 89, -1, 1), f.g = rig_random(n, 97, -1, 1), f.y = malloc(n * sizeof(double));
        double *dx = malloc(n * sizeof *dx), *num = malloc(n * sizeof *num);
        bool ok = f.x && f.g && f.y && dx && num;
        if (ok) {
            if (kind == 0) ref_relu_backward(n, f.x, f.g, dx);
            else if (kind == 1) ref_maxpool2x2_backward(f.planes, f.H, f.W, f.x, f.g, dx);
            else if (kind == 3) ref_maxpool_backward(f.planes, f.H, f.W, 3, 2, 1, f.x, f.g, dx);
            else ref_avgpool_backward(f.planes, f.H * f.W, f.g, dx);
            rig_finite_diff(f.x, n, 1e-6, elem_loss, &f, num);
            vkc_check_compare_f64(r, names[kind], dx, num, n, 1e-7, 1e-7);
        }
        free(f.x), free(f.g), free(f.y), free(dx), free(num);
        if (!ok) return vkc_fail("out of memory");
    }
    return VKC_OK;
}
