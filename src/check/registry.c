/* The check registry: prototypes and vkc_checks[] from the one list in checks.def, each line
 * expanded into one entry per dtype its DTYPES names. */
#include "vkclr/check.h"

/* Prototypes: a float32-only check takes no dtype, the others the dtype to run in. */
#define F32(function) int function(VkcContext *ctx, VkcCheckResult *r);
#define F32_16(function) int function(VkcContext *ctx, VkcDtype dtype, VkcCheckResult *r);
#define ONLY_16 F32_16
#define CHECK(group, what, function, needs_device, dtypes) dtypes(function)
#include "checks.def"
#undef CHECK
#undef F32
#undef F32_16
#undef ONLY_16

/* Entries: the name of each dtype's variant, and the dtype it runs in (g group, w what, fn
 * function, dev needs_device). */
#define ENTRY_F32(g, w, fn, dev) {.name = g "/" w, .run = fn, .needs_device = dev, .dtype = VKC_F32},
#define ENTRY_DTYPE(g, w, fn, dev, dt) {.name = g "/" w, .run_dtype = fn, .needs_device = dev, .dtype = dt},
#define ENTRIES_ONLY_16(g, w, fn, dev)                                                                                 \
    ENTRY_DTYPE(g "16", w "-fp16", fn, dev, VKC_F16) ENTRY_DTYPE(g "16", w "-bf16", fn, dev, VKC_BF16)
#define ENTRIES_F32(g, w, fn, dev) ENTRY_F32(g, w, fn, dev)
#define ENTRIES_F32_16(g, w, fn, dev) ENTRY_DTYPE(g, w, fn, dev, VKC_F32) ENTRIES_ONLY_16(g, w, fn, dev)

const VkcCheck vkc_checks[] = {
#define CHECK(g, w, fn, dev, dtypes) ENTRIES_##dtypes(g, w, fn, dev)
#include "checks.def"
#undef CHECK
    {0},
};

int vkc_check_run(const VkcCheck *c, VkcContext *ctx, VkcCheckResult *r)
{
    return c->run ? c->run(ctx, r) : c->run_dtype(ctx, c->dtype, r);
}
