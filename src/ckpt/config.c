/* The option table of a training run (vkclr/config.h) and config.json. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vkclr/config.h"

const VkcName vkc_lr_scaling_names[] = {{"linear", VKC_LR_LINEAR}, {"sqrt", VKC_LR_SQRT}, {0, 0}};
const VkcName vkc_precision_names[] = {{"fp32", VKC_F32}, {"fp16", VKC_F16}, {"bf16", VKC_BF16}, {"auto", -1}, {0, 0}};
/* --stem: auto (-1) is resolved by the run (imagenet for a ResNet at 64 px and more, else cifar) */
static const VkcName stem_names[] = {{"cifar", VKC_STEM_CIFAR}, {"imagenet", VKC_STEM_IMAGENET}, {"auto", -1}, {0, 0}};

#define FIELD(f) offsetof(VkcTrainConfig, f), sizeof(((VkcTrainConfig *)0)->f)
#define SAVED VKC_OPT_SAVED
#define RESUMABLE VKC_OPT_RESUMABLE
#define ENCODER VKC_OPT_ENCODER
#define OPTIONAL VKC_OPT_OPTIONAL
#define NEGATABLE VKC_OPT_NEGATABLE
#define INT VKC_OPT_INT
#define FLOAT VKC_OPT_FLOAT
#define STRING VKC_OPT_STRING
#define ENUM VKC_OPT_ENUM
#define SWITCH VKC_OPT_SWITCH

static const char DATA[] = "data", MODEL[] = "model", OPTIM[] = "optimisation", RUN[] = "run",
                  EVAL[] = "evaluation (of the encoder's features in eval mode; see vkclr probe --help)",
                  DIST[] = "several GPUs or nodes (mpirun -np R vkclr train ...; see README)";
static const char *const sections[] = {DATA, MODEL, OPTIM, RUN, EVAL, DIST};

