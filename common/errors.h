/* errors.h - one way to report a failed call, for the whole tutorial.
 *
 * POSIX has two error conventions, and mixing them up is a classic bug:
 *
 *   - most system calls return -1 and leave the reason in errno:
 *         if (fd == -1) err_exit("open %s", path);
 *   - pthread calls return the error number itself and leave errno alone:
 *         int s = pthread_create(...);
 *         if (s != 0) err_exit_en(s, "pthread_create");
 *
 * Both print "program: what: reason" on stderr and end the process.  In the
 * process that started the program they call exit(); in a child made by
 * fork() they call _exit() and flush nothing, so the child never runs the
 * parent's atexit handlers, and its exit does not write out a copy of the
 * parent's unwritten stdout buffer (lesson 01 shows that copy).  That is
 * only the second half of the rule: anything that flushes stdout in the
 * child - say() does, before each line - writes the copy out.  The first
 * half is the parent's: flush stdout before every fork().
 *
 * Library code in common/ (the manager server above all) never calls these:
 * it returns an error to its caller.  Ending the process is for main().
 */
#ifndef ERRORS_H
#define ERRORS_H

/* Report "what: strerror(errno)" and end the process. */
_Noreturn void err_exit(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Report "what: strerror(en)" and end the process; for pthread calls. */
_Noreturn void err_exit_en(int en, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Report a failure that has no error number (bad data, a broken promise). */
_Noreturn void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Report a bad command line: the problem, then the usage line; exit 2. */
_Noreturn void usage_exit(const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Leave the process with status: exit() in the original process (which
 * flushes stdio); _exit() in a child made by fork(), with no flush, since
 * the child's stdio buffer may hold a copy of its parent's unwritten
 * output.  That does not make a child safe by itself: say() flushes stdout
 * before it writes, and in a child that flush writes the copy.  What keeps
 * the copy empty is the parent flushing stdout before every fork()
 * (process_start() does).  A child that prints with printf flushes before
 * it leaves: _exit() drops what is left. */
_Noreturn void leave(int status);

#endif
