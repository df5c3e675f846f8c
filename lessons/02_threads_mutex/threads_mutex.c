/* threads_mutex.c - two threads share one x; a mutex keeps their updates.
 *
 * usage: threads_mutex                      the seed's two threads
 *        threads_mutex count N [unlocked]   two threads each add one N times
 *
 * The C version of the threading half of seed 001.  Threads live in one
 * process, so they see one x: after both have added one, x is 2.  Your job
 * (TODO 1 and 2 below): start and join the two threads, and make each
 * update one step with the mutex.  The lesson is in README.md beside this
 * file; `make check` tells you how you are doing, `make hint` helps.
 *
 * In the count form both threads start together (a barrier), and the
 * moment between a read and its write is made the worst one on purpose.
 * Without the lock, at every 10th update of each thread, the thread waits
 * there until the other one has read x too (a handshake on an atomic
 * counter), so both write back the same value: the unlocked count comes up
 * short on every run, on one CPU or many.  With the lock, the same happens
 * only if s->lock is found free at that moment - if the lock does not
 * cover both the read and the write.
 *
 * Expected output of the first form (the Thread lines in either order):
 *     Thread-1: {'x': 1}
 *     Thread-2: {'x': 2}
 *     MainThread: {'x': 2}
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "errors.h"
#include "say.h"

#define USAGE "threads_mutex [count N [unlocked]]"

/* d = {'x': 0} and lock = threading.Lock(): one copy, shared by all threads. */
struct state {
    pthread_mutex_t lock;
    /* volatile: every x = i + 1 is a real read and a real write, as in the
     * story, instead of the compiler adding N in one go.  It makes nothing
     * atomic and orders nothing: that is the mutex's job. */
    volatile int x;
};

static struct state d = { PTHREAD_MUTEX_INITIALIZER, 0 };
static bool use_lock = true;
static bool counting;              /* the count form: the worst moment in the middle */
static pthread_barrier_t start;    /* the count form: both threads go at once */

/* The count form without the lock, at every 10th update of each thread:
 * a thread that has read x waits until the other one has read it too,
 * before it writes.  `reads` counts these reads of both threads: reads 1
 * and 2 are a pair, 3 and 4 the next, and so on (both threads do the same
 * number).  The waits are relaxed atomics: they force the order in time
 * and add no happens-before, so the race on x stays a race, for
 * ThreadSanitizer too.  A partner that does not read within half a second is
 * not coming (a lock held across the switch, say): then nobody waits any
 * more. */
static atomic_long reads;
static atomic_bool nobody_waits;

