/* PNG input and output through libpng's simplified API, which does every conversion we need
 * (palette, 16-bit, alpha, gray <-> RGB). */
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "vkclr/fileio.h"

int vkc_png_open(const char *path, png_image *image)
{
    memset(image, 0, sizeof *image);
    image->version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(image, path)) {
        int rc = vkc_fail("%s: %s", path, image->message[0] ? image->message : "cannot read PNG");
        png_image_free(image);
        return rc;
    }
    return VKC_OK;
}

int vkc_png_read(const char *path, int channels, uint8_t **pixels, int *height, int *width)
{
    return data_png_read(path, channels, VKC_DATA_MAX_IMAGE_PIXELS, pixels, height, width);
}

int data_png_read(const char *path, int channels, uint64_t max_pixels, uint8_t **pixels, int *height, int *width)
{
    *pixels = NULL;
    png_image image;
    if (vkc_png_open(path, &image)) return VKC_ERR;
    if (image.width > 65536 || image.height > 65536) {
        png_image_free(&image);
        return vkc_fail("%s: %ux%u is too large", path, image.width, image.height);
    }
    if ((uint64_t)image.width * image.height > max_pixels) {
        png_image_free(&image);
        return vkc_fail("%s: %ux%u is %llu pixels, more than --max-image-pixels %llu (a decompression bomb? raise the "
                        "limit to read it)",
                        path, image.width, image.height, (unsigned long long)image.width * image.height,
                        (unsigned long long)max_pixels);
    }
    image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    /* 16-bit samples are gamma-encoded like 8-bit ones (libpng would assume linear) */
    image.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
    size_t bytes = PNG_IMAGE_SIZE(image);
    uint8_t *buffer = malloc(bytes);
    if (!buffer) {
        png_image_free(&image);
        return vkc_fail("%s: out of memory for %zu bytes", path, bytes);
    }
    png_color black = {0, 0, 0};  /* transparent pixels are composited onto black */
    if (!png_image_finish_read(&image, &black, buffer, 0, NULL)) {
        free(buffer);
        int rc = vkc_fail("%s: %s", path, image.message[0] ? image.message : "corrupt PNG");
        png_image_free(&image);
        return rc;
    }
    *pixels = buffer;
    *height = (int)image.height;
    *width = (int)image.width;
    return VKC_OK;
}

int vkc_png_write(const char *path, const uint8_t *pixels, int height, int width, int channels)
{
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)width;
    image.height = (png_uint_32)height;
    image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    /* Encoded in memory, then written whole (vkclr/fileio.h): a full disk or a file-size limit
     * is an error naming the file, and no half-written PNG is left. */
    png_alloc_size_t size = 0;
    void *memory = NULL;
    if (!png_image_write_get_memory_size(image, size, 0, pixels, 0, NULL) || !(memory = malloc(size)) ||
        !png_image_write_to_memory(&image, memory, &size, 0, pixels, 0, NULL)) {
        int rc = memory || size == 0 ? vkc_fail("%s: cannot encode the PNG: %s", path, image.message)
                                     : vkc_fail("%s: out of host memory for %zu bytes of PNG", path, (size_t)size);
        png_image_free(&image);
        free(memory);
        return rc;
    }
    const void *parts[1] = {memory};
    size_t sizes[1] = {size};
    int rc = vkc_write_file_atomic(path, parts, sizes, 1);
    free(memory);
    return rc;
}
