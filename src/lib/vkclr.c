/* libvkclr (include/vkclr.h): a device is a VkcContext with a lock; a model is an embedder
 * (vkclr/embed.h, the code vkclr probe and export run) built from a checkpoint's
 * configuration. The library reads no environment: what the vkclr command takes from
 * VKCLR_* variables, a program passes as arguments. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vkclr.h"
#include "vkclr/checkpoint.h"
#include "vkclr/embed.h"

struct vkclr_device {
    VkcContext ctx;
    pthread_mutex_t lock; /* one queue: its models' work runs one call at a time */
    vkclr_model *models;  /* loaded on it, closed with it */
};

struct vkclr_model {
    vkclr_device *device;
    vkclr_model *next;
    VkcEmbedder embedder;
    char about[256];
};

/* Set the message and return `status`. */
#define FAIL(status, ...) (vkc_fail(__VA_ARGS__), (status))

int vkclr_version(void) { return VKCLR_VERSION; }

const char *vkclr_version_string(void) { return VKCLR_VERSION_STRING; }

const char *vkclr_last_error(void) { return vkc_error(); }

/* ---------------------------------------------------------------- devices */

int vkclr_device_open(int index, unsigned flags, const char *cache_dir, vkclr_device **device)
{
    if (!device) return FAIL(VKCLR_ERROR_ARGUMENT, "vkclr_device_open: device is NULL");
    *device = NULL;
    if (index < VKCLR_DEVICE_AUTO) return FAIL(VKCLR_ERROR_ARGUMENT, "vkclr_device_open: device index %d", index);
    if (flags & ~(VKCLR_OPEN_VALIDATION | VKCLR_OPEN_VERBOSE))
        return FAIL(VKCLR_ERROR_ARGUMENT, "vkclr_device_open: unknown flags 0x%x", flags);
    VkcContextOptions opt = {.device_index = index, .validation = flags & VKCLR_OPEN_VALIDATION,
                             .quiet = !(flags & VKCLR_OPEN_VERBOSE)};
    if (cache_dir && snprintf(opt.kernels.cache_dir, sizeof opt.kernels.cache_dir, "%s", cache_dir) >=
                         (int)sizeof opt.kernels.cache_dir)
        return FAIL(VKCLR_ERROR_ARGUMENT, "vkclr_device_open: cache folder %.100s... is too long", cache_dir);
    vkclr_device *d = calloc(1, sizeof *d);
    if (!d) return FAIL(VKCLR_ERROR_MEMORY, "out of host memory opening a device");
    if (vkc_context_create(&d->ctx, &opt)) {
        free(d);
        return VKCLR_ERROR_DEVICE;
    }
    pthread_mutex_init(&d->lock, NULL);
    *device = d;
    return VKCLR_OK;
}

void vkclr_device_close(vkclr_device *device)
{
    if (!device) return;
    while (device->models) vkclr_model_free(device->models);
    vkc_context_destroy(&device->ctx);
    pthread_mutex_destroy(&device->lock);
    free(device);
}

const char *vkclr_device_name(const vkclr_device *device) { return device ? device->ctx.props.deviceName : ""; }

int vkclr_device_validation_messages(const vkclr_device *device)
{
    return device ? device->ctx.validation_messages : 0;
}

/* ---------------------------------------------------------------- models */

/* The checkpoint's configuration, normalisation and tensors (host memory), checked whole:
 * every failure here is the file's. */
typedef struct {
    char file[1100];
    VkcTrainConfig cfg;
    int64_t step;
    VkcAugmentConfig aug;
    VkcModel graph;
    float *params, *buffers;
} Checkpoint;

static void checkpoint_free(Checkpoint *c)
{
    vkc_model_destroy(&c->graph);
    free(c->params);
    free(c->buffers);
}

static int checkpoint_read(const char *path, Checkpoint *c)
{
    memset(c, 0, sizeof *c);
    if (vkc_checkpoint_resolve(path, c->file, sizeof c->file) || vkc_checkpoint_read_config(c->file, &c->cfg, &c->step))
        return VKCLR_ERROR_FILE;
    if (vkc_run_augment(&c->cfg, &c->aug) || vkc_model_graph(&c->graph, &c->cfg.model))
        return vkc_fail_context("%s", c->file), VKCLR_ERROR_FILE;
    c->params = calloc(c->graph.nparams + 1, sizeof(float));
    c->buffers = calloc(c->graph.nbuffers + 1, sizeof(float));
    if (!c->params || !c->buffers) return FAIL(VKCLR_ERROR_MEMORY, "out of host memory reading %s", c->file);
    return vkc_checkpoint_load_host(c->file, &c->graph, c->params, c->buffers) ? VKCLR_ERROR_FILE : VKCLR_OK;
}

