/* The encoder + head graph against central finite differences: the loss L = sum(embed * R)
 * for a fixed random R, so dL/dembed = R; the gradient the backward pass writes for sampled
 * parameters of every kind (conv, batch norm, linear; residual joins in the ResNet) must match
 * (L(p + h) - L(p - h)) / 2h. Tiny shapes: the whole file runs in seconds. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vkclr/augment.h"
#include "vkclr/model.h"
#include "vktest.h"

/* What a model is built from: device memory and the kernel bundle. */
typedef struct {
    VkcArena dev;
    VkcModelKernels kernels;
} Kernels;

static void kernels_open(Kernels *k)
{
    vkc_arena_init(&k->dev, &vktest_ctx, VKC_MEMORY_DEVICE);
    if (vkc_model_kernels_init(&vktest_ctx, &k->kernels)) fail_msg("%s", vkc_error());
}

static void kernels_close(Kernels *k)
{
    vkc_model_kernels_destroy(&k->kernels);
    vkc_arena_destroy(&k->dev);
}

/* A model of cfg with parameters from `seed`, built from k. */
static void model_open(Kernels *k, VkcModel *m, const VkcModelConfig *cfg, uint32_t batch, uint64_t seed)
{
    if (vkc_model_create(m, &vktest_ctx, &k->kernels.layers, &k->kernels.linear, cfg, batch, &k->dev) ||
        vkc_model_init_params(m, seed))
        fail_msg("%s", vkc_error());
}

typedef struct {
    Kernels k;
    VkcArena host;
    VkcModel m;
    VkcTensor x, dembed, embed_out;
    VkcCmd fwd, bwd;
} Rig;

static double loss_of(Rig *r, const float *R, int n)
{
    if (vkc_cmd_submit_wait(&r->fwd)) fail_msg("%s", vkc_error());
    const float *e = r->embed_out.mapped;
    double L = 0;
    for (int i = 0; i < n; i++) L += (double)e[i] * R[i];
    return L;
}

