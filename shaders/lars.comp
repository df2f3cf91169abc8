#version 450
#extension GL_GOOGLE_include_directive : require
// LARS update (SimCLR's LARSOptimizer: momentum on the scaled step), after lars_trust:
//   g' = g + wd * w            (wd = 0 for no-decay tensors)
//   v  = mu * v + lr * trust * g'
//   w -= nesterov ? mu * v + lr * trust * g' : v
// One workgroup per chunk.
#include "optim_table.glsl"
layout(local_size_x_id = 0) in;

layout(binding = 2, std430) buffer W { float w[]; };
layout(binding = 3, std430) readonly buffer G { float g[]; };
layout(binding = 4, std430) buffer V { float v[]; };
layout(binding = 5, std430) readonly buffer Trust { vec4 trust[]; };

layout(push_constant) uniform Push {
    uint chunk_base;
    float momentum, weight_decay;
    uint nesterov;
} p;

void main()
{
    if (hyper.nonfinite != 0u) return; // a skipped step
    const Chunk k = chunk_at(p.chunk_base, gl_WorkGroupID.x);
    const float wd = (k.flags & FLAG_NO_DECAY) != 0u ? 0.0 : p.weight_decay;
    const float step = hyper.lr * trust[k.tensor].x;
    for (uint e = gl_LocalInvocationID.x; e < k.n; e += gl_WorkGroupSize.x) {
        const float wi = w[k.param + e];
        const float gi = step * (g[k.grad + e] * hyper.inv_scale + wd * wi);
        const float vi = p.momentum * v[k.state + e] + gi;
        v[k.state + e] = vi;
        w[k.param + e] = wi - (p.nesterov != 0u ? p.momentum * vi + gi : vi);
    }
}
