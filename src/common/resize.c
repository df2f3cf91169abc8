/* Separable triangle-filter resampling (what PIL calls BILINEAR): output pixel i covers input
 * coordinates around centre (i + 0.5) * in / out; when shrinking, the triangle is stretched by
 * the scale so every input pixel contributes (antialiasing); when enlarging it is plain
 * bilinear interpolation. */
#include <math.h>

#include "vkclr/resize.h"

static float triangle(float x)
{
    x = fabsf(x);
    return x < 1.0f ? 1.0f - x : 0.0f;
}

/* The filter along one axis: input pixels per output pixel, and the triangle's half-width. */
typedef struct {
    int in;
    float scale, stretch, inv_stretch;
} Filter;

static Filter make_filter(int in, int out)
{
    Filter f = {.in = in, .scale = (float)in / (float)out};
    f.stretch = f.scale > 1.0f ? f.scale : 1.0f;
    f.inv_stretch = 1.0f / f.stretch;
    return f;
}

/* Taps of output coordinate i: first input index *start, *count weights summing to 1. */
static void filter_taps(const Filter *f, int i, float *weights, int *start, int *count)
{
    int in = f->in;
    float scale = f->scale, stretch = f->stretch, inv_stretch = f->inv_stretch;
    float centre = (i + 0.5f) * scale;
    int lo = (int)(centre - stretch + 0.5f);
    int hi = (int)(centre + stretch + 0.5f);
    if (lo < 0) lo = 0;
    if (hi > in) hi = in;
    float sum = 0.0f;
    for (int x = lo; x < hi; x++) {
        weights[x - lo] = triangle((x + 0.5f - centre) * inv_stretch);
        sum += weights[x - lo];
    }
    float inv_sum = 1.0f / sum;
    for (int x = lo; x < hi; x++) weights[x - lo] *= inv_sum;
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
    return (size_t)h * ow * c + (size_t)ow * c + (size_t)taps;
}

static uint8_t to_u8(float v)
{
    v = v < 0.0f ? 0.0f : v;
    v = v > 255.0f ? 255.0f : v;
    return (uint8_t)(int)(v + 0.5f);
}

/* One output column of the horizontal pass for every row; C is a constant in each caller so
 * the channel loop unrolls. */
static inline void horizontal_column(const uint8_t *src, int h, size_t stride, int C, const float *weights,
                                     int start, int count, float *out, size_t out_stride)
{
    for (int y = 0; y < h; y++) {
        const uint8_t *in = src + (size_t)y * stride + (size_t)start * C;
        for (int ch = 0; ch < C; ch++) {
            float acc = 0.0f;
            for (int k = 0; k < count; k++) acc += weights[k] * in[k * C + ch];
            out[(size_t)y * out_stride + ch] = acc;
        }
    }
}

void vkc_resize_u8(const uint8_t *src, int h, int w, size_t stride, int c,
                   uint8_t *dst, int oh, int ow, float *scratch)
{
    size_t row_len = (size_t)ow * c;
    float *rows = scratch;                       /* h x ow x c: resized horizontally */
    float *acc = rows + (size_t)h * row_len;     /* one output row being summed */
    float *weights = acc + row_len;
    int start, count;
    Filter fx = make_filter(w, ow), fy = make_filter(h, oh);
    /* horizontal pass: each output column's taps are computed once and used for every row */
    for (int ox = 0; ox < ow; ox++) {
        filter_taps(&fx, ox, weights, &start, &count);
        float *out = rows + (size_t)ox * c;
        if (c == 3) horizontal_column(src, h, stride, 3, weights, start, count, out, row_len);
        else if (c == 1) horizontal_column(src, h, stride, 1, weights, start, count, out, row_len);
        else horizontal_column(src, h, stride, c, weights, start, count, out, row_len);
    }
    /* vertical pass: each output row is a weighted sum of whole input rows */
    for (int oy = 0; oy < oh; oy++) {
        filter_taps(&fy, oy, weights, &start, &count);
        for (size_t j = 0; j < row_len; j++) acc[j] = 0.0f;
        for (int k = 0; k < count; k++) {
            const float *row = rows + (size_t)(start + k) * row_len;
            for (size_t j = 0; j < row_len; j++) acc[j] += weights[k] * row[j];
        }
        uint8_t *out = dst + (size_t)oy * row_len;
        for (size_t j = 0; j < row_len; j++) out[j] = to_u8(acc[j]);
    }
}
