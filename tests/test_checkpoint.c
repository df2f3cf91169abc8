/* Checkpoint reading on hand-made safetensors files, without a device (the cpu suite, so CI runs
 * it under AddressSanitizer and UndefinedBehaviorSanitizer): the checksum (every flipped byte of
 * header or data is refused as corrupt; a file without one, written before checksums, reads with
 * a warning), strict structure (offsets that tile the data, known dtypes, whole numbers, padding
 * of spaces), metadata numbers, the configuration's ranges, and every message naming the file.
 * Non-finite weights and keys given twice (anywhere in the header or the configuration) are
 * refused naming the tensor or key. Also the files vkclr writes beside a checkpoint: single
 * files and directories replaced as a whole (vkclr/fileio.h) under a file-size limit
 * (RLIMIT_FSIZE) and a crash at every point of a replacement (a child that dies there), outputs
 * refused where a FIFO or a directory stands, and exports (features, labels and their
 * manifest). */
#include <math.h>
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
#include "vkclr/json.h"
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
    const char *intervals[] = {"x", "-1 0", "1 nan", "1 inf", "1 1e999", "1 1,2", "1  2", "1 2 ", "1 0x10", "1 0x1p3",
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

/* A NaN or an infinity in any F32 tensor (re-signed: the checksum vouches for it) is refused,
 * naming the tensor and the element. */
static void test_non_finite_refused(void **state)
{
    (void)state;
    size_t n;
    uint8_t *file = build(&(Spec){0}, &n);
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)file[i] << (8 * i);
    static const struct {
        size_t offset; /* into the data */
        float value;
        const char *tensor, *what;
    } cases[] = {{8, NAN, "'w'", "NaN at element 2"}, {28, INFINITY, "'optimizer.state'", "infinite value at element 1"},
                 {0, -INFINITY, "'w'", "element 0"}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint8_t *copy = malloc(n);
        memcpy(copy, file, n);
        memcpy(copy + 8 + hlen + cases[k].offset, &cases[k].value, 4);
        fixture_resign(copy, n);
        refused(copy, n, cases[k].tensor);
        refused(copy, n, cases[k].what);
        free(copy);
    }
    free(file);
}

/* A key twice, anywhere: the metadata, a tensor's entry, the configuration inside the metadata
 * (cJSON would take the first, Python the last). */
static void test_duplicate_keys_refused(void **state)
{
    (void)state;
    refused_spec(&(Spec){.edit_from = "\"epoch\":\"1\"", .edit_to = "\"epoch\":\"1\",\"step\":\"7\""}, "key 'step' twice");
    refused_spec(&(Spec){.edit_from = "\"dtype\":\"F32\"", .edit_to = "\"dtype\":\"F32\",\"dtype\":\"F16\""},
                 "key 'dtype' twice");
    refused_spec(&(Spec){.edit_from = "\"config\":\"{", .edit_to = "\"config\":\"{\\\"width\\\":4,"}, "key 'width' twice");
    /* The helper itself: nested objects, arrays of objects; a unique document passes. */
    cJSON *j;
    ASSERT_ERROR_MENTIONS(vkc_json_parse("{\"a\":{\"b\":1,\"c\":2,\"b\":3}}", "x.json", &j), "x.json", "key 'b' twice",
                          "'a'");
    ASSERT_ERROR_MENTIONS(vkc_json_parse("[{\"k\":1},{\"k\":1,\"k\":2}]", "y.json", &j), "y.json", "key 'k' twice");
    ASSERT_ERROR_MENTIONS(vkc_json_parse("{\"a\":1} x", "z.json", &j), "z.json", "not valid JSON");
    if (vkc_json_parse("{\"a\":{\"b\":1},\"b\":[{\"b\":2}],\"c\":{\"b\":3}}", "ok.json", &j)) fail_msg("%s", vkc_error());
    cJSON_Delete(j);
    /* config.json read from its file. */
    char dir[256];
    fixture_dir(dir);
    VkcTrainConfig c = vkc_train_defaults();
    char *text = vkc_config_to_json(&c, true);
    char *dup = malloc(strlen(text) + 32);
    sprintf(dup, "{\"seed\": 9,%s", text + 1);
    fixture_write(dir, "config.json", dup, strlen(dup));
    ASSERT_ERROR_MENTIONS(vkc_config_read(fixture_path(dir, "config.json"), &c), "config.json", "key 'seed' twice");
    fixture_write(dir, "config.json", text, strlen(text));
    if (vkc_config_read(fixture_path(dir, "config.json"), &c)) fail_msg("%s", vkc_error());
    free(dup);
    free(text);
    fixture_cleanup(dir);
}

