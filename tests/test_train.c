/* vkclr train: learning, determinism, checkpoints and resume, signals, NaN detection, and the
 * command line's errors. Tiny runs (a convnet of width 4 on 128-256 Fashion-MNIST images) so
 * the whole file takes well under a minute on lavapipe.
 *
 * argv[1]: path of the built vkclr binary (for the command-line tests). */
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "fixtures.h"
#include "vkclr/data.h"
#include "vkclr/interrupt.h"
#include "vkclr/train.h"

static const char *vkclr_binary;

#define MAX_STEPS 64

typedef struct {
    int n;
    float loss[MAX_STEPS + 1]; /* by step number (1-based) */
    int64_t raise_at;          /* raise SIGTERM after this step (0: never) */
} Losses;

static void record(void *user, int64_t step, float loss, float accuracy)
{
    (void)accuracy;
    Losses *l = user;
    if (step <= MAX_STEPS) l->loss[step] = loss;
    l->n++;
    if (l->raise_at && step == l->raise_at) raise(SIGTERM);
}

static VkcTrainConfig tiny(const char *out, int limit, int epochs)
{
    VkcTrainConfig c = fixture_tiny_run(out, 32, epochs, 4, 32); /* evaluation has its own test below */
    c.limit = limit;
    c.optimizer = VKC_OPTIM_LARS; /* the learning rates these tests set are LARS's */
    c.warmup_epochs = 1;
    c.log_every = 1;
    return c;
}

static void run_ok(const VkcTrainConfig *c, const char *resume, Losses *l, VkcTrainResult *res)
{
    if (vkc_train_run(c, resume, record, l, res)) fail_msg("training failed: %s", vkc_error());
    assert_int_equal(res->validation_messages, 0);
}

/* A few dozen steps on 256 images: the mean loss of the last 4 steps is clearly below the first 4's. */
static void test_loss_decreases(void **state)
{
    (void)state;
    char dir[256];
    fixture_dir(dir);
    VkcTrainConfig c = tiny(dir, 256, 4); /* 8 steps per epoch, 32 steps */
    c.lr = 1.0f;
    Losses l = {0};
    VkcTrainResult res;
    run_ok(&c, NULL, &l, &res);
    assert_int_equal(res.steps, 32);
    double first = 0, last = 0;
    for (int i = 1; i <= 4; i++) first += l.loss[i] / 4;
    for (int i = 29; i <= 32; i++) last += l.loss[i] / 4;
    printf("loss: first 4 steps %.4f, last 4 steps %.4f (log(2N-1) = %.4f)\n", first, last, log(63.0));
    assert_true(last < first - 0.2);
    fixture_cleanup(dir);
}

/* The run of test_loss_decreases with `seed` in a precision (adjust, if given, changes the
 * configuration first): the mean loss of its first 4 steps and of its last 8; the losses in *l
 * (NULL: not wanted), the result in *res. */
typedef struct {
    double first, last;
} Curve;

static Curve precision_run(int precision, uint64_t seed, void (*adjust)(VkcTrainConfig *), Losses *losses,
                           VkcTrainResult *res, const char *dir)
{
    VkcTrainConfig c = tiny(dir, 256, 4);
    c.lr = 1.0f;
    c.precision = precision;
    c.seed = seed;
    c.force = true;
    if (adjust) adjust(&c);
    Losses l = {0};
    run_ok(&c, NULL, &l, res);
    assert_int_equal(res->steps, 32);
    Curve k = {0, 0};
    for (int i = 1; i <= 4; i++) k.first += l.loss[i] / 4;
    for (int i = 25; i <= 32; i++) k.last += l.loss[i] / 8;
    if (losses) *losses = l;
    return k;
}

/* Over five seeds (the same views per seed), a precision's runs start where fp32's do (16-bit
 * activations move the first losses by ~1e-3), learn as much, and end, on average, within 0.1
 * of fp32's loss. Single seeds' last steps differ from fp32's by up to ~0.2 either way (measured
 * on lavapipe: the rounding differences grow over 32 steps the way two seeds' trajectories do),
 * five seeds' mean by less (0.01-0.07); a broken 16-bit path stalls near log(63) = 4.14. */
static void assert_converges_like_fp32(int precision)
{
    char dir[256];
    fixture_dir(dir);
    double last32 = 0, last = 0, first = 0;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        VkcTrainResult res;
        Curve a = precision_run(VKC_F32, seed, NULL, NULL, &res, dir);
        Curve b = precision_run(precision, seed, NULL, NULL, &res, dir);
        printf("seed %d: fp32 first 4 steps %.4f, last 8 %.4f; %s %.4f, %.4f\n", (int)seed, a.first, a.last,
               vkc_dtype_name((VkcDtype)precision), b.first, b.last);
        assert_true(fabs(b.first - a.first) < 0.01);
        last32 += a.last / 5, last += b.last / 5, first += b.first / 5;
    }
    printf("%s: mean of the last 8 steps %.4f, fp32 %.4f\n", vkc_dtype_name((VkcDtype)precision), last, last32);
    assert_true(last < first - 0.2);
    assert_true(fabs(last - last32) < 0.1);
    fixture_cleanup(dir);
}

