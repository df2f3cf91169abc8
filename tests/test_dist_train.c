/* Data-parallel training is equivalent to one rank with the global batch. Run as
 * `mpirun -np 2 test_dist_train`:
 *
 *   reference   rank 0 alone (a single-rank VkcDist), batch 2B
 *   sync        both ranks, batch B each, synchronised batch norm
 *   local       both ranks, batch B each, per-rank batch norm
 *
 * sync must match the reference step by step: the loss of every step, and after the last step
 * every float of the checkpoint (parameters, batch-norm running statistics, and the optimizer's
 * momentum, which is built from the gradients of every step), within TOL.
 *
 * local is NOT the reference: batch norm then normalises each rank's images with that rank's own
 * statistics, which changes the function being trained (one rank with batch 2B has no such
 * model). What data parallelism must still give there: the loss of every step is the same on
 * both ranks (global negatives: each rank's loss is over all 2 x 2B embeddings), the replicas
 * keep bit-identical parameters (vkc_train_run verifies that on every rank at each checkpoint
 * and fails otherwise), and the first loss differs from the reference's (the flag changes the
 * statistics, and the test would notice if it silently did nothing). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "fixtures.h"
#include "vkclr/dist.h"
#include "vkclr/error.h"
#include "vkclr/train.h"

enum { B = 8, STEPS = 6 };
/* float32 tolerances. The two runs add the same numbers in a different order (batch-norm and
 * weight-gradient partial sums are chunked per rank, then summed over ranks), so they agree to
 * a few ulps per operation, growing over the steps. Losses, parameters and running statistics:
 * TOL relative to max(1, |reference|). The optimizer's momentum (a sum of the gradients of all
 * steps) holds gradients, which are differences of nearly equal sums, so their rounding is
 * measured against the tensor's scale: GRAD_TOL times its largest magnitude. Measured on
 * lavapipe: 8e-6 and 5e-5. */
#define TOL 2e-5
#define GRAD_TOL 2e-4

static VkcDist world;

typedef struct {
    float loss[STEPS + 1];
    int n;
} Losses;

static void on_step(void *user, int64_t step, float loss, float accuracy)
{
    (void)accuracy;
    Losses *l = user;
    if (step >= 1 && step <= STEPS) l->loss[step - 1] = loss;
    l->n++;
}

static VkcTrainConfig config(const char *out, int batch, VkcDist dist, int sync_bn)
{
    VkcTrainConfig c = fixture_tiny_run(out, batch, 1, 4, 16);
    snprintf(c.data, sizeof c.data, "synthetic:16x16x1:256");
    c.limit = 2 * B * STEPS; /* one epoch of STEPS global batches */
    c.model.head_hidden = 16;
    c.optimizer = VKC_OPTIM_SGD;
    c.lr = 2.0f; /* large enough that the parameters move visibly every step */
    c.warmup_epochs = 0;
    c.probe_epochs = 10; /* the final probe runs on rank 0 alone: that path runs too */
    c.dist = dist;
    c.sync_bn = sync_bn;
    c.force = true; /* fixed folders, written again by every run of the suite */
    return c;
}

static float *checkpoint_floats(const char *dir, size_t *n, cJSON **header_json)
{
    char path[600];
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", dir);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    uint64_t header;
    assert_int_equal(fread(&header, 8, 1, f), 1);
    char *text = malloc(header + 1);
    assert_int_equal(fread(text, 1, header, f), header);
    text[header] = 0;
    *header_json = cJSON_Parse(text);
    free(text);
    assert_non_null(*header_json);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, (long)(8 + header), SEEK_SET);
    *n = (size_t)(size - 8 - (long)header) / 4;
    float *x = malloc(*n * 4 + 4);
    assert_int_equal(fread(x, 4, *n, f), *n);
    fclose(f);
    return x;
}

static void run(VkcTrainConfig *c, Losses *l)
{
    VkcTrainResult res;
    memset(l, 0, sizeof *l);
    if (vkc_train_run(c, NULL, on_step, l, &res)) fail_msg("rank %d: %s", world.rank, vkc_error());
    assert_int_equal(l->n, STEPS);
    assert_int_equal(res.validation_messages, 0);
}

static void compare_losses(const Losses *a, const Losses *b, double tol, const char *what)
{
    for (int s = 0; s < STEPS; s++) {
        double d = fabs((double)a->loss[s] - b->loss[s]);
        if (!(d <= tol * fmax(1.0, fabs(a->loss[s]))))
            fail_msg("%s: step %d loss %.9g vs %.9g (difference %.3g)", what, s + 1, a->loss[s], b->loss[s], d);
    }
}

