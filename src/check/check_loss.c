/* NT-Xent (through the training loss, vkc_contrastive_*) and softmax cross-entropy against
 * src/check/ref/ref_head.c: metrics, gradients, finite
 * differences, and stability at small and large temperatures with nearly identical embeddings. */
#include "check_util.h"
#include "vkclr/l2norm.h"
#include "vkclr/loss.h"

/* ---------------------------------------------------------------- NT-Xent */

typedef struct {
    int n2, dim;
    double tau;
    double noise; /* 0: random directions; else nearly identical rows */
} NtxentCase;

/* Runs forward + backward; compares metrics and dz.
 * Tolerances. Logits are float GEMM outputs with |S| <= 1/tau and error ~sqrt(dim) * 6e-8 / tau;
 * lse and the loss inherit that absolute error, so metrics get atol 2e-5/tau + rtol 1e-5 (~10x
 * the observed). Accuracy is a count / 2N: exact when no two logits in a row are within float
 * error of each other (true for random directions; not compared for nearly identical rows,
 * where ties are legitimately decided by rounding). dz: softmax entries carry relative error
 * ~|S| * 6e-8 and dz sums 2N of them: atol 1e-4 * max|dz| + rtol 1e-3. For nearly identical rows
 * the terms of dz_i = sum_j G_ij z_j (each up to ~2/(2N tau)) cancel almost exactly, so the
 * float result is rounding noise of that size: the absolute tolerance is at least
 * 1e-5 * 2/(2N tau). */
static int ntxent_case(VkcContext *ctx, VkcGemm *gemm, VkcReduce *reduce, const void *nc, VkcCheckResult *r)
{
    const NtxentCase *c = nc;
    int n = c->n2 * c->dim;
    double *z = malloc(8 * n), *dz = malloc(8 * n), *got = malloc(8 * n), want_m[4], got_m[VKC_CONTRASTIVE_METRICS];
    VkcLossParams p = {.kind = VKC_LOSS_NTXENT, .tau = (float)c->tau};
    int rc = VKC_ERR;
    ck_unit_rows(z, c->n2, c->dim, 51 + n, c->noise);
    if (ck_loss_device(ctx, gemm, reduce, p, 0, z, c->n2, c->dim, got_m, got, NULL)) goto done;
    ref_ntxent_forward(z, c->n2, c->dim, c->tau, want_m);
    ref_ntxent_backward(z, c->n2, c->dim, c->tau, dz);
    for (int i = 0; i < VKC_CONTRASTIVE_METRICS; i++)
        if (!isfinite(got_m[i])) {
            snprintf(r->detail, sizeof r->detail, "2N=%d dim %d tau %g: metric %s is %g", c->n2, c->dim, c->tau,
                     vkc_metric_names[i], got_m[i]);
            r->passed = false;
        }
    /* The MI bound is log(2N - 1) minus the NT-Xent loss: a second view of the same number. */
    char what[96];
    snprintf(what, sizeof what, "loss, MI bound, 2N=%d dim %d tau %g%s", c->n2, c->dim, c->tau,
             c->noise > 0 ? " near-identical" : "");
    double metric_got[2] = {got_m[VKC_METRIC_LOSS], got_m[VKC_METRIC_MI_BOUND]};
    double metric_want[2] = {want_m[0], log(c->n2 - 1.0) - want_m[0]};
    vkc_check_compare_f64(r, what, metric_got, metric_want, 2, 2e-5 / c->tau, 1e-5);
    if (c->noise == 0) {
        snprintf(what, sizeof what, "accuracy, 2N=%d dim %d tau %g", c->n2, c->dim, c->tau);
        vkc_check_compare_f64(r, what, &got_m[VKC_METRIC_ACCURACY], &want_m[1], 1, 1e-6, 1e-6);
    } else if (!(got_m[VKC_METRIC_ACCURACY] >= 0 && got_m[VKC_METRIC_ACCURACY] <= 1)) {
        snprintf(r->detail, sizeof r->detail, "accuracy %g outside [0, 1]", got_m[VKC_METRIC_ACCURACY]);
        r->passed = false;
    }
    snprintf(what, sizeof what, "dz, 2N=%d dim %d tau %g%s", c->n2, c->dim, c->tau, c->noise > 0 ? " near-identical" : "");
    vkc_check_compare_f64(r, what, got, dz, n, fmax(1e-4 * ck_max_abs(dz, n), 1e-5 * 2 / (c->n2 * c->tau)), 1e-3);
    rc = VKC_OK;
done:
    free(z), free(dz), free(got);
    return rc;
}

