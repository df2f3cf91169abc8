/* Compute pipelines from embedded SPIR-V, with specialization and push constants. */
#include <string.h>

#include "internal.h"
#include "vkclr/shaders.h"


int vkc_kernel_create(VkcContext *ctx, VkcKernel *k, VkcShader id, const char *bindings, uint32_t push_size,
                      const uint32_t *spec, int nspec)
{
    memset(k, 0, sizeof *k);
    if ((unsigned)id >= VKC_SHADER_COUNT) return vkc_fail("no embedded shader number %d", (int)id);
    const VkcShaderBlob *blob = &vkc_shader_table[id];
    const char *shader = blob->name;
    if (!blob->words) return vkc_fail("kernel %s is not in this build (%s)", shader, vkc_coopmat_build_note);
    int n = (int)strlen(bindings);
    if (n > VKC_MAX_BINDINGS) return vkc_fail("kernel %s: too many bindings", shader);
    if (nspec > VKC_MAX_SPEC) return vkc_fail("kernel %s: too many specialization constants", shader);
    if (push_size > ctx->props.limits.maxPushConstantsSize)
        return vkc_fail("kernel %s needs %u bytes of push constants; the device allows %u", shader, push_size,
                        ctx->props.limits.maxPushConstantsSize);
    k->name = blob->name;
    memcpy(k->bindings, bindings, (size_t)n + 1);
    k->nbindings = n;
    k->push_size = push_size;
    for (int i = 0; i < 3; i++) k->local_size[i] = i < nspec ? spec[i] : 1;
    const VkPhysicalDeviceLimits *lim = &ctx->props.limits;
    uint32_t invocations = k->local_size[0] * k->local_size[1] * k->local_size[2];
    if (invocations > lim->maxComputeWorkGroupInvocations || k->local_size[0] > lim->maxComputeWorkGroupSize[0] ||
        k->local_size[1] > lim->maxComputeWorkGroupSize[1] || k->local_size[2] > lim->maxComputeWorkGroupSize[2])
        return vkc_fail("kernel %s: workgroup %ux%ux%u exceeds the device's limits", shader, k->local_size[0],
                        k->local_size[1], k->local_size[2]);

    VkDescriptorSetLayoutBinding layout_bindings[VKC_MAX_BINDINGS];
    for (int i = 0; i < n; i++) {
        if (!strchr("bts", bindings[i])) return vkc_fail("kernel %s: unknown binding kind '%c'", shader, bindings[i]);
        layout_bindings[i] = (VkDescriptorSetLayoutBinding){
            .binding = (uint32_t)i,
            .descriptorType = bindings[i] == 'b' ? VK_DESCRIPTOR_TYPE_STORAGE_BUFFER : vkc_texel_descriptor_type(ctx),
            .descriptorCount = 1,
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        };
    }
    VkDescriptorSetLayoutCreateInfo set_info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
        .bindingCount = (uint32_t)n,
        .pBindings = layout_bindings,
    };
    VkPushConstantRange push = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .size = push_size};
    VkPipelineLayoutCreateInfo layout_info = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
        .setLayoutCount = 1,
        .pSetLayouts = &k->set_layout,
        .pushConstantRangeCount = push_size ? 1 : 0,
        .pPushConstantRanges = &push,
    };
    VkShaderModuleCreateInfo module_info = {
        .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
        .codeSize = ctx->texels_as_images && blob->image_words ? blob->image_size : blob->size,
        .pCode = ctx->texels_as_images && blob->image_words ? blob->image_words : blob->words,
    };
    VkSpecializationMapEntry entries[VKC_MAX_SPEC];
    for (int i = 0; i < nspec; i++)
        entries[i] = (VkSpecializationMapEntry){.constantID = (uint32_t)i, .offset = 4u * i, .size = 4};
    VkSpecializationInfo spec_info = {
        .mapEntryCount = (uint32_t)nspec, .pMapEntries = entries, .dataSize = 4u * nspec, .pData = spec};
    VkResult r;
    if ((r = vkCreateDescriptorSetLayout(ctx->device, &set_info, NULL, &k->set_layout)) != VK_SUCCESS ||
        (r = vkCreatePipelineLayout(ctx->device, &layout_info, NULL, &k->layout)) != VK_SUCCESS ||
        (r = vkCreateShaderModule(ctx->device, &module_info, NULL, &k->module)) != VK_SUCCESS) {
        vkc_kernel_destroy(ctx, k);
        return vkc_fail_vk(shader, r);
    }
    /* Cooperative-matrix kernels give every subgroup a tile of its own: they are made for the
     * device's subgroup size, which their pipelines ask for where it varies (coopmat.c). */
    if (blob->coopmat && invocations % ctx->subgroup_size) {
        vkc_kernel_destroy(ctx, k);
        return vkc_fail("kernel %s: a workgroup of %u invocations is not whole subgroups of %u", shader, invocations,
                        ctx->subgroup_size);
    }
    VkPipelineShaderStageRequiredSubgroupSizeCreateInfo required = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_REQUIRED_SUBGROUP_SIZE_CREATE_INFO,
        .requiredSubgroupSize = ctx->subgroup_size};
    bool pin = blob->coopmat && ctx->coop.pin_subgroup;
    VkComputePipelineCreateInfo pipe_info = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {
            .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
            .pNext = pin ? &required : NULL,
            .flags = pin ? VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT : 0,
            .stage = VK_SHADER_STAGE_COMPUTE_BIT,
            .module = k->module,
            .pName = "main",
            .pSpecializationInfo = nspec ? &spec_info : NULL,
        },
        .layout = k->layout,
    };
    r = vkCreateComputePipelines(ctx->device, ctx->pipeline_cache, 1, &pipe_info, NULL, &k->pipeline);
    if (r == VK_SUCCESS) ctx->pipelines_created++;
    if (r != VK_SUCCESS) {
        vkc_kernel_destroy(ctx, k);
        return vkc_fail_vk(shader, r);
    }
    return VKC_OK;
}

void vkc_kernel_destroy(VkcContext *ctx, VkcKernel *k)
{
    if (!ctx->device) return;
    if (k->pipeline) vkDestroyPipeline(ctx->device, k->pipeline, NULL);
    if (k->module) vkDestroyShaderModule(ctx->device, k->module, NULL);
    if (k->layout) vkDestroyPipelineLayout(ctx->device, k->layout, NULL);
    if (k->set_layout) vkDestroyDescriptorSetLayout(ctx->device, k->set_layout, NULL);
    memset(k, 0, sizeof *k);
}
