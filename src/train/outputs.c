/* A run's outputs (rank 0 writes them): the output directory and config.json, metrics.jsonl
 * (one line per logging interval, and the kNN monitor's), checkpoints and --snapshot-minutes
 * copies, results.json at the end; and what the terminal shows. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "run.h"
#include "vkclr/fileio.h"

/* ---------------------------------------------------------------- the directory */

/* A run directory holds a run when one of these is there. */
static const char *const run_files[] = {"checkpoint.safetensors", "config.json", "metrics.jsonl", "results.json"};
#define NRUN_FILES (sizeof run_files / sizeof run_files[0])

/* The other files a run writes beside them (and the --snapshot-minutes copies). */
static const char *const other_files[] = {"curves.png", "skipped-files.txt"};
#define NOTHER_FILES (sizeof other_files / sizeof other_files[0])

/* A file a run writes: the run files, the others, the --snapshot-minutes copies. */
static bool run_output(const char *name)
{
    size_t len = strlen(name);
    bool ours = !strncmp(name, "checkpoint-", 11) && len > 20 && !strcmp(name + len - 15, "min.safetensors");
    for (size_t i = 0; i < NRUN_FILES; i++) ours = ours || !strcmp(name, run_files[i]);
    for (size_t i = 0; i < NOTHER_FILES; i++) ours = ours || !strcmp(name, other_files[i]);
    return ours;
}

/* The run's output files in `out` (--force: the old run's; at the start: what an interrupted
 * write left, NAME.tmp of each), removed. */
static int remove_outputs(const char *out, bool old_run, bool stale)
{
    DIR *d = opendir(out);
    if (!d) return errno == ENOENT ? VKC_OK : vkc_fail("cannot open %s: %s", out, strerror(errno));
    char path[1200];
    int rc = VKC_OK;
    for (struct dirent *e; rc == VKC_OK && (e = readdir(d));) {
        const char *n = e->d_name;
        size_t len = strlen(n);
        snprintf(path, sizeof path, "%s/%s", out, n);
        if (old_run && run_output(n) && remove(path) && errno != ENOENT)
            rc = vkc_fail("--force: cannot remove %s: %s", path, strerror(errno));
        if (stale && len > 4 && !strcmp(n + len - 4, ".tmp")) {
            path[strlen(path) - 4] = 0; /* NAME of NAME.tmp (or NAME.old of NAME.old.tmp) */
            char *old = strstr(path, ".old");
            if (old && !strcmp(old, ".old")) *old = 0;
            if (run_output(strrchr(path, '/') + 1)) rc = vkc_remove_stale(path);
        }
    }
    closedir(d);
    return rc;
}

/* The output directory's checks (rank 0), before anything is read or written: a place for a
 * directory, every output file's place a place for a regular file (a FIFO or a directory at
 * metrics.jsonl is refused, not written into), and a new run does not overwrite another run's
 * directory unless told to (--force). */
int check_out(Run *r)
{
    ResolvedRun *rv = &r->rv;
    const char *out = rv->out;
    if (!out[0]) return rv->resume_dir ? vkc_fail("--out: no output directory given") : vkc_check_output_dir("runs");
    if (vkc_check_output_dir(out)) return vkc_fail_context("--out");
    char path[1200];
    for (size_t i = 0; i < NRUN_FILES + NOTHER_FILES; i++) {
        snprintf(path, sizeof path, "%s/%s", out, i < NRUN_FILES ? run_files[i] : other_files[i - NRUN_FILES]);
        if (vkc_check_output(path)) return vkc_fail_context("--out");
    }
    if (rv->resume_dir && !strcmp(rv->resume_dir, out)) return VKC_OK;
    const char *held = NULL;
    for (size_t i = 0; i < NRUN_FILES && !held; i++) {
        snprintf(path, sizeof path, "%s/%s", out, run_files[i]);
        struct stat st;
        if (lstat(path, &st) == 0) held = run_files[i];
    }
    if (held && !r->cfg.force)
        return vkc_fail("--out %s already holds a run (%s): continue it with --resume %s, write elsewhere with "
                        "--out, or replace it with --force",
                        out, held, out);
    rv->replace_run = held != NULL;
    return VKC_OK;
}

