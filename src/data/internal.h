/* Helpers shared by the dataset readers. */
#ifndef VKCLR_DATA_INTERNAL_H
#define VKCLR_DATA_INTERNAL_H

#include <stdbool.h>
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
/* The synthetic reader: args is what follows "synthetic:", spec the whole spec (for messages). */
int vkc_dataset_load_synthetic(VkcDataset *ds, const char *args, const char *spec, const VkcDataLimits *lim);
/* The limits in force: lim, or the defaults. */
VkcDataLimits data_limits(const VkcDataLimits *lim);
/* "more than --max-data-gib G" when `bytes` exceed the limit (VKC_ERR, message naming `what`). */
int data_check_bytes(const char *what, uint64_t bytes, const VkcDataLimits *lim);

/* Start reading a PNG with libpng's simplified API (header read, image->format native); on
 * failure the message names the file and the image is freed. */
#include <png.h>
int vkc_png_open(const char *path, png_image *image);
/* vkc_png_read refusing, from the header, an image of more than max_pixels pixels. */
int data_png_read(const char *path, int channels, uint64_t max_pixels, uint8_t **pixels, int *height, int *width);

#endif
