#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

int bench_parse(const char *name, int argc, char **argv, long default_repeat, BenchOptions *o, const char *help)
{
    *o = (BenchOptions){.device = -1, .repeat = default_repeat};
    for (int i = 0; i < argc; i++) {
        int m;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: vkclr bench %s [--device N] [--repeat R] [--only TEXT]\n\n%s", name, help);
            return 1;
        }
        if ((m = arg_match_int(argc, argv, &i, "--device", 0, 1000, &o->device)) ||
            (m = arg_match_int(argc, argv, &i, "--repeat", 1, BENCH_MAX_REPEAT, &o->repeat)) ||
            (m = arg_match_str(argc, argv, &i, "--only", &o->only))) {
            if (m < 0) return -1;
            continue;
        }
        fprintf(stderr, "vkclr bench %s: unknown option '%s'\n", name, argv[i]);
        return -1;
    }
    return 0;
}

int bench_open(const char *name, const BenchOptions *o, VkcContext *ctx)
{
    VkcContextOptions opt = {.device_index = (int)o->device};
    if (vkc_context_create(ctx, &opt)) {
        fprintf(stderr, "vkclr bench %s: %s\n", name, vkc_error());
        return VKC_ERR;
    }
    return VKC_OK;
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
