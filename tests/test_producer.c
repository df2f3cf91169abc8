/* The two-view batch producer: bit-identical batches for 1, 2 and 3 threads; per-epoch
 * shuffles with drop-last; views equal to single-view calls; caller-provided slot memory;
 * back-pressure; resuming at a step; shutdown with slots still held. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <stdlib.h>
#include <time.h>

#include "fixtures.h"
#include "vkclr/augment.h"

#define OK(call)                                                               \
    do {                                                                       \
        if ((call) != VKC_OK) fail_msg("%s failed: %s", #call, vkc_error());   \
    } while (0)

#define N 100   /* images */
#define B 16    /* batch: 6 steps per epoch, 4 images dropped */
#define STEPS 14 /* crosses two epoch boundaries */

static VkcDataset ds;
static VkcAugmentConfig cfg;

static int setup(void **state)
{
    (void)state;
    if (vkc_dataset_synthetic(&ds, N, 0, 10, 12, 3, 5, 3)) return -1;
    vkc_augment_preset("simclr", &cfg);  /* every op on, blur and solarize too */
    cfg.solarize_p = 0.3f;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vkc_dataset_free(&ds);
    return 0;
}

static size_t view_floats(void) { return (size_t)ds.channels * ds.height * ds.width; }

/* Run STEPS steps and keep every batch's views and indices. */
static void run(int threads, int slots, int64_t first_step, int steps, float *views, int32_t *indices)
{
    VkcProducer *p;
    VkcProducerOptions opt = {.batch = B, .threads = threads, .slots = slots, .seed = 77, .first_step = first_step};
    OK(vkc_producer_create(&p, &ds, &cfg, &opt));
    assert_int_equal(vkc_producer_steps_per_epoch(p), N / B);
    size_t batch_floats = 2 * B * view_floats();
    for (int s = 0; s < steps; s++) {
        VkcBatch b;
        OK(vkc_producer_acquire(p, &b));
        assert_int_equal(b.step, first_step + s);
        assert_int_equal(b.epoch, (first_step + s) / (N / B));
        memcpy(views + s * batch_floats, b.views, batch_floats * sizeof(float));
        memcpy(indices + s * B, b.indices, B * sizeof(int32_t));
        for (int i = 0; i < B; i++) assert_int_equal(b.labels[i], ds.train.labels[b.indices[i]]);
        vkc_producer_release(p, &b);
    }
    VkcProducerStats st;
    vkc_producer_stats(p, &st);
    assert_int_equal(st.acquired, steps);
    assert_true(st.waited <= st.acquired && st.filled >= steps);
    vkc_producer_destroy(p);
}

static void test_thread_count_does_not_matter(void **state)
{
    (void)state;
    size_t floats = (size_t)STEPS * 2 * B * view_floats();
    float *ref = malloc(floats * sizeof(float)), *got = malloc(floats * sizeof(float));
    int32_t ref_idx[STEPS * B], got_idx[STEPS * B];
    run(1, 2, 0, STEPS, ref, ref_idx);
    for (int threads = 2; threads <= 3; threads++) {
        run(threads, 3, 0, STEPS, got, got_idx);
        assert_memory_equal(got_idx, ref_idx, sizeof ref_idx);
        assert_memory_equal(got, ref, floats * sizeof(float));
    }
    /* each view is exactly the single-view function with the key (seed, epoch, index, view) */
    VkcAugmenter *aug;
    OK(vkc_augmenter_create(&aug, &cfg, ds.height, ds.width, ds.channels));
    float *one = malloc(view_floats() * sizeof(float));
    int step = 8, b = 5, v = 1;
    int32_t index = ref_idx[step * B + b];
    VkcRng rng = vkc_rng(77, (uint64_t)step / (N / B), (uint64_t)index, (uint64_t)v);
    vkc_augment_view(aug, vkc_image(&ds, &ds.train, index), &rng, one);
    assert_memory_equal(one, ref + ((size_t)step * 2 * B + (size_t)v * B + b) * view_floats(),
                        view_floats() * sizeof(float));
    /* the two views of an image differ */
    assert_memory_not_equal(ref, ref + (size_t)B * view_floats(), view_floats() * sizeof(float));
    vkc_augmenter_destroy(aug);
    free(one);

    /* resuming at step 9 gives steps 9.. exactly as before */
    run(2, 2, 9, STEPS - 9, got, got_idx);
    assert_memory_equal(got_idx, ref_idx + 9 * B, (STEPS - 9) * B * sizeof(int32_t));
    assert_memory_equal(got, ref + (size_t)9 * 2 * B * view_floats(), (size_t)(STEPS - 9) * 2 * B * view_floats() * sizeof(float));
    free(ref);
    free(got);
}

