/* The evaluation inside vkclr train: the linear probe and kNN on the final encoder, and the
 * cheap kNN monitor every --knn-every epochs. Both use the one feature path (the model's
 * encoder in evaluation mode through a VkcExtractor, include/vkclr/features.h), the GPU kNN
 * (include/vkclr/knn.h) and the GPU probe (include/vkclr/probe.h) that vkclr probe uses.
 *
 * Final: features of the first probe_limit training images (0: all) and of the whole test
 * split; kNN with a bank of the first knn_bank of those training rows; then the probe, which
 * standardises the features in place (so it runs after the kNN).
 * Monitor: features of the first knn_bank training images and the first MONITOR_QUERIES test
 * images, kNN only, one line in metrics.jsonl. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "vkclr/features.h"
#include "vkclr/knn.h"
#include "vkclr/probe.h"

#define MONITOR_QUERIES 2000u

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint32_t at_most(uint32_t limit, int n) { return limit && limit < (uint32_t)n ? limit : (uint32_t)n; }

/* Features of one encoder on the splits, then kNN and (final) the probe into out. */
static int evaluate(VkcExtractor *x, VkcContext *ctx, VkcGemm *gemm, const VkcDataset *ds, const VkcTrainConfig *c,
                    bool final, EncoderEval *out)
{
    bool do_knn = c->knn_k > 0, do_probe = final && c->probe_epochs > 0;
    uint32_t bank = at_most((uint32_t)c->knn_bank, ds->train.n);
    uint32_t ntrain = do_probe ? at_most((uint32_t)c->probe_limit, ds->train.n) : bank;
    if (do_knn && bank > ntrain) bank = ntrain;
    uint32_t ntest = at_most(final ? 0 : MONITOR_QUERIES, ds->test.n);
    VkcArena arena;
    vkc_arena_init(&arena, ctx, VKC_MEMORY_DEVICE);
    VkcFeatures train, test;
    VkcKnn knn = {0};
    int rc = VKC_ERR;
    double t0 = now();
    if (vkc_extract_features(x, ctx, ds, &ds->train, ntrain, &arena, &train) ||
        vkc_extract_features(x, ctx, ds, &ds->test, ntest, &arena, &test))
        goto done;
    out->seconds_extract = now() - t0;
    out->train_images = ntrain;
    out->test_images = ntest;
    if (do_knn) {
        VkcKnnConfig kc = vkc_knn_defaults();
        kc.k = (uint32_t)c->knn_k;
        kc.temperature = c->knn_temperature;
        VkcFeatures b = vkc_features_first(&train, bank);
        VkcKnnResult kr;
        if (vkc_knn_init(ctx, &knn, gemm) || vkc_knn_evaluate(&knn, &kc, &b, &test, (uint32_t)ds->nclasses, &kr, NULL))
            goto done;
        out->knn_top1 = kr.top1, out->knn_top5 = kr.top5, out->knn_k = kr.k, out->knn_bank = bank;
        out->seconds_knn = kr.seconds;
    }
    if (do_probe) {
        VkcProbeConfig pc = vkc_probe_defaults();
        pc.epochs = (uint32_t)c->probe_epochs;
        pc.seed = c->seed;
        pc.products = c->model.act_dtype; /* as the run's own GEMMs */
        VkcProbeResult pr;
        if (vkc_probe_run(ctx, &pc, &train, &test, (uint32_t)ds->nclasses, &pr)) goto done;
        out->probe_top1 = pr.top1, out->probe_top5 = pr.top5, out->probe_train_top1 = pr.train_top1;
        out->probe_epochs = pc.epochs;
        out->seconds_probe = pr.seconds_standardize + pr.seconds_train + pr.seconds_eval;
    }
    out->seconds = now() - t0;
    rc = VKC_OK;
done:
    vkc_knn_destroy(&knn);
    vkc_arena_destroy(&arena);
    return rc;
}

