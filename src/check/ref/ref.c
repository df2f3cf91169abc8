#include "ref.h"

#include <math.h>

void ref_gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc)
{
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double sum = 0.0;
            for (int k = 0; k < K; k++) {
                double a = trans_a ? A[k * lda + m] : A[m * lda + k];
                double b = trans_b ? B[n * ldb + k] : B[k * ldb + n];
                sum += a * b;
            }
            double old = beta != 0.0f ? beta * (double)C[m * ldc + n] : 0.0;
            C[m * ldc + n] = (float)(alpha * sum + old);
        }
}

void ref_fill_uniform(float *x, int n, uint64_t seed, float lo, float hi)
{
    uint64_t s = seed ? seed : 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        x[i] = lo + (hi - lo) * (float)((s >> 40) * (1.0 / 16777216.0));
    }
}

double ref_max_violation(const float *a, const float *b, int n, double atol, double rtol, int *worst)
{
    double max = 0.0;
    int at = -1;
    for (int i = 0; i < n; i++) {
        double v = fabs((double)a[i] - (double)b[i]) / (atol + rtol * fabs((double)b[i]));
        if (isnan(v) || v > max) {
            max = isnan(v) ? INFINITY : v;
            at = i;
        }
    }
    if (worst) *worst = at;
    return max;
}
