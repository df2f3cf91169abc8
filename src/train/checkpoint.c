/* Checkpoints as safetensors files, and the run configuration as JSON.
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

#include "internal.h"

/* ---------------------------------------------------------------- configuration JSON */

static const char *optim_name(VkcOptimKind k)
{
    return k == VKC_OPTIM_SGD ? "sgd" : k == VKC_OPTIM_ADAMW ? "adamw" : "lars";
}

int train_parse_optimizer(const char *s, VkcOptimKind *k)
{
    if (!strcmp(s, "lars")) *k = VKC_OPTIM_LARS;
    else if (!strcmp(s, "sgd")) *k = VKC_OPTIM_SGD;
    else if (!strcmp(s, "adamw")) *k = VKC_OPTIM_ADAMW;
    else return vkc_fail("unknown optimizer '%s' (lars, sgd, adamw)", s);
    return VKC_OK;
}

char *train_config_json(const VkcTrainConfig *c, bool pretty)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddStringToObject(j, "data", c->data);
    cJSON_AddNumberToObject(j, "limit", c->limit);
    cJSON_AddStringToObject(j, "encoder", c->model.encoder);
    cJSON_AddNumberToObject(j, "width", c->model.width);
    cJSON_AddNumberToObject(j, "head_layers", c->model.head_layers);
    cJSON_AddNumberToObject(j, "head_hidden", c->model.head_hidden);
    cJSON_AddNumberToObject(j, "out_dim", c->model.out_dim);
    cJSON_AddNumberToObject(j, "image_channels", c->model.channels);
    cJSON_AddNumberToObject(j, "image_height", c->model.height);
    cJSON_AddNumberToObject(j, "image_width", c->model.width_px);
    cJSON_AddNumberToObject(j, "batch", c->batch);
    cJSON_AddNumberToObject(j, "epochs", c->epochs);
    cJSON_AddStringToObject(j, "optimizer", optim_name(c->optimizer));
    cJSON_AddNumberToObject(j, "lr", c->lr);
    cJSON_AddStringToObject(j, "lr_scaling", c->lr_scaling == VKC_LR_SQRT ? "sqrt" : "linear");
    cJSON_AddNumberToObject(j, "weight_decay", c->weight_decay);
    cJSON_AddNumberToObject(j, "warmup_epochs", c->warmup_epochs);
    cJSON_AddNumberToObject(j, "temperature", c->temperature);
    cJSON_AddStringToObject(j, "loss", vkc_loss_kind_name(c->loss));
    cJSON_AddStringToObject(j, "nce_logz", c->nce_learned_logz ? "learned" : "self");
    cJSON_AddNumberToObject(j, "tau_plus", c->tau_plus);
    cJSON_AddStringToObject(j, "preset", c->preset);
    cJSON_AddStringToObject(j, "aug", c->aug);
    cJSON_AddNumberToObject(j, "seed", (double)c->seed);
    cJSON_AddNumberToObject(j, "threads", c->threads);
    cJSON_AddNumberToObject(j, "log_every", c->log_every);
    cJSON_AddNumberToObject(j, "knn_k", c->knn_k);
    cJSON_AddNumberToObject(j, "knn_temperature", c->knn_temperature);
    cJSON_AddNumberToObject(j, "knn_bank", c->knn_bank);
    cJSON_AddNumberToObject(j, "knn_every", c->knn_every);
    cJSON_AddNumberToObject(j, "probe_epochs", c->probe_epochs);
    cJSON_AddNumberToObject(j, "probe_limit", c->probe_limit);
    cJSON_AddNumberToObject(j, "ranks", c->ranks);
    cJSON_AddBoolToObject(j, "sync_bn", c->sync_bn == 1);
    char *s = pretty ? cJSON_Print(j) : cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

static int get_num(const cJSON *j, const char *key, double *v)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsNumber(x)) return vkc_fail("checkpoint configuration: '%s' missing or not a number", key);
    *v = x->valuedouble;
    return VKC_OK;
}

