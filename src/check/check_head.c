/* Projection-head layers against tests/ref/ref_head.c: linear (forward, backward, finite
 * differences) and row L2 normalisation (forward, backward, finite differences). */
#include "check_util.h"
#include "vkclr/l2norm.h"
#include "vkclr/linear.h"

/* ---------------------------------------------------------------- linear */

typedef struct {
    int B, in, out;
    bool bias;
} LinearCase;

static const LinearCase linear_cases[] = {
    {1, 1, 1, true}, {1, 7, 3, true}, {3, 5, 7, false}, {17, 33, 9, true}, {5, 13, 1, true}, {64, 128, 512, true},
    {37, 129, 65, true},
};
#define NLINEAR (int)(sizeof linear_cases / sizeof linear_cases[0])

/* GEMM sums of K products of values in [-1, 1) accumulate in float with fma: error ~sqrt(K) * 6e-8
 * (see gemm checks); atol 1e-5 * sqrt(K) + rtol 1e-5 is ~10x above that and far below an
 * indexing error (~0.1). K = in for y, out for dx, B for dW and db. The bias adds one rounding. */
static int linear_case(VkcContext *ctx, const VkcLinearKernels *k, const LinearCase *c, VkcCheckResult *r, bool backward)
{
    int nx = c->B * c->in, nw = c->out * c->in, ny = c->B * c->out;
    double *x = calloc(nx, 8), *W = calloc(nw, 8), *b = calloc(c->out, 8), *y = calloc(ny, 8), *got = calloc(nx + nw + ny, 8);
    double *dy = calloc(ny, 8), *dx = calloc(nx, 8), *dW = calloc(nw, 8), *db = calloc(c->out, 8);
    VkcArena arena;
    vkc_arena_init(&arena, ctx, VKC_MEMORY_DEVICE);
    VkcCmd cmd = {0};
    int rc = VKC_ERR;
    ck_random(x, nx, 11 + nx, -1, 1);
    ck_random(W, nw, 12 + nw, -1, 1);
    ck_random(b, c->out, 13, -1, 1);
    ck_random(dy, ny, 14 + ny, -1, 1);
    VkcLinear l = {.in = c->in, .out = c->out};
    VkcTensor tx, ty, tdy, tdx;
    if (ck_upload(ctx, &arena, x, nx, &tx) || ck_upload(ctx, &arena, W, nw, &l.weight) ||
        (c->bias && ck_upload(ctx, &arena, b, c->out, &l.bias)) || ck_upload(ctx, &arena, dy, ny, &tdy) ||
        vkc_tensor_alloc(&arena, ny * 4, &ty) || vkc_tensor_alloc(&arena, nx * 4, &tdx) ||
        vkc_tensor_alloc(&arena, nw * 4, &l.dweight) || vkc_tensor_alloc(&arena, c->out * 4, &l.dbias))
        goto done;
    char what[96];
    if (!backward) {
        if (CK_RUN(ctx, cmd, vkc_linear_forward(k, &cmd, &l, c->B, tx, ty)) || ck_download(ctx, ty, ny, got)) goto done;
        ref_linear_forward(x, W, c->bias ? b : NULL, y, c->B, c->in, c->out);
        snprintf(what, sizeof what, "y, batch %d, %d -> %d%s", c->B, c->in, c->out, c->bias ? "" : " (no bias)");
        vkc_check_compare_f64(r, what, got, y, ny, 1e-5 * sqrt(c->in) + 1e-6, 1e-5);
    } else {
        if (CK_RUN(ctx, cmd, vkc_linear_backward(k, &cmd, &l, c->B, tx, tdy, tdx))) goto done;
        ref_linear_backward(x, W, dy, dx, dW, db, c->B, c->in, c->out);
        snprintf(what, sizeof what, "dx, batch %d, %d -> %d", c->B, c->in, c->out);
        if (ck_download(ctx, tdx, nx, got)) goto done;
        vkc_check_compare_f64(r, what, got, dx, nx, 1e-5 * sqrt(c->out), 1e-5);
        snprintf(what, sizeof what, "dW, batch %d, %d -> %d", c->B, c->in, c->out);
        if (ck_download(ctx, l.dweight, nw, got)) goto done;
        vkc_check_compare_f64(r, what, got, dW, nw, 1e-5 * sqrt(c->B), 1e-5);
        if (c->bias) {
            snprintf(what, sizeof what, "db, batch %d, %d -> %d", c->B, c->in, c->out);
            if (ck_download(ctx, l.dbias, c->out, got)) goto done;
            vkc_check_compare_f64(r, what, got, db, c->out, 1e-5 * sqrt(c->B), 1e-5);
        }
    }
    rc = VKC_OK;
done:
    vkc_cmd_destroy(&cmd);
    vkc_arena_destroy(&arena);
    free(x), free(W), free(b), free(y), free(got), free(dy), free(dx), free(dW), free(db);
    return rc;
}

