/* vkclr bench augment: two-view images per second through the whole batch producer (shuffle,
 * crop, flip, jitter, grayscale, normalise into NCHW float32 slots) with the cifar preset,
 * for 1 and 2 worker threads, at 28x28 gray and 32x32 RGB, or on --data SPEC (a collection:
 * decoding included) at --image-size S. The consumer takes each batch and gives it straight
 * back, so the figure is what the workers can sustain. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "vkclr/augment.h"
#include "vkclr/data.h"

static const char bench_augment_synopsis[] =
    "usage: vkclr bench augment [OPTIONS]\n\n"
    "Two-view images per second through the batch producer, for 1 and 2 worker threads, at 28x28 gray\n"
    "and 32x32 RGB: per second of wall time, per thread, and per second of the process's CPU time.\n";

static double clock_seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static double now_seconds(void) { return clock_seconds(CLOCK_MONOTONIC); }

/* Two-view images per second of wall time over `seconds`, after one warm-up batch, and per
 * second of CPU time used by the process (all threads): the per-core rate, which other
 * processes sharing the machine disturb much less than the wall-clock one. */
static int measure(const VkcDataset *ds, const VkcAugmentConfig *cfg, int threads, int batch, double seconds,
                   double *rate, double *cpu_rate)
{
    VkcProducer *p;
    VkcProducerOptions opt = {.batch = batch, .threads = threads, .slots = 2 * threads + 2, .seed = 1};
    if (vkc_producer_create(&p, ds, cfg, &opt)) return VKC_ERR;
    VkcBatch b;
    int rc = vkc_producer_acquire(p, &b);
    if (rc == VKC_OK) vkc_producer_release(p, &b);
    double start = now_seconds(), cpu_start = clock_seconds(CLOCK_PROCESS_CPUTIME_ID), elapsed = 0.0;
    long batches = 0;
    while (rc == VKC_OK && elapsed < seconds) {
        rc = vkc_producer_acquire(p, &b);
        if (rc == VKC_OK) vkc_producer_release(p, &b);
        batches++;
        elapsed = now_seconds() - start;
    }
    double cpu = clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu_start;
    vkc_producer_destroy(p);
    *rate = (double)batches * batch / elapsed;
    *cpu_rate = (double)batches * batch / cpu;
    return rc;
}

typedef struct {
    float seconds;
    int batch;
    char preset[16], gray[CLI_PATH], rgb[CLI_PATH], data[CLI_PATH];
    int image_size; /* 0: the data's size */
} BenchAugmentArgs;

#define FIELD(f) VKC_OPTION_FIELD(BenchAugmentArgs, f)
static const VkcOption rows[] = {
    {.flag = "--seconds", .type = VKC_OPT_FLOAT, FIELD(seconds), .min = 0.1, .max = 600, .def = "3",
     .section = "options", .metavar = "S", .help = "wall time of each run"},
    {.flag = "--batch", .type = VKC_OPT_INT, FIELD(batch), .min = 1, .max = 65536, .def = "256", .section = "options",
     .metavar = "B", .help = "images per batch"},
    {.flag = "--preset", .type = VKC_OPT_STRING, FIELD(preset), .def = "cifar", .section = "options", .metavar = "P",
     .help = "augmentation preset"},
    {.flag = "--gray", .type = VKC_OPT_STRING, FIELD(gray), .def = "fashion-mnist", .section = "options",
     .metavar = "SPEC", .help = "28x28 gray data (synthetic if absent)"},
    {.flag = "--rgb", .type = VKC_OPT_STRING, FIELD(rgb), .def = "", .section = "options", .metavar = "SPEC",
     .help = "32x32 RGB data, e.g. cifar10:DIR (none: synthetic CIFAR-shaped noise)"},
};
#undef FIELD

static int run(const CliCall *call)
{
    const BenchAugmentArgs b = *(const BenchAugmentArgs *)call->own;
    const char *preset = b.preset, *gray_spec = b.gray, *rgb_spec = b.rgb[0] ? b.rgb : NULL;
    const char *data = b.data[0] ? b.data : NULL;
    long batch = b.batch, size = b.image_size;
    double seconds = b.seconds;
    VkcAugmentConfig cfg;
    if (vkc_augment_preset(preset, &cfg)) {
        fprintf(stderr, "vkclr bench augment: %s\n", vkc_error());
        return 2;
    }

    if (size) cfg.out_height = cfg.out_width = (int)size;
    struct {
        const char *label, *spec;
        int h, w, c;
    } sets[] = {{"28x28 gray", gray_spec, 28, 28, 1}, {"32x32 RGB", rgb_spec, 32, 32, 3}, {"", data, 0, 0, 0}};
    int first = data ? 2 : 0, last = data ? 3 : 2;
    printf("two-view images/s, '%s' preset, batch %ld, %.1f s per run\n", preset, batch, seconds);
    printf("%-12s %-24s %8s %12s %12s %14s\n", "shape", "data", "threads", "images/s", "per thread",
           "per CPU-second");
    for (int s = first; s < last; s++) {
        VkcDataset ds;
        if (data) {
            if (vkc_dataset_load(&ds, data)) {
                fprintf(stderr, "vkclr bench augment: --data %s: %s\n", data, vkc_error());
                return 1;
            }
            printf("%s: %d images %s in %.2f s\n", data, vkc_dataset_ssl_count(&ds),
                   vkc_dataset_is_collection(&ds) ? "indexed" : "read", ds.load_seconds);
        } else if (!sets[s].spec || vkc_dataset_load(&ds, sets[s].spec)) {
            if (sets[s].spec) fprintf(stderr, "vkclr bench augment: %s; using synthetic data\n", vkc_error());
            if (vkc_dataset_synthetic(&ds, 10000, 0, sets[s].h, sets[s].w, sets[s].c, 10, 1)) {
                fprintf(stderr, "vkclr bench augment: %s\n", vkc_error());
                return 1;
            }
        }
        char what[128], shape[32];
        snprintf(what, sizeof what, "%s %s%dx%dx%d", ds.name, ds.mixed_sizes ? "~" : "", ds.height, ds.width,
                 ds.channels);
        snprintf(shape, sizeof shape, "%s", sets[s].label);
        if (data) snprintf(shape, sizeof shape, "views %dx%d", cfg.out_height ? cfg.out_height : ds.height,
                           cfg.out_width ? cfg.out_width : ds.width);
        for (int threads = 1; threads <= 2; threads++) {
            double rate, cpu_rate;
            if (measure(&ds, &cfg, threads, (int)batch, seconds, &rate, &cpu_rate)) {
                fprintf(stderr, "vkclr bench augment: %s\n", vkc_error());
                vkc_dataset_free(&ds);
                return 1;
            }
            printf("%-12s %-24s %8d %12.0f %12.0f %14.0f\n", shape, what, threads, rate, rate / threads, cpu_rate);
            fflush(stdout);
        }
        vkc_dataset_free(&ds);
    }
    return 0;
}

const CliSpec cli_bench_augment = {.name = "bench augment", .run = run, .synopsis = bench_augment_synopsis,
                                   .about = "two-view images/s of the CPU augmentation pipeline, 1 and 2 threads",
                                   CLI_ROWS(rows, BenchAugmentArgs)};
