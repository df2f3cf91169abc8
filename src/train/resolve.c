/* What a run's configuration resolves to (run.h: ResolvedRun), stage by stage: the
 * configuration itself (resume rules, ranks, the defaults by optimizer), the views (after the
 * data: preset and image shape), the precision (after the device), the schedule (after the
 * producer). The configuration is read, never written; run_record makes the one that
 * config.json and the checkpoints record. */
#include <math.h>
#include <string.h>

#include "run.h"

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

/* The run's configuration: cfg, or when resuming the checkpoint's with the options a resumed
 * run may change taken from cfg; checked like any configuration. Then what follows from the
 * ranks and the defaults by optimizer. */
int resolve_config(Run *r, const VkcTrainConfig *cfg, const char *resume_dir)
{
    ResolvedRun *rv = &r->rv;
    r->cfg = *cfg;
    rv->resume_dir = resume_dir;
    if (resume_dir) {
        snprintf(rv->resume_file, sizeof rv->resume_file, "%s/checkpoint.safetensors", resume_dir);
        VkcTrainConfig saved;
        if (vkc_checkpoint_read_config(rv->resume_file, &saved, &rv->start)) return VKC_ERR;
        for (int i = 0; i < vkc_train_noptions; i++)
            if (vkc_train_options[i].flags & VKC_OPT_RESUMABLE) vkc_option_copy(&saved, cfg, &vkc_train_options[i]);
        int ranks = cfg->dist.size > 0 ? cfg->dist.size : 1;
        if (saved.ranks != ranks)
            return vkc_fail("%s was trained with %d rank%s (global batch %d x %d); resume it with the same number of "
                            "ranks (mpirun -np %d), not %d",
                            rv->resume_file, saved.ranks, saved.ranks == 1 ? "" : "s", saved.batch, saved.ranks,
                            saved.ranks, ranks);
        saved.dist = cfg->dist;
        saved.context = cfg->context;
        r->cfg = saved;
    }
    const VkcTrainConfig *c = &r->cfg;
    if (vkc_config_check(c, NULL)) return VKC_ERR;
    /* Data parallel: rank 0 alone prints and writes the output directory. */
    rv->dist = c->dist.size < 1 ? (VkcDist){.size = 1, .local_size = 1} : c->dist;
    rv->ranks = rv->dist.size;
    rv->sync_bn = rv->ranks > 1 && c->sync_bn != 0; /* one rank's statistics are the global ones */
    rv->lead = rv->dist.rank == 0;
    rv->quiet = c->quiet || !rv->lead;
    snprintf(rv->out, sizeof rv->out, "%s", c->out[0] || !resume_dir ? c->out : resume_dir);
    snprintf(rv->ckpt_path, sizeof rv->ckpt_path, "%s/checkpoint.safetensors", rv->out);
    rv->model = c->model;
    rv->model.loss_logz = vkc_loss_learns_logz(c->loss, c->nce_learned_logz);
    rv->lr = c->lr > 0 ? c->lr : vkc_train_default_lr(c->optimizer, c->lr_scaling);
    rv->weight_decay = c->weight_decay >= 0 ? c->weight_decay : vkc_optim_defaults(c->optimizer).weight_decay;
    rv->global_batch = c->batch * rv->ranks;
    return VKC_OK;
}

/* After the data: the augmentation preset (by image type and view size unless given), the
 * views' shape (--image-size, data.c) and the stem, which a resumed run's must match. */
int resolve_views(Run *r)
{
    const VkcTrainConfig *c = &r->cfg;
    ResolvedRun *rv = &r->rv;
    const VkcModelConfig *m = &rv->model;
    if (train_data_views(c, &r->ds, rv->preset, sizeof rv->preset, &r->aug, &rv->model)) return VKC_ERR;
    if (rv->resume_dir && (c->model.channels != m->channels || c->model.height != m->height ||
                           c->model.width_px != m->width_px))
        return vkc_fail("%s was trained on %dx%dx%d images, the data gives %dx%dx%d", rv->resume_file, c->model.height,
                        c->model.width_px, c->model.channels, m->height, m->width_px, m->channels);
    return vkc_model_check(&rv->model);
}

/* After the device: the activations' dtype ("auto": by the device's cooperative matrices). */
int resolve_precision(Run *r)
{
    const VkcContext *ctx = &r->g.ctx;
    VkcDtype dtype = r->cfg.precision < 0 ? vkc_auto_precision(ctx) : (VkcDtype)r->cfg.precision;
    if (!ctx->dtype_ok[dtype])
        return vkc_fail("--precision %s: %s cannot store 16-bit activations (it lacks 16-bit storage buffers, 16-bit "
                        "arithmetic types or the 16-bit texel formats); use --precision fp32",
                        vkc_dtype_name(dtype), ctx->props.deviceName);
    r->rv.model.act_dtype = dtype;
    return VKC_OK;
}

/* After the producer: steps per epoch, and from them the schedule and where this process
 * stops; refuses a resumed run that is past the schedule or already past --stop-after. */
int resolve_schedule(Run *r, int64_t steps_per_epoch)
{
    const VkcTrainConfig *c = &r->cfg;
    ResolvedRun *rv = &r->rv;
    int64_t spe = steps_per_epoch, start = rv->start;
    rv->steps_per_epoch = spe;
    rv->total = spe * c->epochs;
    rv->warmup = (int64_t)llround(c->warmup_epochs * spe);
    rv->end = c->stop_after > 0 && c->stop_after * spe < rv->total ? c->stop_after * spe : rv->total;
    rv->peak_lr = c->lr_scaling == VKC_LR_SQRT ? rv->lr * sqrtf((float)rv->global_batch)
                                               : rv->lr * rv->global_batch / 256.0f;
    if (start > rv->total)
        return vkc_fail("%s is at step %lld, past the end of a %d-epoch schedule (%lld steps): resume with at least "
                        "--epochs %lld", rv->resume_file, (long long)start, c->epochs, (long long)rv->total,
                        (long long)((start + spe - 1) / spe));
    if (start < rv->total && rv->end <= start)
        return vkc_fail("--stop-after %d: %s is already at step %lld (epoch %lld); stop after a later epoch",
                        c->stop_after, rv->resume_file, (long long)start, (long long)(start / spe));
    return VKC_OK;
}

/* The configuration as config.json and the checkpoints record it: every "auto" replaced by
 * what it resolved to, so that a resumed run (or a probe of the checkpoint) sees the run as it ran. */
void run_record(Run *r)
{
    const ResolvedRun *rv = &r->rv;
    VkcTrainConfig *c = &r->record;
    *c = r->cfg;
    c->dist = rv->dist;
    c->ranks = rv->ranks;
    c->sync_bn = rv->sync_bn;
    c->quiet = rv->quiet;
    snprintf(c->out, sizeof c->out, "%s", rv->out);
    c->model = rv->model;
    c->precision = (int)rv->model.act_dtype;
    snprintf(c->preset, sizeof c->preset, "%s", rv->preset);
    c->lr = rv->lr;
    c->weight_decay = rv->weight_decay;
}

/* A stop request (a signal): with several ranks, one rank's request stops them all at the same step. */
bool stop_requested(const Run *r)
{
    return r->rv.ranks > 1 ? vkc_dist_any(&r->rv.dist, vkc_interrupt_pending()) : vkc_interrupt_pending();
}
