/* wait_value.c - lesson 03's writer and reader, but the reader sleeps until
 * the writer tells it that a value is there, instead of looking again and
 * again.
 *
 * usage: wait_value [condvar | semaphore | spurious | compare]
 *
 *   condvar    (the default) beside the value in the shared mapping: a
 *              process-shared mutex and two process-shared condition
 *              variables, "news" (a value was put) and "turn" (it was
 *              taken).  Each side sleeps in pthread_cond_timedwait() until
 *              the other signals.
 *   semaphore  the same hand-over with two process-shared semaphores, "a
 *              value is ready" and "the value was taken", and no mutex.
 *   spurious   condvar, and before each value the writer wakes the sleeping
 *              reader with nothing new, as a spurious wakeup would.  A
 *              reader that waits right sleeps again; it counts how often
 *              that happened.
 *   compare    the same writer twice: first with lesson 03's reader, which
 *              looks every 100 microseconds, then with the sleeping one.
 *              Prints the CPU time each reader used (getrusage(2)).
 *
 * Your job: TODO 1 in make_value(), TODO 2 in wait_until(), TODOs 3 and 4
 * in put() and take() - the condition variable way.  The semaphore way is
 * written out already.  The lesson is in README.md beside this file;
 * `make check` tells you how you are doing.
 *
 * Expected output (condvar; the other ways: README.md):
 *     MainProcess: the condition variables are process-shared, on CLOCK_MONOTONIC
 *     Writer: 0
 *     Reader: 0
 *     ...
 *     Writer: 4
 *     Reader: 4
 *     MainProcess: the writer is done; putting -1
 *     Reader: -1 means stop
 *     MainProcess: the reader is done; the value is -1
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "checked.h"
#include "errors.h"
#include "pace.h"
#include "process.h"
#include "say.h"
#include "shared.h"

#define USAGE "wait_value [condvar | semaphore | spurious | compare]"
#define VALUES 5 /* the writer puts 0 .. VALUES - 1, as in seed 002 */

/* Lesson 03's Value - the int, its lock and the two turn-taking counters -
 * and what each way of waiting needs beside it, all in one shared mapping.
 * The lock guards every int below it. */
struct shared_value {
    pthread_mutex_t lock;
    pthread_cond_t news;    /* signalled when `put` grows: the reader waits */
    pthread_cond_t turn;    /* signalled when `taken` grows: the writer waits */
    int value;
    int put;                /* how many values were put, the -1 included */
    int taken;              /* how many of them the reader has taken */

    /* Set by the parent before the children exist, then only read. */
    bool nudging;           /* the spurious run: wake the reader for nothing */

    /* Kept by nap() in the spurious run, so that the writer can tell when
     * the reader sleeps, and the reader can count its empty wakeups. */
    int reader_asleep;      /* 1 while the reader sleeps on `news` */
    int reader_naps;        /* how many times it went to sleep on `news` */
    int woke_for_nothing;   /* how many times it woke with `put` unchanged */

    /* The semaphore way: each post is remembered until a wait takes it. */
    sem_t ready;            /* "a value is ready": posted once per value put */
    sem_t done;             /* "the value was taken": posted once per value */
};

enum way { CONDVAR, SEMAPHORE, POLLING };

/* ------------------------------------------------------------- making it */

/* Say what kind of condition variable `attr` makes, and refuse one that
 * another process could not wait on, or whose deadlines would be read on
 * another clock than the one patience_deadline() uses. */
static void check_cond_kind(const pthread_condattr_t *attr)
{
    int pshared;
    int s = pthread_condattr_getpshared(attr, &pshared);
    if (s != 0)
        err_exit_en(s, "pthread_condattr_getpshared");
    clockid_t clock;
    s = pthread_condattr_getclock(attr, &clock);
    if (s != 0)
        err_exit_en(s, "pthread_condattr_getclock");
    if (pshared != PTHREAD_PROCESS_SHARED) {
        say("the condition variables are private to this process");
        fatal("a condition variable in shared memory must be "
              "PTHREAD_PROCESS_SHARED");
    }
    if (clock != CLOCK_MONOTONIC) {
        say("the condition variables time their waits on CLOCK_REALTIME");
        fatal("the deadlines are times on CLOCK_MONOTONIC: the condition "
              "variables must measure them on that clock");
    }
    say("the condition variables are process-shared, on CLOCK_MONOTONIC");
}

/* Make the Value and what `way` waits with, once, before any child exists:
 * every process forked after this shares the struct it returns. */
