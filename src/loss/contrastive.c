/* The NCE family behind one interface: similarity GEMM, a per-row loss kernel and a
 * logit-gradient kernel per kind (one table row each), the shared metric statistics, and the
 * gradient GEMM. Shaders: ntxent_*, nce_*, dcl_*, dcl_debiased_* (contrastive_common.glsl),
 * contrastive_stats, contrastive_metrics. The losses themselves are the rows of vkc_losses[]. */
#include <stdio.h>
#include <string.h>

#include "vkclr/loss.h"

const char *const vkc_metric_names[VKC_CONTRASTIVE_METRICS] = {
    "loss", "pos_accuracy", "mi_lower_bound", "log_zhat", "log_zhat_sd", "alignment", "uniformity", "log_z",
};

const VkcName vkc_loss_names[] = {
    {.name = "ntxent", .value = VKC_LOSS_NTXENT, .about = "NT-Xent, SimCLR's"},
    {.name = "infonce", .value = VKC_LOSS_NTXENT},
    {.name = "nce", .value = VKC_LOSS_NCE, .about = "local NCE"},
    {.name = "dcl", .value = VKC_LOSS_DCL, .about = "decoupled"},
    {.name = "dcl-debiased", .value = VKC_LOSS_DCL_DEBIASED, .about = "Chuang et al."},
    {0},
};

const VkcName vkc_nce_logz_names[] = {
    {.name = "self", .value = 0, .about = "log Z = 0, self-normalised"},
    {.name = "learned", .value = 1, .about = "a trained scalar"},
    {0},
};

int vkc_similarity_record(VkcGemm *gemm, VkcCmd *cmd, VkcTensor z, uint32_t n2, uint32_t dim, float tau,
                          VkcTensor sim)
{
    if (!(tau > 0.0f)) return vkc_fail("similarity: temperature must be > 0 (got %g)", tau);
    /* S = z z^T: the NT form with z as both operands; alpha folds in 1/tau. Each S_ij and S_ji
     * are the same products accumulated in the same k order, so S is exactly symmetric. */
    VkcGemmArgs g = {.trans_b = true, .M = n2, .N = n2, .K = dim, .A = z, .lda = dim, .B = z, .ldb = dim,
                     .C = sim, .ldc = n2, .alpha = 1.0f / tau, .beta = 0.0f};
    return vkc_gemm_record(gemm, cmd, &g);
}

const VkcLossRow vkc_losses[VKC_LOSS_KINDS] = {
    {.kind = VKC_LOSS_NTXENT, .rows = VKC_SHADER_NTXENT_ROWS, .grad = VKC_SHADER_NTXENT_GRAD, .benchmarked = true,
     .checked = true},
    {.kind = VKC_LOSS_NCE, .rows = VKC_SHADER_NCE_ROWS, .grad = VKC_SHADER_NCE_GRAD, .learns_logz = true,
     .benchmarked = true, .checked = true},
    {.kind = VKC_LOSS_DCL, .rows = VKC_SHADER_DCL_ROWS, .grad = VKC_SHADER_DCL_GRAD, .benchmarked = true,
     .checked = true},
    {.kind = VKC_LOSS_DCL_DEBIASED, .rows = VKC_SHADER_DCL_DEBIASED_ROWS, .grad = VKC_SHADER_DCL_DEBIASED_GRAD,
     .takes_tau_plus = true, .benchmarked = true, .checked = true},
};

const VkcLossRow *vkc_loss_row(VkcLossKind kind)
{
    for (int i = 0; i < VKC_LOSS_KINDS; i++)
        if (vkc_losses[i].kind == kind) return &vkc_losses[i];
    return NULL;
}

bool vkc_loss_learns_logz(VkcLossKind kind, bool learned)
{
    const VkcLossRow *row = vkc_loss_row(kind);
    return learned && row && row->learns_logz;
}

void vkc_loss_names_with(bool (*has)(const VkcLossRow *row), char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i < VKC_LOSS_KINDS && n < size; i++)
        if (has(&vkc_losses[i]))
            n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? ", " : "", vkc_loss_kind_name(vkc_losses[i].kind));
}

/* Push constants of every rows and gradient kernel (LossPush in contrastive_common.glsl). */
typedef struct {
    uint32_t n2, s_off, rows_off, logz_off, g_off, learned;
    float inv_tau, scale, tau_plus;
} LossPush;
VKC_PUSH_CONTRACT(LossPush, NTXENT_ROWS);
VKC_PUSH_CONTRACT(LossPush, NTXENT_GRAD);
VKC_PUSH_CONTRACT(LossPush, NCE_ROWS);
VKC_PUSH_CONTRACT(LossPush, NCE_GRAD);
VKC_PUSH_CONTRACT(LossPush, DCL_ROWS);
VKC_PUSH_CONTRACT(LossPush, DCL_GRAD);
VKC_PUSH_CONTRACT(LossPush, DCL_DEBIASED_ROWS);
VKC_PUSH_CONTRACT(LossPush, DCL_DEBIASED_GRAD);

