/* vkclr export: features and labels of one split as NumPy .npy files; the encoder as ONNX. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "eval_source.h"
#include "vkclr/checkpoint.h"
#include "vkclr/fileio.h"
#include "vkclr/interrupt.h"
#include "vkclr/npy.h"
#include "vkclr/onnx.h"

static const char export_synopsis[] =
    "usage: vkclr export --out DIR (--pixels | --checkpoint PATH | --random-init) [OPTIONS]\n"
    "       vkclr export --onnx MODEL.onnx [--with-head] --checkpoint PATH\n\n"
    "Writes the features of one split as a float32 array (images x dim), DIR/" VKC_EXPORT_FEATURES ", its\n"
    "labels as an int64 (or uint8) vector, DIR/" VKC_EXPORT_LABELS ", both .npy files numpy.load reads,\n"
    "and a manifest, DIR/" VKC_EXPORT_MANIFEST ", with the row count and CRC-32 of both. The directory is\n"
    "replaced as a whole: the three become visible together, and a failed or interrupted export\n"
    "(a full disk, SIGINT/SIGTERM: exit status 130) leaves the old one as it was. DIR must be new\n"
    "or hold an export: a directory with other files is refused.\n"
    "--onnx writes the checkpoint's encoder (with its projection head: --with-head) as an ONNX\n"
    "model for inference runtimes (OpenCV's dnn, ONNX Runtime): evaluation mode, batch norms folded\n"
    "into the convolutions, a dynamic batch dimension, how to prepare the input in its metadata\n"
    "(README: Using a trained encoder). Alone, it needs no device and no data.\n";

typedef enum { SPLIT_TRAIN, SPLIT_TEST, SPLIT_UNLABELED } Split;
static const VkcName split_names[] = {
    {.name = "train", .value = SPLIT_TRAIN},
    {.name = "test", .value = SPLIT_TEST},
    {.name = "unlabeled", .value = SPLIT_UNLABELED,
     .about = "the images without labels of images:DIR or STL-10's unlabeled_X.bin; their labels are -1"},
    {0},
};

typedef struct {
    char out[CLI_PATH], onnx[CLI_PATH];
    bool with_head;
    int split;                 /* Split */
    int label_dtype;           /* VkcNpyType */
    bool pixels, random_init;
    char checkpoint[CLI_PATH];
    int limit;                 /* 0: the whole split */
} ExportArgs;

#define FIELD(f) VKC_OPTION_FIELD(ExportArgs, f)
static const char FILES[] = "files", SOURCE[] = "source (one of)", DATA[] = "data";

