/* Shared by the files of src/train. */
#ifndef VKCLR_TRAIN_INTERNAL_H
#define VKCLR_TRAIN_INTERNAL_H

#include <cjson/cJSON.h>

#include "vkclr/augment.h"
#include "vkclr/train.h"

/* Evaluation of an encoder (evaluate.c): -1 marks figures not computed. */
typedef struct {
    uint32_t train_images, test_images;
    double probe_top1, probe_top5, probe_train_top1;
    uint32_t probe_epochs;
    double knn_top1, knn_top5;
    uint32_t knn_k, knn_bank;
    double seconds_extract, seconds_probe, seconds_knn, seconds;
} EncoderEval;

/* The trained encoder's figures, and (final evaluation) the same encoder's at its random
 * initialisation in `base`. */
typedef struct {
    EncoderEval trained, base;
} TrainEval;

/* final: probe (probe_epochs > 0) and kNN (knn_k > 0) on the whole test split; otherwise the
 * kNN monitor on subsets. `model` is the run's model configuration as resolved (its random
 * initialisation is the baseline). The model must not be running. */
int train_evaluate(VkcModel *m, VkcGemm *gemm, const VkcAugmentConfig *aug, const VkcDataset *ds,
                   const VkcTrainConfig *c, const VkcModelConfig *model, bool final, TrainEval *out);
void train_evaluate_print(const TrainEval *e, const VkcTrainConfig *c);
/* The figures as members of a JSON object (results.json). */
void train_evaluate_json(const TrainEval *e, cJSON *obj);

#endif
