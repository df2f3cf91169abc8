/* The SimCLR training loop (vkclr/train.h).
 *
 * Pipelining: the producer's workers augment into two host-visible staging slots. Each slot
 * has its own command buffer, recorded once at start-up, that reads its slot (directly on
 * CPU devices, where all memory is host memory; through a copy into device memory on GPUs).
 * Per step t:
 *     acquire batch t (slot s; the workers filled it while the GPU ran step t-1)
 *     wait for step t-1, read its loss, log, check for NaN, checkpoint at epoch ends
 *     release step t-1's slot (workers start on step t+1)
 *     write lr/step of step t into the optimizer's buffer, submit slot s's command buffer
 * Only one step is ever in flight, so the optimizer's single per-step buffer is never written
 * while a submit reads it. The GPU waits for augmentation only when acquire() has to wait
 * after step t-1 already finished: that time is measured and reported. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dist_step.h"
#include "internal.h"
#include "vkclr/data.h"
#include "vkclr/l2norm.h"
#include "vkclr/loss.h"

static volatile sig_atomic_t stop_requested;
static int64_t debug_nan_step;

void vkc_train_request_stop(void) { stop_requested = 1; }
void vkc_train_debug_nan_at(int64_t step) { debug_nan_step = step; }

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

void vkc_train_install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

float vkc_train_default_lr(VkcOptimKind kind, VkcLrScaling scaling)
{
    if (kind == VKC_OPTIM_ADAMW) return scaling == VKC_LR_SQRT ? 1e-3f / 16.0f : 1e-3f;
    return scaling == VKC_LR_SQRT ? 0.075f : 0.3f;
}

VkcTrainConfig vkc_train_defaults(void)
{
    VkcTrainConfig c;
    memset(&c, 0, sizeof c);
    snprintf(c.data, sizeof c.data, "fashion-mnist");
    c.model = vkc_model_defaults();
    /* Sized for lavapipe on 2 cores: see BENCHMARKS.md ## Training. */
    c.limit = 12288;
    c.batch = 128;
    c.epochs = 2;
    c.optimizer = VKC_OPTIM_LARS;
    c.lr_scaling = VKC_LR_LINEAR;
    c.lr = 0; /* 0: vkc_train_default_lr */
    c.weight_decay = -1.0f;
    c.warmup_epochs = 0.5f;
    c.temperature = 0.2f;
    c.seed = 0;
    c.device = -1;
    c.threads = 1;
    snprintf(c.out, sizeof c.out, "runs/latest");
    c.log_every = 10;
    c.knn_k = 200;
    c.knn_temperature = 0.1f;
    c.knn_bank = 10000;
    c.knn_every = 0;
    c.probe_epochs = 10;
    c.probe_limit = 0;
    c.dist = (VkcDist){.rank = 0, .size = 1, .local_rank = 0, .local_size = 1, .mpi = false};
    c.ranks = 1;
    c.sync_bn = -1;
    return c;
}

float vkc_train_lr(float peak, int64_t t, int64_t warmup, int64_t total)
{
    if (t < warmup) return peak * (float)(t + 1) / (float)warmup;
    if (total <= warmup) return peak;
    double progress = (double)(t - warmup) / (double)(total - warmup);
    return (float)(peak * 0.5 * (1.0 + cos(M_PI * progress)));
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long peak_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) v = strtol(line + 6, NULL, 10);
    fclose(f);
    return v;
}

static int make_dir(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0777) && errno != EEXIST) return vkc_fail("cannot create %s: %s", tmp, strerror(errno));
            *p = '/';
        }
    if (mkdir(tmp, 0777) && errno != EEXIST) return vkc_fail("cannot create output directory %s: %s", tmp, strerror(errno));
    return VKC_OK;
}

/* Resuming: drop metrics lines of steps after the checkpoint (a run stopped by a NaN logged
 * past its last checkpoint), so metrics.jsonl reads as one uninterrupted run. */
static int keep_metrics_until(const char *path, int64_t step)
{
    FILE *f = fopen(path, "r");
    if (!f) return VKC_OK; /* resuming into a new --out directory */
    char tmp[1200], line[2048];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *o = fopen(tmp, "w");
    if (!o) {
        fclose(f);
        return vkc_fail("cannot write %s: %s", tmp, strerror(errno));
    }
    while (fgets(line, sizeof line, f)) {
        long long s;
        if (sscanf(line, "{\"step\": %lld", &s) == 1 && s > step) continue;
        fputs(line, o);
    }
    fclose(f);
    if (fclose(o) || rename(tmp, path)) return vkc_fail("cannot rewrite %s: %s", path, strerror(errno));
    return VKC_OK;
}

/* ---------------------------------------------------------------- memory plan */

/* Device bytes a step of `batch` images needs (model, loss, staging) and its largest tensor. */
static int plan(VkcContext *ctx, VkcLayers *L, const VkcTrainConfig *c, uint32_t batch, VkDeviceSize *total,
                VkDeviceSize *largest)
{
    uint32_t n2 = 2 * batch, n2g = n2 * (uint32_t)c->ranks; /* the loss sees the global batch */
    if (vkc_model_memory(ctx, L, &c->model, n2, total, largest)) return VKC_ERR;
    VkDeviceSize sim = (VkDeviceSize)n2g * n2g * 4, emb = (VkDeviceSize)n2 * c->model.out_dim * 4;
    VkDeviceSize slot = (VkDeviceSize)n2 * c->model.channels * c->model.height * c->model.width_px * 4;
    *total += 2 * sim + 3 * emb + 2 * slot + (ctx->is_cpu ? 0 : slot) + (c->ranks > 1 ? 2 * emb * c->ranks : 0);
    if (sim > *largest) *largest = sim;
    if (slot > *largest) *largest = slot;
    return VKC_OK;
}

