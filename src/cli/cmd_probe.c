/* vkclr probe: linear probe and weighted kNN on frozen features of a dataset (raw pixels, an
 * encoder checkpoint, or an encoder at its random initialisation), several sources side by
 * side so a trained encoder can be compared with its baselines; results to the terminal and
 * optionally a JSON file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "eval_source.h"
#include "vkclr/checkpoint.h"
#include "vkclr/fileio.h"
#include "vkclr/gemm.h"
#include "vkclr/knn.h"
#include "vkclr/probe.h"

static const char probe_synopsis[] =
    "usage: vkclr probe SOURCE... [--data SPEC] [OPTIONS]\n\n"
    "Trains a linear classifier (multinomial logistic regression) on frozen features of the\n"
    "training split and reports top-1/top-5 accuracy on the test split, beside a weighted kNN\n"
    "(cosine similarity, votes exp(s/T)).\n";

typedef struct {
    bool pixels, random_init, no_baseline;
    char checkpoint[CLI_PATH];
    int limit, test_limit; /* 0: all */
    VkcProbeConfig probe;
    bool no_probe;
    VkcKnnConfig knn;
    bool no_knn;
    char out[CLI_PATH];
    bool quiet;
} ProbeArgs;

#define FIELD(f) VKC_OPTION_FIELD(ProbeArgs, f)
static const char SOURCES[] = "sources (one or more; each gets its own results)", DATA[] = "data",
                  PROBE[] = "probe", KNN[] = "kNN", OTHER[] = "other";

static const VkcOption rows[] = {
    {.flag = "--pixels", .type = VKC_OPT_SWITCH, FIELD(pixels), .section = SOURCES,
     .help = "raw pixels / 255 (the baseline that needs no checkpoint)"},
    {.flag = "--checkpoint", .type = VKC_OPT_STRING, FIELD(checkpoint), .flags = VKC_OPT_NONEMPTY, .section = SOURCES,
     .metavar = "PATH",
     .help = "encoder from a vkclr train checkpoint (.safetensors or run directory), and the same "
             "encoder at its run's random initialisation: the baseline the training must beat"},
    {.flag = "--random-init", .type = VKC_OPT_SWITCH, FIELD(random_init), .section = SOURCES,
     .help = "encoder at its random initialisation (--encoder, --width, --seed); replaces --checkpoint's baseline"},
    {.flag = "--no-baseline", .type = VKC_OPT_SWITCH, FIELD(no_baseline), .section = SOURCES,
     .help = "--checkpoint without its baseline"},
    {.flag = "--limit", .type = VKC_OPT_INT, FIELD(limit), .min = 1, .max = 1 << 30, .auto_name = "all",
     .section = DATA, .metavar = "N", .help = "use the first N training images"},
    {.flag = "--test-limit", .type = VKC_OPT_INT, FIELD(test_limit), .min = 1, .max = 1 << 30, .auto_name = "all",
     .section = DATA, .metavar = "N", .help = "use the first N test images"},
    {.flag = "--epochs", .type = VKC_OPT_INT, FIELD(probe.epochs), .min = 1, .max = 100000, .section = PROBE,
     .metavar = "N", .help = "training epochs"},
    {.flag = "--batch", .type = VKC_OPT_INT, FIELD(probe.batch), .min = 1, .max = 65535, .section = PROBE,
     .metavar = "N", .help = "mini-batch size"},
    {.flag = "--lr", .type = VKC_OPT_FLOAT, FIELD(probe.lr), .min = 1e-12, .max = 1e6, .auto_name = "auto",
     .section = PROBE, .metavar = "X",
     .help = "peak learning rate, cosine-decayed to 0; auto = 0.1 for sgd, 0.001 for adamw"},
    {.flag = "--wd", .type = VKC_OPT_FLOAT, FIELD(probe.weight_decay), .min = 0, .max = 1e3, .section = PROBE,
     .metavar = "X", .help = "weight decay on the weights"},
    {.flag = "--optimizer", .type = VKC_OPT_ENUM, FIELD(probe.optimizer), .names = vkc_probe_optimizer_names,
     .section = PROBE, .metavar = "NAME"},
    {.flag = "--momentum", .type = VKC_OPT_FLOAT, FIELD(probe.momentum), .min = 0, .max = 0.9999, .section = PROBE,
     .metavar = "X", .help = "SGD momentum"},
    {.flag = "--standardize", .type = VKC_OPT_SWITCH, FIELD(probe.standardize), .flags = VKC_OPT_NEGATABLE,
     .section = PROBE, .help = "standardise the features with the training split's mean and std"},
    {.flag = "--no-probe", .type = VKC_OPT_SWITCH, FIELD(no_probe), .section = PROBE, .help = "only kNN"},
    {.flag = "--k", .type = VKC_OPT_INT, FIELD(knn.k), .min = 1, .max = 100000, .section = KNN, .metavar = "N",
     .help = "neighbours"},
    {.flag = "--t", .type = VKC_OPT_FLOAT, FIELD(knn.temperature), .min = 1e-6, .max = 1e6, .section = KNN,
     .metavar = "X", .help = "temperature"},
    {.flag = "--no-knn", .type = VKC_OPT_SWITCH, FIELD(no_knn), .section = KNN, .help = "only the probe"},
    {.flag = "--out", .type = VKC_OPT_STRING, FIELD(out), .section = OTHER, .metavar = "FILE",
     .help = "write the results as JSON"},
    {.flag = "--quiet", .type = VKC_OPT_SWITCH, FIELD(quiet), .section = OTHER, .help = "no per-epoch lines"},
};
#undef FIELD

