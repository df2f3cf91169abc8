/* MPI collectives on hand-made data. Run both alone (one rank) and as
 * `mpirun -np 2 test_dist`: all-gather order, the all-reduce's rank-order sums (exact, to
 * the bit, and identical on every rank), uneven splits, broadcast, agreement on failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vkclr/dist.h"

static VkcDist dist;

/* Rank r's i-th value: not exactly representable sums, so the order of additions shows. */
static float value(int r, size_t i) { return (r + 1) * 0.1f * (float)(i + 1) + 1e-3f * (float)r; }

static void test_allgather_order(void **state)
{
    (void)state;
    enum { N = 5 };
    float local[N], *all = malloc(sizeof(float) * N * dist.size);
    for (size_t i = 0; i < N; i++) local[i] = value(dist.rank, i);
    assert_int_equal(vkc_dist_allgather(&dist, local, N, all), 0);
    for (int r = 0; r < dist.size; r++)
        for (size_t i = 0; i < N; i++) assert_true(all[r * N + i] == value(r, i));
    free(all);
}

static void check_allreduce(size_t n)
{
    float *x = malloc(sizeof(float) * (n + 1)), *all = malloc(sizeof(float) * (n + 1) * dist.size);
    for (size_t i = 0; i < n; i++) x[i] = value(dist.rank, i);
    assert_int_equal(vkc_dist_allreduce_sum(&dist, x, n), 0);
    for (size_t i = 0; i < n; i++) {
        float want = value(0, i);
        for (int r = 1; r < dist.size; r++) want += value(r, i); /* rank order, in float */
        if (memcmp(&x[i], &want, sizeof want)) fail_msg("n=%zu element %zu: %.9g != %.9g", n, i, x[i], want);
    }
    /* every rank holds the same bits */
    assert_int_equal(vkc_dist_allgather(&dist, x, n, all), 0);
    for (int r = 1; r < dist.size; r++) assert_memory_equal(all, all + r * n, n * sizeof(float));
    free(x), free(all);
}

static void test_allreduce_rank_order(void **state)
{
    (void)state;
    check_allreduce(1); /* fewer values than ranks */
    check_allreduce(7); /* not a multiple of the rank count */
    check_allreduce(1000);
}

static void test_allreduce_f64(void **state)
{
    (void)state;
    double x[3] = {dist.rank + 0.5, 1.0, -2.0 * dist.rank};
    assert_int_equal(vkc_dist_allreduce_sum_f64(&dist, x, 3), 0);
    double s0 = 0, s2 = 0;
    for (int r = 0; r < dist.size; r++) s0 += r + 0.5, s2 += -2.0 * r;
    assert_true(x[0] == s0 && x[1] == dist.size && x[2] == s2);
}

static void test_broadcast_and_any(void **state)
{
    (void)state;
    char text[16] = "";
    if (dist.rank == 0) strcpy(text, "from rank 0");
    assert_int_equal(vkc_dist_broadcast(&dist, text, sizeof text, 0), 0);
    assert_string_equal(text, "from rank 0");
    assert_false(vkc_dist_any(&dist, false));
    /* the last rank fails: every rank learns it */
    assert_true(vkc_dist_any(&dist, dist.rank == dist.size - 1));
}

int main(int argc, char **argv)
{
    if (vkc_dist_init(&dist, &argc, &argv)) return 1;
    const char *want = getenv("VKCLR_TEST_RANKS");
    if (want && atoi(want) != dist.size) {
        fprintf(stderr, "expected %s ranks, running with %d\n", want, dist.size);
        vkc_dist_finalize(&dist);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allgather_order),
        cmocka_unit_test(test_allreduce_rank_order),
        cmocka_unit_test(test_allreduce_f64),
        cmocka_unit_test(test_broadcast_and_any),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    vkc_dist_finalize(&dist);
    return failed;
}
