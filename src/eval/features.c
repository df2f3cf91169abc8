/* Sharded feature matrices, the extraction driver and the raw-pixel extractor. */
#include <stdlib.h>
#include <string.h>

#include "input.h"
#include "vkclr/features.h"
#include "vkclr/interrupt.h"

/* ---------------------------------------------------------------- evaluation input */

int eval_input_init(EvalInput *in, int height, int width, int channels)
{
    memset(in, 0, sizeof *in);
    in->height = height, in->width = width, in->channels = channels;
    if (!(in->view = malloc((size_t)height * width * channels))) return vkc_fail("out of memory");
    return vkc_decoder_create(&in->decoder);
}

void eval_input_free(EvalInput *in)
{
    vkc_decoder_destroy(in->decoder);
    free(in->view);
    free(in->scratch);
    memset(in, 0, sizeof *in);
}

int eval_input_image(EvalInput *in, const VkcDataset *ds, const VkcSplit *split, int i, const uint8_t **pixels)
{
    if (ds->channels != in->channels)
        return vkc_fail("the encoder takes %d-channel images, the data has %d", in->channels, ds->channels);
    int h, w;
    vkc_image_size(ds, split, i, &h, &w);
    if (!split->refs && h == in->height && w == in->width) {
        *pixels = vkc_image(ds, split, i);
        return VKC_OK;
    }
    VkcBox box;
    vkc_eval_box(h, w, in->height, in->width, &box);
    VkcImage img;
    if (vkc_decode_image(in->decoder, ds, split, i, vkc_max_reduce(box.h, box.w, in->height, in->width), &img) ||
        vkc_eval_view(&img, &box, in->height, in->width, in->view, &in->scratch, &in->scratch_floats))
        return VKC_ERR;
    *pixels = in->view;
    return VKC_OK;
}

int vkc_features_alloc(VkcFeatures *f, VkcArena *arena, uint32_t n, uint32_t dim, VkDeviceSize max_shard_bytes)
{
    memset(f, 0, sizeof *f);
    if (!n || !dim) return vkc_fail("features: empty matrix (%u rows of %u)", n, dim);
    VkDeviceSize cap = arena->ctx->props.limits.maxStorageBufferRange;
    if (cap > (64u << 20)) cap = 64u << 20;
    if (max_shard_bytes && max_shard_bytes < cap) cap = max_shard_bytes;
    VkDeviceSize row_bytes = (VkDeviceSize)dim * 4;
    if (row_bytes > cap) return vkc_fail("features: one row of %u floats exceeds a shard of %llu bytes", dim,
                                         (unsigned long long)cap);
    f->n = n, f->dim = dim;
    f->shard_rows = (uint32_t)(cap / row_bytes < n ? cap / row_bytes : n);
    f->nshards = vkc_div_up(n, f->shard_rows);
    if (f->nshards > VKC_FEATURES_MAX_SHARDS)
        return vkc_fail("features: %u rows of %u floats need %u shards (at most %d)", n, dim, f->nshards,
                        VKC_FEATURES_MAX_SHARDS);
    for (uint32_t s = 0; s < f->nshards; s++)
        if (vkc_tensor_alloc(arena, vkc_features_shard_n(f, s) * row_bytes, &f->shards[s])) return VKC_ERR;
    return vkc_tensor_alloc(arena, (VkDeviceSize)n * 4, &f->labels);
}

/* Apply op to the pieces of rows [row0, row0 + count) in each shard. */
static int rows_io(VkcContext *ctx, const VkcFeatures *f, uint32_t row0, uint32_t count, float *x, bool up)
{
    if (row0 > f->n || count > f->n - row0)
        return vkc_fail("features: rows [%u, %u) outside the %u rows", row0, row0 + count, f->n);
    while (count) {
        uint32_t s = row0 / f->shard_rows, in = row0 - s * f->shard_rows;
        uint32_t take = vkc_features_shard_n(f, s) - in;
        if (take > count) take = count;
        VkDeviceSize row_bytes = (VkDeviceSize)f->dim * 4;
        VkcTensor t = vkc_tensor_slice(f->shards[s], in * row_bytes, take * row_bytes);
        int rc = up ? vkc_upload(ctx, t, x, take * row_bytes) : vkc_download(ctx, t, x, take * row_bytes);
        if (rc) return VKC_ERR;
        x += (size_t)take * f->dim, row0 += take, count -= take;
    }
    return VKC_OK;
}

