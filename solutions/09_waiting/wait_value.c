/* wait_value.c - lesson 03's writer and reader, but the reader sleeps until
 * the writer tells it that a value is there, instead of looking again and
 * again.
 *
 * usage: wait_value [condvar | semaphore | spurious | lost-writer |
 *                    lost-writer-nudged | compare]
 *
 *   condvar    (the default) beside the value in the shared mapping: a
 *              process-shared mutex and two process-shared condition
 *              variables, "news" (a value was put) and "turn" (it was
 *              taken).  Each side sleeps in pthread_cond_timedwait() until
 *              the other signals.
 *   semaphore  the same hand-over with two process-shared semaphores, "a
 *              value is ready" and "the value was taken", and no mutex.
 *   spurious   condvar, and before each value the writer wakes the sleeping
 *              reader with nothing new, as a spurious wakeup would.  The
 *              reader's predicate loop puts it back to sleep; it counts how
 *              often that happened.
 *   lost-writer  condvar, but the writer is killed (SIGKILL) once the
 *              reader has taken value 1: nobody will ever put value 2, and
 *              the reader must give up by itself at its deadline, asleep
 *              until then.  Says how often the reader was switched out.
 *   lost-writer-nudged  lost-writer, and after the writer is killed the
 *              parent wakes the reader with nothing new every quarter of
 *              its patience: one deadline for the whole wait still ends it
 *              on time.  (A loop that works out a new deadline after every
 *              wakeup never would; the parent stops it and says so.)
 *   compare    the same writer twice: first with lesson 03's reader, which
 *              looks every 100 microseconds, then with the sleeping one.
 *              Prints the CPU time each reader used (getrusage(2)).
 *
 * Seed 002's reader looks at the value, sleeps half a second, and looks
 * again.  Lesson 03 looked every 100 microseconds to be on time; this
 * lesson does not look at all until there is something to see.  The output
 * is lesson 03's, in the same fixed order: each side still waits for the
 * other, only the way of waiting changed.
 *
 * A waiter gives up after PATIENCE_MS milliseconds (1000 unless set in the
 * environment) and two ticks (TICK_MS): a partner that is alive answers
 * long before.
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
 *
 * Next: lesson 10, what each way of sharing costs.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include "args.h"
#include "checked.h"
#include "errors.h"
#include "pace.h"
#include "process.h"
#include "say.h"
#include "shared.h"

#define USAGE "wait_value [condvar | semaphore | spurious | lost-writer | lost-writer-nudged | compare]"
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
    bool losing_writer;     /* the lost-writer run: the writer dies part-way */

    /* Kept by count_reached() in the spurious run, so that the writer can
     * tell when the reader sleeps, and the reader can count its wakeups
     * with nothing new. */
    int reader_asleep;      /* 1 from its last look until it looks again */
    int reader_naps;        /* how many times it went to sleep on `news` */
    int put_at_nap;         /* `put` when it last went to sleep */
    int woke_for_nothing;   /* how many times it woke with `put` unchanged */

    /* How many times anyone woke a sleeper with nothing new for it (the
     * spurious run, the nudged lost-writer run): a wait that ends early
     * with none of these tells that its deadline had passed already. */
    int nudges;

    /* The semaphore way: each post is remembered until a wait takes it. */
    sem_t ready;            /* "a value is ready": posted once per value put */
    sem_t done;             /* "the value was taken": posted once per value */
};

enum way { CONDVAR, SEMAPHORE, POLLING, LOST_WRITER };

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
    /* Shared: the kernel must find a sleeper of another process. */
    s = pthread_condattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (s != 0)
        err_exit_en(s, "pthread_condattr_setpshared");
    /* Deadlines on the monotonic clock: a second of patience stays a
     * second even if someone sets the date meanwhile. */
    s = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (s != 0)
        err_exit_en(s, "pthread_condattr_setclock");
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

/* How long a waiter waits for its partner, in milliseconds: PATIENCE_MS
 * (1000 unless set) and two ticks.  A partner that is alive answers long
 * before; one that does not is not there.  The tests set PATIENCE_MS. */
