/* counter.c - K processes add one to a shared counter N times each, three ways.
 *
 * usage: counter [PROCESSES [INCREMENTS]]     (defaults: 2 processes, 1000000)
 *
 * Lesson 02 showed two threads losing updates to one counter.  Processes
 * that share a mapping lose them the same way, and are saved the same
 * ways: by a mutex - one that lives in the shared memory and is marked
 * PTHREAD_PROCESS_SHARED - or by making each increment a single atomic
 * step, with C11's <stdatomic.h>.  Each way prints the counter against
 * what it should be.  Your job: the two TODOs, one for each way that
 * keeps every update.  The lesson is in README.md beside this file.
 *
 * Expected output (the first count is a matter of luck, and differs from
 * run to run; on one CPU it may even come out right):
 *     MainProcess: 2 processes x 1000000 increments without a lock: counter 1183842, expected 2000000 (lost 816158)
 *     MainProcess: 2 processes x 1000000 increments with a process-shared mutex: counter 2000000, expected 2000000
 *     MainProcess: 2 processes x 1000000 increments with C11 atomics: counter 2000000, expected 2000000
 */
#include <pthread.h>
#include <stdatomic.h>

#include "args.h"
#include "checked.h"
#include "errors.h"
#include "process.h"
#include "say.h"
#include "shared.h"

#define USAGE "counter [PROCESSES [INCREMENTS]]"
#define MAX_PROCESSES 64

/* Three counters, one for each way, in one shared mapping. */
struct counters {
    /* volatile only makes the compiler load and store the counter on every
     * increment, as a real program's scattered updates would; it makes
     * nothing atomic and orders nothing. */
    volatile long unlocked;
    pthread_mutex_t lock;   /* process-shared: guards `locked` */
    long locked;
    /* Between processes an atomic must be lock-free, a single instruction
     * on the shared memory; one that is not (atomic_is_lock_free) is kept
     * atomic by a lock hidden in each process, which the others never see.
     * On x86-64 and arm64 a long is lock-free; main() checks. */
    atomic_long atomic;
};

/* Add one with nothing to stop the others: load, add, store. */
static void add_unlocked(struct counters *c)
{
    c->unlocked = c->unlocked + 1;
}

/* Add one with the lock held: the other processes wait their turn. */
static void add_with_mutex(struct counters *c)
{
    /* TODO 1: add one to c->locked with c->lock held (checked.h has the
     * wrappers).  The mutex is already process-shared: shared_mutex_init()
     * in main() does what lesson 03's TODO 2 did. */
    (void)c; /* keeps the compiler quiet while c is unused; then remove it */
}

/* Add one in a single indivisible step (a locked add on x86). */
static void add_atomic(struct counters *c)
{
    /* TODO 2: add one to c->atomic in a single indivisible step, with a
     * function from <stdatomic.h> (C11 7.17.7.5).  Careful:
     * c->atomic = c->atomic + 1 is an atomic load and then an atomic store
     * - two steps, with room for another process in between. */
    (void)c; /* keeps the compiler quiet while c is unused; then remove it */
}

/* The counter each way adds to, read once every process is joined. */
static long count_unlocked(struct counters *c) { return c->unlocked; }
static long count_locked(struct counters *c) { return c->locked; }
static long count_atomic(struct counters *c) { return atomic_load(&c->atomic); }

struct way {
    const char *name;
    void (*add_one)(struct counters *c);
    long (*count)(struct counters *c);
};

static const struct way ways[] = {
    { "without a lock", add_unlocked, count_unlocked },
    { "with a process-shared mutex", add_with_mutex, count_locked },
    { "with C11 atomics", add_atomic, count_atomic },
};

struct job {
    struct counters *c;
    const struct way *way;
    long increments;
};

static void worker(void *arg)
{
    const struct job *job = arg;
    for (long i = 0; i < job->increments; i++)
        job->way->add_one(job->c);
}

int main(int argc, char *argv[])
{
    if (argc > 3)
        usage_exit(USAGE, "too many arguments");
    long processes = argc > 1 ? arg_long(argv[1], 1, MAX_PROCESSES, "PROCESSES", USAGE) : 2;
    long increments = argc > 2 ? arg_long(argv[2], 1, 100000000, "INCREMENTS", USAGE)
                               : 1000000;

    struct counters *c = shared_map(sizeof *c);
    shared_mutex_init(&c->lock, SHARED_MUTEX_PLAIN);
    if (!atomic_is_lock_free(&c->atomic))
        fatal("atomic_long is not lock-free here, so processes cannot share one");

    pid_t children[MAX_PROCESSES];
    for (size_t w = 0; w < sizeof ways / sizeof ways[0]; w++) {
        struct job job = { c, &ways[w], increments };
        for (long p = 0; p < processes; p++)
            children[p] = process_start(NULL, worker, &job);
        int failed = 0;
        for (long p = 0; p < processes; p++)
            failed += process_join(children[p]) != 0;
        if (failed > 0)
            fatal("%d counting process(es) failed", failed);

        long count = ways[w].count(c);
        long expected = processes * increments;
        if (count == expected)
            say("%ld processes x %ld increments %s: counter %ld, expected %ld",
                processes, increments, ways[w].name, count, expected);
        else
            say("%ld processes x %ld increments %s: counter %ld, expected %ld (lost %ld)",
                processes, increments, ways[w].name, count, expected, expected - count);
    }
    shared_unmap(c, sizeof *c);
    return 0;
}
