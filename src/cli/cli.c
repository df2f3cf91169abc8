/* Parsing and help of every command from its option rows (cli.h). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "vkclr/data.h"
#include "vkclr/fileio.h"

const CliSpec *const cli_commands[] = {&cli_train, &cli_devices, &cli_plot, &cli_augment, &cli_probe, &cli_export,
                                       &cli_selftest, &cli_bench, &cli_tune, NULL};
const CliSpec *const cli_benches[] = {&cli_bench_train, &cli_bench_kernels, &cli_bench_gemm, &cli_bench_augment,
                                      &cli_bench_layers, &cli_bench_head, NULL};

bool cli_all_rows(const VkcOption *o)
{
    (void)o;
    return true;
}

bool cli_encoder_rows(const VkcOption *o) { return (o->flags & VKC_OPT_ENCODER) != 0; }

bool cli_train_given(const CliArgs *a, const char *flag)
{
    const VkcOption *o = vkc_train_option(flag);
    return o && a->train.set[o - vkc_train_options];
}

void cli_defaults(const CliSpec *s, void *own)
{
    if (!s->size) return;
    memset(own, 0, s->size);
    if (s->defaults) s->defaults(own);
    else vkc_options_defaults(own, s->rows, s->nrows);
}

int cli_fail(const CliSpec *s, int status)
{
    fprintf(stderr, "vkclr %s: %s\n", s->name, vkc_error());
    return status;
}

int cli_check_output(const CliSpec *s, const char *flag, const char *path, const char *const *inputs,
                     const char *data_spec)
{
    if (vkc_check_output(path)) {
        fprintf(stderr, "vkclr %s: %s: %s\n", s->name, flag, vkc_error());
        return 1;
    }
    for (int i = 0; inputs && inputs[i]; i++)
        if (vkc_same_file(path, inputs[i])) {
            fprintf(stderr, "vkclr %s: %s %s: that is %s, which this command reads: refusing to overwrite an input\n", s->name,
                    flag, path, inputs[i]);
            return 2;
        }
    char folder[1100];
    if (data_spec && vkc_dataset_spec_folder(data_spec, folder, sizeof folder) == VKC_OK && folder[0] &&
        vkc_path_inside(path, folder)) {
        fprintf(stderr, "vkclr %s: %s %s is inside %s, the folder of --data %s: refusing to write among the data (it "
                        "would overwrite or add to it)\n",
                s->name, flag, path, folder, data_spec);
        return 2;
    }
    return 0;
}

void cli_usage(const CliSpec *s, FILE *out)
{
    fprintf(out, "%s\n", s->synopsis);
    void *defaults = s->size ? malloc(s->size) : NULL;
    if (defaults) cli_defaults(s, defaults);
    if (!s->own_rows_last) vkc_options_help(out, s->rows, s->nrows, NULL, defaults);
    if (s->train_rows) {
        if (s->train_heading) fprintf(out, "%s\n", s->train_heading);
        vkc_options_help(out, vkc_train_options, vkc_train_noptions, s->train_rows, NULL);
    }
    if (s->own_rows_last) vkc_options_help(out, s->rows, s->nrows, NULL, defaults);
    free(defaults);
    if (s->epilogue) s->epilogue(out);
}

/* One option of a table: its value (the next argument, unless a switch) into base; the row
 * marked given, a second time refused. */
static int take(const CliSpec *s, const VkcOption *rows, const VkcOption *o, int argc, char **argv, int *i, void *base,
                VkcGiven *given)
{
    const char *flag = argv[*i];
    int index = (int)(o - rows);
    if (given->set[index]) {
        fprintf(stderr, "vkclr %s: %s given twice\n", s->name, o->flag);
        return -1;
    }
    given->set[index] = true;
    const char *value = NULL;
    if (o->type == VKC_OPT_SWITCH) {
        value = strcmp(flag, o->flag) ? "no" : NULL;
    } else if (*i + 1 >= argc) {
        fprintf(stderr, "vkclr %s: %s needs a value\n", s->name, flag);
        return -1;
    } else {
        value = argv[++*i];
    }
    return vkc_option_set(base, o, value) ? cli_fail(s, -1) : 0;
}

int cli_parse(const CliSpec *s, int argc, char **argv, void *own, VkcTrainConfig *train, CliArgs *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            cli_usage(s, stdout);
            return 1;
        }
        const VkcOption *o = vkc_options_find(s->rows, s->nrows, arg);
        if (o) {
            if (take(s, s->rows, o, argc, argv, &i, own, &a->own)) return -1;
            continue;
        }
        o = s->train_rows ? vkc_train_option(arg) : NULL;
        if (o && s->train_rows(o)) {
            if (take(s, vkc_train_options, o, argc, argv, &i, train, &a->train)) return -1;
            continue;
        }
        if (!s->operands || !strncmp(arg, "--", 2)) {
            fprintf(stderr, "vkclr %s: unknown %s '%s' (see vkclr %s --help)\n", s->name,
                    strncmp(arg, "-", 1) ? "argument" : "option", arg, s->name);
            return -1;
        }
        if (a->noperands == CLI_MAX_OPERANDS) {
            fprintf(stderr, "vkclr %s: at most %d arguments\n", s->name, CLI_MAX_OPERANDS);
            return -1;
        }
        a->operands[a->noperands++] = arg;
    }
    return 0;
}
