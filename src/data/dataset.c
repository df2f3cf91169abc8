/* --data specs: one row per reader. */
#include <string.h>
#include <time.h>

#include "internal.h"

static const char *const fashion_mnist_classes[] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
};

static int load_fashion_mnist(VkcDataset *ds, const char *dir, const char *spec, const VkcDataLimits *lim)
{
    (void)spec;
    return data_load_idx(ds, dir, "fashion-mnist", fashion_mnist_classes, lim);
}
static int load_mnist(VkcDataset *ds, const char *dir, const char *spec, const VkcDataLimits *lim)
{
    (void)spec;
    return data_load_idx(ds, dir, "mnist", NULL, lim);
}
static int load_idx(VkcDataset *ds, const char *dir, const char *spec, const VkcDataLimits *lim)
{
    (void)spec;
    return data_load_idx(ds, dir, "idx", NULL, lim);
}
static int load_cifar10(VkcDataset *ds, const char *dir, const char *spec, const VkcDataLimits *lim)
{
    (void)spec;
    return data_load_cifar10(ds, dir, lim);
}
static int load_cifar100(VkcDataset *ds, const char *dir, const char *spec, const VkcDataLimits *lim)
{
    (void)spec;
    return data_load_cifar100(ds, dir, lim);
}
static int load_folder(VkcDataset *ds, const char *dir, const char *spec, const VkcDataLimits *lim)
{
    (void)spec;
    return data_load_folder(ds, dir, lim);
}
static int load_images(VkcDataset *ds, const char *dir, const char *spec, const VkcDataLimits *lim)
{
    (void)spec;
    return data_load_images(ds, dir, lim);
}
static int load_stl10(VkcDataset *ds, const char *dir, const char *spec, const VkcDataLimits *lim)
{
    (void)spec;
    return data_load_stl10(ds, dir, lim);
}

/* kind, what follows the colon, reader */
static const struct {
    const char *kind, *arg;
    int (*load)(VkcDataset *ds, const char *arg, const char *spec, const VkcDataLimits *lim);
} readers[] = {
    {"fashion-mnist", "DIR", load_fashion_mnist},
    {"mnist", "DIR", load_mnist},
    {"idx", "DIR", load_idx},
    {"cifar10", "DIR", load_cifar10},
    {"cifar100", "DIR", load_cifar100},
    {"folder", "DIR", load_folder},
    {"images", "DIR", load_images},
    {"stl10", "DIR", load_stl10},
    {"synthetic", "HxWxC[:N[:SEED]]", vkc_dataset_load_synthetic},
};
#define NREADERS (sizeof readers / sizeof readers[0])

static void list_specs(char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "fashion-mnist");
    for (size_t i = 0; i < NREADERS && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, ", %s:%s", readers[i].kind, readers[i].arg);
}

int vkc_dataset_load(VkcDataset *ds, const char *spec) { return vkc_dataset_load_limited(ds, spec, NULL); }

static int load(VkcDataset *ds, const char *spec, const VkcDataLimits *lim)
{
    memset(ds, 0, sizeof *ds);
    if (!spec || !strcmp(spec, "fashion-mnist")) return load_fashion_mnist(ds, VKC_DEFAULT_FASHION_MNIST, "", lim);
    char specs[512];
    list_specs(specs, sizeof specs);
    const char *colon = strchr(spec, ':');
    if (!colon || !colon[1]) return vkc_fail("--data '%s': expected one of %s", spec, specs);
    size_t kind_len = (size_t)(colon - spec);
    for (size_t i = 0; i < NREADERS; i++)
        if (kind_len == strlen(readers[i].kind) && !strncmp(spec, readers[i].kind, kind_len))
            return readers[i].load(ds, colon + 1, spec, lim);
    return vkc_fail("--data '%s': unknown reader '%.*s' (expected one of %s)", spec, (int)kind_len, spec, specs);
}

int vkc_dataset_load_limited(VkcDataset *ds, const char *spec, const VkcDataLimits *lim)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = load(ds, spec, lim);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc == VKC_OK) ds->load_seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    return rc;
}
