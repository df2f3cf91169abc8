/* Linear probe on the device: standardisation, logistic regression by mini-batch SGD/AdamW with
 * one pre-recorded command buffer per epoch, and evaluation (see include/vkclr/probe.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vkclr/interrupt.h"
#include "vkclr/linear.h"
#include "vkclr/loss.h"
#include "vkclr/probe.h"

#define STD_EPS 1e-6f
#define EVAL_ROWS 4096u
#define MAX_ROWS_PER_DISPATCH 65535u

typedef struct {
    uint32_t rows, words, row0, row1, idx_base, idx_off, src_off, dst_off;
} GatherPush;
VKC_PUSH_CONTRACT(GatherPush, GATHER_ROWS);

typedef struct {
    uint32_t rows, cols, x_off, s_off, mode;
    float eps;
} StdPush;
VKC_PUSH_CONTRACT(StdPush, STANDARDIZE);

const VkcName vkc_probe_optimizer_names[] = {
    {.name = "sgd", .value = VKC_OPTIM_SGD, .about = "Nesterov momentum"},
    {.name = "adamw", .value = VKC_OPTIM_ADAMW},
    {0},
};

float vkc_probe_default_lr(VkcOptimKind optimizer) { return optimizer == VKC_OPTIM_ADAMW ? 1e-3f : 0.1f; }

VkcProbeConfig vkc_probe_defaults(void)
{
    return (VkcProbeConfig){.epochs = 30, .batch = 256, .lr = vkc_probe_default_lr(VKC_OPTIM_SGD),
                            .weight_decay = 1e-4f, .optimizer = VKC_OPTIM_SGD, .momentum = 0.9f, .standardize = true,
                            .seed = 0};
}

int vkc_probe_config_check(const VkcProbeConfig *c)
{
    if (!c->epochs) return vkc_fail("probe: epochs must be at least 1");
    if (!c->batch || c->batch > MAX_ROWS_PER_DISPATCH) return vkc_fail("probe: batch %u outside [1, 65535]", c->batch);
    if (!(c->lr > 0) || !isfinite(c->lr)) return vkc_fail("probe: learning rate %g must be positive", c->lr);
    if (!(c->weight_decay >= 0) || !isfinite(c->weight_decay))
        return vkc_fail("probe: weight decay %g must be >= 0", c->weight_decay);
    if (c->optimizer != VKC_OPTIM_SGD && c->optimizer != VKC_OPTIM_ADAMW)
        return vkc_fail("probe: optimizer must be sgd or adamw");
    if (!(c->momentum >= 0 && c->momentum < 1)) return vkc_fail("probe: momentum %g outside [0, 1)", c->momentum);
    return VKC_OK;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* splitmix64: the shuffle's random numbers, a pure function of (seed, epoch, draw). */
static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void vkc_probe_shuffle(uint32_t *perm, uint32_t n, uint64_t seed, uint32_t epoch)
{
    uint64_t s = seed * 0x2545f4914f6cdd1dull + epoch + 1;
    for (uint32_t i = 0; i < n; i++) perm[i] = i;
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = (uint32_t)(splitmix(&s) % i);
        uint32_t t = perm[i - 1];
        perm[i - 1] = perm[j], perm[j] = t;
    }
}

typedef struct {
    VkcContext *ctx;
    VkcGemm gemm;
    VkcReduce reduce;
    VkcLinearKernels lk;
    VkcKernel gather, standardize;
    uint32_t wg_x, wg_y;
    VkcArena dev, host, params, grads;
    VkcXent xents[VKC_FEATURES_MAX_SHARDS + 2]; /* one per batch size (training, evaluation chunks) */
    int nxents;
    VkcCmd cmd;
} Probe;

static void probe_free(Probe *P)
{
    vkc_cmd_destroy(&P->cmd);
    for (int i = 0; i < P->nxents; i++) vkc_xent_destroy(&P->xents[i]);
    if (P->ctx) {
        vkc_kernel_destroy(P->ctx, &P->gather);
        vkc_kernel_destroy(P->ctx, &P->standardize);
    }
    vkc_linear_kernels_destroy(&P->lk);
    vkc_reduce_destroy(&P->reduce);
    vkc_gemm_destroy(&P->gemm);
    vkc_arena_destroy(&P->dev);
    vkc_arena_destroy(&P->host);
    vkc_arena_destroy(&P->params);
    vkc_arena_destroy(&P->grads);
}

