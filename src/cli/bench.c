#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


const VkcOption bench_rows[BENCH_NROWS] = {BENCH_OPTION_ROWS(BenchOptions, )};

void bench_defaults(BenchOptions *o, int repeat) { *o = (BenchOptions){.device = -1, .repeat = repeat}; }

int bench_open(const CliSpec *s, const BenchOptions *o, const VkcContextOptions *env, VkcContext *ctx)
{
    VkcContextOptions opt = cli_context(env, o->device, false);
    return vkc_context_create(ctx, &opt) ? cli_fail(s, VKC_ERR) : VKC_OK;
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *values, int n)
{
    qsort(values, (size_t)n, sizeof *values, compare);
    return values[n / 2];
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int bench_time(VkcCmd *cmd, int t0, int t1, int repeat, double *median_ns)
{
    double times[BENCH_MAX_REPEAT];
    if (repeat < 1 || repeat > BENCH_MAX_REPEAT) return vkc_fail("repeat %d out of range", repeat);
    /* VKCLR_BENCH_CPU=1: this process's CPU time (all its threads, a CPU driver's workers
     * included) divided by the online cores, instead of GPU time. On a CPU device shared with
     * other jobs it compares kernel variants far more steadily than wall-clock time does. */
    const char *env = getenv("VKCLR_BENCH_CPU");
    bool use_cpu = env && *env == '1';
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    for (int r = 0; r <= repeat; r++) {
        double start = now_ns(), cpu0 = cpu_ns();
        if (vkc_cmd_submit_wait(cmd)) return VKC_ERR;
        double wall = now_ns() - start, cpu = (cpu_ns() - cpu0) / (cores > 0 ? cores : 1);
        if (r == 0) continue;
        if (use_cpu) {
            times[r - 1] = cpu;
        } else if (t0 >= 0 && t1 >= 0) {
            if (vkc_cmd_elapsed_ns(cmd, t0, t1, &times[r - 1])) return VKC_ERR;
        } else {
            times[r - 1] = wall;
        }
    }
    *median_ns = bench_median(times, repeat);
    return VKC_OK;
}

int bench_time_recorded(VkcContext *ctx, BenchRecord record, void *user, int repeat, double *median_ns)
{
    VkcArena arena;
    VkcCmd cmd = {0};
    int rc = VKC_ERR;
    vkc_arena_init(&arena, ctx, VKC_MEMORY_DEVICE);
    if (vkc_cmd_init(ctx, &cmd) || vkc_cmd_begin(&cmd)) goto done;
    int t0 = vkc_cmd_timestamp(&cmd);
    if (record(user, &cmd, &arena)) goto done;
    int t1 = vkc_cmd_timestamp(&cmd);
    if (vkc_cmd_end(&cmd) || bench_time(&cmd, t0, t1, repeat, median_ns)) goto done;
    rc = VKC_OK;
done:
    vkc_cmd_destroy(&cmd);
    vkc_arena_destroy(&arena);
    return rc;
}
