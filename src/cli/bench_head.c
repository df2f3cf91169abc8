/* vkclr bench head: time per kernel of the projection head, the losses of the NCE family (every
 * row of vkc_losses marked benchmarked) and the optimizers at SimCLR training shapes (batch 256
 * -> 2N = 512 embeddings, head 128 -> 512 -> 128, optimizer steps over ~1M parameters).
 * Everything is recorded once into one command buffer with a GPU timestamp between kernels; the
 * figure per kernel is the median over runs after a warm-up run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "commands.h"
#include "vkclr/l2norm.h"
#include "vkclr/linear.h"
#include "vkclr/loss.h"
#include "vkclr/optim.h"

static const char bench_head_synopsis[] =
    "usage: vkclr bench head [OPTIONS]\n\n"
    "Times the projection head (linear 128->512->128, L2 norm), the contrastive losses forward and\n"
    "backward on 512 x 128 embeddings and SGD / LARS / AdamW steps over 1.05M parameters: the median\n"
    "of R runs after a warm-up, from GPU timestamps. --only picks the rows to print.\n";

#define N2 512u   /* 2N embeddings: batch 256, two views */
#define FEAT 128u /* encoder feature width */
#define HID 512u
#define EMB 128u
#define MAX_SEG (9 + 2 * VKC_LOSS_KINDS) /* head and optimizers: 9; forward and backward of each loss */

/* Parameter tensors of the optimizer benchmark: a few conv-like weights and their biases,
 * 1,049,258 floats (biases flagged no-decay). */
static const uint32_t opt_sizes[] = {589824, 256, 262144, 256, 147456, 128, 49152, 10, 32};
#define NOPT (int)(sizeof opt_sizes / sizeof opt_sizes[0])

typedef struct {
    char label[40];
    double flops, bytes; /* one of them is what the figure reports */
    int t0, t1;
    double ns[BENCH_MAX_REPEAT];
} Segment;

typedef struct {
    VkcContext ctx;
    VkcArena arena, params_arena, grads_arena, host;
    VkcGemm gemm;
    VkcReduce reduce;
    VkcLinearKernels lk;
    VkcL2Norm l2;
    VkcContrastive family[VKC_LOSS_KINDS]; /* per benchmarked loss (nce: self-normalised) */
    int nfamily;
    VkcOptim opt[3];
    VkcCmd cmd;
} Bench;

