// How this build of a shader stores activations (shaders/meson.build compiles the shaders of
// precision_shaders three times): float32 by default, IEEE half with ACT_F16, bfloat16 (the
// upper 16 bits of a float32) with ACT_BF16. Arithmetic stays float32 in every build; only the
// loads and stores of activations go through the helpers below.
//   ACT_TEXELS       the type of an activation texel binding ('t'/'s' in vk.h: the
//                    view's format follows the tensor's dtype)
//   act_load(b, i)   element i of an r-format view; act_load4(b, t): texel t of an rgba view
//                    (macros: texel bindings cannot be function parameters in every build)
//   act_t, act2_t, act4_t and act(x), act2(v), act4(v): the storage-buffer element types of
//                    written activations and the conversions from float (round to nearest even)
//   act_float(e), act_float4(e): a storage-buffer element (or 4) read back as float
#if defined(ACT_F16) || defined(ACT_BF16)
#extension GL_EXT_shader_16bit_storage : require
#endif

#if defined(ACT_F16)
#define ACT_TEXELS TEXELS
#define act_t float16_t
#define act2_t f16vec2
#define act4_t f16vec4
#define act_load(b, i) (texel(b, i).r)
#define act_load4(b, t) texel(b, t)
float16_t act(float x) { return float16_t(x); }
// (macros: 16-bit storage allows conversions of loaded elements, not 16-bit parameters)
#define act_float(e) float(e)
#define act_float4(e) vec4(e)
f16vec2 act2(vec2 v) { return f16vec2(v); }
f16vec4 act4(vec4 v) { return f16vec4(v); }
#elif defined(ACT_BF16)
#define ACT_TEXELS UTEXELS
#define act_t uint16_t
#define act2_t u16vec2
#define act4_t u16vec4
#define act_load(b, i) uintBitsToFloat(texel(b, i).r << 16)
#define act_load4(b, t) uintBitsToFloat(texel(b, t) << 16)
// float32 -> bfloat16, round to nearest even; a NaN stays a (quiet) NaN.
uint bf16_bits(float x)
{
    const uint u = floatBitsToUint(x);
    if (isnan(x)) return (u >> 16) | 0x40u;
    return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}
uint16_t act(float x) { return uint16_t(bf16_bits(x)); }
#define act_float(e) uintBitsToFloat(uint(e) << 16)
#define act_float4(e) uintBitsToFloat(uvec4(e) << 16)
u16vec2 act2(vec2 v) { return u16vec2(uvec2(bf16_bits(v.x), bf16_bits(v.y))); }
u16vec4 act4(vec4 v) { return u16vec4(uvec4(bf16_bits(v.x), bf16_bits(v.y), bf16_bits(v.z), bf16_bits(v.w))); }
#else
#define ACT_TEXELS TEXELS
#define act_t float
#define act2_t vec2
#define act4_t vec4
#define act_load(b, i) (texel(b, i).r)
#define act_load4(b, t) texel(b, t)
float act(float x) { return x; }
float act_float(float e) { return e; }
vec4 act_float4(vec4 e) { return e; }
vec2 act2(vec2 v) { return v; }
vec4 act4(vec4 v) { return v; }
#endif
