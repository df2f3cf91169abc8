/* The NCE family behind one interface: similarity GEMM, a per-row loss kernel and a
 * logit-gradient kernel per kind, the shared metric statistics, and the gradient GEMM.
 * Shaders: ntxent_*, nce_*, dcl_*, dcl_debiased_*, contrastive_stats, contrastive_metrics. */
#include <string.h>

#include "../nn/view.h"
#include "vkclr/loss.h"

const char *const vkc_metric_names[VKC_CONTRASTIVE_METRICS] = {
    "loss", "accuracy", "mi_bound", "log_zhat", "log_zhat_sd", "alignment", "uniformity", "log_z",
};

static const struct {
    const char *name;
    VkcLossKind kind;
} kind_names[] = {
    {"ntxent", VKC_LOSS_NTXENT}, {"infonce", VKC_LOSS_NTXENT},          {"nce", VKC_LOSS_NCE},
    {"dcl", VKC_LOSS_DCL},       {"dcl-debiased", VKC_LOSS_DCL_DEBIASED},
};

int vkc_loss_kind_parse(const char *name, VkcLossKind *kind)
{
    for (size_t i = 0; name && i < sizeof kind_names / sizeof kind_names[0]; i++)
        if (!strcmp(name, kind_names[i].name)) {
            *kind = kind_names[i].kind;
            return VKC_OK;
        }
    return vkc_fail("unknown loss '%s' (expected ntxent, infonce, nce, dcl or dcl-debiased)", name ? name : "(null)");
}

const char *vkc_loss_kind_name(VkcLossKind kind)
{
    switch (kind) {
    case VKC_LOSS_NTXENT: return "ntxent";
    case VKC_LOSS_NCE: return "nce";
    case VKC_LOSS_DCL: return "dcl";
    case VKC_LOSS_DCL_DEBIASED: return "dcl-debiased";
    }
    return "?";
}

/* Push constants, matching the shaders' blocks. */
typedef struct {
    uint32_t n2, s_off;
} RowsPush; /* ntxent_rows, dcl_rows */
typedef struct {
    uint32_t n2, s_off, rows_off, g_off;
    float scale;
} RowsGradPush; /* ntxent_grad, dcl_grad */
typedef struct {
    uint32_t n2, s_off, logz_off, learned;
} NceRowsPush;
typedef struct {
    uint32_t n2, s_off, logz_off, learned, g_off;
    float scale;
} NceGradPush;
typedef struct {
    uint32_t n2, s_off;
    float inv_tau, tau_plus;
} DebiasedRowsPush;
typedef struct {
    uint32_t n2, s_off, rows_off, g_off;
    float scale, tau_plus;
} DebiasedGradPush;
typedef struct {
    uint32_t n2, s_off;
    float tau;
} StatsPush;
typedef struct {
    uint32_t n2, rows_off, stats_off, logz_off, m_off, learned;
} MetricsPush;

