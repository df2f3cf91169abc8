/* A refused command changes nothing, on a device (lavapipe), through the built binary: every
 * refusal of train --resume, probe, export and tune leaves every file under the test's folder as
 * it was (a digest of each file before and after: a refused resume once removed results.json),
 * names the file or flag, and never blocks (a FIFO where an output or input belongs).
 *
 * Also what those commands do with outputs they cannot write: a file-size limit (RLIMIT_FSIZE
 * with SIGXFSZ at its default: vkclr must ignore the signal itself and report EFBIG) and a full
 * disk (a tmpfs of its own, fixtures.h) are an error naming the file, exit status 1, no
 * temporary file left; a checkpoint's NaN weights, keys given twice and a checkpoint's recorded
 * data that is gone are refused naming the tensor, the key, the checkpoint; labels of one split
 * beyond the other's classes are warned about naming both splits; SIGINT reaches train and
 * export even while they are blocked opening a FIFO (exit status 130, not a death by signal).
 *
 * argv[1]: path of the built vkclr binary. Tiny runs: synthetic 8x8 images, a convnet of width 2. */
#include <math.h>
#include <sys/syscall.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "fixtures.h"
#include "vkclr/npy.h"
#include "vkclr/train.h"

static const char *vkclr_binary;
static char run_dir[256]; /* a finished 2-epoch run (8 steps): checkpoint, config, metrics, results */

static int setup(void **state)
{
    fixture_dir(run_dir);
    *state = run_dir;
    VkcTrainConfig c = fixture_tiny_run(run_dir, 16, 2, 2, 8); /* 4 steps per epoch */
    snprintf(c.data, sizeof c.data, "synthetic:8x8x1:64");
    c.log_every = 3;
    VkcTrainResult res;
    if (vkc_train_run(&c, NULL, NULL, NULL, &res) || res.steps != 8) {
        fprintf(stderr, "tiny run failed: %s\n", vkc_error());
        return -1;
    }
    return 0;
}

static void refused(const char *root, int code, const char *args, const char *a, const char *b)
{
    fixture_refused(vkclr_binary, root, code, args, a, b);
}

static bool exists(const char *path) { return access(path, F_OK) == 0; }

/* The run's files copied into dir/name. */
static void copy_run(const char *dir, const char *name)
{
    static const char *const files[] = {"checkpoint.safetensors", "config.json", "metrics.jsonl", "results.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char src[400], rel[400];
        snprintf(src, sizeof src, "%s/%s", run_dir, files[i]);
        snprintf(rel, sizeof rel, "%s/%s", name, files[i]);
        size_t n;
        uint8_t *b = fixture_read(src, &n);
        fixture_write(dir, rel, b, n);
        free(b);
    }
}

/* A copy of the run in dir/name whose checkpoint has metadata `key` (or configuration key
 * config_key) set to `value`, re-signed. */
static void edited_run(const char *dir, const char *name, const char *key, const char *config_key, cJSON *value)
{
    char src[400], rel[400];
    copy_run(dir, name);
    snprintf(src, sizeof src, "%s/checkpoint.safetensors", run_dir);
    snprintf(rel, sizeof rel, "%s/checkpoint.safetensors", name);
    fixture_checkpoint_edit(src, dir, rel, key, config_key, value);
}

/* A copy of the run in dir/name whose checkpoint has a NaN as the first value of its first
 * tensor (by the header's order of data), re-signed: the checksum vouches for it. */
static void nan_run(const char *dir, const char *name)
{
    copy_run(dir, name);
    char path[600];
    snprintf(path, sizeof path, "%s/%s/checkpoint.safetensors", dir, name);
    size_t n;
    uint8_t *file = fixture_read(path, &n);
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)file[i] << (8 * i);
    float nan = NAN;
    memcpy(file + 8 + hlen, &nan, 4);
    fixture_resign(file, n);
    char rel[400];
    snprintf(rel, sizeof rel, "%s/checkpoint.safetensors", name);
    fixture_write(dir, rel, file, n);
    free(file);
}

