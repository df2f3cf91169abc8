/* Optimizers against tests/ref/ref_head.c over several steps of one recorded command buffer
 * (learning rate and step changing through the per-step buffer), and the deterministic
 * reductions: values against double sums, and bit-identical repeats. */
#include "check_util.h"
#include "vkclr/loss.h"
#include "vkclr/optim.h"
#include "vkclr/reduce.h"

/* Tensor sizes cross chunk boundaries (2048) and include a scalar; the small ones are flagged
 * no-decay like biases and batch-norm parameters. */
static const int sizes[] = {4100, 7, 2049, 1, 64};
static const bool no_decay[] = {false, true, false, true, false};
#define NT 5
#define STEPS 3

static int total_size(void)
{
    int n = 0;
    for (int t = 0; t < NT; t++) n += sizes[t];
    return n;
}

/* Tolerances: every update is a handful of float operations per element (no sums, apart from
 * the LARS norms whose relative error is ~1e-7 * sqrt(n)), repeated over 3 steps. Parameters
 * (|w| < 1) get atol 1e-6 + rtol 1e-5; the optimizer state holds the small step-sized values, so
 * it is compared relative to its largest entry: atol 1e-5 * max|state| + rtol 1e-4. A wrong
 * learning rate, trust ratio, decay flag or bias correction moves these by percent. */
/* scale > 1: a loss scale. The gradients arrive multiplied by it (exactly: a power of two) and
 * the reference steps with the unscaled ones; step 1's gradients hold a NaN (an fp16 overflow),
 * so that step must change nothing and report itself skipped. */
static int optim_case_scaled(VkcContext *ctx, VkcOptimConfig cfg, VkcCheckResult *r, const char *label, float scale)
{
    int n = total_size();
    static const float lrs[STEPS] = {0.1f, 0.05f, 0.02f};
    double *w = malloc(8 * n), *g = malloc(8 * n * STEPS), *v = calloc(n, 8), *m = calloc(n, 8), *got = malloc(8 * 2 * n);
    VkcArena params, grads, device, host;
    vkc_arena_init(&params, ctx, VKC_MEMORY_DEVICE);
    vkc_arena_init(&grads, ctx, VKC_MEMORY_DEVICE);
    vkc_arena_init(&device, ctx, VKC_MEMORY_DEVICE);
    vkc_arena_init(&host, ctx, VKC_MEMORY_STAGING);
    VkcOptim o = {0};
    VkcCmd cmd = {0};
    VkcParam p[NT];
    int rc = VKC_ERR;
    ck_random(w, n, 91, -1, 1);
    ck_random(g, n * STEPS, 92, -1, 1);
    for (int t = 0, at = 0; t < NT; at += sizes[t], t++) {
        p[t].flags = no_decay[t] ? VKC_PARAM_NO_DECAY : 0;
        if (ck_upload(ctx, &params, w + at, sizes[t], &p[t].param) || vkc_tensor_alloc(&grads, sizes[t] * 4, &p[t].grad))
            goto done;
    }
    cfg.check_finite = scale > 1;
    if (vkc_optim_init(ctx, &o, &cfg, p, NT, &device, &host) || vkc_optim_set_grad_scale(&o, scale) ||
        vkc_cmd_init(ctx, &cmd) || vkc_cmd_begin(&cmd) || vkc_optim_record(&o, &cmd) || vkc_cmd_end(&cmd))
        goto done;
    for (int s = 0; s < STEPS; s++) {
        /* New gradients and learning rate each step; the command buffer stays as recorded. */
        bool overflow = scale > 1 && s == 1;
        float *gf = malloc(4 * n);
        for (int i = 0; i < n; i++) gf[i] = (float)g[s * n + i] * scale;
        if (overflow) gf[n / 2] = NAN;
        int bad = 0;
        for (int t = 0, at = 0; t < NT; at += sizes[t], t++) bad |= vkc_upload(ctx, p[t].grad, gf + at, sizes[t] * 4);
        free(gf);
        if (bad || vkc_optim_set_step(&o, lrs[s], (uint32_t)s + 1) || vkc_cmd_submit_wait(&cmd)) goto done;
        if (vkc_optim_skipped(&o) != overflow) {
            snprintf(r->detail, sizeof r->detail, "%s: step %d %s skipped", label, s + 1,
                     overflow ? "with a NaN gradient was not" : "with finite gradients was");
            r->passed = false;
        }
        if (overflow) continue; /* the reference skips it too */
        for (int t = 0, at = 0; t < NT; at += sizes[t], t++) {
            const double *gt = g + s * n + at;
            bool decay = !no_decay[t];
            switch (cfg.kind) {
            case VKC_OPTIM_SGD:
                ref_sgd_step(w + at, gt, v + at, sizes[t], lrs[s], cfg.momentum, cfg.weight_decay, cfg.nesterov, decay);
                break;
            case VKC_OPTIM_LARS:
                ref_lars_step(w + at, gt, v + at, sizes[t], lrs[s], cfg.momentum, cfg.weight_decay, cfg.eta, cfg.nesterov,
                              decay);
                break;
            case VKC_OPTIM_ADAMW:
                ref_adamw_step(w + at, gt, m + at, v + at, sizes[t], lrs[s], cfg.beta1, cfg.beta2, cfg.eps,
                               cfg.weight_decay, s + 1, decay);
                break;
            }
        }
    }
    char what[96];
    for (int t = 0, at = 0; t < NT; at += sizes[t], t++)
        if (ck_download(ctx, p[t].param, sizes[t], got + at)) goto done;
    snprintf(what, sizeof what, "%s: parameters after %d steps", label, STEPS);
    vkc_check_compare_f64(r, what, got, w, n, 1e-6, 1e-5);
    /* State is packed per tensor in table order: m (or momentum) then, for AdamW, v. */
    double *want_state = cfg.kind == VKC_OPTIM_ADAMW ? m : v;
    if (ck_download(ctx, o.state, n, got)) goto done;
    snprintf(what, sizeof what, "%s: %s after %d steps", label, cfg.kind == VKC_OPTIM_ADAMW ? "m" : "momentum", STEPS);
    vkc_check_compare_f64(r, what, got, want_state, n, 1e-5 * ck_max_abs(want_state, n), 1e-4);
    if (cfg.kind == VKC_OPTIM_ADAMW) {
        if (ck_download(ctx, vkc_tensor_slice(o.state, (VkDeviceSize)n * 4, (VkDeviceSize)n * 4), n, got)) goto done;
        snprintf(what, sizeof what, "%s: v after %d steps", label, STEPS);
        vkc_check_compare_f64(r, what, got, v, n, 1e-5 * ck_max_abs(v, n), 1e-4);
    }
    rc = VKC_OK;
done:
    vkc_cmd_destroy(&cmd);
    vkc_optim_destroy(&o);
    vkc_arena_destroy(&host);
    vkc_arena_destroy(&device);
    vkc_arena_destroy(&grads);
    vkc_arena_destroy(&params);
    free(w), free(g), free(v), free(m), free(got);
    return rc;
}

