/* Arenas of large buffers, tensors as views into them, host upload and readback. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "vkclr/half.h"

#define TENSOR_ALIGN 256         /* >= every device's minStorageBufferOffsetAlignment seen */
#define DEFAULT_BLOCK (64u << 20) /* capped by maxStorageBufferRange */

static int find_memory_type(const VkcContext *ctx, uint32_t type_bits, VkMemoryPropertyFlags required,
                            VkMemoryPropertyFlags preferred)
{
    for (int pass = 0; pass < 2; pass++) {
        VkMemoryPropertyFlags want = pass == 0 ? required | preferred : required;
        for (uint32_t i = 0; i < ctx->memory.memoryTypeCount; i++)
            if ((type_bits & (1u << i)) && (ctx->memory.memoryTypes[i].propertyFlags & want) == want) return (int)i;
    }
    return -1;
}

int vkc_block_create(VkcContext *ctx, VkDeviceSize size, VkMemoryPropertyFlags required,
                     VkMemoryPropertyFlags preferred, VkcBlock *out)
{
    memset(out, 0, sizeof *out);
    VkBufferCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size,
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT |
                 VK_BUFFER_USAGE_STORAGE_TEXEL_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                 VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    VkResult r = vkCreateBuffer(ctx->device, &info, NULL, &out->buffer);
    if (r != VK_SUCCESS) return vkc_fail_vk("creating a buffer", r);
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(ctx->device, out->buffer, &req);
    int type = find_memory_type(ctx, req.memoryTypeBits, required, preferred);
    if (type < 0) {
        vkDestroyBuffer(ctx->device, out->buffer, NULL);
        return vkc_fail("no suitable memory type for a %.1f MiB buffer", size / 1048576.0);
    }
    VkMemoryAllocateInfo alloc = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .allocationSize = req.size,
        .memoryTypeIndex = (uint32_t)type,
    };
    r = vkAllocateMemory(ctx->device, &alloc, NULL, &out->memory);
    if (r != VK_SUCCESS) {
        vkDestroyBuffer(ctx->device, out->buffer, NULL);
        return vkc_fail("allocating %.1f MiB of device memory failed: %s", size / 1048576.0,
                        r == VK_ERROR_OUT_OF_DEVICE_MEMORY ? "out of device memory"
                        : r == VK_ERROR_OUT_OF_HOST_MEMORY ? "out of host memory" : "driver error");
    }
    vkBindBufferMemory(ctx->device, out->buffer, out->memory, 0);
    /* Only coherent memory is mapped, so host writes never need explicit flushes. */
    VkMemoryPropertyFlags coherent = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    if ((ctx->memory.memoryTypes[type].propertyFlags & coherent) == coherent) {
        r = vkMapMemory(ctx->device, out->memory, 0, VK_WHOLE_SIZE, 0, &out->mapped);
        if (r != VK_SUCCESS) {
            vkc_block_destroy(ctx, out);
            return vkc_fail_vk("mapping memory", r);
        }
    }
    out->size = size;
    return VKC_OK;
}

void vkc_block_destroy(VkcContext *ctx, VkcBlock *b)
{
    if (b->buffer) vkDestroyBuffer(ctx->device, b->buffer, NULL);
    if (b->memory) vkFreeMemory(ctx->device, b->memory, NULL);
    memset(b, 0, sizeof *b);
}

int vkc_arena_init(VkcArena *arena, VkcContext *ctx, VkcMemoryKind kind)
{
    memset(arena, 0, sizeof *arena);
    arena->ctx = ctx;
    arena->kind = kind;
    VkDeviceSize range = ctx->props.limits.maxStorageBufferRange;
    arena->block_size = range < DEFAULT_BLOCK ? range : DEFAULT_BLOCK;
    return VKC_OK;
}

void vkc_arena_destroy(VkcArena *arena)
{
    for (int i = 0; i < arena->nblocks; i++) vkc_block_destroy(arena->ctx, &arena->blocks[i]);
    free(arena->blocks);
    memset(arena, 0, sizeof *arena);
}

static void fill_zero(VkCommandBuffer cb, void *user)
{
    VkcBlock *b = user;
    vkCmdFillBuffer(cb, b->buffer, 0, VK_WHOLE_SIZE, 0);
}

static int add_block(VkcArena *arena, VkDeviceSize size)
{
    VkcContext *ctx = arena->ctx;
    if (arena->nblocks == arena->capacity) {
        int cap = arena->capacity ? 2 * arena->capacity : 8;
        VkcBlock *b = realloc(arena->blocks, cap * sizeof *b);
        if (!b) return vkc_fail("out of host memory");
        arena->blocks = b;
        arena->capacity = cap;
    }
    VkMemoryPropertyFlags required, preferred;
    if (arena->kind == VKC_MEMORY_STAGING) {
        required = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
        preferred = VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
    } else if (ctx->props.deviceType != VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU) {
        /* Unified memory: device-local memory the host can map costs nothing extra. */
        required = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
        preferred = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    } else {
        required = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
        preferred = 0;
    }
    VkcBlock *b = &arena->blocks[arena->nblocks];
    if (vkc_block_create(ctx, size, required, preferred, b)) return VKC_ERR;
    if (b->mapped) memset(b->mapped, 0, size);
    else if (vkc_run_once(ctx, fill_zero, b)) {
        vkc_block_destroy(ctx, b);
        return VKC_ERR;
    }
    arena->nblocks++;
    return VKC_OK;
}