/* The probe's and the kNN's own defaults (the learning rate by optimizer: "auto"). */
static void defaults(void *own)
{
    ProbeArgs *p = own;
    p->probe = vkc_probe_defaults();
    p->probe.lr = 0;
    p->knn = vkc_knn_defaults();
}

typedef struct {
    Source src;
    char name[128];
    uint32_t dim;
    VkcProbeResult probe;
    VkcKnnResult knn;
    double seconds_extract;
} Outcome;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int run_source(VkcContext *ctx, const VkcDataset *ds, Outcome *o, const VkcProbeConfig *pc,
                      const VkcKnnConfig *kc, bool do_probe, bool do_knn, long limit, long test_limit)
{
    VkcExtractor x = {0};
    VkcArena arena;
    vkc_arena_init(&arena, ctx, VKC_MEMORY_DEVICE);
    VkcFeatures train, test;
    VkcGemm gemm = {0};
    VkcKnn knn = {0};
    int rc = VKC_ERR;
    double t0 = now();
    if (source_open(&o->src, ctx, ds, &x) ||
        vkc_extract_features(&x, ctx, ds, &ds->train, (uint32_t)limit, &arena, &train) ||
        vkc_extract_features(&x, ctx, ds, &ds->test, (uint32_t)test_limit, &arena, &test))
        goto done;
    snprintf(o->name, sizeof o->name, "%s", x.name);
    o->dim = x.dim;
    o->seconds_extract = now() - t0;
    /* kNN first: it leaves the features as they are, the probe standardises them in place. */
    if (do_knn && (vkc_gemm_init(ctx, &gemm) || vkc_gemm_use(&gemm, pc->products) || vkc_knn_init(ctx, &knn, &gemm) ||
                   vkc_knn_evaluate(&knn, kc, &train, &test, (uint32_t)ds->nclasses, &o->knn, NULL)))
        goto done;
    if (do_probe && vkc_probe_run(ctx, pc, &train, &test, (uint32_t)ds->nclasses, &o->probe)) goto done;
    rc = VKC_OK;
done:
    vkc_knn_destroy(&knn);
    vkc_gemm_destroy(&gemm);
    vkc_extractor_destroy(&x);
    vkc_arena_destroy(&arena);
    return rc;
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20) fprintf(f, "\\u%04x", *s);
        else fputc(*s, f);
    }
    fputc('"', f);
}

