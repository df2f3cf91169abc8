/* vkclr devices: every Vulkan device and what the training would make of it. */
#include <stdio.h>

#include "commands.h"
#include "vkclr/vk.h"

static const char devices_synopsis[] =
    "usage: vkclr devices\n\nLists every Vulkan device with its type, driver, memory and compute limits.\n"
    "Training picks the first discrete GPU, else integrated, else CPU; --device N or VKCLR_DEVICE=N "
    "overrides.\n";

static int run(const CliCall *call)
{
    (void)call;
    return vkc_list_devices(stdout) ? cli_fail(&cli_devices, 1) : 0;
}

const CliSpec cli_devices = {.name = "devices", .run = run, .synopsis = devices_synopsis,
                             .about = "list Vulkan devices and their compute limits"};