static struct shared_value *make_value(enum way way)
{
    struct shared_value *v = shared_map(sizeof *v); /* zeroed: value 0 */
    shared_mutex_init(&v->lock, SHARED_MUTEX_PLAIN);

    if (way == SEMAPHORE) {
        /* pshared 1: the semaphore lies in shared memory and serves
         * processes; both start at 0, "nothing yet". */
        if (sem_init(&v->ready, 1, 0) == -1)
            err_exit("sem_init");
        if (sem_init(&v->done, 1, 0) == -1)
            err_exit("sem_init");
        say("the semaphores are process-shared, both at 0");
        return v;
    }

    pthread_condattr_t attr;
    int s = pthread_condattr_init(&attr);
    if (s != 0)
        err_exit_en(s, "pthread_condattr_init");
    /* TODO 1: make the attribute say two things: that the condition
     * variables will be used by several processes, not only by the threads
     * of this one; and that their deadlines are times on CLOCK_MONOTONIC,
     * the clock patience_deadline() reads.  See
     * pthread_condattr_setpshared(3p) and pthread_condattr_setclock(3p).
     * Like every pthread call, each returns the error number:
     * if (s != 0) err_exit_en(s, "..."). */
    check_cond_kind(&attr);
    s = pthread_cond_init(&v->news, &attr);
    if (s != 0)
        err_exit_en(s, "pthread_cond_init");
    s = pthread_cond_init(&v->turn, &attr);
    if (s != 0)
        err_exit_en(s, "pthread_cond_init");
    pthread_condattr_destroy(&attr); /* each condition keeps its own copy */
    return v;
}

/* --------------------------------------------------------------- waiting */

/* SHARED_PATIENCE_S seconds and two ticks from now, on `clock`: as long as
 * lesson 03's shared_wait_until() waits.  A partner that is alive answers
 * long before; one that never answers is not there. */
static struct timespec patience_deadline(clockid_t clock)
{
    struct timespec t;
    if (clock_gettime(clock, &t) == -1)
        err_exit("clock_gettime");
    long long ns = t.tv_nsec + 2LL * pace_tick_ms() * 1000000;
    t.tv_sec += SHARED_PATIENCE_S + (time_t)(ns / 1000000000);
    t.tv_nsec = (long)(ns % 1000000000);
    return t;
}

