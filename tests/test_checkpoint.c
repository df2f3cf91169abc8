/* Checkpoint reading on hand-made safetensors files, without a device (the cpu suite, so CI runs
 * it under AddressSanitizer and UndefinedBehaviorSanitizer): the checksum (every flipped byte of
 * header or data is refused as corrupt; a file without one, written before checksums, reads with
 * a warning), strict structure (offsets that tile the data, known dtypes, whole numbers, padding
 * of spaces), metadata numbers, the configuration's ranges, and every message naming the file.
 * Also the files vkclr writes beside a checkpoint: sets of files replaced together
 * (vkc_write_files_atomic) and exports (features, labels and their manifest), with a full disk
 * simulated by RLIMIT_FSIZE in a child process. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <sys/resource.h>

#include "fixtures.h"
#include "vkclr/checkpoint.h"
#include "vkclr/fileio.h"
#include "vkclr/npy.h"

/* ---------------------------------------------------------------- hand-made checkpoints */

typedef struct {
    const char *format;      /* NULL: "vkclr-checkpoint-2" */
    const char *step;        /* NULL: "5" */
    const char *interval;    /* NULL: none */
    const char *config_key;  /* set this configuration key ... */
    cJSON *config_value;     /* ... to this value (owned) */
    bool no_checksum;
    const char *edit_from, *edit_to; /* then replace this text of the header by that */
    size_t extra_data;       /* bytes appended after the data */
} Spec;

/* A checkpoint of two F32 tensors, "w" [2, 3] and "optimizer.state" [2], with the default
 * configuration: header built like vkclr builds it, padded, data, then the checksum. */
