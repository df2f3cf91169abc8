/* vkclr: SimCLR-style self-supervised learning on any Vulkan GPU. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} Command;

static const Command commands[] = {
    {"train", cmd_train, "train an encoder with SimCLR (no options: convnet on Fashion-MNIST, ~2 minutes on 2 CPU cores)"},
    {"devices", cmd_devices, "list Vulkan devices and their compute limits"},
    {"plot", cmd_plot, "draw the training curves of runs (their metrics.jsonl) into one PNG"},
    {"augment", cmd_augment, "write a PNG grid of images and their two augmented views"},
    {"probe", cmd_probe, "linear probe and kNN accuracy of frozen features (pixels or an encoder)"},
    {"export", cmd_export, "write features and labels of a split as NumPy .npy files"},
    {"selftest", cmd_selftest, "check every kernel against its C reference on this device"},
    {"bench", cmd_bench, "measure kernels and pipelines (vkclr bench --help)"},
    {"tune", cmd_tune, "time the convolution kernel variants on this device and keep the fastest"},
};
#define NCOMMANDS (int)(sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: vkclr COMMAND [OPTIONS]\n\ncommands:\n");
    for (int i = 0; i < NCOMMANDS; i++) fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(out, "\nvkclr COMMAND --help shows the options of one command.\n"
                 "Environment: VKCLR_DEVICE=N picks a device, VKCLR_VALIDATION=1 enables the validation layer.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (int i = 0; i < NCOMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 2, argv + 2);
    fprintf(stderr, "vkclr: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