/* --out auto: a new directory runs/YYYYMMDD-HHMMSS (-2, -3, ... if taken), and runs/latest
 * pointing at it (a symbolic link replaced atomically), so that every run keeps its outputs and
 * runs/latest is the newest. */
static int new_run_dir(Run *r)
{
    ResolvedRun *rv = &r->rv;
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    if (vkc_make_dirs("runs")) return VKC_ERR;
    for (int k = 1;; k++) {
        if (k == 1) snprintf(rv->out, sizeof rv->out, "runs/%s", stamp);
        else snprintf(rv->out, sizeof rv->out, "runs/%s-%d", stamp, k);
        if (!mkdir(rv->out, 0777)) break;
        if (errno != EEXIST || k == 100) return vkc_fail("cannot create %s: %s", rv->out, strerror(errno));
    }
    snprintf(rv->ckpt_path, sizeof rv->ckpt_path, "%s/checkpoint.safetensors", rv->out);
    snprintf(r->record.out, sizeof r->record.out, "%s", rv->out);
    /* runs/latest -> the new directory (an older vkclr's real runs/latest directory is left alone). */
    const char *name = rv->out + strlen("runs/");
    struct stat st;
    if (lstat("runs/latest", &st) == 0 && !S_ISLNK(st.st_mode)) {
        fprintf(stderr, "vkclr train: runs/latest is not a symbolic link (of an older vkclr?), not updated; this run "
                        "is %s\n", rv->out);
        return VKC_OK;
    }
    remove("runs/latest.tmp");
    if (symlink(name, "runs/latest.tmp") || rename("runs/latest.tmp", "runs/latest"))
        fprintf(stderr, "vkclr train: could not point runs/latest at %s: %s\n", rv->out, strerror(errno));
    return VKC_OK;
}

/* The output directory (rank 0), once every check has passed: made (--out auto: a new one),
 * what interrupted writes left removed, the old run's files removed (--force: nothing of it is
 * mistaken for the new run's), and a resumed run's results.json (it is written again when the
 * run ends). */
int prepare_out(Run *r)
{
    const ResolvedRun *rv = &r->rv;
    if (!rv->out[0]) return new_run_dir(r);
    const char *out = rv->out;
    char path[1200];
    if (vkc_make_dirs(out) || remove_outputs(out, rv->replace_run, true)) return VKC_ERR;
    snprintf(path, sizeof path, "%s/results.json", out);
    if (rv->resume_dir && remove(path) && errno != ENOENT) return vkc_fail("cannot remove %s: %s", path, strerror(errno));
    return VKC_OK;
}

/* Resuming: keep the metrics lines of steps up to the checkpoint's and drop the rest, the lines
 * the resumed run writes again (a run stopped by a NaN, killed or out of disk space logged past
 * its last checkpoint) and a last line a crash cut short, so that metrics.jsonl reads as one
 * uninterrupted run. */
static int keep_metrics_until(const char *path, int64_t step)
{
    FILE *f = vkc_fopen_regular(path, "rb");
    if (!f) return errno == ENOENT ? VKC_OK : VKC_ERR; /* none: resuming into a new --out directory */
    char *kept = NULL, *line = NULL;
    size_t kept_size = 0, cap = 0;
    FILE *o = open_memstream(&kept, &kept_size);
    ssize_t n;
    while (o && (n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] != '\n') break; /* cut short */
        cJSON *j = cJSON_Parse(line);
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "step");
        bool keep = cJSON_IsNumber(s) && s->valuedouble <= (double)step;
        cJSON_Delete(j);
        if (keep) fputs(line, o);
    }
    free(line);
    bool bad = ferror(f);
    fclose(f);
    if (!o || fclose(o)) {
        free(kept);
        return vkc_fail("out of host memory reading %s", path);
    }
    int rc = bad ? vkc_fail("reading %s: %s", path, strerror(errno)) : vkc_write_text_atomic(path, kept);
    free(kept);
    return rc;
}

/* A JSON document (malloc'd text, freed here; NULL: out of memory) as the file out/name,
 * ending with a newline, written atomically. */