/* Has `deadline`, a time on CLOCK_MONOTONIC, passed? */
static bool passed(const struct timespec *deadline)
{
    struct timespec now;
    if (clock_gettime(CLOCK_MONOTONIC, &now) == -1)
        err_exit("clock_gettime");
    return now.tv_sec > deadline->tv_sec ||
           (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

/* Sleep once on `cond`, with v->lock held.  pthread_cond_timedwait() lets
 * go of the lock as it falls asleep - in one step, so that no signal can
 * slip in between - and has it again when it returns.  Returns false if
 * the deadline passed first.  A return says "look again", nothing more:
 * whatever the caller waits for may or may not have happened (README.md).
 * The lines under `watched` only keep count for the spurious run. */
static bool nap(struct shared_value *v, pthread_cond_t *cond,
                const struct timespec *deadline)
{
    bool watched = v->nudging && cond == &v->news;
    int put_before = v->put;
    if (watched) {
        v->reader_asleep = 1;
        v->reader_naps++;
        Pthread_cond_signal(&v->turn); /* the writer may wait for this */
    }
    int s = pthread_cond_timedwait(cond, &v->lock, deadline);
    if (watched) {
        v->reader_asleep = 0;
        if (s == 0 && v->put == put_before)
            v->woke_for_nothing++;
    }
    if (s == ETIMEDOUT)
        return false;
    if (s != 0)
        err_exit_en(s, "pthread_cond_timedwait");
    return true;
}

/* Wait until *counter, read with v->lock held, is at least `want`: lesson
 * 03's shared_wait_until(), without the looking.  Sleeps on `cond`, which
 * whoever makes *counter grow signals.  Returns true once it is; false if
 * the deadline passes first. */
static bool wait_until(struct shared_value *v, pthread_cond_t *cond,
                       const int *counter, int want,
                       const struct timespec *deadline)
{
    Pthread_mutex_lock(&v->lock);
    /* TODO 2: sleep with nap(v, cond, deadline) until *counter is at least
     * `want`.  nap() wants the lock held, as it is here, and gives it back
     * held.  When nap() returns false the deadline has passed: stop, and
     * let the line below tell the caller how far the count got.  Read
     * README.md first: a return from nap() promises less than it seems. */
    (void)nap;
    (void)cond;
    (void)deadline;
    bool reached = *counter >= want;
    Pthread_mutex_unlock(&v->lock);
    return reached;
}

/* wait_until() with the patience of lesson 03.  Ends the process, saying
 * what the caller waited for, unless the count got there and a signal
 * woke the caller before the deadline. */
static void wait_for(struct shared_value *v, pthread_cond_t *cond,
                     const int *counter, int want, const char *what)
{
    struct timespec deadline = patience_deadline(CLOCK_MONOTONIC);
    bool reached = wait_until(v, cond, counter, want, &deadline);
    bool late = passed(&deadline);
    if (reached && !late)
        return;
    if (reached)
        fatal("%s slept to its deadline waiting for %s, though the count "
              "had got there: nobody signalled", speaker(), what);
    if (late)
        fatal("%s gave up waiting for %s: is the memory shared, and does "
              "anyone signal?", speaker(), what);
    fatal("%s stopped waiting for %s with time left, the count still short",
          speaker(), what);
}

/* ------------------------------------------------------- the condvar way */

/* Put `value` as the next number in turn, and wake the reader if it
 * sleeps; returns that number. */
static int put(struct shared_value *v, int value)
{
    Pthread_mutex_lock(&v->lock);
    v->value = value;
    int n = ++v->put;
    /* TODO 3: the reader may be asleep on v->news, waiting for `put` to
     * grow.  Wake it - here, after the change, with the lock still held
     * (README.md says why there). */
    Pthread_mutex_unlock(&v->lock);
    return n;
}

/* Say that value number n is taken: only now may the writer go on. */
static void take(struct shared_value *v, int n)
{
    Pthread_mutex_lock(&v->lock);
    v->taken = n;
    /* TODO 4: the writer may be asleep on v->turn, waiting for `taken` to
     * grow: wake it too. */
    Pthread_mutex_unlock(&v->lock);
}

/* The spurious run: wake the reader while it sleeps, with nothing new for
 * it (`put` is unchanged), then wait until it has looked and gone back to
 * sleep.  Waiting for both makes the count of empty wakeups exact. */
static void nudge(struct shared_value *v)
{
    wait_for(v, &v->turn, &v->reader_asleep, 1, "the reader to fall asleep");
    Pthread_mutex_lock(&v->lock);
    int naps = v->reader_naps;
    Pthread_cond_broadcast(&v->news);
    Pthread_mutex_unlock(&v->lock);
    wait_for(v, &v->turn, &v->reader_naps, naps + 1,
             "the reader to fall asleep again");
}

static void writer(void *arg)
{
    struct shared_value *v = arg;
    for (int i = 0; i < VALUES; i++) {
        if (v->nudging)
            nudge(v);
        say("%d", i); /* before putting it: the reader prints after us */
        int n = put(v, i);
        wait_for(v, &v->turn, &v->taken, n, "the reader to take a value");
        pace_wait(1);
    }
}

/* The reader's loop, whichever way it waits until value number n is put. */
static void read_values(struct shared_value *v,
                        void (*wait_for_value)(struct shared_value *v, int n))
{
    for (int n = 1;; n++) {
        wait_for_value(v, n);
        Pthread_mutex_lock(&v->lock);
        int value = v->value;
        Pthread_mutex_unlock(&v->lock);
        if (value == -1) {
            say("-1 means stop");
            return;
        }
        say("%d", value);
        take(v, n);
    }
}

static void sleep_for_value(struct shared_value *v, int n)
{
    wait_for(v, &v->news, &v->put, n, "a new value");
}

/* Lesson 03's way, for the comparison: look, sleep 100 microseconds, look. */
static void poll_for_value(struct shared_value *v, int n)
{
    if (!shared_wait_until(&v->lock, &v->put, n))
        fatal("Reader gave up waiting for a new value (it has taken %d)",
              n - 1);
}

static void reader(void *arg)
{
    struct shared_value *v = arg;
    read_values(v, sleep_for_value);
    if (v->nudging) {
        Pthread_mutex_lock(&v->lock);
        int empty = v->woke_for_nothing;
        Pthread_mutex_unlock(&v->lock);
        say("woke up %d time%s with nothing new", empty, empty == 1 ? "" : "s");
    }
}

static void polling_reader(void *arg)
{
    read_values(arg, poll_for_value);
}

/* ----------------------------------------------------- the semaphore way */

/* Take one count from `sem`, sleeping until there is one; ends the process
 * if none comes before the deadline.  sem_timedwait() knows only
 * CLOCK_REALTIME, so the deadline is on that clock. */
static void sem_wait_for(sem_t *sem, const char *what)
{
    struct timespec deadline = patience_deadline(CLOCK_REALTIME);
    while (sem_timedwait(sem, &deadline) == -1) {
        if (errno == ETIMEDOUT)
            fatal("%s gave up waiting for %s: is the memory shared, and "
                  "does anyone post?", speaker(), what);
        if (errno != EINTR)
            err_exit("sem_timedwait");
        /* EINTR: a signal handler ran; wait again, to the same deadline. */
    }
}

/* No lock around the value: sem_post() publishes everything written
 * before it to whoever sem_wait()s the count it adds. */
static void sem_put(struct shared_value *v, int value)
{
    v->value = value;
    if (sem_post(&v->ready) == -1)
        err_exit("sem_post");
}

static void sem_writer(void *arg)
{
    struct shared_value *v = arg;
    for (int i = 0; i < VALUES; i++) {
        say("%d", i);
        sem_put(v, i);
        sem_wait_for(&v->done, "the reader to take a value");
        pace_wait(1);
    }
}

static void sem_reader(void *arg)
{
    struct shared_value *v = arg;
    for (;;) {
        sem_wait_for(&v->ready, "a new value");
        int value = v->value;
        if (value == -1) {
            say("-1 means stop");
            return;
        }
        say("%d", value);
        if (sem_post(&v->done) == -1)
            err_exit("sem_post");
    }
}

/* ------------------------------------------------------------- the story */

/* The CPU time, user and system, of every child this process has waited
 * for, in milliseconds. */
static double children_cpu_ms(void)
{
    struct rusage u;
    if (getrusage(RUSAGE_CHILDREN, &u) == -1)
        err_exit("getrusage");
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000.0 +
           (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1000.0;
}

/* Seed 002's story, once: the writer puts 0..4, the reader prints each,
 * the parent puts -1 when the writer is done.  Returns the CPU time the
 * reader used, in milliseconds. */
static double story(struct shared_value *v, enum way way)
{
    process_body write = way == SEMAPHORE ? sem_writer : writer;
    process_body read = way == SEMAPHORE ? sem_reader
                        : way == POLLING ? polling_reader
                                         : reader;
    pid_t w = process_start("Writer", write, v);
    pid_t r = process_start("Reader", read, v);
    int writer_status = process_join(w);

    say("the writer is done; putting -1");
    if (way == SEMAPHORE)
        sem_put(v, -1);
    else
        put(v, -1);
    double before = children_cpu_ms(); /* the writer's, and earlier runs' */
    int reader_status = process_join(r);
    double reader_ms = children_cpu_ms() - before;
    if (writer_status != 0 || reader_status != 0)
        fatal("the writer or the reader failed (exit status %d and %d)",
              writer_status, reader_status);

    Pthread_mutex_lock(&v->lock);
    say("the reader is done; the value is %d", v->value);
    Pthread_mutex_unlock(&v->lock);
    return reader_ms;
}

/* Lesson 03's reader against this lesson's, over the same writer. */
static void compare(struct shared_value *v)
{
    say("1. lesson 03's reader: look, sleep 100 microseconds, look again");
    double polling = story(v, POLLING);

    Pthread_mutex_lock(&v->lock); /* a fresh Value for the second run */
    v->value = v->put = v->taken = 0;
    Pthread_mutex_unlock(&v->lock);

    say("2. this lesson's reader: sleep until the writer signals");
    double sleeping = story(v, CONDVAR);

    long tick = pace_tick_ms();
    put_line("Reader (polling): %.1f ms of CPU for %d values, one every %ld ms",
             polling, VALUES, tick);
    put_line("Reader (condvar): %.1f ms of CPU for %d values, one every %ld ms",
             sleeping, VALUES, tick);
}

int main(int argc, char *argv[])
{
    const char *mode = argc > 1 ? argv[1] : "condvar";
    if (argc > 2)
        usage_exit(USAGE, "unexpected argument '%s'", argv[2]);

    if (strcmp(mode, "condvar") == 0) {
        story(make_value(CONDVAR), CONDVAR);
    } else if (strcmp(mode, "semaphore") == 0) {
        story(make_value(SEMAPHORE), SEMAPHORE);
    } else if (strcmp(mode, "spurious") == 0) {
        struct shared_value *v = make_value(CONDVAR);
        v->nudging = true;
        say("before each value the writer wakes the reader with nothing new");
        story(v, CONDVAR);
    } else if (strcmp(mode, "compare") == 0) {
        compare(make_value(CONDVAR));
    } else {
        usage_exit(USAGE, "no way of waiting called '%s'", mode);
    }
    return 0; /* exit unmaps the Value */
}