static double seconds(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
        err_exit("clock_gettime");
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Spin a little (the other thread may be running on another CPU, just
 * about to read), then sleep in short naps, which free this CPU for it.
 * (Not sched_yield: under load, threads that yield on every update and
 * wait for each other were measured taking seconds for 1000 updates.) */
static void wait_for_the_other_read(void)
{
    if (atomic_load_explicit(&nobody_waits, memory_order_relaxed))
        return;
    long mine = atomic_fetch_add_explicit(&reads, 1, memory_order_relaxed) + 1;
    long pair_done = (mine + 1) / 2 * 2; /* the even count that ends my pair */
    double deadline = 0;
    for (long k = 0; atomic_load_explicit(&reads, memory_order_relaxed) < pair_done; k++) {
        if (k < 1000)
            continue;
        if (deadline == 0)
            deadline = seconds() + 0.5;
        else if (seconds() > deadline) {
            atomic_store_explicit(&nobody_waits, true, memory_order_relaxed);
            return;
        }
        struct timespec nap = { 0, 20 * 1000 };
        nanosleep(&nap, NULL);
    }
}

/* Between the read and the write of the count form: the worst moment for
 * an update.  Every 10th time, a sure collision (wait_for_the_other_read);
 * the updates in between collide or not, as the threads happen to run.
 * With the lock, the other thread cannot read now - it waits for the lock
 * - so there is nothing to wait for, as long as s->lock really is held
 * here.  A trylock tells: it fails (EBUSY) while the lock is held, and
 * succeeds if the lock does not cover this moment, or is another mutex;
 * then the collision is made as without the lock. */
#define COLLIDE_EVERY 10

static void worst_moment(struct state *s)
{
    static _Thread_local long visits;
    if (visits++ % COLLIDE_EVERY != 0)
        return;
    if (use_lock) {
        int e = pthread_mutex_trylock(&s->lock);
        if (e == EBUSY)
            return;
        if (e != 0)
            err_exit_en(e, "pthread_mutex_trylock");
        if ((e = pthread_mutex_unlock(&s->lock)) != 0)
            err_exit_en(e, "pthread_mutex_unlock");
    }
    wait_for_the_other_read();
}

/* i = d['x']; d['x'] = i + 1 -- as one step when use_lock is set.
 * Returns the value x had just after this thread's update. */
static int add_one(struct state *s)
{
    /* TODO 2: when use_lock is set, make the read and the write below one
     * step for the other thread: no other thread may touch x between them.
     * s->lock is already initialised.  Pthread calls return an error number
     * (0 for success) and leave errno alone: check each result, and report
     * a failure with err_exit_en (errors.h).  The "unlocked" mode must stay
     * unlocked: it shows what goes wrong. */
    int i = s->x;
    if (counting)
        worst_moment(s); /* "the other thread runs now" - see above */
    s->x = i + 1;
    return i + 1;
}

struct task {
    int number;         /* 1 or 2, for the name Thread-1 / Thread-2 */
    long increments;    /* 0: the seed's single update, and a line of output */
};

/* The body of each thread: Python's target=worker1 / worker2. */
void *worker(void *arg)
{
    struct task *t = arg;
    speaker_set("Thread-%d", t->number);
    if (t->increments == 0) {
        /* The value this thread made, read under the lock: the seed logs d
         * after its update, and this is what d held at that moment. */
        say("{'x': %d}", add_one(&d));
        return NULL;
    }
    int e = pthread_barrier_wait(&start);
    if (e != 0 && e != PTHREAD_BARRIER_SERIAL_THREAD)
        err_exit_en(e, "pthread_barrier_wait");
    for (long n = 0; n < t->increments; n++)
        add_one(&d);
    return NULL;
}

int main(int argc, char *argv[])
{
    long increments = 0;
    if (argc > 1) {
        if (strcmp(argv[1], "count") != 0 || argc < 3 || argc > 4)
            usage_exit(USAGE, "unexpected arguments");
        increments = arg_long(argv[2], 1, 100000000, "N", USAGE);
        if (argc == 4) {
            if (strcmp(argv[3], "unlocked") != 0)
                usage_exit(USAGE, "unexpected argument '%s'", argv[3]);
            use_lock = false;
        }
        counting = true;
    }
    int e = pthread_barrier_init(&start, NULL, 2);
    if (e != 0)
        err_exit_en(e, "pthread_barrier_init");

    speaker_set("MainThread");
    struct task tasks[2] = { { 1, increments }, { 2, increments } };

    /* TODO 1: t1.start(); t2.start(); t1.join(); t2.join().
     * Run worker() in two new threads, the first with &tasks[0], the second
     * with &tasks[1]; start both before joining either, then wait for both
     * to end.  Check every pthread call the way pthread calls report errors
     * (see TODO 2): a thread that could not be started must end the program
     * with the reason, not be joined. */
    (void)tasks; /* keeps the compiler quiet until you use tasks; then remove */

    if (increments == 0) {
        say("{'x': %d}", d.x);
        return 0;
    }
    long expected = 2 * increments;
    if (d.x == expected)
        say("2 threads x %ld increments %s: counter %d, expected %ld",
            increments, use_lock ? "with the lock" : "without a lock", d.x, expected);
    else
        say("2 threads x %ld increments %s: counter %d, expected %ld (lost %ld)",
            increments, use_lock ? "with the lock" : "without a lock", d.x, expected,
            expected - d.x);
    return 0;
}