int vkc_tensor_alloc_typed(VkcArena *arena, uint64_t count, VkcDtype dtype, VkcTensor *out)
{
    if (vkc_tensor_alloc(arena, count * vkc_dtype_size(dtype), out)) return VKC_ERR;
    out->dtype = dtype;
    return VKC_OK;
}

int vkc_tensor_alloc(VkcArena *arena, VkDeviceSize bytes, VkcTensor *out)
{
    VkDeviceSize range = arena->ctx->props.limits.maxStorageBufferRange;
    if (bytes == 0) return vkc_fail("cannot allocate an empty tensor");
    if (bytes > range)
        return vkc_fail("a tensor of %.1f MiB exceeds this device's maxStorageBufferRange of %.1f MiB",
                        bytes / 1048576.0, range / 1048576.0);
    VkDeviceSize padded = (bytes + TENSOR_ALIGN - 1) / TENSOR_ALIGN * TENSOR_ALIGN;
    VkcBlock *b = arena->nblocks ? &arena->blocks[arena->nblocks - 1] : NULL;
    if (!b || b->size - b->used < padded) {
        VkDeviceSize size = padded > arena->block_size ? padded : arena->block_size;
        if (size > range) size = range;
        if (add_block(arena, size)) return VKC_ERR;
        b = &arena->blocks[arena->nblocks - 1];
    }
    *out = (VkcTensor){
        .buffer = b->buffer,
        .offset = b->used,
        .size = bytes,
        .mapped = b->mapped ? (char *)b->mapped + b->used : NULL,
        .arena = arena,
    };
    b->used += padded;
    arena->allocated += padded;
    return VKC_OK;
}

VkcTensor vkc_tensor_slice(VkcTensor t, VkDeviceSize offset, VkDeviceSize bytes)
{
    VkcTensor s = t;
    s.offset = t.offset + offset;
    s.size = bytes;
    s.mapped = t.mapped ? (char *)t.mapped + offset : NULL;
    return s;
}

typedef struct {
    VkBuffer src, dst;
    VkBufferCopy region;
} CopyJob;

static void fill_copy(VkCommandBuffer cb, void *user)
{
    CopyJob *job = user;
    vkCmdCopyBuffer(cb, job->src, job->dst, 1, &job->region);
}

static int transfer(VkcContext *ctx, VkcTensor t, void *host, size_t bytes, bool upload)
{
    if (bytes > t.size)
        return vkc_fail("%s of %zu bytes does not fit a tensor of %llu bytes", upload ? "upload" : "download",
                        bytes, (unsigned long long)t.size);
    if (bytes == 0) return VKC_OK;
    if (t.mapped) {
        if (upload) memcpy(t.mapped, host, bytes);
        else memcpy(host, t.mapped, bytes);
        return VKC_OK;
    }
    VkcBlock staging;
    if (vkc_block_create(ctx, bytes, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                         VK_MEMORY_PROPERTY_HOST_CACHED_BIT, &staging))
        return VKC_ERR;
    if (upload) memcpy(staging.mapped, host, bytes);
    CopyJob job = {
        .src = upload ? staging.buffer : t.buffer,
        .dst = upload ? t.buffer : staging.buffer,
        .region = {.srcOffset = upload ? 0 : t.offset, .dstOffset = upload ? t.offset : 0, .size = bytes},
    };
    int rc = vkc_run_once(ctx, fill_copy, &job);
    if (rc == VKC_OK && !upload) memcpy(host, staging.mapped, bytes);
    vkc_block_destroy(ctx, &staging);
    return rc;
}

int vkc_upload(VkcContext *ctx, VkcTensor dst, const void *src, size_t bytes)
{
    return transfer(ctx, dst, (void *)src, bytes, true);
}

int vkc_download(VkcContext *ctx, VkcTensor src, void *dst, size_t bytes)
{
    return transfer(ctx, src, dst, bytes, false);
}

int vkc_upload_floats(VkcContext *ctx, VkcTensor dst, const float *src, size_t n)
{
    if (dst.dtype == VKC_F32) return vkc_upload(ctx, dst, src, n * 4);
    uint16_t *h = malloc((n ? n : 1) * 2);
    if (!h) return vkc_fail("out of host memory");
    for (size_t i = 0; i < n; i++) h[i] = dst.dtype == VKC_F16 ? vkc_f32_to_f16(src[i]) : vkc_f32_to_bf16(src[i]);
    int rc = vkc_upload(ctx, dst, h, n * 2);
    free(h);
    return rc;
}

int vkc_download_floats(VkcContext *ctx, VkcTensor src, float *dst, size_t n)
{
    if (src.dtype == VKC_F32) return vkc_download(ctx, src, dst, n * 4);
    uint16_t *h = malloc((n ? n : 1) * 2);
    if (!h) return vkc_fail("out of host memory");
    int rc = vkc_download(ctx, src, h, n * 2);
    for (size_t i = 0; i < n && !rc; i++) dst[i] = src.dtype == VKC_F16 ? vkc_f16_to_f32(h[i]) : vkc_bf16_to_f32(h[i]);
    free(h);
    return rc;
}
