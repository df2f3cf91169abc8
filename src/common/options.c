/* Option rows (vkclr/options.h): parsing, checking, formatting and help of any table. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vkclr/error.h"
#include "vkclr/options.h"

/* ---------------------------------------------------------------- fields */

void *vkc_option_field(const void *base, const VkcOption *o) { return (char *)base + o->offset; }

/* Integer-like fields (INT, ENUM, SWITCH) are int or bool sized. */
void vkc_option_set_int(void *base, const VkcOption *o, int v)
{
    if (o->size == sizeof(bool)) *(bool *)vkc_option_field(base, o) = v != 0;
    else *(int *)vkc_option_field(base, o) = v;
}

int vkc_option_int(const void *base, const VkcOption *o)
{
    const void *f = vkc_option_field(base, o);
    return o->size == sizeof(bool) ? (int)*(const bool *)f : *(const int *)f;
}

double vkc_option_number(const void *base, const VkcOption *o)
{
    switch (o->type) {
    case VKC_OPT_U64: return (double)*(const uint64_t *)vkc_option_field(base, o);
    case VKC_OPT_FLOAT: return *(const float *)vkc_option_field(base, o);
    case VKC_OPT_STRING: return 0;
    default: return vkc_option_int(base, o);
    }
}

/* Store a number already checked against the range. */
static void store_number(void *base, const VkcOption *o, double v)
{
    switch (o->type) {
    case VKC_OPT_U64: *(uint64_t *)vkc_option_field(base, o) = (uint64_t)v; break;
    case VKC_OPT_FLOAT: *(float *)vkc_option_field(base, o) = (float)v; break;
    case VKC_OPT_STRING: break;
    default: vkc_option_set_int(base, o, (int)v);
    }
}

/* Is v a value this numeric option may hold? `label` names the flag or key in the message. */
static int check_number(const VkcOption *o, const char *label, double v)
{
    if (o->auto_name && v == o->auto_value) return VKC_OK;
    if (!isfinite(v)) return vkc_fail("%s: %g is not a finite number", label, v);
    if (o->type != VKC_OPT_FLOAT && v != floor(v)) return vkc_fail("%s: %.17g is not an integer", label, v);
    if (v < o->min || v > o->max) return vkc_fail("%s: %.17g is out of range [%.17g, %.17g]", label, v, o->min, o->max);
    return VKC_OK;
}

int vkc_option_set_number(void *base, const VkcOption *o, const char *label, double v)
{
    if (check_number(o, label, v)) return VKC_ERR;
    store_number(base, o, v);
    return VKC_OK;
}

static const char *label_of(const VkcOption *o) { return o->flag ? o->flag : o->key; }

/* ---------------------------------------------------------------- one row */

/* The enum's name parsed, the message naming the flag and what it names ("nce logz" for the
 * key nce_logz). */
static int set_enum(void *base, const VkcOption *o, const char *label, const char *text)
{
    char noun[32];
    snprintf(noun, sizeof noun, "%s", o->key ? o->key : label + strspn(label, "-"));
    for (char *p = noun; *p; p++)
        if (*p == '_' || *p == '-') *p = ' ';
    int v;
    if (vkc_name_parse(o->names, noun, text, &v)) return vkc_fail_context("%s", label);
    vkc_option_set_int(base, o, v);
    return VKC_OK;
}

