#version 450
#extension GL_GOOGLE_include_directive : require
// LARS, pass 2: per tensor, add its chunk partials in chunk order and form the trust ratio
// (You et al.; SimCLR's variant):
//   trust = eta * ||w|| / ||g + wd w||  if both norms are > 0, else 1;  1 for no-decay tensors.
// Writes trust[t] = (trust, ||w||, ||g + wd w||, 0), the norms kept for logging.
// One invocation per tensor.
#include "optim_table.glsl"
layout(local_size_x_id = 0) in;

layout(binding = 2, std430) readonly buffer Partial { vec2 partial[]; };
layout(binding = 3, std430) writeonly buffer Trust { vec4 trust[]; };

layout(push_constant) uniform Push {
    uint ntensors;
    float eta;
} p;

void main()
{
    const uint t = gl_GlobalInvocationID.x;
    if (t >= p.ntensors) return;
    const uint first = table[8u * t + 4u], count = table[8u * t + 5u], flags = table[8u * t + 3u];
    vec2 s = vec2(0.0);
    for (uint c = 0; c < count; c++) s += partial[first + c];
    const float wn = sqrt(s.x), gn = sqrt(s.y);
    float ratio = 1.0;
    if ((flags & FLAG_NO_DECAY) == 0u && wn > 0.0 && gn > 0.0) ratio = p.eta * wn / gn;
    trust[t] = vec4(ratio, wn, gn, 0.0);
}
