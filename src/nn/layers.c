/* Per-device choices for the layer kernels and the cache of their pipelines; the small
 * element-wise and pooling layers, whose host side is one dispatch each. */
#include <stdlib.h>
#include <string.h>

#include "layers_internal.h"

int vkc_layers_init(VkcContext *ctx, VkcLayers *L)
{
    memset(L, 0, sizeof *L);
    L->ctx = ctx;
    if (ctx->is_cpu) {
        /* lavapipe runs a workgroup as SIMD lanes of one thread: 8-32 invocations are best,
         * and a reduction only needs enough invocations for the cores plus some slack. */
        L->wg_elem = 32;
        L->reduce_lanes = 1024;
    } else {
        /* GPUs want many warps in flight: larger workgroups, far more parallel partial sums. */
        L->wg_elem = 256;
        L->reduce_lanes = 65536;
    }
    /* Convolutions: register tiles and texel reads on CPU drivers, shared-memory block tiles
     * on GPUs. Both are checked on every device (tests/meson.build forces each). */
    L->conv_variant = ctx->is_cpu ? VKC_CONV_REG : VKC_CONV_SMEM;
    /* The register-tiled kernels use subgroup shuffles (GL_KHR_shader_subgroup_shuffle). */
    bool reg_ok = ctx->subgroup_shuffle;
    if (!reg_ok) L->conv_variant = VKC_CONV_SMEM;
    int family = ctx->kernels.conv_family; /* forced for checks and tuning runs */
    if (family != VKC_CONV_FAMILY_DEVICE) {
        L->conv_variant = family == VKC_CONV_FAMILY_REG    ? VKC_CONV_REG
                          : family == VKC_CONV_FAMILY_SMEM ? VKC_CONV_SMEM
                                                           : VKC_CONV_COOP;
        L->conv_forced = true;
        if (L->conv_variant == VKC_CONV_REG && !reg_ok)
            return vkc_fail("the register-tiled convolutions were asked for (VKCLR_CONV_PATH=reg), but this device has "
                            "no subgroup shuffles in compute shaders");
        if (L->conv_variant == VKC_CONV_COOP && !ctx->coop.ok[VKC_F16] && !ctx->coop.ok[VKC_BF16])
            return vkc_fail("the cooperative-matrix convolutions were asked for (VKCLR_CONV_PATH=coop), but %s",
                            ctx->coop.why_not[VKC_F16]);
    }
    uint32_t max = ctx->props.limits.maxComputeWorkGroupSize[0];
    if (L->wg_elem > max) L->wg_elem = max;
    return VKC_OK;
}

void vkc_layers_destroy(VkcLayers *L)
{
    for (int i = 0; i < L->npipelines; i++) vkc_kernel_destroy(L->ctx, &L->pipelines[i].kernel);
    memset(L, 0, sizeof *L);
}

int vkc_layers_kernel(VkcLayers *L, VkcShader shader, const char *bindings, uint32_t push_size,
                      const uint32_t *spec, int nspec, const VkcKernel **out)
{
    for (int i = 0; i < L->npipelines; i++) {
        VkcLayerPipeline *p = &L->pipelines[i];
        if (p->shader == shader && p->nspec == nspec && !memcmp(p->spec, spec, sizeof *spec * nspec)) {
            *out = &p->kernel;
            return VKC_OK;
        }
    }
    if (L->npipelines == VKC_LAYERS_MAX_PIPELINES) return vkc_fail("layers: too many pipeline variants");
    VkcLayerPipeline *p = &L->pipelines[L->npipelines];
    if (vkc_kernel_create(L->ctx, &p->kernel, shader, bindings, push_size, spec, nspec)) return VKC_ERR;
    p->shader = shader;
    memcpy(p->spec, spec, sizeof *spec * nspec);
    p->nspec = nspec;
    L->npipelines++;
    *out = &p->kernel;
    return VKC_OK;
}

int vkc_layers_dispatch_1d(VkcLayers *L, VkcCmd *cmd, const VkcKernel *k, const VkcTensor *tensors,
                           const void *push, uint64_t groups)
{
    /* maxComputeWorkGroupCount[0] is only guaranteed to be 65535: fold the rest into y. */
    uint64_t gx = groups, gy = 1;
    const uint32_t *limit = L->ctx->props.limits.maxComputeWorkGroupCount;
    if (gx > limit[0]) {
        gx = 32768;
        gy = (groups + gx - 1) / gx;
    }
    if (gy > limit[1]) return vkc_fail("%s: %llu workgroups exceed one dispatch", k->name, (unsigned long long)groups);
    return vkc_cmd_dispatch(cmd, k, tensors, 0, push, (uint32_t)gx, (uint32_t)gy, 1);
}

