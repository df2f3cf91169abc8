/* The two-view batch producer: worker threads fill a ring of batch slots ahead of the
 * consumer (the training loop).
 *
 * Step s lives in slot s % nslots. A slot goes FREE -> FILLING (a worker assigned it step s
 * and its images) -> READY (all images done) -> HELD (the consumer acquired it) -> FREE
 * (released). Workers take a few images at a time from the oldest FILLING slot, so several
 * threads finish one batch together and batches complete in step order. A worker may only
 * start step s once the consumer released step s - nslots: that is the back-pressure.
 * What a view contains depends only on (seed, epoch, image index, view), never on which
 * worker made it, so the batches are the same for any number of threads.
 *
 * The images are the dataset's training split, then its unlabeled split. A collection's image
 * is decoded by the worker that makes its views (each worker has its own decoder), once for
 * both views: their crop boxes are drawn first, and a JPEG is decoded at the smallest scale
 * (1/2, 1/4, 1/8) at which both boxes still cover the view size. An image that fails to decode
 * fails the batch (acquire returns the message naming the file), or with skip_bad is replaced
 * by the next image of the dataset that decodes, and reported once through on_bad. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vkclr/augment.h"

#define CHUNK 4  /* images a worker claims at once: few enough to share a batch, enough to amortise the lock */
#define SHUFFLE_INDEX UINT64_MAX  /* generator index of the per-epoch shuffle (no image has it) */

typedef enum { SLOT_FREE, SLOT_FILLING, SLOT_READY, SLOT_HELD } SlotState;

typedef struct {
    SlotState state;
    int64_t step, epoch;
    float *views;
    int32_t *indices, *labels;
    int next_image;  /* first image not yet claimed by a worker */
    int done_images;
    bool failed;     /* an image could not be decoded: error says why */
    char error[1024];
} Slot;

#define MAX_SUBSTITUTES 64 /* skip_bad: images tried in place of one that fails to decode */

struct VkcProducer {
    const VkcDataset *ds;
    VkcAugmentConfig cfg;
    int batch, nslots, nthreads;
    int rank, ranks;
    int out_height, out_width;
    uint64_t seed;
    int64_t steps_per_epoch;

    Slot *slots;
    bool owns_memory;
    int32_t *order;       /* shuffle of order_epoch */
    int64_t order_epoch;
    int64_t next_fill;    /* next step to assign to a slot */
    int64_t next_acquire; /* next step for the consumer */

    pthread_mutex_t lock;
    pthread_cond_t work;  /* a slot was freed, or stop */
    pthread_cond_t ready; /* a slot became READY */
    bool stop;
    pthread_t *threads;
    VkcAugmenter **augmenters;
    VkcDecoder **decoders;
    int started;
    int nimages;          /* the dataset's train.n + unlabeled.n */
    bool skip_bad;
    void (*on_bad)(void *user, const char *message);
    void *on_bad_user;
    int32_t *bad;         /* images reported bad (each reported once), sorted */
    int nbad;

