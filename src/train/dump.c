/* vkclr train --dump-steps K: init.safetensors and views.npy for parity checks (dump.h). */
#include "dump.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vkclr/npy.h"

int train_dump_begin(TrainDump *d, const VkcTrainConfig *c, const VkcModel *m, const VkcOptim *opt, int64_t steps,
                     const VkcTrainState *state)
{
    memset(d, 0, sizeof *d);
    if (steps <= 0) return VKC_OK;
    if (c->ranks > 1) return vkc_fail("--dump-steps needs a single rank (each rank's slot holds only its own views)");
    char path[1200];
    snprintf(path, sizeof path, "%s/init.safetensors", c->out);
    if (vkc_checkpoint_save(path, m, opt, c, state)) return vkc_fail_context("--dump-steps");
    uint64_t shape[5] = {(uint64_t)steps, 2 * (uint64_t)c->batch, (uint64_t)c->model.channels,
                         (uint64_t)c->model.height, (uint64_t)c->model.width_px};
    char header[512];
    size_t hlen = vkc_npy_header(header, sizeof header, VKC_NPY_F32, shape, 5);
    snprintf(d->path, sizeof d->path, "%s/views.npy", c->out);
    snprintf(path, sizeof path, "%s.tmp", d->path);
    d->f = fopen(path, "wb");
    if (!d->f) return vkc_fail("--dump-steps: cannot create %s: %s", path, strerror(errno));
    if (!hlen || fwrite(header, 1, hlen, d->f) != hlen) {
        train_dump_close(d);
        return vkc_fail("--dump-steps: cannot write %s", path);
    }
    snprintf(path, sizeof path, "%s/steps", c->out);
    if (mkdir(path, 0777) && errno != EEXIST) {
        train_dump_close(d);
        return vkc_fail("--dump-steps: cannot create %s: %s", path, strerror(errno));
    }
    d->steps = steps;
    d->first = state->step + 1;
    d->last = state->step + steps;
    d->step_bytes = (size_t)(shape[1] * shape[2] * shape[3] * shape[4] * 4);
    return VKC_OK;
}

int train_dump_views(TrainDump *d, const float *views)
{
    if (!d->f || d->written >= d->steps) return VKC_OK;
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp", d->path);
    if (fwrite(views, 1, d->step_bytes, d->f) != d->step_bytes) {
        int e = errno;
        train_dump_close(d);
        return vkc_fail("--dump-steps: writing %s: %s", tmp, strerror(e));
    }
    if (++d->written < d->steps) return VKC_OK;
    bool ok = fflush(d->f) == 0 && fsync(fileno(d->f)) == 0;
    ok = fclose(d->f) == 0 && ok;
    d->f = NULL;
    if (!ok || rename(tmp, d->path)) {
        int e = errno;
        remove(tmp);
        return vkc_fail("--dump-steps: finishing %s: %s", d->path, strerror(e));
    }
    return VKC_OK;
}

int train_dump_state(const TrainDump *d, const VkcTrainConfig *c, const VkcModel *m, const VkcOptim *opt,
                     const VkcTrainState *state)
{
    if (state->step < d->first || state->step > d->last) return VKC_OK;
    char path[1200];
    snprintf(path, sizeof path, "%s/steps/%06lld.safetensors", c->out, (long long)state->step);
    return vkc_checkpoint_save(path, m, opt, c, state) ? vkc_fail_context("--dump-steps") : VKC_OK;
}

void train_dump_close(TrainDump *d)
{
    if (!d->f) return;
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp", d->path);
    fclose(d->f);
    d->f = NULL;
    remove(tmp);
}
