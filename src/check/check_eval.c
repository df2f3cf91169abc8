/* Evaluation kernels against tests/ref/ref_eval.c: the kNN path (row norms, similarity GEMM,
 * top-k selection, votes) and the whole linear probe (standardisation, mini-batch gather,
 * per-step schedule, SGD and AdamW) against a double-precision re-run of the same steps. */
#include "check_util.h"
#include "ref/ref_eval.h"
#include "vkclr/knn.h"
#include "vkclr/probe.h"

/* Features to the device in shards of at most `shard_rows` rows. */
static int features(VkcContext *ctx, VkcArena *arena, const double *x, const uint32_t *labels, uint32_t n, uint32_t dim,
                    uint32_t nclasses, uint32_t shard_rows, VkcFeatures *f)
{
    float *xf = malloc(sizeof(float) * n * dim);
    int32_t *l = malloc(sizeof(int32_t) * n);
    for (uint32_t i = 0; i < n * dim; i++) xf[i] = (float)x[i];
    for (uint32_t i = 0; i < n; i++) l[i] = (int32_t)labels[i];
    int rc = vkc_features_alloc(f, arena, n, dim, (VkDeviceSize)shard_rows * dim * 4) ||
             vkc_features_upload(ctx, f, 0, n, xf) || vkc_features_set_labels(ctx, f, l, nclasses);
    free(xf);
    free(l);
    return rc ? VKC_ERR : VKC_OK;
}

/* ---------------------------------------------------------------- kNN */

typedef struct {
    uint32_t n, q, dim, k, classes, shard_rows, chunk;
} KnnCase;

/* Entries +-1 (every row has norm sqrt(dim), similarities are exact multiples of 2/dim), so
 * many similarities tie exactly and the selection must break ties by index like the reference.
 * Votes are float sums of exp(s/T): rtol 1e-5. Hits are checked against ranks of the device's
 * own votes (class ties in float may legitimately differ from double). */
static int knn_case(VkcContext *ctx, VkcKnn *knn, const KnnCase *c, VkcCheckResult *r)
{
    double *bank = malloc(8 * c->n * c->dim), *qs = malloc(8 * c->q * c->dim), *want = malloc(8 * c->q * c->classes);
    double *gotd = malloc(8 * c->q * c->classes);
    float *got = malloc(4 * c->q * c->classes);
    uint32_t *bl = malloc(4 * c->n), *ql = malloc(4 * c->q);
    int *idx = malloc(sizeof(int) * c->n);
    VkcArena arena;
    vkc_arena_init(&arena, ctx, VKC_MEMORY_DEVICE);
    VkcFeatures fb, fq;
    VkcKnnResult res;
    int rc = VKC_ERR;
    ck_random(bank, c->n * c->dim, 901 + c->n, -1, 1);
    ck_random(qs, c->q * c->dim, 902 + c->q, -1, 1);
    for (uint32_t i = 0; i < c->n * c->dim; i++) bank[i] = bank[i] < 0 ? -1 : 1;
    for (uint32_t i = 0; i < c->q * c->dim; i++) qs[i] = qs[i] < 0 ? -1 : 1;
    for (uint32_t i = 0; i < c->n; i++) bl[i] = (i * 2654435761u >> 7) % c->classes;
    for (uint32_t i = 0; i < c->q; i++) ql[i] = (i * 40503u + 7) % c->classes;
    VkcKnnConfig kc = {.k = c->k, .temperature = 0.1f, .chunk = c->chunk};
    if (features(ctx, &arena, bank, bl, c->n, c->dim, c->classes, c->shard_rows, &fb) ||
        features(ctx, &arena, qs, ql, c->q, c->dim, c->classes, c->shard_rows, &fq) ||
        vkc_knn_evaluate(knn, &kc, &fb, &fq, c->classes, &res, got))
        goto done;
    uint32_t k = c->k < c->n ? c->k : c->n;
    double hits1 = 0, hits5 = 0;
    for (uint32_t i = 0; i < c->q; i++) {
        ref_knn_query(qs + i * c->dim, bank, bl, (int)c->n, (int)c->dim, (int)k, 0.1, (int)c->classes, idx,
                      want + i * c->classes);
        for (uint32_t j = 0; j < c->classes; j++) gotd[i * c->classes + j] = got[i * c->classes + j];
        int rank = ref_vote_rank(gotd + i * c->classes, (int)c->classes, (int)ql[i]);
        hits1 += rank == 0, hits5 += rank < 5;
    }
    char what[128];
    snprintf(what, sizeof what, "votes, bank %u (%u-row shards), %u queries, k %u", c->n, c->shard_rows, c->q, c->k);
    vkc_check_compare_f64(r, what, gotd, want, (int)(c->q * c->classes), 1e-6, 1e-5);
    double gm[3] = {res.top1, res.top5, res.k}, wm[3] = {hits1 / c->q, hits5 / c->q, k};
    snprintf(what, sizeof what, "top-1, top-5, k, bank %u, %u queries, k %u", c->n, c->q, c->k);
    vkc_check_compare_f64(r, what, gm, wm, 3, 1e-9, 0);
    rc = VKC_OK;
done:
    vkc_arena_destroy(&arena);
    free(bank), free(qs), free(want), free(gotd), free(got), free(bl), free(ql), free(idx);
    return rc;
}

