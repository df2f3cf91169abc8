/* One augmented view: the ops of ops.c chained in SimCLR's order, with the random choices
 * drawn from the view's own generator. The crop box is drawn first, so that a caller decoding
 * the image on demand can choose how small a JPEG may be decoded (vkc_max_reduce) before the
 * rest of the view is made from it. */
#include <stdlib.h>
#include <string.h>

#include "vkclr/augment.h"
#include "vkclr/resize.h"

struct VkcAugmenter {
    VkcAugmentConfig cfg;
    int height, width, channels;  /* source images of vkc_augment_view / _u8 */
    int out_height, out_width;    /* views */
    int blur_kernel;
    float blur_scale;             /* blur sigma per pixel of VKC_BLUR_REFERENCE_SIDE */
    uint8_t *view;                /* out_height x out_width x channels */
    float *scratch;               /* resize and blur intermediates */
    size_t scratch_floats;
};

/* Room for a resize of an h x w box (and the blur), grown as images of other sizes come. */
static int reserve_scratch(VkcAugmenter *a, int h, int w)
{
    size_t resize = vkc_resize_scratch_floats(h, w, a->out_height, a->out_width, a->channels);
    size_t blur = (size_t)a->out_height * a->out_width * a->channels;
    size_t need = resize > blur ? resize : blur;
    if (need <= a->scratch_floats) return VKC_OK;
    float *p = realloc(a->scratch, need * sizeof *p);
    if (!p) return vkc_fail("augment: out of memory for a %dx%d crop", h, w);
    a->scratch = p;
    a->scratch_floats = need;
    return VKC_OK;
}

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
    a->blur_scale = (float)side / VKC_BLUR_REFERENCE_SIDE;
    /* a crop box is never larger than the image: the full image bounds the resize scratch of
     * vkc_augment_view (images of other sizes grow it) */
    a->view = malloc((size_t)a->out_height * a->out_width * channels);
    if (!a->view || reserve_scratch(a, height, width)) {
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

void vkc_augment_view_box(const VkcAugmenter *a, VkcRng *rng, int height, int width, VkcBox *box)
{
    vkc_aug_crop_box(rng, height, width, a->cfg.scale, a->cfg.ratio, &box->y, &box->x, &box->h, &box->w);
}

/* The view after its crop: box (in img's pixels) resized to the view, then the colour ops. */
static void finish_view(VkcAugmenter *a, const uint8_t *src, size_t stride, const VkcBox *b, VkcRng *rng,
                        uint8_t *out)
{
    const VkcAugmentConfig *cfg = &a->cfg;
    int C = a->channels, oh = a->out_height, ow = a->out_width;
    size_t pixels = (size_t)oh * ow;
    vkc_resize_u8(src + b->y * stride + (size_t)b->x * C, b->h, b->w, stride, C, out, oh, ow, a->scratch);

    if (vkc_rng_uniform(rng) < cfg->flip_p) vkc_aug_hflip(out, oh, ow, C);
    if (vkc_rng_uniform(rng) < cfg->jitter_p) color_jitter(cfg, out, pixels, C, rng);
    if (C == 3 && vkc_rng_uniform(rng) < cfg->gray_p) vkc_aug_grayscale(out, pixels);
    if (vkc_rng_uniform(rng) < cfg->blur_p)
        vkc_aug_blur(out, oh, ow, C, a->blur_kernel,
                     a->blur_scale * vkc_rng_range(rng, cfg->blur_sigma[0], cfg->blur_sigma[1]), a->scratch);
    if (vkc_rng_uniform(rng) < cfg->solarize_p) vkc_aug_solarize(out, pixels * C, cfg->solarize_threshold);
}

void vkc_augment_view_u8(VkcAugmenter *a, const uint8_t *src, VkcRng *rng, uint8_t *out)
{
    VkcBox box;
    vkc_augment_view_box(a, rng, a->height, a->width, &box);
    finish_view(a, src, (size_t)a->width * a->channels, &box, rng, out);
}

void vkc_augment_view(VkcAugmenter *a, const uint8_t *src, VkcRng *rng, float *out)
{
    vkc_augment_view_u8(a, src, rng, a->view);
    vkc_normalize(a->view, a->out_height, a->out_width, a->channels, a->cfg.mean, a->cfg.std, out);
}

/* A box of the full-resolution image in the pixels of img (decoded at 1/reduce): divided and
 * rounded outwards, at least one pixel, inside the image. */
static VkcBox reduced_box(const VkcImage *img, const VkcBox *b)
{
    int r = img->reduce;
    if (r <= 1) return *b;
    int y0 = b->y / r, x0 = b->x / r, y1 = (b->y + b->h + r - 1) / r, x1 = (b->x + b->w + r - 1) / r;
    if (y1 > img->height) y1 = img->height;
    if (x1 > img->width) x1 = img->width;
    if (y0 >= y1) y0 = y1 - 1;
    if (x0 >= x1) x0 = x1 - 1;
    return (VkcBox){.y = y0, .x = x0, .h = y1 - y0, .w = x1 - x0};
}

int vkc_augment_view_image_u8(VkcAugmenter *a, const VkcImage *img, const VkcBox *box, VkcRng *rng, uint8_t *out)
{
    if (img->channels != a->channels)
        return vkc_fail("augment: a %d-channel image for %d-channel views", img->channels, a->channels);
    VkcBox b = reduced_box(img, box);
    if (reserve_scratch(a, b.h, b.w)) return VKC_ERR;
    finish_view(a, img->pixels, img->stride, &b, rng, out);
    return VKC_OK;
}

int vkc_augment_view_image(VkcAugmenter *a, const VkcImage *img, const VkcBox *box, VkcRng *rng, float *out)
{
    if (vkc_augment_view_image_u8(a, img, box, rng, a->view)) return VKC_ERR;
    vkc_normalize(a->view, a->out_height, a->out_width, a->channels, a->cfg.mean, a->cfg.std, out);
    return VKC_OK;
}

/* The centred box of the view's aspect ratio that fills the image as far as it can: what is
 * left of the image after resizing its shorter side to the view and cropping the centre. */
void vkc_eval_box(int height, int width, int out_height, int out_width, VkcBox *box)
{
    /* the largest h x w inside height x width with w / h = out_width / out_height */
    int64_t h = height, w = (int64_t)height * out_width / out_height;
    if (w > width) w = width, h = (int64_t)width * out_height / out_width;
    if (h < 1) h = 1;
    if (w < 1) w = 1;
    *box = (VkcBox){.y = (int)((height - h) / 2), .x = (int)((width - w) / 2), .h = (int)h, .w = (int)w};
}

int vkc_eval_view(const VkcImage *img, const VkcBox *full_box, int out_height, int out_width, uint8_t *out,
                  float **scratch, size_t *scratch_floats)
{
    VkcBox b = reduced_box(img, full_box);
    int C = img->channels;
    size_t need = vkc_resize_scratch_floats(b.h, b.w, out_height, out_width, C);
    if (need > *scratch_floats) {
        float *p = realloc(*scratch, need * sizeof *p);
        if (!p) return vkc_fail("out of memory resizing a %dx%d image", b.w, b.h);
        *scratch = p;
        *scratch_floats = need;
    }
    vkc_resize_u8(img->pixels + b.y * img->stride + (size_t)b.x * C, b.h, b.w, img->stride, C, out, out_height,
                  out_width, *scratch);
    return VKC_OK;
}
