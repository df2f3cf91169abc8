/* Shared by the layer files of src/nn: the pipeline cache and argument checks. */
#ifndef VKCLR_NN_LAYERS_INTERNAL_H
#define VKCLR_NN_LAYERS_INTERNAL_H

#include "vkclr/layers.h"

/* The pipeline of `shader` specialised with spec[0..nspec-1] (0,1,2: workgroup size),
 * created on first use and kept in L. */
int vkc_layers_kernel(VkcLayers *L, VkcShader shader, const char *bindings, uint32_t push_size,
                      const uint32_t *spec, int nspec, const VkcKernel **out);

/* Dispatch `groups` workgroups of a kernel that numbers its invocations linearly
 * (shaders/layers_common.glsl: linear_invocation()), folding them into x and y so that no
 * dimension exceeds the device's limit. Every 'b' binding is treated as written. */
int vkc_layers_dispatch_1d(VkcLayers *L, VkcCmd *cmd, const VkcKernel *k, const VkcTensor *tensors,
                           const void *push, uint64_t groups);

/* Fail unless tensor t holds at least `elements` elements of its dtype. */
int vkc_layers_need(const char *op, const char *name, VkcTensor t, uint64_t elements);
/* The build of `base` for activations of `dtype` (vkc_shader_variant), or a message naming the
 * shader, or the device when it cannot run 16-bit activations. */
int vkc_layers_variant(VkcLayers *L, VkcShader base, VkcDtype dtype, VkcShader *out);
/* Fail unless a and b have one element type. */
int vkc_layers_same_dtype(const char *op, VkcTensor a, VkcTensor b);

#endif
