/* Files that are either wholly written or not at all, alone or as a set. */
#ifndef VKCLR_FILEIO_H
#define VKCLR_FILEIO_H

#include <stddef.h>

/* Write parts[0..nparts) one after the other to `path` through a temporary file in the same
 * directory: write, flush, fsync, rename over `path`, fsync the directory. A crash leaves
 * either the old file or the new one, never a mix; on error the old file is untouched. */
int vkc_write_file_atomic(const char *path, const void *const *parts, const size_t *sizes, int nparts);
/* The same for one NUL-terminated text. */
int vkc_write_text_atomic(const char *path, const char *text);

/* One file of a set written together: its path and its content, parts one after the other. */
typedef struct {
    const char *path;
    const void *const *parts;
    const size_t *sizes;
    int nparts;
} VkcFileSpec;

/* Write a set of files that belong together (exported features and their labels, ...): each
 * file to PATH.tmp beside it (written, flushed, fsync'd), and only when every one of them is
 * complete, rename each over its PATH in the order given, then fsync their directories. A
 * failure while writing (a full disk, a file-size limit, an unwritable folder) removes the
 * temporary files and leaves every old file as it was; the message names the file. Each rename
 * is atomic, the set of renames is not: a crash between two of them leaves the first files new
 * and the rest old. A set that must match therefore carries an identifier its readers check,
 * and puts the file that vouches for the others last. */
int vkc_write_files_atomic(const VkcFileSpec *files, int nfiles);

/* mkdir -p: create `path` and its missing parents. */
int vkc_make_dirs(const char *path);
/* The folders above a file (see vkc_make_dirs). */
int vkc_make_parent_dirs(const char *file);

#endif
