/* Command recording: dispatches with their descriptor sets, barriers inserted where a
 * dispatch touches memory an earlier one wrote (or reads memory a later one writes),
 * timestamps, submission. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SETS_PER_POOL 256
#define QUERY_CAPACITY 1024
#define WAIT_TIMEOUT_NS (600ull * 1000 * 1000 * 1000) /* a single submission running 10 min is a hang */

static int grow(void **array, int *cap, int need, size_t elem)
{
    if (need <= *cap) return VKC_OK;
    int c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    void *p = realloc(*array, (size_t)c * elem);
    if (!p) return vkc_fail("out of host memory");
    *array = p;
    *cap = c;
    return VKC_OK;
}

int vkc_cmd_init(VkcContext *ctx, VkcCmd *cmd)
{
    memset(cmd, 0, sizeof *cmd);
    cmd->ctx = ctx;
    VkCommandBufferAllocateInfo alloc = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = ctx->command_pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    VkFenceCreateInfo fence = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkResult r;
    if ((r = vkAllocateCommandBuffers(ctx->device, &alloc, &cmd->cb)) != VK_SUCCESS ||
        (r = vkCreateFence(ctx->device, &fence, NULL, &cmd->fence)) != VK_SUCCESS) {
        vkc_cmd_destroy(cmd);
        return vkc_fail_vk("creating a command buffer", r);
    }
    if (grow((void **)&cmd->segs, &cmd->segs_cap, 1, sizeof *cmd->segs)) {
        vkc_cmd_destroy(cmd);
        return VKC_ERR;
    }
    memset(cmd->segs, 0, (size_t)cmd->segs_cap * sizeof *cmd->segs);
    cmd->segs[0] = cmd->cb;
    cmd->nsegs = 1;
    if (ctx->has_timestamps) {
        VkQueryPoolCreateInfo q = {
            .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
            .queryType = VK_QUERY_TYPE_TIMESTAMP,
            .queryCount = QUERY_CAPACITY,
        };
        if ((r = vkCreateQueryPool(ctx->device, &q, NULL, &cmd->queries)) != VK_SUCCESS) {
            vkc_cmd_destroy(cmd);
            return vkc_fail_vk("creating a timestamp query pool", r);
        }
        cmd->queries_cap = QUERY_CAPACITY;
    }
    return VKC_OK;
}

static void release_views(VkcCmd *cmd)
{
    for (int i = 0; i < cmd->nviews; i++) vkDestroyBufferView(cmd->ctx->device, cmd->views[i], NULL);
    cmd->nviews = 0;
}

void vkc_cmd_destroy(VkcCmd *cmd)
{
    VkcContext *ctx = cmd->ctx;
    if (!ctx || !ctx->device) return;
    if (cmd->fence) {
        if (cmd->in_flight) vkWaitForFences(ctx->device, 1, &cmd->fence, VK_TRUE, WAIT_TIMEOUT_NS);
        vkDestroyFence(ctx->device, cmd->fence, NULL);
    }
    release_views(cmd);
    for (int i = 0; i < cmd->npools; i++) vkDestroyDescriptorPool(ctx->device, cmd->pools[i], NULL);
    if (cmd->queries) vkDestroyQueryPool(ctx->device, cmd->queries, NULL);
    /* segs_cap entries were allocated (segs[0] is the first cb); later ones may be NULL. */
    if (cmd->segs) {
        for (int i = 0; i < cmd->segs_cap; i++)
            if (cmd->segs[i]) vkFreeCommandBuffers(ctx->device, ctx->command_pool, 1, &cmd->segs[i]);
    } else if (cmd->cb) {
        vkFreeCommandBuffers(ctx->device, ctx->command_pool, 1, &cmd->cb);
    }
    free(cmd->segs);
    free(cmd->steps);
    free(cmd->pools);
    free(cmd->views);
    free(cmd->pending);
    memset(cmd, 0, sizeof *cmd);
}

