/* Runs the kernel checks of vkclr/check.h (the same list `vkclr selftest` runs) as cmocka
 * tests: `test_checks PREFIX` runs those whose name starts with PREFIX, under the validation
 * layer when VKCLR_VALIDATION=1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vkclr/check.h"
#include "vktest.h"

static void run_one(void **state)
{
    const VkcCheck *c = *state;
    VkcCheckResult r = {.passed = true};
    int before = vktest_ctx.validation_messages;
    if (c->run(&vktest_ctx, &r) != VKC_OK) fail_msg("%s could not run: %s", c->name, vkc_error());
    if (!r.passed) fail_msg("%s: %s", c->name, r.detail);
    print_message("%s: %s\n", c->name, r.detail);
    assert_int_equal(vktest_ctx.validation_messages, before);
}

int main(int argc, char **argv)
{
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