static int write_json_file(const Run *r, const char *name, char *json)
{
    if (!json) return vkc_fail("out of host memory");
    size_t n = strlen(json);
    char *text = realloc(json, n + 2);
    if (!text) {
        free(json);
        return vkc_fail("out of host memory");
    }
    text[n] = '\n', text[n + 1] = 0;
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", r->rv.out, name);
    int rc = vkc_write_text_atomic(path, text);
    free(text);
    return rc;
}

/* The output directory (rank 0): config.json, metrics.jsonl (continued when resuming), the
 * curves' thread, and --dump-steps' state before the first step. */
int open_outputs(Run *r)
{
    const ResolvedRun *rv = &r->rv;
    Outputs *o = &r->out;
    if (!rv->lead) return VKC_OK;
    if (write_json_file(r, "config.json", vkc_config_to_json(&r->record, true)) ||
        train_skipped_open(&r->skipped, rv->out, &r->ds, r->eval))
        return VKC_ERR;
    char path[1100];
    snprintf(path, sizeof path, "%s/metrics.jsonl", rv->out);
    if (rv->start && keep_metrics_until(path, rv->start)) return VKC_ERR;
    if (!rv->start && remove(path) && errno != ENOENT) return vkc_fail("cannot remove %s: %s", path, strerror(errno));
    o->metrics = vkc_fopen_regular(path, "ab");
    if (!o->metrics) return VKC_ERR;
    if (vkc_plotter_start(&o->plotter, rv->out)) fprintf(stderr, "vkclr: warning: %s; no curves.png\n", vkc_error());
    /* --dump-steps: the state before the first step; then the views and the state of the
     * first steps (src/train/dump.h). */
    r->state.step = rv->start;
    r->state.epoch = rv->start / rv->steps_per_epoch;
    int64_t left = rv->end - rv->start, k = r->cfg.dump_steps < left ? r->cfg.dump_steps : left;
    return train_dump_begin(&o->dump, &r->record, &r->g.model, &r->g.opt, k, &r->state);
}

/* ---------------------------------------------------------------- the terminal */

/* Whether the run multiplies on cooperative matrices (tensor cores): how many of its convolution
 * passes, its training GEMMs (head, loss), its evaluation's (kNN, probe); printed at the start,
 * in results.json. */
static bool coop_usage(const Run *r, int *passes, int *total)
{
    *passes = vkc_model_coop_passes(&r->g.model, total);
    return r->g.k.gemm.operands != VKC_F32 || r->g.eval_gemm.operands != VKC_F32 || *passes > 0;
}

void print_start(const Run *r)
{
    const VkcTrainConfig *c = &r->cfg;
    const ResolvedRun *rv = &r->rv;
    if (rv->quiet) return;
    printf("%s %s width %d (%llu parameters, %d features), batch %d (%d views), %d training images, %lld "
           "steps/epoch, %d epochs, %s lr %.4g (peak %.4g), loss %s%s, %s\n",
           r->ds.name, vkc_name_of(vkc_encoder_names, (int)rv->model.encoder), rv->model.width,
           (unsigned long long)vkc_model_param_count(&r->g.model), r->g.model.features, rv->global_batch,
           2 * rv->global_batch, vkc_dataset_ssl_count(&r->train_ds), (long long)rv->steps_per_epoch, c->epochs,
           vkc_name_of(vkc_optim_names, (int)c->optimizer), rv->lr, rv->peak_lr, vkc_loss_kind_name(c->loss),
           rv->model.loss_logz ? " (learned log Z)" : "", vkc_dtype_name(rv->model.act_dtype));
    if (rv->ranks > 1)
        printf("%d ranks x batch %d, global negatives, %s batch norm, rank 0 writes %s\n", rv->ranks, c->batch,
               rv->sync_bn ? "synchronised" : "per-rank", rv->out);
    printf("device memory: %.1f MiB allocated (%.1f MiB model activations and gradients, %.1f MiB staging)\n",
           r->res->device_bytes / 1048576.0, r->g.model.activation_bytes / 1048576.0, r->g.host.allocated / 1048576.0);
    int passes, total;
    VkcDtype d = rv->model.act_dtype;
    if (coop_usage(r, &passes, &total))
        printf("cooperative matrices (%s, %ux%ux%u): %d of %d convolution passes, the GEMMs of %s\n",
               vkc_dtype_name(d), r->g.ctx.coop.shape[d].M, r->g.ctx.coop.shape[d].N, r->g.ctx.coop.shape[d].K, passes,
               total, r->g.k.gemm.operands != VKC_F32 ? "training and evaluation" : "evaluation (kNN, probe)");
    if (rv->start)
        printf("resuming %s at step %lld (epoch %lld)\n", rv->out, (long long)rv->start,
               (long long)(rv->start / rv->steps_per_epoch));
    else if (rv->resume_dir)
        printf("resuming %s, which stopped before its first checkpoint: the run starts again from step 0 with the "
               "configuration of %s\n", rv->out, rv->resume_file);
    train_data_print(c, &r->ds, r->eval, &r->aug, rv->preset, rv->out, r->skipped.count);
    fflush(stdout);
}

