/* Batch normalisation shaders against ref_batchnorm_*, and the reference backward against
 * finite differences.
 *
 * Tolerances. x = 3 + 2u (u uniform in [-1,1)): an offset mean makes a one-pass variance
 * formula fail visibly. y = gamma xhat + beta is O(1); the device's mean and variance are
 * float sums of up to a few thousand terms, relative error ~1e-6, so y agrees to ~1e-6:
 * atol 2e-5, rtol 1e-5. Running statistics likewise 1e-5. The backward's dx subtracts two
 * per-channel means from g (cancellation) and scales by gamma*invstd ~ 1.2: observed errors
 * ~1e-6; atol 2e-5, rtol 1e-4. dgamma, dbeta are sums over M = N*HW terms of O(1):
 * atol 2e-6*sqrt(M)... as conv weight gradients.
 * With a fused pool (bn->pool) the forward's output is the pooled map: a max of values
 * compared as above (same tolerance), or a mean of HW of them (ordered float sum of O(1)
 * terms: well inside the same tolerance). Its backward is compared with the reference pool
 * backward followed by the reference batch-norm backward, the max-pool's choices and the ReLU
 * mask taken from the device's own normalised map (an unfused forward with the same
 * statistics) so that a near-tie cannot pick a different element; same tolerances as above.
 * The finite-difference check perturbs x, gamma, beta in double with h = 1e-5: truncation
 * h^2 * |L'''| ~ 1e-9, rounding 1e-16/h ~ 1e-11; tolerance 1e-6 + 1e-6 relative.
 * 16-bit activations: x and dy are rounded to the dtype first (the reference sees the same
 * values); y and dx are computed in float32 and rounded once: 2 units of the dtype's rounding
 * (rig_unit) relative on top, and for dx, whose terms cancel, 4 units of its O(1) terms absolute.
 * The statistics, running statistics, dgamma and dbeta stay float32: tolerances as above, and
 * so do the average pool's features and their gradient. The device's normalised map is then
 * itself rounded, which makes ties of a max-pool window likely; the backward's reference
 * takes the ReLU mask and the pool's choices from its own map in double instead (a tie within
 * float32 rounding is as unlikely as in the float32 check). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref_layers.h"
#include "rig.h"

typedef struct {
    int N, C, H, W;
    bool relu;
    VkcBnPool pool;
} Case;

#define MAXP VKC_BN_POOL_MAX2X2
#define AVGP VKC_BN_POOL_AVG
static const Case cases[] = {
    {4, 3, 5, 5, false, 0},   /* 5x5 images */
    {1, 5, 7, 7, true, 0},    /* batch 1: statistics over the plane only */
    {8, 16, 1, 1, false, 0},  /* 1-D form (projection head) */
    {2, 7, 1, 1, true, 0},    /* 1-D, batch 2 */
    {16, 8, 8, 8, true, 0},   /* many chunks per channel */
    {3, 33, 3, 3, false, 0},  /* odd channel count, C*HW not a multiple of 4 */
    {64, 4, 14, 14, false, 0}, /* M = 12544: long chunks */
    {1, 3, 2, 2, true, 0},    /* the 4-wide path (HW % 4 == 0) at batch 1 */
    {5, 6, 4, 4, false, 0},   /* ... and an odd batch */
    /* fused pools */
    {4, 3, 8, 8, true, MAXP},   /* max-pool, two windows per step (W % 4 == 0) */
    {3, 5, 6, 6, true, MAXP},   /* max-pool, one window per step */
    {2, 4, 7, 5, true, MAXP},   /* odd H and W: the last row and column in no window */
    {2, 3, 5, 8, true, MAXP},   /* odd H, two windows per step */
    {3, 2, 6, 6, false, MAXP},  /* without ReLU */
    {16, 8, 8, 8, true, MAXP},  /* many chunks of windows per channel */
    {2, 4, 7, 7, true, AVGP},   /* global average pool (the convnet's last block) */
    {3, 2, 4, 4, true, AVGP},   /* ... over whole texels */
    {5, 2, 3, 3, false, AVGP},  /* ... without ReLU */
};
#define NCASES (int)(sizeof cases / sizeof cases[0])

static const double eps = 1e-5, momentum = 0.1;

/* One case: a training forward, its backward, then an evaluation forward with the updated
 * running statistics; every output compared. `backward` selects which half is checked. */
