/* args.c - see args.h. */
#include "args.h"

#include <errno.h>
#include <stdlib.h>

#include "errors.h"

bool parse_long(const char *text, long min, long max, long *out)
{
    if (text == NULL || *text == '\0')
        return false;
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || value < min || value > max)
        return false;
    *out = value;
    return true;
}

long arg_long(const char *text, long min, long max, const char *what,
              const char *usage)
{
    long value;
    if (!parse_long(text, min, max, &value))
        usage_exit(usage, "%s must be a whole number from %ld to %ld, not '%s'",
                   what, min, max, text);
    return value;
}