static int measure(Bench *b, long repeat, const char *only)
{
    VkcContext *ctx = &b->ctx;
    VkcLinear l1 = {.in = FEAT, .out = HID}, l2 = {.in = HID, .out = EMB};
    VkcTensor h, a1, e, z, m, dz, de, da1, dh;
    vkc_arena_init(&b->arena, ctx, VKC_MEMORY_DEVICE);
    vkc_arena_init(&b->params_arena, ctx, VKC_MEMORY_DEVICE);
    vkc_arena_init(&b->grads_arena, ctx, VKC_MEMORY_DEVICE);
    vkc_arena_init(&b->host, ctx, VKC_MEMORY_STAGING);
    VkcArena *A = &b->arena;
    if (vkc_gemm_init(ctx, &b->gemm) || vkc_reduce_init(ctx, &b->reduce) ||
        vkc_linear_kernels_init(ctx, &b->lk, &b->gemm, &b->reduce) || vkc_l2norm_init(ctx, &b->l2) ||
        vkc_tensor_alloc(A, N2 * FEAT * 4, &h) || vkc_tensor_alloc(A, N2 * HID * 4, &a1) ||
        vkc_tensor_alloc(A, N2 * EMB * 4, &e) || vkc_tensor_alloc(A, N2 * EMB * 4, &z) ||
        vkc_tensor_alloc(&b->host, 4 * VKC_CONTRASTIVE_METRICS, &m) || vkc_tensor_alloc(A, N2 * EMB * 4, &dz) ||
        vkc_tensor_alloc(A, N2 * EMB * 4, &de) || vkc_tensor_alloc(A, N2 * HID * 4, &da1) ||
        vkc_tensor_alloc(A, N2 * FEAT * 4, &dh) || vkc_tensor_alloc(A, HID * FEAT * 4, &l1.weight) ||
        vkc_tensor_alloc(A, HID * 4, &l1.bias) || vkc_tensor_alloc(A, HID * FEAT * 4, &l1.dweight) ||
        vkc_tensor_alloc(A, HID * 4, &l1.dbias) || vkc_tensor_alloc(A, EMB * HID * 4, &l2.weight) ||
        vkc_tensor_alloc(A, EMB * 4, &l2.bias) || vkc_tensor_alloc(A, EMB * HID * 4, &l2.dweight) ||
        vkc_tensor_alloc(A, EMB * 4, &l2.dbias))
        return VKC_ERR;
    for (int i = 0; i < VKC_LOSS_KINDS; i++) {
        const VkcLossRow *row = &vkc_losses[i];
        if (!row->benchmarked) continue;
        VkcLossParams lp = {.kind = row->kind, .tau = 0.1f, .tau_plus = row->takes_tau_plus ? 0.1f : 0};
        if (vkc_contrastive_init(ctx, &b->family[b->nfamily++], &b->gemm, &b->reduce, A, N2, EMB, &lp)) return VKC_ERR;
    }
    /* Inputs: anything finite. Fill with a small constant pattern (0x3c23d70a = 0.01f). */
    VkcParam params[NOPT];
    uint64_t nparams = 0;
    for (int i = 0; i < NOPT; i++) {
        if (vkc_tensor_alloc(&b->params_arena, opt_sizes[i] * 4, &params[i].param) ||
            vkc_tensor_alloc(&b->grads_arena, opt_sizes[i] * 4, &params[i].grad))
            return VKC_ERR;
        params[i].flags = opt_sizes[i] <= 256 ? VKC_PARAM_NO_DECAY : 0;
        nparams += opt_sizes[i];
    }
    static const VkcOptimKind kinds[3] = {VKC_OPTIM_SGD, VKC_OPTIM_LARS, VKC_OPTIM_ADAMW};
    for (int i = 0; i < 3; i++) {
        VkcOptimConfig c = vkc_optim_defaults(kinds[i]);
        if (vkc_optim_init(ctx, &b->opt[i], &c, params, NOPT, A, &b->host) ||
            vkc_optim_set_step(&b->opt[i], 1e-3f, 1))
            return VKC_ERR;
    }
    if (vkc_cmd_init(ctx, &b->cmd) || vkc_cmd_begin(&b->cmd)) return VKC_ERR;
    VkcCmd *cmd = &b->cmd;
    VkcTensor fills[] = {h, l1.weight, l1.bias, l2.weight, l2.bias};
    for (size_t i = 0; i < sizeof fills / sizeof fills[0]; i++)
        if (vkc_cmd_fill(cmd, fills[i], 0x3c23d70a)) return VKC_ERR;
    for (int i = 0; i < NOPT; i++)
        if (vkc_cmd_fill(cmd, params[i].param, 0x3c23d70a) || vkc_cmd_fill(cmd, params[i].grad, 0x3c23d70a))
            return VKC_ERR;

    const double P = (double)nparams, F = 4.0;
    Segment seg[MAX_SEG];
    int nseg = 0;
#define SEGMENT(name, fl, by, body)                                                   \
    do {                                                                              \
        if (nseg == MAX_SEG) return vkc_fail("more than %d kernels to time", MAX_SEG); \
        seg[nseg] = (Segment){.flops = (fl), .bytes = (by)};                          \
        snprintf(seg[nseg].label, sizeof seg[nseg].label, "%s", name);               \
        vkc_cmd_barrier(cmd);                                                         \
        seg[nseg].t0 = vkc_cmd_timestamp(cmd);                                        \
        if (body) return VKC_ERR;                                                     \
        vkc_cmd_barrier(cmd);                                                         \
        seg[nseg].t1 = vkc_cmd_timestamp(cmd);                                        \
        nseg++;                                                                       \
    } while (0)
    SEGMENT("linear1 fwd 128->512", 2.0 * N2 * FEAT * HID, 0, vkc_linear_forward(&b->lk, cmd, &l1, N2, h, a1));
    SEGMENT("linear2 fwd 512->128", 2.0 * N2 * HID * EMB, 0, vkc_linear_forward(&b->lk, cmd, &l2, N2, a1, e));
    SEGMENT("l2norm fwd 512x128", 0, 2.0 * N2 * EMB * F, vkc_l2norm_forward(&b->l2, cmd, N2, EMB, e, z));
    for (int i = 0; i < b->nfamily; i++) {
        char label[40];
        const char *name = vkc_loss_kind_name(b->family[i].p.kind);
        snprintf(label, sizeof label, "%s fwd %ux%u", name, N2, EMB);
        SEGMENT(label, 2.0 * N2 * N2 * EMB, 0, vkc_contrastive_forward(&b->family[i], cmd, z, m));
        snprintf(label, sizeof label, "%s bwd %ux%u", name, N2, EMB);
        SEGMENT(label, 2.0 * N2 * N2 * EMB, 0, vkc_contrastive_backward(&b->family[i], cmd, z, dz));
    }
    SEGMENT("l2norm bwd 512x128", 0, 3.0 * N2 * EMB * F, vkc_l2norm_backward(&b->l2, cmd, N2, EMB, e, dz, de));
    SEGMENT("linear2 bwd", 4.0 * N2 * HID * EMB, 0, vkc_linear_backward(&b->lk, cmd, &l2, N2, a1, de, da1));
    SEGMENT("linear1 bwd", 4.0 * N2 * FEAT * HID, 0, vkc_linear_backward(&b->lk, cmd, &l1, N2, h, da1, dh));
    SEGMENT("sgd step 1.05M", 0, 5.0 * P * F, vkc_optim_record(&b->opt[0], cmd));
    SEGMENT("lars step 1.05M", 0, 7.0 * P * F, vkc_optim_record(&b->opt[1], cmd));
    SEGMENT("adamw step 1.05M", 0, 7.0 * P * F, vkc_optim_record(&b->opt[2], cmd));
#undef SEGMENT
    if (seg[0].t0 < 0) return vkc_fail("the device has no timestamps");
    if (vkc_cmd_end(cmd)) return VKC_ERR;
    for (long r = 0; r <= repeat; r++) {
        if (vkc_cmd_submit_wait(cmd)) return VKC_ERR;
        if (r == 0) continue; /* warm-up: pipelines compile at first dispatch on some drivers */
        for (int s = 0; s < nseg; s++)
            if (vkc_cmd_elapsed_ns(cmd, seg[s].t0, seg[s].t1, &seg[s].ns[r - 1])) return VKC_ERR;
    }
    printf("device: %s (%s); 2N = %u embeddings, head %u -> %u -> %u, %.2fM optimizer parameters; median of %ld runs\n",
           ctx->props.deviceName, vkc_device_type_name(ctx->props.deviceType), N2, FEAT, HID, EMB, P / 1e6, repeat);
    printf("%-24s %10s %12s\n", "kernel", "time (ms)", "throughput");
    double total = 0.0;
    for (int s = 0; s < nseg; s++) {
        double ns = bench_median(seg[s].ns, (int)repeat);
        if (only && !strstr(seg[s].label, only)) continue; /* all segments run; only some print */
        total += ns;
        if (seg[s].flops > 0)
            printf("%-24s %10.3f %7.1f GFLOP/s\n", seg[s].label, ns / 1e6, seg[s].flops / ns);
        else
            printf("%-24s %10.3f %7.2f GB/s\n", seg[s].label, ns / 1e6, seg[s].bytes / ns);
    }
    printf("%-24s %10.3f\n", "sum", total / 1e6);
    return VKC_OK;
}

