/* vkclr bench gemm: GFLOP/s of shaders/gemm.comp (float32) or gemm_coop.comp (--precision
 * fp16|bf16: 16-bit products on cooperative matrices), timed with GPU timestamps, median of runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "commands.h"
#include "vkclr/config.h"
#include "vkclr/gemm.h"

static const char bench_gemm_synopsis[] =
    "usage: vkclr bench gemm [OPTIONS]\n\n"
    "Times C = op(A) op(B) for square and conv-as-GEMM shapes: the median of R runs after a warm-up,\n"
    "from GPU timestamps. --precision fp16|bf16 times the cooperative-matrix GEMM (16-bit products,\n"
    "float32 sums) where the device runs it; 4096^3 runs only when --only names it.\n"
    "VKCLR_GEMM_TILE=wg_x,wg_y,tm,tn4 tries another float32 tile.\n";

typedef struct {
    const char *label;
    bool ta, tb;
    uint32_t M, N, K;
    bool asked; /* run only when --only names it (too slow for CPU devices) */
} Shape;

static const Shape shapes[] = {
    {"256^3 NN", false, false, 256, 256, 256, false},
    {"1024^3 NN", false, false, 1024, 1024, 1024, false},
    {"2048^3 NN", false, false, 2048, 2048, 2048, false},
    {"4096^3 NN", false, false, 4096, 4096, 4096, true}, /* the GPU target's shape (issue 19) */
    {"conv fwd NT", false, true, 50176, 64, 576, false}, /* 64 x 28x28 images, 64 -> 64 channels, 3x3 */
    {"conv dW TN", true, false, 64, 576, 50176, false},
};

/* The common benchmark options and the products' operands. */
typedef struct {
    BenchOptions bench;
    int precision; /* VkcDtype, or -1: auto (vkc_auto_precision) */
} GemmOptions;

static const VkcOption gemm_rows[] = {
    BENCH_OPTION_ROWS(GemmOptions, bench.),
    {.flag = "--precision", .type = VKC_OPT_ENUM, VKC_OPTION_FIELD(GemmOptions, precision), .names = vkc_precision_names,
     .def = "fp32", .section = "options", .metavar = "P",
     .help = "the products' operands: fp32 (gemm.comp), fp16 or bf16 on cooperative matrices (gemm_coop.comp)"},
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

static void defaults(void *o)
{
    GemmOptions *g = o;
    bench_defaults(&g->bench, 5);
    g->precision = VKC_F32;
}

static int run(const CliCall *call)
{
    const GemmOptions *go = call->own;
    const BenchOptions o = go->bench;
    int repeat = o.repeat;
    const char *only = o.only[0] ? o.only : NULL;
    VkcContext ctx;
    if (bench_open(&cli_bench_gemm, &o, call->env, &ctx)) return 1;
    VkcGemm g;
    if (vkc_gemm_init(&ctx, &g)) {
        vkc_context_destroy(&ctx);
        return cli_fail(&cli_bench_gemm, 1);
    }
    VkcDtype ops = go->precision < 0 ? vkc_auto_precision(&ctx) : (VkcDtype)go->precision;
    if (ops != VKC_F32 && vkc_gemm_set_operands(&g, ops) != ops) {
        fprintf(stderr, "vkclr bench gemm: --precision %s: no %s cooperative-matrix GEMM on this device: %s\n",
                vkc_dtype_name(ops), vkc_dtype_name(ops), ctx.coop.why_not[ops]);
        vkc_gemm_destroy(&g);
        vkc_context_destroy(&ctx);
        return 1;
    }
    if (ops == VKC_F32)
        printf("device: %s (%s); float32, tile %ux%u invocations x %ux%u outputs; median of %d runs\n",
               ctx.props.deviceName, vkc_device_type_name(ctx.props.deviceType), g.wide.wg_x, g.wide.wg_y, g.wide.tm,
               4 * g.wide.tn4, repeat);
    else
        printf("device: %s (%s); %s products on cooperative matrices %ux%ux%u, tile %u,%u,%u,%u,%u (subgroups %ux%u, "
               "matrices %ux%u each, K %u per stage); median of %d runs\n",
               ctx.props.deviceName, vkc_device_type_name(ctx.props.deviceType), vkc_dtype_name(ops),
               ctx.coop.shape[ops].M, ctx.coop.shape[ops].N, ctx.coop.shape[ops].K, g.coop_tile.wm, g.coop_tile.wn,
               g.coop_tile.tm, g.coop_tile.tn, g.coop_tile.bk, g.coop_tile.wm, g.coop_tile.wn, g.coop_tile.tm,
               g.coop_tile.tn, g.coop_tile.bk, repeat);
    printf("%-14s %7s %7s %7s %12s %10s\n", "shape", "M", "N", "K", "time (ms)", "GFLOP/s");
    int status = 0;
    for (int s = 0; s < NSHAPES; s++) {
        if ((only && !strstr(shapes[s].label, only)) || (!only && shapes[s].asked)) continue;
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
                                .about = "GFLOP/s of the GEMM kernels at square and conv-as-GEMM shapes",
                                .rows = gemm_rows, .nrows = sizeof gemm_rows / sizeof gemm_rows[0],
                                .size = sizeof(GemmOptions), .defaults = defaults};
