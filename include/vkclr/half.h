/* 16-bit floating-point storage on the host: IEEE half (fp16) and bfloat16 (the upper half of
 * an fp32 word), converted with round to nearest even, as the shaders store them
 * (shaders/precision.glsl). */
#ifndef VKCLR_HALF_H
#define VKCLR_HALF_H

#include <stdint.h>

uint16_t vkc_f32_to_f16(float x);
float vkc_f16_to_f32(uint16_t h);
uint16_t vkc_f32_to_bf16(float x);
float vkc_bf16_to_f32(uint16_t b);

#endif