/* Does this build and device run fp16 on cooperative matrices? (why not into why) */
static bool coop_f16(char *why, size_t size)
{
    VkcContext ctx;
    VkcContextOptions opt = {.device_index = -1, .quiet = true};
    if (vkc_context_create(&ctx, &opt)) fail_msg("%s", vkc_error());
    bool ok = ctx.coop.ok[VKC_F16];
    snprintf(why, size, "%s", ctx.coop.why_not[VKC_F16]);
    vkc_context_destroy(&ctx);
    return ok;
}

/* --precision bf16 and fp16 train like fp32, with the kernels the device picks for 16-bit
 * activations (fp16 on cooperative matrices is test_coop_converges's). */
static void test_precision_converges(void **state)
{
    (void)state;
    char why[512];
    assert_converges_like_fp32(VKC_BF16);
    if (!coop_f16(why, sizeof why)) assert_converges_like_fp32(VKC_F16);
}

/* A JSON file vkclr wrote, parsed (the test fails if it cannot be). */
static cJSON *read_json(const char *path);

static void with_evaluation(VkcTrainConfig *c)
{
    c->knn_k = 20;
    c->knn_bank = 256;
    c->probe_epochs = 2;
    c->probe_limit = 1024;
}

/* Through the cooperative matrices (tensor cores; on lavapipe since Mesa 26): --precision fp16
 * runs every convolution pass and the evaluation's GEMMs (kNN, probe) on them (results.json says
 * so; with fp16 the head's and loss's GEMMs stay float32: docs/precision.md), converges like fp32
 * (as test_precision_converges), its kNN and probe beat chance, and a run repeated gives the same
 * losses bit for bit. Skipped, with the reason, where this build or device has no fp16
 * cooperative-matrix kernels. */
static void test_coop_converges(void **state)
{
    (void)state;
    char why[512];
    if (!coop_f16(why, sizeof why)) {
        printf("no fp16 cooperative-matrix kernels here: %s\n", why);
        skip();
    }
    assert_converges_like_fp32(VKC_F16);
    char dir[256], path[300];
    fixture_dir(dir);
    Losses a, b;
    VkcTrainResult res;
    precision_run(VKC_F16, 1, with_evaluation, &a, &res, dir);
    snprintf(path, sizeof path, "%s/results.json", dir);
    cJSON *j = read_json(path), *cm = cJSON_GetObjectItem(j, "cooperative_matrices");
    assert_true(cJSON_IsObject(cm));
    int passes = cJSON_GetObjectItem(cm, "conv_passes")->valueint;
    int total = cJSON_GetObjectItem(cm, "conv_passes_total")->valueint;
    printf("fp16 on cooperative matrices %s: %d of %d conv passes, evaluation GEMMs %s; kNN top-1 %.3f, probe "
           "top-1 %.3f\n", cJSON_GetObjectItem(cm, "shape")->valuestring, passes, total,
           cJSON_IsTrue(cJSON_GetObjectItem(cm, "evaluation_gemms")) ? "too" : "not", res.knn_top1, res.probe_top1);
    assert_true(total > 0 && passes == total);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cm, "evaluation_gemms")));
    assert_true(res.knn_top1 > 0.2 && res.probe_top1 > 0.2);
    cJSON_Delete(j);
    precision_run(VKC_F16, 1, with_evaluation, &b, &res, dir); /* deterministic: the same losses bit for bit */
    assert_memory_equal(a.loss, b.loss, sizeof a.loss);
    fixture_cleanup(dir);
}

/* Same seed, same losses bit for bit; another seed, other losses. */
static void test_deterministic(void **state)
{
    (void)state;
    char dir[256];
    fixture_dir(dir);
    VkcTrainConfig c = tiny(dir, 128, 2);
    c.force = true; /* three runs into one folder */
    Losses a = {0}, b = {0}, d = {0};
    VkcTrainResult res;
    run_ok(&c, NULL, &a, &res);
    run_ok(&c, NULL, &b, &res);
    assert_int_equal(a.n, 8);
    assert_memory_equal(a.loss, b.loss, sizeof a.loss);
    c.seed = 7;
    run_ok(&c, NULL, &d, &res);
    assert_memory_not_equal(a.loss, d.loss, sizeof a.loss);
    fixture_cleanup(dir);
}

/* Resume the stopped run in `dir` (tiny's `limit` and `epochs`): it must end at step `steps`,
 * with the losses and the final checkpoint of the uninterrupted run in `straight_dir` (the same
 * bytes: parameters, running statistics, optimizer state and metadata). */
