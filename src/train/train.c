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
 * after step t-1 already finished: that time is measured and reported.
 *
 * A run, in the order vkc_train_run takes it: resolve the configuration (resume rules,
 * defaults, checks) -> set up data, device, model, loss, optimizer and the two recorded steps
 * -> open the outputs -> the step loop (each finished step: metrics, log line, checkpoint,
 * kNN monitor, signals) -> evaluation and results.json. */
#include <dirent.h>
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
#include "dump.h"
#include "internal.h"
#include "vkclr/data.h"
#include "vkclr/fileio.h"
#include "vkclr/interrupt.h"
#include "vkclr/l2norm.h"
#include "vkclr/loss.h"
#include "vkclr/plot.h"

static int64_t debug_nan_step;

const char *const vkc_train_timing_keys[] = {"images_per_s", "knn_seconds", NULL};

/* A stop request is the process's interrupt flag (vkclr/interrupt.h): the step loop checks it
 * after every step, the data loading and the evaluation at the end inside their loops. */
void vkc_train_request_stop(void) { vkc_interrupt_request(); }
void vkc_train_debug_nan_at(int64_t step) { debug_nan_step = step; }

static void on_signal(int sig)
{
    (void)sig;
    vkc_interrupt_request();
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
    /* AdamW: 2e-3 at batch 256 (peak 1e-3 at the default batch 128), measured best for the
     * default run (BENCHMARKS.md, "Choosing the default run") */
    if (kind == VKC_OPTIM_ADAMW) return scaling == VKC_LR_SQRT ? 2e-3f / 16.0f : 2e-3f;
    return scaling == VKC_LR_SQRT ? 0.075f : 0.3f;
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
static int check_batch(VkcContext *ctx, VkcLayers *L, const VkcTrainConfig *c)
{
    VkDeviceSize range = ctx->props.limits.maxStorageBufferRange, heap = device_heap(ctx);
    /* Leave a quarter of the heap to the driver and other processes. */
    VkDeviceSize budget = heap - heap / 4;
    VkDeviceSize total, largest;
    if (plan(ctx, L, c, (uint32_t)c->batch, &total, &largest)) return VKC_ERR;
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

/* ---------------------------------------------------------------- the loss scale (fp16) */

#define SCALE_INITIAL 65536.0 /* PyTorch's GradScaler starts here too */
#define SCALE_GROWTH 2000     /* clean steps before the scale doubles */

/* After a step: a skipped step halves the scale, a run of clean ones doubles it. */
static void update_loss_scale(VkcTrainState *st, bool skipped)
{
    if (skipped) {
        st->loss_scale = st->loss_scale > 0x1p-60 ? st->loss_scale / 2 : st->loss_scale;
        st->loss_scale_clean = 0;
    } else if (++st->loss_scale_clean >= SCALE_GROWTH) {
        st->loss_scale = st->loss_scale < 0x1p60 ? st->loss_scale * 2 : st->loss_scale;
        st->loss_scale_clean = 0;
    }
}

/* ---------------------------------------------------------------- profile */

/* GPU time per kernel class (--profile): the model's op classes, then the loss and the optimizer. */
#define MAX_CLASSES 16

typedef struct {
    bool on;
    int ts[2][6]; /* per slot: loss begin/end, optimizer begin/end, step begin/end */
    const char *names[MAX_CLASSES];
    double ns[MAX_CLASSES];
    int nclasses;
    double step_ns;
    int64_t steps;
} Profile;

static void profile_add(Profile *p, const char *name, double ns)
{
    int i = 0;
    while (i < p->nclasses && strcmp(p->names[i], name)) i++;
    if (i == MAX_CLASSES) return; /* cannot happen: a handful of classes */
    if (i == p->nclasses) p->names[p->nclasses++] = name, p->ns[i] = 0;
    p->ns[i] += ns;
}

static double profile_sum(const Profile *p)
{
    double sum = 0;
    for (int i = 0; i < p->nclasses; i++) sum += p->ns[i];
    return sum;
}

/* ---------------------------------------------------------------- the run */

typedef struct {
    VkcTrainConfig cfg;
    char resume_file[1100]; /* "" unless resuming */
    const char *resume_dir;
    bool lead;              /* rank 0: prints and writes the output directory */
    VkcDataset ds, train_ds; /* train_ds: ds with the training split cut to --limit */
    VkcAugmentConfig aug;
    VkcContext ctx;
    VkcArena dev, host;
    VkcModelKernels k;
    VkcGemm eval_gemm;      /* the kNN monitor's and the final evaluation's GEMMs (their products' type) */
    VkcL2Norm l2;
    VkcContrastive loss;
    VkcModel model;
    VkcOptim opt;
    VkcTensor slot[2], input, z, dz, dembed, metrics[2];
    DistStep dstep;          /* more than one rank: the collectives of a step */
    VkcTensor zg, dzg;       /* ... and the global embeddings and their gradient */
    VkcCmd cmd[2];
    /* fp16: the dynamic loss scale. The loss's gradient is multiplied by it (the scale kernel,
     * reading scale_buf) and the optimizer divides it out and skips a step whose gradients
     * overflowed; the scale halves then, and doubles after SCALE_GROWTH clean steps. */
    VkcKernel scale_kernel;
    VkcTensor scale_buf;
    VkcTrainState state;
    int skipped_in_interval;
    /* --snapshot-minutes: a copy of the checkpoint after these minutes of training. */
    double snapshot_min[32], loop_start;
    int nsnapshots, next_snapshot;
    Profile prof;
    VkcProducer *producer;
    TrainDump dump;          /* --dump-steps */
    FILE *metrics_file;
    VkcPlotter *plotter; /* rank 0: redraws curves.png in a thread after each metrics line */
    char ckpt_path[1100];
    /* The schedule: steps per epoch, steps in all, warm-up steps, the step this process
     * stops at, images per step over all ranks, the peak learning rate. */
    int64_t start, spe, total, warmup, end;
    int gbatch;
    float peak;
    /* The logging interval: the loss's metrics summed over its steps. */
    double msum[VKC_CONTRASTIVE_METRICS];
    int interval_n, interval_here; /* its steps; of them, the ones this process ran (a resumed run
                                    * starts with the checkpoint's partial interval) */
    double interval_start, t_steady;
    int64_t steady_from;
    bool tty;
    bool last_known; /* res->last_loss is a step's (this process's, or the checkpoint's) */
    VkcTrainResult *res;
} Run;

/* Destroying is safe on whatever setup left: every member starts zeroed. */
static void run_destroy(Run *r)
{
    vkc_plotter_stop(r->plotter, NULL);
    vkc_producer_destroy(r->producer);
    train_dump_close(&r->dump);
    if (r->metrics_file) fclose(r->metrics_file);
    vkc_cmd_destroy(&r->cmd[0]);
    vkc_cmd_destroy(&r->cmd[1]);
    if (r->ctx.device) vkc_kernel_destroy(&r->ctx, &r->scale_kernel);
    vkc_optim_destroy(&r->opt);
    dist_step_destroy(&r->dstep);
    vkc_model_destroy(&r->model);
    vkc_contrastive_destroy(&r->loss);
    vkc_l2norm_destroy(&r->l2);
    vkc_model_kernels_destroy(&r->k);
    vkc_gemm_destroy(&r->eval_gemm);
    if (r->ctx.device && r->res) r->res->validation_messages = r->ctx.validation_messages;
    vkc_arena_destroy(&r->host);
    vkc_arena_destroy(&r->dev);
    vkc_context_destroy(&r->ctx);
    vkc_dataset_free(&r->ds);
}

/* More than one rank: a failure on this rank alone (a lost device, a failed write, a collective
 * that failed) ends every rank, naming this one; checkpoints are written atomically, so the
 * last one stays intact. */
static void end_all_ranks_on_failure(const VkcTrainConfig *c)
{
    if (c->ranks > 1) vkc_dist_abort(&c->dist, vkc_error());
}

/* ---------------------------------------------------------------- 1. the configuration */

/* The run's configuration: cfg, or when resuming the checkpoint's with the options a resumed
 * run may change taken from cfg; then what follows from the ranks, the defaults by optimizer,
 * and the checks every option gets. */
static int resolve_config(Run *r, const VkcTrainConfig *cfg, const char *resume_dir)
{
    VkcTrainConfig *c = &r->cfg;
    *c = *cfg;
    r->resume_dir = resume_dir;
    if (resume_dir) {
        snprintf(r->resume_file, sizeof r->resume_file, "%s/checkpoint.safetensors", resume_dir);
        VkcTrainConfig saved;
        if (vkc_checkpoint_read_config(r->resume_file, &saved, &r->start)) return VKC_ERR;
        for (int i = 0; i < vkc_train_noptions; i++)
            if (vkc_train_options[i].flags & VKC_OPT_RESUMABLE) vkc_option_copy(&saved, cfg, &vkc_train_options[i]);
        if (!saved.out[0]) snprintf(saved.out, sizeof saved.out, "%s", resume_dir);
        int ranks = cfg->dist.size > 0 ? cfg->dist.size : 1;
        if (saved.ranks != ranks)
            return vkc_fail("%s was trained with %d rank%s (global batch %d x %d); resume it with the same number of "
                            "ranks (mpirun -np %d), not %d",
                            r->resume_file, saved.ranks, saved.ranks == 1 ? "" : "s", saved.batch, saved.ranks,
                            saved.ranks, ranks);
        saved.dist = cfg->dist;
        *c = saved;
    }
    /* Data parallel: rank 0 alone prints and writes the output directory. */
    if (c->dist.size < 1) c->dist = (VkcDist){.size = 1, .local_size = 1};
    c->ranks = c->dist.size;
    if (c->ranks == 1) c->sync_bn = 0; /* one rank's statistics are the global ones */
    else if (c->sync_bn < 0) c->sync_bn = 1;
    r->lead = c->dist.rank == 0;
    if (!r->lead) c->quiet = true;
    if (vkc_config_check(c, NULL)) return VKC_ERR;
    c->model.loss_logz = c->loss == VKC_LOSS_NCE && c->nce_learned_logz;
    if (c->lr <= 0) c->lr = vkc_train_default_lr(c->optimizer, c->lr_scaling);
    snprintf(r->ckpt_path, sizeof r->ckpt_path, "%s/checkpoint.safetensors", c->out);
    return VKC_OK;
}

/* ---------------------------------------------------------------- 2. set-up */

/* The data and the augmentation; the model's input shape is the views'. */
static int setup_data(Run *r)
{
    VkcTrainConfig *c = &r->cfg;
    VkcDataLimits lim = vkc_config_data_limits(c);
    if (vkc_dataset_load_limited(&r->ds, c->data, &lim)) return VKC_ERR;
    r->train_ds = r->ds;
    vkc_dataset_limit(&r->train_ds, c->limit);
    if (r->train_ds.train.n < (int64_t)c->batch * c->ranks)
        return vkc_fail("--batch %d x %d ranks is larger than the %d training images (--limit %d)", c->batch, c->ranks,
                        r->train_ds.train.n, c->limit);
    if (!c->preset[0]) snprintf(c->preset, sizeof c->preset, "%s", vkc_augment_default_preset(&r->ds));
    if (vkc_augment_preset(c->preset, &r->aug) || (c->aug[0] && vkc_augment_set(&r->aug, c->aug)) ||
        vkc_augment_check(&r->aug, r->ds.channels))
        return vkc_fail_context("--preset/--aug");
    int vh = r->aug.out_height ? r->aug.out_height : r->ds.height;
    int vw = r->aug.out_width ? r->aug.out_width : r->ds.width;
    if (r->resume_file[0] && (c->model.channels != r->ds.channels || c->model.height != vh || c->model.width_px != vw))
        return vkc_fail("%s was trained on %dx%dx%d images, the data gives %dx%dx%d", r->resume_file, c->model.height,
                        c->model.width_px, c->model.channels, vh, vw, r->ds.channels);
    c->model.channels = r->ds.channels;
    c->model.height = vh;
    c->model.width_px = vw;
    return vkc_model_check(&c->model);
}

/* The device, the kernels, the model, the loss (over every rank's embeddings: global
 * negatives), the step's tensors and the optimizer; parameters from the checkpoint or the
 * seed. */
static int setup_model(Run *r)
{
    VkcTrainConfig *c = &r->cfg;
    VkcContextOptions copt = {.device_index = c->device, .quiet = c->quiet, .local_rank = c->dist.local_rank};
    if (vkc_context_create(&r->ctx, &copt)) return VKC_ERR;
    vkc_arena_init(&r->dev, &r->ctx, VKC_MEMORY_DEVICE);
    vkc_arena_init(&r->host, &r->ctx, VKC_MEMORY_STAGING);
    if (c->precision < 0) c->precision = vkc_auto_precision(&r->ctx);
    if (!r->ctx.dtype_ok[c->precision])
        return vkc_fail("--precision %s: %s cannot store 16-bit activations (it lacks 16-bit storage buffers, 16-bit "
                        "arithmetic types or the 16-bit texel formats); use --precision fp32",
                        vkc_dtype_name((VkcDtype)c->precision), r->ctx.props.deviceName);
    c->model.act_dtype = (VkcDtype)c->precision;
    bool scaled = c->model.act_dtype == VKC_F16;
    if (vkc_model_kernels_init(&r->ctx, &r->k) || check_batch(&r->ctx, &r->k.layers, c) ||
        vkc_l2norm_init(&r->ctx, &r->l2) || vkc_gemm_init(&r->ctx, &r->eval_gemm))
        return VKC_ERR;
    /* 16-bit activations: the GEMMs multiply 16-bit operands too, on cooperative matrices where
     * the device runs them (sums stay float32): those of evaluation (kNN, probe) with either
     * type, those of training (head, loss) with bf16 only. Their operands are float32 values
     * that fp16 cannot always hold: the loss's gradient carries the loss scale (2^16), which the
     * L2 normalisation's backward divides by the embeddings' norms, and fp16 overflow made the
     * scaler skip steps and learn less (docs/precision.md). */
    vkc_gemm_use(&r->k.gemm, c->model.act_dtype == VKC_BF16 ? VKC_BF16 : VKC_F32);
    vkc_gemm_use(&r->eval_gemm, c->model.act_dtype);
    uint32_t n2 = 2 * (uint32_t)c->batch, dim = (uint32_t)c->model.out_dim;
    if (vkc_model_create(&r->model, &r->ctx, &r->k.layers, &r->k.linear, &c->model, n2, &r->dev)) return VKC_ERR;
    VkcLossParams lp = {.kind = c->loss, .tau = c->temperature, .tau_plus = c->tau_plus,
                        .learned_logz = c->model.loss_logz};
    if (lp.learned_logz) { /* the model holds log Z as a parameter, so the optimizer trains it */
        lp.logz = vkc_model_tensor(&r->model, r->model.logz_tensor);
        lp.dlogz = vkc_model_grad(&r->model, r->model.logz_tensor);
    }
    if (vkc_contrastive_init(&r->ctx, &r->loss, &r->k.gemm, &r->k.reduce, &r->dev, n2 * (uint32_t)c->ranks, dim, &lp))
        return VKC_ERR;
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
        if (vkc_tensor_alloc(&r->dev, emb * c->ranks, &r->zg) || vkc_tensor_alloc(&r->dev, emb * c->ranks, &r->dzg) ||
            dist_step_init(&r->dstep, &c->dist, &r->model, &r->host, (uint32_t)c->batch, dim, c->sync_bn == 1))
            return VKC_ERR;
        if (c->sync_bn == 1) r->model.bn_sync = &r->dstep.bn;
    }

    if (scaled && (vkc_tensor_alloc(&r->host, 4, &r->scale_buf) ||
                   vkc_kernel_create(&r->ctx, &r->scale_kernel, VKC_SHADER_SCALE, "bb", 4, (uint32_t[1]){64}, 1)))
        return VKC_ERR;
    VkcOptimConfig ocfg = vkc_optim_defaults(c->optimizer);
    ocfg.check_finite = scaled;
    if (c->weight_decay >= 0) ocfg.weight_decay = c->weight_decay;
    else c->weight_decay = ocfg.weight_decay;
    VkcParam *params;
    int nparams;
    if (vkc_model_optim_params(&r->model, &params, &nparams)) return VKC_ERR;
    int orc = vkc_optim_init(&r->ctx, &r->opt, &ocfg, params, nparams, &r->dev, &r->host);
    free(params);
    if (orc) return VKC_ERR;
    r->state = (VkcTrainState){.loss_scale = scaled ? SCALE_INITIAL : 1.0};
    if (r->resume_file[0]) {
        VkcTrainState *m = &r->state;
        if (vkc_checkpoint_load(r->resume_file, &r->model, &r->opt, m)) return VKC_ERR;
        if (m->step != r->start)
            return vkc_fail("%s changed while it was read (step %lld, then %lld)", r->resume_file, (long long)r->start,
                            (long long)m->step);
        if (m->interval_steps && m->interval_nsums != VKC_CONTRASTIVE_METRICS)
            return vkc_fail("%s: checkpoint metadata 'interval' holds %d sums, this vkclr logs %d metrics",
                            r->resume_file, m->interval_nsums, VKC_CONTRASTIVE_METRICS);
        return VKC_OK;
    }
    return vkc_model_init_params(&r->model, r->cfg.seed);
}

/* fp16: dz *= the loss scale, so the 16-bit gradients of the encoder stay out of the
 * subnormal range (the optimizer divides it out). */
static int scale_loss_gradient(Run *r, VkcCmd *cmd, uint32_t n)
{
    if (!r->scale_buf.buffer) return VKC_OK;
    VkcTensor t[2] = {r->scale_buf, r->dz};
    return vkc_cmd_dispatch(cmd, &r->scale_kernel, t, 1u, &n, vkc_div_up(n, 64), 1, 1);
}

/* Record slot s's step once: forward, loss, backward, optimizer (with profile timestamps). */
static int record_step(Run *r, int s)
{
    VkcCmd *cmd = &r->cmd[s];
    VkcModel *m = &r->model;
    uint32_t n2 = 2 * (uint32_t)r->cfg.batch, dim = (uint32_t)r->cfg.model.out_dim;
    bool prof = r->prof.on;
    int *ts = r->prof.ts[s];
    m->profile = prof;
    if (vkc_cmd_init(&r->ctx, cmd) || vkc_cmd_begin(cmd)) return VKC_ERR;
    ts[4] = prof ? vkc_cmd_timestamp(cmd) : -1;
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
        ts[0] = vkc_cmd_timestamp(cmd);
    }
    /* Several ranks: the loss runs on every rank's embeddings (global negatives), each rank
     * keeps the gradient rows of its own (dist_step.h). */
    bool multi = r->cfg.ranks > 1;
    VkcTensor z = multi ? r->zg : r->z, dz = multi ? r->dzg : r->dz;
    if (vkc_l2norm_forward(&r->l2, cmd, n2, dim, e, r->z) ||
        (multi && dist_step_gather_embeddings(&r->dstep, cmd, r->z, r->zg)) ||
        vkc_contrastive_forward(&r->loss, cmd, z, r->metrics[s]) || vkc_contrastive_backward(&r->loss, cmd, z, dz) ||
        (multi && dist_step_own_rows(&r->dstep, cmd, r->dzg, r->dz)) || scale_loss_gradient(r, cmd, n2 * dim) ||
        vkc_l2norm_backward(&r->l2, cmd, n2, dim, e, r->dz, r->dembed))
        return VKC_ERR;
    if (prof) {
        vkc_cmd_barrier(cmd);
        ts[1] = vkc_cmd_timestamp(cmd);
    }
    if (vkc_model_backward(m, cmd, x, n2, r->dembed) || (multi && dist_step_allreduce_grads(&r->dstep, cmd)))
        return VKC_ERR;
    if (prof) {
        vkc_cmd_barrier(cmd);
        ts[2] = vkc_cmd_timestamp(cmd);
    }
    if (vkc_optim_record(&r->opt, cmd)) return VKC_ERR;
    if (prof) {
        vkc_cmd_barrier(cmd);
        ts[3] = vkc_cmd_timestamp(cmd);
        ts[5] = ts[3];
    }
    /* Forward/backward timestamps of the model are the same for both slots' recordings. */
    return vkc_cmd_end(cmd);
}

