/* Helpers shared by the dataset readers. */
#ifndef VKCLR_DATA_INTERNAL_H
#define VKCLR_DATA_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vkclr/data.h"

#define DATA_PATH_MAX 4096

/* Allocate a split of n images of image_bytes each (n may be 0). */
int data_split_alloc(VkcSplit *split, int n, size_t image_bytes);
/* Copy n class names; names NULL gives "0", "1", ... */
int data_class_names(VkcDataset *ds, int n, const char *const *names);
/* dir + "/" + name into out (DATA_PATH_MAX bytes); fails if it does not fit. */
int data_path(char *out, const char *dir, const char *name);
bool data_is_dir(const char *path);
bool data_exists(const char *path);
/* Every label of both splits must be < nclasses; `what` names the origin in the message. */
int data_check_labels(const VkcDataset *ds, const char *what);

/* The readers with limits (NULL: the defaults); the public vkc_dataset_load_* call them. */
int data_load_idx(VkcDataset *ds, const char *dir, const char *name, const char *const *class_names,
                  const VkcDataLimits *lim);
int data_load_cifar10(VkcDataset *ds, const char *dir, const VkcDataLimits *lim);
int data_load_cifar100(VkcDataset *ds, const char *dir, const VkcDataLimits *lim);
int data_load_folder(VkcDataset *ds, const char *dir, const VkcDataLimits *lim);
int data_load_images(VkcDataset *ds, const char *dir, const VkcDataLimits *lim);
int data_load_stl10(VkcDataset *ds, const char *dir, const VkcDataLimits *lim);
/* The synthetic reader: args is what follows "synthetic:", spec the whole spec (for messages). */
int vkc_dataset_load_synthetic(VkcDataset *ds, const char *args, const char *spec, const VkcDataLimits *lim);
/* The limits in force: lim, or the defaults. */
VkcDataLimits data_limits(const VkcDataLimits *lim);
/* "more than --max-data-gib G" when `bytes` exceed the limit (VKC_ERR, message naming `what`). */
int data_check_bytes(const char *what, uint64_t bytes, const VkcDataLimits *lim);

/* ---------------------------------------------------------------- collections */

/* A growable byte buffer (file contents, decoded pixels, a pool of names). */
typedef struct {
    uint8_t *data;
    size_t size, cap;
} DataBuf;
/* Make room for `bytes` in all (size unchanged). */
int data_buf_reserve(DataBuf *b, size_t bytes);
/* Append bytes (size grows). */
int data_buf_append(DataBuf *b, const void *bytes, size_t n);
/* Read `length` bytes at `offset` of path into b (length 0: the whole file), b->size := bytes. */
int data_read_file(const char *path, uint64_t offset, uint64_t length, DataBuf *b);
/* Does `pattern` occur in f between byte `from` and `size`? The last 64 KiB are searched first
 * (where an end marker usually is), then the rest from `from` on. */
bool data_find_after(FILE *f, uint64_t from, uint64_t size, const uint8_t *pattern, size_t n);

/* The JPEG decoder of one thread (src/data/jpeg.c). */
typedef struct DataJpeg DataJpeg;
int data_jpeg_create(DataJpeg **j);
void data_jpeg_destroy(DataJpeg *j);
/* The header of an open JPEG file of `size` bytes: its size (refused beyond max_pixels or
 * without pixels), whether it has colour, and that its data ends (an end-of-image marker). */
int data_jpeg_probe(DataJpeg *j, FILE *f, const char *path, uint64_t size, uint64_t max_pixels, int *height,
                    int *width, bool *color);
/* Decode JPEG bytes to `channels` at 1/reduce into out (grown); the decoded size. */
int data_jpeg_decode(DataJpeg *j, const uint8_t *bytes, size_t size, const char *name, int channels, int reduce,
                     uint64_t max_pixels, DataBuf *out, int *height, int *width);

/* PNG (src/data/png.c): the same two for PNG files (the end: an IEND chunk). */
int data_png_probe(FILE *f, const char *path, uint64_t size, uint64_t max_pixels, int *height, int *width,
                   bool *color);
int data_png_decode(const uint8_t *bytes, size_t size, const char *name, int channels, uint64_t max_pixels,
                    DataBuf *out, int *height, int *width);

/* What a collection is built from: its images' references (and labels), the pool of their
 * file names, and the files left out. */
typedef struct {
    VkcImageRef *refs;
    int32_t *labels; /* NULL: unlabeled */
    int n, cap;
} DataRefs;
/* Append one image (label ignored when labeled is false). */
int data_refs_push(DataRefs *r, const VkcImageRef *ref, bool labeled, int32_t label);
/* Move r into split (r is emptied). */
void data_refs_to_split(DataRefs *r, VkcSplit *split);
void data_refs_free(DataRefs *r);
/* Add a file name to the pool; its offset in *at. */
int data_pool_add(DataBuf *pool, const char *name, uint32_t *at);
/* Read the header of the image file at path: format, size (within max_pixels), colour. Every
 * reason it cannot be trained on fails naming it: unreadable, not a regular file, empty, not a
 * JPEG or PNG, truncated, without pixels, too large. */
int data_probe_image(DataJpeg *j, const char *path, uint64_t max_pixels, VkcImageRef *ref, bool *color);
/* A bad file: with lim->skip_bad, noted in ds->skipped ("vkc_error()" names it and says why)
 * and VKC_OK; otherwise VKC_ERR with the message, which suggests --skip-bad. */
int data_bad_file(VkcDataset *ds, const VkcDataLimits *lim);
/* A collection's size and name once its splits are filled: channels (3 if any image has
 * colour), the size its images share or, with mixed sizes, the default view side. */
int data_collection_finish(VkcDataset *ds, DataBuf *pool, bool any_color, const char *name);


#endif
