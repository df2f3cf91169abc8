#version 450
#extension GL_GOOGLE_include_directive : require
// Are all gradients finite? (fp16 training with a loss scale: a step whose gradients overflowed
// is skipped.) Two passes over the optimizer's table, deterministic, no atomics:
//   MODE 0: one workgroup per chunk counts the chunk's non-finite gradients into count[chunk]
//   MODE 1: one workgroup adds the counts and sets hyper.nonfinite (0 or 1)
#define STEP_WRITABLE
#include "optim_table.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 3) const uint MODE = 0;

layout(binding = 2, std430) readonly buffer G { float g[]; };
layout(binding = 3, std430) buffer Count { uint count[]; };

layout(push_constant) uniform Push {
    uint chunk_base, nchunks;
} p;

shared uint bad[gl_WorkGroupSize.x];

void main()
{
    const uint lane = gl_LocalInvocationID.x;
    uint n = 0u;
    if (MODE == 0) {
        const Chunk k = chunk_at(p.chunk_base, gl_WorkGroupID.x);
        for (uint e = lane; e < k.n; e += gl_WorkGroupSize.x) n += isinf(g[k.grad + e]) || isnan(g[k.grad + e]) ? 1u : 0u;
    } else {
        for (uint c = lane; c < p.nchunks; c += gl_WorkGroupSize.x) n += count[c];
    }
    bad[lane] = n;
    barrier();
    for (uint width = gl_WorkGroupSize.x / 2u; width > 0u; width /= 2u) {
        if (lane < width) bad[lane] += bad[lane + width];
        barrier();
    }
    if (lane != 0u) return;
    if (MODE == 0) count[gl_WorkGroupID.x] = bad[0];
    else hyper.nonfinite = bad[0] != 0u ? 1u : 0u;
}
