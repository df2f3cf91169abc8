/* Embedded SPIR-V modules, compiled from the shaders/ folder at build time. */
#ifndef VKCLR_SHADERS_H
#define VKCLR_SHADERS_H
#include <stddef.h>
#include <stdint.h>

#include "shader_names.h" /* generated from shaders/meson.build: enum VkcShader */

typedef struct {
    const char *name;      /* file name without .comp (or the build's name: conv2d_fwd_coop_f16) */
    const uint32_t *words; /* SPIR-V; NULL for a shader this build left out */
    size_t size;           /* bytes; 0 when left out */
    /* The build that reads its texel buffers as storage images (shaders/texel.glsl), or NULL
     * for a shader without texel bindings. */
    const uint32_t *image_words;
    size_t image_size;
    int coopmat;           /* uses cooperative matrices (its SPIR-V declares CooperativeMatrixKHR) */
} VkcShaderBlob;

extern const VkcShaderBlob vkc_shader_table[VKC_SHADER_COUNT];

/* Which cooperative-matrix kernels this build has and why the others were left out, as
 * `meson setup` decided it (shaders/meson.build compiles a probe shader with the glslang it
 * found), e.g. "cooperative-matrix kernels: fp16 built, bf16 left out: glslang 15.2.0 cannot
 * compile them (...)". */
extern const char vkc_coopmat_build_note[];

/* Is the shader in this build? */
static inline int vkc_shader_built(VkcShader s) { return vkc_shader_table[s].words != 0; }

/* One contract per push-constant block: beside the C struct T that the host fills for a shader,
 *     VKC_PUSH_CONTRACT(T, SHADER);   T is the shader's block: its size, every member at the
 *                                     block's offset (SHADER: the file name in upper case)
 *     VKC_PUSH_PREFIX(T, SHADER);     the block is the first VKC_PUSH_SIZE_SHADER bytes of T
 * The block's layout comes from the compiled SPIR-V (tools/embed_spirv.py), so a struct that no
 * longer matches its GLSL is a compile error, not a validation message at run time. */
#define VKC_PUSH_MEMBER_AT(T, member, offset)                                                                          \
    _Static_assert(offsetof(T, member) == (offset), #T "." #member " is not where the shader's push block has it");
#define VKC_PUSH_PREFIX(T, SHADER)                                                                                     \
    VKC_PUSH_MEMBERS_##SHADER(VKC_PUSH_MEMBER_AT, T)                                                                  \
    _Static_assert(sizeof(T) >= VKC_PUSH_SIZE_##SHADER, #T " is smaller than " #SHADER "'s push block")
#define VKC_PUSH_CONTRACT(T, SHADER)                                                                                   \
    VKC_PUSH_MEMBERS_##SHADER(VKC_PUSH_MEMBER_AT, T)                                                                  \
    _Static_assert(sizeof(T) == VKC_PUSH_SIZE_##SHADER, #T " is not the size of " #SHADER "'s push block")

#endif