int vkc_contrastive_init(VkcContext *ctx, VkcContrastive *l, VkcGemm *gemm, VkcReduce *reduce, VkcArena *arena,
                         uint32_t n2, uint32_t dim, const VkcLossParams *params)
{
    memset(l, 0, sizeof *l);
    const VkcLossParams *p = params;
    if (n2 < 4 || n2 % 2)
        return vkc_fail("%s: need an even number >= 4 of embeddings (2N, at least one noise sample), got %u",
                        vkc_loss_kind_name(p->kind), n2);
    if (n2 > 65535) return vkc_fail("%s: %u embeddings is more than one dispatch grid covers (65535)",
                                    vkc_loss_kind_name(p->kind), n2);
    if (!dim) return vkc_fail("%s: embedding dimension 0", vkc_loss_kind_name(p->kind));
    if (!(p->tau > 0.0f)) return vkc_fail("%s: temperature must be > 0 (got %g)", vkc_loss_kind_name(p->kind), p->tau);
    if (p->kind == VKC_LOSS_DCL_DEBIASED && !(p->tau_plus >= 0.0f && p->tau_plus < 1.0f))
        return vkc_fail("dcl-debiased: --tau-plus must be in [0, 1) (got %g)", p->tau_plus);
    bool learned = p->kind == VKC_LOSS_NCE && p->learned_logz;
    if (learned && (!vkc_holds(p->logz, 1) || !vkc_holds(p->dlogz, 1)))
        return vkc_fail("nce: a learned log Z needs a 1-float parameter tensor and a 1-float gradient tensor");
    l->ctx = ctx;
    l->gemm = gemm;
    l->reduce = reduce;
    l->p = *p;
    l->p.learned_logz = learned;
    l->n2 = n2;
    l->dim = dim;
    /* As for NT-Xent: rows one invocation each (8 per group on CPUs, 64 on GPUs); the gradient
     * element-wise 2-D, a row of 16 lanes on CPUs, 16 x 16 on GPUs. */
    l->wg_rows = ctx->is_cpu ? 8 : 64;
    l->wg_grad = 16;
    uint32_t spec_rows[1] = {l->wg_rows};
    uint32_t spec_grad[2] = {l->wg_grad, ctx->is_cpu ? 1 : 16};
    static const char *const rows_shader[] = {"ntxent_rows", "nce_rows", "dcl_rows", "dcl_debiased_rows"};
    static const char *const grad_shader[] = {"ntxent_grad", "nce_grad", "dcl_grad", "dcl_debiased_grad"};
    static const char *const rows_bind[] = {"sb", "ssb", "sb", "sb"};
    static const char *const grad_bind[] = {"stb", "ssb", "stb", "stb"};
    static const uint32_t rows_push[] = {sizeof(RowsPush), sizeof(NceRowsPush), sizeof(RowsPush),
                                         sizeof(DebiasedRowsPush)};
    static const uint32_t grad_push[] = {sizeof(RowsGradPush), sizeof(NceGradPush), sizeof(RowsGradPush),
                                         sizeof(DebiasedGradPush)};
    int k = (int)p->kind;
    uint64_t nn = (uint64_t)n2 * n2;
    size_t scratch = vkc_colsum_scratch_floats(n2, 1);
    if (vkc_kernel_create(ctx, &l->rows, rows_shader[k], rows_bind[k], rows_push[k], spec_rows, 1) ||
        vkc_kernel_create(ctx, &l->grad, grad_shader[k], grad_bind[k], grad_push[k], spec_grad, 2) ||
        vkc_kernel_create(ctx, &l->stats, "contrastive_stats", "sb", sizeof(StatsPush), spec_rows, 1) ||
        vkc_kernel_create(ctx, &l->metrics, "contrastive_metrics", "ttsb", sizeof(MetricsPush), NULL, 0) ||
        vkc_tensor_alloc(arena, nn * 4, &l->sim) || vkc_tensor_alloc(arena, (VkDeviceSize)n2 * 16, &l->lrows) ||
        vkc_tensor_alloc(arena, (VkDeviceSize)n2 * 32, &l->mrows) || vkc_tensor_alloc(arena, nn * 4, &l->gsim) ||
        (scratch && vkc_tensor_alloc(arena, scratch * 4, &l->scratch))) {
        vkc_contrastive_destroy(l);
        return VKC_ERR;
    }
    return VKC_OK;
}

void vkc_contrastive_destroy(VkcContrastive *l)
{
    if (l->ctx) {
        vkc_kernel_destroy(l->ctx, &l->rows);
        vkc_kernel_destroy(l->ctx, &l->grad);
        vkc_kernel_destroy(l->ctx, &l->stats);
        vkc_kernel_destroy(l->ctx, &l->metrics);
    }
    memset(l, 0, sizeof *l);
}

/* The learned log Z, or (not learned) any valid tensor for the unused binding. */
static VkcTensor logz_tensor(const VkcContrastive *l) { return l->p.learned_logz ? l->p.logz : l->sim; }

int vkc_contrastive_forward(VkcContrastive *l, VkcCmd *cmd, VkcTensor z, VkcTensor metrics)
{
    const char *name = vkc_loss_kind_name(l->p.kind);
    if (!vkc_holds(z, (uint64_t)l->n2 * l->dim) || !vkc_holds(metrics, VKC_CONTRASTIVE_METRICS))
        return vkc_fail("%s forward: z (%ux%u) or metrics (%d floats) tensor too small", name, l->n2, l->dim,
                        VKC_CONTRASTIVE_METRICS);
    if (vkc_similarity_record(l->gemm, cmd, z, l->n2, l->dim, l->p.tau, l->sim)) return VKC_ERR;
    uint32_t rows_off, mrows_off, s_off;
    VkcTensor s_view = vkc_view_texel(l->ctx, l->sim, &s_off);
    VkcTensor rows_view = vkc_view_storage(l->ctx, l->lrows, &rows_off);
    VkcTensor mrows_view = vkc_view_storage(l->ctx, l->mrows, &mrows_off);
    if (rows_off || mrows_off) return vkc_fail("%s: row statistics not aligned", name); /* own allocations */
    uint32_t groups = vkc_div_up(l->n2, l->wg_rows);
    int rc;
    switch (l->p.kind) {
    case VKC_LOSS_NCE: {
        NceRowsPush push = {l->n2, s_off, 0, l->p.learned_logz};
        VkcTensor views[3] = {s_view, vkc_view_texel(l->ctx, logz_tensor(l), &push.logz_off), rows_view};
        rc = vkc_cmd_dispatch(cmd, &l->rows, views, 0, &push, groups, 1, 1);
        break;
    }
    case VKC_LOSS_DCL_DEBIASED: {
        DebiasedRowsPush push = {l->n2, s_off, 1.0f / l->p.tau, l->p.tau_plus};
        VkcTensor views[2] = {s_view, rows_view};
        rc = vkc_cmd_dispatch(cmd, &l->rows, views, 0, &push, groups, 1, 1);
        break;
    }
    default: { /* ntxent, dcl */
        RowsPush push = {l->n2, s_off};
        VkcTensor views[2] = {s_view, rows_view};
        rc = vkc_cmd_dispatch(cmd, &l->rows, views, 0, &push, groups, 1, 1);
    }
    }
    if (rc) return VKC_ERR;
    StatsPush sp = {l->n2, s_off, l->p.tau};
    VkcTensor sviews[2] = {s_view, mrows_view};
    if (vkc_cmd_dispatch(cmd, &l->stats, sviews, 0, &sp, groups, 1, 1)) return VKC_ERR;
    MetricsPush mp = {.n2 = l->n2, .learned = l->p.learned_logz};
    VkcTensor mviews[4] = {vkc_view_texel(l->ctx, l->lrows, &mp.rows_off), vkc_view_texel(l->ctx, l->mrows, &mp.stats_off),
                           vkc_view_texel(l->ctx, logz_tensor(l), &mp.logz_off),
                           vkc_view_storage(l->ctx, metrics, &mp.m_off)};
    mp.rows_off /= 4, mp.stats_off /= 4; /* rgba32f views: offsets in texels (0 for our own allocations) */
    return vkc_cmd_dispatch(cmd, &l->metrics, mviews, 0, &mp, 1, 1, 1);
}

