/* vkclr: SimCLR-style self-supervised learning on any Vulkan GPU. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: vkclr COMMAND [OPTIONS]\n\ncommands:\n");
    for (int i = 0; cli_commands[i]; i++) fprintf(out, "  %-10s %s\n", cli_commands[i]->name, cli_commands[i]->about);
    fprintf(out, "\nvkclr COMMAND --help shows the options of one command.\n"
                 "Environment: VKCLR_DEVICE=N picks a device, VKCLR_VALIDATION=1 enables the validation layer.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    VkcContextOptions env;
    if (cli_environment(&env)) {
        fprintf(stderr, "vkclr: %s\n", vkc_error());
        return 2;
    }
    for (int i = 0; cli_commands[i]; i++)
        if (!strcmp(argv[1], cli_commands[i]->name)) return cli_run(cli_commands[i], argc - 2, argv + 2, &env);
    fprintf(stderr, "vkclr: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
