/* vkclr bench gemm: GFLOP/s of shaders/gemm.comp, timed with GPU timestamps, median of runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "commands.h"
#include "vkclr/gemm.h"

static const char bench_gemm_synopsis[] =
    "usage: vkclr bench gemm [OPTIONS]\n\n"
    "Times C = op(A) op(B) for square and conv-as-GEMM shapes: the median of R runs after a warm-up,\n"
    "from GPU timestamps. VKCLR_GEMM_TILE=wg_x,wg_y,tm,tn4 tries another tile.\n";

typedef struct {
    const char *label;
    bool ta, tb;
    uint32_t M, N, K;
} Shape;

static const Shape shapes[] = {
    {"256^3 NN", false, false, 256, 256, 256},
    {"1024^3 NN", false, false, 1024, 1024, 1024},
    {"2048^3 NN", false, false, 2048, 2048, 2048},
    {"conv fwd NT", false, true, 50176, 64, 576},   /* 64 x 28x28 images, 64 -> 64 channels, 3x3 */
    {"conv dW TN", true, false, 64, 576, 50176},
};
#define NSHAPES (int)(sizeof shapes / sizeof shapes[0])

typedef struct {
    VkcGemm *g;
    const Shape *s;
} Product;

/* One product of the shape on fresh operands. */
static int record_product(void *user, VkcCmd *cmd, VkcArena *arena)
{
    const Product *p = user;
    const Shape *s = p->s;
    VkcTensor A, B, C;
    uint64_t a = (uint64_t)s->M * s->K, b = (uint64_t)s->K * s->N, c = (uint64_t)s->M * s->N;
    if (vkc_tensor_alloc(arena, a * 4, &A) || vkc_tensor_alloc(arena, b * 4, &B) || vkc_tensor_alloc(arena, c * 4, &C))
        return VKC_ERR;
    VkcGemmArgs args = {
        .trans_a = s->ta, .trans_b = s->tb, .M = s->M, .N = s->N, .K = s->K,
        .A = A, .B = B, .C = C, .lda = s->ta ? s->M : s->K, .ldb = s->tb ? s->K : s->N, .ldc = s->N,
        .alpha = 1.0f, .beta = 0.0f,
    };
    return vkc_gemm_record(p->g, cmd, &args);
}

static void defaults(void *o) { bench_defaults(o, 5); }

static int run(const CliCall *call)
{
    const BenchOptions o = *(const BenchOptions *)call->own;
    int repeat = o.repeat;
    const char *only = o.only[0] ? o.only : NULL;
    VkcContext ctx;
    if (bench_open(&cli_bench_gemm, &o, call->env, &ctx)) return 1;
    VkcGemm g;
    if (vkc_gemm_init(&ctx, &g)) {
        vkc_context_destroy(&ctx);
        return cli_fail(&cli_bench_gemm, 1);
    }
    printf("device: %s (%s); tile %ux%u invocations x %ux%u outputs; median of %d runs\n", ctx.props.deviceName,
           vkc_device_type_name(ctx.props.deviceType), g.wide.wg_x, g.wide.wg_y, g.wide.tm, 4 * g.wide.tn4, repeat);
    printf("%-14s %7s %7s %7s %12s %10s\n", "shape", "M", "N", "K", "time (ms)", "GFLOP/s");
    int status = 0;
    for (int s = 0; s < NSHAPES; s++) {
        if (only && !strstr(shapes[s].label, only)) continue;
        double ns;
        if (bench_time_recorded(&ctx, record_product, &(Product){&g, &shapes[s]}, repeat, &ns)) {
            fprintf(stderr, "vkclr bench gemm: %s: %s\n", shapes[s].label, vkc_error());
            status = 1;
            break;
        }
        double flops = 2.0 * shapes[s].M * shapes[s].N * shapes[s].K;
        printf("%-14s %7u %7u %7u %12.3f %10.1f\n", shapes[s].label, shapes[s].M, shapes[s].N, shapes[s].K, ns / 1e6,
               flops / ns);
        fflush(stdout);
    }
    vkc_gemm_destroy(&g);
    vkc_context_destroy(&ctx);
    return status;
}

const CliSpec cli_bench_gemm = {.name = "bench gemm", .run = run, .synopsis = bench_gemm_synopsis,
                                .about = "GFLOP/s of the GEMM kernel at square and conv-as-GEMM shapes", BENCH_ROWS,
                                .defaults = defaults};