int vkclr_model_load(vkclr_device *device, const char *checkpoint, vkclr_model **model)
{
    if (!model) return FAIL(VKCLR_ERROR_ARGUMENT, "vkclr_model_load: model is NULL");
    *model = NULL;
    if (!device || !checkpoint)
        return FAIL(VKCLR_ERROR_ARGUMENT, "vkclr_model_load: %s is NULL", device ? "checkpoint" : "device");
    Checkpoint c;
    int status = checkpoint_read(checkpoint, &c);
    vkclr_model *m = status ? NULL : calloc(1, sizeof *m);
    if (!status && !m) status = FAIL(VKCLR_ERROR_MEMORY, "out of host memory loading %s", c.file);
    if (status) {
        checkpoint_free(&c);
        return status;
    }
    pthread_mutex_lock(&device->lock);
    VkcModelConfig mc = vkc_run_eval_model(&c.cfg, &device->ctx, -1);
    /* The graph on the device is the one read above (the same configuration), so the host
     * tensors' layout is its own. */
    if (vkc_embedder_build(&m->embedder, &device->ctx, &mc, &c.aug, 256) ||
        vkc_upload(&device->ctx, m->embedder.model->params, c.params, c.graph.nparams * sizeof(float)) ||
        vkc_upload(&device->ctx, m->embedder.model->buffers, c.buffers, c.graph.nbuffers * sizeof(float))) {
        vkc_fail_context("%s on %s", c.file, device->ctx.props.deviceName);
        vkc_embedder_destroy(&m->embedder);
        free(m);
        m = NULL;
        status = VKCLR_ERROR_DEVICE;
    } else {
        m->device = device;
        m->next = device->models;
        device->models = m;
        snprintf(m->about, sizeof m->about, "%s width %d, step %lld (%.200s)",
                 vkc_name_of(vkc_encoder_names, (int)mc.encoder), mc.width, (long long)c.step, c.file);
    }
    pthread_mutex_unlock(&device->lock);
    checkpoint_free(&c);
    *model = m;
    return status;
}

void vkclr_model_free(vkclr_model *model)
{
    if (!model) return;
    vkclr_device *d = model->device;
    pthread_mutex_lock(&d->lock);
    for (vkclr_model **p = &d->models; *p; p = &(*p)->next)
        if (*p == model) {
            *p = model->next;
            break;
        }
    vkc_embedder_destroy(&model->embedder);
    pthread_mutex_unlock(&d->lock);
    free(model);
}

int vkclr_model_dim(const vkclr_model *model, vkclr_output output)
{
    if (!model || (output != VKCLR_FEATURES && output != VKCLR_PROJECTIONS)) return 0;
    return vkc_embedder_dim(&model->embedder, output == VKCLR_PROJECTIONS);
}

void vkclr_model_input(const vkclr_model *model, int *channels, int *height, int *width)
{
    const VkcModelConfig *mc = model ? &model->embedder.model->cfg : NULL;
    if (channels) *channels = mc ? mc->channels : 0;
    if (height) *height = mc ? mc->height : 0;
    if (width) *width = mc ? mc->width_px : 0;
}

const char *vkclr_model_describe(const vkclr_model *model) { return model ? model->about : ""; }

/* ---------------------------------------------------------------- embedding */