/* Reference pool forward / backward of the normalised map (planes of H x W). */
static void pool_forward(const Case *c, const double *z, double *y)
{
    if (c->pool == MAXP) ref_maxpool2x2_forward(c->N * c->C, c->H, c->W, z, y);
    else if (c->pool == AVGP) ref_avgpool_forward(c->N * c->C, c->H * c->W, z, y);
    else memcpy(y, z, sizeof *y * c->N * c->C * c->H * c->W);
}

static void pool_backward(const Case *c, const double *z, const double *dy, double *dz)
{
    if (c->pool == MAXP) ref_maxpool2x2_backward(c->N * c->C, c->H, c->W, z, dy, dz);
    else if (c->pool == AVGP) ref_avgpool_backward(c->N * c->C, c->H * c->W, dy, dz);
    else memcpy(dz, dy, sizeof *dz * c->N * c->C * c->H * c->W);
}

static size_t pooled_floats(const Case *c)
{
    size_t planes = (size_t)c->N * c->C;
    return c->pool == MAXP ? planes * (c->H / 2) * (c->W / 2) : c->pool == AVGP ? planes : planes * c->H * c->W;
}

static int run_case(Rig *g, const Case *c, bool backward, VkcCheckResult *r)
{
    const char *dt = rig_dtype_suffix(g);
    double u = rig_unit(g), uo = c->pool == AVGP ? 0.0 : u; /* uo: of the (pooled) output */
    int HW = c->H * c->W;
    size_t n = (size_t)c->N * c->C * HW, np = pooled_floats(c);
    double *x = rig_random(n, 21 + n, 1, 5), *gamma = rig_random(c->C, 23, 0.5, 1.5);
    double *beta = rig_random(c->C, 29, -0.5, 0.5), *dy = rig_random(np, 31 + np, -1, 1);
    double *rm = rig_random(c->C, 37, -0.2, 0.2), *rv = rig_random(c->C, 41, 0.5, 2);
    double *z = malloc(n * sizeof *z), *z_dev = malloc(n * sizeof *z), *dz = malloc(n * sizeof *dz);
    double *y = malloc(np * sizeof *y), *y_eval = malloc(np * sizeof *y_eval), *dx = malloc(n * sizeof *dx);
    double *mean = malloc(c->C * sizeof *mean), *invstd = malloc(c->C * sizeof *invstd);
    double *dgamma = malloc(c->C * sizeof *dgamma), *dbeta = malloc(c->C * sizeof *dbeta);
    int status = VKC_ERR;
    if (!x || !gamma || !beta || !dy || !rm || !rv || !z || !z_dev || !dz || !y || !y_eval || !dx || !mean || !invstd ||
        !dgamma || !dbeta) {
        vkc_fail("out of memory");
        goto done;
    }
    VkcBatchNorm bn = {.N = c->N, .C = c->C, .HW = HW, .eps = (float)eps, .momentum = (float)momentum,
                       .relu = c->relu, .pool = c->pool, .H = c->H, .W = c->W};
    VkcBatchNorm plain = bn; /* the same normalisation without the pool, for the device's map */
    plain.pool = VKC_BN_POOL_NONE;
    VkcTensor tx, ty, tz, tdy, tdx, tdg, tdb, ty_eval;
    /* the pooled output and its gradient: activations, but float32 features after the average pool */
    VkcDtype out = c->pool == AVGP ? VKC_F32 : g->act, act = g->act;
    if (rig_act(g, x, n, &tx) || rig_tensor(g, gamma, c->C, &bn.gamma) || rig_tensor(g, beta, c->C, &bn.beta) ||
        rig_tensor(g, rm, c->C, &bn.running_mean) || rig_tensor(g, rv, c->C, &bn.running_var) ||
        rig_tensor(g, NULL, 2 * c->C, &bn.stats) || (g->act = out, rig_act(g, NULL, np, &ty)) ||
        rig_act(g, dy, np, &tdy) || rig_act(g, NULL, np, &ty_eval) || (g->act = act, rig_act(g, NULL, n, &tz)) ||
        rig_act(g, NULL, n, &tdx) || rig_tensor(g, NULL, c->C, &tdg) || rig_tensor(g, NULL, c->C, &tdb) ||
        rig_tensor(g, rm, c->C, &plain.running_mean) || rig_tensor(g, rv, c->C, &plain.running_var) ||
        vkc_tensor_alloc(&g->arena, vkc_batchnorm_work_bytes(&g->L, &bn), &bn.work))
        goto done;
    plain.gamma = bn.gamma, plain.beta = bn.beta, plain.stats = bn.stats, plain.work = bn.work;

    ref_batchnorm_forward(c->N, c->C, HW, x, gamma, beta, eps, momentum, true, c->relu, rm, rv, z, mean, invstd);
    pool_forward(c, z, y);
    if (vkc_batchnorm_forward(&g->L, &g->cmd, &bn, true, tx, ty) || rig_run(g)) goto done;
    /* The backward is compared given the device's own normalised map (the ReLU mask and the
     * max-pool's choices come from it) so that an element within rounding of 0, or of a tie,
     * cannot flip. With a pool it is not stored: an unfused forward with the same statistics
     * (its running statistics are separate tensors) computes it. */
    if (c->pool != VKC_BN_POOL_NONE) {
        if (vkc_batchnorm_forward(&g->L, &g->cmd, &plain, true, tx, tz) || rig_run(g) || rig_read(g, tz, n, z_dev))
            goto done;
    } else if (rig_read(g, ty, n, z_dev)) {
        goto done;
    }
    if (g->act != VKC_F32) memcpy(z_dev, z, n * sizeof *z); /* see the top: ties of rounded values */
    pool_backward(c, z_dev, dy, dz);
    ref_batchnorm_backward(c->N, c->C, HW, x, gamma, mean, invstd, c->relu, z_dev, dz, dx, dgamma, dbeta);
    if (vkc_batchnorm_backward(&g->L, &g->cmd, &bn, tx, tdy, tdx, tdg, tdb) || rig_run(g)) goto done;
    /* Evaluation mode with the updated running statistics (z, mean, invstd reused as scratch). */
    ref_batchnorm_forward(c->N, c->C, HW, x, gamma, beta, eps, momentum, false, c->relu, rm, rv, z, mean, invstd);
    pool_forward(c, z, y_eval);
    if (vkc_batchnorm_forward(&g->L, &g->cmd, &bn, false, tx, ty_eval) || rig_run(g)) goto done;

    char what[160];
    const char *pool = c->pool == MAXP ? " maxpool" : c->pool == AVGP ? " avgpool" : "";
    double M = (double)c->N * HW;
    if (!backward) {
        snprintf(what, sizeof what, "N%d C%d %dx%d%s%s y%s", c->N, c->C, c->H, c->W, c->relu ? " relu" : "", pool, dt);
        if (rig_compare(g, r, what, ty, y, np, 2e-5, 1e-5 + 2 * uo)) goto done;
        snprintf(what, sizeof what, "N%d C%d %dx%d%s running mean", c->N, c->C, c->H, c->W, pool);
        if (rig_compare(g, r, what, bn.running_mean, rm, c->C, 1e-5, 1e-5)) goto done;
        snprintf(what, sizeof what, "N%d C%d %dx%d%s running var", c->N, c->C, c->H, c->W, pool);
        if (rig_compare(g, r, what, bn.running_var, rv, c->C, 1e-5, 1e-5)) goto done;
        snprintf(what, sizeof what, "N%d C%d %dx%d%s%s eval y%s", c->N, c->C, c->H, c->W, c->relu ? " relu" : "", pool, dt);
        if (rig_compare(g, r, what, ty_eval, y_eval, np, 2e-5, 1e-5 + 2 * uo)) goto done;
    } else {
        snprintf(what, sizeof what, "N%d C%d %dx%d%s%s dx%s", c->N, c->C, c->H, c->W, c->relu ? " relu" : "", pool, dt);
        if (rig_compare(g, r, what, tdx, dx, n, 2e-5 + 4 * u, 1e-4 + 2 * u)) goto done;
        snprintf(what, sizeof what, "N%d C%d %dx%d%s%s dgamma", c->N, c->C, c->H, c->W, c->relu ? " relu" : "", pool);
        if (rig_compare(g, r, what, tdg, dgamma, c->C, 2e-6 * sqrt(M), 1e-5)) goto done;
        snprintf(what, sizeof what, "N%d C%d %dx%d%s%s dbeta", c->N, c->C, c->H, c->W, c->relu ? " relu" : "", pool);
        if (rig_compare(g, r, what, tdb, dbeta, c->C, 2e-6 * sqrt(M), 1e-5)) goto done;
    }
    status = VKC_OK;
done:
    free(x), free(gamma), free(beta), free(dy), free(rm), free(rv), free(z), free(z_dev), free(dz), free(y);
    free(y_eval), free(dx), free(mean), free(invstd), free(dgamma), free(dbeta);
    return status;
}

