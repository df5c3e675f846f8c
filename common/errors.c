/* errors.c - see errors.h. */
#include "errors.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The pid of the process that ran main().  A constructor runs before main,
 * so every later fork() child can tell it is a child by comparing getpid(). */
static pid_t original_pid;

__attribute__((constructor)) static void remember_original_pid(void)
{
    original_pid = getpid();
}

static bool in_child(void)
{
    return getpid() != original_pid;
}

_Noreturn void leave(int status)
{
    /* A child made by fork() holds a copy of whatever its parent had not
     * yet written from stdout's buffer at the fork.  Flushing it here (or
     * calling exit(), which flushes) would print the parent's lines a
     * second time.  So a child leaves with _exit() and flushes nothing.
     * (say() flushes stdout before its own write(2), so in a child it
     * would write that copy out too: the real rule is the parent's, to
     * flush before every fork - process_start() does.) */
    if (in_child())
        _exit(status);
    exit(status);
}

/* Print "program: <message>[: reason]" as one write, so that lines from
 * several processes never mix inside a line. */
static void report(int en, const char *fmt, va_list ap)
{
    char msg[512];
    int n = snprintf(msg, sizeof msg, "%s: ", program_invocation_short_name);
    if (n < 0 || (size_t)n >= sizeof msg)
        n = 0;
    int m = vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    if (m > 0)
        n += m;
    if ((size_t)n >= sizeof msg)
        n = sizeof msg - 1;
    if (en != 0)
        n += snprintf(msg + n, sizeof msg - (size_t)n, ": %s", strerror(en));
    if ((size_t)n >= sizeof msg - 1)
        n = sizeof msg - 2;
    msg[n++] = '\n';
    if (!in_child())
        fflush(stdout); /* keep the order of stdout and stderr; see leave() */
    ssize_t ignored = write(STDERR_FILENO, msg, (size_t)n);
    (void)ignored; /* nothing useful to do if stderr itself is gone */
}

_Noreturn void err_exit(const char *fmt, ...)
{
    int en = errno;
    va_list ap;
    va_start(ap, fmt);
    report(en, fmt, ap);
    va_end(ap);
    leave(EXIT_FAILURE);
}

_Noreturn void err_exit_en(int en, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(en, fmt, ap);
    va_end(ap);
    leave(EXIT_FAILURE);
}

_Noreturn void fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(0, fmt, ap);
    va_end(ap);
    leave(EXIT_FAILURE);
}

_Noreturn void usage_exit(const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(0, fmt, ap);
    va_end(ap);
    fprintf(stderr, "usage: %s\n", usage);
    leave(2);
}
