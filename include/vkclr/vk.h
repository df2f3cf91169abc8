/* The Vulkan compute runtime: device choice, memory arenas and tensor views, kernels made
 * from embedded SPIR-V, command recording with automatic barriers, submit, timestamps.
 *
 * Every function that can fail returns VKC_OK or VKC_ERR and leaves a message in vkc_error().
 */
#ifndef VKCLR_VK_H
#define VKCLR_VK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <vulkan/vulkan.h>

#include "vkclr/error.h"
#include "vkclr/shaders.h"
#include "vkclr/tuning.h"

/* How a tensor's elements are stored. Parameters, gradients of parameters, optimizer state,
 * statistics and losses are always VKC_F32; with 16-bit precision the encoder's activations
 * and their gradients are VKC_F16 (IEEE half) or VKC_BF16 (the upper half of an fp32 word). */
typedef enum { VKC_F32, VKC_F16, VKC_BF16 } VkcDtype;
#define VKC_DTYPES 3

static inline VkDeviceSize vkc_dtype_size(VkcDtype d) { return d == VKC_F32 ? 4 : 2; }
static inline const char *vkc_dtype_name(VkcDtype d) { return d == VKC_F32 ? "fp32" : d == VKC_F16 ? "fp16" : "bf16"; }
/* The relative rounding error of one store into the dtype (round to nearest even): 0 for
 * float32 (the reference), 2^-11 for fp16, 2^-8 for bf16. Checks add it to their tolerances. */
static inline double vkc_dtype_unit(VkcDtype d) { return d == VKC_F32 ? 0 : d == VKC_F16 ? 0x1p-11 : 0x1p-8; }

/* ---------------------------------------------------------------- context */

/* Overrides of the kernels' built-in choices, for the checks, tuning runs and measurements. The
 * library reads no environment: the vkclr command and the tests fill these (from VKCLR_CONV_PATH
 * and the rest, src/cli/cli.h: cli_environment) and pass them in VkcContextOptions. Zeros: the
 * built-in choices. */
enum { VKC_CONV_FAMILY_DEVICE, VKC_CONV_FAMILY_REG, VKC_CONV_FAMILY_SMEM, VKC_CONV_FAMILY_COOP }; /* conv_family */
typedef struct {
    int conv_family;            /* one convolution kernel family for every pass, the tuning cache ignored */
    uint32_t conv_tile[3][2][4]; /* per pass (forward, backward-input, backward-weight) and family (reg
                                 * tile, smem block): these 4 numbers instead of the built-in tile */
    bool conv_no_subgroup;      /* the reg kernels fetch their own weights (no subgroup sharing) */
    uint32_t gemm_tile[4];      /* the GEMM's wide tile: wg_x, wg_y, tm, tn4 */
    bool unfused_pools;         /* the convnet's batch norm, ReLU and pool as three ops (what fusing buys) */
    /* The user's cache folder (XDG_CACHE_HOME/vkclr or HOME/.cache/vkclr; "": none): the tuning
     * cache (vkclr tune, vkclr/tuning.h) is tune-UUID-DRIVER.json there unless tuning_file
     * (VKCLR_TUNE_CACHE) names one, and the pipeline cache pipelines-UUID-DRIVER.bin. */
    char tuning_file[512], cache_dir[512];
} VkcKernelOverrides;

typedef struct {
    int device_index; /* -1: discrete > integrated > virtual > CPU */
    bool validation;  /* enable VK_LAYER_KHRONOS_validation */
    bool quiet;       /* do not print the chosen device */
    int local_rank;   /* data-parallel rank on this node: with no device asked for, take the
                       * local_rank-th device of the preferred type (round robin if fewer) */
    VkcKernelOverrides kernels;
} VkcContextOptions;

/* Cooperative matrices (tensor cores): subgroup-scope products A (M x K) * B (K x N) of 16-bit
 * operands summed in float32, in the shapes the device lists. vkclr's cooperative-matrix
 * kernels take the shape as specialization constants (src/nn/coop.c), so any listed shape works:
 * 16x16x16 (NVIDIA, RADV, NVK), 16x8x16 and 16x8x8 (NVIDIA), 8x8x16 / 8x16x16 (Intel), 8x8x8
 * (lavapipe since Mesa 26). */
#define VKC_COOP_MAX_SHAPES 8
typedef struct {
    uint32_t M, N, K;
} VkcCoopShape;

