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

/* An environment variable that is set and not "0". */
static bool env_flag(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0");
}

/* Four positive numbers "a,b,c,d" (unset: zeros). */
static int env_four(const char *name, uint32_t v[4])
{
    const char *text = getenv(name);
    if (!text || !*text) return VKC_OK;
    unsigned a[4];
    char end;
    if (sscanf(text, "%u,%u,%u,%u%c", &a[0], &a[1], &a[2], &a[3], &end) != 4 || !a[0] || !a[1] || !a[2] || !a[3])
        return vkc_fail("%s='%s': expected four positive numbers a,b,c,d", name, text);
    for (int i = 0; i < 4; i++) v[i] = a[i];
    return VKC_OK;
}

int cli_environment(VkcContextOptions *o)
{
    *o = (VkcContextOptions){.device_index = -1, .validation = env_flag("VKCLR_VALIDATION"),
                             .quiet = env_flag("VKCLR_QUIET")};
    const char *device = getenv("VKCLR_DEVICE");
    if (device && *device) {
        char *end;
        long d = strtol(device, &end, 10);
        if (*end || d < 0 || d > 1000) return vkc_fail("VKCLR_DEVICE='%s' is not a device index", device);
        o->device_index = (int)d;
    }
    VkcKernelOverrides *k = &o->kernels;
    const char *path = getenv("VKCLR_CONV_PATH");
    if (path && *path) {
        if (strcmp(path, "reg") && strcmp(path, "smem") && strcmp(path, "coop"))
            return vkc_fail("VKCLR_CONV_PATH='%s': expected reg, smem or coop", path);
        k->conv_family = !strcmp(path, "reg")    ? VKC_CONV_FAMILY_REG
                         : !strcmp(path, "smem") ? VKC_CONV_FAMILY_SMEM
                                                 : VKC_CONV_FAMILY_COOP;
    }
    static const char *const tiles[3][2] = {{"VKCLR_CONV_FWD_TILE", "VKCLR_CONV_FWD_BLOCK"},
                                            {"VKCLR_CONV_DGRAD_TILE", "VKCLR_CONV_DGRAD_BLOCK"},
                                            {"VKCLR_CONV_WGRAD_TILE", "VKCLR_CONV_WGRAD_BLOCK"}};
    for (int pass = 0; pass < 3; pass++)
        for (int family = 0; family < 2; family++)
            if (env_four(tiles[pass][family], k->conv_tile[pass][family])) return VKC_ERR;
    const char *file = getenv("VKCLR_TUNE_CACHE"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n = 0, m = 0;
    if (file && *file) n = snprintf(k->tuning_file, sizeof k->tuning_file, "%s", file);
    if (xdg && *xdg) m = snprintf(k->cache_dir, sizeof k->cache_dir, "%s/vkclr", xdg);
    else if (home && *home) m = snprintf(k->cache_dir, sizeof k->cache_dir, "%s/.cache/vkclr", home);
    if (n >= (int)sizeof k->tuning_file || m >= (int)sizeof k->cache_dir)
        return vkc_fail("the cache's path (VKCLR_TUNE_CACHE, XDG_CACHE_HOME, HOME) is too long");
    const char *sg = getenv("VKCLR_CONV_SG"), *fuse = getenv("VKCLR_FUSE_POOL");
    k->conv_no_subgroup = sg && !strcmp(sg, "0");
    k->unfused_pools = fuse && !strcmp(fuse, "0");
    return env_four("VKCLR_GEMM_TILE", k->gemm_tile);
}

VkcContextOptions cli_context(const VkcContextOptions *env, int device, bool quiet)
{
    VkcContextOptions o = *env;
    if (device >= 0) o.device_index = device;
    o.quiet = o.quiet || quiet;
    return o;
}

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

int cli_run(const CliSpec *s, int argc, char **argv, const VkcContextOptions *env)
{
    CliCall call = {.env = env, .argc = argc, .argv = argv};
    if (s->raw) return s->run(&call);
    CliArgs args;
    call.args = &args;
    call.own = s->size ? malloc(s->size) : NULL;
    call.train = s->train_rows ? malloc(sizeof *call.train) : NULL;
    int status = 2;
    if ((s->size && !call.own) || (s->train_rows && !call.train)) {
        fprintf(stderr, "vkclr %s: out of memory\n", s->name);
        goto done;
    }
    cli_defaults(s, call.own);
    if (call.train) {
        *call.train = vkc_train_defaults();
        call.train->context = *env;
    }
    int parsed = cli_parse(s, argc, argv, call.own, call.train, &args);
    status = parsed > 0 ? 0 : parsed < 0 ? 2 : s->run(&call);
done:
    free(call.own);
    free(call.train);
    return status;
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
