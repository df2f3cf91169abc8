/* vkclr plot: the training curves of one or more runs (their metrics.jsonl) in one PNG, one
 * line and legend entry per run (vkclr/plot.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "vkclr/plot.h"

static const char plot_synopsis[] =
    "usage: vkclr plot RUN_DIR... --out FILE.png [--title T] [--width W] [--height H]\n\n"
    "Draws the curves of each run's metrics.jsonl against steps, one colour per run: loss,\n"
    "positive-pair accuracy with the kNN monitor's top-1 (vkclr train --knn-every E), learning\n"
    "rate and the MI lower bound. A RUN_DIR may also be a metrics.jsonl file; the legend names\n"
    "each run after its folder. (vkclr train keeps such a picture of its own run in curves.png.)\n";

typedef struct {
    char out[CLI_PATH];
    char title[256];
    int width, height;
} PlotArgs;

#define FIELD(f) VKC_OPTION_FIELD(PlotArgs, f)
static const VkcOption rows[] = {
    {.flag = "--out", .type = VKC_OPT_STRING, FIELD(out), .flags = VKC_OPT_NONEMPTY, .section = "options",
     .metavar = "PATH", .help = "PNG to write (required; replaced atomically)"},
    {.flag = "--title", .type = VKC_OPT_STRING, FIELD(title), .def = "", .section = "options", .metavar = "T",
     .help = "title (none: the run names)"},
    {.flag = "--width", .type = VKC_OPT_INT, FIELD(width), .min = 200, .max = 16384, .def = "1200",
     .section = "options", .metavar = "W", .help = "pixels"},
    {.flag = "--height", .type = VKC_OPT_INT, FIELD(height), .min = 150, .max = 16384, .def = "800",
     .section = "options", .metavar = "H", .help = "pixels"},
};
#undef FIELD

static int run(const CliCall *call)
{
    const PlotArgs p = *(const PlotArgs *)call->own;
    const char *const *dirs = call->args->operands;
    int ndirs = call->args->noperands;
    const char *out = p.out, *title = p.title[0] ? p.title : NULL;
    if (!ndirs || !out[0]) {
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
    VkcPlotOptions opt = {.width = p.width, .height = p.height, .title = title};
    if (vkc_plot_draw(runs, ndirs, &opt, out, NULL)) {
        fprintf(stderr, "vkclr plot: %s\n", vkc_error());
        goto done;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int lines = 0;
    for (int r = 0; r < ndirs; r++) lines += runs[r].lines;
    printf("%s: %d run%s (%d metrics lines), %dx%d pixels, drawn in %.1f ms\n", out, ndirs, ndirs == 1 ? "" : "s",
           lines, p.width, p.height, (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) * 1e-6);
    rc = 0;
done:
    for (int r = 0; r < ndirs; r++) vkc_curves_free(&runs[r]);
    free(runs);
    return rc;
}

const CliSpec cli_plot = {.name = "plot", .run = run, .synopsis = plot_synopsis,
                          .about = "draw the training curves of runs (their metrics.jsonl) into one PNG",
                          CLI_ROWS(rows, PlotArgs), .operands = true};