static int setup(Run *r)
{
    r->prof.on = r->cfg.profile;
    if (setup_data(r) || setup_model(r)) return VKC_ERR;
    r->prof.on = r->cfg.profile && r->ctx.has_timestamps;
    return record_step(r, 0) || record_step(r, 1) ? VKC_ERR : VKC_OK;
}

/* The producer (it starts augmenting at once) and the schedule. */
static int start_producer(Run *r)
{
    VkcTrainConfig *c = &r->cfg;
    VkcProducerOptions popt = {.batch = c->batch, .threads = c->threads, .slots = 2, .seed = c->seed,
                               .first_step = r->start, .rank = c->dist.rank, .ranks = c->ranks};
    void *slots[2] = {r->slot[0].mapped, r->slot[1].mapped};
    popt.slot_memory = slots;
    r->spe = 0;
    if (vkc_producer_create(&r->producer, &r->train_ds, &r->aug, &popt)) return VKC_ERR;
    r->spe = vkc_producer_steps_per_epoch(r->producer);
    r->total = r->spe * c->epochs;
    r->warmup = (int64_t)llround(c->warmup_epochs * r->spe);
    r->end = c->stop_after > 0 && c->stop_after * r->spe < r->total ? c->stop_after * r->spe : r->total;
    r->gbatch = c->batch * c->ranks;
    r->peak = c->lr_scaling == VKC_LR_SQRT ? c->lr * sqrtf((float)r->gbatch) : c->lr * r->gbatch / 256.0f;
    if (r->start > r->total)
        return vkc_fail("%s is at step %lld, past the end of a %d-epoch schedule (%lld steps): resume with at least "
                        "--epochs %lld", r->resume_file, (long long)r->start, c->epochs, (long long)r->total,
                        (long long)((r->start + r->spe - 1) / r->spe));
    if (r->start < r->total && r->end <= r->start)
        return vkc_fail("--stop-after %d: %s is already at step %lld (epoch %lld); stop after a later epoch",
                        c->stop_after, r->resume_file, (long long)r->start, (long long)(r->start / r->spe));
    return VKC_OK;
}