/* A copy whose checkpoint metadata has a key twice (the later "step" would say another step). */
static void duplicate_key_run(const char *dir, const char *name)
{
    copy_run(dir, name);
    char path[600];
    snprintf(path, sizeof path, "%s/%s/checkpoint.safetensors", dir, name);
    size_t n;
    uint8_t *file = fixture_read(path, &n);
    char *at = memmem(file, n, "\"epoch\":\"2\"", 11);
    if (!at) fail_msg("no epoch in %s", path);
    memcpy(at, "\"step\" :\"3\"", 11); /* same length: the header keeps its size */
    fixture_resign(file, n);
    char rel[400];
    snprintf(rel, sizeof rel, "%s/checkpoint.safetensors", name);
    fixture_write(dir, rel, file, n);
    free(file);
}

/* ---------------------------------------------------------------- refusals change nothing */

static void test_resume_refusals(void **state)
{
    (void)state;
    if (!vkclr_binary) skip();
    char dir[256], args[1600], path[600];
    fixture_dir(dir);
    copy_run(dir, "run");
    edited_run(dir, "shape", NULL, "data", cJSON_CreateString("synthetic:12x12x1:64"));
    edited_run(dir, "gone", NULL, "data", cJSON_CreateString("idx:/nonexistent-data"));
    nan_run(dir, "nan");
    duplicate_key_run(dir, "dup");
    copy_run(dir, "fifo");
    snprintf(path, sizeof path, "%s/fifo/metrics.jsonl", dir);
    remove(path);
    assert_int_equal(mkfifo(path, 0644), 0);
    copy_run(dir, "dirres");
    snprintf(path, sizeof path, "%s/dirres/results.json", dir);
    remove(path);
    mkdir(path, 0755);
    mkdir(fixture_path(dir, "empty/x"), 0755);
    copy_run(dir, "other"); /* a run in the way of --out */
    /* config.json alone (a run stopped before its first checkpoint) with a key twice. */
    char cfg[400];
    snprintf(cfg, sizeof cfg, "%s/config.json", run_dir);
    size_t n;
    char *text = (char *)fixture_read(cfg, &n), dup[8192];
    snprintf(dup, sizeof dup, "{\"seed\": 77,%s", text + 1);
    fixture_write(dir, "dupcfg/config.json", dup, strlen(dup));
    free(text);

    const char *r = dir;
    snprintf(args, sizeof args, "train --resume %s/run --stop-after 1 --epochs 3", r);
    refused(r, 1, args, "--stop-after 1", "already at step 8");
    snprintf(args, sizeof args, "train --resume %s/run --epochs 1", r);
    refused(r, 1, args, "resume with at least --epochs 2", NULL);
    snprintf(args, sizeof args, "train --resume %s/run --device 99 --epochs 3", r);
    refused(r, 1, args, "99", NULL);
    snprintf(args, sizeof args, "train --resume %s/run --width 4", r);
    refused(r, 2, args, "--width 4", "trained with --width 2");
    snprintf(args, sizeof args, "train --resume %s/run --epochs 3 --out %s/other", r, r);
    refused(r, 1, args, "already holds a run", NULL);
    snprintf(args, sizeof args, "train --resume %s/shape --epochs 3", r);
    refused(r, 1, args, "shape/checkpoint.safetensors", "was trained on 8x8x1 images");
    snprintf(args, sizeof args, "train --resume %s/gone --epochs 3", r);
    refused(r, 1, args, "the data recorded in", "gone/checkpoint.safetensors (--data idx:/nonexistent-data)");
    snprintf(args, sizeof args, "train --resume %s/nan --epochs 3", r);
    refused(r, 1, args, "nan/checkpoint.safetensors", "holds NaN at element 0");
    snprintf(args, sizeof args, "train --resume %s/dup --epochs 3", r);
    refused(r, 1, args, "dup/checkpoint.safetensors", "key 'step' twice");
    snprintf(args, sizeof args, "train --resume %s/fifo --epochs 3", r);
    refused(r, 1, args, "fifo/metrics.jsonl", "a FIFO, not a regular file");
    snprintf(args, sizeof args, "train --resume %s/dirres --epochs 3", r);
    refused(r, 1, args, "dirres/results.json", "a directory");
    snprintf(args, sizeof args, "train --resume %s/empty --epochs 3", r);
    refused(r, 1, args, "no run to continue there", NULL);
    snprintf(args, sizeof args, "train --resume %s/dupcfg", r);
    refused(r, 1, args, "dupcfg/config.json", "key 'seed' twice");
    /* A new run onto a run (without --force), onto a FIFO's folder, with a bad config. */
    snprintf(args, sizeof args, "train --data synthetic:8x8x1:64 --width 2 --batch 16 --epochs 1 --out %s/run", r);
    refused(r, 1, args, "already holds a run", "--resume");
    snprintf(args, sizeof args, "train --data synthetic:8x8x1:64 --width 2 --batch 16 --epochs 1 --out %s/fifo --force", r);
    refused(r, 1, args, "a FIFO", NULL);
    snprintf(args, sizeof args, "train --data idx:%s/nothing --width 2 --batch 16 --epochs 1 --out %s/new", r, r);
    refused(r, 1, args, "nothing", NULL);
    assert_false(exists(fixture_path(r, "new")));
    fixture_cleanup(dir);
}

