/* The outputs of the commands that need no device, vkclr plot and vkclr augment, through the
 * built binary (the cpu suite, so CI runs it under ASan/UBSan): a write past a file-size limit
 * (RLIMIT_FSIZE, SIGXFSZ at its default in the child) is an error naming the file, exit status
 * 1, no temporary file left, never a death by signal; a FIFO, a directory or a device where the
 * output belongs is refused at once (a FIFO would block a plain open); an output that is an
 * input (plot's metrics.jsonl, augment's data) is refused; and every refusal leaves every file as
 * it was (a digest of the test's folder before and after).
 *
 * argv[1]: path of the built vkclr binary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fixtures.h"

static const char *vkclr_binary;

static FixtureEnd run(const char *args, long fsize, char *out, size_t size)
{
    return fixture_run_for(vkclr_binary, args, fsize, 60, out, size);
}

static void refused(const char *root, int code, const char *args, const char *a, const char *b)
{
    fixture_refused(vkclr_binary, root, code, args, a, b);
}

/* A run directory with a few metrics lines, as vkclr train writes them. */
static void metrics(const char *dir, const char *rel)
{
    char text[2048] = "";
    for (int step = 1; step <= 5; step++) {
        char line[256];
        snprintf(line, sizeof line, "{\"step\":%d,\"epoch\":%g,\"loss\":%g,\"accuracy\":%g,\"lr\":0.1}\n", step,
                 step / 5.0, 5.0 - 0.5 * step, 0.1 * step);
        strcat(text, line);
    }
    fixture_write(dir, rel, text, strlen(text));
}

static bool exists(const char *path) { return access(path, F_OK) == 0; }

/* A file-size limit below the picture's size: exit status 1 naming the file, "File too large",
 * the old picture as it was, no PNG.tmp; never death by SIGXFSZ (status 153). */
