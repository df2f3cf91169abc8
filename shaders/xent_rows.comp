#version 450
#extension GL_GOOGLE_include_directive : require
#include "texel.glsl"
// Softmax cross-entropy with integer labels, per-row statistics for a B x C logit matrix:
//   lse_b  = log sum_c exp(x_bc)  (as m + log sum exp(x - m), m the row max: no overflow)
//   loss_b = lse_b - x_b,y_b
//   rank_b = #{c : x_bc > x_by} + #{c < y_b : x_bc == x_by}   (ties go to the lower class)
// Writes stats[b] = (loss_b, rank == 0, rank < 5, lse_b); a column sum gives the mean loss,
// top-1 and top-5 accuracy and mean lse; the backward pass reads lse_b. A label outside
// [0, C) makes the loss NaN, so a bad label can never pass silently.
// One invocation per row.
layout(local_size_x_id = 0) in;

layout(binding = 0) uniform TEXELS X; // r32f logits
layout(binding = 1, std430) readonly buffer Labels { uint labels[]; };
layout(binding = 2, std430) writeonly buffer Stats { vec4 stats[]; };

layout(push_constant) uniform Push {
    uint batch, classes, x_off, label_off;
} p;

void main()
{
    const uint b = gl_GlobalInvocationID.x;
    if (b >= p.batch) return;
    const uint y = labels[p.label_off + b];
    const uint row = p.x_off + b * p.classes;
    if (y >= p.classes) {
        const float nan = uintBitsToFloat(0x7fc00000u);
        stats[b] = vec4(nan, 0.0, 0.0, nan);
        return;
    }
    const float xy = texel(X, int(row + y)).r;
    float m = xy;
    uint rank = 0u;
    for (uint c = 0; c < p.classes; c++) {
        const float v = texel(X, int(row + c)).r;
        m = max(m, v);
        rank += (v > xy || (v == xy && c < y)) ? 1u : 0u;
    }
    float sum = 0.0;
    for (uint c = 0; c < p.classes; c++) sum += exp(texel(X, int(row + c)).r - m);
    const float lse = m + log(sum);
    stats[b] = vec4(lse - xy, rank == 0u ? 1.0 : 0.0, rank < 5u ? 1.0 : 0.0, lse);
}
