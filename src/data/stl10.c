/* stl10:DIR: the binary release of STL-10 (Coates et al. 2011), DIR or DIR/stl10_binary:
 *   train_X.bin, train_y.bin   5,000 labelled images (labels 1..10, one byte each)
 *   test_X.bin,  test_y.bin    8,000 labelled images
 *   unlabeled_X.bin            100,000 images without labels (optional here)
 *   class_names.txt            the ten names, one a line (optional)
 * The images stay in their files: the index holds each record's offset, a decoder reads it
 * when it is needed (2.7 GB of unlabeled images never enter memory at once). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "stl10.h"

static const char *const stl10_classes[] = {
    "airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck",
};

/* Records of an image file: a whole, non-zero number of STL10_RECORD bytes. */
static int count_records(const char *path, int *count)
{
    struct stat st;
    if (stat(path, &st)) return vkc_fail("%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return vkc_fail("%s: not a regular file", path);
    if (st.st_size == 0) return vkc_fail("%s: empty file", path);
    if (st.st_size % STL10_RECORD)
        return vkc_fail("%s: truncated or not STL-10 images: %lld bytes is not a whole number of %d-byte 96x96x3 "
                        "records",
                        path, (long long)st.st_size, STL10_RECORD);
    if (st.st_size / STL10_RECORD > INT32_MAX / 2) return vkc_fail("%s: too many records", path);
    *count = (int)(st.st_size / STL10_RECORD);
    return VKC_OK;
}

/* One split: the images of x_name as references into that file, labels from y_name (NULL:
 * unlabeled). */
static int read_split(DataBuf *pool, const char *dir, const char *x_name, const char *y_name, VkcSplit *split)
{
    char xpath[DATA_PATH_MAX], ypath[DATA_PATH_MAX];
    int n = 0;
    uint32_t at = 0;
    if (data_path(xpath, dir, x_name) || count_records(xpath, &n) || data_pool_add(pool, xpath, &at)) return VKC_ERR;
    DataRefs refs = {0};
    DataBuf labels = {0};
    int rc = VKC_OK;
    if (y_name) {
        if ((rc = data_path(ypath, dir, y_name)) || (rc = data_read_file(ypath, 0, 0, &labels))) goto done;
        if (labels.size != (size_t)n) {
            rc = vkc_fail("%s: %zu labels for the %d images of %s", ypath, labels.size, n, xpath);
            goto done;
        }
    }
    for (int i = 0; i < n && !rc; i++) {
        VkcImageRef ref = {.offset = (uint64_t)i * STL10_RECORD, .path = at, .height = STL10_SIDE,
                           .width = STL10_SIDE, .format = VKC_IMAGE_STL10};
        int label = y_name ? labels.data[i] - 1 : -1;
        if (y_name && (label < 0 || label >= 10))
            rc = vkc_fail("%s: label %d of image %d is not a class number 1..10", ypath, labels.data[i], i);
        else rc = data_refs_push(&refs, &ref, y_name != NULL, label);
    }
    if (!rc) data_refs_to_split(&refs, split);
done:
    data_refs_free(&refs);
    free(labels.data);
    return rc;
}

/* class_names.txt: ten non-empty lines, or the official names when the file is absent. */
static int class_names(VkcDataset *ds, const char *dir)
{
    char path[DATA_PATH_MAX];
    if (data_path(path, dir, "class_names.txt")) return VKC_ERR;
    if (!data_exists(path)) return data_class_names(ds, 10, stl10_classes);
    DataBuf text = {0};
    if (data_read_file(path, 0, 0, &text) || data_buf_append(&text, "", 1)) {
        free(text.data);
        return VKC_ERR;
    }
    const char *names[10];
    int n = 0;
    for (char *line = strtok((char *)text.data, "\r\n"); line && n < 11; line = strtok(NULL, "\r\n"))
        if (line[0]) names[n < 10 ? n : 9] = line, n++;
    int rc = n == 10 ? data_class_names(ds, 10, names)
                     : vkc_fail("%s: expected 10 class names, one a line, found %s%d", path, n > 10 ? "more than " : "",
                                n > 10 ? 10 : n);
    free(text.data);
    return rc;
}

int data_load_stl10(VkcDataset *ds, const char *dir, const VkcDataLimits *lim)
{
    (void)lim; /* 96x96 records: nothing to bound */
    memset(ds, 0, sizeof *ds);
    char base[DATA_PATH_MAX], probe[DATA_PATH_MAX];
    snprintf(base, sizeof base, "%s", dir);
    if (!data_is_dir(dir)) return vkc_fail("%s: not a directory (%s)", dir, data_exists(dir) ? "a file" : "missing");
    if (data_path(probe, dir, "train_X.bin")) return VKC_ERR;
    if (!data_exists(probe) && (data_path(base, dir, "stl10_binary") || !data_is_dir(base)))
        return vkc_fail("%s: no train_X.bin in it or in %s/stl10_binary (STL-10's binary release)", dir, dir);
    DataBuf pool = {0};
    int rc = VKC_ERR;
    if (read_split(&pool, base, "train_X.bin", "train_y.bin", &ds->train) ||
        read_split(&pool, base, "test_X.bin", "test_y.bin", &ds->test))
        goto done;
    if (data_path(probe, base, "unlabeled_X.bin")) goto done;
    if (data_exists(probe) && read_split(&pool, base, "unlabeled_X.bin", NULL, &ds->unlabeled)) goto done;
    if (class_names(ds, base) || data_collection_finish(ds, &pool, true, "stl10")) goto done;
    rc = VKC_OK;
done:
    free(pool.data);
    if (rc) vkc_dataset_free(ds);
    return rc;
}
