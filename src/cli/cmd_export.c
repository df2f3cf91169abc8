/* vkclr export: features and labels of one split as NumPy .npy files. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "eval_source.h"
#include "vkclr/npy.h"

static const char export_synopsis[] =
    "usage: vkclr export --features OUT.npy (--pixels | --checkpoint PATH | --random-init) [OPTIONS]\n\n"
    "Writes the features of one split as a float32 array (images x dim) and its labels as an\n"
    "int64 (or uint8) vector, both .npy files numpy.load reads, and a manifest (JSON) with the\n"
    "row count and CRC-32 of both, so that a mixed or half-replaced pair is found out. The three\n"
    "are replaced together: a failed write (a full disk) leaves the old ones as they were.\n";

typedef enum { SPLIT_TRAIN, SPLIT_TEST, SPLIT_UNLABELED } Split;
static const VkcName split_names[] = {
    {.name = "train", .value = SPLIT_TRAIN},
    {.name = "test", .value = SPLIT_TEST},
    {.name = "unlabeled", .value = SPLIT_UNLABELED,
     .about = "the images without labels of images:DIR or STL-10's unlabeled_X.bin; their labels are -1"},
    {0},
};

typedef struct {
    char features[CLI_PATH], labels[CLI_PATH], manifest[CLI_PATH];
    int split;                 /* Split */
    int label_dtype;           /* VkcNpyType */
    bool pixels, random_init;
    char checkpoint[CLI_PATH];
    int limit;                 /* 0: the whole split */
} ExportArgs;

#define FIELD(f) VKC_OPTION_FIELD(ExportArgs, f)
static const char FILES[] = "files", SOURCE[] = "source (one of)", DATA[] = "data";

static const VkcOption rows[] = {
    {.flag = "--features", .type = VKC_OPT_STRING, FIELD(features), .flags = VKC_OPT_NONEMPTY, .section = FILES,
     .metavar = "OUT.npy", .help = "feature file (required)"},
    {.flag = "--labels", .type = VKC_OPT_STRING, FIELD(labels), .flags = VKC_OPT_NONEMPTY, .section = FILES,
     .metavar = "FILE.npy", .help = "label file (default: OUT.npy with .npy replaced by .labels.npy)"},
    {.flag = "--manifest", .type = VKC_OPT_STRING, FIELD(manifest), .flags = VKC_OPT_NONEMPTY, .section = FILES,
     .metavar = "FILE.json", .help = "manifest (default: OUT.npy with .npy replaced by .export.json)"},
    {.flag = "--label-dtype", .type = VKC_OPT_ENUM, FIELD(label_dtype), .names = vkc_npy_label_names, .def = "int64",
     .section = FILES, .metavar = "T"},
    {.flag = "--pixels", .type = VKC_OPT_SWITCH, FIELD(pixels), .section = SOURCE, .help = "raw pixels / 255"},
    {.flag = "--checkpoint", .type = VKC_OPT_STRING, FIELD(checkpoint), .flags = VKC_OPT_NONEMPTY, .section = SOURCE,
     .metavar = "PATH", .help = "encoder from a vkclr train checkpoint"},
    {.flag = "--random-init", .type = VKC_OPT_SWITCH, FIELD(random_init), .section = SOURCE,
     .help = "encoder at its random initialisation (--encoder, --width, --seed)"},
    {.flag = "--split", .type = VKC_OPT_ENUM, FIELD(split), .names = split_names, .def = "test", .section = DATA,
     .metavar = "S", .help = "which split"},
    {.flag = "--limit", .type = VKC_OPT_INT, FIELD(limit), .min = 1, .max = 1 << 30, .auto_name = "all",
     .def = "all", .section = DATA, .metavar = "N", .help = "the first N images of the split"},
};
#undef FIELD

