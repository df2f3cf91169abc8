/* vkclr export: features and labels of one split as NumPy .npy files. */
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
            "int64 (or uint8) vector, both .npy files numpy.load reads.\n"
            "  --features OUT.npy    feature file\n"
            "  --labels FILE.npy     label file (default: OUT.npy with .npy replaced by .labels.npy)\n"
            "  --split train|test    which split (test)\n"
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
    const char *features = NULL, *labels = NULL, *split_name = "test", *dtype = "int64", *checkpoint = NULL;
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
    if (strcmp(split_name, "train") && strcmp(split_name, "test")) {
        fprintf(stderr, "vkclr export: --split: '%s' is not train or test\n", split_name);
        return 2;
    }
    VkcNpyType ltype;
    if (!strcmp(dtype, "int64")) ltype = VKC_NPY_I64;
    else if (!strcmp(dtype, "uint8")) ltype = VKC_NPY_U8;
    else {
        fprintf(stderr, "vkclr export: --label-dtype: '%s' is not int64 or uint8\n", dtype);
        return 2;
    }
    char labels_path[4096];
    if (labels) {
        snprintf(labels_path, sizeof labels_path, "%s", labels);
    } else {
        size_t n = strlen(features);
        if (n > 4 && !strcmp(features + n - 4, ".npy")) n -= 4;
        snprintf(labels_path, sizeof labels_path, "%.*s.labels.npy", (int)n, features);
    }
    Source src = {.kind = pixels ? SOURCE_PIXELS : checkpoint ? SOURCE_CHECKPOINT : SOURCE_RANDOM_INIT,
                  .checkpoint = checkpoint, .encoder = enc.model.encoder, .width = (uint32_t)enc.model.width,
                  .seed = enc.seed, .precision = enc.precision};

    char spec[512];
    const char *data = source_data(given.set[arg_option_index("--data")] ? enc.data : NULL, checkpoint, spec, sizeof spec);
    VkcDataset ds;
    if (vkc_dataset_load(&ds, data)) {
        fprintf(stderr, "vkclr export: --data %s: %s\n", data ? data : "fashion-mnist", vkc_error());
        return 1;
    }
    const VkcSplit *split = !strcmp(split_name, "train") ? &ds.train : &ds.test;
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
        if (ltype == VKC_NPY_I64) ((int64_t *)lab)[i] = split->labels[i];
        else ((uint8_t *)lab)[i] = (uint8_t)split->labels[i];
    }
    uint64_t fshape[2] = {f.n, f.dim}, lshape[1] = {f.n};
    if (vkc_npy_write(features, VKC_NPY_F32, fshape, 2, feat) || vkc_npy_write(labels_path, ltype, lshape, 1, lab))
        goto done;
    printf("wrote %s (%u x %u float32, %s features of the %s split) and %s (%u %s)\n", features, f.n, f.dim, x.name,
           split_name, labels_path, f.n, dtype);
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
