/* The SimCLR training loop (vkclr/train.h), top-down; run.h says which file holds which part.
 *
 * Pipelining: the producer's workers augment into two host-visible staging slots. Each slot
 * has its own command buffer, recorded once at start-up, that reads its slot (directly on
 * CPU devices, where all memory is host memory; through a copy into device memory on GPUs);
 * the step loop (step.c) keeps one step in flight while the workers fill the other slot.
 *
 * A run, in the order vkc_train_run takes it: resolve the configuration (resume rules,
 * defaults, checks) -> set up data, device, model, loss, optimizer and the two recorded steps
 * -> open the outputs -> the step loop (each finished step: metrics, log line, checkpoint,
 * kNN monitor, signals) -> evaluation and results.json. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "run.h"

static int64_t debug_nan_step;

const char *const vkc_train_timing_keys[] = {"images_per_s", "knn_seconds", NULL};

/* A stop request is the process's interrupt flag (vkclr/interrupt.h): the step loop checks it
 * after every step, the data loading and the evaluation at the end inside their loops. */
void vkc_train_request_stop(void) { vkc_interrupt_request(); }
void vkc_train_debug_nan_at(int64_t step) { debug_nan_step = step; }
int64_t train_debug_nan_step(void) { return debug_nan_step; }

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

double train_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The data, the device and model, the two recorded steps; then what config.json records. */
static int setup(Run *r)
{
    r->prof.on = r->cfg.profile;
    if (setup_data(r) || setup_model(r)) return VKC_ERR;
    r->prof.on = r->cfg.profile && r->g.ctx.has_timestamps;
    if (record_step(r, 0) || record_step(r, 1)) return VKC_ERR;
    run_record(r);
    return VKC_OK;
}

/* More than one rank: a failure on this rank alone (a lost device, a failed write, a collective
 * that failed) ends every rank, naming this one; checkpoints are written atomically, so the
 * last one stays intact. */
static void end_all_ranks_on_failure(const Run *r)
{
    if (r->rv.ranks > 1) vkc_dist_abort(&r->rv.dist, vkc_error());
}

/* Set-up on every rank: a rank that fails to set up (no device, too little memory, an output
 * directory it may not write) takes the others down with it rather than leaving them waiting
 * in the first collective. A signal during set-up (loading a large dataset) stops before the
 * first step: *stopped, and VKC_OK. */
static int setup_all_ranks(Run *r, bool *stopped)
{
    const ResolvedRun *rv = &r->rv;
    *stopped = false;
    int src = rv->lead ? prepare_out(r) : VKC_OK;
    if (src == VKC_OK) src = setup(r);
    if (vkc_dist_any(&rv->dist, src != VKC_OK)) {
        if (vkc_interrupt_pending()) {
            *stopped = true;
            if (!rv->quiet) printf("interrupted while setting up: nothing trained\n");
            return VKC_OK;
        }
        if (src == VKC_OK) vkc_fail("another rank failed to set up (see its message); rank %d was ready", rv->dist.rank);
        else if (rv->ranks > 1) fprintf(stderr, "vkclr: rank %d of %d: %s\n", rv->dist.rank, rv->ranks, vkc_error());
        return VKC_ERR;
    }
    if (vkc_dist_any(&rv->dist, vkc_interrupt_pending())) {
        *stopped = true;
        if (!rv->quiet) printf("interrupted before the first step: nothing trained\n");
    }
    return VKC_OK;
}

static int run(Run *r, const VkcTrainConfig *cfg, const char *resume_dir, VkcStepHook hook, void *hook_user)
{
    VkcTrainResult *res = r->res;
    bool stopped;
    if (resolve_config(r, cfg, resume_dir) || setup_all_ranks(r, &stopped)) return VKC_ERR;
    if (stopped) {
        res->interrupted = true;
        return VKC_OK;
    }
    for (int i = 0; i < r->g.dev.nblocks; i++) res->device_bytes += r->g.dev.blocks[i].size;
    for (int i = 0; i < r->g.host.nblocks; i++) res->device_bytes += r->g.host.blocks[i].size;
    if (start_producer(r) || open_outputs(r)) {
        end_all_ranks_on_failure(r);
        return VKC_ERR;
    }
    print_start(r);
    double t0 = train_now();
    int64_t done;
    int lrc = step_loop(r, hook, hook_user, &done);
    for (int s = 0; s < 2; s++)
        if (r->g.cmd[s].in_flight) vkc_cmd_wait(&r->g.cmd[s]);
    if (lrc) {
        /* A non-finite loss is the global batch's: every rank sees it and stops at the same step. */
        if (!res->nonfinite) end_all_ranks_on_failure(r);
        return VKC_ERR;
    }
    return finish_run(r, done, t0);
}

int vkc_train_run(const VkcTrainConfig *cfg, const char *resume_dir, VkcStepHook hook, void *hook_user,
                  VkcTrainResult *res)
{
    memset(res, 0, sizeof *res);
    res->probe_top1 = res->probe_top5 = res->knn_top1 = res->knn_top5 = -1;
    Run *r = calloc(1, sizeof *r);
    if (!r) return vkc_fail("out of host memory");
    r->res = res;
    int rc = run(r, cfg, resume_dir, hook, hook_user);
    run_destroy(r);
    free(r);
    vkc_interrupt_clear(); /* honoured: the next run in this process starts afresh */
    return rc;
}