static void test_probe_export_refusals(void **state)
{
    (void)state;
    if (!vkclr_binary) skip();
    char dir[256], args[1600], fifo[300];
    fixture_dir(dir);
    const char *r = dir;
    copy_run(dir, "run");
    edited_run(dir, "gone", NULL, "data", cJSON_CreateString("idx:/nonexistent-data"));
    nan_run(dir, "nan");
    duplicate_key_run(dir, "dup");
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    fixture_idx(dir, "notrain", 0, 10, -1, 0);
    /* An export already there, which every refused export must leave as it was. */
    char out[8192];
    snprintf(args, sizeof args, "export --checkpoint %s/run --out %s/e --limit 20", r, r);
    assert_int_equal(fixture_run(vkclr_binary, args, out, sizeof out), 0);

    static const char *const probe_tail = "--epochs 1 --no-knn --quiet";
    snprintf(args, sizeof args, "probe --checkpoint %s/nan %s --out %s/p.json", r, probe_tail, r);
    refused(r, 1, args, "nan/checkpoint.safetensors", "holds NaN");
    snprintf(args, sizeof args, "probe --checkpoint %s/gone %s --out %s/p.json", r, probe_tail, r);
    refused(r, 1, args, "idx:/nonexistent-data (recorded in checkpoint", "/gone");
    snprintf(args, sizeof args, "probe --checkpoint %s/dup %s --out %s/p.json", r, probe_tail, r);
    refused(r, 1, args, "key 'step' twice", NULL);
    snprintf(args, sizeof args, "probe --checkpoint %s/run %s --out %s/run/checkpoint.safetensors", r, probe_tail, r);
    refused(r, 2, args, "which this command reads", NULL);
    snprintf(args, sizeof args, "probe --checkpoint %s/run %s --out %s", r, probe_tail, fifo);
    refused(r, 1, args, "a FIFO", NULL);
    snprintf(args, sizeof args, "probe --checkpoint %s/run %s --out %s/run", r, probe_tail, r);
    refused(r, 1, args, "a directory", NULL);
    snprintf(args, sizeof args, "probe --checkpoint %s/run %s --device 99 --out %s/p.json", r, probe_tail, r);
    refused(r, 1, args, "99", NULL);
    snprintf(args, sizeof args, "probe --pixels --data idx:%s/notrain %s --out %s/p.json", r, probe_tail, r);
    refused(r, 1, args, "no training images", NULL);

    snprintf(args, sizeof args, "export --checkpoint %s/run --out %s/run", r, r);
    refused(r, 1, args, "/run holds", "nothing but its own files");
    snprintf(args, sizeof args, "export --checkpoint %s/run/checkpoint.safetensors --out %s/run/checkpoint.safetensors",
             r, r);
    refused(r, 2, args, "the checkpoint it exports", NULL);
    snprintf(args, sizeof args, "export --checkpoint %s/run --out %s/run/config.json", r, r);
    refused(r, 1, args, "not a directory", NULL);
    snprintf(args, sizeof args, "export --checkpoint %s/run --out %s", r, fifo);
    refused(r, 1, args, "a FIFO", NULL);
    snprintf(args, sizeof args, "export --checkpoint %s/nan --out %s/e", r, r);
    refused(r, 1, args, "nan/checkpoint.safetensors", "holds NaN");
    snprintf(args, sizeof args, "export --checkpoint %s/gone --out %s/e", r, r);
    refused(r, 1, args, "idx:/nonexistent-data (recorded in checkpoint", "/gone");
    snprintf(args, sizeof args, "export --checkpoint %s/dup --out %s/e", r, r);
    refused(r, 1, args, "key 'step' twice", NULL);
    snprintf(args, sizeof args, "export --checkpoint %s/run --device 99 --out %s/e", r, r);
    refused(r, 1, args, "99", NULL);
    snprintf(args, sizeof args, "export --pixels --data idx:%s/notrain --split train --out %s/e", r, r);
    refused(r, 1, args, "no images", NULL);
    fixture_cleanup(dir);
}

