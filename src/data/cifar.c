/* CIFAR-10 and CIFAR-100 binary batches. Each record is the label byte(s) then a 32x32 image
 * stored planar (1024 red, 1024 green, 1024 blue bytes, rows top to bottom):
 *   CIFAR-10:  <label 0..9> <3072 bytes>            data_batch_1..5.bin, test_batch.bin
 *   CIFAR-100: <coarse 0..19> <fine 0..99> <3072>   train.bin, test.bin (we use the fine label) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

#define CIFAR_SIDE 32
#define CIFAR_PIXELS (CIFAR_SIDE * CIFAR_SIDE)

static const char *const cifar10_classes[] = {
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
};

typedef struct {
    const char *name;        /* "cifar10" */
    const char *subdir;      /* the folder the official archive unpacks to */
    const char *train[5];
    int ntrain_files;
    const char *test;
    int label_bytes;         /* 1, or 2 (coarse, fine) */
    int nclasses;
    const char *names_file;  /* class names, one per line, in the official archive */
} CifarFormat;

static const CifarFormat cifar10 = {
    "cifar10", "cifar-10-batches-bin",
    {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}, 5,
    "test_batch.bin", 1, 10, "batches.meta.txt",
};
static const CifarFormat cifar100 = {
    "cifar100", "cifar-100-binary", {"train.bin"}, 1, "test.bin", 2, 100, "fine_label_names.txt",
};

/* Size of a batch file in records; fails unless it is a whole, non-zero number of records. */
static int count_records(const char *path, size_t record, int *count)
{
    struct stat st;
    if (stat(path, &st)) return vkc_fail("%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return vkc_fail("%s: not a regular file", path);
    if (st.st_size == 0) return vkc_fail("%s: empty file", path);
    if ((size_t)st.st_size % record)
        return vkc_fail("%s: truncated or not a CIFAR batch: %lld bytes is not a whole number of %zu-byte records",
                        path, (long long)st.st_size, record);
    if ((size_t)st.st_size / record > INT32_MAX / 8) return vkc_fail("%s: too many records", path);
    *count = (int)((size_t)st.st_size / record);
    return VKC_OK;
}

/* Append the records of one batch file to split, from image `first` on. */
static int read_batch(const CifarFormat *fmt, const char *path, VkcSplit *split, int first, int count)
{
    FILE *f = fopen(path, "rb");
    if (!f) return vkc_fail("%s: cannot open: %s", path, strerror(errno));
    uint8_t record[2 + 3 * CIFAR_PIXELS];
    size_t record_bytes = (size_t)fmt->label_bytes + 3 * CIFAR_PIXELS;
    int rc = VKC_OK;
    for (int r = 0; r < count && rc == VKC_OK; r++) {
        if (fread(record, 1, record_bytes, f) != record_bytes) {
            rc = vkc_fail("%s: cannot read record %d: %s", path, r, ferror(f) ? strerror(errno) : "file ended early");
            break;
        }
        int label = record[fmt->label_bytes - 1];  /* CIFAR-100: the fine label is the second byte */
        if (label >= fmt->nclasses) {
            rc = vkc_fail("%s: record %d has label %d, expected 0..%d (is this a %s file?)", path, r, label,
                          fmt->nclasses - 1, fmt->name);
            break;
        }
        /* planar CHW in the file -> interleaved HWC in memory */
        const uint8_t *planes = record + fmt->label_bytes;
        uint8_t *dst = split->pixels + (size_t)(first + r) * 3 * CIFAR_PIXELS;
        for (int p = 0; p < CIFAR_PIXELS; p++)
            for (int c = 0; c < 3; c++) dst[3 * p + c] = planes[c * CIFAR_PIXELS + p];
        split->labels[first + r] = label;
    }
    fclose(f);
    return rc;
}

static int read_split(const CifarFormat *fmt, const char *dir, const char *const *files, int nfiles, VkcSplit *split,
                      uint64_t *bytes, const VkcDataLimits *lim)
{
    size_t record = (size_t)fmt->label_bytes + 3 * CIFAR_PIXELS;
    char path[DATA_PATH_MAX];
    int counts[5], total = 0;
    for (int k = 0; k < nfiles; k++) {
        if (data_path(path, dir, files[k]) || count_records(path, record, &counts[k])) return VKC_ERR;
        if (counts[k] > INT32_MAX / 8 - total) return vkc_fail("%s: too many records", path);
        total += counts[k];
        *bytes += (uint64_t)counts[k] * (3 * CIFAR_PIXELS + 4);
        if (data_check_bytes(path, *bytes, lim)) return VKC_ERR;
    }
    if (data_split_alloc(split, total, 3 * CIFAR_PIXELS)) return VKC_ERR;
    for (int k = 0, first = 0; k < nfiles; first += counts[k], k++)
        if (data_path(path, dir, files[k]) || read_batch(fmt, path, split, first, counts[k])) return VKC_ERR;
    return VKC_OK;
}

/* Class names from the archive's names file if present (one per line), else built in. */
static int read_class_names(VkcDataset *ds, const CifarFormat *fmt, const char *dir)
{
    char path[DATA_PATH_MAX];
    if (data_path(path, dir, fmt->names_file)) return VKC_ERR;
    if (!data_exists(path)) return data_class_names(ds, fmt->nclasses, fmt->nclasses == 10 ? cifar10_classes : NULL);
    FILE *f = fopen(path, "r");
    if (!f) return vkc_fail("%s: cannot open: %s", path, strerror(errno));
    char *names[100] = {0};
    char line[256];
    int n = 0, rc = VKC_OK;
    while (rc == VKC_OK && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0]) continue;
        if (n == fmt->nclasses) rc = vkc_fail("%s: more than %d class names", path, fmt->nclasses);
        else names[n++] = strdup(line);
    }
    fclose(f);
    if (rc == VKC_OK && n != fmt->nclasses) rc = vkc_fail("%s: %d class names, expected %d", path, n, fmt->nclasses);
    if (rc == VKC_OK) rc = data_class_names(ds, n, (const char *const *)names);
    for (int i = 0; i < n; i++) free(names[i]);
    return rc;
}

