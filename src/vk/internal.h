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

/* VK_KHR_cooperative_matrix's and VK_KHR_shader_bfloat16's feature structures (newer than
 * Debian 12's Vulkan headers). */
typedef struct {
    VkStructureType sType;
    void *pNext;
    VkBool32 cooperativeMatrix, cooperativeMatrixRobustBufferAccess;
} VkcKhrCoopFeatures;
typedef struct {
    VkStructureType sType;
    void *pNext;
    VkBool32 shaderBFloat16Type, shaderBFloat16DotProduct, shaderBFloat16CooperativeMatrix;
} VkcBf16Features;

/* What the device must be created with for the cooperative-matrix kernels: extensions and a
 * pNext chain of features (NULL: none), kept in the structure itself. */
typedef struct {
    const char *extensions[4];
    uint32_t nextensions;
    void *chain;
    VkcKhrCoopFeatures coop;
    VkPhysicalDeviceVulkanMemoryModelFeatures model;
    VkPhysicalDeviceSubgroupSizeControlFeatures size;
    VkcBf16Features bf16;
} VkcCoopEnable;

/* Fill ctx->coop from the device's cooperative-matrix shapes, this build's kernels and the
 * device's features (after ctx->dtype_ok and ctx->subgroup_size), and say what to enable. */
void vkc_coopmat_query(VkcContext *ctx, VkcCoopEnable *enable);
/* The shapes a device lists and whether this build has the kernels, for `vkclr devices`. */
void vkc_coopmat_describe(VkInstance instance, VkPhysicalDevice physical, FILE *out);
/* Does the device offer extension `name`? */
bool vkc_device_extension(VkPhysicalDevice physical, const char *name);

/* The VkPipelineCache of ctx, with what the cache file of its device and driver held
 * (pipeline_cache.c); saved back at vkc_context_destroy if kernels were made. */
int vkc_pipeline_cache_open(VkcContext *ctx);
void vkc_pipeline_cache_save(VkcContext *ctx);

/* Record, submit and wait for a one-off command buffer filled by `fill`. */
int vkc_run_once(VkcContext *ctx, void (*fill)(VkCommandBuffer cb, void *user), void *user);
#endif