static long patience_ms(void)
{
    const char *text = getenv("PATIENCE_MS");
    long ms = 1000;
    if (text != NULL && *text != '\0' && !parse_long(text, 1, 600000, &ms))
        fatal("PATIENCE_MS must be a whole number of milliseconds from 1 to "
              "600000, not '%s'", text);
    return ms + 2 * pace_tick_ms();
}

/* Milliseconds on CLOCK_MONOTONIC since `start`. */
static long ms_since(const struct timespec *start)
{
    struct timespec now;
    if (clock_gettime(CLOCK_MONOTONIC, &now) == -1)
        err_exit("clock_gettime");
    return (long)((now.tv_sec - start->tv_sec) * 1000 +
                  (now.tv_nsec - start->tv_nsec) / 1000000);
}

/* The time `ms` milliseconds from now on `clock`: the deadline of a wait
 * that may take up to `ms` (pthread_cond_timedwait() and sem_timedwait()
 * take a time, not a duration).  Ends the process if the clock cannot be
 * read. */
static struct timespec deadline_after(clockid_t clock, long ms)
{
    struct timespec deadline;
    if (clock_gettime(clock, &deadline) == -1)
        err_exit("clock_gettime");
    deadline.tv_sec += ms / 1000;
    deadline.tv_nsec += (ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) { /* carry: tv_nsec stays valid */
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    return deadline;
}

/* Is *counter at least `want`?  The predicate of wait_until()'s loop, read
 * with v->lock held: ask it before every sleep, and again after every
 * wakeup.  In the spurious run it also keeps the count that lets the
 * writer see the reader fall asleep (a false answer means: it sleeps next,
 * still holding the lock) and counts the wakeups that brought nothing. */
static bool count_reached(struct shared_value *v, pthread_cond_t *cond,
                          const int *counter, int want)
{
    bool reached = *counter >= want;
    if (v->nudging && cond == &v->news) {
        if (v->reader_asleep) { /* it looks again: after a wakeup */
            v->reader_asleep = 0;
            if (v->put == v->put_at_nap)
                v->woke_for_nothing++;
        }
        if (!reached) { /* it goes to sleep now */
            v->reader_asleep = 1;
            v->put_at_nap = v->put;
            v->reader_naps++;
            v->nudges++; /* for a writer waiting on `taken`, nothing new */
            Pthread_cond_signal(&v->turn); /* the writer may wait for this */
        }
    }
    return reached;
}

/* Wait until *counter, read with v->lock held, is at least `want`, but no
 * longer than patience_ms milliseconds: lesson 03's shared_wait_until(),
 * without the looking.  Sleeps on `cond`, which whoever makes *counter
 * grow signals.  Returns true once it is; false if time runs out first.
 * Ends the process if a call fails. */
static bool wait_until(struct shared_value *v, pthread_cond_t *cond,
                       const int *counter, int want, long patience_ms)
{
    /* The deadline is a time, not a duration: one deadline for all the
     * sleeps below, on the clock the condition variables read. */
    struct timespec deadline = deadline_after(CLOCK_MONOTONIC, patience_ms);

    /* A return from pthread_cond_timedwait() says "look again", nothing
     * more: the loop looks, every time (README.md, "Why while, not if"). */
    Pthread_mutex_lock(&v->lock);
    bool reached;
    while (!(reached = count_reached(v, cond, counter, want))) {
        int s = pthread_cond_timedwait(cond, &v->lock, &deadline);
        if (s == ETIMEDOUT) {
            reached = *counter >= want; /* it may have come at the last moment */
            break;
        }
        if (s != 0)
            err_exit_en(s, "pthread_cond_timedwait");
    }
    Pthread_mutex_unlock(&v->lock);
    return reached;
}

/* wait_until() with the patience of patience_ms().  Ends the process,
 * saying what the caller waited for, unless the count got there and a
 * signal woke the caller before the time was up. */
static void wait_for(struct shared_value *v, pthread_cond_t *cond,
                     const int *counter, int want, const char *what)
{
    long patience = patience_ms();
    Pthread_mutex_lock(&v->lock);
    int nudges = v->nudges;
    Pthread_mutex_unlock(&v->lock);
    struct timespec start;
    if (clock_gettime(CLOCK_MONOTONIC, &start) == -1)
        err_exit("clock_gettime");
    bool reached = wait_until(v, cond, counter, want, patience);
    long waited = ms_since(&start);
    bool late = waited >= patience;
    Pthread_mutex_lock(&v->lock);
    bool nudged = v->nudges != nudges;
    Pthread_mutex_unlock(&v->lock);
    if (reached && !late)
        return;
    if (reached)
        fatal("%s slept to its deadline waiting for %s, though the count "
              "had got there: nobody signalled", speaker(), what);
    if (late)
        fatal("%s gave up waiting for %s after %ld ms: is the memory shared, "
              "and does anyone signal?", speaker(), what, patience);
    if (!nudged)
        fatal("%s stopped waiting for %s after %ld ms of its %ld, the count "
              "still short, though nobody woke it with nothing new: the wait "
              "ended by itself, as if its deadline had passed already",
              speaker(), what, waited, patience);
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
    /* Under the lock, after the change: a reader that looked at `put`
     * before the change is asleep by now, and this wakes it. */
    Pthread_cond_signal(&v->news);
    Pthread_mutex_unlock(&v->lock);
    return n;
}

/* Say that value number n is taken: only now may the writer go on. */
static void take(struct shared_value *v, int n)
{
    Pthread_mutex_lock(&v->lock);
    v->taken = n;
    Pthread_cond_signal(&v->turn);
    Pthread_mutex_unlock(&v->lock);
}

/* The spurious run: wake the reader while it sleeps, with nothing new for
 * it (`put` is unchanged), then wait until it has looked and gone back to
 * sleep.  Waiting for both makes the count of empty wakeups exact. */
static void nudge(struct shared_value *v)
{
    wait_for(v, &v->turn, &v->reader_asleep, 1,
             "the reader to fall asleep (it asks count_reached() first)");
    Pthread_mutex_lock(&v->lock);
    int naps = v->reader_naps;
    v->nudges++;
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
        if (v->losing_writer && i == 1)
            raise(SIGKILL); /* as if the OOM killer chose it */
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
    struct timespec deadline = deadline_after(CLOCK_REALTIME, patience_ms());
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

/* Wait until the writer w ends, and return its status; but if either
 * child fails first, stop the other and end the program at once, saying
 * which.  (A child that failed may have died holding v->lock: nobody
 * could take it again, and waiting for the other would be waiting for
 * ever.) */
static int first_to_end(pid_t w, pid_t r)
{
    int status;
    pid_t ended;
    while ((ended = waitpid(-1, &status, 0)) == -1)
        if (errno != EINTR)
            err_exit("waitpid");
    int code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    if (ended == w && code == 0)
        return 0;
    pid_t other = ended == w ? r : w;
    if (kill(other, SIGKILL) == -1)
        err_exit("kill");
    process_join(other);
    fatal("the %s failed (exit status %d): see its message above",
          ended == w ? "writer" : "reader", code);
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
    int writer_status = first_to_end(w, r);

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

/* The writer is killed once the reader has taken value 1, so value 2 never
 * comes: the reader must notice by itself, at its deadline, and sleep
 * until then.  The kernel counts how often it gave up the CPU (a sleep,
 * a wait for the lock, ...): a handful of times, unless it polled. */
/* Stop child pid (it may have ended already) and wait for it. */
static void stop_child(pid_t pid)
{
    if (kill(pid, SIGKILL) == -1 && errno != ESRCH)
        err_exit("kill");
    process_join(pid);
}

/* Sleep ms milliseconds (clock_nanosleep(2)). */
static void sleep_ms(long ms)
{
    struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &t, &t) != 0)
        ; /* EINTR: sleep what is left */
}

/* The nudged lost-writer run, once the writer is dead: wake the reader
 * with nothing new (a broadcast on `news`, `put` unchanged) every quarter
 * of its patience, until it ends.  Its one deadline ends its wait all the
 * same, at its patience.  A reader that works out a new deadline after
 * every wakeup waits a whole patience again each time, and would never
 * give up while this goes on: after twice its patience it is stopped. */
static void nudge_until_it_gives_up(struct shared_value *v, pid_t r)
{
    long patience = patience_ms(), every = patience / 4 > 0 ? patience / 4 : 1;
    say("until the reader ends, it is woken with nothing new every quarter "
        "of its patience");
    struct timespec start;
    if (clock_gettime(CLOCK_MONOTONIC, &start) == -1)
        err_exit("clock_gettime");
    for (;;) {
        sleep_ms(every);
        int status;
        pid_t ended = waitpid(r, &status, WNOHANG);
        if (ended == -1)
            err_exit("waitpid");
        if (ended == r) {
            int code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
            if (code != 1)
                fatal("the reader should have given up (exit status 1), not "
                      "ended with status %d", code);
            say("the reader gave up by itself, on time");
            return;
        }
        long waited = ms_since(&start);
        if (waited >= 2 * patience) {
            stop_child(r);
            fatal("the reader still waited %ld ms after the writer died, with "
                  "a patience of %ld ms: woken with nothing new every %ld ms, "
                  "it began its patience again after each wakeup", waited,
                  patience, every);
        }
        Pthread_mutex_lock(&v->lock);
        v->nudges++;
        Pthread_cond_broadcast(&v->news);
        Pthread_mutex_unlock(&v->lock);
    }
}

static void lose_writer(struct shared_value *v, bool nudge_reader)
{
    v->losing_writer = true;
    say("the writer will be killed after value 1: the reader must give up by itself");
    pid_t w = process_start("Writer", writer, v);
    pid_t r = process_start("Reader", reader, v);
    int writer_status = process_join(w);
    if (writer_status != 128 + SIGKILL) {
        stop_child(r); /* before saying so: nothing is left behind */
        fatal("the writer should have been killed (exit status %d), not %d",
              128 + SIGKILL, writer_status);
    }
    say("the writer was killed (SIGKILL): nobody will put value 2, or -1");
    if (nudge_reader) {
        nudge_until_it_gives_up(v, r);
        return;
    }

    struct rusage before, after;
    if (getrusage(RUSAGE_CHILDREN, &before) == -1)
        err_exit("getrusage");
    int reader_status = process_join(r);
    if (getrusage(RUSAGE_CHILDREN, &after) == -1)
        err_exit("getrusage");
    if (reader_status != 1)
        fatal("the reader should have given up (exit status 1), not ended "
              "with status %d", reader_status);
    say("the reader gave up by itself");
    say("the reader gave up the CPU %ld times in all (voluntary context switches)",
        after.ru_nvcsw - before.ru_nvcsw);
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
    (void)patience_ms(); /* a bad PATIENCE_MS or TICK_MS stops us here */

    if (strcmp(mode, "condvar") == 0) {
        story(make_value(CONDVAR), CONDVAR);
    } else if (strcmp(mode, "semaphore") == 0) {
        story(make_value(SEMAPHORE), SEMAPHORE);
    } else if (strcmp(mode, "spurious") == 0) {
        struct shared_value *v = make_value(CONDVAR);
        v->nudging = true;
        say("before each value the writer wakes the reader with nothing new");
        story(v, CONDVAR);
    } else if (strcmp(mode, "lost-writer") == 0) {
        lose_writer(make_value(CONDVAR), false);
    } else if (strcmp(mode, "lost-writer-nudged") == 0) {
        lose_writer(make_value(CONDVAR), true);
    } else if (strcmp(mode, "compare") == 0) {
        compare(make_value(CONDVAR));
    } else {
        usage_exit(USAGE, "no way of waiting called '%s'", mode);
    }
    return 0; /* exit unmaps the Value */
}
