/* say.c - see say.h. */
#include "say.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"

/* One name per thread, so that Thread-1 and Thread-2 can speak at once. */
static _Thread_local char speaker_name[32] = "MainProcess";

void speaker_set(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(speaker_name, sizeof speaker_name, fmt, ap);
    va_end(ap);
}

const char *speaker(void)
{
    return speaker_name;
}

/* Format prefix + message + newline into one buffer and write it at once.
 * stdout's stdio buffer is flushed first, in case a lesson used printf, so
 * that the lines come out in order.  In a child made by fork() this flush
 * writes whatever the child's copy of the buffer holds: the parent's
 * unwritten output, unless the parent flushed before the fork (lesson 01). */
static void emit(const char *prefix, const char *fmt, va_list ap)
{
    char line[4096];
    size_t n = strlen(prefix);
    if (n > sizeof line - 2)
        n = sizeof line - 2;
    memcpy(line, prefix, n);
    int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    if (m > 0)
        n += (size_t)m < sizeof line - n - 1 ? (size_t)m : sizeof line - n - 2;
    line[n++] = '\n';

    fflush(stdout);
    for (size_t done = 0; done < n;) {
        ssize_t w = write(STDOUT_FILENO, line + done, n - done);
        if (w == -1 && errno == EINTR)
            continue;
        if (w == -1)
            err_exit("write to stdout");
        done += (size_t)w;
    }
}

void say(const char *fmt, ...)
{
    char prefix[48];
    snprintf(prefix, sizeof prefix, "%s: ", speaker_name);
    va_list ap;
    va_start(ap, fmt);
    emit(prefix, fmt, ap);
    va_end(ap);
}

void say_stamped(const char *fmt, ...)
{
    char prefix[48];
    time_t now = time(NULL);
    struct tm tm;
    if (localtime_r(&now, &tm) == NULL ||
        strftime(prefix, sizeof prefix, "[%Y-%m-%d %H:%M:%S] : ", &tm) == 0)
        snprintf(prefix, sizeof prefix, "[0000-00-00 00:00:00] : ");
    va_list ap;
    va_start(ap, fmt);
    emit(prefix, fmt, ap);
    va_end(ap);
}

void put_line(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit("", fmt, ap);
    va_end(ap);
}
