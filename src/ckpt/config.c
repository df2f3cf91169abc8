/* The option table of a training run (vkclr/config.h) and config.json. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vkclr/config.h"
#include "vkclr/fileio.h"
#include "vkclr/json.h"

const VkcName vkc_lr_scaling_names[] = {
    {.name = "linear", .value = VKC_LR_LINEAR, .about = "peak = lr * batch / 256"},
    {.name = "sqrt", .value = VKC_LR_SQRT, .about = "peak = lr * sqrt(batch)"},
    {0},
};
const VkcName vkc_precision_names[] = {
    {.name = "fp32", .value = VKC_F32},
    {.name = "fp16", .value = VKC_F16, .about = "with a dynamic loss scale"},
    {.name = "bf16", .value = VKC_BF16},
    {.name = "auto", .value = -1,
     .about = "bf16 or fp16 where vkclr runs cooperative matrices on the device (a GPU), else fp32"},
    {0},
};
/* --stem: auto is resolved by the run, from the encoder and the view size (vkc_model_auto_stem) */
static const VkcName stem_names[] = {
    {.name = "cifar", .value = VKC_STEM_CIFAR, .about = "3x3 conv, for images of about 32 px"},
    {.name = "imagenet", .value = VKC_STEM_IMAGENET, .about = "7x7/2 conv, BN, ReLU, 3x3/2 max-pool"},
    {.name = "auto", .value = -1, .about = "imagenet for a ResNet at --image-size 64 and more, else cifar"},
    {0},
};

#define FIELD(f) VKC_OPTION_FIELD(VkcTrainConfig, f)
#define SAVED VKC_OPT_SAVED
#define RESUMABLE VKC_OPT_RESUMABLE
#define ENCODER VKC_OPT_ENCODER
#define OPTIONAL VKC_OPT_OPTIONAL

static const char DATA[] = "data", MODEL[] = "model", OPTIM[] = "optimisation", RUN[] = "run",
                  EVAL[] = "evaluation (of the encoder's features in eval mode; see vkclr probe --help)",
                  DIST[] = "several GPUs or nodes (mpirun -np R vkclr train ...; see README)";