/* tune: a device that is not there, data that is not there, a cache where a directory or a FIFO
 * stands: refused before any timing; a dry run writes nothing. */
static void test_tune_refusals(void **state)
{
    (void)state;
    if (!vkclr_binary) skip();
    char dir[256], args[1600], cache[300];
    fixture_dir(dir);
    snprintf(cache, sizeof cache, "%s/tune.json", dir);
    fixture_write(dir, "tune.json", "{\"a tuning cache\": 1}", 21);
    setenv("VKCLR_TUNE_CACHE", cache, 1);
    static const char *const tiny = "--data synthetic:8x8x1:16 --width 2 --batch 2 --repeat 1";
    snprintf(args, sizeof args, "tune %s --device 99", tiny);
    refused(dir, 1, args, "99", NULL);
    snprintf(args, sizeof args, "tune --data idx:%s/nothing --width 2", dir);
    refused(dir, 1, args, "nothing", NULL);
    snprintf(args, sizeof args, "tune %s --dry-run", tiny);
    refused(dir, 0, args, "dry run: nothing stored", NULL);
    snprintf(cache, sizeof cache, "%s/adir", dir);
    mkdir(cache, 0755);
    setenv("VKCLR_TUNE_CACHE", cache, 1);
    snprintf(args, sizeof args, "tune %s", tiny);
    refused(dir, 1, args, "adir is a directory, not a regular file", NULL);
    snprintf(cache, sizeof cache, "%s/fifo", dir);
    assert_int_equal(mkfifo(cache, 0644), 0);
    setenv("VKCLR_TUNE_CACHE", cache, 1);
    refused(dir, 1, args, "a FIFO", NULL);
    unsetenv("VKCLR_TUNE_CACHE");
    fixture_cleanup(dir);
}

/* ---------------------------------------------------------------- outputs that cannot be written */

/* The files of `dir` named *.tmp: none may be left. */
static void assert_no_tmp(const char *dir)
{
    char *d = fixture_digest(dir);
    if (strstr(d, ".tmp ")) fail_msg("a temporary file was left in %s:\n%s", dir, d);
    free(d);
}

static long file_size(const char *dir, const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    if (stat(path, &st)) fail_msg("%s: %s", path, strerror(errno));
    return (long)st.st_size;
}

/* `vkclr args` under a file-size limit: the write that passes it fails with a message naming
 * `file` and EFBIG, exit status 1, no temporary file under dir. On Mesa >= 25 lavapipe the
 * limit also caps the driver's memfd-backed device memory, and the driver dies of SIGBUS before
 * vkclr writes a byte: that case is skipped saying so (the full-disk test covers the command). */
static void over_limit(const char *dir, const char *args, long limit, const char *file)
{
    char out[16384];
    FixtureEnd e = fixture_run_for(vkclr_binary, args, limit, 300, out, sizeof out);
    bool driver = e.signal == SIGBUS || (e.code == 1 && !strstr(out, "File too large") &&
                                         (strstr(out, "VK_ERROR_OUT_OF") || strstr(out, "device memory")));
    if (driver) {
        printf("SKIP this part: the driver %s under RLIMIT_FSIZE before vkclr wrote anything (lavapipe on Mesa >= 25 "
               "backs device memory with memfd files, which the limit caps); the full-disk test covers this command\n",
               e.signal == SIGBUS ? "died of SIGBUS" : "could not allocate device memory");
        return;
    }
    if (e.blocked || e.signal) fail_msg("'vkclr %s' under a file-size limit: %s %d", args, e.blocked ? "blocked" : "signal",
                                        e.signal);
    assert_int_equal(e.code, 1);
    if (!strstr(out, file) || !strstr(out, "File too large")) fail_msg("the message does not name %s and EFBIG", file);
    assert_no_tmp(dir);
}

