/* Host side of shaders/colsum.comp: chunking (a function of the shape only, which is what
 * makes the sums reproducible), one or two passes. */
#include <string.h>

#include "vkclr/reduce.h"

typedef struct {
    uint32_t rows, cols, ld, chunk_rows, x_off, o_off, square, root;
    float scale;
} ColsumPush;
VKC_PUSH_CONTRACT(ColsumPush, COLSUM);

#define SINGLE_PASS_ROWS 4096u
#define ROWS_PER_CHUNK 1024u
#define MAX_CHUNKS 1024u

int vkc_reduce_init(VkcContext *ctx, VkcReduce *r)
{
    memset(r, 0, sizeof *r);
    r->ctx = ctx;
    /* One invocation per column: small groups on CPUs, 64 on GPUs (narrow matrices leave the
     * rest of a wide group idle, and the chunks supply the parallelism). */
    r->wg = ctx->is_cpu ? 16 : 64;
    uint32_t spec[1] = {r->wg};
    return vkc_kernel_create(ctx, &r->colsum, VKC_SHADER_COLSUM, "bb", sizeof(ColsumPush), spec, 1);
}

void vkc_reduce_destroy(VkcReduce *r)
{
    if (r->ctx) vkc_kernel_destroy(r->ctx, &r->colsum);
    memset(r, 0, sizeof *r);
}

static uint32_t chunk_rows_for(uint32_t rows)
{
    if (rows <= SINGLE_PASS_ROWS) return rows;
    uint32_t chunks = vkc_div_up(rows, ROWS_PER_CHUNK);
    if (chunks > MAX_CHUNKS) chunks = MAX_CHUNKS;
    return vkc_div_up(rows, chunks);
}

uint32_t vkc_colsum_chunks(uint32_t rows) { return rows ? vkc_div_up(rows, chunk_rows_for(rows)) : 0; }

size_t vkc_colsum_scratch_floats(uint32_t rows, uint32_t cols)
{
    uint32_t chunks = vkc_colsum_chunks(rows);
    return chunks > 1 ? (size_t)chunks * cols : 0;
}

static int pass(VkcReduce *r, VkcCmd *cmd, VkcTensor x, uint32_t rows, uint32_t cols, uint32_t ld,
                uint32_t chunk_rows, bool square, bool root, float scale, VkcTensor out)
{
    ColsumPush push = {rows, cols, ld, chunk_rows, 0, 0, square, root, scale};
    VkcTensor views[2] = {vkc_view_storage(r->ctx, x, &push.x_off), vkc_view_storage(r->ctx, out, &push.o_off)};
    return vkc_cmd_dispatch(cmd, &r->colsum, views, 1u, &push, vkc_div_up(cols, r->wg), vkc_div_up(rows, chunk_rows), 1);
}

int vkc_colsum_record(VkcReduce *r, VkcCmd *cmd, const VkcColsumArgs *a)
{
    uint32_t ld = a->ld ? a->ld : a->cols;
    if (!a->rows || !a->cols) return vkc_fail("colsum: empty matrix %ux%u", a->rows, a->cols);
    if (ld < a->cols) return vkc_fail("colsum: leading dimension %u < %u columns", ld, a->cols);
    if (!vkc_holds(a->x, (uint64_t)(a->rows - 1) * ld + a->cols) || !vkc_holds(a->out, a->cols))
        return vkc_fail("colsum %ux%u: input (%llu bytes) or output (%llu bytes) too small", a->rows, a->cols,
                        (unsigned long long)a->x.size, (unsigned long long)a->out.size);
    uint32_t chunk_rows = chunk_rows_for(a->rows);
    uint32_t chunks = vkc_div_up(a->rows, chunk_rows);
    if (chunks == 1) return pass(r, cmd, a->x, a->rows, a->cols, ld, chunk_rows, a->square, a->root, a->scale, a->out);
    if (!vkc_holds(a->scratch, (uint64_t)chunks * a->cols))
        return vkc_fail("colsum %ux%u: needs %zu floats of scratch, has %llu", a->rows, a->cols,
                        vkc_colsum_scratch_floats(a->rows, a->cols), (unsigned long long)(a->scratch.size / 4));
    if (pass(r, cmd, a->x, a->rows, a->cols, ld, chunk_rows, a->square, false, 1.0f, a->scratch)) return VKC_ERR;
    return pass(r, cmd, a->scratch, chunks, a->cols, a->cols, chunks, false, a->root, a->scale, a->out);
}

int vkc_sum_record(VkcReduce *r, VkcCmd *cmd, VkcTensor x, uint32_t n, bool square, bool root, float scale,
                   VkcTensor out, VkcTensor scratch)
{
    VkcColsumArgs a = {.x = x, .rows = n, .cols = 1, .ld = 1, .square = square, .root = root, .scale = scale,
                       .out = out, .scratch = scratch};
    return vkc_colsum_record(r, cmd, &a);
}