/* Saved rows appear in config.json in this order; sections in --help in the order they first appear. */
const VkcOption vkc_train_options[] = {
    {.flag = "--data", .key = "data", .type = VKC_OPT_STRING, FIELD(data), .def = "fashion-mnist",
     .flags = SAVED | ENCODER, .section = DATA, .metavar = "SPEC",
     .help = "fashion-mnist, idx:DIR, mnist:DIR, cifar10:DIR, cifar100:DIR, stl10:DIR, folder:DIR "
             "(DIR/train/<class>/, DIR/test/<class>/: JPEG and PNG files), images:DIR (every JPEG and PNG "
             "file under DIR, no labels), synthetic:HxWxC[:N[:SEED]] (random noise, for benchmarks)"},
    {.flag = "--eval-data", .key = "eval_data", .type = VKC_OPT_STRING, FIELD(eval_data), .def = "",
     .flags = SAVED | OPTIONAL | RESUMABLE | ENCODER, .section = DATA, .metavar = "SPEC",
     .help = "labelled data for the linear probe and kNN (its train and test splits), e.g. when --data has no "
             "labels; none = --data's"},
    {.flag = "--limit", .key = "limit", .type = VKC_OPT_INT, FIELD(limit), .min = 0, .max = 1 << 30, .def = "0",
     .flags = SAVED, .section = DATA, .metavar = "N", .help = "train on the first N training images; 0 = all"},
    {.flag = "--image-size", .key = "image_size", .type = VKC_OPT_INT, FIELD(image_size), .min = 8, .max = 4096,
     .def = "auto", .auto_name = "auto", .flags = SAVED | OPTIONAL, .section = DATA, .metavar = "S",
     .help = "train on S x S views: random crops of each image at its own resolution resized to S; evaluation "
             "resizes the shorter side to S and crops the centre; auto = the data's image size (mixed sizes: the "
             "median shorter side, at most 224)"},
    {.flag = "--skip-bad", .key = "skip_bad", .type = VKC_OPT_SWITCH, FIELD(skip_bad), .min = 0, .max = 1,
     .def = "off", .flags = SAVED | OPTIONAL | ENCODER, .section = DATA,
     .help = "leave out files that cannot be images (empty, truncated, corrupt, not JPEG or PNG, unreadable) and "
             "list them in the run directory's skipped-files.txt; without it they stop the run before it starts"},
    /* Decompression bombs: checked from the files' headers before anything is decoded. */
    {.flag = "--max-image-pixels", .type = VKC_OPT_U64, FIELD(max_image_pixels), .min = 1, .max = 4294967296.0,
     .def = "67108864", .flags = RESUMABLE | ENCODER, .section = DATA, .metavar = "N",
     .help = "refuse an image of more pixels (8192 x 8192), from its header"},
    {.flag = "--max-data-gib", .type = VKC_OPT_FLOAT, FIELD(max_data_gib), .min = 0.001, .max = 1e6, .def = "16",
     .flags = RESUMABLE | ENCODER, .section = DATA, .metavar = "G",
     .help = "refuse data that would take more memory (GiB), before reading it"},
    {.flag = "--encoder", .key = "encoder", .type = VKC_OPT_ENUM, FIELD(model.encoder), .names = vkc_encoder_names,
     .def = "convnet", .flags = SAVED | ENCODER, .section = MODEL, .metavar = "E",
     .help = "the ResNets with the stem --stem says"},
    {.flag = "--stem", .key = "stem", .type = VKC_OPT_ENUM, FIELD(model.stem), .names = stem_names, .def = "auto",
     .flags = SAVED | OPTIONAL | ENCODER, .section = MODEL, .metavar = "S", .help = "a ResNet's first layers",
     .missing = "cifar"},
    {.flag = "--width", .key = "width", .type = VKC_OPT_INT, FIELD(model.width), .min = 1, .max = VKC_MODEL_WIDTH_MAX,
     .def = "16", .flags = SAVED | ENCODER, .section = MODEL, .metavar = "W",
     .help = "convnet: first block's channels; resnet: first stage's (64 = standard)"},
    {.flag = "--head-layers", .key = "head_layers", .type = VKC_OPT_INT, FIELD(model.head_layers), .min = 2, .max = 3,
     .def = "2", .flags = SAVED, .section = MODEL, .metavar = "L", .help = "projection head depth, 2 or 3"},
    {.flag = "--head-hidden", .key = "head_hidden", .type = VKC_OPT_INT, FIELD(model.head_hidden), .min = 1,
     .max = VKC_MODEL_HEAD_HIDDEN_MAX, .def = "auto", .auto_name = "auto", .flags = SAVED, .section = MODEL,
     .metavar = "H", .help = "head hidden width; auto (or 0) = the encoder's feature width"},
    {.flag = "--out-dim", .key = "out_dim", .type = VKC_OPT_INT, FIELD(model.out_dim), .min = 1,
     .max = VKC_MODEL_OUT_DIM_MAX, .def = "128", .flags = SAVED, .section = MODEL, .metavar = "D",
     .help = "projection output dimension"},
    /* The views' shape: recorded, from the data. */
    {.key = "image_channels", .type = VKC_OPT_INT, FIELD(model.channels), .min = 1, .max = 3, .def = "1",
     .flags = SAVED, .section = MODEL},
    {.key = "image_height", .type = VKC_OPT_INT, FIELD(model.height), .min = 1, .max = 65536, .def = "28",
     .flags = SAVED, .section = MODEL},
    {.key = "image_width", .type = VKC_OPT_INT, FIELD(model.width_px), .min = 1, .max = 65536, .def = "28",
     .flags = SAVED, .section = MODEL},
    {.flag = "--batch", .key = "batch", .type = VKC_OPT_INT, FIELD(batch), .min = 2, .max = 1 << 20, .def = "128",
     .flags = SAVED, .section = OPTIM, .metavar = "B", .help = "images per step, each gives 2 views"},
    {.flag = "--epochs", .key = "epochs", .type = VKC_OPT_INT, FIELD(epochs), .min = 1, .max = 1 << 20, .def = "2",
     .flags = SAVED | RESUMABLE, .section = OPTIM, .metavar = "E",
     .help = "epochs of the schedule (a resumed run may lengthen it)"},
    {.flag = "--stop-after", .type = VKC_OPT_INT, FIELD(stop_after), .min = 1, .max = 1 << 20, .def = "none",
     .auto_name = "none", .flags = RESUMABLE, .section = OPTIM, .metavar = "E",
     .help = "stop after E epochs with a checkpoint (resume later with --resume)"},
    {.flag = "--optimizer", .key = "optimizer", .type = VKC_OPT_ENUM, FIELD(optimizer), .names = vkc_optim_names,
     .def = "adamw", .flags = SAVED, .section = OPTIM, .metavar = "O"},
    {.flag = "--lr", .key = "lr", .type = VKC_OPT_FLOAT, FIELD(lr), .min = 1e-9, .max = 1e3, .def = "auto",
     .auto_name = "auto", .flags = SAVED, .section = OPTIM, .metavar = "LR",
     .help = "base learning rate; auto = adamw 2e-3 (sqrt scaling: 1.25e-4); lars, sgd 0.3 (0.075)"},
    {.flag = "--lr-scaling", .key = "lr_scaling", .type = VKC_OPT_ENUM, FIELD(lr_scaling),
     .names = vkc_lr_scaling_names, .def = "linear", .flags = SAVED, .section = OPTIM, .metavar = "S"},
    {.flag = "--weight-decay", .key = "weight_decay", .type = VKC_OPT_FLOAT, FIELD(weight_decay), .min = 0, .max = 1,
     .def = "auto", .auto_name = "auto", .auto_value = -1, .flags = SAVED, .section = OPTIM, .metavar = "WD",
     .help = "auto = the optimizer's (lars 1e-6, sgd 5e-4, adamw 0.01)"},
    {.flag = "--warmup-epochs", .key = "warmup_epochs", .type = VKC_OPT_FLOAT, FIELD(warmup_epochs), .min = 0,
     .max = 1e4, .def = "0.5", .flags = SAVED, .section = OPTIM, .metavar = "W",
     .help = "linear warm-up epochs, then cosine decay"},
    {.flag = "--temperature", .key = "temperature", .type = VKC_OPT_FLOAT, FIELD(temperature), .min = 1e-3, .max = 100,
     .def = "0.2", .flags = SAVED, .section = OPTIM, .metavar = "T", .help = "temperature of the loss"},
    {.flag = "--precision", .key = "precision", .type = VKC_OPT_ENUM, FIELD(precision), .names = vkc_precision_names,
     .def = "auto", .flags = SAVED | OPTIONAL | ENCODER, .section = OPTIM, .metavar = "P",
     .help = "what the encoder's activations and conv operands are stored in; weights, optimizer, loss and "
             "batch-norm statistics are float32 whatever it is",
     .missing = "fp32"},
    {.flag = "--loss", .key = "loss", .type = VKC_OPT_ENUM, FIELD(loss), .names = vkc_loss_names, .def = "ntxent",
     .flags = SAVED | OPTIONAL, .section = OPTIM, .metavar = "L", .help = "see docs/losses.md"},
    {.flag = "--nce-logz", .key = "nce_logz", .type = VKC_OPT_ENUM, FIELD(nce_learned_logz),
     .names = vkc_nce_logz_names, .def = "self", .flags = SAVED | OPTIONAL, .section = OPTIM, .metavar = "Z",
     .help = "how --loss nce treats log Z"},
    {.flag = "--tau-plus", .key = "tau_plus", .type = VKC_OPT_FLOAT, FIELD(tau_plus), .min = 0, .max = 1, .def = "0",
     .flags = SAVED | OPTIONAL, .section = OPTIM, .metavar = "P",
     .help = "dcl-debiased only: class prior in [0, 1), e.g. 0.1 for 10 balanced classes"},
    {.flag = "--preset", .key = "preset", .type = VKC_OPT_STRING, FIELD(preset), .def = "auto", .auto_name = "auto",
     .flags = SAVED, .section = DATA, .metavar = "P",
     .help = "augmentation preset: simclr, cifar, gray; auto = by image type"},
    {.flag = "--aug", .key = "aug", .type = VKC_OPT_STRING, FIELD(aug), .def = "", .flags = SAVED, .section = DATA,
     .metavar = "LIST", .help = "augmentation overrides, e.g. scale=0.2:1,blur_p=0.5 (see vkclr augment --help)"},
    /* At most 15 digits: cJSON writes numbers with 15 significant digits when that is "close
     * enough", which would round a larger seed in config.json. */
    {.flag = "--seed", .key = "seed", .type = VKC_OPT_U64, FIELD(seed), .min = 0, .max = 999999999999999.0, .def = "0",
     .flags = SAVED | ENCODER, .section = OPTIM, .metavar = "S",
     .help = "seed of initialisation, shuffling and augmentation"},
    {.flag = "--threads", .key = "threads", .type = VKC_OPT_INT, FIELD(threads), .min = 1, .max = 64, .def = "1",
     .flags = SAVED | RESUMABLE, .section = DATA, .metavar = "N",
     .help = "augmentation threads (results do not depend on it)"},
    {.flag = "--log-every", .key = "log_every", .type = VKC_OPT_INT, FIELD(log_every), .min = 1, .max = 1 << 30,
     .def = "10", .flags = SAVED | RESUMABLE, .section = RUN, .metavar = "N", .help = "steps per metrics line"},
    {.flag = "--knn-k", .key = "knn_k", .type = VKC_OPT_INT, FIELD(knn_k), .min = 0, .max = 100000, .def = "200",
     .flags = SAVED, .section = EVAL, .metavar = "K", .help = "kNN at the end: neighbours; 0 = skip"},
    {.flag = "--knn-temperature", .key = "knn_temperature", .type = VKC_OPT_FLOAT, FIELD(knn_temperature),
     .min = 1e-3, .max = 100, .def = "0.1", .flags = SAVED, .section = EVAL, .metavar = "T",
     .help = "kNN vote temperature"},
    {.flag = "--knn-bank", .key = "knn_bank", .type = VKC_OPT_INT, FIELD(knn_bank), .min = 0, .max = 1 << 30,
     .def = "10000", .flags = SAVED, .section = EVAL, .metavar = "N",
     .help = "training images in the kNN bank; 0 = all the probe's"},
    {.flag = "--knn-every", .key = "knn_every", .type = VKC_OPT_INT, FIELD(knn_every), .min = 0, .max = 1000000,
     .def = "0", .flags = SAVED | OPTIONAL, .section = EVAL, .metavar = "E",
     .help = "kNN monitor every E epochs (bank --knn-bank, first 2000 test images) "
             "into metrics.jsonl; 0 = never"},
    {.flag = "--probe-epochs", .key = "probe_epochs", .type = VKC_OPT_INT, FIELD(probe_epochs), .min = 0,
     .max = 100000, .def = "10", .flags = SAVED | OPTIONAL, .section = EVAL, .metavar = "N",
     .help = "linear probe at the end: epochs; 0 = skip"},
    {.flag = "--probe-limit", .key = "probe_limit", .type = VKC_OPT_INT, FIELD(probe_limit), .min = 0,
     .max = 1 << 30, .def = "0", .flags = SAVED | OPTIONAL, .section = EVAL, .metavar = "N",
     .help = "training images the probe learns from; 0 = the whole split"},
    {.key = "ranks", .type = VKC_OPT_INT, FIELD(ranks), .min = 1, .max = 1 << 20, .def = "1",
     .flags = SAVED | OPTIONAL, .section = DIST},
    {.flag = "--sync-bn", .key = "sync_bn", .type = VKC_OPT_SWITCH, FIELD(sync_bn), .min = 0, .max = 1, .def = "auto",
     .auto_name = "auto", .auto_value = -1, .flags = SAVED | OPTIONAL | VKC_OPT_NEGATABLE, .section = DIST,
     .help = "batch-norm statistics over all ranks (--no-sync-bn: per rank); auto = on with R > 1"},
    {.flag = "--device", .type = VKC_OPT_INT, FIELD(device), .min = 0, .max = 1000, .def = "auto",
     .auto_name = "auto", .auto_value = -1, .flags = RESUMABLE | ENCODER, .section = RUN, .metavar = "N",
     .help = "Vulkan device (see vkclr devices); auto = the first discrete GPU, else "
             "integrated, else CPU; under mpirun the node-local rank's"},
    {.flag = "--out", .type = VKC_OPT_STRING, FIELD(out), .def = "auto", .auto_name = "auto", .flags = RESUMABLE,
     .section = RUN, .metavar = "DIR",
     .help = "output directory; auto = a new runs/YYYYMMDD-HHMMSS, linked as runs/latest"},
    {.flag = "--snapshot-minutes", .type = VKC_OPT_STRING, FIELD(snapshots), .def = "", .flags = RESUMABLE,
     .section = RUN, .metavar = "LIST",
     .help = "also keep checkpoint-<T>min.safetensors after T minutes of training, for each T of the "
             "list (e.g. 5,10,30: the probe after T minutes; bench/quality_per_minute.sh)"},
    {.flag = "--profile", .type = VKC_OPT_SWITCH, FIELD(profile), .min = 0, .max = 1, .def = "off",
     .flags = RESUMABLE, .section = RUN, .help = "GPU timestamps around every kernel: time share per kernel class"},
    {.flag = "--quiet", .type = VKC_OPT_SWITCH, FIELD(quiet), .min = 0, .max = 1, .def = "off", .flags = RESUMABLE,
     .section = RUN, .help = "no progress output"},
    {.flag = "--force", .type = VKC_OPT_SWITCH, FIELD(force), .min = 0, .max = 1, .def = "off", .section = RUN,
     .help = "replace the run already in --out (without it such a directory is refused)"},
    {.flag = "--dump-steps", .type = VKC_OPT_INT, FIELD(dump_steps), .min = 0, .max = 1 << 20, .def = "0",
     .flags = RESUMABLE, .section = RUN, .metavar = "K",
     .help = "debugging and parity checks (tests/parity): write init.safetensors (the state before "
             "the first step), views.npy (float32 [K][2 x batch][C][H][W], the exact views of the first "
             "K steps) and steps/NNNNNN.safetensors (the state after each); one rank only"},
};
const int vkc_train_noptions = (int)(sizeof vkc_train_options / sizeof vkc_train_options[0]);
_Static_assert(sizeof vkc_train_options / sizeof vkc_train_options[0] <= VKC_MAX_OPTIONS, "raise VKC_MAX_OPTIONS");

