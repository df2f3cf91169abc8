/* The data of a run: --data and --eval-data loaded with the run's limits, the view size
 * (--image-size) and what follows from it (the preset, the stem, the model's input shape), and
 * the list of files --skip-bad left out (skipped-files.txt in the run directory). */
#include <stdio.h>
#include <string.h>

#include "internal.h"

int train_data_load(const VkcTrainConfig *c, VkcDataset *ds, VkcDataset *eval_own, const VkcDataset **eval)
{
    VkcDataLimits lim = vkc_config_data_limits(c);
    *eval = ds;
    if (vkc_dataset_load_limited(ds, c->data, &lim)) return VKC_ERR;
    if (!c->eval_data[0]) return VKC_OK;
    if (vkc_dataset_load_limited(eval_own, c->eval_data, &lim)) return vkc_fail_context("--eval-data %s", c->eval_data);
    /* the encoder sees the training data's channels: the evaluation images are converted */
    if (vkc_dataset_set_channels(eval_own, ds->channels)) return vkc_fail_context("--eval-data %s", c->eval_data);
    *eval = eval_own;
    return VKC_OK;
}

int train_data_views(const VkcTrainConfig *c, const VkcDataset *ds, char *preset, size_t preset_size,
                     VkcAugmentConfig *aug, VkcModelConfig *model)
{
    /* the view size: --image-size, else an augmentation size=HxW, else the data's */
    int vh = c->image_size ? c->image_size : ds->height, vw = c->image_size ? c->image_size : ds->width;
    snprintf(preset, preset_size, "%s", c->preset[0] ? c->preset : vkc_augment_default_preset(ds->channels, vh, vw));
    if (vkc_augment_preset(preset, aug) || (c->aug[0] && vkc_augment_set(aug, c->aug)))
        return vkc_fail_context("--preset/--aug");
    if (aug->out_height && c->image_size && (aug->out_height != c->image_size || aug->out_width != c->image_size))
        return vkc_fail("--image-size %d and --aug size=%dx%d disagree: give one of them", c->image_size,
                        aug->out_height, aug->out_width);
    if (!aug->out_height) aug->out_height = vh, aug->out_width = vw;
    if (vkc_augment_check(aug, ds->channels)) return vkc_fail_context("--preset/--aug");
    model->channels = ds->channels;
    model->height = aug->out_height;
    model->width_px = aug->out_width;
    if ((int)model->stem < 0) model->stem = vkc_model_auto_stem(model->encoder, model->height, model->width_px);
    return VKC_OK;
}

int vkc_train_model_shape(VkcTrainConfig *c, const VkcDataset *ds)
{
    VkcAugmentConfig aug;
    char preset[sizeof c->preset];
    return train_data_views(c, ds, preset, sizeof preset, &aug, &c->model) || vkc_model_check(&c->model);
}

/* ---------------------------------------------------------------- skipped files */

int train_skipped_open(TrainSkipped *s, const char *out, const VkcDataset *ds, const VkcDataset *eval)
{
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s/skipped-files.txt", out);
    int n = ds->nskipped + (eval != ds ? eval->nskipped : 0);
    if (!n) return VKC_OK;
    FILE *f = fopen(s->path, "w");
    if (!f) return vkc_fail("cannot write %s", s->path);
    const VkcDataset *sets[2] = {ds, eval != ds ? eval : NULL};
    for (int k = 0; k < 2; k++)
        for (int i = 0; sets[k] && i < sets[k]->nskipped; i++) fprintf(f, "%s\n", sets[k]->skipped[i]);
    int rc = fclose(f) ? vkc_fail("cannot write %s", s->path) : VKC_OK;
    s->count = n;
    return rc;
}

void train_skipped_add(void *user, const char *message)
{
    TrainSkipped *s = user;
    s->count++;
    s->at_decode++;
    FILE *f = fopen(s->path, "a");
    if (!f) return; /* the count still says so at the end */
    fprintf(f, "%s\n", message);
    fclose(f);
}

/* ---------------------------------------------------------------- the start line */

static void describe(const VkcDataset *ds, char *buf, size_t size)
{
    int n = 0;
    if (ds->train.n || ds->test.n)
        n += snprintf(buf + n, size - n, "%d train + %d test images of %d classes", ds->train.n, ds->test.n,
                      ds->nclasses);
    if (ds->unlabeled.n && n < (int)size)
        n += snprintf(buf + n, size - n, "%s%d unlabeled", n ? ", " : "", ds->unlabeled.n);
    if (n < (int)size)
        snprintf(buf + n, size - n, ", %s%s %dx%d", ds->channels == 1 ? "gray" : "RGB",
                 ds->mixed_sizes ? ", mixed sizes, median shorter side" : "", ds->height, ds->width);
}

void train_data_print(const VkcTrainConfig *c, const VkcDataset *ds, const VkcDataset *eval,
                      const VkcAugmentConfig *aug, const char *preset, const char *out, int skipped)
{
    char what[256];
    describe(ds, what, sizeof what);
    printf("data: %s (%s, %s in %.1f s), views %dx%d (preset %s)\n", c->data, what,
           vkc_dataset_is_collection(ds) ? "indexed, decoded per batch" : "read into memory", ds->load_seconds,
           aug->out_height, aug->out_width, preset);
    if (eval != ds) {
        describe(eval, what, sizeof what);
        printf("evaluation data: %s (%s)\n", c->eval_data, what);
    }
    if (skipped)
        printf("--skip-bad: %d file%s left out, listed in %s/skipped-files.txt\n", skipped, skipped == 1 ? "" : "s",
               out);
    if (!eval->test.n && (c->knn_k > 0 || c->probe_epochs > 0))
        printf("note: --%s %s has no labelled test images: the kNN monitor and the final linear probe and kNN are "
               "skipped (results.json says so; --eval-data SPEC gives them labelled data)\n",
               eval == ds ? "data" : "eval-data", eval == ds ? c->data : c->eval_data);
}