/* Every rank reports the same losses (the global batch's). */
static void same_on_every_rank(const Losses *l)
{
    float *all = malloc(sizeof(float) * STEPS * world.size);
    assert_int_equal(vkc_dist_allgather(&world, l->loss, STEPS, all), 0);
    for (int r = 1; r < world.size; r++) assert_memory_equal(all, all + r * STEPS, STEPS * sizeof(float));
    free(all);
}

static Losses reference;

static void test_sync_bn_matches_one_rank(void **state)
{
    (void)state;
    VkcDist one = {.rank = 0, .size = 1, .local_size = 1};
    if (world.rank == 0) {
        VkcTrainConfig c = config("/tmp/vkclr-test-dist/reference", 2 * B, one, -1);
        run(&c, &reference);
    }
    assert_int_equal(vkc_dist_broadcast(&world, &reference, sizeof reference, 0), 0);
    Losses l;
    VkcTrainConfig c = config("/tmp/vkclr-test-dist/sync", B, world, 1);
    run(&c, &l);
    same_on_every_rank(&l);
    compare_losses(&reference, &l, TOL, "sync BN vs one rank");
    if (world.rank == 0) {
        size_t n1, n2;
        cJSON *h1, *h2;
        float *a = checkpoint_floats("/tmp/vkclr-test-dist/reference", &n1, &h1);
        float *b = checkpoint_floats("/tmp/vkclr-test-dist/sync", &n2, &h2);
        assert_int_equal(n1, n2);
        double worst_param = 0, worst_grad = 0;
        int tensors = 0;
        for (const cJSON *t = h1->child; t; t = t->next) {
            if (!strcmp(t->string, "__metadata__")) continue;
            const cJSON *offs = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
            size_t lo = (size_t)cJSON_GetArrayItem(offs, 0)->valuedouble / 4;
            size_t hi = (size_t)cJSON_GetArrayItem(offs, 1)->valuedouble / 4;
            assert_true(hi <= n1);
            bool grads = !strcmp(t->string, "optimizer.state");
            double scale = 0;
            for (size_t i = lo; i < hi; i++) scale = fmax(scale, fabs(a[i]));
            if (grads) assert_true(scale > 0); /* the gradients were not all zero */
            for (size_t i = lo; i < hi; i++) {
                double d = fabs((double)a[i] - b[i]);
                double rel = grads ? d / scale : d / fmax(1.0, fabs(a[i]));
                if (!(rel <= (grads ? GRAD_TOL : TOL)))
                    fail_msg("%s[%zu]: %.9g (one rank) vs %.9g (two ranks)", t->string, i - lo, a[i], b[i]);
                if (grads) worst_grad = fmax(worst_grad, rel);
                else worst_param = fmax(worst_param, rel);
            }
            tensors++;
        }
        assert_true(tensors > 10);
        printf("sync BN, 2 ranks x %d vs 1 rank x %d, %d steps: losses within %.1g, %d checkpoint tensors: "
               "parameters and running statistics within %.2g, optimizer momentum within %.2g of its scale\n",
               B, 2 * B, STEPS, TOL, tensors, worst_param, worst_grad);
        cJSON_Delete(h1), cJSON_Delete(h2);
        free(a), free(b);
    }
}

static void test_per_rank_bn(void **state)
{
    (void)state;
    Losses l;
    VkcTrainConfig c = config("/tmp/vkclr-test-dist/local", B, world, 0);
    run(&c, &l); /* fails if the replicas' parameters diverged */
    same_on_every_rank(&l);
    double d = fabs((double)l.loss[0] - reference.loss[0]);
    if (world.size > 1 && !(d > 100 * TOL))
        fail_msg("per-rank batch norm gave the synchronised loss %.9g (vs %.9g): is the flag wired?", l.loss[0],
                 reference.loss[0]);
    if (world.rank == 0) printf("per-rank BN: first loss %.7g vs global-BN %.7g\n", l.loss[0], reference.loss[0]);
}

int main(int argc, char **argv)
{
    if (vkc_dist_init(&world, &argc, &argv)) return 1;
    if (world.size != 2) {
        fprintf(stderr, "run as mpirun -np 2 %s\n", argv[0]);
        vkc_dist_finalize(&world);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync_bn_matches_one_rank),
        cmocka_unit_test(test_per_rank_bn),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    vkc_dist_finalize(&world);
    return failed;
}
