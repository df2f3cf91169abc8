/* Collections of image files: images:DIR (every JPEG and PNG file under DIR, unlabeled) and
 * folder:DIR (DIR/train/<class>/ and DIR/test/<class>/, the files at any depth below each class
 * folder).
 *
 * Indexing walks the folders in byte order of the names (so the index, and every shuffle of
 * it, is the same on every machine), skips hidden entries (names starting with '.'), follows
 * symbolic links but refuses one that leads back to a folder it is inside (a loop), and reads
 * every file's header: format, size, colour. Nothing is decoded. Every other non-hidden file is
 * expected to be an image: one that is not (a text file, an empty or truncated image) fails the
 * load naming it, or with --skip-bad is left out and listed. A folder: split's classes are then
 * interleaved (interleave_classes), so its first images are a sample of every class. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "vkclr/interrupt.h"

/* ---------------------------------------------------------------- what a collection is built from */

int data_refs_push(DataRefs *r, const VkcImageRef *ref, bool labeled, int32_t label)
{
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 256;
        if (cap > INT32_MAX / 2) return vkc_fail("too many images");
        VkcImageRef *refs = realloc(r->refs, (size_t)cap * sizeof *refs);
        if (!refs) return vkc_fail("out of memory indexing images");
        r->refs = refs;
        if (labeled) {
            int32_t *labels = realloc(r->labels, (size_t)cap * sizeof *labels);
            if (!labels) return vkc_fail("out of memory indexing images");
            r->labels = labels;
        }
        r->cap = cap;
    }
    r->refs[r->n] = *ref;
    if (labeled) r->labels[r->n] = label;
    r->n++;
    return VKC_OK;
}

void data_refs_to_split(DataRefs *r, VkcSplit *split)
{
    split->n = r->n;
    /* an empty split of a collection still has refs (NULL only if out of memory) */
    split->refs = r->refs ? r->refs : calloc(1, sizeof *r->refs);
    split->labels = r->labels;
    split->pixels = NULL;
    memset(r, 0, sizeof *r);
}

void data_refs_free(DataRefs *r)
{
    free(r->refs);
    free(r->labels);
    memset(r, 0, sizeof *r);
}

int data_pool_add(DataBuf *pool, const char *name, uint32_t *at)
{
    size_t n = strlen(name) + 1;
    if (pool->size + n > UINT32_MAX) return vkc_fail("too many file names (more than 4 GiB of them)");
    *at = (uint32_t)pool->size;
    return data_buf_append(pool, name, n);
}

int data_bad_file(VkcDataset *ds, const VkcDataLimits *lim)
{
    if (!lim->skip_bad) {
        char why[1024];
        snprintf(why, sizeof why, "%s", vkc_error());
        return vkc_fail("%s (remove it, or pass --skip-bad to leave bad files out)", why);
    }
    char **list = realloc(ds->skipped, (size_t)(ds->nskipped + 1) * sizeof *list);
    if (!list) return vkc_fail("out of memory");
    ds->skipped = list;
    if (!(list[ds->nskipped] = strdup(vkc_error()))) return vkc_fail("out of memory");
    ds->nskipped++;
    vkc_error_clear();
    return VKC_OK;
}

static int compare_ints(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

int data_collection_finish(VkcDataset *ds, DataBuf *pool, bool any_color, const char *name)
{
    snprintf(ds->name, sizeof ds->name, "%s", name);
    ds->channels = any_color ? 3 : 1;
    ds->paths = (char *)pool->data;
    memset(pool, 0, sizeof *pool);
    if (!ds->paths && !(ds->paths = calloc(1, 1))) return vkc_fail("out of memory");
    /* the size every image has, or the median shorter side */
    const VkcSplit *splits[3] = {&ds->train, &ds->test, &ds->unlabeled};
    int n = 0;
    for (int s = 0; s < 3; s++) n += splits[s]->n;
    if (n == 0) return vkc_fail("no images");
    int *sides = malloc((size_t)n * sizeof *sides);
    if (!sides) return vkc_fail("out of memory");
    const VkcImageRef *first = ds->train.n ? ds->train.refs : ds->test.n ? ds->test.refs : ds->unlabeled.refs;
    ds->height = first->height;
    ds->width = first->width;
    int k = 0;
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < splits[s]->n; i++) {
            const VkcImageRef *r = &splits[s]->refs[i];
            if (r->height != ds->height || r->width != ds->width) ds->mixed_sizes = true;
            sides[k++] = r->height < r->width ? r->height : r->width;
        }
    if (ds->mixed_sizes) {
        qsort(sides, (size_t)n, sizeof *sides, compare_ints);
        int side = sides[n / 2] < VKC_DEFAULT_VIEW_MAX ? sides[n / 2] : VKC_DEFAULT_VIEW_MAX;
        ds->height = ds->width = side;
    }
    free(sides);
    return VKC_OK;
}