static void resume_matches(const char *dir, int limit, int epochs, Losses *split, int64_t steps,
                           const char *straight_dir, const Losses *straight)
{
    VkcTrainConfig again = tiny("", limit, epochs);
    VkcTrainResult res;
    run_ok(&again, dir, split, &res);
    assert_false(res.interrupted);
    assert_int_equal(res.steps, steps);
    assert_memory_equal(straight->loss, split->loss, sizeof straight->loss);
    fixture_same_file(straight_dir, dir, "checkpoint.safetensors");
}

/* Two epochs, stop, resume for two more == four epochs straight (losses and final checkpoint). */
static void test_resume_equals_straight(void **state)
{
    (void)state;
    char d1[256], d2[256];
    fixture_dir(d1);
    fixture_dir(d2);
    VkcTrainConfig c = tiny(d1, 128, 4); /* 4 steps per epoch */
    c.optimizer = VKC_OPTIM_ADAMW;       /* its step-dependent bias correction must resume too */
    Losses straight = {0}, split = {0};
    VkcTrainResult res;
    run_ok(&c, NULL, &straight, &res);
    assert_int_equal(res.steps, 16);
    VkcTrainConfig c2 = tiny(d2, 128, 4);
    c2.optimizer = VKC_OPTIM_ADAMW;
    c2.stop_after = 2;
    run_ok(&c2, NULL, &split, &res);
    assert_int_equal(res.steps, 8);
    resume_matches(d2, 128, 4, &split, 16, d1, &straight);
    fixture_cleanup(d1);
    fixture_cleanup(d2);
}

/* The checkpoint is a valid safetensors file: every tensor in the header, shapes, offsets that
 * tile the data exactly, and the configuration and step in its metadata. */
static void test_checkpoint_format(void **state)
{
    (void)state;
    char dir[256], path[300];
    fixture_dir(dir);
    VkcTrainConfig c = tiny(dir, 64, 1);
    Losses l = {0};
    VkcTrainResult res;
    run_ok(&c, NULL, &l, &res);
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", dir);
    size_t n;
    uint8_t *file = fixture_read(path, &n);
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)file[i] << (8 * i);
    assert_true(hlen % 8 == 0 && 8 + hlen < n);
    char *text = malloc(hlen + 1);
    memcpy(text, file + 8, hlen);
    text[hlen] = 0;
    cJSON *h = cJSON_Parse(text);
    assert_non_null(h);
    const cJSON *w = cJSON_GetObjectItem(h, "encoder.block1.conv.weight");
    assert_non_null(w);
    assert_string_equal(cJSON_GetObjectItem(w, "dtype")->valuestring, "F32");
    const cJSON *shape = cJSON_GetObjectItem(w, "shape");
    assert_int_equal(cJSON_GetArraySize(shape), 4);
    assert_int_equal(cJSON_GetArrayItem(shape, 0)->valueint, 4);
    assert_int_equal(cJSON_GetArrayItem(shape, 1)->valueint, 1);
    assert_non_null(cJSON_GetObjectItem(h, "encoder.block3.bn.running_var"));
    assert_non_null(cJSON_GetObjectItem(h, "head.1.linear.weight"));
    assert_non_null(cJSON_GetObjectItem(h, "optimizer.state"));
    /* data_offsets tile [0, data size) without gaps */
    size_t covered = 0;
    int tensors = 0;
    for (const cJSON *t = h->child; t; t = t->next) {
        if (!strcmp(t->string, "__metadata__")) continue;
        const cJSON *o = cJSON_GetObjectItem(t, "data_offsets");
        double b = cJSON_GetArrayItem(o, 0)->valuedouble, e = cJSON_GetArrayItem(o, 1)->valuedouble;
        double count = 1;
        for (const cJSON *d = cJSON_GetObjectItem(t, "shape")->child; d; d = d->next) count *= d->valuedouble;
        assert_true(e - b == count * 4);
        covered += (size_t)(e - b);
        tensors++;
    }
    assert_int_equal(covered, n - 8 - hlen);
    assert_true(tensors > 20);
    VkcTrainConfig back;
    int64_t step;
    assert_int_equal(vkc_checkpoint_read_config(path, &back, &step), VKC_OK);
    assert_int_equal(step, 2);
    assert_int_equal(back.batch, c.batch);
    assert_int_equal(back.model.width, c.model.width);
    assert_true(back.lr == vkc_train_default_lr(c.optimizer, c.lr_scaling));
    assert_true(back.temperature == c.temperature);
    /* Round trip: a model built from the checkpoint's configuration loads it, and its
     * parameters are the file's bytes. */
    {
        VkcContext ctx;
        VkcContextOptions o = fixture_context();
        VkcArena dev;
        VkcLayers L;
        VkcGemm gemm;
        VkcReduce red;
        VkcLinearKernels lin;
        VkcModel m;
        if (vkc_context_create(&ctx, &o)) fail_msg("%s", vkc_error());
        vkc_arena_init(&dev, &ctx, VKC_MEMORY_DEVICE);
        if (vkc_layers_init(&ctx, &L) || vkc_gemm_init(&ctx, &gemm) || vkc_reduce_init(&ctx, &red) ||
            vkc_linear_kernels_init(&ctx, &lin, &gemm, &red) || vkc_model_create(&m, &ctx, &L, &lin, &back.model, 2, &dev) ||
            vkc_checkpoint_load_model(path, &m))
            fail_msg("%s", vkc_error());
        int loaded = 0;
        for (int i = 0; i < m.ntensors; i++) {
            const cJSON *t = cJSON_GetObjectItem(h, m.tensors[i].name);
            assert_non_null(t);
            size_t off = 8 + hlen + (size_t)cJSON_GetArrayItem(cJSON_GetObjectItem(t, "data_offsets"), 0)->valuedouble;
            float *got = malloc((size_t)m.tensors[i].count * 4);
            if (vkc_download(&ctx, vkc_model_tensor(&m, i), got, (size_t)m.tensors[i].count * 4)) fail_msg("%s", vkc_error());
            assert_memory_equal(got, file + off, (size_t)m.tensors[i].count * 4);
            free(got);
            loaded++;
        }
        assert_int_equal(loaded, tensors - 1); /* every tensor but the optimizer state */
        assert_int_equal(ctx.validation_messages, 0);
        vkc_model_destroy(&m);
        vkc_linear_kernels_destroy(&lin);
        vkc_reduce_destroy(&red);
        vkc_gemm_destroy(&gemm);
        vkc_layers_destroy(&L);
        vkc_arena_destroy(&dev);
        vkc_context_destroy(&ctx);
    }
    cJSON_Delete(h);
    free(text);
    /* A truncated file is refused with a message, not read past its end. */
    FILE *f = fopen(path, "wb");
    fwrite(file, 1, n / 2, f);
    fclose(f);
    VkcTrainConfig r = tiny("", 64, 1);
    r.out[0] = 0;
    assert_int_equal(vkc_train_run(&r, dir, NULL, NULL, &res), VKC_ERR);
    printf("truncated checkpoint: %s\n", vkc_error());
    assert_non_null(strstr(vkc_error(), "truncated"));
    free(file);
    fixture_cleanup(dir);
}

