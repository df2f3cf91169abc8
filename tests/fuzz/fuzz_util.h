/* Shared by the libFuzzer harnesses of tests/fuzz: a private scratch folder per process, an
 * input cut into parts at a separator (so that one input can stand for several files), and
 * files written from those parts. Readers of files are fuzzed through the files themselves. */
#ifndef VKCLR_FUZZ_UTIL_H
#define VKCLR_FUZZ_UTIL_H

#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Parts of one input are separated by this marker (the seeds use it; mutations keep it). */
#define FUZZ_SEP "#SPLIT#"
#define FUZZ_MAX_PARTS 16

typedef struct {
    const uint8_t *data[FUZZ_MAX_PARTS];
    size_t size[FUZZ_MAX_PARTS];
    int n;
} FuzzParts;

static inline FuzzParts fuzz_split(const uint8_t *data, size_t size)
{
    FuzzParts p = {.n = 0};
    const size_t sep = sizeof FUZZ_SEP - 1;
    size_t start = 0;
    for (size_t i = 0; p.n < FUZZ_MAX_PARTS - 1 && i + sep <= size;) {
        if (!memcmp(data + i, FUZZ_SEP, sep)) {
            p.data[p.n] = data + start, p.size[p.n] = i - start, p.n++;
            i += sep;
            start = i;
        } else {
            i++;
        }
    }
    p.data[p.n] = data + start, p.size[p.n] = size - start, p.n++;
    return p;
}

static inline int fuzz_remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

static char fuzz_dir[256];

static inline void fuzz_scratch_remove(void) { nftw(fuzz_dir, fuzz_remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* The process's scratch folder (in /dev/shm when it exists), emptied on every call and removed
 * when the process exits. */
static inline const char *fuzz_scratch(void)
{
    char *dir = fuzz_dir;
    if (!dir[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(dir, sizeof fuzz_dir, "%s/vkclr-fuzz-XXXXXX", base);
        if (!mkdtemp(dir)) abort();
        atexit(fuzz_scratch_remove);
    }
    nftw(dir, fuzz_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (mkdir(dir, 0700)) abort();
    return dir;
}

/* dir/rel (parents created) := bytes. */
static inline void fuzz_write(const char *dir, const char *rel, const void *bytes, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    for (char *p = path + strlen(dir) + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(path, 0700);
            *p = '/';
        }
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (n && fwrite(bytes, 1, n, f) != n) abort();
    fclose(f);
}

/* A NUL-terminated copy (malloc'd). */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
    char *t = malloc(size + 1);
    if (!t) abort();
    memcpy(t, data, size);
    t[size] = 0;
    return t;
}

#endif
