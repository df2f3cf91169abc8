/* The figure of vkclr/plot.h, drawn with cairo on an image surface (no display needed) and
 * written as PNG through memory, so the file on disk is replaced in one rename.
 *
 *      title
 *      legend: one coloured line and name per run
 *      +-- loss ------------------+-- pos. accuracy, kNN top-1 --+
 *      +-- learning rate ---------+-- MI lower bound ------------+
 *
 * Axes: steps from 0 to the last one; y over the data with a small margin, ticks at "nice"
 * steps (1, 2 or 5 times a power of ten); the loss goes on a log scale when it spans more than a factor 20
 * (losses of the NCE family differ by two orders of magnitude). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo.h>

#include "vkclr/error.h"
#include "vkclr/fileio.h"
#include "vkclr/plot.h"

typedef struct {
    double r, g, b;
} Rgb;

/* Matplotlib's "tab10" without its gray: distinct, and none of them reads as background. */
static const Rgb palette[] = {
    {0.122, 0.467, 0.706}, {1.000, 0.498, 0.055}, {0.173, 0.627, 0.173}, {0.839, 0.153, 0.157}, {0.580, 0.404, 0.741},
    {0.549, 0.337, 0.294}, {0.890, 0.467, 0.761}, {0.737, 0.741, 0.133}, {0.090, 0.745, 0.812},
};
#define NPALETTE (int)(sizeof palette / sizeof palette[0])

static const Rgb ink = {0.15, 0.15, 0.15}, grid_gray = {0.88, 0.88, 0.88}, faint = {0.55, 0.55, 0.55};

/* ---------------------------------------------------------------- axes */

#define MAX_TICKS 40

typedef struct {
    double lo, hi; /* the range drawn (log10 of the values on a log axis) */
    bool log;
    double tick[MAX_TICKS];
    int nticks;
    int decimals; /* of tick labels; -1: %g */
} Axis;

/* 1, 2 or 5 times a power of ten, near `raw`. */
static double nice_step(double raw)
{
    double mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

/* A linear axis over the data range [lo, hi] (hi < lo: no data) with a margin of 4 % (none
 * below 0 when from_zero and the data start at 0), ticks at about `target` nice steps inside. */
static void axis_linear(Axis *a, double lo, double hi, bool from_zero, double margin, int target)
{
    memset(a, 0, sizeof *a);
    if (hi < lo) lo = 0, hi = 1;
    if (from_zero) {
        if (lo > 0) lo = 0;
        if (hi < 0) hi = 0;
    }
    if (!(hi > lo)) {
        double d = lo != 0 ? fabs(lo) * 0.1 : 1;
        lo -= d, hi += d;
    }
    double pad = margin * (hi - lo);
    a->lo = from_zero && lo == 0 ? 0 : lo - pad;
    a->hi = from_zero && hi == 0 ? 0 : hi + pad;
    double step = nice_step((a->hi - a->lo) / target);
    for (double i = ceil(a->lo / step - 1e-9); i <= floor(a->hi / step + 1e-9) && a->nticks < MAX_TICKS; i++)
        a->tick[a->nticks++] = i == 0 ? 0 : i * step;
    double big = fmax(fabs(a->lo), fabs(a->hi));
    a->decimals = big >= 1e6 || big < 1e-3 ? -1 : step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
}

/* A log axis over [lo, hi] (both > 0): ticks at 1, 2 and 5 times powers of ten (only the
 * powers when it spans more than three decades), the range widened to a tick that lies within
 * a tenth of a decade beyond it (so the lowest curve is not below the lowest label). */
static void axis_log(Axis *a, double lo, double hi)
{
    memset(a, 0, sizeof *a);
    a->log = true;
    double l0 = log10(lo), l1 = log10(hi), pad = 0.04 * (l1 - l0);
    a->lo = l0 - pad, a->hi = l1 + pad;
    a->decimals = -1;
    bool fine = l1 - l0 <= 3;
    for (int e = (int)floor(a->lo) - 1; e <= (int)ceil(a->hi) + 1; e++)
        for (int m = 1; m <= 5; m++) {
            if (m != 1 && (!fine || (m != 2 && m != 5))) continue;
            double lt = log10(m * pow(10, e));
            if (lt < a->lo && lt > a->lo - 0.1) a->lo = lt;
            if (lt > a->hi && lt < a->hi + 0.1) a->hi = lt;
        }
    for (int e = (int)floor(a->lo); e <= (int)ceil(a->hi); e++)
        for (int m = 1; m <= 5; m++) {
            if (m != 1 && (!fine || (m != 2 && m != 5))) continue;
            double t = m * pow(10, e), lt = log10(t);
            if (lt >= a->lo && lt <= a->hi && a->nticks < MAX_TICKS) a->tick[a->nticks++] = t;
        }
}

static double axis_frac(const Axis *a, double v) { return ((a->log ? log10(v) : v) - a->lo) / (a->hi - a->lo); }

static void tick_label(const Axis *a, double v, char *buf, size_t size)
{
    if (a->decimals < 0) snprintf(buf, size, "%g", v);
    else snprintf(buf, size, "%.*f", a->decimals, v);
}

/* ---------------------------------------------------------------- text */

/* cairo refuses text that is not UTF-8 (and its context is then unusable): such bytes become '?'. */
static void utf8_clean(const char *in, char *out, size_t size)
{
    size_t o = 0;
    const unsigned char *s = (const unsigned char *)in;
    while (*s && o + 5 < size) {
        int n = *s < 0x80 ? 1 : (*s & 0xe0) == 0xc0 ? 2 : (*s & 0xf0) == 0xe0 ? 3 : (*s & 0xf8) == 0xf0 ? 4 : 0;
        for (int k = 1; k < n; k++)
            if ((s[k] & 0xc0) != 0x80) n = 0;
        if (n == 0) {
            out[o++] = '?';
            s++;
            continue;
        }
        memcpy(out + o, s, (size_t)n);
        o += (size_t)n, s += n;
    }
    out[o] = 0;
}

static double text_width(cairo_t *cr, const char *s)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    return e.x_advance;
}