int vkc_option_set(void *base, const VkcOption *o, const char *text)
{
    const char *label = label_of(o);
    if (o->type == VKC_OPT_SWITCH) {
        vkc_option_set_int(base, o, !(text && !strcmp(text, "no")));
        return VKC_OK;
    }
    if (!text) return vkc_fail("%s needs a value", label);
    if (o->auto_name && !strcmp(text, o->auto_name)) {
        if (o->type == VKC_OPT_STRING) ((char *)vkc_option_field(base, o))[0] = 0;
        else store_number(base, o, o->auto_value);
        return VKC_OK;
    }
    switch (o->type) {
    case VKC_OPT_STRING:
        if (strlen(text) >= o->size) return vkc_fail("%s: value too long (at most %zu characters)", label, o->size - 1);
        if (!text[0] && !o->auto_name && ((o->flags & VKC_OPT_NONEMPTY) || (o->def && o->def[0])))
            return vkc_fail("%s: empty value", label);
        memcpy(vkc_option_field(base, o), text, strlen(text) + 1);
        return VKC_OK;
    case VKC_OPT_ENUM: return set_enum(base, o, label, text);
    default: {
        char *end;
        errno = 0;
        double v = strtod(text, &end);
        if (errno == ERANGE || end == text || *end || !isfinite(v)) {
            if (o->type == VKC_OPT_FLOAT) return vkc_fail("%s: '%s' is not a number", label, text);
            return vkc_fail("%s: '%s' is not an integer", label, text);
        }
        return vkc_option_set_number(base, o, label, v);
    }
    }
}

void vkc_option_format(const void *base, const VkcOption *o, char *buf, size_t size)
{
    double v = vkc_option_number(base, o);
    if (o->type == VKC_OPT_STRING) {
        const char *s = vkc_option_field(base, o);
        snprintf(buf, size, "%s", !s[0] && o->auto_name ? o->auto_name : s);
    } else if (o->auto_name && v == o->auto_value) {
        snprintf(buf, size, "%s", o->auto_name);
    } else if (o->type == VKC_OPT_ENUM) {
        snprintf(buf, size, "%s", vkc_name_of(o->names, vkc_option_int(base, o)));
    } else if (o->type == VKC_OPT_SWITCH) {
        snprintf(buf, size, "%s", v ? "on" : "off");
    } else {
        snprintf(buf, size, "%.9g", v);
    }
}

int vkc_option_check(const void *base, const VkcOption *o)
{
    const char *label = label_of(o);
    switch (o->type) {
    case VKC_OPT_STRING:
        if (!memchr(vkc_option_field(base, o), 0, o->size)) return vkc_fail("%s: value too long", label);
        return VKC_OK;
    case VKC_OPT_ENUM:
        if (!strcmp(vkc_name_of(o->names, vkc_option_int(base, o)), "?"))
            return vkc_fail("%s: no such value (%d)", label, vkc_option_int(base, o));
        return VKC_OK;
    case VKC_OPT_SWITCH: {
        int v = vkc_option_int(base, o);
        if (v != 0 && v != 1 && !(o->auto_name && v == o->auto_value)) return vkc_fail("%s: %d is not on or off", label, v);
        return VKC_OK;
    }
    default: return check_number(o, label, vkc_option_number(base, o));
    }
}

void vkc_option_copy(void *dst, const void *src, const VkcOption *o)
{
    memcpy(vkc_option_field(dst, o), vkc_option_field(src, o), o->size);
}

bool vkc_option_equal(const void *a, const void *b, const VkcOption *o)
{
    if (o->type == VKC_OPT_STRING) return !strcmp(vkc_option_field(a, o), vkc_option_field(b, o));
    return vkc_option_number(a, o) == vkc_option_number(b, o);
}

/* ---------------------------------------------------------------- a table */

const VkcOption *vkc_options_find(const VkcOption *rows, int n, const char *flag)
{
    for (int i = 0; i < n; i++) {
        const VkcOption *o = &rows[i];
        if (!o->flag) continue;
        if (!strcmp(flag, o->flag)) return o;
        if ((o->flags & VKC_OPT_NEGATABLE) && !strncmp(flag, "--no-", 5) && !strcmp(flag + 5, o->flag + 2)) return o;
    }
    return NULL;
}

int vkc_options_defaults(void *base, const VkcOption *rows, int n)
{
    for (int i = 0; i < n; i++) {
        const VkcOption *o = &rows[i];
        if (!o->def) continue;
        if (o->type == VKC_OPT_SWITCH)
            vkc_option_set_int(base, o, o->auto_name && !strcmp(o->def, o->auto_name) ? (int)o->auto_value
                                                                                      : !strcmp(o->def, "on"));
        else if (vkc_option_set(base, o, o->def))
            return vkc_fail("the default of %s is not valid", label_of(o)); /* a table bug */
    }
    return VKC_OK;
}

