/* vkclr bench train: the steady-state speed of one configuration's training step (no data
 * loading, no augmentation), with the kernel classes' share of the GPU time. Takes vkclr
 * train's options; the data defaults to synthetic images of Fashion-MNIST's shape. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "vkclr/fileio.h"
#include "vkclr/train.h"

static void usage(void)
{
    printf("usage: vkclr bench train [TRAIN OPTIONS] [--warmup N] [--steps N] [--json FILE|-]\n\n"
           "Times the training step of a configuration (encoder, width, batch, image size from --data, loss,\n"
           "optimizer) on synthetic views after N warm-up steps (default 3): images/s, ms per step, the\n"
           "model's FLOPs per image (convolutions, linear layers and the loss's GEMMs, forward and backward)\n"
           "and the effective TFLOP/s, and the share of each kernel class in a profiled step. --data defaults\n"
           "to synthetic:28x28x1 (Fashion-MNIST's shape); e.g. --data synthetic:32x32x3 for CIFAR's.\n"
           "--json writes the figures as JSON (- for standard output). bench/torch_peer.py times the same\n"
           "model in PyTorch.\n\nTRAIN OPTIONS: those of vkclr train --help that define the model and step.\n");
}

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
    cJSON_AddNumberToObject(j, "flops_per_image", b->flops_per_image);
    cJSON_AddNumberToObject(j, "effective_tflops", b->tflops);
    cJSON_AddNumberToObject(j, "profiled_gpu_ms_per_step", b->gpu_ms_per_step);
    cJSON *share = cJSON_AddObjectToObject(j, "gpu_time_share");
    for (int i = 0; i < b->nclasses; i++) cJSON_AddNumberToObject(share, b->class_names[i], b->class_share[i]);
}

int bench_train(int argc, char **argv)
{
    VkcTrainConfig c = vkc_train_defaults();
    VkcGiven given = {0};
    long warmup = 3, steps = 20;
    const char *json = NULL;
    c.quiet = true;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 0;
        }
        int m;
        if ((m = arg_match_int(argc, argv, &i, "--warmup", 0, 1000, &warmup)) ||
            (m = arg_match_int(argc, argv, &i, "--steps", 1, 100000, &steps)) ||
            (m = arg_match_str(argc, argv, &i, "--json", &json)) ||
            (m = arg_match_option("bench train", argc, argv, &i, NULL, &c, &given))) {
            if (m < 0) return 2;
            continue;
        }
        fprintf(stderr, "vkclr bench train: unknown option '%s' (see vkclr bench train --help)\n", argv[i]);
        return 2;
    }
    /* Synthetic data of the dataset's shape unless --data says otherwise; as many images as
     * one batch needs (the step never reads them again). */
    if (!given.set[arg_option_index("--data")]) snprintf(c.data, sizeof c.data, "synthetic:28x28x1:%d", c.batch);
    else if (!strncmp(c.data, "synthetic:", 10) && strchr(c.data + 10, ':') == NULL) {
        size_t n = strlen(c.data);
        snprintf(c.data + n, sizeof c.data - n, ":%d", c.batch);
    }
    c.limit = 0;
    if (vkc_config_check(&c, &given)) {
        fprintf(stderr, "vkclr bench train: %s\n", vkc_error());
        return 2;
    }
    VkcTrainBench b;
    if (vkc_train_bench(&c, (int)warmup, (int)steps, &b)) {
        fprintf(stderr, "vkclr bench train: %s\n", vkc_error());
        return 1;
    }
    printf("%s: %s width %d, batch %d (%d views), %s, %s, loss %s: %.1f images/s, %.2f ms/step (%lld steps), "
           "%.1f MFLOP/image, %.4f TFLOP/s effective\n",
           b.device, vkc_name_of(vkc_encoder_names, (int)c.model.encoder), c.model.width, c.batch, 2 * c.batch, c.data,
           vkc_name_of(vkc_optim_names, (int)c.optimizer), vkc_loss_kind_name(c.loss), b.images_per_second,
           b.ms_per_step, (long long)b.steps, b.flops_per_image / 1e6, b.tflops);
    if (b.nclasses) {
        printf("profiled step %.2f ms:", b.gpu_ms_per_step);
        for (int i = 0; i < b.nclasses; i++) printf(" %s %.1f%%", b.class_names[i], 100 * b.class_share[i]);
        printf("\n");
    }
    if (json) {
        cJSON *j = cJSON_CreateObject();
        write_json(j, &c, &b);
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
