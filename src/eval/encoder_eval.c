/* Feature extraction in evaluation mode and the weighted kNN classifier (vkclr/features.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vkclr/encoder_eval.h"

int vkc_features_extract(VkcModel *m, VkcArena *host, const VkcDataset *ds, const VkcSplit *split,
                         const VkcAugmentConfig *aug, float *out)
{
    VkcContext *ctx = m->ctx;
    int C = ds->channels, H = m->cfg.height, W = m->cfg.width_px, F = m->features;
    uint32_t batch = m->max_batch;
    size_t image_floats = (size_t)C * H * W;
    VkcTensor input, feats;
    VkcCmd cmd;
    memset(&cmd, 0, sizeof cmd);
    uint8_t *resized = malloc((size_t)H * W * C);
    float *scratch = malloc(vkc_resize_scratch_floats(ds->height, ds->width, H, W, C) * sizeof(float));
    int rc = VKC_ERR;
    if (!resized || !scratch) {
        vkc_fail("out of host memory");
        goto done;
    }
    if (vkc_tensor_alloc(host, batch * image_floats * 4, &input) ||
        vkc_tensor_alloc(host, (VkDeviceSize)batch * F * 4, &feats) || vkc_cmd_init(ctx, &cmd) ||
        vkc_cmd_begin(&cmd))
        goto done;
    bool saved = m->profile;
    m->profile = false;
    int frc = vkc_model_forward(m, &cmd, input, batch, false, false);
    m->profile = saved;
    if (frc || vkc_cmd_copy(&cmd, feats, vkc_model_features_tensor(m), (VkDeviceSize)batch * F * 4) ||
        vkc_cmd_end(&cmd))
        goto done;
    float *x = input.mapped;
    for (int start = 0; start < split->n; start += (int)batch) {
        int n = split->n - start < (int)batch ? split->n - start : (int)batch;
        for (int i = 0; i < n; i++) {
            const uint8_t *img = vkc_image(ds, split, start + i);
            if (H != ds->height || W != ds->width) {
                vkc_resize_u8(img, ds->height, ds->width, (size_t)ds->width * C, C, resized, H, W, scratch);
                img = resized;
            }
            vkc_normalize(img, H, W, C, aug->mean, aug->std, x + (size_t)i * image_floats);
        }
        /* Evaluation-mode layers treat images independently: zeros fill a short last batch. */
        if (n < (int)batch) memset(x + (size_t)n * image_floats, 0, (batch - n) * image_floats * 4);
        if (vkc_cmd_submit_wait(&cmd)) goto done;
        memcpy(out + (size_t)start * F, feats.mapped, (size_t)n * F * 4);
    }
    rc = VKC_OK;
done:
    vkc_cmd_destroy(&cmd);
    free(resized);
    free(scratch);
    return rc;
}

static void normalize_rows(float *x, int n, int dim)
{
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int d = 0; d < dim; d++) s += (double)x[(size_t)i * dim + d] * x[(size_t)i * dim + d];
        float inv = (float)(1.0 / fmax(sqrt(s), 1e-12));
        for (int d = 0; d < dim; d++) x[(size_t)i * dim + d] *= inv;
    }
}

/* Min-heap of (similarity, index) of size k: the k largest seen so far. */
typedef struct {
    float s;
    int i;
} Hit;

static void sift_down(Hit *h, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, min = i;
        if (l < n && h[l].s < h[min].s) min = l;
        if (r < n && h[r].s < h[min].s) min = r;
        if (min == i) return;
        Hit t = h[i];
        h[i] = h[min];
        h[min] = t;
        i = min;
    }
}