const VkcOption *vkc_train_option(const char *flag)
{
    return vkc_options_find(vkc_train_options, vkc_train_noptions, flag);
}

VkcTrainConfig vkc_train_defaults(void)
{
    VkcTrainConfig c;
    memset(&c, 0, sizeof c);
    c.model = vkc_model_defaults();
    vkc_options_defaults(&c, vkc_train_options, vkc_train_noptions); /* every row has a valid default (test_options) */
    c.dist = (VkcDist){.rank = 0, .size = 1, .local_rank = 0, .local_size = 1, .mpi = false};
    c.context = (VkcContextOptions){.device_index = -1};
    return c;
}

static int option_index(const char *key)
{
    for (int i = 0; i < vkc_train_noptions; i++)
        if (vkc_train_options[i].key && !strcmp(vkc_train_options[i].key, key)) return i;
    return -1;
}

static bool given(const VkcGiven *g, const char *key) { return g && g->set[option_index(key)]; }

static bool learns_logz(const VkcLossRow *row) { return row->learns_logz; }
static bool takes_tau_plus(const VkcLossRow *row) { return row->takes_tau_plus; }

int vkc_config_check(const VkcTrainConfig *c, const VkcGiven *g)
{
    for (int i = 0; i < vkc_train_noptions; i++)
        if (vkc_option_check(c, &vkc_train_options[i])) return VKC_ERR;
    /* The loss's own parameters, as its row of vkc_losses says. */
    const VkcLossRow *row = vkc_loss_row(c->loss);
    const char *loss = vkc_loss_kind_name(c->loss);
    char users[128];
    if (!row->learns_logz && (c->nce_learned_logz || given(g, "nce_logz"))) {
        vkc_loss_names_with(learns_logz, users, sizeof users);
        return vkc_fail("--nce-logz is only used by --loss %s, not %s (the %s loss has no log Z to learn)", users, loss,
                        loss);
    }
    if (!row->takes_tau_plus && (c->tau_plus != 0.0f || given(g, "tau_plus"))) {
        vkc_loss_names_with(takes_tau_plus, users, sizeof users);
        return vkc_fail("--tau-plus is only used by --loss %s, not %s", users, loss);
    }
    if (row->takes_tau_plus && g && !given(g, "tau_plus"))
        return vkc_fail("--loss %s needs --tau-plus P, the probability that a negative shares the anchor's class (e.g. "
                        "0.1 for 10 balanced classes)", loss);
    if (row->takes_tau_plus && !(c->tau_plus < 1.0f))
        return vkc_fail("--tau-plus must be below 1 (at 1 every negative would be a false one)");
    if (c->model.encoder == VKC_ENCODER_CONVNET && c->model.stem == VKC_STEM_IMAGENET)
        return vkc_fail("--stem imagenet is a ResNet's: the convnet has no stem to choose");
    if (vkc_config_snapshots(c, NULL, 0) < 0) return VKC_ERR;
    if (c->stop_after && c->stop_after >= c->epochs)
        return vkc_fail("--stop-after %d must be less than --epochs %d", c->stop_after, c->epochs);
    return VKC_OK;
}

