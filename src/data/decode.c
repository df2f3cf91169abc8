/* A collection's images: reading a file's header for the index (data_probe_image: JPEG or PNG
 * by its first bytes, jpeg.c and png.c read the rest), and decoding one image when it is needed (VkcDecoder, one per thread: it keeps its buffers, its JPEG
 * decoder and the file of STL-10 records it read last open between images). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "stl10.h"

/* ---------------------------------------------------------------- buffers and files */

int data_buf_reserve(DataBuf *b, size_t bytes)
{
    if (bytes <= b->cap) return VKC_OK;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < bytes) cap = cap > SIZE_MAX / 2 ? bytes : 2 * cap;
    uint8_t *p = realloc(b->data, cap);
    if (!p) return vkc_fail("out of memory for %zu bytes", bytes);
    b->data = p;
    b->cap = cap;
    return VKC_OK;
}

int data_buf_append(DataBuf *b, const void *bytes, size_t n)
{
    if (n > SIZE_MAX - b->size || data_buf_reserve(b, b->size + n)) return vkc_fail("out of memory");
    memcpy(b->data + b->size, bytes, n);
    b->size += n;
    return VKC_OK;
}

/* pread all of [offset, offset + length) into dst. */
static int read_at(int fd, const char *path, uint64_t offset, uint8_t *dst, size_t length)
{
    size_t done = 0;
    while (done < length) {
        ssize_t got = pread(fd, dst + done, length - done, (off_t)(offset + done));
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return vkc_fail("%s: cannot read: %s", path, strerror(errno));
        if (got == 0) return vkc_fail("%s: ended after %llu bytes (changed since it was indexed?)", path,
                                      (unsigned long long)(offset + done));
        done += (size_t)got;
    }
    return VKC_OK;
}

int data_read_file(const char *path, uint64_t offset, uint64_t length, DataBuf *b)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block: it fails the read */
    if (fd < 0) return vkc_fail("%s: cannot open: %s", path, strerror(errno));
    int rc = VKC_OK;
    if (!length) {
        struct stat st;
        if (fstat(fd, &st)) rc = vkc_fail("%s: %s", path, strerror(errno));
        else if (st.st_size == 0) rc = vkc_fail("%s: empty file", path);
        else length = (uint64_t)st.st_size;
    }
    if (!rc && length > SIZE_MAX / 2) rc = vkc_fail("%s: too large to read (%llu bytes)", path, (unsigned long long)length);
    if (!rc && !(rc = data_buf_reserve(b, (size_t)length))) rc = read_at(fd, path, offset, b->data, (size_t)length);
    if (!rc) b->size = (size_t)length;
    close(fd);
    return rc;
}

bool data_find_after(FILE *f, uint64_t from, uint64_t size, const uint8_t *pattern, size_t n)
{
    enum { CHUNK = 64 << 10 };
    uint8_t *buf = malloc(CHUNK + n);
    if (!buf) return true; /* cannot look: decoding will tell */
    bool found = false;
    uint64_t tail = size > from + CHUNK ? size - CHUNK : from;
    /* pass 0: [tail, size); pass 1: [from, tail + n - 1), the part before (overlapping by n - 1) */
    for (int pass = 0; pass < 2 && !found; pass++) {
        if (pass == 1 && tail == from) break;
        uint64_t at = pass == 0 ? tail : from, end = pass == 0 ? size : tail + n - 1;
        if (end > size) end = size;
        while (at < end && !found) {
            size_t want = end - at < CHUNK + n ? (size_t)(end - at) : CHUNK + n;
            if (fseeko(f, (off_t)at, SEEK_SET)) break;
            size_t got = fread(buf, 1, want, f);
            if (got < n) break;
            found = memmem(buf, got, pattern, n) != NULL;
            at += got - (n - 1);
        }
    }
    free(buf);
    return found;
}

/* ---------------------------------------------------------------- headers */

static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