static uint8_t *build(const Spec *s, size_t *size)
{
    VkcTrainConfig c = vkc_train_defaults();
    char *config = vkc_config_to_json(&c, false);
    if (s->config_key) {
        cJSON *j = cJSON_Parse(config);
        cJSON_ReplaceItemInObjectCaseSensitive(j, s->config_key, s->config_value);
        free(config);
        config = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
    }
    cJSON *h = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(h, "__metadata__");
    cJSON_AddStringToObject(meta, "format", s->format ? s->format : "vkclr-checkpoint-2");
    cJSON_AddStringToObject(meta, "step", s->step ? s->step : "5");
    cJSON_AddStringToObject(meta, "epoch", "1");
    if (s->interval) cJSON_AddStringToObject(meta, "interval", s->interval);
    cJSON_AddStringToObject(meta, "config", config);
    if (!s->no_checksum) cJSON_AddStringToObject(meta, "checksum", "crc32 header=00000000 data=00000000");
    free(config);
    const char *names[2] = {"w", "optimizer.state"};
    int shapes[2][2] = {{2, 3}, {2, 0}}, ndims[2] = {2, 1}, offs[3] = {0, 24, 32};
    for (int t = 0; t < 2; t++) {
        cJSON *e = cJSON_AddObjectToObject(h, names[t]), *shape = cJSON_AddArrayToObject(e, "shape");
        cJSON *o = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddStringToObject(e, "dtype", "F32");
        for (int d = 0; d < ndims[t]; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber(shapes[t][d]));
        cJSON_AddItemToArray(o, cJSON_CreateNumber(offs[t]));
        cJSON_AddItemToArray(o, cJSON_CreateNumber(offs[t + 1]));
    }
    char *json = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    if (s->edit_from) {
        char *at = strstr(json, s->edit_from);
        if (!at) fail_msg("'%s' is not in the header", s->edit_from);
        size_t a = (size_t)(at - json), lf = strlen(s->edit_from), lt = strlen(s->edit_to), n = strlen(json);
        char *edited = malloc(n - lf + lt + 1);
        memcpy(edited, json, a);
        memcpy(edited + a, s->edit_to, lt);
        memcpy(edited + a + lt, at + lf, n - a - lf + 1);
        free(json);
        json = edited;
    }
    size_t n = strlen(json), padded = (n + 7) / 8 * 8, data = 32 + s->extra_data;
    *size = 8 + padded + data;
    uint8_t *file = malloc(*size);
    for (int i = 0; i < 8; i++) file[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    memcpy(file + 8, json, n);
    memset(file + 8 + n, ' ', padded - n);
    for (size_t i = 0; i < data; i++) file[8 + padded + i] = (uint8_t)(i * 29 + 1);
    free(json);
    if (!s->no_checksum) fixture_resign(file, *size);
    return file;
}

/* check_bytes fails naming the file and mentioning `needle`. */
static void refused(const uint8_t *file, size_t n, const char *needle)
{
    VkcTrainConfig c;
    if (vkc_checkpoint_check_bytes(file, n, "hand/made.safetensors", &c, NULL) != VKC_ERR)
        fail_msg("accepted a checkpoint that should be refused for '%s'", needle);
    if (!strstr(vkc_error(), "hand/made.safetensors") || !strstr(vkc_error(), needle))
        fail_msg("message '%s' does not name the file and '%s'", vkc_error(), needle);
}

static void refused_spec(const Spec *s, const char *needle)
{
    size_t n;
    uint8_t *file = build(s, &n);
    refused(file, n, needle);
    free(file);
}

static void test_valid(void **state)
{
    (void)state;
    size_t n;
    uint8_t *file = build(&(Spec){.interval = "3 1.5 -2 0.25 1e-300 0 0 0 7"}, &n);
    VkcTrainConfig c;
    VkcTrainState m;
    if (vkc_checkpoint_check_bytes(file, n, "ok.safetensors", &c, &m)) fail_msg("%s", vkc_error());
    assert_int_equal(m.step, 5);
    assert_int_equal(m.epoch, 1);
    assert_true(m.checksummed);
    assert_int_equal(m.interval_steps, 3);
    assert_int_equal(m.interval_nsums, 8);
    assert_true(m.interval_sums[0] == 1.5 && m.interval_sums[3] == 1e-300 && m.interval_sums[7] == 7);
    assert_int_equal(c.model.width, vkc_train_defaults().model.width);
    /* The same bytes from a file: read_config checks the header alone. */
    char dir[256];
    fixture_dir(dir);
    fixture_write(dir, "c.safetensors", file, n);
    int64_t step;
    if (vkc_checkpoint_read_config(fixture_path(dir, "c.safetensors"), &c, &step)) fail_msg("%s", vkc_error());
    assert_int_equal(step, 5);
    fixture_cleanup(dir);
    free(file);
}

/* Every byte of the header and of the data, flipped: refused, nearly always as "corrupt" (a
 * flip that breaks the checksum entry's own quotes is invalid JSON first). */
static void test_every_flip_refused(void **state)
{
    (void)state;
    size_t n;
    uint8_t *file = build(&(Spec){0}, &n);
    int corrupt = 0, total = 0;
    for (size_t i = 0; i < n; i++)
        for (int bit = 0; bit < 8; bit += 3) {
            file[i] ^= (uint8_t)(1u << bit);
            VkcTrainConfig c;
            int rc = vkc_checkpoint_check_bytes(file, n, "hand/made.safetensors", &c, NULL);
            file[i] ^= (uint8_t)(1u << bit);
            if (rc != VKC_ERR) fail_msg("byte %zu bit %d flipped: accepted", i, bit);
            if (!strstr(vkc_error(), "hand/made.safetensors")) fail_msg("byte %zu: '%s' does not name the file", i, vkc_error());
            corrupt += strstr(vkc_error(), "corrupt") != NULL;
            total++;
        }
    printf("%d flipped bits of a %zu-byte checkpoint refused, %d of them as corrupt\n", total, n, corrupt);
    assert_true(corrupt >= total * 9 / 10);
    /* A missing last byte, a byte too many. */
    refused(file, n - 1, "truncated");
    free(file);
    refused_spec(&(Spec){.extra_data = 4}, "bytes after the last tensor");
}

static void test_checksum_entry(void **state)
{
    (void)state;
    /* Format 2 promises a checksum: without it, the file is corrupt. */
    refused_spec(&(Spec){.no_checksum = true}, "checksum entry is missing or damaged");
    /* Format 1 (before checksums) without one reads, unchecked, with a warning. */
    size_t n;
    uint8_t *file = build(&(Spec){.format = "vkclr-checkpoint-1", .no_checksum = true}, &n);
    VkcTrainState m;
    if (vkc_checkpoint_check_bytes(file, n, "old.safetensors", NULL, &m)) fail_msg("%s", vkc_error());
    assert_false(m.checksummed);
    free(file);
    refused_spec(&(Spec){.format = "vkclr-checkpoint-3"}, "not a vkclr training checkpoint");
}

/* The metadata's numbers: decimal digits, at most 2^40 steps. */
static void test_metadata_numbers(void **state)
{
    (void)state;
    const char *bad[] = {"abc", "", "-1", "1e5", "0x10", " 5", "5 ", "12345678901234", "1099511627777"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) refused_spec(&(Spec){.step = bad[i]}, "'step'");
    size_t n;
    uint8_t *file = build(&(Spec){.step = "1099511627776"}, &n);
    VkcTrainState m;
    if (vkc_checkpoint_check_bytes(file, n, "big.safetensors", NULL, &m)) fail_msg("%s", vkc_error());
    assert_true(m.step == (INT64_C(1) << 40));
    free(file);
    const char *intervals[] = {"x", "-1 0", "1 nan", "1 inf", "1 1e999", "1 1,2", "1  2", "1 2 ",
                               "1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17", "1234567890 1"};
    for (size_t i = 0; i < sizeof intervals / sizeof intervals[0]; i++)
        refused_spec(&(Spec){.interval = intervals[i]}, "'interval'");
}

/* The configuration in the metadata goes through the option table: out-of-range values are
 * refused naming the file and the key, never cast. */
static void test_metadata_config(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        double value;
    } bad[] = {{"limit", 1e300}, {"limit", 3e9}, {"limit", -1}, {"width", 1e300}, {"width", 0},
               {"batch", 1e10},  {"lr", 1e300},  {"seed", 1e300}, {"seed", -1},   {"epochs", 0.5}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char want[80];
        snprintf(want, sizeof want, "configuration key '%s'", bad[i].key);
        refused_spec(&(Spec){.config_key = bad[i].key, .config_value = cJSON_CreateNumber(bad[i].value)}, want);
    }
    refused_spec(&(Spec){.config_key = "encoder", .config_value = cJSON_CreateString("vgg")}, "'encoder'");
    refused_spec(&(Spec){.config_key = "data", .config_value = cJSON_CreateNumber(1)}, "'data'");
    refused_spec(&(Spec){.edit_from = "\"config\":\"{", .edit_to = "\"config\":\"[{"}, "not a JSON object");
}

