#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int arg_value(int argc, char **argv, int *i, const char **value)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "vkclr: %s needs a value\n", argv[*i]);
        return -1;
    }
    *value = argv[++*i];
    return 0;
}

int arg_int(const char *flag, const char *text, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end) {
        fprintf(stderr, "vkclr: %s: '%s' is not an integer\n", flag, text);
        return -1;
    }
    if (v < min || v > max) {
        fprintf(stderr, "vkclr: %s: %ld is out of range [%ld, %ld]\n", flag, v, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int arg_float(const char *flag, const char *text, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v)) {
        fprintf(stderr, "vkclr: %s: '%s' is not a number\n", flag, text);
        return -1;
    }
    if (v < min || v > max) {
        fprintf(stderr, "vkclr: %s: %g is out of range [%g, %g]\n", flag, v, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int arg_match_str(int argc, char **argv, int *i, const char *flag, const char **out)
{
    if (strcmp(argv[*i], flag)) return 0;
    return arg_value(argc, argv, i, out) ? -1 : 1;
}

int arg_match_int(int argc, char **argv, int *i, const char *flag, long min, long max, long *out)
{
    const char *v;
    int m = arg_match_str(argc, argv, i, flag, &v);
    if (m <= 0) return m;
    return arg_int(flag, v, min, max, out) ? -1 : 1;
}

int arg_match_float(int argc, char **argv, int *i, const char *flag, double min, double max, double *out)
{
    const char *v;
    int m = arg_match_str(argc, argv, i, flag, &v);
    if (m <= 0) return m;
    return arg_float(flag, v, min, max, out) ? -1 : 1;
}

int arg_match_option(const char *cmd, int argc, char **argv, int *i, bool (*accept)(const VkcOption *o),
                     VkcTrainConfig *c, VkcGiven *given)
{
    const char *flag = argv[*i];
    const VkcOption *o = vkc_option_find(flag);
    if (!o || (accept && !accept(o))) return 0;
    int index = (int)(o - vkc_train_options);
    if (given->set[index]) {
        fprintf(stderr, "vkclr %s: %s given twice\n", cmd, o->flag);
        return -1;
    }
    given->set[index] = true;
    const char *value = NULL;
    if (o->type == VKC_OPT_SWITCH) value = strcmp(flag, o->flag) ? "no" : NULL;
    else if (arg_value(argc, argv, i, &value)) return -1;
    if (vkc_option_set(c, o, value)) {
        fprintf(stderr, "vkclr %s: %s\n", cmd, vkc_error());
        return -1;
    }
    return 1;
}

bool arg_encoder_option(const VkcOption *o) { return (o->flags & VKC_OPT_ENCODER) != 0; }

int arg_option_index(const char *flag) { return (int)(vkc_option_find(flag) - vkc_train_options); }
