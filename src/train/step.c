/* The step loop. Per step t:
 *     acquire batch t (slot s; the workers filled it while the GPU ran step t-1)
 *     wait for step t-1, read its loss, log, check for NaN, checkpoint at epoch ends
 *     release step t-1's slot (workers start on step t+1)
 *     write lr/step of step t into the optimizer's buffer, submit slot s's command buffer
 * Only one step is ever in flight, so the optimizer's single per-step buffer is never written
 * while a submit reads it. The GPU waits for augmentation only when acquire() has to wait
 * after step t-1 already finished: that time is measured and reported. */
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run.h"

typedef enum { STEP_GO_ON, STEP_STOP, STEP_FAILED } StepOutcome;

/* A finite loss, or the message that names the step and the checkpoint left as it was. */
static int check_finite(Run *r, int64_t done, float loss)
{
    if (isfinite(loss)) return VKC_OK;
    r->res->nonfinite = true;
    struct stat st;
    const char *ckpt = r->rv.ckpt_path;
    bool have = stat(ckpt, &st) == 0;
    return vkc_fail("the loss became %s at step %lld (epoch %lld); training stopped. %s%s%s",
                    isnan(loss) ? "NaN" : "infinite", (long long)done, (long long)((done - 1) / r->rv.steps_per_epoch + 1),
                    have ? "The last good checkpoint, " : "No checkpoint was written before it", have ? ckpt : "",
                    have ? ", is left as it was" : "");
}

/* Step `done` finished on slot s: its metrics, the log line, the kNN monitor and the checkpoint
 * at epoch ends (the checkpoint also when stopping), and whether a signal asks to stop. The
 * monitor runs before the epoch's checkpoint, so a run killed during it resumes from the one
 * before and runs it again; one interrupted (SIGINT) saves the checkpoint marked
 * knn_pending, and the resumed run runs the monitor first: metrics.jsonl gets its line once. */
static StepOutcome finish_step(Run *r, int s, int64_t done, VkcStepHook hook, void *hook_user)
{
    const VkcTrainConfig *c = &r->cfg;
    const ResolvedRun *rv = &r->rv;
    VkcTrainResult *res = r->res;
    Interval *iv = &r->iv;
    const float *mv = r->g.metrics[s].mapped;
    float loss = mv[VKC_METRIC_LOSS], acc = mv[VKC_METRIC_ACCURACY];
    if (iv->steady_from < 0) {
        iv->steady_from = done;
        iv->t_steady = train_now();
    }
    if (hook) hook(hook_user, done, loss, acc);
    if (check_finite(r, done, loss)) return STEP_FAILED;
    res->last_loss = loss;
    res->last_accuracy = acc;
    r->last_known = true;
    loss_scale_after_step(r);
    for (int k = 0; k < VKC_CONTRASTIVE_METRICS; k++) iv->msum[k] += mv[k];
    iv->n++;
    iv->here++;
    bool epoch_end = done % rv->steps_per_epoch == 0;
    if ((iv->n >= c->log_every || epoch_end || done == rv->end) && log_interval(r, done, loss, epoch_end))
        return STEP_FAILED;
    bool knn_pending = false;
    if (rv->lead && epoch_end && c->knn_every > 0 && c->knn_k > 0 && (done / rv->steps_per_epoch) % c->knn_every == 0 &&
        done < rv->total && knn_monitor(r, done)) {
        if (!vkc_interrupt_pending()) return STEP_FAILED;
        knn_pending = true;
    }
    /* A signal may reach the ranks at different steps: they stop together. */
    bool stop = stop_requested(r);
    if (epoch_end || stop || done == rv->end) {
        /* Every rank must hold the same parameters (rank 0 saves its own): checked here. */
        if ((rv->ranks > 1 && dist_step_check_replicas(&r->g.dstep)) || (rv->lead && checkpoint(r, done, knn_pending)))
            return STEP_FAILED;
    }
    if (rv->lead && snapshot(r, done)) return STEP_FAILED;
    r->state.step = done;
    r->state.epoch = done / rv->steps_per_epoch;
    if (rv->lead && train_dump_state(&r->out.dump, &r->record, &r->g.model, &r->g.opt, &r->state)) return STEP_FAILED;
    return stop && done < rv->end ? STEP_STOP : STEP_GO_ON;
}

