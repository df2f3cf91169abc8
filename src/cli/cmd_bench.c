#include <stdio.h>
#include <string.h>

#include "commands.h"

/* Every kernel of a training step: the encoder layers, then the head, loss and optimizer. */
static int bench_kernels(int argc, char **argv)
{
    int status = bench_layers(argc, argv);
    int head = bench_head(argc, argv);
    return status ? status : head;
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} benches[] = {
    {"train", bench_train, "images/s and TFLOP/s of a training step (vkclr train's options), time per kernel class"},
    {"kernels", bench_kernels, "every layer, loss and optimizer kernel at training shapes (layers + head)"},
    {"gemm", bench_gemm, "GFLOP/s of the GEMM kernel at square and conv-as-GEMM shapes"},
    {"augment", bench_augment, "two-view images/s of the CPU augmentation pipeline, 1 and 2 threads"},
    {"layers", bench_layers, "time and GFLOP/s or GB/s of each encoder layer kernel at training shapes"},
    {"head", bench_head, "projection head, NT-Xent and optimizer kernels at SimCLR training shapes"},
};
#define NBENCH (int)(sizeof benches / sizeof benches[0])

int cmd_bench(int argc, char **argv)
{
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        printf("usage: vkclr bench WHAT [OPTIONS]\n\n");
        for (int i = 0; i < NBENCH; i++) printf("  %-10s %s\n", benches[i].name, benches[i].help);
        return argc < 1 ? 2 : 0;
    }
    for (int i = 0; i < NBENCH; i++)
        if (!strcmp(argv[0], benches[i].name)) return benches[i].run(argc - 1, argv + 1);
    fprintf(stderr, "vkclr bench: unknown benchmark '%s' (see vkclr bench --help)\n", argv[0]);
    return 2;
}
