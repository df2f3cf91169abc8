/* Checkpoints as safetensors files (vkclr/checkpoint.h).
 *
 * safetensors: an 8-byte little-endian header length, a JSON header mapping each tensor name
 * to {"dtype", "shape", "data_offsets": [begin, end]} (byte offsets into the data that
 * follows) plus "__metadata__" (string -> string), padded with spaces, then the raw
 * little-endian data, which the tensors tile exactly. Loadable with
 * `safetensors.numpy.load_file` or `safetensors.torch.load_file`.
 *
 * Written atomically: a temporary file in the same directory, fflush + fsync, rename over the
 * old checkpoint, fsync of the directory. A crash leaves either the old or the new file.
 *
 * Read: the checksum entry is found in the header's bytes and checked first (so a changed
 * byte anywhere reads "corrupt", not whatever it happened to break); then the header is parsed
 * strictly and every tensor entry checked before anything is taken from it. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "vkclr/checkpoint.h"
#include "vkclr/fileio.h"
#include "vkclr/json.h"
#include "vkclr/options.h"

#define FORMAT_V1 "vkclr-checkpoint-1" /* before checksums: loads with a warning */
#define FORMAT "vkclr-checkpoint-2"
#define HEADER_MAX 100000000u          /* safetensors' own limit */
#define MAX_DIMS 8
/* The checksum entry as it appears in the header's bytes: always the last entry of
 * __metadata__, which is never its only one. */
#define CHECKSUM_KEY ",\"checksum\":\"crc32 header="
#define CHECKSUM_PLACEHOLDER "crc32 header=00000000 data=00000000"

/* ---------------------------------------------------------------- CRC-32 */

static uint32_t crc32_bytes(uint32_t crc, const void *p, size_t n)
{
    return (uint32_t)crc32_z(crc, (const Bytef *)p, n);
}

/* CRC-32 of the header bytes without [cut, cut + cut_len). */
static uint32_t header_crc(const char *h, size_t n, const char *cut, size_t cut_len)
{
    uint32_t c = crc32_bytes(0, h, (size_t)(cut - h));
    return crc32_bytes(c, cut + cut_len, n - (size_t)(cut - h) - cut_len);
}

/* ---------------------------------------------------------------- writing */

