/* Checkpoints as safetensors files (vkclr/checkpoint.h).
 *
 * safetensors: an 8-byte little-endian header length, a JSON header mapping each tensor name
 * to {"dtype", "shape", "data_offsets": [begin, end]} (byte offsets into the data that
 * follows) plus "__metadata__" (string -> string), then the raw little-endian data. Loadable
 * with `safetensors.numpy.load_file` or `safetensors.torch.load_file`.
 *
 * Written atomically: a temporary file in the same directory, fflush + fsync, rename over the
 * old checkpoint, fsync of the directory. A crash leaves either the old or the new file. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vkclr/checkpoint.h"
#include "vkclr/fileio.h"

/* ---------------------------------------------------------------- safetensors */

int vkc_checkpoint_save(const char *path, const VkcModel *m, const VkcOptim *opt, const VkcTrainConfig *cfg,
                        const VkcTrainState *state)
{
    VkcContext *ctx = m->ctx;
    size_t pbytes = m->nparams * 4, bbytes = m->nbuffers * 4, sbytes = opt->state.size;
    float *p = malloc(pbytes ? pbytes : 4), *b = malloc(bbytes ? bbytes : 4), *s = malloc(sbytes ? sbytes : 4);
    cJSON *h = cJSON_CreateObject(), *meta = cJSON_CreateObject();
    char *header = NULL, *config = vkc_config_to_json(cfg, false);
    float *data = NULL;
    int rc = VKC_ERR;
    if (!p || !b || !s || !h || !meta || !config) {
        vkc_fail("out of host memory writing a checkpoint");
        goto done;
    }
    if (vkc_download(ctx, m->params, p, pbytes) || vkc_download(ctx, m->buffers, b, bbytes) ||
        (sbytes && vkc_download(ctx, opt->state, s, sbytes)))
        goto done;
    /* Data: the named tensors back to back (no padding), then the optimizer state. */
    size_t total = 0;
    for (int i = 0; i < m->ntensors; i++) total += m->tensors[i].count;
    total += sbytes / 4;
    data = malloc(total * 4 + 4);
    if (!data) {
        vkc_fail("out of host memory writing a checkpoint");
        goto done;
    }
    char num[40];
    snprintf(num, sizeof num, "%lld", (long long)state->step);
    cJSON_AddStringToObject(meta, "format", "vkclr-checkpoint-1");
    cJSON_AddStringToObject(meta, "step", num);
    snprintf(num, sizeof num, "%lld", (long long)state->epoch);
    cJSON_AddStringToObject(meta, "epoch", num);
    if (state->loss_scale != 1.0) { /* fp16: the loss scaler, so a resumed run continues exactly */
        snprintf(num, sizeof num, "%.17g", state->loss_scale);
        cJSON_AddStringToObject(meta, "loss_scale", num);
        snprintf(num, sizeof num, "%lld", (long long)state->loss_scale_clean);
        cJSON_AddStringToObject(meta, "loss_scale_clean_steps", num);
    }
    /* The augmentation RNG is counter-based, keyed by (seed, epoch, image, view): the step is
     * its whole position. */
    cJSON_AddStringToObject(meta, "rng", "counter-based: position = step");
    cJSON_AddStringToObject(meta, "optimizer_state", "optimizer.state: momentum (sgd, lars) or m then v (adamw), packed per tensor");
    cJSON_AddStringToObject(meta, "config", config);
    cJSON_AddItemToObject(h, "__metadata__", meta);
    meta = NULL;
    size_t off = 0;
    for (int i = 0; i <= m->ntensors; i++) {
        const char *name = i < m->ntensors ? m->tensors[i].name : "optimizer.state";
        size_t count;
        cJSON *t = cJSON_CreateObject(), *shape = cJSON_CreateArray(), *offs = cJSON_CreateArray();
        if (i < m->ntensors) {
            const VkcNamedTensor *nt = &m->tensors[i];
            count = nt->count;
            for (int d = 0; d < nt->ndim; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber(nt->shape[d]));
            memcpy(data + off, (nt->role == VKC_T_PARAM ? p : b) + nt->offset, count * 4);
        } else {
            count = sbytes / 4;
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)count));
            memcpy(data + off, s, count * 4);
        }
        cJSON_AddStringToObject(t, "dtype", "F32");
        cJSON_AddItemToObject(t, "shape", shape);
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off * 4));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + count) * 4));
        cJSON_AddItemToObject(t, "data_offsets", offs);
        cJSON_AddItemToObject(h, name, t);
        off += count;
    }
    char *json = cJSON_PrintUnformatted(h);
    if (!json) {
        vkc_fail("out of host memory writing a checkpoint");
        goto done;
    }
    /* Pad the header with spaces to a multiple of 8 bytes (the data then starts aligned). */
    size_t n = strlen(json), padded = (n + 7) / 8 * 8;
    header = malloc(padded);
    if (!header) {
        free(json);
        vkc_fail("out of host memory");
        goto done;
    }
    memcpy(header, json, n);
    memset(header + n, ' ', padded - n);
    free(json);
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    const void *parts[3] = {len, header, data};
    size_t sizes[3] = {8, padded, off * 4};
    rc = vkc_write_file_atomic(path, parts, sizes, 3);
