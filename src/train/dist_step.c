/* Data-parallel training step: the host steps between command-buffer segments (dist_step.h).
 *
 * Correctness in one paragraph. Rank r holds images [rB, (r+1)B) of the global batch of BR
 * (the producer cuts the same shuffle on every rank). After the all-gather every rank holds the
 * same 2BR x dim matrix one rank with batch BR would have built, so every rank computes the
 * same loss L (a mean over 2BR rows) and the same dL/dz for all rows; rank r back-propagates
 * its own rows only, which gives the part of dL/dtheta that flows through its images; the sum
 * over ranks is the whole dL/dtheta. Batch norm couples the images of a batch: with sync BN
 * the partial sums of mean, variance and the backward's sum(g), sum(g (x - mean)) are summed
 * over ranks before they are used, so every rank normalises with the global statistics and
 * back-propagates through them exactly. The backward writes dgamma, dbeta from those global
 * sums: they are already the whole gradient, the same on every rank, so ranks other than 0
 * zero them before the gradient all-reduce, which then leaves them unchanged. The same holds
 * for the learned log Z of `--loss nce --nce-logz learned`: every rank computes the global loss. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist_step.h"

struct DistPoint {
    DistStep *d;
    int kind;
    uint32_t floats;
    DistPoint *next;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* [view][rank][image] -> rows of the global matrix: global row of (view v, rank r, image i)
 * is v BR + r B + i; rank r's local row is v B + i. */
static void reorder(const DistStep *d, float *zg)
{
    uint32_t B = d->batch, R = (uint32_t)d->dist->size, dim = d->dim;
    for (uint32_t r = 0; r < R; r++)
        for (uint32_t v = 0; v < 2; v++)
            memcpy(zg + ((size_t)v * B * R + (size_t)r * B) * dim, d->gathered + ((size_t)r * 2 * B + v * B) * dim,
                   (size_t)B * dim * sizeof(float));
}

static int run_point(void *user)
{
    DistPoint *p = user;
    DistStep *d = p->d;
    double t0 = now();
    int rc;
    if (p->kind == DIST_BN) {
        rc = vkc_dist_allreduce_sum(d->dist, d->bn_stage.mapped, p->floats);
    } else if (p->kind == DIST_EMBED) {
        rc = vkc_dist_allgather(d->dist, d->z_stage.mapped, p->floats, d->gathered);
        if (!rc) reorder(d, d->zg_stage.mapped);
    } else {
        float *g = d->grad_stage.mapped;
        if (d->dist->rank != 0)
            for (int i = 0; i < d->nreplicated; i++)
                memset(g + d->replicated[2 * i], 0, d->replicated[2 * i + 1] * sizeof(float));
        rc = vkc_dist_allreduce_sum(d->dist, g, p->floats);
    }
    d->comm_seconds += now() - t0;
    d->bytes[p->kind] += (uint64_t)p->floats * sizeof(float);
    return rc;
}

/* A host step running collective `kind` over `floats` values. */
static int host_step(DistStep *d, VkcCmd *cmd, int kind, uint32_t floats)
{
    DistPoint *p = malloc(sizeof *p);
    if (!p) return vkc_fail("out of host memory");
    *p = (DistPoint){d, kind, floats, d->points};
    d->points = p;
    return vkc_cmd_host_step(cmd, run_point, p);
}

static int record_bn(void *user, VkcCmd *cmd, VkcTensor work, uint32_t floats)
{
    DistStep *d = user;
    VkDeviceSize bytes = (VkDeviceSize)floats * 4;
    VkcTensor stage = vkc_tensor_slice(d->bn_stage, 0, bytes);
    if (vkc_cmd_copy(cmd, stage, work, bytes) || host_step(d, cmd, DIST_BN, floats)) return VKC_ERR;
    return vkc_cmd_copy(cmd, work, stage, bytes);
}