static int get_str(const cJSON *j, const char *key, char *out, size_t size)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsString(x)) return vkc_fail("checkpoint configuration: '%s' missing or not a string", key);
    if (strlen(x->valuestring) >= size) return vkc_fail("checkpoint configuration: '%s' is too long", key);
    strcpy(out, x->valuestring);
    return VKC_OK;
}

int train_config_parse(const char *text, VkcTrainConfig *c)
{
    cJSON *j = cJSON_Parse(text);
    if (!j) return vkc_fail("checkpoint configuration is not valid JSON");
    *c = vkc_train_defaults();
    double v[22];
    char optim[16], scaling[16];
    static const char *keys[22] = {"limit", "width", "head_layers", "head_hidden", "out_dim", "image_channels",
                                   "image_height", "image_width", "batch", "epochs", "lr", "weight_decay",
                                   "warmup_epochs", "temperature", "seed", "threads", "log_every", "knn_k",
                                   "knn_temperature", "knn_bank", NULL, NULL};
    int rc = VKC_OK;
    for (int i = 0; keys[i] && !rc; i++) rc = get_num(j, keys[i], &v[i]);
    if (!rc) rc = get_str(j, "data", c->data, sizeof c->data);
    if (!rc) rc = get_str(j, "encoder", c->model.encoder, sizeof c->model.encoder);
    if (!rc) rc = get_str(j, "optimizer", optim, sizeof optim);
    if (!rc) rc = get_str(j, "lr_scaling", scaling, sizeof scaling);
    if (!rc) rc = get_str(j, "preset", c->preset, sizeof c->preset);
    if (!rc) rc = get_str(j, "aug", c->aug, sizeof c->aug);
    /* Evaluation settings newer than the first checkpoints: the defaults where absent. */
    double e;
    if (!rc && cJSON_HasObjectItem(j, "knn_every") && !(rc = get_num(j, "knn_every", &e))) c->knn_every = (int)e;
    if (!rc && cJSON_HasObjectItem(j, "probe_epochs") && !(rc = get_num(j, "probe_epochs", &e))) c->probe_epochs = (int)e;
    if (!rc && cJSON_HasObjectItem(j, "probe_limit") && !(rc = get_num(j, "probe_limit", &e))) c->probe_limit = (int)e;
    /* Runs from before multi-rank training have neither: one rank. */
    const cJSON *ranks = cJSON_GetObjectItemCaseSensitive(j, "ranks"), *sync = cJSON_GetObjectItemCaseSensitive(j, "sync_bn");
    c->ranks = cJSON_IsNumber(ranks) ? (int)ranks->valuedouble : 1;
    c->sync_bn = cJSON_IsBool(sync) ? cJSON_IsTrue(sync) : 0;
    /* The loss: checkpoints written before vkclr had a choice of loss have none (ntxent). */
    char loss[16] = "ntxent", logz[16] = "self";
    double tau_plus = 0;
    if (!rc && cJSON_GetObjectItemCaseSensitive(j, "loss")) {
        rc = get_str(j, "loss", loss, sizeof loss);
        if (!rc) rc = get_str(j, "nce_logz", logz, sizeof logz);
        if (!rc) rc = get_num(j, "tau_plus", &tau_plus);
    }
    cJSON_Delete(j);
    if (rc) return rc;
    if (vkc_loss_kind_parse(loss, &c->loss)) return vkc_fail_context("checkpoint configuration");
    if (strcmp(logz, "self") && strcmp(logz, "learned"))
        return vkc_fail("checkpoint configuration: nce_logz '%s' is neither self nor learned", logz);
    c->nce_learned_logz = !strcmp(logz, "learned");
    c->tau_plus = (float)tau_plus;
    c->model.loss_logz = c->loss == VKC_LOSS_NCE && c->nce_learned_logz;
    if (train_parse_optimizer(optim, &c->optimizer)) return VKC_ERR;
    c->lr_scaling = !strcmp(scaling, "sqrt") ? VKC_LR_SQRT : VKC_LR_LINEAR;
    c->limit = (int)v[0];
    c->model.width = (int)v[1];
    c->model.head_layers = (int)v[2];
    c->model.head_hidden = (int)v[3];
    c->model.out_dim = (int)v[4];
    c->model.channels = (int)v[5];
    c->model.height = (int)v[6];
    c->model.width_px = (int)v[7];
    c->batch = (int)v[8];
    c->epochs = (int)v[9];
    c->lr = (float)v[10];
    c->weight_decay = (float)v[11];
    c->warmup_epochs = (float)v[12];
    c->temperature = (float)v[13];
    c->seed = (uint64_t)v[14];
    c->threads = (int)v[15];
    c->log_every = (int)v[16];
    c->knn_k = (int)v[17];
    c->knn_temperature = (float)v[18];
    c->knn_bank = (int)v[19];
    return VKC_OK;
}