static int write_json(const char *path, const VkcContext *ctx, const VkcDataset *ds, const char *spec,
                      const VkcProbeConfig *pc, const VkcKnnConfig *kc, bool do_probe, bool do_knn,
                      const Outcome *o, int n, long ntrain, long ntest)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f) return vkc_fail("out of host memory");
    fprintf(f, "{\n  \"dataset\": ");
    json_string(f, ds->name);
    fprintf(f, ",\n  \"data\": ");
    json_string(f, spec);
    fprintf(f, ",\n  \"train_images\": %ld,\n  \"test_images\": %ld,\n  \"classes\": %d,\n  \"device\": ", ntrain, ntest,
            ds->nclasses);
    json_string(f, ctx->props.deviceName);
    fprintf(f, ",\n  \"probe_config\": {\"epochs\": %u, \"batch\": %u, \"lr\": %g, \"weight_decay\": %g, "
               "\"optimizer\": \"%s\", \"momentum\": %g, \"standardize\": %s, \"seed\": %llu},\n",
            pc->epochs, pc->batch, pc->lr, pc->weight_decay, vkc_name_of(vkc_probe_optimizer_names, (int)pc->optimizer),
            pc->momentum, pc->standardize ? "true" : "false", (unsigned long long)pc->seed);
    fprintf(f, "  \"knn_config\": {\"k\": %u, \"temperature\": %g},\n  \"results\": {\n", kc->k, kc->temperature);
    for (int i = 0; i < n; i++) {
        fprintf(f, "    \"%s\": {\"features\": ", source_key(o[i].src.kind));
        json_string(f, o[i].name);
        fprintf(f, ", \"dim\": %u, \"seconds_extract\": %.3f", o[i].dim, o[i].seconds_extract);
        if (do_probe)
            fprintf(f, ",\n      \"probe\": {\"top1\": %.6f, \"top5\": %.6f, \"loss\": %.6f, \"train_top1\": %.6f, "
                       "\"train_top5\": %.6f, \"train_loss\": %.6f, \"steps\": %u, \"seconds\": %.3f}",
                    o[i].probe.top1, o[i].probe.top5, o[i].probe.loss, o[i].probe.train_top1, o[i].probe.train_top5,
                    o[i].probe.train_loss, o[i].probe.steps,
                    o[i].probe.seconds_standardize + o[i].probe.seconds_train + o[i].probe.seconds_eval);
        if (do_knn)
            fprintf(f, ",\n      \"knn\": {\"top1\": %.6f, \"top5\": %.6f, \"k\": %u, \"seconds\": %.3f}", o[i].knn.top1,
                    o[i].knn.top5, o[i].knn.k, o[i].knn.seconds);
        fprintf(f, "}%s\n", i + 1 < n ? "," : "");
    }
    fprintf(f, "  }\n}\n");
    int rc = fclose(f) ? vkc_fail("out of host memory") : VKC_OK;
    if (rc == VKC_OK) rc = vkc_make_parent_dirs(path);
    if (rc == VKC_OK) rc = vkc_write_text_atomic(path, text);
    free(text);
    return rc;
}