static int optim_case(VkcContext *ctx, VkcOptimConfig cfg, VkcCheckResult *r, const char *label)
{
    return optim_case_scaled(ctx, cfg, r, label, 1.0f);
}

/* A loss scale of 8 with a skipped step (fp16 training), for each optimizer. AdamW's step
 * counter keeps counting the skipped step (the host passes the step number). */
int check_optim_loss_scale(VkcContext *ctx, VkcCheckResult *r)
{
    VkcOptimConfig cfgs[3] = {
        {.kind = VKC_OPTIM_SGD, .momentum = 0.9f, .weight_decay = 0.01f},
        {.kind = VKC_OPTIM_LARS, .momentum = 0.9f, .weight_decay = 1e-3f, .eta = 0.01f},
        {.kind = VKC_OPTIM_ADAMW, .weight_decay = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f},
    };
    static const char *names[3] = {"sgd, loss scale 8", "lars, loss scale 8", "adamw, loss scale 8"};
    for (int i = 0; i < 3; i++)
        if (optim_case_scaled(ctx, cfgs[i], r, names[i], 8.0f)) return VKC_ERR;
    return VKC_OK;
}

int check_optim_sgd(VkcContext *ctx, VkcCheckResult *r)
{
    VkcOptimConfig c = {.kind = VKC_OPTIM_SGD, .momentum = 0.9f, .weight_decay = 0.01f};
    if (optim_case(ctx, c, r, "sgd")) return VKC_ERR;
    c.nesterov = true;
    return optim_case(ctx, c, r, "sgd nesterov");
}

int check_optim_lars(VkcContext *ctx, VkcCheckResult *r)
{
    /* eta large enough that the trust ratio visibly scales the step, wd large enough to matter. */
    VkcOptimConfig c = {.kind = VKC_OPTIM_LARS, .momentum = 0.9f, .weight_decay = 1e-3f, .eta = 0.01f};
    if (optim_case(ctx, c, r, "lars")) return VKC_ERR;
    c.nesterov = true;
    return optim_case(ctx, c, r, "lars nesterov");
}

