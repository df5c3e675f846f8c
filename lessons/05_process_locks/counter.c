/* counter.c - K processes add one to a shared counter N times each, three ways.
 *
 * usage: counter [PROCESSES [INCREMENTS]]     (defaults: 2 processes, 100000)
 *
 * Lesson 02 showed two threads losing updates to one counter.  Processes
 * that share a mapping lose them the same way, and are saved the same
 * ways: by a mutex - one that lives in the shared memory and is marked
 * PTHREAD_PROCESS_SHARED - or by making each increment a single atomic
 * step, with C11's <stdatomic.h>.  Each way prints the counter against
 * what it should be.  Your job: TODO 1 to 3, the two ways that keep every
 * update.  The lesson is in README.md beside this file; `make check` tells
 * you how you are doing, `make hint` helps.
 *
 * The counting processes count in rounds that they start together (a
 * barrier in the shared memory), each on its own CPU when there are
 * several, so that a wrong answer gets every chance to lose updates.  The
 * unlocked way loses some on every run because it is made to: in the first
 * increment of each round, each process waits between its load and its
 * store until all the others have loaded too (a handshake in the shared
 * memory, as in lesson 02), so they all store the same value.  With a
 * single CPU a wrong atomic increment may lose nothing: the program says
 * so on stderr.
 *
 * Expected output (the first count differs from run to run):
 *     MainProcess: 2 processes x 100000 increments without a lock: counter 115184, expected 200000 (lost 84816)
 *     MainProcess: 2 processes x 100000 increments with a process-shared mutex: counter 200000, expected 200000
 *     MainProcess: 2 processes x 100000 increments with C11 atomics: counter 200000, expected 200000
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "args.h"
#include "errors.h"
#include "process.h"
#include "say.h"
#include "shared.h"

#define USAGE "counter [PROCESSES [INCREMENTS]]"
#define MAX_PROCESSES 64

/* Three counters, one for each way, in one shared mapping. */
struct counters {
    atomic_int arrived;     /* the barrier: processes there in this round */
    atomic_int round;       /* the barrier: rounds completed */
    long processes;         /* how many count at once */
    atomic_long loads;      /* the unlocked way's handshake: loads so far */
    atomic_bool nobody_waits; /* the handshake gave up: a process is missing */
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

static double seconds(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
        err_exit("clock_gettime");
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The unlocked way's worst moment, made to happen in the first increment
 * of every round: a process that has loaded the counter waits until all
 * the others have loaded it too.  c->loads counts these loads of all the
 * processes; loads 1 to K are the first group, K + 1 to 2K the next, and
 * so on (one per process and round).  Relaxed atomics: they force the
 * order in time and order nothing in the memory model.  The wait spins a
 * little (the others may be running on other CPUs), then naps, which frees
 * this CPU for them.  If a second passes with the group incomplete, a
 * process is missing, and nobody waits any more. */
static void wait_for_the_others_load(struct counters *c)
{
    if (c->processes < 2 || atomic_load_explicit(&c->nobody_waits, memory_order_relaxed))
        return;
    long mine = atomic_fetch_add_explicit(&c->loads, 1, memory_order_relaxed) + 1;
    long group_done = (mine + c->processes - 1) / c->processes * c->processes;
    double deadline = 0;
    for (long k = 0; atomic_load_explicit(&c->loads, memory_order_relaxed) < group_done; k++) {
        if (k < 1000)
            continue;
        if (deadline == 0)
            deadline = seconds() + 1.0;
        else if (seconds() > deadline) {
            atomic_store_explicit(&c->nobody_waits, true, memory_order_relaxed);
            return;
        }
        struct timespec nap = { 0, 20 * 1000 };
        nanosleep(&nap, NULL);
    }
}

/* Set by worker() at the start of each round, in each process's own copy:
 * the next unlocked increment is the round's sure collision. */
static bool collide_next;

/* Add one with nothing to stop the others: load, add, store - in the first
 * increment of a round with the others' loads forced in between, so that
 * all of them store the same value. */
static void add_unlocked(struct counters *c)
{
    long v = c->unlocked;
    if (collide_next) {
        collide_next = false;
        wait_for_the_others_load(c);
    }
    c->unlocked = v + 1;
}

/* Add one with the lock held: the other processes wait their turn. */
static void add_with_mutex(struct counters *c)
{
    /* TODO 2: add one to c->locked with c->lock held, so that no other
     * process touches c->locked in between.  Check each pthread call's
     * result the pthread way (lesson 02). */
    (void)c; /* keeps the compiler quiet while c is unused; then remove it */
}

/* Add one in a single indivisible step (a locked add on x86). */
static void add_atomic(struct counters *c)
{
    /* TODO 3: add one to c->atomic in a single indivisible step, with a
     * function of <stdatomic.h> (C11 7.17.7).  Reading the counter and then
     * writing it back is two steps, atomic or not: another process can
     * come in between. */
    (void)c; /* keeps the compiler quiet while c is unused; then remove it */
}

/* Make c->lock a mutex that every process mapping *c can use. */
static void init_shared_lock(struct counters *c)
{
    /* TODO 1: initialise c->lock so that all the processes that map *c
     * can lock it: a mutex attribute object that says
     * PTHREAD_PROCESS_SHARED (pthread_mutexattr_setpshared(3)), the mutex
     * initialised with it, the attribute object destroyed.  Check every
     * result.  (The memory is already shared: shared_map() in main.) */
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
    long processes;
    long number;        /* 0 .. processes - 1, set before each start */
};

/* The CPUs this process may run on, as a list; returns how many. */
static int allowed_cpus(int cpus[], int max)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == -1)
        err_exit("sched_getaffinity");
    int n = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && n < max; cpu++)
        if (CPU_ISSET(cpu, &set))
            cpus[n++] = cpu;
    return n;
}

