/* IDX files (MNIST, Fashion-MNIST): a big-endian header (magic 0x00000803 for uint8 images
 * n x rows x cols, 0x00000801 for uint8 labels n), then the bytes. Read through zlib's gz
 * functions, which take gzip-compressed and plain files alike. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "internal.h"

#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u
#define IDX_MAX_SIDE 4096

/* Find DIR/base or DIR/base.gz (also the "train-images.idx3-ubyte" spelling of some mirrors). */
static int find_idx(char *path, const char *dir, const char *base, const char *dotted)
{
    const char *names[2] = {base, dotted};
    for (int k = 0; k < 2; k++) {
        char name[256];
        snprintf(name, sizeof name, "%s", names[k]);
        if (data_path(path, dir, name)) return VKC_ERR;
        if (data_exists(path)) return VKC_OK;
        snprintf(name, sizeof name, "%s.gz", names[k]);
        if (data_path(path, dir, name)) return VKC_ERR;
        if (data_exists(path)) return VKC_OK;
    }
    return vkc_fail("%s/%s: no such file (nor %s.gz)", dir, base, base);
}

/* Read bytes [done, end) of `what` into dst (at most 1 GiB per gzread call); fail naming the
 * file when it cannot be read or ends first (`bytes`: the size the header promised). */
static int gz_read_range(gzFile f, const char *path, uint8_t *dst, size_t done, size_t end, size_t bytes,
                         const char *what)
{
    while (done < end) {
        size_t want = end - done < (1u << 30) ? end - done : (1u << 30);
        int got = gzread(f, dst + done, (unsigned)want);
        if (got < 0) {
            int errnum;
            const char *msg = gzerror(f, &errnum);
            return vkc_fail("%s: cannot read %s: %s", path, what, errnum == Z_ERRNO ? strerror(errno) : msg);
        }
        if (got == 0) return vkc_fail("%s: truncated: %s needs %zu bytes, the file ends after %zu", path, what, bytes, done);
        done += (size_t)got;
    }
    return VKC_OK;
}

/* Read exactly `bytes` bytes or fail with a message naming the file. */
static int gz_read_exact(gzFile f, const char *path, void *dst, size_t bytes, const char *what)
{
    return gz_read_range(f, path, dst, 0, bytes, bytes, what);
}

/* `bytes` bytes into a buffer that grows as they arrive (a header's count is a claim, not a
 * size: a few gzip bytes must not make us allocate what they promise). */
