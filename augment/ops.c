/* The augmentation ops on uint8 HWC images (randomness from vkclr/rng.h).
 * Each op follows torchvision's definition (which follows PIL's): blends are computed in
 * float and rounded back to uint8 after every op, as PIL images are. */
#include <math.h>
#include <string.h>

#include "vkclr/augment.h"

/* ---------------------------------------------------------------- geometry */

void vkc_aug_crop_box(VkcRng *rng, int H, int W, const float scale[2], const float ratio[2],
                      int *y, int *x, int *h, int *w)
{
    /* torchvision RandomResizedCrop.get_params: up to 10 tries at a box of random area and
     * log-uniform aspect ratio that fits, else the largest centred box within the ratio range */
    float area = (float)H * (float)W;
    float log_lo = logf(ratio[0]), log_hi = logf(ratio[1]);
    for (int attempt = 0; attempt < 10; attempt++) {
        float target = area * vkc_rng_range(rng, scale[0], scale[1]);
        float aspect = expf(vkc_rng_range(rng, log_lo, log_hi));
        int cw = (int)lrintf(sqrtf(target * aspect));
        int ch = (int)lrintf(sqrtf(target / aspect));
        if (cw > 0 && cw <= W && ch > 0 && ch <= H) {
            *y = vkc_rng_int(rng, H - ch + 1);
            *x = vkc_rng_int(rng, W - cw + 1);
            *h = ch;
            *w = cw;
            return;
        }
    }
    float in_ratio = (float)W / (float)H;
    int cw = W, ch = H;
    if (in_ratio < ratio[0]) ch = (int)lrintf(W / ratio[0]);
    else if (in_ratio > ratio[1]) cw = (int)lrintf(H * ratio[1]);
    if (ch < 1) ch = 1;
    if (cw < 1) cw = 1;
    *y = (H - ch) / 2;
    *x = (W - cw) / 2;
    *h = ch;
    *w = cw;
}

void vkc_aug_hflip(uint8_t *img, int h, int w, int c)
{
    for (int y = 0; y < h; y++) {
        uint8_t *row = img + (size_t)y * w * c;
        for (int l = 0, r = w - 1; l < r; l++, r--)
            for (int k = 0; k < c; k++) {
                uint8_t t = row[l * c + k];
                row[l * c + k] = row[r * c + k];
                row[r * c + k] = t;
            }
    }
}

/* ---------------------------------------------------------------- colour */

static inline uint8_t to_u8(float v)
{
    /* written as selects so that loops of it vectorise */
    v = v < 0.0f ? 0.0f : v;
    v = v > 255.0f ? 255.0f : v;
    return (uint8_t)(int)(v + 0.5f);
}

/* Brightness and contrast map each byte value to a new one: make the 256-entry table
 * x -> x * factor + bias once, then look every byte up. */
static void apply_linear(uint8_t *img, size_t bytes, float factor, float bias)
{
    uint8_t table[256];
    for (int v = 0; v < 256; v++) table[v] = to_u8(v * factor + bias);
    for (size_t i = 0; i < bytes; i++) img[i] = table[img[i]];
}

void vkc_aug_brightness(uint8_t *img, size_t pixels, int c, float factor)
{
    /* blend with black */
    apply_linear(img, pixels * c, factor, 0.0f);
}

void vkc_aug_contrast(uint8_t *img, size_t pixels, int c, float factor)
{
    /* blend with the mean gray level of the whole image */
    uint64_t sum = 0;
    for (size_t p = 0; p < pixels; p++) sum += c == 3 ? vkc_luma(img[3 * p], img[3 * p + 1], img[3 * p + 2]) : img[p];
    float mean = pixels ? (float)sum / (float)pixels : 0.0f;
    apply_linear(img, pixels * c, factor, mean * (1.0f - factor));
}

void vkc_aug_saturation(uint8_t *img, size_t pixels, float factor)
{
    /* blend each pixel with its own gray level */
    for (size_t p = 0; p < pixels; p++) {
        uint8_t *px = img + 3 * p;
        float gray = vkc_luma(px[0], px[1], px[2]) * (1.0f - factor);
        for (int k = 0; k < 3; k++) px[k] = to_u8(px[k] * factor + gray);
    }
}

static inline int max3(int a, int b, int c) { return a > b ? (a > c ? a : c) : (b > c ? b : c); }
static inline int min3(int a, int b, int c) { return a < b ? (a < c ? a : c) : (b < c ? b : c); }

