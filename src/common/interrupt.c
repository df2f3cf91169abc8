/* The stop flag (vkclr/interrupt.h). */
#include <signal.h>

#include "vkclr/error.h"
#include "vkclr/interrupt.h"

static volatile sig_atomic_t requested;

void vkc_interrupt_request(void) { requested = 1; }
bool vkc_interrupt_pending(void) { return requested != 0; }
void vkc_interrupt_clear(void) { requested = 0; }

int vkc_interrupt_check(const char *what)
{
    if (!requested) return VKC_OK;
    return vkc_fail("%s: interrupted", what);
}