/* ---------------------------------------------------------------- files written as a whole */

static char *slurp(const char *path)
{
    size_t n;
    return (char *)fixture_read(path, &n);
}

static bool exists(const char *path) { return access(path, F_OK) == 0; }

static void assert_text(const char *path, const char *want)
{
    char *got = slurp(path);
    if (strcmp(got, want)) fail_msg("%s holds '%s', want '%s'", path, got, want);
    free(got);
}

/* In a child with a file-size limit of `limit` bytes (SIGXFSZ ignored, as vkclr's main does:
 * writes then fail with EFBIG), write the directory `dir` of files a (na bytes) and b (nb);
 * returns the child's exit status: 0 written, 3 refused naming b with "File too large". */
static int write_dir_limited(const char *dir, size_t na, size_t nb, rlim_t limit)
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
        VkcFileSpec set[2] = {{"a", pa, &na, 1}, {"b", pb, &nb, 1}};
        int rc = vkc_write_dir_atomic(dir, set, 2, false);
        if (rc) fprintf(stderr, "child: %s\n", vkc_error());
        _exit(rc ? (strstr(vkc_error(), "/b") && strstr(vkc_error(), "File too large") ? 3 : 4) : 0);
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Write dir = {a: ta, b: tb}. */
static int write_pair(const char *dir, const char *ta, const char *tb)
{
    size_t na = strlen(ta), nb = strlen(tb);
    const void *pa[1] = {ta}, *pb[1] = {tb};
    VkcFileSpec set[2] = {{"a", pa, &na, 1}, {"b", pb, &nb, 1}};
    return vkc_write_dir_atomic(dir, set, 2, false);
}

static const char *crash_point;
static int crash_at, crash_seen;
static void crash_hook(const char *point, const char *path)
{
    (void)path;
    if (!strcmp(point, crash_point) && ++crash_seen == crash_at) _exit(9); /* a crash: nothing more runs */
}

