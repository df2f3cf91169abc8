/* The vkclr subcommands: one file each (cmd_*.c), benchmarks in bench_*.c. Each takes the
 * arguments after its own name and returns the process exit status. */
#ifndef VKCLR_CLI_COMMANDS_H
#define VKCLR_CLI_COMMANDS_H

int cmd_devices(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_selftest(int argc, char **argv);
int cmd_augment(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_tune(int argc, char **argv);

int bench_gemm(int argc, char **argv);
int bench_augment(int argc, char **argv);
int bench_layers(int argc, char **argv);
int bench_head(int argc, char **argv);
int bench_train(int argc, char **argv);

#endif