int check_optim_adamw(VkcContext *ctx, VkcCheckResult *r)
{
    VkcOptimConfig c = {.kind = VKC_OPTIM_ADAMW, .weight_decay = 0.05f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
    return optim_case(ctx, c, r, "adamw");
}

/* ---------------------------------------------------------------- reductions */

typedef struct {
    int rows, cols, ld;
    bool square, root;
    float scale;
} SumCase;

/* Float sums of n values in [-1, 1): four interleaved partial sums per chunk, then chunk sums;
 * error grows like sqrt(n) * 6e-8 for random signs (n * 6e-8 worst case for squares, all
 * positive): atol 1e-6 * sqrt(rows) + rtol 1e-5 for plain sums, rtol 2e-6 * sqrt(rows) for
 * squares (relative, as they are all positive). */
int check_reduce_colsum(VkcContext *ctx, VkcCheckResult *r)
{
    static const SumCase cases[] = {
        {1, 1, 1, false, false, 1.0f},   {7, 3, 3, false, false, 1.0f},     {4096, 5, 5, false, false, 1.0f},
        {4097, 3, 4, false, false, 0.5f}, {100000, 1, 1, false, false, 1.0f}, {100000, 1, 1, true, true, 1.0f},
        {513, 130, 133, true, false, 1.0f}, {9000, 17, 17, false, false, 1.0f / 9000},
    };
    VkcReduce red;
    if (vkc_reduce_init(ctx, &red)) return VKC_ERR;
    int rc = VKC_OK;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0] && rc == VKC_OK; i++) {
        const SumCase *c = &cases[i];
        int n = (c->rows - 1) * c->ld + c->cols;
        double *x = malloc(8 * n), *want = malloc(8 * c->cols), *got = malloc(8 * c->cols);
        ck_random(x, n, 101 + n, -1, 1);
        for (int col = 0; col < c->cols; col++) {
            double s = 0.0;
            for (int row = 0; row < c->rows; row++) s += c->square ? x[row * c->ld + col] * x[row * c->ld + col] : x[row * c->ld + col];
            s *= c->scale;
            want[col] = c->root ? sqrt(s) : s;
        }
        VkcArena arena;
        vkc_arena_init(&arena, ctx, VKC_MEMORY_DEVICE);
        VkcCmd cmd = {0};
        VkcColsumArgs a = {.rows = c->rows, .cols = c->cols, .ld = c->ld, .square = c->square, .root = c->root,
                           .scale = c->scale};
        size_t scratch = vkc_colsum_scratch_floats(c->rows, c->cols);
        rc = ck_upload(ctx, &arena, x, n, &a.x) || vkc_tensor_alloc(&arena, 4 * c->cols, &a.out) ||
             (scratch && vkc_tensor_alloc(&arena, 4 * scratch, &a.scratch)) ||
             CK_RUN(ctx, cmd, vkc_colsum_record(&red, &cmd, &a)) || ck_download(ctx, a.out, c->cols, got);
        if (rc == VKC_OK) {
            char what[96];
            snprintf(what, sizeof what, "%s%s %dx%d (ld %d, %u chunk%s)", c->root ? "norm" : "sum",
                     c->square && !c->root ? " of squares" : "", c->rows, c->cols, c->ld, vkc_colsum_chunks(c->rows),
                     vkc_colsum_chunks(c->rows) > 1 ? "s" : "");
            if (c->square)
                vkc_check_compare_f64(r, what, got, want, c->cols, 1e-7, 2e-6 * sqrt(c->rows));
            else
                vkc_check_compare_f64(r, what, got, want, c->cols, 1e-6 * sqrt(c->rows) * c->scale, 1e-5);
        }
        vkc_cmd_destroy(&cmd);
        vkc_arena_destroy(&arena);
        free(x), free(want), free(got);
    }
    vkc_reduce_destroy(&red);
    return rc ? VKC_ERR : VKC_OK;
}

/* The same inputs through the same recorded commands twice must give the same bits: a two-pass
 * column sum, NT-Xent forward + backward (metrics and dz) and a LARS step (its norms are
 * reductions too). Fails on any differing bit. */
static int same_bits(VkcCheckResult *r, const char *what, const float *a, const float *b, int n)
{
    for (int i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], 4)) {
            snprintf(r->detail, sizeof r->detail, "%s: element %d differs between two runs (%.9g vs %.9g)", what, i, a[i], b[i]);
            r->passed = false;
            return 0;
        }
    return 1;
}