/* Strict safetensors: the tensor table, types and padding. */
static void test_structure(void **state)
{
    (void)state;
    static const struct {
        const char *from, *to, *needle;
    } edits[] = {
        {"[0,24]", "[0,20]", "data_offsets span"},                 /* size does not match the shape */
        {"[24,32]", "[20,28]", "a hole or an overlap"},             /* overlap */
        {"[0,24]", "[0.5,24.5]", "data_offsets"},                   /* fractions */
        {"[0,24]", "[-24,0]", "data_offsets"},                      /* negative */
        {"[0,24]", "[0,1e300]", "data_offsets"},                    /* huge */
        {"[0,24]", "[24,0]", "data_offsets"},                       /* reversed */
        {"[2,3]", "[2,3.5]", "shape"},                              /* fraction in a shape */
        {"[2,3]", "[4294967296,4294967296,4294967296,4294967296]", "shape"}, /* overflowing product */
        {"\"F32\"", "\"F31\"", "dtype"},                            /* unknown dtype */
        {"\"F32\"", "3", "dtype"},                                  /* not a string */
        {"\"format\"", "\"format\":\"x\",\"n\":1,\"format2\"", "not a string"}, /* metadata must be strings */
        {"{\"__metadata__\"", "[{\"__metadata__\"", "JSON"},        /* not an object */
        {"\"w\":", "\"optimizer.state\":", "twice"},                /* duplicate name */
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++)
        refused_spec(&(Spec){.edit_from = edits[i].from, .edit_to = edits[i].to}, edits[i].needle);
    /* Padding must be spaces; no NUL; the header length must lie in the file. */
    size_t n;
    uint8_t *file = build(&(Spec){.no_checksum = true, .format = "vkclr-checkpoint-1"}, &n);
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)file[i] << (8 * i);
    uint8_t *copy = malloc(n);
    memcpy(copy, file, n);
    size_t last = 8 + hlen - 1;
    while (copy[last] != ' ' && last > 8) last--;
    if (copy[last] == ' ') {
        copy[last] = 'x';
        refused(copy, n, "padding");
        copy[last] = '\0';
        refused(copy, n, "NUL");
    }
    memcpy(copy, file, n);
    copy[7] = 0x40; /* a header length past the end of the file */
    refused(copy, n, "not a safetensors file");
    copy[7] = 0, copy[0] = (uint8_t)(n);
    refused(copy, n, "truncated header");
    refused(file, 7, "truncated");
    free(copy);
    free(file);
}

/* ---------------------------------------------------------------- files written as a set */

static char *slurp(const char *path)
{
    size_t n;
    return (char *)fixture_read(path, &n);
}

static bool exists(const char *path) { return access(path, F_OK) == 0; }

/* In a child with a file-size limit of `limit` bytes (SIGXFSZ ignored: writes fail with EFBIG,
 * as on a full disk), write files a and b; returns the child's exit status (0: written). */