/* ---------------------------------------------------------------- 3. outputs */

/* Resuming: keep the metrics lines of steps up to the checkpoint's and drop the rest, the lines
 * the resumed run writes again (a run stopped by a NaN, killed or out of disk space logged past
 * its last checkpoint) and a last line a crash cut short, so that metrics.jsonl reads as one
 * uninterrupted run. */
static int keep_metrics_until(const char *path, int64_t step)
{
    FILE *f = fopen(path, "r");
    if (!f) return VKC_OK; /* resuming into a new --out directory */
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *o = fopen(tmp, "w");
    if (!o) {
        fclose(f);
        return vkc_fail("cannot write %s: %s", tmp, strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    bool ok = true;
    while (ok && (n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] != '\n') break; /* cut short */
        cJSON *j = cJSON_Parse(line);
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "step");
        bool keep = cJSON_IsNumber(s) && s->valuedouble <= (double)step;
        cJSON_Delete(j);
        if (keep && fputs(line, o) == EOF) ok = false;
    }
    free(line);
    fclose(f);
    if (fflush(o) || ferror(o)) ok = false;
    int err = errno;
    if (fclose(o)) ok = false, err = errno;
    if (!ok || rename(tmp, path)) {
        if (ok) err = errno;
        remove(tmp);
        return vkc_fail("cannot rewrite %s: %s", path, strerror(err));
    }
    return VKC_OK;
}