static VkDeviceSize device_heap(const VkcContext *ctx)
{
    VkDeviceSize best = 0;
    for (uint32_t i = 0; i < ctx->memory.memoryHeapCount; i++)
        if ((ctx->memory.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) && ctx->memory.memoryHeaps[i].size > best)
            best = ctx->memory.memoryHeaps[i].size;
    return best;
}

/* Refuse a batch that cannot run, naming the largest batch that can. */
static int check_batch(VkcContext *ctx, VkcLayers *L, const VkcTrainConfig *c, VkDeviceSize *need)
{
    VkDeviceSize range = ctx->props.limits.maxStorageBufferRange, heap = device_heap(ctx);
    /* Leave a quarter of the heap to the driver and other processes. */
    VkDeviceSize budget = heap - heap / 4;
    VkDeviceSize total, largest;
    if (plan(ctx, L, c, (uint32_t)c->batch, &total, &largest)) return VKC_ERR;
    *need = total;
    if (largest <= range && total <= budget) return VKC_OK;
    uint32_t lo = 1, hi = (uint32_t)c->batch; /* lo fits (assumed), hi does not */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        VkDeviceSize t, l;
        if (plan(ctx, L, c, mid, &t, &l)) return VKC_ERR;
        if (l <= range && t <= budget) lo = mid;
        else hi = mid;
    }
    if (largest > range)
        return vkc_fail("--batch %d does not fit this device: one tensor would need %.1f MiB, more than its "
                        "maxStorageBufferRange of %.1f MiB; the largest batch that fits is %u",
                        c->batch, largest / 1048576.0, range / 1048576.0, lo);
    return vkc_fail("--batch %d does not fit this device: it needs %.1f MiB of device memory, %.1f MiB are usable "
                    "(of a %.1f MiB heap); the largest batch that fits is %u",
                    c->batch, total / 1048576.0, budget / 1048576.0, heap / 1048576.0, lo);
}

/* ---------------------------------------------------------------- the run */

enum { NCLASS = 7 }; /* conv, batchnorm, linear, pool, elementwise, loss, optimizer */
static const char *class_names[NCLASS] = {"conv", "batchnorm", "linear", "pool", "elementwise", "loss", "optimizer"};

typedef struct {
    VkcTrainConfig cfg;
    VkcDataset ds, train_ds; /* train_ds: ds with the training split cut to --limit */
    VkcAugmentConfig aug;
    VkcContext ctx;
    VkcArena dev, host;
    VkcLayers layers;
    VkcGemm gemm;
    VkcReduce reduce;
    VkcLinearKernels lin;
    VkcL2Norm l2;
    VkcContrastive loss;
    VkcModel model;
    VkcOptim opt;
    VkcTensor slot[2], input, z, dz, dembed, metrics[2];
    DistStep dstep;          /* more than one rank: the collectives of a step */
    VkcTensor zg, dzg;       /* ... and the global embeddings and their gradient */
    VkcCmd cmd[2];
    int ts[2][6];          /* loss begin/end, optimizer begin/end, step begin/end */
    double class_ns[NCLASS], step_ns;
    int64_t profiled_steps;
    VkcProducer *producer;
    FILE *metrics_file;
    char ckpt_path[1100];
    VkcTrainResult *result;
    bool ctx_ok, layers_ok, gemm_ok, reduce_ok, lin_ok, l2_ok, loss_ok, opt_ok, cmd_ok, dstep_ok;
} Run;

static int record_step(Run *r, int s)
{
    VkcCmd *cmd = &r->cmd[s];
    VkcModel *m = &r->model;
    uint32_t n2 = 2 * (uint32_t)r->cfg.batch, dim = (uint32_t)r->cfg.model.out_dim;
    bool prof = r->cfg.profile && r->ctx.has_timestamps;
    m->profile = prof;
    if (vkc_cmd_begin(cmd)) return VKC_ERR;
    r->ts[s][4] = prof ? vkc_cmd_timestamp(cmd) : -1;
    VkcTensor x = r->slot[s];
    if (!r->ctx.is_cpu) {
        /* Discrete GPU: the views cross the bus once, into device memory. */
        if (vkc_cmd_copy(cmd, r->input, r->slot[s], r->slot[s].size)) return VKC_ERR;
        x = r->input;
    }
    if (vkc_model_forward(m, cmd, x, n2, true, true)) return VKC_ERR;
    VkcTensor e = vkc_model_embed_tensor(m);
    if (prof) {
        vkc_cmd_barrier(cmd);
        r->ts[s][0] = vkc_cmd_timestamp(cmd);
    }
    /* Several ranks: the loss runs on every rank's embeddings (global negatives), each rank
     * keeps the gradient rows of its own (dist_step.h). */
    bool multi = r->cfg.ranks > 1;
    VkcTensor z = multi ? r->zg : r->z, dz = multi ? r->dzg : r->dz;
    if (vkc_l2norm_forward(&r->l2, cmd, n2, dim, e, r->z) ||
        (multi && dist_step_gather_embeddings(&r->dstep, cmd, r->z, r->zg)) ||
        vkc_contrastive_forward(&r->loss, cmd, z, r->metrics[s]) || vkc_contrastive_backward(&r->loss, cmd, z, dz) ||
        (multi && dist_step_own_rows(&r->dstep, cmd, r->dzg, r->dz)) ||
        vkc_l2norm_backward(&r->l2, cmd, n2, dim, e, r->dz, r->dembed))
        return VKC_ERR;
    if (prof) {
        vkc_cmd_barrier(cmd);
        r->ts[s][1] = vkc_cmd_timestamp(cmd);
    }
    if (vkc_model_backward(m, cmd, x, n2, r->dembed) || (multi && dist_step_allreduce_grads(&r->dstep, cmd)))
        return VKC_ERR;
    if (prof) {
        vkc_cmd_barrier(cmd);
        r->ts[s][2] = vkc_cmd_timestamp(cmd);
    }
    if (vkc_optim_record(&r->opt, cmd)) return VKC_ERR;
    if (prof) {
        vkc_cmd_barrier(cmd);
        r->ts[s][3] = vkc_cmd_timestamp(cmd);
        r->ts[s][5] = r->ts[s][3];
    }
    /* Forward/backward timestamps of the model are the same for both slots' recordings. */
    return vkc_cmd_end(cmd);
}

