/* Weighted kNN on the device: inverse row norms, similarity chunks by GEMM, top-k selection and
 * votes (see include/vkclr/knn.h). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vkclr/interrupt.h"
#include "vkclr/knn.h"

#define CHUNK_BYTES (64u << 20)

typedef struct {
    uint32_t rows, dim, x_off, o_off;
    float eps;
} NormPush;
VKC_PUSH_CONTRACT(NormPush, ROW_INVNORM);

typedef struct {
    uint32_t rows, n, k, s_off, q_off, b_off, h_off;
} TopkPush;
VKC_PUSH_CONTRACT(TopkPush, KNN_TOPK);

typedef struct {
    uint32_t rows, k, classes, h_off, bl_off, ql_off, v_off, st_off;
    float inv_t;
} VotePush;
VKC_PUSH_CONTRACT(VotePush, KNN_VOTE);

VkcKnnConfig vkc_knn_defaults(void) { return (VkcKnnConfig){.k = 200, .temperature = 0.1f, .chunk = 0}; }

int vkc_knn_init(VkcContext *ctx, VkcKnn *knn, VkcGemm *gemm)
{
    memset(knn, 0, sizeof *knn);
    knn->ctx = ctx;
    knn->gemm = gemm;
    knn->wg = ctx->is_cpu ? 8 : 64;
    uint32_t spec[1] = {knn->wg};
    if (vkc_kernel_create(ctx, &knn->norms, VKC_SHADER_ROW_INVNORM, "bb", sizeof(NormPush), spec, 1) ||
        vkc_kernel_create(ctx, &knn->topk, VKC_SHADER_KNN_TOPK, "sbbb", sizeof(TopkPush), spec, 1) ||
        vkc_kernel_create(ctx, &knn->vote, VKC_SHADER_KNN_VOTE, "bbbbb", sizeof(VotePush), spec, 1)) {
        vkc_knn_destroy(knn);
        return VKC_ERR;
    }
    return VKC_OK;
}

void vkc_knn_destroy(VkcKnn *knn)
{
    if (knn->ctx) {
        vkc_kernel_destroy(knn->ctx, &knn->norms);
        vkc_kernel_destroy(knn->ctx, &knn->topk);
        vkc_kernel_destroy(knn->ctx, &knn->vote);
    }
    memset(knn, 0, sizeof *knn);
}

/* inv[r] = 1 / max(||row r||, eps) for every row of f. */
static int record_norms(VkcKnn *knn, VkcCmd *cmd, const VkcFeatures *f, VkcTensor inv)
{
    for (uint32_t s = 0; s < f->nshards; s++) {
        uint32_t rows = vkc_features_shard_n(f, s);
        NormPush p = {rows, f->dim, 0, 0, 1e-12f};
        VkcTensor o = vkc_tensor_slice(inv, (VkDeviceSize)s * f->shard_rows * 4, (VkDeviceSize)rows * 4);
        VkcTensor views[2] = {vkc_view_storage(knn->ctx, f->shards[s], &p.x_off), vkc_view_storage(knn->ctx, o, &p.o_off)};
        if (vkc_cmd_dispatch(cmd, &knn->norms, views, 1u, &p, vkc_div_up(rows, knn->wg), 1, 1)) return VKC_ERR;
    }
    return VKC_OK;
}