/* A run directory holds a run when one of these is there. */
static const char *const run_files[] = {"checkpoint.safetensors", "config.json", "metrics.jsonl", "results.json"};

/* The output directory (rank 0), before anything is set up: a new run does not overwrite
 * another run's directory unless told to (--force: its files are removed, so nothing of the
 * old run is mistaken for the new one's); a resumed run's results.json goes (it is written
 * again when the run ends). */
static int prepare_out(Run *r)
{
    const VkcTrainConfig *c = &r->cfg;
    char path[1200];
    if (!c->out[0]) return vkc_fail("--out: no output directory given");
    bool same = r->resume_dir && !strcmp(r->resume_dir, c->out);
    if (!same) {
        const char *held = NULL;
        for (size_t i = 0; i < sizeof run_files / sizeof run_files[0] && !held; i++) {
            snprintf(path, sizeof path, "%s/%s", c->out, run_files[i]);
            if (access(path, F_OK) == 0) held = run_files[i];
        }
        if (held && !c->force)
            return vkc_fail("--out %s already holds a run (%s): continue it with --resume %s, write elsewhere with "
                            "--out, or replace it with --force",
                            c->out, held, c->out);
        /* --force: the old run's files go, its curves and --snapshot-minutes copies too. */
        DIR *d = held ? opendir(c->out) : NULL;
        for (struct dirent *e; d && (e = readdir(d));) {
            const char *n = e->d_name;
            size_t len = strlen(n);
            bool old = !strcmp(n, "curves.png") || (!strncmp(n, "checkpoint-", 11) && len > 20 &&
                                                     !strcmp(n + len - 15, "min.safetensors"));
            for (size_t i = 0; i < sizeof run_files / sizeof run_files[0]; i++) old = old || !strcmp(n, run_files[i]);
            snprintf(path, sizeof path, "%s/%s", c->out, n);
            if (old && remove(path) && errno != ENOENT) {
                closedir(d);
                return vkc_fail("--force: cannot remove %s: %s", path, strerror(errno));
            }
        }
        if (d) closedir(d);
    }
    snprintf(path, sizeof path, "%s/results.json", c->out);
    if (r->resume_dir && remove(path) && errno != ENOENT) return vkc_fail("cannot remove %s: %s", path, strerror(errno));
    return vkc_make_dirs(c->out);
}

/* --dump-steps (rank 0): the state before the first step; then the views and the state of
 * the first steps (src/train/dump.h). */
static int dump_begin(Run *r)
{
    r->state.step = r->start;
    r->state.epoch = r->start / r->spe;
    int64_t k = r->cfg.dump_steps < r->end - r->start ? r->cfg.dump_steps : r->end - r->start;
    return train_dump_begin(&r->dump, &r->cfg, &r->model, &r->opt, k, &r->state);
}

/* The output directory (rank 0): config.json, metrics.jsonl (continued when resuming). */
static int open_outputs(Run *r)
{
    VkcTrainConfig *c = &r->cfg;
    if (!r->lead) return VKC_OK;
    char path[1100];
    char *json = vkc_config_to_json(c, true);
    if (!json) return vkc_fail("out of host memory");
    size_t n = strlen(json);
    char *text = realloc(json, n + 2);
    if (!text) {
        free(json);
        return vkc_fail("out of host memory");
    }
    text[n] = '\n', text[n + 1] = 0;
    snprintf(path, sizeof path, "%s/config.json", c->out);
    int rc = vkc_write_text_atomic(path, text);
    free(text);
    if (rc) return VKC_ERR;
    snprintf(path, sizeof path, "%s/metrics.jsonl", c->out);
    if (r->start && keep_metrics_until(path, r->start)) return VKC_ERR;
    r->metrics_file = fopen(path, r->start ? "a" : "w");
    if (!r->metrics_file) return vkc_fail("cannot write %s: %s", path, strerror(errno));
    if (vkc_plotter_start(&r->plotter, c->out)) fprintf(stderr, "vkclr: warning: %s; no curves.png\n", vkc_error());
    return VKC_OK;
}

/* Whether the run multiplies on cooperative matrices (tensor cores): how many of its convolution
 * passes, its training GEMMs (head, loss), its evaluation's (kNN, probe); printed at the start,
 * in results.json. */
static bool coop_usage(const Run *r, int *passes, int *total)
{
    *passes = vkc_model_coop_passes(&r->model, total);
    return r->k.gemm.operands != VKC_F32 || r->eval_gemm.operands != VKC_F32 || *passes > 0;
}

static void print_start(const Run *r)
{
    const VkcTrainConfig *c = &r->cfg;
    if (c->quiet) return;
    printf("%s %s width %d (%llu parameters, %d features), batch %d (%d views), %d training images, %lld "
           "steps/epoch, %d epochs, %s lr %.4g (peak %.4g), loss %s%s, %s\n",
           r->ds.name, vkc_name_of(vkc_encoder_names, (int)c->model.encoder), c->model.width,
           (unsigned long long)vkc_model_param_count(&r->model), r->model.features, r->gbatch, 2 * r->gbatch, r->train_ds.train.n,
           (long long)r->spe, c->epochs, vkc_name_of(vkc_optim_names, (int)c->optimizer), c->lr, r->peak,
           vkc_loss_kind_name(c->loss), c->model.loss_logz ? " (learned log Z)" : "",
           vkc_dtype_name(c->model.act_dtype));
    if (c->ranks > 1)
        printf("%d ranks x batch %d, global negatives, %s batch norm, rank 0 writes %s\n", c->ranks, c->batch,
               c->sync_bn ? "synchronised" : "per-rank", c->out);
    printf("device memory: %.1f MiB allocated (%.1f MiB model activations and gradients, %.1f MiB staging)\n",
           r->res->device_bytes / 1048576.0, r->model.activation_bytes / 1048576.0, r->host.allocated / 1048576.0);
    int passes, total;
    VkcDtype d = c->model.act_dtype;
    if (coop_usage(r, &passes, &total))
        printf("cooperative matrices (%s, %ux%ux%u): %d of %d convolution passes, the GEMMs of %s\n",
               vkc_dtype_name(d), r->ctx.coop.shape[d].M, r->ctx.coop.shape[d].N, r->ctx.coop.shape[d].K, passes,
               total, r->k.gemm.operands != VKC_F32 ? "training and evaluation" : "evaluation (kNN, probe)");
    if (r->start)
        printf("resuming %s at step %lld (epoch %lld)\n", c->out, (long long)r->start, (long long)(r->start / r->spe));
    if (!r->ds.test.n && (c->knn_k > 0 || c->probe_epochs > 0))
        printf("note: --data %s has no test images: the kNN monitor and the final linear probe and kNN are skipped "
               "(results.json says so)\n", c->data);
    fflush(stdout);
}

/* ---------------------------------------------------------------- 4. the step loop */

/* Add one finished step's GPU times per kernel class. */
static void accumulate_profile(Run *r, int s)
{
    if (!r->prof.on) return;
    VkcCmd *cmd = &r->cmd[s];
    VkcModel *m = &r->model;
    const int *ts = r->prof.ts[s];
    double ns;
    for (int i = 0; i < m->nops; i++) {
        if (!vkc_cmd_elapsed_ns(cmd, m->ts_fwd[i], m->ts_fwd[i + 1], &ns)) profile_add(&r->prof, vkc_model_op_class(m, i), ns);
        int next = i == 0 ? m->ts_bwd[m->nops] : m->ts_bwd[i - 1];
        if (!vkc_cmd_elapsed_ns(cmd, m->ts_bwd[i], next, &ns)) profile_add(&r->prof, vkc_model_op_class(m, i), ns);
    }
    if (!vkc_cmd_elapsed_ns(cmd, ts[0], ts[1], &ns)) profile_add(&r->prof, "loss", ns);
    if (!vkc_cmd_elapsed_ns(cmd, ts[2], ts[3], &ns)) profile_add(&r->prof, "optimizer", ns);
    if (!vkc_cmd_elapsed_ns(cmd, ts[4], ts[5], &ns)) r->prof.step_ns += ns;
    r->prof.steps++;
}

