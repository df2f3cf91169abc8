/* Plain-C reference implementations: the oracles the shaders are tested against.
 * Written to read like the math, in the simplest loops, double accumulation. */
#ifndef VKCLR_TESTS_REF_H
#define VKCLR_TESTS_REF_H

#include <stdbool.h>
#include <stdint.h>

/* C = alpha * op(A) op(B) + beta * C with row-major leading dimensions. */
void ref_gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);

/* Deterministic pseudo-random floats in [lo, hi) (xorshift; seed != 0). */
void ref_fill_uniform(float *x, int n, uint64_t seed, float lo, float hi);

/* Largest |a-b| / (atol + rtol*|b|) over n elements; <= 1 means within tolerance. */
double ref_max_violation(const float *a, const float *b, int n, double atol, double rtol, int *worst);

#endif
