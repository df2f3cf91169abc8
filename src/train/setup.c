/* Setting a run up: the data, the device and everything a step runs (model, loss, optimizer,
 * the step's tensors, the collectives of several ranks), the step recorded once per staging
 * slot, and the producer that augments into the slots. */
#include <stdlib.h>
#include <string.h>

#include "run.h"

/* ---------------------------------------------------------------- the data */

/* The dataset (and --eval-data's, data.c), its training images cut to --limit, and the views
 * (resolve_views). */
int setup_data(Run *r)
{
    const VkcTrainConfig *c = &r->cfg;
    if (train_data_load(c, &r->ds, &r->eval_ds, &r->eval)) /* a resumed run's data is the one it recorded */
        return r->rv.resume_dir ? vkc_fail_context("the data recorded in %s (--data %s)", r->rv.resume_file, c->data)
                                : VKC_ERR;
    r->train_ds = r->ds;
    vkc_dataset_limit(&r->train_ds, c->limit);
    int n = vkc_dataset_ssl_count(&r->train_ds);
    if (n < (int64_t)c->batch * r->rv.ranks)
        return vkc_fail("--batch %d x %d ranks is larger than the %d training images (--limit %d)", c->batch,
                        r->rv.ranks, n, c->limit);
    return resolve_views(r);
}

/* ---------------------------------------------------------------- the memory plan */

/* Device bytes a step of `batch` images needs (model, loss, staging) and its largest tensor. */
static int plan(Run *r, uint32_t batch, VkDeviceSize *total, VkDeviceSize *largest)
{
    const VkcModelConfig *mc = &r->rv.model;
    uint32_t ranks = (uint32_t)r->rv.ranks, n2 = 2 * batch, n2g = n2 * ranks; /* the loss sees the global batch */
    if (vkc_model_memory(&r->g.ctx, &r->g.k.layers, mc, n2, total, largest)) return VKC_ERR;
    VkDeviceSize sim = (VkDeviceSize)n2g * n2g * 4, emb = (VkDeviceSize)n2 * mc->out_dim * 4;
    VkDeviceSize slot = (VkDeviceSize)n2 * mc->channels * mc->height * mc->width_px * 4;
    *total += 2 * sim + 3 * emb + 2 * slot + (r->g.ctx.is_cpu ? 0 : slot) + (ranks > 1 ? 2 * emb * ranks : 0);
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
static int check_batch(Run *r)
{
    const VkcContext *ctx = &r->g.ctx;
    int batch = r->cfg.batch;
    VkDeviceSize range = ctx->props.limits.maxStorageBufferRange, heap = device_heap(ctx);
    /* Leave a quarter of the heap to the driver and other processes. */
    VkDeviceSize budget = heap - heap / 4;
    VkDeviceSize total, largest;
    if (plan(r, (uint32_t)batch, &total, &largest)) return VKC_ERR;
    if (largest <= range && total <= budget) return VKC_OK;
    uint32_t lo = 1, hi = (uint32_t)batch; /* lo fits (assumed), hi does not */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        VkDeviceSize t, l;
        if (plan(r, mid, &t, &l)) return VKC_ERR;
        if (l <= range && t <= budget) lo = mid;
        else hi = mid;
    }
    if (largest > range)
        return vkc_fail("--batch %d does not fit this device: one tensor would need %.1f MiB, more than its "
                        "maxStorageBufferRange of %.1f MiB; the largest batch that fits is %u",
                        batch, largest / 1048576.0, range / 1048576.0, lo);
    return vkc_fail("--batch %d does not fit this device: it needs %.1f MiB of device memory, %.1f MiB are usable "
                    "(of a %.1f MiB heap); the largest batch that fits is %u",
                    batch, total / 1048576.0, budget / 1048576.0, heap / 1048576.0, lo);
}

/* ---------------------------------------------------------------- the device and the model */

/* The loss over every rank's embeddings (global negatives); a learned log Z is a parameter of
 * the model, so the optimizer trains it. */
