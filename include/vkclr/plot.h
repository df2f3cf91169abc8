/* Training curves as pictures: read runs' metrics.jsonl and draw them, with cairo, into one
 * PNG of four panels against steps: the loss; the positive-pair accuracy and the kNN monitor's
 * top-1 (the knn_top1 lines); the learning rate; the MI lower bound. One line per run, one
 * colour per run, a legend with the run names. `vkclr plot` overlays runs with it, and
 * `vkclr train` keeps curves.png in its run directory up to date with a VkcPlotter, a thread
 * that redraws after each log line without holding up the training loop.
 *
 * Uses only the common layer, cJSON and cairo; keeps no global state of its own (cairo is
 * thread-safe; cJSON's parser notes its last error in a global, so vkclr train parses JSON in
 * other threads only at set-up, before the plotter starts), and nothing in it exits or
 * aborts: every failure is a status with a message (vkclr/error.h). */
#ifndef VKCLR_PLOT_H
#define VKCLR_PLOT_H

#include <stdbool.h>

/* The curves of one run, in the order of its metrics.jsonl; a missing or null value is NaN
 * (a gap in the line). */
typedef enum {
    VKC_CURVE_LOSS,     /* "loss" */
    VKC_CURVE_ACCURACY, /* "pos_accuracy" */
    VKC_CURVE_KNN,      /* "knn_top1" (kNN monitor lines) */
    VKC_CURVE_LR,       /* "lr" */
    VKC_CURVE_MI,       /* "mi_lower_bound" */
    VKC_CURVES
} VkcCurve;

typedef struct {
    double *step, *value;
    int n, cap;
} VkcSeries;

typedef struct {
    char name[256]; /* the legend's label */
    VkcSeries curve[VKC_CURVES];
    int lines;      /* metrics lines read */
    int skipped;    /* lines skipped as malformed (only when reading with `tolerant`) */
    int lineno;     /* lines of the file read, blank ones included */
} VkcRunCurves;

/* The metrics.jsonl of `run`: `run` itself if it is a file, else run/metrics.jsonl (path:
 * at least 1100 bytes). `name` (256 bytes, may be NULL) gets the run's name: the folder's
 * last component. */
void vkc_plot_run_path(const char *run, char *path, char *name);

/* Read one metrics.jsonl. Strict (tolerant false): a line that is not a JSON object with a
 * numeric "step" is an error naming the file and the line, and so is a file without any
 * metrics. Tolerant (a file still being written): such lines are skipped and counted, and an
 * empty file gives empty curves. `out` starts zeroed (name set) or holds earlier curves, which
 * are replaced; its name is kept. Free it with vkc_curves_free, also after an error. */
int vkc_curves_read(const char *path, bool tolerant, VkcRunCurves *out);
/* Follow a file that grows: add to c the complete lines (ending in a newline) from byte
 * *offset on, tolerantly, and advance *offset past them; a line being written is left for the
 * next call. Start with *offset 0 and c zeroed (its name set); a file now shorter than
 * *offset is read again from the start. */
int vkc_curves_follow(const char *path, long *offset, VkcRunCurves *c);
/* Free the curves; keeps the name. */
void vkc_curves_free(VkcRunCurves *c);

#define VKC_PLOT_PANELS 4 /* loss, accuracy and kNN, learning rate, MI bound */

typedef struct {
    int width, height;  /* pixels; 0: 1200 x 800 */
    const char *title;  /* NULL or "": the run names */
} VkcPlotOptions;

typedef struct {
    int x, y, w, h; /* pixels, from the top left */
} VkcPlotRect;

/* Draw the runs into an RGB PNG at `path`, written atomically (a temporary file renamed over
 * `path`: readers see the old picture or the new one, never part of one). `areas`, if not
 * NULL, gets each panel's plot area (inside its axes) in the order of VKC_PLOT_PANELS. */
int vkc_plot_draw(const VkcRunCurves *runs, int nruns, const VkcPlotOptions *opt, const char *path,
                  VkcPlotRect areas[VKC_PLOT_PANELS]);

/* ---------------------------------------------------------------- the live plotter */

/* Redraws run_dir/curves.png from run_dir/metrics.jsonl in a thread of its own (at a lower
 * CPU priority), whenever asked: the caller writes and flushes a metrics line, then calls
 * vkc_plotter_request, which only sets a flag and returns. Requests made while a redraw is
 * running are merged into one more redraw. A redraw that fails prints one warning on stderr
 * (the first time only) and the plotter goes on; nothing it does can stop the caller. */
typedef struct VkcPlotter VkcPlotter;

typedef struct {
    int redraws, failures;
    double seconds, max_seconds; /* wall time of the redraws: in all, the longest one */
    double cpu_seconds;          /* CPU time of the plotter's thread in them */
} VkcPlotterStats;

int vkc_plotter_start(VkcPlotter **out, const char *run_dir);
/* Ask for a redraw (a NULL plotter is ignored). */
void vkc_plotter_request(VkcPlotter *p);
/* Finish a pending redraw, stop the thread and free the plotter (NULL is ignored); `stats`
 * (may be NULL) gets what it did. */
void vkc_plotter_stop(VkcPlotter *p, VkcPlotterStats *stats);

#endif