/* SIGTERM in the middle of an epoch: checkpoint at that step, and resuming gives the losses of
 * an uninterrupted run. */
static void test_sigterm_resume(void **state)
{
    (void)state;
    char d1[256], d2[256];
    fixture_dir(d1);
    fixture_dir(d2);
    vkc_interrupt_install_handlers();
    VkcTrainConfig c = tiny(d1, 128, 3);
    Losses straight = {0}, split = {.raise_at = 5};
    VkcTrainResult res;
    run_ok(&c, NULL, &straight, &res);
    VkcTrainConfig c2 = tiny(d2, 128, 3);
    run_ok(&c2, NULL, &split, &res);
    assert_true(res.interrupted);
    assert_int_equal(res.steps, 5);
    split.raise_at = 0;
    resume_matches(d2, 128, 3, &split, 12, d1, &straight);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    fixture_cleanup(d1);
    fixture_cleanup(d2);
}

/* A NaN loss stops the run naming the step; the epoch-end checkpoint before it stays. */
static void test_nan_detected(void **state)
{
    (void)state;
    char dir[256], path[300];
    fixture_dir(dir);
    VkcTrainConfig c = tiny(dir, 128, 3);
    Losses l = {0};
    VkcTrainResult res;
    vkc_train_debug_nan_at(7);
    int rc = vkc_train_run(&c, NULL, record, &l, &res);
    vkc_train_debug_nan_at(0);
    assert_int_equal(rc, VKC_ERR);
    printf("NaN: %s\n", vkc_error());
    assert_true(res.nonfinite);
    assert_non_null(strstr(vkc_error(), "NaN at step 7"));
    assert_true(isfinite(l.loss[6]) && isnan(l.loss[7]));
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", dir);
    VkcTrainConfig back;
    int64_t step;
    assert_int_equal(vkc_checkpoint_read_config(path, &back, &step), VKC_OK);
    assert_int_equal(step, 4);
    fixture_cleanup(dir);
}