static void gradient_check(VkcEncoderKind encoder, int width, int H)
{
    VkcContext *ctx = &vktest_ctx;
    Rig *r = calloc(1, sizeof *r);
    VkcModelConfig cfg = vkc_model_defaults();
    cfg.encoder = encoder;
    cfg.width = width;
    cfg.out_dim = 8;
    cfg.channels = 3;
    cfg.height = cfg.width_px = H;
    const uint32_t B = 6;
    kernels_open(&r->k);
    vkc_arena_init(&r->host, ctx, VKC_MEMORY_STAGING);
    model_open(&r->k, &r->m, &cfg, B, 3);
    int n_in = (int)(B * 3 * H * H), n_out = (int)B * cfg.out_dim;
    if (vkc_tensor_alloc(&r->host, (size_t)n_in * 4, &r->x) || vkc_tensor_alloc(&r->host, (size_t)n_out * 4, &r->dembed) ||
        vkc_tensor_alloc(&r->host, (size_t)n_out * 4, &r->embed_out))
        fail_msg("%s", vkc_error());
    VkcRng rng = vkc_rng(11, 0, 0, 0);
    float *x = r->x.mapped, *R = r->dembed.mapped;
    for (int i = 0; i < n_in; i++) x[i] = vkc_rng_range(&rng, -1, 1);
    for (int i = 0; i < n_out; i++) R[i] = vkc_rng_range(&rng, -1, 1);
    /* Forward (training mode) with a copy of the embeddings out; backward on its own. */
    if (vkc_cmd_init(ctx, &r->fwd) || vkc_cmd_begin(&r->fwd) ||
        vkc_model_forward(&r->m, &r->fwd, r->x, B, true, true) ||
        vkc_cmd_copy(&r->fwd, r->embed_out, vkc_model_embed_tensor(&r->m), (VkDeviceSize)n_out * 4) ||
        vkc_cmd_end(&r->fwd) || vkc_cmd_init(ctx, &r->bwd) || vkc_cmd_begin(&r->bwd) ||
        vkc_model_forward(&r->m, &r->bwd, r->x, B, true, true) ||
        vkc_model_backward(&r->m, &r->bwd, r->x, B, r->dembed) || vkc_cmd_end(&r->bwd) ||
        vkc_cmd_submit_wait(&r->bwd))
        fail_msg("%s", vkc_error());
    size_t np = r->m.nparams;
    float *p = malloc(np * 4), *g = malloc(np * 4);
    if (vkc_download(ctx, r->m.params, p, np * 4) || vkc_download(ctx, r->m.grads, g, np * 4)) fail_msg("%s", vkc_error());
    int checked = 0, bad = 0;
    for (int t = 0; t < r->m.ntensors; t++) {
        const VkcNamedTensor *nt = &r->m.tensors[t];
        if (nt->role != VKC_T_PARAM) continue;
        for (int s = 0; s < 2; s++) {
            size_t k = nt->offset + (size_t)vkc_rng_int(&rng, (int)nt->count);
            float orig = p[k];
            float h = 1e-4f * fmaxf(1.0f, fabsf(orig));
            double L[2];
            for (int sign = 0; sign < 2; sign++) {
                float v = orig + (sign ? -h : h);
                if (vkc_upload(ctx, vkc_tensor_slice(r->m.params, k * 4, 4), &v, 4)) fail_msg("%s", vkc_error());
                L[sign] = loss_of(r, R, n_out);
            }
            if (vkc_upload(ctx, vkc_tensor_slice(r->m.params, k * 4, 4), &orig, 4)) fail_msg("%s", vkc_error());
            double fd = (L[0] - L[1]) / (2.0 * h), an = g[k];
            bool ok = fabs(fd - an) <= 2e-2 + 5e-2 * fabs(an);
            if (!ok) printf("%s %s[%zu]: backward %.6g, finite difference %.6g\n", vkc_name_of(vkc_encoder_names, (int)encoder), nt->name, k - nt->offset, an, fd);
            bad += !ok;
            checked++;
        }
    }
    printf("%s: %d parameters checked against finite differences, %d off\n", vkc_name_of(vkc_encoder_names, (int)encoder), checked, bad);
    /* h is small (1e-4 relative) because batch norm over a 6-image batch is strongly curved;
     * float32 rounding and a ReLU or max-pool kink inside +-h can then spoil a few differences.
     * A wrong backward for any layer kind spoils far more than 1 in 20. */
    assert_true(bad * 20 <= checked);
    assert_true(checked >= 20);
    free(p);
    free(g);
    vkc_cmd_destroy(&r->fwd);
    vkc_cmd_destroy(&r->bwd);
    vkc_model_destroy(&r->m);
    vkc_arena_destroy(&r->host);
    kernels_close(&r->k);
    free(r);
}

static void test_convnet_gradients(void **state)
{
    (void)state;
    gradient_check(VKC_ENCODER_CONVNET, 4, 8);
}

static void test_resnet_gradients(void **state)
{
    (void)state;
    gradient_check(VKC_ENCODER_RESNET10, 2, 8);
}

/* Same seed, same initialisation; the conv init has the Kaiming fan-out spread. */
static void test_init(void **state)
{
    (void)state;
    VkcContext *ctx = &vktest_ctx;
    Kernels k;
    VkcModel m;
    VkcModelConfig cfg = vkc_model_defaults();
    cfg.width = 32;
    kernels_open(&k);
    model_open(&k, &m, &cfg, 2, 5);
    /* block3 conv: 128 x 64 x 3 x 3, std sqrt(2 / (128 * 9)) = 0.0417 */
    int t = -1;
    for (int i = 0; i < m.ntensors; i++)
        if (!strcmp(m.tensors[i].name, "encoder.block3.conv.weight")) t = i;
    assert_true(t >= 0);
    uint32_t n = m.tensors[t].count;
    assert_int_equal(n, 128 * 64 * 9);
    float *w = malloc((size_t)n * 4);
    if (vkc_download(ctx, vkc_model_tensor(&m, t), w, (size_t)n * 4)) fail_msg("%s", vkc_error());
    double s = 0, s2 = 0;
    for (uint32_t i = 0; i < n; i++) s += w[i], s2 += (double)w[i] * w[i];
    double mean = s / n, std = sqrt(s2 / n - mean * mean);
    printf("block3 conv init: mean %.5f std %.5f (want 0, %.5f)\n", mean, std, sqrt(2.0 / (128 * 9)));
    assert_true(fabs(mean) < 0.002);
    assert_true(fabs(std - sqrt(2.0 / (128 * 9))) < 0.002);
    free(w);
    vkc_model_destroy(&m);
    kernels_close(&k);
}

