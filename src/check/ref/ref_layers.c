#include "ref_layers.h"

#include <math.h>
#include <string.h>

/* x[n][ci][iy][ix], or 0 in the padding. */
static double xat(const RefConv *c, const double *x, int n, int ci, int iy, int ix)
{
    if (iy < 0 || iy >= c->H || ix < 0 || ix >= c->W) return 0.0;
    return x[((n * c->C_in + ci) * c->H + iy) * c->W + ix];
}

void ref_conv2d_forward(const RefConv *c, const double *x, const double *w, const double *b, double *y)
{
    int Ho = ref_conv_out(c->H, c->k, c->stride, c->pad), Wo = ref_conv_out(c->W, c->k, c->stride, c->pad);
    for (int n = 0; n < c->N; n++)
        for (int co = 0; co < c->C_out; co++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) {
                    double sum = b ? b[co] : 0.0;
                    for (int ci = 0; ci < c->C_in; ci++)
                        for (int ky = 0; ky < c->k; ky++)
                            for (int kx = 0; kx < c->k; kx++)
                                sum += w[((co * c->C_in + ci) * c->k + ky) * c->k + kx] *
                                       xat(c, x, n, ci, oy * c->stride + ky - c->pad, ox * c->stride + kx - c->pad);
                    y[((n * c->C_out + co) * Ho + oy) * Wo + ox] = sum;
                }
}

/* Every product w * x of the forward sends dy to both factors: dx += w dy, dw += x dy. */
void ref_conv2d_backward(const RefConv *c, const double *x, const double *w, const double *dy, double *dx,
                         double *dw, double *db)
{
    int Ho = ref_conv_out(c->H, c->k, c->stride, c->pad), Wo = ref_conv_out(c->W, c->k, c->stride, c->pad);
    memset(dx, 0, sizeof *dx * c->N * c->C_in * c->H * c->W);
    memset(dw, 0, sizeof *dw * c->C_out * c->C_in * c->k * c->k);
    if (db) memset(db, 0, sizeof *db * c->C_out);
    for (int n = 0; n < c->N; n++)
        for (int co = 0; co < c->C_out; co++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) {
                    double g = dy[((n * c->C_out + co) * Ho + oy) * Wo + ox];
                    if (db) db[co] += g;
                    for (int ci = 0; ci < c->C_in; ci++)
                        for (int ky = 0; ky < c->k; ky++)
                            for (int kx = 0; kx < c->k; kx++) {
                                int iy = oy * c->stride + ky - c->pad, ix = ox * c->stride + kx - c->pad;
                                if (iy < 0 || iy >= c->H || ix < 0 || ix >= c->W) continue;
                                int wi = ((co * c->C_in + ci) * c->k + ky) * c->k + kx;
                                int xi = ((n * c->C_in + ci) * c->H + iy) * c->W + ix;
                                dx[xi] += w[wi] * g;
                                dw[wi] += x[xi] * g;
                            }
                }
}

void ref_batchnorm_forward(int N, int C, int HW, const double *x, const double *gamma, const double *beta,
                           double eps, double momentum, bool training, bool relu, double *running_mean,
                           double *running_var, double *y, double *mean, double *invstd)
{
    int M = N * HW;
    for (int c = 0; c < C; c++) {
        double mu, var;
        if (training) {
            double sum = 0.0, sq = 0.0;
            for (int n = 0; n < N; n++)
                for (int i = 0; i < HW; i++) sum += x[(n * C + c) * HW + i];
            mu = sum / M;
            for (int n = 0; n < N; n++)
                for (int i = 0; i < HW; i++) {
                    double d = x[(n * C + c) * HW + i] - mu;
                    sq += d * d;
                }
            var = sq / M;
            double unbiased = M > 1 ? sq / (M - 1) : var;
            running_mean[c] = (1 - momentum) * running_mean[c] + momentum * mu;
            running_var[c] = (1 - momentum) * running_var[c] + momentum * unbiased;
        } else {
            mu = running_mean[c];
            var = running_var[c];
        }
        mean[c] = mu;
        invstd[c] = 1.0 / sqrt(var + eps);
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) {
                int at = (n * C + c) * HW + i;
                double v = gamma[c] * (x[at] - mu) * invstd[c] + beta[c];
                y[at] = relu && v < 0.0 ? 0.0 : v;
            }
    }
}

