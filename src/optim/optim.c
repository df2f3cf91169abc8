/* Host side of the optimizers: the multi-tensor table (shaders/optim_table.glsl), state,
 * and recording of the update (plus LARS's two norm passes). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vkclr/optim.h"

typedef struct {
    uint32_t chunk_base;
    float momentum, weight_decay;
    uint32_t nesterov;
} SgdPush; /* sgd.comp and lars.comp */
VKC_PUSH_CONTRACT(SgdPush, SGD);
VKC_PUSH_CONTRACT(SgdPush, LARS);

typedef struct {
    uint32_t chunk_base;
    float weight_decay;
} NormsPush;
VKC_PUSH_CONTRACT(NormsPush, LARS_NORMS);

typedef struct {
    uint32_t ntensors;
    float eta;
} TrustPush;
VKC_PUSH_CONTRACT(TrustPush, LARS_TRUST);

typedef struct {
    uint32_t chunk_base, v_off;
    float beta1, beta2, eps, weight_decay;
} AdamPush;
VKC_PUSH_CONTRACT(AdamPush, ADAMW);

typedef struct {
    float lr;
    uint32_t step;
    float bias1, bias2; /* AdamW bias corrections 1 - beta^step */
    float inv_scale;    /* 1 / loss scale */
    uint32_t nonfinite; /* set by grad_check on the device: the update was skipped */
} StepValues;

typedef struct {
    uint32_t chunk_base, nchunks;
} CheckPush;
VKC_PUSH_CONTRACT(CheckPush, GRAD_CHECK);

const VkcName vkc_optim_names[] = {
    {.name = "lars", .value = VKC_OPTIM_LARS},
    {.name = "sgd", .value = VKC_OPTIM_SGD, .about = "with momentum"},
    {.name = "adamw", .value = VKC_OPTIM_ADAMW},
    {0},
};

