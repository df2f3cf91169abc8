/* Atomic writes of a file or a directory, the places outputs may go, inputs opened without
 * blocking (vkclr/fileio.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vkclr/error.h"
#include "vkclr/fileio.h"
#include "vkclr/interrupt.h"

#define PATH_BYTES 4200

static VkcCommitHook commit_hook;
void vkc_fileio_set_hook(VkcCommitHook hook) { commit_hook = hook; }
static void reached(const char *point, const char *path)
{
    if (commit_hook) commit_hook(point, path);
}

static const char *kind_of(mode_t m)
{
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISLNK(m)) return "a symbolic link";
    return "a regular file";
}

static int with_suffix(char *out, const char *path, const char *suffix)
{
    if (snprintf(out, PATH_BYTES, "%s%s", path, suffix) >= PATH_BYTES) return vkc_fail("%s: path too long", path);
    return VKC_OK;
}

/* The folder of a path ("." for none). */
static void folder_of(const char *path, char *dir)
{
    snprintf(dir, PATH_BYTES, "%s", path);
    char *slash = strrchr(dir, '/');
    while (slash && slash > dir && slash[1] == 0) { /* "a/b/" names b */
        *slash = 0;
        slash = strrchr(dir, '/');
    }
    if (slash == dir) dir[1] = 0;
    else if (slash) *slash = 0;
    else snprintf(dir, PATH_BYTES, ".");
}

/* ---------------------------------------------------------------- outputs */

/* The nearest folder above `path` that exists must be a folder this process may write into
 * (the missing ones below it are made when the output is written). */
static int check_writable_above(const char *path)
{
    char dir[PATH_BYTES];
    folder_of(path, dir);
    for (;;) {
        struct stat st;
        if (stat(dir, &st) == 0) {
            if (!S_ISDIR(st.st_mode)) return vkc_fail("%s: %s is %s, not a folder", path, dir, kind_of(st.st_mode));
            if (access(dir, W_OK | X_OK)) return vkc_fail("%s: cannot write into %s: %s", path, dir, strerror(errno));
            return VKC_OK;
        }
        if (errno != ENOENT) return vkc_fail("%s: %s: %s", path, dir, strerror(errno));
        if (!strcmp(dir, ".") || !strcmp(dir, "/")) return VKC_OK;
        char up[PATH_BYTES];
        folder_of(dir, up);
        memcpy(dir, up, sizeof up);
    }
}

int vkc_check_output(const char *path)
{
    struct stat st;
    if (!path[0]) return vkc_fail("an empty path for an output file");
    if (lstat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
            return vkc_fail("%s is %s, not a regular file: vkclr writes its outputs only as regular files (remove it "
                            "or write elsewhere)",
                            path, kind_of(st.st_mode));
    } else if (errno != ENOENT) {
        return vkc_fail("%s: %s", path, strerror(errno));
    }
    return check_writable_above(path);
}

int vkc_check_output_dir(const char *dir)
{
    struct stat st;
    if (!dir[0]) return vkc_fail("an empty path for an output directory");
    if (lstat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return vkc_fail("%s is %s, not a directory: vkclr writes this output only as a directory of its own "
                            "(remove it or write elsewhere)",
                            dir, kind_of(st.st_mode));
        if (access(dir, W_OK | X_OK)) return vkc_fail("cannot write into %s: %s", dir, strerror(errno));
        return VKC_OK;
    }
    if (errno != ENOENT) return vkc_fail("%s: %s", dir, strerror(errno));
    return check_writable_above(dir);
}

/* ---------------------------------------------------------------- writing */

/* All of n bytes, a write a signal interrupted retried (regular files: a full disk or a file-size
 * limit comes back as an error, ENOSPC or EFBIG, once SIGXFSZ is ignored). */
static int write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n) {
        ssize_t w = write(fd, p, n < ((size_t)1 << 30) ? n : ((size_t)1 << 30));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        p += w, n -= (size_t)w;
    }
    return 0;
}

/* A new file `file` (which must not exist) with the parts, written and fsync'd; on failure it is
 * removed and the message names `shown` (the file the user asked for) and why. */
static int write_new(const char *shown, const char *file, const void *const *parts, const size_t *sizes, int nparts)
{
    int fd;
    do fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0666);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return vkc_fail("cannot create %s (for %s): %s", file, shown, strerror(errno));
    int e = 0;
    for (int i = 0; i < nparts && !e; i++)
        if (sizes[i] && write_all(fd, parts[i], sizes[i])) e = errno;
    while (!e && fsync(fd))
        if (errno != EINTR) e = errno;
    if (close(fd) && !e && errno != EINTR) e = errno;
    if (e) {
        unlink(file);
        return vkc_fail("writing %s: %s", shown, strerror(e));
    }
    return VKC_OK;
}

