#include "rig.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref.h"
#include "vkclr/half.h"

int rig_init_dtype(Rig *g, VkcContext *ctx, VkcDtype act, VkcCheckResult *r)
{
    memset(g, 0, sizeof *g);
    if (!ctx->dtype_ok[act]) {
        r->skipped = true;
        snprintf(r->detail, sizeof r->detail, "%s activations not run: %s lacks 16-bit storage buffers or the 16-bit "
                 "texel formats", vkc_dtype_name(act), ctx->props.deviceName);
        vkc_error_clear();
        return VKC_ERR;
    }
    if (rig_init(g, ctx)) return VKC_ERR;
    g->act = act;
    return VKC_OK;
}

double rig_unit(const Rig *g) { return vkc_dtype_unit(g->act); }

const char *rig_dtype_suffix(const Rig *g) { return g->act == VKC_F32 ? "" : g->act == VKC_F16 ? " fp16" : " bf16"; }

static float round_to(VkcDtype d, float x)
{
    return d == VKC_F16 ? vkc_f16_to_f32(vkc_f32_to_f16(x)) : d == VKC_BF16 ? vkc_bf16_to_f32(vkc_f32_to_bf16(x)) : x;
}

void rig_round(const Rig *g, double *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = round_to(g->act, (float)x[i]);
}

int rig_act(Rig *g, double *src, size_t n, VkcTensor *t)
{
    if (n == 0) n = 1;
    float *f = malloc(n * sizeof *f);
    if (!f) return vkc_fail("out of memory");
    if (src) rig_round(g, src, n);
    for (size_t i = 0; i < n; i++) f[i] = src ? (float)src[i] : NAN;
    int rc = vkc_tensor_alloc_typed(&g->arena, n, g->act, t) || vkc_upload_floats(g->ctx, *t, f, n);
    free(f);
    return rc ? VKC_ERR : VKC_OK;
}

int rig_init(Rig *g, VkcContext *ctx)
{
    memset(g, 0, sizeof *g);
    g->ctx = ctx;
    if (vkc_arena_init(&g->arena, ctx, VKC_MEMORY_DEVICE) || vkc_layers_init(ctx, &g->L) ||
        vkc_cmd_init(ctx, &g->cmd) || vkc_cmd_begin(&g->cmd))
        return VKC_ERR;
    return VKC_OK;
}

void rig_free(Rig *g)
{
    if (!g->ctx) return;
    vkc_cmd_destroy(&g->cmd);
    vkc_layers_destroy(&g->L);
    vkc_arena_destroy(&g->arena);
    memset(g, 0, sizeof *g);
}

int rig_tensor(Rig *g, const double *src, size_t n, VkcTensor *t)
{
    if (n == 0) n = 1;
    float *f = malloc(n * sizeof *f);
    if (!f) return vkc_fail("out of memory");
    for (size_t i = 0; i < n; i++) f[i] = src ? (float)src[i] : NAN;
    int rc = vkc_tensor_alloc(&g->arena, n * sizeof *f, t) || vkc_upload(g->ctx, *t, f, n * sizeof *f);
    free(f);
    return rc ? VKC_ERR : VKC_OK;
}

int rig_run(Rig *g)
{
    return vkc_cmd_end(&g->cmd) || vkc_cmd_submit_wait(&g->cmd) || vkc_cmd_begin(&g->cmd) ? VKC_ERR : VKC_OK;
}

int rig_read(Rig *g, VkcTensor t, size_t n, double *out)
{
    float *f = malloc(n * sizeof *f);
    if (!f) return vkc_fail("out of memory");
    int rc = vkc_download_floats(g->ctx, t, f, n);
    for (size_t i = 0; i < n && rc == VKC_OK; i++) out[i] = f[i];
    free(f);
    return rc;
}

int rig_compare(Rig *g, VkcCheckResult *r, const char *what, VkcTensor t, const double *want, size_t n, double atol,
                double rtol)
{
    return rig_compare_bounded(g, r, what, t, want, NULL, n, atol, rtol);
}

int rig_compare_bounded(Rig *g, VkcCheckResult *r, const char *what, VkcTensor t, const double *want,
                        const double *bound, size_t n, double atol, double rtol)
{
    float *got = malloc(n * sizeof *got), *w = malloc(n * sizeof *w);
    int rc = VKC_ERR;
    if (!got || !w) {
        vkc_fail("out of memory");
    } else if (vkc_download_floats(g->ctx, t, got, n) == VKC_OK) {
        for (size_t i = 0; i < n; i++) w[i] = (float)want[i];
        vkc_check_compare_bounded(r, what, got, w, bound, n, atol, rtol);
        rc = VKC_OK;
    }
    free(got), free(w);
    return rc;
}

double *rig_random(size_t n, uint64_t seed, double lo, double hi)
{
    float *f = malloc((n ? n : 1) * sizeof *f);
    double *d = malloc((n ? n : 1) * sizeof *d);
    if (!f || !d) {
        free(f), free(d);
        return NULL;
    }
    ref_fill_uniform(f, (int)n, seed, (float)lo, (float)hi);
    for (size_t i = 0; i < n; i++) d[i] = f[i];
    free(f);
    return d;
}


void rig_finite_diff(double *p, size_t n, double h, double (*loss)(void *), void *user, double *grad)
{
    for (size_t i = 0; i < n; i++) {
        double keep = p[i];
        p[i] = keep + h;
        double up = loss(user);
        p[i] = keep - h;
        double down = loss(user);
        p[i] = keep;
        grad[i] = (up - down) / (2 * h);
    }
}