static int run(const CliCall *call)
{
    const ExportArgs e = *(const ExportArgs *)call->own;
    const VkcTrainConfig enc = *call->train; /* --data, --encoder, --width, --seed, --device: vkclr train's rows */
    const char *features = e.features, *checkpoint = e.checkpoint[0] ? e.checkpoint : NULL;
    const char *split_name = vkc_name_of(split_names, e.split), *dtype = vkc_name_of(vkc_npy_label_names, e.label_dtype);
    VkcNpyType ltype = (VkcNpyType)e.label_dtype;
    if (!features[0]) {
        fprintf(stderr, "vkclr export: --features OUT.npy is required\n");
        return 2;
    }
    if ((int)e.pixels + (int)e.random_init + (checkpoint != NULL) != 1) {
        fprintf(stderr, "vkclr export: give exactly one of --pixels, --checkpoint PATH, --random-init\n");
        return 2;
    }
    char labels_path[4096], manifest_path[4096];
    size_t stem = strlen(features);
    if (stem > 4 && !strcmp(features + stem - 4, ".npy")) stem -= 4;
    snprintf(labels_path, sizeof labels_path, "%.*s.labels.npy", (int)stem, features);
    snprintf(manifest_path, sizeof manifest_path, "%.*s.export.json", (int)stem, features);
    if (e.labels[0]) snprintf(labels_path, sizeof labels_path, "%s", e.labels);
    if (e.manifest[0]) snprintf(manifest_path, sizeof manifest_path, "%s", e.manifest);
    if (!features[0] || !labels_path[0] || !manifest_path[0] || !strcmp(features, labels_path) ||
        !strcmp(features, manifest_path) || !strcmp(labels_path, manifest_path)) {
        fprintf(stderr, "vkclr export: --features, --labels and --manifest must be three different files\n");
        return 2;
    }
    bool unlabeled = e.split == SPLIT_UNLABELED;
    if (unlabeled && ltype == VKC_NPY_U8) {
        fprintf(stderr, "vkclr export: --split unlabeled has the label -1 for every image: --label-dtype int64\n");
        return 2;
    }
    Source src = {.kind = e.pixels ? SOURCE_PIXELS : checkpoint ? SOURCE_CHECKPOINT : SOURCE_RANDOM_INIT,
                  .checkpoint = checkpoint, .encoder = enc.model.encoder, .stem = enc.model.stem,
                  .width = (uint32_t)enc.model.width, .seed = enc.seed, .precision = enc.precision};

    char data[512];
    VkcDataset ds;
    if (source_dataset(&cli_export, call, checkpoint, !unlabeled, &ds, data)) return 1;
    const VkcSplit *split = unlabeled ? &ds.unlabeled : e.split == SPLIT_TRAIN ? &ds.train : &ds.test;
    if (split->n == 0) {
        fprintf(stderr, "vkclr export: the %s split of --data %s has no images: nothing to export%s\n", split_name,
                data, !unlabeled && ds.unlabeled.n ? " (its images have no labels: --split unlabeled)" : "");
        vkc_dataset_free(&ds);
        return 1;
    }
    if (ltype == VKC_NPY_U8 && ds.nclasses > 256) {
        fprintf(stderr, "vkclr export: --label-dtype uint8 cannot hold %d classes\n", ds.nclasses);
        vkc_dataset_free(&ds);
        return 2;
    }
    VkcContext ctx;
    VkcContextOptions opt = cli_context(call->env, enc.device, true);
    VkcExtractor x = {0};
    VkcArena arena = {0};
    VkcFeatures f;
    float *feat = NULL;
    void *lab = NULL;
    int status = 1;
    if (vkc_context_create(&ctx, &opt)) {
        fprintf(stderr, "vkclr export: %s\n", vkc_error());
        vkc_dataset_free(&ds);
        return 1;
    }
    vkc_arena_init(&arena, &ctx, VKC_MEMORY_DEVICE);
    if (source_open(&src, &ctx, &ds, &x) || vkc_extract_features(&x, &ctx, &ds, split, (uint32_t)e.limit, &arena, &f))
        goto done;
    feat = malloc((size_t)f.n * f.dim * sizeof(float));
    lab = malloc((size_t)f.n * vkc_npy_elem_size(ltype));
    if (!feat || !lab) {
        vkc_fail("out of memory for %u x %u features", f.n, f.dim);
        goto done;
    }
    if (vkc_features_download(&ctx, &f, 0, f.n, feat)) goto done;
    for (uint32_t i = 0; i < f.n; i++) {
        if (ltype == VKC_NPY_I64) ((int64_t *)lab)[i] = split->labels ? split->labels[i] : -1;
        else ((uint8_t *)lab)[i] = (uint8_t)split->labels[i];
    }
    /* What the features are, for the manifest. */
    cJSON *about = cJSON_CreateObject();
    cJSON_AddStringToObject(about, "source", x.name);
    cJSON_AddStringToObject(about, "split", split_name);
    cJSON_AddStringToObject(about, "data", data);
    char *about_text = cJSON_PrintUnformatted(about);
    cJSON_Delete(about);
    int wrc = vkc_export_write(features, labels_path, manifest_path, feat, f.n, f.dim, ltype, lab, about_text);
    free(about_text);
    if (wrc) goto done;
    printf("wrote %s (%u x %u float32, %s features of the %s split), %s (%u %s) and their manifest %s\n", features,
           f.n, f.dim, x.name, split_name, labels_path, f.n, dtype, manifest_path);
    status = 0;
done:
    if (status) fprintf(stderr, "vkclr export: %s\n", vkc_error());
    free(feat);
    free(lab);
    vkc_extractor_destroy(&x);
    vkc_arena_destroy(&arena);
    vkc_context_destroy(&ctx);
    vkc_dataset_free(&ds);
    return status;
}

const CliSpec cli_export = {.name = "export", .run = run, .synopsis = export_synopsis,
                            .about = "write features and labels of a split as NumPy .npy files",
                            CLI_ROWS(rows, ExportArgs), .train_rows = cli_encoder_rows,
                            .train_heading = "The encoder (for --random-init), its data (default: the one --checkpoint "
                                             "was trained on),\nthe seed and the device, as vkclr train takes them:"};
