/* vkclr tune: times every kernel variant of each convolution pass of a model at its training
 * shapes on this device and keeps the fastest in the tuning cache (vkclr/tuning.h), which
 * train, bench and probe read at start-up. A variant is kept only if its output agrees with
 * the built-in variant's (itself checked against the C reference by vkclr selftest) within
 * the conv check's tolerance, doubled: a choice changes speed, never results beyond that. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "commands.h"
#include "vkclr/check.h"
#include "vkclr/data.h"
#include "vkclr/fileio.h"
#include "vkclr/half.h"
#include "vkclr/layers.h"
#include "vkclr/model.h"
#include "vkclr/train.h"

static const char tune_synopsis[] =
    "usage: vkclr tune [TRAIN OPTIONS] [--repeat R] [--dry-run]\n\n"
    "Times each kernel variant of every convolution pass (forward, backward to the input, backward to\n"
    "the weights) of the model that TRAIN OPTIONS define (encoder, width, batch, --data for the image\n"
    "size, --precision), at each distinct training shape, on this device: the built-in variant by the\n"
    "median of R runs, the others by one run first and by R only within 1.5x of the best.\n"
    "The fastest variant whose output matches the built-in one within the conv check's tolerance is\n"
    "stored in the tuning cache of this device (keyed by its UUID and driver version; the path is\n"
    "printed), which vkclr train, bench and probe use from then on. --data defaults to\n"
    "synthetic:28x28x1 (Fashion-MNIST's shape).\n"
    "VKCLR_CONV_PATH set in the environment overrides the cache (checks use it).\n";

#define MAX_SHAPES 64
#define MAX_CANDIDATES 32

typedef struct {
    int repeat;
    bool dry_run;
} TuneArgs;

static const VkcOption rows[] = {
    {.flag = "--repeat", .type = VKC_OPT_INT, VKC_OPTION_FIELD(TuneArgs, repeat), .min = 1, .max = BENCH_MAX_REPEAT,
     .def = "5", .section = "tuning", .metavar = "R", .help = "runs of each variant; the median counts"},
    {.flag = "--dry-run", .type = VKC_OPT_SWITCH, VKC_OPTION_FIELD(TuneArgs, dry_run), .section = "tuning",
     .help = "print the timings, store nothing"},
};

/* Host values of a tensor of any dtype as floats. */
static int download_floats(VkcContext *ctx, VkcTensor t, uint64_t n, float *out)
{
    if (t.dtype == VKC_F32) return vkc_download(ctx, t, out, n * 4);
    uint16_t *h = malloc(n * 2);
    if (!h) return vkc_fail("out of host memory");
    int rc = vkc_download(ctx, t, h, n * 2);
    for (uint64_t i = 0; rc == VKC_OK && i < n; i++)
        out[i] = t.dtype == VKC_F16 ? vkc_f16_to_f32(h[i]) : vkc_bf16_to_f32(h[i]);
    free(h);
    return rc;
}

/* n values uniform in [-1, 1) into a tensor of any dtype. */
static int upload_random(VkcContext *ctx, VkcTensor t, uint64_t n, uint64_t seed)
{
    void *host = malloc(n * vkc_dtype_size(t.dtype));
    if (!host) return vkc_fail("out of host memory");
    for (uint64_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        float v = (float)((seed >> 40) * (2.0 / 16777216.0) - 1.0);
        if (t.dtype == VKC_F32) ((float *)host)[i] = v;
        else ((uint16_t *)host)[i] = t.dtype == VKC_F16 ? vkc_f32_to_f16(v) : vkc_f32_to_bf16(v);
    }
    int rc = vkc_upload(ctx, t, host, n * vkc_dtype_size(t.dtype));
    free(host);
    return rc;
}

typedef struct {
    VkcContext *ctx;
    VkcLayers *L;
    VkcConv2d c; /* shape */
    int pass;
    VkcDtype act;
    int repeat;
} Job;

/* Run the pass once with the variant the tuning table now names for it: its median time and
 * its output (n floats). */
