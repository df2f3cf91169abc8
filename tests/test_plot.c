/* Training curves as pictures (vkclr/plot.h): a small metrics.jsonl drawn to a PNG that libpng
 * decodes at the asked size, with curves (coloured pixels) inside every panel's plot area and
 * nothing coloured in a panel without data; reading errors that name the file and line; the
 * live plotter of vkclr train (and what a redraw costs); with the built binary as argument,
 * `vkclr plot` itself. Needs no Vulkan device and no display. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <time.h>

#include "fixtures.h"
#include "vkclr/data.h"
#include "vkclr/error.h"
#include "vkclr/plot.h"

static const char *vkclr_binary;

/* A short run's metrics: 6 log lines, a kNN monitor line, a NaN the way cJSON writes it
 * (null), a blank line. */
static const char metrics[] =
    "{\"step\":10,\"epoch\":0.2,\"loss\":5.3,\"pos_accuracy\":0.05,\"mi_lower_bound\":0.2,\"lr\":0.06}\n"
    "{\"step\":20,\"epoch\":0.4,\"loss\":4.8,\"pos_accuracy\":0.06,\"mi_lower_bound\":0.7,\"lr\":0.12}\n"
    "{\"step\":30,\"epoch\":0.6,\"loss\":4.4,\"pos_accuracy\":0.08,\"mi_lower_bound\":1.1,\"lr\":0.15}\n"
    "{\"step\":30,\"epoch\":0.6,\"knn_top1\":0.62,\"knn_top5\":0.95,\"knn_k\":200}\n"
    "\n"
    "{\"step\":40,\"epoch\":0.8,\"loss\":4.2,\"pos_accuracy\":0.09,\"mi_lower_bound\":1.3,\"lr\":null}\n"
    "{\"step\":50,\"epoch\":1.0,\"loss\":4.0,\"pos_accuracy\":0.12,\"mi_lower_bound\":1.5,\"lr\":0.1}\n"
    "{\"step\":60,\"epoch\":1.2,\"loss\":3.9,\"pos_accuracy\":0.13,\"mi_lower_bound\":1.6,\"lr\":0.02}\n"
    "{\"step\":60,\"epoch\":1.2,\"knn_top1\":0.68,\"knn_top5\":0.97,\"knn_k\":200}\n";

/* Pixels of a colour (not white, black or gray: the background, axes, text and grid are
 * those) in the rectangle, one pixel in from its frame. */
static int coloured_pixels(const uint8_t *px, int width, VkcPlotRect a)
{
    int n = 0;
    for (int y = a.y + 2; y < a.y + a.h - 2; y++)
        for (int x = a.x + 2; x < a.x + a.w - 2; x++) {
            const uint8_t *p = px + ((size_t)y * width + x) * 3;
            int hi = p[0] > p[1] ? (p[0] > p[2] ? p[0] : p[2]) : (p[1] > p[2] ? p[1] : p[2]);
            int lo = p[0] < p[1] ? (p[0] < p[2] ? p[0] : p[2]) : (p[1] < p[2] ? p[1] : p[2]);
            n += hi - lo > 60;
        }
    return n;
}

/* Pixels of the first run's blue (b well above r) or the second's orange (r well above b) in
 * the rectangle; anti-aliasing blends thin lines with the background, so by hue, not value. */
static int pixels_of_run(const uint8_t *px, int width, VkcPlotRect a, int run)
{
    int n = 0;
    for (int y = a.y; y < a.y + a.h; y++)
        for (int x = a.x; x < a.x + a.w; x++) {
            const uint8_t *p = px + ((size_t)y * width + x) * 3;
            n += run == 0 ? p[2] > p[0] + 50 : p[0] > p[2] + 50 && p[1] > p[2];
        }
    return n;
}

static uint8_t *read_png(const char *path, int want_w, int want_h)
{
    size_t n;
    uint8_t *file = fixture_read(path, &n);
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    assert_true(n > 8);
    assert_memory_equal(file, signature, 8);
    free(file);
    uint8_t *px;
    int h, w;
    if (vkc_png_read(path, 3, &px, &h, &w)) fail_msg("%s", vkc_error());
    assert_int_equal(w, want_w);
    assert_int_equal(h, want_h);
    return px;
}