VkcDataLimits vkc_config_data_limits(const VkcTrainConfig *c)
{
    return (VkcDataLimits){.max_image_pixels = c->max_image_pixels,
                           .max_bytes = (uint64_t)((double)c->max_data_gib * (double)(1u << 30)),
                           .skip_bad = c->skip_bad};
}

#define MAX_SNAPSHOTS 32

int vkc_config_snapshots(const VkcTrainConfig *c, double *minutes, int max)
{
    int n = 0;
    double last = 0;
    for (const char *p = c->snapshots; *p;) {
        size_t span = vkc_decimal_span(p, false);
        const char *end = p + span;
        double v = span ? strtod(p, NULL) : NAN;
        if (!span || !isfinite(v) || v <= last || v > 1e6 || (*end && *end != ','))
            return vkc_fail("--snapshot-minutes '%s': expected increasing positive minutes separated by commas",
                            c->snapshots);
        if (n == MAX_SNAPSHOTS) return vkc_fail("--snapshot-minutes: at most %d snapshots", MAX_SNAPSHOTS);
        if (minutes && n < max) minutes[n] = v;
        n++;
        last = v;
        p = *end ? end + 1 : end;
    }
    return n;
}

/* ---------------------------------------------------------------- config.json */

char *vkc_config_to_json(const VkcTrainConfig *c, bool pretty)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    for (int i = 0; i < vkc_train_noptions; i++) {
        const VkcOption *o = &vkc_train_options[i];
        if (!(o->flags & VKC_OPT_SAVED)) continue;
        int v = vkc_option_int(c, o);
        switch (o->type) {
        case VKC_OPT_STRING: cJSON_AddStringToObject(j, o->key, vkc_option_field(c, o)); break;
        case VKC_OPT_ENUM: cJSON_AddStringToObject(j, o->key, vkc_name_of(o->names, v)); break;
        case VKC_OPT_SWITCH: /* true, false, or the automatic value by its name ("auto") */
            if (o->auto_name && v == (int)o->auto_value) cJSON_AddStringToObject(j, o->key, o->auto_name);
            else cJSON_AddBoolToObject(j, o->key, v == 1);
            break;
        default: cJSON_AddNumberToObject(j, o->key, vkc_option_number(c, o));
        }
    }
    char *s = pretty ? cJSON_Print(j) : cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