VkcOptimConfig vkc_optim_defaults(VkcOptimKind kind)
{
    switch (kind) {
    case VKC_OPTIM_LARS: return (VkcOptimConfig){.kind = kind, .momentum = 0.9f, .weight_decay = 1e-6f, .eta = 0.001f};
    case VKC_OPTIM_ADAMW:
        return (VkcOptimConfig){.kind = kind, .weight_decay = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
    case VKC_OPTIM_SGD:
    default: return (VkcOptimConfig){.kind = VKC_OPTIM_SGD, .momentum = 0.9f, .weight_decay = 5e-4f};
    }
}

/* A view from the lowest to the highest byte of tensors that share one buffer, starting on a
 * storage-aligned offset; element offsets of each tensor inside it go to offs[]. */
static int cover(VkcContext *ctx, const VkcParam *p, int n, bool grads, VkcTensor *out, uint32_t *offs)
{
    VkcTensor first = grads ? p[0].grad : p[0].param;
    VkDeviceSize lo = first.offset, hi = first.offset + first.size;
    for (int i = 0; i < n; i++) {
        VkcTensor t = grads ? p[i].grad : p[i].param;
        if (t.buffer != first.buffer)
            return vkc_fail("optimizer: %s tensor %d is not in the same buffer as tensor 0 (allocate all %s from one "
                            "arena block)", grads ? "gradient" : "parameter", i, grads ? "gradients" : "parameters");
        if (t.offset % 4) return vkc_fail("optimizer: tensor %d is not 4-byte aligned", i);
        if (t.offset < lo) lo = t.offset;
        if (t.offset + t.size > hi) hi = t.offset + t.size;
    }
    lo -= lo % ctx->props.limits.minStorageBufferOffsetAlignment;
    if (hi - lo > ctx->props.limits.maxStorageBufferRange)
        return vkc_fail("optimizer: the %s span %.1f MiB, more than one binding may (%.1f MiB)",
                        grads ? "gradients" : "parameters", (hi - lo) / 1048576.0,
                        ctx->props.limits.maxStorageBufferRange / 1048576.0);
    *out = (VkcTensor){.buffer = first.buffer, .offset = lo, .size = hi - lo, .arena = first.arena};
    for (int i = 0; i < n; i++) offs[i] = (uint32_t)(((grads ? p[i].grad : p[i].param).offset - lo) / 4);
    return VKC_OK;
}

int vkc_optim_init(VkcContext *ctx, VkcOptim *o, const VkcOptimConfig *cfg, const VkcParam *params, int nparams,
                   VkcArena *device, VkcArena *host)
{
    memset(o, 0, sizeof *o);
    if (nparams <= 0) return vkc_fail("optimizer: no parameters");
    if (cfg->kind == VKC_OPTIM_ADAMW && !(cfg->beta1 >= 0 && cfg->beta1 < 1 && cfg->beta2 >= 0 && cfg->beta2 < 1))
        return vkc_fail("optimizer: AdamW betas must lie in [0, 1) (got %g, %g)", cfg->beta1, cfg->beta2);
    o->ctx = ctx;
    o->cfg = *cfg;
    o->ntensors = (uint32_t)nparams;
    uint32_t *poff = calloc(nparams, sizeof *poff), *goff = calloc(nparams, sizeof *goff), *table = NULL;
    int rc = VKC_ERR;
    if (!poff || !goff) {
        vkc_fail("out of memory");
        goto done;
    }
    for (int i = 0; i < nparams; i++) {
        if (!params[i].param.size || params[i].param.size != params[i].grad.size || params[i].param.size % 4) {
            vkc_fail("optimizer: tensor %d: parameter (%llu bytes) and gradient (%llu bytes) must be the same non-zero "
                     "number of floats", i, (unsigned long long)params[i].param.size,
                     (unsigned long long)params[i].grad.size);
            goto done;
        }
        o->total += params[i].param.size / 4;
        o->nchunks += vkc_div_up((uint32_t)(params[i].param.size / 4), VKC_OPTIM_CHUNK);
    }
    if (o->nchunks > 65535) {
        vkc_fail("optimizer: %u chunks of %u elements exceed one dispatch (65535 workgroups)", o->nchunks,
                 VKC_OPTIM_CHUNK);
        goto done;
    }
    if (cover(ctx, params, nparams, false, &o->params, poff) || cover(ctx, params, nparams, true, &o->grads, goff))
        goto done;

    /* Table: 8 uints per tensor, then 4 per chunk. */
    uint32_t chunk_base = 8 * o->ntensors;
    size_t words = chunk_base + 4 * (size_t)o->nchunks;
    table = calloc(words, sizeof *table);
    if (!table) {
        vkc_fail("out of memory");
        goto done;
    }
    uint32_t chunk = 0, state_off = 0;
    for (int t = 0; t < nparams; t++) {
        uint32_t count = (uint32_t)(params[t].param.size / 4), nch = vkc_div_up(count, VKC_OPTIM_CHUNK);
        uint32_t *e = table + 8 * t;
        e[0] = poff[t], e[1] = goff[t], e[2] = state_off, e[3] = params[t].flags & VKC_PARAM_NO_DECAY;
        e[4] = chunk, e[5] = nch, e[6] = count;
        for (uint32_t c = 0; c < nch; c++, chunk++) {
            uint32_t *k = table + chunk_base + 4 * chunk;
            k[0] = (uint32_t)t, k[1] = c * VKC_OPTIM_CHUNK;
            k[2] = count - c * VKC_OPTIM_CHUNK < VKC_OPTIM_CHUNK ? count - c * VKC_OPTIM_CHUNK : VKC_OPTIM_CHUNK;
        }
        state_off += count;
    }

    /* CPUs: 32 lanes per chunk (64 elements each); GPUs: 256. Powers of two (lars_norms' tree). */
    o->wg = ctx->is_cpu ? 32 : 256;
    uint32_t spec[1] = {o->wg};
    uint64_t state_floats = o->total * (cfg->kind == VKC_OPTIM_ADAMW ? 2 : 1);
    if (vkc_tensor_alloc(device, words * 4, &o->table) || vkc_upload(ctx, o->table, table, words * 4) ||
        vkc_tensor_alloc(device, state_floats * 4, &o->state) || vkc_tensor_alloc(host, sizeof(StepValues), &o->step))
        goto done;
    if (!o->step.mapped) {
        vkc_fail("optimizer: the per-step buffer is not host-visible (pass a VKC_MEMORY_STAGING arena)");
        goto done;
    }
    switch (cfg->kind) {
    case VKC_OPTIM_SGD:
        if (vkc_kernel_create(ctx, &o->update, VKC_SHADER_SGD, "bbbbb", sizeof(SgdPush), spec, 1)) goto done;
        break;
    case VKC_OPTIM_LARS:
        if (vkc_kernel_create(ctx, &o->norms, VKC_SHADER_LARS_NORMS, "bbbbb", sizeof(NormsPush), spec, 1) ||
            vkc_kernel_create(ctx, &o->trust, VKC_SHADER_LARS_TRUST, "bbbb", sizeof(TrustPush), spec, 1) ||
            vkc_kernel_create(ctx, &o->update, VKC_SHADER_LARS, "bbbbbb", sizeof(SgdPush), spec, 1) ||
            vkc_tensor_alloc(device, (VkDeviceSize)o->nchunks * 8, &o->partial) ||
            vkc_tensor_alloc(device, (VkDeviceSize)o->ntensors * 16, &o->ratios))
            goto done;
        break;
    case VKC_OPTIM_ADAMW:
        if (vkc_kernel_create(ctx, &o->update, VKC_SHADER_ADAMW, "bbbbb", sizeof(AdamPush), spec, 1)) goto done;
        break;
    default: vkc_fail("optimizer: unknown kind %d", (int)cfg->kind); goto done;
    }
    if (cfg->check_finite) {
        uint32_t spec_chunks[4] = {o->wg, 1, 1, 0}, spec_total[4] = {o->wg, 1, 1, 1};
        if (vkc_kernel_create(ctx, &o->check_chunks, VKC_SHADER_GRAD_CHECK, "bbbb", sizeof(CheckPush), spec_chunks, 4) ||
            vkc_kernel_create(ctx, &o->check_total, VKC_SHADER_GRAD_CHECK, "bbbb", sizeof(CheckPush), spec_total, 4) ||
            vkc_tensor_alloc(device, (VkDeviceSize)o->nchunks * 4, &o->bad))
            goto done;
    }
    o->scale = 1.0f;
    rc = vkc_optim_set_step(o, 0.0f, 1);
done:
    free(poff), free(goff), free(table);
    if (rc) vkc_optim_destroy(o);
    return rc;
}

void vkc_optim_destroy(VkcOptim *o)
{
    if (o->ctx) {
        vkc_kernel_destroy(o->ctx, &o->update);
        vkc_kernel_destroy(o->ctx, &o->norms);
        vkc_kernel_destroy(o->ctx, &o->trust);
        vkc_kernel_destroy(o->ctx, &o->check_chunks);
        vkc_kernel_destroy(o->ctx, &o->check_total);
    }
    memset(o, 0, sizeof *o);
}

int vkc_optim_set_step(VkcOptim *o, float lr, uint32_t step)
{
    if (!o->step.mapped) return vkc_fail("optimizer: not initialised");
    StepValues v = {lr, step, 1.0f, 1.0f, 1.0f / o->scale, 0};
    if (o->cfg.kind == VKC_OPTIM_ADAMW) {
        if (!step) return vkc_fail("optimizer: AdamW steps count from 1");
        v.bias1 = (float)(1.0 - pow(o->cfg.beta1, step));
        v.bias2 = (float)(1.0 - pow(o->cfg.beta2, step));
    }
    memcpy(o->step.mapped, &v, sizeof v);
    return VKC_OK;
}

int vkc_optim_set_grad_scale(VkcOptim *o, float scale)
{
    if (!(scale > 0) || !isfinite(scale)) return vkc_fail("optimizer: gradient scale %g is not a positive number", scale);
    if (scale != 1.0f && !o->cfg.check_finite)
        return vkc_fail("optimizer: a gradient scale needs the finiteness check (VkcOptimConfig.check_finite)");
    o->scale = scale;
    return VKC_OK;
}

bool vkc_optim_skipped(const VkcOptim *o)
{
    const StepValues *v = o->step.mapped;
    return v && v->nonfinite != 0;
}

int vkc_optim_record(VkcOptim *o, VkcCmd *cmd)
{
    const VkcOptimConfig *c = &o->cfg;
    uint32_t chunk_base = 8 * o->ntensors;
    if (c->check_finite) {
        /* Any inf or NaN gradient sets the step's nonfinite flag: the update below changes nothing. */
        CheckPush cp = {chunk_base, o->nchunks};
        VkcTensor t[4] = {o->table, o->step, o->grads, o->bad};
        if (vkc_cmd_dispatch(cmd, &o->check_chunks, t, 1u | 2u | 4u, &cp, o->nchunks, 1, 1) ||
            vkc_cmd_dispatch(cmd, &o->check_total, t, 1u | 4u | 8u, &cp, 1, 1, 1))
            return VKC_ERR;
    }
    /* Bindings 0 (table), 1 (step) and the gradients are only read. */
    switch (c->kind) {
    case VKC_OPTIM_SGD: {
        SgdPush push = {chunk_base, c->momentum, c->weight_decay, c->nesterov};
        VkcTensor t[5] = {o->table, o->step, o->params, o->grads, o->state};
        return vkc_cmd_dispatch(cmd, &o->update, t, 1u | 2u | 8u, &push, o->nchunks, 1, 1);
    }
    case VKC_OPTIM_LARS: {
        NormsPush np = {chunk_base, c->weight_decay};
        VkcTensor tn[5] = {o->table, o->step, o->params, o->grads, o->partial};
        if (vkc_cmd_dispatch(cmd, &o->norms, tn, 1u | 2u | 4u | 8u, &np, o->nchunks, 1, 1)) return VKC_ERR;
        TrustPush tp = {o->ntensors, c->eta};
        VkcTensor tt[4] = {o->table, o->step, o->partial, o->ratios};
        if (vkc_cmd_dispatch(cmd, &o->trust, tt, 1u | 2u | 4u, &tp, vkc_div_up(o->ntensors, o->wg), 1, 1))
            return VKC_ERR;
        SgdPush push = {chunk_base, c->momentum, c->weight_decay, c->nesterov};
        VkcTensor t[6] = {o->table, o->step, o->params, o->grads, o->state, o->ratios};
        return vkc_cmd_dispatch(cmd, &o->update, t, 1u | 2u | 8u | 32u, &push, o->nchunks, 1, 1);
    }
    case VKC_OPTIM_ADAMW: {
        AdamPush push = {chunk_base, (uint32_t)o->total, c->beta1, c->beta2, c->eps, c->weight_decay};
        VkcTensor t[5] = {o->table, o->step, o->params, o->grads, o->state};
        return vkc_cmd_dispatch(cmd, &o->update, t, 1u | 2u | 8u, &push, o->nchunks, 1, 1);
    }
    }
    return vkc_fail("optimizer: unknown kind %d", (int)c->kind);
}