/* Make a rename in path's folder durable. */
static void sync_dir_of(const char *path)
{
    char dir[PATH_BYTES];
    folder_of(path, dir);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Remove the regular files (and symbolic links) in `dir`, then dir itself. A folder inside is
 * left, and fails: vkclr never puts one there. after_first: called once the first is gone. */
static int remove_dir_files(const char *dir, const char *after_first)
{
    DIR *d = opendir(dir);
    if (!d) return vkc_fail("cannot open %s: %s", dir, strerror(errno));
    char path[PATH_BYTES];
    int rc = VKC_OK, removed = 0;
    for (struct dirent *e; rc == VKC_OK && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) rc = vkc_fail("%s: path too long", dir);
        else if (unlink(path)) rc = vkc_fail("cannot remove %s: %s", path, strerror(errno));
        else if (removed++ == 0 && after_first) reached("cleaned", after_first);
    }
    closedir(d);
    if (rc == VKC_OK && rmdir(dir)) rc = vkc_fail("cannot remove %s: %s", dir, strerror(errno));
    return rc;
}

/* Remove a leftover at `path`: a file, or a directory of files. */
static int remove_leftover(const char *path)
{
    struct stat st;
    if (lstat(path, &st)) return errno == ENOENT ? VKC_OK : vkc_fail("%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return remove_dir_files(path, NULL);
    if (unlink(path)) return vkc_fail("cannot remove %s: %s", path, strerror(errno));
    return VKC_OK;
}

int vkc_remove_stale(const char *path)
{
    char p[PATH_BYTES];
    if (with_suffix(p, path, ".tmp") || remove_leftover(p)) return VKC_ERR;
    if (with_suffix(p, path, ".old.tmp") || remove_leftover(p)) return VKC_ERR;
    return VKC_OK;
}

int vkc_write_file_atomic(const char *path, const void *const *parts, const size_t *sizes, int nparts)
{
    char tmp[PATH_BYTES];
    if (vkc_check_output(path) || with_suffix(tmp, path, ".tmp") || remove_leftover(tmp) ||
        write_new(path, tmp, parts, sizes, nparts))
        return VKC_ERR;
    reached("written", path);
    if (rename(tmp, path)) {
        int e = errno;
        unlink(tmp);
        return vkc_fail("renaming %s to %s: %s", tmp, path, strerror(e));
    }
    reached("renamed", path);
    sync_dir_of(path);
    return VKC_OK;
}

int vkc_write_text_atomic(const char *path, const char *text)
{
    const void *parts[1] = {text};
    size_t sizes[1] = {strlen(text)};
    return vkc_write_file_atomic(path, parts, sizes, 1);
}

int vkc_check_dir_replaceable(const char *dir, const VkcFileSpec *files, int nfiles)
{
    if (vkc_check_output_dir(dir)) return VKC_ERR;
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? VKC_OK : vkc_fail("cannot open %s: %s", dir, strerror(errno));
    int rc = VKC_OK;
    char path[PATH_BYTES];
    for (struct dirent *e; rc == VKC_OK && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        bool ours = false;
        for (int i = 0; i < nfiles && !ours; i++) ours = !strcmp(e->d_name, files[i].name);
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (ours && (lstat(path, &st) || !S_ISREG(st.st_mode))) ours = false;
        if (!ours)
            rc = vkc_fail("%s holds %s, which this output does not write: vkclr replaces that directory only while it "
                          "holds nothing but its own files (write to a new directory)",
                          dir, path);
    }
    closedir(d);
    return rc;
}

/* The old directory (now at `old`, after an exchange or a move) removed; its absence is durable. */
static int remove_old(const char *old, const char *dir)
{
    int rc = remove_dir_files(old, dir);
    sync_dir_of(dir);
    return rc;
}

int vkc_write_dir_atomic(const char *dir, const VkcFileSpec *files, int nfiles, bool interruptible)
{
    char staging[PATH_BYTES], aside[PATH_BYTES], path[PATH_BYTES], shown[PATH_BYTES];
    if (vkc_check_dir_replaceable(dir, files, nfiles) || with_suffix(staging, dir, ".tmp") ||
        with_suffix(aside, dir, ".old.tmp") || vkc_remove_stale(dir))
        return VKC_ERR;
    if (mkdir(staging, 0777)) return vkc_fail("cannot create %s (for %s): %s", staging, dir, strerror(errno));
    int rc = VKC_OK;
    for (int i = 0; i < nfiles && rc == VKC_OK; i++) {
        if (snprintf(path, sizeof path, "%s/%s", staging, files[i].name) >= (int)sizeof path ||
            snprintf(shown, sizeof shown, "%s/%s", dir, files[i].name) >= (int)sizeof shown) {
            rc = vkc_fail("%s: path too long", dir);
            break;
        }
        rc = write_new(shown, path, files[i].parts, files[i].sizes, files[i].nparts);
        if (rc == VKC_OK) reached("staged", shown);
        if (rc == VKC_OK && interruptible) rc = vkc_interrupt_check(dir);
    }
    if (rc == VKC_OK) {
        sync_dir(staging);
        reached("written", dir);
        if (interruptible) rc = vkc_interrupt_check(dir);
    }
    if (rc) {
        remove_dir_files(staging, NULL);
        return VKC_ERR;
    }
    /* The one step that makes the new files visible, all together. */
    struct stat st;
    bool had = lstat(dir, &st) == 0;
    if (!had) {
        if (rename(staging, dir)) {
            int e = errno;
            remove_dir_files(staging, NULL);
            return vkc_fail("renaming %s to %s: %s", staging, dir, strerror(e));
        }
        reached("renamed", dir);
        sync_dir_of(dir);
        return VKC_OK;
    }
    if (renameat2(AT_FDCWD, staging, AT_FDCWD, dir, RENAME_EXCHANGE) == 0) {
        sync_dir_of(dir);
        reached("renamed", dir);
        return remove_old(staging, dir);
    }
    if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
        int e = errno;
        remove_dir_files(staging, NULL);
        return vkc_fail("exchanging %s with %s: %s", staging, dir, strerror(e));
    }
    /* No exchange on this file system: the old one aside, the new one in its place. */
    if (rename(dir, aside)) {
        int e = errno;
        remove_dir_files(staging, NULL);
        return vkc_fail("renaming %s to %s: %s", dir, aside, strerror(e));
    }
    if (rename(staging, dir)) {
        int e = errno;
        rename(aside, dir);
        remove_dir_files(staging, NULL);
        return vkc_fail("renaming %s to %s: %s", staging, dir, strerror(e));
    }
    sync_dir_of(dir);
    reached("renamed", dir);
    return remove_old(aside, dir);
}

