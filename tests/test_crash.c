/* Crash consistency of vkclr train: a small run killed at random moments (SIGKILL after a random
 * progress line plus a random delay, or at a random time; SIGINT; a full disk: the run folder
 * is a tmpfs of its own, shrunk before the attempt to what it holds plus a few pages, see
 * fixtures.h) and resumed each time must end with the checkpoint
 * of an uninterrupted run byte for byte, its metrics.jsonl (timing fields aside, see
 * vkc_train_timing_keys) and its evaluation. After every attempt the checkpoint, if one was
 * there before, is still there and passes every check a load makes.
 *
 * The schedule of kills comes from a seed (VKCLR_CRASH_SEED, default 1) and is printed; the
 * number of attempts is bounded (VKCLR_CRASH_ATTEMPTS, default 12).
 *
 * argv[1]: path of the built vkclr binary. */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "vkclr/train.h"
#include "fixtures.h"

static const char *vkclr_binary;

/* 256 images of 8x8, batch 8: 32 steps per epoch, 3 epochs; a metrics line every step, the kNN
 * monitor every epoch, probe and kNN at the end. */
#define RUN_ARGS                                                                                                   \
    "--data synthetic:8x8x1:256 --width 2 --out-dim 8 --batch 8 --epochs 3 --log-every 1 --knn-k 5 --knn-bank 64 " \
    "--knn-every 1 --probe-epochs 2 --seed 3"
#define STEPS 96

static uint64_t rng_state;
static uint64_t next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static int uniform(int n) { return (int)(next() % (uint64_t)n); }

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef enum { KILL_AFTER_LINE, KILL_AT_TIME, INTERRUPT_AFTER_LINE, FULL_DISK, RUN_TO_END } Attack;
static const char *const attack_names[] = {"SIGKILL after a line", "SIGKILL at a time", "SIGINT after a line",
                                           "full disk", "to the end"};

/* Run `vkclr train args` with stdout and stderr into a pipe; the attack decides when (and how)
 * it is stopped. Returns the exit status (128 + signal if killed); the output goes to out. */
static int attempt(const char *args, Attack how, int line, int delay_us, double at_s, char *out, size_t size)
{
    int fds[2];
    if (pipe(fds)) fail_msg("pipe failed");
    char *copy = strdup(args), *argv[64];
    int argc = 0;
    argv[argc++] = (char *)vkclr_binary;
    argv[argc++] = "train";
    for (char *t = strtok(copy, " "); t && argc < 63; t = strtok(NULL, " ")) argv[argc++] = t;
    argv[argc] = NULL;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        execv(vkclr_binary, argv);
        _exit(127);
    }
    free(copy);
    close(fds[1]);
    size_t n = 0;
    int lines = 0;
    bool sent = false;
    double t0 = now();
    for (;;) {
        struct pollfd p = {fds[0], POLLIN, 0};
        int timeout = how == KILL_AT_TIME && !sent ? (int)((t0 + at_s - now()) * 1000) : 1000;
        if (timeout < 0) timeout = 0;
        int r = poll(&p, 1, timeout);
        if (r == 0 && how == KILL_AT_TIME && !sent) {
            kill(pid, SIGKILL);
            sent = true;
            continue;
        }
        if (r < 0) continue;
        char buf[4096];
        ssize_t got = read(fds[0], buf, sizeof buf);
        if (got <= 0) break;
        for (ssize_t i = 0; i < got; i++) {
            if (n + 1 < size) out[n++] = buf[i];
            if (buf[i] == '\n' && ++lines == line && !sent && (how == KILL_AFTER_LINE || how == INTERRUPT_AFTER_LINE)) {
                usleep((useconds_t)delay_us);
                kill(pid, how == KILL_AFTER_LINE ? SIGKILL : SIGINT);
                sent = true;
            }
        }
    }
    out[n] = 0;
    close(fds[0]);
    return fixture_wait(pid);
}

static bool exists(const char *path) { return access(path, F_OK) == 0; }

/* The checkpoint passes every check a load makes (checksum of header and data included). */
static void assert_checkpoint_sound(const char *path)
{
    size_t n;
    uint8_t *file = fixture_read(path, &n);
    VkcTrainState m;
    if (vkc_checkpoint_check_bytes(file, n, path, NULL, &m)) fail_msg("after a crash: %s", vkc_error());
    assert_true(m.checksummed);
    free(file);
}

static double result(const char *dir, const char *key)
{
    char path[600];
    snprintf(path, sizeof path, "%s/results.json", dir);
    size_t n;
    char *text = (char *)fixture_read(path, &n);
    cJSON *j = cJSON_Parse(text);
    const cJSON *v = cJSON_GetObjectItem(j, key);
    if (!cJSON_IsNumber(v)) fail_msg("%s: no number '%s'", path, key);
    double x = v->valuedouble;
    cJSON_Delete(j);
    free(text);
    return x;
}

