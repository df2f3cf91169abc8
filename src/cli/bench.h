/* What every device benchmark shares: the --device/--repeat/--only options, opening the
 * device, and the median of repeated GPU-timestamp measurements. */
#ifndef VKCLR_CLI_BENCH_H
#define VKCLR_CLI_BENCH_H

#include "vkclr/vk.h"

#define BENCH_MAX_REPEAT 63

typedef struct {
    long device, repeat;
    const char *only; /* run only cases whose label contains this (NULL: all) */
} BenchOptions;

/* Parse the options of `vkclr bench NAME`; `help` is printed for --help. Returns 0 to go on,
 * 1 after printing help (exit 0), -1 after printing an error (exit 2). */
int bench_parse(const char *name, int argc, char **argv, long default_repeat, BenchOptions *o, const char *help);
/* Open the device the options name; prints "vkclr bench NAME: why" on failure. */
int bench_open(const char *name, const BenchOptions *o, VkcContext *ctx);
/* Submit the recorded (ended) cmd repeat + 1 times and give the median time between its
 * timestamps t0 and t1 over the last `repeat` runs (the first is a warm-up: some drivers
 * compile pipelines at their first dispatch). Wall-clock time where the device has no
 * timestamps (t0 < 0). */
int bench_time(VkcCmd *cmd, int t0, int t1, int repeat, double *median_ns);
/* Median of n values (sorts them in place). */
double bench_median(double *values, int n);

#endif
