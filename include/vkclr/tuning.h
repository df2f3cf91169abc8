/* Measured kernel choices for this device (vkclr tune): per operation and shape, the name of
 * the fastest variant, kept in a cache file keyed by the device's UUID and driver version
 * ($VKCLR_TUNE_CACHE, else $XDG_CACHE_HOME/vkclr/, else ~/.cache/vkclr/). Kernels look their
 * shape up and fall back to the built-in table of their device class when it has no entry. A
 * choice only changes speed: every variant passes the same check against the same reference. */
#ifndef VKCLR_TUNING_H
#define VKCLR_TUNING_H

#include <stdbool.h>
#include <stddef.h>

typedef struct VkcContext VkcContext;

typedef struct {
    char key[128];    /* operation and shape, e.g. "conv2d.forward n256 c16 h14 w14 o32 k3 s1" */
    char choice[64];  /* the variant's name */
    double ms;        /* its measured time */
} VkcTuningEntry;

typedef struct {
    char path[1024];  /* the cache file of this device ("" if no cache directory) */
    VkcTuningEntry *entries;
    int n, cap;
} VkcTuning;

/* A cache file of ctx's device and driver: $XDG_CACHE_HOME/vkclr/STEM-UUID-DRIVER.EXT, else
 * ~/.cache/vkclr/... (directories are not created). */
int vkc_cache_path(const VkcContext *ctx, const char *stem, const char *ext, char *path, size_t size);
/* The tuning cache file's path for ctx's device ($VKCLR_TUNE_CACHE, else vkc_cache_path's "tune"). */
int vkc_tuning_path(const VkcContext *ctx, char *path, size_t size);
/* Read the cache file of ctx's device into ctx->tuning if there is one. A file that cannot be
 * read or is not ours is reported on stderr once and ignored: tuning is never required. */
void vkc_tuning_load(VkcContext *ctx);
void vkc_tuning_free(VkcTuning *t);
/* The choice for key, or NULL. */
const char *vkc_tuning_get(const VkcTuning *t, const char *key);
/* Set (or replace) the choice for key. */
int vkc_tuning_set(VkcTuning *t, const char *key, const char *choice, double ms);
/* Forget the choice for key (if any). */
void vkc_tuning_remove(VkcTuning *t, const char *key);
/* Write the entries to t->path (atomically; the directory is created). */
int vkc_tuning_save(const VkcContext *ctx, const VkcTuning *t);

#endif