/* One saved option from its JSON value. */
static int option_from_json(VkcTrainConfig *c, const VkcOption *o, const cJSON *v, const char *label)
{
    switch (o->type) {
    case VKC_OPT_STRING:
        if (!cJSON_IsString(v)) return vkc_fail("%s is not a string", label);
        if (strlen(v->valuestring) >= o->size) return vkc_fail("%s is too long", label);
        memcpy(vkc_option_field(c, o), v->valuestring, strlen(v->valuestring) + 1);
        return VKC_OK;
    case VKC_OPT_ENUM: {
        int k;
        if (!cJSON_IsString(v)) return vkc_fail("%s is not a string", label);
        if (vkc_name_parse(o->names, o->key, v->valuestring, &k)) return vkc_fail_context("%s", label);
        vkc_option_set_int(c, o, k);
        return VKC_OK;
    }
    case VKC_OPT_SWITCH:
        if (o->auto_name && cJSON_IsString(v) && !strcmp(v->valuestring, o->auto_name)) {
            vkc_option_set_int(c, o, (int)o->auto_value);
            return VKC_OK;
        }
        if (!cJSON_IsBool(v)) return vkc_fail("%s is not true or false%s%s", label, o->auto_name ? " or " : "",
                                              o->auto_name ? o->auto_name : "");
        vkc_option_set_int(c, o, cJSON_IsTrue(v));
        return VKC_OK;
    default:
        if (!cJSON_IsNumber(v)) return vkc_fail("%s is not a number", label);
        return vkc_option_set_number(c, o, label, v->valuedouble);
    }
}

