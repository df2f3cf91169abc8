/* Plain-C references for the evaluation kernels (src/eval, shaders/standardize.comp,
 * gather_rows.comp, row_invnorm.comp, knn_topk.comp, knn_vote.comp), in double precision. */
#ifndef VKCLR_TESTS_REF_EVAL_H
#define VKCLR_TESTS_REF_EVAL_H

#include <stdint.h>

/* In place: x[r][c] = (x[r][c] - mean_c) / std_c with the population std of column c
 * (columns with std <= eps are only centred). */
void ref_standardize(double *x, int rows, int cols, double eps);
/* Apply the mean and std of `ref` (rows_ref x cols) to x (rows x cols), as the probe does for the test split. */
void ref_standardize_like(double *x, int rows, const double *ref, int rows_ref, int cols, double eps);

/* Weighted kNN for one query q (dim) against a bank (n x dim): cosine similarities, the k best
 * (higher first, ties to the lower index) into idx[k] in that order, and votes[c] = sum of
 * exp(s / T) over the neighbours with label c. */
void ref_knn_query(const double *q, const double *bank, const uint32_t *labels, int n, int dim, int k, double T,
                   int nclasses, int *idx, double *votes);
/* Rank of class y among votes (ties to the lower class): 0 is a top-1 hit, < 5 a top-5 hit. */
int ref_vote_rank(const double *votes, int nclasses, int y);

#endif