static int class_of(const char *name)
{
    for (int i = 0; i < NCLASS; i++)
        if (!strcmp(class_names[i], name)) return i;
    return 4;
}

/* Add one finished step's GPU times per kernel class. */
static void accumulate_profile(Run *r, int s)
{
    if (!r->cfg.profile || !r->ctx.has_timestamps) return;
    VkcCmd *cmd = &r->cmd[s];
    VkcModel *m = &r->model;
    double ns;
    for (int i = 0; i < m->nops; i++) {
        if (!vkc_cmd_elapsed_ns(cmd, m->ts_fwd[i], m->ts_fwd[i + 1], &ns))
            r->class_ns[class_of(vkc_model_op_class(m, i))] += ns;
        int next = i == 0 ? m->ts_bwd[m->nops] : m->ts_bwd[i - 1];
        if (!vkc_cmd_elapsed_ns(cmd, m->ts_bwd[i], next, &ns)) r->class_ns[class_of(vkc_model_op_class(m, i))] += ns;
    }
    if (!vkc_cmd_elapsed_ns(cmd, r->ts[s][0], r->ts[s][1], &ns)) r->class_ns[5] += ns;
    if (!vkc_cmd_elapsed_ns(cmd, r->ts[s][2], r->ts[s][3], &ns)) r->class_ns[6] += ns;
    if (!vkc_cmd_elapsed_ns(cmd, r->ts[s][4], r->ts[s][5], &ns)) r->step_ns += ns;
    r->profiled_steps++;
}

static void run_destroy(Run *r)
{
    if (r->producer) vkc_producer_destroy(r->producer);
    if (r->metrics_file) fclose(r->metrics_file);
    if (r->cmd_ok) {
        vkc_cmd_destroy(&r->cmd[0]);
        vkc_cmd_destroy(&r->cmd[1]);
    }
    if (r->opt_ok) vkc_optim_destroy(&r->opt);
    if (r->dstep_ok) dist_step_destroy(&r->dstep);
    vkc_model_destroy(&r->model);
    if (r->loss_ok) vkc_contrastive_destroy(&r->loss);
    if (r->l2_ok) vkc_l2norm_destroy(&r->l2);
    if (r->lin_ok) vkc_linear_kernels_destroy(&r->lin);
    if (r->reduce_ok) vkc_reduce_destroy(&r->reduce);
    if (r->gemm_ok) vkc_gemm_destroy(&r->gemm);
    if (r->layers_ok) vkc_layers_destroy(&r->layers);
    if (r->ctx_ok) {
        if (r->result) r->result->validation_messages = r->ctx.validation_messages;
        vkc_arena_destroy(&r->host);
        vkc_arena_destroy(&r->dev);
        vkc_context_destroy(&r->ctx);
    }
    vkc_dataset_free(&r->ds);
}

/* More than one rank: a failure on this rank alone (a lost device, a failed write, a collective
 * that failed) ends every rank, naming this one; checkpoints are written atomically, so the
 * last one stays intact. */
static void end_all_ranks_on_failure(const VkcTrainConfig *c)
{
    if (c->ranks > 1) vkc_dist_abort(&c->dist, vkc_error());
}

static int write_text(const char *dir, const char *name, const char *text)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    const void *parts[1] = {text};
    size_t sizes[1] = {strlen(text)};
    return train_write_file_atomic(path, parts, sizes, 1);
}

/* A --data spec: those of vkc_dataset_load, plus synthetic:HxWxC[:N] (N random-noise images,
 * default 10240, and 1000 test images, 10 classes) for benchmarks on machines without data. */
static int load_data(VkcDataset *ds, const char *spec, uint64_t seed)
{
    if (strncmp(spec, "synthetic:", 10)) return vkc_dataset_load(ds, spec);
    int h, w, ch, n = 10240;
    if (sscanf(spec + 10, "%dx%dx%d:%d", &h, &w, &ch, &n) < 3 || h < 1 || w < 1 || (ch != 1 && ch != 3) || n < 2 ||
        h > 4096 || w > 4096 || n > 10000000)
        return vkc_fail("--data %s: expected synthetic:HxWxC[:N] with C 1 or 3", spec);
    return vkc_dataset_synthetic(ds, n, 1000, h, w, ch, 10, seed);
}

