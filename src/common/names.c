/* Name tables (vkclr/names.h). */
#include <stdio.h>
#include <string.h>

#include "vkclr/error.h"
#include "vkclr/names.h"

void vkc_names_list(const VkcName *names, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = 0;
    for (const VkcName *e = names; e->name && n < size; e++)
        n += (size_t)snprintf(buf + n, size - n, "%s%s", e == names ? "" : ", ", e->name);
}

int vkc_name_parse(const VkcName *names, const char *what, const char *text, int *value)
{
    int count = 0;
    for (const VkcName *e = names; e->name; e++, count++)
        if (text && !strcmp(text, e->name)) {
            *value = e->value;
            return VKC_OK;
        }
    if (count == 2) return vkc_fail("'%s' is neither %s nor %s", text ? text : "", names[0].name, names[1].name);
    char list[256];
    vkc_names_list(names, list, sizeof list);
    return vkc_fail("unknown %s '%s' (%s)", what, text ? text : "", list);
}

const char *vkc_name_of(const VkcName *names, int value)
{
    for (const VkcName *e = names; e->name; e++)
        if (e->value == value) return e->name;
    return "?";
}
