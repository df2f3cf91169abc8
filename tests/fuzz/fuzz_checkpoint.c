/* libFuzzer: the checkpoint (safetensors) reader: every check a load makes on the bytes in memory
 * (structure, tensor table, checksum, metadata, configuration), and the file reader that
 * vkclr train --resume, probe and export use for the configuration. Seeds from a tiny run are
 * checksummed: tests/fuzz/make_seeds.py. */
#include "fuzz_util.h"
#include "vkclr/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *dir = fuzz_scratch();
    fuzz_write(dir, "c.safetensors", data, size);
    char path[300];
    snprintf(path, sizeof path, "%s/c.safetensors", dir);
    VkcTrainConfig cfg;
    VkcTrainState meta;
    int64_t step;
    int whole = vkc_checkpoint_check_bytes(data, size, path, &cfg, &meta);
    if (whole != VKC_OK && !strstr(vkc_error(), path)) abort(); /* every message names the file */
    int header = vkc_checkpoint_read_config(path, &cfg, &step);
    if (header != VKC_OK && !strstr(vkc_error(), path)) abort();
    /* What the whole passes, its header passes, with the same step. */
    if (whole == VKC_OK && (header != VKC_OK || step != meta.step)) abort();
    return 0;
}
