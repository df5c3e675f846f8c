/* separate_memory.c - two processes each add one to x; the parent still sees 0.
 *
 * usage: separate_memory               the seed's two processes
 *        separate_memory exit STATUS   ... and Process-2 exits with STATUS
 *        separate_memory kill SIGNAL   ... and Process-2 is killed by SIGNAL
 *
 * The C version of the multiprocessing half of seed 001: d = {'x': 0} and a
 * lock, two child processes that each do "with lock: d['x'] += 1" and print
 * d, then the parent joins them and prints d.  fork() gives each child a
 * copy of the parent's memory - of d and of the mutex beside it - so each
 * child adds one to its own copy, and the parent's d never changes.  The
 * parent decodes how each child ended, as Python's p.exitcode does.
 *
 * Expected output (the two children in either order):
 *     MainProcess: {'x': 0}
 *     Process-1: {'x': 1}
 *     Process-2: {'x': 1}
 *     MainProcess: {'x': 0}
 *
 * Next: lesson 02 does the same with threads, which do share memory.
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
    int status;
    while (waitpid(pid, &status, 0) == -1)
        if (errno != EINTR)
            err_exit("waitpid");
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return -WTERMSIG(status);
    fatal("waitpid: child %ld neither exited nor was killed", (long)pid);
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

    pid_t children[2];
    for (int n = 1; n <= 2; n++) {
        /* fork() copies the buffer too: empty it first, or each child
         * would print the line above a second time. */
        fflush(stdout);
        pid_t pid = fork();
        if (pid == -1)
            err_exit("fork");
        if (pid == 0) {             /* the child: a copy of everything above */
            speaker_set("Process-%d", n);
            worker(&d, n);
            _exit(0);               /* never return into main's loop; no flush */
        }
        children[n - 1] = pid;      /* the parent: remember whom to wait for */
    }

    /* Only now wait: both children are running by this point. */
    int failed = 0;
    for (int n = 1; n <= 2; n++) {
        int code = join(children[n - 1]);
        if (code != 0) {
            say("Process-%d exitcode %d", n, code);
            failed++;
        }
    }

    say("{'x': %d}", d.x);
    return failed > 0 ? 1 : 0;
}
