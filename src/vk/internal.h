/* Shared inside src/vk only. */
#ifndef VKCLR_VK_INTERNAL_H
#define VKCLR_VK_INTERNAL_H
#include "vkclr/vk.h"

/* Set a message "WHAT failed: reason (VkResult n)" and return VKC_ERR. */
int vkc_fail_vk(const char *what, VkResult r);

/* Create a buffer with its own memory of the given properties (first type matching
 * `required`, preferring `preferred` too). Maps it if host-visible. */
int vkc_block_create(VkcContext *ctx, VkDeviceSize size, VkMemoryPropertyFlags required,
                     VkMemoryPropertyFlags preferred, VkcBlock *out);
void vkc_block_destroy(VkcContext *ctx, VkcBlock *b);

/* Fill ctx->coop from the device's cooperative-matrix properties (coopmat.c). */
void vkc_coopmat_query(VkcContext *ctx);
/* Does the device offer extension `name`? */
bool vkc_device_extension(VkPhysicalDevice physical, const char *name);

/* The VkPipelineCache of ctx, with what the cache file of its device and driver held
 * (pipeline_cache.c); saved back at vkc_context_destroy if kernels were made. */
int vkc_pipeline_cache_open(VkcContext *ctx);
void vkc_pipeline_cache_save(VkcContext *ctx);

/* Record, submit and wait for a one-off command buffer filled by `fill`. */
int vkc_run_once(VkcContext *ctx, void (*fill)(VkCommandBuffer cb, void *user), void *user);
#endif
