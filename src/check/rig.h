/* A small harness for layer checks: tensors made from double arrays (whose values are exact
 * floats), one command buffer, comparisons of device results with double references, and
 * central finite differences for checking reference backward passes. */
#ifndef VKCLR_CHECK_RIG_H
#define VKCLR_CHECK_RIG_H

#include "vkclr/check.h"
#include "vkclr/layers.h"

typedef struct {
    VkcContext *ctx;
    VkcArena arena;
    VkcCmd cmd;
    VkcLayers L;
} Rig;

int rig_init(Rig *g, VkcContext *ctx);
void rig_free(Rig *g);
/* A tensor of n floats holding src (rounded to float), or NaNs when src is NULL so that an
 * output element a kernel forgets to write cannot pass. */
int rig_tensor(Rig *g, const double *src, size_t n, VkcTensor *t);
/* End recording, submit, wait; then start recording again for the next case. */
int rig_run(Rig *g);
/* Download n floats into out as doubles. */
int rig_read(Rig *g, VkcTensor t, size_t n, double *out);
/* Download t and compare with want (see vkc_check_compare). */
int rig_compare(Rig *g, VkcCheckResult *r, const char *what, VkcTensor t, const double *want, size_t n, double atol,
                double rtol);

/* n values in [lo, hi) that are exact floats, from ref_fill_uniform. */
double *rig_random(size_t n, uint64_t seed, double lo, double hi);

/* Central differences of loss() with respect to each of the n values at p:
 * grad[i] = (loss(p_i + h) - loss(p_i - h)) / 2h. */
void rig_finite_diff(double *p, size_t n, double h, double (*loss)(void *), void *user, double *grad);

#endif
