/* The cache of measured kernel choices (vkclr/tuning.h). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "vkclr/fileio.h"
#include "vkclr/tuning.h"

static void uuid_text(const uint8_t uuid[VK_UUID_SIZE], char *out)
{
    for (unsigned i = 0; i < VK_UUID_SIZE; i++) sprintf(out + 2 * i, "%02x", uuid[i]);
}

int vkc_cache_path(const VkcContext *ctx, const char *stem, const char *ext, char *path, size_t size)
{
    char uuid[2 * VK_UUID_SIZE + 1];
    uuid_text(ctx->device_uuid, uuid);
    const VkcKernelOverrides *k = &ctx->kernels;
    if (!k->cache_dir[0]) return vkc_fail("no cache directory: set XDG_CACHE_HOME or HOME");
    int n = snprintf(path, size, "%s/%s-%s-%08x.%s", k->cache_dir, stem, uuid, ctx->props.driverVersion, ext);
    if (n < 0 || (size_t)n >= size) return vkc_fail("the %s cache path is too long", stem);
    return VKC_OK;
}

int vkc_tuning_path(const VkcContext *ctx, char *path, size_t size)
{
    const char *file = ctx->kernels.tuning_file;
    if (!file[0]) return vkc_cache_path(ctx, "tune", "json", path, size);
    if (snprintf(path, size, "%s", file) >= (int)size) return vkc_fail("the tuning cache path is too long");
    return VKC_OK;
}

void vkc_tuning_free(VkcTuning *t)
{
    free(t->entries);
    t->entries = NULL;
    t->n = t->cap = 0;
}

const char *vkc_tuning_get(const VkcTuning *t, const char *key)
{
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->entries[i].key, key)) return t->entries[i].choice;
    return NULL;
}

void vkc_tuning_remove(VkcTuning *t, const char *key)
{
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->entries[i].key, key)) {
            t->entries[i] = t->entries[--t->n];
            return;
        }
}

int vkc_tuning_set(VkcTuning *t, const char *key, const char *choice, double ms)
{
    if (strlen(key) >= sizeof t->entries[0].key || strlen(choice) >= sizeof t->entries[0].choice)
        return vkc_fail("tuning: key '%s' or choice '%s' too long", key, choice);
    int i = 0;
    while (i < t->n && strcmp(t->entries[i].key, key)) i++;
    if (i == t->n) {
        if (t->n == t->cap) {
            int cap = t->cap ? 2 * t->cap : 32;
            VkcTuningEntry *e = realloc(t->entries, (size_t)cap * sizeof *e);
            if (!e) return vkc_fail("out of host memory");
            t->entries = e, t->cap = cap;
        }
        t->n++;
    }
    VkcTuningEntry *e = &t->entries[i];
    snprintf(e->key, sizeof e->key, "%s", key);
    snprintf(e->choice, sizeof e->choice, "%s", choice);
    e->ms = ms;
    return VKC_OK;
}

/* Read a cache file; a file of another device or driver counts as absent. */
static int read_file(VkcContext *ctx, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return errno == ENOENT ? VKC_OK : vkc_fail("%s: %s", path, strerror(errno));
    char *text = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && n < (16 << 20) && fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)n + 1)) &&
        fread(text, 1, (size_t)n, f) == (size_t)n)
        text[n] = 0;
    else {
        free(text);
        text = NULL;
    }
    fclose(f);
    if (!text) return vkc_fail("%s: cannot read it", path);
    cJSON *j = cJSON_Parse(text);
    free(text);
    char uuid[2 * VK_UUID_SIZE + 1];
    uuid_text(ctx->device_uuid, uuid);
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "device_uuid");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "driver_version");
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(j, "choices");
    int rc = VKC_OK;
    if (!cJSON_IsString(u) || !cJSON_IsNumber(d) || !cJSON_IsObject(choices))
        rc = vkc_fail("%s: not a vkclr tuning cache", path);
    else if (strcmp(u->valuestring, uuid) || d->valuedouble != ctx->props.driverVersion)
        rc = VKC_OK; /* another device or driver: its measurements do not apply */
    else {
        const cJSON *e;
        cJSON_ArrayForEach(e, choices)
        {
            const cJSON *choice = cJSON_GetObjectItemCaseSensitive(e, "choice");
            const cJSON *ms = cJSON_GetObjectItemCaseSensitive(e, "ms");
            if (!cJSON_IsString(choice) || !e->string) continue;
            if ((rc = vkc_tuning_set(&ctx->tuning, e->string, choice->valuestring, cJSON_IsNumber(ms) ? ms->valuedouble : 0)))
                break;
        }
    }
    cJSON_Delete(j);
    return rc;
}

void vkc_tuning_load(VkcContext *ctx)
{
    VkcTuning *t = &ctx->tuning;
    if (vkc_tuning_path(ctx, t->path, sizeof t->path)) {
        t->path[0] = 0;
        return;
    }
    if (read_file(ctx, t->path)) {
        fprintf(stderr, "vkclr: warning: tuning cache ignored: %s\n", vkc_error());
        vkc_tuning_free(t);
    }
}

int vkc_tuning_save(const VkcContext *ctx, const VkcTuning *t)
{
    if (!t->path[0]) return vkc_fail("no tuning cache path");
    char uuid[2 * VK_UUID_SIZE + 1];
    uuid_text(ctx->device_uuid, uuid);
    cJSON *j = cJSON_CreateObject(), *choices = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "device", ctx->props.deviceName);
    cJSON_AddStringToObject(j, "device_uuid", uuid);
    cJSON_AddNumberToObject(j, "driver_version", ctx->props.driverVersion);
    for (int i = 0; i < t->n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "choice", t->entries[i].choice);
        cJSON_AddNumberToObject(e, "ms", t->entries[i].ms);
        cJSON_AddItemToObject(choices, t->entries[i].key, e);
    }
    cJSON_AddItemToObject(j, "choices", choices);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (!text) return vkc_fail("out of host memory");
    int rc = vkc_make_parent_dirs(t->path);
    if (!rc) rc = vkc_write_text_atomic(t->path, text);
    free(text);
    return rc;
}
