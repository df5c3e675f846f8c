/* separate_memory.c - two processes each add one to x; the parent still sees 0.
 *
 * usage: separate_memory               the seed's two processes
 *        separate_memory exit STATUS   ... and Process-2 exits with STATUS
 *        separate_memory kill SIGNAL   ... and Process-2 is killed by SIGNAL
 *
 * The C version of the multiprocessing half of seed 001.  Your job: start
 * the two worker processes, wait for them, and tell how each one ended
 * (TODO 1 to 3 below).  The lesson is in README.md beside this file;
 * `make check` tells you how you are doing, `make hint` helps.
 *
 * Expected output (the two children in either order):
 *     MainProcess: {'x': 0}
 *     Process-1: {'x': 1}
 *     Process-2: {'x': 1}
 *     MainProcess: {'x': 0}
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "checked.h"
#include "errors.h"
#include "pace.h"
#include "say.h"

#define USAGE "separate_memory [exit STATUS | kill SIGNAL]"

/* Python's d = {'x': 0} and a lock, side by side in one private struct. */
struct state {
    pthread_mutex_t lock;
    int x;
};

static struct state d = { PTHREAD_MUTEX_INITIALIZER, 0 };

/* How Process-2 ends, for trying out the exit status (main sets it). */
static enum { END_NORMALLY, END_WITH_STATUS, END_BY_SIGNAL } fate;
static int fate_number;

/* with lock: i = d['x']; d['x'] = i + 1 -- then log d.  Process `n` then
 * stays one tick (TICK_MS) so that you can look at it, and Process-2 ends
 * the way the command line asked. */
void worker(struct state *s, int n)
{
    Pthread_mutex_lock(&s->lock);
    int i = s->x;
    s->x = i + 1;
    Pthread_mutex_unlock(&s->lock);
    say("{'x': %d}", s->x);
    pace_wait(1);
    if (n == 2 && fate == END_WITH_STATUS)
        _exit(fate_number);
    if (n == 2 && fate == END_BY_SIGNAL)
        raise(fate_number);
}

/* Python's p.join(), then p.exitcode: wait for the child `pid` and return
 * the status it exited with (0 to 255), or -N if signal N killed it.
 * Ends the program if waitpid() fails. */
int join(pid_t pid)
{
    /* TODO 3: wait for the child `pid` with waitpid(2) and turn its status
     * into Python's exitcode:
     *   - the child exited: the status it passed to _exit (0 to 255);
     *   - a signal killed it: minus the signal's number (-9 for SIGKILL).
     * The status word is not the exit code itself: waitpid(2) lists the
     * macros that take it apart.  waitpid() fails with -1 and errno; a
     * signal arriving while it waits makes it fail with EINTR, which is
     * no reason to give up.  Any other failure ends the program
     * (err_exit). */
    (void)pid;
    return 0;
}

static void read_fate(int argc, char *argv[])
{
    if (argc == 1)
        return;
    if (argc != 3)
        usage_exit(USAGE, "expected no arguments, or two");
    if (strcmp(argv[1], "exit") == 0) {
        fate = END_WITH_STATUS;
        fate_number = (int)arg_long(argv[2], 0, 255, "STATUS", USAGE);
    } else if (strcmp(argv[1], "kill") == 0) {
        fate = END_BY_SIGNAL;
        fate_number = (int)arg_long(argv[2], 1, 31, "SIGNAL", USAGE);
    } else {
        usage_exit(USAGE, "unexpected argument '%s'", argv[1]);
    }
}

int main(int argc, char *argv[])
{
    read_fate(argc, argv);

    /* printf, as most programs print: the line waits in stdout's buffer
     * (when stdout is a pipe or a file) until it is flushed. */
    printf("%s: {'x': %d}\n", speaker(), d.x);

    /* TODO 1: start Process-1 and Process-2 with fork(2), both before
     * waiting for either, so that they run at the same time.
     *   - fork() returns twice: 0 in the new child, the child's pid in the
     *     parent, -1 (and errno) if it failed - check it (err_exit).
     *   - The child copies stdout's buffer, and the line above may still be
     *     in it: make sure that buffer is empty at every fork, or each
     *     child prints the line again (see "The copied buffer" in README).
     *   - In the child: name it "Process-N" (speaker_set), run worker(&d, N),
     *     then end it with _exit(2), which flushes nothing - a child must
     *     never fall back into this loop.
     *   - In the parent: keep each child's pid for TODO 2. */

    /* TODO 2: join both children, in the order they were started: ask
     * join() for each one's exitcode.  For a child whose exitcode is not
     * 0, print the line   Process-N exitcode CODE   with say(), and count
     * it in `failed`: the program then exits with status 1. */
    int failed = 0;

    say("{'x': %d}", d.x);
    return failed > 0 ? 1 : 0;
}
