/* vkclr bench train (vkclr/train.h): the training step of vkc_train_run, set up the same way,
 * submitted from one recorded command buffer on noise views: no producer, no data wait. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "run.h"

/* The views of every step: noise in [-1, 1), written once. */
static void fill_noise(Run *r)
{
    VkcRng rng = vkc_rng(r->cfg.seed, 0, 0, 0);
    for (int s = 0; s < 2; s++) {
        float *x = r->g.slot[s].mapped;
        for (uint32_t i = 0; i < vkc_tensor_floats(r->g.slot[s]); i++) x[i] = vkc_rng_range(&rng, -1, 1);
    }
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Submit slot s's step and wait for it, as step `step` (1-based) at the base learning rate. */
static int run_step(Run *r, int s, uint32_t step)
{
    return vkc_optim_set_step(&r->g.opt, r->rv.lr, step) || vkc_cmd_submit_wait(&r->g.cmd[s]) ? VKC_ERR : VKC_OK;
}

static int bench(Run *r, const VkcTrainConfig *cfg, int warmup, int steps, VkcTrainBench *out)
{
    if (resolve_config(r, cfg, NULL) || setup_data(r) || setup_model(r)) return VKC_ERR;
    fill_noise(r);
    /* Slot 0's step runs unprofiled (the timed steps); slot 1's with timestamps around every op. */
    r->prof.on = false;
    if (record_step(r, 0)) return VKC_ERR;
    r->prof.on = r->g.ctx.has_timestamps;
    if (record_step(r, 1) || loss_scale_set(r)) return VKC_ERR;
    for (int i = 0; i < warmup; i++)
        if (run_step(r, 0, (uint32_t)i + 1)) return VKC_ERR;
    double t0 = train_now(), cpu0 = cpu_seconds();
    for (int i = 0; i < steps; i++)
        if (run_step(r, 0, (uint32_t)(warmup + i) + 1)) return VKC_ERR;
    double seconds = train_now() - t0;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double cpu = (cpu_seconds() - cpu0) / (cores > 0 ? cores : 1);
    for (int i = 0; r->prof.on && i < 3; i++) {
        if (run_step(r, 1, 1)) return VKC_ERR;
        profile_accumulate(r, 1);
    }
    out->steps = steps;
    out->seconds = seconds;
    out->ms_per_step = 1e3 * seconds / steps;
    out->images_per_second = (double)steps * r->rv.global_batch / seconds;
    out->cpu_ms_per_step = 1e3 * cpu / steps;
    out->cpu_images_per_second = cpu > 0 ? (double)steps * r->rv.global_batch / cpu : 0;
    uint32_t n2 = 2 * (uint32_t)r->cfg.batch;
    out->flops_per_image = (vkc_model_flops(&r->g.model, n2, true) + vkc_contrastive_flops(&r->g.loss)) / r->cfg.batch;
    out->tflops = out->flops_per_image * out->images_per_second / 1e12;
    profile_shares(&r->prof, out);
    snprintf(out->device, sizeof out->device, "%s", r->g.ctx.props.deviceName);
    out->nparams = vkc_model_param_count(&r->g.model);
    return VKC_OK;
}

int vkc_train_bench(const VkcTrainConfig *cfg, int warmup, int steps, VkcTrainBench *out)
{
    memset(out, 0, sizeof *out);
    if (warmup < 0 || steps < 1) return vkc_fail("bench: need warmup >= 0 and steps >= 1");
    Run *r = calloc(1, sizeof *r);
    if (!r) return vkc_fail("out of host memory");
    VkcTrainResult res;
    memset(&res, 0, sizeof res);
    r->res = &res;
    int rc = bench(r, cfg, warmup, steps, out);
    run_destroy(r);
    free(r);
    return rc;
}
