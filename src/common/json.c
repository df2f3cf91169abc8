/* JSON read strictly (vkclr/json.h). */
#include <stdlib.h>
#include <string.h>

#include "vkclr/error.h"
#include "vkclr/json.h"

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* An object's keys sorted, so that a repeated one sits beside itself; then its members. */
static int check(const cJSON *j, const char *parent, const char *origin)
{
    if (!cJSON_IsObject(j) && !cJSON_IsArray(j)) return VKC_OK;
    if (cJSON_IsObject(j)) {
        int n = cJSON_GetArraySize(j);
        const char **keys = malloc(((size_t)n + 1) * sizeof *keys);
        if (!keys) return vkc_fail("%s: out of host memory", origin);
        int k = 0;
        for (const cJSON *c = j->child; c; c = c->next) keys[k++] = c->string ? c->string : "";
        qsort(keys, (size_t)k, sizeof *keys, by_name);
        for (int i = 1; i < k; i++)
            if (!strcmp(keys[i], keys[i - 1])) {
                int rc = vkc_fail("%s: key '%.200s' twice in one object%s%.200s%s (JSON readers disagree on which one "
                                  "counts)",
                                  origin, keys[i], parent ? " (in '" : "", parent ? parent : "", parent ? "')" : "");
                free(keys);
                return rc;
            }
        free(keys);
    }
    for (const cJSON *c = j->child; c; c = c->next)
        if (check(c, cJSON_IsObject(j) ? c->string : parent, origin)) return VKC_ERR;
    return VKC_OK;
}

int vkc_json_check_unique(const cJSON *j, const char *origin) { return check(j, NULL, origin); }

int vkc_json_parse(const char *text, const char *origin, cJSON **out)
{
    *out = cJSON_ParseWithOpts(text, NULL, 1);
    if (!*out) return vkc_fail("%s: not valid JSON", origin);
    if (vkc_json_check_unique(*out, origin)) {
        cJSON_Delete(*out);
        *out = NULL;
        return VKC_ERR;
    }
    return VKC_OK;
}
