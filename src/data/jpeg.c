/* JPEG through libjpeg(-turbo): headers for the index, and decoding to gray or RGB at 1/1,
 * 1/2, 1/4 or 1/8 of the size (the decoder's DCT scaling, far cheaper than decoding in full
 * and resizing).
 *
 * Colour: gray, YCbCr and RGB files are converted by libjpeg itself (to gray it keeps the luma
 * and skips the chroma planes). CMYK and YCCK files are decoded as CMYK and converted here the
 * way Pillow does: R = (255 - C)(255 - K) / 255, with the values inverted first when an Adobe
 * APP14 marker is present (Photoshop stores them inverted; libjpeg writes that marker too).
 *
 * Errors: libjpeg reports fatal errors through error_exit (a longjmp back here) and damaged
 * data through warnings (a premature end of file, a bad Huffman code, ...) after which it
 * would fill the rest of the image with grey. A damaged image must never train silently, so
 * every warning is an error here, except the few about metadata that leave the pixels intact. */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#include "internal.h"

struct DataJpeg {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    uint8_t *cmyk_row; /* one row of CMYK samples */
    size_t cmyk_cap;
};

static void on_error(j_common_ptr c)
{
    DataJpeg *j = (DataJpeg *)c->client_data;
    c->err->format_message(c, j->message);
    longjmp(j->jump, 1);
}

static void on_message(j_common_ptr c, int level)
{
    if (level >= 0) return; /* trace messages */
    switch (c->err->msg_code) {
    case JWRN_EXTRANEOUS_DATA: /* bytes between markers: the image data is whole */
    case JWRN_JFIF_MAJOR:
    case JWRN_ADOBE_XFORM:
    case JWRN_BOGUS_ICC:
        c->err->num_warnings++;
        return;
    default: on_error(c);
    }
}

int data_jpeg_create(DataJpeg **out)
{
    DataJpeg *j = calloc(1, sizeof *j);
    if (!j) return vkc_fail("out of memory for a JPEG decoder");
    j->cinfo.err = jpeg_std_error(&j->mgr);
    j->mgr.error_exit = on_error;
    j->mgr.emit_message = on_message;
    j->cinfo.client_data = j;
    if (setjmp(j->jump)) {
        int rc = vkc_fail("cannot create a JPEG decoder: %s", j->message);
        free(j);
        return rc;
    }
    jpeg_create_decompress(&j->cinfo);
    *out = j;
    return VKC_OK;
}

void data_jpeg_destroy(DataJpeg *j)
{
    if (!j) return;
    jpeg_destroy_decompress(&j->cinfo);
    free(j->cmyk_row);
    free(j);
}

/* The reported message after a longjmp: "PATH: libjpeg's message" (and the decoder is reset). */
static int jpeg_failed(DataJpeg *j, const char *name)
{
    jpeg_abort_decompress(&j->cinfo);
    return vkc_fail("%s: %s", name, j->message);
}

static int check_size(const char *name, uint32_t w, uint32_t h, uint64_t max_pixels)
{
    if (w == 0 || h == 0) return vkc_fail("%s: %ux%u: an image without pixels", name, w, h);
    if ((uint64_t)w * h > max_pixels)
        return vkc_fail("%s: %ux%u is %llu pixels, more than --max-image-pixels %llu (a decompression bomb? raise the "
                        "limit to read it)",
                        name, w, h, (unsigned long long)w * h, (unsigned long long)max_pixels);
    return VKC_OK;
}

int data_jpeg_probe(DataJpeg *j, FILE *f, const char *path, uint64_t size, uint64_t max_pixels, int *height,
                    int *width, bool *color)
{
    struct jpeg_decompress_struct *c = &j->cinfo;
    if (setjmp(j->jump)) return jpeg_failed(j, path);
    jpeg_stdio_src(c, f);
    jpeg_read_header(c, TRUE);
    /* bytes consumed: up to the first scan's data */
    long pos = ftell(f);
    uint64_t scan = pos > 0 && (uint64_t)pos >= c->src->bytes_in_buffer ? (uint64_t)pos - c->src->bytes_in_buffer : 0;
    uint32_t w = c->image_width, h = c->image_height;
    *color = c->num_components > 1;
    jpeg_abort_decompress(c);
    if (check_size(path, w, h, max_pixels)) return VKC_ERR;
    /* Inside entropy-coded data a 0xFF byte is always followed by 0x00 or a restart marker, so
     * FF D9 after the first scan's header is the end-of-image marker. */
    static const uint8_t eoi[2] = {0xFF, 0xD9};
    if (!data_find_after(f, scan, size, eoi, sizeof eoi))
        return vkc_fail("%s: truncated JPEG (its data has no end-of-image marker)", path);
    *height = (int)h;
    *width = (int)w;
    return VKC_OK;
}