int check_knn(VkcContext *ctx, VkcCheckResult *r)
{
    static const KnnCase cases[] = {
        {300, 50, 16, 20, 7, 100, 16}, /* 3 bank shards, query chunks of 16 */
        {64, 9, 8, 200, 3, 64, 0},     /* k > bank: every row votes */
        {1000, 40, 12, 200, 10, 1000, 0},
    };
    VkcGemm gemm = {0};
    VkcKnn knn = {0};
    int rc = vkc_gemm_init(ctx, &gemm) || vkc_knn_init(ctx, &knn, &gemm);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0] && !rc; i++) rc = knn_case(ctx, &knn, &cases[i], r);
    vkc_knn_destroy(&knn);
    vkc_gemm_destroy(&gemm);
    return rc ? VKC_ERR : VKC_OK;
}

/* ---------------------------------------------------------------- linear probe */

typedef struct {
    uint32_t n, ntest, dim, classes, batch, epochs, shard_rows;
    VkcOptimKind opt;
    float lr, wd;
} ProbeCase;

/* The probe in double: standardise, then the same shuffled mini-batches, schedule and updates. */
static void ref_probe(const ProbeCase *c, double *x, double *xt, const uint32_t *y, double *W, double *b)
{
    ref_standardize_like(xt, (int)c->ntest, x, (int)c->n, (int)c->dim, 1e-6);
    ref_standardize(x, (int)c->n, (int)c->dim, 1e-6);
    int C = (int)c->classes, D = (int)c->dim, B = (int)c->batch, steps = (int)(c->n / c->batch);
    int T = steps * (int)c->epochs;
    double *vW = calloc(C * D, 8), *vb = calloc(C, 8), *mW = calloc(C * D, 8), *mb = calloc(C, 8);
    double *xb = malloc(8 * B * D), *logits = malloc(8 * B * C), *dl = malloc(8 * B * C), *dW = malloc(8 * C * D),
           *db = malloc(8 * C);
    unsigned *yb = malloc(4 * B);
    uint32_t *perm = malloc(4 * c->n);
    for (int i = 0; i < C * D; i++) W[i] = 0;
    for (int i = 0; i < C; i++) b[i] = 0;
    for (uint32_t e = 0; e < c->epochs; e++) {
        vkc_probe_shuffle(perm, c->n, 7, e);
        for (int s = 0; s < steps; s++) {
            int t = (int)e * steps + s;
            for (int i = 0; i < B; i++) {
                memcpy(xb + i * D, x + (size_t)perm[s * B + i] * D, 8 * D);
                yb[i] = y[perm[s * B + i]];
            }
            ref_linear_forward(xb, W, b, logits, B, D, C);
            ref_xent_backward(logits, yb, B, C, dl);
            ref_linear_backward(xb, W, dl, NULL, dW, db, B, D, C);
            double lr = (float)(c->lr * 0.5 * (1.0 + cos(M_PI * t / T)));
            if (c->opt == VKC_OPTIM_SGD) {
                ref_sgd_step(W, dW, vW, C * D, lr, 0.9, c->wd, true, true);
                ref_sgd_step(b, db, vb, C, lr, 0.9, c->wd, true, false);
            } else {
                ref_adamw_step(W, dW, mW, vW, C * D, lr, 0.9, 0.999, 1e-8, c->wd, t + 1, true);
                ref_adamw_step(b, db, mb, vb, C, lr, 0.9, 0.999, 1e-8, c->wd, t + 1, false);
            }
        }
    }
    free(vW), free(vb), free(mW), free(mb), free(xb), free(logits), free(dl), free(dW), free(db), free(yb), free(perm);
}

/* Features with column scales 0.5..3 and offsets, one constant column (std 0: only centred).
 * Standardised features: float vs double, atol/rtol 1e-5. W, b after 2 epochs: float rounding
 * of ~100 updates, atol 1e-4 * max|W| + rtol 1e-3. Test loss from the device's own W: rtol 1e-4. */
