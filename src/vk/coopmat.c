/* What cooperative matrices (tensor cores) a device offers, for --precision auto and for
 * selftest to say which variants it could not run. VK_KHR_cooperative_matrix is newer than the
 * Vulkan headers of Debian 12 (1.3.239): its query is declared here from the specification. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define KHR_EXTENSION "VK_KHR_cooperative_matrix"
#define KHR_PROPERTIES_STYPE ((VkStructureType)1000506001)
#define KHR_FLOAT16 0
#define KHR_FLOAT32 1
#define KHR_BFLOAT16 1000141000 /* VK_KHR_shader_bfloat16 */
#define SCOPE_SUBGROUP 3

typedef struct {
    VkStructureType sType;
    void *pNext;
    uint32_t MSize, NSize, KSize;
    int32_t AType, BType, CType, ResultType;
    VkBool32 saturatingAccumulation;
    int32_t scope;
} KhrProperties;

typedef VkResult(VKAPI_PTR *KhrQuery)(VkPhysicalDevice, uint32_t *, KhrProperties *);

void vkc_coopmat_query(VkcContext *ctx)
{
    VkcCoopMatrix *c = &ctx->coop;
    memset(c, 0, sizeof *c);
    if (vkc_device_extension(ctx->physical, KHR_EXTENSION)) {
        KhrQuery query = (KhrQuery)vkGetInstanceProcAddr(ctx->instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR");
        uint32_t n = 0;
        if (query && query(ctx->physical, &n, NULL) == VK_SUCCESS && n) {
            KhrProperties *p = calloc(n, sizeof *p);
            for (uint32_t i = 0; p && i < n; i++) p[i].sType = KHR_PROPERTIES_STYPE;
            if (p && query(ctx->physical, &n, p) == VK_SUCCESS) {
                c->api = "VK_KHR_cooperative_matrix";
                for (uint32_t i = 0; i < n; i++) {
                    if (p[i].scope != SCOPE_SUBGROUP || p[i].CType != KHR_FLOAT32 || p[i].ResultType != KHR_FLOAT32)
                        continue;
                    if (p[i].AType == KHR_FLOAT16 && p[i].BType == KHR_FLOAT16) c->f16 = true;
                    if (p[i].AType == KHR_BFLOAT16 && p[i].BType == KHR_BFLOAT16) c->bf16 = true;
                }
            }
            free(p);
        }
        return;
    }
    if (vkc_device_extension(ctx->physical, VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME)) {
        PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV query = (PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV)
            vkGetInstanceProcAddr(ctx->instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV");
        uint32_t n = 0;
        if (query && query(ctx->physical, &n, NULL) == VK_SUCCESS && n) {
            VkCooperativeMatrixPropertiesNV *p = calloc(n, sizeof *p);
            for (uint32_t i = 0; p && i < n; i++) p[i].sType = VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV;
            if (p && query(ctx->physical, &n, p) == VK_SUCCESS) {
                c->api = "VK_NV_cooperative_matrix";
                for (uint32_t i = 0; i < n; i++)
                    if (p[i].scope == VK_SCOPE_SUBGROUP_NV && p[i].AType == VK_COMPONENT_TYPE_FLOAT16_NV &&
                        p[i].BType == VK_COMPONENT_TYPE_FLOAT16_NV && p[i].CType == VK_COMPONENT_TYPE_FLOAT32_NV &&
                        p[i].DType == VK_COMPONENT_TYPE_FLOAT32_NV)
                        c->f16 = true;
            }
            free(p);
        }
    }
}

/* 16-bit activations where matrix units make 16-bit products fast. A CPU driver that lists
 * cooperative matrices (lavapipe since Mesa 26) emulates them: there 16-bit only adds
 * conversions, and the default run stays the same float32 run on every CPU driver. */
VkcDtype vkc_auto_precision(const VkcContext *ctx)
{
    if (ctx->is_cpu) return VKC_F32;
    if (ctx->coop.bf16 && ctx->dtype_ok[VKC_BF16]) return VKC_BF16;
    if (ctx->coop.f16 && ctx->dtype_ok[VKC_F16]) return VKC_F16;
    return VKC_F32;
}
