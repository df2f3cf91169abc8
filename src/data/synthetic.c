/* synthetic:HxWxC[:N[:SEED]]: random-noise images with random labels, for benchmarks and tests
 * on machines without data. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* splitmix64: the synthetic images only need to be deterministic noise */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int vkc_dataset_synthetic(VkcDataset *ds, int ntrain, int ntest, int height, int width, int channels,
                          int nclasses, uint64_t seed)
{
    memset(ds, 0, sizeof *ds);
    if (ntrain < 0 || ntest < 0 || height < 1 || width < 1 || (channels != 1 && channels != 3) ||
        nclasses < 1 || height > 65536 || width > 65536)
        return vkc_fail("synthetic dataset: bad shape %d+%d x %dx%dx%d, %d classes", ntrain, ntest, height,
                        width, channels, nclasses);
    snprintf(ds->name, sizeof ds->name, "synthetic");
    ds->height = height;
    ds->width = width;
    ds->channels = channels;
    size_t bytes = vkc_image_bytes(ds);
    if (data_split_alloc(&ds->train, ntrain, bytes) || data_split_alloc(&ds->test, ntest, bytes) ||
        data_class_names(ds, nclasses, NULL)) {
        vkc_dataset_free(ds);
        return VKC_ERR;
    }
    uint64_t state = seed;
    VkcSplit *splits[2] = {&ds->train, &ds->test};
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < (size_t)splits[s]->n * bytes; i++) splits[s]->pixels[i] = (uint8_t)splitmix64(&state);
        for (int i = 0; i < splits[s]->n; i++) splits[s]->labels[i] = (int32_t)(splitmix64(&state) % nclasses);
    }
    return VKC_OK;
}

int vkc_dataset_load_synthetic(VkcDataset *ds, const char *args, const char *spec, const VkcDataLimits *lim)
{
    int h, w, ch, n = 10240, consumed = 0;
    unsigned long long seed = 0;
    int got = sscanf(args, "%dx%dx%d%n:%d%n:%llu%n", &h, &w, &ch, &consumed, &n, &consumed, &seed, &consumed);
    if (got < 3 || args[consumed] || h < 1 || w < 1 || (ch != 1 && ch != 3) || n < 2 || h > 4096 || w > 4096 ||
        n > 10000000)
        return vkc_fail("--data %s: expected synthetic:HxWxC[:N[:SEED]] with C 1 or 3, H and W in 1..4096, N in "
                        "2..10000000", spec);
    if (data_check_bytes(spec, ((uint64_t)n + 1000) * ((uint64_t)h * w * ch + 4), lim)) return VKC_ERR;
    return vkc_dataset_synthetic(ds, n, 1000, h, w, ch, 10, (uint64_t)seed);
}
