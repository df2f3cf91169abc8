/* Atomic file writes and directory creation (vkclr/fileio.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vkclr/error.h"
#include "vkclr/fileio.h"

int vkc_write_file_atomic(const char *path, const void *const *parts, const size_t *sizes, int nparts)
{
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return vkc_fail("cannot create %s: %s", tmp, strerror(errno));
    for (int i = 0; i < nparts; i++)
        if (sizes[i] && fwrite(parts[i], 1, sizes[i], f) != sizes[i]) {
            fclose(f);
            remove(tmp);
            return vkc_fail("writing %s: %s", tmp, strerror(errno));
        }
    if (fflush(f) || fsync(fileno(f))) {
        int e = errno;
        fclose(f);
        remove(tmp);
        return vkc_fail("flushing %s: %s", tmp, strerror(e));
    }
    if (fclose(f)) {
        remove(tmp);
        return vkc_fail("closing %s: %s", tmp, strerror(errno));
    }
    if (rename(tmp, path)) {
        int e = errno;
        remove(tmp);
        return vkc_fail("renaming %s to %s: %s", tmp, path, strerror(e));
    }
    /* Make the rename itself durable. */
    char dir[1100];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    return VKC_OK;
}

int vkc_write_text_atomic(const char *path, const char *text)
{
    const void *parts[1] = {text};
    size_t sizes[1] = {strlen(text)};
    return vkc_write_file_atomic(path, parts, sizes, 1);
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
