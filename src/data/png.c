/* PNG through libpng's simplified API, which does every conversion we need (palette, 16-bit,
 * alpha, gray <-> RGB): headers for the index, decoding, and writing. */
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The pixel limit, from the header; the message names the file and the flag. */
static int check_size(const char *name, uint32_t w, uint32_t h, uint64_t max_pixels)
{
    if (w == 0 || h == 0) return vkc_fail("%s: %ux%u: an image without pixels", name, w, h);
    if ((uint64_t)w * h > max_pixels || w > 65536 || h > 65536)
        return vkc_fail("%s: %ux%u is %llu pixels, more than --max-image-pixels %llu (a decompression bomb? raise the "
                        "limit to read it)",
                        name, w, h, (unsigned long long)w * h, (unsigned long long)max_pixels);
    return VKC_OK;
}

/* A failed simplified-API call: libpng's message, naming the file; the image is freed. */
static int png_failed(png_image *image, const char *name, const char *what)
{
    int rc = vkc_fail("%s: %s", name, image->message[0] ? image->message : what);
    png_image_free(image);
    return rc;
}

int data_png_probe(FILE *f, const char *path, uint64_t size, uint64_t max_pixels, int *height, int *width,
                   bool *color)
{
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_stdio(&image, f)) return png_failed(&image, path, "cannot read PNG");
    uint32_t w = image.width, h = image.height;
    *color = (image.format & PNG_FORMAT_FLAG_COLOR) != 0;
    png_image_free(&image);
    if (check_size(path, w, h, max_pixels)) return VKC_ERR;
    /* the IEND chunk: its type and its CRC, which every PNG ends with */
    static const uint8_t iend[8] = {'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
    if (!data_find_after(f, 8, size, iend, sizeof iend)) return vkc_fail("%s: truncated PNG (it has no IEND chunk)", path);
    *height = (int)h;
    *width = (int)w;
    return VKC_OK;
}

int data_png_decode(const uint8_t *bytes, size_t size, const char *name, int channels, uint64_t max_pixels,
                    DataBuf *out, int *height, int *width)
{
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&image, bytes, size)) return png_failed(&image, name, "cannot read PNG");
    if (check_size(name, image.width, image.height, max_pixels)) {
        png_image_free(&image);
        return VKC_ERR;
    }
    image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    /* 16-bit samples are gamma-encoded like 8-bit ones (libpng would assume linear) */
    image.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
    if (data_buf_reserve(out, PNG_IMAGE_SIZE(image))) {
        png_image_free(&image);
        return vkc_fail_context("%s", name);
    }
    png_color black = {0, 0, 0}; /* transparent pixels are composited onto black */
    if (!png_image_finish_read(&image, &black, out->data, 0, NULL)) return png_failed(&image, name, "corrupt PNG");
    *height = (int)image.height;
    *width = (int)image.width;
    return VKC_OK;
}

int vkc_png_read(const char *path, int channels, uint8_t **pixels, int *height, int *width)
{
    *pixels = NULL;
    DataBuf bytes = {0}, out = {0};
    int rc = data_read_file(path, 0, 0, &bytes) ||
             data_png_decode(bytes.data, bytes.size, path, channels, VKC_DATA_MAX_IMAGE_PIXELS, &out, height, width);
    free(bytes.data);
    if (rc) free(out.data);
    else *pixels = out.data;
    return rc ? VKC_ERR : VKC_OK;
}

int vkc_png_write(const char *path, const uint8_t *pixels, int height, int width, int channels)
{
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)width;
    image.height = (png_uint_32)height;
    image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    if (!png_image_write_to_file(&image, path, 0, pixels, 0, NULL)) {
        int rc = vkc_fail("%s: cannot write PNG: %s", path, image.message);
        png_image_free(&image);
        return rc;
    }
    return VKC_OK;
}