/* ---------------------------------------------------------------- files kept open */

FILE *vkc_fopen_regular(const char *path, const char *mode)
{
    bool append = mode[0] == 'a';
    if (append && vkc_check_output(path)) {
        errno = EINVAL;
        return NULL;
    }
    int flags = (append ? O_WRONLY | O_APPEND | O_CREAT : O_RDONLY) | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, fd;
    do fd = open(path, flags, 0666);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        int e = errno;
        vkc_fail("cannot open %s: %s", path, e == ENXIO ? "a FIFO or device without a reader" : strerror(e));
        errno = e;
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        if (fstat(fd, &st)) vkc_fail("%s: %s", path, strerror(errno));
        else vkc_fail("%s is %s, not a regular file", path, kind_of(st.st_mode));
        close(fd);
        errno = EINVAL;
        return NULL;
    }
    /* A regular file: blocking mode again (O_NONBLOCK only kept open() from waiting on a FIFO). */
    int fl = fcntl(fd, F_GETFL);
    FILE *f = fl != -1 && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0 ? fdopen(fd, mode) : NULL;
    if (!f) {
        int e = errno;
        vkc_fail("cannot open %s: %s", path, strerror(e));
        close(fd);
        errno = e;
    }
    return f;
}

/* ---------------------------------------------------------------- paths */

bool vkc_same_file(const char *a, const char *b)
{
    struct stat x, y;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* The absolute path `path` names, its last part allowed not to exist. */
static bool resolve(const char *path, char *out)
{
    char real[PATH_MAX];
    if (realpath(path, real)) return snprintf(out, PATH_BYTES, "%s", real) < PATH_BYTES;
    char dir[PATH_BYTES];
    folder_of(path, dir);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (!realpath(dir, real)) return false;
    return snprintf(out, PATH_BYTES, "%s/%s", strcmp(real, "/") ? real : "", base) < PATH_BYTES;
}

bool vkc_path_inside(const char *path, const char *dir)
{
    char p[PATH_BYTES], d[PATH_BYTES];
    if (!resolve(path, p) || !resolve(dir, d)) return false;
    size_t n = strlen(d);
    return !strncmp(p, d, n) && (p[n] == 0 || p[n] == '/' || (n == 1 && d[0] == '/'));
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
