/* separate_memory.c - two processes each add one to x; the parent still sees 0.
 *
 * usage: separate_memory
 *
 * The C version of the multiprocessing half of seed 001.  Your job: start
 * the two worker processes and wait for them (the TODOs below).  The lesson
 * is in README.md beside this file; `make check` tells you how you are doing.
 *
 * Expected output (the two children in either order):
 *     Process-1: {'x': 1}
 *     Process-2: {'x': 1}
 *     MainProcess: {'x': 0}
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

    /* TODO 1: start two worker processes, numbered 1 and 2.
     *   - fork(2) returns twice: 0 in the new child, the child's pid in the
     *     parent, and -1 if it failed (check it: err_exit("fork")).
     *   - In the child: name it with speaker_set("Process-%d", n), run
     *     worker(&d), and leave with leave(0) - never fall back into main.
     *   - In the parent: keep each child's pid for TODO 2. */

    /* TODO 2: wait for both children with waitpid(2), so that none is left
     * behind as a zombie and the line below comes after theirs. */

    say("{'x': %d}", d.x);
    return 0;
}
