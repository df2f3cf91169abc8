#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "vkclr/vk.h"

int cmd_devices(int argc, char **argv)
{
    if (argc > 0 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
        printf("usage: vkclr devices\n\nLists every Vulkan device with its type, driver, memory and compute limits.\n"
               "Training picks the first discrete GPU, else integrated, else CPU; --device N or VKCLR_DEVICE=N overrides.\n");
        return 0;
    }
    if (argc > 0) {
        fprintf(stderr, "vkclr devices: unexpected argument '%s'\n", argv[0]);
        return 2;
    }
    if (vkc_list_devices(stdout)) {
        fprintf(stderr, "vkclr devices: %s\n", vkc_error());
        return 1;
    }
    return 0;
}
