/* libFuzzer: the --aug parser (vkc_augment_set) and, for a setting it and vkc_augment_check
 * accept, views of a small image made with it. The first byte picks the preset and channels. */
#include "fuzz_util.h"
#include "vkclr/augment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const char *const presets[] = {"gray", "cifar", "simclr"};
    const char *preset = presets[data[0] % 3];
    int channels = data[0] & 4 ? 3 : 1;
    char *text = fuzz_text(data + 1, size - 1);
    VkcAugmentConfig cfg;
    if (vkc_augment_preset(preset, &cfg)) abort();
    if (vkc_augment_set(&cfg, text) == VKC_OK && vkc_augment_check(&cfg, channels) == VKC_OK &&
        cfg.out_height <= 64 && cfg.out_width <= 64) {
        enum { H = 12, W = 10 };
        uint8_t src[H * W * 3];
        for (size_t i = 0; i < sizeof src; i++) src[i] = (uint8_t)(i * 37 + data[0]);
        VkcAugmenter *aug;
        if (vkc_augmenter_create(&aug, &cfg, H, W, channels) == VKC_OK) {
            int vh, vw;
            vkc_augmenter_out_size(aug, &vh, &vw);
            uint8_t *out = malloc((size_t)vh * vw * channels);
            float *f = malloc((size_t)vh * vw * channels * sizeof(float));
            for (uint64_t v = 0; v < 4; v++) {
                VkcRng rng = vkc_rng(size, 0, v, 0);
                vkc_augment_view_u8(aug, src, &rng, out);
                rng = vkc_rng(size, 1, v, 1);
                vkc_augment_view(aug, src, &rng, f);
            }
            free(out);
            free(f);
            vkc_augmenter_destroy(aug);
        }
    }
    free(text);
    return 0;
}