static void test_dir_written_whole(void **state)
{
    (void)state;
    char dir[256], d[300], tmp[320], old[320];
    fixture_dir(dir);
    snprintf(d, sizeof d, "%s/set", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", d);
    snprintf(old, sizeof old, "%s.old.tmp", d);
    char pa[320], pb[320];
    snprintf(pa, sizeof pa, "%s/a", d);
    snprintf(pb, sizeof pb, "%s/b", d);
    if (write_pair(d, "old a", "old b")) fail_msg("%s", vkc_error());
    assert_text(pa, "old a");
    /* The second file does not fit: the message names it, the old set stays, nothing is left. */
    assert_int_equal(write_dir_limited(d, 100, 5000, 1000), 3);
    assert_text(pa, "old a");
    assert_text(pb, "old b");
    assert_false(exists(tmp));
    /* Both fit: both replaced, no temporary left. */
    assert_int_equal(write_dir_limited(d, 100, 500, 1000), 0);
    size_t na, nb;
    free(fixture_read(pa, &na)), free(fixture_read(pb, &nb));
    assert_int_equal(na, 100);
    assert_int_equal(nb, 500);
    assert_false(exists(tmp));
    /* A crash at each point of the replacement (the child dies there): the directory holds the
     * old set or the new one, never a mix; the next write's start removes what was left. */
    static const struct {
        const char *point;
        int n;
        bool new_visible;
    } points[] = {{"staged", 1, false}, {"staged", 2, false}, {"written", 1, false},
                  {"renamed", 1, true}, {"cleaned", 1, true}};
    for (size_t k = 0; k < sizeof points / sizeof points[0]; k++) {
        if (write_pair(d, "old a", "old b")) fail_msg("%s", vkc_error());
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            crash_point = points[k].point, crash_at = points[k].n, crash_seen = 0;
            vkc_fileio_set_hook(crash_hook);
            write_pair(d, "new a", "new b");
            _exit(0);
        }
        int status;
        waitpid(pid, &status, 0);
        assert_int_equal(WEXITSTATUS(status), 9);
        const char *want = points[k].new_visible ? "new" : "old";
        char wa[16], wb[16];
        snprintf(wa, sizeof wa, "%s a", want);
        snprintf(wb, sizeof wb, "%s b", want);
        assert_text(pa, wa);
        assert_text(pb, wb);
        printf("crash at %s %d: the %s set, whole\n", points[k].point, points[k].n, want);
        if (vkc_remove_stale(d)) fail_msg("%s", vkc_error());
        assert_false(exists(tmp));
        assert_false(exists(old));
        assert_text(pa, wa);
    }
    /* A directory that holds anything else is not replaced (its files would go). */
    fixture_write(dir, "set/notes.txt", "mine", 4);
    ASSERT_ERROR_MENTIONS(write_pair(d, "x", "y"), "notes.txt", "nothing but its own files");
    assert_text(pa, "new a");
    remove(fixture_path(dir, "set/notes.txt"));
    /* A file where the directory belongs is refused. */
    char f[320];
    snprintf(f, sizeof f, "%s/file", dir);
    fixture_write(dir, "file", "x", 1);
    ASSERT_ERROR_MENTIONS(write_pair(f, "x", "y"), f, "not a directory");
    fixture_cleanup(dir);
}

/* A single file: under a file-size limit the message says "File too large" naming it and no
 * PATH.tmp is left; a FIFO or a directory where it belongs is refused without blocking; a
 * stale PATH.tmp (even a FIFO) is replaced, not written into. */
static void test_file_outputs(void **state)
{
    (void)state;
    char dir[256], path[320], fifo[320], sub[320], tmp[340];
    fixture_dir(dir);
    snprintf(path, sizeof path, "%s/out.bin", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {1000, 1000};
        setrlimit(RLIMIT_FSIZE, &rl);
        char big[5000];
        memset(big, 'x', sizeof big);
        const void *parts[1] = {big};
        size_t sizes[1] = {sizeof big};
        int rc = vkc_write_file_atomic(path, parts, sizes, 1);
        _exit(rc && strstr(vkc_error(), path) && strstr(vkc_error(), "File too large") ? 3 : 4);
    }
    int status;
    waitpid(pid, &status, 0);
    assert_int_equal(WEXITSTATUS(status), 3);
    assert_false(exists(path));
    assert_false(exists(tmp));
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    ASSERT_ERROR_MENTIONS(vkc_write_text_atomic(fifo, "x"), fifo, "a FIFO, not a regular file");
    ASSERT_ERROR_MENTIONS(vkc_check_output(fifo), fifo, "FIFO");
    assert_null(vkc_fopen_regular(fifo, "rb")); /* no reader, no writer: would block in fopen */
    assert_non_null(strstr(vkc_error(), "FIFO"));
    assert_null(vkc_fopen_regular(fifo, "ab"));
    snprintf(sub, sizeof sub, "%s/sub", dir);
    mkdir(sub, 0755);
    ASSERT_ERROR_MENTIONS(vkc_write_text_atomic(sub, "x"), sub, "a directory, not a regular file");
    ASSERT_ERROR_MENTIONS(vkc_check_output("/dev/null"), "/dev/null", "character device");
    /* A stale temporary FIFO: replaced by the write. */
    assert_int_equal(mkfifo(tmp, 0644), 0);
    if (vkc_write_text_atomic(path, "done")) fail_msg("%s", vkc_error());
    assert_text(path, "done");
    assert_false(exists(tmp));
    fixture_cleanup(dir);
}

