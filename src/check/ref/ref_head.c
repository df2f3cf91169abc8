#include "ref_head.h"

#include <math.h>
#include <stdlib.h>

void ref_linear_forward(const double *x, const double *W, const double *b, double *y, int B, int in, int out)
{
    for (int n = 0; n < B; n++)
        for (int o = 0; o < out; o++) {
            double s = b ? b[o] : 0.0;
            for (int i = 0; i < in; i++) s += x[n * in + i] * W[o * in + i];
            y[n * out + o] = s;
        }
}

void ref_linear_backward(const double *x, const double *W, const double *dy, double *dx, double *dW, double *db,
                         int B, int in, int out)
{
    if (dx)
        for (int n = 0; n < B; n++)
            for (int i = 0; i < in; i++) {
                double s = 0.0;
                for (int o = 0; o < out; o++) s += dy[n * out + o] * W[o * in + i];
                dx[n * in + i] = s;
            }
    for (int o = 0; o < out; o++)
        for (int i = 0; i < in; i++) {
            double s = 0.0;
            for (int n = 0; n < B; n++) s += dy[n * out + o] * x[n * in + i];
            dW[o * in + i] = s;
        }
    if (db)
        for (int o = 0; o < out; o++) {
            double s = 0.0;
            for (int n = 0; n < B; n++) s += dy[n * out + o];
            db[o] = s;
        }
}

static double row_norm(const double *x, int dim)
{
    double ss = 0.0;
    for (int d = 0; d < dim; d++) ss += x[d] * x[d];
    return sqrt(ss);
}

void ref_l2norm_forward(const double *x, double *y, int rows, int dim, double eps)
{
    for (int r = 0; r < rows; r++) {
        double n = fmax(row_norm(x + r * dim, dim), eps);
        for (int d = 0; d < dim; d++) y[r * dim + d] = x[r * dim + d] / n;
    }
}

void ref_l2norm_backward(const double *x, const double *dy, double *dx, int rows, int dim, double eps)
{
    for (int r = 0; r < rows; r++) {
        const double *xr = x + r * dim, *gr = dy + r * dim;
        double n = row_norm(xr, dim);
        if (n <= eps) {
            for (int d = 0; d < dim; d++) dx[r * dim + d] = gr[d] / eps;
            continue;
        }
        /* y = x/n: dy_d/dx_e = (delta_de - y_d y_e) / n */
        double ydy = 0.0;
        for (int d = 0; d < dim; d++) ydy += xr[d] / n * gr[d];
        for (int d = 0; d < dim; d++) dx[r * dim + d] = (gr[d] - xr[d] / n * ydy) / n;
    }
}

static int positive_of(int i, int n2) { return i < n2 / 2 ? i + n2 / 2 : i - n2 / 2; }

static double logit(const double *z, int i, int j, int dim, double tau)
{
    double s = 0.0;
    for (int d = 0; d < dim; d++) s += z[i * dim + d] * z[j * dim + d];
    return s / tau;
}

/* log sum_{j != i} exp(S_ij), shifted by the row maximum. */
static double row_lse(const double *z, int i, int n2, int dim, double tau)
{
    double m = -INFINITY, sum = 0.0;
    for (int j = 0; j < n2; j++)
        if (j != i) m = fmax(m, logit(z, i, j, dim, tau));
    for (int j = 0; j < n2; j++)
        if (j != i) sum += exp(logit(z, i, j, dim, tau) - m);
    return m + log(sum);
}

double ref_ntxent_forward(const double *z, int n2, int dim, double tau, double metrics[4])
{
    double loss = 0.0, hits = 0.0, lses = 0.0, pos_sum = 0.0;
    for (int i = 0; i < n2; i++) {
        int p = positive_of(i, n2);
        double sp = logit(z, i, p, dim, tau), lse = row_lse(z, i, n2, dim, tau);
        bool hit = true;
        for (int j = 0; j < n2; j++)
            if (j != i && j != p && logit(z, i, j, dim, tau) >= sp) hit = false;
        loss += lse - sp;
        hits += hit;
        lses += lse;
        pos_sum += sp;
    }
    if (metrics) metrics[0] = loss / n2, metrics[1] = hits / n2, metrics[2] = lses / n2, metrics[3] = pos_sum / n2;
    return loss / n2;
}

void ref_ntxent_backward(const double *z, int n2, int dim, double tau, double *dz)
{
    for (int k = 0; k < n2 * dim; k++) dz[k] = 0.0;
    for (int i = 0; i < n2; i++) {
        int p = positive_of(i, n2);
        double lse = row_lse(z, i, n2, dim, tau);
        for (int j = 0; j < n2; j++) {
            if (j == i) continue;
            /* dL/dS_ij, then S_ij = z_i.z_j / tau feeds both z_i and z_j. */
            double a = (exp(logit(z, i, j, dim, tau) - lse) - (j == p)) / n2;
            for (int d = 0; d < dim; d++) {
                dz[i * dim + d] += a * z[j * dim + d] / tau;
                dz[j * dim + d] += a * z[i * dim + d] / tau;
            }
        }
    }
}

