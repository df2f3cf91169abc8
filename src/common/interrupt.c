/* The stop flag (vkclr/interrupt.h). */
#include <signal.h>
#include <string.h>

#include "vkclr/error.h"
#include "vkclr/interrupt.h"

static volatile sig_atomic_t requested;

static void on_signal(int sig)
{
    (void)sig;
    requested = 1;
}

void vkc_interrupt_install_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void vkc_interrupt_request(void) { requested = 1; }
bool vkc_interrupt_pending(void) { return requested != 0; }
void vkc_interrupt_clear(void) { requested = 0; }

int vkc_interrupt_check(const char *what)
{
    if (!requested) return VKC_OK;
    return vkc_fail("%s: interrupted", what);
}
