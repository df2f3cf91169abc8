/* ONNX export of a trained encoder (vkclr export --onnx), for inference runtimes: OpenCV's dnn
 * module, ONNX Runtime, ncnn's converter.
 *
 * The model is the checkpoint's encoder (with_head: followed by its projection head) in
 * evaluation mode, float32, opset 11 (IR version 6):
 *   input   "input", float32 [batch, C, H, W] (batch a dynamic dimension), already normalised:
 *           (pixel / 255 - mean[c]) / std[c], RGB channel order (gray: one channel)
 *   output  "features" [batch, features] (the encoder's output, what probes and vkclr export
 *           use), or with_head "projections" [batch, out_dim] (the head's output, before the
 *           L2 normalisation of the loss)
 *   nodes   Conv with every batch norm folded into its weights and a bias (W' = W s, b' = beta -
 *           mean s, s = gamma / sqrt(var + eps), computed in double), Relu, MaxPool, Add,
 *           GlobalAveragePool + Flatten, Gemm (the head's linears, their batch norms folded)
 * The metadata (metadata_props) says how to prepare the input: vkclr.input (layout and size),
 * vkclr.mean, vkclr.std, vkclr.normalization, vkclr.transform (the evaluation transform of
 * vkclr/embed.h), and what the model is: vkclr.output, vkclr.encoder, vkclr.checkpoint,
 * vkclr.step, vkclr.config (the run's config.json).
 *
 * The protobuf wire format is written directly (a few field kinds suffice); the file is
 * written atomically (vkclr/fileio.h). */
#ifndef VKCLR_ONNX_H
#define VKCLR_ONNX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VKC_ONNX_OPSET 11
#define VKC_ONNX_IR_VERSION 6

typedef struct {
    int channels, height, width; /* the input's per-image shape */
    int outputs;                 /* floats per image of the output */
    int nodes;
    size_t bytes;                /* of the file */
    char about[160];             /* "resnet18 width 4, step 20 (run/checkpoint.safetensors)" */
} VkcOnnxInfo;

/* Write the ONNX model of checkpoint `checkpoint` (a .safetensors file or a run directory) to
 * `path`. Needs no device: the graph is built on the host and the tensors read from the file.
 * Fails naming the checkpoint (unreadable, corrupt, another architecture) or the output file.
 * info may be NULL. */
int vkc_onnx_export(const char *checkpoint, const char *path, bool with_head, VkcOnnxInfo *info);

#endif