int vkc_layers_need(const char *op, const char *name, VkcTensor t, uint64_t elements)
{
    if (!t.buffer) return vkc_fail("%s: tensor %s is missing", op, name);
    if (vkc_tensor_count(t) < elements)
        return vkc_fail("%s: tensor %s holds %llu elements, needs %llu", op, name,
                        (unsigned long long)vkc_tensor_count(t), (unsigned long long)elements);
    return VKC_OK;
}

int vkc_layers_variant(VkcLayers *L, VkcShader base, VkcDtype dtype, VkcShader *out)
{
    *out = vkc_shader_variant(base, dtype);
    if (*out == VKC_SHADER_COUNT)
        return vkc_fail("%s has no %s build (add it to precision_shaders in shaders/meson.build)",
                        vkc_shader_table[base].name, vkc_dtype_name(dtype));
    if (!L->ctx->dtype_ok[dtype])
        return vkc_fail("%s activations need 16-bit storage buffers and 16-bit texel formats, which %s lacks",
                        vkc_dtype_name(dtype), L->ctx->props.deviceName);
    return VKC_OK;
}

int vkc_layers_same_dtype(const char *op, VkcTensor a, VkcTensor b)
{
    if (a.dtype != b.dtype)
        return vkc_fail("%s: tensors of %s and %s where one type was expected", op, vkc_dtype_name(a.dtype),
                        vkc_dtype_name(b.dtype));
    return VKC_OK;
}

/* ---------------------------------------------------------------- relu, add */

typedef struct {
    uint32_t n;
} ElemPush;
VKC_PUSH_CONTRACT(ElemPush, RELU);
VKC_PUSH_CONTRACT(ElemPush, ADD);
VKC_PUSH_CONTRACT(ElemPush, CAST);

/* Each invocation handles 4 consecutive floats (one vec4 store). */
static int eltwise(VkcLayers *L, VkcCmd *cmd, VkcShader shader, uint32_t mode, uint32_t n, VkcTensor a,
                   VkcTensor b, VkcTensor y)
{
    const char *name = vkc_shader_table[shader].name;
    if (!n) return vkc_fail("%s: no elements", name);
    if (vkc_layers_need(name, "a", a, n) || vkc_layers_need(name, "b", b, n) || vkc_layers_need(name, "y", y, n))
        return VKC_ERR;
    /* The build for y's element type; a and b are of that type too (but the float32 input of a cast). */
    if ((shader != VKC_SHADER_CAST && vkc_layers_same_dtype(name, a, y)) || vkc_layers_same_dtype(name, b, a) ||
        vkc_layers_variant(L, shader, y.dtype, &shader))
        return VKC_ERR;
    bool vec = n % 4 == 0; /* whole texels: one 4-wide fetch per 4 values */
    uint32_t spec[5] = {L->wg_elem, 1, 1, mode, vec};
    const VkcKernel *k;
    if (vkc_layers_kernel(L, shader, vec ? "ttb" : "ssb", sizeof(ElemPush), spec, 5, &k)) return VKC_ERR;
    ElemPush push = {n};
    VkcTensor t[3] = {a, b, y};
    return vkc_layers_dispatch_1d(L, cmd, k, t, &push, vkc_div_up(vkc_div_up(n, 4), L->wg_elem));
}

int vkc_relu_forward(VkcLayers *L, VkcCmd *cmd, uint32_t n, VkcTensor x, VkcTensor y)
{
    return eltwise(L, cmd, VKC_SHADER_RELU, 0, n, x, x, y);
}

int vkc_relu_backward(VkcLayers *L, VkcCmd *cmd, uint32_t n, VkcTensor y, VkcTensor dy, VkcTensor dx)
{
    return eltwise(L, cmd, VKC_SHADER_RELU, 1, n, y, dy, dx);
}

int vkc_add(VkcLayers *L, VkcCmd *cmd, uint32_t n, VkcTensor a, VkcTensor b, VkcTensor y)
{
    return eltwise(L, cmd, VKC_SHADER_ADD, 0, n, a, b, y);
}