/* Set everything up: data, device, model, optimizer, command buffers. */
static int setup(Run *r, const char *resume_path, int64_t *start_step)
{
    VkcTrainConfig *c = &r->cfg;
    if (load_data(&r->ds, c->data, c->seed)) return VKC_ERR;
    r->train_ds = r->ds;
    vkc_dataset_limit(&r->train_ds, c->limit);
    if (r->train_ds.train.n < (int64_t)c->batch * c->ranks)
        return vkc_fail("--batch %d x %d ranks is larger than the %d training images (--limit %d)", c->batch, c->ranks,
                        r->train_ds.train.n, c->limit);
    if (!c->preset[0])
        snprintf(c->preset, sizeof c->preset, "%s", r->ds.channels == 1 ? "gray"
                                                   : r->ds.height <= 64 && r->ds.width <= 64 ? "cifar" : "simclr");
    if (vkc_augment_preset(c->preset, &r->aug) || (c->aug[0] && vkc_augment_set(&r->aug, c->aug)) ||
        vkc_augment_check(&r->aug, r->ds.channels))
        return vkc_fail_context("--preset/--aug");
    int vh = r->aug.out_height ? r->aug.out_height : r->ds.height;
    int vw = r->aug.out_width ? r->aug.out_width : r->ds.width;
    if (resume_path && (c->model.channels != r->ds.channels || c->model.height != vh || c->model.width_px != vw))
        return vkc_fail("%s was trained on %dx%dx%d images, the data gives %dx%dx%d", resume_path, c->model.height,
                        c->model.width_px, c->model.channels, vh, vw, r->ds.channels);
    c->model.channels = r->ds.channels;
    c->model.height = vh;
    c->model.width_px = vw;
    if (vkc_model_check(&c->model)) return VKC_ERR;

    VkcContextOptions copt = {.device_index = c->device, .quiet = c->quiet, .local_rank = c->dist.local_rank};
    if (vkc_context_create(&r->ctx, &copt)) return VKC_ERR;
    r->ctx_ok = true;
    vkc_arena_init(&r->dev, &r->ctx, VKC_MEMORY_DEVICE);
    vkc_arena_init(&r->host, &r->ctx, VKC_MEMORY_STAGING);
    if (vkc_layers_init(&r->ctx, &r->layers)) return VKC_ERR;
    r->layers_ok = true;
    VkDeviceSize need;
    if (check_batch(&r->ctx, &r->layers, c, &need)) return VKC_ERR;
    if (vkc_gemm_init(&r->ctx, &r->gemm)) return VKC_ERR;
    r->gemm_ok = true;
    if (vkc_reduce_init(&r->ctx, &r->reduce)) return VKC_ERR;
    r->reduce_ok = true;
    if (vkc_linear_kernels_init(&r->ctx, &r->lin, &r->gemm, &r->reduce)) return VKC_ERR;
    r->lin_ok = true;
    if (vkc_l2norm_init(&r->ctx, &r->l2)) return VKC_ERR;
    r->l2_ok = true;
    uint32_t n2 = 2 * (uint32_t)c->batch, dim = (uint32_t)c->model.out_dim;
    if (vkc_model_create(&r->model, &r->ctx, &r->layers, &r->lin, &c->model, n2, &r->dev)) return VKC_ERR;
    VkcLossParams lp = {.kind = c->loss, .tau = c->temperature, .tau_plus = c->tau_plus,
                        .learned_logz = c->model.loss_logz};
    if (lp.learned_logz) { /* the model holds log Z as a parameter, so the optimizer trains it */
        lp.logz = vkc_model_tensor(&r->model, r->model.logz_tensor);
        lp.dlogz = vkc_model_grad(&r->model, r->model.logz_tensor);
    }
    /* The loss sees every rank's embeddings (global negatives). */
    if (vkc_contrastive_init(&r->ctx, &r->loss, &r->gemm, &r->reduce, &r->dev, n2 * (uint32_t)c->ranks, dim, &lp))
        return VKC_ERR;
    r->loss_ok = true;
    VkDeviceSize emb = (VkDeviceSize)n2 * dim * 4;
    size_t slot_bytes = vkc_producer_slot_bytes(&r->train_ds, &r->aug, c->batch);
    if (vkc_tensor_alloc(&r->dev, emb, &r->z) || vkc_tensor_alloc(&r->dev, emb, &r->dz) ||
        vkc_tensor_alloc(&r->dev, emb, &r->dembed) ||
        vkc_tensor_alloc(&r->host, 4 * VKC_CONTRASTIVE_METRICS, &r->metrics[0]) ||
        vkc_tensor_alloc(&r->host, 4 * VKC_CONTRASTIVE_METRICS, &r->metrics[1]) ||
        vkc_tensor_alloc(&r->host, slot_bytes, &r->slot[0]) || vkc_tensor_alloc(&r->host, slot_bytes, &r->slot[1]) ||
        (!r->ctx.is_cpu && vkc_tensor_alloc(&r->dev, slot_bytes, &r->input)))
        return VKC_ERR;
    if (c->ranks > 1) {
        if (vkc_tensor_alloc(&r->dev, emb * c->ranks, &r->zg) || vkc_tensor_alloc(&r->dev, emb * c->ranks, &r->dzg))
            return VKC_ERR;
        r->dstep_ok = true; /* destroy is safe on a partly initialised DistStep */
        if (dist_step_init(&r->dstep, &c->dist, &r->model, &r->host, (uint32_t)c->batch, dim, c->sync_bn == 1))
            return VKC_ERR;
        if (c->sync_bn == 1) r->model.bn_sync = &r->dstep.bn;
    }

    VkcOptimConfig ocfg = vkc_optim_defaults(c->optimizer);
    if (c->weight_decay >= 0) ocfg.weight_decay = c->weight_decay;
    else c->weight_decay = ocfg.weight_decay;
    VkcParam *params;
    int nparams;
    if (vkc_model_optim_params(&r->model, &params, &nparams)) return VKC_ERR;
    int orc = vkc_optim_init(&r->ctx, &r->opt, &ocfg, params, nparams, &r->dev, &r->host);
    free(params);
    if (orc) return VKC_ERR;
    r->opt_ok = true;

    *start_step = 0;
    if (resume_path) {
        if (train_checkpoint_load(resume_path, &r->model, &r->opt, start_step)) return VKC_ERR;
    } else if (vkc_model_init_params(&r->model, c->seed))
        return VKC_ERR;

    if (vkc_cmd_init(&r->ctx, &r->cmd[0]) || vkc_cmd_init(&r->ctx, &r->cmd[1])) return VKC_ERR;
    r->cmd_ok = true;
    if (record_step(r, 0) || record_step(r, 1)) return VKC_ERR;
    return VKC_OK;
}