static void test_file_size_limits(void **state)
{
    (void)state;
    if (!vkclr_binary) skip();
    char dir[256], args[1600], path[600];
    fixture_dir(dir);
    /* train: config.json and metrics.jsonl fit, the first checkpoint does not. */
    long cfg = file_size(run_dir, "config.json"), met = file_size(run_dir, "metrics.jsonl");
    long ck = file_size(run_dir, "checkpoint.safetensors"), limit = (cfg > met ? cfg : met) + 64;
    assert_true(limit < ck);
    snprintf(args, sizeof args,
             "train --data synthetic:8x8x1:64 --batch 16 --epochs 2 --width 2 --out-dim 8 --knn-k 0 --probe-epochs 0 "
             "--log-every 3 --out %s/run",
             dir);
    snprintf(path, sizeof path, "%s/run/checkpoint.safetensors", dir);
    over_limit(dir, args, limit, path);
    /* export: the features do not fit. */
    snprintf(args, sizeof args, "export --pixels --data synthetic:8x8x1:64 --split train --out %s/e", dir);
    snprintf(path, sizeof path, "%s/e/%s", dir, VKC_EXPORT_FEATURES);
    over_limit(dir, args, 1024, path);
    /* tune: the cache does not fit. */
    snprintf(path, sizeof path, "%s/tune.json", dir);
    setenv("VKCLR_TUNE_CACHE", path, 1);
    snprintf(args, sizeof args, "tune --data synthetic:8x8x1:16 --width 2 --batch 2 --repeat 1");
    over_limit(dir, args, 64, path);
    unsetenv("VKCLR_TUNE_CACHE");
    fixture_cleanup(dir);
}

/* A full disk (a tmpfs with room for what the run writes before its first checkpoint): the run
 * stops naming the checkpoint, exit status 1, nothing temporary left; tune the same for its
 * cache. The same paths as the file-size limit, on every driver. */
static void test_full_disks(void **state)
{
    (void)state;
    if (!vkclr_binary) skip();
    if (!fixture_small_disks_ok) {
        printf("SKIP: no private mount namespace here (neither root nor user namespaces): no full disk to test on\n");
        skip();
    }
    char dir[256], disk[300], args[1600], path[600], out[16384];
    fixture_dir(dir);
    snprintf(disk, sizeof disk, "%s/disk", dir);
    mkdir(disk, 0755);
    long cfg = file_size(run_dir, "config.json"), met = file_size(run_dir, "metrics.jsonl");
    fixture_small_disk(disk, 4096 * (2 + (cfg + met) / 4096 + 1), false);
    snprintf(args, sizeof args,
             "train --data synthetic:8x8x1:64 --batch 16 --epochs 2 --width 2 --out-dim 8 --knn-k 0 --probe-epochs 0 "
             "--log-every 3 --out %s/run",
             disk);
    FixtureEnd e = fixture_run_for(vkclr_binary, args, 0, 300, out, sizeof out);
    assert_false(e.blocked || e.signal);
    assert_int_equal(e.code, 1);
    if (!strstr(out, disk) || !strstr(out, "No space left on device")) fail_msg("the message does not name the file");
    assert_no_tmp(disk);
    /* tune's cache on a disk without a free page. */
    snprintf(path, sizeof path, "%s/tune.json", disk);
    fixture_small_disk(disk, fixture_disk_used(disk), true);
    setenv("VKCLR_TUNE_CACHE", path, 1);
    e = fixture_run_for(vkclr_binary, "tune --data synthetic:8x8x1:16 --width 2 --batch 2 --repeat 1", 0, 300, out,
                        sizeof out);
    unsetenv("VKCLR_TUNE_CACHE");
    assert_false(e.blocked || e.signal);
    assert_int_equal(e.code, 1);
    if (!strstr(out, path) || !strstr(out, "No space left on device")) fail_msg("the message does not name %s", path);
    assert_no_tmp(disk);
    fixture_small_disk_remove(disk);
    fixture_cleanup(dir);
}

