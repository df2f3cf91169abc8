#include <math.h>
#include <string.h>
#include <time.h>

#include "vkclr/check.h"

/* Compare n values read by `at` and keep the worst violation (and its description) in r:
 * several comparisons may go into one result. */
static void compare(VkcCheckResult *r, const char *what, size_t n, double atol, double rtol,
                    double (*at)(const void *, size_t), const void *got, const void *want, const double *bound)
{
    double worst = 0.0;
    size_t where = 0;
    for (size_t i = 0; i < n; i++) {
        double g = at(got, i), w = at(want, i);
        double v = fabs(g - w) / (atol + rtol * fabs(w) + (bound ? bound[i] : 0.0));
        if (isnan(v)) v = INFINITY;
        if (v > worst) worst = v, where = i;
    }
    bool ok = worst <= 1.0 && n > 0;
    if (!r->detail[0] || !ok || worst > r->max_violation) {
        if (n == 0)
            snprintf(r->detail, sizeof r->detail, "%s: nothing compared", what);
        else
        {
            char own[48] = "";
            if (bound) snprintf(own, sizeof own, " + its bound %.2g", bound[where]);
            snprintf(r->detail, sizeof r->detail,
                     "%s: worst element %zu of %zu: got %.9g, want %.9g (tolerance %.1e + %.1e*|want|%s)", what, where,
                     n, at(got, where), at(want, where), atol, rtol, own);
        }
    }
    if (worst > r->max_violation) r->max_violation = worst;
    r->passed = r->passed && ok;
}

static double at_f32(const void *p, size_t i) { return ((const float *)p)[i]; }
static double at_f64(const void *p, size_t i) { return ((const double *)p)[i]; }

void vkc_check_compare(VkcCheckResult *r, const char *what, const float *got, const float *want, size_t n,
                       double atol, double rtol)
{
    compare(r, what, n, atol, rtol, at_f32, got, want, NULL);
}

void vkc_check_compare_bounded(VkcCheckResult *r, const char *what, const float *got, const float *want,
                               const double *bound, size_t n, double atol, double rtol)
{
    compare(r, what, n, atol, rtol, at_f32, got, want, bound);
}

void vkc_check_compare_bounded_f64(VkcCheckResult *r, const char *what, const double *got, const double *want,
                                   const double *bound, size_t n, double atol, double rtol)
{
    compare(r, what, n, atol, rtol, at_f64, got, want, bound);
}

double vkc_check_product_bound(VkcDtype operands, double K)
{
    double e = 2 * vkc_dtype_unit(operands), g = K * 0x1p-24 / (1 - K * 0x1p-24);
    return 2 * e + e * e + g * (1 + e) * (1 + e);
}

void vkc_check_compare_f64(VkcCheckResult *r, const char *what, const double *got, const double *want, size_t n,
                           double atol, double rtol)
{
    compare(r, what, n, atol, rtol, at_f64, got, want, NULL);
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int vkc_run_checks(VkcContext *ctx, const char *prefix, FILE *out, int *ran, int *skipped)
{
    int failed = 0, count = 0, skips = 0;
    for (const VkcCheck *c = vkc_checks; c->name; c++) {
        if (prefix && strncmp(c->name, prefix, strlen(prefix))) continue;
        VkcCheckResult r = {.passed = true};
        int before = ctx->validation_messages;
        double t0 = seconds();
        vkc_error_clear();
        int rc = vkc_check_run(c, ctx, &r);
        double dt = seconds() - t0;
        bool validation_clean = ctx->validation_messages == before;
        bool ok = rc == VKC_OK && (r.passed || r.skipped) && validation_clean;
        count++;
        failed += !ok;
        skips += ok && r.skipped;
        if (out) {
            const char *verdict = rc != VKC_OK ? "ERROR" : r.skipped ? "SKIP" : !r.passed ? "FAIL"
                                  : !validation_clean ? "INVALID" : "pass";
            fprintf(out, "%-7s %-34s %6.2fs  %s%s\n", verdict, c->name, dt,
                    rc != VKC_OK ? vkc_error() : r.detail,
                    validation_clean ? "" : " [validation layer reported messages]");
            fflush(out);
        }
    }
    if (ran) *ran = count;
    if (skipped) *skipped = skips;
    return failed;
}