static void test_draw(void **state)
{
    (void)state;
    char dir[256];
    fixture_dir(dir);
    fixture_write(dir, "run/metrics.jsonl", metrics, sizeof metrics - 1);
    VkcRunCurves run = {0};
    char path[1100];
    vkc_plot_run_path(fixture_path(dir, "run"), path, run.name);
    assert_string_equal(run.name, "run");
    if (vkc_curves_read(path, false, &run)) fail_msg("%s", vkc_error());
    assert_int_equal(run.lines, 8);
    assert_int_equal(run.curve[VKC_CURVE_LOSS].n, 6);
    assert_int_equal(run.curve[VKC_CURVE_KNN].n, 2);
    assert_int_equal(run.curve[VKC_CURVE_LR].n, 6);
    assert_true(isnan(run.curve[VKC_CURVE_LR].value[3]));
    assert_true(run.curve[VKC_CURVE_MI].value[5] == 1.6);

    char png[1000];
    snprintf(png, sizeof png, "%s/curves.png", dir);
    VkcPlotOptions opt = {.width = 640, .height = 400, .title = "test"};
    VkcPlotRect areas[VKC_PLOT_PANELS];
    if (vkc_plot_draw(&run, 1, &opt, png, areas)) fail_msg("%s", vkc_error());
    uint8_t *px = read_png(png, 640, 400);
    assert_int_equal(px[0] + px[1] + px[2], 3 * 255); /* white background */
    for (int i = 0; i < VKC_PLOT_PANELS; i++) {
        VkcPlotRect a = areas[i];
        assert_true(a.x >= 0 && a.y >= 0 && a.w > 100 && a.h > 60 && a.x + a.w <= 640 && a.y + a.h <= 400);
        int n = coloured_pixels(px, 640, a);
        printf("panel %d: %dx%d at (%d, %d), %d coloured pixels\n", i, a.w, a.h, a.x, a.y, n);
        assert_true(n > 50);
    }
    free(px);
    struct stat st;
    snprintf(path, sizeof path, "%s.tmp", png);
    assert_int_not_equal(stat(path, &st), 0); /* the temporary file was renamed */

    /* Without learning rates the lr panel stays without colour (so the check above means
     * something), the others keep theirs. */
    free(run.curve[VKC_CURVE_LR].step), free(run.curve[VKC_CURVE_LR].value);
    memset(&run.curve[VKC_CURVE_LR], 0, sizeof run.curve[VKC_CURVE_LR]);
    if (vkc_plot_draw(&run, 1, &opt, png, areas)) fail_msg("%s", vkc_error());
    px = read_png(png, 640, 400);
    for (int i = 0; i < VKC_PLOT_PANELS; i++) {
        int n = coloured_pixels(px, 640, areas[i]);
        if (i == 2) assert_int_equal(n, 0);
        else assert_true(n > 50);
    }
    free(px);
    vkc_curves_free(&run);
    fixture_cleanup(dir);
}

/* Two runs: each in its colour (tab10 blue and orange) in every panel, the second's loss on a
 * log scale because it is 40 times larger. Default size 1200 x 800. */
static void test_overlay(void **state)
{
    (void)state;
    char dir[256];
    fixture_dir(dir);
    fixture_write(dir, "a/metrics.jsonl", metrics, sizeof metrics - 1);
    FILE *f = fopen(fixture_path(dir, "b/metrics.jsonl"), "w");
    for (int s = 8; s <= 96; s += 8)
        fprintf(f, "{\"step\":%d,\"loss\":%g,\"pos_accuracy\":%g,\"mi_lower_bound\":%g,\"lr\":%g}\n", s, 200.0 - s,
                0.01 * s / 8, 0.1 + 0.01 * s, 0.15);
    fclose(f);
    VkcRunCurves runs[2] = {{.name = "a"}, {.name = "b"}};
    char path[1100], png[1100];
    for (int r = 0; r < 2; r++) {
        snprintf(path, sizeof path, "%s/%s/metrics.jsonl", dir, r ? "b" : "a");
        if (vkc_curves_read(path, false, &runs[r])) fail_msg("%s", vkc_error());
    }
    snprintf(png, sizeof png, "%s/overlay.png", dir);
    VkcPlotRect areas[VKC_PLOT_PANELS];
    if (vkc_plot_draw(runs, 2, NULL, png, areas)) fail_msg("%s", vkc_error());
    uint8_t *px = read_png(png, 1200, 800);
    for (int i = 0; i < VKC_PLOT_PANELS; i++) {
        int blue = pixels_of_run(px, 1200, areas[i], 0), orange = pixels_of_run(px, 1200, areas[i], 1);
        printf("panel %d: %d blue, %d orange pixels\n", i, blue, orange);
        assert_true(blue > 20 && orange > 20);
    }
    free(px);
    for (int r = 0; r < 2; r++) vkc_curves_free(&runs[r]);
    fixture_cleanup(dir);
}