/* Print a progress line: in place on a terminal, one line per log interval otherwise. */
static void progress(const Run *r, int64_t step, float loss, float acc, double ips, double eta, bool newline)
{
    const ResolvedRun *rv = &r->rv;
    if (rv->quiet) return;
    int64_t epoch = (step - 1) / rv->steps_per_epoch + 1;
    if (r->iv.tty) {
        int width = 24, done = (int)(width * step / (rv->end ? rv->end : 1));
        char bar[32];
        for (int i = 0; i < width; i++) bar[i] = i < done ? '#' : '.';
        bar[width] = 0;
        fprintf(stderr, "\r[%s] epoch %lld/%d step %lld/%lld loss %.4f acc %.3f %.0f img/s ETA %02d:%02d ", bar,
                (long long)epoch, r->cfg.epochs, (long long)step, (long long)rv->end, loss, acc, ips, (int)(eta / 60),
                (int)fmod(eta, 60));
        if (newline) fprintf(stderr, "\n");
        fflush(stderr);
    } else {
        printf("epoch %lld step %lld/%lld loss %.4f pos-acc %.3f %.1f images/s ETA %.0f s\n", (long long)epoch,
               (long long)step, (long long)rv->end, loss, acc, ips, eta);
        fflush(stdout);
    }
}

/* ---------------------------------------------------------------- metrics.jsonl */

/* Write one line of metrics.jsonl, whole and flushed, or fail naming the file: a full disk must
 * stop the run, not leave a metrics file that silently lacks lines. */
static int metrics_line(Run *r, cJSON *line)
{
    char *text = cJSON_PrintUnformatted(line);
    cJSON_Delete(line);
    if (!text) return vkc_fail("out of host memory");
    errno = 0;
    bool bad = fprintf(r->out.metrics, "%s\n", text) < 0;
    bad = fflush(r->out.metrics) != 0 || bad;
    free(text);
    if (bad) return vkc_fail("writing %s/metrics.jsonl: %s", r->rv.out, strerror(errno ? errno : EIO));
    vkc_plotter_request(r->out.plotter);
    return VKC_OK;
}

/* A metrics line's first members: the step and the epoch it ends. */
static cJSON *line_at(const Run *r, int64_t done)
{
    cJSON *line = cJSON_CreateObject();
    cJSON_AddNumberToObject(line, "step", (double)done);
    cJSON_AddNumberToObject(line, "epoch", (double)done / r->rv.steps_per_epoch);
    return line;
}

