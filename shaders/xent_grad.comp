#version 450
#extension GL_GOOGLE_include_directive : require
#include "texel.glsl"
// Gradient of the mean softmax cross-entropy with respect to the logits:
//   dx_bc = (exp(x_bc - lse_b) - [c == y_b]) * scale,   scale = 1 / B
// with lse_b from xent_rows. One invocation per element; x runs along the classes.
layout(local_size_x_id = 0, local_size_y_id = 1) in;

layout(binding = 0) uniform TEXELS X;     // r32f logits
layout(binding = 1) uniform TEXELS Stats; // rgba32f rows (loss, top1, top5, lse)
layout(binding = 2, std430) readonly buffer Labels { uint labels[]; };
layout(binding = 3, std430) writeonly buffer DX { float dx[]; };

layout(push_constant) uniform Push {
    uint batch, classes, x_off, stats_off, label_off, dx_off;
    float scale;
} p;

void main()
{
    const uint c = gl_GlobalInvocationID.x, b = gl_GlobalInvocationID.y;
    if (b >= p.batch || c >= p.classes) return;
    const uint at = b * p.classes + c;
    const float lse = texel(Stats, int(p.stats_off + b)).w;
    float v = exp(texel(X, int(p.x_off + at)).r - lse);
    if (labels[p.label_off + b] == c) v -= 1.0;
    dx[p.dx_off + at] = v * p.scale;
}
