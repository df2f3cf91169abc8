/* fp16's dynamic loss scale (run.h: LossScale). The loss's gradient dz is multiplied by the
 * scale before the backward, so the encoder's 16-bit gradients stay out of the subnormal
 * range; the optimizer divides it out and skips a step whose gradients overflowed. A skipped
 * step halves the scale, SCALE_GROWTH clean steps double it. The scale itself is part of the
 * run's state (VkcTrainState), so a checkpoint carries it and a resumed run goes on with it. */
#include "run.h"

#define SCALE_INITIAL 65536.0 /* PyTorch's GradScaler starts here too */
#define SCALE_GROWTH 2000     /* clean steps before the scale doubles */

typedef struct {
    uint32_t n;
} ScalePush;
VKC_PUSH_CONTRACT(ScalePush, SCALE);

static bool scaled(const Run *r) { return r->scale.buf.buffer != NULL; }

/* The scale's buffer and kernel (fp16 activations only) and the initial scale. */
int loss_scale_init(Run *r)
{
    bool on = r->rv.model.act_dtype == VKC_F16;
    r->state = (VkcTrainState){.loss_scale = on ? SCALE_INITIAL : 1.0};
    if (!on) return VKC_OK;
    return vkc_tensor_alloc(&r->g.host, 4, &r->scale.buf) ||
                   vkc_kernel_create(&r->g.ctx, &r->scale.kernel, VKC_SHADER_SCALE, "bb", sizeof(ScalePush),
                                     (uint32_t[1]){64}, 1)
               ? VKC_ERR
               : VKC_OK;
}

void loss_scale_destroy(Run *r)
{
    if (r->g.ctx.device) vkc_kernel_destroy(&r->g.ctx, &r->scale.kernel);
}

/* Record: dz (n floats) *= the scale. */
int loss_scale_record(Run *r, VkcCmd *cmd, uint32_t n)
{
    if (!scaled(r)) return VKC_OK;
    VkcTensor t[2] = {r->scale.buf, r->g.dz};
    ScalePush push = {n};
    return vkc_cmd_dispatch(cmd, &r->scale.kernel, t, 1u, &push, vkc_div_up(n, 64), 1, 1);
}

/* Before a submit: the scale of the step, for the scale kernel and the optimizer. */
int loss_scale_set(Run *r)
{
    if (!scaled(r)) return VKC_OK;
    *(float *)r->scale.buf.mapped = (float)r->state.loss_scale;
    return vkc_optim_set_grad_scale(&r->g.opt, (float)r->state.loss_scale);
}

/* After a step: was it skipped (its gradients overflowed)? Then halve the scale; after a run of
 * clean ones double it. */
void loss_scale_after_step(Run *r)
{
    if (!scaled(r)) return;
    VkcTrainState *st = &r->state;
    bool skipped = vkc_optim_skipped(&r->g.opt);
    r->scale.skipped_in_interval += skipped;
    r->res->skipped_steps += skipped;
    if (skipped) {
        st->loss_scale = st->loss_scale > 0x1p-60 ? st->loss_scale / 2 : st->loss_scale;
        st->loss_scale_clean = 0;
    } else if (++st->loss_scale_clean >= SCALE_GROWTH) {
        st->loss_scale = st->loss_scale < 0x1p60 ? st->loss_scale * 2 : st->loss_scale;
        st->loss_scale_clean = 0;
    }
}

/* The skipped steps (of an interval, or of the run) and the scale, in a metrics line or results.json. */
void loss_scale_json(const Run *r, cJSON *obj, double skipped)
{
    if (!scaled(r)) return;
    cJSON_AddNumberToObject(obj, "skipped_steps", skipped);
    cJSON_AddNumberToObject(obj, "loss_scale", r->state.loss_scale);
}
