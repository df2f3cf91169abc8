/* Embedded SPIR-V modules, compiled from the shaders/ folder at build time. */
#ifndef VKCLR_SHADERS_H
#define VKCLR_SHADERS_H
#include <stddef.h>
#include <stdint.h>

#include "shader_names.h" /* generated from shaders/meson.build: enum VkcShader */

typedef struct {
    const char *name;      /* file name without .comp */
    const uint32_t *words; /* SPIR-V */
    size_t size;           /* bytes */
    /* The build that reads its texel buffers as storage images (shaders/texel.glsl), or NULL
     * for a shader without texel bindings. */
    const uint32_t *image_words;
    size_t image_size;
} VkcShaderBlob;

extern const VkcShaderBlob vkc_shader_table[VKC_SHADER_COUNT];

#endif
