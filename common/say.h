/* say.h - print lines the way the Python originals do.
 *
 * Python's logging with format '%(processName)s: %(message)s' prints
 *     Process-1: {'x': 1}
 * and the seed posts print timestamps like
 *     [2019-12-11 19:16:21] : Value 0
 * These helpers print the same lines, so a learner can run the Python
 * original and the C lesson side by side.
 *
 * Every line leaves the process in a single write(2).  When several
 * processes or threads share one stdout (a pipe, a file), their lines may
 * come in any order, but a line is never cut in half by another one.
 * Before that write, stdout's stdio buffer is flushed (for lines printed
 * with printf): in a child made by fork(), that writes out the copy of the
 * parent's unwritten output, so a parent flushes stdout before it forks.
 */
#ifndef SAY_H
#define SAY_H

/* Name the current thread's speaker: "MainProcess", "Process-1",
 * "Thread-2", "Writer", ...  The name stays with the thread; a child made
 * by fork() inherits it until it sets its own. */
void speaker_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The current speaker's name ("MainProcess" until set). */
const char *speaker(void);

/* "<speaker>: <message>" - Python's logging.debug(message). */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "[YYYY-MM-DD hh:mm:ss] : <message>" - the timestamped lines of seed 000. */
void say_stamped(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "<message>" alone - Python's print(message). */
void put_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