int vkc_contrastive_backward(VkcContrastive *l, VkcCmd *cmd, VkcTensor z, VkcTensor dz)
{
    uint64_t n = (uint64_t)l->n2 * l->dim;
    if (!vkc_holds(z, n) || !vkc_holds(dz, n))
        return vkc_fail("%s backward: z or dz (%ux%u) too small", vkc_loss_kind_name(l->p.kind), l->n2, l->dim);
    const float scale = 1.0f / ((float)l->n2 * l->p.tau); /* mean over 2N anchors; S = z z^T / tau */
    uint32_t s_off, g_off, rows_off;
    VkcTensor s_view = vkc_view_texel(l->ctx, l->sim, &s_off);
    VkcTensor g_view = vkc_view_storage(l->ctx, l->gsim, &g_off);
    VkcTensor rows_view = vkc_view_texel(l->ctx, l->lrows, &rows_off);
    rows_off /= 4;
    uint32_t gx = vkc_div_up(l->n2, l->wg_grad), gy = l->ctx->is_cpu ? l->n2 : vkc_div_up(l->n2, 16);
    int rc;
    switch (l->p.kind) {
    case VKC_LOSS_NCE: {
        NceGradPush push = {l->n2, s_off, 0, l->p.learned_logz, g_off, scale};
        VkcTensor views[3] = {s_view, vkc_view_texel(l->ctx, logz_tensor(l), &push.logz_off), g_view};
        rc = vkc_cmd_dispatch(cmd, &l->grad, views, 0, &push, gx, gy, 1);
        /* d(mean loss)/d(log Z) = mean_i dl_i/dlogZ, column 1 of the loss rows (nce_rows.comp). */
        if (!rc && l->p.learned_logz) {
            VkcColsumArgs c = {.x = vkc_tensor_slice(l->lrows, 4, l->lrows.size - 4), .rows = l->n2, .cols = 1,
                               .ld = 4, .scale = 1.0f / (float)l->n2, .out = l->p.dlogz, .scratch = l->scratch};
            rc = vkc_colsum_record(l->reduce, cmd, &c);
        }
        break;
    }
    case VKC_LOSS_DCL_DEBIASED: {
        DebiasedGradPush push = {l->n2, s_off, rows_off, g_off, scale, l->p.tau_plus};
        VkcTensor views[3] = {s_view, rows_view, g_view};
        rc = vkc_cmd_dispatch(cmd, &l->grad, views, 0, &push, gx, gy, 1);
        break;
    }
    default: { /* ntxent, dcl: (n2, s_off, rows_off, g_off, scale) */
        RowsGradPush push = {l->n2, s_off, rows_off, g_off, scale};
        VkcTensor views[3] = {s_view, rows_view, g_view};
        rc = vkc_cmd_dispatch(cmd, &l->grad, views, 0, &push, gx, gy, 1);
    }
    }
    if (rc) return VKC_ERR;
    /* dz (n2 x dim) = G (n2 x n2) z (n2 x dim); G already holds the 1/(2N tau). */
    VkcGemmArgs g = {.M = l->n2, .N = l->dim, .K = l->n2, .A = l->gsim, .lda = l->n2, .B = z, .ldb = l->dim,
                     .C = dz, .ldc = l->dim, .alpha = 1.0f, .beta = 0.0f};
    return vkc_gemm_record(l->gemm, cmd, &g);
}
