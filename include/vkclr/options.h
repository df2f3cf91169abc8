/* Option rows: the one description of a command-line option that its parsing, range check,
 * help line and (for a saved table) config.json entry all follow.
 *
 * A row names a field of some struct by offset and size (VKC_OPTION_FIELD), its type, range or
 * names, default and help. A table is an array of rows over one struct: vkclr train's is
 * vkc_train_options[] over VkcTrainConfig (vkclr/config.h); each other command has its own over
 * a struct of its options (src/cli). Rows are written with designated initializers:
 *
 *     {.flag = "--width", .type = VKC_OPT_INT, VKC_OPTION_FIELD(VkcTrainConfig, model.width),
 *      .min = 1, .max = 1024, .def = "16", .section = "model", .metavar = "W", .help = "..."}
 *
 * The help of an enum row is its names (with what each means, from its VkcName table) followed
 * by the row's own help, so a new name shows in --help by itself. */
#ifndef VKCLR_OPTIONS_H
#define VKCLR_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "vkclr/names.h"

typedef enum {
    VKC_OPT_INT,    /* int (or uint32_t) field; a JSON number that must be an integer */
    VKC_OPT_U64,    /* uint64_t field */
    VKC_OPT_FLOAT,  /* float field */
    VKC_OPT_STRING, /* char[size] field */
    VKC_OPT_ENUM,   /* int-sized enum (or bool) field, named by `names`; a JSON string */
    VKC_OPT_SWITCH, /* bool (or int) field set by the flag alone; a JSON boolean */
} VkcOptType;

enum {
    VKC_OPT_SAVED = 1u << 0,     /* in config.json and the checkpoint, under `key` */
    VKC_OPT_RESUMABLE = 1u << 1, /* may be given with --resume (where it runs, how it reports, how long) */
    VKC_OPT_ENCODER = 1u << 2,   /* also an option of probe and export (the encoder and its data) */
    VKC_OPT_OPTIONAL = 1u << 3,  /* may be missing from config.json (added after the format): default then */
    VKC_OPT_NEGATABLE = 1u << 4, /* a switch with a --no- form */
    VKC_OPT_NONEMPTY = 1u << 5,  /* a string that may not be empty */
};

typedef struct {
    const char *flag;      /* "--width"; NULL: recorded but not a flag (the image size, from the data) */
    const char *key;       /* config.json key (VKC_OPT_SAVED) */
    VkcOptType type;
    size_t offset, size;   /* the field: VKC_OPTION_FIELD(struct, member) */
    double min, max;       /* numbers: the allowed range, both ends included */
    const VkcName *names;  /* VKC_OPT_ENUM */
    const char *def;       /* the default, as it would be typed; NULL: the struct's value as the command sets it up */
    const char *auto_name; /* a word that sets auto_value instead of a number ("auto", "none"), or NULL */
    double auto_value;
    unsigned flags;
    const char *section;   /* help heading */
    const char *metavar;   /* "N", "SPEC" */
    const char *help;      /* wrapped to the terminal's width by --help; enum rows: after the names */
    const char *missing;   /* the value of a key missing from an older config.json (NULL: def) */
} VkcOption;

#define VKC_OPTION_FIELD(type, member) .offset = offsetof(type, member), .size = sizeof(((type *)0)->member)

#define VKC_MAX_OPTIONS 64

/* Which rows of a table a command line gave (by index). */
typedef struct {
    bool set[VKC_MAX_OPTIONS];
} VkcGiven;

/* The row of `flag` ("--width", or "--no-sync-bn" for a negatable switch) in rows[0..n); NULL if none. */
const VkcOption *vkc_options_find(const VkcOption *rows, int n, const char *flag);
/* Set every row's field of `base` to the row's default (rows without one are left alone). */
int vkc_options_defaults(void *base, const VkcOption *rows, int n);
/* Help lines of the rows `accept` says yes to (NULL: all), grouped by section in the order the
 * sections first appear, with their defaults: the row's `def`, else the field's value in
 * `defaults` (NULL: none shown). */
void vkc_options_help(FILE *out, const VkcOption *rows, int n, bool (*accept)(const VkcOption *o), const void *defaults);
/* The names of an enum table as help text: "a (what a is), b, c" (aliases as "x = a"). */
void vkc_names_help(const VkcName *names, char *buf, size_t size);

/* Set the option from command-line text (range-checked); messages name the flag. For a switch
 * `text` is NULL (negated: "no"). */
int vkc_option_set(void *base, const VkcOption *o, const char *text);
/* The field's value as text ("auto" etc. for the automatic value). */
void vkc_option_format(const void *base, const VkcOption *o, char *buf, size_t size);
/* Is the field's value inside the option's range (or names)? Message names the flag (or key). */
int vkc_option_check(const void *base, const VkcOption *o);
/* dst's field of this option := src's. */
void vkc_option_copy(void *dst, const void *src, const VkcOption *o);
/* Do two structs agree on this option? */
bool vkc_option_equal(const void *a, const void *b, const VkcOption *o);

/* The field itself, for readers and writers of other formats (config.json). */
void *vkc_option_field(const void *base, const VkcOption *o);
/* Integer-like fields (INT, ENUM, SWITCH) as int. */
int vkc_option_int(const void *base, const VkcOption *o);
void vkc_option_set_int(void *base, const VkcOption *o, int v);
/* The field as a number (strings: 0). */
double vkc_option_number(const void *base, const VkcOption *o);
/* Store a number after the checks the flag makes (range, integer); `label` names it in messages. */
int vkc_option_set_number(void *base, const VkcOption *o, const char *label, double v);

#endif