/* The end of a run: kNN accuracy of the encoder in [0, 1], results.json and curves.png written. */
static void test_knn_evaluation(void **state)
{
    (void)state;
    char dir[256], path[300];
    fixture_dir(dir);
    VkcTrainConfig c = tiny(dir, 64, 1);
    c.knn_k = 20;
    c.knn_bank = 500;
    Losses l = {0};
    VkcTrainResult res;
    run_ok(&c, NULL, &l, &res);
    printf("kNN top-1 after 2 steps: %.4f\n", res.knn_top1);
    /* Fashion-MNIST has 10 balanced classes: even a barely trained encoder beats chance clearly. */
    assert_true(res.knn_top1 > 0.2 && res.knn_top1 <= 1.0);
    snprintf(path, sizeof path, "%s/results.json", dir);
    size_t n;
    uint8_t *text = fixture_read(path, &n);
    text = realloc(text, n + 1);
    text[n] = 0;
    cJSON *j = cJSON_Parse((char *)text);
    assert_non_null(j);
    assert_true(fabs(cJSON_GetObjectItem(j, "knn_top1")->valuedouble - res.knn_top1) < 1e-5);
    cJSON_Delete(j);
    /* The curves (src/plot), drawn after each log line and complete when the run returns. */
    snprintf(path, sizeof path, "%s/curves.png", dir);
    uint8_t *px;
    int h, w;
    if (vkc_png_read(path, 3, &px, &h, &w)) fail_msg("%s", vkc_error());
    assert_true(w == 1200 && h == 800);
    free(px);
    fixture_cleanup(dir);
}

/* Run the built binary's `train` with `args`: its output and exit status. */
static void expect_error(const char *args, int status, const char *needle)
{
    char out[4096], train_args[1024];
    snprintf(train_args, sizeof train_args, "train %s", args);
    int got = fixture_run(vkclr_binary, train_args, out, sizeof out);
    assert_int_equal(got, status);
    if (!strstr(out, needle)) fail_msg("expected '%s' in the output of 'vkclr train %s'", needle, args);
}

/* ---------------------------------------------------------------- the NCE family (--loss) */

static char *read_text(const char *dir, const char *name)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t n;
    char *text = (char *)fixture_read(path, &n);
    text = realloc(text, n + 1);
    text[n] = 0;
    return text;
}

/* Every line of metrics.jsonl has the loss's 8 metrics, finite (log_z only with a learned
 * log Z); returns the number of lines, and the first and last line's log_z in *logz. */
static int check_metrics_file(const char *dir, bool learned, double logz[2])
{
    static const char *keys[] = {"loss", "pos_accuracy", "mi_lower_bound", "log_zhat", "log_zhat_sd", "alignment",
                                 "uniformity"};
    char *text = read_text(dir, "metrics.jsonl");
    int lines = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *j = cJSON_Parse(line);
        assert_non_null(j);
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            const cJSON *v = cJSON_GetObjectItem(j, keys[k]);
            if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
                fail_msg("metrics.jsonl line %d: '%s' missing or not finite", lines + 1, keys[k]);
        }
        const cJSON *z = cJSON_GetObjectItem(j, "log_z");
        assert_int_equal(z != NULL, learned);
        if (z && !lines) logz[0] = z->valuedouble;
        if (z) logz[1] = z->valuedouble;
        /* Bounds the metrics cannot leave: accuracy a fraction, alignment in [0, 4] (unit
         * vectors), uniformity <= 0, the MI bound <= log(2N - 1). */
        double acc = cJSON_GetObjectItem(j, "pos_accuracy")->valuedouble;
        double align = cJSON_GetObjectItem(j, "alignment")->valuedouble;
        assert_true(acc >= 0 && acc <= 1 && align >= 0 && align <= 4.001);
        assert_true(cJSON_GetObjectItem(j, "uniformity")->valuedouble <= 1e-6);
        assert_true(cJSON_GetObjectItem(j, "mi_lower_bound")->valuedouble <= log(63.0) + 1e-4);
        cJSON_Delete(j);
        lines++;
    }
    free(text);
    return lines;
}

/* Each loss trains: 32 steps on 256 images with finite losses whose last 4 steps average
 * clearly below the first 4's, the metrics logged every step, and the loss in config.json. */
