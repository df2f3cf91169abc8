/* vkclr devices: every Vulkan device and what the training would make of it. */
#include <stdio.h>

#include "commands.h"
#include "vkclr/vk.h"

static int run(int argc, char **argv, const VkcContextOptions *env)
{
    (void)env; /* no device */
    CliArgs a;
    int parsed = cli_parse(&cli_devices, argc, argv, NULL, NULL, &a);
    if (parsed) return parsed > 0 ? 0 : 2;
    return vkc_list_devices(stdout) ? cli_fail(&cli_devices, 1) : 0;
}

const CliSpec cli_devices = {
    .name = "devices",
    .about = "list Vulkan devices and their compute limits",
    .run = run,
    .synopsis = "usage: vkclr devices\n\nLists every Vulkan device with its type, driver, memory and compute limits.\n"
                "Training picks the first discrete GPU, else integrated, else CPU; --device N or VKCLR_DEVICE=N "
                "overrides.\n",
};
