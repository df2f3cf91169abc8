/* NumPy .npy writer and reader (see include/vkclr/npy.h for the format). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <cjson/cJSON.h>

#include "vkclr/fileio.h"
#include "vkclr/npy.h"

static const char *const descrs[] = {"<f4", "<i8", "|u1", "<i4"};
static const size_t sizes[] = {4, 8, 1, 4};
static size_t sizes_of(VkcNpyType t) { return sizes[t]; }

const VkcName vkc_npy_label_names[] = {
    {.name = "int64", .value = VKC_NPY_I64},
    {.name = "uint8", .value = VKC_NPY_U8, .about = "up to 256 classes"},
    {0},
};

const char *vkc_npy_descr(VkcNpyType t) { return descrs[t]; }
size_t vkc_npy_elem_size(VkcNpyType t) { return sizes[t]; }

size_t vkc_npy_header(char *buf, size_t cap, VkcNpyType t, const uint64_t *shape, int ndim)
{
    char dict[256], dims[160] = "";
    size_t used = 0;
    for (int i = 0; i < ndim; i++)
        used += (size_t)snprintf(dims + used, sizeof dims - used, "%llu%s", (unsigned long long)shape[i],
                                 ndim == 1 ? "," : (i + 1 < ndim ? ", " : ""));
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descrs[t], dims);
    /* 10 bytes of preamble + dict + spaces + '\n' = a multiple of 64. */
    size_t total = (10 + (size_t)len + 1 + 63) / 64 * 64;
    if (total > cap || total - 10 > 65535) return 0;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (char)((total - 10) & 0xff);
    buf[9] = (char)((total - 10) >> 8);
    memcpy(buf + 10, dict, (size_t)len);
    memset(buf + 10 + len, ' ', total - 10 - (size_t)len - 1);
    buf[total - 1] = '\n';
    return total;
}

int vkc_npy_write(const char *path, VkcNpyType t, const uint64_t *shape, int ndim, const void *data)
{
    if (ndim < 1 || ndim > VKC_NPY_MAX_DIMS) return vkc_fail("%s: %d dimensions (1..%d supported)", path, ndim, VKC_NPY_MAX_DIMS);
    char header[512];
    size_t hlen = vkc_npy_header(header, sizeof header, t, shape, ndim);
    if (!hlen) return vkc_fail("%s: header too long", path);
    uint64_t count = 1;
    for (int i = 0; i < ndim; i++) count *= shape[i];
    const void *parts[2] = {header, data};
    size_t sizes[2] = {hlen, (size_t)count * sizes_of(t)};
    return vkc_write_file_atomic(path, parts, sizes, 2);
}

/* Value of 'key' in the header dict: a pointer just past "'key':" and spaces. */
static const char *dict_value(const char *dict, const char *key)
{
    char pattern[32];
    snprintf(pattern, sizeof pattern, "'%s':", key);
    const char *p = strstr(dict, pattern);
    if (!p) return NULL;
    p += strlen(pattern);
    while (*p == ' ') p++;
    return p;
}

int vkc_npy_read(const char *path, VkcNpyType *t, uint64_t *shape, int *ndim, void **data)
{
    *data = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return vkc_fail("%s: cannot open: %s", path, strerror(errno));
    unsigned char pre[12];
    char *dict = NULL;
    int rc = VKC_ERR;
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6)) {
        vkc_fail("%s: not a .npy file (bad magic)", path);
        goto done;
    }
    size_t hlen;
    if (pre[6] == 1) {
        hlen = pre[8] | (size_t)pre[9] << 8;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) {
            vkc_fail("%s: truncated header", path);
            goto done;
        }
        hlen = pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    } else {
        vkc_fail("%s: unsupported .npy version %d.%d", path, pre[6], pre[7]);
        goto done;
    }
    if (hlen > 1 << 20 || !(dict = malloc(hlen + 1)) || fread(dict, 1, hlen, f) != hlen) {
        vkc_fail("%s: truncated or oversized header (%zu bytes)", path, hlen);
        goto done;
    }
    dict[hlen] = '\0';
    const char *d = dict_value(dict, "descr"), *fo = dict_value(dict, "fortran_order"), *s = dict_value(dict, "shape");
    if (!d || !fo || !s || *s != '(') {
        vkc_fail("%s: header dict lacks descr, fortran_order or shape", path);
        goto done;
    }
    if (strncmp(fo, "False", 5)) {
        vkc_fail("%s: Fortran-order arrays are not supported", path);
        goto done;
    }
    int type = -1;
    for (int i = 0; i < 4; i++)
        if (d[0] == '\'' && !strncmp(d + 1, descrs[i], 3) && d[4] == '\'') type = i;
    if (type < 0) {
        vkc_fail("%s: element type %.8s is not one of <f4, <i8, |u1, <i4", path, d);
        goto done;
    }
    *ndim = 0;
    uint64_t count = 1;
    for (const char *p = s + 1; *p != ')';) {
        while (*p == ' ' || *p == ',') p++;
        if (*p == ')') break;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p || errno || *ndim == VKC_NPY_MAX_DIMS) {
            vkc_fail("%s: bad shape in header (%s)", path, s);
            goto done;
        }
        shape[(*ndim)++] = v;
        count *= v;
        p = end;
    }
    size_t bytes = (size_t)count * sizes[type];
    *data = malloc(bytes ? bytes : 1);
    if (!*data) {
        vkc_fail("%s: out of memory for %zu bytes", path, bytes);
        goto done;
    }
    if (fread(*data, 1, bytes, f) != bytes) {
        vkc_fail("%s: truncated data: header promises %llu elements", path, (unsigned long long)count);
        goto done;
    }
    *t = (VkcNpyType)type;
    rc = VKC_OK;
