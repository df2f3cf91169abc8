/* Instance, validation messages, device enumeration and choice. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *vkc_device_type_name(VkPhysicalDeviceType type)
{
    switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
    default: return "other";
    }
}

static const char *vk_result_name(VkResult r)
{
    switch (r) {
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "out of host memory";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "out of device memory";
    case VK_ERROR_INITIALIZATION_FAILED: return "initialization failed";
    case VK_ERROR_DEVICE_LOST: return "device lost";
    case VK_ERROR_LAYER_NOT_PRESENT: return "layer not present";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "extension not present";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "incompatible driver (no Vulkan 1.1 driver found)";
    case VK_TIMEOUT: return "timeout";
    default: return "error";
    }
}

int vkc_fail_vk(const char *what, VkResult r)
{
    return vkc_fail("%s failed: %s (VkResult %d)", what, vk_result_name(r), (int)r);
}

static VKAPI_ATTR VkBool32 VKAPI_CALL on_validation_message(
    VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT type,
    const VkDebugUtilsMessengerCallbackDataEXT *data, void *user)
{
    (void)type;
    VkcContext *ctx = user;
    if (severity & (VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT)) {
        ctx->validation_messages++;
        fprintf(stderr, "vkclr: validation %s: %s\n",
                severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? "error" : "warning", data->pMessage);
    }
    return VK_FALSE;
}

static bool layer_available(const char *name)
{
    uint32_t n = 0;
    vkEnumerateInstanceLayerProperties(&n, NULL);
    VkLayerProperties *layers = calloc(n ? n : 1, sizeof *layers);
    if (!layers) return false;
    vkEnumerateInstanceLayerProperties(&n, layers);
    bool found = false;
    for (uint32_t i = 0; i < n; i++) found |= !strcmp(layers[i].layerName, name);
    free(layers);
    return found;
}

static int create_instance(VkInstance *instance, bool validation)
{
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "vkclr",
        .apiVersion = VK_API_VERSION_1_1,
    };
    const char *layers[] = {"VK_LAYER_KHRONOS_validation"};
    const char *extensions[] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
    VkInstanceCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pApplicationInfo = &app,
        .enabledLayerCount = validation ? 1 : 0,
        .ppEnabledLayerNames = layers,
        .enabledExtensionCount = validation ? 1 : 0,
        .ppEnabledExtensionNames = extensions,
    };
    VkResult r = vkCreateInstance(&info, NULL, instance);
    if (r != VK_SUCCESS) return vkc_fail_vk("creating the Vulkan instance", r);
    return VKC_OK;
}

static int enumerate(VkInstance instance, VkPhysicalDevice **out, uint32_t *n)
{
    *n = 0;
    VkResult r = vkEnumeratePhysicalDevices(instance, n, NULL);
    if (r != VK_SUCCESS) return vkc_fail_vk("listing Vulkan devices", r);
    if (*n == 0)
        return vkc_fail("no Vulkan device found (on a machine without a GPU, install mesa-vulkan-drivers for lavapipe)");
    *out = calloc(*n, sizeof **out);
    if (!*out) return vkc_fail("out of memory");
    vkEnumeratePhysicalDevices(instance, n, *out);
    return VKC_OK;
}

static int device_rank(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 3;
    default: return 4;
    }
}

static bool compute_queue_family(VkPhysicalDevice dev, uint32_t *family)
{
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(dev, &n, NULL);
    VkQueueFamilyProperties props[32];
    if (n > 32) n = 32;
    vkGetPhysicalDeviceQueueFamilyProperties(dev, &n, props);
    /* Prefer a family with compute; any compute family also takes transfers. */
    for (uint32_t i = 0; i < n; i++)
        if (props[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
            *family = i;
            return true;
        }
    return false;
}

static VkPhysicalDeviceSubgroupProperties subgroup_of(VkPhysicalDevice dev)
{
    VkPhysicalDeviceSubgroupProperties sub = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sub};
    vkGetPhysicalDeviceProperties2(dev, &p2);
    return sub;
}