int bench_head_run(const CliCall *call)
{
    const BenchOptions *o = call->own;
    Bench *b = calloc(1, sizeof *b);
    if (!b) return 1;
    int status = 0;
    if (bench_open(&cli_bench_head, o, call->env, &b->ctx)) {
        free(b);
        return 1;
    }
    if (measure(b, o->repeat, o->only[0] ? o->only : NULL)) status = cli_fail(&cli_bench_head, 1);
    vkc_cmd_destroy(&b->cmd);
    for (int i = 0; i < 3; i++) vkc_optim_destroy(&b->opt[i]);
    for (int i = 0; i < b->nfamily; i++) vkc_contrastive_destroy(&b->family[i]);
    vkc_l2norm_destroy(&b->l2);
    vkc_linear_kernels_destroy(&b->lk);
    vkc_reduce_destroy(&b->reduce);
    vkc_gemm_destroy(&b->gemm);
    vkc_arena_destroy(&b->host);
    vkc_arena_destroy(&b->grads_arena);
    vkc_arena_destroy(&b->params_arena);
    vkc_arena_destroy(&b->arena);
    vkc_context_destroy(&b->ctx);
    free(b);
    return status;
}

static void defaults(void *o) { bench_defaults(o, 9); }

const CliSpec cli_bench_head = {.name = "bench head", .run = bench_head_run, .synopsis = bench_head_synopsis,
                                .about = "projection head, loss and optimizer kernels at SimCLR training shapes",
                                BENCH_ROWS, .defaults = defaults};