int vkc_checkpoint_save(const char *path, const VkcModel *m, const VkcOptim *opt, const VkcTrainConfig *cfg,
                        const VkcTrainState *cm)
{
    VkcContext *ctx = m->ctx;
    size_t pbytes = m->nparams * 4, bbytes = m->nbuffers * 4, sbytes = opt->state.size;
    float *p = malloc(pbytes ? pbytes : 4), *b = malloc(bbytes ? bbytes : 4), *s = malloc(sbytes ? sbytes : 4);
    cJSON *h = cJSON_CreateObject(), *meta = cJSON_CreateObject();
    char *header = NULL, *config = vkc_config_to_json(cfg, false);
    float *data = NULL;
    int rc = VKC_ERR;
    if (!p || !b || !s || !h || !meta || !config) {
        vkc_fail("out of host memory writing %s", path);
        goto done;
    }
    if (cm->interval_nsums < 0 || cm->interval_nsums > VKC_CHECKPOINT_MAX_SUMS || cm->interval_steps < 0) {
        vkc_fail("%s: bad metrics interval (%d steps, %d sums)", path, cm->interval_steps, cm->interval_nsums);
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
        vkc_fail("out of host memory writing %s", path);
        goto done;
    }
    char num[40], interval[32 + 26 * VKC_CHECKPOINT_MAX_SUMS];
    snprintf(num, sizeof num, "%" PRId64, cm->step);
    cJSON_AddStringToObject(meta, "format", FORMAT);
    cJSON_AddStringToObject(meta, "step", num);
    snprintf(num, sizeof num, "%" PRId64, cm->epoch);
    cJSON_AddStringToObject(meta, "epoch", num);
    if (cm->loss_scale != 1.0) { /* fp16: the loss scaler, so a resumed run continues exactly */
        snprintf(num, sizeof num, "%.17g", cm->loss_scale);
        cJSON_AddStringToObject(meta, "loss_scale", num);
        snprintf(num, sizeof num, "%" PRId64, cm->loss_scale_clean);
        cJSON_AddStringToObject(meta, "loss_scale_clean_steps", num);
    }
    /* The augmentation RNG is counter-based, keyed by (seed, epoch, image, view): the step is
     * its whole position. */
    cJSON_AddStringToObject(meta, "rng", "counter-based: position = step");
    cJSON_AddStringToObject(meta, "optimizer_state", "optimizer.state: momentum (sgd, lars) or m then v (adamw), packed per tensor");
    /* Exact decimal doubles (17 digits), so a resumed run sums on from the same bits. */
    size_t used = (size_t)snprintf(interval, sizeof interval, "%d", cm->interval_steps);
    for (int k = 0; k < cm->interval_nsums; k++)
        used += (size_t)snprintf(interval + used, sizeof interval - used, " %.17g", cm->interval_sums[k]);
    cJSON_AddStringToObject(meta, "interval", interval);
    if (cm->knn_pending) cJSON_AddStringToObject(meta, "knn_pending", "1");
    if (cm->have_last) {
        char last[64];
        snprintf(last, sizeof last, "%.9g %.9g", cm->last_loss, cm->last_accuracy);
        cJSON_AddStringToObject(meta, "last", last);
    }
    cJSON_AddStringToObject(meta, "config", config);
    cJSON_AddStringToObject(meta, "checksum", CHECKSUM_PLACEHOLDER); /* last: see CHECKSUM_KEY */
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
        vkc_fail("out of host memory writing %s", path);
        goto done;
    }
    /* Pad the header with spaces to a multiple of 8 bytes (the data then starts aligned). */
    size_t n = strlen(json), padded = (n + 7) / 8 * 8;
    header = malloc(padded + 1);
    if (!header) {
        free(json);
        vkc_fail("out of host memory writing %s", path);
        goto done;
    }
    memcpy(header, json, n);
    memset(header + n, ' ', padded - n);
    header[padded] = 0;
    free(json);
    /* The checksum: CRC-32 of the data, and of the header without its checksum entry. */
    char *entry = strstr(header, CHECKSUM_KEY);
    size_t entry_len = strlen(CHECKSUM_KEY) + strlen(CHECKSUM_PLACEHOLDER) - strlen("crc32 header=") + 1;
    if (!entry) {
        vkc_fail("%s: internal error: no checksum entry in the header", path);
        goto done;
    }
    char digits[40];
    snprintf(digits, sizeof digits, "%08" PRIx32 " data=%08" PRIx32, header_crc(header, padded, entry, entry_len),
             crc32_bytes(0, data, off * 4));
    memcpy(entry + strlen(CHECKSUM_KEY), digits, strlen(digits));
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

/* ---------------------------------------------------------------- reading */

typedef struct {
    const char *name;
    const char *dtype;
    int ndim;
    uint64_t shape[MAX_DIMS];
    uint64_t begin, end;
} Entry;

typedef struct {
    const char *origin;       /* the file, for messages */
    char *text;               /* the header, NUL-terminated */
    size_t header_bytes;
    const uint8_t *data;      /* the tensor data, or NULL when only the header was read */
    size_t data_bytes;        /* from the file's size either way */
    cJSON *json;
    const cJSON *meta;        /* __metadata__ (NULL if none) */
    Entry *entries;
    int nentries;
    bool checksummed;         /* the header matched its checksum entry */
    uint32_t data_crc;        /* ... which recorded this CRC-32 of the data */
} Safetensors;

static void st_free(Safetensors *st)
{
    free(st->text);
    cJSON_Delete(st->json);
    free(st->entries);
    memset(st, 0, sizeof *st);
}