void vkc_names_help(const VkcName *names, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = 0;
    for (const VkcName *e = names; e->name && n < size; e++) {
        const char *canonical = vkc_name_of(names, e->value);
        n += (size_t)snprintf(buf + n, size - n, "%s%s", e == names ? "" : ", ", e->name);
        if (n < size && strcmp(canonical, e->name)) n += (size_t)snprintf(buf + n, size - n, " = %s", canonical);
        else if (n < size && e->about) n += (size_t)snprintf(buf + n, size - n, " (%s)", e->about);
    }
}

#define HELP_INDENT 23 /* "  " + 20 columns of flag + " " */
#define HELP_WIDTH 118

/* Text from column HELP_INDENT on, a word that would pass HELP_WIDTH starting a new line. */
static void print_wrapped(FILE *out, const char *text)
{
    int col = HELP_INDENT;
    for (const char *p = text; *p;) {
        size_t spaces = strspn(p, " "), word = strcspn(p + spaces, " ");
        if (col > HELP_INDENT && col + (int)(spaces + word) > HELP_WIDTH) {
            fprintf(out, "\n%*s", HELP_INDENT, "");
            col = HELP_INDENT;
        } else {
            fprintf(out, "%.*s", (int)spaces, p);
            col += (int)spaces;
        }
        fprintf(out, "%.*s", (int)word, p + spaces);
        col += (int)word;
        p += spaces + word;
    }
}

static void help_line(FILE *out, const VkcOption *o, const void *defaults)
{
    char left[64], text[1024], def[256];
    if (o->flags & VKC_OPT_NEGATABLE) snprintf(left, sizeof left, "%s, --no-%s", o->flag, o->flag + 2);
    else snprintf(left, sizeof left, "%s%s%s", o->flag, o->metavar ? " " : "", o->metavar ? o->metavar : "");
    fprintf(out, "  %-20s ", left);
    text[0] = 0;
    if (o->type == VKC_OPT_ENUM) vkc_names_help(o->names, text, sizeof text);
    size_t n = strlen(text);
    if (o->help) snprintf(text + n, sizeof text - n, "%s%s", n ? "; " : "", o->help);
    def[0] = 0;
    if (o->def) snprintf(def, sizeof def, "%s", o->def[0] ? o->def : "none");
    else if (defaults && o->type == VKC_OPT_FLOAT && !(o->auto_name && vkc_option_number(defaults, o) == o->auto_value))
        snprintf(def, sizeof def, "%g", vkc_option_number(defaults, o)); /* 1e-4, not 9.99999975e-05 */
    else if (defaults) vkc_option_format(defaults, o, def, sizeof def);
    if (def[0] && (o->type != VKC_OPT_SWITCH || o->auto_name || (o->flags & VKC_OPT_NEGATABLE))) {
        n = strlen(text);
        snprintf(text + n, sizeof text - n, " (default %s)", def[0] ? def : "none");
    }
    print_wrapped(out, text);
    fputc('\n', out);
}

void vkc_options_help(FILE *out, const VkcOption *rows, int n, bool (*accept)(const VkcOption *o), const void *defaults)
{
    for (int s = 0; s < n; s++) {
        /* Each section once, where its first row stands. */
        const char *section = rows[s].section;
        bool seen = false;
        for (int i = 0; i < s && !seen; i++) seen = rows[i].section == section || (rows[i].section && section &&
                                                                                    !strcmp(rows[i].section, section));
        if (seen) continue;
        bool heading = false;
        for (int i = s; i < n; i++) {
            const VkcOption *o = &rows[i];
            bool same = o->section == section || (o->section && section && !strcmp(o->section, section));
            if (!same || !o->flag || (accept && !accept(o))) continue;
            if (!heading && section) fprintf(out, "%s\n", section);
            heading = true;
            help_line(out, o, defaults);
        }
    }
}
