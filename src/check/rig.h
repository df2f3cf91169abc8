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
    VkcDtype act; /* element type of activation tensors (rig_act) */
} Rig;

/* act: the dtype of the activations under test. A 16-bit dtype the device cannot run marks the
 * check skipped (r->skipped, with the reason) and returns VKC_ERR with no message: the caller
 * returns VKC_OK then (rig_skipped). */
int rig_init_dtype(Rig *g, VkcContext *ctx, VkcDtype act, VkcCheckResult *r);
int rig_init(Rig *g, VkcContext *ctx);
/* An activation tensor of g->act holding src, which is first rounded to g->act in place (so
 * the reference sees the values the device sees); NaNs when src is NULL. */
int rig_act(Rig *g, double *src, size_t n, VkcTensor *t);
/* Round n values to g->act in place (through float). */
void rig_round(const Rig *g, double *x, size_t n);
/* The relative rounding error of one store into g->act: 0 for float32, 2^-11 fp16, 2^-8 bf16
 * (added to a check's relative tolerance for 16-bit outputs). */
double rig_unit(const Rig *g);
/* What a check appends to the names of its compared outputs: "" for float32, " fp16", " bf16". */
const char *rig_dtype_suffix(const Rig *g);
void rig_free(Rig *g);
/* A tensor of n floats holding src (rounded to float), or NaNs when src is NULL so that an
 * output element a kernel forgets to write cannot pass. */
int rig_tensor(Rig *g, const double *src, size_t n, VkcTensor *t);
/* End recording, submit, wait; then start recording again for the next case. */
int rig_run(Rig *g);
/* Download n elements (of t's dtype) into out as doubles. */
int rig_read(Rig *g, VkcTensor t, size_t n, double *out);
/* Download t and compare with want (see vkc_check_compare). */
int rig_compare(Rig *g, VkcCheckResult *r, const char *what, VkcTensor t, const double *want, size_t n, double atol,
                double rtol);

/* The same with each element's own bound added to its tolerance (NULL: none). */
int rig_compare_bounded(Rig *g, VkcCheckResult *r, const char *what, VkcTensor t, const double *want,
                        const double *bound, size_t n, double atol, double rtol);

/* n values in [lo, hi) that are exact floats, from ref_fill_uniform. */
double *rig_random(size_t n, uint64_t seed, double lo, double hi);

/* Central differences of loss() with respect to each of the n values at p:
 * grad[i] = (loss(p_i + h) - loss(p_i - h)) / 2h. */
void rig_finite_diff(double *p, size_t n, double h, double (*loss)(void *), void *user, double *grad);

#endif
