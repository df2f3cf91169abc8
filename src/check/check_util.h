/* Helpers shared by the head/loss/optimizer checks: test data that is exactly the same on the
 * device (float) and in the double-precision reference, uploads, downloads, comparisons in
 * double, and central finite differences. */
#ifndef VKCLR_CHECK_UTIL_H
#define VKCLR_CHECK_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref.h"
#include "ref/ref_head.h"
#include "vkclr/check.h"
#include "vkclr/gemm.h"
#include "vkclr/loss.h"
#include "vkclr/reduce.h"

/* n values uniform in [lo, hi), rounded to float so the device sees exactly what the reference does. */
static inline void ck_random(double *x, int n, uint64_t seed, double lo, double hi)
{
    float *f = malloc(sizeof(float) * (n ? n : 1));
    ref_fill_uniform(f, n, seed, (float)lo, (float)hi);
    for (int i = 0; i < n; i++) x[i] = f[i];
    free(f);
}

/* Round to float in place (after computing test data in double). */
static inline void ck_round(double *x, int n)
{
    for (int i = 0; i < n; i++) x[i] = (float)x[i];
}

static inline int ck_upload(VkcContext *ctx, VkcArena *arena, const double *x, int n, VkcTensor *t)
{
    float *f = malloc(sizeof(float) * (n ? n : 1));
    if (!f) return vkc_fail("out of memory");
    for (int i = 0; i < n; i++) f[i] = (float)x[i];
    int rc = vkc_tensor_alloc(arena, (VkDeviceSize)(n ? n : 1) * 4, t) || (n && vkc_upload(ctx, *t, f, (size_t)n * 4));
    free(f);
    return rc ? VKC_ERR : VKC_OK;
}

static inline int ck_download(VkcContext *ctx, VkcTensor t, int n, double *x)
{
    float *f = malloc(sizeof(float) * (n ? n : 1));
    if (!f) return vkc_fail("out of memory");
    int rc = vkc_download(ctx, t, f, (size_t)n * 4);
    for (int i = 0; i < n && rc == VKC_OK; i++) x[i] = f[i];
    free(f);
    return rc;
}

static inline double ck_max_abs(const double *x, int n)
{
    double m = 0.0;
    for (int i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
    return m;
}


/* Central differences of f at x (n values, perturbed one at a time and restored), compared with
 * `grad`. h = 1e-5: truncation error ~h^2 |f'''| ~ 1e-10 and rounding ~1e-16 |f| / h ~ 1e-11,
 * both far below the tolerances callers pass (>= 1e-7 absolute). */
typedef double (*ck_fn)(double *x, void *user);

static inline int ck_fd_check(VkcCheckResult *r, const char *what, ck_fn f, void *user, double *x, int n,
                              const double *grad, double atol, double rtol)
{
    const double h = 1e-5;
    double *fd = malloc(sizeof(double) * (n ? n : 1));
    if (!fd) return vkc_fail("out of memory");
    for (int i = 0; i < n; i++) {
        double keep = x[i];
        x[i] = keep + h;
        double plus = f(x, user);
        x[i] = keep - h;
        double minus = f(x, user);
        x[i] = keep;
        fd[i] = (plus - minus) / (2 * h);
    }
    vkc_check_compare_f64(r, what, grad, fd, n, atol, rtol);
    free(fd);
    return VKC_OK;
}

/* 2N unit rows of a contrastive batch: random directions, or (noise > 0) one direction plus
 * noise of that size; rounded to float. */
static inline void ck_unit_rows(double *z, int n2, int dim, uint64_t seed, double noise)
{
    ck_random(z, n2 * dim, seed, -1, 1);
    if (noise > 0) {
        double *base = malloc(8 * dim);
        ck_random(base, dim, seed + 1, -1, 1);
        for (int i = 0; i < n2; i++)
            for (int d = 0; d < dim; d++) z[i * dim + d] = base[d] + noise * z[i * dim + d];
        free(base);
    }
    ref_l2norm_forward(z, z, n2, dim, 1e-12);
    ck_round(z, n2 * dim);
}

/* Cases of a loss check, each run by `run` with the GEMM and reductions the losses need
 * (cases: n of them, `size` bytes each). Stops at the first case that cannot run. */
typedef int (*ck_loss_case)(VkcContext *ctx, VkcGemm *gemm, VkcReduce *reduce, const void *c, VkcCheckResult *r);
static inline int ck_loss_cases(VkcContext *ctx, ck_loss_case run, const void *cases, size_t size, int n,
                                VkcCheckResult *r)
{
    VkcGemm gemm = {0};
    VkcReduce reduce = {0};
    int rc = vkc_gemm_init(ctx, &gemm) || vkc_reduce_init(ctx, &reduce);
    for (int i = 0; i < n && !rc; i++) rc = run(ctx, &gemm, &reduce, (const char *)cases + i * size, r);
    vkc_reduce_destroy(&reduce);
    vkc_gemm_destroy(&gemm);
    return rc ? VKC_ERR : VKC_OK;
}

/* A command buffer with everything recorded by `record`, submitted once and waited for. */
#define CK_RUN(ctx, cmd, body)                                                                            \
    (vkc_cmd_init((ctx), &(cmd)) || vkc_cmd_begin(&(cmd)) || (body) || vkc_cmd_end(&(cmd)) ||               \
     vkc_cmd_submit_wait(&(cmd)))

/* One forward and backward of a loss of the family on the device, from z (n2 x dim, rounded to
 * float on upload): its VKC_CONTRASTIVE_METRICS metrics, dz and (with a learned log Z, which
 * starts at `logz`) d(mean loss)/d(log Z). p's logz and dlogz tensors are made here. */
static inline int ck_loss_device(VkcContext *ctx, VkcGemm *gemm, VkcReduce *reduce, VkcLossParams p, double logz,
                                 const double *z, int n2, int dim, double *metrics, double *dz, double *dlogz)
{
    int n = n2 * dim, rc = VKC_ERR;
    VkcArena arena;
    vkc_arena_init(&arena, ctx, VKC_MEMORY_DEVICE);
    VkcContrastive l = {0};
    VkcCmd cmd = {0};
    VkcTensor tz, tdz, tm;
    if (ck_upload(ctx, &arena, z, n, &tz) || vkc_tensor_alloc(&arena, n * 4, &tdz) ||
        vkc_tensor_alloc(&arena, 4 * VKC_CONTRASTIVE_METRICS, &tm) || ck_upload(ctx, &arena, &logz, 1, &p.logz) ||
        vkc_tensor_alloc(&arena, 16, &p.dlogz) || vkc_contrastive_init(ctx, &l, gemm, reduce, &arena, n2, dim, &p) ||
        CK_RUN(ctx, cmd, vkc_contrastive_forward(&l, &cmd, tz, tm) || vkc_contrastive_backward(&l, &cmd, tz, tdz)) ||
        ck_download(ctx, tm, VKC_CONTRASTIVE_METRICS, metrics) || ck_download(ctx, tdz, n, dz) ||
        (p.learned_logz && ck_download(ctx, p.dlogz, 1, dlogz)))
        goto done;
    rc = VKC_OK;
done:
    vkc_cmd_destroy(&cmd);
    vkc_contrastive_destroy(&l);
    vkc_arena_destroy(&arena);
    return rc;
}

#endif
