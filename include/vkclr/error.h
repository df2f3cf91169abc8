/* Error reporting: library functions return VKC_OK (0) or VKC_ERR (-1) and leave a
 * readable, thread-local message behind; nothing a user can cause aborts. */
#ifndef VKCLR_ERROR_H
#define VKCLR_ERROR_H

#define VKC_OK 0
#define VKC_ERR (-1)

/* Set the message (printf-style) and return VKC_ERR, so callers can `return vkc_fail(...)`. */
int vkc_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prefix the current message with context ("reading x.idx: " + old message); returns VKC_ERR. */
int vkc_fail_context(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The last message set on this thread ("" if none). */
const char *vkc_error(void);
void vkc_error_clear(void);

#endif