done:
    cJSON_Delete(h);
    cJSON_Delete(meta);
    free(config);
    free(header);
    free(data);
    free(p);
    free(b);
    free(s);
    return rc;
}

/* Read the header (parsed) and, if want_data, the data of a safetensors file. */
static int read_safetensors(const char *path, cJSON **header, uint8_t **data, size_t *data_bytes, bool want_data)
{
    *header = NULL;
    if (data) *data = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return vkc_fail("cannot open checkpoint %s: %s", path, strerror(errno));
    uint8_t len[8];
    char *text = NULL;
    int rc = VKC_ERR;
    if (fread(len, 1, 8, f) != 8) {
        vkc_fail("%s: truncated (no safetensors header)", path);
        goto done;
    }
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= (uint64_t)len[i] << (8 * i);
    if (n == 0 || n > (100u << 20)) {
        vkc_fail("%s: not a safetensors file (header length %llu)", path, (unsigned long long)n);
        goto done;
    }
    text = malloc(n + 1);
    if (!text || fread(text, 1, n, f) != n) {
        vkc_fail("%s: truncated header", path);
        goto done;
    }
    text[n] = 0;
    *header = cJSON_Parse(text);
    if (!*header) {
        vkc_fail("%s: the safetensors header is not valid JSON", path);
        goto done;
    }
    if (want_data) {
        long start = ftell(f);
        fseek(f, 0, SEEK_END);
        long end = ftell(f);
        fseek(f, start, SEEK_SET);
        *data_bytes = (size_t)(end - start);
        *data = malloc(*data_bytes + 1);
        if (!*data || fread(*data, 1, *data_bytes, f) != *data_bytes) {
            vkc_fail("%s: cannot read %zu bytes of tensor data", path, *data_bytes);
            goto done;
        }
        /* Every tensor the header lists must lie in the file, loaded or not. */
        double need = 0;
        const cJSON *t;
        cJSON_ArrayForEach(t, *header)
        {
            const cJSON *offs = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
            if (cJSON_GetArraySize(offs) == 2 && cJSON_GetArrayItem(offs, 1)->valuedouble > need)
                need = cJSON_GetArrayItem(offs, 1)->valuedouble;
        }
        if (need > (double)*data_bytes) {
            vkc_fail("%s: truncated: its header lists %.0f bytes of tensor data, the file holds %zu", path, need,
                     *data_bytes);
            goto done;
        }
    }
    rc = VKC_OK;
done:
    if (rc) {
        cJSON_Delete(*header);
        *header = NULL;
        if (data) {
            free(*data);
            *data = NULL;
        }
    }
    free(text);
    fclose(f);
    return rc;
}

static int meta_int(const cJSON *h, const char *path, const char *key, int64_t *v)
{
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(h, "__metadata__");
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(meta, key);
    if (!cJSON_IsString(x)) return vkc_fail("%s: no '%s' in the checkpoint metadata", path, key);
    /* A count of steps: decimal digits only, and small enough for any schedule (2^40 steps). */
    const char *s = x->valuestring;
    size_t n = strspn(s, "0123456789");
    if (n == 0 || s[n] || n > 13) return vkc_fail("%s: checkpoint metadata '%s' is \"%.40s\", not a step count", path, key, s);
    *v = strtoll(s, NULL, 10);
    if (*v > (1ll << 40)) return vkc_fail("%s: checkpoint metadata '%s' is %lld, beyond any schedule", path, key, (long long)*v);
    return VKC_OK;
}

int vkc_checkpoint_resolve(const char *path, char *file, size_t size)
{
    struct stat st;
    if (stat(path, &st)) return vkc_fail("checkpoint %s: %s", path, strerror(errno));
    int n = S_ISDIR(st.st_mode) ? snprintf(file, size, "%s/checkpoint.safetensors", path) : snprintf(file, size, "%s", path);
    if (n < 0 || (size_t)n >= size) return vkc_fail("checkpoint %s: path too long", path);
    if (S_ISDIR(st.st_mode) && stat(file, &st))
        return vkc_fail("%s is a directory without a checkpoint.safetensors (not a vkclr train run?)", path);
    return VKC_OK;
}

