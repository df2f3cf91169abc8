/* Separable triangle-filter resampling (what PIL calls BILINEAR): output pixel i covers input
 * coordinates around centre (i + 0.5) * in / out; when shrinking, the triangle is stretched by
 * the scale so every input pixel contributes (antialiasing); when enlarging it is plain
 * bilinear interpolation. */
#include <math.h>

#include "internal.h"

static float triangle(float x)
{
    x = fabsf(x);
    return x < 1.0f ? 1.0f - x : 0.0f;
}

/* Taps of output coordinate i: first input index *start, *count weights summing to 1. */
static void filter_taps(int i, int in, int out, float *weights, int *start, int *count)
{
    float scale = (float)in / (float)out;
    float stretch = scale > 1.0f ? scale : 1.0f;
    float centre = (i + 0.5f) * scale;
    int lo = (int)(centre - stretch + 0.5f);
    int hi = (int)(centre + stretch + 0.5f);
    if (lo < 0) lo = 0;
    if (hi > in) hi = in;
    float sum = 0.0f;
    for (int x = lo; x < hi; x++) {
        weights[x - lo] = triangle((x + 0.5f - centre) / stretch);
        sum += weights[x - lo];
    }
    for (int x = lo; x < hi; x++) weights[x - lo] /= sum;
    *start = lo;
    *count = hi - lo;
}

static int max_taps(int in, int out)
{
    float scale = (float)in / (float)out;
    return (int)ceilf(2.0f * (scale > 1.0f ? scale : 1.0f)) + 2;
}

size_t vkc_resize_scratch_floats(int h, int w, int oh, int ow, int c)
{
    int taps = max_taps(w, ow) > max_taps(h, oh) ? max_taps(w, ow) : max_taps(h, oh);
    return (size_t)h * ow * c + (size_t)taps;
}

static uint8_t to_u8(float v)
{
    if (v <= 0.0f) return 0;
    if (v >= 255.0f) return 255;
    return (uint8_t)(v + 0.5f);
}

void vkc_resize_u8(const uint8_t *src, int h, int w, size_t stride, int c,
                   uint8_t *dst, int oh, int ow, float *scratch)
{
    float *rows = scratch;                      /* h x ow x c: resized horizontally */
    float *weights = scratch + (size_t)h * ow * c;
    int start, count;
    /* horizontal pass: each output column's taps are computed once and used for every row */
    for (int ox = 0; ox < ow; ox++) {
        filter_taps(ox, w, ow, weights, &start, &count);
        for (int y = 0; y < h; y++) {
            const uint8_t *in = src + (size_t)y * stride + (size_t)start * c;
            float *out = rows + ((size_t)y * ow + ox) * c;
            for (int ch = 0; ch < c; ch++) {
                float acc = 0.0f;
                for (int k = 0; k < count; k++) acc += weights[k] * in[k * c + ch];
                out[ch] = acc;
            }
        }
    }
    /* vertical pass over whole rows */
    size_t row_len = (size_t)ow * c;
    for (int oy = 0; oy < oh; oy++) {
        filter_taps(oy, h, oh, weights, &start, &count);
        uint8_t *out = dst + (size_t)oy * row_len;
        for (size_t j = 0; j < row_len; j++) {
            float acc = 0.0f;
            for (int k = 0; k < count; k++) acc += weights[k] * rows[(size_t)(start + k) * row_len + j];
            out[j] = to_u8(acc);
        }
    }
}
