/* separate_memory.c - two processes each add one to x; the parent still sees 0.
 *
 * usage: separate_memory
 *
 * The C version of the multiprocessing half of seed 001: d = {'x': 0} and a
 * lock, two child processes that each do "with lock: d['x'] += 1" and print
 * d, then the parent prints d.  fork() gives each child a copy of the
 * parent's memory - of d and of the lock - so each child adds one to its
 * own copy, and the parent's d never changes.
 *
 * Expected output (the two children in either order):
 *     Process-1: {'x': 1}
 *     Process-2: {'x': 1}
 *     MainProcess: {'x': 0}
 *
 * Next: lesson 02 does the same with threads, which do share memory.
 */
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checked.h"
#include "errors.h"
#include "say.h"

/* Python's d = {'x': 0} and lock = multiprocessing.Lock(), side by side. */
struct state {
    pthread_mutex_t lock;
    int x;
};

static struct state d = { PTHREAD_MUTEX_INITIALIZER, 0 };

/* with lock: i = d['x']; d['x'] = i + 1 -- then log d. */
void worker(struct state *s)
{
    Pthread_mutex_lock(&s->lock);
    int i = s->x;
    s->x = i + 1;
    Pthread_mutex_unlock(&s->lock);
    say("{'x': %d}", s->x);
}

int main(int argc, char *argv[])
{
    if (argc > 1)
        usage_exit("separate_memory", "unexpected argument '%s'", argv[1]);

    pid_t children[2];

    for (int n = 1; n <= 2; n++) {
        pid_t pid = fork();
        if (pid == -1)
            err_exit("fork");
        if (pid == 0) {             /* the child: a copy of everything above */
            speaker_set("Process-%d", n);
            worker(&d);
            leave(0);               /* _exit(): never return into main's loop */
        }
        children[n - 1] = pid;      /* the parent: remember whom to wait for */
    }

    /* join(): wait for each child, so none is left a zombie, and so that
     * this line is printed after theirs. */
    for (int n = 0; n < 2; n++)
        if (waitpid(children[n], NULL, 0) == -1)
            err_exit("waitpid");

    say("{'x': %d}", d.x);
    return 0;
}