/* One line of metrics.jsonl (rank 0) and of progress, for the interval ending at step `done`. */
int log_interval(Run *r, int64_t done, float last_loss, bool epoch_end)
{
    const ResolvedRun *rv = &r->rv;
    Interval *iv = &r->iv;
    double tnow = train_now();
    double ips = iv->here * rv->global_batch / (tnow - iv->start);
    double steady_ips = done > iv->steady_from ? (done - iv->steady_from) * rv->global_batch / (tnow - iv->t_steady) : ips;
    double eta = steady_ips > 0 ? (double)(rv->end - done) * rv->global_batch / steady_ips : 0;
    double mean[VKC_CONTRASTIVE_METRICS];
    for (int k = 0; k < VKC_CONTRASTIVE_METRICS; k++) mean[k] = iv->msum[k] / iv->n;
    if (rv->lead) {
        cJSON *line = line_at(r, done);
        /* Interval means of the loss's metrics (vkclr/loss.h, docs/losses.md). */
        for (int k = 0; k < VKC_CONTRASTIVE_METRICS; k++)
            if (vkc_contrastive_has_metric(&r->g.loss, k)) cJSON_AddNumberToObject(line, vkc_metric_names[k], mean[k]);
        cJSON_AddNumberToObject(line, "lr", vkc_train_lr(rv->peak_lr, done - 1, rv->warmup, rv->total));
        cJSON_AddNumberToObject(line, "images_per_s", ips);
        cJSON_AddNumberToObject(line, "steps_averaged", iv->n);
        loss_scale_json(r, line, r->scale.skipped_in_interval);
        cJSON_AddNumberToObject(line, "last_loss", last_loss);
        if (metrics_line(r, line)) return VKC_ERR;
    }
    progress(r, done, (float)mean[VKC_METRIC_LOSS], (float)mean[VKC_METRIC_ACCURACY], ips, eta, epoch_end && iv->tty);
    memset(iv->msum, 0, sizeof iv->msum);
    iv->n = iv->here = 0;
    r->scale.skipped_in_interval = 0;
    iv->start = tnow;
    return VKC_OK;
}

/* The kNN monitor at an epoch end: one line of metrics.jsonl. */
int knn_monitor(Run *r, int64_t done)
{
    const VkcTrainConfig *c = &r->cfg;
    TrainEval mon;
    if (train_evaluate(&r->g.model, &r->g.eval_gemm, &r->aug, r->eval, c, &r->rv.model, false, &mon)) return VKC_ERR;
    cJSON *line = line_at(r, done);
    cJSON_AddNumberToObject(line, "knn_top1", mon.trained.knn_top1);
    cJSON_AddNumberToObject(line, "knn_top5", mon.trained.knn_top5);
    cJSON_AddNumberToObject(line, "knn_k", mon.trained.knn_k);
    cJSON_AddNumberToObject(line, "knn_bank", mon.trained.knn_bank);
    cJSON_AddNumberToObject(line, "knn_queries", mon.trained.test_images);
    cJSON_AddNumberToObject(line, "knn_seconds", mon.trained.seconds);
    if (metrics_line(r, line)) return VKC_ERR;
    if (!r->rv.quiet && !r->iv.tty)
        printf("epoch %lld kNN monitor (%u-image bank, %u test images): top-1 %.2f%%\n",
               (long long)(done / r->rv.steps_per_epoch), mon.trained.knn_bank, mon.trained.test_images,
               100 * mon.trained.knn_top1);
    return VKC_OK;
}

/* ---------------------------------------------------------------- checkpoints */

/* Where the run stands after step `done`: the step, the metrics interval in progress, whether
 * the kNN monitor of this step is still owed, the step's loss (the loss scale is kept current). */
static void set_state(Run *r, int64_t done, bool knn_pending)
{
    _Static_assert(VKC_CONTRASTIVE_METRICS <= VKC_CHECKPOINT_MAX_SUMS, "raise VKC_CHECKPOINT_MAX_SUMS");
    VkcTrainState *st = &r->state;
    st->step = done;
    st->epoch = done / r->rv.steps_per_epoch;
    st->interval_steps = r->iv.n;
    st->interval_nsums = VKC_CONTRASTIVE_METRICS;
    memcpy(st->interval_sums, r->iv.msum, sizeof r->iv.msum);
    st->knn_pending = knn_pending;
    st->have_last = r->last_known;
    st->last_loss = r->res->last_loss;
    st->last_accuracy = r->res->last_accuracy;
}

/* The checkpoint after step `done` (rank 0). */
int checkpoint(Run *r, int64_t done, bool knn_pending)
{
    set_state(r, done, knn_pending);
    return vkc_checkpoint_save(r->rv.ckpt_path, &r->g.model, &r->g.opt, &r->record, &r->state);
}

/* --snapshot-minutes: once training has run T minutes, the checkpoint as of now, kept as
 * checkpoint-<T>min.safetensors (the probe after T minutes: bench/quality_per_minute.sh). */
