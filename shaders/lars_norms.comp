#version 450
#extension GL_GOOGLE_include_directive : require
// LARS, pass 1 of the per-tensor norms: for each chunk, the partial sums
//   (sum w^2, sum (g + wd w)^2)
// (wd = 0 for no-decay tensors; their norms are not used but cost nothing to compute).
// Each invocation sums a strided slice in order, then the workgroup combines the slices in a
// fixed tree: deterministic, no atomics. lars_trust adds the chunks of each tensor in order.
#include "optim_table.glsl"
layout(local_size_x_id = 0) in;

layout(binding = 2, std430) readonly buffer W { float w[]; };
layout(binding = 3, std430) readonly buffer G { float g[]; };
layout(binding = 4, std430) writeonly buffer Partial { vec2 partial[]; };

layout(push_constant) uniform Push {
    uint chunk_base;
    float weight_decay;
} p;

shared vec2 sums[gl_WorkGroupSize.x];

void main()
{
    const Chunk k = chunk_at(p.chunk_base, gl_WorkGroupID.x);
    const float wd = (k.flags & FLAG_NO_DECAY) != 0u ? 0.0 : p.weight_decay;
    vec2 s = vec2(0.0);
    for (uint e = gl_LocalInvocationID.x; e < k.n; e += gl_WorkGroupSize.x) {
        const float wi = w[k.param + e];
        const float gi = g[k.grad + e] * hyper.inv_scale + wd * wi;
        s += vec2(wi * wi, gi * gi);
    }
    const uint lane = gl_LocalInvocationID.x;
    sums[lane] = s;
    barrier();
    // Workgroup sizes are powers of two (checked on the host).
    for (uint width = gl_WorkGroupSize.x / 2u; width > 0u; width /= 2u) {
        if (lane < width) sums[lane] += sums[lane + width];
        barrier();
    }
    if (lane == 0u) partial[gl_WorkGroupID.x] = sums[0];
}
