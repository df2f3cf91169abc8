/* Small helpers for parsing command-line flags with errors that name the flag.
 * Each returns 0 on success, or prints "vkclr: FLAG: what is wrong" and returns -1. */
#ifndef VKCLR_CLI_ARGS_H
#define VKCLR_CLI_ARGS_H

#include <stdbool.h>

#include "vkclr/config.h"

/* Flag `argv[*i]` needs a value: store argv[*i + 1] in *value and advance *i. */
int arg_value(int argc, char **argv, int *i, const char **value);
int arg_int(const char *flag, const char *text, long min, long max, long *out);
int arg_float(const char *flag, const char *text, double min, double max, double *out);
/* Match "--flag" and take its value in one step: returns 1 if argv[*i] is `flag` (and the
 * value was parsed into *out), 0 if it is another flag, -1 on error. */
int arg_match_int(int argc, char **argv, int *i, const char *flag, long min, long max, long *out);
int arg_match_float(int argc, char **argv, int *i, const char *flag, double min, double max, double *out);
int arg_match_str(int argc, char **argv, int *i, const char *flag, const char **out);

/* argv[*i] as an option of the table (vkclr/config.h) that `accept` lets this command take
 * (NULL: any): 1 if it was one (value parsed into c, *i advanced past it, given->set marked),
 * 0 if it is not, -1 on an error (printed as "vkclr CMD: ..."), also for an option given twice. */
int arg_match_option(const char *cmd, int argc, char **argv, int *i, bool (*accept)(const VkcOption *o),
                     VkcTrainConfig *c, VkcGiven *given);

/* The options probe and export share with train: the encoder, its data, the seed, the device. */
bool arg_encoder_option(const VkcOption *o);
/* Index of a table flag in vkc_train_options (for VkcGiven). */
int arg_option_index(const char *flag);

#endif