static int probe_case(VkcContext *ctx, const ProbeCase *c, VkcCheckResult *r)
{
    uint32_t n = c->n, D = c->dim, C = c->classes;
    double *x = malloc(8 * n * D), *xt = malloc(8 * c->ntest * D), *W = malloc(8 * C * D), *b = malloc(8 * C);
    double *got_x = malloc(8 * n * D), *gW = malloc(8 * C * D), *gb = malloc(8 * C);
    float *fW = malloc(4 * C * D), *fb = malloc(4 * C), *fx = malloc(4 * n * D);
    uint32_t *y = malloc(4 * n), *yt = malloc(4 * c->ntest);
    VkcArena arena;
    vkc_arena_init(&arena, ctx, VKC_MEMORY_DEVICE);
    VkcFeatures tr, te;
    VkcProbeResult res;
    int rc = VKC_ERR;
    ck_random(x, (int)(n * D), 1001 + n, -1, 1);
    ck_random(xt, (int)(c->ntest * D), 1002 + n, -1, 1);
    for (uint32_t i = 0; i < n; i++) y[i] = (i * 2654435761u >> 5) % C;
    for (uint32_t i = 0; i < c->ntest; i++) yt[i] = (i * 40503u + 3) % C;
    for (uint32_t i = 0; i < n * D; i++) x[i] = (float)(x[i] * (0.5 + i % D) + (i % D) + 0.5 * y[i / D]);
    for (uint32_t i = 0; i < c->ntest * D; i++) xt[i] = (float)(xt[i] * (0.5 + i % D) + (i % D) + 0.5 * yt[i / D]);
    for (uint32_t i = 0; i < n; i++) x[i * D + D - 1] = 2.0;
    for (uint32_t i = 0; i < c->ntest; i++) xt[i * D + D - 1] = 2.0;
    VkcProbeConfig pc = {.epochs = c->epochs, .batch = c->batch, .lr = c->lr, .weight_decay = c->wd, .optimizer = c->opt,
                         .momentum = 0.9f, .standardize = true, .seed = 7, .weight_out = fW, .bias_out = fb};
    if (features(ctx, &arena, x, y, n, D, C, c->shard_rows, &tr) ||
        features(ctx, &arena, xt, yt, c->ntest, D, C, c->shard_rows, &te) ||
        vkc_probe_run(ctx, &pc, &tr, &te, C, &res) || vkc_features_download(ctx, &tr, 0, n, fx))
        goto done;
    ref_probe(c, x, xt, y, W, b);
    for (uint32_t i = 0; i < n * D; i++) got_x[i] = fx[i];
    for (uint32_t i = 0; i < C * D; i++) gW[i] = fW[i];
    for (uint32_t i = 0; i < C; i++) gb[i] = fb[i];
    char what[128];
    const char *name = c->opt == VKC_OPTIM_SGD ? "sgd" : "adamw";
    snprintf(what, sizeof what, "standardised train features (%u rows, %u-row shards)", n, c->shard_rows);
    vkc_check_compare_f64(r, what, got_x, x, (int)(n * D), 1e-5, 1e-5);
    snprintf(what, sizeof what, "W after %u epochs of %u steps, %s", c->epochs, n / c->batch, name);
    vkc_check_compare_f64(r, what, gW, W, (int)(C * D), 1e-4 * ck_max_abs(W, (int)(C * D)), 1e-3);
    snprintf(what, sizeof what, "b, %s", name);
    vkc_check_compare_f64(r, what, gb, b, (int)C, 1e-4 * ck_max_abs(b, (int)C) + 1e-7, 1e-3);
    /* Test metrics of the device's classifier on the reference-standardised test features. */
    double *logits = malloc(8 * c->ntest * C), m[4];
    ref_linear_forward(xt, gW, gb, logits, (int)c->ntest, (int)D, (int)C);
    ref_xent_forward(logits, yt, (int)c->ntest, (int)C, m);
    free(logits);
    double gm[3] = {res.loss, res.top1, res.top5}, wm[3] = {m[0], m[1], m[2]};
    snprintf(what, sizeof what, "test loss, top-1, top-5, %s", name);
    vkc_check_compare_f64(r, what, gm, wm, 3, 1e-5, 1e-4);
    if (res.steps != c->epochs * (n / c->batch)) {
        snprintf(r->detail, sizeof r->detail, "%u steps reported, want %u", res.steps, c->epochs * (n / c->batch));
        r->passed = false;
    }
    rc = VKC_OK;
done:
    vkc_arena_destroy(&arena);
    free(x), free(xt), free(W), free(b), free(got_x), free(gW), free(gb), free(fW), free(fb), free(fx), free(y), free(yt);
    return rc;
}

int check_probe_reference(VkcContext *ctx, VkcCheckResult *r)
{
    static const ProbeCase cases[] = {
        {52, 20, 5, 3, 8, 2, 20, VKC_OPTIM_SGD, 0.2f, 1e-3f},   /* 3 shards, 6 steps/epoch (4 rows dropped) */
        {64, 30, 7, 4, 16, 3, 64, VKC_OPTIM_ADAMW, 0.05f, 1e-2f},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (probe_case(ctx, &cases[i], r)) return VKC_ERR;
    return VKC_OK;
}