/* ---------------------------------------------------------------- warnings and signals */

/* A training label (99) beyond every class of the test split (0-9): said loudly, naming both
 * splits and the label; the command goes on. */
static void test_labels_beyond_other_split(void **state)
{
    (void)state;
    if (!vkclr_binary) skip();
    char dir[256], args[1200], out[16384];
    fixture_dir(dir);
    fixture_idx(dir, "idx", 40, 20, 3, 99);
    snprintf(args, sizeof args, "probe --pixels --data idx:%s/idx --epochs 1 --no-knn --quiet", dir);
    FixtureEnd e = fixture_run_for(vkclr_binary, args, 0, 120, out, sizeof out);
    assert_int_equal(e.code, 0);
    const char *w = strstr(out, "warning");
    if (!w || !strstr(w, "training split") || !strstr(w, "test split") || !strstr(w, "99"))
        fail_msg("no warning naming both splits and the label 99:\n%s", out);
    fixture_cleanup(dir);
}

/* Wait until the process is blocked in open(2) (its main thread's /proc/PID/syscall names
 * openat for 200 ms on end), at most 60 s; false if /proc cannot tell (then a fixed wait
 * stands in). */
static bool wait_in_open(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
    for (int i = 0, in_open = 0; i < 6000; i++) {
        FILE *f = fopen(path, "r");
        long nr = -1;
        int got = f ? fscanf(f, "%ld", &nr) : 0;
        if (f) fclose(f);
        if (!f || got != 1) break;
        in_open = nr == SYS_openat ? in_open + 1 : 0;
        if (in_open == 20) return true;
        usleep(10000);
    }
    sleep(3);
    return false;
}

/* train and export blocked opening their data (a FIFO nobody writes to): SIGINT ends them with
 * exit status 130 (they stop, they are not killed), nothing written. */
static void test_sigint_while_blocked(void **state)
{
    (void)state;
    if (!vkclr_binary) skip();
    char dir[256], args[1200], log[300], fifo[300];
    fixture_dir(dir);
    fixture_idx(dir, "idx", 40, 20, -1, 0);
    snprintf(fifo, sizeof fifo, "%s/idx/train-images-idx3-ubyte", dir);
    remove(fifo);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    snprintf(log, sizeof log, "%s/log", dir);
    const char *cmds[2] = {"train --data idx:%s/idx --width 2 --batch 8 --epochs 1 --out %s/run",
                           "export --pixels --data idx:%s/idx --split train --out %s/e"};
    for (int k = 0; k < 2; k++) {
        snprintf(args, sizeof args, cmds[k], dir, dir);
        pid_t pid = fixture_spawn(vkclr_binary, args, log, 0);
        bool seen = wait_in_open(pid);
        printf("%s\n", seen ? "blocked in open(2), as /proc/PID/syscall shows" : "(/proc cannot show it: waited 3 s)");
        kill(pid, SIGINT);
        FixtureEnd e = fixture_wait_for(pid, 30);
        size_t n;
        char *text = (char *)fixture_read(log, &n);
        printf("vkclr %s, SIGINT while blocked -> %s %d:\n%s", args, e.blocked ? "BLOCKED" : e.signal ? "signal" : "status",
               e.signal ? e.signal : e.code, text);
        free(text);
        if (e.blocked) fail_msg("'vkclr %s' did not stop on SIGINT", args);
        if (e.signal) fail_msg("'vkclr %s' died of signal %d instead of exiting with status 130", args, e.signal);
        assert_int_equal(e.code, 130);
        assert_false(exists(fixture_path(dir, "run/config.json")));
        assert_false(exists(fixture_path(dir, "e")));
    }
    fixture_cleanup(dir);
}

int main(int argc, char **argv)
{
    fixture_small_disks_init(); /* first, while this process has one thread */
    if (argc > 1) vkclr_binary = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_refusals),      cmocka_unit_test(test_probe_export_refusals),
        cmocka_unit_test(test_tune_refusals),        cmocka_unit_test(test_file_size_limits),
        cmocka_unit_test(test_full_disks),           cmocka_unit_test(test_labels_beyond_other_split),
        cmocka_unit_test(test_sigint_while_blocked),
    };
    return cmocka_run_group_tests(tests, setup, fixture_teardown_dir);
}