typedef struct {
    const char *api; /* the extension the device lists: "VK_KHR_cooperative_matrix", "VK_NV_cooperative_matrix" or NULL */
    /* shapes listed for operands of each 16-bit dtype (index VKC_F16, VKC_BF16) with float32 sums */
    VkcCoopShape listed[VKC_DTYPES][VKC_COOP_MAX_SHAPES];
    int nlisted[VKC_DTYPES];
    /* ok[d]: vkclr's cooperative-matrix kernels with operands of dtype d run on this device (the
     * device lists a shape, this build has the kernels, the features are enabled); shape[d] is
     * the shape they use, why_not[d] says why not otherwise. */
    bool ok[VKC_DTYPES];
    VkcCoopShape shape[VKC_DTYPES];
    char why_not[VKC_DTYPES][512];
    /* Their pipelines ask for full subgroups of subgroup_size (VK_EXT_subgroup_size_control):
     * the kernels give each subgroup its own tile, so the size must be the one they were made for. */
    bool pin_subgroup;
} VkcCoopMatrix;

typedef struct VkcContext {
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    VkPhysicalDevice physical;
    VkDevice device;
    VkQueue queue;
    uint32_t queue_family;
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties memory;
    uint32_t subgroup_size;
    bool subgroup_shuffle;    /* compute shaders may use subgroupShuffle (GL_KHR_shader_subgroup_shuffle) */
    bool is_cpu;              /* lavapipe, SwiftShader: pick CPU-friendly kernel variants */
    /* 't'/'s' bindings are storage texel buffers read by the shaders' image builds (imageLoad),
     * not uniform texel buffers (texelFetch): on CPU devices that can read storage texel buffers
     * without a format (shaders/texel.glsl says why). */
    bool texels_as_images;
    /* 16-bit activations (VkcDtype) this device can run: 16-bit storage-buffer access and
     * the texel formats of vk.h's binding kinds. */
    bool dtype_ok[VKC_DTYPES];
    VkcCoopMatrix coop;
    uint8_t device_uuid[VK_UUID_SIZE];
    VkcTuning tuning;         /* measured kernel choices (vkclr tune), loaded at creation */
    bool has_timestamps;
    VkCommandPool command_pool;
    VkPipelineCache pipeline_cache; /* loaded from and saved to pipeline_cache_path (pipeline_cache.c) */
    char pipeline_cache_path[1024];
    size_t pipeline_cache_loaded;   /* bytes read at creation */
    int pipelines_created;
    int validation_messages;  /* validation errors/warnings seen; tests require 0 */
    int device_index;
    VkcKernelOverrides kernels; /* as the options gave them */
} VkcContext;

int vkc_context_create(VkcContext *ctx, const VkcContextOptions *options);
/* The descriptor type of 't' and 's' bindings on this device. */
static inline VkDescriptorType vkc_texel_descriptor_type(const VkcContext *ctx)
{
    return ctx->texels_as_images ? VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER : VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
}
void vkc_context_destroy(VkcContext *ctx);

/* --precision auto: bf16 where vkclr's bf16 cooperative-matrix kernels run on the device (ctx->coop.ok),
 * else fp16 where the fp16 ones do, else fp32; fp32 on CPU devices (coopmat.c says why). */
VkcDtype vkc_auto_precision(const VkcContext *ctx);

/* Print every Vulkan device with its type, driver, memory heaps and compute limits. */
int vkc_list_devices(FILE *out);

/* Human-readable device type. */
const char *vkc_device_type_name(VkPhysicalDeviceType type);

/* ---------------------------------------------------------------- memory */

typedef enum {
    VKC_MEMORY_DEVICE,   /* device-local; host-visible too where the device offers it cheaply */
    VKC_MEMORY_STAGING,  /* host-visible, coherent: staging ring slots, readbacks */
} VkcMemoryKind;

/* An arena is a list of large VkBuffers ("blocks"), each no bigger than the device's
 * maxStorageBufferRange; tensors are carved out of blocks and never straddle two. */
typedef struct {
    VkBuffer buffer;
    VkDeviceMemory memory;
    VkDeviceSize size, used;
    void *mapped; /* NULL if not host-visible */
} VkcBlock;

typedef struct VkcArena {
    VkcContext *ctx;
    VkcMemoryKind kind;
    VkDeviceSize block_size;
    VkcBlock *blocks;
    int nblocks, capacity;
    VkDeviceSize allocated; /* bytes handed out to tensors */
} VkcArena;

/* A view into an arena block: (buffer, byte offset, byte size). Offsets are 256-byte aligned. */
typedef struct {
    VkBuffer buffer;
    VkDeviceSize offset, size; /* bytes */
    void *mapped;              /* host pointer to offset, or NULL if not host-visible */
    VkcArena *arena;
    VkcDtype dtype;            /* element type (VKC_F32 unless set) */
} VkcTensor;

