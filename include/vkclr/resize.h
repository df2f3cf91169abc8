/* Image resampling, shared by the dataset readers (images of other sizes), the augmentation
 * (random resized crops) and feature extraction (inputs resized to the model's size). */
#ifndef VKCLR_RESIZE_H
#define VKCLR_RESIZE_H

#include <stddef.h>
#include <stdint.h>

/* Resize a h x w region of a c-channel HWC image (rows `stride` bytes apart) to oh x ow with
 * a triangle (bilinear) filter whose support widens when shrinking, so downscaling averages
 * instead of aliasing (what PIL's BILINEAR resize does). Pixel centres at +0.5; equal sizes
 * copy exactly. scratch holds vkc_resize_scratch_floats(h, w, oh, ow, c) floats. */
size_t vkc_resize_scratch_floats(int h, int w, int oh, int ow, int c);
void vkc_resize_u8(const uint8_t *src, int h, int w, size_t stride, int c,
                   uint8_t *dst, int oh, int ow, float *scratch);

#endif
