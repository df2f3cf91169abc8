/* NumPy .npy files (format version 1.0), the export format of features and labels:
 *   "\x93NUMPY" 0x01 0x00, header length (uint16 little-endian), then a Python dict literal
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (n, d), } padded with spaces and a final
 *   '\n' so that the data starts at a multiple of 64 bytes, then the C-order little-endian data.
 * Files are written to PATH.tmp, flushed and renamed, so a failed write leaves no partial file.
 *
 * An export (features and labels of one split) is two .npy files and a manifest that ties them
 * together: NumPy's reader refuses any key but descr, fortran_order and shape in a header, and
 * the format pads headers with spaces only, so the pair's identifier lives in the manifest,
 * JSON beside them (see vkc_export_write). */
#ifndef VKCLR_NPY_H
#define VKCLR_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "vkclr/names.h"

#include "vkclr/error.h"

typedef enum { VKC_NPY_F32, VKC_NPY_I64, VKC_NPY_U8, VKC_NPY_I32 } VkcNpyType;
/* The types labels may be exported as: int64, uint8. */
extern const VkcName vkc_npy_label_names[];

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

/* An export: features (rows x dim float32) and labels (rows, ltype) as .npy files, and the
 * manifest: {"format": "vkclr-export-1", "rows": R, "id": ID, "features": {"file", "dtype",
 * "shape", "bytes", "crc32"}, "labels": {...}, plus `about` (a JSON object's members: source,
 * split, data)}. crc32 is zlib's CRC-32 of the whole file (zlib.crc32 in Python), file is the
 * name relative to the manifest's folder, and id the CRC-32 of the two files' CRC-32s. The
 * three are written as one set (vkclr/fileio.h): a failed write (a full disk) leaves the old
 * three as they were; a crash between the renames leaves files the manifest does not vouch
 * for, manifest last. */
int vkc_export_write(const char *features, const char *labels, const char *manifest, const float *feat, uint32_t rows,
                     uint32_t dim, VkcNpyType ltype, const void *label_data, const char *about);
/* Check an export by its manifest: both files exist, hold the bytes it recorded (CRC-32) and
 * have its row count. *rows (may be NULL) gets the row count. Errors name the file. */
int vkc_export_check(const char *manifest, uint32_t *rows);

#endif
