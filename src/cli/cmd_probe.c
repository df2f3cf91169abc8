/* vkclr probe: linear probe and weighted kNN on frozen features of a dataset (raw pixels, an
 * encoder checkpoint, or an encoder at its random initialisation), several sources side by
 * side so a trained encoder can be compared with its baselines; results to the terminal and
 * optionally a JSON file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "commands.h"
#include "eval_source.h"
#include "vkclr/gemm.h"
#include "vkclr/knn.h"
#include "vkclr/probe.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: vkclr probe SOURCE... [--data SPEC] [OPTIONS]\n\n"
            "Trains a linear classifier (multinomial logistic regression) on frozen features of the\n"
            "training split and reports top-1/top-5 accuracy on the test split, beside a weighted kNN\n"
            "(cosine similarity, votes exp(s/T)). Sources (one or more; each gets its own results):\n"
            "  --pixels              raw pixels / 255 (the baseline that needs no checkpoint)\n"
            "  --checkpoint PATH     encoder from a vkclr train checkpoint (.safetensors or run directory)\n"
            "  --random-init         encoder at its random initialisation (--encoder, --width, --seed)\n"
            "  (--checkpoint also probes its run's encoder at its random initialisation, the baseline the\n"
            "  training must beat, unless --random-init is given or --no-baseline)\n"
            "Data:\n"
            "  --limit N             use the first N training images (default all)\n"
            "  --test-limit N        use the first N test images (default all)\n"
            "Probe:\n"
            "  --epochs N            training epochs (30)\n"
            "  --batch N             mini-batch size (256)\n"
            "  --lr X                peak learning rate, cosine-decayed to 0 (0.1 for sgd, 0.001 for adamw)\n"
            "  --wd X                weight decay on the weights (1e-4)\n"
            "  --optimizer NAME      sgd (Nesterov momentum) or adamw (sgd)\n"
            "  --momentum X          SGD momentum (0.9)\n"
            "  --no-standardize      do not standardise features with train-split mean/std\n"
            "  --no-probe            only kNN\n"
            "kNN:\n"
            "  --k N                 neighbours (200)\n"
            "  --t X                 temperature (0.1)\n"
            "  --no-knn              only the probe\n"
            "Other:\n"
            "  --out FILE            write the results as JSON\n"
            "  --quiet               no per-epoch lines\n"
            "The encoder (for --random-init), its data, the seed and the device, as vkclr train takes them:\n");
    vkc_options_help(out, arg_encoder_option);
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
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return vkc_fail("--out %s: cannot create %s", path, tmp);
    fprintf(f, "{\n  \"dataset\": ");
    json_string(f, ds->name);
    fprintf(f, ",\n  \"data\": ");
    json_string(f, spec ? spec : "fashion-mnist");
    fprintf(f, ",\n  \"train_images\": %ld,\n  \"test_images\": %ld,\n  \"classes\": %d,\n  \"device\": ", ntrain, ntest,
            ds->nclasses);
    json_string(f, ctx->props.deviceName);
    fprintf(f, ",\n  \"probe_config\": {\"epochs\": %u, \"batch\": %u, \"lr\": %g, \"weight_decay\": %g, "
               "\"optimizer\": \"%s\", \"momentum\": %g, \"standardize\": %s, \"seed\": %llu},\n",
            pc->epochs, pc->batch, pc->lr, pc->weight_decay, pc->optimizer == VKC_OPTIM_ADAMW ? "adamw" : "sgd",
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
    if (fflush(f) || ferror(f)) {
        fclose(f);
        remove(tmp);
        return vkc_fail("--out %s: write failed", path);
    }
    fclose(f);
    if (rename(tmp, path)) {
        remove(tmp);
        return vkc_fail("--out %s: cannot rename %s", path, tmp);
    }
    return VKC_OK;
}

int cmd_probe(int argc, char **argv)
{
    VkcProbeConfig pc = vkc_probe_defaults();
    VkcKnnConfig kc = vkc_knn_defaults();
    Source sources[3];
    int nsources = 0;
    const char *out = NULL, *optimizer = "sgd", *checkpoint = NULL;
    long limit = 0, test_limit = 0, epochs = pc.epochs, batch = pc.batch, k = kc.k;
    /* --data, --encoder, --width, --seed, --device: the rows vkclr train parses them with. */
    VkcTrainConfig enc = vkc_train_defaults();
    VkcGiven given = {0};
    double lr = -1, wd = pc.weight_decay, momentum = pc.momentum, t = kc.temperature;
    bool pixels = false, random_init = false, do_probe = true, do_knn = true, quiet = false, baseline = true;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int m;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--pixels")) pixels = true;
        else if (!strcmp(a, "--random-init")) random_init = true;
        else if (!strcmp(a, "--no-standardize")) pc.standardize = false;
        else if (!strcmp(a, "--no-probe")) do_probe = false;
        else if (!strcmp(a, "--no-knn")) do_knn = false;
        else if (!strcmp(a, "--no-baseline")) baseline = false;
        else if (!strcmp(a, "--quiet")) quiet = true;
        else if ((m = arg_match_option("probe", argc, argv, &i, arg_encoder_option, &enc, &given)) ||
                 (m = arg_match_str(argc, argv, &i, "--checkpoint", &checkpoint)) ||
                 (m = arg_match_str(argc, argv, &i, "--out", &out)) ||
                 (m = arg_match_str(argc, argv, &i, "--optimizer", &optimizer)) ||
                 (m = arg_match_int(argc, argv, &i, "--limit", 1, 1L << 30, &limit)) ||
                 (m = arg_match_int(argc, argv, &i, "--test-limit", 1, 1L << 30, &test_limit)) ||
                 (m = arg_match_int(argc, argv, &i, "--epochs", 1, 100000, &epochs)) ||
                 (m = arg_match_int(argc, argv, &i, "--batch", 1, 65535, &batch)) ||
                 (m = arg_match_int(argc, argv, &i, "--k", 1, 100000, &k)) ||
                 (m = arg_match_float(argc, argv, &i, "--lr", 1e-12, 1e6, &lr)) ||
                 (m = arg_match_float(argc, argv, &i, "--wd", 0, 1e3, &wd)) ||
                 (m = arg_match_float(argc, argv, &i, "--momentum", 0, 0.9999, &momentum)) ||
                 (m = arg_match_float(argc, argv, &i, "--t", 1e-6, 1e6, &t))) {
            if (m < 0) return 2;
        } else {
            fprintf(stderr, "vkclr probe: unknown option '%s' (see vkclr probe --help)\n", a);
            return 2;
        }
    }
    if (!strcmp(optimizer, "sgd")) pc.optimizer = VKC_OPTIM_SGD;
    else if (!strcmp(optimizer, "adamw")) pc.optimizer = VKC_OPTIM_ADAMW;
    else {
        fprintf(stderr, "vkclr probe: --optimizer: '%s' is not sgd or adamw\n", optimizer);
        return 2;
    }
    if (pixels) sources[nsources++] = (Source){.kind = SOURCE_PIXELS};
    if (random_init)
        sources[nsources++] = (Source){.kind = SOURCE_RANDOM_INIT, .encoder = enc.model.encoder,
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
    pc.epochs = (uint32_t)epochs, pc.batch = (uint32_t)batch, pc.weight_decay = (float)wd;
    pc.momentum = (float)momentum, pc.seed = enc.seed;
    pc.lr = lr > 0 ? (float)lr : (pc.optimizer == VKC_OPTIM_ADAMW ? 1e-3f : 0.1f);
    pc.log = quiet ? NULL : stderr;
    kc.k = (uint32_t)k, kc.temperature = (float)t;
    if (vkc_probe_config_check(&pc)) {
        fprintf(stderr, "vkclr probe: %s\n", vkc_error());
        return 2;
    }

    char spec[512];
    const char *data;
    if (source_data(given.set[arg_option_index("--data")] ? enc.data : NULL, checkpoint, spec, sizeof spec, &data)) {
        fprintf(stderr, "vkclr probe: --checkpoint %s: %s\n", checkpoint, vkc_error());
        return 1;
    }
    VkcDataset ds;
    VkcDataLimits lim = vkc_config_data_limits(&enc);
    if (vkc_dataset_load_limited(&ds, data, &lim)) {
        fprintf(stderr, "vkclr probe: --data %s: %s\n", data ? data : "fashion-mnist", vkc_error());
        return 1;
    }
    long ntrain = limit && limit < ds.train.n ? limit : ds.train.n;
    long ntest = test_limit && test_limit < ds.test.n ? test_limit : ds.test.n;
    if (ntest == 0 || ntrain == 0) {
        fprintf(stderr, "vkclr probe: --data %s has no %s images: nothing to %s\n", data ? data : "fashion-mnist",
                ntrain ? "test" : "training", ntrain ? "evaluate on" : "train the probe on");
        vkc_dataset_free(&ds);
        return 1;
    }
    VkcContext ctx;
    VkcContextOptions opt = {.device_index = enc.device, .quiet = quiet};
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
