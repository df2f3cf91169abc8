/* Embed a folder of images with a vkclr checkpoint and print each image's nearest neighbours.
 *
 *     cc embed.c -o embed $(pkg-config --cflags --libs vkclr) -lm
 *     ./embed runs/fmnist photos/              # every .png, .jpg under photos/, at any depth
 *     ./embed --k 3 --device 0 runs/fmnist photos/
 *
 * Images are read and embedded 256 at a time (memory stays bounded for any folder); their
 * features are kept, L2-normalised, and compared by cosine similarity. Options:
 *   --k K              neighbours per image (default 5; 0: none, only embed)
 *   --device N         Vulkan device N (default: the best one; `vkclr devices` lists them)
 *   --projections      compare the projection head's outputs instead of the features
 *   --print-features   also print every image's features ("features PATH f1 f2 ...")
 *   --cache DIR        keep compiled pipelines in DIR (later runs start faster)
 *   --validation       Khronos validation layer on (fails if it reports anything)
 * Exit status: 0, 1 on any error (the library's message on stderr), 2 on bad usage. */
#define _GNU_SOURCE /* strdup, nftw */
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <vkclr.h>

#define CHUNK 256

static char **paths;
static size_t npaths, cap;

static int collect(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)ftw;
    const char *dot = strrchr(path, '.');
    if (type != FTW_F || !dot || (strcasecmp(dot, ".png") && strcasecmp(dot, ".jpg") && strcasecmp(dot, ".jpeg")))
        return 0;
    if (npaths == cap) {
        cap = cap ? 2 * cap : 256;
        char **p = realloc(paths, cap * sizeof *p);
        if (!p) return -1;
        paths = p;
    }
    return (paths[npaths++] = strdup(path)) ? 0 : -1;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int usage(void)
{
    fprintf(stderr, "usage: embed [--k K] [--device N] [--projections] [--print-features] [--cache DIR] "
                    "[--validation] CHECKPOINT FOLDER\n");
    return 2;
}

/* Each image's k nearest neighbours by cosine similarity of its features (n x dim, normalised
 * here in place). */
static int print_neighbours(float *feat, int dim, int k)
{
    for (size_t i = 0; i < npaths; i++) {
        double norm = 0;
        for (int j = 0; j < dim; j++) norm += (double)feat[i * dim + j] * feat[i * dim + j];
        for (int j = 0; j < dim; j++) feat[i * dim + j] /= norm > 0 ? (float)sqrt(norm) : 1.0f;
    }
    if ((size_t)k > npaths - 1) k = (int)(npaths - 1);
    size_t *best = malloc(k * sizeof *best);
    float *sim = malloc(k * sizeof *sim);
    for (size_t i = 0; i < npaths && best && sim; i++) {
        int found = 0;
        for (size_t o = 0; o < npaths; o++) {
            if (o == i) continue;
            float s = 0;
            for (int j = 0; j < dim; j++) s += feat[i * dim + j] * feat[o * dim + j];
            /* insert into the sorted top k (ties: the earlier image first) */
            int at = found < k ? found++ : k;
            while (at > 0 && s > sim[at - 1]) {
                if (at < k) best[at] = best[at - 1], sim[at] = sim[at - 1];
                at--;
            }
            if (at < k) best[at] = o, sim[at] = s;
        }
        printf("%s:", paths[i]);
        for (int j = 0; j < found; j++) printf(" %s %.4f", paths[best[j]], sim[j]);
        printf("\n");
    }
    int status = best && sim ? 0 : 1;
    if (status) fprintf(stderr, "embed: out of memory\n");
    free(best);
    free(sim);
    return status;
}