static int run_variant(const Job *j, double *ms, float *out, uint64_t n)
{
    VkcArena arena;
    VkcCmd cmd = {0};
    VkcConv2d c = j->c;
    uint64_t nx = (uint64_t)c.N * c.C_in * c.H * c.W, nw = (uint64_t)c.C_out * c.C_in * c.kernel * c.kernel;
    uint64_t ny = (uint64_t)c.N * c.C_out * vkc_conv2d_out_h(&c) * vkc_conv2d_out_w(&c);
    int rc = VKC_ERR;
    vkc_arena_init(&arena, j->ctx, VKC_MEMORY_DEVICE);
    VkcTensor x, y, dy, dx, dw, db;
    if (vkc_tensor_alloc_typed(&arena, nx, j->act, &x) || vkc_tensor_alloc_typed(&arena, ny, j->act, &y) ||
        vkc_tensor_alloc_typed(&arena, ny, j->act, &dy) || vkc_tensor_alloc_typed(&arena, nx, j->act, &dx) ||
        vkc_tensor_alloc(&arena, nw * 4, &c.weight) || vkc_tensor_alloc(&arena, nw * 4, &dw) ||
        vkc_tensor_alloc(&arena, c.C_out * 4, &db) ||
        vkc_tensor_alloc(&arena, vkc_conv2d_work_bytes(j->L, &c), &c.work) || upload_random(j->ctx, x, nx, 1) ||
        upload_random(j->ctx, dy, ny, 2) || upload_random(j->ctx, c.weight, nw, 3) || vkc_cmd_init(j->ctx, &cmd) ||
        vkc_cmd_begin(&cmd))
        goto done;
    int t0 = vkc_cmd_timestamp(&cmd);
    int r = j->pass == VKC_CONV_PASS_FORWARD          ? vkc_conv2d_forward(j->L, &cmd, &c, x, y)
            : j->pass == VKC_CONV_PASS_BACKWARD_INPUT ? vkc_conv2d_backward_input(j->L, &cmd, &c, dy, dx)
                                                      : vkc_conv2d_backward_weight(j->L, &cmd, &c, x, dy, dw, db);
    int t1 = vkc_cmd_timestamp(&cmd);
    double ns;
    if (r || vkc_cmd_end(&cmd) || bench_time(&cmd, t0, t1, j->repeat, &ns)) goto done;
    *ms = ns / 1e6;
    VkcTensor result = j->pass == VKC_CONV_PASS_FORWARD ? y : j->pass == VKC_CONV_PASS_BACKWARD_INPUT ? dx : dw;
    rc = download_floats(j->ctx, result, n, out);
done:
    vkc_cmd_destroy(&cmd);
    vkc_arena_destroy(&arena);
    return rc;
}

/* The conv check's tolerance (check_conv.c) doubled: 4e-6 sqrt(K) + (2e-5 + 4 units of the
 * dtype) relative, K the length of the pass's sums; the worst element's excess in *worst. When
 * one of the two multiplies on cooperative matrices (16-bit weights) and the other does not,
 * also twice the bound of 16-bit products (vkc_check_product_bound) for a typical element, whose
 * products' magnitudes sum to K/4 (inputs uniform in [-1, 1)). */
static bool agrees(const Job *j, bool coop_vs_not, const float *got, const float *want, uint64_t n, double *worst)
{
    const VkcConv2d *c = &j->c;
    double K = j->pass == VKC_CONV_PASS_FORWARD          ? (double)c->C_in * c->kernel * c->kernel
               : j->pass == VKC_CONV_PASS_BACKWARD_INPUT ? (double)c->C_out * c->kernel * c->kernel
                                                         : (double)c->N * vkc_conv2d_out_h(c) * vkc_conv2d_out_w(c);
    double u = j->pass == VKC_CONV_PASS_BACKWARD_WEIGHT ? 0 : vkc_dtype_unit(j->act); /* dw is float32 */
    double atol = 4e-6 * sqrt(K), rtol = 2e-5 + 4 * u;
    if (coop_vs_not) atol += 2 * vkc_check_product_bound(j->act, K) * K / 4;
    *worst = 0;
    for (uint64_t i = 0; i < n; i++) {
        double excess = fabs((double)got[i] - want[i]) - (atol + rtol * fabs(want[i]));
        if (!(excess <= 0)) return *worst = isnan(excess) ? INFINITY : excess, false;
    }
    return true;
}

