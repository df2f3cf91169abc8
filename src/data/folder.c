/* Folders of PNG images: DIR/train/<class>/ *.png and DIR/test/<class>/ *.png.
 * Two passes: the headers decide the dataset's size (first training image) and whether it is
 * gray or RGB; then every image is decoded, converted and resized into place. */
#include <dirent.h>
#include <errno.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "vkclr/interrupt.h"
#include "vkclr/resize.h"

typedef struct {
    char **items;
    int n, cap;
} Names;

static void names_free(Names *l)
{
    for (int i = 0; i < l->n; i++) free(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

static int names_push(Names *l, const char *s)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        char **items = realloc(l->items, (size_t)cap * sizeof *items);
        if (!items) return vkc_fail("out of memory listing files");
        l->items = items;
        l->cap = cap;
    }
    if (!(l->items[l->n] = strdup(s))) return vkc_fail("out of memory listing files");
    l->n++;
    return VKC_OK;
}

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted non-hidden entries of dir. dirs_only: keep sub-folders (classes), skip files;
 * otherwise every entry must be a regular file (an image). */
static int list_dir(const char *dir, bool dirs_only, Names *out)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d) return vkc_fail("%s: cannot open folder: %s", dir, strerror(errno));
    int rc = VKC_OK;
    struct dirent *e;
    char path[DATA_PATH_MAX];
    while (rc == VKC_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if ((rc = data_path(path, dir, e->d_name))) break;
        struct stat st;
        if (stat(path, &st)) {
            rc = vkc_fail("%s: %s", path, strerror(errno));
            break;
        }
        if (dirs_only) {
            if (S_ISDIR(st.st_mode)) rc = names_push(out, e->d_name);
        } else if (!S_ISREG(st.st_mode)) {
            rc = vkc_fail("%s: not a PNG file (not a regular file)", path);
        } else {
            rc = names_push(out, e->d_name);
        }
    }
    closedir(d);
    if (rc) {
        names_free(out);
        return rc;
    }
    if (out->n) qsort(out->items, (size_t)out->n, sizeof *out->items, compare_names);
    return VKC_OK;
}

typedef struct {
    Names paths;
    int32_t *labels;
} Entries;

static void entries_free(Entries *e)
{
    names_free(&e->paths);
    free(e->labels);
    memset(e, 0, sizeof *e);
}

/* All image paths of one split with their labels; classes not in `classes` are an error. */
static int collect_split(const char *split_dir, const Names *classes, Entries *out)
{
    memset(out, 0, sizeof *out);
    Names sub;
    if (list_dir(split_dir, true, &sub)) return VKC_ERR;
    int rc = VKC_OK, cap = 0;
    if (sub.n == 0) rc = vkc_fail("%s: no class folders", split_dir);
    for (int k = 0; k < sub.n && rc == VKC_OK; k++) {
        int label = -1;
        for (int c = 0; c < classes->n; c++)
            if (!strcmp(classes->items[c], sub.items[k])) label = c;
        char class_dir[DATA_PATH_MAX], path[DATA_PATH_MAX];
        if ((rc = data_path(class_dir, split_dir, sub.items[k]))) break;
        if (label < 0) {
            rc = vkc_fail("%s: class '%s' has no training folder", class_dir, sub.items[k]);
            break;
        }
        Names files;
        if ((rc = list_dir(class_dir, false, &files))) break;
        if (files.n == 0) rc = vkc_fail("%s: empty class folder", class_dir);
        for (int f = 0; f < files.n && rc == VKC_OK; f++) {
            if ((rc = data_path(path, class_dir, files.items[f])) || (rc = names_push(&out->paths, path))) break;
            if (out->paths.n > cap) {
                cap = out->paths.cap;
                int32_t *labels = realloc(out->labels, (size_t)cap * sizeof *labels);
                if (!labels) {
                    rc = vkc_fail("out of memory listing files");
                    break;
                }
                out->labels = labels;
            }
            out->labels[out->paths.n - 1] = label;
        }
        names_free(&files);
    }
    names_free(&sub);
    if (rc) entries_free(out);
    return rc;
}

/* Read a PNG header: size and whether it has colour (RGB, RGBA or palette); an image of more
 * than max_pixels is refused before anything is decoded. */