/* The parameter count is the sum of the parameter tensors, without the alignment padding of
 * nparams: the default convnet has 36 080 (what PyTorch reports for python/vkclr_torch.py's twin):
 * convs 16*1*9 + 32*16*9 + 64*32*9, head 64*64 + 128*64, batch-norm gamma and beta
 * 2*(16 + 32 + 64 + 64 + 128). */
static void test_param_count(void **state)
{
    (void)state;
    Kernels k;
    VkcModel m;
    VkcModelConfig cfg = vkc_model_defaults();
    kernels_open(&k);
    model_open(&k, &m, &cfg, 2, 5);
    assert_int_equal(vkc_model_param_count(&m), 144 + 4608 + 18432 + 4096 + 8192 + 2 * (16 + 32 + 64 + 64 + 128));
    assert_int_equal(vkc_model_param_count(&m), 36080);
    assert_true(m.nparams > vkc_model_param_count(&m)); /* padded */
    vkc_model_destroy(&m);
    kernels_close(&k);
}

/* cfg.loss_logz adds the learned log Z of nce as the last parameter, "loss.logz": 1 float,
 * initialised 0, without weight decay; every other tensor keeps its place and its values. */
static void test_loss_logz_parameter(void **state)
{
    (void)state;
    VkcContext *ctx = &vktest_ctx;
    Kernels k;
    VkcModel a, b;
    VkcModelConfig cfg = vkc_model_defaults();
    cfg.width = 4;
    kernels_open(&k);
    model_open(&k, &a, &cfg, 2, 5);
    cfg.loss_logz = true;
    model_open(&k, &b, &cfg, 2, 5);
    assert_int_equal(a.logz_tensor, -1);
    assert_int_equal(b.ntensors, a.ntensors + 1);
    assert_int_equal(b.logz_tensor, b.ntensors - 1);
    const VkcNamedTensor *t = &b.tensors[b.logz_tensor];
    assert_string_equal(t->name, "loss.logz");
    assert_true(t->role == VKC_T_PARAM && t->count == 1 && t->ndim == 1 && (t->flags & VKC_PARAM_NO_DECAY));
    float *pa = malloc(a.nparams * 4), *pb = malloc(b.nparams * 4);
    if (vkc_download(ctx, a.params, pa, a.nparams * 4) || vkc_download(ctx, b.params, pb, b.nparams * 4))
        fail_msg("%s", vkc_error());
    assert_true(b.nparams > a.nparams);
    assert_memory_equal(pa, pb, a.nparams * 4);
    assert_true(pb[t->offset] == 0.0f);
    /* The optimizer sees it, with its flag. */
    VkcParam *params;
    int n;
    if (vkc_model_optim_params(&b, &params, &n)) fail_msg("%s", vkc_error());
    assert_true(params[n - 1].param.size == 4 && params[n - 1].grad.size == 4 && params[n - 1].flags == VKC_PARAM_NO_DECAY);
    free(params);
    free(pa);
    free(pb);
    vkc_model_destroy(&a);
    vkc_model_destroy(&b);
    kernels_close(&k);
}

/* A conv whose work tensor is smaller than vkc_conv2d_work_bytes() is refused with the sizes
 * (every pass needs it: packed weights, split-K partials). */