/* ---- the NCE family: each loss written directly from its formula (no shifting: double
 * precision holds exp(+-1/tau) for the temperatures the checks use, tau >= 0.05). */

static double softplus(double x) { return log1p(exp(x)); }
static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* Row loss l_i, and if a != NULL its derivatives a[j] = dl_i/dS_ij (a[i] = 0) and
 * *dldb = dl_i/dlogZ (nce). K = n2 - 2 noise samples: every j other than i and pos(i). */
static double contrastive_row(const RefLoss *L, const double *z, int i, int n2, int dim, double *a, double *dldb)
{
    int p = positive_of(i, n2), K = n2 - 2;
    double tau = L->tau, sp = logit(z, i, p, dim, tau);
    double loss = 0.0, db = 0.0;
    if (a)
        for (int j = 0; j < n2; j++) a[j] = 0.0;
    switch (L->kind) {
    case 0: { /* NT-Xent: log sum_{j != i} exp(S_ij) - S_ip */
        double sum = 0.0;
        for (int j = 0; j < n2; j++)
            if (j != i) sum += exp(logit(z, i, j, dim, tau));
        loss = log(sum) - sp;
        if (a)
            for (int j = 0; j < n2; j++)
                if (j != i) a[j] = exp(logit(z, i, j, dim, tau)) / sum - (j == p);
        break;
    }
    case 1: { /* local NCE: softplus(b - S_ip) + sum_noise softplus(S_ij - b) */
        /* d/db softplus(b - sp) = sigmoid(b - sp); d/db softplus(s - b) = -sigmoid(s - b) */
        double b = L->logz;
        loss = softplus(b - sp);
        db = sigmoid(b - sp);
        if (a) a[p] = -sigmoid(b - sp);
        for (int j = 0; j < n2; j++) {
            if (j == i || j == p) continue;
            double d = logit(z, i, j, dim, tau) - b;
            loss += softplus(d);
            db -= sigmoid(d);
            if (a) a[j] = sigmoid(d);
        }
        break;
    }
    case 2: { /* DCL: log sum_noise exp(S_ij) - S_ip */
        double sum = 0.0;
        for (int j = 0; j < n2; j++)
            if (j != i && j != p) sum += exp(logit(z, i, j, dim, tau));
        loss = log(sum) - sp;
        if (a) {
            a[p] = -1.0;
            for (int j = 0; j < n2; j++)
                if (j != i && j != p) a[j] = exp(logit(z, i, j, dim, tau)) / sum;
        }
        break;
    }
    case 3: { /* debiased: Ng = max((sum_noise e^S - tau+ K e^Sp) / (1 - tau+), K e^{-1/tau}) */
        double tp = L->tau_plus, pos = exp(sp), neg = 0.0;
        for (int j = 0; j < n2; j++)
            if (j != i && j != p) neg += exp(logit(z, i, j, dim, tau));
        double raw = (neg - tp * K * pos) / (1.0 - tp), floor_ng = K * exp(-1.0 / tau);
        bool clamped = raw < floor_ng;
        double ng = clamped ? floor_ng : raw, D = pos + ng;
        loss = log(D) - sp;
        if (a) {
            a[p] = pos * (clamped ? 1.0 : 1.0 - tp * K / (1.0 - tp)) / D - 1.0;
            for (int j = 0; j < n2; j++)
                if (j != i && j != p) a[j] = clamped ? 0.0 : exp(logit(z, i, j, dim, tau)) / ((1.0 - tp) * D);
        }
        break;
    }
    }
    if (dldb) *dldb = db;
    return loss;
}

double ref_contrastive_forward(const RefLoss *L, const double *z, int n2, int dim, double metrics[8])
{
    double loss = 0.0, hits = 0.0, infonce = 0.0, align = 0.0, unif = 0.0;
    double *logzhat = malloc(sizeof(double) * n2);
    RefLoss nt = *L;
    nt.kind = 0;
    for (int i = 0; i < n2; i++) {
        int p = positive_of(i, n2);
        double sp = logit(z, i, p, dim, L->tau), zhat = 0.0;
        bool hit = true;
        loss += contrastive_row(L, z, i, n2, dim, NULL, NULL);
        infonce += contrastive_row(&nt, z, i, n2, dim, NULL, NULL);
        for (int j = 0; j < n2; j++) {
            if (j == i) continue;
            double d2 = 0.0;
            for (int d = 0; d < dim; d++) d2 += (z[i * dim + d] - z[j * dim + d]) * (z[i * dim + d] - z[j * dim + d]);
            unif += exp(-2.0 * d2);
            if (j == p) {
                align += d2;
                continue;
            }
            double s = logit(z, i, j, dim, L->tau);
            if (s >= sp) hit = false;
            zhat += exp(s) / (1.0 / (n2 - 2)) / (n2 - 2); /* (1/K) sum exp(s) / q, q = 1/K */
        }
        hits += hit;
        logzhat[i] = log(zhat);
    }
    double mean = 0.0, var = 0.0;
    for (int i = 0; i < n2; i++) mean += logzhat[i] / n2;
    for (int i = 0; i < n2; i++) var += (logzhat[i] - mean) * (logzhat[i] - mean) / n2;
    free(logzhat);
    if (metrics) {
        metrics[0] = loss / n2;
        metrics[1] = hits / n2;
        metrics[2] = log(n2 - 1.0) - infonce / n2;
        metrics[3] = mean;
        metrics[4] = sqrt(var);
        metrics[5] = align / n2;
        metrics[6] = log(unif / ((double)n2 * (n2 - 1)));
        metrics[7] = L->kind == 1 ? L->logz : 0.0;
    }
    return loss / n2;
}