/* Time every candidate of one pass; the winner goes into ctx->tuning (unless dry). */
static int tune_pass(Job *j, bool dry, int *changed)
{
    char names[MAX_CANDIDATES][VKC_CONV_VARIANT_NAME], key[128];
    int n = vkc_conv2d_candidates(j->L, &j->c, j->pass, names, MAX_CANDIDATES);
    vkc_conv2d_tuning_key(&j->c, j->pass, key, sizeof key);
    const VkcConv2d *c = &j->c;
    uint64_t nout = j->pass == VKC_CONV_PASS_FORWARD
                        ? (uint64_t)c->N * c->C_out * vkc_conv2d_out_h(c) * vkc_conv2d_out_w(c)
                    : j->pass == VKC_CONV_PASS_BACKWARD_INPUT ? (uint64_t)c->N * c->C_in * c->H * c->W
                                                              : (uint64_t)c->C_out * c->C_in * c->kernel * c->kernel;
    float *want = malloc(nout * 4), *got = malloc(nout * 4);
    if (!want || !got) {
        free(want), free(got);
        return vkc_fail("out of host memory");
    }
    VkcTuning *t = &j->ctx->tuning;
    char previous[VKC_CONV_VARIANT_NAME] = "";
    const char *old = vkc_tuning_get(t, key);
    if (old) snprintf(previous, sizeof previous, "%s", old);
    double gflop = vkc_conv2d_flops(c) / 1e9;
    printf("%s (%u views):\n", key, c->N);
    int best = -1;
    double best_ms = INFINITY, builtin_ms = 0;
    int rc = VKC_OK;
    for (int i = 0; i < n && rc == VKC_OK; i++) {
        double ms = 0, worst = 0;
        if (vkc_tuning_set(t, key, names[i], 0)) {
            rc = VKC_ERR;
            break;
        }
        /* The others are timed once first, and fully only within 1.5x of the best so far. */
        Job once = *j;
        once.repeat = 1;
        if (run_variant(i == 0 ? j : &once, &ms, i == 0 ? want : got, nout)) {
            /* a variant that cannot run here (resources, limits) is skipped, the built-in one must run */
            printf("  %-20s cannot run: %s\n", names[i], vkc_error());
            if (i == 0) rc = VKC_ERR;
            continue;
        }
        bool coop_vs_not = (vkc_conv2d_family(names[i]) == VKC_CONV_COOP) != (vkc_conv2d_family(names[0]) == VKC_CONV_COOP);
        bool ok = i == 0 || agrees(j, coop_vs_not, got, want, nout, &worst);
        bool slow = i > 0 && ok && ms > 1.5 * best_ms;
        if (i > 0 && ok && !slow && j->repeat > 1 && run_variant(j, &ms, got, nout)) {
            printf("  %-20s cannot run: %s\n", names[i], vkc_error());
            continue;
        }
        printf("  %-20s %9.3f ms %8.1f GFLOP/s%s", names[i], ms, gflop / (ms / 1e3), i == 0 ? "  (built-in)" : "");
        if (!ok) printf("  REJECTED: output differs from the built-in variant's by %.3g beyond tolerance", worst);
        if (slow) printf("  (one run: over 1.5x the best, not timed further)");
        printf("\n");
        if (i == 0) builtin_ms = ms;
        if (ok && ms < best_ms) best_ms = ms, best = i;
    }
    if (rc == VKC_OK && best >= 0) {
        printf("  -> %s (%.2fx the built-in)\n", names[best], builtin_ms / best_ms);
        if (!dry) {
            if (strcmp(previous, names[best])) (*changed)++;
            rc = vkc_tuning_set(t, key, names[best], best_ms);
        }
    }
    /* a dry run (or a failure) leaves the table as it was */
    if ((dry || rc != VKC_OK) && previous[0]) vkc_tuning_set(t, key, previous, 0);
    else if (dry || rc != VKC_OK) vkc_tuning_remove(t, key);
    free(want), free(got);
    return rc;
}