/* Text anchored at (x, y): ax 0/0.5/1 = left/centre/right, ay 0/0.5/1 = top/middle/baseline. */
static void text_at(cairo_t *cr, double fs, const char *s, double x, double y, double ax, double ay)
{
    double cap = 0.72 * fs; /* about the height of a capital */
    cairo_move_to(cr, x - text_width(cr, s) * ax, y + cap * (1 - ay));
    cairo_show_text(cr, s);
}

static void set_font(cairo_t *cr, double size, bool bold)
{
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

static void set_rgb(cairo_t *cr, Rgb c) { cairo_set_source_rgb(cr, c.r, c.g, c.b); }

/* ---------------------------------------------------------------- panels */

typedef struct {
    const char *title, *ylabel;
    VkcCurve curve, second; /* second: VKC_CURVES if none (drawn dashed, with dots) */
    bool from_zero, may_log;
} Panel;

static const Panel panels[VKC_PLOT_PANELS] = {
    {"loss", "loss", VKC_CURVE_LOSS, VKC_CURVES, false, true},
    {"positive-pair accuracy", "accuracy", VKC_CURVE_ACCURACY, VKC_CURVE_KNN, true, false},
    {"learning rate", "lr", VKC_CURVE_LR, VKC_CURVES, true, false},
    {"MI lower bound log(2N-1) - NT-Xent", "nats", VKC_CURVE_MI, VKC_CURVES, false, false},
};

typedef struct {
    cairo_t *cr;
    double s, fs; /* scale, base font size */
    const VkcRunCurves *runs;
    int nruns;
    Axis x;
} Fig;

/* The range of one curve over every run: finite values (> 0 with positive_only). */
static void curve_range(const Fig *f, VkcCurve k, bool positive_only, double *lo, double *hi)
{
    for (int r = 0; r < f->nruns; r++) {
        const VkcSeries *s = &f->runs[r].curve[k];
        for (int i = 0; i < s->n; i++) {
            double v = s->value[i];
            if (!isfinite(v) || (positive_only && v <= 0)) continue;
            if (v < *lo) *lo = v;
            if (v > *hi) *hi = v;
        }
    }
}

/* The path of a series: a polyline with pen-ups at gaps. Where points are denser than the
 * pixel columns, each column keeps its first, lowest, highest and last point: the same
 * picture as every point, at a cost that depends on the width and not on the run's length. */
static int series_path(const Fig *f, const VkcSeries *s, const Axis *y, VkcPlotRect a)
{
    cairo_t *cr = f->cr;
    bool down = false;
    int valid = 0, col = -1, count = 0, lo_i = 0, hi_i = 0;
    double lo = 0, hi = 0, x0 = 0, last_x = 0, last_y = 0;
    for (int i = 0; i <= s->n; i++) {
        double v = i < s->n ? s->value[i] : NAN;
        bool ok = isfinite(v) && !(y->log && v <= 0);
        double x = ok ? a.x + axis_frac(&f->x, s->step[i]) * a.w : 0, py = ok ? a.y + a.h - axis_frac(y, v) * a.h : 0;
        int c = ok ? (int)floor(x) : -1;
        if (col >= 0 && c != col) {
            /* Close the column: its extremes in the order they came, then its last point. */
            if (count > 1) {
                cairo_line_to(cr, x0, lo_i < hi_i ? lo : hi);
                cairo_line_to(cr, x0, lo_i < hi_i ? hi : lo);
                cairo_line_to(cr, last_x, last_y);
            }
            col = -1;
        }
        if (!ok) {
            down = false;
            continue;
        }
        valid++;
        if (col < 0) { /* the first point of a column */
            if (down) cairo_line_to(cr, x, py);
            else cairo_move_to(cr, x, py);
            down = true;
            col = c, count = 1, x0 = x, lo = hi = py, lo_i = hi_i = i;
        } else {
            count++;
            if (py < lo) lo = py, lo_i = i;
            if (py > hi) hi = py, hi_i = i;
        }
        last_x = x, last_y = py;
    }
    return valid;
}

/* Run r of the figure's curve s. Later runs are drawn thinner over earlier ones, so a run that
 * lies under another still shows at its edges. */
static void draw_series(const Fig *f, int r, const VkcSeries *s, const Axis *y, VkcPlotRect a, bool second)
{
    cairo_t *cr = f->cr;
    set_rgb(cr, palette[r % NPALETTE]);
    double width = f->nruns > 1 ? 3.0 - 1.6 * r / (f->nruns - 1) : 1.8;
    cairo_set_line_width(cr, (second ? 0.9 : 1) * width * f->s);
    double dash[2] = {5 * f->s, 3 * f->s};
    cairo_set_dash(cr, dash, second ? 2 : 0, 0);
    int valid = series_path(f, s, y, a);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    if (!second && valid > 1) return;
    /* Dots on the sparse kNN points, and on a curve of one point (no line to see). */
    for (int i = 0; i < s->n; i++) {
        double v = s->value[i];
        if (!isfinite(v) || (y->log && v <= 0)) continue;
        cairo_arc(cr, a.x + axis_frac(&f->x, s->step[i]) * a.w, a.y + a.h - axis_frac(y, v) * a.h,
                  (1.2 + width) * f->s, 0, 2 * M_PI);
        cairo_fill(cr);
    }
}

/* One panel in the cell (cx, cy, cw, ch); *area gets its plot area. */
static void draw_panel(Fig *f, const Panel *p, double cx, double cy, double cw, double ch, VkcPlotRect *area)
{
    cairo_t *cr = f->cr;
    double fs = f->fs, s = f->s;
    double lo = INFINITY, hi = -INFINITY;
    curve_range(f, p->curve, false, &lo, &hi);
    bool has_second = false;
    if (p->second != VKC_CURVES) {
        double l2 = INFINITY, h2 = -INFINITY;
        curve_range(f, p->second, false, &l2, &h2);
        has_second = h2 >= l2;
        lo = fmin(lo, l2), hi = fmax(hi, h2);
    }
    bool has_data = hi >= lo;
    Axis y;
    double plo = INFINITY, phi = -INFINITY;
    if (p->may_log) curve_range(f, p->curve, true, &plo, &phi);
    bool log = p->may_log && has_data && plo == lo && phi > 20 * plo;
    if (log) axis_log(&y, lo, hi);
    else axis_linear(&y, lo, hi, p->from_zero, 0.04, 5);

    /* Margins: the panel title above; tick labels and the rotated y label left; tick labels
     * and "step" below. */
    set_font(cr, 0.85 * fs, false);
    double label_w = 0;
    char buf[64];
    for (int i = 0; i < y.nticks; i++) {
        tick_label(&y, y.tick[i], buf, sizeof buf);
        label_w = fmax(label_w, text_width(cr, buf));
    }
    double tick = 4 * s;
    double left = 1.6 * fs + label_w + tick + 0.4 * fs, right = 1.0 * fs, top = 2.0 * fs, bottom = 3.0 * fs;
    VkcPlotRect a = {(int)lround(cx + left), (int)lround(cy + top), (int)lround(cw - left - right),
                     (int)lround(ch - top - bottom)};
    *area = a;

    /* Plot area, grid, ticks. */
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_rectangle(cr, a.x, a.y, a.w, a.h);
    cairo_fill(cr);
    cairo_set_line_width(cr, 1);
    set_rgb(cr, grid_gray);
    for (int i = 0; i < y.nticks; i++) {
        double py = floor(a.y + a.h - axis_frac(&y, y.tick[i]) * a.h) + 0.5;
        cairo_move_to(cr, a.x, py);
        cairo_line_to(cr, a.x + a.w, py);
    }
    for (int i = 0; i < f->x.nticks; i++) {
        double px = floor(a.x + axis_frac(&f->x, f->x.tick[i]) * a.w) + 0.5;
        cairo_move_to(cr, px, a.y);
        cairo_line_to(cr, px, a.y + a.h);
    }
    cairo_stroke(cr);
    set_rgb(cr, ink);
    cairo_rectangle(cr, a.x + 0.5, a.y + 0.5, a.w - 1, a.h - 1);
    cairo_stroke(cr);
    for (int i = 0; i < y.nticks; i++) {
        double py = a.y + a.h - axis_frac(&y, y.tick[i]) * a.h;
        cairo_move_to(cr, a.x, floor(py) + 0.5);
        cairo_line_to(cr, a.x - tick, floor(py) + 0.5);
        cairo_stroke(cr);
        tick_label(&y, y.tick[i], buf, sizeof buf);
        text_at(cr, 0.85 * fs, buf, a.x - tick - 0.3 * fs, py, 1, 0.5);
    }
    for (int i = 0; i < f->x.nticks; i++) {
        double px = a.x + axis_frac(&f->x, f->x.tick[i]) * a.w;
        cairo_move_to(cr, floor(px) + 0.5, a.y + a.h);
        cairo_line_to(cr, floor(px) + 0.5, a.y + a.h + tick);
        cairo_stroke(cr);
        tick_label(&f->x, f->x.tick[i], buf, sizeof buf);
        text_at(cr, 0.85 * fs, buf, px, a.y + a.h + tick + 0.35 * fs, 0.5, 0);
    }
    set_font(cr, 0.9 * fs, false);
    text_at(cr, 0.9 * fs, "step", a.x + a.w / 2.0, a.y + a.h + tick + 1.55 * fs, 0.5, 0);
    cairo_save(cr);
    cairo_translate(cr, cx + 0.3 * fs, a.y + a.h / 2.0);
    cairo_rotate(cr, -M_PI / 2);
    text_at(cr, 0.9 * fs, p->ylabel, 0, 0, 0.5, 0);
    cairo_restore(cr);

    /* Title: which curves, the line styles when there are two, the scale when logarithmic. */
    char title[160];
    snprintf(title, sizeof title, "%s%s%s", p->title, has_second ? " (solid), kNN top-1 (dashed, dots)" : "",
             log ? " (log scale)" : "");
    set_font(cr, fs, true);
    text_at(cr, fs, title, a.x + a.w / 2.0, cy + 0.55 * fs, 0.5, 0);

    /* The curves, clipped to the plot area. */
    cairo_save(cr);
    cairo_rectangle(cr, a.x, a.y, a.w, a.h);
    cairo_clip(cr);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    for (int r = 0; r < f->nruns; r++) {
        draw_series(f, r, &f->runs[r].curve[p->curve], &y, a, false);
        if (p->second != VKC_CURVES) draw_series(f, r, &f->runs[r].curve[p->second], &y, a, true);
    }
    cairo_restore(cr);
    if (!has_data) {
        set_font(cr, fs, false);
        set_rgb(cr, faint);
        text_at(cr, fs, "no data", a.x + a.w / 2.0, a.y + a.h / 2.0, 0.5, 0.5);
    }
}

/* The legend: a line in each run's colour and its name, centred in rows no wider than
 * `width`, from y; returns its height. With draw false it only measures. */
static double draw_legend(Fig *f, double x0, double width, double y, bool draw)
{
    cairo_t *cr = f->cr;
    double fs = f->fs, swatch = 2.2 * fs, gap = 0.5 * fs, space = 1.6 * fs, row_h = 1.6 * fs;
    set_font(cr, fs, false);
    int first = 0, rows = 0;
    while (first < f->nruns) {
        /* The runs of this row and its width. */
        int last = first;
        double w = 0;
        char name[256];
        while (last < f->nruns) {
            utf8_clean(f->runs[last].name, name, sizeof name);
            double item = swatch + gap + text_width(cr, name);
            if (last > first && w + space + item > width) break;
            w += (last > first ? space : 0) + item;
            last++;
        }
        if (draw) {
            double x = x0 + fmax(0, (width - w) / 2), yc = y + rows * row_h + row_h / 2;
            for (int r = first; r < last; r++) {
                utf8_clean(f->runs[r].name, name, sizeof name);
                set_rgb(cr, palette[r % NPALETTE]);
                cairo_set_line_width(cr, 3 * f->s);
                cairo_move_to(cr, x, yc);
                cairo_line_to(cr, x + swatch, yc);
                cairo_stroke(cr);
                set_rgb(cr, ink);
                text_at(cr, fs, name, x + swatch + gap, yc, 0, 0.5);
                x += swatch + gap + text_width(cr, name) + space;
            }
        }
        rows++;
        first = last;
    }
    return rows * row_h;
}

/* ---------------------------------------------------------------- the figure */

typedef struct {
    unsigned char *data;
    size_t n, cap;
    bool failed;
} Buffer;

static cairo_status_t buffer_write(void *closure, const unsigned char *data, unsigned int length)
{
    Buffer *b = closure;
    if (b->n + length > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->n + length) cap *= 2;
        unsigned char *p = realloc(b->data, cap);
        if (!p) {
            b->failed = true;
            return CAIRO_STATUS_NO_MEMORY;
        }
        b->data = p, b->cap = cap;
    }
    memcpy(b->data + b->n, data, length);
    b->n += length;
    return CAIRO_STATUS_SUCCESS;
}

