/* Shared by the files of src/train. */
#ifndef VKCLR_TRAIN_INTERNAL_H
#define VKCLR_TRAIN_INTERNAL_H

#include <cjson/cJSON.h>

#include "vkclr/augment.h"
#include "vkclr/train.h"

/* The data of a run (data.c). */
/* --data into ds and, when given, --eval-data into eval_own (converted to ds's channels);
 * *eval: the labelled data of the probe and kNN (eval_own, or ds). */
int train_data_load(const VkcTrainConfig *c, VkcDataset *ds, VkcDataset *eval_own, const VkcDataset **eval);
/* The views of c on ds: the preset (c's, or by image type and view size) into preset, the
 * augmentation (views of --image-size, an augmentation size, or the data's size), and from them
 * model's input shape and, when "auto", its stem. */
int train_data_views(const VkcTrainConfig *c, const VkcDataset *ds, char *preset, size_t preset_size,
                     VkcAugmentConfig *aug, VkcModelConfig *model);

/* The data, evaluation data, views and files left out, as the start of a run prints them. */
void train_data_print(const VkcTrainConfig *c, const VkcDataset *ds, const VkcDataset *eval,
                      const VkcAugmentConfig *aug, const char *preset, const char *out, int skipped);

/* Files --skip-bad left out: those the index refused, listed in OUT/skipped-files.txt when the
 * outputs open, and those that failed to decode during training, added as they come (the
 * producer's on_bad). */
typedef struct {
    char path[1100];
    int count;         /* listed */
    int at_decode;     /* of them, found while training */
} TrainSkipped;
int train_skipped_open(TrainSkipped *s, const char *out, const VkcDataset *ds, const VkcDataset *eval);
void train_skipped_add(void *user, const char *message);

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
