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
