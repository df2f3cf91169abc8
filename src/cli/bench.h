/* What every device benchmark shares: the --device/--repeat/--only options, opening the
 * device, and the median of repeated GPU-timestamp measurements. */
#ifndef VKCLR_CLI_BENCH_H
#define VKCLR_CLI_BENCH_H

#include "cli.h"
#include "vkclr/vk.h"

#define BENCH_MAX_REPEAT 63

typedef struct {
    int device;     /* -1: the default choice */
    int repeat;     /* timed runs; the median counts */
    char only[128]; /* run only cases whose label contains this ("": all) */
} BenchOptions;

/* The rows of BenchOptions, which every device benchmark's CliSpec takes; BENCH_OPTION_ROWS(T, m)
 * are the same rows for a benchmark's own options struct T that holds them as member m. */
#define BENCH_OPTION_ROWS(T, m)                                                                                        \
    {.flag = "--device", .type = VKC_OPT_INT, VKC_OPTION_FIELD(T, m device), .min = 0, .max = 1000,                   \
     .auto_name = "auto", .auto_value = -1, .section = "options", .metavar = "N",                                     \
     .help = "Vulkan device (see vkclr devices)"},                                                                   \
        {.flag = "--repeat", .type = VKC_OPT_INT, VKC_OPTION_FIELD(T, m repeat), .min = 1, .max = BENCH_MAX_REPEAT,   \
         .section = "options", .metavar = "R", .help = "timed runs after a warm-up run; the median counts"},         \
        {.flag = "--only", .type = VKC_OPT_STRING, VKC_OPTION_FIELD(T, m only), .section = "options",                 \
         .metavar = "TEXT", .help = "only the rows whose label contains TEXT"}
#define BENCH_NROWS 3
extern const VkcOption bench_rows[BENCH_NROWS];
/* The rows of a device benchmark's CliSpec. */
#define BENCH_ROWS .rows = bench_rows, .nrows = BENCH_NROWS, .size = sizeof(BenchOptions)

/* The defaults of a benchmark whose runs are `repeat` by default. */
void bench_defaults(BenchOptions *o, int repeat);
/* Open the device the options name; prints "vkclr bench NAME: why" on failure. */
int bench_open(const CliSpec *s, const BenchOptions *o, const VkcContextOptions *env, VkcContext *ctx);
/* vkclr bench layers and head (bench kernels runs both with its options). */
int bench_layers_run(const CliCall *call);
int bench_head_run(const CliCall *call);
/* Submit the recorded (ended) cmd repeat + 1 times and give the median time between its
 * timestamps t0 and t1 over the last `repeat` runs (the first is a warm-up: some drivers
 * compile pipelines at their first dispatch). Wall-clock time where the device has no
 * timestamps (t0 < 0). */
int bench_time(VkcCmd *cmd, int t0, int t1, int repeat, double *median_ns);
/* Time what `record` records (into a fresh command buffer, with tensors from a fresh device
 * arena of its own) as bench_time does: the median of `repeat` runs after a warm-up. */
typedef int (*BenchRecord)(void *user, VkcCmd *cmd, VkcArena *arena);
int bench_time_recorded(VkcContext *ctx, BenchRecord record, void *user, int repeat, double *median_ns);
/* Median of n values (sorts them in place). */
double bench_median(double *values, int n);

#endif