/* Saved rows appear in config.json in this order. */
const VkcOption vkc_train_options[] = {
    {"--data", "data", STRING, FIELD(data), 0, 0, NULL, "fashion-mnist", NULL, 0, SAVED | ENCODER, DATA, "SPEC",
     "fashion-mnist, idx:DIR, mnist:DIR, cifar10:DIR, cifar100:DIR, stl10:DIR,\n"
     "folder:DIR (DIR/train/<class>/, DIR/test/<class>/: JPEG and PNG files),\n"
     "images:DIR (every JPEG and PNG file under DIR, no labels),\n"
     "synthetic:HxWxC[:N[:SEED]] (random noise, for benchmarks)", NULL},
    {"--eval-data", "eval_data", STRING, FIELD(eval_data), 0, 0, NULL, "", NULL, 0,
     SAVED | OPTIONAL | RESUMABLE | ENCODER, DATA, "SPEC",
     "labelled data for the linear probe and kNN (its train and test splits), e.g. when\n"
     "--data has no labels; none = --data's", NULL},
    {"--limit", "limit", INT, FIELD(limit), 0, 1 << 30, NULL, "0", NULL, 0, SAVED, DATA, "N",
     "train on the first N training images; 0 = all", NULL},
    {"--image-size", "image_size", INT, FIELD(image_size), 8, 4096, NULL, "auto", "auto", 0, SAVED | OPTIONAL, DATA, "S",
     "train on S x S views: random crops of each image at its own resolution resized to S;\n"
     "evaluation resizes the shorter side to S and crops the centre; auto = the data's image\n"
     "size (mixed sizes: the median shorter side, at most 224)", NULL},
    {"--skip-bad", "skip_bad", SWITCH, FIELD(skip_bad), 0, 1, NULL, "off", NULL, 0, SAVED | OPTIONAL | ENCODER, DATA,
     NULL,
     "leave out files that cannot be images (empty, truncated, corrupt, not JPEG or PNG,\n"
     "unreadable) and list them in the run directory's skipped-files.txt; without it they stop\n"
     "the run before it starts", NULL},
    /* Decompression bombs: checked from the files' headers before anything is decoded. */
    {"--max-image-pixels", NULL, VKC_OPT_U64, FIELD(max_image_pixels), 1, 4294967296.0, NULL, "67108864", NULL, 0,
     RESUMABLE | ENCODER, DATA, "N", "refuse an image of more pixels (8192 x 8192), from its header", NULL},
    {"--max-data-gib", NULL, FLOAT, FIELD(max_data_gib), 0.001, 1e6, NULL, "16", NULL, 0, RESUMABLE | ENCODER, DATA,
     "G", "refuse data that would take more memory (GiB), before reading it", NULL},
    {"--encoder", "encoder", ENUM, FIELD(model.encoder), 0, 0, vkc_encoder_names, "convnet", NULL, 0, SAVED | ENCODER,
     MODEL, "E", "convnet, resnet10, resnet18, resnet34", NULL},
    {"--stem", "stem", ENUM, FIELD(model.stem), 0, 0, stem_names, "auto", NULL, 0, SAVED | OPTIONAL | ENCODER, MODEL, "S",
     "ResNet stem: cifar (3x3 conv) or imagenet (7x7/2 conv, BN, ReLU, 3x3/2 max-pool);\n"
     "auto = imagenet at --image-size 64 and more, else cifar", "cifar"},
    {"--width", "width", INT, FIELD(model.width), 1, VKC_MODEL_WIDTH_MAX, NULL, "16", NULL, 0, SAVED | ENCODER, MODEL,
     "W", "convnet: first block's channels; resnet: first stage's (64 = standard)", NULL},
    {"--head-layers", "head_layers", INT, FIELD(model.head_layers), 2, 3, NULL, "2", NULL, 0, SAVED, MODEL, "L",
     "projection head depth, 2 or 3", NULL},
    {"--head-hidden", "head_hidden", INT, FIELD(model.head_hidden), 1, VKC_MODEL_HEAD_HIDDEN_MAX, NULL, "auto", "auto",
     0, SAVED, MODEL, "H", "head hidden width; auto (or 0) = the encoder's feature width", NULL},
    {"--out-dim", "out_dim", INT, FIELD(model.out_dim), 1, VKC_MODEL_OUT_DIM_MAX, NULL, "128", NULL, 0, SAVED, MODEL,
     "D", "projection output dimension", NULL},
    {NULL, "image_channels", INT, FIELD(model.channels), 1, 3, NULL, "1", NULL, 0, SAVED, MODEL, NULL, NULL, NULL},
    {NULL, "image_height", INT, FIELD(model.height), 1, 65536, NULL, "28", NULL, 0, SAVED, MODEL, NULL, NULL, NULL},
    {NULL, "image_width", INT, FIELD(model.width_px), 1, 65536, NULL, "28", NULL, 0, SAVED, MODEL, NULL, NULL, NULL},
    {"--batch", "batch", INT, FIELD(batch), 2, 1 << 20, NULL, "128", NULL, 0, SAVED, OPTIM, "B",
     "images per step, each gives 2 views", NULL},
    {"--epochs", "epochs", INT, FIELD(epochs), 1, 1 << 20, NULL, "2", NULL, 0, SAVED | RESUMABLE, OPTIM, "E",
     "epochs of the schedule (a resumed run may lengthen it)", NULL},
    {"--stop-after", NULL, INT, FIELD(stop_after), 1, 1 << 20, NULL, "none", "none", 0, RESUMABLE, OPTIM, "E",
     "stop after E epochs with a checkpoint (resume later with --resume)", NULL},
    {"--optimizer", "optimizer", ENUM, FIELD(optimizer), 0, 0, vkc_optim_names, "adamw", NULL, 0, SAVED, OPTIM, "O",
     "lars, sgd, adamw", NULL},
    {"--lr", "lr", FLOAT, FIELD(lr), 1e-9, 1e3, NULL, "auto", "auto", 0, SAVED, OPTIM, "LR",
     "base learning rate; auto = adamw 2e-3 (sqrt scaling: 1.25e-4); lars, sgd 0.3 (0.075)", NULL},
    {"--lr-scaling", "lr_scaling", ENUM, FIELD(lr_scaling), 0, 0, vkc_lr_scaling_names, "linear", NULL, 0, SAVED, OPTIM,
     "S", "linear: peak = lr * batch / 256; sqrt: peak = lr * sqrt(batch)", NULL},
    {"--weight-decay", "weight_decay", FLOAT, FIELD(weight_decay), 0, 1, NULL, "auto", "auto", -1, SAVED, OPTIM, "WD",
     "auto = the optimizer's (lars 1e-6, sgd 5e-4, adamw 0.01)", NULL},
    {"--warmup-epochs", "warmup_epochs", FLOAT, FIELD(warmup_epochs), 0, 1e4, NULL, "0.5", NULL, 0, SAVED, OPTIM, "W",
     "linear warm-up epochs, then cosine decay", NULL},
    {"--temperature", "temperature", FLOAT, FIELD(temperature), 1e-3, 100, NULL, "0.2", NULL, 0, SAVED, OPTIM, "T",
     "temperature of the loss", NULL},
    {"--precision", "precision", ENUM, FIELD(precision), 0, 0, vkc_precision_names, "auto", NULL, 0,
     SAVED | OPTIONAL | ENCODER, OPTIM, "P",
     "fp32, bf16 or fp16: 16-bit encoder activations and conv operands, float32 weights,\n"
     "optimizer, loss and batch-norm statistics (fp16 with a dynamic loss scale); auto = bf16 or\n"
     "fp16 where the device has cooperative matrices for it, else fp32",
     "fp32"},
    {"--loss", "loss", ENUM, FIELD(loss), 0, 0, vkc_loss_names, "ntxent", NULL, 0, SAVED | OPTIONAL, OPTIM, "L",
     "ntxent (infonce is the same loss), nce (local NCE), dcl (decoupled),\n"
     "dcl-debiased (Chuang et al.; needs --tau-plus); see docs/losses.md", NULL},
    {"--nce-logz", "nce_logz", ENUM, FIELD(nce_learned_logz), 0, 0, vkc_nce_logz_names, "self", NULL, 0,
     SAVED | OPTIONAL, OPTIM, "Z", "nce only: self (log Z = 0, self-normalised) or learned (a trained scalar)", NULL},
    {"--tau-plus", "tau_plus", FLOAT, FIELD(tau_plus), 0, 1, NULL, "0", NULL, 0, SAVED | OPTIONAL, OPTIM, "P",
     "dcl-debiased only: class prior in [0, 1), e.g. 0.1 for 10 balanced classes", NULL},
    {"--preset", "preset", STRING, FIELD(preset), 0, 0, NULL, "auto", "auto", 0, SAVED, DATA, "P",
     "augmentation preset: simclr, cifar, gray; auto = by image type", NULL},
    {"--aug", "aug", STRING, FIELD(aug), 0, 0, NULL, "", NULL, 0, SAVED, DATA, "LIST",
     "augmentation overrides, e.g. scale=0.2:1,blur_p=0.5 (see vkclr augment --help)", NULL},
    /* At most 15 digits: cJSON writes numbers with 15 significant digits when that is "close
     * enough", which would round a larger seed in config.json. */
    {"--seed", "seed", VKC_OPT_U64, FIELD(seed), 0, 999999999999999.0, NULL, "0", NULL, 0, SAVED | ENCODER, OPTIM, "S",
     "seed of initialisation, shuffling and augmentation", NULL},
    {"--threads", "threads", INT, FIELD(threads), 1, 64, NULL, "1", NULL, 0, SAVED | RESUMABLE, DATA, "N",
     "augmentation threads (results do not depend on it)", NULL},
    {"--log-every", "log_every", INT, FIELD(log_every), 1, 1 << 30, NULL, "10", NULL, 0, SAVED | RESUMABLE, RUN, "N",
     "steps per metrics line", NULL},
    {"--knn-k", "knn_k", INT, FIELD(knn_k), 0, 100000, NULL, "200", NULL, 0, SAVED, EVAL, "K",
     "kNN at the end: neighbours; 0 = skip", NULL},
    {"--knn-temperature", "knn_temperature", FLOAT, FIELD(knn_temperature), 1e-3, 100, NULL, "0.1", NULL, 0, SAVED, EVAL,
     "T", "kNN vote temperature", NULL},
    {"--knn-bank", "knn_bank", INT, FIELD(knn_bank), 0, 1 << 30, NULL, "10000", NULL, 0, SAVED, EVAL, "N",
     "training images in the kNN bank; 0 = all the probe's", NULL},
    {"--knn-every", "knn_every", INT, FIELD(knn_every), 0, 1000000, NULL, "0", NULL, 0, SAVED | OPTIONAL, EVAL, "E",
     "kNN monitor every E epochs (bank --knn-bank, first 2000 test images)\n"
     "into metrics.jsonl; 0 = never", NULL},
    {"--probe-epochs", "probe_epochs", INT, FIELD(probe_epochs), 0, 100000, NULL, "10", NULL, 0, SAVED | OPTIONAL, EVAL,
     "N", "linear probe at the end: epochs; 0 = skip", NULL},
    {"--probe-limit", "probe_limit", INT, FIELD(probe_limit), 0, 1 << 30, NULL, "0", NULL, 0, SAVED | OPTIONAL, EVAL,
     "N", "training images the probe learns from; 0 = the whole split", NULL},
    {NULL, "ranks", INT, FIELD(ranks), 1, 1 << 20, NULL, "1", NULL, 0, SAVED | OPTIONAL, DIST, NULL, NULL, NULL},
    {"--sync-bn", "sync_bn", SWITCH, FIELD(sync_bn), 0, 1, NULL, "auto", "auto", -1, SAVED | OPTIONAL | NEGATABLE, DIST,
     NULL, "batch-norm statistics over all ranks (--no-sync-bn: per rank); auto = on with R > 1", NULL},
    {"--device", NULL, INT, FIELD(device), 0, 1000, NULL, "auto", "auto", -1, RESUMABLE | ENCODER, RUN, "N",
     "Vulkan device (see vkclr devices); auto = the first discrete GPU, else\n"
     "integrated, else CPU; under mpirun the node-local rank's", NULL},
    {"--out", NULL, STRING, FIELD(out), 0, 0, NULL, "auto", "auto", 0, RESUMABLE, RUN, "DIR",
     "output directory; auto = a new runs/YYYYMMDD-HHMMSS, linked as runs/latest", NULL},
    {"--snapshot-minutes", NULL, STRING, FIELD(snapshots), 0, 0, NULL, "", NULL, 0, RESUMABLE, RUN, "LIST",
     "also keep checkpoint-<T>min.safetensors after T minutes of training, for each T of the\n"
     "list (e.g. 5,10,30: the probe after T minutes; bench/quality_per_minute.sh)", NULL},
    {"--profile", NULL, SWITCH, FIELD(profile), 0, 1, NULL, "off", NULL, 0, RESUMABLE, RUN, NULL,
     "GPU timestamps around every kernel: time share per kernel class", NULL},
    {"--quiet", NULL, SWITCH, FIELD(quiet), 0, 1, NULL, "off", NULL, 0, RESUMABLE, RUN, NULL, "no progress output", NULL},
    {"--force", NULL, SWITCH, FIELD(force), 0, 1, NULL, "off", NULL, 0, 0, RUN, NULL,
     "replace the run already in --out (without it such a directory is refused)", NULL},
    {"--dump-steps", NULL, INT, FIELD(dump_steps), 0, 1 << 20, NULL, "0", NULL, 0, RESUMABLE, RUN, "K",
     "debugging and parity checks (tests/parity): write init.safetensors (the state before\n"
     "the first step), views.npy (float32 [K][2 x batch][C][H][W], the exact views of the first\n"
     "K steps) and steps/NNNNNN.safetensors (the state after each); one rank only", NULL},
};
const int vkc_train_noptions = (int)(sizeof vkc_train_options / sizeof vkc_train_options[0]);
_Static_assert(sizeof vkc_train_options / sizeof vkc_train_options[0] <= VKC_MAX_OPTIONS, "raise VKC_MAX_OPTIONS");