static VkcXent *xent_for(Probe *P, uint32_t batch, uint32_t classes)
{
    for (int i = 0; i < P->nxents; i++)
        if (P->xents[i].batch == batch) return &P->xents[i];
    if (P->nxents == (int)(sizeof P->xents / sizeof P->xents[0])) {
        vkc_fail("probe: too many evaluation batch sizes");
        return NULL;
    }
    if (vkc_xent_init(P->ctx, &P->xents[P->nxents], &P->reduce, &P->dev, batch, classes)) return NULL;
    return &P->xents[P->nxents++];
}

/* ---------------------------------------------------------------- standardisation */

/* x -= stat (mode 0) or x /= stat (mode 1) on every shard, in dispatches of <= 65535 rows. */
static int record_standardize(Probe *P, const VkcFeatures *f, VkcTensor stat, uint32_t mode)
{
    for (uint32_t s = 0; s < f->nshards; s++) {
        uint32_t rows = vkc_features_shard_n(f, s);
        for (uint32_t r0 = 0; r0 < rows; r0 += MAX_ROWS_PER_DISPATCH) {
            uint32_t m = rows - r0 < MAX_ROWS_PER_DISPATCH ? rows - r0 : MAX_ROWS_PER_DISPATCH;
            VkcTensor x = vkc_tensor_slice(f->shards[s], (VkDeviceSize)r0 * f->dim * 4, (VkDeviceSize)m * f->dim * 4);
            StdPush push = {m, f->dim, 0, 0, mode, STD_EPS};
            VkcTensor views[2] = {vkc_view_storage(P->ctx, x, &push.x_off), vkc_view_storage(P->ctx, stat, &push.s_off)};
            if (vkc_cmd_dispatch(&P->cmd, &P->standardize, views, 2u, &push, vkc_div_up(f->dim, P->wg_x * P->wg_y), m, 1))
                return VKC_ERR;
        }
    }
    return VKC_OK;
}

/* out = scale * column sums (of squares) of all rows of f, deterministically: per shard into
 * a row of `partial`, then the partial rows in shard order. */
static int record_colsum(Probe *P, const VkcFeatures *f, bool square, bool root, VkcTensor partial,
                         VkcTensor scratch, VkcTensor out)
{
    for (uint32_t s = 0; s < f->nshards; s++) {
        VkcColsumArgs a = {.x = f->shards[s], .rows = vkc_features_shard_n(f, s), .cols = f->dim, .square = square,
                           .scale = 1.0f / (float)f->n,
                           .out = vkc_tensor_slice(partial, (VkDeviceSize)s * f->dim * 4, (VkDeviceSize)f->dim * 4),
                           .scratch = scratch};
        if (vkc_colsum_record(&P->reduce, &P->cmd, &a)) return VKC_ERR;
    }
    VkcColsumArgs a = {.x = partial, .rows = f->nshards, .cols = f->dim, .root = root, .scale = 1.0f, .out = out};
    return vkc_colsum_record(&P->reduce, &P->cmd, &a);
}

static int standardize(Probe *P, VkcFeatures *train, VkcFeatures *test)
{
    uint32_t D = train->dim;
    VkcTensor mean, std, partial, scratch = {0};
    size_t sf = vkc_colsum_scratch_floats(train->shard_rows, D);
    if (vkc_tensor_alloc(&P->dev, (VkDeviceSize)D * 4, &mean) || vkc_tensor_alloc(&P->dev, (VkDeviceSize)D * 4, &std) ||
        vkc_tensor_alloc(&P->dev, (VkDeviceSize)train->nshards * D * 4, &partial) ||
        (sf && vkc_tensor_alloc(&P->dev, sf * 4, &scratch)) || vkc_cmd_begin(&P->cmd))
        return VKC_ERR;
    /* Two passes: the mean, then the standard deviation of the centred values. */
    if (record_colsum(P, train, false, false, partial, scratch, mean) || record_standardize(P, train, mean, 0) ||
        (test->n && record_standardize(P, test, mean, 0)) || record_colsum(P, train, true, true, partial, scratch, std) ||
        record_standardize(P, train, std, 1) || (test->n && record_standardize(P, test, std, 1)))
        return VKC_ERR;
    return vkc_cmd_end(&P->cmd) || vkc_cmd_submit_wait(&P->cmd);
}