static int setup_loss(Run *r, uint32_t n2, uint32_t dim)
{
    const VkcTrainConfig *c = &r->cfg;
    StepGraph *g = &r->g;
    VkcLossParams lp = {.kind = c->loss, .tau = c->temperature, .tau_plus = c->tau_plus,
                        .learned_logz = r->rv.model.loss_logz};
    if (lp.learned_logz) {
        lp.logz = vkc_model_tensor(&g->model, g->model.logz_tensor);
        lp.dlogz = vkc_model_grad(&g->model, g->model.logz_tensor);
    }
    return vkc_contrastive_init(&g->ctx, &g->loss, &g->k.gemm, &g->k.reduce, &g->dev, n2 * (uint32_t)r->rv.ranks, dim,
                                &lp);
}

/* The step's own tensors: embeddings and their gradients, the metrics read back, the staging
 * slots (and on GPUs the device copy of the views); with several ranks the global embeddings
 * and the collectives. */
static int setup_tensors(Run *r, uint32_t n2, uint32_t dim)
{
    const VkcTrainConfig *c = &r->cfg;
    StepGraph *g = &r->g;
    VkDeviceSize emb = (VkDeviceSize)n2 * dim * 4;
    size_t slot_bytes = vkc_producer_slot_bytes(&r->train_ds, &r->aug, c->batch);
    if (vkc_tensor_alloc(&g->dev, emb, &g->z) || vkc_tensor_alloc(&g->dev, emb, &g->dz) ||
        vkc_tensor_alloc(&g->dev, emb, &g->dembed) ||
        vkc_tensor_alloc(&g->host, 4 * VKC_CONTRASTIVE_METRICS, &g->metrics[0]) ||
        vkc_tensor_alloc(&g->host, 4 * VKC_CONTRASTIVE_METRICS, &g->metrics[1]) ||
        vkc_tensor_alloc(&g->host, slot_bytes, &g->slot[0]) || vkc_tensor_alloc(&g->host, slot_bytes, &g->slot[1]) ||
        (!g->ctx.is_cpu && vkc_tensor_alloc(&g->dev, slot_bytes, &g->input)))
        return VKC_ERR;
    int ranks = r->rv.ranks;
    if (ranks > 1) {
        if (vkc_tensor_alloc(&g->dev, emb * ranks, &g->zg) || vkc_tensor_alloc(&g->dev, emb * ranks, &g->dzg) ||
            dist_step_init(&g->dstep, &r->rv.dist, &g->model, &g->host, (uint32_t)c->batch, dim, r->rv.sync_bn))
            return VKC_ERR;
        if (r->rv.sync_bn) g->model.bn_sync = &g->dstep.bn;
    }
    return VKC_OK;
}

/* The optimizer over the model's parameters (fp16: it checks the gradients for overflow). */
static int setup_optimizer(Run *r)
{
    StepGraph *g = &r->g;
    VkcOptimConfig ocfg = vkc_optim_defaults(r->cfg.optimizer);
    ocfg.check_finite = r->scale.buf.buffer != NULL;
    ocfg.weight_decay = r->rv.weight_decay;
    VkcParam *params;
    int nparams;
    if (vkc_model_optim_params(&g->model, &params, &nparams)) return VKC_ERR;
    int rc = vkc_optim_init(&g->ctx, &g->opt, &ocfg, params, nparams, &g->dev, &g->host);
    free(params);
    return rc;
}

/* The parameters and the optimizer's state: from the checkpoint when resuming (with where the
 * run stood), else from the seed. */