/* Resuming: the interval the checkpoint was cut in goes on (its lines are an uninterrupted
 * run's), and a kNN monitor a signal interrupted runs first. *stop: a signal came meanwhile. */
static int continue_checkpoint(Run *r, bool *stop)
{
    const ResolvedRun *rv = &r->rv;
    const VkcTrainState *st = &r->state;
    *stop = false;
    if (st->interval_steps) {
        r->iv.n = st->interval_steps;
        memcpy(r->iv.msum, st->interval_sums, sizeof r->iv.msum);
    }
    if (st->have_last) {
        r->res->last_loss = st->last_loss, r->res->last_accuracy = st->last_accuracy;
        r->last_known = true;
    }
    if (!st->knn_pending || rv->start >= rv->total) return VKC_OK;
    int krc = rv->lead ? knn_monitor(r, rv->start) : VKC_OK;
    if (krc && !vkc_interrupt_pending()) return VKC_ERR;
    /* Done: the checkpoint no longer owes it (else a second resume would log it twice). */
    if (rv->lead && !krc && checkpoint(r, rv->start, false)) return VKC_ERR;
    *stop = stop_requested(r);
    return VKC_OK;
}

/* Steps start..end; *done gets the steps completed. */
int step_loop(Run *r, VkcStepHook hook, void *hook_user, int64_t *done)
{
    const ResolvedRun *rv = &r->rv;
    StepGraph *g = &r->g;
    VkcTrainResult *res = r->res;
    int64_t inflight = -1; /* step on the GPU */
    VkcBatch inflight_batch, batch;
    VkcProducerStats before, after;
    r->iv.tty = isatty(STDERR_FILENO) && !rv->quiet;
    r->iv.start = r->out.loop_start = train_now();
    r->out.nsnapshots = vkc_config_snapshots(&r->cfg, r->out.snapshot_min, 32);
    r->iv.steady_from = -1;
    *done = rv->start;
    bool stop;
    if (continue_checkpoint(r, &stop)) return VKC_ERR;
    if (stop) {
        res->interrupted = true;
        return VKC_OK;
    }
    for (int64_t t = rv->start; t <= rv->end; t++) {
        if (t < rv->end) {
            vkc_producer_stats(r->producer, &before);
            double a0 = train_now();
            if (vkc_producer_acquire(r->producer, &batch)) return VKC_ERR;
            double waited = train_now() - a0;
            if (train_dump_views(&r->out.dump, batch.views)) return VKC_ERR;
            vkc_producer_stats(r->producer, &after);
            /* The GPU sat idle for data only if acquire had to wait and the previous step had
             * finished by the time it returned; the wait is then an upper bound of the idle time.
             * (The first step of a run always waits for its batch: that is start-up, not counted.) */
            if (after.waited > before.waited && inflight >= 0 &&
                vkGetFenceStatus(g->ctx.device, g->cmd[inflight_batch.slot].fence) == VK_SUCCESS) {
                res->gpu_waits++;
                res->gpu_wait_seconds += waited;
            }
        }
        if (inflight >= 0) {
            int s = inflight_batch.slot;
            if (vkc_cmd_wait(&g->cmd[s])) return VKC_ERR;
            profile_accumulate(r, s);
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
        if (t == rv->end) break;
        /* Step t: its learning rate and number, then submit the command buffer of its slot. */
        float lr = vkc_train_lr(rv->peak_lr, t, rv->warmup, rv->total);
        if (train_debug_nan_step() && t + 2 == train_debug_nan_step()) lr = NAN;
        if (loss_scale_set(r) || vkc_optim_set_step(&g->opt, lr, (uint32_t)(t + 1)) || vkc_cmd_submit(&g->cmd[batch.slot]))
            return VKC_ERR;
        inflight = t;
        inflight_batch = batch;
    }
    return VKC_OK;
}
