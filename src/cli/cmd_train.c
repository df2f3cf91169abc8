/* vkclr train: SimCLR training of an encoder, ending with the linear probe and kNN on its features (src/train/evaluate.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "vkclr/loss.h"
#include "vkclr/train.h"

static void usage(FILE *out)
{
    VkcTrainConfig d = vkc_train_defaults();
    fprintf(out,
            "usage: vkclr train [OPTIONS]          train with the defaults: convnet on Fashion-MNIST, then probe + kNN; ~4-6 min on lavapipe\n"
            "       vkclr train --resume DIR [--epochs N] [--device N]\n\n"
            "data\n"
            "  --data SPEC          fashion-mnist (default), idx:DIR, mnist:DIR, cifar10:DIR, cifar100:DIR, folder:DIR,\n"
            "                       synthetic:HxWxC[:N] (random noise, for benchmarks)\n"
            "  --limit N            train on the first N training images (default %d; 0 = all)\n"
            "  --preset P           augmentation preset: simclr, cifar, gray (default: by image type)\n"
            "  --aug LIST           augmentation overrides, e.g. scale=0.2:1,blur_p=0.5 (see vkclr augment --help)\n"
            "  --threads N          augmentation threads (default %d)\n"
            "model\n"
            "  --encoder E          convnet (default), resnet10, resnet18, resnet34 (CIFAR stem)\n"
            "  --width W            convnet: first block's channels (default %d); resnet: first stage's (64 = standard)\n"
            "  --head-layers L      projection head depth, 2 (default) or 3\n"
            "  --head-hidden H      head hidden width (default: the encoder's feature width)\n"
            "  --out-dim D          projection output dimension (default %d)\n"
            "optimisation\n"
            "  --batch B            images per step, each gives 2 views (default %d)\n"
            "  --epochs E           epochs of the schedule (default %d)\n"
            "  --stop-after E       stop after E epochs with a checkpoint (resume later with --resume)\n"
            "  --optimizer O        lars (default), sgd, adamw\n"
            "  --lr LR              base learning rate (default 0.3 for linear, 0.075 for sqrt scaling; adamw 1e-3)\n"
            "  --lr-scaling S       linear: peak = lr * batch / 256 (default); sqrt: peak = lr * sqrt(batch)\n"
            "  --weight-decay WD    (default: lars/sgd 1e-6, adamw the optimizer's default)\n"
            "  --warmup-epochs W    linear warm-up epochs, then cosine decay (default %.1f)\n"
            "  --temperature T      temperature of the loss (default %.2f)\n"
            "  --loss L             ntxent (default; infonce is the same loss), nce (local NCE), dcl (decoupled),\n"
            "                       dcl-debiased (Chuang et al.; needs --tau-plus); see docs/losses.md\n"
            "  --nce-logz Z         nce only: self (log Z = 0, self-normalised; default) or learned (a trained scalar)\n"
            "  --tau-plus P         dcl-debiased only: class prior in [0, 1), e.g. 0.1 for 10 balanced classes\n"
            "  --seed S             seed of initialisation, shuffling and augmentation (default 0)\n"
            "run\n"
            "  --device N           Vulkan device (see vkclr devices; under mpirun default: the node-local rank's)\n"
            "  --out DIR            output directory (default %s)\n"
            "  --resume DIR         continue the run saved in DIR bit-identically (its configuration is used)\n"
            "  --log-every N        steps per metrics line (default %d)\n"
            "evaluation (of the encoder's features in eval mode; see vkclr probe --help)\n"
            "  --probe-epochs N     linear probe at the end: epochs (default %d; 0 = skip)\n"
            "  --probe-limit N      training images the probe learns from (default %d; 0 = the whole split)\n"
            "  --knn-k K            kNN at the end: neighbours, T = 0.1 (default %d; 0 = skip)\n"
            "  --knn-bank N         training images in the kNN bank (default %d; 0 = all the probe's)\n"
            "  --knn-every E        kNN monitor every E epochs (bank --knn-bank, first 2000 test images)\n"
            "                       into metrics.jsonl (default 0 = never)\n"
            "  --profile            GPU timestamps around every kernel: time share per kernel class\n"
            "  --quiet              no progress output\n"
            "several GPUs or nodes (mpirun -np R vkclr train ...; see README)\n"
            "  --batch B            is per rank: the global batch is B x R, the loss spans all of it\n"
            "  --sync-bn            batch-norm statistics over all ranks (default with R > 1)\n"
            "  --no-sync-bn         per-rank batch-norm statistics\n\n"
            "SIGINT/SIGTERM stop after the current step with a checkpoint (exit status 130); a NaN or infinite\n"
            "loss stops the run naming the step and leaves the last epoch's checkpoint as it was (exit status 1).\n",
            d.limit, d.threads, d.model.width, d.model.out_dim, d.batch, d.epochs, d.warmup_epochs, d.temperature,
            d.out, d.log_every, d.probe_epochs, d.probe_limit, d.knn_k, d.knn_bank);
}

int cmd_train(int argc, char **argv)
{
    VkcTrainConfig c = vkc_train_defaults();
    const char *data = NULL, *preset = NULL, *aug = NULL, *encoder = NULL, *optimizer = NULL, *scaling = NULL,
               *out = NULL, *resume = NULL, *loss = NULL, *nce_logz = NULL;
    long limit = -1, width = -1, head_layers = -1, head_hidden = -1, out_dim = -1, batch = -1, epochs = -1,
         stop_after = 0, seed = -1, device = -1, log_every = -1, threads = -1, knn_k = -1, knn_bank = -1,
         knn_every = -1, probe_epochs = -1, probe_limit = -1;
    double lr = -1, wd = -1, warmup = -1, temperature = -1, tau_plus = -1;
    int set = 0; /* options that define the run (not allowed with --resume) */
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--profile")) {
            c.profile = true;
            continue;
        }
        if (!strcmp(argv[i], "--quiet")) {
            c.quiet = true;
            continue;
        }
        if (!strcmp(argv[i], "--sync-bn") || !strcmp(argv[i], "--no-sync-bn")) {
            c.sync_bn = !strcmp(argv[i], "--sync-bn");
            set++;
            continue;
        }
        int m, before = i;
        if ((m = arg_match_str(argc, argv, &i, "--data", &data)) ||
            (m = arg_match_int(argc, argv, &i, "--limit", 0, 1L << 30, &limit)) ||
            (m = arg_match_str(argc, argv, &i, "--preset", &preset)) ||
            (m = arg_match_str(argc, argv, &i, "--aug", &aug)) ||
            (m = arg_match_int(argc, argv, &i, "--threads", 1, 64, &threads)) ||
            (m = arg_match_str(argc, argv, &i, "--encoder", &encoder)) ||
            (m = arg_match_int(argc, argv, &i, "--width", 1, 1024, &width)) ||
            (m = arg_match_int(argc, argv, &i, "--head-layers", 2, 3, &head_layers)) ||
            (m = arg_match_int(argc, argv, &i, "--head-hidden", 0, 16384, &head_hidden)) ||
            (m = arg_match_int(argc, argv, &i, "--out-dim", 1, 4096, &out_dim)) ||
            (m = arg_match_int(argc, argv, &i, "--batch", 2, 1L << 20, &batch)) ||
            (m = arg_match_str(argc, argv, &i, "--optimizer", &optimizer)) ||
            (m = arg_match_float(argc, argv, &i, "--lr", 1e-9, 1e3, &lr)) ||
            (m = arg_match_str(argc, argv, &i, "--lr-scaling", &scaling)) ||
            (m = arg_match_float(argc, argv, &i, "--weight-decay", 0, 1, &wd)) ||
            (m = arg_match_float(argc, argv, &i, "--warmup-epochs", 0, 1e4, &warmup)) ||
            (m = arg_match_float(argc, argv, &i, "--temperature", 1e-3, 100, &temperature)) ||
            (m = arg_match_str(argc, argv, &i, "--loss", &loss)) ||
            (m = arg_match_str(argc, argv, &i, "--nce-logz", &nce_logz)) ||
            (m = arg_match_float(argc, argv, &i, "--tau-plus", 0, 1, &tau_plus)) ||
            (m = arg_match_int(argc, argv, &i, "--seed", 0, (1L << 53) - 1, &seed)) ||
            (m = arg_match_int(argc, argv, &i, "--knn-k", 0, 100000, &knn_k)) ||
            (m = arg_match_int(argc, argv, &i, "--knn-bank", 0, 1L << 30, &knn_bank)) ||
            (m = arg_match_int(argc, argv, &i, "--knn-every", 0, 1000000, &knn_every)) ||
            (m = arg_match_int(argc, argv, &i, "--probe-epochs", 0, 100000, &probe_epochs)) ||
            (m = arg_match_int(argc, argv, &i, "--probe-limit", 0, 1L << 30, &probe_limit))) {
            if (m < 0) return 2;
            set++;
            (void)before;
            continue;
        }
        if ((m = arg_match_int(argc, argv, &i, "--epochs", 1, 1L << 20, &epochs)) ||
            (m = arg_match_int(argc, argv, &i, "--stop-after", 1, 1L << 20, &stop_after)) ||
            (m = arg_match_int(argc, argv, &i, "--device", 0, 1000, &device)) ||
            (m = arg_match_int(argc, argv, &i, "--log-every", 1, 1L << 30, &log_every)) ||
            (m = arg_match_str(argc, argv, &i, "--out", &out)) ||
            (m = arg_match_str(argc, argv, &i, "--resume", &resume))) {
            if (m < 0) return 2;
            continue;
        }
        fprintf(stderr, "vkclr train: unknown option '%s' (see vkclr train --help)\n", argv[i]);
        return 2;
    }
    if (resume && loss) {
        VkcTrainConfig saved;
        char path[1100];
        snprintf(path, sizeof path, "%s/checkpoint.safetensors", resume);
        if (!vkc_checkpoint_read_config(path, &saved, NULL)) {
            VkcLossKind k;
            if (!vkc_loss_kind_parse(loss, &k) && k != saved.loss) {
                fprintf(stderr, "vkclr train: --loss %s: the run in %s was trained with --loss %s; a resumed run keeps "
                                "its loss (start a new run to train with another)\n", loss, resume,
                        vkc_loss_kind_name(saved.loss));
                return 2;
            }
        }
    }
    if (resume && set) {
        fprintf(stderr, "vkclr train: with --resume the run's configuration comes from %s/checkpoint.safetensors; only "
                        "--epochs, --stop-after, --device, --out, --log-every, --profile and --quiet may be given\n",
                resume);
        return 2;
    }
