/* MPI collectives for data-parallel training, deterministic by construction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vkclr/dist.h"
#include "vkclr/error.h"

#ifdef VKCLR_HAVE_MPI
#include <mpi.h>

bool vkc_dist_available(void) { return true; }

static int check(int rc, const char *what)
{
    if (rc == MPI_SUCCESS) return VKC_OK;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    return vkc_fail("MPI %s failed: %s", what, text);
}

int vkc_dist_init(VkcDist *d, int *argc, char ***argv)
{
    memset(d, 0, sizeof *d);
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited && check(MPI_Init(argc, argv), "init")) return VKC_ERR;
    /* Errors come back as codes, so a failed collective reaches our own messages. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    MPI_Comm node;
    if (check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &node),
              "splitting by node"))
        return VKC_ERR;
    MPI_Comm_rank(node, &d->local_rank);
    MPI_Comm_size(node, &d->local_size);
    MPI_Comm_free(&node);
    d->mpi = true;
    return VKC_OK;
}

void vkc_dist_finalize(VkcDist *d)
{
    if (d->mpi) {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (!finalized) MPI_Finalize();
    }
    d->mpi = false;
}

int vkc_dist_allgather(const VkcDist *d, const float *local, size_t n, float *all)
{
    if (d->size == 1) {
        memmove(all, local, n * sizeof *local);
        return VKC_OK;
    }
    if (n > (size_t)0x7fffffff) return vkc_fail("all-gather of %zu floats is too large for one MPI call", n);
    return check(MPI_Allgather(local, (int)n, MPI_FLOAT, all, (int)n, MPI_FLOAT, MPI_COMM_WORLD), "all-gather");
}

/* Reduce-scatter then all-gather, like a ring all-reduce moves the same volume, but each
 * rank adds its piece from all ranks in rank order: deterministic and identical everywhere. */
static int allreduce_ordered(const VkcDist *d, void *x, size_t n, size_t elem, MPI_Datatype type)
{
    int R = d->size;
    if (R == 1 || n == 0) return VKC_OK;
    if (n > (size_t)0x7fffffff) return vkc_fail("all-reduce of %zu values is too large for one MPI call", n);
    int *counts = malloc(2 * R * sizeof(int)), *offsets = counts + R;
    char *pieces = malloc(((n + R - 1) / R) * R * elem);
    if (!counts || !pieces) {
        free(counts), free(pieces);
        return vkc_fail("out of memory for an all-reduce of %zu values", n);
    }
    for (int r = 0, at = 0; r < R; r++) {
        counts[r] = (int)(n / R + ((size_t)r < n % R));
        offsets[r] = at;
        at += counts[r];
    }
    int mine = counts[d->rank];
    /* pieces[r] = rank r's values of my slice */
    int *send_counts = malloc(4 * R * sizeof(int));
    if (!send_counts) {
        free(counts), free(pieces);
        return vkc_fail("out of memory");
    }
    int *send_offsets = send_counts + R, *recv_counts = send_counts + 2 * R, *recv_offsets = send_counts + 3 * R;
    for (int r = 0; r < R; r++) {
        send_counts[r] = counts[r];
        send_offsets[r] = offsets[r];
        recv_counts[r] = mine;
        recv_offsets[r] = r * mine;
    }
    int rc = check(MPI_Alltoallv(x, send_counts, send_offsets, type, pieces, recv_counts, recv_offsets, type,
                                 MPI_COMM_WORLD),
                   "all-to-all of an all-reduce");
    if (rc == VKC_OK) {
        char *slice = (char *)x + (size_t)offsets[d->rank] * elem;
        for (int i = 0; i < mine; i++) {
            if (type == MPI_FLOAT) {
                float s = ((float *)pieces)[i];
                for (int r = 1; r < R; r++) s += ((float *)pieces)[(size_t)r * mine + i];
                ((float *)slice)[i] = s;
            } else {
                double s = ((double *)pieces)[i];
                for (int r = 1; r < R; r++) s += ((double *)pieces)[(size_t)r * mine + i];
                ((double *)slice)[i] = s;
            }
        }
        rc = check(MPI_Allgatherv(MPI_IN_PLACE, 0, type, x, counts, offsets, type, MPI_COMM_WORLD),
                   "all-gather of an all-reduce");
    }
    free(send_counts), free(counts), free(pieces);
    return rc;
}

int vkc_dist_allreduce_sum(const VkcDist *d, float *x, size_t n)
{
    return allreduce_ordered(d, x, n, sizeof *x, MPI_FLOAT);
}

int vkc_dist_allreduce_sum_f64(const VkcDist *d, double *x, size_t n)
{
    return allreduce_ordered(d, x, n, sizeof *x, MPI_DOUBLE);
}

int vkc_dist_broadcast(const VkcDist *d, void *buf, size_t bytes, int root)
{
    if (d->size == 1) return VKC_OK;
    if (bytes > (size_t)0x7fffffff) return vkc_fail("broadcast of %zu bytes is too large", bytes);
    return check(MPI_Bcast(buf, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD), "broadcast");
}

bool vkc_dist_any(const VkcDist *d, bool failed)
{
    if (d->size == 1) return failed;
    int mine = failed, any = 1;
    if (MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD) != MPI_SUCCESS) return true;
    return any != 0;
}

void vkc_dist_abort(const VkcDist *d, const char *message)
{
    fprintf(stderr, "vkclr: rank %d of %d: %s\n", d->rank, d->size, message);
    if (d->mpi && d->size > 1) MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

#else /* a single rank */

bool vkc_dist_available(void) { return false; }

int vkc_dist_init(VkcDist *d, int *argc, char ***argv)
{
    (void)argc, (void)argv;
    *d = (VkcDist){.rank = 0, .size = 1, .local_rank = 0, .local_size = 1, .mpi = false};
    return VKC_OK;
}

void vkc_dist_finalize(VkcDist *d) { (void)d; }

int vkc_dist_allgather(const VkcDist *d, const float *local, size_t n, float *all)
{
    (void)d;
    memmove(all, local, n * sizeof *local);
    return VKC_OK;
}

int vkc_dist_allreduce_sum(const VkcDist *d, float *x, size_t n) { (void)d, (void)x, (void)n; return VKC_OK; }
int vkc_dist_allreduce_sum_f64(const VkcDist *d, double *x, size_t n) { (void)d, (void)x, (void)n; return VKC_OK; }
int vkc_dist_broadcast(const VkcDist *d, void *buf, size_t bytes, int root)
{
    (void)d, (void)buf, (void)bytes, (void)root;
    return VKC_OK;
}
bool vkc_dist_any(const VkcDist *d, bool failed) { (void)d; return failed; }

void vkc_dist_abort(const VkcDist *d, const char *message)
{
    (void)d;
    fprintf(stderr, "vkclr: %s\n", message);
    exit(1);
}
#endif