int snapshot(Run *r, int64_t done)
{
    Outputs *o = &r->out;
    if (o->next_snapshot >= o->nsnapshots || train_now() - o->loop_start < 60 * o->snapshot_min[o->next_snapshot])
        return VKC_OK;
    char path[1200];
    snprintf(path, sizeof path, "%s/checkpoint-%gmin.safetensors", r->rv.out, o->snapshot_min[o->next_snapshot]);
    while (o->next_snapshot < o->nsnapshots && train_now() - o->loop_start >= 60 * o->snapshot_min[o->next_snapshot])
        o->next_snapshot++;
    set_state(r, done, false);
    return vkc_checkpoint_save(path, &r->g.model, &r->g.opt, &r->record, &r->state);
}

/* ---------------------------------------------------------------- the end */

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

static void print_end(const Run *r, int64_t done)
{
    const ResolvedRun *rv = &r->rv;
    const VkcTrainResult *res = r->res;
    if (rv->quiet) return;
    if (res->interrupted) {
        printf("interrupted after step %lld: checkpoint %s written; continue with --resume %s\n", (long long)done,
               rv->ckpt_path, rv->out);
        return;
    }
    printf("trained %lld steps in %.1f s: %.1f images/s (%.1f views/s) after the first step; the GPU waited for "
           "augmentation before %lld of them (%.3f s)\n",
           (long long)(done - rv->start), res->seconds, res->images_per_second, 2 * res->images_per_second,
           (long long)res->gpu_waits, res->gpu_wait_seconds);
    if (r->skipped.at_decode)
        printf("--skip-bad: %d file%s failed to decode while training and %s replaced by the next image (listed in "
               "%s)\n", r->skipped.at_decode, r->skipped.at_decode == 1 ? "" : "s",
               r->skipped.at_decode == 1 ? "was" : "were", r->skipped.path);
    if (rv->ranks > 1)
        printf("communication: %.1f s in collectives (%.1f%% of the run), per step and rank %.1f KiB gradients, "
               "%.1f KiB embeddings, %.1f KiB batch-norm sums\n",
               res->comm_seconds, 100 * res->comm_seconds / res->seconds, res->comm_bytes_per_step[0] / 1024,
               res->comm_bytes_per_step[1] / 1024, res->comm_bytes_per_step[2] / 1024);
    fflush(stdout);
}

/* results.json (rank 0). */
static int write_results(const Run *r, int64_t done, const TrainEval *ev, const char *evaluation)
{
    const ResolvedRun *rv = &r->rv;
    const VkcTrainResult *res = r->res;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "steps", (double)done);
    cJSON_AddStringToObject(j, "evaluation", evaluation);
    cJSON_AddNumberToObject(j, "epochs", (double)(done / rv->steps_per_epoch));
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
    cJSON_AddStringToObject(j, "precision", vkc_dtype_name(rv->model.act_dtype));
    int passes, total;
    if (coop_usage(r, &passes, &total)) {
        VkcCoopShape s = r->g.ctx.coop.shape[rv->model.act_dtype];
        char shape[48];
        snprintf(shape, sizeof shape, "%ux%ux%u", s.M, s.N, s.K);
        cJSON *cm = cJSON_AddObjectToObject(j, "cooperative_matrices");
        cJSON_AddStringToObject(cm, "shape", shape);
        cJSON_AddNumberToObject(cm, "conv_passes", passes);
        cJSON_AddNumberToObject(cm, "conv_passes_total", total);
        cJSON_AddBoolToObject(cm, "training_gemms", r->g.k.gemm.operands != VKC_F32);
        cJSON_AddBoolToObject(cm, "evaluation_gemms", r->g.eval_gemm.operands != VKC_F32);
    } else {
        cJSON_AddNullToObject(j, "cooperative_matrices");
    }
    loss_scale_json(r, j, (double)res->skipped_steps);
    train_evaluate_json(ev, j);
    cJSON_AddNumberToObject(j, "device_memory_bytes", (double)res->device_bytes);
    cJSON_AddNumberToObject(j, "peak_host_rss_kib", (double)peak_rss_kib());
    cJSON_AddNumberToObject(j, "skipped_files", r->skipped.count);
    cJSON_AddNumberToObject(j, "data_load_seconds", r->ds.load_seconds);
    cJSON_AddNumberToObject(j, "ranks", rv->ranks);
    cJSON_AddBoolToObject(j, "sync_bn", rv->sync_bn);
    cJSON_AddNumberToObject(j, "comm_seconds", res->comm_seconds);
    cJSON_AddNumberToObject(j, "comm_share", res->seconds > 0 ? res->comm_seconds / res->seconds : 0);
    cJSON *comm = cJSON_AddObjectToObject(j, "comm_bytes_per_step");
    cJSON_AddNumberToObject(comm, "gradients", res->comm_bytes_per_step[0]);
    cJSON_AddNumberToObject(comm, "embeddings", res->comm_bytes_per_step[1]);
    cJSON_AddNumberToObject(comm, "bn_sums", res->comm_bytes_per_step[2]);
    profile_report(r, j);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    return write_json_file(r, "results.json", text);
}