/* Kernels are created once per check: pipeline creation dominates small cases on CPU drivers. */
static int linear_cases_run(VkcContext *ctx, VkcCheckResult *r, bool backward)
{
    VkcGemm gemm = {0};
    VkcReduce reduce = {0};
    VkcLinearKernels k = {0};
    int rc = vkc_gemm_init(ctx, &gemm) || vkc_reduce_init(ctx, &reduce) || vkc_linear_kernels_init(ctx, &k, &gemm, &reduce);
    for (int i = 0; i < NLINEAR && !rc; i++) rc = linear_case(ctx, &k, &linear_cases[i], r, backward);
    vkc_linear_kernels_destroy(&k);
    vkc_reduce_destroy(&reduce);
    vkc_gemm_destroy(&gemm);
    return rc ? VKC_ERR : VKC_OK;
}

int check_linear_forward(VkcContext *ctx, VkcCheckResult *r) { return linear_cases_run(ctx, r, false); }
int check_linear_backward(VkcContext *ctx, VkcCheckResult *r) { return linear_cases_run(ctx, r, true); }

/* Finite differences of L = sum(y * R) with respect to (x, W, b) packed in one vector. */
typedef struct {
    int B, in, out;
    const double *R;
} LinearFd;

static double linear_objective(double *p, void *user)
{
    const LinearFd *f = user;
    int ny = f->B * f->out;
    double *y = malloc(sizeof(double) * ny), L = 0.0;
    const double *x = p, *W = p + f->B * f->in, *b = W + f->out * f->in;
    ref_linear_forward(x, W, b, y, f->B, f->in, f->out);
    for (int i = 0; i < ny; i++) L += y[i] * f->R[i];
    free(y);
    return L;
}

/* Tolerances for every finite-difference check: atol 1e-7, rtol 1e-6 — the differences are
 * accurate to ~1e-10 (see ck_fd_check) while a wrong term in a backward is off by O(0.1). */
int check_linear_fd(VkcContext *ctx, VkcCheckResult *r)
{
    (void)ctx;
    LinearFd f = {3, 5, 4, NULL};
    int nx = f.B * f.in, nw = f.out * f.in, n = nx + nw + f.out, ny = f.B * f.out;
    double *p = malloc(sizeof(double) * n), *R = malloc(sizeof(double) * ny), *grad = malloc(sizeof(double) * n);
    ck_random(p, n, 21, -1, 1);
    ck_random(R, ny, 22, -1, 1);
    f.R = R;
    ref_linear_backward(p, p + nx, R, grad, grad + nx, grad + nx + nw, f.B, f.in, f.out);
    int rc = ck_fd_check(r, "d(sum y*R)/d(x, W, b), batch 3, 5 -> 4", linear_objective, &f, p, n, grad, 1e-7, 1e-6);
    free(p), free(R), free(grad);
    return rc;
}

/* ---------------------------------------------------------------- L2 normalisation */

static const int l2_shapes[][2] = {{1, 1}, {1, 128}, {7, 3}, {33, 17}, {512, 128}, {5, 1000}};
#define NL2 (int)(sizeof l2_shapes / sizeof l2_shapes[0])

/* Outputs have |y| <= 1 and come from a float sum of squares and a division: a few ulps, so
 * atol 1e-6 + rtol 1e-5. The backward's radial term cancels against dy, so its error is a few
 * ulps of the row's scale |dy|/n (dot products of up to 1000 terms: ~sqrt(1000) * 6e-8): compared
 * row by row with atol 1e-5 * max|dx_row| (at least 1e-7: dim 1 gives exactly 0) + rtol 1e-4. Row 0 is all zeros (the eps branch: dx = dy / eps, compared relatively)
 * and row 1 (when there is one) is tiny but above eps. */