static void test_each_loss_learns(void **state)
{
    (void)state;
    static const struct {
        VkcLossKind kind;
        bool learned;
        float tau_plus;
        const char *name;
    } losses[] = {
        {VKC_LOSS_NTXENT, false, 0, "ntxent"}, {VKC_LOSS_DCL, false, 0, "dcl"},
        {VKC_LOSS_DCL_DEBIASED, false, 0.1f, "dcl-debiased"}, {VKC_LOSS_NCE, false, 0, "nce"},
        {VKC_LOSS_NCE, true, 0, "nce"},
    };
    for (size_t i = 0; i < sizeof losses / sizeof losses[0]; i++) {
        char dir[256];
        fixture_dir(dir);
        VkcTrainConfig c = tiny(dir, 256, 4); /* 8 steps per epoch, 32 steps */
        c.lr = 1.0f;
        c.loss = losses[i].kind;
        c.nce_learned_logz = losses[i].learned;
        c.tau_plus = losses[i].tau_plus;
        Losses l = {0};
        VkcTrainResult res;
        run_ok(&c, NULL, &l, &res);
        assert_int_equal(res.steps, 32);
        double first = 0, last = 0;
        for (int s = 1; s <= 32; s++) assert_true(isfinite(l.loss[s]));
        for (int s = 1; s <= 4; s++) first += l.loss[s] / 4;
        for (int s = 29; s <= 32; s++) last += l.loss[s] / 4;
        printf("%s%s: loss of the first 4 steps %.4f, of the last 4 %.4f\n", losses[i].name,
               losses[i].learned ? " (learned log Z)" : "", first, last);
        assert_true(last < first - 0.05 * fabs(first));
        double logz[2] = {0, 0};
        assert_int_equal(check_metrics_file(dir, losses[i].learned, logz), 32);
        char *config = read_text(dir, "config.json");
        cJSON *j = cJSON_Parse(config);
        assert_string_equal(cJSON_GetObjectItem(j, "loss")->valuestring, losses[i].name);
        assert_string_equal(cJSON_GetObjectItem(j, "nce_logz")->valuestring, losses[i].learned ? "learned" : "self");
        assert_true(cJSON_GetObjectItem(j, "tau_plus")->valuedouble == losses[i].tau_plus);
        cJSON_Delete(j);
        free(config);
        fixture_cleanup(dir);
    }
}

/* Value of the 1-float tensor `name` in a checkpoint file. */
static float checkpoint_scalar(const char *dir, const char *name)
{
    char path[400];
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", dir);
    size_t n;
    uint8_t *file = fixture_read(path, &n);
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)file[i] << (8 * i);
    char *text = malloc(hlen + 1);
    memcpy(text, file + 8, hlen);
    text[hlen] = 0;
    cJSON *h = cJSON_Parse(text);
    const cJSON *t = cJSON_GetObjectItem(h, name);
    if (!t) fail_msg("no tensor '%s' in %s", name, path);
    assert_int_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(t, "shape"), 0)->valueint, 1);
    float v;
    memcpy(&v, file + 8 + hlen + (size_t)cJSON_GetArrayItem(cJSON_GetObjectItem(t, "data_offsets"), 0)->valuedouble, 4);
    cJSON_Delete(h);
    free(text);
    free(file);
    return v;
}

/* nce with a learned log Z: log Z moves away from its initial 0, is saved in the checkpoint as
 * "loss.logz", and stop + resume gives the losses and final checkpoint of a straight run bit for
 * bit. A resumed run refuses another --loss. */
static void test_learned_logz_resume(void **state)
{
    (void)state;
    char d1[256], d2[256];
    fixture_dir(d1);
    fixture_dir(d2);
    VkcTrainConfig c = tiny(d1, 128, 4); /* 4 steps per epoch */
    c.loss = VKC_LOSS_NCE;
    c.nce_learned_logz = true;
    Losses straight = {0}, split = {0};
    VkcTrainResult res;
    run_ok(&c, NULL, &straight, &res);
    double logz[2];
    assert_int_equal(check_metrics_file(d1, true, logz), 16);
    float saved = checkpoint_scalar(d1, "loss.logz");
    printf("learned log Z: %.5f at step 1, %.5f at step 16, %.5f in the final checkpoint\n", logz[0], logz[1], saved);
    assert_true(logz[0] == 0.0);              /* step 1 runs with the initial value */
    assert_true(fabs(logz[1]) > 1e-3 && fabs(saved) > 1e-3); /* and it is trained */
    VkcTrainConfig c2 = c;
    snprintf(c2.out, sizeof c2.out, "%s", d2);
    c2.stop_after = 2;
    run_ok(&c2, NULL, &split, &res);
    assert_int_equal(res.steps, 8);
    assert_true(checkpoint_scalar(d2, "loss.logz") != 0.0f);
    resume_matches(d2, 128, 4, &split, 16, d1, &straight);
    if (vkclr_binary) {
        char args[400];
        snprintf(args, sizeof args, "--resume %s --loss ntxent", d2);
        expect_error(args, 2, "was trained with --loss nce");
    }
    fixture_cleanup(d1);
    fixture_cleanup(d2);
}