/* The end of a run: the same checkpoint bytes, metrics and evaluation as the uninterrupted run. */
static void same_as_reference(const char *ref, const char *dir)
{
    fixture_same_file(ref, dir, "checkpoint.safetensors");
    char *want = fixture_metrics_untimed(ref), *got = fixture_metrics_untimed(dir);
    if (strcmp(want, got)) fail_msg("metrics.jsonl differs\nwant:\n%s\ngot:\n%s", want, got);
    free(want), free(got);
    static const char *keys[] = {"probe_top1", "probe_top5", "knn_top1", "knn_top5", "final_loss"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        if (result(ref, keys[k]) != result(dir, keys[k]))
            fail_msg("results.json %s: %.9g, uninterrupted %.9g", keys[k], result(dir, keys[k]), result(ref, keys[k]));
    printf("  the run ended as the uninterrupted one: checkpoint, metrics.jsonl and evaluation\n");
}

static void test_crash_consistency(void **state)
{
    (void)state;
    if (!vkclr_binary) skip();
    const char *seed_text = getenv("VKCLR_CRASH_SEED"), *attempts_text = getenv("VKCLR_CRASH_ATTEMPTS");
    uint64_t seed = seed_text ? strtoull(seed_text, NULL, 10) : 1;
    int attempts = attempts_text ? atoi(attempts_text) : 12;
    rng_state = seed;
    char ref[256], dir[256], args[2048], ckpt[400];
    static char out[1 << 16];
    fixture_dir(ref);
    fixture_dir(dir);
    enum { DISK = 64 << 20, PAGE = 4096 };
    if (fixture_small_disks_ok) fixture_small_disk(dir, DISK, false);
    else printf("no private mount namespace here (neither root nor user namespaces): no full-disk attempts\n");
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", dir);

    /* The uninterrupted run. */
    snprintf(args, sizeof args, RUN_ARGS " --out %s --force", ref);
    double t0 = now();
    int rc = attempt(args, RUN_TO_END, 0, 0, 0, out, sizeof out);
    double full = now() - t0;
    if (rc) fail_msg("reference run: status %d\n%s", rc, out);
    char path[600];
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", ref);
    size_t ckpt_bytes, metrics_bytes;
    free(fixture_read(path, &ckpt_bytes));
    snprintf(path, sizeof path, "%s/metrics.jsonl", ref);
    free(fixture_read(path, &metrics_bytes));
    /* A full disk's room for more: from nothing (not even config.json fits) to about half of
     * what a whole run writes (config.json, metrics.jsonl, the checkpoint and its .tmp beside
     * it), so that the disk fills at different moments of a run or of a resumed one. */
    int room_pages = (int)((2 * ckpt_bytes + metrics_bytes) / PAGE / 2) + 1;
    printf("seed %llu, %d attempts; uninterrupted run %.1f s, checkpoint %zu bytes, metrics.jsonl %zu bytes\n",
           (unsigned long long)seed, attempts, full, ckpt_bytes, metrics_bytes);

    int kinds[5] = {0}, rounds = 0;
    bool fresh = true; /* the next attempt starts a new run (with --force over the last one) */
    for (int a = 0; a <= attempts; a++) {
        /* After the attempts, the run in progress (if any) is resumed to its end. */
        Attack how = RUN_TO_END;
        int line = 0, delay = 0;
        double at = 0;
        long room = 0;
        if (a == attempts && fresh) break;
        if (a < attempts) {
            int pick = uniform(fixture_small_disks_ok ? 10 : 8);
            how = pick < 4 ? KILL_AFTER_LINE : pick < 6 ? KILL_AT_TIME : pick < 8 ? INTERRUPT_AFTER_LINE : FULL_DISK;
            line = 1 + uniform(STEPS + 8);
            delay = uniform(20000);
            at = full * (uniform(1000) / 1000.0);
            room = (long)uniform(room_pages) * PAGE;
        }
        bool had = exists(ckpt);
        if (had && !fresh) snprintf(args, sizeof args, "--resume %s", dir);
        else snprintf(args, sizeof args, RUN_ARGS " --out %s --force", dir);
        if (how == FULL_DISK) fixture_small_disk(dir, fixture_disk_used(dir) + room, true);
        rc = attempt(args, how, line, delay, at, out, sizeof out);
        if (how == FULL_DISK) fixture_small_disk(dir, DISK, true);
        kinds[how]++;
        printf("attempt %2d: %-20s %-6s -> status %d", a + 1, attack_names[how], had && !fresh ? "resume" : "new", rc);
        if (how == KILL_AFTER_LINE || how == INTERRUPT_AFTER_LINE) printf(" (line %d + %d us)", line, delay);
        if (how == KILL_AT_TIME) printf(" (at %.2f s)", at);
        if (how == FULL_DISK) printf(" (room for %ld bytes)", room);
        printf("\n");
        switch (how) {
        case KILL_AFTER_LINE:
        case KILL_AT_TIME: assert_true(rc == 128 + SIGKILL || rc == 0); break;
        case INTERRUPT_AFTER_LINE: assert_true(rc == 130 || rc == 0); break;
        case FULL_DISK:
            if (rc != 0 && !(rc == 1 && strstr(out, dir))) fail_msg("full disk: status %d, output\n%s", rc, out);
            break;
        case RUN_TO_END:
            if (rc) fail_msg("the last attempt failed (%d):\n%s", rc, out);
        }
        if (rc == 1) printf("  %s", strstr(out, "vkclr train:") ? strstr(out, "vkclr train:") : out);
        /* A checkpoint that was there is still there, and sound. */
        if (had && !fresh && !exists(ckpt)) fail_msg("attempt %d lost the checkpoint", a + 1);
        if (exists(ckpt)) assert_checkpoint_sound(ckpt);
        fresh = rc == 0;
        if (fresh) {
            same_as_reference(ref, dir);
            rounds++;
        }
    }
    printf("%d runs to the end through %d SIGKILL after a line, %d SIGKILL at a time, %d SIGINT, %d full disk\n",
           rounds, kinds[0], kinds[1], kinds[2], kinds[3]);
    assert_true(rounds >= 1);
    if (fixture_small_disks_ok) fixture_small_disk_remove(dir);
    fixture_cleanup(ref);
    fixture_cleanup(dir);
}

int main(int argc, char **argv)
{
    fixture_small_disks_init(); /* first, while this process has one thread */
    if (argc > 1) vkclr_binary = argv[1];
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_crash_consistency)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
