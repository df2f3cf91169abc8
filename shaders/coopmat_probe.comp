#version 450
// Build-time probe (shaders/meson.build): can the glslang found compile what the
// cooperative-matrix kernels use? Sizes as specialization constants, 16-bit operands from
// shared memory, float32 accumulation. COOP_BF16: bfloat16 operands (GL_EXT_bfloat16).
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#ifdef COOP_BF16
#extension GL_EXT_bfloat16 : require
#define coop_t bfloat16_t
#else
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define coop_t float16_t
#endif
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint CM = 16, CN = 16, CK = 16;
shared coop_t ab[CK * (CM + CN)];
layout(binding = 0, std430) buffer C { float c[]; };
void main()
{
    coopmat<coop_t, gl_ScopeSubgroup, CM, CK, gl_MatrixUseA> a;
    coopmat<coop_t, gl_ScopeSubgroup, CK, CN, gl_MatrixUseB> b;
    coopMatLoad(a, ab, 0, CM, gl_CooperativeMatrixLayoutColumnMajor);
    coopMatLoad(b, ab, CK * CM, CN, gl_CooperativeMatrixLayoutRowMajor);
    coopmat<float, gl_ScopeSubgroup, CM, CN, gl_MatrixUseAccumulator> acc =
        coopmat<float, gl_ScopeSubgroup, CM, CN, gl_MatrixUseAccumulator>(0.0);
    coopMatStore(coopMatMulAdd(a, b, acc), c, 0, CN, gl_CooperativeMatrixLayoutRowMajor);
}
