/* Name tables: the one place that maps the names a user types (an optimizer, a loss, an
 * encoder) to enum values and back. Each module keeps its table next to its enum. */
#ifndef VKCLR_NAMES_H
#define VKCLR_NAMES_H

#include <stddef.h>

typedef struct {
    const char *name;  /* NULL ends a table; a value may have several names (aliases), the first is canonical */
    int value;
    const char *about; /* what the value means, for help text (vkc_names_help), or NULL */
} VkcName;

/* The value called `text`. Otherwise VKC_ERR with "unknown WHAT 'text' (a, b, c)", or for a
 * table of two names "'text' is neither a nor b". */
int vkc_name_parse(const VkcName *names, const char *what, const char *text, int *value);
/* The canonical name of `value` ("?" if none). */
const char *vkc_name_of(const VkcName *names, int value);
/* "a, b, c": every name, aliases included. */
void vkc_names_list(const VkcName *names, char *buf, size_t size);

#endif