int check_ntxent_shapes(VkcContext *ctx, VkcCheckResult *r)
{
    static const NtxentCase cases[] = {
        {4, 1, 0.5, 0}, {4, 3, 0.1, 0}, {6, 5, 0.5, 0}, {34, 17, 0.1, 0}, {64, 32, 0.2, 0}, {512, 128, 0.1, 0},
    };
    return ck_loss_cases(ctx, ntxent_case, cases, sizeof cases[0], (int)(sizeof cases / sizeof cases[0]), r);
}

/* Nearly identical embeddings (every logit within ~1e-3/tau of 1/tau): at tau = 0.05 the logits
 * are ~20 and at 0.01 ~100, where exp(100) overflows float; at tau = 1 the softmax is nearly flat.
 * Identical rows (noise 0 after rounding can still differ: noise 1e-9 is below float resolution)
 * make every logit equal: the loss must be exactly log(2N - 1) up to float rounding. */
int check_ntxent_stability(VkcContext *ctx, VkcCheckResult *r)
{
    static const NtxentCase cases[] = {
        {64, 32, 0.05, 1e-3}, {64, 32, 1.0, 1e-3}, {64, 32, 0.01, 1e-3}, {64, 32, 0.05, 1e-9}, {64, 32, 1.0, 1e-9},
    };
    return ck_loss_cases(ctx, ntxent_case, cases, sizeof cases[0], (int)(sizeof cases / sizeof cases[0]), r);
}

typedef struct {
    int n2, dim;
    double tau;
} NtxentFd;

static double ntxent_objective(double *z, void *user)
{
    const NtxentFd *f = user;
    return ref_ntxent_forward(z, f->n2, f->dim, f->tau, NULL);
}

/* The reference gradient holds for any z (unit rows or not): differences on raw random rows. */
int check_ntxent_fd(VkcContext *ctx, VkcCheckResult *r)
{
    (void)ctx;
    static const NtxentFd cases[] = {{2, 3, 0.5}, {6, 4, 0.5}, {8, 3, 0.1}};
    for (int c = 0; c < 3; c++) {
        int n = cases[c].n2 * cases[c].dim;
        double z[32], grad[32];
        ck_random(z, n, 61 + c, -1, 1);
        ref_ntxent_backward(z, cases[c].n2, cases[c].dim, cases[c].tau, grad);
        char what[64];
        snprintf(what, sizeof what, "dL/dz, 2N=%d dim %d tau %g", cases[c].n2, cases[c].dim, cases[c].tau);
        if (ck_fd_check(r, what, ntxent_objective, (void *)&cases[c], z, n, grad, 1e-7, 1e-6)) return VKC_ERR;
    }
    return VKC_OK;
}

/* ---------------------------------------------------------------- softmax cross-entropy */

typedef struct {
    int B, C;
    bool ties; /* all logits of row 0 equal: rank ties go to the lower class */
    bool bad_label;
} XentCase;

/* Logits in [-4, 4): lse and the loss are float sums of C exponentials, relative error ~1e-7*log C:
 * atol 1e-5 + rtol 1e-5. Top-1/top-5 are counts / B: exact (atol 1e-6). dlogits entries are
 * (p - [c = y]) / B with p from exp(x - lse), relative error ~1e-6: atol 1e-6 / B + rtol 1e-5. */