static void test_conv_work_too_small(void **state)
{
    (void)state;
    Kernels k;
    kernels_open(&k);
    VkcConv2d c = {.N = 2, .C_in = 8, .H = 8, .W = 8, .C_out = 8, .kernel = 3, .stride = 1, .pad = 1};
    VkcTensor x, y;
    VkDeviceSize need = vkc_conv2d_work_bytes(&k.kernels.layers, &c);
    assert_true(need > 256);
    if (vkc_tensor_alloc(&k.dev, 8 * 8 * 9 * 4, &c.weight) || vkc_tensor_alloc(&k.dev, 2 * 8 * 64 * 4, &x) ||
        vkc_tensor_alloc(&k.dev, 2 * 8 * 64 * 4, &y) || vkc_tensor_alloc(&k.dev, 256, &c.work))
        fail_msg("%s", vkc_error());
    VkcCmd cmd;
    if (vkc_cmd_init(&vktest_ctx, &cmd) || vkc_cmd_begin(&cmd)) fail_msg("%s", vkc_error());
    assert_int_equal(vkc_conv2d_forward(&k.kernels.layers, &cmd, &c, x, y), VKC_ERR);
    assert_non_null(strstr(vkc_error(), "vkc_conv2d_work_bytes"));
    vkc_cmd_end(&cmd);
    vkc_cmd_destroy(&cmd);
    kernels_close(&k);
}

/* A choice in the tuning cache decides the kernel of its shape and pass (and the work space it
 * needs); one this device cannot run, or nonsense, is ignored for the built-in choice. */
static void test_conv_tuning_choice(void **state)
{
    (void)state;
    Kernels k;
    kernels_open(&k);
    VkcLayers *L = &k.kernels.layers;
    if (L->conv_forced) {
        print_message("VKCLR_CONV_PATH is set: the cache is not consulted (nothing to test)\n");
        kernels_close(&k);
        return;
    }
    VkcConv2d c = {.N = 4, .C_in = 16, .H = 14, .W = 14, .C_out = 32, .kernel = 3, .stride = 1, .pad = 1};
    char key[128], builtin[VKC_CONV_VARIANT_NAME], now[VKC_CONV_VARIANT_NAME];
    char cand[16][VKC_CONV_VARIANT_NAME];
    vkc_conv2d_tuning_key(&c, VKC_CONV_PASS_FORWARD, key, sizeof key);
    assert_string_equal(key, "conv2d.forward c16 h14 w14 o32 k3 s1 p1");
    assert_int_equal(vkc_conv2d_variant(L, &c, VKC_CONV_PASS_FORWARD, builtin, sizeof builtin), VKC_OK);
    int n = vkc_conv2d_candidates(L, &c, VKC_CONV_PASS_FORWARD, cand, 16);
    assert_true(n >= 2);
    assert_string_equal(cand[0], builtin);
    VkcTuning *t = &vktest_ctx.tuning;
    for (int i = 1; i < n; i++) {
        assert_int_equal(vkc_tuning_set(t, key, cand[i], 1.0), VKC_OK);
        assert_int_equal(vkc_conv2d_variant(L, &c, VKC_CONV_PASS_FORWARD, now, sizeof now), VKC_OK);
        assert_string_equal(now, cand[i]);
    }
    const char *bad[] = {"smem 7,128,16,1", "reg 0,2,8,16", "reg 9,2,8,16", "gemm 1,1,1,1", "reg 2,2", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(vkc_tuning_set(t, key, bad[i], 1.0), VKC_OK);
        assert_int_equal(vkc_conv2d_variant(L, &c, VKC_CONV_PASS_FORWARD, now, sizeof now), VKC_OK);
        assert_string_equal(now, builtin);
    }
    vkc_tuning_remove(t, key);
    assert_null(vkc_tuning_get(t, key));
    kernels_close(&k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_param_count),
        cmocka_unit_test(test_loss_logz_parameter),
        cmocka_unit_test(test_conv_work_too_small),
        cmocka_unit_test(test_conv_tuning_choice),
        cmocka_unit_test(test_convnet_gradients),
        cmocka_unit_test(test_resnet_gradients),
    };
    return cmocka_run_group_tests(tests, vktest_setup, vktest_teardown);
}