int main(int argc, char **argv)
{
    int k = 5, device_index = VKCLR_DEVICE_AUTO, print_features = 0;
    unsigned flags = 0;
    vkclr_output output = VKCLR_FEATURES;
    const char *cache = NULL, *checkpoint = NULL, *folder = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--k") && i + 1 < argc) k = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--device") && i + 1 < argc) device_index = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--projections")) output = VKCLR_PROJECTIONS;
        else if (!strcmp(argv[i], "--print-features")) print_features = 1;
        else if (!strcmp(argv[i], "--cache") && i + 1 < argc) cache = argv[++i];
        else if (!strcmp(argv[i], "--validation")) flags |= VKCLR_OPEN_VALIDATION;
        else if (argv[i][0] == '-') return usage();
        else if (!checkpoint) checkpoint = argv[i];
        else if (!folder) folder = argv[i];
        else return usage();
    }
    if (!folder || k < 0) return usage();
    if (VKCLR_VERSION_MAJOR != vkclr_version() / 10000) {
        fprintf(stderr, "embed: built for libvkclr %s, running with %s\n", VKCLR_VERSION_STRING,
                vkclr_version_string());
        return 1;
    }
    if (nftw(folder, collect, 32, FTW_PHYS)) {
        perror(folder);
        return 1;
    }
    if (npaths < (k ? 2u : 1u)) {
        fprintf(stderr, "embed: %s holds %zu PNG or JPEG files: nothing to compare\n", folder, npaths);
        return 1;
    }
    qsort(paths, npaths, sizeof *paths, by_name);

    vkclr_device *dev = NULL;
    vkclr_model *model = NULL;
    if (vkclr_device_open(device_index, flags, cache, &dev) || vkclr_model_load(dev, checkpoint, &model)) {
        fprintf(stderr, "embed: %s\n", vkclr_last_error());
        vkclr_device_close(dev);
        return 1;
    }
    int channels, height, width, dim = vkclr_model_dim(model, output);
    vkclr_model_input(model, &channels, &height, &width);
    printf("model: %s, input %dx%dx%d, on %s\n", vkclr_model_describe(model), height, width, channels,
           vkclr_device_name(dev));

    /* Read and embed CHUNK images at a time. */
    float *feat = malloc(npaths * dim * sizeof(float));
    vkclr_image chunk[CHUNK];
    double embed_seconds = 0, t0 = now();
    int status = feat ? 0 : 1;
    for (size_t first = 0; first < npaths && !status; first += CHUNK) {
        size_t n = npaths - first < CHUNK ? npaths - first : CHUNK, read = 0;
        for (; read < n && !status; read++)
            if (vkclr_image_read(paths[first + read], channels, &chunk[read])) status = 1;
        if (!status) {
            double t = now();
            status = vkclr_embed(model, chunk, n, output, feat + first * dim) != VKCLR_OK;
            embed_seconds += now() - t;
        }
        for (size_t i = 0; i < read; i++) vkclr_image_free(&chunk[i]);
    }
    if (status) {
        fprintf(stderr, "embed: %s\n", feat ? vkclr_last_error() : "out of memory");
        goto done;
    }
    printf("embedded %zu images (%d %s each) in %.2f s: %.0f images/s embedding, %.0f images/s with reading\n", npaths,
           dim, output == VKCLR_FEATURES ? "features" : "projections", embed_seconds, npaths / embed_seconds,
           npaths / (now() - t0));
    if (print_features)
        for (size_t i = 0; i < npaths; i++) {
            printf("features %s", paths[i]);
            for (int j = 0; j < dim; j++) printf(" %.9g", feat[i * dim + j]);
            printf("\n");
        }

    if (k) status = print_neighbours(feat, dim, k);
done:
    if (!status && vkclr_device_validation_messages(dev)) {
        fprintf(stderr, "embed: the validation layer reported %d messages\n", vkclr_device_validation_messages(dev));
        status = 1;
    }
    free(feat);
    for (size_t i = 0; i < npaths; i++) free(paths[i]);
    free(paths);
    vkclr_model_free(model);
    vkclr_device_close(dev);
    return status;
}
