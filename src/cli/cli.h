/* The command line of every vkclr command: one CliSpec each, whose option rows (vkclr/options.h)
 * drive its parsing, range checks, error messages and --help, as vkc_train_options[] does for
 * vkclr train. A command's own options are fields of a struct of its own; where it shares
 * vkclr train's (the encoder, the data, the device, the whole training configuration for
 * tune and bench train), the same rows parse them into a VkcTrainConfig.
 *
 * Adding an option to a command: a field in its struct, a row in its table. */
#ifndef VKCLR_CLI_CLI_H
#define VKCLR_CLI_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "vkclr/config.h"

#define CLI_MAX_OPERANDS 64
#define CLI_PATH 1024 /* the size of a path option's field */

typedef struct CliCall CliCall;

typedef struct {
    const char *name;      /* "probe", "bench train" */
    const char *about;     /* one line in the list of commands */
    int (*run)(const CliCall *call); /* the command, its options parsed; returns the exit status */
    bool raw;              /* run gets the arguments unparsed (vkclr bench WHAT ...) */
    const char *synopsis;  /* the usage lines and what the command does, before the options */
    const VkcOption *rows; /* its own options, over a struct of `size` bytes */
    int nrows;
    size_t size;
    void (*defaults)(void *own); /* that struct as the command starts from (NULL: zeros, then the rows' defaults) */
    bool (*train_rows)(const VkcOption *o); /* the rows of vkc_train_options it takes too (NULL: none) */
    const char *train_heading;   /* the line before their help */
    bool own_rows_last;    /* help: the command's own rows after the training options */
    bool operands;         /* takes arguments that are not options (vkclr plot's RUN_DIRs) */
    void (*epilogue)(FILE *out); /* help text after the options (NULL: none) */
} CliSpec;

/* The rows of a command's own options and their struct: CLI_ROWS(rows, ProbeArgs). */
#define CLI_ROWS(rows_, type) .rows = rows_, .nrows = sizeof rows_ / sizeof rows_[0], .size = sizeof(type)

typedef struct {
    VkcGiven own, train;   /* which rows the command line gave */
    const char *operands[CLI_MAX_OPERANDS];
    int noperands;
} CliArgs;

/* What a command's run gets. */
struct CliCall {
    void *own;             /* its own options (the struct of its rows), parsed */
    VkcTrainConfig *train; /* the rows of vkclr train it takes, parsed, on the environment's device (NULL: none) */
    const CliArgs *args;   /* which options were given; the operands */
    const VkcContextOptions *env; /* cli_environment's */
    int argc;              /* the arguments after the command's name (CliSpec.raw) */
    char **argv;
};

/* Run a command: its options set up and parsed (--help printed: 0; an error printed: 2), then
 * spec->run. */
int cli_run(const CliSpec *s, int argc, char **argv, const VkcContextOptions *env);

/* Every command and every benchmark, for main and cmd_bench (and test_options, which checks
 * every table). NULL-terminated. */
extern const CliSpec *const cli_commands[];
extern const CliSpec *const cli_benches[];

/* The struct of a command's own options as it starts: spec->defaults, or zeros and the rows' defaults. */
void cli_defaults(const CliSpec *s, void *own);
/* Parse argv into own (the command's struct, set up by cli_defaults) and train (a
 * VkcTrainConfig for the rows of vkclr train it takes; NULL if none). Returns 0 to go on, 1
 * after printing --help (exit 0), -1 after printing the error as "vkclr NAME: ..." (exit 2). */
int cli_parse(const CliSpec *s, int argc, char **argv, void *own, VkcTrainConfig *train, CliArgs *a);
/* The command's --help. */
void cli_usage(const CliSpec *s, FILE *out);
/* Print "vkclr NAME: " and the last error (vkc_error); returns `status`. */
int cli_fail(const CliSpec *s, int status);

/* The environment vkclr reads, once, at its start (and the tests at theirs): VKCLR_DEVICE=N,
 * VKCLR_VALIDATION=1, VKCLR_QUIET=1, and the kernel overrides of checks and measurements
 * (VkcKernelOverrides): VKCLR_CONV_PATH=reg|smem, VKCLR_CONV_{FWD,DGRAD,WGRAD}_{TILE,BLOCK}=a,b,c,d,
 * VKCLR_CONV_SG=0, VKCLR_GEMM_TILE=a,b,c,d, VKCLR_FUSE_POOL=0, and where the tuning cache is
 * (VKCLR_TUNE_CACHE, XDG_CACHE_HOME, HOME). A malformed value fails, naming the variable. The
 * library itself reads none of them. */
int cli_environment(VkcContextOptions *o);
/* A command's context: the environment's, with the device its --device gave (-1: the
 * environment's choice) and quiet if either says so. */
VkcContextOptions cli_context(const VkcContextOptions *env, int device, bool quiet);

/* Did the command line give this option of vkclr train's table? */
bool cli_train_given(const CliArgs *a, const char *flag);

/* The heading of the training options of a command that takes them all (tune, bench train). */
#define CLI_TRAIN_OPTIONS "TRAIN OPTIONS (those of vkclr train that define the model and its step):"

/* Row filters for CliSpec.train_rows. */
bool cli_all_rows(const VkcOption *o);
bool cli_encoder_rows(const VkcOption *o); /* VKC_OPT_ENCODER: the encoder, its data, the seed, the device */

#endif
