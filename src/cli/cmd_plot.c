/* vkclr plot: the training curves of one or more runs (their metrics.jsonl) in one PNG, one
 * line and legend entry per run (vkclr/plot.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "commands.h"
#include "vkclr/plot.h"

#define MAX_RUNS 64

static void usage(FILE *out)
{
    fprintf(out,
            "usage: vkclr plot RUN_DIR... --out FILE.png [--title T] [--width W] [--height H]\n\n"
            "Draws the curves of each run's metrics.jsonl against steps, one colour per run: loss,\n"
            "positive-pair accuracy with the kNN monitor's top-1 (vkclr train --knn-every E), learning\n"
            "rate and the MI lower bound. A RUN_DIR may also be a metrics.jsonl file; the legend names\n"
            "each run after its folder. (vkclr train keeps such a picture of its own run in curves.png.)\n\n"
            "  --out PATH    PNG to write (replaced atomically)\n"
            "  --title T     title (default: the run names)\n"
            "  --width W     pixels (default 1200, 200..16384)\n"
            "  --height H    pixels (default 800, 150..16384)\n");
}

int cmd_plot(int argc, char **argv)
{
    const char *out = NULL, *title = NULL;
    const char *dirs[MAX_RUNS];
    int ndirs = 0;
    long width = 1200, height = 800;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        int m;
        if ((m = arg_match_str(argc, argv, &i, "--out", &out)) ||
            (m = arg_match_str(argc, argv, &i, "--title", &title)) ||
            (m = arg_match_int(argc, argv, &i, "--width", 200, 16384, &width)) ||
            (m = arg_match_int(argc, argv, &i, "--height", 150, 16384, &height))) {
            if (m < 0) return 2;
            continue;
        }
        if (!strncmp(argv[i], "--", 2)) {
            fprintf(stderr, "vkclr plot: unknown option '%s' (see vkclr plot --help)\n", argv[i]);
            return 2;
        }
        if (ndirs == MAX_RUNS) {
            fprintf(stderr, "vkclr plot: at most %d runs in one figure\n", MAX_RUNS);
            return 2;
        }
        dirs[ndirs++] = argv[i];
    }
    if (!ndirs || !out) {
        fprintf(stderr, "vkclr plot: %s (see vkclr plot --help)\n",
                !ndirs ? "give at least one RUN_DIR" : "--out FILE.png is required");
        return 2;
    }

    VkcRunCurves *runs = calloc((size_t)ndirs, sizeof *runs);
    if (!runs) {
        fprintf(stderr, "vkclr plot: out of memory\n");
        return 1;
    }
    int rc = 1;
    for (int r = 0; r < ndirs; r++) {
        char path[1100];
        vkc_plot_run_path(dirs[r], path, runs[r].name);
        if (vkc_curves_read(path, false, &runs[r])) {
            fprintf(stderr, "vkclr plot: %s\n", vkc_error());
            goto done;
        }
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    VkcPlotOptions opt = {.width = (int)width, .height = (int)height, .title = title};
    if (vkc_plot_draw(runs, ndirs, &opt, out, NULL)) {
        fprintf(stderr, "vkclr plot: %s\n", vkc_error());
        goto done;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int lines = 0;
    for (int r = 0; r < ndirs; r++) lines += runs[r].lines;
    printf("%s: %d run%s (%d metrics lines), %ldx%ld pixels, drawn in %.1f ms\n", out, ndirs, ndirs == 1 ? "" : "s",
           lines, width, height, (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) * 1e-6);
    rc = 0;
done:
    for (int r = 0; r < ndirs; r++) vkc_curves_free(&runs[r]);
    free(runs);
    return rc;
}
