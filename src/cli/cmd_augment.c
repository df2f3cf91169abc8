/* vkclr augment: a PNG grid of training images with their two augmented views, one image per
 * row (original | view 1 | view 2), so a user can see what the augmentations do. The views
 * are exactly those the batch producer makes for these images in the given epoch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "vkclr/augment.h"
#include "vkclr/data.h"

static const char augment_synopsis[] =
    "usage: vkclr augment --out views.png [--data SPEC] [--preset P] [--aug KEY=VALUE,...]\n"
    "                     [--count N] [--seed S] [--epoch E] [--zoom K]\n\n"
    "The views are exactly those vkclr train's producer makes of these images in that epoch.\n";

#define GAP 2 /* white pixels between cells */

typedef struct {
    char out[CLI_PATH];
    int count;
    uint64_t epoch;
    int zoom; /* 0: views at least 96 pixels wide */
} AugmentArgs;

#define FIELD(f) VKC_OPTION_FIELD(AugmentArgs, f)
static const VkcOption rows[] = {
    {.flag = "--out", .type = VKC_OPT_STRING, FIELD(out), .flags = VKC_OPT_NONEMPTY, .section = "the picture",
     .metavar = "PATH", .help = "PNG to write (required): one row per image, original | view 1 | view 2"},
    {.flag = "--count", .type = VKC_OPT_INT, FIELD(count), .min = 1, .max = 1000, .def = "8", .section = "the picture",
     .metavar = "N", .help = "images (rows), the first N of the training images (train, then unlabeled)"},
    {.flag = "--epoch", .type = VKC_OPT_U64, FIELD(epoch), .min = 0, .max = 1099511627776.0, .def = "0",
     .section = "the picture", .metavar = "E", .help = "the epoch whose views to draw (with --seed)"},
    {.flag = "--zoom", .type = VKC_OPT_INT, FIELD(zoom), .min = 1, .max = 64, .def = "auto", .auto_name = "auto",
     .section = "the picture", .metavar = "K", .help = "magnify pixels K times; auto = views at least 96 pixels wide"},
};
#undef FIELD

