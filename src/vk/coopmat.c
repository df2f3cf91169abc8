/* What cooperative matrices (tensor cores) a device offers, whether vkclr's cooperative-matrix
 * kernels can run there (and if not, why), and the extensions and features their pipelines need.
 * VK_KHR_cooperative_matrix and VK_KHR_shader_bfloat16 are newer than the Vulkan headers of
 * Debian 12 (1.3.239): their structures are declared here from the specification. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define KHR_EXTENSION "VK_KHR_cooperative_matrix"
#define KHR_FEATURES_STYPE ((VkStructureType)1000506000)
#define KHR_PROPERTIES_STYPE ((VkStructureType)1000506001)
#define KHR_DEVICE_PROPERTIES_STYPE ((VkStructureType)1000506002)
#define KHR_FLOAT16 0
#define KHR_FLOAT32 1
#define BF16_EXTENSION "VK_KHR_shader_bfloat16"
#define KHR_BFLOAT16 1000141000 /* VkComponentTypeKHR of VK_KHR_shader_bfloat16 */
#define BF16_FEATURES_STYPE ((VkStructureType)1000141000)
#define SCOPE_SUBGROUP 3

typedef struct {
    VkStructureType sType;
    void *pNext;
    uint32_t MSize, NSize, KSize;
    int32_t AType, BType, CType, ResultType;
    VkBool32 saturatingAccumulation;
    int32_t scope;
} KhrProperties;

typedef struct {
    VkStructureType sType;
    void *pNext;
    VkShaderStageFlags cooperativeMatrixSupportedStages;
} KhrDeviceProperties;

typedef VkResult(VKAPI_PTR *KhrQuery)(VkPhysicalDevice, uint32_t *, KhrProperties *);