int vkc_arena_init(VkcArena *arena, VkcContext *ctx, VkcMemoryKind kind);
void vkc_arena_destroy(VkcArena *arena);
/* Carve `bytes` (> 0) out of the arena, zero-filled. */
int vkc_tensor_alloc(VkcArena *arena, VkDeviceSize bytes, VkcTensor *out);
/* A sub-view of a tensor, `offset` and `bytes` relative to it. Offset must keep 4-byte alignment. */
VkcTensor vkc_tensor_slice(VkcTensor t, VkDeviceSize offset, VkDeviceSize bytes);
/* Number of float32 elements. */
static inline uint32_t vkc_tensor_floats(VkcTensor t) { return (uint32_t)(t.size / 4); }
/* Carve `count` elements of `dtype` out of the arena, zero-filled. */
int vkc_tensor_alloc_typed(VkcArena *arena, uint64_t count, VkcDtype dtype, VkcTensor *out);
/* Number of elements of the tensor's dtype. */
static inline uint64_t vkc_tensor_count(VkcTensor t) { return t.size / vkc_dtype_size(t.dtype); }
/* The same memory seen as elements of another dtype (for tensors that change type with the
 * precision of a run, such as shared scratch space). */
static inline VkcTensor vkc_tensor_as(VkcTensor t, VkcDtype dtype)
{
    t.dtype = dtype;
    return t;
}

/* Copy between host memory and a tensor (through a staging buffer if it is not mapped).
 * These submit and wait: use them at start-up and for checks, not per step. */
int vkc_upload(VkcContext *ctx, VkcTensor dst, const void *src, size_t bytes);
int vkc_download(VkcContext *ctx, VkcTensor src, void *dst, size_t bytes);
/* n floats to / from a tensor of any dtype, converted (round to nearest even into 16 bits). */
int vkc_upload_floats(VkcContext *ctx, VkcTensor dst, const float *src, size_t n);
int vkc_download_floats(VkcContext *ctx, VkcTensor src, float *dst, size_t n);

/* ---------------------------------------------------------------- kernels */

/* How a kernel sees binding i, given as one letter per binding in vkc_kernel_create:
 *   'b' storage buffer (read/write or read-only, GLSL `buffer`)
 *   't' read-only uniform texel buffer of 4 elements per texel (GLSL `uniform textureBuffer`,
 *       read with texelFetch through GL_EXT_samplerless_texture_functions: no sampler, which
 *       SPIR-V 1.6 forbids for buffers and Mesa >= 25 warns about; 4 floats per fetch).
 *       Fast on lavapipe; the tensor's offset is aligned and the view covers floor(size/texel)
 *       texels, so shaders must not read a partial last texel through it unless the tensor was
 *       allocated with padding.
 *   's' read-only uniform texel buffer of one element per texel.
 * The texel format follows the bound tensor's dtype: rgba32f / r32f for VKC_F32, rgba16f /
 * r16f for VKC_F16 (the read converts to float), rgba16ui / r16ui for VKC_BF16 (GLSL
 * `UTEXELS`; the shader shifts the 16 bits into the top of a float: precision.glsl). */
#define VKC_MAX_BINDINGS 10
#define VKC_MAX_SPEC 16

typedef struct VkcKernel {
    const char *name;
    VkShaderModule module;
    VkDescriptorSetLayout set_layout;
    VkPipelineLayout layout;
    VkPipeline pipeline;
    char bindings[VKC_MAX_BINDINGS + 1];
    int nbindings;
    uint32_t push_size;
    uint32_t local_size[3]; /* from spec constants 0,1,2 (shaders use local_size_x_id = 0 ...) */
} VkcKernel;

/* Create a compute pipeline from the embedded shader `shader` (VKC_SHADER_ + its file name).
 * `bindings`: one letter per descriptor binding of set 0 (see above). `spec`: values for
 * specialization constants 0..nspec-1; by convention constants 0,1,2 are the workgroup size
 * (missing ones are 1). */
/* The variant of `base` for activations of `dtype`: base itself for VKC_F32; for 16-bit, the
 * NAME_f16 / NAME_bf16 build of a shader listed in shaders/meson.build's precision_shaders,
 * else VKC_SHADER_COUNT (which vkc_kernel_create refuses, naming the shader). */
static inline VkcShader vkc_shader_variant(VkcShader base, VkcDtype dtype)
{
    if (dtype == VKC_F32) return base;
    return vkc_shader_variants[base] == 3 ? (VkcShader)(base + dtype) : VKC_SHADER_COUNT;
}
int vkc_kernel_create(VkcContext *ctx, VkcKernel *k, VkcShader shader, const char *bindings, uint32_t push_size,
                      const uint32_t *spec, int nspec);
void vkc_kernel_destroy(VkcContext *ctx, VkcKernel *k);

/* ---------------------------------------------------------------- commands */

/* A command buffer plus what its dispatches need to stay alive: descriptor sets, texel views,
 * timestamp queries, and the record of which buffer ranges were touched since the last
 * barrier (so a barrier is inserted exactly where a dispatch depends on an earlier one). */