static void test_read_errors(void **state)
{
    (void)state;
    char dir[256], path[1100];
    fixture_dir(dir);
    VkcRunCurves c = {0};
    snprintf(path, sizeof path, "%s/none/metrics.jsonl", dir);
    ASSERT_ERROR_MENTIONS(vkc_curves_read(path, false, &c), path, "No such file");
    vkc_curves_free(&c);
    static const char bad[] = "{\"step\":1,\"loss\":2}\n{\"step\":2,\"loss\":\n{\"step\":3,\"loss\":1}\n";
    fixture_write(dir, "bad/metrics.jsonl", bad, sizeof bad - 1);
    snprintf(path, sizeof path, "%s/bad/metrics.jsonl", dir);
    ASSERT_ERROR_MENTIONS(vkc_curves_read(path, false, &c), path, "line 2", "not a JSON object");
    vkc_curves_free(&c);
    /* Tolerant (a file being written, or left by a crash): the line is skipped. */
    if (vkc_curves_read(path, true, &c)) fail_msg("%s", vkc_error());
    assert_int_equal(c.lines, 2);
    assert_int_equal(c.skipped, 1);
    assert_int_equal(c.curve[VKC_CURVE_LOSS].n, 2);
    vkc_curves_free(&c);
    static const char nostep[] = "{\"loss\":2}\n";
    fixture_write(dir, "nostep/metrics.jsonl", nostep, sizeof nostep - 1);
    snprintf(path, sizeof path, "%s/nostep/metrics.jsonl", dir);
    ASSERT_ERROR_MENTIONS(vkc_curves_read(path, false, &c), path, "line 1", "\"step\"");
    vkc_curves_free(&c);
    fixture_write(dir, "empty/metrics.jsonl", "", 0);
    snprintf(path, sizeof path, "%s/empty/metrics.jsonl", dir);
    ASSERT_ERROR_MENTIONS(vkc_curves_read(path, false, &c), path, "no metrics lines");
    vkc_curves_free(&c);
    /* A figure too small to draw in is refused, not drawn badly. */
    VkcPlotOptions tiny = {.width = 50, .height = 50};
    snprintf(path, sizeof path, "%s/tiny.png", dir);
    ASSERT_ERROR_MENTIONS(vkc_plot_draw(&c, 1, &tiny, path, NULL), "50 x 50");
    fixture_cleanup(dir);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The live plotter: requests return at once, the picture appears, a failure is counted and
 * does not stop anything. Prints what a redraw costs for a short and a long run. */
static void test_live(void **state)
{
    (void)state;
    char dir[256], png[1100];
    fixture_dir(dir);
    fixture_write(dir, "run/metrics.jsonl", metrics, sizeof metrics - 1);
    snprintf(png, sizeof png, "%s/run/curves.png", dir);
    VkcPlotter *p;
    if (vkc_plotter_start(&p, fixture_path(dir, "run"))) fail_msg("%s", vkc_error());
    double t0 = now();
    for (int i = 0; i < 100; i++) vkc_plotter_request(p);
    double t_request = (now() - t0) / 100;
    for (int i = 0; i < 4; i++) { /* as a training run asks: one request per log line */
        struct timespec wait = {0, 300 * 1000 * 1000};
        nanosleep(&wait, NULL);
        vkc_plotter_request(p);
    }
    VkcPlotterStats st;
    vkc_plotter_stop(p, &st);
    assert_true(st.redraws >= 2 && st.redraws <= 104); /* the 100 requests at once are merged */
    assert_int_equal(st.failures, 0);
    free(read_png(png, 1200, 800));
    printf("request %.1f us; %d redraw(s) of an 8-line run, %.1f ms each (CPU %.1f ms; longest %.1f ms)\n",
           t_request * 1e6, st.redraws, 1e3 * st.seconds / st.redraws, 1e3 * st.cpu_seconds / st.redraws,
           1e3 * st.max_seconds);

    /* A long run: 20 000 log lines (200 000 steps at --log-every 10). */
    FILE *f = fopen(fixture_path(dir, "long/metrics.jsonl"), "w");
    for (int s = 10; s <= 200000; s += 10)
        fprintf(f, "{\"step\":%d,\"epoch\":%g,\"loss\":%.17g,\"pos_accuracy\":%.17g,\"mi_lower_bound\":%.17g,"
                   "\"log_zhat\":7.1,\"log_zhat_sd\":0.3,\"alignment\":0.7,\"uniformity\":-2.8,\"lr\":%.17g,"
                   "\"images_per_s\":200,\"steps_averaged\":10,\"last_loss\":4}\n",
                s, s / 48.0, 3 + 2 * exp(-s / 3e4) + 0.05 * sin(s), 0.1 + 0.5 * (1 - exp(-s / 5e4)), 0.2 + s / 1e5,
                0.15 * cos(s / 2e5 * 1.5));
    fclose(f);
    if (vkc_plotter_start(&p, fixture_path(dir, "long"))) fail_msg("%s", vkc_error());
    for (int i = 0; i < 3; i++) {
        vkc_plotter_request(p);
        struct timespec wait = {0, 400 * 1000 * 1000};
        nanosleep(&wait, NULL);
    }
    vkc_plotter_stop(p, &st);
    assert_int_equal(st.failures, 0);
    printf("%d redraws of a 20000-line run, %.1f ms each (CPU %.1f ms; longest %.1f ms)\n", st.redraws,
           1e3 * st.seconds / st.redraws, 1e3 * st.cpu_seconds / st.redraws, 1e3 * st.max_seconds);

    /* No metrics.jsonl: the redraw fails (one warning on stderr), the plotter goes on. */
    if (vkc_plotter_start(&p, fixture_path(dir, "missing"))) fail_msg("%s", vkc_error());
    vkc_plotter_request(p);
    vkc_plotter_stop(p, &st);
    assert_int_equal(st.failures, st.redraws);
    vkc_plotter_stop(NULL, NULL);
    vkc_plotter_request(NULL);
    fixture_cleanup(dir);
}

/* vkclr plot through the built binary. */
static void expect(const char *args, int status, const char *needle)
{
    char out[8192];
    int got = fixture_run(vkclr_binary, args, out, sizeof out);
    if (got != status || !strstr(out, needle))
        fail_msg("'vkclr %s' gave status %d (want %d), output:\n%s\n(want '%s')", args, got, status, out, needle);
}

static void test_command(void **state)
{
    (void)state;
    if (!vkclr_binary) skip();
    char dir[256], args[2048], want[1100];
    fixture_dir(dir);
    fixture_write(dir, "a/metrics.jsonl", metrics, sizeof metrics - 1);
    fixture_write(dir, "b/metrics.jsonl", metrics, 200); /* ends inside line 3 */
    fixture_write(dir, "c/metrics.jsonl", "not json\n", 9);
    snprintf(args, sizeof args, "plot %s/a %s/a/metrics.jsonl --out %s/two.png --title 'two runs' --width 800 --height 500",
             dir, dir, dir);
    expect(args, 0, "2 runs (16 metrics lines), 800x500 pixels");
    snprintf(want, sizeof want, "%s/two.png", dir);
    free(read_png(want, 800, 500));
    /* A missing, a truncated and a malformed metrics.jsonl: exit 1, naming the file. */
    snprintf(args, sizeof args, "plot %s/a %s/none --out %s/x.png", dir, dir, dir);
    snprintf(want, sizeof want, "vkclr plot: cannot read %s/none/metrics.jsonl: No such file or directory", dir);
    expect(args, 1, want);
    snprintf(args, sizeof args, "plot %s/b --out %s/x.png", dir, dir);
    snprintf(want, sizeof want, "vkclr plot: %s/b/metrics.jsonl line 3: not a JSON object", dir);
    expect(args, 1, want);
    snprintf(args, sizeof args, "plot %s/c --out %s/x.png", dir, dir);
    snprintf(want, sizeof want, "vkclr plot: %s/c/metrics.jsonl line 1: not a JSON object", dir);
    expect(args, 1, want);
    struct stat st;
    snprintf(want, sizeof want, "%s/x.png", dir);
    assert_int_not_equal(stat(want, &st), 0); /* nothing written */
    snprintf(args, sizeof args, "plot %s/a", dir);
    expect(args, 2, "--out FILE.png is required");
    expect("plot --out x.png", 2, "give at least one RUN_DIR");
    expect("plot x --out x.png --width 10", 2, "--width: 10 is out of range [200, 16384]");
    expect("plot x --out x.png --dpi 3", 2, "unknown option '--dpi'");
    expect("plot --help", 0, "--title T");
    fixture_cleanup(dir);
}

int main(int argc, char **argv)
{
    if (argc > 1) vkclr_binary = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_draw), cmocka_unit_test(test_overlay), cmocka_unit_test(test_read_errors),
        cmocka_unit_test(test_live), cmocka_unit_test(test_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
