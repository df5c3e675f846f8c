/* process.h - Python's Process(target=...).start() and .join(), in C.
 *
 * Lesson 01 writes fork() and waitpid() out by hand; from lesson 03 on the
 * lessons use these two helpers so that main() reads like the Python.
 */
#ifndef PROCESS_H
#define PROCESS_H

#include <sys/types.h>

typedef void (*process_body)(void *arg);

/* fork() a child that names itself `name` (or "Process-N", numbered from 1
 * in start order like Python, when name is NULL), runs body(arg), and leaves
 * with _exit(0), flushing nothing (see leave() in errors.h).  Flushes
 * stdout before the fork, so the child holds no copy of unwritten output.
 * Returns the child's pid to the parent.  Ends the process if fork() fails.
 *
 * The child is killed with SIGKILL when its parent dies, however it dies
 * (PR_SET_PDEATHSIG): a program killed part-way leaves no orphan behind.
 * That is stronger than a Python daemon process, which its parent ends
 * only at a normal exit (an atexit handler terminates it): a Python parent
 * killed with SIGKILL leaves its daemon children running.  (Strictly, the
 * death signal comes when the parent *thread* ends: start processes from
 * the main thread.) */
pid_t process_start(const char *name, process_body body, void *arg);

/* Wait for the child `pid` and return its exit status, or 128 + the signal
 * number if a signal killed it (the shell's convention).  Retries after
 * EINTR; ends the process if waitpid() itself fails. */
int process_join(pid_t pid);

#endif