static int run_all(VkcContext *ctx, VkcCheckResult *r, bool backward, VkcDtype act)
{
    Rig g;
    if (rig_init_dtype(&g, ctx, act, r)) return r->skipped ? VKC_OK : VKC_ERR;
    int rc = VKC_OK;
    for (int i = 0; i < NCASES && rc == VKC_OK; i++) rc = run_case(&g, &cases[i], backward, r);
    rig_free(&g);
    return rc;
}

int check_bn_forward(VkcContext *ctx, VkcDtype dt, VkcCheckResult *r) { return run_all(ctx, r, false, dt); }
int check_bn_backward(VkcContext *ctx, VkcDtype dt, VkcCheckResult *r) { return run_all(ctx, r, true, dt); }

/* ---------------------------------------------------------------- finite differences */

typedef struct {
    int N, C, HW;
    bool relu;
    double *x, *gamma, *beta, *g, *y, *rm, *rv, *mean, *invstd;
} FdBn;

static double bn_loss(void *user)
{
    FdBn *f = user;
    ref_batchnorm_forward(f->N, f->C, f->HW, f->x, f->gamma, f->beta, eps, momentum, true, f->relu, f->rm, f->rv, f->y,
                          f->mean, f->invstd);
    double loss = 0.0;
    for (int i = 0; i < f->N * f->C * f->HW; i++) loss += f->y[i] * f->g[i];
    return loss;
}

