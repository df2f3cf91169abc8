/* libFuzzer: the checkpoint (safetensors) reader: header, metadata, configuration and step. */
#include "fuzz_util.h"
#include "vkclr/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *dir = fuzz_scratch();
    fuzz_write(dir, "c.safetensors", data, size);
    char path[300];
    snprintf(path, sizeof path, "%s/c.safetensors", dir);
    VkcTrainConfig cfg;
    int64_t step;
    if (vkc_checkpoint_read_config(path, &cfg, &step) != VKC_OK && !strstr(vkc_error(), path)) abort();
    return 0;
}
