/* Datasets in memory, and what every reader shares: splits, class names, label checks, paths. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

void vkc_dataset_free(VkcDataset *ds)
{
    VkcSplit *splits[3] = {&ds->train, &ds->test, &ds->unlabeled};
    for (int s = 0; s < 3; s++) {
        free(splits[s]->pixels);
        free(splits[s]->refs);
        free(splits[s]->labels);
    }
    if (ds->class_names)
        for (int i = 0; i < ds->nclasses; i++) free(ds->class_names[i]);
    free(ds->class_names);
    free(ds->paths);
    for (int i = 0; i < ds->nskipped; i++) free(ds->skipped[i]);
    free(ds->skipped);
    memset(ds, 0, sizeof *ds);
}

void vkc_dataset_limit(VkcDataset *ds, int n)
{
    if (n <= 0 || n >= vkc_dataset_ssl_count(ds)) return;
    if (n <= ds->train.n) {
        ds->train.n = n;
        ds->unlabeled.n = 0;
    } else {
        ds->unlabeled.n = n - ds->train.n;
    }
}

int vkc_dataset_set_channels(VkcDataset *ds, int channels)
{
    if (channels != 1 && channels != 3) return vkc_fail("images have 1 or 3 channels, not %d", channels);
    if (channels == ds->channels) return VKC_OK;
    if (vkc_dataset_is_collection(ds)) { /* the decoders convert */
        ds->channels = channels;
        return VKC_OK;
    }
    size_t pixels = (size_t)ds->height * ds->width;
    VkcSplit *splits[3] = {&ds->train, &ds->test, &ds->unlabeled};
    for (int s = 0; s < 3; s++) {
        VkcSplit *sp = splits[s];
        if (!sp->pixels) continue;
        size_t n = (size_t)sp->n * pixels;
        if (n && n > SIZE_MAX / 3) return vkc_fail("too many images to convert");
        uint8_t *out = malloc(n * channels + 1);
        if (!out) return vkc_fail("out of memory converting %d images to %d channels", sp->n, channels);
        const uint8_t *in = sp->pixels;
        for (size_t p = 0; p < n; p++) {
            if (channels == 3) out[3 * p] = out[3 * p + 1] = out[3 * p + 2] = in[p];
            else out[p] = (uint8_t)((in[3 * p] * 19595u + in[3 * p + 1] * 38470u + in[3 * p + 2] * 7471u + 0x8000u) >> 16);
        }
        free(sp->pixels);
        sp->pixels = out;
    }
    ds->channels = channels;
    return VKC_OK;
}

int data_split_alloc(VkcSplit *split, int n, size_t image_bytes)
{
    split->n = 0;
    split->pixels = NULL;
    split->labels = NULL;
    if (n < 0 || image_bytes == 0 || (size_t)n > SIZE_MAX / image_bytes)
        return vkc_fail("%d images of %zu bytes do not fit in memory", n, image_bytes);
    /* one extra byte so that n == 0 still gives valid pointers */
    split->pixels = malloc((size_t)n * image_bytes + 1);
    split->labels = malloc((size_t)n * sizeof(int32_t) + 1);
    if (!split->pixels || !split->labels) {
        free(split->pixels);
        free(split->labels);
        split->pixels = NULL;
        split->labels = NULL;
        return vkc_fail("out of memory for %d images of %zu bytes", n, image_bytes);
    }
    split->n = n;
    return VKC_OK;
}

int data_class_names(VkcDataset *ds, int n, const char *const *names)
{
    ds->class_names = calloc((size_t)n + 1, sizeof(char *));
    if (!ds->class_names) return vkc_fail("out of memory for %d class names", n);
    ds->nclasses = n;
    for (int i = 0; i < n; i++) {
        char number[16];
        snprintf(number, sizeof number, "%d", i);
        ds->class_names[i] = strdup(names ? names[i] : number);
        if (!ds->class_names[i]) return vkc_fail("out of memory for class names");
    }
    return VKC_OK;
}

int data_path(char *out, const char *dir, const char *name)
{
    int n = snprintf(out, DATA_PATH_MAX, "%s/%s", dir, name);
    if (n < 0 || n >= DATA_PATH_MAX) return vkc_fail("%s/%s: path too long", dir, name);
    return VKC_OK;
}

bool data_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool data_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int data_check_labels(const VkcDataset *ds, const char *what)
{
    const VkcSplit *splits[2] = {&ds->train, &ds->test};
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < splits[s]->n; i++)
            if (splits[s]->labels[i] < 0 || splits[s]->labels[i] >= ds->nclasses)
                return vkc_fail("%s: %s label %d of image %d is not a class index below %d", what,
                                s ? "test" : "train", splits[s]->labels[i], i, ds->nclasses);
    return VKC_OK;
}

int vkc_dataset_channel_stats(const VkcDataset *ds, float mean[3], float std[3])
{
    if (!ds->train.pixels) return vkc_fail("%s: the images are not in memory (a collection)", ds->name);
    double sum[3] = {0}, sum2[3] = {0};
    size_t pixels = (size_t)ds->train.n * ds->height * ds->width;
    int C = ds->channels;
    for (size_t p = 0; p < pixels; p++)
        for (int c = 0; c < C; c++) {
            double v = ds->train.pixels[p * C + c] / 255.0;
            sum[c] += v;
            sum2[c] += v * v;
        }
    for (int c = 0; c < 3; c++) {
        int k = c < C ? c : 0;
        double m = pixels ? sum[k] / pixels : 0.0;
        double var = pixels ? sum2[k] / pixels - m * m : 0.0;
        mean[c] = (float)m;
        std[c] = (float)sqrt(var > 0 ? var : 0);
    }
    return VKC_OK;
}


VkcDataLimits data_limits(const VkcDataLimits *lim)
{
    if (lim) return *lim;
    return (VkcDataLimits){.max_image_pixels = VKC_DATA_MAX_IMAGE_PIXELS, .max_bytes = VKC_DATA_MAX_BYTES};
}

int data_check_bytes(const char *what, uint64_t bytes, const VkcDataLimits *lim)
{
    VkcDataLimits l = data_limits(lim);
    if (bytes <= l.max_bytes) return VKC_OK;
    return vkc_fail("%s: the data would take %.2f GiB of memory, more than --max-data-gib %.4g (raise it to read "
                    "this data)",
                    what, (double)bytes / (1u << 30), (double)l.max_bytes / (1u << 30));
}