/* ---------------------------------------------------------------- fields */

static void *field(VkcTrainConfig *c, const VkcOption *o) { return (char *)c + o->offset; }
static const void *cfield(const VkcTrainConfig *c, const VkcOption *o) { return (const char *)c + o->offset; }

/* Integer-like fields (INT, ENUM, SWITCH) are int or bool sized. */
static void set_int(VkcTrainConfig *c, const VkcOption *o, int v)
{
    if (o->size == sizeof(bool)) *(bool *)field(c, o) = v != 0;
    else *(int *)field(c, o) = v;
}

static int get_int(const VkcTrainConfig *c, const VkcOption *o)
{
    return o->size == sizeof(bool) ? (int)*(const bool *)cfield(c, o) : *(const int *)cfield(c, o);
}

/* The field as a number (strings: 0). */
static double get_number(const VkcTrainConfig *c, const VkcOption *o)
{
    switch (o->type) {
    case VKC_OPT_U64: return (double)*(const uint64_t *)cfield(c, o);
    case VKC_OPT_FLOAT: return *(const float *)cfield(c, o);
    case VKC_OPT_STRING: return 0;
    default: return get_int(c, o);
    }
}

/* Store a number already checked against the range. */
static void set_number(VkcTrainConfig *c, const VkcOption *o, double v)
{
    switch (o->type) {
    case VKC_OPT_U64: *(uint64_t *)field(c, o) = (uint64_t)v; break;
    case VKC_OPT_FLOAT: *(float *)field(c, o) = (float)v; break;
    case VKC_OPT_STRING: break;
    default: set_int(c, o, (int)v);
    }
}

