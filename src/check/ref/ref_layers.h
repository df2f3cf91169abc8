/* Plain-C references of the encoder layers, in double precision so that the reference
 * backward passes can themselves be checked against central finite differences.
 * Layouts as the shaders: NCHW activations, [C_out][C_in][k][k] weights. */
#ifndef VKCLR_TESTS_REF_LAYERS_H
#define VKCLR_TESTS_REF_LAYERS_H

#include <stdbool.h>

typedef struct {
    int N, C_in, H, W, C_out, k, stride, pad;
} RefConv;

static inline int ref_conv_out(int in, int k, int stride, int pad) { return (in + 2 * pad - k) / stride + 1; }

/* y[n][co][oy][ox] = b[co] + sum_{ci,ky,kx} w[co][ci][ky][kx] x[n][ci][oy*s+ky-pad][ox*s+kx-pad]; b may be NULL. */
void ref_conv2d_forward(const RefConv *c, const double *x, const double *w, const double *b, double *y);
/* Given dy: dx, dw and (if db is not NULL) db, all overwritten. */
void ref_conv2d_backward(const RefConv *c, const double *x, const double *w, const double *dy, double *dx,
                         double *dw, double *db);

/* x: [N][C][HW]. Training: batch statistics (biased variance normalises; running_var gets the
 * unbiased one), running stats updated with momentum; else running stats used. mean/invstd
 * (length C) receive the statistics used. relu: y = max(0, .). */
void ref_batchnorm_forward(int N, int C, int HW, const double *x, const double *gamma, const double *beta,
                           double eps, double momentum, bool training, bool relu, double *running_mean,
                           double *running_var, double *y, double *mean, double *invstd);
/* Backward of the training-mode forward; y (the forward output) is read only when relu. */
void ref_batchnorm_backward(int N, int C, int HW, const double *x, const double *gamma, const double *mean,
                            const double *invstd, bool relu, const double *y, const double *dy, double *dx,
                            double *dgamma, double *dbeta);

void ref_relu_forward(int n, const double *x, double *y);
void ref_relu_backward(int n, const double *x, const double *dy, double *dx);
void ref_add(int n, const double *a, const double *b, double *y);
/* Max-pool of k x k windows at stride s, padding pad (never the maximum); 2x2 is k = s = 2. */
void ref_maxpool_forward(int planes, int H, int W, int k, int s, int pad, const double *x, double *y);
void ref_maxpool_backward(int planes, int H, int W, int k, int s, int pad, const double *x, const double *dy,
                          double *dx);
void ref_maxpool2x2_forward(int planes, int H, int W, const double *x, double *y);
void ref_maxpool2x2_backward(int planes, int H, int W, const double *x, const double *dy, double *dx);
void ref_avgpool_forward(int planes, int HW, const double *x, double *y);
void ref_avgpool_backward(int planes, int HW, const double *dy, double *dx);

#endif