/* An export: features, labels and manifest in their directory; a mixed pair is found out. */
static void test_export_manifest(void **state)
{
    (void)state;
    char dir[256], e[300], e2[300], l[320];
    fixture_dir(dir);
    snprintf(e, sizeof e, "%s/e", dir);
    snprintf(e2, sizeof e2, "%s/e2", dir);
    snprintf(l, sizeof l, "%s/%s", e, VKC_EXPORT_LABELS);
    float feat[6] = {1, 2, 3, 4, 5, 6};
    int64_t lab[3] = {0, 1, 2}, lab2[3] = {2, 2, 1};
    if (vkc_export_write(e, feat, 3, 2, VKC_NPY_I64, lab, "{\"split\":\"test\"}", false) ||
        vkc_export_write(e2, feat, 3, 2, VKC_NPY_I64, lab2, NULL, false))
        fail_msg("%s", vkc_error());
    uint32_t rows;
    if (vkc_export_check(e, &rows)) fail_msg("%s", vkc_error());
    assert_int_equal(rows, 3);
    char m[320];
    snprintf(m, sizeof m, "%s/%s", e, VKC_EXPORT_MANIFEST);
    char *text = slurp(m);
    cJSON *j = cJSON_Parse(text);
    assert_string_equal(cJSON_GetObjectItem(j, "split")->valuestring, "test");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "labels"), "file")->valuestring, VKC_EXPORT_LABELS);
    assert_int_equal(cJSON_GetObjectItem(j, "rows")->valueint, 3);
    /* zlib.crc32 of the file's bytes, as a Python user would check it */
    size_t n;
    char f[320];
    snprintf(f, sizeof f, "%s/%s", e, VKC_EXPORT_FEATURES);
    uint8_t *bytes = fixture_read(f, &n);
    char hex[16];
    snprintf(hex, sizeof hex, "%08lx", crc32_z(0, bytes, n));
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "features"), "crc32")->valuestring, hex);
    cJSON_Delete(j);
    free(text);
    free(bytes);
    /* The labels of another export copied in: found out. */
    char l2[320];
    snprintf(l2, sizeof l2, "%s/%s", e2, VKC_EXPORT_LABELS);
    uint8_t *other = fixture_read(l2, &n);
    fixture_write(e, VKC_EXPORT_LABELS, other, n);
    ASSERT_ERROR_MENTIONS(vkc_export_check(e, &rows), l, "does not match its export manifest");
    free(other);
    remove(l);
    ASSERT_ERROR_MENTIONS(vkc_export_check(e, &rows), l);
    /* A manifest with a key twice is not an export's. */
    const char *twice = "{\"format\":\"vkclr-export-1\",\"rows\":3,\"rows\":4}";
    fixture_write(e, VKC_EXPORT_MANIFEST, twice, strlen(twice));
    ASSERT_ERROR_MENTIONS(vkc_export_check(e, &rows), "key 'rows' twice");
    /* Another file in the directory: no longer an export's to replace. */
    fixture_write(e, "mine.txt", "x", 1);
    ASSERT_ERROR_MENTIONS(vkc_export_check_dir(e), "mine.txt");
    fixture_cleanup(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),           cmocka_unit_test(test_every_flip_refused),
        cmocka_unit_test(test_checksum_entry),  cmocka_unit_test(test_metadata_numbers),
        cmocka_unit_test(test_metadata_config), cmocka_unit_test(test_structure),
        cmocka_unit_test(test_non_finite_refused), cmocka_unit_test(test_duplicate_keys_refused),
        cmocka_unit_test(test_dir_written_whole), cmocka_unit_test(test_file_outputs),
        cmocka_unit_test(test_export_manifest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