int vkc_plot_draw(const VkcRunCurves *runs, int nruns, const VkcPlotOptions *opt, const char *path,
                  VkcPlotRect areas[VKC_PLOT_PANELS])
{
    int W = opt && opt->width > 0 ? opt->width : 1200, H = opt && opt->height > 0 ? opt->height : 800;
    if (W < 200 || H < 150 || W > 16384 || H > 16384)
        return vkc_fail("a figure of %d x %d pixels: width must be 200..16384 and height 150..16384", W, H);
    cairo_surface_t *surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_t *cr = cairo_create(surface);
    Fig f = {.cr = cr, .runs = runs, .nruns = nruns};
    f.s = fmin(W / 1200.0, H / 800.0);
    f.fs = fmax(8, 15 * f.s);
    f.s = fmax(f.s, 0.5);

    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);

    /* The x axis is shared: steps from 0 to the last step of any run. */
    double xmax = -INFINITY;
    for (int r = 0; r < nruns; r++)
        for (int k = 0; k < VKC_CURVES; k++) {
            const VkcSeries *s = &runs[r].curve[k];
            for (int i = 0; i < s->n; i++) xmax = fmax(xmax, s->step[i]);
        }
    axis_linear(&f.x, 0, xmax > 0 ? xmax : 1, true, 0, 6);

    /* Title and legend. */
    double pad = 0.8 * f.fs, y = pad;
    char title[512];
    if (opt && opt->title && opt->title[0]) utf8_clean(opt->title, title, sizeof title);
    else {
        size_t o = 0;
        title[0] = 0;
        for (int r = 0; r < nruns && o < sizeof title - 1; r++)
            o += (size_t)snprintf(title + o, sizeof title - o, "%s%s", r ? ", " : "", runs[r].name);
        char clean[512];
        utf8_clean(title, clean, sizeof clean);
        snprintf(title, sizeof title, "%s", clean);
    }
    set_font(cr, 1.3 * f.fs, true);
    set_rgb(cr, ink);
    text_at(cr, 1.3 * f.fs, title, W / 2.0, y, 0.5, 0);
    y += 1.7 * f.fs;
    y += draw_legend(&f, pad, W - 2 * pad, y, true);

    /* The panels, two by two. */
    double cw = (W - 2 * pad) / 2, ch = (H - y - pad) / 2;
    VkcPlotRect got[VKC_PLOT_PANELS];
    for (int i = 0; i < VKC_PLOT_PANELS; i++) {
        set_rgb(cr, ink);
        draw_panel(&f, &panels[i], pad + (i % 2) * cw, y + (i / 2) * ch, cw, ch, &got[i]);
    }
    if (areas) memcpy(areas, got, sizeof got);

    cairo_surface_flush(surface);
    cairo_status_t st = cairo_status(cr);
    Buffer b = {0};
    if (st == CAIRO_STATUS_SUCCESS) st = cairo_surface_write_to_png_stream(surface, buffer_write, &b);
    cairo_destroy(cr);
    cairo_surface_destroy(surface);
    int rc;
    if (st != CAIRO_STATUS_SUCCESS) rc = vkc_fail("drawing %s: %s", path, cairo_status_to_string(st));
    else {
        const void *parts[1] = {b.data};
        size_t sizes[1] = {b.n};
        rc = vkc_write_file_atomic(path, parts, sizes, 1);
    }
    free(b.data);
    return rc;
}
