/* vkclr augment: a PNG grid of training images with their two augmented views, one image per
 * row (original | view 1 | view 2), so a user can see what the augmentations do. The views
 * are exactly those the batch producer makes for these images in the given epoch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "vkclr/augment.h"
#include "vkclr/data.h"
#include "vkclr/resize.h"

#define GAP 2 /* white pixels between cells */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: vkclr augment --out views.png [--data SPEC] [--preset P] [--aug KEY=VALUE,...]\n"
            "                     [--count N] [--seed S] [--epoch E] [--zoom K]\n\n"
            "  --data SPEC   fashion-mnist (default), idx:DIR, mnist:DIR, cifar10:DIR, cifar100:DIR, stl10:DIR,\n"
            "                folder:DIR, images:DIR (see vkclr train --help)\n"
            "  --out PATH    PNG to write: one row per image, original | view 1 | view 2\n"
            "  --preset P    simclr, cifar or gray (default: gray for gray images, cifar up to 64 pixels, else simclr)\n"
            "  --aug LIST    override parameters, e.g. --aug scale=0.2:1,blur_p=0.5\n"
            "  --count N     images (rows), the first N of the training split (default 8)\n"
            "  --seed S      augmentation seed (default 0); --epoch E (default 0)\n"
            "  --zoom K      magnify pixels K times (default: views at least 96 pixels wide)\n"
            "  --max-image-pixels N, --max-data-gib G   limits on the data, as vkclr train takes them\n\n"
            "augmentation parameters (--aug KEY=VALUE), with the cifar preset's values:\n");
    VkcAugmentConfig cfg;
    vkc_augment_preset("cifar", &cfg);
    vkc_augment_print(out, &cfg, "  ");
}

static bool limit_option(const VkcOption *o)
{
    return o->flag && (!strcmp(o->flag, "--max-image-pixels") || !strcmp(o->flag, "--max-data-gib"));
}

/* Copy an h x w image into the grid at (top, left), each pixel as a zoom x zoom block. */
static void blit(uint8_t *grid, int grid_width, int c, const uint8_t *img, int h, int w, int zoom, int top, int left)
{
    for (int y = 0; y < h * zoom; y++)
        for (int x = 0; x < w * zoom; x++)
            memcpy(grid + ((size_t)(top + y) * grid_width + left + x) * c, img + ((size_t)(y / zoom) * w + x / zoom) * c,
                   (size_t)c);
}

