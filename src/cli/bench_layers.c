/* vkclr bench layers: time of each encoder-layer kernel, forward and backward, at the shapes
 * of a training step: the default convnet at width 16 and 32 on `vkclr train --batch 256`
 * (512 views of 28x28x1), and ResNet-18 (CIFAR stem) at width 64 on `--batch 64` (128 views of
 * 32x32x3): its stem, a stage-1 conv, the stride-2 convs and 1x1 shortcut of stage 2, and the
 * 3x3 convs of stages 2-4. GPU timestamps around one layer call, median of R runs after a
 * warm-up run (which also compiles the pipelines). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "commands.h"
#include "vkclr/layers.h"

static const char bench_layers_synopsis[] =
    "usage: vkclr bench layers [OPTIONS]\n\n"
    "Times every layer kernel, forward and backward, at the training shapes of the convnet (width 16\n"
    "and 32, --batch 256: 512 views of 28x28) and of ResNet-18 width 64 on 32x32x3 (--batch 64: 128\n"
    "views): the median of R runs after a warm-up, from GPU timestamps. GFLOP/s for convolutions; for\n"
    "memory-bound ops GB/s of the least traffic they need (each input read once, each output written\n"
    "once).\n";

typedef enum { CONV_FWD, CONV_BWD_IN, CONV_BWD_W, BN_FWD, BN_BWD, RELU_FWD, RELU_BWD, MAXPOOL_FWD, MAXPOOL_BWD,
               AVGPOOL_FWD, AVGPOOL_BWD, ADD } Kind;

typedef struct {
    const char *label;
    Kind kind;
    uint32_t N, C, H, W; /* input shape */
    uint32_t C_out;      /* conv only */
    uint32_t k, stride;  /* conv only: kernel and stride (pad k/2) */
} Case;

/* The passes a conv takes in training (the first layer needs no input gradient). */
#define CONV3(label, N, C, H, W, Co, k, s)                                                                             \
    {label, CONV_FWD, N, C, H, W, Co, k, s}, {label, CONV_BWD_IN, N, C, H, W, Co, k, s},                              \
        {label, CONV_BWD_W, N, C, H, W, Co, k, s}
#define CONV_FIRST(label, N, C, H, W, Co) {label, CONV_FWD, N, C, H, W, Co, 3, 1}, {label, CONV_BWD_W, N, C, H, W, Co, 3, 1}
#define BN2(label, N, C, H, W) {label, BN_FWD, N, C, H, W, 0, 0, 0}, {label, BN_BWD, N, C, H, W, 0, 0, 0}
#define POOL2(label, N, C, H, W) {label, MAXPOOL_FWD, N, C, H, W, 0, 0, 0}, {label, MAXPOOL_BWD, N, C, H, W, 0, 0, 0}

static const Case cases[] = {
    /* convnet width 16, --batch 256 = 512 views: conv 1->16 @28, pool, 16->32 @14, pool, 32->64 @7, avgpool */
    CONV_FIRST("w16 conv1 1->16 @28", 512, 1, 28, 28, 16),
    BN2("w16 bn+relu+maxpool 16 @28", 512, 16, 28, 28),
    CONV3("w16 conv2 16->32 @14", 512, 16, 14, 14, 32, 3, 1),
    BN2("w16 bn+relu+maxpool 32 @14", 512, 32, 14, 14),
    CONV3("w16 conv3 32->64 @7", 512, 32, 7, 7, 64, 3, 1),
    BN2("w16 bn+relu+avgpool 64 @7", 512, 64, 7, 7),
    /* convnet width 32, the same batch */
    CONV_FIRST("w32 conv1 1->32 @28", 512, 1, 28, 28, 32),
    BN2("w32 bn+relu+maxpool 32 @28", 512, 32, 28, 28),
    CONV3("w32 conv2 32->64 @14", 512, 32, 14, 14, 64, 3, 1),
    BN2("w32 bn+relu+maxpool 64 @14", 512, 64, 14, 14),
    CONV3("w32 conv3 64->128 @7", 512, 64, 7, 7, 128, 3, 1),
    BN2("w32 bn+relu+avgpool 128 @7", 512, 128, 7, 7),
    {"head bn1d 2048", BN_FWD, 256, 2048, 1, 1, 0, 0, 0},
    {"head bn1d 2048", BN_BWD, 256, 2048, 1, 1, 0, 0, 0},
    /* ResNet-18 width 64 on 32x32x3, --batch 64 = 128 views */
    CONV_FIRST("resnet stem 3->64 @32", 128, 3, 32, 32, 64),
    CONV3("resnet conv 64->64 @32", 128, 64, 32, 32, 64, 3, 1),
    BN2("resnet bn 64 @32", 128, 64, 32, 32),
    {"resnet relu 64 @32", RELU_FWD, 128, 64, 32, 32, 0, 0, 0},
    {"resnet relu 64 @32", RELU_BWD, 128, 64, 32, 32, 0, 0, 0},
    {"resnet add 64 @32", ADD, 128, 64, 32, 32, 0, 0, 0},
    CONV3("resnet conv 64->128 s2 @32", 128, 64, 32, 32, 128, 3, 2),
    CONV3("resnet 1x1 64->128 s2 @32", 128, 64, 32, 32, 128, 1, 2),
    CONV3("resnet conv 128->128 @16", 128, 128, 16, 16, 128, 3, 1),
    CONV3("resnet conv 256->256 @8", 128, 256, 8, 8, 256, 3, 1),
    CONV3("resnet conv 512->512 @4", 128, 512, 4, 4, 512, 3, 1),
    /* The convnet's batch norm, ReLU and pools as separate passes (what the fused rows above
     * replace; VKCLR_FUSE_POOL=0 trains this way): not counted in the totals. */
    BN2("unfused w16 bn+relu 16 @28", 512, 16, 28, 28),
    POOL2("unfused w16 maxpool 16 @28", 512, 16, 28, 28),
    BN2("unfused w16 bn+relu 32 @14", 512, 32, 14, 14),
    POOL2("unfused w16 maxpool 32 @14", 512, 32, 14, 14),
    BN2("unfused w16 bn+relu 64 @7", 512, 64, 7, 7),
    {"unfused w16 avgpool 64 @7", AVGPOOL_FWD, 512, 64, 7, 7, 0, 0, 0},
    {"unfused w16 avgpool 64 @7", AVGPOOL_BWD, 512, 64, 7, 7, 0, 0, 0},
};
#define NCASES (int)(sizeof cases / sizeof cases[0])