static int run(const CliCall *call)
{
    VkcTrainConfig c = *call->train;
    const TuneArgs t = *(const TuneArgs *)call->own;
    bool dry = t.dry_run;
    if (!cli_train_given(call->args, "--data")) snprintf(c.data, sizeof c.data, "synthetic:28x28x1:16");
    if (vkc_config_check(&c, &call->args->train)) return cli_fail(&cli_tune, 2);
    VkcDataset ds;
    if (vkc_dataset_load(&ds, c.data)) {
        fprintf(stderr, "vkclr tune: --data %s: %s\n", c.data, vkc_error());
        return 1;
    }
    int shape = vkc_train_model_shape(&c, &ds);
    vkc_dataset_free(&ds);
    if (shape) {
        fprintf(stderr, "vkclr tune: %s\n", vkc_error());
        return 2;
    }

    VkcContext ctx;
    VkcContextOptions opt = cli_context(call->env, c.device, false);
    if (vkc_context_create(&ctx, &opt)) {
        fprintf(stderr, "vkclr tune: %s\n", vkc_error());
        return 1;
    }
    VkcLayers L;
    int status = 1;
    if (vkc_layers_init(&ctx, &L)) {
        fprintf(stderr, "vkclr tune: %s\n", vkc_error());
        vkc_context_destroy(&ctx);
        return 1;
    }
    VkcDtype act = c.precision < 0 ? vkc_auto_precision(&ctx) : (VkcDtype)c.precision;
    c.model.act_dtype = act;
    VkcConv2d shapes[MAX_SHAPES];
    int nshapes = vkc_model_conv_shapes(&c.model, 2u * (uint32_t)c.batch, shapes, MAX_SHAPES);
    if (nshapes < 0) {
        fprintf(stderr, "vkclr tune: %s\n", vkc_error());
        goto done;
    }
    /* The cache's place before any timing: a regular file (or none yet) in a folder vkclr may write. */
    if (!dry && !ctx.tuning.path[0]) {
        fprintf(stderr, "vkclr tune: no cache directory (set VKCLR_TUNE_CACHE, XDG_CACHE_HOME or HOME)\n");
        goto done;
    }
    if (!dry && vkc_check_output(ctx.tuning.path)) {
        fprintf(stderr, "vkclr tune: the tuning cache: %s\n", vkc_error());
        goto done;
    }
    if (L.conv_forced) printf("note: VKCLR_CONV_PATH is set: the runs of vkclr with it ignore the cache\n");
    printf("%s: %d convolution shapes of %s width %d, batch %d (%d views), %s activations\n",
           ctx.props.deviceName, nshapes, vkc_name_of(vkc_encoder_names, (int)c.model.encoder), c.model.width,
           c.batch, 2 * c.batch, vkc_dtype_name(act));
    bool forced = L.conv_forced;
    L.conv_forced = false; /* tuning itself must see the table it fills */
    int changed = 0;
    for (int s = 0; s < nshapes; s++)
        for (int pass = 0; pass < 3; pass++) {
            /* the first layer's input needs no gradient: its backward-input never runs */
            if (pass == VKC_CONV_PASS_BACKWARD_INPUT && s == 0) continue;
            Job j = {.ctx = &ctx, .L = &L, .c = shapes[s], .pass = pass, .act = act, .repeat = t.repeat};
            if (tune_pass(&j, dry, &changed)) {
                fprintf(stderr, "vkclr tune: %s\n", vkc_error());
                goto done;
            }
        }
    L.conv_forced = forced;
    if (dry) {
        printf("dry run: nothing stored\n");
    } else if (vkc_tuning_save(&ctx, &ctx.tuning)) {
        fprintf(stderr, "vkclr tune: %s\n", vkc_error());
        goto done;
    } else {
        printf("%d choices changed; stored in %s\n", changed, ctx.tuning.path);
    }
    status = 0;
done:
    vkc_layers_destroy(&L);
    vkc_context_destroy(&ctx);
    return status;
}

const CliSpec cli_tune = {.name = "tune", .run = run, .synopsis = tune_synopsis,
                          .about = "time the convolution kernel variants on this device and keep the fastest",
                          CLI_ROWS(rows, TuneArgs), .train_rows = cli_all_rows,
                          .train_heading = CLI_TRAIN_OPTIONS};
