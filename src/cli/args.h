/* Small helpers for parsing command-line flags with errors that name the flag.
 * Each returns 0 on success, or prints "vkclr: FLAG: what is wrong" and returns -1. */
#ifndef VKCLR_CLI_ARGS_H
#define VKCLR_CLI_ARGS_H

#include <stdbool.h>

/* Flag `argv[*i]` needs a value: store argv[*i + 1] in *value and advance *i. */
int arg_value(int argc, char **argv, int *i, const char **value);
int arg_int(const char *flag, const char *text, long min, long max, long *out);
int arg_float(const char *flag, const char *text, double min, double max, double *out);
/* Match "--flag" and take its value in one step: returns 1 if argv[*i] is `flag` (and the
 * value was parsed into *out), 0 if it is another flag, -1 on error. */
int arg_match_int(int argc, char **argv, int *i, const char *flag, long min, long max, long *out);
int arg_match_float(int argc, char **argv, int *i, const char *flag, double min, double max, double *out);
int arg_match_str(int argc, char **argv, int *i, const char *flag, const char **out);

#endif
