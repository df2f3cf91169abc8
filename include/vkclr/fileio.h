/* Files that are either wholly written or not at all. */
#ifndef VKCLR_FILEIO_H
#define VKCLR_FILEIO_H

#include <stddef.h>

/* Write parts[0..nparts) one after the other to `path` through a temporary file in the same
 * directory: write, flush, fsync, rename over `path`, fsync the directory. A crash leaves
 * either the old file or the new one, never a mix; on error the old file is untouched. */
int vkc_write_file_atomic(const char *path, const void *const *parts, const size_t *sizes, int nparts);
/* The same for one NUL-terminated text. */
int vkc_write_text_atomic(const char *path, const char *text);
/* mkdir -p: create `path` and its missing parents. */
int vkc_make_dirs(const char *path);

#endif
