/* pace.c - see pace.h. */
#include "pace.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "args.h"
#include "errors.h"

long pace_tick_ms(void)
{
    const char *text = getenv("TICK_MS");
    if (text == NULL || *text == '\0')
        return 1000;
    long ms;
    if (!parse_long(text, 0, 60000, &ms))
        fatal("TICK_MS must be a whole number of milliseconds from 0 to "
              "60000, not '%s'", text);
    return ms;
}

void pace_wait(double ticks)
{
    double ms = ticks * (double)pace_tick_ms();
    if (ms <= 0)
        return;
    struct timespec left = {
        .tv_sec = (time_t)(ms / 1000),
        .tv_nsec = (long)((ms - (double)(long)(ms / 1000) * 1000) * 1e6),
    };
    /* nanosleep stops early when a signal arrives; sleep the rest. */
    while (nanosleep(&left, &left) == -1)
        if (errno != EINTR)
            err_exit("nanosleep");
}
