/* Files that are either wholly written or not at all (one file, or a directory of files that
 * become visible together), the places outputs may go, and inputs opened without blocking.
 *
 * Every write here is checked (a full disk, a file-size limit: the message names the file and
 * the reason, e.g. "File too large"), retried where a signal interrupted it, and leaves no
 * temporary file behind on failure. Outputs are regular files: a directory, FIFO, device or
 * socket where one belongs is refused before anything is written. */
#ifndef VKCLR_FILEIO_H
#define VKCLR_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* ---------------------------------------------------------------- outputs */

/* Is `path` a place for an output file: absent, a regular file, or a symbolic link (the write
 * replaces the link, never its target)? A directory, FIFO, device or socket there is refused
 * (the message names the path and what is there), so is a folder above it that is not a folder. */
int vkc_check_output(const char *path);
/* Is `dir` a place for an output directory: absent or a directory, not a symbolic link. */
int vkc_check_output_dir(const char *dir);

/* Write parts[0..nparts) one after the other to `path` through PATH.tmp in the same folder
 * (any stale PATH.tmp is replaced): write, fsync, rename over `path`, fsync the folder. A crash
 * leaves the old file or the new one, never a mix; on error the old file is untouched and the
 * temporary one removed. `path` must pass vkc_check_output. */
int vkc_write_file_atomic(const char *path, const void *const *parts, const size_t *sizes, int nparts);
/* The same for one NUL-terminated text. */
int vkc_write_text_atomic(const char *path, const char *text);

/* One file of a directory written as a whole: its name inside the directory and its content. */
typedef struct {
    const char *name;
    const void *const *parts;
    const size_t *sizes;
    int nparts;
} VkcFileSpec;

/* The files a directory written by vkc_write_dir_atomic may hold (the names of `files`), so
 * that one is never replaced while it holds anything else. */
int vkc_check_dir_replaceable(const char *dir, const VkcFileSpec *files, int nfiles);

/* Write `dir` as a whole: the files into DIR.tmp beside it (each written and fsync'd, then the
 * folder), then DIR.tmp takes DIR's place in one step (renameat2 RENAME_EXCHANGE where DIR
 * exists; the old files, now in DIR.tmp, are then removed). Readers see the old set or the new
 * one, never a mix, whenever a crash comes. `dir` must pass vkc_check_dir_replaceable.
 * interruptible: a stop request (vkclr/interrupt.h) before the exchange abandons the write
 * ("interrupted"), leaving the old directory; once exchanged, the write completes.
 * On a file system without RENAME_EXCHANGE the old directory is first moved to DIR.old.tmp:
 * a crash in that moment leaves no DIR (never a mixed one). */
int vkc_write_dir_atomic(const char *dir, const VkcFileSpec *files, int nfiles, bool interruptible);

/* Remove what an interrupted write left beside `path`: PATH.tmp and PATH.old.tmp (a file, or
 * a directory of files that vkc_write_dir_atomic made). A missing one is no error. */
int vkc_remove_stale(const char *path);

/* ---------------------------------------------------------------- files kept open */

/* Open an output file for appending (creating it), or for reading an input: never blocks (a FIFO
 * is refused, not waited on), interrupted calls are retried, and anything but a regular file is
 * refused with a message naming the path. NULL on failure, errno as open(2) left it (ENOENT:
 * absent). mode: "ab" or "rb". */
FILE *vkc_fopen_regular(const char *path, const char *mode);

/* ---------------------------------------------------------------- paths */

/* Are a and b the same existing file (device and inode)? */
bool vkc_same_file(const char *a, const char *b);
/* Is the output path `path` (which need not exist; its folder must) inside the folder `dir`, or
 * dir itself? Compared after resolving symbolic links. */
bool vkc_path_inside(const char *path, const char *dir);

/* mkdir -p: create `path` and its missing parents. */
int vkc_make_dirs(const char *path);
/* The folders above a file (see vkc_make_dirs). */
int vkc_make_parent_dirs(const char *file);

/* ---------------------------------------------------------------- crash tests */

/* Called at each point where a replacement becomes visible, so that a test can crash there
 * (vkclr reads VKCLR_TEST_KILL_AT, see docs/reliability.md):
 *   "staged"   path: a file of a directory written as a whole, complete in DIR.tmp
 *   "written"  path (file or directory): the new one is complete beside the old, nothing replaced
 *   "renamed"  path: the new one has replaced the old (a directory: the old one waits in DIR.tmp)
 *   "cleaned"  path (a directory): the first of the old files is removed
 * NULL: none (the default). */
typedef void (*VkcCommitHook)(const char *point, const char *path);
void vkc_fileio_set_hook(VkcCommitHook hook);

#endif
