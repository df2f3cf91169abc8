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

int train_evaluate(VkcModel *m, VkcGemm *gemm, const VkcAugmentConfig *aug, const VkcDataset *ds,
                   const VkcTrainConfig *c, bool final, TrainEval *out)
{
    memset(out, 0, sizeof *out);
    out->knn_top1 = out->knn_top5 = out->probe_top1 = out->probe_top5 = out->probe_train_top1 = -1;
    bool do_knn = c->knn_k > 0, do_probe = final && c->probe_epochs > 0;
    if ((!do_knn && !do_probe) || !ds->test.n) return VKC_OK;
    VkcContext *ctx = m->ctx;
    uint32_t bank = at_most((uint32_t)c->knn_bank, ds->train.n);
    uint32_t ntrain = do_probe ? at_most((uint32_t)c->probe_limit, ds->train.n) : bank;
    if (do_knn && bank > ntrain) bank = ntrain;
    uint32_t ntest = at_most(final ? 0 : MONITOR_QUERIES, ds->test.n);
    VkcExtractor x;
    VkcArena arena;
    vkc_arena_init(&arena, ctx, VKC_MEMORY_DEVICE);
    VkcFeatures train, test;
    VkcKnn knn = {0};
    int rc = VKC_ERR;
    double t0 = now();
    if (vkc_extractor_model(&x, m, aug, vkc_name_of(vkc_encoder_names, (int)c->model.encoder)) ||
        vkc_extract_features(&x, ctx, ds, &ds->train, ntrain, &arena, &train) ||
        vkc_extract_features(&x, ctx, ds, &ds->test, ntest, &arena, &test))
        goto done;
    double t1 = now();
    out->seconds_extract = t1 - t0;
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
        VkcProbeResult pr;
        if (vkc_probe_run(ctx, &pc, &train, &test, (uint32_t)ds->nclasses, &pr)) goto done;
        out->probe_top1 = pr.top1, out->probe_top5 = pr.top5, out->probe_train_top1 = pr.train_top1;
        out->probe_epochs = pc.epochs;
        out->seconds_probe = pr.seconds_standardize + pr.seconds_train + pr.seconds_eval;
    }
    out->seconds = now() - t0;
    rc = VKC_OK;
done:
    if (rc) vkc_fail_context("evaluating the encoder");
    vkc_knn_destroy(&knn);
    vkc_extractor_destroy(&x);
    vkc_arena_destroy(&arena);
    return rc;
}

void train_evaluate_print(const TrainEval *e, const VkcTrainConfig *c)
{
    printf("evaluation of the encoder (eval mode) on %u training + %u test images (features: %.1f s):\n",
           e->train_images, e->test_images, e->seconds_extract);
    if (e->probe_top1 >= 0)
        printf("  linear probe (%u epochs on %u training images): test top-1 %.2f%%  top-5 %.2f%%  (train top-1 "
               "%.2f%%, %.1f s)\n",
               e->probe_epochs, e->train_images, 100 * e->probe_top1, 100 * e->probe_top5, 100 * e->probe_train_top1,
               e->seconds_probe);
    if (e->knn_top1 >= 0)
        printf("  kNN (k=%u, T=%.2g, %u-image bank): test top-1 %.2f%%  top-5 %.2f%%  (%.1f s)\n", e->knn_k,
               c->knn_temperature, e->knn_bank, 100 * e->knn_top1, 100 * e->knn_top5, e->seconds_knn);
    fflush(stdout);
}

void train_evaluate_json(const TrainEval *e, cJSON *obj)
{
    cJSON_AddNumberToObject(obj, "eval_train_images", e->train_images);
    cJSON_AddNumberToObject(obj, "eval_test_images", e->test_images);
    cJSON_AddNumberToObject(obj, "eval_extract_seconds", e->seconds_extract);
    cJSON_AddNumberToObject(obj, "probe_top1", e->probe_top1);
    cJSON_AddNumberToObject(obj, "probe_top5", e->probe_top5);
    cJSON_AddNumberToObject(obj, "probe_train_top1", e->probe_train_top1);
    cJSON_AddNumberToObject(obj, "probe_epochs", e->probe_epochs);
    cJSON_AddNumberToObject(obj, "probe_seconds", e->seconds_probe);
    cJSON_AddNumberToObject(obj, "knn_top1", e->knn_top1);
    cJSON_AddNumberToObject(obj, "knn_top5", e->knn_top5);
    cJSON_AddNumberToObject(obj, "knn_k", e->knn_k);
    cJSON_AddNumberToObject(obj, "knn_bank", e->knn_bank);
    cJSON_AddNumberToObject(obj, "knn_seconds", e->seconds_knn);
    cJSON_AddNumberToObject(obj, "eval_seconds", e->seconds);
}