static uint32_t subgroup_size_of(VkPhysicalDevice dev) { return subgroup_of(dev).subgroupSize; }

/* Can both formats back the texel buffers of the 't' and 's' bindings (storage ones, or
 * uniform ones)? */
static bool texel_formats_ok(VkPhysicalDevice physical, bool storage, VkFormat one, VkFormat four)
{
    VkFormatFeatureFlags need = storage ? VK_FORMAT_FEATURE_STORAGE_TEXEL_BUFFER_BIT : VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT;
    VkFormatProperties a, b;
    vkGetPhysicalDeviceFormatProperties(physical, one, &a);
    vkGetPhysicalDeviceFormatProperties(physical, four, &b);
    return (a.bufferFeatures & need) == need && (b.bufferFeatures & need) == need;
}

/* VkcContext.texels_as_images: CPU drivers read storage texel buffers faster than uniform ones
 * (shaders/texel.glsl), and the image builds read them without naming a format. */
static bool texels_as_images(VkPhysicalDevice physical, const VkPhysicalDeviceProperties *p)
{
    VkPhysicalDeviceFeatures f;
    vkGetPhysicalDeviceFeatures(physical, &f);
    return p->deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU && f.shaderStorageImageReadWithoutFormat &&
           p->limits.maxPerStageDescriptorStorageImages >= VKC_MAX_BINDINGS &&
           texel_formats_ok(physical, true, VK_FORMAT_R32_SFLOAT, VK_FORMAT_R32G32B32A32_SFLOAT);
}

int vkc_list_devices(FILE *out)
{
    VkInstance instance;
    if (create_instance(&instance, false)) return VKC_ERR;
    VkPhysicalDevice *devs;
    uint32_t n;
    if (enumerate(instance, &devs, &n)) {
        vkDestroyInstance(instance, NULL);
        return VKC_ERR;
    }
    for (uint32_t i = 0; i < n; i++) {
        VkPhysicalDeviceDriverProperties drv = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
        VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &drv};
        vkGetPhysicalDeviceProperties2(devs[i], &p2);
        const VkPhysicalDeviceProperties *p = &p2.properties;
        const VkPhysicalDeviceLimits *l = &p->limits;
        VkPhysicalDeviceMemoryProperties mem;
        vkGetPhysicalDeviceMemoryProperties(devs[i], &mem);
        fprintf(out, "device %u: %s\n", i, p->deviceName);
        fprintf(out, "  type               %s\n", vkc_device_type_name(p->deviceType));
        fprintf(out, "  driver             %s %s (Vulkan %u.%u.%u)\n", drv.driverName, drv.driverInfo,
                VK_API_VERSION_MAJOR(p->apiVersion), VK_API_VERSION_MINOR(p->apiVersion),
                VK_API_VERSION_PATCH(p->apiVersion));
        for (uint32_t h = 0; h < mem.memoryHeapCount; h++)
            fprintf(out, "  memory heap %u      %.1f GiB%s\n", h, mem.memoryHeaps[h].size / 1073741824.0,
                    mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT ? " (device local)" : "");
        fprintf(out, "  subgroup size      %u\n", subgroup_size_of(devs[i]));
        fprintf(out, "  shared memory      %u KiB per workgroup\n", l->maxComputeSharedMemorySize / 1024);
        fprintf(out, "  workgroup          %u invocations, %u x %u x %u\n", l->maxComputeWorkGroupInvocations,
                l->maxComputeWorkGroupSize[0], l->maxComputeWorkGroupSize[1], l->maxComputeWorkGroupSize[2]);
        fprintf(out, "  storage buffer     %.0f MiB max range\n", l->maxStorageBufferRange / 1048576.0);
        fprintf(out, "  texel buffer       %u elements max, read as %s\n", l->maxTexelBufferElements,
                texels_as_images(devs[i], p) ? "storage texel buffers (imageLoad)" : "uniform texel buffers (texelFetch)");
        fprintf(out, "  push constants     %u bytes\n", l->maxPushConstantsSize);
        fprintf(out, "  timestamps         %s\n", l->timestampComputeAndGraphics ? "yes" : "no");
        vkc_coopmat_describe(instance, devs[i], out);
    }
    fprintf(out, "this build's %s\n", vkc_coopmat_build_note);
    free(devs);
    vkDestroyInstance(instance, NULL);
    return VKC_OK;
}