int check_bn_fd(VkcContext *ctx, VkcCheckResult *r)
{
    (void)ctx;
    static const struct {
        int N, C, HW;
        bool relu;
    } shapes[] = {{3, 2, 5, false}, {2, 3, 4, true}, {6, 4, 1, false}, {5, 3, 1, true}};
    for (int s = 0; s < 4; s++) {
        FdBn f = {.N = shapes[s].N, .C = shapes[s].C, .HW = shapes[s].HW, .relu = shapes[s].relu};
        size_t n = (size_t)f.N * f.C * f.HW;
        f.x = rig_random(n, 43, -2, 2), f.gamma = rig_random(f.C, 47, 0.5, 1.5), f.beta = rig_random(f.C, 53, -0.5, 0.5);
        f.g = rig_random(n, 59, -1, 1), f.y = malloc(n * sizeof(double));
        f.rm = calloc(f.C, sizeof(double)), f.rv = calloc(f.C, sizeof(double));
        f.mean = malloc(f.C * sizeof(double)), f.invstd = malloc(f.C * sizeof(double));
        double *dx = malloc(n * sizeof *dx), *dgamma = malloc(f.C * sizeof *dgamma), *dbeta = malloc(f.C * sizeof *dbeta);
        double *num = malloc(n * sizeof *num);
        bool ok = f.x && f.gamma && f.beta && f.g && f.y && f.rm && f.rv && f.mean && f.invstd && dx && dgamma && dbeta && num;
        if (ok) {
            bn_loss(&f); /* y, mean, invstd at the unperturbed point */
            ref_batchnorm_backward(f.N, f.C, f.HW, f.x, f.gamma, f.mean, f.invstd, f.relu, f.y, f.g, dx, dgamma, dbeta);
            char what[96];
            snprintf(what, sizeof what, "N%d C%d HW%d%s", f.N, f.C, f.HW, f.relu ? " relu" : "");
            rig_finite_diff(f.x, n, 1e-5, bn_loss, &f, num);
            vkc_check_compare_f64(r, what, dx, num, n, 1e-6, 1e-6);
            rig_finite_diff(f.gamma, f.C, 1e-5, bn_loss, &f, num);
            vkc_check_compare_f64(r, what, dgamma, num, f.C, 1e-6, 1e-6);
            rig_finite_diff(f.beta, f.C, 1e-5, bn_loss, &f, num);
            vkc_check_compare_f64(r, what, dbeta, num, f.C, 1e-6, 1e-6);
        }
        free(f.x), free(f.gamma), free(f.beta), free(f.g), free(f.y), free(f.rm), free(f.rv), free(f.mean);
        free(f.invstd), free(dx), free(dgamma), free(dbeta), free(num);
        if (!ok) return vkc_fail("out of memory");
    }
    return VKC_OK;
}