static const struct {
    const char *name;
    unsigned bytes;
} dtypes[] = {{"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1},
              {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1}, {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};

/* A JSON number that is a whole number in [0, 2^53]. */
static bool whole(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 9007199254740992.0) ||
        v->valuedouble != floor(v->valuedouble))
        return false;
    *out = (uint64_t)v->valuedouble;
    return true;
}

/* One tensor entry of the header. */
static int parse_entry(const Safetensors *st, const cJSON *t, Entry *e)
{
    const char *o = st->origin, *name = t->string;
    e->name = name;
    if (!cJSON_IsObject(t)) return vkc_fail("%s: corrupt header: tensor '%s' is not an object", o, name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(t, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(t, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
    unsigned elem = 0;
    for (size_t i = 0; cJSON_IsString(dtype) && i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (!strcmp(dtype->valuestring, dtypes[i].name)) elem = dtypes[i].bytes;
    if (!elem) return vkc_fail("%s: corrupt header: tensor '%s' has no known dtype", o, name);
    e->dtype = dtype->valuestring;
    if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) > MAX_DIMS)
        return vkc_fail("%s: corrupt header: tensor '%s' has no shape of at most %d dimensions", o, name, MAX_DIMS);
    e->ndim = cJSON_GetArraySize(shape);
    uint64_t count = 1;
    const cJSON *d;
    int k = 0;
    cJSON_ArrayForEach(d, shape)
    {
        if (!whole(d, &e->shape[k])) return vkc_fail("%s: corrupt header: tensor '%s': shape is not whole numbers", o, name);
        if (e->shape[k] && count > (UINT64_MAX / 16) / e->shape[k])
            return vkc_fail("%s: corrupt header: tensor '%s': shape too large", o, name);
        count *= e->shape[k++];
    }
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || !whole(cJSON_GetArrayItem(offs, 0), &e->begin) ||
        !whole(cJSON_GetArrayItem(offs, 1), &e->end) || e->begin > e->end)
        return vkc_fail("%s: corrupt header: tensor '%s' has no data_offsets [begin, end]", o, name);
    if (e->end - e->begin != count * elem)
        return vkc_fail("%s: corrupt header: tensor '%s' has %" PRIu64 " elements of %u bytes, its data_offsets span %" PRIu64
                        " bytes",
                        o, name, count, elem, e->end - e->begin);
    return VKC_OK;
}

static int by_begin(const void *a, const void *b)
{
    const Entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int by_name(const void *a, const void *b) { return strcmp(((const Entry *)a)->name, ((const Entry *)b)->name); }

/* Find the checksum entry in the header's bytes and check the header against it (the data is
 * checked once the header says how much of it there must be). */
static int check_sum(Safetensors *st)
{
    const char *h = st->text, *o = st->origin;
    const char *entry = memmem(h, st->header_bytes, CHECKSUM_KEY, strlen(CHECKSUM_KEY));
    if (!entry) return VKC_OK; /* an older file, or the entry was damaged: the metadata tells */
    const char *p = entry + strlen(CHECKSUM_KEY);
    if ((size_t)(h + st->header_bytes - p) < strlen("XXXXXXXX data=XXXXXXXX\""))
        return vkc_fail("%s: corrupt: its checksum entry is damaged", o);
    uint32_t want[2];
    for (int k = 0; k < 2; k++) {
        if (k && strncmp(p, " data=", 6)) return vkc_fail("%s: corrupt: its checksum entry is damaged", o);
        if (k) p += 6;
        char hex[9];
        memcpy(hex, p, 8);
        hex[8] = 0;
        if (strspn(hex, "0123456789abcdef") != 8) return vkc_fail("%s: corrupt: its checksum entry is damaged", o);
        want[k] = (uint32_t)strtoul(hex, NULL, 16);
        p += 8;
    }
    if (*p != '"') return vkc_fail("%s: corrupt: its checksum entry is damaged", o);
    size_t entry_len = (size_t)(p + 1 - entry);
    uint32_t got = header_crc(h, st->header_bytes, entry, entry_len);
    if (got != want[0])
        return vkc_fail("%s: corrupt: its header does not match its checksum (CRC-32 %08" PRIx32 ", recorded %08" PRIx32
                        "); the file was damaged or edited",
                        o, got, want[0]);
    st->checksummed = true;
    st->data_crc = want[1];
    return VKC_OK;
}

/* Every F32 value finite: a run stops at a non-finite loss before it saves, so NaN or infinite
 * weights mean a damaged or edited file (re-signed, the checksum cannot tell), and a model
 * loaded from one would compute nothing but NaN. */
static int check_finite(const Safetensors *st)
{
    for (int i = 0; i < st->nentries; i++) {
        const Entry *e = &st->entries[i];
        if (strcmp(e->dtype, "F32")) continue;
        for (uint64_t k = 0; k < (e->end - e->begin) / 4; k++) {
            float v;
            memcpy(&v, st->data + e->begin + 4 * k, 4);
            if (!isfinite(v))
                return vkc_fail("%s: tensor '%s' holds %s at element %" PRIu64 ": refusing a checkpoint with non-finite "
                                "values (a diverged run saves none: the file was damaged or edited)",
                                st->origin, e->name, isnan(v) ? "NaN" : "an infinite value", k);
        }
    }
    return VKC_OK;
}

/* The header (bytes after the length), the data (NULL: not read) and the file's size. */
static int st_parse(Safetensors *st, const char *origin, const uint8_t *head, size_t n, const uint8_t *data,
                    size_t data_bytes)
{
    memset(st, 0, sizeof *st);
    st->origin = origin;
    st->header_bytes = n;
    st->data = data;
    st->data_bytes = data_bytes;
    if (memchr(head, 0, n)) return vkc_fail("%s: corrupt: a NUL byte in the safetensors header", origin);
    if (!(st->text = malloc(n + 1))) return vkc_fail("out of host memory reading %s", origin);
    memcpy(st->text, head, n);
    st->text[n] = 0;
    if (check_sum(st)) return VKC_ERR;
    const char *end = NULL;
    st->json = cJSON_ParseWithOpts(st->text, &end, false);
    if (!st->json) return vkc_fail("%s: corrupt or not a safetensors file: its header is not valid JSON", origin);
    if (!cJSON_IsObject(st->json)) return vkc_fail("%s: not a safetensors file: its header is not a JSON object", origin);
    /* A name twice (a tensor, a metadata key, a field of an entry): readers would disagree on which counts. */
    if (vkc_json_check_unique(st->json, origin)) return VKC_ERR;
    for (const char *q = end; *q; q++)
        if (*q != ' ')
            return vkc_fail("%s: corrupt: bytes after the header's JSON that are not padding spaces (at offset %zu)",
                            origin, (size_t)(q - st->text) + 8);
    int members = cJSON_GetArraySize(st->json);
    if (!(st->entries = calloc((size_t)members + 1, sizeof *st->entries))) return vkc_fail("out of host memory reading %s", origin);
    const cJSON *t;
    cJSON_ArrayForEach(t, st->json)
    {
        if (!strcmp(t->string, "__metadata__")) {
            if (st->meta) return vkc_fail("%s: corrupt header: __metadata__ twice", origin);
            if (!cJSON_IsObject(t)) return vkc_fail("%s: corrupt header: __metadata__ is not an object", origin);
            const cJSON *v;
            cJSON_ArrayForEach(v, t) if (!cJSON_IsString(v))
                return vkc_fail("%s: corrupt header: __metadata__ '%s' is not a string", origin, v->string);
            st->meta = t;
            continue;
        }
        if (parse_entry(st, t, &st->entries[st->nentries])) return VKC_ERR;
        st->nentries++;
    }
    /* Names are unique, and the tensors tile the data: no holes, no overlaps, nothing after. */
    qsort(st->entries, (size_t)st->nentries, sizeof *st->entries, by_name);
    for (int i = 1; i < st->nentries; i++)
        if (!strcmp(st->entries[i].name, st->entries[i - 1].name))
            return vkc_fail("%s: corrupt header: tensor '%s' twice", origin, st->entries[i].name);
    Entry *order = malloc(((size_t)st->nentries + 1) * sizeof *order);
    if (!order) return vkc_fail("out of host memory reading %s", origin);
    memcpy(order, st->entries, (size_t)st->nentries * sizeof *order);
    qsort(order, (size_t)st->nentries, sizeof *order, by_begin);
    uint64_t pos = 0;
    int rc = VKC_OK;
    for (int i = 0; i < st->nentries && !rc; i++) {
        if (order[i].begin != pos)
            rc = vkc_fail("%s: corrupt header: tensor '%s' starts at byte %" PRIu64 " of the data, the one before ends at %" PRIu64
                          " (a hole or an overlap)",
                          origin, order[i].name, order[i].begin, pos);
        pos = order[i].end;
    }
    free(order);
    if (rc) return VKC_ERR;
    if (pos > data_bytes)
        return vkc_fail("%s: truncated: its header lists %" PRIu64 " bytes of tensor data, the file holds %zu", origin, pos,
                        data_bytes);
    if (pos < data_bytes)
        return vkc_fail("%s: corrupt: %zu bytes after the last tensor's data (the tensors list %" PRIu64 ")", origin,
                        data_bytes - (size_t)pos, pos);
    if (st->checksummed && data) {
        uint32_t got = crc32_bytes(0, data, data_bytes);
        if (got != st->data_crc)
            return vkc_fail("%s: corrupt: its %zu bytes of tensor data do not match its checksum (CRC-32 %08" PRIx32
                            ", recorded %08" PRIx32 ")",
                            origin, data_bytes, got, st->data_crc);
    }
    return data ? check_finite(st) : VKC_OK;
}

/* Read `path`: the header, and the data too if want_data. */
static int st_read(Safetensors *st, const char *path, bool want_data, uint8_t **file)
{
    memset(st, 0, sizeof *st);
    *file = NULL;
    /* (a FIFO is refused, not waited on) */
    FILE *f = vkc_fopen_regular(path, "rb");
    if (!f) return errno == EINVAL ? VKC_ERR : vkc_fail("cannot open checkpoint %s: %s", path, strerror(errno));
    struct stat sb;
    int rc = VKC_ERR;
    uint8_t len[8];
    if (fstat(fileno(f), &sb)) {
        vkc_fail("%s: %s", path, strerror(errno));
        goto done;
    }
    size_t size = (size_t)sb.st_size;
    if (size < 8 || fread(len, 1, 8, f) != 8) {
        vkc_fail("%s: truncated (no safetensors header)", path);
        goto done;
    }
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= (uint64_t)len[i] << (8 * i);
    if (n < 2 || n > HEADER_MAX) {
        vkc_fail("%s: not a safetensors file (header length %" PRIu64 ")", path, n);
        goto done;
    }
    if (n > size - 8) {
        vkc_fail("%s: truncated header (%" PRIu64 " bytes long, the file holds %zu after its length)", path, n, size - 8);
        goto done;
    }
    size_t want = want_data ? size - 8 : (size_t)n;
    if (!(*file = malloc(want + 1))) {
        vkc_fail("out of host memory reading %s (%zu bytes)", path, want);
        goto done;
    }
    if (fread(*file, 1, want, f) != want) {
        vkc_fail("%s: cannot read %zu bytes: %s", path, want, ferror(f) ? strerror(errno) : "the file ended early");
        goto done;
    }
    rc = st_parse(st, path, *file, (size_t)n, want_data ? *file + n : NULL, size - 8 - (size_t)n);
done:
    fclose(f);
    return rc;
}

/* One metadata number: decimal digits only, at most `max`. */
static int meta_number(const Safetensors *st, const char *key, bool required, int64_t max, int64_t *v)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(st->meta, key);
    *v = 0;
    if (!x) return required ? vkc_fail("%s: no '%s' in the checkpoint metadata", st->origin, key) : VKC_OK;
    const char *s = x->valuestring;
    size_t n = strspn(s, "0123456789");
    if (n == 0 || s[n] || n > 13)
        return vkc_fail("%s: checkpoint metadata '%s' is \"%.40s\", not a count of steps", st->origin, key, s);
    *v = strtoll(s, NULL, 10);
    if (*v > max)
        return vkc_fail("%s: checkpoint metadata '%s' is %" PRId64 ", beyond any schedule (at most %" PRId64 ")", st->origin,
                        key, *v, max);
    return VKC_OK;
}

/* "STEPS SUM SUM ...": the metrics interval in progress. */
static int meta_interval(const Safetensors *st, VkcTrainState *m)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(st->meta, "interval");
    m->interval_steps = m->interval_nsums = 0;
    if (!x) return VKC_OK; /* written before intervals were saved */
    const char *s = x->valuestring, *p = s;
    size_t n = strspn(p, "0123456789");
    if (n == 0 || n > 9 || (p[n] && p[n] != ' '))
        return vkc_fail("%s: checkpoint metadata 'interval' is \"%.40s\", not a step count and sums", st->origin, s);
    m->interval_steps = (int)strtol(p, NULL, 10);
    p += n;
    while (*p) {
        char *end;
        if (*p != ' ' || m->interval_nsums == VKC_CHECKPOINT_MAX_SUMS)
            return vkc_fail("%s: checkpoint metadata 'interval' is \"%.40s\", not a step count and at most %d sums",
                            st->origin, s, VKC_CHECKPOINT_MAX_SUMS);
        size_t span = vkc_decimal_span(p + 1, false);
        double v = span ? strtod(p + 1, &end) : NAN;
        if (!span || end != p + 1 + span || !isfinite(v) || (*end && *end != ' '))
            return vkc_fail("%s: checkpoint metadata 'interval' holds \"%.30s\", not a finite number", st->origin, p + 1);
        m->interval_sums[m->interval_nsums++] = v;
        p = end;
    }
    return VKC_OK;
}