static int pick_device(VkInstance instance, int wanted, int local_rank, VkPhysicalDevice *out, int *index)
{
    VkPhysicalDevice *devs;
    uint32_t n;
    if (enumerate(instance, &devs, &n)) return VKC_ERR;
    int best = -1, best_rank = 99;
    if (wanted >= 0) {
        if ((uint32_t)wanted >= n) {
            free(devs);
            return vkc_fail("device %d does not exist (%u device%s found; see vkclr devices)", wanted, n,
                            n == 1 ? "" : "s");
        }
        best = wanted;
    } else {
        for (uint32_t i = 0; i < n; i++) {
            VkPhysicalDeviceProperties p;
            vkGetPhysicalDeviceProperties(devs[i], &p);
            uint32_t family;
            if (p.apiVersion < VK_API_VERSION_1_1 || !compute_queue_family(devs[i], &family)) continue;
            if (device_rank(p.deviceType) < best_rank) best = (int)i, best_rank = device_rank(p.deviceType);
        }
        if (best < 0) {
            free(devs);
            return vkc_fail("no Vulkan 1.1 device with a compute queue found");
        }
        /* Data-parallel ranks on one node: the local_rank-th device of the preferred type,
         * round robin when there are fewer such devices than ranks. */
        int same = 0;
        for (uint32_t i = 0; i < n; i++) {
            VkPhysicalDeviceProperties p;
            vkGetPhysicalDeviceProperties(devs[i], &p);
            uint32_t family;
            same += p.apiVersion >= VK_API_VERSION_1_1 && compute_queue_family(devs[i], &family) &&
                    device_rank(p.deviceType) == best_rank;
        }
        for (uint32_t i = 0, k = 0; i < n && local_rank > 0; i++) {
            VkPhysicalDeviceProperties p;
            vkGetPhysicalDeviceProperties(devs[i], &p);
            uint32_t family;
            if (p.apiVersion < VK_API_VERSION_1_1 || !compute_queue_family(devs[i], &family) ||
                device_rank(p.deviceType) != best_rank)
                continue;
            if ((int)k++ == local_rank % same) {
                best = (int)i;
                break;
            }
        }
    }
    *out = devs[best];
    *index = best;
    free(devs);
    return VKC_OK;
}

bool vkc_device_extension(VkPhysicalDevice physical, const char *name)
{
    uint32_t n = 0;
    vkEnumerateDeviceExtensionProperties(physical, NULL, &n, NULL);
    VkExtensionProperties *e = calloc(n ? n : 1, sizeof *e);
    bool found = false;
    if (e && vkEnumerateDeviceExtensionProperties(physical, NULL, &n, e) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++) found = !strcmp(e[i].extensionName, name);
    free(e);
    return found;
}

