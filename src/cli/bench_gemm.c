/* vkclr bench gemm: GFLOP/s of shaders/gemm.comp (float32) or gemm_coop.comp (--precision
 * fp16|bf16: 16-bit products on cooperative matrices), timed with GPU timestamps, median of runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "commands.h"
#include "vkclr/gemm.h"

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
#define NSHAPES (int)(sizeof shapes / sizeof shapes[0])

/* Median time in ns of `repeat` runs of one product (after one warm-up run). */
static int time_shape(VkcContext *ctx, VkcGemm *g, const Shape *s, int repeat, double *median_ns)
{
    VkcArena arena;
    vkc_arena_init(&arena, ctx, VKC_MEMORY_DEVICE);
    VkcTensor A, B, C;
    uint64_t a = (uint64_t)s->M * s->K, b = (uint64_t)s->K * s->N, c = (uint64_t)s->M * s->N;
    int rc = VKC_ERR;
    VkcCmd cmd = {0};
    if (vkc_tensor_alloc(&arena, a * 4, &A) || vkc_tensor_alloc(&arena, b * 4, &B) ||
        vkc_tensor_alloc(&arena, c * 4, &C) || vkc_cmd_init(ctx, &cmd) || vkc_cmd_begin(&cmd))
        goto done;
    VkcGemmArgs args = {
        .trans_a = s->ta, .trans_b = s->tb, .M = s->M, .N = s->N, .K = s->K,
        .A = A, .B = B, .C = C, .lda = s->ta ? s->M : s->K, .ldb = s->tb ? s->K : s->N, .ldc = s->N,
        .alpha = 1.0f, .beta = 0.0f,
    };
    int t0 = vkc_cmd_timestamp(&cmd);
    if (vkc_gemm_record(g, &cmd, &args)) goto done;
    int t1 = vkc_cmd_timestamp(&cmd);
    if (vkc_cmd_end(&cmd)) goto done;
    if (bench_time(&cmd, t0, t1, repeat, median_ns)) goto done;
    rc = VKC_OK;
done:
    vkc_cmd_destroy(&cmd);
    vkc_arena_destroy(&arena);
    return rc;
}

int bench_gemm(int argc, char **argv)
{
    /* --precision fp32|fp16|bf16: the products' operands (this benchmark's own option) */
    VkcDtype ops = VKC_F32;
    char *rest[64];
    int nrest = 0;
    for (int i = 0; i < argc && nrest < 64; i++) {
        if (!strcmp(argv[i], "--precision")) {
            const char *v = i + 1 < argc ? argv[++i] : "";
            if (!strcmp(v, "fp32") || !strcmp(v, "fp16") || !strcmp(v, "bf16"))
                ops = !strcmp(v, "fp32") ? VKC_F32 : !strcmp(v, "fp16") ? VKC_F16 : VKC_BF16;
            else {
                fprintf(stderr, "vkclr bench gemm: --precision '%s': expected fp32, fp16 or bf16\n", v);
                return 2;
            }
            continue;
        }
        rest[nrest++] = argv[i];
    }
    BenchOptions o;
    int parsed = bench_parse("gemm", nrest, rest, 5, &o,
        "Times C = op(A) op(B) for square and conv-as-GEMM shapes: median of R runs (default 5) after\n"
        "a warm-up, from GPU timestamps. --precision fp16|bf16 times the cooperative-matrix GEMM (16-bit\n"
        "products, float32 sums) where the device runs it (default fp32). 4096^3 runs only when --only\n"
        "names it. VKCLR_GEMM_TILE=wg_x,wg_y,tm,tn4 tries another float32 tile.\n");
    if (parsed) return parsed > 0 ? 0 : 2;
    long repeat = o.repeat;
    const char *only = o.only;
    VkcContext ctx;
    if (bench_open("gemm", &o, &ctx)) return 1;
    VkcGemm g;
    if (vkc_gemm_init(&ctx, &g)) {
        fprintf(stderr, "vkclr bench gemm: %s\n", vkc_error());
        vkc_context_destroy(&ctx);
        return 1;
    }
    if (ops != VKC_F32 && vkc_gemm_set_operands(&g, ops) != ops) {
        fprintf(stderr, "vkclr bench gemm: --precision %s: no %s cooperative-matrix GEMM on this device: %s\n",
                vkc_dtype_name(ops), vkc_dtype_name(ops), ctx.coop.why_not[ops]);
        vkc_gemm_destroy(&g);
        vkc_context_destroy(&ctx);
        return 1;
    }
    if (ops == VKC_F32)
        printf("device: %s (%s); float32, tile %ux%u invocations x %ux%u outputs; median of %ld runs\n",
               ctx.props.deviceName, vkc_device_type_name(ctx.props.deviceType), g.wide.wg_x, g.wide.wg_y, g.wide.tm,
               4 * g.wide.tn4, repeat);
    else
        printf("device: %s (%s); %s products on cooperative matrices %ux%ux%u, tile %u,%u,%u,%u,%u (subgroups "
               "%ux%u, matrices %ux%u each, K %u per stage); median of %ld runs\n",
               ctx.props.deviceName, vkc_device_type_name(ctx.props.deviceType), vkc_dtype_name(ops),
               ctx.coop.shape[ops].M, ctx.coop.shape[ops].N, ctx.coop.shape[ops].K, g.coop_tile.wm, g.coop_tile.wn,
               g.coop_tile.tm, g.coop_tile.tn, g.coop_tile.bk, g.coop_tile.wm, g.coop_tile.wn, g.coop_tile.tm,
               g.coop_tile.tn, g.coop_tile.bk, repeat);
    printf("%-14s %7s %7s %7s %12s %10s\n", "shape", "M", "N", "K", "time (ms)", "GFLOP/s");
    int status = 0;
    for (int s = 0; s < NSHAPES; s++) {
        if ((only && !strstr(shapes[s].label, only)) || (!only && shapes[s].asked)) continue;
        double ns;
        if (time_shape(&ctx, &g, &shapes[s], (int)repeat, &ns)) {
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
