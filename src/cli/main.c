/* vkclr: SimCLR-style self-supervised learning on any Vulkan GPU. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vkclr/fileio.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: vkclr COMMAND [OPTIONS]\n\ncommands:\n");
    for (int i = 0; cli_commands[i]; i++) fprintf(out, "  %-10s %s\n", cli_commands[i]->name, cli_commands[i]->about);
    fprintf(out, "\nvkclr COMMAND --help shows the options of one command.\n"
                 "Environment: VKCLR_DEVICE=N picks a device, VKCLR_VALIDATION=1 enables the validation layer.\n");
}

/* VKCLR_TEST_KILL_AT=POINT:NAME:N[:SIGNAL]: raise SIGNAL (default SIGKILL) the N-th time a write
 * reaches POINT (vkclr/fileio.h: staged, written, renamed, cleaned) for a file or directory
 * whose last path component is NAME. For the crash tests (tests/test_crash.c): a kill at an
 * exact moment of a replacement, which no timing from outside can hit every time. */
static struct {
    char point[16], name[256];
    int n, sig, seen;
} kill_at;

static void kill_hook(const char *point, const char *path)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (!strcmp(point, kill_at.point) && !strcmp(base, kill_at.name) && ++kill_at.seen == kill_at.n) {
        fflush(stdout);
        raise(kill_at.sig);
    }
}

static void test_kill_hook(void)
{
    const char *spec = getenv("VKCLR_TEST_KILL_AT");
    if (!spec || !*spec) return;
    kill_at.sig = SIGKILL;
    int used = 0;
    if (sscanf(spec, "%15[a-z]:%255[^:]:%d%n:%d%n", kill_at.point, kill_at.name, &kill_at.n, &used, &kill_at.sig,
               &used) < 3 ||
        spec[used] || kill_at.n < 1 || kill_at.sig < 1 || kill_at.sig >= NSIG) {
        fprintf(stderr, "vkclr: VKCLR_TEST_KILL_AT='%s' is not POINT:NAME:N[:SIGNAL]; ignored\n", spec);
        return;
    }
    vkc_fileio_set_hook(kill_hook);
}

int main(int argc, char **argv)
{
    /* A write past a file-size limit (ulimit -f) is an error the command reports, naming the
     * file (EFBIG: "File too large"), never a death by signal with a temporary file left. */
    signal(SIGXFSZ, SIG_IGN);
    test_kill_hook();
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
