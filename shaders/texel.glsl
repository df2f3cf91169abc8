// Read-only texel buffers (the 't' and 's' bindings of vk.h): declared as `uniform TEXELS X;`
// (UTEXELS for unsigned views) and read with texel(X, i). Every shader that reads them
// includes this file, and the build compiles it twice (shaders/meson.build):
//  - as it is: uniform texel buffers read with texelFetch (GPUs, and Mesa 22's lavapipe);
//  - with TEXELS_AS_IMAGES (NAME_img): storage texel buffers read with imageLoad, without naming
//    a format (one declaration serves the float32 and 16-bit views). Mesa >= 24's lavapipe turns
//    each texelFetch into two indirect calls, which spill every live register, and made the
//    register-tiled kernels 2-2.5x slower than on Mesa 22; imageLoad stays inline there.
//    Chosen for CPU devices that can read storage texel buffers without a format (vk.h).
#ifndef TEXEL_GLSL
#define TEXEL_GLSL
#ifdef TEXELS_AS_IMAGES
#extension GL_EXT_shader_image_load_formatted : require
#define TEXELS readonly imageBuffer
#define UTEXELS readonly uimageBuffer
#define texel(b, i) imageLoad(b, int(i))
#else
#extension GL_EXT_samplerless_texture_functions : require
#define TEXELS textureBuffer
#define UTEXELS utextureBuffer
#define texel(b, i) texelFetch(b, int(i))
#endif
#endif