int vkc_context_create(VkcContext *ctx, const VkcContextOptions *options)
{
    memset(ctx, 0, sizeof *ctx);
    VkcContextOptions opt = options ? *options : (VkcContextOptions){.device_index = -1};
    ctx->kernels = opt.kernels;
    if (opt.validation && !layer_available("VK_LAYER_KHRONOS_validation"))
        return vkc_fail("validation was requested but VK_LAYER_KHRONOS_validation is not installed "
                        "(Debian: vulkan-validationlayers)");
    if (create_instance(&ctx->instance, opt.validation)) return VKC_ERR;

    if (opt.validation) {
        PFN_vkCreateDebugUtilsMessengerEXT create_messenger =
            (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(ctx->instance, "vkCreateDebugUtilsMessengerEXT");
        VkDebugUtilsMessengerCreateInfoEXT info = {
            .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
            .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
            .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
            .pfnUserCallback = on_validation_message,
            .pUserData = ctx,
        };
        if (!create_messenger || create_messenger(ctx->instance, &info, NULL, &ctx->messenger) != VK_SUCCESS) {
            vkc_context_destroy(ctx);
            return vkc_fail("could not install the validation message callback");
        }
    }

    if (pick_device(ctx->instance, opt.device_index, opt.local_rank, &ctx->physical, &ctx->device_index)) {
        vkc_context_destroy(ctx);
        return VKC_ERR;
    }
    vkGetPhysicalDeviceProperties(ctx->physical, &ctx->props);
    vkGetPhysicalDeviceMemoryProperties(ctx->physical, &ctx->memory);
    VkPhysicalDeviceSubgroupProperties sub = subgroup_of(ctx->physical);
    ctx->subgroup_size = sub.subgroupSize;
    ctx->subgroup_shuffle = (sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                            (sub.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT);
    ctx->is_cpu = ctx->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
    if (ctx->props.apiVersion < VK_API_VERSION_1_1) {
        vkc_context_destroy(ctx);
        return vkc_fail("device %d (%s) supports only Vulkan %u.%u; vkclr needs 1.1", ctx->device_index,
                        ctx->props.deviceName, VK_API_VERSION_MAJOR(ctx->props.apiVersion),
                        VK_API_VERSION_MINOR(ctx->props.apiVersion));
    }
    if (!compute_queue_family(ctx->physical, &ctx->queue_family)) {
        vkc_context_destroy(ctx);
        return vkc_fail("device %d (%s) has no compute queue", ctx->device_index, ctx->props.deviceName);
    }
    ctx->has_timestamps = ctx->props.limits.timestampComputeAndGraphics && ctx->props.limits.timestampPeriod > 0;
    VkPhysicalDeviceIDProperties id = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES};
    VkPhysicalDeviceProperties2 props2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &id};
    vkGetPhysicalDeviceProperties2(ctx->physical, &props2);
    memcpy(ctx->device_uuid, id.deviceUUID, VK_UUID_SIZE);
    vkc_tuning_load(ctx);

    float priority = 1.0f;
    VkDeviceQueueCreateInfo queue_info = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
        .queueFamilyIndex = ctx->queue_family,
        .queueCount = 1,
        .pQueuePriorities = &priority,
    };
    /* 16-bit activations need 16-bit storage-buffer access (stores), the 16-bit texel formats
     * the binding kinds use (loads), and 16-bit arithmetic types for the conversions the
     * shaders write (shaderFloat16 for fp16, shaderInt16 for bf16's bit patterns); each is
     * enabled where the device has it. shaderFloat16 is Vulkan 1.2, or VK_KHR_shader_float16_int8. */
    bool float16_query = ctx->props.apiVersion >= VK_API_VERSION_1_2 ||
                         vkc_device_extension(ctx->physical, VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
    VkPhysicalDeviceShaderFloat16Int8Features f16i8 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
    VkPhysicalDevice16BitStorageFeatures storage16 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
                                                      .pNext = float16_query ? &f16i8 : NULL};
    VkPhysicalDeviceFeatures2 features = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &storage16};
    vkGetPhysicalDeviceFeatures2(ctx->physical, &features);
    bool storage = storage16.storageBuffer16BitAccess;
    ctx->texels_as_images = texels_as_images(ctx->physical, &ctx->props);
    ctx->dtype_ok[VKC_F32] = true;
    ctx->dtype_ok[VKC_F16] = storage && f16i8.shaderFloat16 &&
                             texel_formats_ok(ctx->physical, ctx->texels_as_images, VK_FORMAT_R16_SFLOAT, VK_FORMAT_R16G16B16A16_SFLOAT);
    ctx->dtype_ok[VKC_BF16] = storage && features.features.shaderInt16 &&
                              texel_formats_ok(ctx->physical, ctx->texels_as_images, VK_FORMAT_R16_UINT, VK_FORMAT_R16G16B16A16_UINT);
    VkPhysicalDeviceShaderFloat16Int8Features enable_f16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES, .shaderFloat16 = f16i8.shaderFloat16};
    VkPhysicalDevice16BitStorageFeatures enable16 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
                                                     .pNext = f16i8.shaderFloat16 ? &enable_f16 : NULL,
                                                     .storageBuffer16BitAccess = storage};
    VkPhysicalDeviceFeatures enable_core = {.shaderInt16 = features.features.shaderInt16,
                                            .shaderStorageImageReadWithoutFormat = ctx->texels_as_images};
    const char *extensions[8];
    uint32_t nextensions = 0;
    if (f16i8.shaderFloat16 && ctx->props.apiVersion < VK_API_VERSION_1_2)
        extensions[nextensions++] = VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME;
    /* Cooperative matrices where this build's kernels can use them (coopmat.c). */
    VkcCoopEnable coop;
    vkc_coopmat_query(ctx, &coop);
    for (uint32_t i = 0; i < coop.nextensions; i++) extensions[nextensions++] = coop.extensions[i];
    if (coop.chain) {
        void **tail = &enable16.pNext;
        while (*tail) tail = (void **)&((VkBaseOutStructure *)*tail)->pNext;
        *tail = coop.chain;
    }
    VkDeviceCreateInfo dev_info = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .pNext = &enable16,
        .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &queue_info,
        .enabledExtensionCount = nextensions,
        .ppEnabledExtensionNames = extensions,
        .pEnabledFeatures = &enable_core,
    };
    VkResult r = vkCreateDevice(ctx->physical, &dev_info, NULL, &ctx->device);
    if (r != VK_SUCCESS) {
        vkc_context_destroy(ctx);
        return vkc_fail_vk("creating the logical device", r);
    }
    vkGetDeviceQueue(ctx->device, ctx->queue_family, 0, &ctx->queue);

    VkCommandPoolCreateInfo pool_info = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
        .queueFamilyIndex = ctx->queue_family,
    };
    if ((r = vkCreateCommandPool(ctx->device, &pool_info, NULL, &ctx->command_pool)) != VK_SUCCESS) {
        vkc_context_destroy(ctx);
        return vkc_fail_vk("creating the command pool", r);
    }
    if (vkc_pipeline_cache_open(ctx)) {
        vkc_context_destroy(ctx);
        return VKC_ERR;
    }
    if (!opt.quiet)
        fprintf(stderr, "vkclr: device %d: %s (%s)\n", ctx->device_index, ctx->props.deviceName,
                vkc_device_type_name(ctx->props.deviceType));
    return VKC_OK;
}

void vkc_context_destroy(VkcContext *ctx)
{
    vkc_tuning_free(&ctx->tuning);
    if (ctx->device) {
        vkDeviceWaitIdle(ctx->device);
        vkc_pipeline_cache_save(ctx);
        if (ctx->pipeline_cache) vkDestroyPipelineCache(ctx->device, ctx->pipeline_cache, NULL);
        if (ctx->command_pool) vkDestroyCommandPool(ctx->device, ctx->command_pool, NULL);
        vkDestroyDevice(ctx->device, NULL);
    }
    if (ctx->messenger) {
        PFN_vkDestroyDebugUtilsMessengerEXT destroy =
            (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(ctx->instance, "vkDestroyDebugUtilsMessengerEXT");
        if (destroy) destroy(ctx->instance, ctx->messenger, NULL);
    }
    if (ctx->instance) vkDestroyInstance(ctx->instance, NULL);
    int messages = ctx->validation_messages;
    memset(ctx, 0, sizeof *ctx);
    ctx->validation_messages = messages; /* still readable after destroy, for tests */
}