/* Print a progress line: in place on a terminal, one line per log interval otherwise. */
static void progress(const Run *r, int64_t step, float loss, float acc, double ips, double eta, bool newline)
{
    if (r->cfg.quiet) return;
    int64_t epoch = (step - 1) / r->spe + 1;
    if (r->tty) {
        int width = 24, done = (int)(width * step / (r->end ? r->end : 1));
        char bar[32];
        for (int i = 0; i < width; i++) bar[i] = i < done ? '#' : '.';
        bar[width] = 0;
        fprintf(stderr, "\r[%s] epoch %lld/%d step %lld/%lld loss %.4f acc %.3f %.0f img/s ETA %02d:%02d ", bar,
                (long long)epoch, r->cfg.epochs, (long long)step, (long long)r->end, loss, acc, ips, (int)(eta / 60),
                (int)fmod(eta, 60));
        if (newline) fprintf(stderr, "\n");
        fflush(stderr);
    } else {
        printf("epoch %lld step %lld/%lld loss %.4f pos-acc %.3f %.1f images/s ETA %.0f s\n", (long long)epoch,
               (long long)step, (long long)r->end, loss, acc, ips, eta);
        fflush(stdout);
    }
}

/* Write one line of metrics.jsonl, whole and flushed, or fail naming the file: a full disk must
 * stop the run, not leave a metrics file that silently lacks lines. */
static int metrics_line(Run *r, cJSON *line)
{
    char *text = cJSON_PrintUnformatted(line);
    cJSON_Delete(line);
    if (!text) return vkc_fail("out of host memory");
    errno = 0;
    bool bad = fprintf(r->metrics_file, "%s\n", text) < 0;
    bad = fflush(r->metrics_file) != 0 || bad;
    free(text);
    if (bad) return vkc_fail("writing %s/metrics.jsonl: %s", r->cfg.out, strerror(errno ? errno : EIO));
    vkc_plotter_request(r->plotter);
    return VKC_OK;
}

/* One line of metrics.jsonl (rank 0) and of progress. */
static int log_interval(Run *r, int64_t done, float last_loss, bool epoch_end)
{
    double tnow = now();
    double ips = r->interval_here * r->gbatch / (tnow - r->interval_start);
    double steady_ips = done > r->steady_from ? (done - r->steady_from) * r->gbatch / (tnow - r->t_steady) : ips;
    double eta = steady_ips > 0 ? (double)(r->end - done) * r->gbatch / steady_ips : 0;
    double mean[VKC_CONTRASTIVE_METRICS];
    for (int k = 0; k < VKC_CONTRASTIVE_METRICS; k++) mean[k] = r->msum[k] / r->interval_n;
    if (r->lead) {
        cJSON *line = cJSON_CreateObject();
        cJSON_AddNumberToObject(line, "step", (double)done);
        cJSON_AddNumberToObject(line, "epoch", (double)done / r->spe);
        /* Interval means of the loss's metrics (vkclr/loss.h, docs/losses.md). */
        for (int k = 0; k < VKC_CONTRASTIVE_METRICS; k++)
            if (vkc_contrastive_has_metric(&r->loss, k)) cJSON_AddNumberToObject(line, vkc_metric_names[k], mean[k]);
        cJSON_AddNumberToObject(line, "lr", vkc_train_lr(r->peak, done - 1, r->warmup, r->total));
        cJSON_AddNumberToObject(line, "images_per_s", ips);
        cJSON_AddNumberToObject(line, "steps_averaged", r->interval_n);
        if (r->scale_buf.buffer) {
            cJSON_AddNumberToObject(line, "skipped_steps", r->skipped_in_interval);
            cJSON_AddNumberToObject(line, "loss_scale", r->state.loss_scale);
        }
        cJSON_AddNumberToObject(line, "last_loss", last_loss);
        if (metrics_line(r, line)) return VKC_ERR;
    }
    progress(r, done, (float)mean[VKC_METRIC_LOSS], (float)mean[VKC_METRIC_ACCURACY], ips, eta, epoch_end && r->tty);
    memset(r->msum, 0, sizeof r->msum);
    r->interval_n = r->interval_here = 0;
    r->skipped_in_interval = 0;
    r->interval_start = tnow;
    return VKC_OK;
}

/* The kNN monitor at an epoch end: one line of metrics.jsonl. */
static int knn_monitor(Run *r, int64_t done)
{
    const VkcTrainConfig *c = &r->cfg;
    TrainEval mon;
    if (train_evaluate(&r->model, &r->eval_gemm, &r->aug, &r->ds, c, false, &mon)) return VKC_ERR;
    cJSON *line = cJSON_CreateObject();
    cJSON_AddNumberToObject(line, "step", (double)done);
    cJSON_AddNumberToObject(line, "epoch", (double)done / r->spe);
    cJSON_AddNumberToObject(line, "knn_top1", mon.trained.knn_top1);
    cJSON_AddNumberToObject(line, "knn_top5", mon.trained.knn_top5);
    cJSON_AddNumberToObject(line, "knn_k", mon.trained.knn_k);
    cJSON_AddNumberToObject(line, "knn_bank", mon.trained.knn_bank);
    cJSON_AddNumberToObject(line, "knn_queries", mon.trained.test_images);
    cJSON_AddNumberToObject(line, "knn_seconds", mon.trained.seconds);
    if (metrics_line(r, line)) return VKC_ERR;
    if (!c->quiet && !r->tty)
        printf("epoch %lld kNN monitor (%u-image bank, %u test images): top-1 %.2f%%\n", (long long)(done / r->spe),
               mon.trained.knn_bank, mon.trained.test_images, 100 * mon.trained.knn_top1);
    return VKC_OK;
}

/* Where the run stands after step `done`: the step, the metrics interval in progress, whether
 * the kNN monitor of this step is still owed, the step's loss (the loss scale is kept current). */
static void set_state(Run *r, int64_t done, bool knn_pending)
{
    _Static_assert(VKC_CONTRASTIVE_METRICS <= VKC_CHECKPOINT_MAX_SUMS, "raise VKC_CHECKPOINT_MAX_SUMS");
    VkcTrainState *st = &r->state;
    st->step = done;
    st->epoch = done / r->spe;
    st->interval_steps = r->interval_n;
    st->interval_nsums = VKC_CONTRASTIVE_METRICS;
    memcpy(st->interval_sums, r->msum, sizeof r->msum);
    st->knn_pending = knn_pending;
    st->have_last = r->last_known;
    st->last_loss = r->res->last_loss;
    st->last_accuracy = r->res->last_accuracy;
}

/* The checkpoint after step `done` (rank 0). */
static int checkpoint(Run *r, int64_t done, bool knn_pending)
{
    set_state(r, done, knn_pending);
    return vkc_checkpoint_save(r->ckpt_path, &r->model, &r->opt, &r->cfg, &r->state);
}

/* --snapshot-minutes: once training has run T minutes, the checkpoint as of now, kept as
 * checkpoint-<T>min.safetensors (the probe after T minutes: bench/quality_per_minute.sh). */
