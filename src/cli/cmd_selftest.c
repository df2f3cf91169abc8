/* vkclr selftest: every kernel against its plain-C reference on the chosen device. */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "vkclr/check.h"

int cmd_selftest(int argc, char **argv)
{
    long device = -1;
    const char *only = NULL;
    bool validation = false;
    for (int i = 0; i < argc; i++) {
        int m;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: vkclr selftest [--device N] [--only PREFIX] [--validation]\n\n"
                   "Runs every kernel on the device and compares it with the plain-C reference, and every\n"
                   "reference backward with finite differences: the checks CI runs, on your GPU and driver.\n"
                   "Prints one line per check and exits non-zero if any fails.\n");
            return 0;
        }
        if (!strcmp(argv[i], "--validation")) {
            validation = true;
            continue;
        }
        if ((m = arg_match_int(argc, argv, &i, "--device", 0, 1000, &device)) ||
            (m = arg_match_str(argc, argv, &i, "--only", &only))) {
            if (m < 0) return 2;
            continue;
        }
        fprintf(stderr, "vkclr selftest: unknown option '%s'\n", argv[i]);
        return 2;
    }
    VkcContext ctx;
    VkcContextOptions opt = {.device_index = (int)device, .validation = validation};
    if (vkc_context_create(&ctx, &opt)) {
        fprintf(stderr, "vkclr selftest: %s\n", vkc_error());
        return 1;
    }
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