int vkc_cmd_begin(VkcCmd *cmd)
{
    VkcContext *ctx = cmd->ctx;
    if (vkc_cmd_wait(cmd)) return VKC_ERR; /* never reset a command buffer the device still runs */
    for (int i = 0; i < cmd->nsegs; i++) vkResetCommandBuffer(cmd->segs[i], 0);
    cmd->cb = cmd->segs[0];
    cmd->nsegs = 1;
    release_views(cmd);
    for (int i = 0; i < cmd->npools; i++) vkResetDescriptorPool(ctx->device, cmd->pools[i], 0);
    cmd->npending = 0;
    cmd->nqueries = 0;
    cmd->barriers = 0;
    VkCommandBufferBeginInfo begin = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    VkResult r = vkBeginCommandBuffer(cmd->cb, &begin);
    if (r != VK_SUCCESS) return vkc_fail_vk("beginning a command buffer", r);
    if (cmd->queries) vkCmdResetQueryPool(cmd->cb, cmd->queries, 0, cmd->queries_cap);
    cmd->recording = true;
    return VKC_OK;
}

/* Make all writes visible to the host once the fence signals. */
static void barrier_to_host(VkcCmd *cmd)
{
    VkMemoryBarrier to_host = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_HOST_READ_BIT,
    };
    vkCmdPipelineBarrier(cmd->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &to_host, 0, NULL, 0, NULL);
}

int vkc_cmd_end(VkcCmd *cmd)
{
    barrier_to_host(cmd);
    VkResult r = vkEndCommandBuffer(cmd->cb);
    cmd->recording = false;
    if (r != VK_SUCCESS) return vkc_fail_vk("ending a command buffer", r);
    return VKC_OK;
}

void vkc_cmd_barrier(VkcCmd *cmd)
{
    VkMemoryBarrier b = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                         VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_UNIFORM_READ_BIT,
    };
    VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    vkCmdPipelineBarrier(cmd->cb, stages, stages, 0, 1, &b, 0, NULL, 0, NULL);
    cmd->npending = 0;
    cmd->barriers++;
}

/* Record that the next command touches `a`; insert a barrier first if it conflicts with an
 * access since the last barrier (read-after-write, write-after-read, write-after-write). */
static int track(VkcCmd *cmd, const VkcAccess *acc, int n)
{
    bool conflict = false;
    for (int i = 0; i < n && !conflict; i++)
        for (int j = 0; j < cmd->npending && !conflict; j++) {
            const VkcAccess *p = &cmd->pending[j];
            conflict = p->buffer == acc[i].buffer && p->begin < acc[i].end && acc[i].begin < p->end &&
                       (p->write || acc[i].write);
        }
    if (conflict) vkc_cmd_barrier(cmd);
    if (grow((void **)&cmd->pending, &cmd->pending_cap, cmd->npending + n, sizeof *cmd->pending)) return VKC_ERR;
    memcpy(cmd->pending + cmd->npending, acc, (size_t)n * sizeof *acc);
    cmd->npending += n;
    return VKC_OK;
}

static int allocate_set(VkcCmd *cmd, VkDescriptorSetLayout layout, VkDescriptorSet *set)
{
    VkcContext *ctx = cmd->ctx;
    VkDescriptorSetAllocateInfo info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
        .descriptorSetCount = 1,
        .pSetLayouts = &layout,
    };
    /* Try each existing pool (they were reset at begin); add a new one when all are full. */
    for (int i = 0; i < cmd->npools; i++) {
        info.descriptorPool = cmd->pools[i];
        if (vkAllocateDescriptorSets(ctx->device, &info, set) == VK_SUCCESS) return VKC_OK;
    }
    int cap = cmd->pools_cap;
    if (grow((void **)&cmd->pools, &cap, cmd->npools + 1, sizeof *cmd->pools)) return VKC_ERR;
    cmd->pools_cap = cap;
    VkDescriptorPoolSize sizes[] = {
        {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, SETS_PER_POOL * VKC_MAX_BINDINGS},
        {vkc_texel_descriptor_type(ctx), SETS_PER_POOL * VKC_MAX_BINDINGS},
    };
    VkDescriptorPoolCreateInfo pool_info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
        .maxSets = SETS_PER_POOL,
        .poolSizeCount = 2,
        .pPoolSizes = sizes,
    };
    VkResult r = vkCreateDescriptorPool(ctx->device, &pool_info, NULL, &cmd->pools[cmd->npools]);
    if (r != VK_SUCCESS) return vkc_fail_vk("creating a descriptor pool", r);
    info.descriptorPool = cmd->pools[cmd->npools++];
    r = vkAllocateDescriptorSets(ctx->device, &info, set);
    if (r != VK_SUCCESS) return vkc_fail_vk("allocating a descriptor set", r);
    return VKC_OK;
}

