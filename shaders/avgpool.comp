#version 450
// Global average pool over planes of HW values ([N][C][HW] -> [N][C]).
//   MODE 0 (forward): one invocation per plane sums its HW values in order: y = sum / HW.
//   MODE 1 (backward): one invocation per input element: dx = dy[plane] / HW.
// The planes are activations (precision.glsl); the pooled features and their gradient are
// always float32 (what the head, probes and kNN read).
#extension GL_GOOGLE_include_directive : require
#include "texel.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 3) const uint MODE = 0;
#include "layers_common.glsl"
#include "precision.glsl"

layout(binding = 0) uniform ACT_TEXELS X;    // forward: x (backward: bound, not read)
layout(binding = 1) uniform TEXELS DY;  // backward: dy (forward: bound, not read)
layout(binding = 2, std430) writeonly buffer Out { float o[]; };   // forward: y
layout(binding = 2, std430) writeonly buffer DX { act_t dx[]; };   // backward: dx

// The pools' push block: planes of H x W values (the caller passes HW x 1).
layout(push_constant) uniform Push { uint planes, H, W; } p;

void main()
{
    const uint i = linear_invocation(), HW = p.H * p.W;
    if (MODE == 0) {
        if (i >= p.planes) return;
        float s = 0.0;
        for (uint k = 0u; k < HW; k++) s += act_load(X, i * HW + k);
        o[i] = s / float(HW);
    } else {
        if (i >= p.planes * HW) return;
        dx[i] = act(LOAD(DY, i / HW) / float(HW));
    }
}
