/* Augmentation presets, and setting any parameter by name ("scale=0.2:1"). */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "vkclr/augment.h"

/* Chen et al. 2020 (SimCLR), appendix A: colour distortion of strength s is
 * ColorJitter(0.8s, 0.8s, 0.8s, 0.2s) applied with p 0.8, then grayscale with p 0.2. */
static void simclr_jitter(VkcAugmentConfig *cfg, float strength)
{
    cfg->jitter_p = 0.8f;
    cfg->brightness = cfg->contrast = cfg->saturation = 0.8f * strength;
    cfg->hue = 0.2f * strength;
    cfg->gray_p = 0.2f;
}

const char *vkc_augment_default_preset(int channels, int height, int width)
{
    return channels == 1 ? "gray" : height <= 64 && width <= 64 ? "cifar" : "simclr";
}

int vkc_augment_preset(const char *name, VkcAugmentConfig *cfg)
{
    *cfg = (VkcAugmentConfig){
        .scale = {0.08f, 1.0f},
        .ratio = {3.0f / 4.0f, 4.0f / 3.0f},
        .flip_p = 0.5f,
        .blur_sigma = {0.1f, 2.0f},
        .solarize_threshold = 128,
        .mean = {0.5f, 0.5f, 0.5f},
        .std = {0.5f, 0.5f, 0.5f},
    };
    if (!strcmp(name, "simclr")) {
        simclr_jitter(cfg, 1.0f);
        cfg->blur_p = 0.5f;
        memcpy(cfg->mean, (float[3]){0.485f, 0.456f, 0.406f}, sizeof cfg->mean);
        memcpy(cfg->std, (float[3]){0.229f, 0.224f, 0.225f}, sizeof cfg->std);
    } else if (!strcmp(name, "cifar")) {
        simclr_jitter(cfg, 0.5f);
        memcpy(cfg->mean, (float[3]){0.4914f, 0.4822f, 0.4465f}, sizeof cfg->mean);
        memcpy(cfg->std, (float[3]){0.2470f, 0.2435f, 0.2616f}, sizeof cfg->std);
    } else if (!strcmp(name, "gray")) {
        /* small glyph-like images: keep at least 20% of the area; gray has no hue or saturation */
        cfg->scale[0] = 0.2f;
        cfg->jitter_p = 0.8f;
        cfg->brightness = cfg->contrast = 0.4f;
        for (int c = 0; c < 3; c++) cfg->mean[c] = 0.2860f, cfg->std[c] = 0.3530f;
    } else {
        return vkc_fail("unknown augmentation preset '%s' (expected simclr, cifar or gray)", name);
    }
    return VKC_OK;
}

/* ---------------------------------------------------------------- by name */

typedef enum { FLOATS, INTS, SIZE } Kind;

static const struct {
    const char *key;
    Kind kind;
    size_t offset;
    int count;  /* values; mean/std also take a single value for all channels */
    const char *help;
} params[] = {
    {"size", SIZE, offsetof(VkcAugmentConfig, out_height), 2, "view size HxW or N (0 = image size)"},
    {"scale", FLOATS, offsetof(VkcAugmentConfig, scale), 2, "crop area fraction range"},
    {"ratio", FLOATS, offsetof(VkcAugmentConfig, ratio), 2, "crop aspect ratio (w/h) range"},
    {"flip_p", FLOATS, offsetof(VkcAugmentConfig, flip_p), 1, "horizontal flip probability"},
    {"jitter_p", FLOATS, offsetof(VkcAugmentConfig, jitter_p), 1, "colour jitter probability"},
    {"brightness", FLOATS, offsetof(VkcAugmentConfig, brightness), 1, "brightness factor in [1-x, 1+x]"},
    {"contrast", FLOATS, offsetof(VkcAugmentConfig, contrast), 1, "contrast factor in [1-x, 1+x]"},
    {"saturation", FLOATS, offsetof(VkcAugmentConfig, saturation), 1, "saturation factor in [1-x, 1+x]"},
    {"hue", FLOATS, offsetof(VkcAugmentConfig, hue), 1, "hue shift in [-x, x] turns, x <= 0.5"},
    {"gray_p", FLOATS, offsetof(VkcAugmentConfig, gray_p), 1, "random grayscale probability"},
    {"blur_p", FLOATS, offsetof(VkcAugmentConfig, blur_p), 1, "Gaussian blur probability"},
    {"blur_sigma", FLOATS, offsetof(VkcAugmentConfig, blur_sigma), 2, "blur sigma range (pixels)"},
    {"blur_kernel", INTS, offsetof(VkcAugmentConfig, blur_kernel), 1, "odd blur kernel size (0 = 10% of side)"},
    {"solarize_p", FLOATS, offsetof(VkcAugmentConfig, solarize_p), 1, "solarize probability"},
    {"solarize_threshold", INTS, offsetof(VkcAugmentConfig, solarize_threshold), 1, "solarize pixels >= this"},
    {"mean", FLOATS, offsetof(VkcAugmentConfig, mean), 3, "normalisation mean per channel (0..1)"},
    {"std", FLOATS, offsetof(VkcAugmentConfig, std), 3, "normalisation std per channel (0..1)"},
};
#define NPARAMS (int)(sizeof params / sizeof params[0])