/* ---------------------------------------------------------------- walking folders */

typedef struct {
    dev_t dev;
    ino_t ino;
} DirId;

#define MAX_DEPTH 64

typedef struct {
    VkcDataset *ds;
    const VkcDataLimits *lim;
    DataBuf *pool;     /* file names */
    uint32_t *files;   /* offsets into pool, in walking order */
    int nfiles, cap;
    DirId inside[MAX_DEPTH]; /* the folders the walk is in, outermost first */
    int depth;
} Walk;

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted non-hidden names in dir (malloc'd array of strdup'd names). */
static int list_names(const char *dir, char ***out, int *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ELOOP) return vkc_fail("%s: a symbolic-link loop", dir);
        return vkc_fail("%s: cannot open folder: %s", dir, strerror(errno));
    }
    char **names = NULL;
    int count = 0, cap = 0, rc = VKC_OK;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        if (count == cap) {
            cap = cap ? 2 * cap : 64;
            char **p = realloc(names, (size_t)cap * sizeof *p);
            if (!p) {
                rc = vkc_fail("out of memory listing %s", dir);
                break;
            }
            names = p;
        }
        if (!(names[count] = strdup(e->d_name))) {
            rc = vkc_fail("out of memory listing %s", dir);
            break;
        }
        count++;
    }
    closedir(d);
    if (rc) {
        for (int i = 0; i < count; i++) free(names[i]);
        free(names);
        return rc;
    }
    if (count) qsort(names, (size_t)count, sizeof *names, compare_names);
    *out = names;
    *n = count;
    return VKC_OK;
}

static int walk_add(Walk *w, const char *path)
{
    if (w->nfiles == w->cap) {
        int cap = w->cap ? 2 * w->cap : 1024;
        uint32_t *p = realloc(w->files, (size_t)cap * sizeof *p);
        if (!p) return vkc_fail("out of memory listing files");
        w->files = p;
        w->cap = cap;
    }
    return data_pool_add(w->pool, path, &w->files[w->nfiles++]);
}