/* Print a progress line: in place on a terminal, one line per log interval otherwise. */
static void progress(const Run *r, bool tty, int64_t step, int64_t total, int64_t spe, float loss, float acc,
                     double ips, double eta, bool newline)
{
    if (r->cfg.quiet) return;
    if (tty) {
        int width = 24, done = (int)(width * step / (total ? total : 1));
        char bar[32];
        for (int i = 0; i < width; i++) bar[i] = i < done ? '#' : '.';
        bar[width] = 0;
        fprintf(stderr, "\r[%s] epoch %lld/%d step %lld/%lld loss %.4f acc %.3f %.0f img/s ETA %02d:%02d ", bar,
                (long long)((step - 1) / spe + 1), r->cfg.epochs, (long long)step, (long long)total, loss, acc, ips,
                (int)(eta / 60), (int)fmod(eta, 60));
        if (newline) fprintf(stderr, "\n");
        fflush(stderr);
    } else {
        printf("epoch %lld step %lld/%lld loss %.4f pos-acc %.3f %.1f images/s ETA %.0f s\n",
               (long long)((step - 1) / spe + 1), (long long)step, (long long)total, loss, acc, ips, eta);
        fflush(stdout);
    }
}

/* The loss options that go together (the command line names them as flags). */
static int check_loss(const VkcTrainConfig *c)
{
    if (c->nce_learned_logz && c->loss != VKC_LOSS_NCE)
        return vkc_fail("--nce-logz learned needs --loss nce (the %s loss has no log Z to learn)",
                        vkc_loss_kind_name(c->loss));
    if (c->loss == VKC_LOSS_DCL_DEBIASED && !(c->tau_plus >= 0.0f && c->tau_plus < 1.0f))
        return vkc_fail("--tau-plus must be in [0, 1) (got %g)", c->tau_plus);
    if (c->loss != VKC_LOSS_DCL_DEBIASED && c->tau_plus != 0.0f)
        return vkc_fail("--tau-plus is only used by --loss dcl-debiased, not %s", vkc_loss_kind_name(c->loss));
    return VKC_OK;
}