static int write_pair_limited(const char *a, size_t na, const char *b, size_t nb, rlim_t limit)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {limit, limit};
        setrlimit(RLIMIT_FSIZE, &rl);
        char *da = malloc(na), *db = malloc(nb);
        memset(da, 'A', na);
        memset(db, 'B', nb);
        const void *pa[1] = {da}, *pb[1] = {db};
        VkcFileSpec set[2] = {{a, pa, &na, 1}, {b, pb, &nb, 1}};
        int rc = vkc_write_files_atomic(set, 2);
        if (rc) fprintf(stderr, "child: %s\n", vkc_error());
        _exit(rc ? (strstr(vkc_error(), b) ? 3 : 4) : 0);
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_files_as_a_set(void **state)
{
    (void)state;
    char dir[256], a[300], b[300];
    fixture_dir(dir);
    snprintf(a, sizeof a, "%s/a.bin", dir);
    snprintf(b, sizeof b, "%s/b.bin", dir);
    fixture_write(dir, "a.bin", "old a", 5);
    fixture_write(dir, "b.bin", "old b", 5);
    /* The second file does not fit: the message names it, and both old files stay. */
    assert_int_equal(write_pair_limited(a, 100, b, 5000, 1000), 3);
    char *ta = slurp(a), *tb = slurp(b);
    assert_string_equal(ta, "old a");
    assert_string_equal(tb, "old b");
    free(ta), free(tb);
    char tmp[320];
    snprintf(tmp, sizeof tmp, "%s.tmp", a);
    assert_false(exists(tmp));
    snprintf(tmp, sizeof tmp, "%s.tmp", b);
    assert_false(exists(tmp));
    /* Both fit: both replaced. */
    assert_int_equal(write_pair_limited(a, 100, b, 500, 1000), 0);
    size_t na, nb;
    free(fixture_read(a, &na)), free(fixture_read(b, &nb));
    assert_int_equal(na, 100);
    assert_int_equal(nb, 500);
    /* A folder that does not exist, a path named twice. */
    const void *p[1] = {"x"};
    size_t one = 1;
    char missing[320];
    snprintf(missing, sizeof missing, "%s/no/such/dir/c.bin", dir);
    VkcFileSpec set[2] = {{a, p, &one, 1}, {missing, p, &one, 1}};
    ASSERT_ERROR_MENTIONS(vkc_write_files_atomic(set, 2), missing);
    free(fixture_read(a, &na));
    assert_int_equal(na, 100);
    VkcFileSpec twice[2] = {{a, p, &one, 1}, {a, p, &one, 1}};
    ASSERT_ERROR_MENTIONS(vkc_write_files_atomic(twice, 2), a, "twice");
    fixture_cleanup(dir);
}

/* An export: features, labels and manifest; a mixed pair and a torn set are found out. */
static void test_export_manifest(void **state)
{
    (void)state;
    char dir[256], f[300], l[300], m[300], f2[300], l2[300], m2[300];
    fixture_dir(dir);
    snprintf(f, sizeof f, "%s/f.npy", dir);
    snprintf(l, sizeof l, "%s/f.labels.npy", dir);
    snprintf(m, sizeof m, "%s/f.export.json", dir);
    snprintf(f2, sizeof f2, "%s/g.npy", dir);
    snprintf(l2, sizeof l2, "%s/g.labels.npy", dir);
    snprintf(m2, sizeof m2, "%s/g.export.json", dir);
    float feat[6] = {1, 2, 3, 4, 5, 6};
    int64_t lab[3] = {0, 1, 2}, lab2[3] = {2, 2, 1};
    if (vkc_export_write(f, l, m, feat, 3, 2, VKC_NPY_I64, lab, "{\"split\":\"test\"}") ||
        vkc_export_write(f2, l2, m2, feat, 3, 2, VKC_NPY_I64, lab2, NULL))
        fail_msg("%s", vkc_error());
    uint32_t rows;
    if (vkc_export_check(m, &rows)) fail_msg("%s", vkc_error());
    assert_int_equal(rows, 3);
    char *text = slurp(m);
    cJSON *j = cJSON_Parse(text);
    assert_string_equal(cJSON_GetObjectItem(j, "split")->valuestring, "test");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "labels"), "file")->valuestring, "f.labels.npy");
    assert_int_equal(cJSON_GetObjectItem(j, "rows")->valueint, 3);
    /* zlib.crc32 of the file's bytes, as a Python user would check it */
    size_t n;
    uint8_t *bytes = fixture_read(f, &n);
    char hex[16];
    snprintf(hex, sizeof hex, "%08lx", crc32_z(0, bytes, n));
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "features"), "crc32")->valuestring, hex);
    cJSON_Delete(j);
    free(text);
    /* The labels of another export put in place (a crash between renames, or a mix-up). */
    uint8_t *other = fixture_read(l2, &n);
    fixture_write(dir, "f.labels.npy", other, n);
    ASSERT_ERROR_MENTIONS(vkc_export_check(m, &rows), l, "does not match its export manifest");
    free(other);
    free(bytes);
    remove(l);
    ASSERT_ERROR_MENTIONS(vkc_export_check(m, &rows), l);
    fixture_cleanup(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),           cmocka_unit_test(test_every_flip_refused),
        cmocka_unit_test(test_checksum_entry),  cmocka_unit_test(test_metadata_numbers),
        cmocka_unit_test(test_metadata_config), cmocka_unit_test(test_structure),
        cmocka_unit_test(test_files_as_a_set),  cmocka_unit_test(test_export_manifest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