/* vkclr train's rows this command takes: the data, its limits, the augmentation and its seed. */
static bool train_rows(const VkcOption *o)
{
    static const char *const flags[] = {"--data",   "--max-image-pixels", "--max-data-gib", "--skip-bad",
                                        "--preset", "--aug",              "--image-size",   "--seed"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (!strcmp(o->flag, flags[i])) return true;
    return false;
}

/* The augmentation parameters, with the cifar preset's values. */
static void epilogue(FILE *out)
{
    fprintf(out, "\naugmentation parameters (--aug KEY=VALUE), with the cifar preset's values:\n");
    VkcAugmentConfig cfg;
    vkc_augment_preset("cifar", &cfg);
    vkc_augment_print(out, &cfg, "  ");
}

/* Copy an h x w image into the grid at (top, left), each pixel as a zoom x zoom block. */
static void blit(uint8_t *grid, int grid_width, int c, const uint8_t *img, int h, int w, int zoom, int top, int left)
{
    for (int y = 0; y < h * zoom; y++)
        for (int x = 0; x < w * zoom; x++)
            memcpy(grid + ((size_t)(top + y) * grid_width + left + x) * c, img + ((size_t)(y / zoom) * w + x / zoom) * c,
                   (size_t)c);
}

static int run(const CliCall *call)
{
    const AugmentArgs g = *(const AugmentArgs *)call->own;
    const VkcTrainConfig c = *call->train; /* the data, its limits, the augmentation: vkclr train's rows */
    if (!g.out[0]) {
        fprintf(stderr, "vkclr augment: --out PATH is required\n");
        return 2;
    }
    const char *out = g.out, *data = c.data;
    int count = g.count, zoom = g.zoom;
    VkcDataset ds;
    VkcDataLimits lim = vkc_config_data_limits(&c);
    if (vkc_dataset_load_limited(&ds, data, &lim)) {
        fprintf(stderr, "vkclr augment: --data %s: %s\n", data, vkc_error());
        return 1;
    }
    int nimages = vkc_dataset_ssl_count(&ds);
    if (nimages == 0) {
        fprintf(stderr, "vkclr augment: --data %s has no training images to augment\n", data);
        vkc_dataset_free(&ds);
        return 1;
    }
    int rc = 1;
    uint8_t *grid = NULL, *original = NULL, *view = NULL;
    float *scratch = NULL;
    size_t scratch_floats = 0;
    VkcAugmenter *aug = NULL;
    VkcDecoder *decoder = NULL;
    VkcAugmentConfig cfg;
    int side_h = c.image_size ? c.image_size : ds.height, side_w = c.image_size ? c.image_size : ds.width;
    const char *preset = c.preset[0] ? c.preset : vkc_augment_default_preset(ds.channels, side_h, side_w);
    if (vkc_augment_preset(preset, &cfg) || (c.aug[0] && vkc_augment_set(&cfg, c.aug)) ||
        vkc_augmenter_create(&aug, &cfg, side_h, side_w, ds.channels) || vkc_decoder_create(&decoder)) {
        fprintf(stderr, "vkclr augment: %s\n", vkc_error());
        goto done;
    }
    if (count > nimages) count = nimages;
    int C = ds.channels, vh, vw;
    vkc_augmenter_out_size(aug, &vh, &vw);
    if (!zoom) zoom = vw >= 96 ? 1 : (96 + vw - 1) / vw;
    int cell_w = vw * zoom, cell_h = vh * zoom;
    int grid_w = 3 * cell_w + 4 * GAP, grid_h = count * (cell_h + GAP) + GAP;
    grid = malloc((size_t)grid_w * grid_h * C);
    original = malloc((size_t)vh * vw * C);
    view = malloc((size_t)vh * vw * C);
    if (!grid || !original || !view) {
        fprintf(stderr, "vkclr augment: out of memory for a %dx%d grid\n", grid_w, grid_h);
        goto done;
    }
    memset(grid, 255, (size_t)grid_w * grid_h * C);
    /* per image: what evaluation sees (shorter side resized, centre cropped), then its two views
     * made as the producer makes them (boxes first, the image decoded at the scale both allow) */
    for (int k = 0; k < count; k++) {
        int i, h, w;
        const VkcSplit *split = vkc_dataset_ssl_image(&ds, k, &i);
        vkc_image_size(&ds, split, i, &h, &w);
        VkcBox box[2];
        VkcRng rng[2];
        VkcImage img;
        int top = GAP + k * (cell_h + GAP), reduce = 8;
        vkc_eval_box(h, w, vh, vw, &box[0]);
        if (vkc_decode_image(decoder, &ds, split, i, vkc_max_reduce(box[0].h, box[0].w, vh, vw), &img) ||
            vkc_eval_view(&img, &box[0], vh, vw, original, &scratch, &scratch_floats))
            goto failed;
        blit(grid, grid_w, C, original, vh, vw, zoom, top, GAP);
        for (int v = 0; v < 2; v++) {
            rng[v] = vkc_rng(c.seed, g.epoch, (uint64_t)k, (uint64_t)v);
            vkc_augment_view_box(aug, &rng[v], h, w, &box[v]);
            int r = vkc_max_reduce(box[v].h, box[v].w, vh, vw);
            if (r < reduce) reduce = r;
        }
        if (vkc_decode_image(decoder, &ds, split, i, reduce, &img)) goto failed;
        for (int v = 0; v < 2; v++) {
            if (vkc_augment_view_image_u8(aug, &img, &box[v], &rng[v], view)) goto failed;
            blit(grid, grid_w, C, view, vh, vw, zoom, top, GAP + (v + 1) * (cell_w + GAP));
        }
    }
    if (vkc_png_write(out, grid, grid_h, grid_w, C)) {
        fprintf(stderr, "vkclr augment: %s\n", vkc_error());
        goto done;
    }
    printf("%s: %d %s images (%s%dx%dx%d) with two '%s' views each, %dx%d pixels\n", out, count, ds.name,
           ds.mixed_sizes ? "mixed sizes, shown at " : "", ds.mixed_sizes ? vh : ds.height, ds.mixed_sizes ? vw : ds.width,
           C, preset, grid_w, grid_h);
    rc = 0;
    goto done;
failed:
    fprintf(stderr, "vkclr augment: %s\n", vkc_error());
done:
    vkc_augmenter_destroy(aug);
    vkc_decoder_destroy(decoder);
    free(grid);
    free(original);
    free(view);
    free(scratch);
    vkc_dataset_free(&ds);
    return rc;
}

const CliSpec cli_augment = {.name = "augment", .run = run, .synopsis = augment_synopsis,
                             .about = "write a PNG grid of images and their two augmented views",
                             CLI_ROWS(rows, AugmentArgs), .train_rows = train_rows,
                             .train_heading = "the data and the augmentation, as vkclr train takes them:",
                             .epilogue = epilogue};
