#include "ref_eval.h"

#include <math.h>
#include <stdlib.h>

static void column_stats(const double *x, int rows, int cols, int c, double *mean, double *std)
{
    double m = 0, v = 0;
    for (int r = 0; r < rows; r++) m += x[r * cols + c];
    m /= rows;
    for (int r = 0; r < rows; r++) v += (x[r * cols + c] - m) * (x[r * cols + c] - m);
    *mean = m, *std = sqrt(v / rows);
}

void ref_standardize_like(double *x, int rows, const double *ref, int rows_ref, int cols, double eps)
{
    for (int c = 0; c < cols; c++) {
        double m, s;
        column_stats(ref, rows_ref, cols, c, &m, &s);
        for (int r = 0; r < rows; r++) {
            double v = x[r * cols + c] - m;
            x[r * cols + c] = s > eps ? v / s : v;
        }
    }
}

void ref_standardize(double *x, int rows, int cols, double eps)
{
    double *copy = malloc(sizeof(double) * rows * cols);
    for (int i = 0; i < rows * cols; i++) copy[i] = x[i];
    ref_standardize_like(x, rows, copy, rows, cols, eps);
    free(copy);
}

static double norm(const double *x, int dim)
{
    double s = 0;
    for (int d = 0; d < dim; d++) s += x[d] * x[d];
    return fmax(sqrt(s), 1e-12);
}

void ref_knn_query(const double *q, const double *bank, const uint32_t *labels, int n, int dim, int k, double T,
                   int nclasses, int *idx, double *votes)
{
    double *sim = malloc(sizeof(double) * n);
    char *taken = calloc(n, 1);
    double qn = norm(q, dim);
    for (int j = 0; j < n; j++) {
        double dot = 0;
        for (int d = 0; d < dim; d++) dot += q[d] * bank[j * dim + d];
        sim[j] = dot / (qn * norm(bank + j * dim, dim));
    }
    for (int c = 0; c < nclasses; c++) votes[c] = 0;
    /* k rounds of "best remaining": highest similarity, the lowest index among equals. */
    for (int i = 0; i < k; i++) {
        int best = -1;
        for (int j = 0; j < n; j++)
            if (!taken[j] && (best < 0 || sim[j] > sim[best])) best = j;
        taken[best] = 1;
        idx[i] = best;
        votes[labels[best]] += exp(sim[best] / T);
    }
    free(sim);
    free(taken);
}

int ref_vote_rank(const double *votes, int nclasses, int y)
{
    int rank = 0;
    for (int c = 0; c < nclasses; c++) rank += votes[c] > votes[y] || (votes[c] == votes[y] && c < y);
    return rank;
}
