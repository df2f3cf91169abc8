/* Test fixtures written on the fly: a temporary folder, raw files, PNGs of any colour type
 * and bit depth (through libpng's full API, so 16-bit and palette files are real ones).
 * Include after cmocka.h. */
#ifndef VKCLR_TESTS_FIXTURES_H
#define VKCLR_TESTS_FIXTURES_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <png.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "cli.h"

/* The device as the environment sets it up (meson test: VKCLR_VALIDATION=1, and the kernel
 * overrides of some checks), read at the test's edge as the vkclr command reads it; quiet. */
static inline VkcContextOptions fixture_context(void)
{
    VkcContextOptions o;
    if (cli_environment(&o)) fail_msg("%s", vkc_error());
    o.quiet = true;
    return o;
}

/* vkclr train's defaults, on that device. */
static inline VkcTrainConfig fixture_train_config(void)
{
    VkcTrainConfig c = vkc_train_defaults();
    c.context = fixture_context();
    return c;
}

/* A tiny quiet run into `out` (may be ""): `batch` images per step for `epochs` epochs of a
 * convnet of `width` channels and `out_dim` embeddings, without the final kNN and probe. */
static inline VkcTrainConfig fixture_tiny_run(const char *out, int batch, int epochs, int width, int out_dim)
{
    VkcTrainConfig c = fixture_train_config();
    c.batch = batch;
    c.epochs = epochs;
    c.model.width = width;
    c.model.out_dim = out_dim;
    c.knn_k = 0;
    c.probe_epochs = 0;
    c.quiet = true;
    snprintf(c.out, sizeof c.out, "%s", out);
    return c;
}

static inline int fixture_remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

/* A fresh temporary folder (path in `dir`, 256 bytes). */
static inline void fixture_dir(char *dir)
{
    snprintf(dir, 256, "/tmp/vkclr-test-XXXXXX");
    if (!mkdtemp(dir)) fail_msg("mkdtemp failed");
}

static inline void fixture_cleanup(const char *dir) { nftw(dir, fixture_remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* dir/rel as a path; creates the parent folders. */
static inline const char *fixture_path(const char *dir, const char *rel)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    for (char *p = path + strlen(dir) + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0755);
            *p = '/';
        }
    return path;
}

static inline void fixture_write(const char *dir, const char *rel, const void *data, size_t bytes)
{
    FILE *f = fopen(fixture_path(dir, rel), "wb");
    if (!f || fwrite(data, 1, bytes, f) != bytes) fail_msg("cannot write fixture %s", rel);
    fclose(f);
}

/* Write a PNG. samples: h rows of w * channels(color_type) samples, 8 or 16 bits as given
 * (16-bit samples as uint16_t values). palette: RGB triples for PNG_COLOR_TYPE_PALETTE. */
static inline void fixture_png(const char *dir, const char *rel, int w, int h, int color_type, int bit_depth,
                        const void *samples, const png_color *palette, int npalette)
{
    FILE *f = fopen(fixture_path(dir, rel), "wb");
    if (!f) fail_msg("cannot write fixture %s", rel);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) fail_msg("libpng failed writing %s", rel);
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, bit_depth, color_type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (palette) png_set_PLTE(png, info, palette, npalette);
    png_write_info(png, info);
    if (bit_depth == 16) png_set_swap(png); /* our uint16_t are little-endian, PNG's big-endian */
    int channels = png_get_channels(png, info);
    size_t row_bytes = (size_t)w * channels * (bit_depth / 8);
    for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)samples + y * row_bytes);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
}

/* A w x h PNG of one 8-bit RGB colour. */
static inline void fixture_png_rgb(const char *dir, const char *rel, int w, int h, uint8_t r, uint8_t g, uint8_t b)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    for (int i = 0; i < w * h; i++) px[3 * i] = r, px[3 * i + 1] = g, px[3 * i + 2] = b;
    fixture_png(dir, rel, w, h, PNG_COLOR_TYPE_RGB, 8, px, NULL, 0);
    free(px);
}

