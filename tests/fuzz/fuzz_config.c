/* libFuzzer: config.json as vkclr reads it (vkc_config_from_json: every key through its row of
 * the option table). A configuration it accepts must survive being written and read back. */
#include "fuzz_util.h"
#include "vkclr/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    VkcTrainConfig c, back;
    if (vkc_config_from_json(text, "fuzz/config.json", &c) == VKC_OK) {
        char *json = vkc_config_to_json(&c, false);
        if (!json || vkc_config_from_json(json, "round trip", &back) != VKC_OK) abort();
        for (int i = 0; i < vkc_train_noptions; i++)
            if ((vkc_train_options[i].flags & VKC_OPT_SAVED) && !vkc_option_equal(&c, &back, &vkc_train_options[i]))
                abort();
        free(json);
    } else if (!strstr(vkc_error(), "fuzz/config.json")) {
        fprintf(stderr, "message without the file name: %s\n", vkc_error());
        abort(); /* every message names the file */
    }
    free(text);
    return 0;
}
