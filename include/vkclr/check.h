/* Kernel checks: each runs one shader on the device and compares it with its plain-C
 * reference (tests/ref/), or checks a reference backward against finite differences.
 * The same list serves `meson test` (tests/test_checks.c) and `vkclr selftest`, so a user
 * can verify their own GPU and driver with exactly what CI runs. */
#ifndef VKCLR_CHECK_H
#define VKCLR_CHECK_H

#include <stdbool.h>
#include <stdio.h>

#include "vkclr/vk.h"

typedef struct {
    bool passed;
    bool skipped;         /* could not run on this device (detail says why): neither passed nor failed */
    double max_violation; /* worst |got - want| / (atol + rtol * |want|); passing means <= 1 */
    char detail[512];     /* what was compared, and where the worst element was */
} VkcCheckResult;

/* Returns VKC_OK when the check ran (verdict in r->passed), VKC_ERR when it could not run
 * (message in vkc_error()); both count as failures in a report. */
typedef int (*VkcCheckFn)(VkcContext *ctx, VkcCheckResult *r);
/* A check that runs in the activation dtype it is given (fp32, fp16, bf16). */
typedef int (*VkcCheckDtypeFn)(VkcContext *ctx, VkcDtype dtype, VkcCheckResult *r);

typedef struct {
    const char *name;  /* "group/what", e.g. "gemm/nn-shapes"; a 16-bit variant "group16/what-fp16" */
    VkcCheckFn run;    /* a float32-only check, or NULL: */
    VkcCheckDtypeFn run_dtype; /* ... one of the variants of a check per dtype, run in `dtype` */
    bool needs_device; /* false for reference-only checks (finite differences) */
    VkcDtype dtype;
} VkcCheck;

/* All checks, in the order they run (one entry per dtype of a check); ends with {NULL}. */
extern const VkcCheck vkc_checks[];
/* Run one entry. */
int vkc_check_run(const VkcCheck *c, VkcContext *ctx, VkcCheckResult *r);

/* Compare n floats; fills r (passed, max_violation, detail naming `what` and the worst index). */
void vkc_check_compare(VkcCheckResult *r, const char *what, const float *got, const float *want, size_t n,
                       double atol, double rtol);

/* The same with a tolerance of each element's own: atol + rtol*|want| + bound[i] (kernels whose
 * rounding is bounded element by element: 16-bit products, vkc_check_product_bound). */
void vkc_check_compare_bounded(VkcCheckResult *r, const char *what, const float *got, const float *want,
                               const double *bound, size_t n, double atol, double rtol);
void vkc_check_compare_bounded_f64(VkcCheckResult *r, const char *what, const double *got, const double *want,
                                   const double *bound, size_t n, double atol, double rtol);

/* The error bound of a sum of K products of `operands` (16-bit) values summed in float32, relative
 * to the sum of the products' magnitudes S = sum |a_k b_k| (of the float32 values before rounding):
 * each operand is rounded once with a relative error of at most e = one unit in the last place
 * (2 vkc_dtype_unit: round to nearest, or toward zero, which Vulkan also allows), so a product
 * is off by at most (2e + e^2) |a b| and is exact in float32 (at most 2 x 11 significant bits);
 * the float32 sum of K terms in any order adds at most gamma_K = K u / (1 - K u), u = 2^-24, of
 * the terms' magnitudes (Higham, Accuracy and Stability of Numerical Algorithms, 3.1). Bound:
 * (2e + e^2 + gamma_K (1 + e)^2) S. */
double vkc_check_product_bound(VkcDtype operands, double K);

/* The same for doubles (reference backwards against finite differences). */
void vkc_check_compare_f64(VkcCheckResult *r, const char *what, const double *got, const double *want, size_t n,
                           double atol, double rtol);

/* Run every check whose name starts with `prefix` (NULL: all); print one line each to `out`
 * (if not NULL). Returns the number that failed or hit an error; *ran gets how many ran and
 * *skipped (may be NULL) how many could not run on this device (a variant it lacks). */
int vkc_run_checks(VkcContext *ctx, const char *prefix, FILE *out, int *ran, int *skipped);

#endif
