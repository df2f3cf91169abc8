/* The NCE family behind vkc_contrastive_* (local NCE, DCL, debiased DCL, NT-Xent through the
 * family interface) and the metrics every member writes, against tests/ref/ref_head.c; finite
 * differences of the references; stability at tau = 0.05 and tau = 1 with nearly identical rows. */
#include <ctype.h>

#include "check_util.h"
#include "vkclr/loss.h"

typedef struct {
    VkcLossKind kind;
    int n2, dim;
    double tau, tau_plus;
    bool learned;
    double logz;  /* the learned log Z (learned only) */
    double noise; /* 0: random directions; else nearly identical rows */
} FamCase;

/* Tolerances. The device's logits S = z z^T / tau are float GEMM outputs with |S| <= 1/tau and
 * absolute error ~sqrt(dim) 6e-8 / tau (< 1e-6/tau at dim <= 128); a row's log-sum-exp, the
 * losses built from it, the MI bound and log Z^ inherit that: atol 2e-5/tau + rtol 2e-5 (the
 * rtol also covers the metric kernel's ordered float sum over 2N <= 512 rows, ~sqrt(2N) 6e-8).
 * Local NCE adds K = 2N - 2 softplus terms, each with that error: atol scaled by sqrt(K+1)
 * (independent roundings), with the rtol as above. Alignment and uniformity use tau*S, whose
 * error is ~1e-6 absolute: atol 2e-5. Accuracy is a count / 2N: exact for random directions
 * (no near-ties), not compared for nearly identical rows. The learned log Z is copied: 1e-7.
 * dz: each entry of G carries a relative error of ~exp's error at |S| <= 1/tau (~|S| 1e-7) and
 * dz sums 2N of them, of total size at most mass * 2/tau (mass: the reference's largest row sum of
 * |dL/dS|); for nearly identical rows these terms cancel to a much smaller result, so dz gets
 * atol = max(1e-4 max|dz|, 5e-7 (1 + 1/tau) mass 2/tau) and rtol 1e-3. dlogz is a mean of
 * sigmoids of the same logits, a sum of K + 1 terms per row like the NCE loss: the loss tolerance. */
static int family_case(VkcContext *ctx, VkcGemm *gemm, VkcReduce *reduce, const void *fc, VkcCheckResult *r)
{
    const FamCase *c = fc;
    int n = c->n2 * c->dim, K = c->n2 - 2;
    double *z = malloc(8 * n), *dz = malloc(8 * n), *got = malloc(8 * n), want_m[8], got_m[8];
    double want_dlogz = 0.0, got_dlogz = 0.0, logz = (float)c->logz; /* the device holds a float */
    int rc = VKC_ERR;
    ck_unit_rows(z, c->n2, c->dim, 91 + n + c->kind, c->noise);
    VkcLossParams p = {.kind = c->kind, .tau = (float)c->tau, .tau_plus = (float)c->tau_plus, .learned_logz = c->learned};
    if (ck_loss_device(ctx, gemm, reduce, p, logz, z, c->n2, c->dim, got_m, got, &got_dlogz)) goto done;
    RefLoss L = {(int)c->kind, c->tau, (float)c->tau_plus, c->learned ? logz : 0.0};
    ref_contrastive_forward(&L, z, c->n2, c->dim, want_m);
    double mass = ref_contrastive_backward(&L, z, c->n2, c->dim, dz, &want_dlogz);
    for (int i = 0; i < 8; i++)
        if (!isfinite(got_m[i])) {
            snprintf(r->detail, sizeof r->detail, "%s 2N=%d tau %g: metric %s is %g", vkc_loss_kind_name(c->kind),
                     c->n2, c->tau, vkc_metric_names[i], got_m[i]);
            r->passed = false;
        }
    char what[128];
    const char *tag = c->noise > 0 ? " near-identical" : "";
    double lse_tol = 2e-5 / c->tau, loss_tol = c->kind == VKC_LOSS_NCE ? lse_tol * sqrt(K + 1.0) : lse_tol;
    snprintf(what, sizeof what, "%s loss, 2N=%d dim %d tau %g%s", vkc_loss_kind_name(c->kind), c->n2, c->dim, c->tau, tag);
    vkc_check_compare_f64(r, what, &got_m[VKC_METRIC_LOSS], &want_m[VKC_METRIC_LOSS], 1, loss_tol, 2e-5);
    snprintf(what, sizeof what, "MI bound, mean and sd of log Z^, 2N=%d tau %g%s", c->n2, c->tau, tag);
    vkc_check_compare_f64(r, what, &got_m[VKC_METRIC_MI_BOUND], &want_m[VKC_METRIC_MI_BOUND], 3, lse_tol, 2e-5);
    snprintf(what, sizeof what, "alignment, uniformity, 2N=%d tau %g%s", c->n2, c->tau, tag);
    vkc_check_compare_f64(r, what, &got_m[VKC_METRIC_ALIGNMENT], &want_m[VKC_METRIC_ALIGNMENT], 2, 2e-5, 2e-5);
    snprintf(what, sizeof what, "log Z metric, 2N=%d", c->n2);
    vkc_check_compare_f64(r, what, &got_m[VKC_METRIC_LOG_Z], &want_m[VKC_METRIC_LOG_Z], 1, 1e-7, 0);
    if (c->noise == 0) {
        snprintf(what, sizeof what, "accuracy, 2N=%d dim %d tau %g", c->n2, c->dim, c->tau);
        vkc_check_compare_f64(r, what, &got_m[VKC_METRIC_ACCURACY], &want_m[VKC_METRIC_ACCURACY], 1, 1e-6, 0);
    }
    snprintf(what, sizeof what, "%s dz, 2N=%d dim %d tau %g%s", vkc_loss_kind_name(c->kind), c->n2, c->dim, c->tau, tag);
    vkc_check_compare_f64(r, what, got, dz, n, fmax(1e-4 * ck_max_abs(dz, n), 5e-7 * (1 + 1 / c->tau) * mass * 2 / c->tau), 1e-3);
    if (c->learned) {
        snprintf(what, sizeof what, "nce dL/dlogZ, 2N=%d tau %g%s", c->n2, c->tau, tag);
        vkc_check_compare_f64(r, what, &got_dlogz, &want_dlogz, 1, loss_tol, 2e-5);
    }
    rc = VKC_OK;
done:
    free(z), free(dz), free(got);
    return rc;
}

