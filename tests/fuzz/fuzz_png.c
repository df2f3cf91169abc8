/* libFuzzer: PNG decoding and the class-folder reader. The input is cut at FUZZ_SEP into PNG
 * files: part 0 is train/a/0.png, part 1 train/b/1.png, part 2 test/a/2.png, further parts
 * train/a/N.png. Part 0 is also decoded on its own; every image the index takes is decoded. */
#include "fuzz_util.h"
#include "vkclr/data.h"

/* Limits small enough for a fuzzer's memory (the readers check them before allocating). */
static const VkcDataLimits limits = {.max_image_pixels = 1u << 20, .max_bytes = 64u << 20};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *dir = fuzz_scratch();
    FuzzParts p = fuzz_split(data, size);
    for (int i = 0; i < p.n; i++) {
        char rel[64];
        if (i == 1) snprintf(rel, sizeof rel, "train/b/1.png");
        else if (i == 2) snprintf(rel, sizeof rel, "test/a/2.png");
        else snprintf(rel, sizeof rel, "train/a/%d.png", i);
        fuzz_write(dir, rel, p.data[i], p.size[i]);
    }
    char path[300], spec[300];
    snprintf(path, sizeof path, "%s/train/a/0.png", dir);
    uint8_t *pixels;
    int h, w;
    if (vkc_png_read(path, 3, &pixels, &h, &w) == VKC_OK) free(pixels);
    snprintf(spec, sizeof spec, "folder:%s", dir);
    VkcDataset ds;
    if (vkc_dataset_load_limited(&ds, spec, &limits) == VKC_OK) {
        VkcDecoder *d;
        if (vkc_decoder_create(&d)) abort();
        const VkcSplit *splits[2] = {&ds.train, &ds.test};
        for (int s = 0; s < 2; s++)
            for (int i = 0; i < splits[s]->n; i++) {
                VkcImage img;
                if (vkc_decode_image(d, &ds, splits[s], i, 1, &img) && !vkc_error()[0]) abort();
            }
        vkc_decoder_destroy(d);
        vkc_dataset_free(&ds);
    } else if (!vkc_error()[0]) {
        abort();
    }
    return 0;
}