static int setup_state(Run *r)
{
    const ResolvedRun *rv = &r->rv;
    StepGraph *g = &r->g;
    /* (a run resumed from its config.json starts again from the seed) */
    if (!rv->resume_checkpoint) return vkc_model_init_params(&g->model, r->cfg.seed);
    VkcTrainState *m = &r->state;
    if (vkc_checkpoint_load(rv->resume_file, &g->model, &g->opt, m)) return VKC_ERR;
    if (m->step != rv->start)
        return vkc_fail("%s changed while it was read (step %lld, then %lld)", rv->resume_file, (long long)rv->start,
                        (long long)m->step);
    if (m->interval_steps && m->interval_nsums != VKC_CONTRASTIVE_METRICS)
        return vkc_fail("%s: checkpoint metadata 'interval' holds %d sums, this vkclr logs %d metrics",
                        rv->resume_file, m->interval_nsums, VKC_CONTRASTIVE_METRICS);
    return VKC_OK;
}

/* The device, the kernels, the model, the loss, the step's tensors, the loss scale and the
 * optimizer; parameters from the checkpoint or the seed. */
int setup_model(Run *r)
{
    const VkcTrainConfig *c = &r->cfg;
    StepGraph *g = &r->g;
    VkcContextOptions copt = c->context;
    if (c->device >= 0) copt.device_index = c->device;
    copt.quiet = copt.quiet || r->rv.quiet;
    copt.local_rank = r->rv.dist.local_rank;
    if (vkc_context_create(&g->ctx, &copt)) return VKC_ERR;
    vkc_arena_init(&g->dev, &g->ctx, VKC_MEMORY_DEVICE);
    vkc_arena_init(&g->host, &g->ctx, VKC_MEMORY_STAGING);
    if (resolve_precision(r) || vkc_model_kernels_init(&g->ctx, &g->k) || check_batch(r) ||
        vkc_l2norm_init(&g->ctx, &g->l2) || vkc_gemm_init(&g->ctx, &g->eval_gemm))
        return VKC_ERR;
    /* 16-bit activations: the GEMMs multiply 16-bit operands too, on cooperative matrices where
     * the device runs them (sums stay float32): those of evaluation (kNN, probe) with either
     * type, those of training (head, loss) with bf16 only. Their operands are float32 values
     * that fp16 cannot always hold: the loss's gradient carries the loss scale (2^16), which the
     * L2 normalisation's backward divides by the embeddings' norms, and fp16 overflow made the
     * scaler skip steps and learn less (docs/precision.md). */
    VkcDtype act = r->rv.model.act_dtype;
    vkc_gemm_set_operands(&g->k.gemm, act == VKC_BF16 ? VKC_BF16 : VKC_F32);
    vkc_gemm_set_operands(&g->eval_gemm, act);
    uint32_t n2 = 2 * (uint32_t)c->batch, dim = (uint32_t)r->rv.model.out_dim;
    if (vkc_model_create(&g->model, &g->ctx, &g->k.layers, &g->k.linear, &r->rv.model, n2, &g->dev) ||
        setup_loss(r, n2, dim) || setup_tensors(r, n2, dim) || loss_scale_init(r) || setup_optimizer(r))
        return VKC_ERR;
    return setup_state(r);
}

/* ---------------------------------------------------------------- the recorded step */

