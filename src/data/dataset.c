/* --data specs: one row per reader. */
#include <stdio.h>
#include <stdlib.h>
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

int vkc_dataset_spec_folder(const char *spec, char *dir, size_t size)
{
    dir[0] = 0;
    if (!spec || !strcmp(spec, "fashion-mnist")) {
        snprintf(dir, size, "%s", VKC_DEFAULT_FASHION_MNIST);
        return VKC_OK;
    }
    const char *colon = strchr(spec, ':');
    size_t kind_len = colon ? (size_t)(colon - spec) : 0;
    for (size_t i = 0; colon && i < NREADERS; i++)
        if (kind_len == strlen(readers[i].kind) && !strncmp(spec, readers[i].kind, kind_len)) {
            if (!strcmp(readers[i].arg, "DIR")) snprintf(dir, size, "%s", colon + 1);
            return VKC_OK;
        }
    return vkc_fail("--data '%s': unknown kind of data", spec);
}

/* Labels of one split beyond every class of the other (a split's classes: 0 to its highest
 * label): a linear probe trained on the training split cannot predict a class it never saw,
 * and a class the test split lacks is not measured; a label 99 among 0-9 is more likely a
 * broken file than a class. Said loudly, naming both splits; the data is used as it is. (A
 * class a small split happens to lack, inside the other's range, is not flagged.) */
static void warn_unshared_labels(const VkcDataset *ds, const char *spec)
{
    const VkcSplit *sp[2] = {&ds->train, &ds->test};
    if (!sp[0]->n || !sp[1]->n || !sp[0]->labels || !sp[1]->labels) return;
    int32_t top[2] = {-1, -1};
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < sp[s]->n; i++)
            if (sp[s]->labels[i] > top[s]) top[s] = sp[s]->labels[i];
    static const char *const names[2] = {"training", "test"};
    for (int s = 0; s < 2; s++) {
        if (top[s] <= top[1 - s]) continue;
        long images = 0;
        char list[160] = "";
        size_t used = 0;
        int shown = 0;
        for (int i = 0; i < sp[s]->n; i++) {
            int32_t l = sp[s]->labels[i];
            if (l <= top[1 - s]) continue;
            images++;
            bool listed = false; /* each label once, the first few */
            for (int j = 0; j < i && !listed; j++) listed = sp[s]->labels[j] == l;
            if (!listed && shown < 6 && used < sizeof list)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%d", shown++ ? ", " : "", (int)l);
        }
        fprintf(stderr,
                "vkclr: warning: --data %s: %ld image%s of the %s split %s label%s %s%s, beyond every class of the "
                "%s split (0-%d)%s\n",
                spec ? spec : "fashion-mnist", images, images == 1 ? "" : "s", names[s], images == 1 ? "has" : "have",
                shown == 1 ? "" : "s", list, shown == 6 ? ", ..." : "", names[1 - s], (int)top[1 - s],
                s ? ": no probe or kNN trained on the training split can get them right"
                  : ": the test split does not measure those classes");
    }
}

static int load(VkcDataset *ds, const char *spec, const VkcDataLimits *lim)
{
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
    if (rc) return VKC_ERR;
    ds->load_seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    warn_unshared_labels(ds, spec);
    return VKC_OK;
}
