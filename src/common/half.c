/* fp16 and bf16 conversions (vkclr/half.h). */
#include <math.h>
#include <string.h>

#include "vkclr/half.h"

static uint32_t bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static float from_bits(uint32_t u)
{
    float x;
    memcpy(&x, &u, 4);
    return x;
}

uint16_t vkc_f32_to_bf16(float x)
{
    uint32_t u = bits(x);
    if (isnan(x)) return (uint16_t)((u >> 16) | 0x40u); /* stays a quiet NaN */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

float vkc_bf16_to_f32(uint16_t b) { return from_bits((uint32_t)b << 16); }

uint16_t vkc_f32_to_f16(float x)
{
    uint32_t u = bits(x), sign = (u >> 16) & 0x8000u;
    uint32_t a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) return (uint16_t)(sign | 0x7c00u | (a > 0x7f800000u ? 0x200u : 0)); /* inf, NaN */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds past 65504: inf */
    if (a < 0x38800000u) { /* below 2^-14: a subnormal half (or zero) */
        if (a < 0x33000000u) return (uint16_t)sign; /* below half the smallest subnormal */
        /* value = mant 2^(e - 150), in units of the smallest half subnormal 2^-24 */
        uint32_t mant = (a & 0x7fffffu) | 0x800000u, shift = 150 - 24 - (a >> 23);
        uint32_t q = mant >> shift, rem = mant & ((1u << shift) - 1), halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (q & 1u))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t r = a + 0xfffu + ((a >> 13) & 1u); /* round the 13 dropped bits to nearest even */
    return (uint16_t)(sign | ((r - 0x38000000u) >> 13));
}

float vkc_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1f) return from_bits(sign | 0x7f800000u | (m << 13));
    if (e == 0) return (sign ? -1.0f : 1.0f) * ldexpf((float)m, -24); /* zero, subnormal */
    return from_bits(sign | ((e + 112u) << 23) | (m << 13));
}
