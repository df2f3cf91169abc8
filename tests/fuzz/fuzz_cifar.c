/* libFuzzer: the CIFAR-10 and CIFAR-100 binary readers. The first byte picks the format (even:
 * CIFAR-10, odd: CIFAR-100); the rest is cut at FUZZ_SEP into the folder's files, in the order
 * below (a part left out is a missing file). */
#include "fuzz_util.h"
#include "vkclr/data.h"

/* Limits small enough for a fuzzer's memory (the readers check them before allocating). */
static const VkcDataLimits limits = {.max_image_pixels = 1u << 20, .max_bytes = 64u << 20};

static const char *const cifar10[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                                      "data_batch_5.bin", "test_batch.bin", "batches.meta.txt"};
static const char *const cifar100[] = {"train.bin", "test.bin", "fine_label_names.txt"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    bool hundred = data[0] & 1;
    const char *dir = fuzz_scratch();
    FuzzParts p = fuzz_split(data + 1, size - 1);
    const char *const *names = hundred ? cifar100 : cifar10;
    int nnames = hundred ? 3 : 7;
    for (int i = 0; i < p.n && i < nnames; i++) fuzz_write(dir, names[i], p.data[i], p.size[i]);
    char spec[300];
    snprintf(spec, sizeof spec, "%s:%s", hundred ? "cifar100" : "cifar10", dir);
    VkcDataset ds;
    if (vkc_dataset_load_limited(&ds, spec, &limits) == VKC_OK) {
        for (int s = 0; s < 2; s++) {
            const VkcSplit *sp = s ? &ds.test : &ds.train;
            for (int i = 0; i < sp->n; i++)
                if (sp->labels[i] < 0 || sp->labels[i] >= ds.nclasses) abort();
        }
        for (int c = 0; c < ds.nclasses; c++)
            if (!ds.class_names[c]) abort();
        vkc_dataset_free(&ds);
    } else if (!vkc_error()[0]) {
        abort();
    }
    return 0;
}