/* Parse "v1:v2:..." (or "HxW" for size) into up to `max` doubles. */
static int parse_values(const char *key, const char *text, char sep, double *out, int max, int *n)
{
    *n = 0;
    const char *p = text;
    for (;;) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || !isfinite(v)) return vkc_fail("augmentation %s: '%s' is not a number list", key, text);
        if (*n == max) return vkc_fail("augmentation %s: '%s' has more than %d values", key, text, max);
        out[(*n)++] = v;
        if (*end == '\0' || *end == ',') return VKC_OK;
        if (*end != sep) return vkc_fail("augmentation %s: '%s' is not a number list", key, text);
        p = end + 1;
    }
}

static int set_one(VkcAugmentConfig *cfg, const char *assignment, size_t len)
{
    const char *eq = memchr(assignment, '=', len);
    if (!eq) return vkc_fail("augmentation: '%.*s' is not KEY=VALUE", (int)len, assignment);
    size_t key_len = (size_t)(eq - assignment);
    char value[128];
    snprintf(value, sizeof value, "%.*s", (int)(len - key_len - 1), eq + 1);
    for (int i = 0; i < NPARAMS; i++) {
        if (strlen(params[i].key) != key_len || strncmp(params[i].key, assignment, key_len)) continue;
        const char *key = params[i].key;
        double v[3];
        int n;
        if (parse_values(key, value, params[i].kind == SIZE ? 'x' : ':', v, params[i].count, &n)) return VKC_ERR;
        char *field = (char *)cfg + params[i].offset;
        if (params[i].kind == FLOATS) {
            bool broadcast = params[i].count == 3 && n == 1;
            for (int k = 0; k < n; k++)
                if (fabs(v[k]) > FLT_MAX) return vkc_fail("augmentation %s: '%s' does not fit a float", key, value);
            if (n != params[i].count && !broadcast)
                return vkc_fail("augmentation %s: expected %d values separated by ':', got '%s'", key, params[i].count, value);
            for (int k = 0; k < params[i].count; k++) ((float *)field)[k] = (float)v[broadcast ? 0 : k];
        } else {
            for (int k = 0; k < n; k++)
                if (v[k] != floor(v[k]) || v[k] < 0 || v[k] > 65536)
                    return vkc_fail("augmentation %s: '%s' is not a non-negative integer", key, value);
            if (params[i].kind == SIZE) {
                cfg->out_height = (int)v[0];
                cfg->out_width = (int)v[n == 2 ? 1 : 0];
            } else {
                *(int *)field = (int)v[0];
            }
        }
        return VKC_OK;
    }
    return vkc_fail("augmentation: unknown parameter '%.*s' (see vkclr augment --help)", (int)key_len, assignment);
}

int vkc_augment_set(VkcAugmentConfig *cfg, const char *assignments)
{
    const char *p = assignments;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len && set_one(cfg, p, len)) return VKC_ERR;
        p += len;
        if (*p == ',') p++;
    }
    return VKC_OK;
}

