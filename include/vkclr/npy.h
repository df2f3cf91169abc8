/* NumPy .npy files (format version 1.0), the export format of features and labels:
 *   "\x93NUMPY" 0x01 0x00, header length (uint16 little-endian), then a Python dict literal
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (n, d), } padded with spaces and a final
 *   '\n' so that the data starts at a multiple of 64 bytes, then the C-order little-endian data.
 * Files are written to PATH.tmp, flushed and renamed, so a failed write leaves no partial file. */
#ifndef VKCLR_NPY_H
#define VKCLR_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "vkclr/error.h"

typedef enum { VKC_NPY_F32, VKC_NPY_I64, VKC_NPY_U8, VKC_NPY_I32 } VkcNpyType;

#define VKC_NPY_MAX_DIMS 4

/* The descr string ('<f4', '<i8', '|u1', '<i4') and the size of one element. */
const char *vkc_npy_descr(VkcNpyType t);
size_t vkc_npy_elem_size(VkcNpyType t);

/* The header (magic to '\n') for an array; returns its length, or 0 if `cap` is too small. */
size_t vkc_npy_header(char *buf, size_t cap, VkcNpyType t, const uint64_t *shape, int ndim);

/* Write an array of `ndim` (1..4) dimensions. */
int vkc_npy_write(const char *path, VkcNpyType t, const uint64_t *shape, int ndim, const void *data);
/* Read a version 1.0 or 2.0 C-order array of one of the types above; *data is malloc'd.
 * Errors name the file and what is wrong (magic, header, type, truncated data). */
int vkc_npy_read(const char *path, VkcNpyType *t, uint64_t *shape, int *ndim, void **data);

#endif
