/* Shared set-up for tests that run on a Vulkan device: one context per test group, created
 * with the validation layer when VKCLR_VALIDATION=1 (meson test sets it; the environment is read
 * here, at the test's edge, as the vkclr command reads it), and a check at
 * teardown that the layer reported nothing. Include after cmocka.h. */
#ifndef VKCLR_TESTS_VKTEST_H
#define VKCLR_TESTS_VKTEST_H

#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "vkclr/vk.h"

static VkcContext vktest_ctx;

static int vktest_setup(void **state)
{
    (void)state;
    VkcContextOptions opt; /* the environment's, read here as vkclr reads it (cli.h) */
    if (cli_environment(&opt)) {
        fprintf(stderr, "%s\n", vkc_error());
        return -1;
    }
    opt.quiet = true;
    if (vkc_context_create(&vktest_ctx, &opt)) {
        fprintf(stderr, "cannot create a Vulkan context: %s\n", vkc_error());
        return -1;
    }
    return 0;
}

static int vktest_teardown(void **state)
{
    (void)state;
    vkc_context_destroy(&vktest_ctx);
    if (vktest_ctx.validation_messages) {
        fprintf(stderr, "FAIL: the validation layer reported %d message(s)\n", vktest_ctx.validation_messages);
        return -1;
    }
    return 0;
}

/* Fail the current test with vkc_error() if a runtime call failed. */
#define VK_OK(call)                                                                      \
    do {                                                                                 \
        if ((call) != VKC_OK) fail_msg("%s failed: %s", #call, vkc_error());             \
    } while (0)

/* Fail if the validation layer has said anything so far. */
#define NO_VALIDATION_MESSAGES() assert_int_equal(vktest_ctx.validation_messages, 0)

#endif
