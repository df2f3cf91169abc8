/* Tiles of the cooperative-matrix kernels (shaders/coopmat_gemm.glsl: gemm_coop.comp and the
 * -DCOOP builds of conv2d_*_smem.comp), shared by gemm.c and conv2d.c. */
#ifndef VKCLR_NN_COOP_H
#define VKCLR_NN_COOP_H

#include "vkclr/gemm.h"

/* VkcCoopTile (vkclr/gemm.h): a block of bm = wm*tm*M rows by bn = wn*tn*N columns of the
 * device's M x N x K shape, in stages of bk (a multiple of K). */

/* What stages the operands, which constrains the tile (the shaders' staging arithmetic). */
typedef enum { VKC_COOP_GEMM, VKC_COOP_CONV_FORWARD, VKC_COOP_CONV_BACKWARD_INPUT, VKC_COOP_CONV_BACKWARD_WEIGHT } VkcCoopUse;

uint32_t vkc_coop_bm(const VkcContext *ctx, VkcDtype d, VkcCoopTile t);
uint32_t vkc_coop_bn(const VkcContext *ctx, VkcDtype d, VkcCoopTile t);
/* Invocations per workgroup: wm*wn whole subgroups of the device's size. */
uint32_t vkc_coop_wg(const VkcContext *ctx, VkcCoopTile t);
/* Can the kernel of `use` run this tile with operands d on this device (shared memory,
 * workgroup size, the staging loops' divisibility)? */
bool vkc_coop_fits(const VkcContext *ctx, VkcDtype d, VkcCoopTile t, VkcCoopUse use);
/* The tiles worth trying on this device class for `use`, those that fit, the built-in one first;
 * returns how many (0: none fits). */
int vkc_coop_tiles(const VkcContext *ctx, VkcDtype d, VkcCoopUse use, VkcCoopTile *out, int max);
/* Specialization constants 0 (workgroup size) and 6-13 (the tile, coopmat_gemm.glsl) into spec[]. */
void vkc_coop_spec(const VkcContext *ctx, VkcDtype d, VkcCoopTile t, uint32_t spec[14]);

#endif