int vkc_cast(VkcLayers *L, VkcCmd *cmd, uint32_t n, VkcTensor x, VkcTensor y)
{
    if (x.dtype != VKC_F32) return vkc_fail("cast: the input must be float32, not %s", vkc_dtype_name(x.dtype));
    return eltwise(L, cmd, VKC_SHADER_CAST, 0, n, x, x, y);
}

/* ---------------------------------------------------------------- pooling */

typedef struct {
    uint32_t planes, H, W;
    uint32_t Ho, Wo, K, S, P; /* max-pool windows of K x K, stride S, padding P (MODEs 3 and 4) */
} PoolPush;
VKC_PUSH_CONTRACT(PoolPush, MAXPOOL);
VKC_PUSH_PREFIX(PoolPush, AVGPOOL); /* the average pool reads planes, H, W */

/* The build for the element type of the planes (`act`). */
static int pool_window(VkcLayers *L, VkcCmd *cmd, VkcShader shader, uint32_t mode, const PoolPush *push, VkcTensor a,
                       VkcTensor b, VkcTensor out, uint64_t items, VkcDtype act)
{
    if (!push->planes || !push->H || !push->W)
        return vkc_fail("%s: empty input %ux%ux%u", vkc_shader_table[shader].name, push->planes, push->H, push->W);
    if (vkc_layers_variant(L, shader, act, &shader)) return VKC_ERR;
    uint32_t spec[4] = {L->wg_elem, 1, 1, mode};
    const VkcKernel *k;
    if (vkc_layers_kernel(L, shader, "ssb", sizeof(PoolPush), spec, 4, &k)) return VKC_ERR;
    VkcTensor t[3] = {a, b, out};
    return vkc_layers_dispatch_1d(L, cmd, k, t, push, (items + L->wg_elem - 1) / L->wg_elem);
}

static int pool(VkcLayers *L, VkcCmd *cmd, VkcShader shader, uint32_t mode, uint32_t planes, uint32_t H,
                uint32_t W, VkcTensor a, VkcTensor b, VkcTensor out, uint64_t items, VkcDtype act)
{
    PoolPush push = {.planes = planes, .H = H, .W = W};
    return pool_window(L, cmd, shader, mode, &push, a, b, out, items, act);
}

int vkc_maxpool2x2_forward(VkcLayers *L, VkcCmd *cmd, uint32_t planes, uint32_t H, uint32_t W, VkcTensor x,
                           VkcTensor y)
{
    if (H < 2 || W < 2) return vkc_fail("maxpool2x2: input %ux%u is smaller than the window", H, W);
    uint64_t in = (uint64_t)planes * H * W, out = (uint64_t)planes * (H / 2) * (W / 2);
    if (vkc_layers_need("maxpool2x2", "x", x, in) || vkc_layers_need("maxpool2x2", "y", y, out)) return VKC_ERR;
    if (vkc_layers_same_dtype("maxpool2x2", x, y)) return VKC_ERR;
    return pool(L, cmd, VKC_SHADER_MAXPOOL, 0, planes, H, W, x, x, y, out, x.dtype);
}

int vkc_maxpool2x2_backward(VkcLayers *L, VkcCmd *cmd, uint32_t planes, uint32_t H, uint32_t W, VkcTensor x,
                            VkcTensor dy, VkcTensor dx)
{
    if (H < 2 || W < 2) return vkc_fail("maxpool2x2: input %ux%u is smaller than the window", H, W);
    uint64_t in = (uint64_t)planes * H * W, out = (uint64_t)planes * (H / 2) * (W / 2);
    if (vkc_layers_need("maxpool2x2 backward", "x", x, in) || vkc_layers_need("maxpool2x2 backward", "dy", dy, out) ||
        vkc_layers_need("maxpool2x2 backward", "dx", dx, in))
        return VKC_ERR;
    /* Even sizes: one invocation per window (MODE 2); otherwise one per input element, which
     * also zeroes the dropped last row/column. */
    if (vkc_layers_same_dtype("maxpool2x2 backward", x, dy) || vkc_layers_same_dtype("maxpool2x2 backward", x, dx))
        return VKC_ERR;
    if (H % 2 == 0 && W % 2 == 0) return pool(L, cmd, VKC_SHADER_MAXPOOL, 2, planes, H, W, x, dy, dx, out, x.dtype);
    return pool(L, cmd, VKC_SHADER_MAXPOOL, 1, planes, H, W, x, dy, dx, in, x.dtype);
}

uint32_t vkc_maxpool_out(uint32_t in, const VkcMaxPool *mp) { return (in + 2 * mp->pad - mp->kernel) / mp->stride + 1; }

