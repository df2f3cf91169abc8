/* libvkclr: embed images with an encoder trained by vkclr, on any Vulkan device (a GPU, or
 * Mesa's lavapipe on the CPU).
 *
 *     #include <vkclr.h>
 *
 *     vkclr_device *dev;
 *     vkclr_model *model;
 *     if (vkclr_device_open(VKCLR_DEVICE_AUTO, 0, NULL, &dev) ||
 *         vkclr_model_load(dev, "runs/fmnist", &model)) {
 *         fprintf(stderr, "%s\n", vkclr_last_error());
 *         return 1;
 *     }
 *     vkclr_image img = {.pixels = bytes, .height = h, .width = w, .channels = 3};
 *     float *features = malloc(vkclr_model_dim(model, VKCLR_FEATURES) * sizeof(float));
 *     int status = vkclr_embed(model, &img, 1, VKCLR_FEATURES, features);
 *     ...
 *     vkclr_model_free(model);
 *     vkclr_device_close(dev);
 *
 * Build with pkg-config: cc app.c $(pkg-config --cflags --libs vkclr)   (static: --static).
 * examples/embed.c embeds a folder of images and prints each one's nearest neighbours.
 *
 * Images go in as 8-bit pixels, row-major, channels interleaved (HWC), gray or RGB, of any
 * size; the library applies the evaluation transform vkclr's own commands apply (vkclr probe,
 * vkclr export): channels converted to the model's (gray repeated into R, G, B; RGB to
 * ITU-R 601 luma), the image's shorter side resized to the model's input and the centre
 * cropped to its size (antialiased bilinear), then normalised with the mean and standard
 * deviation the model was trained with. The same image gives the features `vkclr export
 * --features` writes for it.
 *
 * Errors: every function that can fail returns VKCLR_OK (0) or one of the vkclr_status codes
 * below, and leaves a message naming what was wrong (the file, the image, the device) for
 * vkclr_last_error(). Nothing a caller passes makes the library abort.
 *
 * Threads: every function may be called from any thread. A device serialises the work of its
 * models (one Vulkan queue): concurrent vkclr_embed calls on models of the same device run one
 * after another, calls on different devices run in parallel. vkclr_last_error() is per thread.
 * A model or device must not be freed while another thread is still using it.
 *
 * Versions: the library follows semantic versioning; VKCLR_VERSION_* say which header a
 * program was compiled with, vkclr_version() which library it runs with. Within one major
 * version, functions and structures are only ever added. */
#ifndef VKCLR_H
#define VKCLR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VKCLR_VERSION_MAJOR 0
#define VKCLR_VERSION_MINOR 1
#define VKCLR_VERSION_PATCH 0
#define VKCLR_VERSION_STRING "0.1.0"
/* One number that orders versions: major * 10000 + minor * 100 + patch. */
#define VKCLR_VERSION (VKCLR_VERSION_MAJOR * 10000 + VKCLR_VERSION_MINOR * 100 + VKCLR_VERSION_PATCH)

#if defined(__GNUC__)
#define VKCLR_API __attribute__((visibility("default")))
#else
#define VKCLR_API
#endif

/* What a function returns. */
typedef enum {
    VKCLR_OK = 0,
    VKCLR_ERROR_ARGUMENT = 1, /* a NULL pointer, an image without pixels, of a channel count other
                               * than 1 or 3, or a row stride shorter than its row, an unknown output */
    VKCLR_ERROR_FILE = 2,     /* a checkpoint or image file that cannot be read, is corrupt or truncated,
                               * or is not a vkclr checkpoint */
    VKCLR_ERROR_DEVICE = 3,   /* no Vulkan device (or not the one asked for), or the device failed:
                               * out of device memory, lost */
    VKCLR_ERROR_MEMORY = 4,   /* out of host memory */
} vkclr_status;

/* The library's version at run time (VKCLR_VERSION's form) and as text ("0.1.0"). */
VKCLR_API int vkclr_version(void);
VKCLR_API const char *vkclr_version_string(void);

/* The message of the last call on this thread that failed ("" if none): names the file, the
 * image (its index in the batch) or the device and what was wrong. Valid until the next call
 * on this thread. */
VKCLR_API const char *vkclr_last_error(void);