int vkc_cmd_dispatch(VkcCmd *cmd, const VkcKernel *k, const VkcTensor *tensors, uint32_t readonly_mask,
                     const void *push, uint32_t gx, uint32_t gy, uint32_t gz)
{
    VkcContext *ctx = cmd->ctx;
    if (!cmd->recording) return vkc_fail("%s: dispatch outside vkc_cmd_begin/end", k->name);
    const uint32_t *max_groups = ctx->props.limits.maxComputeWorkGroupCount;
    if (gx == 0 || gy == 0 || gz == 0) return VKC_OK; /* nothing to do */
    if (gx > max_groups[0] || gy > max_groups[1] || gz > max_groups[2])
        return vkc_fail("%s: %u x %u x %u workgroups exceed the device's limit %u x %u x %u", k->name, gx, gy, gz,
                        max_groups[0], max_groups[1], max_groups[2]);

    VkcAccess access[VKC_MAX_BINDINGS];
    VkDescriptorBufferInfo buffer_infos[VKC_MAX_BINDINGS];
    VkWriteDescriptorSet writes[VKC_MAX_BINDINGS];
    VkDescriptorSet set;
    if (allocate_set(cmd, k->set_layout, &set)) return VKC_ERR;
    if (grow((void **)&cmd->views, &cmd->views_cap, cmd->nviews + k->nbindings, sizeof *cmd->views)) return VKC_ERR;

    for (int i = 0; i < k->nbindings; i++) {
        const VkcTensor *t = &tensors[i];
        char kind = k->bindings[i];
        if (!t->buffer || t->size == 0) return vkc_fail("%s: binding %d has no tensor", k->name, i);
        VkDeviceSize range = t->size;
        writes[i] = (VkWriteDescriptorSet){
            .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
            .dstSet = set,
            .dstBinding = (uint32_t)i,
            .descriptorCount = 1,
        };
        if (kind == 'b') {
            if (t->offset % ctx->props.limits.minStorageBufferOffsetAlignment)
                return vkc_fail("%s: binding %d offset %llu is not aligned to %llu bytes", k->name, i,
                                (unsigned long long)t->offset,
                                (unsigned long long)ctx->props.limits.minStorageBufferOffsetAlignment);
            buffer_infos[i] = (VkDescriptorBufferInfo){t->buffer, t->offset, t->size};
            writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
            writes[i].pBufferInfo = &buffer_infos[i];
        } else {
            static const VkFormat formats[VKC_DTYPES][2] = {
                [VKC_F32] = {VK_FORMAT_R32_SFLOAT, VK_FORMAT_R32G32B32A32_SFLOAT},
                [VKC_F16] = {VK_FORMAT_R16_SFLOAT, VK_FORMAT_R16G16B16A16_SFLOAT},
                [VKC_BF16] = {VK_FORMAT_R16_UINT, VK_FORMAT_R16G16B16A16_UINT},
            };
            VkDeviceSize texel = (kind == 't' ? 4 : 1) * vkc_dtype_size(t->dtype);
            if (t->offset % ctx->props.limits.minTexelBufferOffsetAlignment)
                return vkc_fail("%s: binding %d offset %llu is not aligned for a texel buffer", k->name, i,
                                (unsigned long long)t->offset);
            /* Round up to whole texels: tensors are padded to 256 bytes inside their block. */
            range = (t->size + texel - 1) / texel * texel;
            if (range / texel > ctx->props.limits.maxTexelBufferElements)
                return vkc_fail("%s: binding %d (%.1f MiB) exceeds the device's texel buffer limit", k->name, i,
                                t->size / 1048576.0);
            VkBufferViewCreateInfo view_info = {
                .sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
                .buffer = t->buffer,
                .format = formats[t->dtype][kind == 't'],
                .offset = t->offset,
                .range = range,
            };
            VkResult r = vkCreateBufferView(ctx->device, &view_info, NULL, &cmd->views[cmd->nviews]);
            if (r != VK_SUCCESS) return vkc_fail_vk("creating a texel buffer view", r);
            writes[i].descriptorType = vkc_texel_descriptor_type(ctx);
            writes[i].pTexelBufferView = &cmd->views[cmd->nviews++];
        }
        access[i] = (VkcAccess){t->buffer, t->offset, t->offset + range, kind == 'b' && !(readonly_mask >> i & 1)};
    }
    vkUpdateDescriptorSets(ctx->device, (uint32_t)k->nbindings, writes, 0, NULL);
    if (track(cmd, access, k->nbindings)) return VKC_ERR;

    vkCmdBindPipeline(cmd->cb, VK_PIPELINE_BIND_POINT_COMPUTE, k->pipeline);
    vkCmdBindDescriptorSets(cmd->cb, VK_PIPELINE_BIND_POINT_COMPUTE, k->layout, 0, 1, &set, 0, NULL);
    if (k->push_size) vkCmdPushConstants(cmd->cb, k->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, k->push_size, push);
    vkCmdDispatch(cmd->cb, gx, gy, gz);
    return VKC_OK;
}