/* Every regular file below dir (st: dir's own), depth first in name order. */
static int walk_dir(Walk *w, const char *dir, const struct stat *st)
{
    if (w->depth == MAX_DEPTH) {
        vkc_fail("%s: folders nested more than %d deep", dir, MAX_DEPTH);
        return data_bad_file(w->ds, w->lim);
    }
    for (int k = 0; k < w->depth; k++)
        if (w->inside[k].dev == st->st_dev && w->inside[k].ino == st->st_ino) {
            vkc_fail("%s: a symbolic-link loop (it is a folder it is inside)", dir);
            return data_bad_file(w->ds, w->lim);
        }
    char **names;
    int n;
    if (list_names(dir, &names, &n)) return data_bad_file(w->ds, w->lim);
    w->inside[w->depth++] = (DirId){st->st_dev, st->st_ino};
    int rc = VKC_OK;
    char path[DATA_PATH_MAX];
    for (int i = 0; i < n && !rc; i++) {
        struct stat s;
        if ((rc = data_path(path, dir, names[i])) || (rc = vkc_interrupt_check(dir))) break;
        if (stat(path, &s)) {
            if (errno == ELOOP) vkc_fail("%s: a symbolic-link loop", path);
            else if (errno == ENOENT) vkc_fail("%s: a broken symbolic link", path);
            else vkc_fail("%s: %s", path, strerror(errno));
            rc = data_bad_file(w->ds, w->lim);
        } else if (S_ISDIR(s.st_mode)) {
            rc = walk_dir(w, path, &s);
        } else {
            rc = walk_add(w, path); /* not a regular file: the probe says so */
        }
    }
    w->depth--;
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

/* Walk dir from the top (which must be a folder). */
static int walk(Walk *w, const char *dir)
{
    struct stat st;
    if (stat(dir, &st)) return vkc_fail("%s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return vkc_fail("%s: not a directory (a file)", dir);
    return walk_dir(w, dir, &st);
}

/* Read the headers of the files found by the walk into refs (label for all of them, or none). */
static int probe_files(Walk *w, DataJpeg *j, DataRefs *refs, bool labeled, int32_t label, bool *any_color)
{
    for (int i = 0; i < w->nfiles; i++) {
        const char *path = (const char *)w->pool->data + w->files[i];
        VkcImageRef ref;
        bool color = false;
        if (vkc_interrupt_check(path)) return VKC_ERR;
        if (data_probe_image(j, path, w->lim->max_image_pixels, &ref, &color)) {
            if (data_bad_file(w->ds, w->lim)) return VKC_ERR;
            continue;
        }
        ref.path = w->files[i];
        *any_color |= color;
        if (data_refs_push(refs, &ref, labeled, label)) return VKC_ERR;
    }
    w->nfiles = 0;
    return VKC_OK;
}

/* ---------------------------------------------------------------- images:DIR */

int data_load_images(VkcDataset *ds, const char *dir, const VkcDataLimits *limits)
{
    VkcDataLimits lim = data_limits(limits);
    memset(ds, 0, sizeof *ds);
    DataBuf pool = {0};
    DataRefs refs = {0};
    DataJpeg *j = NULL;
    Walk w = {.ds = ds, .lim = &lim, .pool = &pool};
    bool any_color = false;
    int rc = VKC_ERR;
    if (data_jpeg_create(&j) || walk(&w, dir) || probe_files(&w, j, &refs, false, 0, &any_color)) goto done;
    if (refs.n == 0) {
        vkc_fail("%s: no JPEG or PNG images in it%s", dir, ds->nskipped ? " (every file was bad)" : "");
        goto done;
    }
    data_refs_to_split(&refs, &ds->unlabeled);
    DataRefs none = {0};
    data_refs_to_split(&none, &ds->train);
    data_refs_to_split(&none, &ds->test);
    ds->max_image_pixels = lim.max_image_pixels;
    if (!ds->train.refs || !ds->test.refs) vkc_fail("out of memory");
    else if (!data_collection_finish(ds, &pool, any_color, "images")) rc = VKC_OK;
done:
    data_jpeg_destroy(j);
    free(w.files);
    free(pool.data);
    data_refs_free(&refs);
    if (rc) {
        vkc_fail_context("--data images:%s", dir);
        vkc_dataset_free(ds);
    }
    return rc;
}

/* ---------------------------------------------------------------- folder:DIR */

typedef struct {
    double key;
    int32_t index;
} Interleave;

static int compare_interleave(const void *a, const void *b)
{
    const Interleave *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->index - y->index;
}

/* Walking gives the images class by class; interleave the classes in proportion to their
 * sizes (the k-th of a class of n sits at (k + 0.5) / n of the way), so that the first images
 * of a split (what --limit, --probe-limit and the kNN bank take) are a fair sample of every
 * class. Deterministic: ties go to the earlier class. */
static int interleave_classes(DataRefs *r, int nclasses)
{
    if (r->n < 2) return VKC_OK;
    int *size = calloc((size_t)nclasses, sizeof *size), *seen = calloc((size_t)nclasses, sizeof *seen);
    Interleave *order = malloc((size_t)r->n * sizeof *order);
    VkcImageRef *refs = malloc((size_t)r->n * sizeof *refs);
    int32_t *labels = malloc((size_t)r->n * sizeof *labels);
    int rc = VKC_OK;
    if (!size || !seen || !order || !refs || !labels) {
        rc = vkc_fail("out of memory indexing images");
        goto done;
    }
    for (int i = 0; i < r->n; i++) size[r->labels[i]]++;
    for (int i = 0; i < r->n; i++) {
        int c = r->labels[i];
        order[i] = (Interleave){.key = (seen[c]++ + 0.5) / size[c], .index = i};
    }
    qsort(order, (size_t)r->n, sizeof *order, compare_interleave);
    for (int i = 0; i < r->n; i++) refs[i] = r->refs[order[i].index], labels[i] = r->labels[order[i].index];
    memcpy(r->refs, refs, (size_t)r->n * sizeof *refs);
    memcpy(r->labels, labels, (size_t)r->n * sizeof *labels);
done:
    free(size), free(seen), free(order), free(refs), free(labels);
    return rc;
}

/* One split: the images below split_dir/<class>/ for every class folder; classes not in
 * `classes` (the training split's) are an error. */
static int folder_split(Walk *w, DataJpeg *j, const char *split_dir, char **classes, int nclasses, DataRefs *refs,
                        bool *any_color)
{
    char **sub;
    int nsub;
    if (list_names(split_dir, &sub, &nsub)) return VKC_ERR;
    int rc = VKC_OK, nclass_dirs = 0;
    char class_dir[DATA_PATH_MAX];
    for (int k = 0; k < nsub && !rc; k++) {
        struct stat st;
        if ((rc = data_path(class_dir, split_dir, sub[k]))) break;
        if (stat(class_dir, &st) || !S_ISDIR(st.st_mode)) continue; /* files beside the class folders */
        nclass_dirs++;
        int label = -1;
        for (int c = 0; c < nclasses; c++)
            if (!strcmp(classes[c], sub[k])) label = c;
        if (label < 0) {
            rc = vkc_fail("%s: class '%s' has no training folder", class_dir, sub[k]);
            break;
        }
        int before = refs->n;
        if ((rc = walk_dir(w, class_dir, &st)) || (rc = probe_files(w, j, refs, true, label, any_color))) break;
        if (refs->n == before) rc = vkc_fail("%s: empty class folder (no images in it)", class_dir);
    }
    if (!rc && nclass_dirs == 0) rc = vkc_fail("%s: no class folders", split_dir);
    for (int k = 0; k < nsub; k++) free(sub[k]);
    free(sub);
    return rc;
}

int vkc_dataset_load_folder(VkcDataset *ds, const char *dir) { return data_load_folder(ds, dir, NULL); }

int data_load_folder(VkcDataset *ds, const char *dir, const VkcDataLimits *limits)
{
    VkcDataLimits lim = data_limits(limits);
    memset(ds, 0, sizeof *ds);
    char train_dir[DATA_PATH_MAX], test_dir[DATA_PATH_MAX];
    if (!data_is_dir(dir)) return vkc_fail("%s: not a directory (%s)", dir, data_exists(dir) ? "a file" : "missing");
    if (data_path(train_dir, dir, "train") || data_path(test_dir, dir, "test")) return VKC_ERR;
    if (!data_is_dir(train_dir)) return vkc_fail("%s: missing (expected train/<class>/ with images)", train_dir);

    DataBuf pool = {0};
    DataRefs train = {0}, test = {0};
    DataJpeg *j = NULL;
    Walk w = {.ds = ds, .lim = &lim, .pool = &pool};
    char **names = NULL, **classes = NULL;
    int nnames = 0, nclasses = 0;
    bool any_color = false;
    int rc = VKC_ERR;
    if (data_jpeg_create(&j) || list_names(train_dir, &names, &nnames)) goto done;
    /* the classes: the training split's sub-folders */
    if (!(classes = calloc((size_t)nnames + 1, sizeof *classes))) goto done;
    for (int k = 0; k < nnames; k++) {
        char path[DATA_PATH_MAX];
        if (data_path(path, train_dir, names[k])) goto done;
        if (data_is_dir(path)) classes[nclasses++] = names[k];
    }
    if (folder_split(&w, j, train_dir, classes, nclasses, &train, &any_color) ||
        interleave_classes(&train, nclasses))
        goto done;
    if (data_is_dir(test_dir) &&
        (folder_split(&w, j, test_dir, classes, nclasses, &test, &any_color) || interleave_classes(&test, nclasses)))
        goto done;
    data_refs_to_split(&train, &ds->train);
    data_refs_to_split(&test, &ds->test);
    if (!ds->test.labels && !(ds->test.labels = calloc(1, sizeof *ds->test.labels))) goto done;
    ds->max_image_pixels = lim.max_image_pixels;
    if (data_class_names(ds, nclasses, (const char *const *)classes) ||
        data_collection_finish(ds, &pool, any_color, "folder"))
        goto done;
    rc = VKC_OK;
done:
    data_jpeg_destroy(j);
    free(w.files);
    free(pool.data);
    data_refs_free(&train);
    data_refs_free(&test);
    for (int k = 0; k < nnames; k++) free(names[k]);
    free(names);
    free(classes);
    if (rc) vkc_dataset_free(ds);
    return rc;
}