/* The loss scale of an fp16 run (1 when the metadata has none): a power of two. */
static int meta_scale(const Safetensors *st, double *scale)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(st->meta, "loss_scale");
    *scale = 1.0;
    if (!x) return VKC_OK;
    char *end = NULL;
    size_t span = vkc_decimal_span(x->valuestring, false);
    double v = span && x->valuestring[0] != '-' && x->valuestring[0] != '+' ? strtod(x->valuestring, &end) : 0;
    int e;
    if (!end || *end || !(v > 0) || !isfinite(v) || frexp(v, &e) != 0.5 || e < -60 || e > 60)
        return vkc_fail("%s: checkpoint metadata 'loss_scale' is not a power of two in [2^-60, 2^60]", st->origin);
    *scale = v;
    return VKC_OK;
}

/* Metadata and configuration of a parsed file. */
static int read_meta(const Safetensors *st, VkcTrainConfig *cfg, VkcTrainState *m)
{
    const char *o = st->origin;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(st->meta, "format");
    const cJSON *config = cJSON_GetObjectItemCaseSensitive(st->meta, "config");
    const cJSON *sum = cJSON_GetObjectItemCaseSensitive(st->meta, "checksum");
    bool v1 = cJSON_IsString(fmt) && !strcmp(fmt->valuestring, FORMAT_V1);
    if (!cJSON_IsString(fmt) || (!v1 && strcmp(fmt->valuestring, FORMAT)))
        return vkc_fail("%s: not a vkclr training checkpoint (no format %s in its metadata)", o, FORMAT);
    /* A checksum entry that check_sum did not find where vkclr writes it was damaged. */
    if ((sum != NULL) != st->checksummed || (!v1 && !sum))
        return vkc_fail("%s: corrupt: its checksum entry is missing or damaged", o);
    if (!st->checksummed) {
        static atomic_flag warned = ATOMIC_FLAG_INIT; /* once per process, whichever thread reads first (libvkclr) */
        if (!atomic_flag_test_and_set(&warned))
            fprintf(stderr, "vkclr: warning: %s has no checksum (format %s: written by an older vkclr or another "
                            "program): read without an integrity check\n", o, FORMAT_V1);
    }
    if (!cJSON_IsString(config)) return vkc_fail("%s: no configuration in the checkpoint metadata", o);
    VkcTrainConfig scratch;
    if (vkc_config_from_json(config->valuestring, o, cfg ? cfg : &scratch)) return VKC_ERR;
    VkcTrainState mine;
    if (!m) m = &mine;
    memset(m, 0, sizeof *m);
    m->checksummed = st->checksummed;
    if (meta_number(st, "step", true, INT64_C(1) << 40, &m->step) ||
        meta_number(st, "epoch", false, INT64_C(1) << 40, &m->epoch) || meta_interval(st, m) ||
        meta_scale(st, &m->loss_scale) ||
        (m->loss_scale != 1.0 && meta_number(st, "loss_scale_clean_steps", true, INT64_C(1) << 40, &m->loss_scale_clean)))
        return VKC_ERR;
    const cJSON *pending = cJSON_GetObjectItemCaseSensitive(st->meta, "knn_pending");
    if (pending && strcmp(pending->valuestring, "1"))
        return vkc_fail("%s: checkpoint metadata 'knn_pending' is \"%.20s\", not 1", o, pending->valuestring);
    m->knn_pending = pending != NULL;
    const cJSON *last = cJSON_GetObjectItemCaseSensitive(st->meta, "last");
    if (last) {
        char *end;
        const char *p = last->valuestring;
        double l = vkc_decimal_span(p, false) ? strtod(p, &end) : NAN;
        double a = isfinite(l) && *end == ' ' && vkc_decimal_span(end + 1, false) ? strtod(end + 1, &end) : NAN;
        if (!isfinite(l) || !isfinite(a) || *end || fabs(l) > 1e30 || fabs(a) > 1e30)
            return vkc_fail("%s: checkpoint metadata 'last' is \"%.40s\", not a loss and an accuracy", o, p);
        m->have_last = true;
        m->last_loss = (float)l;
        m->last_accuracy = (float)a;
    }
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

/* The configuration and step of a checkpoint file; with want_data its tensor data is read and checked too. */
static int read_file_meta(const char *path, bool want_data, VkcTrainConfig *cfg, int64_t *step)
{
    Safetensors st;
    uint8_t *file;
    VkcTrainState m;
    int rc = st_read(&st, path, want_data, &file) || read_meta(&st, cfg, &m) ? VKC_ERR : VKC_OK;
    if (!rc && step) *step = m.step;
    st_free(&st);
    free(file);
    return rc;
}

int vkc_checkpoint_read_config(const char *path, VkcTrainConfig *cfg, int64_t *step)
{
    return read_file_meta(path, false, cfg, step);
}

int vkc_checkpoint_check_file(const char *path, VkcTrainConfig *cfg, int64_t *step)
{
    return read_file_meta(path, true, cfg, step);
}

int vkc_checkpoint_check_bytes(const uint8_t *bytes, size_t size, const char *origin, VkcTrainConfig *cfg,
                               VkcTrainState *meta)
{
    if (size < 8) return vkc_fail("%s: truncated (no safetensors header)", origin);
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= (uint64_t)bytes[i] << (8 * i);
    if (n < 2 || n > HEADER_MAX) return vkc_fail("%s: not a safetensors file (header length %" PRIu64 ")", origin, n);
    if (n > size - 8) return vkc_fail("%s: truncated header (%" PRIu64 " bytes long, %zu follow its length)", origin, n, size - 8);
    Safetensors st;
    int rc = st_parse(&st, origin, bytes + 8, (size_t)n, bytes + 8 + n, size - 8 - (size_t)n) || read_meta(&st, cfg, meta)
                 ? VKC_ERR
                 : VKC_OK;
    st_free(&st);
    return rc;
}

/* Copy tensor `name` (count floats of the expected shape) out of a loaded file. */
static int take(const Safetensors *st, const char *name, int ndim, const uint32_t *shape, size_t count, float *dst)
{
    Entry key = {.name = name};
    const Entry *e = bsearch(&key, st->entries, (size_t)st->nentries, sizeof *e, by_name);
    const char *o = st->origin;
    if (!e) return vkc_fail("%s: tensor '%s' is missing (a checkpoint of another architecture?)", o, name);
    if (strcmp(e->dtype, "F32")) return vkc_fail("%s: tensor '%s' is %s, not F32", o, name, e->dtype);
    if (e->ndim != ndim) return vkc_fail("%s: tensor '%s' has %d dimensions, the model's %d", o, name, e->ndim, ndim);
    for (int d = 0; d < ndim; d++)
        if (e->shape[d] != shape[d])
            return vkc_fail("%s: tensor '%s' has dimension %d of %" PRIu64 ", the model has %u", o, name, d, e->shape[d],
                            shape[d]);
    if (e->end - e->begin != (uint64_t)count * 4) return vkc_fail("%s: tensor '%s' has the wrong size", o, name);
    memcpy(dst, st->data + e->begin, count * 4);
    return VKC_OK;
}

/* The model's tensors (and the optimizer's state: `state`, state_floats) from a read file into
 * host arrays laid out as m's named-tensor table says. */
static int take_all(const Safetensors *st, const VkcModel *m, float *params, float *buffers, float *state,
                    size_t state_floats)
{
    for (int i = 0; i < m->ntensors; i++) {
        const VkcNamedTensor *nt = &m->tensors[i];
        if (take(st, nt->name, nt->ndim, nt->shape, nt->count, (nt->role == VKC_T_PARAM ? params : buffers) + nt->offset))
            return VKC_ERR;
    }
    uint32_t sshape[1] = {(uint32_t)state_floats};
    return state && take(st, "optimizer.state", 1, sshape, state_floats, state) ? VKC_ERR : VKC_OK;
}

int vkc_checkpoint_load_host(const char *path, const VkcModel *m, float *params, float *buffers)
{
    Safetensors st = {0};
    uint8_t *file = NULL;
    int rc = st_read(&st, path, true, &file) || read_meta(&st, NULL, NULL) || take_all(&st, m, params, buffers, NULL, 0)
                 ? VKC_ERR
                 : VKC_OK;
    st_free(&st);
    free(file);
    return rc;
}

int vkc_checkpoint_load(const char *path, VkcModel *m, VkcOptim *opt, VkcTrainState *meta)
{
    Safetensors st = {0};
    uint8_t *file = NULL;
    VkcTrainState mine;
    if (!meta) meta = &mine;
    size_t sbytes = opt ? opt->state.size : 0;
    float *p = calloc(m->nparams + 1, 4), *b = calloc(m->nbuffers + 1, 4), *s = malloc(sbytes + 4);
    int rc = VKC_ERR;
    if (!p || !b || !s) {
        vkc_fail("out of host memory reading %s", path);
        goto done;
    }
    if (st_read(&st, path, true, &file) || read_meta(&st, NULL, meta) ||
        take_all(&st, m, p, b, opt ? s : NULL, sbytes / 4))
        goto done;
    if (vkc_upload(m->ctx, m->params, p, m->nparams * 4) || vkc_upload(m->ctx, m->buffers, b, m->nbuffers * 4) ||
        (sbytes && vkc_upload(m->ctx, opt->state, s, sbytes)))
        goto done;
    rc = VKC_OK;
done:
    st_free(&st);
    free(file);
    free(p);
    free(b);
    free(s);
    return rc;
}

int vkc_checkpoint_load_model(const char *path, VkcModel *m) { return vkc_checkpoint_load(path, m, NULL, NULL); }