/* What results.json says of the evaluation. */
static void evaluation_status(const Run *r, int64_t done, char *buf, size_t size)
{
    const VkcTrainConfig *c = &r->cfg;
    if (done < r->rv.total)
        snprintf(buf, size, "not yet: stopped after epoch %lld of %d (--stop-after)",
                 (long long)(done / r->rv.steps_per_epoch), c->epochs);
    else if (!r->eval->test.n)
        snprintf(buf, size, "skipped: --%s %.600s has no test images", r->eval == &r->ds ? "data" : "eval-data",
                 r->eval == &r->ds ? c->data : c->eval_data);
    else if (c->knn_k == 0 && c->probe_epochs == 0) snprintf(buf, size, "skipped: --probe-epochs 0 and --knn-k 0");
    else snprintf(buf, size, "done");
}

/* After the loop: throughput and communication figures, then (a finished run) the probe and
 * kNN, and results.json. */
int finish_run(Run *r, int64_t done, double t0)
{
    const VkcTrainConfig *c = &r->cfg;
    const ResolvedRun *rv = &r->rv;
    VkcTrainResult *res = r->res;
    double t1 = train_now();
    res->steps = done;
    res->epoch = done / rv->steps_per_epoch;
    res->seconds = t1 - t0;
    res->ranks = rv->ranks;
    if (rv->ranks > 1) {
        int64_t steps = done - rv->start;
        res->comm_seconds = r->g.dstep.comm_seconds;
        for (int k = 0; k < DIST_KINDS; k++)
            res->comm_bytes_per_step[k] = steps > 0 ? (double)r->g.dstep.bytes[k] / steps : 0;
    }
    const Interval *iv = &r->iv;
    res->images_per_second =
        done > iv->steady_from && iv->steady_from >= 0 ? (done - iv->steady_from) * rv->global_batch / (t1 - iv->t_steady)
                                                      : 0;
    if (iv->tty) fprintf(stderr, "\n");
    vkc_producer_destroy(r->producer);
    r->producer = NULL;
    /* A stop asked for at the last step of a --stop-after run (its checkpoint is written). */
    if (done < rv->total && vkc_interrupt_pending()) res->interrupted = true;
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
    evaluation_status(r, done, evaluation, sizeof evaluation);
    if (rv->lead && done == rv->total) {
        if (train_evaluate(&r->g.model, &r->g.eval_gemm, &r->aug, r->eval, c, &rv->model, true, &ev)) {
            if (!vkc_interrupt_pending()) return VKC_ERR;
            res->interrupted = true;
            if (!rv->quiet)
                printf("interrupted during the evaluation: checkpoint %s (the end of training) kept; vkclr train "
                       "--resume %s runs the evaluation again\n",
                       rv->ckpt_path, rv->out);
            return VKC_OK;
        }
        res->probe_top1 = ev.trained.probe_top1, res->probe_top5 = ev.trained.probe_top5;
        res->knn_top1 = ev.trained.knn_top1, res->knn_top5 = ev.trained.knn_top5;
        if (!rv->quiet && strcmp(evaluation, "done")) printf("evaluation %s\n", evaluation);
        else if (!rv->quiet) train_evaluate_print(&ev, c);
    }
    if (rv->lead && write_results(r, done, &ev, evaluation)) return VKC_ERR;
    if (!rv->quiet)
        printf("results in %s (config.json, metrics.jsonl, curves.png, checkpoint.safetensors, results.json)\n", rv->out);
    return VKC_OK;
}
