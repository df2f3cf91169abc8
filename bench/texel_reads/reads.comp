#version 450
// One way of reading memory in a compute shader, timed by bench/texel_reads.sh on the Vulkan
// driver at hand (shaders/texel.glsl says what the figures decided). Compiled per case:
//   KERNEL_STREAM: each of 64K invocations adds up 1024 vec4 reads of READ_A
//   KERNEL_GEMM:   each invocation keeps an 8x4 tile of vec4 accumulators (as vkclr's register-
//                  tiled kernels do) fed per step by 2 reads of READ_A (its own rows) and 4 of
//                  READ_B (the same for every lane)
//   KERNEL_ALU:    8 chains of vec4 multiply-adds, no reads
// READ_A, READ_B: 1 uniform texel buffer (texelFetch), 2 storage texel buffer (imageLoad, rgba32f),
// 3 storage buffer, 4 uniform buffer.
#extension GL_EXT_samplerless_texture_functions : require
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x_id = 0) in;
layout(binding = 0) buffer Out { vec4 o[]; };
layout(binding = 1) uniform textureBuffer T;
layout(binding = 2) uniform U { vec4 u[4096]; };
layout(binding = 3, rgba32f) uniform readonly imageBuffer I;

vec4 read(int how, uint i)
{
    if (how == 1) return texelFetch(T, int(i & 65535u));
    if (how == 2) return imageLoad(I, int(i & 65535u));
    if (how == 3) return o[65536u + (i & 65535u)];
    return u[i & 4095u];
}

void main()
{
    const uint id = gl_GlobalInvocationID.x;
#if defined(KERNEL_STREAM)
    vec4 a = vec4(0.0);
    for (uint i = 0u; i < 1024u; i++) a += read(READ_A, id * 4u + i);
    o[id] = a;
#elif defined(KERNEL_GEMM)
    vec4 acc[8][4];
    [[unroll]] for (int i = 0; i < 8; i++) [[unroll]] for (int j = 0; j < 4; j++) acc[i][j] = vec4(0.0);
    for (uint k = 0u; k < 256u; k++) {
        vec4 a[2], b[4];
        [[unroll]] for (uint i = 0u; i < 2u; i++) a[i] = read(READ_A, id * 2u + k * 64u + i);
        [[unroll]] for (uint j = 0u; j < 4u; j++) b[j] = read(READ_B, k * 16u + j);
        [[unroll]] for (int i = 0; i < 8; i++)
            [[unroll]] for (int j = 0; j < 4; j++) acc[i][j] = fma(vec4(a[i / 4][i % 4]), b[j], acc[i][j]);
    }
    vec4 s = vec4(0.0);
    [[unroll]] for (int i = 0; i < 8; i++) [[unroll]] for (int j = 0; j < 4; j++) s += acc[i][j];
    o[id] = s;
#else
    vec4 a0 = vec4(id) * 1e-6, a1 = a0 + 1.0, a2 = a0 + 2.0, a3 = a0 + 3.0, a4 = a0 + 4.0, a5 = a0 + 5.0,
         a6 = a0 + 6.0, a7 = a0 + 7.0, m = vec4(0.5);
    for (int i = 0; i < 1024; i++) {
        a0 = fma(a0, m, a1), a1 = fma(a1, m, a2), a2 = fma(a2, m, a3), a3 = fma(a3, m, a4);
        a4 = fma(a4, m, a5), a5 = fma(a5, m, a6), a6 = fma(a6, m, a7), a7 = fma(a7, m, a0);
    }
    o[id] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
#endif
}