#define GROW_FROM (16u << 20)
static int gz_read_grow(gzFile f, const char *path, uint8_t **data, size_t bytes, const char *what)
{
    size_t cap = bytes < GROW_FROM ? bytes : GROW_FROM, done = 0;
    *data = malloc(cap + 1);
    if (!*data) return vkc_fail("%s: out of memory for %zu bytes", path, cap);
    while (done < bytes) {
        if (done == cap) {
            size_t next = cap > bytes / 2 ? bytes : 2 * cap;
            uint8_t *grown = realloc(*data, next + 1);
            if (!grown) return vkc_fail("%s: out of memory for %zu bytes", path, next);
            *data = grown;
            cap = next;
        }
        if (gz_read_range(f, path, *data, done, cap, bytes, what)) return VKC_ERR;
        done = cap;
    }
    return VKC_OK;
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* Read one IDX file. dims[0] is the count; for images dims[1], dims[2] are rows and cols.
 * *total counts the bytes the dataset holds so far (checked against the limit). */
static int read_idx(const char *path, bool images, uint32_t dims[3], uint8_t **data, uint64_t *total,
                    const VkcDataLimits *lim)
{
    *data = NULL;
    gzFile f = gzopen(path, "rb");
    if (!f) return vkc_fail("%s: cannot open: %s", path, strerror(errno));
    int rc = VKC_ERR;
    uint8_t header[16];
    int ndims = images ? 3 : 1;
    uint32_t magic = images ? IDX_IMAGES_MAGIC : IDX_LABELS_MAGIC;
    if (gz_read_exact(f, path, header, 4, "the IDX magic number")) goto done;
    if (be32(header) != magic) {
        vkc_fail("%s: wrong magic 0x%08x, expected 0x%08x (IDX %s)", path, be32(header), magic,
                 images ? "uint8 images n x rows x cols" : "uint8 labels");
        goto done;
    }
    if (gz_read_exact(f, path, header + 4, 4 * (size_t)ndims, "the IDX header")) goto done;
    for (int d = 0; d < ndims; d++) dims[d] = be32(header + 4 + 4 * d);
    if (dims[0] > INT32_MAX / 2 ||
        (images && (dims[1] < 1 || dims[2] < 1 || dims[1] > IDX_MAX_SIDE || dims[2] > IDX_MAX_SIDE))) {
        vkc_fail("%s: implausible shape %u x %u x %u", path, dims[0], images ? dims[1] : 1, images ? dims[2] : 1);
        goto done;
    }
    size_t bytes = (size_t)dims[0] * (images ? (size_t)dims[1] * dims[2] : 1);
    /* Labels are held as int32. */
    *total += images ? bytes : 4 * (uint64_t)bytes;
    if (data_check_bytes(path, *total, lim)) goto done;
    /* An uncompressed file must hold what its header declares, before anything is allocated. */
    struct stat st;
    size_t head = 4 + 4 * (size_t)ndims;
    if (gzdirect(f) && stat(path, &st) == 0 && (uint64_t)st.st_size < head + (uint64_t)bytes) {
        vkc_fail("%s: truncated: its header declares %u %s (%zu bytes), the file holds %lld", path, dims[0],
                 images ? "images" : "labels", bytes, (long long)st.st_size - (long long)head);
        goto done;
    }
    if (gz_read_grow(f, path, data, bytes, images ? "the images" : "the labels")) goto done;
    uint8_t extra;
    int got = gzread(f, &extra, 1);
    if (got != 0) {
        if (got > 0) vkc_fail("%s: unexpected data after %u %s", path, dims[0], images ? "images" : "labels");
        else vkc_fail("%s: cannot read: %s", path, gzerror(f, &got));
        goto done;
    }
    rc = VKC_OK;
done:
    gzclose(f);
    if (rc) {
        free(*data);
        *data = NULL;
    }
    return rc;
}

/* Read one split (images + labels) into `split`. */
static int read_split(VkcDataset *ds, VkcSplit *split, const char *dir, const char *prefix, uint64_t *total,
                      const VkcDataLimits *lim)
{
    char images_path[DATA_PATH_MAX], labels_path[DATA_PATH_MAX], base[64], dotted[64];
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", prefix);
    snprintf(dotted, sizeof dotted, "%s-images.idx3-ubyte", prefix);
    if (find_idx(images_path, dir, base, dotted)) return VKC_ERR;
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", prefix);
    snprintf(dotted, sizeof dotted, "%s-labels.idx1-ubyte", prefix);
    if (find_idx(labels_path, dir, base, dotted)) return VKC_ERR;

    uint32_t idims[3] = {0}, ldims[3] = {0};
    uint8_t *images = NULL, *labels = NULL;
    int rc = VKC_ERR;
    if (read_idx(images_path, true, idims, &images, total, lim) || read_idx(labels_path, false, ldims, &labels, total, lim))
        goto done;
    if (idims[0] != ldims[0]) {
        vkc_fail("%s has %u images but %s has %u labels", images_path, idims[0], labels_path, ldims[0]);
        goto done;
    }
    if (ds->height == 0) {
        ds->height = (int)idims[1];
        ds->width = (int)idims[2];
        ds->channels = 1;
    } else if (ds->height != (int)idims[1] || ds->width != (int)idims[2]) {
        vkc_fail("%s: images are %ux%u, the training images %dx%d", images_path, idims[1], idims[2], ds->height,
                 ds->width);
        goto done;
    }
    if (data_split_alloc(split, (int)idims[0], vkc_image_bytes(ds))) goto done;
    memcpy(split->pixels, images, (size_t)split->n * vkc_image_bytes(ds));
    for (int i = 0; i < split->n; i++) split->labels[i] = labels[i];
    rc = VKC_OK;
done:
    free(images);
    free(labels);
    return rc;
}

int vkc_dataset_load_idx(VkcDataset *ds, const char *dir, const char *name, const char *const *class_names)
{
    return data_load_idx(ds, dir, name, class_names, NULL);
}

int data_load_idx(VkcDataset *ds, const char *dir, const char *name, const char *const *class_names,
                  const VkcDataLimits *lim)
{
    memset(ds, 0, sizeof *ds);
    if (!data_is_dir(dir)) return vkc_fail("%s: not a directory (%s)", dir, data_exists(dir) ? "a file" : "missing");
    snprintf(ds->name, sizeof ds->name, "%s", name);
    uint64_t total = 0;
    if (read_split(ds, &ds->train, dir, "train", &total, lim) || read_split(ds, &ds->test, dir, "t10k", &total, lim))
        goto fail;
    /* classes: the given names (10), else 0..max label */
    int nclasses = 10;
    if (!class_names) {
        nclasses = 1;
        const VkcSplit *splits[2] = {&ds->train, &ds->test};
        for (int s = 0; s < 2; s++)
            for (int i = 0; i < splits[s]->n; i++)
                if (splits[s]->labels[i] + 1 > nclasses) nclasses = splits[s]->labels[i] + 1;
    }
    if (data_class_names(ds, nclasses, class_names) || data_check_labels(ds, dir)) goto fail;
    return VKC_OK;
fail:
    vkc_dataset_free(ds);
    return VKC_ERR;
}
