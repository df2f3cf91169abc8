/* The evaluation transform and the embedder (vkclr/embed.h). */
#include <stdlib.h>
#include <string.h>

#include "vkclr/embed.h"

int vkc_run_augment(const VkcTrainConfig *cfg, VkcAugmentConfig *aug)
{
    const VkcModelConfig *mc = &cfg->model;
    const char *preset =
        cfg->preset[0] ? cfg->preset : vkc_augment_default_preset(mc->channels, mc->height, mc->width_px);
    if (vkc_augment_preset(preset, aug) || (cfg->aug[0] && vkc_augment_set(aug, cfg->aug)))
        return vkc_fail_context("augmentation '%s' / '%s' of the run", preset, cfg->aug);
    return VKC_OK;
}

VkcModelConfig vkc_run_eval_model(const VkcTrainConfig *cfg, const VkcContext *ctx, int precision)
{
    VkcModelConfig mc = cfg->model;
    if (precision < 0) precision = cfg->precision < 0 ? VKC_F32 : cfg->precision;
    mc.act_dtype = ctx->dtype_ok[precision] ? (VkcDtype)precision : VKC_F32;
    return mc;
}

void vkc_eval_scratch_free(VkcEvalScratch *s)
{
    free(s->converted);
    free(s->resized);
    free(s->scratch);
    memset(s, 0, sizeof *s);
}

static int grow(void **p, size_t *have, size_t need)
{
    if (need <= *have) return VKC_OK;
    void *q = realloc(*p, need);
    if (!q) return vkc_fail("out of host memory for a %zu-byte image buffer", need);
    *p = q;
    *have = need;
    return VKC_OK;
}

int vkc_eval_image(const uint8_t *img, int h, int w, int c, size_t stride, int C, int H, int W, const float *mean,
                   const float *std, VkcEvalScratch *s, float *out)
{
    if (c != 1 && c != 3) return vkc_fail("an image of %d channels (1: gray, 3: RGB)", c);
    /* 1. channels, at the image's own size */
    if (c != C) {
        if (grow((void **)&s->converted, &s->converted_bytes, (size_t)h * w * C)) return VKC_ERR;
        for (int y = 0; y < h; y++) {
            const uint8_t *src = img + y * stride;
            uint8_t *dst = s->converted + (size_t)y * w * C;
            for (int x = 0; x < w; x++, src += c, dst += C) {
                if (C == 3) dst[0] = dst[1] = dst[2] = src[0];
                else dst[0] = vkc_luma(src[0], src[1], src[2]);
            }
        }
        img = s->converted;
        stride = (size_t)w * C;
    }
    /* 2. size: the shorter side resized to the input's, the centre cropped */
    if (h != H || w != W || stride != (size_t)w * C) {
        if (!s->resized && !(s->resized = malloc((size_t)H * W * C)))
            return vkc_fail("out of host memory for a %dx%d image", W, H);
        VkcImage full = {.pixels = img, .height = h, .width = w, .channels = C, .stride = stride, .reduce = 1};
        VkcBox box;
        vkc_eval_box(h, w, H, W, &box);
        if (vkc_eval_view(&full, &box, H, W, s->resized, &s->scratch, &s->scratch_floats)) return VKC_ERR;
        img = s->resized;
    }
    /* 3. normalisation, CHW */
    vkc_normalize(img, H, W, C, mean, std, out);
    return VKC_OK;
}

/* ---------------------------------------------------------------- the embedder */

static int embedder_init(VkcEmbedder *e, VkcModel *m, const VkcAugmentConfig *aug)
{
    e->model = m;
    e->aug = *aug;
    int C = m->cfg.channels, H = m->cfg.height, W = m->cfg.width_px;
    if (m->max_batch >= 1u << (VKC_EMBED_CLASSES - 1)) return vkc_fail("embedder: batch %u too large", m->max_batch);
    vkc_arena_init(&e->host, m->ctx, VKC_MEMORY_STAGING);
    return vkc_tensor_alloc(&e->host, (VkDeviceSize)m->max_batch * C * H * W * 4, &e->input) ||
                   vkc_tensor_alloc(&e->host, (VkDeviceSize)m->max_batch * m->features * 4, &e->out[0]) ||
                   vkc_tensor_alloc(&e->host, (VkDeviceSize)m->max_batch * m->cfg.out_dim * 4, &e->out[1])
               ? VKC_ERR
               : VKC_OK;
}