int vkc_cmd_copy(VkcCmd *cmd, VkcTensor dst, VkcTensor src, VkDeviceSize bytes)
{
    if (bytes > dst.size || bytes > src.size) return vkc_fail("copy of %llu bytes overruns a tensor", (unsigned long long)bytes);
    if (bytes == 0) return VKC_OK;
    VkcAccess access[2] = {
        {src.buffer, src.offset, src.offset + bytes, false},
        {dst.buffer, dst.offset, dst.offset + bytes, true},
    };
    if (track(cmd, access, 2)) return VKC_ERR;
    VkBufferCopy region = {.srcOffset = src.offset, .dstOffset = dst.offset, .size = bytes};
    vkCmdCopyBuffer(cmd->cb, src.buffer, dst.buffer, 1, &region);
    return VKC_OK;
}

int vkc_cmd_fill(VkcCmd *cmd, VkcTensor dst, uint32_t pattern)
{
    if (dst.size % 4 || dst.offset % 4) return vkc_fail("fill needs a 4-byte aligned tensor");
    VkcAccess access = {dst.buffer, dst.offset, dst.offset + dst.size, true};
    if (track(cmd, &access, 1)) return VKC_ERR;
    vkCmdFillBuffer(cmd->cb, dst.buffer, dst.offset, dst.size, pattern);
    return VKC_OK;
}

int vkc_cmd_host_step(VkcCmd *cmd, int (*run)(void *user), void *user)
{
    if (!cmd->recording) return vkc_fail("host step outside vkc_cmd_begin/end");
    VkcContext *ctx = cmd->ctx;
    int n = cmd->nsegs;
    int old_cap = cmd->segs_cap;
    if (grow((void **)&cmd->segs, &cmd->segs_cap, n + 1, sizeof *cmd->segs)) return VKC_ERR;
    for (int i = old_cap; i < cmd->segs_cap; i++) cmd->segs[i] = VK_NULL_HANDLE;
    if (grow((void **)&cmd->steps, &cmd->steps_cap, n, sizeof *cmd->steps)) return VKC_ERR;
    VkResult r;
    if (!cmd->segs[n]) {
        VkCommandBufferAllocateInfo alloc = {
            .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
            .commandPool = ctx->command_pool,
            .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
            .commandBufferCount = 1,
        };
        if ((r = vkAllocateCommandBuffers(ctx->device, &alloc, &cmd->segs[n])) != VK_SUCCESS)
            return vkc_fail_vk("creating a command buffer segment", r);
    }
    barrier_to_host(cmd);
    if ((r = vkEndCommandBuffer(cmd->cb)) != VK_SUCCESS) return vkc_fail_vk("ending a command buffer segment", r);
    cmd->steps[n - 1] = (VkcHostStep){run, user};
    cmd->nsegs = n + 1;
    cmd->cb = cmd->segs[n];
    VkCommandBufferBeginInfo begin = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    if ((r = vkBeginCommandBuffer(cmd->cb, &begin)) != VK_SUCCESS)
        return vkc_fail_vk("beginning a command buffer segment", r);
    /* Writes of earlier segments (earlier in submission order) before anything here reads them;
     * the host's writes are made visible by the submit itself. */
    vkc_cmd_barrier(cmd);
    return VKC_OK;
}