int vkc_config_from_json(const char *text, const char *origin, VkcTrainConfig *c)
{
    cJSON *j = cJSON_Parse(text);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return vkc_fail("%s: the configuration is not a JSON object", origin);
    }
    if (vkc_json_check_unique(j, origin)) {
        cJSON_Delete(j);
        return VKC_ERR;
    }
    *c = vkc_train_defaults();
    int rc = VKC_OK;
    for (int i = 0; i < vkc_train_noptions && !rc; i++) {
        const VkcOption *o = &vkc_train_options[i];
        if (!(o->flags & VKC_OPT_SAVED)) continue;
        char label[1200];
        snprintf(label, sizeof label, "%.1000s: configuration key '%s'", origin, o->key);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, o->key);
        if (!v && !(o->flags & VKC_OPT_OPTIONAL)) rc = vkc_fail("%s is missing", label);
        else if (v) rc = option_from_json(c, o, v, label);
        else if (o->missing) rc = vkc_option_set(c, o, o->missing);
    }
    cJSON_Delete(j);
    if (!rc && vkc_config_check(c, NULL)) rc = vkc_fail_context("%s", origin);
    c->model.loss_logz = vkc_loss_learns_logz(c->loss, c->nce_learned_logz);
    return rc;
}

int vkc_config_read(const char *path, VkcTrainConfig *c)
{
    FILE *f = vkc_fopen_regular(path, "rb");
    if (!f) return errno == EINVAL ? VKC_ERR : vkc_fail("cannot open %s: %s", path, strerror(errno));
    enum { MAX = 1 << 20 };
    char *text = malloc(MAX + 1);
    size_t n = text ? fread(text, 1, MAX + 1, f) : 0;
    bool bad = ferror(f);
    fclose(f);
    int rc = VKC_OK;
    if (!text) rc = vkc_fail("out of host memory reading %s", path);
    else if (bad) rc = vkc_fail("%s: read error", path);
    else if (n > MAX) rc = vkc_fail("%s: larger than %d bytes: not a vkclr config.json", path, MAX);
    if (rc == VKC_OK) {
        text[n] = 0;
        if (strlen(text) != n) rc = vkc_fail("%s: a NUL byte: not a vkclr config.json", path);
        else rc = vkc_config_from_json(text, path, c);
    }
    free(text);
    return rc;
}
