/* Deterministic reductions: column sums, vector sums, sums of squares and norms.
 * No float atomics: rows are split into chunks that depend only on the shape, pass 1 writes
 * one partial per (chunk, column), pass 2 adds the partials in chunk order. The same inputs
 * give bit-identical outputs on the same device. */
#ifndef VKCLR_REDUCE_H
#define VKCLR_REDUCE_H

#include "vkclr/vk.h"

typedef struct {
    VkcContext *ctx;
    VkcKernel colsum;
    uint32_t wg;
} VkcReduce;

typedef struct {
    VkcTensor x;                /* rows x cols, row-major */
    uint32_t rows, cols, ld;    /* ld: elements between rows (0: cols) */
    bool square;                /* sum x^2 instead of x */
    bool root;                  /* sqrt of the scaled sum (norms) */
    float scale;                /* multiplies the sum (1/rows: the mean) */
    VkcTensor out;              /* cols floats */
    VkcTensor scratch;          /* vkc_colsum_scratch_floats(rows, cols) floats; unused when that is 0 */
} VkcColsumArgs;

int vkc_reduce_init(VkcContext *ctx, VkcReduce *r);
void vkc_reduce_destroy(VkcReduce *r);

/* Chunks the rows are split into (1 for rows <= 4096: a single pass, no scratch). */
uint32_t vkc_colsum_chunks(uint32_t rows);
/* Floats of scratch a column sum of this shape needs (0 when it runs in one pass). */
size_t vkc_colsum_scratch_floats(uint32_t rows, uint32_t cols);

/* out[c] = f(scale * sum_r g(x[r][c])), g = identity or square, f = identity or sqrt. */
int vkc_colsum_record(VkcReduce *r, VkcCmd *cmd, const VkcColsumArgs *a);

/* out[0] = scale * sum_i x[i] (or sum of squares; root: the L2 norm when scale is 1). */
int vkc_sum_record(VkcReduce *r, VkcCmd *cmd, VkcTensor x, uint32_t n, bool square, bool root, float scale,
                   VkcTensor out, VkcTensor scratch);

#endif
