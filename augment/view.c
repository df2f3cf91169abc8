/* One augmented view: the ops of ops.c chained in SimCLR's order, with the random choices
 * drawn from the view's own generator. */
#include <stdlib.h>
#include <string.h>

#include "vkclr/augment.h"
#include "vkclr/resize.h"

struct VkcAugmenter {
    VkcAugmentConfig cfg;
    int height, width, channels;  /* source images */
    int out_height, out_width;    /* views */
    int blur_kernel;
    uint8_t *view;                /* out_height x out_width x channels */
    float *scratch;               /* resize and blur intermediates */
};

int vkc_augmenter_create(VkcAugmenter **out, const VkcAugmentConfig *cfg, int height, int width, int channels)
{
    *out = NULL;
    if (vkc_augment_check(cfg, channels)) return VKC_ERR;
    if (height < 1 || width < 1 || (channels != 1 && channels != 3))
        return vkc_fail("augment: images must be gray or RGB, not %dx%dx%d", height, width, channels);
    VkcAugmenter *a = calloc(1, sizeof *a);
    if (!a) return vkc_fail("augment: out of memory");
    a->cfg = *cfg;
    a->height = height;
    a->width = width;
    a->channels = channels;
    a->out_height = cfg->out_height ? cfg->out_height : height;
    a->out_width = cfg->out_width ? cfg->out_width : width;
    /* SimCLR: kernel 10% of the side, odd */
    int side = a->out_height < a->out_width ? a->out_height : a->out_width;
    a->blur_kernel = cfg->blur_kernel ? cfg->blur_kernel : (side / 10) | 1;
    if (a->blur_kernel < 3 && !cfg->blur_kernel) a->blur_kernel = 3;
    /* a crop box is never larger than the image, so the full image bounds the resize scratch */
    size_t resize = vkc_resize_scratch_floats(height, width, a->out_height, a->out_width, channels);
    size_t blur = (size_t)a->out_height * a->out_width * channels;
    a->view = malloc(blur);
    a->scratch = malloc((resize > blur ? resize : blur) * sizeof(float));
    if (!a->view || !a->scratch) {
        vkc_augmenter_destroy(a);
        return vkc_fail("augment: out of memory for %dx%d views", a->out_height, a->out_width);
    }
    *out = a;
    return VKC_OK;
}

void vkc_augmenter_destroy(VkcAugmenter *a)
{
    if (!a) return;
    free(a->view);
    free(a->scratch);
    free(a);
}

void vkc_augmenter_out_size(const VkcAugmenter *a, int *height, int *width)
{
    *height = a->out_height;
    *width = a->out_width;
}

typedef enum { BRIGHTNESS, CONTRAST, SATURATION, HUE } JitterOp;

/* torchvision ColorJitter: the ops with non-zero strength, in a random order, each with a
 * random factor. A gray image has no saturation or hue to change. */
static void color_jitter(const VkcAugmentConfig *cfg, uint8_t *img, size_t pixels, int c, VkcRng *rng)
{
    JitterOp ops[4];
    int n = 0;
    if (cfg->brightness > 0.0f) ops[n++] = BRIGHTNESS;
    if (cfg->contrast > 0.0f) ops[n++] = CONTRAST;
    if (c == 3 && cfg->saturation > 0.0f) ops[n++] = SATURATION;
    if (c == 3 && cfg->hue > 0.0f) ops[n++] = HUE;
    for (int i = n - 1; i > 0; i--) {  /* Fisher-Yates */
        int j = vkc_rng_int(rng, i + 1);
        JitterOp t = ops[i];
        ops[i] = ops[j];
        ops[j] = t;
    }
    for (int i = 0; i < n; i++) {
        float s;
        switch (ops[i]) {
        case BRIGHTNESS:
            s = cfg->brightness;
            vkc_aug_brightness(img, pixels, c, vkc_rng_range(rng, s < 1.0f ? 1.0f - s : 0.0f, 1.0f + s));
            break;
        case CONTRAST:
            s = cfg->contrast;
            vkc_aug_contrast(img, pixels, c, vkc_rng_range(rng, s < 1.0f ? 1.0f - s : 0.0f, 1.0f + s));
            break;
        case SATURATION:
            s = cfg->saturation;
            vkc_aug_saturation(img, pixels, vkc_rng_range(rng, s < 1.0f ? 1.0f - s : 0.0f, 1.0f + s));
            break;
        case HUE:
            vkc_aug_hue(img, pixels, vkc_rng_range(rng, -cfg->hue, cfg->hue));
            break;
        }
    }
}

void vkc_augment_view_u8(VkcAugmenter *a, const uint8_t *src, VkcRng *rng, uint8_t *out)
{
    const VkcAugmentConfig *cfg = &a->cfg;
    int C = a->channels, oh = a->out_height, ow = a->out_width;
    size_t pixels = (size_t)oh * ow;

    int y, x, h, w;
    vkc_aug_crop_box(rng, a->height, a->width, cfg->scale, cfg->ratio, &y, &x, &h, &w);
    size_t stride = (size_t)a->width * C;
    vkc_resize_u8(src + y * stride + (size_t)x * C, h, w, stride, C, out, oh, ow, a->scratch);

    if (vkc_rng_uniform(rng) < cfg->flip_p) vkc_aug_hflip(out, oh, ow, C);
    if (vkc_rng_uniform(rng) < cfg->jitter_p) color_jitter(cfg, out, pixels, C, rng);
    if (C == 3 && vkc_rng_uniform(rng) < cfg->gray_p) vkc_aug_grayscale(out, pixels);
    if (vkc_rng_uniform(rng) < cfg->blur_p)
        vkc_aug_blur(out, oh, ow, C, a->blur_kernel, vkc_rng_range(rng, cfg->blur_sigma[0], cfg->blur_sigma[1]),
                     a->scratch);
    if (vkc_rng_uniform(rng) < cfg->solarize_p) vkc_aug_solarize(out, pixels * C, cfg->solarize_threshold);
}

void vkc_augment_view(VkcAugmenter *a, const uint8_t *src, VkcRng *rng, float *out)
{
    vkc_augment_view_u8(a, src, rng, a->view);
    vkc_normalize(a->view, a->out_height, a->out_width, a->channels, a->cfg.mean, a->cfg.std, out);
}