/* Loss options that do not go together are refused by the library too (naming the flag). */
static void test_loss_options_refused(void **state)
{
    (void)state;
    VkcTrainConfig c = tiny("/tmp/vkclr-test-bad-loss", 128, 1);
    VkcTrainResult res;
    c.nce_learned_logz = true; /* with ntxent */
    assert_int_equal(vkc_train_run(&c, NULL, NULL, NULL, &res), VKC_ERR);
    assert_non_null(strstr(vkc_error(), "--nce-logz"));
    c.nce_learned_logz = false;
    c.tau_plus = 0.1f; /* with ntxent */
    assert_int_equal(vkc_train_run(&c, NULL, NULL, NULL, &res), VKC_ERR);
    assert_non_null(strstr(vkc_error(), "--tau-plus"));
    c.loss = VKC_LOSS_DCL_DEBIASED;
    c.tau_plus = 1.0f;
    assert_int_equal(vkc_train_run(&c, NULL, NULL, NULL, &res), VKC_ERR);
    assert_non_null(strstr(vkc_error(), "--tau-plus"));
}

/* ---------------------------------------------------------------- command line */

static void test_bad_options(void **state)
{
    (void)state;
    if (!vkclr_binary) skip();
    expect_error("--batch 1", 2, "--batch");
    expect_error("--batch lots", 2, "--batch");
    expect_error("--optimizer adam", 2, "unknown optimizer 'adam'");
    expect_error("--lr-scaling cubic", 2, "--lr-scaling");
    expect_error("--frobnicate", 2, "unknown option '--frobnicate'");
    expect_error("--epochs 2 --stop-after 2", 2, "--stop-after");
    expect_error("--encoder vgg --out /tmp/vkclr-test-bad", 2, "unknown encoder 'vgg'");
    expect_error("--data idx:/nonexistent --out /tmp/vkclr-test-bad", 1, "/nonexistent");
    expect_error("--resume /nonexistent-run", 1, "--resume /nonexistent-run: No such file or directory");
    expect_error("--resume /tmp --batch 64", 2, "--resume");
    expect_error("--limit 100 --batch 128 --out /tmp/vkclr-test-bad", 1, "larger than the 100 training images");
    expect_error("--limit 0 --batch 50000 --out /tmp/vkclr-test-bad", 1, "the largest batch that fits is");
    expect_error("--loss triplet", 2, "--loss: unknown loss 'triplet'");
    expect_error("--tau-plus 0.1", 2, "--tau-plus is only used by --loss dcl-debiased, not ntxent");
    expect_error("--loss nce --tau-plus 0.1", 2, "--tau-plus is only used by --loss dcl-debiased, not nce");
    expect_error("--loss dcl-debiased", 2, "--loss dcl-debiased needs --tau-plus");
    expect_error("--loss dcl-debiased --tau-plus 1", 2, "--tau-plus must be below 1");
    expect_error("--loss dcl-debiased --tau-plus -0.1", 2, "--tau-plus");
    expect_error("--nce-logz learned", 2, "--nce-logz is only used by --loss nce, not ntxent");
    expect_error("--loss dcl --nce-logz self", 2, "--nce-logz is only used by --loss nce, not dcl");
    expect_error("--loss nce --nce-logz maybe", 2, "--nce-logz: 'maybe' is neither self nor learned");
    char dir[256] = "/tmp/vkclr-test-bad";
    fixture_cleanup(dir);
}

/* A JSON file vkclr wrote, parsed (the test fails if it cannot be). */
static cJSON *read_json(const char *path)
{
    size_t n;
    char *text = (char *)fixture_read(path, &n);
    text = realloc(text, n + 1);
    assert_non_null(text);
    text[n] = 0;
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!j) fail_msg("%s is not JSON", path);
    return j;
}

/* vkclr bench train: a step timed, its FLOPs counted as the model's convolutions, head and
 * loss GEMMs (width 2 convnet on 28x28x1, head 8 -> 8 -> 8, batch 4: worked out by hand below). */
static void test_bench_train(void **state)
{
    (void)state;
    if (!vkclr_binary) skip();
    char out[8192], path[300], args[600];
    snprintf(path, sizeof path, "/tmp/vkclr-test-bench-%d.json", (int)getpid());
    snprintf(args, sizeof args, "bench train --steps 2 --warmup 0 --width 2 --batch 4 --out-dim 8 --json %s", path);
    assert_int_equal(fixture_run(vkclr_binary, args, out, sizeof out), 0);
    cJSON *j = read_json(path);
    /* Per view: each 3x3 conv is 28224 FLOPs forward (2 x 14112 multiply-adds: 1->2 at 28x28,
     * 2->4 at 14x14, 4->8 at 7x7); training costs 3x, the first conv 2x (no input gradient); the
     * head's two 8x8 linear layers 3 x 2 x 64 each. Two views per image; the loss 2 x 2 x (2B)^2
     * x dim / B. */
    double per_view = 28224.0 * 2 + 28224.0 * 3 * 2 + 3 * 2 * 64.0 * 2;
    double want = 2 * per_view + 2 * 2 * 64.0 * 8 / 4;
    assert_true(fabs(cJSON_GetObjectItem(j, "flops_per_image")->valuedouble - want) < 0.5);
    assert_true(cJSON_GetObjectItem(j, "images_per_s")->valuedouble > 0);
    assert_int_equal(cJSON_GetObjectItem(j, "steps")->valueint, 2);
    const cJSON *share = cJSON_GetObjectItem(j, "gpu_time_share");
    double sum = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, share) sum += v->valuedouble;
    assert_true(fabs(sum - 1) < 1e-6);
    assert_non_null(cJSON_GetObjectItem(share, "conv"));
    cJSON_Delete(j);
    remove(path);
}

