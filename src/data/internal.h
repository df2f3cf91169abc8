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

/* The synthetic reader: args is what follows "synthetic:", spec the whole spec (for messages). */
int vkc_dataset_load_synthetic(VkcDataset *ds, const char *args, const char *spec);

/* Start reading a PNG with libpng's simplified API (header read, image->format native); on
 * failure the message names the file and the image is freed. */
#include <png.h>
int vkc_png_open(const char *path, png_image *image);

#endif
