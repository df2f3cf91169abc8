/* Plain-C references for the projection head, the losses and the optimizers, in double
 * precision so that they also serve as the functions finite differences differentiate.
 * Layouts match the device kernels (row-major; see include/vkclr/linear.h, loss.h, optim.h). */
#ifndef VKCLR_TESTS_REF_HEAD_H
#define VKCLR_TESTS_REF_HEAD_H

#include <stdbool.h>

/* y = x W^T + b; x: B x in, W: out x in, b: out (NULL: none), y: B x out. */
void ref_linear_forward(const double *x, const double *W, const double *b, double *y, int B, int in, int out);
/* dx = dy W (dx may be NULL), dW = dy^T x, db = sum over the batch of dy (db may be NULL). */
void ref_linear_backward(const double *x, const double *W, const double *dy, double *dx, double *dW, double *db,
                         int B, int in, int out);

/* y_r = x_r / max(||x_r||, eps). */
void ref_l2norm_forward(const double *x, double *y, int rows, int dim, double eps);
void ref_l2norm_backward(const double *x, const double *dy, double *dx, int rows, int dim, double eps);

/* NT-Xent over 2N = n2 rows of z (positive of i: (i + N) mod 2N), logits z_i.z_j / tau.
 * Returns the mean loss; metrics (may be NULL) gets (loss, accuracy, mean lse, mean positive logit). */
double ref_ntxent_forward(const double *z, int n2, int dim, double tau, double metrics[4]);
/* dz = d(mean loss)/dz. */
void ref_ntxent_backward(const double *z, int n2, int dim, double tau, double *dz);

/* The NCE family (include/vkclr/loss.h, docs/losses.md). kind: a VkcLossKind value
 * (0 ntxent, 1 nce, 2 dcl, 3 dcl-debiased); logz: nce's log Z (0: self-normalised). */
typedef struct {
    int kind;
    double tau, tau_plus, logz;
} RefLoss;
/* Mean loss; metrics (may be NULL) gets the 8 VKC_METRIC_* values (loss, accuracy, MI bound,
 * mean log Z^, its std, alignment, uniformity, log Z). */
double ref_contrastive_forward(const RefLoss *L, const double *z, int n2, int dim, double metrics[8]);
/* dz = d(mean loss)/dz and *dlogz = d(mean loss)/d(log Z) (dlogz may be NULL). Returns the
 * largest row sum of |d(mean loss)/dS_ij| (the size of the terms the gradient adds up). */
double ref_contrastive_backward(const RefLoss *L, const double *z, int n2, int dim, double *dz, double *dlogz);

/* Mean softmax cross-entropy; metrics (may be NULL): (loss, top-1, top-5, mean lse). */
double ref_xent_forward(const double *logits, const unsigned *labels, int B, int C, double metrics[4]);
void ref_xent_backward(const double *logits, const unsigned *labels, int B, int C, double *dlogits);

/* One step on one tensor of n elements; decay false: no weight decay (and no LARS adaptation). */
void ref_sgd_step(double *w, const double *g, double *v, int n, double lr, double momentum, double wd, bool nesterov,
                  bool decay);
void ref_lars_step(double *w, const double *g, double *v, int n, double lr, double momentum, double wd, double eta,
                   bool nesterov, bool decay);
void ref_adamw_step(double *w, const double *g, double *m, double *v, int n, double lr, double beta1, double beta2,
                    double eps, double wd, int step, bool decay);

#endif