/* Record slot s's step once: forward, loss, backward, optimizer (with profile timestamps). */
int record_step(Run *r, int s)
{
    StepGraph *g = &r->g;
    VkcCmd *cmd = &g->cmd[s];
    VkcModel *m = &g->model;
    uint32_t n2 = 2 * (uint32_t)r->cfg.batch, dim = (uint32_t)r->rv.model.out_dim;
    m->profile = r->prof.on;
    if (vkc_cmd_init(&g->ctx, cmd) || vkc_cmd_begin(cmd)) return VKC_ERR;
    profile_mark(r, cmd, s, TS_STEP_BEGIN);
    VkcTensor x = g->slot[s];
    if (!g->ctx.is_cpu) {
        /* Discrete GPU: the views cross the bus once, into device memory. */
        if (vkc_cmd_copy(cmd, g->input, g->slot[s], g->slot[s].size)) return VKC_ERR;
        x = g->input;
    }
    if (vkc_model_forward(m, cmd, x, n2, true, true)) return VKC_ERR;
    VkcTensor e = vkc_model_embed_tensor(m);
    profile_mark(r, cmd, s, TS_LOSS_BEGIN);
    /* Several ranks: the loss runs on every rank's embeddings (global negatives), each rank
     * keeps the gradient rows of its own (dist_step.h). */
    bool multi = r->rv.ranks > 1;
    VkcTensor z = multi ? g->zg : g->z, dz = multi ? g->dzg : g->dz;
    if (vkc_l2norm_forward(&g->l2, cmd, n2, dim, e, g->z) ||
        (multi && dist_step_gather_embeddings(&g->dstep, cmd, g->z, g->zg)) ||
        vkc_contrastive_forward(&g->loss, cmd, z, g->metrics[s]) || vkc_contrastive_backward(&g->loss, cmd, z, dz) ||
        (multi && dist_step_own_rows(&g->dstep, cmd, g->dzg, g->dz)) || loss_scale_record(r, cmd, n2 * dim) ||
        vkc_l2norm_backward(&g->l2, cmd, n2, dim, e, g->dz, g->dembed))
        return VKC_ERR;
    profile_mark(r, cmd, s, TS_LOSS_END);
    if (vkc_model_backward(m, cmd, x, n2, g->dembed) || (multi && dist_step_allreduce_grads(&g->dstep, cmd)))
        return VKC_ERR;
    profile_mark(r, cmd, s, TS_OPTIM_BEGIN);
    if (vkc_optim_record(&g->opt, cmd)) return VKC_ERR;
    profile_mark(r, cmd, s, TS_OPTIM_END);
    /* Forward/backward timestamps of the model are the same for both slots' recordings. */
    return vkc_cmd_end(cmd);
}

/* ---------------------------------------------------------------- the producer */

/* The producer (it starts augmenting at once) and the schedule. */
int start_producer(Run *r)
{
    const VkcTrainConfig *c = &r->cfg;
    const ResolvedRun *rv = &r->rv;
    VkcProducerOptions popt = {.batch = c->batch, .threads = c->threads, .slots = 2, .seed = c->seed,
                               .first_step = rv->start, .rank = rv->dist.rank, .ranks = rv->ranks,
                               .skip_bad = c->skip_bad, .on_bad = rv->lead ? train_skipped_add : NULL,
                               .on_bad_user = &r->skipped};
    void *slots[2] = {r->g.slot[0].mapped, r->g.slot[1].mapped};
    popt.slot_memory = slots;
    if (vkc_producer_create(&r->producer, &r->train_ds, &r->aug, &popt)) return VKC_ERR;
    return resolve_schedule(r, vkc_producer_steps_per_epoch(r->producer));
}

/* Destroying is safe on whatever set-up left: every member starts zeroed. */
void run_destroy(Run *r)
{
    StepGraph *g = &r->g;
    vkc_plotter_stop(r->out.plotter, NULL);
    vkc_producer_destroy(r->producer);
    train_dump_close(&r->out.dump);
    if (r->out.metrics) fclose(r->out.metrics);
    vkc_cmd_destroy(&g->cmd[0]);
    vkc_cmd_destroy(&g->cmd[1]);
    loss_scale_destroy(r);
    vkc_optim_destroy(&g->opt);
    dist_step_destroy(&g->dstep);
    vkc_model_destroy(&g->model);
    vkc_contrastive_destroy(&g->loss);
    vkc_l2norm_destroy(&g->l2);
    vkc_model_kernels_destroy(&g->k);
    vkc_gemm_destroy(&g->eval_gemm);
    if (g->ctx.device && r->res) r->res->validation_messages = g->ctx.validation_messages;
    vkc_arena_destroy(&g->host);
    vkc_arena_destroy(&g->dev);
    vkc_context_destroy(&g->ctx);
    vkc_dataset_free(&r->ds);
    vkc_dataset_free(&r->eval_ds);
}
