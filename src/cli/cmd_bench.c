/* vkclr bench WHAT: the benchmarks (bench_*.c), each a CliSpec of cli_benches[]. */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "commands.h"

static const char bench_kernels_synopsis[] =
    "usage: vkclr bench kernels [OPTIONS]\n\nvkclr bench layers, then vkclr bench head, with these options.\n";

/* Every kernel of a training step: the encoder layers, then the head, loss and optimizer. */
static void kernels_defaults(void *o) { bench_defaults(o, 3); }

static int kernels(const CliCall *call)
{
    int status = bench_layers_run(call);
    int head = bench_head_run(call);
    return status ? status : head;
}

const CliSpec cli_bench_kernels = {.name = "bench kernels", .run = kernels, .synopsis = bench_kernels_synopsis,
                                   .about = "every layer, loss and optimizer kernel at training shapes (layers + head)",
                                   BENCH_ROWS, .defaults = kernels_defaults};

static int run(const CliCall *call)
{
    int argc = call->argc;
    char **argv = call->argv;
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        printf("usage: vkclr bench WHAT [OPTIONS]\n\n");
        for (int i = 0; cli_benches[i]; i++) printf("  %-10s %s\n", cli_benches[i]->name + 6, cli_benches[i]->about);
        return argc < 1 ? 2 : 0;
    }
    char name[64];
    snprintf(name, sizeof name, "bench %s", argv[0]);
    for (int i = 0; cli_benches[i]; i++)
        if (!strcmp(name, cli_benches[i]->name)) return cli_run(cli_benches[i], argc - 1, argv + 1, call->env);
    fprintf(stderr, "vkclr bench: unknown benchmark '%s' (see vkclr bench --help)\n", argv[0]);
    return 2;
}

const CliSpec cli_bench = {.name = "bench", .run = run, .raw = true, .synopsis = "usage: vkclr bench WHAT [OPTIONS]\n",
                           .about = "measure kernels and pipelines (vkclr bench --help)"};