static int png_header(const char *path, uint64_t max_pixels, int *height, int *width, bool *color)
{
    png_image image;
    if (vkc_png_open(path, &image)) return VKC_ERR;
    uint64_t pixels = (uint64_t)image.width * image.height;
    *height = (int)image.height;
    *width = (int)image.width;
    *color = (image.format & PNG_FORMAT_FLAG_COLOR) != 0;
    png_image_free(&image);
    if (pixels > max_pixels || *height > 65536 || *width > 65536)
        return vkc_fail("%s: %dx%d is %llu pixels, more than --max-image-pixels %llu (a decompression bomb? raise the "
                        "limit to read it)",
                        path, *width, *height, (unsigned long long)pixels, (unsigned long long)max_pixels);
    return VKC_OK;
}

/* Decode every entry into split, resizing to the dataset's size where needed. */
static int decode_split(const VkcDataset *ds, const Entries *e, VkcSplit *split, uint64_t max_pixels)
{
    if (data_split_alloc(split, e->paths.n, vkc_image_bytes(ds))) return VKC_ERR;
    float *scratch = NULL;
    size_t scratch_floats = 0;
    int rc = VKC_OK;
    for (int i = 0; i < e->paths.n && rc == VKC_OK; i++) {
        uint8_t *pixels;
        int h, w;
        if ((rc = vkc_interrupt_check(e->paths.items[i])) ||
            (rc = data_png_read(e->paths.items[i], ds->channels, max_pixels, &pixels, &h, &w)))
            break;
        uint8_t *dst = split->pixels + (size_t)i * vkc_image_bytes(ds);
        if (h == ds->height && w == ds->width) {
            memcpy(dst, pixels, vkc_image_bytes(ds));
        } else {
            size_t need = vkc_resize_scratch_floats(h, w, ds->height, ds->width, ds->channels);
            if (need > scratch_floats) {
                free(scratch);
                scratch_floats = need;
                if (!(scratch = malloc(need * sizeof *scratch)))
                    rc = vkc_fail("%s: out of memory resizing %dx%d", e->paths.items[i], h, w);
            }
            if (rc == VKC_OK)
                vkc_resize_u8(pixels, h, w, (size_t)w * ds->channels, ds->channels, dst, ds->height, ds->width, scratch);
        }
        split->labels[i] = e->labels[i];
        free(pixels);
    }
    free(scratch);
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
    if (!data_is_dir(train_dir)) return vkc_fail("%s: missing (expected train/<class>/*.png)", train_dir);

    Names classes = {0};
    Entries train = {0}, test = {0};
    int rc = VKC_ERR;
    if (list_dir(train_dir, true, &classes)) goto done;
    if (collect_split(train_dir, &classes, &train)) goto done;
    if (data_is_dir(test_dir) && collect_split(test_dir, &classes, &test)) goto done;

    /* pass 1: headers (every image within the pixel limit, the whole within the memory limit) */
    if (png_header(train.paths.items[0], lim.max_image_pixels, &ds->height, &ds->width, &(bool){0})) goto done;
    bool any_color = false;
    Entries *splits[2] = {&train, &test};
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < splits[s]->paths.n; i++) {
            int h, w;
            bool color = false;
            if (vkc_interrupt_check(splits[s]->paths.items[i]) ||
                png_header(splits[s]->paths.items[i], lim.max_image_pixels, &h, &w, &color))
                goto done;
            any_color |= color;
        }
    ds->channels = any_color ? 3 : 1;
    uint64_t nimages = (uint64_t)train.paths.n + (uint64_t)test.paths.n;
    uint64_t bytes = nimages * ((uint64_t)ds->height * ds->width * ds->channels + 4);
    if (bytes > lim.max_bytes) {
        vkc_fail("%s: its first image, %s, makes every image %dx%dx%d: %llu images take %.2f GiB, more than "
                 "--max-data-gib %.4g (raise it to read this data)",
                 dir, train.paths.items[0], ds->height, ds->width, ds->channels, (unsigned long long)nimages,
                 (double)bytes / (1u << 30), (double)lim.max_bytes / (1u << 30));
        goto done;
    }
    snprintf(ds->name, sizeof ds->name, "folder");

    /* pass 2: pixels */
    if (data_class_names(ds, classes.n, (const char *const *)classes.items) ||
        decode_split(ds, &train, &ds->train, lim.max_image_pixels) || decode_split(ds, &test, &ds->test, lim.max_image_pixels))
        goto done;
    rc = VKC_OK;
done:
    names_free(&classes);
    entries_free(&train);
    entries_free(&test);
    if (rc) vkc_dataset_free(ds);
    return rc;
}