double ref_contrastive_backward(const RefLoss *L, const double *z, int n2, int dim, double *dz, double *dlogz)
{
    double *a = malloc(sizeof(double) * n2), db = 0.0, mass = 0.0;
    for (int k = 0; k < n2 * dim; k++) dz[k] = 0.0;
    for (int i = 0; i < n2; i++) {
        double dldb, row = 0.0;
        contrastive_row(L, z, i, n2, dim, a, &dldb);
        db += dldb / n2;
        for (int j = 0; j < n2; j++) {
            /* S_ij = z_i.z_j / tau feeds both z_i and z_j. */
            double g = a[j] / n2;
            row += fabs(g);
            for (int d = 0; d < dim; d++) {
                dz[i * dim + d] += g * z[j * dim + d] / L->tau;
                dz[j * dim + d] += g * z[i * dim + d] / L->tau;
            }
        }
        mass = fmax(mass, row);
    }
    if (dlogz) *dlogz = db;
    free(a);
    return mass;
}

static double logits_lse(const double *x, int C)
{
    double m = -INFINITY, sum = 0.0;
    for (int c = 0; c < C; c++) m = fmax(m, x[c]);
    for (int c = 0; c < C; c++) sum += exp(x[c] - m);
    return m + log(sum);
}

double ref_xent_forward(const double *logits, const unsigned *labels, int B, int C, double metrics[4])
{
    double loss = 0.0, top1 = 0.0, top5 = 0.0, lses = 0.0;
    for (int b = 0; b < B; b++) {
        const double *x = logits + b * C;
        int y = (int)labels[b];
        double lse = logits_lse(x, C);
        int rank = 0; /* classes ranked above the label; ties go to the lower class */
        for (int c = 0; c < C; c++) rank += x[c] > x[y] || (x[c] == x[y] && c < y);
        loss += lse - x[y];
        top1 += rank == 0;
        top5 += rank < 5;
        lses += lse;
    }
    if (metrics) metrics[0] = loss / B, metrics[1] = top1 / B, metrics[2] = top5 / B, metrics[3] = lses / B;
    return loss / B;
}

void ref_xent_backward(const double *logits, const unsigned *labels, int B, int C, double *dlogits)
{
    for (int b = 0; b < B; b++) {
        double lse = logits_lse(logits + b * C, C);
        for (int c = 0; c < C; c++)
            dlogits[b * C + c] = (exp(logits[b * C + c] - lse) - (c == (int)labels[b])) / B;
    }
}

void ref_sgd_step(double *w, const double *g, double *v, int n, double lr, double momentum, double wd, bool nesterov,
                  bool decay)
{
    for (int i = 0; i < n; i++) {
        double gi = g[i] + (decay ? wd * w[i] : 0.0);
        v[i] = momentum * v[i] + gi;
        w[i] -= lr * (nesterov ? gi + momentum * v[i] : v[i]);
    }
}

void ref_lars_step(double *w, const double *g, double *v, int n, double lr, double momentum, double wd, double eta,
                   bool nesterov, bool decay)
{
    double wn = 0.0, gn = 0.0;
    for (int i = 0; i < n; i++) {
        double gi = g[i] + (decay ? wd * w[i] : 0.0);
        wn += w[i] * w[i];
        gn += gi * gi;
    }
    wn = sqrt(wn), gn = sqrt(gn);
    double trust = decay && wn > 0 && gn > 0 ? eta * wn / gn : 1.0;
    for (int i = 0; i < n; i++) {
        double gi = lr * trust * (g[i] + (decay ? wd * w[i] : 0.0));
        v[i] = momentum * v[i] + gi;
        w[i] -= nesterov ? momentum * v[i] + gi : v[i];
    }
}

void ref_adamw_step(double *w, const double *g, double *m, double *v, int n, double lr, double beta1, double beta2,
                    double eps, double wd, int step, bool decay)
{
    double bc1 = 1.0 - pow(beta1, step), bc2 = 1.0 - pow(beta2, step);
    for (int i = 0; i < n; i++) {
        m[i] = beta1 * m[i] + (1 - beta1) * g[i];
        v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
        w[i] -= lr * ((m[i] / bc1) / (sqrt(v[i] / bc2) + eps) + (decay ? wd * w[i] : 0.0));
    }
}