/* A w x h PNG of one 8-bit gray level. */
static inline void fixture_png_gray(const char *dir, const char *rel, int w, int h, uint8_t v)
{
    uint8_t *px = malloc((size_t)w * h);
    memset(px, v, (size_t)w * h);
    fixture_png(dir, rel, w, h, PNG_COLOR_TYPE_GRAY, 8, px, NULL, 0);
    free(px);
}

/* The error message must mention each given fragment. */
#define ASSERT_ERROR_MENTIONS(call, ...)                                                       \
    do {                                                                                       \
        if ((call) != VKC_ERR) fail_msg("%s succeeded, expected an error", #call);             \
        const char *frags_[] = {__VA_ARGS__};                                                  \
        for (size_t k_ = 0; k_ < sizeof frags_ / sizeof frags_[0]; k_++)                       \
            if (!strstr(vkc_error(), frags_[k_]))                                              \
                fail_msg("%s: message '%s' does not mention '%s'", #call, vkc_error(), frags_[k_]); \
    } while (0)

/* The whole file at path, NUL-terminated (so text files can be used as strings); *n bytes. */
static inline uint8_t *fixture_read(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(*n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, *n, f), *n);
    p[*n] = 0;
    fclose(f);
    return p;
}

/* Full disks for tests: a tmpfs of a given size mounted over a test folder, so that writes
 * there fail with ENOSPC as on a real full disk. (A file-size limit, RLIMIT_FSIZE, cannot play
 * this part for Vulkan commands: Mesa >= 25's lavapipe backs device memory with memfd files,
 * which the limit caps too, and the driver then dies of SIGBUS before vkclr writes a byte.)
 * The mounts live in a mount namespace of the test process's own, made by
 * fixture_small_disks_init(), which must run first thing in main(), while the process has one
 * thread (unshare refuses otherwise): as root, or in a user namespace of its own where
 * unprivileged ones are allowed. It returns false where neither is possible; the test then
 * skips what needs a full disk, saying so. Children (vkclr runs) inherit the mounts. */
static inline bool fixture_write_proc(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY);
    bool ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);
    if (fd >= 0) close(fd);
    return ok;
}

static bool fixture_small_disks_ok;

static inline bool fixture_small_disks_init(void)
{
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWNS) != 0) {
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) return false;
        char map[64];
        snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
        if (!fixture_write_proc("/proc/self/setgroups", "deny") || !fixture_write_proc("/proc/self/uid_map", map))
            return false;
        snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
        if (!fixture_write_proc("/proc/self/gid_map", map)) return false;
    }
    /* Nothing mounted here may show outside this process and its children. */
    fixture_small_disks_ok = mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;
    return fixture_small_disks_ok;
}

/* Mount a tmpfs of `bytes` (whole pages) over the folder dir, or resize the one there (to no
 * less than it holds). */
static inline void fixture_small_disk(const char *dir, long bytes, bool resize)
{
    char options[64];
    snprintf(options, sizeof options, "size=%ld", bytes);
    if (mount("tmpfs", dir, "tmpfs", resize ? MS_REMOUNT : 0, options) != 0)
        fail_msg("cannot %s a tmpfs of %ld bytes at %s: %s", resize ? "resize" : "mount", bytes, dir, strerror(errno));
}

/* Bytes in use on the file system that holds path. */
static inline long fixture_disk_used(const char *path)
{
    struct statvfs s;
    if (statvfs(path, &s)) fail_msg("statvfs %s: %s", path, strerror(errno));
    return (long)((s.f_blocks - s.f_bfree) * s.f_frsize);
}

static inline void fixture_small_disk_remove(const char *dir)
{
    if (umount2(dir, MNT_DETACH)) fail_msg("umount %s: %s", dir, strerror(errno));
}

/* A group teardown for a group whose setup ran in the folder *state points to: removes it. */
static inline int fixture_teardown_dir(void **state)
{
    fixture_cleanup(*state);
    return 0;
}

/* dir_a/name and dir_b/name hold the same bytes (checkpoints of two runs: parameters, running
 * statistics, optimizer state and metadata). */
