/* libFuzzer: the IDX reader (MNIST, Fashion-MNIST). One input is the four files of a data
 * folder, cut at FUZZ_SEP: training images, training labels, test images, test labels (plain
 * or gzip: zlib reads both). A part left out is a missing file. */
#include "fuzz_util.h"
#include "vkclr/data.h"

/* Limits small enough for a fuzzer's memory (the readers check them before allocating). */
static const VkcDataLimits limits = {.max_image_pixels = 1u << 20, .max_bytes = 64u << 20};

static const char *const files[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                                    "t10k-labels-idx1-ubyte"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *dir = fuzz_scratch();
    FuzzParts p = fuzz_split(data, size);
    for (int i = 0; i < p.n && i < 4; i++) fuzz_write(dir, files[i], p.data[i], p.size[i]);
    char spec[300];
    snprintf(spec, sizeof spec, "idx:%s", dir);
    VkcDataset ds;
    if (vkc_dataset_load_limited(&ds, spec, &limits) == VKC_OK) {
        /* Everything the reader promised is there: touch every pixel and check every label. */
        float mean[3], std[3];
        vkc_dataset_channel_stats(&ds, mean, std);
        for (int s = 0; s < 2; s++) {
            const VkcSplit *sp = s ? &ds.test : &ds.train;
            for (int i = 0; i < sp->n; i++)
                if (sp->labels[i] < 0 || sp->labels[i] >= ds.nclasses) abort();
        }
        vkc_dataset_free(&ds);
    } else if (!vkc_error()[0]) {
        abort(); /* a failure must say why */
    }
    return 0;
}