    VkcProducerStats stats;
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void vkc_epoch_order(uint64_t seed, int64_t epoch, int n, int32_t *order)
{
    VkcRng rng = vkc_rng(seed, (uint64_t)epoch, SHUFFLE_INDEX, 0);
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = vkc_rng_int(&rng, i + 1);
        int32_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

size_t vkc_producer_slot_bytes(const VkcDataset *ds, const VkcAugmentConfig *cfg, int batch)
{
    size_t h = cfg->out_height ? (size_t)cfg->out_height : (size_t)ds->height;
    size_t w = cfg->out_width ? (size_t)cfg->out_width : (size_t)ds->width;
    return 2 * (size_t)batch * ds->channels * h * w * sizeof(float);
}

int64_t vkc_producer_steps_per_epoch(const VkcProducer *p) { return p->steps_per_epoch; }

/* Under the lock: give step next_fill to its slot if that slot is free. */
static bool assign_next_step(VkcProducer *p)
{
    Slot *slot = &p->slots[p->next_fill % p->nslots];
    if (slot->state != SLOT_FREE) return false;
    int64_t step = p->next_fill++;
    int64_t epoch = step / p->steps_per_epoch;
    if (epoch != p->order_epoch) {
        vkc_epoch_order(p->seed, epoch, p->nimages, p->order);
        p->order_epoch = epoch;
    }
    /* This rank's slice of the step's global batch of batch * ranks images. */
    const int32_t *first = p->order + (step % p->steps_per_epoch) * p->batch * p->ranks + p->rank * p->batch;
    for (int b = 0; b < p->batch; b++) {
        slot->indices[b] = first[b];
        slot->labels[b] = first[b] < p->ds->train.n ? p->ds->train.labels[first[b]] : -1;
    }
    slot->step = step;
    slot->epoch = epoch;
    slot->next_image = slot->done_images = 0;
    slot->failed = false;
    slot->state = SLOT_FILLING;
    return true;
}

/* Under the lock: the oldest slot with images left to claim, or NULL. */
static Slot *find_work(VkcProducer *p)
{
    for (int64_t s = p->next_fill - p->nslots; s < p->next_fill; s++) {
        if (s < 0) continue;
        Slot *slot = &p->slots[s % p->nslots];
        if (slot->state == SLOT_FILLING && slot->step == s && slot->next_image < p->batch) return slot;
    }
    return NULL;
}

typedef struct {
    VkcProducer *p;
    int id;
} WorkerArg;

/* Under the lock: report image k as bad (once) through on_bad. */
static void report_bad(VkcProducer *p, int k, const char *message)
{
    int lo = 0, hi = p->nbad;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (p->bad[mid] < k) lo = mid + 1;
        else hi = mid;
    }
    if (lo < p->nbad && p->bad[lo] == k) return;
    int32_t *bad = realloc(p->bad, (size_t)(p->nbad + 1) * sizeof *bad);
    if (!bad) return; /* reported again next time */
    p->bad = bad;
    memmove(bad + lo + 1, bad + lo, (size_t)(p->nbad - lo) * sizeof *bad);
    bad[lo] = k;
    p->nbad++;
    if (p->on_bad) p->on_bad(p->on_bad_user, message);
}

/* The two views of training image `index` (or, with skip_bad, of the first image after it
 * that decodes) into batch position b. */
static int make_views(VkcProducer *p, VkcAugmenter *aug, VkcDecoder *dec, const Slot *slot, int b)
{
    size_t view_floats = (size_t)p->ds->channels * p->out_height * p->out_width;
    int32_t index = slot->indices[b];
    VkcRng rng[2];
    VkcBox box[2];
    VkcImage img;
    for (int attempt = 0;; attempt++) {
        int k = (int)(((int64_t)index + attempt) % p->nimages), i, h, w;
        const VkcSplit *split = vkc_dataset_ssl_image(p->ds, k, &i);
        vkc_image_size(p->ds, split, i, &h, &w);
        int reduce = 8;
        for (int v = 0; v < 2; v++) {
            /* the generators stay those of `index`: a substitute gets the views it would have had */
            rng[v] = vkc_rng(p->seed, (uint64_t)slot->epoch, (uint64_t)index, (uint64_t)v);
            vkc_augment_view_box(aug, &rng[v], h, w, &box[v]);
            int r = vkc_max_reduce(box[v].h, box[v].w, p->out_height, p->out_width);
            if (r < reduce) reduce = r;
        }
        if (vkc_decode_image(dec, p->ds, split, i, reduce, &img) == VKC_OK) break;
        if (!p->skip_bad || attempt + 1 == MAX_SUBSTITUTES || attempt + 1 == p->nimages) return VKC_ERR;
        pthread_mutex_lock(&p->lock);
        report_bad(p, k, vkc_error());
        pthread_mutex_unlock(&p->lock);
    }
    for (int v = 0; v < 2; v++)
        if (vkc_augment_view_image(aug, &img, &box[v], &rng[v], slot->views + ((size_t)v * p->batch + b) * view_floats))
            return VKC_ERR;
    return VKC_OK;
}

static void *worker(void *arg)
{
    VkcProducer *p = ((WorkerArg *)arg)->p;
    VkcAugmenter *aug = p->augmenters[((WorkerArg *)arg)->id];
    VkcDecoder *dec = p->decoders[((WorkerArg *)arg)->id];
    free(arg);
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        Slot *slot = find_work(p);
        if (!slot) {
            if (!assign_next_step(p)) pthread_cond_wait(&p->work, &p->lock);
            continue;
        }
        int first = slot->next_image;
        int last = first + CHUNK < p->batch ? first + CHUNK : p->batch;
        slot->next_image = last;
        pthread_mutex_unlock(&p->lock);

        int failed = VKC_OK;
        for (int b = first; b < last && !failed; b++) failed = make_views(p, aug, dec, slot, b);

        pthread_mutex_lock(&p->lock);
        if (failed && !slot->failed) {
            slot->failed = true;
            snprintf(slot->error, sizeof slot->error, "%s", vkc_error());
        }
        slot->done_images += last - first;
        if (slot->done_images == p->batch) {
            slot->state = SLOT_READY;
            p->stats.filled++;
            pthread_cond_broadcast(&p->ready);
        }
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int vkc_producer_create(VkcProducer **out, const VkcDataset *ds, const VkcAugmentConfig *cfg,
                        const VkcProducerOptions *opt)
{
    *out = NULL;
    int ranks = opt->ranks > 0 ? opt->ranks : 1;
    if (opt->rank < 0 || opt->rank >= ranks)
        return vkc_fail("producer: rank %d of %d ranks", opt->rank, ranks);
    int nimages = vkc_dataset_ssl_count(ds);
    if (opt->batch < 1 || (int64_t)opt->batch * ranks > nimages)
        return vkc_fail("producer: global batch %d x %d ranks must be between 1 and the %d training images", opt->batch,
                        ranks, nimages);
    if (opt->threads < 1 || opt->threads > 256) return vkc_fail("producer: %d threads, expected 1..256", opt->threads);
    if (opt->slots < 1 || opt->slots > 1024) return vkc_fail("producer: %d slots, expected 1..1024", opt->slots);
    if (opt->first_step < 0) return vkc_fail("producer: first step %lld is negative", (long long)opt->first_step);
    if (vkc_augment_check(cfg, ds->channels)) return vkc_fail_context("producer");

    VkcProducer *p = calloc(1, sizeof *p);
    if (!p) return vkc_fail("producer: out of memory");
    p->ds = ds;
    p->cfg = *cfg;
    p->batch = opt->batch;
    p->nslots = opt->slots;
    p->nthreads = opt->threads;
    p->seed = opt->seed;
    p->rank = opt->rank;
    p->ranks = ranks;
    p->nimages = nimages;
    p->skip_bad = opt->skip_bad;
    p->on_bad = opt->on_bad;
    p->on_bad_user = opt->on_bad_user;
    p->steps_per_epoch = nimages / ((int64_t)opt->batch * ranks);  /* drop-last */
    p->next_fill = p->next_acquire = opt->first_step;
    p->order_epoch = -1;
    p->out_height = cfg->out_height ? cfg->out_height : ds->height;
    p->out_width = cfg->out_width ? cfg->out_width : ds->width;
    p->owns_memory = opt->slot_memory == NULL;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->ready, NULL);

    size_t slot_bytes = vkc_producer_slot_bytes(ds, cfg, opt->batch);
    p->slots = calloc((size_t)p->nslots, sizeof *p->slots);
    p->order = malloc((size_t)nimages * sizeof *p->order);
    p->threads = calloc((size_t)p->nthreads, sizeof *p->threads);
    p->augmenters = calloc((size_t)p->nthreads, sizeof *p->augmenters);
    p->decoders = calloc((size_t)p->nthreads, sizeof *p->decoders);
    if (!p->slots || !p->order || !p->threads || !p->augmenters || !p->decoders) goto oom;
    for (int i = 0; i < p->nslots; i++) {
        Slot *s = &p->slots[i];
        s->views = p->owns_memory ? aligned_alloc(64, (slot_bytes + 63) / 64 * 64) : (float *)opt->slot_memory[i];
        s->indices = malloc((size_t)p->batch * sizeof *s->indices);
        s->labels = malloc((size_t)p->batch * sizeof *s->labels);
        if (!s->views || !s->indices || !s->labels) {
            if (!s->views && !p->owns_memory) {
                vkc_producer_destroy(p);
                return vkc_fail("producer: slot_memory[%d] is NULL", i);
            }
            goto oom;
        }
    }
    for (int t = 0; t < p->nthreads; t++)
        if (vkc_augmenter_create(&p->augmenters[t], cfg, ds->height, ds->width, ds->channels) ||
            vkc_decoder_create(&p->decoders[t])) {
            vkc_producer_destroy(p);
            return vkc_fail_context("producer");
        }
    for (int t = 0; t < p->nthreads; t++) {
        WorkerArg *arg = malloc(sizeof *arg);
        if (!arg) goto oom;
        *arg = (WorkerArg){p, t};
        if (pthread_create(&p->threads[t], NULL, worker, arg)) {
            free(arg);
            vkc_producer_destroy(p);
            return vkc_fail("producer: cannot start worker thread %d", t);
        }
        p->started++;
    }
    *out = p;
    return VKC_OK;
oom:
    vkc_producer_destroy(p);
    return vkc_fail("producer: out of memory for %d slots of %zu bytes", opt->slots, slot_bytes);
}

int vkc_producer_acquire(VkcProducer *p, VkcBatch *batch)
{
    pthread_mutex_lock(&p->lock);
    int64_t step = p->next_acquire;
    Slot *slot = &p->slots[step % p->nslots];
    if (slot->state == SLOT_HELD) {
        pthread_mutex_unlock(&p->lock);
        return vkc_fail("producer: all %d slots are held; release step %lld before acquiring step %lld", p->nslots,
                        (long long)slot->step, (long long)step);
    }
    bool waited = false;
    double start = 0.0;
    while (!(slot->state == SLOT_READY && slot->step == step)) {
        if (!waited) start = now_seconds();
        waited = true;
        pthread_cond_wait(&p->ready, &p->lock);
    }
    if (slot->failed) {
        /* the slot stays READY and failed: acquiring it again fails again */
        int rc = vkc_fail("%s", slot->error);
        pthread_mutex_unlock(&p->lock);
        return rc;
    }
    if (waited) {
        double wait = now_seconds() - start;
        p->stats.waited++;
        p->stats.wait_seconds += wait;
        if (wait > p->stats.max_wait_seconds) p->stats.max_wait_seconds = wait;
    }
    p->stats.acquired++;
    slot->state = SLOT_HELD;
    p->next_acquire++;
    *batch = (VkcBatch){
        .slot = (int)(slot - p->slots), .step = slot->step, .epoch = slot->epoch,
        .views = slot->views, .indices = slot->indices, .labels = slot->labels,
    };
    pthread_mutex_unlock(&p->lock);
    return VKC_OK;
}

void vkc_producer_release(VkcProducer *p, const VkcBatch *batch)
{
    pthread_mutex_lock(&p->lock);
    if (batch->slot >= 0 && batch->slot < p->nslots) {
        Slot *slot = &p->slots[batch->slot];
        if (slot->state == SLOT_HELD && slot->step == batch->step) {
            slot->state = SLOT_FREE;
            pthread_cond_broadcast(&p->work);
        }
    }
    pthread_mutex_unlock(&p->lock);
}

void vkc_producer_stats(VkcProducer *p, VkcProducerStats *stats)
{
    pthread_mutex_lock(&p->lock);
    *stats = p->stats;
    pthread_mutex_unlock(&p->lock);
}

void vkc_producer_destroy(VkcProducer *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_cond_broadcast(&p->ready);
    pthread_mutex_unlock(&p->lock);
    for (int t = 0; t < p->started; t++) pthread_join(p->threads[t], NULL);
    if (p->augmenters)
        for (int t = 0; t < p->nthreads; t++) vkc_augmenter_destroy(p->augmenters[t]);
    if (p->decoders)
        for (int t = 0; t < p->nthreads; t++) vkc_decoder_destroy(p->decoders[t]);
    free(p->decoders);
    free(p->bad);
    if (p->slots)
        for (int i = 0; i < p->nslots; i++) {
            if (p->owns_memory) free(p->slots[i].views);
            free(p->slots[i].indices);
            free(p->slots[i].labels);
        }
    free(p->slots);
    free(p->order);
    free(p->threads);
    free(p->augmenters);
    pthread_cond_destroy(&p->ready);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