#define COPY_STR(dst, src, flag)                                                                  \
    if (src) {                                                                                    \
        if (strlen(src) >= sizeof(dst)) {                                                         \
            fprintf(stderr, "vkclr train: %s: value too long\n", flag);                           \
            return 2;                                                                             \
        }                                                                                         \
        strcpy(dst, src);                                                                         \
    }
    COPY_STR(c.data, data, "--data");
    COPY_STR(c.preset, preset, "--preset");
    COPY_STR(c.aug, aug, "--aug");
    COPY_STR(c.model.encoder, encoder, "--encoder");
    if (resume) c.out[0] = 0;
    COPY_STR(c.out, out, "--out");
#undef COPY_STR
    if (optimizer) {
        if (!strcmp(optimizer, "lars")) c.optimizer = VKC_OPTIM_LARS;
        else if (!strcmp(optimizer, "sgd")) c.optimizer = VKC_OPTIM_SGD;
        else if (!strcmp(optimizer, "adamw")) c.optimizer = VKC_OPTIM_ADAMW;
        else {
            fprintf(stderr, "vkclr train: --optimizer: unknown optimizer '%s' (lars, sgd, adamw)\n", optimizer);
            return 2;
        }
    }
    if (scaling) {
        if (!strcmp(scaling, "linear")) c.lr_scaling = VKC_LR_LINEAR;
        else if (!strcmp(scaling, "sqrt")) c.lr_scaling = VKC_LR_SQRT;
        else {
            fprintf(stderr, "vkclr train: --lr-scaling: '%s' is neither linear nor sqrt\n", scaling);
            return 2;
        }
    }
    if (limit >= 0) c.limit = (int)limit;
    if (width > 0) c.model.width = (int)width;
    if (head_layers > 0) c.model.head_layers = (int)head_layers;
    if (head_hidden >= 0) c.model.head_hidden = (int)head_hidden;
    if (out_dim > 0) c.model.out_dim = (int)out_dim;
    if (batch > 0) c.batch = (int)batch;
    if (epochs > 0) c.epochs = (int)epochs;
    c.stop_after = (int)stop_after;
    if (seed >= 0) c.seed = (uint64_t)seed;
    if (device >= 0) c.device = (int)device;
    if (log_every > 0) c.log_every = (int)log_every;
    if (threads > 0) c.threads = (int)threads;
    if (knn_k >= 0) c.knn_k = (int)knn_k;
    if (knn_bank >= 0) c.knn_bank = (int)knn_bank;
    if (knn_every >= 0) c.knn_every = (int)knn_every;
    if (probe_epochs >= 0) c.probe_epochs = (int)probe_epochs;
    if (probe_limit >= 0) c.probe_limit = (int)probe_limit;
    if (lr > 0) c.lr = (float)lr;
    if (wd >= 0) c.weight_decay = (float)wd;
    if (warmup >= 0) c.warmup_epochs = (float)warmup;
    if (temperature > 0) c.temperature = (float)temperature;
    if (loss && vkc_loss_kind_parse(loss, &c.loss)) {
        fprintf(stderr, "vkclr train: --loss: %s\n", vkc_error());
        return 2;
    }
    if (nce_logz) {
        if (strcmp(nce_logz, "self") && strcmp(nce_logz, "learned")) {
            fprintf(stderr, "vkclr train: --nce-logz: '%s' is neither self nor learned\n", nce_logz);
            return 2;
        }
        if (c.loss != VKC_LOSS_NCE) {
            fprintf(stderr, "vkclr train: --nce-logz is only used by --loss nce, not %s\n", vkc_loss_kind_name(c.loss));
            return 2;
        }
        c.nce_learned_logz = !strcmp(nce_logz, "learned");
    }
    if (tau_plus >= 0) {
        if (c.loss != VKC_LOSS_DCL_DEBIASED) {
            fprintf(stderr, "vkclr train: --tau-plus is only used by --loss dcl-debiased, not %s\n",
                    vkc_loss_kind_name(c.loss));
            return 2;
        }
        if (tau_plus >= 1) {
            fprintf(stderr, "vkclr train: --tau-plus must be below 1 (at 1 every negative would be a false one)\n");
            return 2;
        }
        c.tau_plus = (float)tau_plus;
    } else if (c.loss == VKC_LOSS_DCL_DEBIASED && !resume) {
        fprintf(stderr, "vkclr train: --loss dcl-debiased needs --tau-plus P, the probability that a negative shares "
                        "the anchor's class (e.g. 0.1 for 10 balanced classes)\n");
        return 2;
    }
    if (c.stop_after && c.stop_after >= c.epochs && !resume) {
        fprintf(stderr, "vkclr train: --stop-after %d must be less than --epochs %d\n", c.stop_after, c.epochs);
        return 2;
    }

    /* Under mpirun (OpenMPI, or a PMI launcher such as srun), one rank of a data-parallel run;
     * otherwise a single process that never initialises MPI. */
    bool launched = getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
    if (launched && !vkc_dist_available()) {
        fprintf(stderr, "vkclr train: started by an MPI launcher, but this vkclr was built without MPI "
                        "(meson setup -Dmpi=enabled)\n");
        return 2;
    }
    if (launched && vkc_dist_init(&c.dist, NULL, NULL)) {
        fprintf(stderr, "vkclr train: %s\n", vkc_error());
        return 1;
    }
    vkc_train_install_signal_handlers();
    VkcTrainResult res;
    int rc = vkc_train_run(&c, resume, resume && epochs > 0 ? (int)epochs : 0, NULL, NULL, &res);
    if (rc && c.dist.size > 1) fprintf(stderr, "vkclr train: rank %d of %d: %s\n", c.dist.rank, c.dist.size, vkc_error());
    else if (rc) fprintf(stderr, "vkclr train: %s\n", vkc_error());
    vkc_dist_finalize(&c.dist);
    if (rc) return 1;
    if (res.interrupted) return 130;
    return 0;
}
