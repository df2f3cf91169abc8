/* The vkclr subcommands: one file each (cmd_*.c), benchmarks in bench_*.c. Each is a CliSpec
 * (cli.h): its options' rows and its run function, which takes the arguments after its own
 * name and returns the process exit status. */
#ifndef VKCLR_CLI_COMMANDS_H
#define VKCLR_CLI_COMMANDS_H

#include "cli.h"

extern const CliSpec cli_train, cli_devices, cli_plot, cli_augment, cli_probe, cli_export, cli_selftest, cli_bench,
    cli_tune;
extern const CliSpec cli_bench_train, cli_bench_kernels, cli_bench_gemm, cli_bench_augment, cli_bench_layers,
    cli_bench_head;

#endif
