#version 450
#extension GL_GOOGLE_include_directive : require
// AdamW (Loshchilov & Hutter; PyTorch's AdamW), decoupled weight decay:
//   m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
//   w -= lr * ( (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) + wd * w )
// with 1 - b^t from the per-step buffer (the host computes them for step t >= 1); wd = 0 for
// no-decay tensors.
// State: m at state offsets, v one `count` further (the host sizes the state buffer 2x).
// One workgroup per chunk.
#include "optim_table.glsl"
layout(local_size_x_id = 0) in;

layout(binding = 2, std430) buffer W { float w[]; };
layout(binding = 3, std430) readonly buffer G { float g[]; };
layout(binding = 4, std430) buffer State { float state[]; };

layout(push_constant) uniform Push {
    uint chunk_base;
    uint v_off; // elements from m to v
    float beta1, beta2, eps, weight_decay;
} p;

void main()
{
    if (hyper.nonfinite != 0u) return; // a skipped step
    const Chunk k = chunk_at(p.chunk_base, gl_WorkGroupID.x);
    const float wd = (k.flags & FLAG_NO_DECAY) != 0u ? 0.0 : p.weight_decay;
    const float bc1 = hyper.bias1, bc2 = hyper.bias2;
    const float lr = hyper.lr;
    for (uint e = gl_LocalInvocationID.x; e < k.n; e += gl_WorkGroupSize.x) {
        const float gi = g[k.grad + e] * hyper.inv_scale;
        const float mi = p.beta1 * state[k.state + e] + (1.0 - p.beta1) * gi;
        const float vi = p.beta2 * state[p.v_off + k.state + e] + (1.0 - p.beta2) * gi * gi;
        state[k.state + e] = mi;
        state[p.v_off + k.state + e] = vi;
        const float wi = w[k.param + e];
        w[k.param + e] = wi - lr * ((mi / bc1) / (sqrt(vi / bc2) + p.eps) + wd * wi);
    }
}
