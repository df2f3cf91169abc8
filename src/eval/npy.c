/* NumPy .npy writer and reader (see include/vkclr/npy.h for the format). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vkclr/npy.h"

static const char *const descrs[] = {"<f4", "<i8", "|u1", "<i4"};
static const size_t sizes[] = {4, 8, 1, 4};

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
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return vkc_fail("%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return vkc_fail("%s: cannot create: %s", tmp, strerror(errno));
    bool ok = fwrite(header, 1, hlen, f) == hlen;
    size_t bytes = (size_t)count * sizes[t];
    if (ok && bytes) ok = fwrite(data, 1, bytes, f) == bytes;
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int err = errno;
    if (fclose(f) != 0) ok = false;
    if (!ok) {
        remove(tmp);
        return vkc_fail("%s: write failed: %s", path, strerror(err));
    }
    if (rename(tmp, path)) {
        err = errno;
        remove(tmp);
        return vkc_fail("%s: cannot rename from %s: %s", path, tmp, strerror(err));
    }
    return VKC_OK;
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