/* Is v a value this numeric option may hold? `label` names the flag or key in the message. */
static int check_number(const VkcOption *o, const char *label, double v)
{
    if (o->auto_name && v == o->auto_value) return VKC_OK;
    if (!isfinite(v)) return vkc_fail("%s: %g is not a finite number", label, v);
    if (o->type != VKC_OPT_FLOAT && v != floor(v)) return vkc_fail("%s: %.17g is not an integer", label, v);
    if (v < o->min || v > o->max) return vkc_fail("%s: %.17g is out of range [%.17g, %.17g]", label, v, o->min, o->max);
    return VKC_OK;
}

static const char *label_of(const VkcOption *o) { return o->flag ? o->flag : o->key; }

/* ---------------------------------------------------------------- the table's operations */

const VkcOption *vkc_option_find(const char *flag)
{
    for (int i = 0; i < vkc_train_noptions; i++) {
        const VkcOption *o = &vkc_train_options[i];
        if (!o->flag) continue;
        if (!strcmp(flag, o->flag)) return o;
        if ((o->flags & VKC_OPT_NEGATABLE) && !strncmp(flag, "--no-", 5) && !strcmp(flag + 5, o->flag + 2)) return o;
    }
    return NULL;
}

int vkc_option_set(VkcTrainConfig *c, const VkcOption *o, const char *text)
{
    const char *label = label_of(o);
    if (o->type == VKC_OPT_SWITCH) {
        set_int(c, o, !(text && !strcmp(text, "no")));
        return VKC_OK;
    }
    if (!text) return vkc_fail("%s needs a value", label);
    if (o->auto_name && !strcmp(text, o->auto_name)) {
        if (o->type == VKC_OPT_STRING) ((char *)field(c, o))[0] = 0;
        else set_number(c, o, o->auto_value);
        return VKC_OK;
    }
    switch (o->type) {
    case VKC_OPT_STRING:
        if (strlen(text) >= o->size) return vkc_fail("%s: value too long (at most %zu characters)", label, o->size - 1);
        if (!text[0] && !o->auto_name && o->def[0]) return vkc_fail("%s: empty value", label);
        memcpy(field(c, o), text, strlen(text) + 1);
        return VKC_OK;
    case VKC_OPT_ENUM: {
        int v;
        const char *what = o->key ? o->key : label;
        char noun[32];
        snprintf(noun, sizeof noun, "%s", what);
        for (char *p = noun; *p; p++)
            if (*p == '_') *p = ' ';
        if (vkc_name_parse(o->names, noun, text, &v)) return vkc_fail_context("%s", label);
        set_int(c, o, v);
        return VKC_OK;
    }
    default: {
        char *end;
        errno = 0;
        double v = strtod(text, &end);
        if (errno == ERANGE || end == text || *end || !isfinite(v)) {
            if (o->type == VKC_OPT_FLOAT) return vkc_fail("%s: '%s' is not a number", label, text);
            return vkc_fail("%s: '%s' is not an integer", label, text);
        }
        if (check_number(o, label, v)) return VKC_ERR;
        set_number(c, o, v);
        return VKC_OK;
    }
    }
}