/* The push constants of a windowed max-pool, after checking its shape. */
static int maxpool_push(const char *op, const VkcMaxPool *mp, PoolPush *push)
{
    if (mp->kernel < 1 || mp->stride < 1 || mp->pad >= mp->kernel || mp->kernel > 15)
        return vkc_fail("%s: window %u, stride %u, padding %u (need padding < window <= 15, stride >= 1)", op,
                        mp->kernel, mp->stride, mp->pad);
    if (mp->H + 2 * mp->pad < mp->kernel || mp->W + 2 * mp->pad < mp->kernel)
        return vkc_fail("%s: input %ux%u with padding %u is smaller than the window %u", op, mp->H, mp->W, mp->pad,
                        mp->kernel);
    /* every window must hold a pixel of the plane: padding below the window's size does that */
    *push = (PoolPush){.planes = mp->planes, .H = mp->H, .W = mp->W, .Ho = vkc_maxpool_out(mp->H, mp),
                       .Wo = vkc_maxpool_out(mp->W, mp), .K = mp->kernel, .S = mp->stride, .P = mp->pad};
    return VKC_OK;
}

int vkc_maxpool_forward(VkcLayers *L, VkcCmd *cmd, const VkcMaxPool *mp, VkcTensor x, VkcTensor y)
{
    PoolPush push;
    if (maxpool_push("maxpool", mp, &push)) return VKC_ERR;
    uint64_t in = (uint64_t)mp->planes * mp->H * mp->W, out = (uint64_t)mp->planes * push.Ho * push.Wo;
    if (vkc_layers_need("maxpool", "x", x, in) || vkc_layers_need("maxpool", "y", y, out) ||
        vkc_layers_same_dtype("maxpool", x, y))
        return VKC_ERR;
    return pool_window(L, cmd, VKC_SHADER_MAXPOOL, 3, &push, x, x, y, out, x.dtype);
}

int vkc_maxpool_backward(VkcLayers *L, VkcCmd *cmd, const VkcMaxPool *mp, VkcTensor x, VkcTensor dy, VkcTensor dx)
{
    PoolPush push;
    if (maxpool_push("maxpool backward", mp, &push)) return VKC_ERR;
    uint64_t in = (uint64_t)mp->planes * mp->H * mp->W, out = (uint64_t)mp->planes * push.Ho * push.Wo;
    if (vkc_layers_need("maxpool backward", "x", x, in) || vkc_layers_need("maxpool backward", "dy", dy, out) ||
        vkc_layers_need("maxpool backward", "dx", dx, in) || vkc_layers_same_dtype("maxpool backward", x, dy) ||
        vkc_layers_same_dtype("maxpool backward", x, dx))
        return VKC_ERR;
    return pool_window(L, cmd, VKC_SHADER_MAXPOOL, 4, &push, x, dy, dx, in, x.dtype);
}

int vkc_avgpool_forward(VkcLayers *L, VkcCmd *cmd, uint32_t planes, uint32_t HW, VkcTensor x, VkcTensor y)
{
    if (vkc_layers_need("avgpool", "x", x, (uint64_t)planes * HW) || vkc_layers_need("avgpool", "y", y, planes))
        return VKC_ERR;
    if (y.dtype != VKC_F32) return vkc_fail("avgpool: the pooled features are float32, not %s", vkc_dtype_name(y.dtype));
    /* Bindings: the planes (read), the pooled values (bound for the unused float32 slot), out. */
    return pool(L, cmd, VKC_SHADER_AVGPOOL, 0, planes, HW, 1, x, y, y, planes, x.dtype);
}

int vkc_avgpool_backward(VkcLayers *L, VkcCmd *cmd, uint32_t planes, uint32_t HW, VkcTensor dy, VkcTensor dx)
{
    if (vkc_layers_need("avgpool backward", "dy", dy, planes) ||
        vkc_layers_need("avgpool backward", "dx", dx, (uint64_t)planes * HW))
        return VKC_ERR;
    if (dy.dtype != VKC_F32) return vkc_fail("avgpool backward: dy is float32, not %s", vkc_dtype_name(dy.dtype));
    /* Bindings: dx in the planes' slot (bound, not read), dy, out. */
    return pool(L, cmd, VKC_SHADER_AVGPOOL, 1, planes, HW, 1, dx, dy, dx, (uint64_t)planes * HW, dx.dtype);
}
