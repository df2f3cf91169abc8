/* vkclr selftest: every kernel against its plain-C reference on the chosen device. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "vkclr/check.h"

static const char selftest_synopsis[] =
    "usage: vkclr selftest [--device N] [--only PREFIX] [--validation]\n\n"
    "Runs every kernel on the device and compares it with the plain-C reference, and every\n"
    "reference backward with finite differences: the checks CI runs, on your GPU and driver.\n"
    "Prints one line per check and exits non-zero if any fails.\n";

typedef struct {
    int device;
    char only[128];
    bool validation;
} SelftestArgs;

#define FIELD(f) VKC_OPTION_FIELD(SelftestArgs, f)
static const VkcOption rows[] = {
    {.flag = "--device", .type = VKC_OPT_INT, FIELD(device), .min = 0, .max = 1000, .def = "auto", .auto_name = "auto",
     .auto_value = -1, .section = "options", .metavar = "N", .help = "Vulkan device (see vkclr devices)"},
    {.flag = "--only", .type = VKC_OPT_STRING, FIELD(only), .def = "", .section = "options", .metavar = "PREFIX",
     .help = "only the checks whose name starts with PREFIX (e.g. conv/)"},
    {.flag = "--validation", .type = VKC_OPT_SWITCH, FIELD(validation), .section = "options",
     .help = "with the Khronos validation layer"},
};
#undef FIELD

static int run(const CliCall *call)
{
    const SelftestArgs t = *(const SelftestArgs *)call->own;
    const char *only = t.only[0] ? t.only : NULL;
    VkcContext ctx;
    VkcContextOptions opt = cli_context(call->env, t.device, false);
    opt.validation = opt.validation || t.validation;
    if (vkc_context_create(&ctx, &opt)) return cli_fail(&cli_selftest, 1);
    printf("selftest on %s (%s, subgroup %u)\n", ctx.props.deviceName, vkc_device_type_name(ctx.props.deviceType),
           ctx.subgroup_size);
    for (int d = VKC_F16; d <= VKC_BF16; d++) {
        if (ctx.coop.ok[d])
            printf("cooperative matrices %s: %ux%ux%u (the coop checks run them)\n", vkc_dtype_name((VkcDtype)d),
                   ctx.coop.shape[d].M, ctx.coop.shape[d].N, ctx.coop.shape[d].K);
        else
            printf("cooperative matrices %s: not run (%s)\n", vkc_dtype_name((VkcDtype)d), ctx.coop.why_not[d]);
    }
    int ran = 0, skipped = 0;
    int failed = vkc_run_checks(&ctx, only, stdout, &ran, &skipped);
    vkc_context_destroy(&ctx);
    if (ran == 0) {
        fprintf(stderr, "vkclr selftest: no check starts with '%s'\n", only ? only : "");
        return 2;
    }
    printf("%d passed, %d failed, %d not run on this device (SKIP lines say which variant and why)\n",
           ran - failed - skipped, failed, skipped);
    return failed ? 1 : 0;
}

const CliSpec cli_selftest = {.name = "selftest", .run = run, .synopsis = selftest_synopsis,
                              .about = "check every kernel against its C reference on this device",
                              CLI_ROWS(rows, SelftestArgs)};
