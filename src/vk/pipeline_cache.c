/* The device's VkPipelineCache, kept between runs in the user's cache directory
 * (vkc_cache_path "pipelines": one file per device and driver version), so that a second run
 * does not compile its kernels again where the driver caches its compiled code in it. A file
 * that is unreadable or belongs to another device or driver is ignored, and a cache that cannot
 * be written costs a warning: the cache only ever saves time. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "vkclr/fileio.h"

enum { MAX_CACHE_BYTES = 256 << 20 };

/* The file's data if it is a cache of this device and driver (its header says so), else NULL. */
static void *read_cache(const VkcContext *ctx, const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    void *data = NULL;
    long n = -1;
    if (!fseek(f, 0, SEEK_END) && (n = ftell(f)) >= 32 && n <= MAX_CACHE_BYTES && !fseek(f, 0, SEEK_SET) &&
        (data = malloc((size_t)n)) && fread(data, 1, (size_t)n, f) == (size_t)n) {
        /* VkPipelineCacheHeaderVersionOne: header size, version, vendor, device, cache UUID. */
        const uint8_t *b = data;
        uint32_t header[4];
        memcpy(header, b, sizeof header);
        if (header[0] >= 32 && header[1] == VK_PIPELINE_CACHE_HEADER_VERSION_ONE && header[2] == ctx->props.vendorID &&
            header[3] == ctx->props.deviceID && !memcmp(b + 16, ctx->props.pipelineCacheUUID, VK_UUID_SIZE)) {
            fclose(f);
            *size = (size_t)n;
            return data;
        }
    }
    free(data);
    fclose(f);
    return NULL;
}

int vkc_pipeline_cache_open(VkcContext *ctx)
{
    size_t size = 0;
    void *data = NULL;
    if (vkc_cache_path(ctx, "pipelines", "bin", ctx->pipeline_cache_path, sizeof ctx->pipeline_cache_path))
        ctx->pipeline_cache_path[0] = 0; /* no cache directory: a cache for this run only */
    else
        data = read_cache(ctx, ctx->pipeline_cache_path, &size);
    VkPipelineCacheCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO, .initialDataSize = size, .pInitialData = data};
    VkResult r = vkCreatePipelineCache(ctx->device, &info, NULL, &ctx->pipeline_cache);
    if (r != VK_SUCCESS && data) { /* a driver may still refuse what its header vouched for */
        info.initialDataSize = 0, info.pInitialData = NULL, size = 0;
        r = vkCreatePipelineCache(ctx->device, &info, NULL, &ctx->pipeline_cache);
    }
    free(data);
    ctx->pipeline_cache_loaded = size;
    return r == VK_SUCCESS ? VKC_OK : vkc_fail_vk("creating the pipeline cache", r);
}

void vkc_pipeline_cache_save(VkcContext *ctx)
{
    if (!ctx->pipeline_cache || !ctx->pipeline_cache_path[0] || !ctx->pipelines_created) return;
    size_t size = 0;
    void *data = NULL;
    int rc = VKC_ERR;
    if (vkGetPipelineCacheData(ctx->device, ctx->pipeline_cache, &size, NULL) == VK_SUCCESS && size >= 32 &&
        size <= MAX_CACHE_BYTES && (data = malloc(size)) &&
        vkGetPipelineCacheData(ctx->device, ctx->pipeline_cache, &size, data) == VK_SUCCESS) {
        if (size == ctx->pipeline_cache_loaded) rc = VKC_OK; /* nothing new */
        else if (!vkc_make_parent_dirs(ctx->pipeline_cache_path)) {
            const void *parts[] = {data};
            rc = vkc_write_file_atomic(ctx->pipeline_cache_path, parts, &size, 1);
        }
    } else {
        vkc_fail("reading the pipeline cache back from the driver");
    }
    if (rc) fprintf(stderr, "vkclr: warning: pipeline cache not saved: %s\n", vkc_error());
    free(data);
}