int check_reduce_deterministic(VkcContext *ctx, VkcCheckResult *r)
{
    const int rows = 50000, cols = 3, n2 = 128, dim = 64, np = 5000;
    int nx = rows * cols, nz = n2 * dim;
    double *x = malloc(8 * nx), *z = malloc(8 * nz), *w = malloc(8 * np);
    const int nm = VKC_CONTRASTIVE_METRICS;
    float *first = malloc(4 * (cols + nm + nz + np)), *second = malloc(4 * (cols + nm + nz + np));
    ck_random(x, nx, 111, -1, 1);
    ck_random(z, nz, 112, -1, 1);
    ref_l2norm_forward(z, z, n2, dim, 1e-12);
    ck_random(w, np, 113, -1, 1);
    VkcArena arena, host;
    vkc_arena_init(&arena, ctx, VKC_MEMORY_DEVICE);
    vkc_arena_init(&host, ctx, VKC_MEMORY_STAGING);
    VkcGemm gemm = {0};
    VkcReduce red = {0};
    VkcContrastive l = {0};
    VkcLossParams lp = {.kind = VKC_LOSS_NTXENT, .tau = 0.1f};
    VkcOptim o = {0};
    VkcCmd cmd = {0};
    VkcColsumArgs a = {.rows = rows, .cols = cols, .ld = cols, .scale = 1.0f};
    VkcTensor tz, tdz, tm;
    VkcParam p;
    VkcOptimConfig cfg = vkc_optim_defaults(VKC_OPTIM_LARS);
    int rc = VKC_ERR;
    if (vkc_gemm_init(ctx, &gemm) || vkc_reduce_init(ctx, &red) ||
        vkc_contrastive_init(ctx, &l, &gemm, &red, &arena, n2, dim, &lp) || ck_upload(ctx, &arena, x, nx, &a.x) ||
        vkc_tensor_alloc(&arena, 4 * cols, &a.out) ||
        vkc_tensor_alloc(&arena, 4 * vkc_colsum_scratch_floats(rows, cols), &a.scratch) ||
        ck_upload(ctx, &arena, z, nz, &tz) || vkc_tensor_alloc(&arena, 4 * nz, &tdz) || vkc_tensor_alloc(&arena, 4 * VKC_CONTRASTIVE_METRICS, &tm) ||
        vkc_tensor_alloc(&arena, 4 * np, &p.param) || ck_upload(ctx, &arena, x, np, &p.grad))
        goto done;
    p.flags = 0;
    if (vkc_optim_init(ctx, &o, &cfg, &p, 1, &arena, &host) || vkc_optim_set_step(&o, 0.5f, 1) ||
        vkc_cmd_init(ctx, &cmd) || vkc_cmd_begin(&cmd) || vkc_colsum_record(&red, &cmd, &a) ||
        vkc_contrastive_forward(&l, &cmd, tz, tm) || vkc_contrastive_backward(&l, &cmd, tz, tdz) || vkc_optim_record(&o, &cmd) ||
        vkc_cmd_end(&cmd))
        goto done;
    float *runs[2] = {first, second};
    for (int run = 0; run < 2; run++) {
        float *out = runs[run];
        /* Reset what the step changes: parameters and momentum. */
        float *wf = malloc(4 * np), *zero = calloc(np, 4);
        for (int i = 0; i < np; i++) wf[i] = (float)w[i];
        int bad = vkc_upload(ctx, p.param, wf, 4 * np) || vkc_upload(ctx, o.state, zero, 4 * np);
        free(wf), free(zero);
        if (bad || vkc_cmd_submit_wait(&cmd) || vkc_download(ctx, a.out, out, 4 * cols) ||
            vkc_download(ctx, tm, out + cols, 4 * nm) || vkc_download(ctx, tdz, out + cols + nm, 4 * nz) ||
            vkc_download(ctx, p.param, out + cols + nm + nz, 4 * np))
            goto done;
    }
    if (same_bits(r, "two-pass column sum 50000x3", first, second, cols) &&
        same_bits(r, "NT-Xent metrics", first + cols, second + cols, nm) &&
        same_bits(r, "NT-Xent dz", first + cols + nm, second + cols + nm, nz) &&
        same_bits(r, "LARS step", first + cols + nm + nz, second + cols + nm + nz, np))
        snprintf(r->detail, sizeof r->detail, "column sum, NT-Xent metrics and dz, LARS step: bit-identical in two runs");
    rc = VKC_OK;
done:
    vkc_cmd_destroy(&cmd);
    vkc_optim_destroy(&o);
    vkc_contrastive_destroy(&l);
    vkc_reduce_destroy(&red);
    vkc_gemm_destroy(&gemm);
    vkc_arena_destroy(&host);
    vkc_arena_destroy(&arena);
    free(x), free(z), free(w), free(first), free(second);
    return rc;
}