typedef struct {
    uint32_t n2, s_off;
    float tau;
} StatsPush;
VKC_PUSH_CONTRACT(StatsPush, CONTRASTIVE_STATS);
typedef struct {
    uint32_t n2, rows_off, stats_off, logz_off, m_off, learned;
} MetricsPush;
VKC_PUSH_CONTRACT(MetricsPush, CONTRASTIVE_METRICS);

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
    const VkcLossRow *row = vkc_loss_row(p->kind);
    if (!row) return vkc_fail("unknown loss kind %d", (int)p->kind);
    if (row->takes_tau_plus && !(p->tau_plus >= 0.0f && p->tau_plus < 1.0f))
        return vkc_fail("%s: --tau-plus must be in [0, 1) (got %g)", vkc_loss_kind_name(p->kind), p->tau_plus);
    bool learned = vkc_loss_learns_logz(p->kind, p->learned_logz);
    if (learned && (!vkc_holds(p->logz, 1) || !vkc_holds(p->dlogz, 1)))
        return vkc_fail("nce: a learned log Z needs a 1-float parameter tensor and a 1-float gradient tensor");
    l->ctx = ctx;
    l->gemm = gemm;
    l->reduce = reduce;
    l->p = *p;
    l->p.learned_logz = learned;
    l->n2 = n2;
    l->dim = dim;
    l->row = row;
    /* Rows: one invocation each (8 per group on CPUs, 64 on GPUs); the gradient element-wise
     * 2-D, a row of 16 lanes on CPUs, 16 x 16 on GPUs. */
    l->wg_rows = ctx->is_cpu ? 8 : 64;
    l->wg_grad = 16;
    uint32_t spec_rows[1] = {l->wg_rows};
    uint32_t spec_grad[2] = {l->wg_grad, ctx->is_cpu ? 1 : 16};
    uint64_t nn = (uint64_t)n2 * n2;
    size_t scratch = vkc_colsum_scratch_floats(n2, 1);
    if (vkc_kernel_create(ctx, &l->rows, row->rows, "ssb", sizeof(LossPush), spec_rows, 1) ||
        vkc_kernel_create(ctx, &l->grad, row->grad, "sstb", sizeof(LossPush), spec_grad, 2) ||
        vkc_kernel_create(ctx, &l->stats, VKC_SHADER_CONTRASTIVE_STATS, "sb", sizeof(StatsPush), spec_rows, 1) ||
        vkc_kernel_create(ctx, &l->metrics, VKC_SHADER_CONTRASTIVE_METRICS, "ttsb", sizeof(MetricsPush), NULL, 0) ||
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

static LossPush loss_push(const VkcContrastive *l, uint32_t s_off, uint32_t rows_off, uint32_t g_off, float scale)
{
    return (LossPush){.n2 = l->n2, .s_off = s_off, .rows_off = rows_off, .g_off = g_off,
                      .learned = l->p.learned_logz, .inv_tau = 1.0f / l->p.tau, .scale = scale,
                      .tau_plus = l->p.tau_plus};
}

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
    LossPush push = loss_push(l, s_off, 0, 0, 0.0f);
    VkcTensor views[3] = {s_view, vkc_view_texel(l->ctx, logz_tensor(l), &push.logz_off), rows_view};
    if (vkc_cmd_dispatch(cmd, &l->rows, views, 0, &push, groups, 1, 1)) return VKC_ERR;
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

double vkc_contrastive_flops(const VkcContrastive *l) { return 2 * 2.0 * l->n2 * l->n2 * l->dim; }

bool vkc_contrastive_has_metric(const VkcContrastive *l, int k)
{
    return k != VKC_METRIC_LOG_Z || l->p.learned_logz;
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
    LossPush push = loss_push(l, s_off, rows_off, g_off, scale);
    VkcTensor views[4] = {s_view, vkc_view_texel(l->ctx, logz_tensor(l), &push.logz_off), rows_view, g_view};
    if (vkc_cmd_dispatch(cmd, &l->grad, views, 0, &push, gx, gy, 1)) return VKC_ERR;
    /* d(mean loss)/d(log Z) = mean_i dl_i/dlogZ, column 1 of the loss rows (nce_rows.comp). */
    if (l->p.learned_logz) {
        VkcColsumArgs c = {.x = vkc_tensor_slice(l->lrows, 4, l->lrows.size - 4), .rows = l->n2, .cols = 1,
                           .ld = 4, .scale = 1.0f / (float)l->n2, .out = l->p.dlogz, .scratch = l->scratch};
        if (vkc_colsum_record(l->reduce, cmd, &c)) return VKC_ERR;
    }
    /* dz (n2 x dim) = G (n2 x n2) z (n2 x dim); G already holds the 1/(2N tau). */
    VkcGemmArgs g = {.M = l->n2, .N = l->dim, .K = l->n2, .A = l->gsim, .lda = l->n2, .B = z, .ldb = l->dim,
                     .C = dz, .ldc = l->dim, .alpha = 1.0f, .beta = 0.0f};
    return vkc_gemm_record(l->gemm, cmd, &g);
}