/* ---------------------------------------------------------------- evaluation */

/* Mean loss, top-1, top-5 of the classifier over every row of f. */
static int evaluate(Probe *P, const VkcLinear *lin, const VkcFeatures *f, uint32_t C, double out[3])
{
    out[0] = out[1] = out[2] = 0.0;
    if (!f->n) return VKC_OK;
    uint32_t chunks = 0;
    for (uint32_t s = 0; s < f->nshards; s++) chunks += vkc_div_up(vkc_features_shard_n(f, s), EVAL_ROWS);
    VkcTensor logits, metrics;
    uint32_t rows_max = f->n < EVAL_ROWS ? f->n : EVAL_ROWS;
    if (vkc_tensor_alloc(&P->dev, (VkDeviceSize)rows_max * C * 4, &logits) ||
        vkc_tensor_alloc(&P->host, (VkDeviceSize)chunks * 16, &metrics) || vkc_cmd_begin(&P->cmd))
        return VKC_ERR;
    uint32_t c = 0;
    uint32_t *rows_of = malloc(chunks * sizeof *rows_of);
    if (!rows_of) return vkc_fail("out of memory");
    for (uint32_t s = 0; s < f->nshards; s++) {
        uint32_t rows = vkc_features_shard_n(f, s);
        for (uint32_t r0 = 0; r0 < rows; r0 += EVAL_ROWS, c++) {
            uint32_t m = rows - r0 < EVAL_ROWS ? rows - r0 : EVAL_ROWS;
            VkcTensor x = vkc_tensor_slice(f->shards[s], (VkDeviceSize)r0 * f->dim * 4, (VkDeviceSize)m * f->dim * 4);
            VkcTensor y = vkc_tensor_slice(f->labels, ((VkDeviceSize)s * f->shard_rows + r0) * 4, (VkDeviceSize)m * 4);
            VkcXent *xe = xent_for(P, m, C);
            rows_of[c] = m;
            if (!xe || vkc_linear_forward(&P->lk, &P->cmd, lin, m, x, logits) ||
                vkc_xent_forward(xe, &P->cmd, logits, y, vkc_tensor_slice(metrics, (VkDeviceSize)c * 16, 16))) {
                free(rows_of);
                return VKC_ERR;
            }
        }
    }
    int rc = vkc_cmd_end(&P->cmd) || vkc_cmd_submit_wait(&P->cmd);
    const float *m = metrics.mapped;
    for (uint32_t i = 0; i < chunks && !rc; i++)
        for (int j = 0; j < 3; j++) out[j] += (double)m[4 * i + j] * rows_of[i] / f->n;
    free(rows_of);
    return rc ? VKC_ERR : VKC_OK;
}

/* ---------------------------------------------------------------- training */