static int run(const CliCall *call)
{
    const ProbeArgs p = *(const ProbeArgs *)call->own;
    const VkcTrainConfig enc = *call->train; /* --data, --encoder, --width, --seed, --device: vkclr train's rows */
    Source sources[3];
    int nsources = 0;
    const char *checkpoint = p.checkpoint[0] ? p.checkpoint : NULL, *out = p.out[0] ? p.out : NULL;
    bool pixels = p.pixels, random_init = p.random_init, baseline = !p.no_baseline;
    bool do_probe = !p.no_probe, do_knn = !p.no_knn, quiet = p.quiet;
    long limit = p.limit, test_limit = p.test_limit;
    if (pixels) sources[nsources++] = (Source){.kind = SOURCE_PIXELS};
    if (random_init)
        sources[nsources++] = (Source){.kind = SOURCE_RANDOM_INIT, .encoder = enc.model.encoder, .stem = enc.model.stem,
                                       .width = (uint32_t)enc.model.width, .seed = enc.seed, .precision = enc.precision};
    /* A checkpoint comes with the random initialisation of its own run (same encoder, width,
     * seed, input preparation): what training bought is the difference. */
    if (checkpoint && !random_init && baseline)
        sources[nsources++] = (Source){.kind = SOURCE_BASELINE, .checkpoint = checkpoint, .precision = enc.precision};
    if (checkpoint)
        sources[nsources++] = (Source){.kind = SOURCE_CHECKPOINT, .checkpoint = checkpoint, .precision = enc.precision};
    if (!nsources) {
        fprintf(stderr, "vkclr probe: say what to probe: --pixels, --checkpoint PATH and/or --random-init\n");
        return 2;
    }
    if (!do_probe && !do_knn) {
        fprintf(stderr, "vkclr probe: --no-probe and --no-knn leave nothing to do\n");
        return 2;
    }
    VkcProbeConfig pc = p.probe;
    const VkcKnnConfig kc = p.knn;
    pc.seed = enc.seed;
    if (pc.lr == 0) pc.lr = vkc_probe_default_lr(pc.optimizer);
    pc.log = quiet ? NULL : stderr;
    if (vkc_probe_config_check(&pc)) return cli_fail(&cli_probe, 2);

    /* Every check before the work: the output's place (never the checkpoint it reads), the
     * checkpoint, the data. */
    char file[1100];
    const char *inputs[2] = {checkpoint && !vkc_checkpoint_resolve(checkpoint, file, sizeof file) ? file : NULL, NULL};
    int refused = out ? cli_check_output(&cli_probe, "--out", out, inputs, NULL) : 0;
    if (refused) return refused;
    char data[512];
    VkcDataset ds;
    if (source_dataset(&cli_probe, call, checkpoint, true, &ds, data)) return 1;
    long ntrain = limit && limit < ds.train.n ? limit : ds.train.n;
    long ntest = test_limit && test_limit < ds.test.n ? test_limit : ds.test.n;
    if (ntest == 0 || ntrain == 0) {
        fprintf(stderr, "vkclr probe: --data %s has no %s images: nothing to %s\n", data,
                ntrain ? "test" : "training", ntrain ? "evaluate on" : "train the probe on");
        vkc_dataset_free(&ds);
        return 1;
    }
    VkcContext ctx;
    VkcContextOptions opt = cli_context(call->env, enc.device, quiet);
    if (vkc_context_create(&ctx, &opt)) {
        fprintf(stderr, "vkclr probe: %s\n", vkc_error());
        vkc_dataset_free(&ds);
        return 1;
    }
    /* the probe's and kNN's products: 16-bit on cooperative matrices with a 16-bit precision */
    pc.products = enc.precision < 0 ? vkc_auto_precision(&ctx) : (VkcDtype)enc.precision;
    printf("probe: %s, %ld train + %ld test images, %d classes, on %s\n", ds.name, ntrain, ntest, ds.nclasses,
           ctx.props.deviceName);
    Outcome outcomes[3];
    int status = 0;
    for (int s = 0; s < nsources; s++) {
        outcomes[s] = (Outcome){.src = sources[s]};
        if (run_source(&ctx, &ds, &outcomes[s], &pc, &kc, do_probe, do_knn, ntrain, ntest)) {
            fprintf(stderr, "vkclr probe: %s\n", vkc_error());
            status = 1;
            break;
        }
        const Outcome *o = &outcomes[s];
        printf("%-12s dim %-5u", source_key(o->src.kind), o->dim);
        if (do_probe)
            printf("  probe top-1 %6.2f%%  top-5 %6.2f%%  (train top-1 %6.2f%%, %.1f s)", 100 * o->probe.top1,
                   100 * o->probe.top5, 100 * o->probe.train_top1,
                   o->probe.seconds_standardize + o->probe.seconds_train + o->probe.seconds_eval);
        if (do_knn)
            printf("  kNN(k=%u) top-1 %6.2f%%  top-5 %6.2f%%  (%.1f s)", o->knn.k, 100 * o->knn.top1, 100 * o->knn.top5,
                   o->knn.seconds);
        printf("\n");
    }
    /* What training bought: the checkpoint against its own run's random initialisation. */
    for (int s = 0; !status && s + 1 < nsources; s++)
        if (outcomes[s].src.kind == SOURCE_BASELINE && outcomes[s + 1].src.kind == SOURCE_CHECKPOINT) {
            const Outcome *b = &outcomes[s], *t = &outcomes[s + 1];
            printf("training bought:");
            if (do_probe) printf("  probe top-1 %+.2f points", 100 * (t->probe.top1 - b->probe.top1));
            if (do_knn) printf("  kNN top-1 %+.2f points", 100 * (t->knn.top1 - b->knn.top1));
            printf("\n");
        }
    if (!status && out &&
        write_json(out, &ctx, &ds, data, &pc, &kc, do_probe, do_knn, outcomes, nsources, ntrain, ntest)) {
        fprintf(stderr, "vkclr probe: %s\n", vkc_error());
        status = 1;
    }
    vkc_context_destroy(&ctx);
    vkc_dataset_free(&ds);
    return status;
}

const CliSpec cli_probe = {.name = "probe", .run = run, .synopsis = probe_synopsis,
                           .about = "linear probe and kNN accuracy of frozen features (pixels or an encoder)",
                           CLI_ROWS(rows, ProbeArgs), .defaults = defaults, .train_rows = cli_encoder_rows,
                           .train_heading = "The encoder (for --random-init), its data, the seed and the device, as vkclr "
                                            "train takes them:"};