done:
    if (rc) free(*data), *data = NULL;
    free(dict);
    fclose(f);
    return rc;
}

/* ---------------------------------------------------------------- exports */

static uint32_t crc_of(const void *const *parts, const size_t *n, int k)
{
    uLong c = crc32_z(0, Z_NULL, 0);
    for (int i = 0; i < k; i++) c = crc32_z(c, parts[i], n[i]);
    return (uint32_t)c;
}

/* The folder of a path ("." for none), into dir. */
static void folder_of(const char *path, char *dir, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, size, ".");
    else if (slash == path) snprintf(dir, size, "/");
    else snprintf(dir, size, "%.*s", (int)(slash - path), path);
}

/* How the manifest names `path`: its base name when both are in one folder, else an absolute path. */
static int manifest_name(const char *manifest, const char *path, char *out, size_t size)
{
    char md[4096], pd[4096];
    folder_of(manifest, md, sizeof md);
    folder_of(path, pd, sizeof pd);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (!strcmp(md, pd)) {
        snprintf(out, size, "%s", base);
        return VKC_OK;
    }
    char real[4096];
    if (!realpath(pd, real)) return vkc_fail("%s: cannot resolve its folder: %s", path, strerror(errno));
    if (snprintf(out, size, "%s/%s", real, base) >= (int)size) return vkc_fail("%s: path too long", path);
    return VKC_OK;
}

static cJSON *file_entry(const char *name, VkcNpyType t, const uint64_t *shape, int ndim, size_t bytes, uint32_t crc)
{
    cJSON *e = cJSON_CreateObject(), *sh = cJSON_CreateArray();
    char hex[16];
    snprintf(hex, sizeof hex, "%08x", (unsigned)crc);
    cJSON_AddStringToObject(e, "file", name);
    cJSON_AddStringToObject(e, "dtype", descrs[t]);
    for (int i = 0; i < ndim; i++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)shape[i]));
    cJSON_AddItemToObject(e, "shape", sh);
    cJSON_AddNumberToObject(e, "bytes", (double)bytes);
    cJSON_AddStringToObject(e, "crc32", hex);
    return e;
}

int vkc_export_write(const char *features, const char *labels, const char *manifest, const float *feat, uint32_t rows,
                     uint32_t dim, VkcNpyType ltype, const void *label_data, const char *about)
{
    uint64_t fshape[2] = {rows, dim}, lshape[1] = {rows};
    char fh[512], lh[512], fname[4200], lname[4200];
    size_t fl = vkc_npy_header(fh, sizeof fh, VKC_NPY_F32, fshape, 2), ll = vkc_npy_header(lh, sizeof lh, ltype, lshape, 1);
    if (!fl || !ll) return vkc_fail("%s: header too long", features);
    if (manifest_name(manifest, features, fname, sizeof fname) || manifest_name(manifest, labels, lname, sizeof lname))
        return VKC_ERR;
    const void *fparts[2] = {fh, feat}, *lparts[2] = {lh, label_data};
    size_t fsizes[2] = {fl, (size_t)rows * dim * 4}, lsizes[2] = {ll, (size_t)rows * sizes[ltype]};
    uint32_t fcrc = crc_of(fparts, fsizes, 2), lcrc = crc_of(lparts, lsizes, 2);
    uint8_t both[8];
    for (int i = 0; i < 4; i++) both[i] = (uint8_t)(fcrc >> (8 * i)), both[4 + i] = (uint8_t)(lcrc >> (8 * i));
    char id[16];
    snprintf(id, sizeof id, "%08x", (unsigned)crc32_z(0, both, 8));
    cJSON *a = about ? cJSON_Parse(about) : cJSON_CreateObject(), *m = cJSON_CreateObject();
    if (!a || !cJSON_IsObject(a) || !m) {
        cJSON_Delete(a);
        cJSON_Delete(m);
        return vkc_fail("%s: internal error: the export's description is not a JSON object", manifest);
    }
    cJSON_AddStringToObject(m, "format", "vkclr-export-1");
    cJSON_AddNumberToObject(m, "rows", rows);
    cJSON_AddStringToObject(m, "id", id);
    while (a->child) { /* what the features are: source, split, data */
        cJSON *item = cJSON_DetachItemViaPointer(a, a->child);
        cJSON_AddItemToObject(m, item->string, item);
    }
    cJSON_Delete(a);
    cJSON_AddItemToObject(m, "features", file_entry(fname, VKC_NPY_F32, fshape, 2, fsizes[0] + fsizes[1], fcrc));
    cJSON_AddItemToObject(m, "labels", file_entry(lname, ltype, lshape, 1, lsizes[0] + lsizes[1], lcrc));
    char *text = cJSON_Print(m);
    cJSON_Delete(m);
    if (!text) return vkc_fail("out of host memory writing %s", manifest);
    size_t tn = strlen(text);
    const void *mparts[2] = {text, "\n"};
    size_t msizes[2] = {tn, 1};
    VkcFileSpec set[3] = {{features, fparts, fsizes, 2}, {labels, lparts, lsizes, 2}, {manifest, mparts, msizes, 2}};
    int rc = vkc_write_files_atomic(set, 3);
    free(text);
    return rc;
}