int data_probe_image(DataJpeg *j, const char *path, uint64_t max_pixels, VkcImageRef *ref, bool *color)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block: fstat refuses it */
    if (fd < 0) {
        if (errno == ELOOP) return vkc_fail("%s: a symbolic-link loop", path);
        if (errno == ENOENT) return vkc_fail("%s: a broken symbolic link", path);
        return vkc_fail("%s: cannot open: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st)) {
        int rc = vkc_fail("%s: %s", path, strerror(errno));
        close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return vkc_fail("%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return vkc_fail("%s: empty file", path);
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return vkc_fail("%s: cannot open: %s", path, strerror(errno));
    }
    uint8_t head[8] = {0};
    size_t got = fread(head, 1, sizeof head, f);
    int rc;
    memset(ref, 0, sizeof *ref);
    if (ferror(f)) {
        rc = vkc_fail("%s: cannot read: %s", path, strerror(errno));
    } else if (got >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF) {
        ref->format = VKC_IMAGE_JPEG;
        rewind(f);
        rc = data_jpeg_probe(j, f, path, (uint64_t)st.st_size, max_pixels, &ref->height, &ref->width, color);
    } else if (got == 8 && !memcmp(head, png_signature, 8)) {
        ref->format = VKC_IMAGE_PNG;
        rewind(f);
        rc = data_png_probe(f, path, (uint64_t)st.st_size, max_pixels, &ref->height, &ref->width, color);
    } else {
        rc = vkc_fail("%s: not a JPEG or PNG image", path);
    }
    fclose(f);
    return rc;
}

/* ---------------------------------------------------------------- decoding */

struct VkcDecoder {
    DataJpeg *jpeg;
    DataBuf bytes, pixels;
    int fd;          /* the file of records read last (STL-10), or -1 */
    const char *fd_path;
};

int vkc_decoder_create(VkcDecoder **out)
{
    VkcDecoder *d = calloc(1, sizeof *d);
    if (!d) return vkc_fail("out of memory for an image decoder");
    d->fd = -1;
    if (data_jpeg_create(&d->jpeg)) {
        free(d);
        return VKC_ERR;
    }
    *out = d;
    return VKC_OK;
}

void vkc_decoder_destroy(VkcDecoder *d)
{
    if (!d) return;
    data_jpeg_destroy(d->jpeg);
    free(d->bytes.data);
    free(d->pixels.data);
    if (d->fd >= 0) close(d->fd);
    free(d);
}

int vkc_max_reduce(int box_h, int box_w, int out_h, int out_w)
{
    int r = 8;
    while (r > 1 && ((int64_t)out_h * r > box_h || (int64_t)out_w * r > box_w)) r /= 2;
    return r;
}

void vkc_image_size(const VkcDataset *ds, const VkcSplit *split, int i, int *height, int *width)
{
    if (split->refs) {
        *height = split->refs[i].height;
        *width = split->refs[i].width;
    } else {
        *height = ds->height;
        *width = ds->width;
    }
}

void vkc_image_origin(const VkcDataset *ds, const VkcSplit *split, int i, char *buf, size_t size)
{
    if (!split->refs) {
        snprintf(buf, size, "image %d", i);
        return;
    }
    const VkcImageRef *r = &split->refs[i];
    if (r->format == VKC_IMAGE_STL10)
        snprintf(buf, size, "%s, record %llu", ds->paths + r->path, (unsigned long long)(r->offset / STL10_RECORD));
    else snprintf(buf, size, "%s", ds->paths + r->path);
}

/* STL-10 record (three column-major 96 x 96 planes) -> HWC gray or RGB. */
static int decode_stl10(VkcDecoder *d, const char *path, uint64_t offset, int channels)
{
    if (d->fd < 0 || d->fd_path != path) {
        if (d->fd >= 0) close(d->fd);
        d->fd = open(path, O_RDONLY | O_CLOEXEC);
        d->fd_path = path;
        if (d->fd < 0) return vkc_fail("%s: cannot open: %s", path, strerror(errno));
    }
    if (data_buf_reserve(&d->bytes, STL10_RECORD) || data_buf_reserve(&d->pixels, STL10_RECORD) ||
        read_at(d->fd, path, offset, d->bytes.data, STL10_RECORD))
        return VKC_ERR;
    const uint8_t *in = d->bytes.data;
    uint8_t *out = d->pixels.data;
    enum { S = STL10_SIDE, P = STL10_SIDE * STL10_SIDE };
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            uint8_t r = in[x * S + y], g = in[P + x * S + y], b = in[2 * P + x * S + y];
            if (channels == 1) {
                out[y * S + x] = (uint8_t)((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
            } else {
                uint8_t *o = out + 3 * (y * S + x);
                o[0] = r, o[1] = g, o[2] = b;
            }
        }
    return VKC_OK;
}

int vkc_decode_image(VkcDecoder *d, const VkcDataset *ds, const VkcSplit *split, int i, int max_reduce, VkcImage *img)
{
    int C = ds->channels;
    if (!split->refs) {
        *img = (VkcImage){.pixels = vkc_image(ds, split, i), .height = ds->height, .width = ds->width, .channels = C,
                          .stride = (size_t)ds->width * C, .reduce = 1};
        return VKC_OK;
    }
    const VkcImageRef *ref = &split->refs[i];
    const char *path = ds->paths + ref->path;
    int h = ref->height, w = ref->width, reduce = 1;
    int rc;
    if (ref->format == VKC_IMAGE_STL10) {
        rc = decode_stl10(d, path, ref->offset, C);
    } else if ((rc = data_read_file(path, 0, 0, &d->bytes))) {
        /* the message names the file */
    } else if (ref->format == VKC_IMAGE_JPEG) {
        reduce = max_reduce >= 8 ? 8 : max_reduce >= 4 ? 4 : max_reduce >= 2 ? 2 : 1;
        rc = data_jpeg_decode(d->jpeg, d->bytes.data, d->bytes.size, path, C, reduce, ds->max_image_pixels, &d->pixels,
                              &h, &w);
        /* libjpeg's scaled size: the full size divided by reduce, rounded up */
        if (!rc && (h != (ref->height + reduce - 1) / reduce || w != (ref->width + reduce - 1) / reduce))
            rc = vkc_fail("%s: now %dx%d at 1/%d scale, was %dx%d when indexed (changed since?)", path, w, h, reduce,
                          ref->width, ref->height);
    } else {
        rc = data_png_decode(d->bytes.data, d->bytes.size, path, C, ds->max_image_pixels, &d->pixels, &h, &w);
        if (!rc && (h != ref->height || w != ref->width))
            rc = vkc_fail("%s: now %dx%d, was %dx%d when indexed (changed since?)", path, w, h, ref->width, ref->height);
    }
    if (rc) return VKC_ERR;
    *img = (VkcImage){.pixels = d->pixels.data, .height = h, .width = w, .channels = C, .stride = (size_t)w * C,
                      .reduce = reduce};
    return VKC_OK;
}