static const VkcOption rows[] = {
    {.flag = "--out", .type = VKC_OPT_STRING, FIELD(out), .flags = VKC_OPT_NONEMPTY, .section = FILES,
     .metavar = "DIR", .help = "the export's directory: " VKC_EXPORT_FEATURES ", " VKC_EXPORT_LABELS
                               " and " VKC_EXPORT_MANIFEST ", replaced as a whole"},
    {.flag = "--onnx", .type = VKC_OPT_STRING, FIELD(onnx), .flags = VKC_OPT_NONEMPTY, .section = FILES,
     .metavar = "MODEL.onnx", .help = "the --checkpoint's encoder as an ONNX model"},
    {.flag = "--with-head", .type = VKC_OPT_SWITCH, FIELD(with_head), .section = FILES,
     .help = "--onnx: the projection head too (its output instead of the features)"},
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

/* --onnx: the checkpoint's encoder (and head) as an ONNX model. */
static int export_onnx(const ExportArgs *e)
{
    VkcOnnxInfo info;
    if (vkc_onnx_export(e->checkpoint, e->onnx, e->with_head, &info)) {
        fprintf(stderr, "vkclr export: --onnx %s: %s\n", e->onnx, vkc_error());
        return 1;
    }
    printf("wrote %s (ONNX opset %d, %d nodes, %.1f MB: %s %s; input [batch, %d, %d, %d] normalised as its metadata "
           "says, output [batch, %d])\n",
           e->onnx, VKC_ONNX_OPSET, info.nodes, info.bytes / 1e6, e->with_head ? "encoder and head of" : "encoder of",
           info.about, info.channels, info.height, info.width, info.outputs);
    return 0;
}

/* The split --split names. */
static const VkcSplit *split_of(const VkcDataset *ds, int split)
{
    return split == SPLIT_UNLABELED ? &ds->unlabeled : split == SPLIT_TRAIN ? &ds->train : &ds->test;
}

/* Everything an export is checked for before anything is computed or written: one source, a
 * place for its directory (absent, or an export of its own; never the checkpoint it reads), the
 * data (a checkpoint's recorded data is named as the checkpoint's), a split with images, labels
 * that fit the dtype. Returns the exit status of a refusal (printed), 0 to go on (*ds loaded,
 * unless there is no --out: --onnx alone reads no data). */
static int checks(const CliCall *call, const ExportArgs *e, VkcDataset *ds, char *data)
{
    const char *checkpoint = e->checkpoint[0] ? e->checkpoint : NULL, *split_name = vkc_name_of(split_names, e->split);
    bool unlabeled = e->split == SPLIT_UNLABELED;
    if (!e->out[0] && !e->onnx[0]) {
        fprintf(stderr, "vkclr export: --out DIR or --onnx MODEL.onnx is required\n");
        return 2;
    }
    if ((int)e->pixels + (int)e->random_init + (checkpoint != NULL) != 1) {
        fprintf(stderr, "vkclr export: give exactly one of --pixels, --checkpoint PATH, --random-init\n");
        return 2;
    }
    if (e->onnx[0] && !checkpoint) {
        fprintf(stderr, "vkclr export: --onnx writes the encoder of a --checkpoint PATH\n");
        return 2;
    }
    if (e->with_head && !e->onnx[0]) {
        fprintf(stderr, "vkclr export: --with-head is for --onnx (the features are the encoder's)\n");
        return 2;
    }
    if (unlabeled && e->label_dtype == VKC_NPY_U8) {
        fprintf(stderr, "vkclr export: --split unlabeled has the label -1 for every image: --label-dtype int64\n");
        return 2;
    }
    char file[1100];
    const char *outputs[][2] = {{"--out", e->out}, {"--onnx", e->onnx}};
    if (checkpoint && vkc_checkpoint_resolve(checkpoint, file, sizeof file) == VKC_OK)
        for (int i = 0; i < 2; i++)
            if (outputs[i][1][0] && vkc_same_file(outputs[i][1], file)) {
                fprintf(stderr, "vkclr export: %s %s is the checkpoint it exports: refusing to overwrite an input\n",
                        outputs[i][0], outputs[i][1]);
                return 2;
            }
    if (!e->out[0]) return 0; /* --onnx alone: no data, no device (*ds not loaded) */
    if (vkc_export_check_dir(e->out)) return cli_fail(&cli_export, 1);
    if (source_dataset(&cli_export, call, checkpoint, !unlabeled, ds, data)) return vkc_interrupt_pending() ? 130 : 1;
    int status = 0;
    if (split_of(ds, e->split)->n == 0) {
        fprintf(stderr, "vkclr export: the %s split of --data %s has no images: nothing to export%s\n", split_name,
                data, !unlabeled && ds->unlabeled.n ? " (its images have no labels: --split unlabeled)" : "");
        status = 1;
    } else if (e->label_dtype == VKC_NPY_U8 && ds->nclasses > 256) {
        fprintf(stderr, "vkclr export: --label-dtype uint8 cannot hold %d classes\n", ds->nclasses);
        status = 2;
    }
    if (status) vkc_dataset_free(ds);
    return status;
}

static int run(const CliCall *call)
{
    const ExportArgs e = *(const ExportArgs *)call->own;
    const VkcTrainConfig enc = *call->train; /* --data, --encoder, --width, --seed, --device: vkclr train's rows */
    /* A signal stops the export (exit 130) and leaves the old one as it was (vkclr/interrupt.h). */
    vkc_interrupt_install_handlers();
    const char *out = e.out, *checkpoint = e.checkpoint[0] ? e.checkpoint : NULL;
    const char *split_name = vkc_name_of(split_names, e.split), *dtype = vkc_name_of(vkc_npy_label_names, e.label_dtype);
    VkcNpyType ltype = (VkcNpyType)e.label_dtype;
    char data[512];
    VkcDataset ds;
    int refused = checks(call, &e, &ds, data);
    if (refused) return refused;
    if (!out[0]) return export_onnx(&e);
    const VkcSplit *split = split_of(&ds, e.split);
    Source src = {.kind = e.pixels ? SOURCE_PIXELS : checkpoint ? SOURCE_CHECKPOINT : SOURCE_RANDOM_INIT,
                  .checkpoint = checkpoint, .encoder = enc.model.encoder, .stem = enc.model.stem,
                  .width = (uint32_t)enc.model.width, .seed = enc.seed, .precision = enc.precision};
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
    /* The last check is the source itself (a checkpoint's tensors); then what an interrupted
     * export left (DIR.tmp, its own files only) goes before anything else is written. */
    if (source_open(&src, &ctx, &ds, &x) || vkc_remove_stale(out) ||
        vkc_extract_features(&x, &ctx, &ds, split, (uint32_t)e.limit, &arena, &f))
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
    int wrc = vkc_export_write(out, feat, f.n, f.dim, ltype, lab, about_text, true);
    free(about_text);
    if (wrc) goto done;
    printf("wrote %s: %s (%u x %u float32, %s features of the %s split), %s (%u %s) and %s\n", out,
           VKC_EXPORT_FEATURES, f.n, f.dim, x.name, split_name, VKC_EXPORT_LABELS, f.n, dtype, VKC_EXPORT_MANIFEST);
    status = e.onnx[0] ? export_onnx(&e) : 0;
    if (status) goto cleanup;
done:
    if (status && vkc_interrupt_pending()) {
        fprintf(stderr, "vkclr export: interrupted: %s is as it was\n", out);
        status = 130;
    } else if (status) {
        fprintf(stderr, "vkclr export: %s\n", vkc_error());
    }
cleanup:
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
