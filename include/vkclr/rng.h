/* The counter-based random number generator every random choice in vkclr draws from:
 * parameter initialisation, shuffling, augmentation. Draw k is a hash of (key, k), so a
 * generator is just its key and counter, and a stream keyed by (seed, a, b, c) never depends
 * on which thread uses it or in what order. */
#ifndef VKCLR_RNG_H
#define VKCLR_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t key, counter;
} VkcRng;

/* The stream keyed by four numbers (augmentation: seed, epoch, image, view). */
VkcRng vkc_rng(uint64_t seed, uint64_t epoch, uint64_t index, uint64_t view);
uint64_t vkc_rng_u64(VkcRng *rng);
float vkc_rng_uniform(VkcRng *rng);                   /* [0, 1) with 24 random bits */
float vkc_rng_range(VkcRng *rng, float lo, float hi); /* [lo, hi) */
int vkc_rng_int(VkcRng *rng, int n);                  /* [0, n), n >= 1 */

#endif