typedef struct VkcAccess {
    VkBuffer buffer;
    VkDeviceSize begin, end;
    bool write;
} VkcAccess;

/* A host step between two segments of a command buffer (see vkc_cmd_host_step). */
typedef struct {
    int (*run)(void *user);
    void *user;
} VkcHostStep;

typedef struct VkcCmd {
    VkcContext *ctx;
    VkCommandBuffer cb; /* the segment being recorded */
    VkFence fence;
    VkDescriptorPool *pools;
    int npools, pools_cap;
    VkBufferView *views;
    int nviews, views_cap;
    VkcAccess *pending; /* accesses since the last barrier */
    int npending, pending_cap;
    VkQueryPool queries;
    uint32_t nqueries, queries_cap;
    int barriers; /* barriers recorded so far (for tests and profiling) */
    VkCommandBuffer *segs; /* segs[0..nsegs): the segments, in order (segs[0] is the first cb) */
    int nsegs, segs_cap;
    VkcHostStep *steps;    /* steps[i] runs between segs[i] and segs[i+1] */
    int steps_cap;
    bool recording;
    bool in_flight; /* submitted and not yet waited for (the last segment) */
} VkcCmd;

int vkc_cmd_init(VkcContext *ctx, VkcCmd *cmd);
void vkc_cmd_destroy(VkcCmd *cmd);
/* Start recording (resets everything recorded before). */
int vkc_cmd_begin(VkcCmd *cmd);
int vkc_cmd_end(VkcCmd *cmd);

/* Record a dispatch of `groups` workgroups with the tensors bound in order and `push`
 * (k->push_size bytes). Bindings declared 'b' are treated as read-write unless their index
 * is in `readonly_mask` (bit i set: binding i only read); 't'/'s' bindings are reads. */
int vkc_cmd_dispatch(VkcCmd *cmd, const VkcKernel *k, const VkcTensor *tensors, uint32_t readonly_mask,
                     const void *push, uint32_t gx, uint32_t gy, uint32_t gz);
/* Copy bytes between tensors (a transfer; barriers as for dispatches). */
int vkc_cmd_copy(VkcCmd *cmd, VkcTensor dst, VkcTensor src, VkDeviceSize bytes);
/* End the current segment here: on submit, the segment runs, the host waits for it and calls
 * run(user) (e.g. an MPI collective on mapped memory the segment wrote), then the next segment
 * runs. Writes of the segment are visible to the host when run() is called, and host writes
 * made by run() to every later segment. A command buffer without host steps is one segment,
 * submitted as before. Fails if run() fails (the following segments are then not submitted). */
int vkc_cmd_host_step(VkcCmd *cmd, int (*run)(void *user), void *user);
/* Fill a tensor with a 32-bit pattern. */
int vkc_cmd_fill(VkcCmd *cmd, VkcTensor dst, uint32_t pattern);
/* Make everything recorded so far visible to everything after (and to the host after submit). */
void vkc_cmd_barrier(VkcCmd *cmd);
/* Write a GPU timestamp; returns its index (or -1 if the device has none). */
int vkc_cmd_timestamp(VkcCmd *cmd);
/* Submit and wait for completion. A lost device or timeout is reported as an error. */
int vkc_cmd_submit_wait(VkcCmd *cmd);
/* Submit without waiting; vkc_cmd_wait() waits. With host steps, every segment but the last
 * is submitted and waited for here, with the host steps between them. */
int vkc_cmd_submit(VkcCmd *cmd);
int vkc_cmd_wait(VkcCmd *cmd);
/* Nanoseconds between timestamps a and b of the last completed submission. */
int vkc_cmd_elapsed_ns(VkcCmd *cmd, int a, int b, double *ns);

/* ---------------------------------------------------------------- binding tensors */

/* Binding a tensor whose offset may not meet the device's alignment for the descriptor type:
 * the view is moved back to an aligned offset in the same buffer (arena tensors start 256-byte
 * aligned, so this stays inside the block) and the shader gets the tensor's element offset
 * inside the view as a push constant. */

static inline VkcTensor vkc_view_aligned(VkcTensor t, VkDeviceSize align, uint32_t *elem_offset)
{
    if (align < 16) align = 16; /* rgba32f texel views also need whole-vec4 starts */
    VkDeviceSize shift = t.offset % align;
    *elem_offset = (uint32_t)(shift / vkc_dtype_size(t.dtype));
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

/* Does tensor t hold at least n elements of its dtype? */
static inline bool vkc_holds(VkcTensor t, uint64_t n) { return t.size >= n * vkc_dtype_size(t.dtype); }

/* Workgroups needed to cover n items with groups of size g. */
static inline uint32_t vkc_div_up(uint32_t n, uint32_t g) { return (n + g - 1) / g; }

#endif
