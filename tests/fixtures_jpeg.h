/* JPEG fixtures written with libjpeg's compressor, so every flavour the readers must take is a
 * real file: baseline or progressive, gray, YCbCr with 4:2:0 or 4:4:4 chroma, RGB, CMYK.
 * Include after fixtures.h. */
#ifndef VKCLR_TESTS_FIXTURES_JPEG_H
#define VKCLR_TESTS_FIXTURES_JPEG_H

#include <stdbool.h>
#include <stdio.h>

#include <jpeglib.h>

typedef struct {
    J_COLOR_SPACE space; /* as stored: JCS_GRAYSCALE, JCS_YCbCr, JCS_RGB, JCS_CMYK */
    int quality;         /* 1..100 */
    bool progressive;
    int subsample;       /* YCbCr: 2 (4:2:0) or 1 (4:4:4) */
} FixtureJpeg;

/* Write pixels (h x w x components: 1 gray, 3 RGB, 4 CMYK, interleaved) to dir/rel as `how`. */
static inline void fixture_jpeg(const char *dir, const char *rel, int w, int h, int components, const uint8_t *pixels,
                                FixtureJpeg how)
{
    FILE *f = fopen(fixture_path(dir, rel), "wb");
    if (!f) fail_msg("cannot write fixture %s", rel);
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = components;
    c.in_color_space = components == 1 ? JCS_GRAYSCALE : components == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_colorspace(&c, how.space);
    jpeg_set_quality(&c, how.quality ? how.quality : 95, TRUE);
    if (how.space == JCS_YCbCr) {
        int s = how.subsample ? how.subsample : 2;
        c.comp_info[0].h_samp_factor = c.comp_info[0].v_samp_factor = s;
        for (int k = 1; k < 3; k++) c.comp_info[k].h_samp_factor = c.comp_info[k].v_samp_factor = 1;
    }
    if (how.progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)c.next_scanline * w * components);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
}

/* A smooth RGB test pattern (gradients, so JPEG keeps it to within a few levels); w, h <= 200. */
static inline uint8_t *fixture_gradient(int w, int h, int seed)
{
    uint8_t *p = malloc((size_t)w * h * 3);
    if (!p) fail_msg("out of memory");
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *o = p + 3 * ((size_t)y * w + x);
            o[0] = (uint8_t)(40 + 160 * x / (w > 1 ? w - 1 : 1));
            o[1] = (uint8_t)(200 - 150 * y / (h > 1 ? h - 1 : 1));
            o[2] = (uint8_t)(60 + (seed % 5) * 20 + (x + y) / 4);
        }
    return p;
}

#endif
