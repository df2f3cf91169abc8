/* Data-parallel ranks over MPI.
 *
 * vkclr scales out on MPI (OpenMPI in Debian) rather than a home-made transport. Built
 * without MPI (-Dmpi=disabled), or run without mpirun, the same API describes a single rank,
 * so the training loop has one code path.
 *
 * Every reduction here is deterministic: a sum over ranks is added in rank order
 * ((x_0 + x_1) + x_2) + ..., identically on every rank, whatever MPI's own algorithms would
 * do. That keeps ranks bit-identical to each other and runs reproducible. */
#ifndef VKCLR_DIST_H
#define VKCLR_DIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    int rank, size;  /* this process and how many take part */
    int local_rank;  /* rank among the processes on this node: picks the Vulkan device */
    int local_size;
    bool mpi;        /* running under MPI with size >= 1 */
} VkcDist;

/* True if this binary was built with MPI. */
bool vkc_dist_available(void);
/* Start MPI if built with it (a single rank otherwise). Call once, before other threads. */
int vkc_dist_init(VkcDist *d, int *argc, char ***argv);
void vkc_dist_finalize(VkcDist *d);

/* all[r*n .. r*n+n) = rank r's local[0..n), on every rank. */
int vkc_dist_allgather(const VkcDist *d, const float *local, size_t n, float *all);
/* x = sum over ranks of x, added in rank order; the result is bit-identical on every rank. */
int vkc_dist_allreduce_sum(const VkcDist *d, float *x, size_t n);
/* Same for doubles (statistics, metrics). */
int vkc_dist_allreduce_sum_f64(const VkcDist *d, double *x, size_t n);
/* Copy `bytes` from rank `root` to every rank. */
int vkc_dist_broadcast(const VkcDist *d, void *buf, size_t bytes, int root);
/* Agree on failure: returns true on every rank if `failed` is true on any. A rank that
 * fails must still call this so the others do not wait for it forever. */
bool vkc_dist_any(const VkcDist *d, bool failed);
/* End every rank with `message` (a rank that cannot go on and cannot tell the others). */
void vkc_dist_abort(const VkcDist *d, const char *message) __attribute__((noreturn));

#endif
