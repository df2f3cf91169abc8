#include "vkclr/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char message[1024];

int vkc_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return VKC_ERR;
}

int vkc_fail_context(const char *fmt, ...)
{
    char prefix[512], old[sizeof message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, message, sizeof old);
    /* Truncation is fine here: the message stays a readable prefix. */
    size_t n = strlen(prefix);
    if (n > sizeof message - 3) n = sizeof message - 3;
    memcpy(message, prefix, n);
    memcpy(message + n, ": ", 2);
    size_t room = sizeof message - n - 2;
    size_t m = strnlen(old, room - 1);
    memcpy(message + n + 2, old, m);
    message[n + 2 + m] = '\0';
    return VKC_ERR;
}

const char *vkc_error(void) { return message; }

void vkc_error_clear(void) { message[0] = '\0'; }