#define CASES(...)                                                                                                 \
    do {                                                                                                           \
        static const FamCase cases[] = {__VA_ARGS__};                                                              \
        return ck_loss_cases(ctx, family_case, cases, sizeof cases[0], sizeof cases / sizeof cases[0], r);         \
    } while (0)

int check_nce_self_normalised(VkcContext *ctx, VkcCheckResult *r)
{
    CASES({VKC_LOSS_NCE, 4, 3, 0.5, 0, false, 0, 0}, {VKC_LOSS_NCE, 34, 17, 0.1, 0, false, 0, 0},
          {VKC_LOSS_NCE, 256, 64, 0.2, 0, false, 0, 0});
}

int check_nce_learned_logz(VkcContext *ctx, VkcCheckResult *r)
{
    CASES({VKC_LOSS_NCE, 6, 5, 0.5, 0, true, 0.7, 0}, {VKC_LOSS_NCE, 64, 32, 0.1, 0, true, 3.0, 0},
          {VKC_LOSS_NCE, 256, 64, 0.2, 0, true, -1.5, 0});
}

/* Nearly identical rows: every logit within ~1e-3/tau of 1/tau (20 at tau = 0.05), or all equal. */
int check_nce_stability(VkcContext *ctx, VkcCheckResult *r)
{
    CASES({VKC_LOSS_NCE, 64, 32, 0.05, 0, false, 0, 1e-3}, {VKC_LOSS_NCE, 64, 32, 1.0, 0, false, 0, 1e-3},
          {VKC_LOSS_NCE, 64, 32, 0.05, 0, true, 19.0, 1e-3}, {VKC_LOSS_NCE, 64, 32, 0.05, 0, false, 0, 1e-9},
          {VKC_LOSS_NCE, 64, 32, 1.0, 0, true, 0.5, 1e-9});
}

int check_dcl_shapes(VkcContext *ctx, VkcCheckResult *r)
{
    CASES({VKC_LOSS_DCL, 4, 3, 0.5, 0, false, 0, 0}, {VKC_LOSS_DCL, 34, 17, 0.1, 0, false, 0, 0},
          {VKC_LOSS_DCL, 512, 128, 0.1, 0, false, 0, 0});
}

/* tau+ = 0.1 (the paper's CIFAR-10 prior), 0.5 and 0.9 (most rows clamped: the floor's branch). */
int check_dcl_debiased(VkcContext *ctx, VkcCheckResult *r)
{
    CASES({VKC_LOSS_DCL_DEBIASED, 4, 3, 0.5, 0.1, false, 0, 0}, {VKC_LOSS_DCL_DEBIASED, 34, 17, 0.1, 0.1, false, 0, 0},
          {VKC_LOSS_DCL_DEBIASED, 64, 32, 0.2, 0.5, false, 0, 0}, {VKC_LOSS_DCL_DEBIASED, 64, 32, 0.5, 0.9, false, 0, 0},
          {VKC_LOSS_DCL_DEBIASED, 256, 64, 0.1, 0.1, false, 0, 0});
}