static inline void fixture_same_file(const char *dir_a, const char *dir_b, const char *name)
{
    char pa[600], pb[600];
    snprintf(pa, sizeof pa, "%s/%s", dir_a, name);
    snprintf(pb, sizeof pb, "%s/%s", dir_b, name);
    size_t na, nb;
    uint8_t *a = fixture_read(pa, &na), *b = fixture_read(pb, &nb);
    if (na != nb || memcmp(a, b, na)) fail_msg("%s and %s differ", pa, pb);
    free(a), free(b);
}

/* Run `binary args` through the shell; its stdout and stderr go to output (NUL-terminated, and
 * echoed to the test log). Returns the exit status (-1 if it did not exit normally). */
static inline int fixture_run(const char *binary, const char *args, char *output, size_t size)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", binary, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(output, 1, size - 1, p);
    output[n] = 0;
    int status = pclose(p);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    printf("vkclr %s -> %d:\n%s", args, code, output);
    return code;
}

/* Start `binary args` (args split at spaces, no quoting) as a child process whose stdout and
 * stderr go to the file `log`. fsize > 0: a file-size limit of that many bytes, set in the child
 * before exec, with SIGXFSZ ignored, so a write past it fails with EFBIG as on a full disk. */
static inline pid_t fixture_spawn(const char *binary, const char *args, const char *log, long fsize)
{
    char *copy = strdup(args), *argv[64];
    int argc = 0;
    argv[argc++] = (char *)binary;
    for (char *t = strtok(copy, " "); t && argc < 63; t = strtok(NULL, " ")) argv[argc++] = t;
    argv[argc] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        if (fsize > 0) {
            signal(SIGXFSZ, SIG_IGN);
            struct rlimit rl = {(rlim_t)fsize, (rlim_t)fsize};
            setrlimit(RLIMIT_FSIZE, &rl);
        }
        execv(binary, argv);
        _exit(127);
    }
    free(copy);
    return pid;
}

/* A child's exit status, or 128 + the signal that ended it. */
static inline int fixture_wait(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#ifdef VKCLR_TRAIN_H
/* dir/metrics.jsonl without the fields that measure time (vkc_train_timing_keys), a line per
 * line: what must be identical between an uninterrupted run and a resumed one. */
static inline char *fixture_metrics_untimed(const char *dir)
{
    char path[600];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    size_t n;
    char *text = (char *)fixture_read(path, &n), *out = calloc(1, 2 * n + 16), *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(line);
        if (!j) fail_msg("%s: a line that is not JSON: %s", path, line);
        for (const char *const *k = vkc_train_timing_keys; *k; k++) cJSON_DeleteItemFromObjectCaseSensitive(j, *k);
        char *t = cJSON_PrintUnformatted(j);
        strcat(out, t);
        strcat(out, "\n");
        free(t);
        cJSON_Delete(j);
    }
    free(text);
    return out;
}
#endif

/* A checkpoint edited by a test (its header rewritten): recompute its checksum entry as
 * include/vkclr/checkpoint.h documents it, CRC-32 of the data and of the header without the
 * entry, so the edit is what the reader sees (not a checksum mismatch). */
static inline void fixture_resign(uint8_t *file, size_t n)
{
    static const char key[] = ",\"checksum\":\"crc32 header=";
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)file[i] << (8 * i);
    char *h = (char *)file + 8;
    char *e = memmem(h, hlen, key, strlen(key));
    if (!e) fail_msg("no checksum entry to re-sign");
    size_t elen = strlen(key) + 22 + 1; /* "XXXXXXXX data=XXXXXXXX" and the closing quote */
    uLong c = crc32_z(0, (const Bytef *)h, (size_t)(e - h));
    c = crc32_z(c, (const Bytef *)e + elen, hlen - (size_t)(e - h) - elen);
    uLong d = crc32_z(0, file + 8 + hlen, n - 8 - hlen);
    char digits[32];
    snprintf(digits, sizeof digits, "%08lx data=%08lx", c, d);
    memcpy(e + strlen(key), digits, 22);
}

#endif