int vkc_knn_accuracy(VkcContext *ctx, VkcGemm *gemm, const VkcKnnConfig *cfg, const float *bank,
                     const int32_t *bank_labels, int nbank, const float *query, const int32_t *query_labels,
                     int nquery, int dim, int nclasses, double *top1)
{
    if (nbank < 1 || nquery < 1 || dim < 1 || nclasses < 1) return vkc_fail("kNN: empty bank or query set");
    int k = cfg->k < nbank ? cfg->k : nbank;
    if (k < 1) return vkc_fail("kNN: k must be at least 1");
    /* Queries per chunk: similarity tile of at most 16M floats. */
    int chunk = (int)((16u << 20) / (unsigned)nbank);
    if (chunk < 1) chunk = 1;
    if (chunk > nquery) chunk = nquery;
    size_t bank_bytes = (size_t)nbank * dim * 4;
    VkDeviceSize range = ctx->props.limits.maxStorageBufferRange;
    if (bank_bytes > range) return vkc_fail("kNN: a bank of %d x %d floats exceeds the device's buffer range", nbank, dim);
    VkcArena arena;
    VkcCmd cmd;
    memset(&cmd, 0, sizeof cmd);
    vkc_arena_init(&arena, ctx, VKC_MEMORY_STAGING);
    float *b = malloc(bank_bytes), *votes = malloc((size_t)nclasses * sizeof(float));
    Hit *heap = malloc((size_t)k * sizeof *heap);
    VkcTensor tb, tq, ts;
    int rc = VKC_ERR, correct = 0;
    if (!b || !votes || !heap) {
        vkc_fail("out of host memory for the kNN bank");
        goto done;
    }
    memcpy(b, bank, bank_bytes);
    normalize_rows(b, nbank, dim);
    if (vkc_tensor_alloc(&arena, bank_bytes, &tb) || vkc_tensor_alloc(&arena, (size_t)chunk * dim * 4, &tq) ||
        vkc_tensor_alloc(&arena, (size_t)chunk * nbank * 4, &ts) || vkc_upload(ctx, tb, b, bank_bytes) ||
        vkc_cmd_init(ctx, &cmd) || vkc_cmd_begin(&cmd))
        goto done;
    /* S (chunk x nbank) = Q B^T: cosine similarities of unit rows. */
    VkcGemmArgs g = {.trans_b = true, .M = (uint32_t)chunk, .N = (uint32_t)nbank, .K = (uint32_t)dim, .A = tq,
                     .lda = (uint32_t)dim, .B = tb, .ldb = (uint32_t)dim, .C = ts, .ldc = (uint32_t)nbank,
                     .alpha = 1.0f, .beta = 0.0f};
    if (vkc_gemm_record(gemm, &cmd, &g) || vkc_cmd_end(&cmd)) goto done;
    float *q = tq.mapped;
    for (int start = 0; start < nquery; start += chunk) {
        int n = nquery - start < chunk ? nquery - start : chunk;
        memcpy(q, query + (size_t)start * dim, (size_t)n * dim * 4);
        normalize_rows(q, n, dim);
        if (n < chunk) memset(q + (size_t)n * dim, 0, (size_t)(chunk - n) * dim * 4);
        if (vkc_cmd_submit_wait(&cmd)) goto done;
        const float *S = ts.mapped;
        for (int r = 0; r < n; r++) {
            const float *row = S + (size_t)r * nbank;
            int h = 0;
            for (int j = 0; j < nbank; j++) {
                if (h < k) {
                    heap[h++] = (Hit){row[j], j};
                    if (h == k)
                        for (int i = k / 2 - 1; i >= 0; i--) sift_down(heap, k, i);
                } else if (row[j] > heap[0].s) {
                    heap[0] = (Hit){row[j], j};
                    sift_down(heap, k, 0);
                }
            }
            for (int c = 0; c < nclasses; c++) votes[c] = 0.0f;
            for (int i = 0; i < h; i++) votes[bank_labels[heap[i].i]] += expf(heap[i].s / cfg->temperature);
            int best = 0;
            for (int c = 1; c < nclasses; c++)
                if (votes[c] > votes[best]) best = c;
            correct += best == query_labels[start + r];
        }
    }
    *top1 = (double)correct / nquery;
    rc = VKC_OK;
done:
    vkc_cmd_destroy(&cmd);
    vkc_arena_destroy(&arena);
    free(b);
    free(votes);
    free(heap);
    return rc;
}