int vkc_knn_evaluate(VkcKnn *knn, const VkcKnnConfig *cfg, const VkcFeatures *bank, const VkcFeatures *queries,
                     uint32_t nclasses, VkcKnnResult *out, float *votes)
{
    memset(out, 0, sizeof *out);
    VkcContext *ctx = knn->ctx;
    if (!cfg->k) return vkc_fail("knn: k must be at least 1");
    if (!(cfg->temperature > 0)) return vkc_fail("knn: temperature %g must be positive", cfg->temperature);
    if (!bank->n || !queries->n) return vkc_fail("knn: empty bank (%u rows) or queries (%u rows)", bank->n, queries->n);
    if (bank->dim != queries->dim)
        return vkc_fail("knn: bank features have %u columns, queries %u", bank->dim, queries->dim);
    if (!nclasses) return vkc_fail("knn: no classes");
    const uint32_t N = bank->n, C = nclasses, k = cfg->k < N ? cfg->k : N;
    /* Query rows per chunk: the similarity chunk Q x N must fit one binding and one texel view. */
    uint64_t cap = CHUNK_BYTES;
    if (ctx->props.limits.maxStorageBufferRange < cap) cap = ctx->props.limits.maxStorageBufferRange;
    if ((uint64_t)ctx->props.limits.maxTexelBufferElements * 4 < cap) cap = (uint64_t)ctx->props.limits.maxTexelBufferElements * 4;
    uint64_t Q = cap / ((uint64_t)N * 4);
    if (cfg->chunk && cfg->chunk < Q) Q = cfg->chunk;
    if (Q > queries->shard_rows) Q = queries->shard_rows;
    if (Q > 65535) Q = 65535;
    if (!Q) return vkc_fail("knn: a bank of %u rows does not fit one similarity row of %llu bytes", N,
                            (unsigned long long)cap);
    if ((uint64_t)Q * k * 8 > ctx->props.limits.maxStorageBufferRange)
        return vkc_fail("knn: k = %u neighbours for %llu queries exceed one binding", k, (unsigned long long)Q);

    struct timespec ts0, ts1;
    clock_gettime(CLOCK_MONOTONIC, &ts0);
    VkcArena dev, host;
    vkc_arena_init(&dev, ctx, VKC_MEMORY_DEVICE);
    vkc_arena_init(&host, ctx, VKC_MEMORY_STAGING);
    VkcCmd cmd = {0};
    VkcTensor binv, qinv, S, heap, vchunk, stats, vall = {0};
    int rc = VKC_ERR;
    if (vkc_tensor_alloc(&dev, (VkDeviceSize)N * 4, &binv) || vkc_tensor_alloc(&dev, (VkDeviceSize)queries->n * 4, &qinv) ||
        vkc_tensor_alloc(&dev, Q * N * 4, &S) || vkc_tensor_alloc(&dev, Q * k * 8, &heap) ||
        vkc_tensor_alloc(&dev, Q * C * 4, &vchunk) || vkc_tensor_alloc(&host, (VkDeviceSize)queries->n * 16, &stats) ||
        (votes && vkc_tensor_alloc(&host, (VkDeviceSize)queries->n * C * 4, &vall)) || vkc_cmd_init(ctx, &cmd) ||
        vkc_cmd_begin(&cmd) || record_norms(knn, &cmd, bank, binv) || record_norms(knn, &cmd, queries, qinv))
        goto done;
    for (uint32_t qs = 0; qs < queries->nshards; qs++) {
        uint32_t qrows = vkc_features_shard_n(queries, qs);
        for (uint32_t r0 = 0; r0 < qrows; r0 += (uint32_t)Q) {
            uint32_t m = qrows - r0 < Q ? qrows - r0 : (uint32_t)Q;
            uint32_t q0 = qs * queries->shard_rows + r0; /* global query row */
            VkcTensor qx = vkc_tensor_slice(queries->shards[qs], (VkDeviceSize)r0 * queries->dim * 4,
                                            (VkDeviceSize)m * queries->dim * 4);
            for (uint32_t bs = 0; bs < bank->nshards; bs++) {
                uint32_t b0 = bs * bank->shard_rows, nb = vkc_features_shard_n(bank, bs);
                VkcGemmArgs g = {.trans_b = true, .M = m, .N = nb, .K = bank->dim, .A = qx, .lda = bank->dim,
                                 .B = bank->shards[bs], .ldb = bank->dim,
                                 .C = vkc_tensor_slice(S, (VkDeviceSize)b0 * 4, S.size - (VkDeviceSize)b0 * 4), .ldc = N,
                                 .alpha = 1.0f, .beta = 0.0f};
                if (vkc_gemm_record(knn->gemm, &cmd, &g)) goto done;
            }
            TopkPush tp = {m, N, k, 0, 0, 0, 0};
            VkcTensor tv[4] = {vkc_view_texel(ctx, S, &tp.s_off), vkc_view_storage(ctx, qinv, &tp.q_off),
                               vkc_view_storage(ctx, binv, &tp.b_off), vkc_view_storage(ctx, heap, &tp.h_off)};
            tp.q_off += q0;
            tp.h_off /= 2; /* uvec2 entries */
            if (vkc_cmd_dispatch(&cmd, &knn->topk, tv, 2u | 4u, &tp, vkc_div_up(m, knn->wg), 1, 1)) goto done;
            VotePush vp = {m, k, C, 0, 0, 0, 0, 0, 1.0f / cfg->temperature};
            VkcTensor vv[5] = {vkc_view_storage(ctx, heap, &vp.h_off), vkc_view_storage(ctx, bank->labels, &vp.bl_off),
                               vkc_view_storage(ctx, queries->labels, &vp.ql_off),
                               vkc_view_storage(ctx, vchunk, &vp.v_off), vkc_view_storage(ctx, stats, &vp.st_off)};
            vp.ql_off += q0;
            vp.h_off /= 2;
            vp.st_off = vp.st_off / 4 + q0;
            if (vkc_cmd_dispatch(&cmd, &knn->vote, vv, 1u | 2u | 4u, &vp, vkc_div_up(m, knn->wg), 1, 1)) goto done;
            if (votes && vkc_cmd_copy(&cmd, vkc_tensor_slice(vall, (VkDeviceSize)q0 * C * 4, (VkDeviceSize)m * C * 4),
                                      vchunk, (VkDeviceSize)m * C * 4))
                goto done;
        }
    }
    if (vkc_interrupt_check("kNN") || vkc_cmd_end(&cmd) || vkc_cmd_submit_wait(&cmd)) goto done;
    const float *st = stats.mapped;
    double h1 = 0, h5 = 0;
    for (uint32_t q = 0; q < queries->n; q++) h1 += st[4 * q], h5 += st[4 * q + 1];
    out->top1 = h1 / queries->n, out->top5 = h5 / queries->n, out->k = k;
    if (votes) memcpy(votes, vall.mapped, (size_t)queries->n * C * 4);
    clock_gettime(CLOCK_MONOTONIC, &ts1);
    out->seconds = (ts1.tv_sec - ts0.tv_sec) + (ts1.tv_nsec - ts0.tv_nsec) * 1e-9;
    rc = VKC_OK;
done:
    vkc_cmd_destroy(&cmd);
    vkc_arena_destroy(&dev);
    vkc_arena_destroy(&host);
    return rc;
}
