/* A stop the user asked for (SIGINT or SIGTERM, through vkc_interrupt_install_handlers, or a
 * caller's vkc_interrupt_request): the long loops of data loading, feature extraction, the
 * linear probe and kNN check it between pieces of work and fail with a message that says
 * "interrupted"; vkclr train then keeps its checkpoint and vkclr export its old files, and both
 * exit with status 130. Setting the flag is async-signal-safe. */
#ifndef VKCLR_INTERRUPT_H
#define VKCLR_INTERRUPT_H

#include <stdbool.h>

/* SIGINT and SIGTERM set the flag. Without SA_RESTART: a call blocked on a FIFO or a slow
 * device returns EINTR, so the command sees the request instead of waiting on. */
void vkc_interrupt_install_handlers(void);
void vkc_interrupt_request(void);
bool vkc_interrupt_pending(void);
void vkc_interrupt_clear(void);
/* If a stop is pending: VKC_ERR with the message "WHAT: interrupted"; else VKC_OK. */
int vkc_interrupt_check(const char *what);

#endif