void vkc_aug_hue(uint8_t *img, size_t pixels, float shift)
{
    /* Rotate the hue in HSV space by `shift` turns, keeping saturation and value. In HSV terms
     * a pixel's largest channel stays max, its smallest stays min, and the hue decides which
     * channel is which and where the third lies between them: so only the hue is computed. */
    for (size_t p = 0; p < pixels; p++) {
        uint8_t *px = img + 3 * p;
        int r = px[0], g = px[1], b = px[2];
        int maxc = max3(r, g, b), minc = min3(r, g, b), chroma = maxc - minc;
        if (chroma == 0) continue;  /* gray: no hue to rotate */
        float inv = 1.0f / (float)chroma;
        float h6;  /* hue in sixths of a turn */
        if (maxc == r) h6 = (float)(g - b) * inv;
        else if (maxc == g) h6 = (float)(b - r) * inv + 2.0f;
        else h6 = (float)(r - g) * inv + 4.0f;
        h6 += 6.0f * shift;
        h6 -= 6.0f * floorf(h6 * (1.0f / 6.0f));
        int sector = (int)h6;
        float f = h6 - (float)sector;
        float hi = (float)maxc, lo = (float)minc;
        float rise = lo + chroma * f, fall = hi - chroma * f;
        float out[3];
        switch (sector) {
        case 0: out[0] = hi, out[1] = rise, out[2] = lo; break;
        case 1: out[0] = fall, out[1] = hi, out[2] = lo; break;
        case 2: out[0] = lo, out[1] = hi, out[2] = rise; break;
        case 3: out[0] = lo, out[1] = fall, out[2] = hi; break;
        case 4: out[0] = rise, out[1] = lo, out[2] = hi; break;
        default: out[0] = hi, out[1] = lo, out[2] = fall; break;
        }
        for (int k = 0; k < 3; k++) px[k] = to_u8(out[k]);
    }
}

void vkc_aug_grayscale(uint8_t *img, size_t pixels)
{
    for (size_t p = 0; p < pixels; p++) {
        uint8_t *px = img + 3 * p;
        px[0] = px[1] = px[2] = vkc_luma(px[0], px[1], px[2]);
    }
}

void vkc_aug_solarize(uint8_t *img, size_t bytes, int threshold)
{
    for (size_t i = 0; i < bytes; i++)
        if (img[i] >= threshold) img[i] = (uint8_t)(255 - img[i]);
}

/* ---------------------------------------------------------------- blur */

/* index i reflected into [0, n) without repeating the edge: -1 -> 1, n -> n - 2 */
static int reflect(int i, int n)
{
    if (n == 1) return 0;
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
}

#define MAX_KERNEL 255

void vkc_aug_blur(uint8_t *img, int h, int w, int c, int kernel, float sigma, float *scratch)
{
    if (kernel > MAX_KERNEL) kernel = MAX_KERNEL;
    int radius = kernel / 2;
    float weight[MAX_KERNEL];
    float sum = 0.0f;
    for (int k = -radius; k <= radius; k++) {
        float x = k / sigma;
        weight[k + radius] = expf(-0.5f * x * x);
        sum += weight[k + radius];
    }
    for (int k = 0; k < 2 * radius + 1; k++) weight[k] /= sum;

    /* horizontal pass into float scratch, vertical pass back into the image */
    for (int y = 0; y < h; y++) {
        const uint8_t *row = img + (size_t)y * w * c;
        float *out = scratch + (size_t)y * w * c;
        for (int x = 0; x < w; x++)
            for (int ch = 0; ch < c; ch++) {
                float acc = 0.0f;
                for (int k = -radius; k <= radius; k++) acc += weight[k + radius] * row[reflect(x + k, w) * c + ch];
                out[x * c + ch] = acc;
            }
    }
    size_t row_len = (size_t)w * c;
    for (int y = 0; y < h; y++)
        for (size_t j = 0; j < row_len; j++) {
            float acc = 0.0f;
            for (int k = -radius; k <= radius; k++) acc += weight[k + radius] * scratch[reflect(y + k, h) * row_len + j];
            img[y * row_len + j] = to_u8(acc);
        }
}

/* ---------------------------------------------------------------- to float */

void vkc_normalize(const uint8_t *img, int h, int w, int c, const float *mean, const float *std, float *out)
{
    size_t pixels = (size_t)h * w;
    for (int ch = 0; ch < c; ch++) {
        /* (x / 255 - mean) / std as one multiply-add */
        float scale = 1.0f / (255.0f * std[ch]), bias = -mean[ch] / std[ch];
        float *plane = out + ch * pixels;
        for (size_t p = 0; p < pixels; p++) plane[p] = img[p * c + ch] * scale + bias;
    }
}