void vkc_option_format(const VkcTrainConfig *c, const VkcOption *o, char *buf, size_t size)
{
    double v = get_number(c, o);
    if (o->type == VKC_OPT_STRING) {
        const char *s = cfield(c, o);
        snprintf(buf, size, "%s", !s[0] && o->auto_name ? o->auto_name : s);
    } else if (o->auto_name && v == o->auto_value) {
        snprintf(buf, size, "%s", o->auto_name);
    } else if (o->type == VKC_OPT_ENUM) {
        snprintf(buf, size, "%s", vkc_name_of(o->names, get_int(c, o)));
    } else if (o->type == VKC_OPT_SWITCH) {
        snprintf(buf, size, "%s", v ? "on" : "off");
    } else {
        snprintf(buf, size, "%.9g", v);
    }
}

int vkc_option_check(const VkcTrainConfig *c, const VkcOption *o)
{
    const char *label = label_of(o);
    switch (o->type) {
    case VKC_OPT_STRING:
        if (!memchr(cfield(c, o), 0, o->size)) return vkc_fail("%s: value too long", label);
        return VKC_OK;
    case VKC_OPT_ENUM:
        if (!strcmp(vkc_name_of(o->names, get_int(c, o)), "?"))
            return vkc_fail("%s: no such value (%d)", label, get_int(c, o));
        return VKC_OK;
    case VKC_OPT_SWITCH: {
        int v = get_int(c, o);
        if (v != 0 && v != 1 && !(o->auto_name && v == o->auto_value)) return vkc_fail("%s: %d is not on or off", label, v);
        return VKC_OK;
    }
    default: return check_number(o, label, get_number(c, o));
    }
}