void vkc_augment_print(FILE *out, const VkcAugmentConfig *cfg, const char *indent)
{
    for (int i = 0; i < NPARAMS; i++) {
        const char *field = (const char *)cfg + params[i].offset;
        char value[96];
        if (params[i].kind == SIZE) snprintf(value, sizeof value, "%dx%d", cfg->out_height, cfg->out_width);
        else if (params[i].kind == INTS) snprintf(value, sizeof value, "%d", *(const int *)field);
        else {
            const float *f = (const float *)field;
            int n = snprintf(value, sizeof value, "%g", f[0]);
            for (int k = 1; k < params[i].count; k++) n += snprintf(value + n, sizeof value - n, ":%g", f[k]);
        }
        fprintf(out, "%s%s=%-18s %s\n", indent, params[i].key, value, params[i].help);
    }
}

static bool probability(float p) { return p >= 0.0f && p <= 1.0f; }

int vkc_augment_check(const VkcAugmentConfig *c, int channels)
{
    if (c->out_height < 0 || c->out_width < 0 || c->out_height > 4096 || c->out_width > 4096 ||
        (c->out_height == 0) != (c->out_width == 0))
        return vkc_fail("augmentation size=%dx%d: both 0 (image size) or both in 1..4096", c->out_height, c->out_width);
    if (!(c->scale[0] > 0.0f && c->scale[0] <= c->scale[1] && c->scale[1] <= 1.0f))
        return vkc_fail("augmentation scale=%g:%g: need 0 < min <= max <= 1", c->scale[0], c->scale[1]);
    if (!(c->ratio[0] >= 1e-3f && c->ratio[0] <= c->ratio[1] && c->ratio[1] <= 1e3f))
        return vkc_fail("augmentation ratio=%g:%g: need 0.001 <= min <= max <= 1000", c->ratio[0], c->ratio[1]);
    const struct { const char *key; float p; } probs[] = {
        {"flip_p", c->flip_p}, {"jitter_p", c->jitter_p}, {"gray_p", c->gray_p},
        {"blur_p", c->blur_p}, {"solarize_p", c->solarize_p},
    };
    for (size_t i = 0; i < sizeof probs / sizeof probs[0]; i++)
        if (!probability(probs[i].p)) return vkc_fail("augmentation %s=%g: not a probability in [0, 1]", probs[i].key, probs[i].p);
    /* A factor beyond 1e4 saturates every pixel anyway; beyond float range it makes NaNs. */
    if (!(c->brightness >= 0.0f && c->contrast >= 0.0f && c->saturation >= 0.0f && c->brightness <= 1e4f &&
          c->contrast <= 1e4f && c->saturation <= 1e4f))
        return vkc_fail("augmentation brightness=%g, contrast=%g, saturation=%g: each must be in [0, 10000]",
                        c->brightness, c->contrast, c->saturation);
    if (!(c->hue >= 0.0f && c->hue <= 0.5f)) return vkc_fail("augmentation hue=%g: need 0 <= hue <= 0.5", c->hue);
    if (!(c->blur_sigma[0] > 0.0f && c->blur_sigma[0] <= c->blur_sigma[1] && c->blur_sigma[1] <= 1e3f))
        return vkc_fail("augmentation blur_sigma=%g:%g: need 0 < min <= max <= 1000", c->blur_sigma[0], c->blur_sigma[1]);
    if (c->blur_kernel != 0 && (c->blur_kernel % 2 == 0 || c->blur_kernel > 255))
        return vkc_fail("augmentation blur_kernel=%d: must be odd and at most 255 (or 0 for automatic)", c->blur_kernel);
    if (c->solarize_threshold < 0 || c->solarize_threshold > 256)
        return vkc_fail("augmentation solarize_threshold=%d: need 0..256", c->solarize_threshold);
    for (int k = 0; k < channels; k++) {
        if (!(c->std[k] >= 1e-6f && c->std[k] <= 1e3f))
            return vkc_fail("augmentation std: channel %d is %g, must be in [1e-6, 1000]", k, c->std[k]);
        if (!(c->mean[k] >= -1e3f && c->mean[k] <= 1e3f))
            return vkc_fail("augmentation mean: channel %d is %g, must be in [-1000, 1000]", k, c->mean[k]);
    }
    return VKC_OK;
}