static void test_file_size_limit(void **state)
{
    (void)state;
    if (!vkclr_binary) skip();
    char dir[256], args[1200], out[16384], png[300], tmp[320];
    fixture_dir(dir);
    metrics(dir, "run/metrics.jsonl");
    snprintf(png, sizeof png, "%s/curves.png", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", png);
    fixture_write(dir, "curves.png", "an older picture", 16);
    const long limit[2] = {4096, 1024}; /* below each picture's size */
    for (int k = 0; k < 2; k++) {
        if (k == 0) snprintf(args, sizeof args, "plot %s/run --out %s", dir, png);
        else snprintf(args, sizeof args, "augment --data synthetic:8x8x1:16 --count 4 --out %s", png);
        char *before = fixture_digest(dir);
        FixtureEnd e = run(args, limit[k], out, sizeof out);
        if (e.signal) fail_msg("'vkclr %s' died of signal %d under a file-size limit", args, e.signal);
        assert_int_equal(e.code, 1);
        if (!strstr(out, png) || !strstr(out, "File too large")) fail_msg("the message does not name %s and EFBIG", png);
        assert_false(exists(tmp));
        char *after = fixture_digest(dir);
        assert_string_equal(before, after);
        free(before), free(after);
        /* Without the limit it is written. */
        e = run(args, 0, out, sizeof out);
        assert_int_equal(e.code, 0);
        size_t n;
        uint8_t *p = fixture_read(png, &n);
        assert_true(n > (size_t)limit[k] && !memcmp(p, "\x89PNG", 4));
        free(p);
        fixture_write(dir, "curves.png", "an older picture", 16);
    }
    fixture_cleanup(dir);
}

/* A FIFO (no reader: a plain open would block), a directory and a device where the picture
 * belongs: refused at once, naming what is there; nothing changes. */
static void test_outputs_regular(void **state)
{
    (void)state;
    if (!vkclr_binary) skip();
    char dir[256], args[1200], fifo[300], sub[300];
    fixture_dir(dir);
    metrics(dir, "run/metrics.jsonl");
    snprintf(fifo, sizeof fifo, "%s/fifo.png", dir);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    snprintf(sub, sizeof sub, "%s/sub.png", dir);
    mkdir(sub, 0755);
    const struct {
        const char *path, *says;
    } places[] = {{fifo, "a FIFO, not a regular file"}, {sub, "a directory, not a regular file"},
                  {"/dev/null", "a character device"}};
    for (size_t k = 0; k < sizeof places / sizeof places[0]; k++) {
        snprintf(args, sizeof args, "plot %s/run --out %s", dir, places[k].path);
        refused(dir, 1, args, places[k].path, places[k].says);
        snprintf(args, sizeof args, "augment --data synthetic:8x8x1:16 --out %s", places[k].path);
        refused(dir, 1, args, places[k].path, places[k].says);
    }
    /* A FIFO where a run's metrics.jsonl belongs: plot refuses to read it, without blocking. */
    mkdir(fixture_path(dir, "piped/x"), 0755);
    char pipe_metrics[300];
    snprintf(pipe_metrics, sizeof pipe_metrics, "%s/piped/metrics.jsonl", dir);
    assert_int_equal(mkfifo(pipe_metrics, 0644), 0);
    snprintf(args, sizeof args, "plot %s/piped --out %s/p.png", dir, dir);
    refused(dir, 1, args, pipe_metrics, "FIFO");
    fixture_cleanup(dir);
}

/* An output that is one of the command's inputs, and the other refusals of augment and plot:
 * each leaves every file as it was. */
static void test_refusals_change_nothing(void **state)
{
    (void)state;
    if (!vkclr_binary) skip();
    char dir[256], args[1200];
    fixture_dir(dir);
    metrics(dir, "run/metrics.jsonl");
    fixture_idx(dir, "idx", 20, 10, -1, 0);
    fixture_write(dir, "views.png", "an older picture", 16);
    /* augment --out on one of its data files, or anywhere in the data's folder. */
    snprintf(args, sizeof args, "augment --data idx:%s/idx --out %s/idx/train-images-idx3-ubyte", dir, dir);
    refused(dir, 2, args, "inside", "refusing to write among the data");
    snprintf(args, sizeof args, "augment --data idx:%s/idx --out %s/idx/views.png", dir, dir);
    refused(dir, 2, args, "refusing to write among the data", NULL);
    /* plot --out on the metrics it reads (by its path, or through the run's directory). */
    snprintf(args, sizeof args, "plot %s/run --out %s/run/metrics.jsonl", dir, dir);
    refused(dir, 2, args, "which this command reads", NULL);
    snprintf(args, sizeof args, "plot %s/run/metrics.jsonl %s/run --out %s/run/../run/metrics.jsonl", dir, dir, dir);
    refused(dir, 2, args, "which this command reads", NULL);
    /* The rest of augment's refusals: bad data, no training images, a bad --aug, an unknown preset. */
    snprintf(args, sizeof args, "augment --data idx:%s/nothing --out %s/views.png", dir, dir);
    refused(dir, 1, args, "nothing", NULL);
    fixture_idx(dir, "empty", 0, 10, -1, 0);
    snprintf(args, sizeof args, "augment --data idx:%s/empty --out %s/views.png", dir, dir);
    refused(dir, 1, args, "no training images", NULL);
    snprintf(args, sizeof args, "augment --data idx:%s/idx --aug scale=2:1 --out %s/views.png", dir, dir);
    refused(dir, 1, args, "scale", NULL);
    snprintf(args, sizeof args, "augment --data idx:%s/idx --preset nope --out %s/views.png", dir, dir);
    refused(dir, 1, args, "nope", NULL);
    snprintf(args, sizeof args, "augment --data idx:%s/idx --count 0 --out %s/views.png", dir, dir);
    refused(dir, 2, args, "--count", NULL);
    /* plot's: a run without metrics, metrics with a key twice in a line. */
    snprintf(args, sizeof args, "plot %s/none --out %s/p.png", dir, dir);
    refused(dir, 1, args, "none", NULL);
    fixture_write(dir, "dup/metrics.jsonl", "{\"step\":1,\"loss\":2,\"loss\":3}\n", 30);
    snprintf(args, sizeof args, "plot %s/dup --out %s/p.png", dir, dir);
    refused(dir, 1, args, "line 1", "key 'loss' twice");
    fixture_cleanup(dir);
}

int main(int argc, char **argv)
{
    if (argc > 1) vkclr_binary = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_size_limit),
        cmocka_unit_test(test_outputs_regular),
        cmocka_unit_test(test_refusals_change_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