static int snapshot(Run *r, int64_t done)
{
    if (r->next_snapshot >= r->nsnapshots || now() - r->loop_start < 60 * r->snapshot_min[r->next_snapshot])
        return VKC_OK;
    char path[1200];
    snprintf(path, sizeof path, "%s/checkpoint-%gmin.safetensors", r->cfg.out, r->snapshot_min[r->next_snapshot]);
    while (r->next_snapshot < r->nsnapshots && now() - r->loop_start >= 60 * r->snapshot_min[r->next_snapshot])
        r->next_snapshot++;
    set_state(r, done, false);
    return vkc_checkpoint_save(path, &r->model, &r->opt, &r->cfg, &r->state);
}

typedef enum { STEP_GO_ON, STEP_STOP, STEP_FAILED } StepOutcome;

/* Step `done` finished on slot s: its metrics, the log line, the kNN monitor and the checkpoint
 * at epoch ends (the checkpoint also when stopping), and whether a signal asks to stop. The
 * monitor runs before the epoch's checkpoint, so a run killed during it resumes from the one
 * before and runs it again; one interrupted (SIGINT) saves the checkpoint marked
 * knn_pending, and the resumed run runs the monitor first: metrics.jsonl gets its line once. */
static StepOutcome finish_step(Run *r, int s, int64_t done, VkcStepHook hook, void *hook_user)
{
    const VkcTrainConfig *c = &r->cfg;
    VkcTrainResult *res = r->res;
    const float *mv = r->metrics[s].mapped;
    float loss = mv[VKC_METRIC_LOSS], acc = mv[VKC_METRIC_ACCURACY];
    if (r->steady_from < 0) {
        r->steady_from = done;
        r->t_steady = now();
    }
    if (hook) hook(hook_user, done, loss, acc);
    if (!isfinite(loss)) {
        res->nonfinite = true;
        struct stat st;
        bool have = stat(r->ckpt_path, &st) == 0;
        vkc_fail("the loss became %s at step %lld (epoch %lld); training stopped. %s%s%s",
                 isnan(loss) ? "NaN" : "infinite", (long long)done, (long long)((done - 1) / r->spe + 1),
                 have ? "The last good checkpoint, " : "No checkpoint was written before it",
                 have ? r->ckpt_path : "", have ? ", is left as it was" : "");
        return STEP_FAILED;
    }
    res->last_loss = loss;
    res->last_accuracy = acc;
    r->last_known = true;
    if (r->scale_buf.buffer) {
        bool skipped = vkc_optim_skipped(&r->opt);
        r->skipped_in_interval += skipped;
        res->skipped_steps += skipped;
        update_loss_scale(&r->state, skipped);
    }
    for (int k = 0; k < VKC_CONTRASTIVE_METRICS; k++) r->msum[k] += mv[k];
    r->interval_n++;
    r->interval_here++;
    bool epoch_end = done % r->spe == 0;
    if ((r->interval_n >= c->log_every || epoch_end || done == r->end) && log_interval(r, done, loss, epoch_end))
        return STEP_FAILED;
    bool knn_pending = false;
    if (r->lead && epoch_end && c->knn_every > 0 && c->knn_k > 0 && (done / r->spe) % c->knn_every == 0 &&
        done < r->total && knn_monitor(r, done)) {
        if (!vkc_interrupt_pending()) return STEP_FAILED;
        knn_pending = true;
    }
    /* A signal may reach the ranks at different steps: they stop together. */
    bool stop = c->ranks > 1 ? vkc_dist_any(&c->dist, vkc_interrupt_pending()) : vkc_interrupt_pending();
    if (epoch_end || stop || done == r->end) {
        /* Every rank must hold the same parameters (rank 0 saves its own): checked here. */
        if ((c->ranks > 1 && dist_step_check_replicas(&r->dstep)) || (r->lead && checkpoint(r, done, knn_pending)))
            return STEP_FAILED;
    }
    if (r->lead && snapshot(r, done)) return STEP_FAILED;
    r->state.step = done;
    r->state.epoch = done / r->spe;
    if (r->lead && train_dump_state(&r->dump, c, &r->model, &r->opt, &r->state)) return STEP_FAILED;
    return stop && done < r->end ? STEP_STOP : STEP_GO_ON;
}

/* The loss scale of the next submitted step (fp16). */
static int set_loss_scale(Run *r)
{
    if (!r->scale_buf.buffer) return VKC_OK;
    *(float *)r->scale_buf.mapped = (float)r->state.loss_scale;
    return vkc_optim_set_grad_scale(&r->opt, (float)r->state.loss_scale);
}

/* Steps start..end; *done gets the steps completed. */
static int step_loop(Run *r, VkcStepHook hook, void *hook_user, int64_t *done)
{
    VkcTrainResult *res = r->res;
    int64_t inflight = -1; /* step on the GPU */
    VkcBatch inflight_batch, batch;
    VkcProducerStats before, after;
    r->tty = isatty(STDERR_FILENO) && !r->cfg.quiet;
    r->interval_start = r->loop_start = now();
    r->nsnapshots = vkc_config_snapshots(&r->cfg, r->snapshot_min, 32);
    r->steady_from = -1;
    *done = r->start;
    /* Resuming: the interval the checkpoint was cut in goes on (its lines are an uninterrupted
     * run's), and a kNN monitor a signal interrupted runs first. */
    if (r->state.interval_steps) {
        r->interval_n = r->state.interval_steps;
        memcpy(r->msum, r->state.interval_sums, sizeof r->msum);
    }
    if (r->state.have_last) {
        res->last_loss = r->state.last_loss, res->last_accuracy = r->state.last_accuracy;
        r->last_known = true;
    }
    if (r->state.knn_pending && r->start < r->total) {
        int krc = r->lead ? knn_monitor(r, r->start) : VKC_OK;
        if (krc && !vkc_interrupt_pending()) return VKC_ERR;
        /* Done: the checkpoint no longer owes it (else a second resume would log it twice). */
        if (r->lead && !krc && checkpoint(r, r->start, false)) return VKC_ERR;
        if (r->cfg.ranks > 1 ? vkc_dist_any(&r->cfg.dist, vkc_interrupt_pending()) : vkc_interrupt_pending()) {
            res->interrupted = true;
            return VKC_OK;
        }
    }
    for (int64_t t = r->start; t <= r->end; t++) {
        if (t < r->end) {
            vkc_producer_stats(r->producer, &before);
            double a0 = now();
            if (vkc_producer_acquire(r->producer, &batch)) return VKC_ERR;
            double waited = now() - a0;
            if (train_dump_views(&r->dump, batch.views)) return VKC_ERR;
            vkc_producer_stats(r->producer, &after);
            /* The GPU sat idle for data only if acquire had to wait and the previous step had
             * finished by the time it returned; the wait is then an upper bound of the idle time.
             * (The first step of a run always waits for its batch: that is start-up, not counted.) */
            if (after.waited > before.waited && inflight >= 0 &&
                vkGetFenceStatus(r->ctx.device, r->cmd[inflight_batch.slot].fence) == VK_SUCCESS) {
                res->gpu_waits++;
                res->gpu_wait_seconds += waited;
            }
        }
        if (inflight >= 0) {
            int s = inflight_batch.slot;
            if (vkc_cmd_wait(&r->cmd[s])) return VKC_ERR;
            accumulate_profile(r, s);
            *done = inflight + 1;
            vkc_producer_release(r->producer, &inflight_batch);
            inflight = -1;
            StepOutcome outcome = finish_step(r, s, *done, hook, hook_user);
            if (outcome == STEP_FAILED) return VKC_ERR;
            if (outcome == STEP_STOP) {
                res->interrupted = true;
                break;
            }
        }
        if (t == r->end) break;
        /* Step t: its learning rate and number, then submit the command buffer of its slot. */
        float lr = vkc_train_lr(r->peak, t, r->warmup, r->total);
        if (debug_nan_step && t + 2 == debug_nan_step) lr = NAN;
        if (set_loss_scale(r) || vkc_optim_set_step(&r->opt, lr, (uint32_t)(t + 1)) ||
            vkc_cmd_submit(&r->cmd[batch.slot]))
            return VKC_ERR;
        inflight = t;
        inflight_batch = batch;
    }
    return VKC_OK;
}

