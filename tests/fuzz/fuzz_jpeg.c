/* libFuzzer: the JPEG path. The input is cut at FUZZ_SEP into files: part 0 is decoded from
 * memory on its own (to gray and to RGB, at 1/1 and at the scale its first byte picks), and
 * every part is written as DIR/N.jpg, so that the index (headers, the end-of-image search, the
 * pixel limit) and a decoder (every image, at full and reduced scale, in the collection's
 * channels) read the same bytes as files, with skip_bad on for half the inputs. */
#include "fuzz_util.h"
#include "vkclr/data.h"

/* Small enough for a fuzzer's memory (checked from the headers before anything is allocated). */
#define MAX_PIXELS (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzParts p = fuzz_split(data, size);
    const int scales[2] = {1, size ? 1 << (data[size - 1] % 4) : 1};
    for (int channels = 1; channels <= 3; channels += 2)
        for (int k = 0; k < 2; k++) {
            uint8_t *pixels;
            int h, w;
            if (vkc_jpeg_decode(p.data[0], p.size[0], "part 0", channels, scales[k], MAX_PIXELS, &pixels, &h, &w) ==
                VKC_OK) {
                if (h < 1 || w < 1) abort();
                free(pixels);
            } else if (!vkc_error()[0]) {
                abort();
            }
        }
    const char *dir = fuzz_scratch();
    for (int i = 0; i < p.n; i++) {
        char rel[32];
        snprintf(rel, sizeof rel, "d%d/%d.jpg", i % 2, i);
        fuzz_write(dir, rel, p.data[i], p.size[i]);
    }
    char spec[300];
    snprintf(spec, sizeof spec, "images:%s", dir);
    VkcDataLimits lim = {.max_image_pixels = MAX_PIXELS, .max_bytes = 64u << 20, .skip_bad = size % 2 == 0};
    VkcDataset ds;
    if (vkc_dataset_load_limited(&ds, spec, &lim) == VKC_OK) {
        VkcDecoder *d;
        if (vkc_decoder_create(&d)) abort();
        for (int i = 0; i < ds.unlabeled.n; i++) {
            int h, w;
            vkc_image_size(&ds, &ds.unlabeled, i, &h, &w);
            for (int k = 0; k < 2; k++) {
                VkcImage img;
                if (vkc_decode_image(d, &ds, &ds.unlabeled, i, k ? 8 : 1, &img) == VKC_OK) {
                    /* the decoded size is the header's, divided by the scale and rounded up */
                    if (img.height != (h + img.reduce - 1) / img.reduce || img.width != (w + img.reduce - 1) / img.reduce)
                        abort();
                } else if (!vkc_error()[0]) {
                    abort();
                }
            }
        }
        vkc_decoder_destroy(d);
        vkc_dataset_free(&ds);
    } else if (!vkc_error()[0]) {
        abort();
    }
    return 0;
}