int check_dcl_stability(VkcContext *ctx, VkcCheckResult *r)
{
    CASES({VKC_LOSS_DCL, 64, 32, 0.05, 0, false, 0, 1e-3}, {VKC_LOSS_DCL, 64, 32, 1.0, 0, false, 0, 1e-3},
          {VKC_LOSS_DCL, 64, 32, 0.05, 0, false, 0, 1e-9}, {VKC_LOSS_DCL_DEBIASED, 64, 32, 0.05, 0.1, false, 0, 1e-3},
          {VKC_LOSS_DCL_DEBIASED, 64, 32, 1.0, 0.1, false, 0, 1e-3},
          {VKC_LOSS_DCL_DEBIASED, 64, 32, 0.05, 0.1, false, 0, 1e-9});
}

/* The metrics with NT-Xent selected by name through the family interface (its loss and dz too). */
int check_metrics_ntxent(VkcContext *ctx, VkcCheckResult *r)
{
    CASES({VKC_LOSS_NTXENT, 4, 3, 0.5, 0, false, 0, 0}, {VKC_LOSS_NTXENT, 34, 17, 0.1, 0, false, 0, 0},
          {VKC_LOSS_NTXENT, 512, 128, 0.1, 0, false, 0, 0}, {VKC_LOSS_NTXENT, 64, 32, 0.05, 0, false, 0, 1e-3},
          {VKC_LOSS_NTXENT, 64, 32, 1.0, 0, false, 0, 1e-3});
}

/* Reference metrics against values known in closed form: identical rows (every logit 1/tau)
 * give accuracy 0, alignment 0, uniformity 0 (every distance 0), log Z^ = 1/tau + log K with
 * spread 0, and an NT-Xent loss of log(2N - 1), so an MI bound of 0. */
int check_metrics_closed_form(VkcContext *ctx, VkcCheckResult *r)
{
    (void)ctx;
    enum { N2 = 8, DIM = 4 };
    double z[N2 * DIM], m[8];
    for (int i = 0; i < N2; i++)
        for (int d = 0; d < DIM; d++) z[i * DIM + d] = 0.5;
    RefLoss L = {0, 0.25, 0, 0};
    ref_contrastive_forward(&L, z, N2, DIM, m);
    double want[8] = {log(N2 - 1.0), 0, 0, 4 + log(N2 - 2.0), 0, 0, 0, 0};
    vkc_check_compare_f64(r, "reference metrics of identical rows (tau 0.25, 2N=8)", m, want, 8, 1e-12, 1e-12);
    return VKC_OK;
}

/* Every name of vkc_loss_names parses to its loss, whose canonical name parses back to it; every
 * row of vkc_losses has a name; near misses (upper case, '_' for '-') and "" are refused. */
int check_metrics_parse(VkcContext *ctx, VkcCheckResult *r)
{
    (void)ctx;
    int names = 0, misses = 0;
    for (const VkcName *n = vkc_loss_names; n->name; n++, names++) {
        int k = -1, back = -1;
        char near[2][32];
        snprintf(near[0], sizeof near[0], "%s", n->name);
        snprintf(near[1], sizeof near[1], "%s", n->name);
        for (char *p = near[0]; *p; p++) *p = (char)toupper((unsigned char)*p);
        for (char *p = near[1]; *p; p++) *p = *p == '-' ? '_' : *p;
        bool ok = vkc_name_parse(vkc_loss_names, "loss", n->name, &k) == VKC_OK && k == n->value &&
                  vkc_name_parse(vkc_loss_names, "loss", vkc_loss_kind_name(k), &back) == VKC_OK && back == k;
        for (int m = 0; m < 2; m++)
            if (strcmp(near[m], n->name)) ok = ok && vkc_name_parse(vkc_loss_names, "loss", near[m], &k) != VKC_OK, misses++;
        if (!ok) {
            snprintf(r->detail, sizeof r->detail, "loss name \"%s\": it or a near miss parsed wrongly", n->name);
            r->passed = false;
            return VKC_OK;
        }
    }
    for (int i = 0; i < VKC_LOSS_KINDS; i++)
        if (!strcmp(vkc_loss_kind_name(vkc_losses[i].kind), "?")) {
            snprintf(r->detail, sizeof r->detail, "loss row %d has no name in vkc_loss_names", i);
            r->passed = false;
            return VKC_OK;
        }
    int k;
    if (vkc_name_parse(vkc_loss_names, "loss", "", &k) == VKC_OK) r->passed = false;
    snprintf(r->detail, sizeof r->detail, "%d names parse to their losses and back; %d near misses and \"\" refused",
             names, misses);
    return VKC_OK;
}

/* ---------------------------------------------------------------- finite differences */

typedef struct {
    RefLoss L;
    int n2, dim;
} FamFd;

