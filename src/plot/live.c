/* The live plotter (vkclr/plot.h): a thread that redraws RUN/curves.png from RUN/metrics.jsonl
 * when asked. The training loop only sets a flag under a mutex, so the GPU never waits for a
 * picture; requests that arrive during a redraw are merged into one more. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "vkclr/error.h"
#include "vkclr/plot.h"

struct VkcPlotter {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool pending, stopping;
    char metrics[1100], png[1100];
    VkcRunCurves curves; /* what metrics.jsonl held up to byte `offset` */
    long offset;
    VkcPlotterStats stats; /* written by the thread; read after it is joined */
};

static double seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void redraw(VkcPlotter *p)
{
    double t0 = seconds(CLOCK_MONOTONIC), c0 = seconds(CLOCK_THREAD_CPUTIME_ID);
    /* Only the lines added since the last redraw are read. */
    int rc = vkc_curves_follow(p->metrics, &p->offset, &p->curves);
    if (rc == VKC_OK) rc = vkc_plot_draw(&p->curves, 1, NULL, p->png, NULL);
    double dt = seconds(CLOCK_MONOTONIC) - t0;
    p->stats.cpu_seconds += seconds(CLOCK_THREAD_CPUTIME_ID) - c0;
    p->stats.redraws++;
    p->stats.seconds += dt;
    if (dt > p->stats.max_seconds) p->stats.max_seconds = dt;
    if (rc != VKC_OK && p->stats.failures++ == 0)
        fprintf(stderr, "vkclr: warning: cannot draw %s: %s (training goes on; further failures are not reported)\n",
                p->png, vkc_error());
}

static void *plotter_main(void *arg)
{
    VkcPlotter *p = arg;
    /* Below the training threads: on a CPU device the picture takes cores the "GPU" would use. */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->pending && !p->stopping) pthread_cond_wait(&p->wake, &p->lock);
        if (!p->pending) break; /* stopping, nothing left to draw */
        p->pending = false;
        pthread_mutex_unlock(&p->lock);
        redraw(p);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int vkc_plotter_start(VkcPlotter **out, const char *run_dir)
{
    *out = NULL;
    VkcPlotter *p = calloc(1, sizeof *p);
    if (!p) return vkc_fail("out of host memory");
    snprintf(p->png, sizeof p->png, "%s/curves.png", run_dir);
    vkc_plot_run_path(run_dir, p->metrics, p->curves.name);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    int e = pthread_create(&p->thread, NULL, plotter_main, p);
    if (e) {
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return vkc_fail("cannot start the thread that draws %s/curves.png: %s", run_dir, strerror(e));
    }
    *out = p;
    return VKC_OK;
}

void vkc_plotter_request(VkcPlotter *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->pending = true;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
}

void vkc_plotter_stop(VkcPlotter *p, VkcPlotterStats *stats)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    if (stats) *stats = p->stats;
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    vkc_curves_free(&p->curves);
    free(p);
}