/* With xhat = (x - mean) invstd and g = dy (zero where the ReLU cut y to 0):
 *   dbeta = sum g,  dgamma = sum g xhat,
 *   dx = gamma invstd (g - mean(g) - xhat mean(g xhat))
 * where the two means are the paths through the batch mean and variance. */
void ref_batchnorm_backward(int N, int C, int HW, const double *x, const double *gamma, const double *mean,
                            const double *invstd, bool relu, const double *y, const double *dy, double *dx,
                            double *dgamma, double *dbeta)
{
    int M = N * HW;
    for (int c = 0; c < C; c++) {
        double sg = 0.0, sgx = 0.0;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) {
                int at = (n * C + c) * HW + i;
                double g = relu && !(y[at] > 0.0) ? 0.0 : dy[at];
                sg += g;
                sgx += g * (x[at] - mean[c]) * invstd[c];
            }
        dbeta[c] = sg;
        dgamma[c] = sgx;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) {
                int at = (n * C + c) * HW + i;
                double g = relu && !(y[at] > 0.0) ? 0.0 : dy[at];
                double xhat = (x[at] - mean[c]) * invstd[c];
                dx[at] = gamma[c] * invstd[c] * (g - sg / M - xhat * sgx / M);
            }
    }
}

void ref_relu_forward(int n, const double *x, double *y)
{
    for (int i = 0; i < n; i++) y[i] = x[i] > 0.0 ? x[i] : 0.0;
}

void ref_relu_backward(int n, const double *x, const double *dy, double *dx)
{
    for (int i = 0; i < n; i++) dx[i] = x[i] > 0.0 ? dy[i] : 0.0;
}

void ref_add(int n, const double *a, const double *b, double *y)
{
    for (int i = 0; i < n; i++) y[i] = a[i] + b[i];
}

/* The first maximum (row-major) of the window at output (oy, ox) of plane p: its index in x. */
/* The first maximum (row-major order) of window (oy, ox) of plane p: the windows are k x k at
 * stride s over the plane padded by pad on each side, the padding never the maximum. */
static int window_argmax(int p, int H, int W, int k, int s, int pad, const double *x, int oy, int ox)
{
    int best = -1;
    for (int ky = 0; ky < k; ky++)
        for (int kx = 0; kx < k; kx++) {
            int iy = oy * s - pad + ky, ix = ox * s - pad + kx;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            int at = (p * H + iy) * W + ix;
            if (best < 0 || x[at] > x[best]) best = at;
        }
    return best;
}

void ref_maxpool_forward(int planes, int H, int W, int k, int s, int pad, const double *x, double *y)
{
    int Ho = (H + 2 * pad - k) / s + 1, Wo = (W + 2 * pad - k) / s + 1;
    for (int p = 0; p < planes; p++)
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++) y[(p * Ho + oy) * Wo + ox] = x[window_argmax(p, H, W, k, s, pad, x, oy, ox)];
}

void ref_maxpool_backward(int planes, int H, int W, int k, int s, int pad, const double *x, const double *dy,
                          double *dx)
{
    int Ho = (H + 2 * pad - k) / s + 1, Wo = (W + 2 * pad - k) / s + 1;
    memset(dx, 0, sizeof *dx * planes * H * W);
    for (int p = 0; p < planes; p++)
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++)
                dx[window_argmax(p, H, W, k, s, pad, x, oy, ox)] += dy[(p * Ho + oy) * Wo + ox];
}

void ref_maxpool2x2_forward(int planes, int H, int W, const double *x, double *y)
{
    ref_maxpool_forward(planes, H, W, 2, 2, 0, x, y);
}

void ref_maxpool2x2_backward(int planes, int H, int W, const double *x, const double *dy, double *dx)
{
    ref_maxpool_backward(planes, H, W, 2, 2, 0, x, dy, dx);
}

void ref_avgpool_forward(int planes, int HW, const double *x, double *y)
{
    for (int p = 0; p < planes; p++) {
        double s = 0.0;
        for (int i = 0; i < HW; i++) s += x[p * HW + i];
        y[p] = s / HW;
    }
}

void ref_avgpool_backward(int planes, int HW, const double *dy, double *dx)
{
    for (int p = 0; p < planes; p++)
        for (int i = 0; i < HW; i++) dx[p * HW + i] = dy[p] / HW;
}
