/* vkclr bench train: the steady-state speed of one configuration's training step (no data
 * loading, no augmentation), with the kernel classes' share of the GPU time. Takes vkclr
 * train's options; the data defaults to synthetic images of Fashion-MNIST's shape. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "vkclr/fileio.h"
#include "vkclr/train.h"

static const char bench_train_synopsis[] =
    "usage: vkclr bench train [TRAIN OPTIONS] [--warmup N] [--steps N] [--json FILE|-]\n\n"
    "Times the training step of a configuration (encoder, width, batch, image size from --data, loss,\n"
    "optimizer) on synthetic views after the warm-up steps: images/s, ms per step, the model's FLOPs\n"
    "per image (convolutions, linear layers and the loss's GEMMs, forward and backward) and the\n"
    "effective TFLOP/s, and the share of each kernel class in a profiled step. --data defaults to\n"
    "synthetic:28x28x1 (Fashion-MNIST's shape); e.g. --data synthetic:32x32x3 for CIFAR's.\n"
    "bench/torch_peer.py times the same model in PyTorch.\n";

typedef struct {
    int warmup, steps;
    char json[CLI_PATH];
} BenchTrainArgs;

static const VkcOption rows[] = {
    {.flag = "--warmup", .type = VKC_OPT_INT, VKC_OPTION_FIELD(BenchTrainArgs, warmup), .min = 0, .max = 1000,
     .def = "3", .section = "timing", .metavar = "N", .help = "untimed steps first"},
    {.flag = "--steps", .type = VKC_OPT_INT, VKC_OPTION_FIELD(BenchTrainArgs, steps), .min = 1, .max = 100000,
     .def = "20", .section = "timing", .metavar = "N", .help = "timed steps"},
    {.flag = "--json", .type = VKC_OPT_STRING, VKC_OPTION_FIELD(BenchTrainArgs, json), .flags = VKC_OPT_NONEMPTY,
     .section = "timing", .metavar = "FILE", .help = "also write the figures as JSON (- for standard output)"},
};

static void write_json(cJSON *j, const VkcTrainConfig *c, const VkcTrainBench *b)
{
    cJSON *cfg = cJSON_AddObjectToObject(j, "config");
    cJSON_AddStringToObject(cfg, "encoder", vkc_name_of(vkc_encoder_names, (int)c->model.encoder));
    cJSON_AddNumberToObject(cfg, "width", c->model.width);
    cJSON_AddNumberToObject(cfg, "head_layers", c->model.head_layers);
    cJSON_AddNumberToObject(cfg, "out_dim", c->model.out_dim);
    cJSON_AddNumberToObject(cfg, "batch", c->batch);
    cJSON_AddStringToObject(cfg, "data", c->data);
    cJSON_AddStringToObject(cfg, "loss", vkc_loss_kind_name(c->loss));
    cJSON_AddStringToObject(cfg, "optimizer", vkc_name_of(vkc_optim_names, (int)c->optimizer));
    cJSON_AddStringToObject(j, "device", b->device);
    cJSON_AddNumberToObject(j, "parameters", (double)b->nparams);
    cJSON_AddNumberToObject(j, "steps", (double)b->steps);
    cJSON_AddNumberToObject(j, "images_per_s", b->images_per_second);
    cJSON_AddNumberToObject(j, "ms_per_step", b->ms_per_step);
    cJSON_AddNumberToObject(j, "cpu_images_per_s", b->cpu_images_per_second);
    cJSON_AddNumberToObject(j, "cpu_ms_per_step", b->cpu_ms_per_step);
    cJSON_AddNumberToObject(j, "flops_per_image", b->flops_per_image);
    cJSON_AddNumberToObject(j, "effective_tflops", b->tflops);
    cJSON_AddNumberToObject(j, "profiled_gpu_ms_per_step", b->gpu_ms_per_step);
    cJSON *share = cJSON_AddObjectToObject(j, "gpu_time_share");
    for (int i = 0; i < b->nclasses; i++) cJSON_AddNumberToObject(share, b->class_names[i], b->class_share[i]);
}

static int run(const CliCall *call)
{
    const BenchTrainArgs b = *(const BenchTrainArgs *)call->own;
    VkcTrainConfig c = *call->train;
    c.quiet = true;
    const char *json = b.json[0] ? b.json : NULL;
    /* Synthetic data of the dataset's shape unless --data says otherwise; as many images as
     * one batch needs (the step never reads them again). */
    if (!cli_train_given(call->args, "--data")) snprintf(c.data, sizeof c.data, "synthetic:28x28x1:%d", c.batch);
    else if (!strncmp(c.data, "synthetic:", 10) && strchr(c.data + 10, ':') == NULL) {
        size_t n = strlen(c.data);
        snprintf(c.data + n, sizeof c.data - n, ":%d", c.batch);
    }
    c.limit = 0;
    if (vkc_config_check(&c, &call->args->train)) return cli_fail(&cli_bench_train, 2);
    VkcTrainBench r;
    if (vkc_train_bench(&c, b.warmup, b.steps, &r)) return cli_fail(&cli_bench_train, 1);
    printf("%s: %s width %d, batch %d (%d views), %s, %s, loss %s: %.1f images/s, %.2f ms/step (%lld steps), "
           "%.1f MFLOP/image, %.4f TFLOP/s effective\n",
           r.device, vkc_name_of(vkc_encoder_names, (int)c.model.encoder), c.model.width, c.batch, 2 * c.batch, c.data,
           vkc_name_of(vkc_optim_names, (int)c.optimizer), vkc_loss_kind_name(c.loss), r.images_per_second,
           r.ms_per_step, (long long)r.steps, r.flops_per_image / 1e6, r.tflops);
    printf("by CPU time (all threads / online cores): %.1f images/s, %.2f ms/step\n", r.cpu_images_per_second,
           r.cpu_ms_per_step);
    if (r.nclasses) {
        printf("profiled step %.2f ms:", r.gpu_ms_per_step);
        for (int i = 0; i < r.nclasses; i++) printf(" %s %.1f%%", r.class_names[i], 100 * r.class_share[i]);
        printf("\n");
    }
    if (json) {
        cJSON *j = cJSON_CreateObject();
        write_json(j, &c, &r);
        char *text = cJSON_Print(j);
        cJSON_Delete(j);
        int rc = VKC_OK;
        if (!strcmp(json, "-")) printf("%s\n", text);
        else rc = vkc_write_text_atomic(json, text);
        free(text);
        if (rc) {
            fprintf(stderr, "vkclr bench train: --json %s: %s\n", json, vkc_error());
            return 1;
        }
    }
    return 0;
}

const CliSpec cli_bench_train = {.name = "bench train", .run = run, .synopsis = bench_train_synopsis,
                                 .about = "images/s and TFLOP/s of a training step (vkclr train's options), "
                                          "time per kernel class",
                                 CLI_ROWS(rows, BenchTrainArgs), .train_rows = cli_all_rows,
                                 .train_heading = CLI_TRAIN_OPTIONS};
