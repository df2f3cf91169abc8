/* Encoder feature extraction: the part of the probe that needs the model (include/vkclr/model.h,
 * issue 5). The model branch replaces these two constructors with ones that load the encoder
 * and fill a VkcExtractor whose extract() records the encoder's evaluation-mode forward pass
 * over batches of images and copies its output rows into the VkcFeatures shards (see
 * include/vkclr/features.h). Until then they refuse with a message that says so. */
#include "vkclr/features.h"

int vkc_extractor_checkpoint(VkcExtractor *x, VkcContext *ctx, const char *path, const VkcDataset *ds)
{
    (void)x, (void)ctx, (void)ds;
    return vkc_fail("--checkpoint %s: encoder features are not available until the encoder lands (issue 5, "
                    "include/vkclr/model.h); use --pixels", path);
}

int vkc_extractor_random_init(VkcExtractor *x, VkcContext *ctx, const char *arch, uint32_t width, uint64_t seed,
                              const VkcDataset *ds)
{
    (void)x, (void)ctx, (void)width, (void)seed, (void)ds;
    return vkc_fail("--random-init (%s): encoder features are not available until the encoder lands (issue 5, "
                    "include/vkclr/model.h); use --pixels", arch);
}