int train_evaluate(VkcModel *m, VkcGemm *gemm, const VkcAugmentConfig *aug, const VkcDataset *ds,
                   const VkcTrainConfig *c, const VkcModelConfig *model, bool final, TrainEval *out)
{
    memset(out, 0, sizeof *out);
    EncoderEval none = {.knn_top1 = -1, .knn_top5 = -1, .probe_top1 = -1, .probe_top5 = -1, .probe_train_top1 = -1};
    out->trained = out->base = none;
    bool do_knn = c->knn_k > 0, do_probe = final && c->probe_epochs > 0;
    if ((!do_knn && !do_probe) || !ds->test.n) return VKC_OK;
    VkcExtractor x;
    int rc = vkc_extractor_model(&x, m, aug, vkc_name_of(vkc_encoder_names, (int)model->encoder));
    if (!rc) rc = evaluate(&x, m->ctx, gemm, ds, c, final, &out->trained);
    vkc_extractor_destroy(&x);
    /* The end of a run also evaluates the same encoder at its random initialisation (the run's
     * seed and input preparation): what training bought is the difference. */
    if (!rc && final) {
        rc = vkc_extractor_random_init(&x, m->ctx, model, c->seed, aug, ds);
        if (!rc) rc = evaluate(&x, m->ctx, gemm, ds, c, final, &out->base);
        vkc_extractor_destroy(&x);
    }
    if (rc) vkc_fail_context("evaluating the encoder");
    return rc;
}

void train_evaluate_print(const TrainEval *e, const VkcTrainConfig *c)
{
    const EncoderEval *t = &e->trained, *b = &e->base;
    printf("evaluation of the encoder (eval mode) on %u training + %u test images (features: %.1f s):\n",
           t->train_images, t->test_images, t->seconds_extract);
    if (t->probe_top1 >= 0)
        printf("  linear probe (%u epochs on %u training images): test top-1 %.2f%%  top-5 %.2f%%  (train top-1 "
               "%.2f%%, %.1f s)\n",
               t->probe_epochs, t->train_images, 100 * t->probe_top1, 100 * t->probe_top5, 100 * t->probe_train_top1,
               t->seconds_probe);
    if (t->knn_top1 >= 0)
        printf("  kNN (k=%u, T=%.2g, %u-image bank): test top-1 %.2f%%  top-5 %.2f%%  (%.1f s)\n", t->knn_k,
               c->knn_temperature, t->knn_bank, 100 * t->knn_top1, 100 * t->knn_top5, t->seconds_knn);
    if (b->probe_top1 >= 0)
        printf("  the same encoder at its random initialisation: probe top-1 %.2f%% (training: %+.2f points)\n",
               100 * b->probe_top1, 100 * (t->probe_top1 - b->probe_top1));
    if (b->knn_top1 >= 0)
        printf("  the same encoder at its random initialisation: kNN top-1 %.2f%% (training: %+.2f points)\n",
               100 * b->knn_top1, 100 * (t->knn_top1 - b->knn_top1));
    fflush(stdout);
}

void train_evaluate_json(const TrainEval *e, cJSON *obj)
{
    cJSON_AddNumberToObject(obj, "eval_train_images", e->trained.train_images);
    cJSON_AddNumberToObject(obj, "eval_test_images", e->trained.test_images);
    cJSON_AddNumberToObject(obj, "eval_extract_seconds", e->trained.seconds_extract);
    cJSON_AddNumberToObject(obj, "probe_top1", e->trained.probe_top1);
    cJSON_AddNumberToObject(obj, "probe_top5", e->trained.probe_top5);
    cJSON_AddNumberToObject(obj, "probe_train_top1", e->trained.probe_train_top1);
    cJSON_AddNumberToObject(obj, "probe_epochs", e->trained.probe_epochs);
    cJSON_AddNumberToObject(obj, "probe_seconds", e->trained.seconds_probe);
    cJSON_AddNumberToObject(obj, "knn_top1", e->trained.knn_top1);
    cJSON_AddNumberToObject(obj, "knn_top5", e->trained.knn_top5);
    cJSON_AddNumberToObject(obj, "knn_k", e->trained.knn_k);
    cJSON_AddNumberToObject(obj, "knn_bank", e->trained.knn_bank);
    cJSON_AddNumberToObject(obj, "knn_seconds", e->trained.seconds_knn);
    cJSON_AddNumberToObject(obj, "eval_seconds", e->trained.seconds);
    cJSON_AddNumberToObject(obj, "random_init_probe_top1", e->base.probe_top1);
    cJSON_AddNumberToObject(obj, "random_init_probe_top5", e->base.probe_top5);
    cJSON_AddNumberToObject(obj, "random_init_knn_top1", e->base.knn_top1);
    cJSON_AddNumberToObject(obj, "random_init_knn_top5", e->base.knn_top5);
}