static int xent_case(VkcContext *ctx, const XentCase *c, VkcCheckResult *r)
{
    int n = c->B * c->C;
    double *x = malloc(8 * n), *dx = malloc(8 * n), *got = malloc(8 * n), want_m[4], got_m[4];
    unsigned *labels = malloc(4 * c->B);
    VkcArena arena;
    vkc_arena_init(&arena, ctx, VKC_MEMORY_DEVICE);
    VkcReduce reduce = {0};
    VkcXent l = {0};
    VkcCmd cmd = {0};
    VkcTensor tx, tdx, tl, tm;
    int rc = VKC_ERR;
    ck_random(x, n, 71 + n, -4, 4);
    if (c->ties)
        for (int i = 0; i < c->C; i++) x[i] = 0.5;
    for (int b = 0; b < c->B; b++) labels[b] = (unsigned)((b * 7919u + 13u) % (unsigned)c->C);
    if (c->bad_label) labels[c->B - 1] = (unsigned)c->C;
    if (vkc_reduce_init(ctx, &reduce) || vkc_xent_init(ctx, &l, &reduce, &arena, c->B, c->C) ||
        ck_upload(ctx, &arena, x, n, &tx) || vkc_tensor_alloc(&arena, n * 4, &tdx) ||
        vkc_tensor_alloc(&arena, 4 * c->B, &tl) || vkc_upload(ctx, tl, labels, 4 * c->B) ||
        vkc_tensor_alloc(&arena, 16, &tm) ||
        CK_RUN(ctx, cmd, vkc_xent_forward(&l, &cmd, tx, tl, tm) || vkc_xent_backward(&l, &cmd, tx, tl, tdx)) ||
        ck_download(ctx, tm, 4, got_m) || ck_download(ctx, tdx, n, got))
        goto done;
    char what[96];
    if (c->bad_label) {
        if (!isnan(got_m[0])) {
            snprintf(r->detail, sizeof r->detail, "label %d of %d classes gave mean loss %g, not NaN", c->C, c->C, got_m[0]);
            r->passed = false;
        } else if (!r->detail[0]) {
            snprintf(r->detail, sizeof r->detail, "an out-of-range label makes the loss NaN");
        }
        rc = VKC_OK;
        goto done;
    }
    ref_xent_forward(x, labels, c->B, c->C, want_m);
    ref_xent_backward(x, labels, c->B, c->C, dx);
    snprintf(what, sizeof what, "loss, lse, batch %d, %d classes", c->B, c->C);
    double mg[2] = {got_m[0], got_m[3]}, mw[2] = {want_m[0], want_m[3]};
    vkc_check_compare_f64(r, what, mg, mw, 2, 1e-5, 1e-5);
    snprintf(what, sizeof what, "top-1, top-5, batch %d, %d classes%s", c->B, c->C, c->ties ? " with ties" : "");
    vkc_check_compare_f64(r, what, got_m + 1, want_m + 1, 2, 1e-6, 0);
    snprintf(what, sizeof what, "dlogits, batch %d, %d classes", c->B, c->C);
    vkc_check_compare_f64(r, what, got, dx, n, 1e-6 / c->B, 1e-5);
    rc = VKC_OK;
done:
    vkc_cmd_destroy(&cmd);
    vkc_xent_destroy(&l);
    vkc_reduce_destroy(&reduce);
    vkc_arena_destroy(&arena);
    free(x), free(dx), free(got), free(labels);
    return rc;
}

int check_xent_shapes(VkcContext *ctx, VkcCheckResult *r)
{
    static const XentCase cases[] = {
        {1, 1, false, false}, {1, 10, false, false}, {3, 7, true, false}, {33, 10, false, false},
        {256, 100, true, false}, {17, 1000, false, false}, {5000, 3, false, false}, {4, 6, false, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (xent_case(ctx, &cases[i], r)) return VKC_ERR;
    return VKC_OK;
}

typedef struct {
    int B, C;
    const unsigned *labels;
} XentFd;

static double xent_objective(double *x, void *user)
{
    const XentFd *f = user;
    return ref_xent_forward(x, f->labels, f->B, f->C, NULL);
}

int check_xent_fd(VkcContext *ctx, VkcCheckResult *r)
{
    (void)ctx;
    static const unsigned labels[3] = {4, 0, 2};
    XentFd f = {3, 5, labels};
    double x[15], grad[15];
    ck_random(x, 15, 81, -3, 3);
    ref_xent_backward(x, labels, 3, 5, grad);
    return ck_fd_check(r, "dL/dlogits, batch 3, 5 classes", xent_objective, &f, x, 15, grad, 1e-7, 1e-6);
}
