/* Atomic file writes, alone and as a set, and directory creation (vkclr/fileio.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vkclr/error.h"
#include "vkclr/fileio.h"

#define PATH_BYTES 4200

static int tmp_name(char *tmp, const char *path)
{
    if (snprintf(tmp, PATH_BYTES, "%s.tmp", path) >= PATH_BYTES) return vkc_fail("%s: path too long", path);
    return VKC_OK;
}

/* Write one file's parts to tmp, flushed and fsync'd; on failure tmp is removed and the
 * message names `path` (the file the user asked for) and why. */
static int write_tmp(const char *path, const char *tmp, const void *const *parts, const size_t *sizes, int nparts)
{
    FILE *f = fopen(tmp, "wb");
    if (!f) return vkc_fail("cannot create %s (for %s): %s", tmp, path, strerror(errno));
    for (int i = 0; i < nparts; i++)
        if (sizes[i] && fwrite(parts[i], 1, sizes[i], f) != sizes[i]) {
            int e = errno;
            fclose(f);
            remove(tmp);
            return vkc_fail("writing %s: %s", path, strerror(e));
        }
    if (fflush(f) || fsync(fileno(f))) {
        int e = errno;
        fclose(f);
        remove(tmp);
        return vkc_fail("writing %s: %s", path, strerror(e));
    }
    if (fclose(f)) {
        int e = errno;
        remove(tmp);
        return vkc_fail("writing %s: %s", path, strerror(e));
    }
    return VKC_OK;
}

/* Make a rename in path's directory durable. */
static void sync_dir_of(const char *path)
{
    char dir[PATH_BYTES];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) dir[1] = 0;
    else if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int vkc_write_files_atomic(const VkcFileSpec *files, int nfiles)
{
    char(*tmp)[PATH_BYTES] = calloc((size_t)(nfiles > 0 ? nfiles : 1), PATH_BYTES);
    if (!tmp) return vkc_fail("out of host memory");
    int rc = VKC_OK, written = 0;
    for (int i = 0; i < nfiles && !rc; i++) {
        for (int j = 0; j < i && !rc; j++)
            if (!strcmp(files[i].path, files[j].path)) rc = vkc_fail("%s: named twice in one set of files", files[i].path);
        if (!rc) rc = tmp_name(tmp[i], files[i].path);
        if (!rc) rc = write_tmp(files[i].path, tmp[i], files[i].parts, files[i].sizes, files[i].nparts);
        if (!rc) written = i + 1;
    }
    if (rc) { /* nothing renamed yet: every old file stays */
        for (int i = 0; i < written; i++) remove(tmp[i]);
        free(tmp);
        return VKC_ERR;
    }
    for (int i = 0; i < nfiles; i++)
        if (rename(tmp[i], files[i].path)) {
            int e = errno;
            for (int j = i; j < nfiles; j++) remove(tmp[j]);
            rc = vkc_fail("renaming %s to %s: %s%s", tmp[i], files[i].path, strerror(e),
                          i ? " (the files before it in the set are already replaced)" : "");
            break;
        }
    for (int i = 0; i < nfiles; i++) {
        bool seen = false; /* one fsync per directory */
        for (int j = 0; j < i && !seen; j++) {
            const char *a = strrchr(files[i].path, '/'), *b = strrchr(files[j].path, '/');
            size_t la = a ? (size_t)(a - files[i].path) : 0, lb = b ? (size_t)(b - files[j].path) : 0;
            seen = la == lb && !strncmp(files[i].path, files[j].path, la);
        }
        if (!seen) sync_dir_of(files[i].path);
    }
    free(tmp);
    return rc;
}

int vkc_write_file_atomic(const char *path, const void *const *parts, const size_t *sizes, int nparts)
{
    VkcFileSpec f = {path, parts, sizes, nparts};
    return vkc_write_files_atomic(&f, 1);
}

int vkc_write_text_atomic(const char *path, const char *text)
{
    const void *parts[1] = {text};
    size_t sizes[1] = {strlen(text)};
    return vkc_write_file_atomic(path, parts, sizes, 1);
}

int vkc_make_parent_dirs(const char *file)
{
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s", file) >= (int)sizeof dir) return vkc_fail("%s: path too long", file);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return VKC_OK;
    *slash = 0;
    return vkc_make_dirs(dir);
}

int vkc_make_dirs(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) return vkc_fail("%s: path too long", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0777) && errno != EEXIST) return vkc_fail("cannot create %s: %s", tmp, strerror(errno));
            *p = '/';
        }
    if (mkdir(tmp, 0777) && errno != EEXIST) return vkc_fail("cannot create output directory %s: %s", tmp, strerror(errno));
    return VKC_OK;
}