int vkc_checkpoint_read_config(const char *path, VkcTrainConfig *cfg, int64_t *step)
{
    cJSON *h;
    if (read_safetensors(path, &h, NULL, NULL, false)) return VKC_ERR;
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(h, "__metadata__");
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(meta, "format");
    const cJSON *config = cJSON_GetObjectItemCaseSensitive(meta, "config");
    int rc = VKC_OK;
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "vkclr-checkpoint-1"))
        rc = vkc_fail("%s: not a vkclr training checkpoint (no format vkclr-checkpoint-1 in its metadata)", path);
    else if (!cJSON_IsString(config)) rc = vkc_fail("%s: no configuration in the checkpoint metadata", path);
    else if (vkc_config_from_json(config->valuestring, path, cfg)) rc = VKC_ERR;
    else if (step && meta_int(h, path, "step", step)) rc = VKC_ERR;
    cJSON_Delete(h);
    return rc;
}

/* Copy tensor `name` (count floats, expected shape) out of a loaded file. */
static int take(const char *path, const cJSON *h, const uint8_t *data, size_t data_bytes, const char *name,
                int ndim, const uint32_t *shape, size_t count, float *dst)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(h, name);
    if (!t) return vkc_fail("%s: tensor '%s' is missing (a checkpoint of another architecture?)", path, name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(t, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(t, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
    if (!cJSON_IsString(dtype) || strcmp(dtype->valuestring, "F32"))
        return vkc_fail("%s: tensor '%s' is not F32", path, name);
    if (!cJSON_IsArray(sh) || cJSON_GetArraySize(sh) != ndim)
        return vkc_fail("%s: tensor '%s' has the wrong number of dimensions", path, name);
    for (int d = 0; d < ndim; d++)
        if (cJSON_GetArrayItem(sh, d)->valuedouble != shape[d])
            return vkc_fail("%s: tensor '%s' has dimension %d of %g, the model has %u", path, name, d,
                            cJSON_GetArrayItem(sh, d)->valuedouble, shape[d]);
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return vkc_fail("%s: tensor '%s' has no data_offsets", path, name);
    double b = cJSON_GetArrayItem(offs, 0)->valuedouble, e = cJSON_GetArrayItem(offs, 1)->valuedouble;
    if (b < 0 || e - b != (double)count * 4 || e > (double)data_bytes)
        return vkc_fail("%s: tensor '%s' lies outside the file (truncated?)", path, name);
    memcpy(dst, data + (size_t)b, count * 4);
    return VKC_OK;
}

/* The loss scale of an fp16 run (1 when the metadata has none): a power of two. */
static int meta_scale(const cJSON *h, const char *path, double *scale)
{
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(h, "__metadata__");
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(meta, "loss_scale");
    *scale = 1.0;
    if (!x) return VKC_OK;
    char *end = NULL;
    double v = cJSON_IsString(x) ? strtod(x->valuestring, &end) : 0;
    int e;
    if (!end || *end || !(v > 0) || !isfinite(v) || frexp(v, &e) != 0.5 || e < -60 || e > 60)
        return vkc_fail("%s: checkpoint metadata 'loss_scale' is not a power of two in [2^-60, 2^60]", path);
    *scale = v;
    return VKC_OK;
}

int vkc_checkpoint_load(const char *path, VkcModel *m, VkcOptim *opt, VkcTrainState *state)
{
    cJSON *h;
    uint8_t *data;
    size_t data_bytes;
    if (read_safetensors(path, &h, &data, &data_bytes, true)) return VKC_ERR;
    size_t sbytes = opt ? opt->state.size : 0;
    float *p = calloc(m->nparams + 1, 4), *b = calloc(m->nbuffers + 1, 4), *s = malloc(sbytes + 4);
    int rc = VKC_ERR;
    if (!p || !b || !s) {
        vkc_fail("out of host memory reading %s", path);
        goto done;
    }
    for (int i = 0; i < m->ntensors; i++) {
        const VkcNamedTensor *nt = &m->tensors[i];
        if (take(path, h, data, data_bytes, nt->name, nt->ndim, nt->shape, nt->count,
                 (nt->role == VKC_T_PARAM ? p : b) + nt->offset))
            goto done;
    }
    uint32_t sshape[1] = {(uint32_t)(sbytes / 4)};
    VkcTrainState st = {.loss_scale = 1.0};
    if ((opt && take(path, h, data, data_bytes, "optimizer.state", 1, sshape, sbytes / 4, s)) ||
        meta_int(h, path, "step", &st.step) || meta_int(h, path, "epoch", &st.epoch) ||
        meta_scale(h, path, &st.loss_scale) ||
        (st.loss_scale != 1.0 && meta_int(h, path, "loss_scale_clean_steps", &st.loss_scale_clean)))
        goto done;
    if (state) *state = st;
    if (vkc_upload(m->ctx, m->params, p, m->nparams * 4) || vkc_upload(m->ctx, m->buffers, b, m->nbuffers * 4) ||
        (sbytes && vkc_upload(m->ctx, opt->state, s, sbytes)))
        goto done;
    rc = VKC_OK;
done:
    cJSON_Delete(h);
    free(data);
    free(p);
    free(b);
    free(s);
    return rc;
}

int vkc_checkpoint_load_model(const char *path, VkcModel *m) { return vkc_checkpoint_load(path, m, NULL, NULL); }