int vkc_probe_run(VkcContext *ctx, const VkcProbeConfig *cfg, VkcFeatures *train, VkcFeatures *test,
                  uint32_t nclasses, VkcProbeResult *out)
{
    memset(out, 0, sizeof *out);
    if (vkc_probe_config_check(cfg)) return VKC_ERR;
    if (!train->n) return vkc_fail("probe: no training features");
    if (test->n && test->dim != train->dim)
        return vkc_fail("probe: train features have %u columns, test features %u", train->dim, test->dim);
    if (nclasses < 2) return vkc_fail("probe: %u classes (need at least 2)", nclasses);
    const uint32_t D = train->dim, C = nclasses;
    const uint32_t B = cfg->batch < train->n ? cfg->batch : train->n;
    const uint32_t steps = train->n / B, total = steps * cfg->epochs;

    Probe P = {.ctx = ctx};
    vkc_arena_init(&P.dev, ctx, VKC_MEMORY_DEVICE);
    vkc_arena_init(&P.host, ctx, VKC_MEMORY_STAGING);
    vkc_arena_init(&P.params, ctx, VKC_MEMORY_DEVICE);
    vkc_arena_init(&P.grads, ctx, VKC_MEMORY_DEVICE);
    P.wg_x = ctx->is_cpu ? 32 : 64;
    P.wg_y = 1;
    uint32_t spec[2] = {P.wg_x, P.wg_y};
    VkcOptim opt = {0};
    uint32_t *perm = NULL;
    int rc = VKC_ERR;
    if (vkc_gemm_init(ctx, &P.gemm) || vkc_gemm_use(&P.gemm, cfg->products) || vkc_reduce_init(ctx, &P.reduce) ||
        vkc_linear_kernels_init(ctx, &P.lk, &P.gemm, &P.reduce) ||
        vkc_kernel_create(ctx, &P.gather, VKC_SHADER_GATHER_ROWS, "bbb", sizeof(GatherPush), spec, 2) ||
        vkc_kernel_create(ctx, &P.standardize, VKC_SHADER_STANDARDIZE, "bb", sizeof(StdPush), spec, 2) ||
        vkc_cmd_init(ctx, &P.cmd))
        goto done;

    double t0 = now();
    if (cfg->standardize && standardize(&P, train, test)) goto done;
    double t1 = now();
    out->seconds_standardize = t1 - t0;

    /* Classifier W (C x D, zero) and b (C, zero); gradients; the mini-batch buffers. */
    VkcLinear lin = {.in = D, .out = C};
    VkcTensor xb, yb, logits, dlogits, metrics, perm_t, sched;
    size_t lin_scratch = vkc_colsum_scratch_floats(B, C);
    if (vkc_tensor_alloc(&P.params, (VkDeviceSize)C * D * 4, &lin.weight) ||
        vkc_tensor_alloc(&P.params, (VkDeviceSize)C * 4, &lin.bias) ||
        vkc_tensor_alloc(&P.grads, (VkDeviceSize)C * D * 4, &lin.dweight) ||
        vkc_tensor_alloc(&P.grads, (VkDeviceSize)C * 4, &lin.dbias) ||
        (lin_scratch && vkc_tensor_alloc(&P.dev, lin_scratch * 4, &lin.scratch)) ||
        vkc_tensor_alloc(&P.dev, (VkDeviceSize)B * D * 4, &xb) || vkc_tensor_alloc(&P.dev, (VkDeviceSize)B * 4, &yb) ||
        vkc_tensor_alloc(&P.dev, (VkDeviceSize)B * C * 4, &logits) ||
        vkc_tensor_alloc(&P.dev, (VkDeviceSize)B * C * 4, &dlogits) ||
        vkc_tensor_alloc(&P.host, (VkDeviceSize)steps * 16, &metrics) ||
        vkc_tensor_alloc(&P.host, (VkDeviceSize)train->n * 4, &perm_t))
        goto done;
    VkcOptimConfig oc = vkc_optim_defaults(cfg->optimizer);
    oc.weight_decay = cfg->weight_decay;
    if (cfg->optimizer == VKC_OPTIM_SGD) oc.momentum = cfg->momentum, oc.nesterov = cfg->momentum > 0;
    VkcParam params[2] = {{lin.weight, lin.dweight, 0}, {lin.bias, lin.dbias, VKC_PARAM_NO_DECAY}};
    if (vkc_optim_init(ctx, &opt, &oc, params, 2, &P.dev, &P.host)) goto done;
    /* Per-step optimizer values (lr, step, AdamW corrections) are produced by vkc_optim_set_step
     * into this table on the host and copied into the optimizer's step buffer before each step. */
    VkDeviceSize step_bytes = opt.step.size;
    if (vkc_tensor_alloc(&P.host, steps * step_bytes, &sched)) goto done;
    VkcXent *xe = xent_for(&P, B, C);
    if (!xe) goto done;

    /* Record one epoch. */
    if (vkc_cmd_begin(&P.cmd)) goto done;
    for (uint32_t s = 0; s < steps; s++) {
        if (vkc_cmd_copy(&P.cmd, opt.step, vkc_tensor_slice(sched, s * step_bytes, step_bytes), step_bytes)) goto done;
        for (uint32_t sh = 0; sh < train->nshards; sh++) {
            GatherPush g = {B, D, sh * train->shard_rows, sh * train->shard_rows + vkc_features_shard_n(train, sh),
                            s * B, 0, 0, 0};
            VkcTensor views[3] = {vkc_view_storage(ctx, perm_t, &g.idx_off),
                                  vkc_view_storage(ctx, train->shards[sh], &g.src_off),
                                  vkc_view_storage(ctx, xb, &g.dst_off)};
            if (vkc_cmd_dispatch(&P.cmd, &P.gather, views, 3u, &g, vkc_div_up(D, P.wg_x), vkc_div_up(B, P.wg_y), 1))
                goto done;
        }
        GatherPush g = {B, 1, 0, train->n, s * B, 0, 0, 0};
        VkcTensor views[3] = {vkc_view_storage(ctx, perm_t, &g.idx_off), vkc_view_storage(ctx, train->labels, &g.src_off),
                              vkc_view_storage(ctx, yb, &g.dst_off)};
        if (vkc_cmd_dispatch(&P.cmd, &P.gather, views, 3u, &g, 1, vkc_div_up(B, P.wg_y), 1) ||
            vkc_linear_forward(&P.lk, &P.cmd, &lin, B, xb, logits) ||
            vkc_xent_forward(xe, &P.cmd, logits, yb, vkc_tensor_slice(metrics, (VkDeviceSize)s * 16, 16)) ||
            vkc_xent_backward(xe, &P.cmd, logits, yb, dlogits) ||
            vkc_linear_backward(&P.lk, &P.cmd, &lin, B, xb, dlogits, (VkcTensor){0}) || vkc_optim_record(&opt, &P.cmd))
            goto done;
    }
    if (vkc_cmd_end(&P.cmd)) goto done;

    perm = malloc((size_t)train->n * sizeof *perm);
    if (!perm) {
        vkc_fail("out of memory");
        goto done;
    }
    for (uint32_t e = 0; e < cfg->epochs; e++) {
        if (vkc_interrupt_check("linear probe")) goto done;
        vkc_probe_shuffle(perm, train->n, cfg->seed, e);
        memcpy(perm_t.mapped, perm, (size_t)train->n * 4);
        for (uint32_t s = 0; s < steps; s++) {
            uint32_t t = e * steps + s;
            float lr = (float)(cfg->lr * 0.5 * (1.0 + cos(M_PI * t / total)));
            if (vkc_optim_set_step(&opt, lr, t + 1)) goto done;
            memcpy((char *)sched.mapped + s * step_bytes, opt.step.mapped, step_bytes);
        }
        if (vkc_cmd_submit_wait(&P.cmd)) goto done;
        const float *m = metrics.mapped;
        double loss = 0, top1 = 0;
        for (uint32_t s = 0; s < steps; s++) loss += m[4 * s], top1 += m[4 * s + 1];
        loss /= steps, top1 /= steps;
        if (!isfinite(loss)) {
            vkc_fail("probe: the loss became %g in epoch %u (learning rate %g too high?)", loss, e + 1, cfg->lr);
            goto done;
        }
        out->last_epoch_loss = loss;
        if (cfg->log)
            fprintf(cfg->log, "probe epoch %3u/%u  loss %.4f  batch top-1 %.2f%%\n", e + 1, cfg->epochs, loss,
                    100.0 * top1);
    }
    out->steps = total;
    double t2 = now();
    out->seconds_train = t2 - t1;

    double tr[3], te[3];
    if (evaluate(&P, &lin, train, C, tr) || evaluate(&P, &lin, test, C, te)) goto done;
    out->train_loss = tr[0], out->train_top1 = tr[1], out->train_top5 = tr[2];
    out->loss = te[0], out->top1 = te[1], out->top5 = te[2];
    if ((cfg->weight_out && vkc_download(ctx, lin.weight, cfg->weight_out, (size_t)C * D * 4)) ||
        (cfg->bias_out && vkc_download(ctx, lin.bias, cfg->bias_out, (size_t)C * 4)))
        goto done;
    out->seconds_eval = now() - t2;
    rc = VKC_OK;
done:
    free(perm);
    vkc_optim_destroy(&opt);
    probe_free(&P);
    return rc;
}
