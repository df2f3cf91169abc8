#version 450
// Global average pool over planes of HW values ([N][C][HW] -> [N][C]).
//   MODE 0 (forward): one invocation per plane sums its HW values in order: y = sum / HW.
//   MODE 1 (backward): one invocation per input element: dx = dy[plane] / HW.
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
layout(constant_id = 3) const uint MODE = 0;
#include "layers_common.glsl"

layout(binding = 0) uniform samplerBuffer X; // forward: x; backward: dy
layout(binding = 1) uniform samplerBuffer Unused;
layout(binding = 2, std430) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push { uint planes, HW, one; } p;

void main()
{
    const uint i = linear_invocation();
    if (MODE == 0) {
        if (i >= p.planes) return;
        float s = 0.0;
        for (uint k = 0u; k < p.HW; k++) s += LOAD(X, i * p.HW + k);
        o[i] = s / float(p.HW);
    } else {
        if (i >= p.planes * p.HW) return;
        o[i] = LOAD(X, i / p.HW) / float(p.HW);
    }
}