/* Every image well formed, before any work. */
static int check_images(const vkclr_image *images, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const vkclr_image *im = &images[i];
        if (!im->pixels) return FAIL(VKCLR_ERROR_ARGUMENT, "vkclr_embed: image %zu has no pixels (NULL)", i);
        if (im->channels != 1 && im->channels != 3)
            return FAIL(VKCLR_ERROR_ARGUMENT, "vkclr_embed: image %zu has %d channels (1: gray, 3: RGB)", i,
                        im->channels);
        if (im->height < 1 || im->width < 1 || (uint64_t)im->height * (uint64_t)im->width > VKC_DATA_MAX_IMAGE_PIXELS)
            return FAIL(VKCLR_ERROR_ARGUMENT, "vkclr_embed: image %zu is %dx%d (1 to 2^26 pixels)", i, im->width,
                        im->height);
        if (im->stride && im->stride < (size_t)im->width * im->channels)
            return FAIL(VKCLR_ERROR_ARGUMENT, "vkclr_embed: image %zu has rows of %zu bytes, %d pixels of %d bytes "
                        "each do not fit", i, im->stride, im->width, im->channels);
    }
    return VKCLR_OK;
}

int vkclr_embed(vkclr_model *model, const vkclr_image *images, size_t count, vkclr_output output, float *out)
{
    if (!model || (!images && count) || (!out && count))
        return FAIL(VKCLR_ERROR_ARGUMENT, "vkclr_embed: %s is NULL", !model ? "model" : !images ? "images" : "out");
    if (output != VKCLR_FEATURES && output != VKCLR_PROJECTIONS)
        return FAIL(VKCLR_ERROR_ARGUMENT, "vkclr_embed: output %d (VKCLR_FEATURES or VKCLR_PROJECTIONS)", (int)output);
    int status = check_images(images, count);
    if (status) return status;
    VkcEmbedder *e = &model->embedder;
    bool projections = output == VKCLR_PROJECTIONS;
    size_t dim = (size_t)vkc_embedder_dim(e, projections), batch = e->model->max_batch;
    pthread_mutex_lock(&model->device->lock);
    for (size_t done = 0; done < count && !status; done += batch) {
        size_t n = count - done < batch ? count - done : batch;
        for (size_t i = 0; i < n && !status; i++) {
            const vkclr_image *im = &images[done + i];
            size_t stride = im->stride ? im->stride : (size_t)im->width * im->channels;
            if (vkc_embedder_put(e, (uint32_t)i, im->pixels, im->height, im->width, im->channels, stride))
                status = (vkc_fail_context("vkclr_embed: image %zu", done + i), VKCLR_ERROR_MEMORY);
        }
        const float *rows;
        if (!status && vkc_embedder_run(e, (uint32_t)n, projections, &rows))
            status = (vkc_fail_context("vkclr_embed on %s", model->device->ctx.props.deviceName), VKCLR_ERROR_DEVICE);
        if (!status) memcpy(out + done * dim, rows, n * dim * sizeof(float));
    }
    pthread_mutex_unlock(&model->device->lock);
    return status;
}

/* ---------------------------------------------------------------- images */

int vkclr_image_read(const char *path, int channels, vkclr_image *image)
{
    if (!image) return FAIL(VKCLR_ERROR_ARGUMENT, "vkclr_image_read: image is NULL");
    memset(image, 0, sizeof *image);
    if (!path) return FAIL(VKCLR_ERROR_ARGUMENT, "vkclr_image_read: path is NULL");
    if (channels != 1 && channels != 3)
        return FAIL(VKCLR_ERROR_ARGUMENT, "vkclr_image_read: %d channels (1: gray, 3: RGB)", channels);
    /* PNG or JPEG, by their first bytes (as vkclr's dataset readers tell them apart) */
    uint8_t magic[8] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return FAIL(VKCLR_ERROR_FILE, "%s: %s", path, strerror(errno));
    size_t n = fread(magic, 1, sizeof magic, f);
    fclose(f);
    bool jpeg = n >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF;
    bool png = n == 8 && !memcmp(magic, "\x89PNG\r\n\x1a\n", 8);
    if (!jpeg && !png) return FAIL(VKCLR_ERROR_FILE, "%s: neither a PNG nor a JPEG file", path);
    uint8_t *pixels;
    int h, w;
    if (png ? vkc_png_read(path, channels, &pixels, &h, &w)
            : vkc_jpeg_read(path, channels, 1, VKC_DATA_MAX_IMAGE_PIXELS, &pixels, &h, &w))
        return VKCLR_ERROR_FILE;
    *image = (vkclr_image){.pixels = pixels, .height = h, .width = w, .channels = channels};
    return VKCLR_OK;
}

void vkclr_image_free(vkclr_image *image)
{
    if (!image) return;
    free((void *)image->pixels);
    memset(image, 0, sizeof *image);
}