int vkc_features_upload(VkcContext *ctx, VkcFeatures *f, uint32_t row0, uint32_t count, const float *x)
{
    return rows_io(ctx, f, row0, count, (float *)x, true);
}

int vkc_features_download(VkcContext *ctx, const VkcFeatures *f, uint32_t row0, uint32_t count, float *x)
{
    return rows_io(ctx, f, row0, count, x, false);
}

int vkc_features_set_labels(VkcContext *ctx, VkcFeatures *f, const int32_t *labels, uint32_t nclasses)
{
    uint32_t *u = malloc((size_t)f->n * 4);
    if (!u) return vkc_fail("out of memory");
    for (uint32_t i = 0; i < f->n; i++) {
        if (labels[i] < 0 || (uint32_t)labels[i] >= nclasses) {
            free(u);
            return vkc_fail("features: label %d of row %u is outside [0, %u)", labels[i], i, nclasses);
        }
        u[i] = (uint32_t)labels[i];
    }
    int rc = vkc_upload(ctx, f->labels, u, (size_t)f->n * 4);
    free(u);
    return rc;
}

int vkc_extract_features(VkcExtractor *x, VkcContext *ctx, const VkcDataset *ds, const VkcSplit *split,
                         uint32_t limit, VkcArena *arena, VkcFeatures *out)
{
    uint32_t n = (uint32_t)split->n;
    if (limit && limit < n) n = limit;
    if (!n) return vkc_fail("%s: the split has no images", x->name);
    if (vkc_features_alloc(out, arena, n, x->dim, 0) ||
        (split->labels && vkc_features_set_labels(ctx, out, split->labels, ds->nclasses)))
        return VKC_ERR;
    if (x->extract(x, ctx, ds, split, 0, n, out, 0)) return vkc_fail_context("%s features", x->name);
    return VKC_OK;
}

void vkc_extractor_destroy(VkcExtractor *x)
{
    if (x->destroy) x->destroy(x);
    memset(x, 0, sizeof *x);
}

/* ---------------------------------------------------------------- raw pixels */

/* Images are converted and uploaded in blocks of this many (4096 x 784 floats: 12.8 MB). */
#define PIXEL_BLOCK 4096u

/* The pixels of the dataset's image size: a resident image as it is, a collection's image as
 * evaluation prepares it (shorter side resized, centre cropped). */
static int pixels_extract(VkcExtractor *x, VkcContext *ctx, const VkcDataset *ds, const VkcSplit *split, uint32_t first,
                          uint32_t count, VkcFeatures *out, uint32_t row0)
{
    size_t dim = vkc_image_bytes(ds);
    if (dim != x->dim || out->dim != x->dim)
        return vkc_fail("pixel features: dataset images have %zu values, extractor %u, matrix %u", dim, x->dim, out->dim);
    if (first > (uint32_t)split->n || count > (uint32_t)split->n - first)
        return vkc_fail("pixel features: images [%u, %u) outside the split's %d", first, first + count, split->n);
    uint32_t block = count < PIXEL_BLOCK ? count : PIXEL_BLOCK;
    float *buf = malloc((size_t)block * dim * sizeof(float));
    EvalInput in;
    int rc = buf ? eval_input_init(&in, ds->height, ds->width, ds->channels) : vkc_fail("out of memory");
    for (uint32_t done = 0; done < count && !rc; done += block) {
        uint32_t m = count - done < block ? count - done : block;
        if ((rc = vkc_interrupt_check("pixel features"))) break;
        for (uint32_t k = 0; k < m && !rc; k++) {
            const uint8_t *px;
            if ((rc = eval_input_image(&in, ds, split, (int)(first + done + k), &px))) break;
            for (size_t i = 0; i < dim; i++) buf[k * dim + i] = px[i] * (1.0f / 255.0f);
        }
        if (!rc) rc = vkc_features_upload(ctx, out, row0 + done, m, buf);
    }
    if (buf) eval_input_free(&in);
    free(buf);
    return rc;
}

int vkc_extractor_pixels(VkcExtractor *x, const VkcDataset *ds)
{
    memset(x, 0, sizeof *x);
    size_t dim = vkc_image_bytes(ds);
    if (!dim || dim > (1u << 24)) return vkc_fail("pixel features: images of %zu values", dim);
    snprintf(x->name, sizeof x->name, "pixels");
    x->dim = (uint32_t)dim;
    x->extract = pixels_extract;
    return VKC_OK;
}
