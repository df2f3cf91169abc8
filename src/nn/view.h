/* Shared by src/nn, src/loss, src/optim (not public): binding a tensor whose offset may not
 * meet the device's alignment for the descriptor type. The view is moved back to an aligned
 * offset in the same buffer (arena tensors start 256-byte aligned, so this stays inside the
 * block) and the shader gets the tensor's element offset inside the view. */
#ifndef VKCLR_NN_VIEW_H
#define VKCLR_NN_VIEW_H

#include "vkclr/vk.h"

static inline VkcTensor vkc_view_aligned(VkcTensor t, VkDeviceSize align, uint32_t *elem_offset)
{
    if (align < 16) align = 16; /* rgba32f texel views also need whole-vec4 starts */
    VkDeviceSize shift = t.offset % align;
    *elem_offset = (uint32_t)(shift / 4);
    t.offset -= shift;
    t.size += shift;
    t.mapped = NULL;
    return t;
}

/* For a 'b' binding. */
static inline VkcTensor vkc_view_storage(const VkcContext *ctx, VkcTensor t, uint32_t *elem_offset)
{
    return vkc_view_aligned(t, ctx->props.limits.minStorageBufferOffsetAlignment, elem_offset);
}

/* For an 's' or 't' binding ('t' shaders index in vec4s: elem_offset must then be a multiple of 4). */
static inline VkcTensor vkc_view_texel(const VkcContext *ctx, VkcTensor t, uint32_t *elem_offset)
{
    return vkc_view_aligned(t, ctx->props.limits.minTexelBufferOffsetAlignment, elem_offset);
}

/* Does tensor t hold at least n floats? */
static inline bool vkc_holds(VkcTensor t, uint64_t n) { return t.size >= n * 4; }

#endif