/* The shapes the device lists for 16-bit operands with float32 sums at subgroup scope. */
static void list_shapes(VkInstance instance, VkPhysicalDevice physical, VkcCoopMatrix *c)
{
    memset(c, 0, sizeof *c);
    if (vkc_device_extension(physical, KHR_EXTENSION)) {
        c->api = KHR_EXTENSION;
        KhrQuery query = (KhrQuery)vkGetInstanceProcAddr(instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR");
        uint32_t n = 0;
        if (!query || query(physical, &n, NULL) != VK_SUCCESS || !n) return;
        KhrProperties *p = calloc(n, sizeof *p);
        for (uint32_t i = 0; p && i < n; i++) p[i].sType = KHR_PROPERTIES_STYPE;
        if (p && query(physical, &n, p) == VK_SUCCESS)
            for (uint32_t i = 0; i < n; i++) {
                if (p[i].scope != SCOPE_SUBGROUP || p[i].CType != KHR_FLOAT32 || p[i].ResultType != KHR_FLOAT32 ||
                    p[i].AType != p[i].BType)
                    continue;
                int d = p[i].AType == KHR_FLOAT16 ? VKC_F16 : p[i].AType == KHR_BFLOAT16 ? VKC_BF16 : -1;
                if (d < 0 || c->nlisted[d] == VKC_COOP_MAX_SHAPES) continue;
                c->listed[d][c->nlisted[d]++] = (VkcCoopShape){p[i].MSize, p[i].NSize, p[i].KSize};
            }
        free(p);
        return;
    }
    if (vkc_device_extension(physical, VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME)) {
        c->api = VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME;
        PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV query = (PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV)
            vkGetInstanceProcAddr(instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV");
        uint32_t n = 0;
        if (!query || query(physical, &n, NULL) != VK_SUCCESS || !n) return;
        VkCooperativeMatrixPropertiesNV *p = calloc(n, sizeof *p);
        for (uint32_t i = 0; p && i < n; i++) p[i].sType = VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV;
        if (p && query(physical, &n, p) == VK_SUCCESS)
            for (uint32_t i = 0; i < n && c->nlisted[VKC_F16] < VKC_COOP_MAX_SHAPES; i++)
                if (p[i].scope == VK_SCOPE_SUBGROUP_NV && p[i].AType == VK_COMPONENT_TYPE_FLOAT16_NV &&
                    p[i].BType == VK_COMPONENT_TYPE_FLOAT16_NV && p[i].CType == VK_COMPONENT_TYPE_FLOAT32_NV &&
                    p[i].DType == VK_COMPONENT_TYPE_FLOAT32_NV)
                    c->listed[VKC_F16][c->nlisted[VKC_F16]++] = (VkcCoopShape){p[i].MSize, p[i].NSize, p[i].KSize};
        free(p);
    }
}

/* The listed shape the kernels use: the most products per instruction (M*N*K), then the
 * widest N. Any shape with M, N, K multiples of 8 fits the kernels' shared-memory layout. */
static bool pick_shape(const VkcCoopMatrix *c, int d, VkcCoopShape *out)
{
    bool found = false;
    for (int i = 0; i < c->nlisted[d]; i++) {
        VkcCoopShape s = c->listed[d][i];
        if (s.M % 8 || s.N % 8 || s.K % 8 || s.M > 64 || s.N > 64 || s.K > 64) continue;
        uint64_t v = (uint64_t)s.M * s.N * s.K, best = found ? (uint64_t)out->M * out->N * out->K : 0;
        if (!found || v > best || (v == best && s.N > out->N)) *out = s, found = true;
    }
    return found;
}

static void shapes_text(const VkcCoopMatrix *c, int d, char *out, size_t size)
{
    size_t used = 0;
    out[0] = 0;
    for (int i = 0; i < c->nlisted[d] && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%ux%ux%u", i ? ", " : "", c->listed[d][i].M,
                                 c->listed[d][i].N, c->listed[d][i].K);
}

void vkc_coopmat_query(VkcContext *ctx, VkcCoopEnable *en)
{
    VkcCoopMatrix *c = &ctx->coop;
    memset(en, 0, sizeof *en);
    list_shapes(ctx->instance, ctx->physical, c);
    static const VkcShader kernels[VKC_DTYPES] = {VKC_SHADER_COUNT, VKC_SHADER_GEMM_COOP_F16, VKC_SHADER_GEMM_COOP_BF16};

    /* What the kernels need besides a listed shape: the extension's feature, the Vulkan memory
     * model (GL_KHR_cooperative_matrix's scopes), 16-bit arithmetic of the operand type, and one
     * known subgroup size for their pipelines. */
    bool khr = c->api && !strcmp(c->api, KHR_EXTENSION);
    bool model_ext = vkc_device_extension(ctx->physical, VK_KHR_VULKAN_MEMORY_MODEL_EXTENSION_NAME);
    bool size_ext = vkc_device_extension(ctx->physical, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
    bool bf16_ext = vkc_device_extension(ctx->physical, BF16_EXTENSION);
    bool f16i8_ext = ctx->props.apiVersion >= VK_API_VERSION_1_2 ||
                     vkc_device_extension(ctx->physical, VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
    en->coop = (VkcKhrCoopFeatures){.sType = KHR_FEATURES_STYPE};
    en->model = (VkPhysicalDeviceVulkanMemoryModelFeatures){.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES};
    en->size = (VkPhysicalDeviceSubgroupSizeControlFeatures){.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES};
    en->bf16 = (VkcBf16Features){.sType = BF16_FEATURES_STYPE};
    VkPhysicalDeviceShaderFloat16Int8Features f16i8 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
    VkPhysicalDeviceFeatures2 features = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    void **tail = &features.pNext;
#define CHAIN(cond, s) \
    if (cond) {        \
        *tail = &(s);  \
        tail = &(s).pNext; \
    }
    CHAIN(khr, en->coop)
    CHAIN(model_ext, en->model)
    CHAIN(size_ext, en->size)
    CHAIN(bf16_ext, en->bf16)
    CHAIN(f16i8_ext, f16i8)
    *tail = NULL;
    if (khr) vkGetPhysicalDeviceFeatures2(ctx->physical, &features);
    KhrDeviceProperties kp = {.sType = KHR_DEVICE_PROPERTIES_STYPE};
    VkPhysicalDeviceSubgroupSizeControlProperties sp = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES,
        .minSubgroupSize = ctx->subgroup_size, .maxSubgroupSize = ctx->subgroup_size};
    VkPhysicalDeviceProperties2 props = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
    tail = &props.pNext;
    CHAIN(khr, kp)
    CHAIN(size_ext, sp)
    *tail = NULL;
#undef CHAIN
    if (khr) vkGetPhysicalDeviceProperties2(ctx->physical, &props);
    /* The kernels give every subgroup a tile of its own: the host must know the subgroup size.
     * Where it varies (AMD, Intel) the pipelines ask for the reported one, in full subgroups. */
    bool pinnable = size_ext && en->size.subgroupSizeControl && en->size.computeFullSubgroups &&
                    (sp.requiredSubgroupSizeStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                    ctx->subgroup_size >= sp.minSubgroupSize && ctx->subgroup_size <= sp.maxSubgroupSize;
    bool fixed = sp.minSubgroupSize == sp.maxSubgroupSize;
    /* lavapipe (Mesa 26.1) lists 8x8x8 at every vector width, but only runs it at subgroup size
     * 8: at 4 (LP_NATIVE_VECTOR_WIDTH=128) it turns the feature off, at 16 (=512) its compiler
     * crashes (SIGSEGV in vkCreateComputePipelines) on any cooperative-matrix shader, even the
     * build's few-line probe. */
    VkPhysicalDeviceDriverProperties drv = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceProperties2 dp = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &drv};
    if (ctx->props.apiVersion >= VK_API_VERSION_1_2 || vkc_device_extension(ctx->physical, VK_KHR_DRIVER_PROPERTIES_EXTENSION_NAME))
        vkGetPhysicalDeviceProperties2(ctx->physical, &dp);
    bool lavapipe_wide = drv.driverID == VK_DRIVER_ID_MESA_LLVMPIPE && ctx->subgroup_size > 8;

    bool any = false;
    for (int d = VKC_F16; d <= VKC_BF16; d++) {
        const char *dev = ctx->props.deviceName;
        char *why = c->why_not[d];
        size_t n = sizeof c->why_not[d];
        const char *dt = vkc_dtype_name((VkcDtype)d);
        if (!vkc_shader_built(kernels[d])) snprintf(why, n, "not in this build (%.400s)", vkc_coopmat_build_note);
        else if (!c->api) snprintf(why, n, "%.100s lists no cooperative matrices", dev);
        else if (!khr) snprintf(why, n, "vkclr's kernels use VK_KHR_cooperative_matrix; this driver lists only %.60s", c->api);
        else if (!c->nlisted[d]) snprintf(why, n, "%.100s lists no %s x %s -> fp32 cooperative-matrix shape", dev, dt, dt);
        else if (!pick_shape(c, d, &c->shape[d])) snprintf(why, n, "none of the %s shapes %.100s lists has M, N and K multiples of 8 up to 64", dt, dev);
        else if (!en->coop.cooperativeMatrix || !(kp.cooperativeMatrixSupportedStages & VK_SHADER_STAGE_COMPUTE_BIT))
            snprintf(why, n, "%.100s does not enable cooperative matrices in compute shaders", dev);
        else if (!model_ext || !en->model.vulkanMemoryModel)
            snprintf(why, n, "%.100s lacks the Vulkan memory model the kernels are compiled for", dev);
        else if (!f16i8.shaderFloat16) /* (glslang declares Float16 for bfloat16 types as well) */
            snprintf(why, n, "%.100s lacks shaderFloat16", dev);
        else if (d == VKC_BF16 && !(bf16_ext && en->bf16.shaderBFloat16Type && en->bf16.shaderBFloat16CooperativeMatrix))
            snprintf(why, n, "%.100s lacks VK_KHR_shader_bfloat16's bfloat16 cooperative matrices", dev);
        else if (!ctx->dtype_ok[d]) snprintf(why, n, "%.100s cannot store %s activations", dev, dt);
        else if (lavapipe_wide)
            snprintf(why, n, "lavapipe runs cooperative matrices at subgroup size 8 only (its compiler crashes on "
                     "them at %u: Mesa 26.1, LP_NATIVE_VECTOR_WIDTH=%u)", ctx->subgroup_size, 32 * ctx->subgroup_size);
        else if (!fixed && !pinnable)
            snprintf(why, n, "the subgroup size varies (%u to %u) and cannot be fixed for the kernels' pipelines",
                     sp.minSubgroupSize, sp.maxSubgroupSize);
        else {
            c->ok[d] = true;
            why[0] = 0;
            any = true;
        }
    }
    if (!any) return;
    /* Enable exactly what the kernels use. */
    en->extensions[en->nextensions++] = KHR_EXTENSION;
    en->extensions[en->nextensions++] = VK_KHR_VULKAN_MEMORY_MODEL_EXTENSION_NAME;
    en->coop = (VkcKhrCoopFeatures){.sType = KHR_FEATURES_STYPE, .cooperativeMatrix = VK_TRUE};
    en->model = (VkPhysicalDeviceVulkanMemoryModelFeatures){
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES, .pNext = &en->coop, .vulkanMemoryModel = VK_TRUE};
    en->chain = &en->model;
    c->pin_subgroup = !fixed;
    if (c->pin_subgroup) {
        en->extensions[en->nextensions++] = VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME;
        en->size = (VkPhysicalDeviceSubgroupSizeControlFeatures){
            .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES, .pNext = en->chain,
            .subgroupSizeControl = VK_TRUE, .computeFullSubgroups = VK_TRUE};
        en->chain = &en->size;
    }
    if (c->ok[VKC_BF16]) {
        en->extensions[en->nextensions++] = BF16_EXTENSION;
        en->bf16 = (VkcBf16Features){.sType = BF16_FEATURES_STYPE, .pNext = en->chain, .shaderBFloat16Type = VK_TRUE,
                                     .shaderBFloat16CooperativeMatrix = VK_TRUE};
        en->chain = &en->bf16;
    }
}

void vkc_coopmat_describe(VkInstance instance, VkPhysicalDevice physical, FILE *out)
{
    VkcCoopMatrix c;
    list_shapes(instance, physical, &c);
    char text[256];
    if (!c.api) fprintf(out, "  coop. matrices     none listed\n");
    for (int d = VKC_F16; c.api && d <= VKC_BF16; d++) {
        shapes_text(&c, d, text, sizeof text);
        fprintf(out, "  coop. matrix %s  %s: %s\n", vkc_dtype_name((VkcDtype)d), c.api, c.nlisted[d] ? text : "none");
    }
}

/* 16-bit activations where matrix units make 16-bit products fast. A CPU driver that lists
 * cooperative matrices (lavapipe since Mesa 26) emulates them: there 16-bit only adds
 * conversions, and the default run stays the same float32 run on every CPU driver. */
VkcDtype vkc_auto_precision(const VkcContext *ctx)
{
    if (ctx->is_cpu) return VKC_F32;
    if (ctx->coop.ok[VKC_BF16]) return VKC_BF16;
    if (ctx->coop.ok[VKC_F16]) return VKC_F16;
    return VKC_F32;
}