void vkc_option_copy(VkcTrainConfig *dst, const VkcTrainConfig *src, const VkcOption *o)
{
    memcpy(field(dst, o), cfield(src, o), o->size);
}

bool vkc_option_equal(const VkcTrainConfig *a, const VkcTrainConfig *b, const VkcOption *o)
{
    if (o->type == VKC_OPT_STRING) return !strcmp(cfield(a, o), cfield(b, o));
    return get_number(a, o) == get_number(b, o);
}

void vkc_options_help(FILE *out, bool (*accept)(const VkcOption *o))
{
    for (size_t s = 0; s < sizeof sections / sizeof sections[0]; s++) {
        bool heading = false;
        for (int i = 0; i < vkc_train_noptions; i++) {
            const VkcOption *o = &vkc_train_options[i];
            if (o->section != sections[s] || !o->flag || (accept && !accept(o))) continue;
            if (!heading) fprintf(out, "%s\n", sections[s]);
            heading = true;
            char left[64];
            if (o->flags & VKC_OPT_NEGATABLE) snprintf(left, sizeof left, "%s, --no-%s", o->flag, o->flag + 2);
            else snprintf(left, sizeof left, "%s%s%s", o->flag, o->metavar ? " " : "", o->metavar ? o->metavar : "");
            fprintf(out, "  %-20s ", left);
            for (const char *p = o->help; *p; p++) {
                fputc(*p, out);
                if (*p == '\n') fprintf(out, "%23s", "");
            }
            if (o->type != VKC_OPT_SWITCH || o->auto_name) fprintf(out, " (default %s)", o->def[0] ? o->def : "none");
            fputc('\n', out);
        }
    }
}

VkcTrainConfig vkc_train_defaults(void)
{
    VkcTrainConfig c;
    memset(&c, 0, sizeof c);
    c.model = vkc_model_defaults();
    for (int i = 0; i < vkc_train_noptions; i++) {
        const VkcOption *o = &vkc_train_options[i];
        if (o->type == VKC_OPT_SWITCH) set_int(&c, o, o->auto_name && !strcmp(o->def, o->auto_name) ? (int)o->auto_value : 0);
        else if (vkc_option_set(&c, o, o->def)) vkc_fail("the default of %s is not valid", label_of(o)); /* a table bug */
    }
    c.dist = (VkcDist){.rank = 0, .size = 1, .local_rank = 0, .local_size = 1, .mpi = false};
    return c;
}