static int l2_case(VkcContext *ctx, const VkcL2Norm *k, int rows, int dim, VkcCheckResult *r)
{
    int n = rows * dim;
    double *x = malloc(8 * n), *dy = malloc(8 * n), *want = malloc(8 * n), *got = malloc(8 * n);
    VkcArena arena;
    vkc_arena_init(&arena, ctx, VKC_MEMORY_DEVICE);
    VkcCmd cmd = {0};
    int rc = VKC_ERR;
    ck_random(x, n, 31 + n, -1, 1);
    ck_random(dy, n, 32 + n, -1, 1);
    if (rows > 2) {
        for (int d = 0; d < dim; d++) x[d] = 0.0, x[dim + d] *= 1e-6;
        ck_round(x, n);
    }
    VkcTensor tx, ty, tdy, tdx;
    if (ck_upload(ctx, &arena, x, n, &tx) || ck_upload(ctx, &arena, dy, n, &tdy) || vkc_tensor_alloc(&arena, n * 4, &ty) ||
        vkc_tensor_alloc(&arena, n * 4, &tdx) ||
        CK_RUN(ctx, cmd, vkc_l2norm_forward(k, &cmd, rows, dim, tx, ty) || vkc_l2norm_backward(k, &cmd, rows, dim, tx, tdy, tdx)))
        goto done;
    char what[64];
    snprintf(what, sizeof what, "y %dx%d", rows, dim);
    ref_l2norm_forward(x, want, rows, dim, VKC_L2NORM_EPS);
    if (ck_download(ctx, ty, n, got)) goto done;
    vkc_check_compare_f64(r, what, got, want, n, 1e-6, 1e-5);
    snprintf(what, sizeof what, "dx %dx%d", rows, dim);
    ref_l2norm_backward(x, dy, want, rows, dim, VKC_L2NORM_EPS);
    if (ck_download(ctx, tdx, n, got)) goto done;
    for (int row = 0; row < rows; row++)
        vkc_check_compare_f64(r, what, got + row * dim, want + row * dim, dim, fmax(1e-5 * ck_max_abs(want + row * dim, dim), 1e-7), 1e-4);
    rc = VKC_OK;
done:
    vkc_cmd_destroy(&cmd);
    vkc_arena_destroy(&arena);
    free(x), free(dy), free(want), free(got);
    return rc;
}

/* Forward and backward run in one command buffer; the check names split what they report. */
static int l2_run(VkcContext *ctx, VkcCheckResult *r)
{
    VkcL2Norm k;
    if (vkc_l2norm_init(ctx, &k)) return VKC_ERR;
    int rc = VKC_OK;
    for (int i = 0; i < NL2 && rc == VKC_OK; i++) rc = l2_case(ctx, &k, l2_shapes[i][0], l2_shapes[i][1], r);
    vkc_l2norm_destroy(&k);
    return rc;
}

int check_l2norm(VkcContext *ctx, VkcCheckResult *r) { return l2_run(ctx, r); }

typedef struct {
    int rows, dim;
    const double *R;
} L2Fd;

static double l2_objective(double *x, void *user)
{
    const L2Fd *f = user;
    int n = f->rows * f->dim;
    double *y = malloc(8 * n), L = 0.0;
    ref_l2norm_forward(x, y, f->rows, f->dim, VKC_L2NORM_EPS);
    for (int i = 0; i < n; i++) L += y[i] * f->R[i];
    free(y);
    return L;
}

int check_l2norm_fd(VkcContext *ctx, VkcCheckResult *r)
{
    (void)ctx;
    L2Fd f = {3, 5, NULL};
    int n = f.rows * f.dim;
    double x[15], R[15], grad[15];
    ck_random(x, n, 41, -1, 1);
    ck_random(R, n, 42, -1, 1);
    f.R = R;
    ref_l2norm_backward(x, R, grad, f.rows, f.dim, VKC_L2NORM_EPS);
    return ck_fd_check(r, "d(sum y*R)/dx, 3x5", l2_objective, &f, x, n, grad, 1e-7, 1e-6);
}