/* ---------------------------------------------------------------- 5. results */

static void print_end(const Run *r, int64_t done)
{
    const VkcTrainConfig *c = &r->cfg;
    const VkcTrainResult *res = r->res;
    if (c->quiet) return;
    if (res->interrupted) {
        printf("interrupted after step %lld: checkpoint %s written; continue with --resume %s\n", (long long)done,
               r->ckpt_path, c->out);
        return;
    }
    printf("trained %lld steps in %.1f s: %.1f images/s (%.1f views/s) after the first step; the GPU waited for "
           "augmentation before %lld of them (%.3f s)\n",
           (long long)(done - r->start), res->seconds, res->images_per_second, 2 * res->images_per_second,
           (long long)res->gpu_waits, res->gpu_wait_seconds);
    if (c->ranks > 1)
        printf("communication: %.1f s in collectives (%.1f%% of the run), per step and rank %.1f KiB gradients, "
               "%.1f KiB embeddings, %.1f KiB batch-norm sums\n",
               res->comm_seconds, 100 * res->comm_seconds / res->seconds, res->comm_bytes_per_step[0] / 1024,
               res->comm_bytes_per_step[1] / 1024, res->comm_bytes_per_step[2] / 1024);
    fflush(stdout);
}

/* results.json (rank 0). */
static int write_results(const Run *r, int64_t done, const TrainEval *ev, const char *evaluation)
{
    const VkcTrainConfig *c = &r->cfg;
    const VkcTrainResult *res = r->res;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "steps", (double)done);
    cJSON_AddStringToObject(j, "evaluation", evaluation);
    cJSON_AddNumberToObject(j, "epochs", (double)(done / r->spe));
    if (r->last_known) { /* (a resumed older checkpoint does not say) */
        cJSON_AddNumberToObject(j, "final_loss", res->last_loss);
        cJSON_AddNumberToObject(j, "final_pos_accuracy", res->last_accuracy);
    } else {
        cJSON_AddNullToObject(j, "final_loss");
        cJSON_AddNullToObject(j, "final_pos_accuracy");
    }
    cJSON_AddNumberToObject(j, "images_per_s", res->images_per_second);
    cJSON_AddNumberToObject(j, "train_seconds", res->seconds);
    cJSON_AddNumberToObject(j, "gpu_waits_for_augmentation", (double)res->gpu_waits);
    cJSON_AddNumberToObject(j, "gpu_wait_seconds", res->gpu_wait_seconds);
    cJSON_AddStringToObject(j, "precision", vkc_dtype_name(c->model.act_dtype));
    int passes, total;
    if (coop_usage(r, &passes, &total)) {
        VkcCoopShape s = r->ctx.coop.shape[c->model.act_dtype];
        char shape[48];
        snprintf(shape, sizeof shape, "%ux%ux%u", s.M, s.N, s.K);
        cJSON *cm = cJSON_AddObjectToObject(j, "cooperative_matrices");
        cJSON_AddStringToObject(cm, "shape", shape);
        cJSON_AddBoolToObject(cm, "training_gemms", r->k.gemm.operands != VKC_F32);
        cJSON_AddBoolToObject(cm, "evaluation_gemms", r->eval_gemm.operands != VKC_F32);
        cJSON_AddNumberToObject(cm, "conv_passes", passes);
        cJSON_AddNumberToObject(cm, "conv_passes_total", total);
    } else {
        cJSON_AddNullToObject(j, "cooperative_matrices");
    }
    if (r->scale_buf.buffer) {
        cJSON_AddNumberToObject(j, "skipped_steps", (double)res->skipped_steps);
        cJSON_AddNumberToObject(j, "loss_scale", r->state.loss_scale);
    }
    train_evaluate_json(ev, j);
    cJSON_AddNumberToObject(j, "device_memory_bytes", (double)res->device_bytes);
    cJSON_AddNumberToObject(j, "peak_host_rss_kib", (double)peak_rss_kib());
    cJSON_AddNumberToObject(j, "ranks", c->ranks);
    cJSON_AddBoolToObject(j, "sync_bn", c->sync_bn == 1);
    cJSON_AddNumberToObject(j, "comm_seconds", res->comm_seconds);
    cJSON_AddNumberToObject(j, "comm_share", res->seconds > 0 ? res->comm_seconds / res->seconds : 0);
    cJSON *comm = cJSON_AddObjectToObject(j, "comm_bytes_per_step");
    cJSON_AddNumberToObject(comm, "gradients", res->comm_bytes_per_step[0]);
    cJSON_AddNumberToObject(comm, "embeddings", res->comm_bytes_per_step[1]);
    cJSON_AddNumberToObject(comm, "bn_sums", res->comm_bytes_per_step[2]);
    const Profile *p = &r->prof;
    if (p->steps > 0) {
        double sum = profile_sum(p);
        cJSON_AddNumberToObject(j, "gpu_ms_per_step", p->step_ns / p->steps / 1e6);
        cJSON *share = cJSON_AddObjectToObject(j, "gpu_time_share");
        for (int i = 0; i < p->nclasses; i++) cJSON_AddNumberToObject(share, p->names[i], sum > 0 ? p->ns[i] / sum : 0);
        if (!c->quiet) {
            printf("GPU time per step %.1f ms:", p->step_ns / p->steps / 1e6);
            for (int i = 0; i < p->nclasses; i++) printf(" %s %.1f%%", p->names[i], sum > 0 ? 100 * p->ns[i] / sum : 0);
            printf("\n");
        }
    }
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (!text) return vkc_fail("out of host memory");
    char path[1100];
    snprintf(path, sizeof path, "%s/results.json", c->out);
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (!line) {
        free(text);
        return vkc_fail("out of host memory");
    }
    line[n] = '\n', line[n + 1] = 0;
    int rc = vkc_write_text_atomic(path, line);
    free(line);
    return rc;
}

/* After the loop: throughput and communication figures, then (a finished run) the probe and
 * kNN, and results.json. */
static int finish_run(Run *r, int64_t done, double t0)
{
    const VkcTrainConfig *c = &r->cfg;
    VkcTrainResult *res = r->res;
    double t1 = now();
    res->steps = done;
    res->epoch = done / r->spe;
    res->seconds = t1 - t0;
    res->ranks = c->ranks;
    if (c->ranks > 1) {
        int64_t steps = done - r->start;
        res->comm_seconds = r->dstep.comm_seconds;
        for (int k = 0; k < DIST_KINDS; k++) res->comm_bytes_per_step[k] = steps > 0 ? (double)r->dstep.bytes[k] / steps : 0;
    }
    res->images_per_second =
        done > r->steady_from && r->steady_from >= 0 ? (done - r->steady_from) * r->gbatch / (t1 - r->t_steady) : 0;
    if (r->tty) fprintf(stderr, "\n");
    vkc_producer_destroy(r->producer);
    r->producer = NULL;
    /* A stop asked for at the last step of a --stop-after run (its checkpoint is written). */
    if (done < r->total && vkc_interrupt_pending()) res->interrupted = true;
    print_end(r, done);
    if (res->interrupted) return VKC_OK;

    /* Evaluation: linear probe and kNN on the final encoder's features (evaluate.c); a signal
     * stops it like a step (the checkpoint of the last step stays; --resume evaluates again). */
    TrainEval ev;
    memset(&ev, 0, sizeof ev);
    ev.trained.knn_top1 = ev.trained.probe_top1 = ev.base.knn_top1 = ev.base.probe_top1 = -1;
    ev.trained.knn_top5 = ev.trained.probe_top5 = ev.base.knn_top5 = ev.base.probe_top5 = -1;
    ev.trained.probe_train_top1 = ev.base.probe_train_top1 = -1;
    char evaluation[700];
    if (done < r->total)
        snprintf(evaluation, sizeof evaluation, "not yet: stopped after epoch %lld of %d (--stop-after)",
                 (long long)(done / r->spe), c->epochs);
    else if (!r->ds.test.n)
        snprintf(evaluation, sizeof evaluation, "skipped: --data %.600s has no test images", c->data);
    else if (c->knn_k == 0 && c->probe_epochs == 0)
        snprintf(evaluation, sizeof evaluation, "skipped: --probe-epochs 0 and --knn-k 0");
    else snprintf(evaluation, sizeof evaluation, "done");
    if (r->lead && done == r->total) {
        if (train_evaluate(&r->model, &r->eval_gemm, &r->aug, &r->ds, c, true, &ev)) {
            if (!vkc_interrupt_pending()) return VKC_ERR;
            res->interrupted = true;
            if (!c->quiet)
                printf("interrupted during the evaluation: checkpoint %s (the end of training) kept; vkclr train "
                       "--resume %s runs the evaluation again\n",
                       r->ckpt_path, c->out);
            return VKC_OK;
        }
        res->probe_top1 = ev.trained.probe_top1, res->probe_top5 = ev.trained.probe_top5;
        res->knn_top1 = ev.trained.knn_top1, res->knn_top5 = ev.trained.knn_top5;
        if (!c->quiet && strcmp(evaluation, "done")) printf("evaluation %s\n", evaluation);
        else if (!c->quiet) train_evaluate_print(&ev, c);
    }
    if (r->lead && write_results(r, done, &ev, evaluation)) return VKC_ERR;
    if (!c->quiet)
        printf("results in %s (config.json, metrics.jsonl, curves.png, checkpoint.safetensors, results.json)\n", c->out);
    return VKC_OK;
}