static const char *kind_name[] = {"fwd", "bwd-input", "bwd-weight", "fwd(train)", "bwd", "fwd", "bwd", "fwd", "bwd",
                                  "fwd", "bwd", "fwd"};

/* Record the case once; returns the work (flops, or bytes for memory-bound ops) in *amount. */
static int record(VkcLayers *L, VkcCmd *cmd, VkcArena *arena, const Case *c, double *amount, bool *is_flops)
{
    uint64_t n_in = (uint64_t)c->N * c->C * c->H * c->W;
    VkcConv2d conv = {.N = c->N, .C_in = c->C, .H = c->H, .W = c->W, .C_out = c->C_out, .kernel = c->k,
                      .stride = c->stride, .pad = c->k / 2};
    VkcBatchNorm bn = {.N = c->N, .C = c->C, .HW = c->H * c->W, .eps = 1e-5f, .momentum = 0.1f,
                       .relu = !strstr(c->label, "resnet"), .H = c->H, .W = c->W};
    bn.pool = strstr(c->label, "+maxpool") ? VKC_BN_POOL_MAX2X2 : strstr(c->label, "+avgpool") ? VKC_BN_POOL_AVG
                                                                                                : VKC_BN_POOL_NONE;
    uint64_t n_out = n_in, n_w = 1;
    if (c->kind <= CONV_BWD_W) {
        n_out = (uint64_t)c->N * c->C_out * vkc_conv2d_out_h(&conv) * vkc_conv2d_out_w(&conv);
        n_w = (uint64_t)c->C_out * c->C * c->k * c->k;
    }
    VkcTensor x, y, dy, dx, dw, db;
    if (vkc_tensor_alloc(arena, n_in * 4, &x) || vkc_tensor_alloc(arena, n_out * 4, &y) ||
        vkc_tensor_alloc(arena, n_out * 4, &dy) || vkc_tensor_alloc(arena, n_in * 4, &dx) ||
        vkc_tensor_alloc(arena, n_w * 4, &conv.weight) || vkc_tensor_alloc(arena, n_w * 4, &dw) ||
        vkc_tensor_alloc(arena, c->C_out ? c->C_out * 4 : 4, &conv.bias) ||
        vkc_tensor_alloc(arena, c->C_out ? c->C_out * 4 : 4, &db))
        return VKC_ERR;
    if (c->kind <= CONV_BWD_W) {
        if (vkc_tensor_alloc(arena, vkc_conv2d_work_bytes(L, &conv), &conv.work)) return VKC_ERR;
    } else if (c->kind <= BN_BWD) {
        VkcTensor *p[] = {&bn.gamma, &bn.beta, &bn.running_mean, &bn.running_var};
        for (int i = 0; i < 4; i++)
            if (vkc_tensor_alloc(arena, c->C * 4, p[i])) return VKC_ERR;
        if (vkc_tensor_alloc(arena, c->C * 8, &bn.stats) || vkc_tensor_alloc(arena, c->C * 4, &dw) ||
            vkc_tensor_alloc(arena, c->C * 4, &db) ||
            vkc_tensor_alloc(arena, vkc_batchnorm_work_bytes(L, &bn), &bn.work))
            return VKC_ERR;
    }
    *is_flops = c->kind <= CONV_BWD_W;
    *amount = *is_flops ? vkc_conv2d_flops(&conv) : 0;
    uint32_t planes = c->N * c->C, HW = c->H * c->W;
    uint64_t pooled = (uint64_t)planes * (c->H / 2) * (c->W / 2);
    /* Bytes: the least traffic the op needs (each input read once, each output written once). */
    switch (c->kind) {
    case CONV_FWD: return vkc_conv2d_forward(L, cmd, &conv, x, y);
    case CONV_BWD_IN: return vkc_conv2d_backward_input(L, cmd, &conv, dy, dx);
    case CONV_BWD_W: return vkc_conv2d_backward_weight(L, cmd, &conv, x, dy, dw, db);
    case BN_FWD: *amount = 4.0 * (n_in + vkc_batchnorm_out_floats(&bn)); return vkc_batchnorm_forward(L, cmd, &bn, true, x, y);
    case BN_BWD:
        *amount = 4.0 * (2 * n_in + vkc_batchnorm_out_floats(&bn));
        return vkc_batchnorm_backward(L, cmd, &bn, x, dy, dx, dw, db);
    case RELU_FWD: *amount = 8.0 * n_in; return vkc_relu_forward(L, cmd, (uint32_t)n_in, x, y);
    case RELU_BWD: *amount = 12.0 * n_in; return vkc_relu_backward(L, cmd, (uint32_t)n_in, y, dy, dx);
    case MAXPOOL_FWD: *amount = 4.0 * (n_in + pooled); return vkc_maxpool2x2_forward(L, cmd, planes, c->H, c->W, x, y);
    case MAXPOOL_BWD:
        *amount = 4.0 * (2 * n_in + pooled);
        return vkc_maxpool2x2_backward(L, cmd, planes, c->H, c->W, x, dy, dx);
    case AVGPOOL_FWD: *amount = 4.0 * (n_in + planes); return vkc_avgpool_forward(L, cmd, planes, HW, x, y);
    case AVGPOOL_BWD: *amount = 4.0 * (n_in + planes); return vkc_avgpool_backward(L, cmd, planes, HW, dy, dx);
    case ADD: *amount = 12.0 * n_in; return vkc_add(L, cmd, (uint32_t)n_in, x, dx, y);
    }
    return vkc_fail("unknown case");
}