/* --snapshot-minutes: a copy of the checkpoint once training has run that long. */
/* vkclr tune stores one choice per pass of each conv shape of the model (none for the first
 * layer's unused input gradient) in the cache VKCLR_TUNE_CACHE names, a dry run stores nothing,
 * bench train runs with the cache, and a corrupt cache is reported and ignored. */
static void test_tune(void **state)
{
    (void)state;
    if (!vkclr_binary) skip();
    char out[65536], path[300];
    snprintf(path, sizeof path, "/tmp/vkclr-test-tune-%d.json", (int)getpid());
    remove(path);
    setenv("VKCLR_TUNE_CACHE", path, 1);
    const char *model = "--width 2 --batch 4 --out-dim 8";
    char args[600];
    snprintf(args, sizeof args, "tune %s --repeat 1 --dry-run", model);
    assert_int_equal(fixture_run(vkclr_binary, args, out, sizeof out), 0);
    assert_non_null(strstr(out, "dry run: nothing stored"));
    assert_int_equal(access(path, F_OK), -1);
    snprintf(args, sizeof args, "tune %s --repeat 1", model);
    assert_int_equal(fixture_run(vkclr_binary, args, out, sizeof out), 0);
    cJSON *j = read_json(path);
    const cJSON *choices = cJSON_GetObjectItem(j, "choices");
    const char *keys[] = {"conv2d.forward c1 h28 w28 o2 k3 s1 p1", "conv2d.backward-weight c1 h28 w28 o2 k3 s1 p1",
                          "conv2d.forward c2 h14 w14 o4 k3 s1 p1", "conv2d.backward-input c2 h14 w14 o4 k3 s1 p1",
                          "conv2d.backward-weight c2 h14 w14 o4 k3 s1 p1", "conv2d.forward c4 h7 w7 o8 k3 s1 p1",
                          "conv2d.backward-input c4 h7 w7 o8 k3 s1 p1", "conv2d.backward-weight c4 h7 w7 o8 k3 s1 p1"};
    assert_int_equal(cJSON_GetArraySize(choices), 8);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const cJSON *e = cJSON_GetObjectItem(choices, keys[i]);
        if (!e) fail_msg("no choice for '%s' in %s", keys[i], path);
        const char *choice = cJSON_GetObjectItem(e, "choice")->valuestring;
        assert_true(!strncmp(choice, "reg ", 4) || !strncmp(choice, "smem ", 5));
    }
    cJSON_Delete(j);
    snprintf(args, sizeof args, "bench train --steps 1 --warmup 0 %s", model);
    assert_int_equal(fixture_run(vkclr_binary, args, out, sizeof out), 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{ not json", f);
    fclose(f);
    assert_int_equal(fixture_run(vkclr_binary, args, out, sizeof out), 0);
    assert_non_null(strstr(out, "tuning cache ignored"));
    remove(path);
    unsetenv("VKCLR_TUNE_CACHE");
}

static void test_snapshots(void **state)
{
    (void)state;
    char dir[256], path[400];
    fixture_dir(dir);
    VkcTrainConfig c = tiny(dir, 128, 1);
    snprintf(c.snapshots, sizeof c.snapshots, "0.00001");
    VkcTrainResult res;
    Losses l = {0};
    run_ok(&c, NULL, &l, &res);
    snprintf(path, sizeof path, "%s/checkpoint-1e-05min.safetensors", dir);
    VkcTrainConfig saved;
    int64_t step = -1;
    if (vkc_checkpoint_read_config(path, &saved, &step)) fail_msg("%s", vkc_error());
    assert_true(step >= 1 && step <= 4);
    fixture_cleanup(dir);
}

int main(int argc, char **argv)
{
    if (argc > 1) vkclr_binary = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_loss_decreases),
        cmocka_unit_test(test_precision_converges),
        cmocka_unit_test(test_coop_converges),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_resume_equals_straight),
        cmocka_unit_test(test_checkpoint_format),
        cmocka_unit_test(test_sigterm_resume),
        cmocka_unit_test(test_nan_detected),
        cmocka_unit_test(test_knn_evaluation),
        cmocka_unit_test(test_each_loss_learns),
        cmocka_unit_test(test_learned_logz_resume),
        cmocka_unit_test(test_loss_options_refused),
        cmocka_unit_test(test_bench_train),
        cmocka_unit_test(test_tune),
        cmocka_unit_test(test_snapshots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
