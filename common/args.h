/* args.h - read numbers from the command line without surprises.
 *
 * atoi("12abc") is 12 and atoi("lots") is 0; a lesson should instead say
 * what was wrong and show its usage line.
 */
#ifndef ARGS_H
#define ARGS_H

#include <stdbool.h>

/* Parse all of `text` as a decimal integer in [min, max] into *out.
 * Returns false (and leaves *out alone) for anything else. Never exits. */
bool parse_long(const char *text, long min, long max, long *out);

/* Like parse_long, but a bad value ends the program through usage_exit(),
 * naming `what` and the allowed range. */
long arg_long(const char *text, long min, long max, const char *what,
              const char *usage);

#endif