static void test_epoch_shuffle(void **state)
{
    (void)state;
    size_t floats = (size_t)12 * 2 * B * view_floats();
    float *views = malloc(floats * sizeof(float));
    int32_t idx[12 * B];
    run(2, 2, 0, 12, views, idx);
    for (int e = 0; e < 2; e++) {
        /* an epoch's 6 batches hold 96 distinct images (4 dropped) */
        int seen[N] = {0};
        for (int i = 0; i < 6 * B; i++) {
            int32_t k = idx[e * 6 * B + i];
            assert_true(k >= 0 && k < N);
            assert_int_equal(seen[k]++, 0);
        }
        int32_t order[N];
        vkc_epoch_order(77, e, N, order);
        assert_memory_equal(idx + e * 6 * B, order, 6 * B * sizeof(int32_t));
    }
    assert_memory_not_equal(idx, idx + 6 * B, 6 * B * sizeof(int32_t));  /* a new shuffle per epoch */
    free(views);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_slots_and_back_pressure(void **state)
{
    (void)state;
    /* caller-provided slot memory is where the batches land */
    size_t bytes = vkc_producer_slot_bytes(&ds, &cfg, B);
    assert_int_equal(bytes, 2 * B * view_floats() * sizeof(float));
    void *mem[2] = {malloc(bytes), malloc(bytes)};
    VkcProducer *p;
    VkcProducerOptions opt = {.batch = B, .threads = 2, .slots = 2, .seed = 1, .slot_memory = mem};
    OK(vkc_producer_create(&p, &ds, &cfg, &opt));
    VkcBatch b0, b1, b2;
    OK(vkc_producer_acquire(p, &b0));
    assert_ptr_equal(b0.views, mem[b0.slot]);
    /* holding step 0, the workers can fill step 1 and must then stop */
    VkcProducerStats st;
    for (int t = 0; t < 200; t++) {
        vkc_producer_stats(p, &st);
        if (st.filled == 2) break;
        sleep_ms(5);
    }
    sleep_ms(50);
    vkc_producer_stats(p, &st);
    assert_int_equal(st.filled, 2);
    OK(vkc_producer_acquire(p, &b1));
    assert_ptr_equal(b1.views, mem[b1.slot]);
    assert_int_not_equal(b0.slot, b1.slot);
    /* both slots held: a third acquire would wait forever, so it fails instead */
    ASSERT_ERROR_MENTIONS(vkc_producer_acquire(p, &b2), "all 2 slots are held");
    vkc_producer_release(p, &b0);
    OK(vkc_producer_acquire(p, &b2));
    assert_int_equal(b2.step, 2);
    assert_int_equal(b2.slot, b0.slot);
    /* shut down with slots still held */
    vkc_producer_destroy(p);
    free(mem[0]);
    free(mem[1]);
}

static void test_shutdown_while_busy_and_bad_options(void **state)
{
    (void)state;
    VkcProducer *p;
    VkcProducerOptions opt = {.batch = B, .threads = 3, .slots = 4, .seed = 2};
    OK(vkc_producer_create(&p, &ds, &cfg, &opt));
    vkc_producer_destroy(p);  /* the workers are mid-batch */

    opt.batch = N + 1;
    ASSERT_ERROR_MENTIONS(vkc_producer_create(&p, &ds, &cfg, &opt), "batch 101");
    assert_null(p);
    opt.batch = B;
    opt.threads = 0;
    ASSERT_ERROR_MENTIONS(vkc_producer_create(&p, &ds, &cfg, &opt), "threads");
    opt.threads = 1;
    VkcAugmentConfig bad = cfg;
    bad.scale[1] = 2.0f;
    ASSERT_ERROR_MENTIONS(vkc_producer_create(&p, &ds, &bad, &opt), "producer", "scale");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thread_count_does_not_matter),
        cmocka_unit_test(test_epoch_shuffle),
        cmocka_unit_test(test_slots_and_back_pressure),
        cmocka_unit_test(test_shutdown_while_busy_and_bad_options),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