int cmd_augment(int argc, char **argv)
{
    const char *data = NULL, *out = NULL, *preset = NULL, *aug_list = NULL;
    long count = 8, seed = 0, epoch = 0, zoom = 0;
    VkcTrainConfig limits = vkc_train_defaults(); /* --max-image-pixels, --max-data-gib: train's rows */
    VkcGiven given = {0};
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        int m;
        if ((m = arg_match_option("augment", argc, argv, &i, limit_option, &limits, &given)) ||
            (m = arg_match_str(argc, argv, &i, "--data", &data)) ||
            (m = arg_match_str(argc, argv, &i, "--out", &out)) ||
            (m = arg_match_str(argc, argv, &i, "--preset", &preset)) ||
            (m = arg_match_str(argc, argv, &i, "--aug", &aug_list)) ||
            (m = arg_match_int(argc, argv, &i, "--count", 1, 1000, &count)) ||
            (m = arg_match_int(argc, argv, &i, "--seed", 0, 1L << 62, &seed)) ||
            (m = arg_match_int(argc, argv, &i, "--epoch", 0, 1L << 40, &epoch)) ||
            (m = arg_match_int(argc, argv, &i, "--zoom", 1, 64, &zoom))) {
            if (m < 0) return 2;
            continue;
        }
        fprintf(stderr, "vkclr augment: unknown option '%s' (see vkclr augment --help)\n", argv[i]);
        return 2;
    }
    if (!out) {
        fprintf(stderr, "vkclr augment: --out PATH is required\n");
        return 2;
    }

    if (data && !data[0]) {
        fprintf(stderr, "vkclr augment: --data: empty value\n");
        return 2;
    }
    VkcDataset ds;
    VkcDataLimits lim = vkc_config_data_limits(&limits);
    if (vkc_dataset_load_limited(&ds, data, &lim)) {
        fprintf(stderr, "vkclr augment: --data %s: %s\n", data ? data : "fashion-mnist", vkc_error());
        return 1;
    }
    int nimages = vkc_dataset_ssl_count(&ds);
    if (nimages == 0) {
        fprintf(stderr, "vkclr augment: --data %s has no training images to augment\n", data ? data : "fashion-mnist");
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
    if (!preset) preset = vkc_augment_default_preset(ds.channels, ds.height, ds.width);
    if (vkc_augment_preset(preset, &cfg) || (aug_list && vkc_augment_set(&cfg, aug_list)) ||
        vkc_augmenter_create(&aug, &cfg, ds.height, ds.width, ds.channels) || vkc_decoder_create(&decoder)) {
        fprintf(stderr, "vkclr augment: %s\n", vkc_error());
        goto done;
    }
    if (count > nimages) count = nimages;
    int C = ds.channels, vh, vw;
    vkc_augmenter_out_size(aug, &vh, &vw);
    if (!zoom) zoom = vw >= 96 ? 1 : (96 + vw - 1) / vw;
    int cell_w = vw * (int)zoom, cell_h = vh * (int)zoom;
    int grid_w = 3 * cell_w + 4 * GAP, grid_h = (int)count * (cell_h + GAP) + GAP;
    grid = malloc((size_t)grid_w * grid_h * C);
    original = malloc((size_t)vh * vw * C);
    view = malloc((size_t)vh * vw * C);
    if (!grid || !original || !view) {
        fprintf(stderr, "vkclr augment: out of memory for a %dx%d grid\n", grid_w, grid_h);
        goto done;
    }
    memset(grid, 255, (size_t)grid_w * grid_h * C);
    /* per image: what evaluation sees (shorter side resized, centre cropped), then the two
     * views training would make of it in that epoch (the producer's draws) */
    for (int k = 0; k < count; k++) {
        int i, h, w;
        const VkcSplit *split = vkc_dataset_ssl_image(&ds, k, &i);
        vkc_image_size(&ds, split, i, &h, &w);
        VkcBox box;
        VkcImage img;
        vkc_eval_box(h, w, vh, vw, &box);
        if (vkc_decode_image(decoder, &ds, split, i, 1, &img) ||
            vkc_eval_view(&img, &box, vh, vw, original, &scratch, &scratch_floats)) {
            fprintf(stderr, "vkclr augment: %s\n", vkc_error());
            goto done;
        }
        int top = GAP + k * (cell_h + GAP);
        blit(grid, grid_w, C, original, vh, vw, (int)zoom, top, GAP);
        for (int v = 0; v < 2; v++) {
            VkcRng rng = vkc_rng((uint64_t)seed, (uint64_t)epoch, (uint64_t)k, (uint64_t)v);
            vkc_augment_view_box(aug, &rng, h, w, &box);
            if (vkc_augment_view_image_u8(aug, &img, &box, &rng, view)) {
                fprintf(stderr, "vkclr augment: %s\n", vkc_error());
                goto done;
            }
            blit(grid, grid_w, C, view, vh, vw, (int)zoom, top, GAP + (v + 1) * (cell_w + GAP));
        }
    }
    if (vkc_png_write(out, grid, grid_h, grid_w, C)) {
        fprintf(stderr, "vkclr augment: %s\n", vkc_error());
        goto done;
    }
    printf("%s: %ld %s images (%s%dx%dx%d) with two '%s' views each, %dx%d pixels\n", out, count, ds.name,
           ds.mixed_sizes ? "mixed sizes, shown at " : "", ds.mixed_sizes ? vh : ds.height, ds.mixed_sizes ? vw : ds.width,
           C, preset, grid_w, grid_h);
    rc = 0;
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