/* CMYK samples of one row -> gray or RGB. */
static void cmyk_row(const uint8_t *in, uint8_t *out, uint32_t n, int channels, bool inverted)
{
    for (uint32_t x = 0; x < n; x++, in += 4) {
        unsigned c = in[0], m = in[1], y = in[2], k = in[3];
        if (!inverted) c = 255 - c, m = 255 - m, y = 255 - y, k = 255 - k;
        /* now c, m, y, k are 255 minus the ink: r = c k / 255, rounded */
        uint8_t r = (uint8_t)((c * k + 127) / 255), g = (uint8_t)((m * k + 127) / 255),
                b = (uint8_t)((y * k + 127) / 255);
        if (channels == 1) {
            out[x] = (uint8_t)((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
        } else {
            out[3 * x] = r, out[3 * x + 1] = g, out[3 * x + 2] = b;
        }
    }
}

int data_jpeg_decode(DataJpeg *j, const uint8_t *bytes, size_t size, const char *name, int channels, int reduce,
                     uint64_t max_pixels, DataBuf *out, int *height, int *width)
{
    struct jpeg_decompress_struct *c = &j->cinfo;
    if (setjmp(j->jump)) return jpeg_failed(j, name);
    jpeg_mem_src(c, bytes, (unsigned long)size);
    jpeg_read_header(c, TRUE);
    if (check_size(name, c->image_width, c->image_height, max_pixels)) {
        jpeg_abort_decompress(c);
        return VKC_ERR;
    }
    bool cmyk = c->jpeg_color_space == JCS_CMYK || c->jpeg_color_space == JCS_YCCK;
    c->out_color_space = cmyk ? JCS_CMYK : channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    c->scale_num = 1;
    c->scale_denom = (unsigned)(reduce == 8 || reduce == 4 || reduce == 2 ? reduce : 1);
    c->dct_method = JDCT_ISLOW; /* the exact integer IDCT: the same pixels on every CPU */
    jpeg_start_decompress(c);
    uint32_t w = c->output_width, h = c->output_height;
    size_t row = (size_t)w * channels;
    if (data_buf_reserve(out, row * h)) {
        jpeg_abort_decompress(c);
        return vkc_fail_context("%s", name);
    }
    if (cmyk && j->cmyk_cap < (size_t)w * 4) {
        uint8_t *p = realloc(j->cmyk_row, (size_t)w * 4);
        if (!p) {
            jpeg_abort_decompress(c);
            return vkc_fail("%s: out of memory", name);
        }
        j->cmyk_row = p;
        j->cmyk_cap = (size_t)w * 4;
    }
    bool inverted = c->saw_Adobe_marker;
    while (c->output_scanline < h) {
        uint8_t *dst = out->data + (size_t)c->output_scanline * row;
        if (cmyk) {
            JSAMPROW r = j->cmyk_row;
            if (jpeg_read_scanlines(c, &r, 1) != 1) break;
            cmyk_row(j->cmyk_row, dst, w, channels, inverted);
        } else {
            JSAMPROW r = dst;
            if (jpeg_read_scanlines(c, &r, 1) != 1) break;
        }
    }
    jpeg_finish_decompress(c);
    *height = (int)h;
    *width = (int)w;
    return VKC_OK;
}

/* ---------------------------------------------------------------- public, one file at a time */

int vkc_jpeg_decode(const uint8_t *bytes, size_t size, const char *name, int channels, int reduce,
                    uint64_t max_pixels, uint8_t **pixels, int *height, int *width)
{
    *pixels = NULL;
    if (channels != 1 && channels != 3) return vkc_fail("%s: decode to 1 or 3 channels, not %d", name, channels);
    DataJpeg *j;
    if (data_jpeg_create(&j)) return VKC_ERR;
    DataBuf buf = {0};
    int rc = data_jpeg_decode(j, bytes, size, name, channels, reduce, max_pixels, &buf, height, width);
    data_jpeg_destroy(j);
    if (rc) free(buf.data);
    else *pixels = buf.data;
    return rc;
}

int vkc_jpeg_read(const char *path, int channels, int reduce, uint64_t max_pixels, uint8_t **pixels, int *height,
                  int *width)
{
    *pixels = NULL;
    DataBuf bytes = {0};
    if (data_read_file(path, 0, 0, &bytes)) return VKC_ERR;
    int rc = vkc_jpeg_decode(bytes.data, bytes.size, path, channels, reduce, max_pixels, pixels, height, width);
    free(bytes.data);
    return rc;
}
