/* The check registry: prototypes and vkc_checks[] from the one list in checks.def. */
#include "vkclr/check.h"

#define CHECK(group, what, function, needs_device) int function(VkcContext *ctx, VkcCheckResult *r);
#include "checks.def"
#undef CHECK

const VkcCheck vkc_checks[] = {
#define CHECK(group, what, function, needs_device) {group "/" what, function, needs_device},
#include "checks.def"
#undef CHECK
    {0, 0, 0},
};
