/* vkclr export: features and labels of one split as NumPy .npy files. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "eval_source.h"
#include "vkclr/npy.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: vkclr export --features OUT.npy (--pixels | --checkpoint PATH | --random-init) [OPTIONS]\n\n"
            "Writes the features of one split as a float32 array (images x dim) and its labels as an\n"
            "int64 (or uint8) vector, both .npy files numpy.load reads, and a manifest (JSON) with the\n"
            "row count and CRC-32 of both, so that a mixed or half-replaced pair is found out. The three\n"
            "are replaced together: a failed write (a full disk) leaves the old ones as they were.\n"
            "  --features OUT.npy    feature file\n"
            "  --labels FILE.npy     label file (default: OUT.npy with .npy replaced by .labels.npy)\n"
            "  --manifest FILE.json  manifest (default: OUT.npy with .npy replaced by .export.json)\n"
            "  --split S             train, test, or unlabeled (images without labels: images:DIR, STL-10's\n"
            "                        unlabeled_X.bin; their labels are -1) (test)\n"
            "  --label-dtype T       int64 or uint8 (int64)\n"
            "  --pixels              raw pixels / 255\n"
            "  --checkpoint PATH     encoder from a vkclr train checkpoint\n"
            "  --random-init         encoder at its random initialisation (--encoder, --width, --seed)\n"
            "  --limit N             the first N images of the split\n"
            "The encoder (for --random-init), its data (default: the one --checkpoint was trained on), the seed\n"
            "and the device, as vkclr train takes them:\n");
    vkc_options_help(out, arg_encoder_option);
}

int cmd_export(int argc, char **argv)
{
    const char *features = NULL, *labels = NULL, *manifest = NULL, *split_name = "test", *dtype = "int64",
               *checkpoint = NULL;
    long limit = 0;
    /* --data, --encoder, --width, --seed, --device: the rows vkclr train parses them with. */
    VkcTrainConfig enc = vkc_train_defaults();
    VkcGiven given = {0};
    bool pixels = false, random_init = false;
    for (int i = 0; i < argc; i++) {
        int m;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--pixels")) pixels = true;
        else if (!strcmp(argv[i], "--random-init")) random_init = true;
        else if ((m = arg_match_option("export", argc, argv, &i, arg_encoder_option, &enc, &given)) ||
                 (m = arg_match_str(argc, argv, &i, "--features", &features)) ||
                 (m = arg_match_str(argc, argv, &i, "--labels", &labels)) ||
                 (m = arg_match_str(argc, argv, &i, "--manifest", &manifest)) ||
                 (m = arg_match_str(argc, argv, &i, "--split", &split_name)) ||
                 (m = arg_match_str(argc, argv, &i, "--label-dtype", &dtype)) ||
                 (m = arg_match_str(argc, argv, &i, "--checkpoint", &checkpoint)) ||
                 (m = arg_match_int(argc, argv, &i, "--limit", 1, 1L << 30, &limit))) {
            if (m < 0) return 2;
        } else {
            fprintf(stderr, "vkclr export: unknown option '%s' (see vkclr export --help)\n", argv[i]);
            return 2;
        }
    }
    if (!features) {
        fprintf(stderr, "vkclr export: --features OUT.npy is required\n");
        return 2;
    }
    if ((int)pixels + (int)random_init + (checkpoint != NULL) != 1) {
        fprintf(stderr, "vkclr export: give exactly one of --pixels, --checkpoint PATH, --random-init\n");
        return 2;
    }
    if (strcmp(split_name, "train") && strcmp(split_name, "test") && strcmp(split_name, "unlabeled")) {
        fprintf(stderr, "vkclr export: --split: '%s' is not train, test or unlabeled\n", split_name);
        return 2;
    }
    bool unlabeled = !strcmp(split_name, "unlabeled");
    if (unlabeled && !strcmp(dtype, "uint8")) {
        fprintf(stderr, "vkclr export: --split unlabeled has the label -1 for every image: --label-dtype int64\n");
        return 2;
    }
    VkcNpyType ltype;
    if (!strcmp(dtype, "int64")) ltype = VKC_NPY_I64;
    else if (!strcmp(dtype, "uint8")) ltype = VKC_NPY_U8;
    else {
        fprintf(stderr, "vkclr export: --label-dtype: '%s' is not int64 or uint8\n", dtype);
        return 2;
    }
    char labels_path[4096], manifest_path[4096];
    size_t stem = strlen(features);
    if (stem > 4 && !strcmp(features + stem - 4, ".npy")) stem -= 4;
    snprintf(labels_path, sizeof labels_path, "%.*s.labels.npy", (int)stem, features);
    snprintf(manifest_path, sizeof manifest_path, "%.*s.export.json", (int)stem, features);
    if (labels) snprintf(labels_path, sizeof labels_path, "%s", labels);
    if (manifest) snprintf(manifest_path, sizeof manifest_path, "%s", manifest);
    if (!features[0] || !labels_path[0] || !manifest_path[0] || !strcmp(features, labels_path) ||
        !strcmp(features, manifest_path) || !strcmp(labels_path, manifest_path)) {
        fprintf(stderr, "vkclr export: --features, --labels and --manifest must be three different files\n");
        return 2;
    }
    Source src = {.kind = pixels ? SOURCE_PIXELS : checkpoint ? SOURCE_CHECKPOINT : SOURCE_RANDOM_INIT,
                  .checkpoint = checkpoint, .encoder = enc.model.encoder, .stem = enc.model.stem, .width = (uint32_t)enc.model.width,
                  .seed = enc.seed, .precision = enc.precision};

    char spec[512];
    const char *data;
    int channels;
    if (source_data(given.set[arg_option_index("--eval-data")] ? enc.eval_data : NULL,
                    given.set[arg_option_index("--data")] ? enc.data : NULL, checkpoint, unlabeled == false, spec, sizeof spec,
                    &data,
                    &channels)) {
        fprintf(stderr, "vkclr export: --checkpoint %s: %s\n", checkpoint, vkc_error());
        return 1;
    }
    VkcDataset ds;
    if (source_load(&enc, data, channels, &ds)) {
        fprintf(stderr, "vkclr export: %s\n", vkc_error());
        return 1;
    }
    const VkcSplit *split = unlabeled ? &ds.unlabeled : !strcmp(split_name, "train") ? &ds.train : &ds.test;
    if (split->n == 0) {
        fprintf(stderr, "vkclr export: the %s split of --data %s has no images: nothing to export%s\n", split_name,
                data ? data : "fashion-mnist",
                !unlabeled && ds.unlabeled.n ? " (its images have no labels: --split unlabeled)" : "");
        vkc_dataset_free(&ds);
        return 1;
    }
    if (ltype == VKC_NPY_U8 && ds.nclasses > 256) {
        fprintf(stderr, "vkclr export: --label-dtype uint8 cannot hold %d classes\n", ds.nclasses);
        vkc_dataset_free(&ds);
        return 2;
    }
    VkcContext ctx;
    VkcContextOptions opt = {.device_index = enc.device, .quiet = true};
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
    if (source_open(&src, &ctx, &ds, &x) || vkc_extract_features(&x, &ctx, &ds, split, (uint32_t)limit, &arena, &f))
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
    cJSON_AddStringToObject(about, "data", data ? data : "fashion-mnist");
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