int vkc_train_run(const VkcTrainConfig *cfg, const char *resume_dir, VkcStepHook hook, void *hook_user,
                  VkcTrainResult *res)
{
    memset(res, 0, sizeof *res);
    res->probe_top1 = res->probe_top5 = res->knn_top1 = res->knn_top5 = -1;
    Run *r = calloc(1, sizeof *r);
    if (!r) return vkc_fail("out of host memory");
    r->res = res;
    int rc = VKC_ERR;
    if (resolve_config(r, cfg, resume_dir)) goto done;
    /* A rank that fails to set up (no device, too little memory, an output directory it may not
     * write) takes the others down with it rather than leaving them waiting in the first
     * collective. A signal during set-up (loading a large dataset) stops before the first step. */
    const VkcTrainConfig *c = &r->cfg;
    int src = r->lead ? prepare_out(r) : VKC_OK;
    if (src == VKC_OK) src = setup(r);
    if (vkc_dist_any(&c->dist, src != VKC_OK)) {
        if (vkc_interrupt_pending()) {
            res->interrupted = true;
            rc = VKC_OK;
            if (!c->quiet) printf("interrupted while setting up: nothing trained\n");
        } else if (src == VKC_OK) {
            vkc_fail("another rank failed to set up (see its message); rank %d was ready", c->dist.rank);
        } else if (c->ranks > 1) {
            fprintf(stderr, "vkclr: rank %d of %d: %s\n", c->dist.rank, c->ranks, vkc_error());
        }
        goto done;
    }
    if (vkc_dist_any(&c->dist, vkc_interrupt_pending())) {
        res->interrupted = true;
        rc = VKC_OK;
        if (!c->quiet) printf("interrupted before the first step: nothing trained\n");
        goto done;
    }
    for (int i = 0; i < r->dev.nblocks; i++) res->device_bytes += r->dev.blocks[i].size;
    for (int i = 0; i < r->host.nblocks; i++) res->device_bytes += r->host.blocks[i].size;
    if (start_producer(r) || open_outputs(r) || (r->lead && dump_begin(r))) {
        end_all_ranks_on_failure(c);
        goto done;
    }
    print_start(r);
    double t0 = now();
    int64_t done;
    int lrc = step_loop(r, hook, hook_user, &done);
    if (r->cmd[0].in_flight) vkc_cmd_wait(&r->cmd[0]);
    if (r->cmd[1].in_flight) vkc_cmd_wait(&r->cmd[1]);
    if (lrc) {
        /* A non-finite loss is the global batch's: every rank sees it and stops at the same step. */
        if (!res->nonfinite) end_all_ranks_on_failure(c);
        goto done;
    }
    rc = finish_run(r, done, t0);
done:
    run_destroy(r);
    free(r);
    vkc_interrupt_clear(); /* honoured: the next run in this process starts afresh */
    return rc;
}

/* ---------------------------------------------------------------- vkclr bench train */

int vkc_train_bench(const VkcTrainConfig *cfg, int warmup, int steps, VkcTrainBench *out)
{
    memset(out, 0, sizeof *out);
    if (warmup < 0 || steps < 1) return vkc_fail("bench: need warmup >= 0 and steps >= 1");
    Run *r = calloc(1, sizeof *r);
    if (!r) return vkc_fail("out of host memory");
    VkcTrainResult res;
    memset(&res, 0, sizeof res);
    r->res = &res;
    int rc = VKC_ERR;
    if (resolve_config(r, cfg, NULL) || setup_data(r) || setup_model(r)) goto done;
    /* The views of every step: noise in [-1, 1), written once (no producer, no disk). */
    VkcRng rng = vkc_rng(r->cfg.seed, 0, 0, 0);
    for (int s = 0; s < 2; s++) {
        float *x = r->slot[s].mapped;
        for (uint32_t i = 0; i < vkc_tensor_floats(r->slot[s]); i++) x[i] = vkc_rng_range(&rng, -1, 1);
    }
    /* Slot 0's step runs unprofiled (the timed steps); slot 1's with timestamps around every op. */
    r->prof.on = false;
    if (record_step(r, 0)) goto done;
    r->prof.on = r->ctx.has_timestamps;
    if (record_step(r, 1)) goto done;
    r->gbatch = r->cfg.batch * r->cfg.ranks;
    if (set_loss_scale(r)) goto done;
    for (int i = 0; i < warmup; i++)
        if (vkc_optim_set_step(&r->opt, r->cfg.lr, (uint32_t)i + 1) || vkc_cmd_submit_wait(&r->cmd[0])) goto done;
    double t0 = now();
    for (int i = 0; i < steps; i++)
        if (vkc_optim_set_step(&r->opt, r->cfg.lr, (uint32_t)(warmup + i) + 1) || vkc_cmd_submit_wait(&r->cmd[0]))
            goto done;
    double seconds = now() - t0;
    for (int i = 0; r->prof.on && i < 3; i++) {
        if (vkc_optim_set_step(&r->opt, r->cfg.lr, 1) || vkc_cmd_submit_wait(&r->cmd[1])) goto done;
        accumulate_profile(r, 1);
    }
    out->steps = steps;
    out->seconds = seconds;
    out->ms_per_step = 1e3 * seconds / steps;
    out->images_per_second = (double)steps * r->gbatch / seconds;
    uint32_t n2 = 2 * (uint32_t)r->cfg.batch;
    out->flops_per_image = (vkc_model_flops(&r->model, n2, true) + vkc_contrastive_flops(&r->loss)) / r->cfg.batch;
    out->tflops = out->flops_per_image * out->images_per_second / 1e12;
    const Profile *p = &r->prof;
    double sum = profile_sum(p);
    if (p->steps > 0) out->gpu_ms_per_step = p->step_ns / p->steps / 1e6;
    for (int i = 0; i < p->nclasses && i < VKC_BENCH_MAX_CLASSES; i++) {
        out->class_names[i] = p->names[i];
        out->class_share[i] = sum > 0 ? p->ns[i] / sum : 0;
        out->nclasses = i + 1;
    }
    snprintf(out->device, sizeof out->device, "%s", r->ctx.props.deviceName);
    out->nparams = vkc_model_param_count(&r->model);
    rc = VKC_OK;
done:
    run_destroy(r);
    free(r);
    return rc;
}