/* Run this process on one CPU of its own, when there are enough, so that
 * the counting processes really run at the same time. */
static void take_a_cpu(long number)
{
    int cpus[MAX_PROCESSES];
    int n = allowed_cpus(cpus, MAX_PROCESSES);
    if (n < 2)
        return;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpus[number % n], &one);
    if (sched_setaffinity(0, sizeof one, &one) == -1)
        err_exit("sched_setaffinity");
}

/* Wait until all `processes` have finished round `r`, so that they start
 * the next round together.  With a CPU for each process the wait spins,
 * so that nobody sleeps through the start; with fewer it yields, to let
 * the others get there.  When nobody else arrives for a second, the
 * missing ones are not coming. */
static void meet(struct counters *c, long processes, int r, bool spin)
{
    if (atomic_fetch_add(&c->arrived, 1) == processes - 1) {
        atomic_store(&c->arrived, 0); /* the last to arrive opens the gate */
        atomic_store(&c->round, r + 1);
        return;
    }
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int seen = atomic_load(&c->arrived);
    for (long k = 0; atomic_load(&c->round) <= r; k++) {
        if (!spin)
            sched_yield();
        if (k % 4096 != 0)
            continue;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (atomic_load(&c->arrived) != seen) { /* somebody came: wait on */
            seen = atomic_load(&c->arrived);
            t0 = now;
        }
        double waited = (double)(now.tv_sec - t0.tv_sec) +
                        (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
        if (waited > 1.0)
            fatal("round %d: no other counting process arrived for a second "
                  "(is one of them stuck waiting for the lock?)", r);
    }
}

/* The barrier's and the handshake's atomics get their first values (C11
 * 7.17.2.2: an atomic object is initialised before its first use), and
 * the number of processes that will meet. */
static void init_meeting(struct counters *c, long processes)
{
    atomic_init(&c->arrived, 0);
    atomic_init(&c->round, 0);
    atomic_init(&c->loads, 0);
    atomic_init(&c->nobody_waits, false);
    c->processes = processes;
}

/* The increments, in ROUNDS rounds that all processes start together: any
 * process that was held up catches the others at the next round, so they
 * really count at the same time, many times over. */
#define ROUNDS 50

static void worker(void *arg)
{
    const struct job *job = arg;
    int cpus[MAX_PROCESSES];
    bool spin = allowed_cpus(cpus, MAX_PROCESSES) >= job->processes;
    take_a_cpu(job->number);
    long done = 0;
    for (int r = 0; r < ROUNDS; r++) {
        long upto = job->increments * (r + 1) / ROUNDS;
        meet(job->c, job->processes, r, spin);
        collide_next = done < upto; /* (a round may have no increment) */
        for (; done < upto; done++)
            job->way->add_one(job->c);
    }
}

int main(int argc, char *argv[])
{
    if (argc > 3)
        usage_exit(USAGE, "too many arguments");
    long processes = argc > 1 ? arg_long(argv[1], 1, MAX_PROCESSES, "PROCESSES", USAGE) : 2;
    long increments = argc > 2 ? arg_long(argv[2], 1, 100000000, "INCREMENTS", USAGE)
                               : 100000;

    struct counters *c = shared_map(sizeof *c);
    init_shared_lock(c);
    /* TODO 3, too: an atomic object must be initialised before its first
     * use (C11 7.17.2.2): give c->atomic its first value, 0, here. */
    if (!atomic_is_lock_free(&c->atomic))
        fatal("atomic_long is not lock-free here, so processes cannot share one");
    init_meeting(c, processes);
    int cpus[2];
    if (processes > 1 && allowed_cpus(cpus, 2) < 2)
        fprintf(stderr, "counter: note: only one CPU to run on, so the processes take turns "
                        "and a wrong atomic increment may lose nothing; to see it, give "
                        "them two CPUs (taskset -c 0,1 ...)\n");

    pid_t children[MAX_PROCESSES];
    for (size_t w = 0; w < sizeof ways / sizeof ways[0]; w++) {
        struct job job = { c, &ways[w], increments, processes, 0 };
        /* Initialised above; made 0 again for each way. */
        atomic_store(&c->arrived, 0);
        atomic_store(&c->round, 0);
        atomic_store(&c->loads, 0);
        atomic_store(&c->nobody_waits, false);
        for (long p = 0; p < processes; p++) {
            job.number = p; /* each child gets its own copy of job at fork */
            children[p] = process_start(NULL, worker, &job);
        }
        int failed = 0;
        for (long p = 0; p < processes; p++)
            failed += process_join(children[p]) != 0;
        if (failed > 0)
            fatal("%d counting process(es) failed", failed);

        /* long long: processes * increments reaches 6.4e9, more than a
         * 32-bit long holds. */
        long long count = ways[w].count(c);
        long long expected = (long long)processes * increments;
        if (count == expected)
            say("%ld processes x %ld increments %s: counter %lld, expected %lld",
                processes, increments, ways[w].name, count, expected);
        else
            say("%ld processes x %ld increments %s: counter %lld, expected %lld (lost %lld)",
                processes, increments, ways[w].name, count, expected, expected - count);
    }
    pthread_mutex_destroy(&c->lock);
    shared_unmap(c, sizeof *c);
    return 0;
}
