#version 450
// y = a * x + b * y, elementwise over n floats (vec4 at a time where n allows).
layout(local_size_x_id = 0) in;

layout(binding = 0, std430) readonly buffer X { float x[]; };
layout(binding = 1, std430) buffer Y { float y[]; };

layout(push_constant) uniform Push {
    uint n;
    float a, b;
} p;

void main()
{
    const uint i = gl_GlobalInvocationID.x;
    if (i < p.n) y[i] = p.a * x[i] + p.b * y[i];
}