/* x = (z, log Z): the objective as a function of both, so dL/dlogZ is differenced too. */
static double family_objective(double *x, void *user)
{
    FamFd *f = user;
    RefLoss L = f->L;
    if (vkc_loss_row((VkcLossKind)L.kind)->learns_logz) L.logz = x[f->n2 * f->dim];
    return ref_contrastive_forward(&L, x, f->n2, f->dim, NULL);
}

/* Raw random rows (the reference gradient holds for any z); for tau+ = 0.9 most debiased rows
 * take the clamp and 0.1 none at these shapes, so both branches are differenced. Tolerance
 * atol 1e-7 + rtol 1e-6: see ck_fd_check (difference errors ~1e-10). */
static int family_fd(const FamFd *cases, int ncases, VkcCheckResult *r)
{
    for (int c = 0; c < ncases; c++) {
        FamFd f = cases[c];
        int nz = f.n2 * f.dim, n = nz + vkc_loss_row((VkcLossKind)f.L.kind)->learns_logz;
        double x[64], grad[64];
        ck_random(x, nz, 101 + c + 7 * f.L.kind, -1, 1);
        if (n > nz) x[nz] = f.L.logz;
        ref_contrastive_backward(&f.L, x, f.n2, f.dim, grad, n > nz ? &grad[nz] : NULL);
        char what[96];
        snprintf(what, sizeof what, "%s dL/dz%s, 2N=%d dim %d tau %g tau+ %g", vkc_loss_kind_name(f.L.kind),
                 n > nz ? " and dL/dlogZ" : "", f.n2, f.dim, f.L.tau, f.L.tau_plus);
        if (ck_fd_check(r, what, family_objective, &f, x, n, grad, 1e-7, 1e-6)) return VKC_ERR;
    }
    return VKC_OK;
}

int check_nce_fd(VkcContext *ctx, VkcCheckResult *r)
{
    (void)ctx;
    static const FamFd cases[] = {{{1, 0.5, 0, 0.0}, 4, 3}, {{1, 0.5, 0, 0.8}, 6, 4}, {{1, 0.1, 0, -2.0}, 8, 3}};
    return family_fd(cases, 3, r);
}

/* ---------------------------------------------------------------- every loss of the table */

/* Every row of vkc_losses marked checked, with the parameters its row says it takes (tau+ 0.1;
 * log Z self-normalised and learned): random directions at three shapes and nearly identical
 * rows on the device, and its reference's gradient against finite differences. A new loss gets
 * these from its row and its reference alone; the checks above add what is particular to one. */
int check_family_every_loss(VkcContext *ctx, VkcCheckResult *r)
{
    FamCase cases[16 * VKC_LOSS_KINDS];
    int n = 0;
    static const FamCase shapes[] = {{.n2 = 4, .dim = 3, .tau = 0.5}, {.n2 = 34, .dim = 17, .tau = 0.1},
                                     {.n2 = 256, .dim = 64, .tau = 0.2}, {.n2 = 64, .dim = 32, .tau = 0.05, .noise = 1e-3}};
    for (int i = 0; i < VKC_LOSS_KINDS; i++) {
        const VkcLossRow *row = &vkc_losses[i];
        if (!row->checked) continue;
        for (int learned = 0; learned <= (int)row->learns_logz; learned++)
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
                FamCase c = shapes[s];
                c.kind = row->kind;
                c.tau_plus = row->takes_tau_plus ? 0.1 : 0;
                c.learned = learned;
                c.logz = learned ? 0.7 : 0;
                cases[n++] = c;
            }
    }
    return ck_loss_cases(ctx, family_case, cases, sizeof cases[0], n, r);
}

int check_family_every_loss_fd(VkcContext *ctx, VkcCheckResult *r)
{
    (void)ctx;
    FamFd cases[2 * VKC_LOSS_KINDS];
    int n = 0;
    for (int i = 0; i < VKC_LOSS_KINDS; i++) {
        const VkcLossRow *row = &vkc_losses[i];
        if (!row->checked) continue;
        double tau_plus = row->takes_tau_plus ? 0.1 : 0, logz = row->learns_logz ? 0.8 : 0;
        cases[n++] = (FamFd){{(int)row->kind, 0.5, tau_plus, logz}, 6, 4};
        cases[n++] = (FamFd){{(int)row->kind, 0.1, tau_plus, logz}, 8, 3};
    }
    return family_fd(cases, n, r);
}

int check_dcl_fd(VkcContext *ctx, VkcCheckResult *r)
{
    (void)ctx;
    static const FamFd cases[] = {{{2, 0.5, 0, 0}, 4, 3}, {{2, 0.1, 0, 0}, 8, 3},     {{3, 0.5, 0.1, 0}, 6, 4},
                                  {{3, 0.2, 0.1, 0}, 8, 3}, {{3, 0.5, 0.9, 0}, 6, 4}, {{0, 0.3, 0, 0}, 6, 4}};
    return family_fd(cases, 6, r);
}