/* ---------------------------------------------------------------- devices */

typedef struct vkclr_device vkclr_device;

#define VKCLR_DEVICE_AUTO (-1) /* the first discrete GPU, else integrated, else virtual, else CPU */

/* vkclr_device_open flags */
#define VKCLR_OPEN_VALIDATION 1u /* enable the Khronos validation layer (vulkan-validationlayers): its
                                  * messages go to stderr and vkclr_device_validation_messages counts them */
#define VKCLR_OPEN_VERBOSE 2u    /* print the device chosen on stderr */

/* Open Vulkan device `index` (as `vkclr devices` lists them) or VKCLR_DEVICE_AUTO. cache_dir
 * (may be NULL: none) is a folder for the compiled-pipeline cache (and vkclr tune's measured
 * kernel choices, if it has some): the second program to start on a device skips the compile
 * time (seconds on lavapipe). */
VKCLR_API int vkclr_device_open(int index, unsigned flags, const char *cache_dir, vkclr_device **device);
/* Close a device, and every model still loaded on it. NULL is fine. */
VKCLR_API void vkclr_device_close(vkclr_device *device);
/* Its name ("llvmpipe (LLVM 15.0.6, 256 bits)", "NVIDIA H100 80GB HBM3"). */
VKCLR_API const char *vkclr_device_name(const vkclr_device *device);
/* With VKCLR_OPEN_VALIDATION: how many messages the validation layer has reported (0 is clean). */
VKCLR_API int vkclr_device_validation_messages(const vkclr_device *device);

/* ---------------------------------------------------------------- models */

typedef struct vkclr_model vkclr_model;

/* What vkclr_embed computes for each image. */
typedef enum {
    VKCLR_FEATURES = 0,    /* the encoder's output: what vkclr probe / export use, and what to use
                            * for retrieval, clustering or a classifier on top */
    VKCLR_PROJECTIONS = 1, /* the projection head's output, before the L2 normalisation of the loss */
} vkclr_output;

/* Load the encoder and projection head of a vkclr checkpoint (a .safetensors file, or a run
 * directory: its checkpoint.safetensors) with its configuration (architecture, input size,
 * normalisation) onto a device. The file is checked whole (checksum, tensor shapes) first. */
VKCLR_API int vkclr_model_load(vkclr_device *device, const char *checkpoint, vkclr_model **model);
VKCLR_API void vkclr_model_free(vkclr_model *model); /* NULL is fine */
/* Floats per image of an output (0 for an unknown output). */
VKCLR_API int vkclr_model_dim(const vkclr_model *model, vkclr_output output);
/* The size images are brought to (any size may be given to vkclr_embed). */
VKCLR_API void vkclr_model_input(const vkclr_model *model, int *channels, int *height, int *width);
/* What it is: "resnet18 width 64, step 19500 (runs/x/checkpoint.safetensors)". */
VKCLR_API const char *vkclr_model_describe(const vkclr_model *model);

/* ---------------------------------------------------------------- images */

typedef struct {
    const uint8_t *pixels; /* pixel (y, x) channel c at pixels[y * stride + x * channels + c] */
    int height, width;
    int channels;          /* 1: gray, 3: RGB */
    size_t stride;         /* bytes from one row to the next; 0: width * channels */
} vkclr_image;

/* Embed `count` images into out (count x vkclr_model_dim(model, output) floats, row-major:
 * image i's row at out + i * dim). Fails (VKCLR_ERROR_ARGUMENT, naming the image) before any
 * work if an image is malformed; out is then untouched. */
VKCLR_API int vkclr_embed(vkclr_model *model, const vkclr_image *images, size_t count, vkclr_output output,
                          float *out);

/* Read a PNG or JPEG file into a fresh image of `channels` (1 or 3), decoded and converted as
 * vkclr's dataset readers do (PNG: alpha composited onto black, 16-bit samples scaled to 8
 * bits; JPEG: baseline or progressive, gray, YCbCr, CMYK). Free it with vkclr_image_free. */
VKCLR_API int vkclr_image_read(const char *path, int channels, vkclr_image *image);
VKCLR_API void vkclr_image_free(vkclr_image *image);

#ifdef __cplusplus
}
#endif

#endif