static int load_cifar(VkcDataset *ds, const CifarFormat *fmt, const char *dir_arg, const VkcDataLimits *lim)
{
    memset(ds, 0, sizeof *ds);
    /* accept the folder the archive unpacks to, or its parent */
    char dir[DATA_PATH_MAX], probe[DATA_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", dir_arg);
    if (!data_is_dir(dir)) return vkc_fail("%s: not a directory (%s)", dir, data_exists(dir) ? "a file" : "missing");
    if (data_path(probe, dir, fmt->test)) return VKC_ERR;
    if (!data_exists(probe) && data_path(probe, dir, fmt->subdir) == VKC_OK && data_is_dir(probe))
        snprintf(dir, sizeof dir, "%s", probe);

    snprintf(ds->name, sizeof ds->name, "%s", fmt->name);
    ds->height = ds->width = CIFAR_SIDE;
    ds->channels = 3;
    uint64_t bytes = 0;
    if (read_split(fmt, dir, fmt->train, fmt->ntrain_files, &ds->train, &bytes, lim) ||
        read_split(fmt, dir, &fmt->test, 1, &ds->test, &bytes, lim) || read_class_names(ds, fmt, dir)) {
        vkc_dataset_free(ds);
        return VKC_ERR;
    }
    return VKC_OK;
}

int vkc_dataset_load_cifar10(VkcDataset *ds, const char *dir) { return load_cifar(ds, &cifar10, dir, NULL); }
int vkc_dataset_load_cifar100(VkcDataset *ds, const char *dir) { return load_cifar(ds, &cifar100, dir, NULL); }
int data_load_cifar10(VkcDataset *ds, const char *dir, const VkcDataLimits *lim) { return load_cifar(ds, &cifar10, dir, lim); }
int data_load_cifar100(VkcDataset *ds, const char *dir, const VkcDataLimits *lim)
{
    return load_cifar(ds, &cifar100, dir, lim);
}