/* One file of an export against its manifest entry. */
static int check_file(const char *manifest, const cJSON *entry, const char *what, uint32_t rows)
{
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(entry, "file"), *crc = cJSON_GetObjectItemCaseSensitive(entry, "crc32");
    if (!cJSON_IsString(file) || !cJSON_IsString(crc) || !file->valuestring[0])
        return vkc_fail("%s: no %s file and crc32 in the manifest", manifest, what);
    char dir[4096], path[8300];
    folder_of(manifest, dir, sizeof dir);
    if (file->valuestring[0] == '/') snprintf(path, sizeof path, "%s", file->valuestring);
    else snprintf(path, sizeof path, "%s/%s", dir, file->valuestring);
    FILE *f = fopen(path, "rb");
    if (!f) return vkc_fail("%s (the %s of export %s): %s", path, what, manifest, strerror(errno));
    uLong c = crc32_z(0, Z_NULL, 0);
    uint8_t buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) c = crc32_z(c, buf, n);
    bool bad = ferror(f);
    fclose(f);
    if (bad) return vkc_fail("%s: read error", path);
    char hex[16];
    snprintf(hex, sizeof hex, "%08x", (unsigned)c);
    if (strcmp(hex, crc->valuestring))
        return vkc_fail("%s does not match its export manifest %s (CRC-32 %s, recorded %.16s): the files come from "
                        "different exports (an interrupted or mixed export); export again",
                        path, manifest, hex, crc->valuestring);
    VkcNpyType t;
    uint64_t shape[VKC_NPY_MAX_DIMS];
    int ndim;
    void *data;
    if (vkc_npy_read(path, &t, shape, &ndim, &data)) return VKC_ERR;
    free(data);
    if (shape[0] != rows)
        return vkc_fail("%s: %llu rows, its export manifest %s says %u", path, (unsigned long long)shape[0], manifest, rows);
    return VKC_OK;
}

int vkc_export_check(const char *manifest, uint32_t *rows)
{
    FILE *f = fopen(manifest, "rb");
    if (!f) return vkc_fail("export manifest %s: %s", manifest, strerror(errno));
    char *text = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n + 4096 + 1 > cap) {
            cap = 2 * cap + 8192;
            char *grown = cap > (1u << 20) ? NULL : realloc(text, cap);
            if (!grown) {
                free(text);
                fclose(f);
                return vkc_fail("export manifest %s: too large", manifest);
            }
            text = grown;
        }
        got = fread(text + n, 1, 4096, f);
        n += got;
    } while (got > 0);
    fclose(f);
    text[n] = 0;
    cJSON *m = cJSON_Parse(text);
    free(text);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(m, "format"), *r = cJSON_GetObjectItemCaseSensitive(m, "rows");
    int rc = VKC_OK;
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "vkclr-export-1") || !cJSON_IsNumber(r) ||
        !(r->valuedouble >= 0 && r->valuedouble <= 4294967295.0) || r->valuedouble != (double)(uint32_t)r->valuedouble)
        rc = vkc_fail("%s: not a vkclr export manifest (format vkclr-export-1 with rows)", manifest);
    uint32_t nrows = rc ? 0 : (uint32_t)r->valuedouble;
    if (!rc) rc = check_file(manifest, cJSON_GetObjectItemCaseSensitive(m, "features"), "features", nrows);
    if (!rc) rc = check_file(manifest, cJSON_GetObjectItemCaseSensitive(m, "labels"), "labels", nrows);
    cJSON_Delete(m);
    if (!rc && rows) *rows = nrows;
    return rc;
}
