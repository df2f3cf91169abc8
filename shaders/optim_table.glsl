// Shared by the optimizer shaders: the multi-tensor table and the per-step values.
//
// Parameters, gradients and optimizer state are each one buffer view holding many tensors.
// The table (built once on the host, vkc_optim_init) describes
//   tensor t (8 uints at t*8):          param_off, grad_off, state_off, flags, first_chunk,
//                                       nchunks, count, 0   (offsets in elements)
//   chunk c (4 uints at chunk_base+c*4): tensor, start (element inside the tensor), n, 0
// A workgroup works on one chunk (gl_WorkGroupID.x), so one dispatch updates every tensor and
// per-tensor reductions are sums of per-chunk partials in a fixed order.
layout(binding = 0, std430) readonly buffer Table { uint table[]; };

// Written by the host before each submit; the recorded commands never change. With a loss
// scale (fp16 training) the gradients arrive multiplied by 1/inv_scale, and grad_check sets
// nonfinite when any of them is inf or NaN: the update kernels then change nothing (a skipped
// step). Without one, inv_scale is 1 (an exact multiply) and nonfinite stays 0.
#ifndef STEP_WRITABLE
layout(binding = 1, std430) readonly buffer Step {
#else
layout(binding = 1, std430) buffer Step {
#endif
    float lr;
    uint step;       // 1 for the first update
    float bias1;     // AdamW: 1 - beta1^step, 1 - beta2^step, computed by the host in double
    float bias2;     // (in float, 1 - 0.999^t loses ~4 digits to cancellation at small t)
    float inv_scale; // 1 / loss scale
    uint nonfinite;  // set by grad_check: skip this update
} hyper;

const uint FLAG_NO_DECAY = 1u; // biases, batch-norm: no weight decay, no LARS adaptation

struct Chunk {
    uint tensor, start, n;
    uint param, grad, state; // element offsets of the chunk's first element
    uint flags;
};

Chunk chunk_at(uint chunk_base, uint c)
{
    Chunk k;
    k.tensor = table[chunk_base + 4u * c];
    k.start = table[chunk_base + 4u * c + 1u];
    k.n = table[chunk_base + 4u * c + 2u];
    const uint t = 8u * k.tensor;
    k.param = table[t] + k.start;
    k.grad = table[t + 1u] + k.start;
    k.state = table[t + 2u] + k.start;
    k.flags = table[t + 3u];
    return k;
}