int vkc_embedder_borrow(VkcEmbedder *e, VkcModel *m, const VkcAugmentConfig *aug)
{
    memset(e, 0, sizeof *e);
    return embedder_init(e, m, aug);
}

int vkc_embedder_build(VkcEmbedder *e, VkcContext *ctx, const VkcModelConfig *cfg, const VkcAugmentConfig *aug,
                       uint32_t max_batch)
{
    memset(e, 0, sizeof *e);
    e->owns = true;
    vkc_arena_init(&e->dev, ctx, VKC_MEMORY_DEVICE);
    if (vkc_model_check(cfg) || vkc_model_kernels_init(ctx, &e->kernels)) return VKC_ERR;
    uint32_t batch = max_batch ? max_batch : 1;
    for (;;) {
        VkDeviceSize total, largest;
        if (vkc_model_memory(ctx, &e->kernels.layers, cfg, batch, &total, &largest)) return VKC_ERR;
        if (largest <= ctx->props.limits.maxStorageBufferRange || batch == 1) break;
        batch /= 2;
    }
    if (vkc_model_create(&e->own, ctx, &e->kernels.layers, &e->kernels.linear, cfg, batch, &e->dev)) return VKC_ERR;
    return embedder_init(e, &e->own, aug);
}

void vkc_embedder_destroy(VkcEmbedder *e)
{
    for (int p = 0; p < 2; p++)
        for (int k = 0; k < VKC_EMBED_CLASSES; k++)
            if (e->recorded[p][k]) vkc_cmd_destroy(&e->cmd[p][k]);
    vkc_arena_destroy(&e->host);
    if (e->owns) {
        vkc_model_destroy(&e->own);
        vkc_model_kernels_destroy(&e->kernels);
        vkc_arena_destroy(&e->dev);
    }
    vkc_eval_scratch_free(&e->eval);
    memset(e, 0, sizeof *e);
}

int vkc_embedder_put(VkcEmbedder *e, uint32_t i, const uint8_t *img, int h, int w, int c, size_t stride)
{
    const VkcModelConfig *mc = &e->model->cfg;
    size_t image_floats = (size_t)mc->channels * mc->height * mc->width_px;
    if (i >= e->model->max_batch) return vkc_fail("embedder: slot %u of a batch of %u", i, e->model->max_batch);
    return vkc_eval_image(img, h, w, c, stride, mc->channels, mc->height, mc->width_px, e->aug.mean, e->aug.std,
                          &e->eval, (float *)e->input.mapped + i * image_floats);
}

/* The command buffer that runs `batch` images and copies their rows out, on first use. */
static int record(VkcEmbedder *e, int projections, int k, uint32_t batch)
{
    VkcModel *m = e->model;
    VkcCmd *cmd = &e->cmd[projections][k];
    if (vkc_cmd_init(m->ctx, cmd)) return VKC_ERR;
    e->recorded[projections][k] = true;
    bool profile = m->profile;
    m->profile = false;
    VkcTensor rows = projections ? vkc_model_embed_tensor(m) : vkc_model_features_tensor(m);
    int rc = vkc_cmd_begin(cmd) || vkc_model_forward(m, cmd, e->input, batch, false, projections) ||
             vkc_cmd_copy(cmd, e->out[projections], rows, (VkDeviceSize)batch * vkc_embedder_dim(e, projections) * 4) ||
             vkc_cmd_end(cmd);
    m->profile = profile;
    if (rc) {
        vkc_cmd_destroy(cmd);
        e->recorded[projections][k] = false;
    }
    return rc ? VKC_ERR : VKC_OK;
}

int vkc_embedder_run(VkcEmbedder *e, uint32_t n, bool projections, const float **rows)
{
    VkcModel *m = e->model;
    if (n == 0 || n > m->max_batch) return vkc_fail("embedder: %u images for a batch of 1..%u", n, m->max_batch);
    /* the smallest size class that holds n, its slots past n zeroed */
    int k = 0;
    while ((1u << k) < n) k++;
    uint32_t batch = 1u << k < m->max_batch ? 1u << k : m->max_batch;
    const VkcModelConfig *mc = &m->cfg;
    size_t image_floats = (size_t)mc->channels * mc->height * mc->width_px;
    memset((float *)e->input.mapped + n * image_floats, 0, (batch - n) * image_floats * sizeof(float));
    int p = projections;
    if ((!e->recorded[p][k] && record(e, p, k, batch)) || vkc_cmd_submit_wait(&e->cmd[p][k])) return VKC_ERR;
    *rows = e->out[p].mapped;
    return VKC_OK;
}