typedef struct {
    VkcLayers *L;
    const Case *c;
    double amount;
    bool is_flops;
} Timed;

static int record_case(void *user, VkcCmd *cmd, VkcArena *arena)
{
    Timed *t = user;
    return record(t->L, cmd, arena, t->c, &t->amount, &t->is_flops);
}

int bench_layers_run(const CliCall *call)
{
    const BenchOptions *o = call->own;
    int repeat = o->repeat;
    const char *only = o->only[0] ? o->only : NULL;
    VkcContext ctx;
    if (bench_open(&cli_bench_layers, o, call->env, &ctx)) return 1;
    VkcLayers L;
    vkc_layers_init(&ctx, &L);
    printf("device: %s (%s); median of %d runs\n", ctx.props.deviceName, vkc_device_type_name(ctx.props.deviceType),
           repeat);
    printf("%-26s %-11s %11s %10s\n", "layer", "pass", "time (ms)", "rate");
    int status = 0;
    static const char *nets[3] = {"w16 ", "w32 ", "resnet "};
    static const char *net_names[3] = {"convnet width 16", "convnet width 32", "resnet rows"};
    double total[3] = {0, 0, 0}, conv[3] = {0, 0, 0};
    for (int i = 0; i < NCASES; i++) {
        const Case *c = &cases[i];
        if (only && !strstr(c->label, only)) continue;
        double ns;
        Timed t = {.L = &L, .c = c};
        if (bench_time_recorded(&ctx, record_case, &t, repeat, &ns)) {
            fprintf(stderr, "vkclr bench layers: %s %s: %s\n", c->label, kind_name[c->kind], vkc_error());
            status = 1;
            break;
        }
        printf("%-26s %-11s %11.3f %7.1f %s\n", c->label, kind_name[c->kind], ns / 1e6, t.amount / ns,
               t.is_flops ? "GFLOP/s" : "GB/s");
        fflush(stdout);
        for (int net = 0; net < 3; net++)
            if (!strncmp(c->label, nets[net], strlen(nets[net]))) {
                total[net] += ns;
                if (t.is_flops) conv[net] += ns;
            }
    }
    for (int net = 0; net < 3; net++)
        if (total[net] > 0)
            printf("%s: convolutions take %.0f%% of the %.1f ms of these rows (%.1f ms)\n", net_names[net],
                   100 * conv[net] / total[net], total[net] / 1e6, conv[net] / 1e6);
    vkc_layers_destroy(&L);
    vkc_context_destroy(&ctx);
    return status;
}

static void defaults(void *o) { bench_defaults(o, 3); }

const CliSpec cli_bench_layers = {.name = "bench layers", .run = bench_layers_run, .synopsis = bench_layers_synopsis,
                                  .about = "time and GFLOP/s or GB/s of each encoder layer kernel at training shapes",
                                  BENCH_ROWS, .defaults = defaults};
