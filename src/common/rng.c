/* The counter-based generator (vkclr/rng.h). */
#include "vkclr/rng.h"

/* splitmix64's finaliser: a bijective 64-bit mixer with full avalanche */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#define GOLDEN 0x9e3779b97f4a7c15ull

VkcRng vkc_rng(uint64_t seed, uint64_t epoch, uint64_t index, uint64_t view)
{
    uint64_t key = mix64(seed + GOLDEN);
    key = mix64(key ^ (epoch + GOLDEN));
    key = mix64(key ^ (index + 2 * GOLDEN));
    key = mix64(key ^ (view + 3 * GOLDEN));
    return (VkcRng){.key = key, .counter = 0};
}

uint64_t vkc_rng_u64(VkcRng *rng) { return mix64(rng->key + ++rng->counter * GOLDEN); }

float vkc_rng_uniform(VkcRng *rng) { return (float)(vkc_rng_u64(rng) >> 40) * (1.0f / 16777216.0f); }

float vkc_rng_range(VkcRng *rng, float lo, float hi) { return lo + (hi - lo) * vkc_rng_uniform(rng); }

int vkc_rng_int(VkcRng *rng, int n) { return (int)(((vkc_rng_u64(rng) >> 32) * (uint64_t)n) >> 32); }