static int option_index(const char *key)
{
    for (int i = 0; i < vkc_train_noptions; i++)
        if (vkc_train_options[i].key && !strcmp(vkc_train_options[i].key, key)) return i;
    return -1;
}

static bool given(const VkcGiven *g, const char *key) { return g && g->set[option_index(key)]; }

int vkc_config_check(const VkcTrainConfig *c, const VkcGiven *g)
{
    for (int i = 0; i < vkc_train_noptions; i++)
        if (vkc_option_check(c, &vkc_train_options[i])) return VKC_ERR;
    const char *loss = vkc_loss_kind_name(c->loss);
    if (c->loss != VKC_LOSS_NCE && (c->nce_learned_logz || given(g, "nce_logz")))
        return vkc_fail("--nce-logz is only used by --loss nce, not %s (the %s loss has no log Z to learn)", loss, loss);
    if (c->loss != VKC_LOSS_DCL_DEBIASED && (c->tau_plus != 0.0f || given(g, "tau_plus")))
        return vkc_fail("--tau-plus is only used by --loss dcl-debiased, not %s", loss);
    if (c->loss == VKC_LOSS_DCL_DEBIASED && g && !given(g, "tau_plus"))
        return vkc_fail("--loss dcl-debiased needs --tau-plus P, the probability that a negative shares the anchor's "
                        "class (e.g. 0.1 for 10 balanced classes)");
    if (c->loss == VKC_LOSS_DCL_DEBIASED && !(c->tau_plus < 1.0f))
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
        char *end;
        double v = strtod(p, &end);
        if (end == p || !isfinite(v) || v <= last || v > 1e6 || (*end && *end != ','))
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
        switch (o->type) {
        case VKC_OPT_STRING: cJSON_AddStringToObject(j, o->key, cfield(c, o)); break;
        case VKC_OPT_ENUM: cJSON_AddStringToObject(j, o->key, vkc_name_of(o->names, get_int(c, o))); break;
        case VKC_OPT_SWITCH: /* true, false, or the automatic value by its name ("auto") */
            if (o->auto_name && get_int(c, o) == (int)o->auto_value) cJSON_AddStringToObject(j, o->key, o->auto_name);
            else cJSON_AddBoolToObject(j, o->key, get_int(c, o) == 1);
            break;
        default: cJSON_AddNumberToObject(j, o->key, get_number(c, o));
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
        memcpy(field(c, o), v->valuestring, strlen(v->valuestring) + 1);
        return VKC_OK;
    case VKC_OPT_ENUM: {
        int k;
        if (!cJSON_IsString(v)) return vkc_fail("%s is not a string", label);
        if (vkc_name_parse(o->names, o->key, v->valuestring, &k)) return vkc_fail_context("%s", label);
        set_int(c, o, k);
        return VKC_OK;
    }
    case VKC_OPT_SWITCH:
        if (o->auto_name && cJSON_IsString(v) && !strcmp(v->valuestring, o->auto_name)) {
            set_int(c, o, (int)o->auto_value);
            return VKC_OK;
        }
        if (!cJSON_IsBool(v)) return vkc_fail("%s is not true or false%s%s", label, o->auto_name ? " or " : "",
                                              o->auto_name ? o->auto_name : "");
        set_int(c, o, cJSON_IsTrue(v));
        return VKC_OK;
    default:
        if (!cJSON_IsNumber(v)) return vkc_fail("%s is not a number", label);
        if (check_number(o, label, v->valuedouble)) return VKC_ERR;
        set_number(c, o, v->valuedouble);
        return VKC_OK;
    }
}

int vkc_config_from_json(const char *text, const char *origin, VkcTrainConfig *c)
{
    cJSON *j = cJSON_Parse(text);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return vkc_fail("%s: the configuration is not a JSON object", origin);
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
    c->model.loss_logz = c->loss == VKC_LOSS_NCE && c->nce_learned_logz;
    return rc;
}