int dist_step_init(DistStep *d, const VkcDist *dist, VkcModel *model, VkcArena *host, uint32_t batch, uint32_t dim,
                   bool sync_bn)
{
    memset(d, 0, sizeof *d);
    d->dist = dist;
    d->model = model;
    d->batch = batch;
    d->dim = dim;
    d->sync_bn = sync_bn;
    uint32_t R = (uint32_t)dist->size;
    VkDeviceSize emb = (VkDeviceSize)2 * batch * dim * 4;
    if (vkc_tensor_alloc(host, model->bn_work.size, &d->bn_stage) || vkc_tensor_alloc(host, emb, &d->z_stage) ||
        vkc_tensor_alloc(host, emb * R, &d->zg_stage) ||
        vkc_tensor_alloc(host, model->nparams * 4, &d->grad_stage))
        return VKC_ERR;
    d->gathered = malloc(emb * R);
    d->replicated = malloc(2 * sizeof(uint64_t) * (size_t)(model->ntensors + 1));
    if (!d->gathered || !d->replicated) return vkc_fail("out of host memory");
    /* Gradients every rank already holds in full: batch-norm gamma/beta with sync BN, and the
     * learned log Z of the loss, which every rank computes over the global batch. */
    for (int i = 0; i < model->ntensors; i++)
        if (model->tensors[i].role == VKC_T_PARAM &&
            ((sync_bn && vkc_model_is_bn_param(model, i)) || i == model->logz_tensor)) {
            d->replicated[2 * d->nreplicated] = model->tensors[i].offset;
            d->replicated[2 * d->nreplicated + 1] = model->tensors[i].count;
            d->nreplicated++;
        }
    d->bn = (VkcBnSync){.ranks = R, .record = record_bn, .user = d};
    return VKC_OK;
}

void dist_step_destroy(DistStep *d)
{
    while (d->points) {
        DistPoint *next = d->points->next;
        free(d->points);
        d->points = next;
    }
    free(d->gathered);
    free(d->replicated);
    d->gathered = NULL;
    d->replicated = NULL;
}

int dist_step_gather_embeddings(DistStep *d, VkcCmd *cmd, VkcTensor z, VkcTensor zg)
{
    uint32_t floats = 2 * d->batch * d->dim;
    if (vkc_cmd_copy(cmd, d->z_stage, z, (VkDeviceSize)floats * 4) || host_step(d, cmd, DIST_EMBED, floats))
        return VKC_ERR;
    return vkc_cmd_copy(cmd, zg, d->zg_stage, d->zg_stage.size);
}

int dist_step_own_rows(DistStep *d, VkcCmd *cmd, VkcTensor dzg, VkcTensor dz)
{
    VkDeviceSize B = d->batch, R = (VkDeviceSize)d->dist->size, r = (VkDeviceSize)d->dist->rank;
    VkDeviceSize rows = B * d->dim * 4; /* bytes of B rows */
    for (VkDeviceSize v = 0; v < 2; v++)
        if (vkc_cmd_copy(cmd, vkc_tensor_slice(dz, v * rows, rows), vkc_tensor_slice(dzg, (v * R + r) * rows, rows),
                         rows))
            return VKC_ERR;
    return VKC_OK;
}

int dist_step_allreduce_grads(DistStep *d, VkcCmd *cmd)
{
    VkDeviceSize bytes = d->model->nparams * 4;
    if (vkc_cmd_copy(cmd, d->grad_stage, d->model->grads, bytes) ||
        host_step(d, cmd, DIST_GRADS, (uint32_t)d->model->nparams))
        return VKC_ERR;
    return vkc_cmd_copy(cmd, d->model->grads, d->grad_stage, bytes);
}

int dist_step_check_replicas(DistStep *d)
{
    size_t n = d->model->nparams * 4;
    uint8_t *bytes = malloc(n);
    if (!bytes) return vkc_fail("out of host memory");
    int rc = vkc_download(d->model->ctx, d->model->params, bytes, n);
    uint64_t mine = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) mine = (mine ^ bytes[i]) * 1099511628211ull;
    free(bytes);
    uint64_t lead = mine;
    if (!rc) rc = vkc_dist_broadcast(d->dist, &lead, sizeof lead, 0);
    bool differ = rc == VKC_OK && lead != mine;
    if (vkc_dist_any(d->dist, rc != VKC_OK || differ)) {
        if (rc != VKC_OK) return VKC_ERR;
        if (differ)
            return vkc_fail("rank %d's parameters differ from rank 0's: the replicas diverged (the deterministic "
                            "all-reduce rules this out on identical devices and drivers)", d->dist->rank);
        return vkc_fail("another rank's parameters differ from rank 0's (see its message)");
    }
    return VKC_OK;
}
