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
 * The finite-difference check perturbs x, gamma, beta in double with h = 1e-5: truncation
 * h^2 * |L'''| ~ 1e-9, rounding 1e-16/h ~ 1e-11; tolerance 1e-6 + 1e-6 relative.
 * 16-bit activations: x and dy are rounded to the dtype first (the reference sees the same
 * values); y and dx are computed in float32 and rounded once: 2 units of the dtype's rounding
 * (rig_unit) relative on top, and for dx, whose terms cancel, 4 units of its O(1) terms absolute.
 * The statistics, running statistics, dgamma and dbeta stay float32: tolerances as above. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref_layers.h"
#include "rig.h"

typedef struct {
    int N, C, HW;
    bool relu;
} Case;

static const Case cases[] = {
    {4, 3, 25, false},  /* 5x5 images */
    {1, 5, 49, true},   /* batch 1: statistics over the plane only */
    {8, 16, 1, false},  /* 1-D form (projection head) */
    {2, 7, 1, true},    /* 1-D, batch 2 */
    {16, 8, 64, true},  /* many chunks per channel */
    {3, 33, 9, false},  /* odd channel count, C*HW not a multiple of 4 */
    {64, 4, 196, false}, /* M = 12544: long chunks */
    {1, 3, 4, true},    /* the 4-wide path (HW % 4 == 0) at batch 1 */
    {5, 6, 16, false},  /* ... and an odd batch */
};
#define NCASES (int)(sizeof cases / sizeof cases[0])

static const double eps = 1e-5, momentum = 0.1;

/* One case: a training forward, its backward, then an evaluation forward with the updated
 * running statistics; every output compared. `backward` selects which half is checked. */
static int run_case(Rig *g, const Case *c, bool backward, VkcCheckResult *r)
{
    const char *dt = g->act == VKC_F32 ? "" : g->act == VKC_F16 ? " fp16" : " bf16";
    double u = rig_unit(g);
    size_t n = (size_t)c->N * c->C * c->HW;
    double *x = rig_random(n, 21 + n, 1, 5), *gamma = rig_random(c->C, 23, 0.5, 1.5);
    double *beta = rig_random(c->C, 29, -0.5, 0.5), *dy = rig_random(n, 31 + n, -1, 1);
    double *rm = rig_random(c->C, 37, -0.2, 0.2), *rv = rig_random(c->C, 41, 0.5, 2);
    double *y = malloc(n * sizeof *y), *y_dev = malloc(n * sizeof *y), *dx = malloc(n * sizeof *dx);
    double *mean = malloc(c->C * sizeof *mean), *invstd = malloc(c->C * sizeof *invstd);
    double *dgamma = malloc(c->C * sizeof *dgamma), *dbeta = malloc(c->C * sizeof *dbeta);
    double *y_eval = malloc(n * sizeof *y_eval);
    int status = VKC_ERR;
    if (!x || !gamma || !beta || !dy || !rm || !rv || !y || !y_dev || !dx || !mean || !invstd || !dgamma || !dbeta ||
        !y_eval) {
        vkc_fail("out of memory");
        goto done;
    }
    VkcBatchNorm bn = {.N = c->N, .C = c->C, .HW = c->HW, .eps = (float)eps, .momentum = (float)momentum,
                       .relu = c->relu};
    VkcTensor tx, ty, tdy, tdx, tdg, tdb, ty_eval;
    if (rig_act(g, x, n, &tx) || rig_tensor(g, gamma, c->C, &bn.gamma) || rig_tensor(g, beta, c->C, &bn.beta) ||
        rig_tensor(g, rm, c->C, &bn.running_mean) || rig_tensor(g, rv, c->C, &bn.running_var) ||
        rig_tensor(g, NULL, 2 * c->C, &bn.stats) || rig_act(g, NULL, n, &ty) || rig_act(g, dy, n, &tdy) ||
        rig_act(g, NULL, n, &tdx) || rig_tensor(g, NULL, c->C, &tdg) || rig_tensor(g, NULL, c->C, &tdb) ||
        rig_act(g, NULL, n, &ty_eval) ||
        vkc_tensor_alloc(&g->arena, vkc_batchnorm_work_bytes(&g->L, &bn), &bn.work))
        goto done;

    ref_batchnorm_forward(c->N, c->C, c->HW, x, gamma, beta, eps, momentum, true, c->relu, rm, rv, y, mean, invstd);
    if (vkc_batchnorm_forward(&g->L, &g->cmd, &bn, true, tx, ty) || rig_run(g) || rig_read(g, ty, n, y_dev)) goto done;
    /* The backward is compared given the same forward output (the ReLU mask comes from y):
     * the reference uses the device's y so that an element within rounding of 0 cannot flip. */
    ref_batchnorm_backward(c->N, c->C, c->HW, x, gamma, mean, invstd, c->relu, y_dev, dy, dx, dgamma, dbeta);
    if (vkc_batchnorm_backward(&g->L, &g->cmd, &bn, tx, ty, tdy, tdx, tdg, tdb) || rig_run(g)) goto done;
    double *mean_eval = malloc(c->C * sizeof *mean_eval), *invstd_eval = malloc(c->C * sizeof *invstd_eval);
    if (!mean_eval || !invstd_eval) {
        free(mean_eval), free(invstd_eval);
        vkc_fail("out of memory");
        goto done;
    }
    ref_batchnorm_forward(c->N, c->C, c->HW, x, gamma, beta, eps, momentum, false, c->relu, rm, rv, y_eval, mean_eval,
                          invstd_eval);
    free(mean_eval), free(invstd_eval);
    if (vkc_batchnorm_forward(&g->L, &g->cmd, &bn, false, tx, ty_eval) || rig_run(g)) goto done;

    char what[128];
    double M = (double)c->N * c->HW;
    if (!backward) {
        snprintf(what, sizeof what, "N%d C%d HW%d%s y%s", c->N, c->C, c->HW, c->relu ? " relu" : "", dt);
        if (rig_compare(g, r, what, ty, y, n, 2e-5, 1e-5 + 2 * u)) goto done;
        snprintf(what, sizeof what, "N%d C%d HW%d running mean", c->N, c->C, c->HW);
        if (rig_compare(g, r, what, bn.running_mean, rm, c->C, 1e-5, 1e-5)) goto done;
        snprintf(what, sizeof what, "N%d C%d HW%d running var", c->N, c->C, c->HW);
        if (rig_compare(g, r, what, bn.running_var, rv, c->C, 1e-5, 1e-5)) goto done;
        snprintf(what, sizeof what, "N%d C%d HW%d%s eval y%s", c->N, c->C, c->HW, c->relu ? " relu" : "", dt);
        if (rig_compare(g, r, what, ty_eval, y_eval, n, 2e-5, 1e-5 + 2 * u)) goto done;
    } else {
        snprintf(what, sizeof what, "N%d C%d HW%d%s dx%s", c->N, c->C, c->HW, c->relu ? " relu" : "", dt);
        if (rig_compare(g, r, what, tdx, dx, n, 2e-5 + 4 * u, 1e-4 + 2 * u)) goto done;
        snprintf(what, sizeof what, "N%d C%d HW%d%s dgamma", c->N, c->C, c->HW, c->relu ? " relu" : "");
        if (rig_compare(g, r, what, tdg, dgamma, c->C, 2e-6 * sqrt(M), 1e-5)) goto done;
        snprintf(what, sizeof what, "N%d C%d HW%d%s dbeta", c->N, c->C, c->HW, c->relu ? " relu" : "");
        if (rig_compare(g, r, what, tdb, dbeta, c->C, 2e-6 * sqrt(M), 1e-5)) goto done;
    }
    status = VKC_OK;
done:
    free(x), free(gamma), free(beta), free(dy), free(rm), free(rv), free(y), free(y_dev), free(dx), free(mean);
    free(invstd), free(dgamma), free(dbeta), free(y_eval);
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

int check_bn_forward(VkcContext *ctx, VkcCheckResult *r) { return run_all(ctx, r, false, VKC_F32); }
int check_bn_backward(VkcContext *ctx, VkcCheckResult *r) { return run_all(ctx, r, true, VKC_F32); }
int check_bn_forward_f16(VkcContext *ctx, VkcCheckResult *r) { return run_all(ctx, r, false, VKC_F16); }
int check_bn_backward_f16(VkcContext *ctx, VkcCheckResult *r) { return run_all(ctx, r, true, VKC_F16); }
int check_bn_forward_bf16(VkcContext *ctx, VkcCheckResult *r) { return run_all(ctx, r, false, VKC_BF16); }
int check_bn_backward_bf16(VkcContext *ctx, VkcCheckResult *r) { return run_all(ctx, r, true, VKC_BF16); }

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
    static const Case shapes[] = {{3, 2, 5, false}, {2, 3, 4, true}, {6, 4, 1, false}, {5, 3, 1, true}};
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