/* ---------------------------------------------------------------- safetensors */

int train_write_file_atomic(const char *path, const void *const *parts, const size_t *sizes, int nparts)
{
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return vkc_fail("cannot create %s: %s", tmp, strerror(errno));
    for (int i = 0; i < nparts; i++)
        if (sizes[i] && fwrite(parts[i], 1, sizes[i], f) != sizes[i]) {
            fclose(f);
            remove(tmp);
            return vkc_fail("writing %s: %s", tmp, strerror(errno));
        }
    if (fflush(f) || fsync(fileno(f))) {
        int e = errno;
        fclose(f);
        remove(tmp);
        return vkc_fail("flushing %s: %s", tmp, strerror(e));
    }
    if (fclose(f)) {
        remove(tmp);
        return vkc_fail("closing %s: %s", tmp, strerror(errno));
    }
    if (rename(tmp, path)) {
        int e = errno;
        remove(tmp);
        return vkc_fail("renaming %s to %s: %s", tmp, path, strerror(e));
    }
    /* Make the rename itself durable. */
    char dir[1100];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    return VKC_OK;
}

int train_checkpoint_save(const char *path, const VkcModel *m, const VkcOptim *opt, const VkcTrainConfig *cfg,
                          int64_t step, int64_t epoch)
{
    VkcContext *ctx = m->ctx;
    size_t pbytes = m->nparams * 4, bbytes = m->nbuffers * 4, sbytes = opt->state.size;
    float *p = malloc(pbytes ? pbytes : 4), *b = malloc(bbytes ? bbytes : 4), *s = malloc(sbytes ? sbytes : 4);
    cJSON *h = cJSON_CreateObject(), *meta = cJSON_CreateObject();
    char *header = NULL, *config = train_config_json(cfg, false);
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
    char num[32];
    snprintf(num, sizeof num, "%lld", (long long)step);
    cJSON_AddStringToObject(meta, "format", "vkclr-checkpoint-1");
    cJSON_AddStringToObject(meta, "step", num);
    snprintf(num, sizeof num, "%lld", (long long)epoch);
    cJSON_AddStringToObject(meta, "epoch", num);
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
    rc = train_write_file_atomic(path, parts, sizes, 3);
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
    *v = strtoll(x->valuestring, NULL, 10);
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
    else if (train_config_parse(config->valuestring, cfg)) rc = vkc_fail_context("%s", path);
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

int train_checkpoint_load(const char *path, VkcModel *m, VkcOptim *opt, int64_t *step)
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
    if ((opt && take(path, h, data, data_bytes, "optimizer.state", 1, sshape, sbytes / 4, s)) ||
        meta_int(h, path, "step", step))
        goto done;
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

int vkc_checkpoint_load_model(const char *path, VkcModel *m)
{
    int64_t step;
    return train_checkpoint_load(path, m, NULL, &step);
}
