/* Runs the kernel checks of vkclr/check.h (the same list `vkclr selftest` runs) as cmocka
 * tests: `test_checks PREFIX` runs those whose name starts with PREFIX, under the validation
 * layer when VKCLR_VALIDATION=1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdbool.h>
#include <stdio.h>
#include <cmocka.h>

#include "vkclr/check.h"
#include "vktest.h"

static void run_one(void **state)
{
    const VkcCheck *c = *state;
    VkcCheckResult r = {.passed = true};
    int before = vktest_ctx.validation_messages;
    if (vkc_check_run(c, &vktest_ctx, &r) != VKC_OK) fail_msg("%s could not run: %s", c->name, vkc_error());
    if (r.skipped) {
        print_message("%s: %s\n", c->name, r.detail);
        skip();
    }
    if (!r.passed) fail_msg("%s: %s", c->name, r.detail);
    print_message("%s: %s\n", c->name, r.detail);
    assert_int_equal(vktest_ctx.validation_messages, before);
}

/* --groups G...: every check's group (its name before the slash) is one of G. */
static int check_groups(int n, char **groups)
{
    int missing = 0;
    for (const VkcCheck *c = vkc_checks; c->name; c++) {
        size_t len = strcspn(c->name, "/");
        bool found = false;
        for (int g = 0; g < n && !found; g++) found = strlen(groups[g]) == len && !strncmp(groups[g], c->name, len);
        if (!found) {
            fprintf(stderr, "check %s belongs to no meson test group (tests/meson.build reads src/check/checks.def)\n",
                    c->name);
            missing++;
        }
    }
    printf("%d groups cover every check\n", n);
    return missing ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--groups")) return check_groups(argc - 2, argv + 2);
    const char *prefix = argc > 1 ? argv[1] : "";
    static struct CMUnitTest tests[256];
    int n = 0;
    for (const VkcCheck *c = vkc_checks; c->name && n < 256; c++)
        if (!strncmp(c->name, prefix, strlen(prefix)))
            tests[n++] = (struct CMUnitTest){c->name, run_one, NULL, NULL, (void *)c};
    if (n == 0) {
        fprintf(stderr, "no check starts with '%s'\n", prefix);
        return 1;
    }
    return _cmocka_run_group_tests(prefix[0] ? prefix : "checks", tests, (size_t)n, vktest_setup, vktest_teardown);
}
