/* Shared by the files of src/train. */
#ifndef VKCLR_TRAIN_INTERNAL_H
#define VKCLR_TRAIN_INTERNAL_H

#include "vkclr/train.h"

int train_parse_optimizer(const char *s, VkcOptimKind *k);
/* The configuration as a JSON object (malloc'd text). */
char *train_config_json(const VkcTrainConfig *c, bool pretty);
int train_config_parse(const char *text, VkcTrainConfig *c);
/* Write parts[] to path through a temporary file, flush, fsync and rename. */
int train_write_file_atomic(const char *path, const void *const *parts, const size_t *sizes, int nparts);
int train_checkpoint_save(const char *path, const VkcModel *m, const VkcOptim *opt, const VkcTrainConfig *cfg,
                          int64_t step, int64_t epoch);
/* Load parameters, running statistics and optimizer state into an allocated model and
 * optimizer of the same architecture (opt NULL: the model only); *step: steps completed. */
int train_checkpoint_load(const char *path, VkcModel *m, VkcOptim *opt, int64_t *step);

/* Evaluation of the encoder (evaluate.c): -1 marks figures not computed. */
typedef struct {
    uint32_t train_images, test_images;
    double probe_top1, probe_top5, probe_train_top1;
    uint32_t probe_epochs;
    double knn_top1, knn_top5;
    uint32_t knn_k, knn_bank;
    double seconds_extract, seconds_probe, seconds_knn, seconds;
} TrainEval;

/* final: probe (probe_epochs > 0) and kNN (knn_k > 0) on the whole test split; otherwise the
 * kNN monitor on subsets. The model must not be running. */
int train_evaluate(VkcModel *m, VkcGemm *gemm, const VkcAugmentConfig *aug, const VkcDataset *ds,
                   const VkcTrainConfig *c, bool final, TrainEval *out);
void train_evaluate_print(const TrainEval *e, const VkcTrainConfig *c);
/* The figures as JSON members (each line "  \"key\": value,\n"); returns snprintf's count. */
int train_evaluate_json(const TrainEval *e, char *buf, size_t size);

#endif