int vkc_cmd_timestamp(VkcCmd *cmd)
{
    if (!cmd->queries || cmd->nqueries >= cmd->queries_cap) return -1;
    vkCmdWriteTimestamp(cmd->cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, cmd->queries, cmd->nqueries);
    return (int)cmd->nqueries++;
}

static int submit_segment(VkcCmd *cmd, int i)
{
    VkcContext *ctx = cmd->ctx;
    vkResetFences(ctx->device, 1, &cmd->fence);
    VkSubmitInfo submit = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .commandBufferCount = 1,
        .pCommandBuffers = &cmd->segs[i],
    };
    VkResult r = vkQueueSubmit(ctx->queue, 1, &submit, cmd->fence);
    if (r != VK_SUCCESS) return vkc_fail_vk("submitting work to the device", r);
    cmd->in_flight = true;
    return VKC_OK;
}

int vkc_cmd_submit(VkcCmd *cmd)
{
    for (int i = 0; i + 1 < cmd->nsegs; i++) {
        if (submit_segment(cmd, i) || vkc_cmd_wait(cmd)) return VKC_ERR;
        if (cmd->steps[i].run(cmd->steps[i].user)) return VKC_ERR;
    }
    return submit_segment(cmd, cmd->nsegs - 1);
}

int vkc_cmd_wait(VkcCmd *cmd)
{
    if (!cmd->in_flight) return VKC_OK;
    VkResult r = vkWaitForFences(cmd->ctx->device, 1, &cmd->fence, VK_TRUE, WAIT_TIMEOUT_NS);
    if (r == VK_SUCCESS) cmd->in_flight = false;
    if (r == VK_TIMEOUT) return vkc_fail("the device did not finish a submission within 10 minutes (hung?)");
    if (r != VK_SUCCESS) return vkc_fail_vk("waiting for the device", r);
    return VKC_OK;
}

int vkc_cmd_submit_wait(VkcCmd *cmd)
{
    if (vkc_cmd_submit(cmd)) return VKC_ERR;
    return vkc_cmd_wait(cmd);
}

int vkc_cmd_elapsed_ns(VkcCmd *cmd, int a, int b, double *ns)
{
    if (a < 0 || b < 0 || (uint32_t)a >= cmd->nqueries || (uint32_t)b >= cmd->nqueries)
        return vkc_fail("no such timestamps (%d, %d)", a, b);
    uint64_t t[2];
    VkResult r = vkGetQueryPoolResults(cmd->ctx->device, cmd->queries, (uint32_t)a, 1, sizeof t[0], &t[0], 8,
                                       VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    if (r == VK_SUCCESS)
        r = vkGetQueryPoolResults(cmd->ctx->device, cmd->queries, (uint32_t)b, 1, sizeof t[1], &t[1], 8,
                                  VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    if (r != VK_SUCCESS) return vkc_fail_vk("reading timestamps", r);
    *ns = (double)(t[1] - t[0]) * cmd->ctx->props.limits.timestampPeriod;
    return VKC_OK;
}

int vkc_run_once(VkcContext *ctx, void (*fill)(VkCommandBuffer cb, void *user), void *user)
{
    VkcCmd cmd;
    if (vkc_cmd_init(ctx, &cmd)) return VKC_ERR;
    int rc = vkc_cmd_begin(&cmd);
    if (rc == VKC_OK) {
        fill(cmd.cb, user);
        rc = vkc_cmd_end(&cmd);
    }
    if (rc == VKC_OK) rc = vkc_cmd_submit_wait(&cmd);
    vkc_cmd_destroy(&cmd);
    return rc;
}