int vkc_train_run(const VkcTrainConfig *cfg_in, const char *resume_dir, int epochs_override, VkcStepHook hook,
                  void *hook_user, VkcTrainResult *res)
{
    memset(res, 0, sizeof *res);
    res->probe_top1 = res->probe_top5 = res->knn_top1 = res->knn_top5 = -1;
    stop_requested = 0;
    Run *r = calloc(1, sizeof *r);
    if (!r) return vkc_fail("out of host memory");
    int rc = VKC_ERR;
    char resume_path[1100];
    r->cfg = *cfg_in;
    r->result = res;
    VkcTrainConfig *c = &r->cfg;
    if (resume_dir) {
        snprintf(resume_path, sizeof resume_path, "%s/checkpoint.safetensors", resume_dir);
        VkcTrainConfig saved;
        if (vkc_checkpoint_read_config(resume_path, &saved, NULL)) goto done;
        /* The run's configuration is the checkpoint's; only where it runs and how it reports may change. */
        saved.device = c->device;
        saved.quiet = c->quiet;
        saved.profile = c->profile;
        snprintf(saved.out, sizeof saved.out, "%s", c->out[0] ? c->out : resume_dir);
        saved.stop_after = c->stop_after;
        if (epochs_override > 0) saved.epochs = epochs_override;
        int ranks = c->dist.size > 0 ? c->dist.size : 1;
        if (saved.ranks != ranks) {
            vkc_fail("%s was trained with %d rank%s (global batch %d x %d); resume it with the same number of ranks "
                     "(mpirun -np %d), not %d",
                     resume_path, saved.ranks, saved.ranks == 1 ? "" : "s", saved.batch, saved.ranks, saved.ranks, ranks);
            goto done;
        }
        saved.dist = c->dist;
        *c = saved;
    }
    /* Data parallel: rank 0 alone prints and writes the output directory. */
    if (c->dist.size < 1) c->dist = (VkcDist){.size = 1, .local_size = 1};
    c->ranks = c->dist.size;
    if (c->ranks == 1) c->sync_bn = 0; /* one rank's statistics are the global ones */
    else if (c->sync_bn < 0) c->sync_bn = 1;
    const bool lead = c->dist.rank == 0;
    if (!lead) c->quiet = true;
    if (c->batch < 2) {
        vkc_fail("--batch must be at least 2 (each image's positive is its other view, negatives the others)");
        goto done;
    }
    if (c->epochs < 1) {
        vkc_fail("--epochs must be at least 1");
        goto done;
    }
    if (!(c->temperature > 0)) {
        vkc_fail("--temperature must be positive");
        goto done;
    }
    if (check_loss(c)) goto done;
    c->model.loss_logz = c->loss == VKC_LOSS_NCE && c->nce_learned_logz;
    if (c->lr <= 0) c->lr = vkc_train_default_lr(c->optimizer, c->lr_scaling);
    if (lead && make_dir(c->out)) goto done;
    snprintf(r->ckpt_path, sizeof r->ckpt_path, "%s/checkpoint.safetensors", c->out);

    int64_t start;
    {
        /* A rank that fails to set up (no device, too little memory) takes the others down with it
         * rather than leaving them waiting in the first collective. */
        int src = setup(r, resume_dir ? resume_path : NULL, &start);
        if (vkc_dist_any(&c->dist, src != VKC_OK)) {
            if (src == VKC_OK) vkc_fail("another rank failed to set up (see its message); rank %d was ready", c->dist.rank);
            else if (c->ranks > 1) fprintf(stderr, "vkclr: rank %d of %d: %s\n", c->dist.rank, c->ranks, vkc_error());
            goto done;
        }
    }
    res->device_bytes = 0;
    for (int i = 0; i < r->dev.nblocks; i++) res->device_bytes += r->dev.blocks[i].size;
    for (int i = 0; i < r->host.nblocks; i++) res->device_bytes += r->host.blocks[i].size;

    VkcProducerOptions popt = {.batch = c->batch, .threads = c->threads, .slots = 2, .seed = c->seed,
                               .first_step = start, .rank = c->dist.rank, .ranks = c->ranks};
    void *slots[2] = {r->slot[0].mapped, r->slot[1].mapped};
    popt.slot_memory = slots;
    if (vkc_producer_create(&r->producer, &r->train_ds, &r->aug, &popt)) goto done;
    int64_t spe = vkc_producer_steps_per_epoch(r->producer);
    int64_t total = spe * c->epochs, warmup = (int64_t)llround(c->warmup_epochs * spe);
    int64_t end = c->stop_after > 0 && c->stop_after * spe < total ? c->stop_after * spe : total;
    const int gbatch = c->batch * c->ranks; /* images per step over all ranks */
    float peak = c->lr_scaling == VKC_LR_SQRT ? c->lr * sqrtf((float)gbatch) : c->lr * gbatch / 256.0f;

    if (lead) {
        char *json = train_config_json(c, true);
        if (!json) {
            vkc_fail("out of host memory");
            goto done;
        }
        size_t n = strlen(json);
        char *text = malloc(n + 2);
        if (!text) {
            free(json);
            goto done;
        }
        memcpy(text, json, n);
        text[n] = '\n';
        text[n + 1] = 0;
        free(json);
        int wrc = write_text(c->out, "config.json", text);
        free(text);
        if (wrc) {
            end_all_ranks_on_failure(c);
            goto done;
        }
    }
    char mpath[1100];
    snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", c->out);
    if (lead && start && keep_metrics_until(mpath, start)) {
        end_all_ranks_on_failure(c);
        goto done;
    }
    if (lead) r->metrics_file = fopen(mpath, start ? "a" : "w");
    if (lead && !r->metrics_file) {
        vkc_fail("cannot write %s: %s", mpath, strerror(errno));
        end_all_ranks_on_failure(c);
        goto done;
    }
    if (!c->quiet) {
        printf("%s %s width %d (%llu parameters, %d features), batch %d (%d views), %d training images, %lld "
               "steps/epoch, %d epochs, %s lr %.4g (peak %.4g), loss %s%s\n",
               r->ds.name, c->model.encoder, c->model.width, (unsigned long long)r->model.nparams, r->model.features,
               gbatch, 2 * gbatch, r->train_ds.train.n, (long long)spe, c->epochs,
               c->optimizer == VKC_OPTIM_LARS ? "lars" : c->optimizer == VKC_OPTIM_SGD ? "sgd" : "adamw", c->lr, peak,
               vkc_loss_kind_name(c->loss), c->model.loss_logz ? " (learned log Z)" : "");
        if (c->ranks > 1)
            printf("%d ranks x batch %d, global negatives, %s batch norm, rank 0 writes %s\n", c->ranks, c->batch,
                   c->sync_bn ? "synchronised" : "per-rank", c->out);
        printf("device memory: %.1f MiB allocated (%.1f MiB model activations and gradients, %.1f MiB staging)\n",
               res->device_bytes / 1048576.0, r->model.activation_bytes / 1048576.0,
               r->host.allocated / 1048576.0);
        if (start) printf("resuming %s at step %lld (epoch %lld)\n", c->out, (long long)start, (long long)(start / spe));
        fflush(stdout);
    }

    bool tty = isatty(STDERR_FILENO) && !c->quiet;
    double t0 = now(), t_steady = 0, interval_start = t0;
    int64_t steady_from = -1;
    double msum[VKC_CONTRASTIVE_METRICS] = {0}; /* the loss's metrics, summed over the interval */
    int interval_n = 0;
    int64_t inflight = -1; /* step on the GPU */
    int inflight_slot = -1;
    VkcBatch inflight_batch, batch;
    VkcProducerStats before, after;
    bool failed = false;
    int64_t done = start;

    for (int64_t t = start; t <= end && !failed; t++) {
        if (t < end) {
            vkc_producer_stats(r->producer, &before);
            double a0 = now();
            if (vkc_producer_acquire(r->producer, &batch)) {
                failed = true;
                break;
            }
            double waited = now() - a0;
            vkc_producer_stats(r->producer, &after);
            /* The GPU sat idle for data only if acquire had to wait and the previous step had
             * finished by the time it returned; the wait is then an upper bound of the idle time.
             * (The first step of a run always waits for its batch: that is start-up, not counted.) */
            if (after.waited > before.waited && inflight >= 0 &&
                vkGetFenceStatus(r->ctx.device, r->cmd[inflight_slot].fence) == VK_SUCCESS) {
                res->gpu_waits++;
                res->gpu_wait_seconds += waited;
            }
        }
        if (inflight >= 0) {
            if (vkc_cmd_wait(&r->cmd[inflight_slot])) {
                failed = true;
                break;
            }
            accumulate_profile(r, inflight_slot);
            const float *mv = r->metrics[inflight_slot].mapped;
            float loss = mv[VKC_METRIC_LOSS], acc = mv[VKC_METRIC_ACCURACY];
            done = inflight + 1;
            if (steady_from < 0) {
                steady_from = done;
                t_steady = now();
            }
            vkc_producer_release(r->producer, &inflight_batch);
            inflight = -1;
            if (hook) hook(hook_user, done, loss, acc);
            if (!isfinite(loss)) {
                res->nonfinite = true;
                struct stat st;
                bool have = stat(r->ckpt_path, &st) == 0;
                vkc_fail("the loss became %s at step %lld (epoch %lld); training stopped. %s%s%s", isnan(loss) ? "NaN" : "infinite",
                         (long long)done, (long long)((done - 1) / spe + 1),
                         have ? "The last good checkpoint, " : "No checkpoint was written before it",
                         have ? r->ckpt_path : "", have ? ", is left as it was" : "");
                failed = true;
                break;
            }
            res->last_loss = loss;
            res->last_accuracy = acc;
            for (int k = 0; k < VKC_CONTRASTIVE_METRICS; k++) msum[k] += mv[k];
            interval_n++;
            bool epoch_end = done % spe == 0;
            if (interval_n >= c->log_every || epoch_end || done == end) {
                double tnow = now();
                double ips = interval_n * gbatch / (tnow - interval_start);
                double steady_ips = done > steady_from ? (done - steady_from) * gbatch / (tnow - t_steady) : ips;
                double eta = steady_ips > 0 ? (double)(end - done) * gbatch / steady_ips : 0;
                float lr_now = vkc_train_lr(peak, done - 1, warmup, total);
                double mean[VKC_CONTRASTIVE_METRICS];
                for (int k = 0; k < VKC_CONTRASTIVE_METRICS; k++) mean[k] = msum[k] / interval_n;
                /* Interval means of the loss's metrics (vkclr/loss.h, docs/losses.md); log_z only
                 * when it is learned. Rank 0 alone writes them. */
                if (lead) {
                    fprintf(r->metrics_file,
                            "{\"step\": %lld, \"epoch\": %.4f, \"loss\": %.9g, \"pos_accuracy\": %.6g, \"lr\": %.9g, "
                            "\"images_per_s\": %.2f, \"mi_lower_bound\": %.6g, \"log_zhat\": %.6g, \"log_zhat_sd\": %.6g, "
                            "\"alignment\": %.6g, \"uniformity\": %.6g, ",
                            (long long)done, (double)done / spe, mean[VKC_METRIC_LOSS], mean[VKC_METRIC_ACCURACY], lr_now,
                            ips, mean[VKC_METRIC_MI_BOUND], mean[VKC_METRIC_LOG_ZHAT], mean[VKC_METRIC_LOG_ZHAT_SD],
                            mean[VKC_METRIC_ALIGNMENT], mean[VKC_METRIC_UNIFORMITY]);
                    if (c->model.loss_logz) fprintf(r->metrics_file, "\"log_z\": %.9g, ", mean[VKC_METRIC_LOG_Z]);
                    fprintf(r->metrics_file, "\"steps_averaged\": %d, \"last_loss\": %.9g}\n", interval_n, loss);
                    fflush(r->metrics_file);
                }
                progress(r, tty, done, end, spe, (float)mean[VKC_METRIC_LOSS], (float)mean[VKC_METRIC_ACCURACY], ips,
                         eta, epoch_end && tty);
                memset(msum, 0, sizeof msum);
                interval_n = 0;
                interval_start = tnow;
            }
            /* A signal may reach the ranks at different steps: they stop together. */
            bool stop = c->ranks > 1 ? vkc_dist_any(&c->dist, stop_requested) : stop_requested;
            if (epoch_end || stop || done == end) {
                /* Every rank must hold the same parameters (rank 0 saves its own): checked here. */
                if ((c->ranks > 1 && dist_step_check_replicas(&r->dstep)) ||
                    (lead && train_checkpoint_save(r->ckpt_path, &r->model, &r->opt, c, done, done / spe))) {
                    failed = true;
                    break;
                }
            }
            if (lead && epoch_end && c->knn_every > 0 && c->knn_k > 0 && (done / spe) % c->knn_every == 0 && done < total) {
                TrainEval mon;
                if (train_evaluate(&r->model, &r->gemm, &r->aug, &r->ds, c, false, &mon)) {
                    failed = true;
                    break;
                }
                fprintf(r->metrics_file,
                        "{\"step\": %lld, \"epoch\": %.4f, \"knn_top1\": %.6g, \"knn_top5\": %.6g, \"knn_k\": %u, "
                        "\"knn_bank\": %u, \"knn_queries\": %u, \"knn_seconds\": %.2f}\n",
                        (long long)done, (double)done / spe, mon.knn_top1, mon.knn_top5, mon.knn_k, mon.knn_bank,
                        mon.test_images, mon.seconds);
                fflush(r->metrics_file);
                if (!c->quiet && !tty)
                    printf("epoch %lld kNN monitor (%u-image bank, %u test images): top-1 %.2f%%\n",
                           (long long)(done / spe), mon.knn_bank, mon.test_images, 100 * mon.knn_top1);
            }
            if (stop && done < end) {
                res->interrupted = true;
                break;
            }
        }
        if (t == end) break;
        /* Step t: its learning rate and number, then submit the command buffer of its slot. */
        float lr = vkc_train_lr(peak, t, warmup, total);
        if (debug_nan_step && t + 2 == debug_nan_step) lr = NAN;
        if (vkc_optim_set_step(&r->opt, lr, (uint32_t)(t + 1)) || vkc_cmd_submit(&r->cmd[batch.slot])) {
            failed = true;
            break;
        }
        inflight = t;
        inflight_slot = batch.slot;
        inflight_batch = batch;
    }
    if (inflight >= 0) vkc_cmd_wait(&r->cmd[inflight_slot]);
    if (failed) {
        /* A non-finite loss is the global batch's: every rank sees it and stops at the same step. */
        if (!res->nonfinite) end_all_ranks_on_failure(c);
        goto done;
    }
    double t1 = now();
    res->steps = done;
    res->epoch = done / spe;
    res->seconds = t1 - t0;
    res->ranks = c->ranks;
    if (c->ranks > 1) {
        int64_t steps = done - start;
        res->comm_seconds = r->dstep.comm_seconds;
        for (int k = 0; k < DIST_KINDS; k++)
            res->comm_bytes_per_step[k] = steps > 0 ? (double)r->dstep.bytes[k] / steps : 0;
    }
    res->images_per_second = done > steady_from && steady_from >= 0 ? (done - steady_from) * gbatch / (t1 - t_steady) : 0;
    if (tty) fprintf(stderr, "\n");
    vkc_producer_stats(r->producer, &after);
    vkc_producer_destroy(r->producer);
    r->producer = NULL;
    if (res->interrupted) {
        if (!c->quiet)
            printf("interrupted after step %lld: checkpoint %s written; continue with --resume %s\n", (long long)done,
                   r->ckpt_path, c->out);
        rc = VKC_OK;
        goto done;
    }
    if (!c->quiet) {
        printf("trained %lld steps in %.1f s: %.1f images/s (%.1f views/s) after the first step; the GPU waited for "
               "augmentation before %lld of them (%.3f s)\n",
               (long long)(done - start), res->seconds, res->images_per_second, 2 * res->images_per_second,
               (long long)res->gpu_waits, res->gpu_wait_seconds);
        if (c->ranks > 1)
            printf("communication: %.1f s in collectives (%.1f%% of the run), per step and rank %.1f KiB gradients, "
                   "%.1f KiB embeddings, %.1f KiB batch-norm sums\n",
                   res->comm_seconds, 100 * res->comm_seconds / res->seconds, res->comm_bytes_per_step[0] / 1024,
                   res->comm_bytes_per_step[1] / 1024, res->comm_bytes_per_step[2] / 1024);
        fflush(stdout);
    }

    /* Evaluation: linear probe and kNN on the final encoder's features (evaluate.c). */
    TrainEval ev;
    memset(&ev, 0, sizeof ev);
    ev.knn_top1 = ev.knn_top5 = ev.probe_top1 = ev.probe_top5 = ev.probe_train_top1 = -1;
    if (lead && done == total) {
        if (train_evaluate(&r->model, &r->gemm, &r->aug, &r->ds, c, true, &ev)) goto done;
        res->probe_top1 = ev.probe_top1, res->probe_top5 = ev.probe_top5;
        res->knn_top1 = ev.knn_top1, res->knn_top5 = ev.knn_top5;
        if (!c->quiet) train_evaluate_print(&ev, c);
    }

    /* results.json */
    if (lead) {
        char buf[4096];
        int n = snprintf(buf, sizeof buf,
                         "{\n  \"steps\": %lld,\n  \"epochs\": %lld,\n  \"final_loss\": %.9g,\n  \"final_pos_accuracy\": %.6g,\n"
                         "  \"images_per_s\": %.2f,\n  \"train_seconds\": %.2f,\n  \"gpu_waits_for_augmentation\": %lld,\n"
                         "  \"gpu_wait_seconds\": %.4f,\n",
                         (long long)done, (long long)(done / spe), res->last_loss, res->last_accuracy,
                         res->images_per_second, res->seconds, (long long)res->gpu_waits, res->gpu_wait_seconds);
        n += train_evaluate_json(&ev, buf + n, sizeof buf - n);
        n += snprintf(buf + n, sizeof buf - n, "  \"device_memory_bytes\": %llu,\n  \"peak_host_rss_kib\": %ld",
                      (unsigned long long)res->device_bytes, peak_rss_kib());
        n += snprintf(buf + n, sizeof buf - n,
                      ",\n  \"ranks\": %d,\n  \"sync_bn\": %s,\n  \"comm_seconds\": %.4f,\n  \"comm_share\": %.4f,\n"
                      "  \"comm_bytes_per_step\": {\"gradients\": %.0f, \"embeddings\": %.0f, \"bn_sums\": %.0f}",
                      c->ranks, c->sync_bn ? "true" : "false", res->comm_seconds,
                      res->seconds > 0 ? res->comm_seconds / res->seconds : 0, res->comm_bytes_per_step[0],
                      res->comm_bytes_per_step[1], res->comm_bytes_per_step[2]);
        if (r->profiled_steps > 0) {
            double sum = 0;
            for (int i = 0; i < NCLASS; i++) sum += r->class_ns[i];
            n += snprintf(buf + n, sizeof buf - n, ",\n  \"gpu_ms_per_step\": %.3f,\n  \"gpu_time_share\": {",
                          r->step_ns / r->profiled_steps / 1e6);
            for (int i = 0; i < NCLASS; i++)
                n += snprintf(buf + n, sizeof buf - n, "%s\"%s\": %.4f", i ? ", " : "", class_names[i],
                              sum > 0 ? r->class_ns[i] / sum : 0);
            n += snprintf(buf + n, sizeof buf - n, "}");
            if (!c->quiet) {
                printf("GPU time per step %.1f ms:", r->step_ns / r->profiled_steps / 1e6);
                for (int i = 0; i < NCLASS; i++) printf(" %s %.1f%%", class_names[i], sum > 0 ? 100 * r->class_ns[i] / sum : 0);
                printf("\n");
            }
        }
        snprintf(buf + n, sizeof buf - n, "\n}\n");
        if (write_text(c->out, "results.json", buf)) goto done;
    }
    if (!c->quiet) printf("results in %s (config.json, metrics.jsonl, checkpoint.safetensors, results.json)\n", c->out);
    rc = VKC_OK;
done:
    run_destroy(r);
    free(r);
    return rc;
}
