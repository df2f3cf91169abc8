/* GEMM API errors (the numerical checks are in src/check/check_gemm.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>
#include <cmocka.h>

#include "vkclr/gemm.h"
#include "vktest.h"

static VkcGemm gemm;

static int setup(void **state)
{
    if (vktest_setup(state)) return -1;
    return vkc_gemm_init(&vktest_ctx, &gemm);
}

static int teardown(void **state)
{
    vkc_gemm_destroy(&gemm);
    return vktest_teardown(state);
}

static void test_bad_shapes(void **state)
{
    (void)state;
    VkcArena arena;
    VK_OK(vkc_arena_init(&arena, &vktest_ctx, VKC_MEMORY_DEVICE));
    VkcTensor t;
    VK_OK(vkc_tensor_alloc(&arena, 100 * sizeof(float), &t));
    VkcCmd cmd;
    VK_OK(vkc_cmd_init(&vktest_ctx, &cmd));
    VK_OK(vkc_cmd_begin(&cmd));
    VkcGemmArgs args = {.M = 20, .N = 20, .K = 20, .A = t, .B = t, .C = t, .lda = 20, .ldb = 20, .ldc = 20, .alpha = 1};
    assert_int_equal(vkc_gemm_record(&gemm, &cmd, &args), VKC_ERR);
    assert_non_null(strstr(vkc_error(), "too small"));
    args.M = 5, args.lda = 3;
    assert_int_equal(vkc_gemm_record(&gemm, &cmd, &args), VKC_ERR);
    assert_non_null(strstr(vkc_error(), "leading dimension"));
    VK_OK(vkc_cmd_end(&cmd));
    vkc_cmd_destroy(&cmd);
    vkc_arena_destroy(&arena);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_shapes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
