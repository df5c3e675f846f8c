/* shared_array.c - an array in shared memory, and how to read it whole.
 *
 * usage: shared_array             the seed's writer and reader (squares)
 *        shared_array doubles     Array('d', range(10)), halved by a child
 *        shared_array held        a writer holds the lock across a whole
 *                                 write; the reader's a[i] must wait
 *        shared_array snapshot    list(a), a lock per access, against one
 *                                 lock held across the whole read, and a[:]
 *
 * The C version of seed 002's multiprocessing.Array(ctypes.c_int, 5) and
 * of multiprocessing.Array('d', range(10)) - the shared-memory kind, not
 * seed 000's manager.Array('d', range(10)), which is an array.array held
 * by the manager's server process (managers.py; lessons 06, 07).  An
 * Array is a C array in a MAP_SHARED mapping with one lock for the whole
 * array, recursive like Python's RLock: the thread that holds it may take
 * it again.  Python takes that lock around every single a[i]; a read of
 * several elements that must fit together (a snapshot) has to hold it
 * across all of them - with a.get_lock(): snap = list(a) - or take it
 * once for a copy: a[:].
 *
 * The writer and the reader take turns as in lesson 03, so every list is
 * printed once.  The held run stops a writer halfway through a write it
 * makes under the lock, and lets the reader read: its a[i] must wait.  The
 * snapshot run stops the reader halfway through its read, as if the
 * scheduler had taken the CPU away right there, and lets the writer try to
 * change the array.  Both are staged, so they end the same way every time.
 *
 * Expected output: see README.md.
 *
 * Next: lesson 05, many processes and one counter.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checked.h"
#include "errors.h"
#include "pace.h"
#include "process.h"
#include "say.h"
#include "shared.h"

#define USAGE "shared_array [doubles | held | snapshot]"
#define LENGTH 5

/* Array(ctypes.c_int, 5): five ints and the array's lock.  The writer and
 * the reader signal each other through two counters, which have a lock
 * of their own: a process must be able to signal while the other holds
 * the array's lock (the snapshot run does just that). */
struct int_array {
    pthread_mutex_t lock;      /* a.get_lock(): recursive, process-shared */
    int v[LENGTH];
    pthread_mutex_t turn_lock; /* guards the counters and the pids */
    int writer_steps;          /* how many steps the writer has made */
    int reader_steps;          /* how many steps the reader has made */
    pid_t writer_pid;          /* each says who it is, so that the other */
    pid_t reader_pid;          /* can see what it is doing (/proc) */
};

/* Array('d', range(10)): ten doubles and their lock. */
struct double_array {
    pthread_mutex_t lock;
    double v[10];
};

/* ---------------------------------------------------------------- lists */

/* A line of text built piece by piece, like Python's str() of a list. */
struct text {
    char s[256];
    size_t len;
};

static void add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->s + t->len, sizeof t->s - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len += (size_t)n < sizeof t->s - t->len ? (size_t)n : sizeof t->s - t->len - 1;
}

/* Python's str() of a list of the first n elements of `ints`, or else of
 * `doubles`: "[0, 1, 4]", "[0.0, 0.5]".  Python prints a float with the
 * fewest digits that read back as the same number; for the halves this
 * program prints, that is %.1f. */
static const char *list_str(struct text *t, const int *ints, const double *doubles, int n)
{
    t->len = 0;
    add(t, "[");
    for (int i = 0; i < n; i++) {
        if (ints != NULL)
            add(t, "%s%d", i > 0 ? ", " : "", ints[i]);
        else
            add(t, "%s%.1f", i > 0 ? ", " : "", doubles[i]);
    }
    add(t, "]");
    return t->s;
}

/* ---------------------------------------------------------------- the lock */

/* Initialise *lock as the lock of an Array: a mutex that works between
 * processes and that the thread holding it may lock again (Python's RLock).
 * Call it once, on shared memory, before any child exists.  Ends the
 * process if a call fails. */
static void init_array_lock(pthread_mutex_t *lock)
{
    pthread_mutexattr_t attr;
    int s = pthread_mutexattr_init(&attr);
    if (s != 0)
        err_exit_en(s, "pthread_mutexattr_init");
    s = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (s != 0)
        err_exit_en(s, "pthread_mutexattr_setpshared");
    s = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    if (s != 0)
        err_exit_en(s, "pthread_mutexattr_settype");
    s = pthread_mutex_init(lock, &attr);
    if (s != 0)
        err_exit_en(s, "pthread_mutex_init");
    s = pthread_mutexattr_destroy(&attr);
    if (s != 0)
        err_exit_en(s, "pthread_mutexattr_destroy");
}

/* Lock the array's lock in the writer or the parent, or say why not: a
 * lock held this long is one that its last taker never let go. */
static void lock_array(pthread_mutex_t *lock)
{
    if (!shared_lock_patiently(lock))
        fatal("%s waited %d s for the array's lock, and it was never let "
              "go: is every lock of it matched by an unlock (get(), "
              "read_whole(), read_slice())?", speaker(), SHARED_PATIENCE_S);
}

/* ---------------------------------------------------------------- turns */

static struct int_array *make_int_array(void)
{
    struct int_array *a = shared_map(sizeof *a); /* zeroed: [0, 0, 0, 0, 0] */
    init_array_lock(&a->lock);
    shared_mutex_init(&a->turn_lock, SHARED_MUTEX_PLAIN);
    return a;
}

/* Say who this process is: *who = its pid, for the other process. */
static void i_am(struct int_array *a, pid_t *who)
{
    Pthread_mutex_lock(&a->turn_lock);
    *who = getpid();
    Pthread_mutex_unlock(&a->turn_lock);
}

static int counter_of(struct int_array *a, const int *counter)
{
    Pthread_mutex_lock(&a->turn_lock);
    int n = *counter;
    Pthread_mutex_unlock(&a->turn_lock);
    return n;
}

/* Add one to a step counter: a signal to the other process. */
static void step(struct int_array *a, int *counter)
{
    Pthread_mutex_lock(&a->turn_lock);
    ++*counter;
    Pthread_mutex_unlock(&a->turn_lock);
}

/* Wait until the other process has made `n` steps, or give up loudly:
 * with `if_stuck` when the other process sleeps waiting for a lock (the
 * array's: the turn lock is never held for long). */
static void wait_for(struct int_array *a, int *counter, int n, const char *if_stuck)
{
    if (shared_wait_until(&a->turn_lock, counter, n))
        return;
    bool writer = counter == &a->writer_steps;
    Pthread_mutex_lock(&a->turn_lock);
    pid_t other = writer ? a->writer_pid : a->reader_pid;
    Pthread_mutex_unlock(&a->turn_lock);
    if (other > 0 && shared_sleeps_on_a_futex(other))
        fatal("%s gave up waiting for step %d of the %s, which sleeps "
              "waiting for a lock: %s", speaker(), n,
              writer ? "Writer" : "Reader", if_stuck);
    fatal("%s gave up waiting for step %d of the %s: has it ended? (see "
          "its message)", speaker(), n, writer ? "Writer" : "Reader");
}

/* What every run's parent does at the end: join both.  If the writer
 * failed, the reader may wait for ever: end it. */
static void join_both(pid_t w, pid_t r)
{
    int writer_status = process_join(w);
    if (writer_status != 0)
        kill(r, SIGKILL);
    int reader_status = process_join(r);
    if (writer_status != 0 || reader_status != 0)
        fatal("the writer or the reader failed (exit status %d and %d)",
              writer_status, reader_status);
}

/* ---------------------------------------------------------------- reading */

/* a[i]: element i, read under the array's lock, taken for this one read
 * (Python's SynchronizedArray.__getitem__). */
static int get(struct int_array *a, int i)
{
    Pthread_mutex_lock(&a->lock);
    int value = a->v[i];
    Pthread_mutex_unlock(&a->lock);
    return value;
}

/* The staged stop of the snapshot run: before element `stop_at` (LENGTH:
 * never), tell the writer to go, and wait until it has tried. */
static void maybe_stop(struct int_array *a, int i, int stop_at)
{
    if (i != stop_at)
        return;
    step(a, &a->reader_steps); /* "writer, go now" */
    wait_for(a, &a->writer_steps, 1,
             "is the array's lock ever unlocked after the reader's lock?");
}

/* list(a): one a[i] after the other, each under the lock on its own. */
static void read_each(struct int_array *a, int snap[LENGTH], int stop_at)
{
    for (int i = 0; i < LENGTH; i++) {
        maybe_stop(a, i, stop_at);
        snap[i] = get(a, i);
    }
}

/* with a.get_lock(): snap = list(a) -- one lock held across the whole
 * read, so that no write can come between two of its elements.  The lock
 * is recursive, so the a[i] inside may take it again. */
static void read_whole(struct int_array *a, int snap[LENGTH], int stop_at)
{
    Pthread_mutex_lock(&a->lock);
    read_each(a, snap, stop_at);
    Pthread_mutex_unlock(&a->lock);
}

/* snap = a[:] -- the lock taken once, for a copy of every element. */
static void read_slice(struct int_array *a, int snap[LENGTH], int stop_at)
{
    Pthread_mutex_lock(&a->lock);
    for (int i = 0; i < LENGTH; i++) {
        maybe_stop(a, i, stop_at);
        snap[i] = a->v[i];
    }
    Pthread_mutex_unlock(&a->lock);
}

/* ---------------------------------------------------------------- squares */

#define IF_NEVER_UNLOCKED "is the array's lock unlocked after every lock?"

static void squares_writer(void *arg)
{
    struct int_array *a = arg;
    i_am(a, &a->writer_pid);
    struct text t;
    for (int i = 0; i < LENGTH; i++) {
        lock_array(&a->lock);
        a->v[i] = i * i;
        list_str(&t, a->v, NULL, i + 1);     /* print(list(a[:i + 1])) */
        Pthread_mutex_unlock(&a->lock);
        say("%s", t.s);                      /* print, then let the reader go */
        step(a, &a->writer_steps);
        wait_for(a, &a->reader_steps, i + 1, IF_NEVER_UNLOCKED);
        pace_wait(1);
    }
}

static void squares_reader(void *arg)
{
    struct int_array *a = arg;
    i_am(a, &a->reader_pid);
    struct text t;
    int snap[LENGTH];
    for (int n = 1;; n++) {
        wait_for(a, &a->writer_steps, n, IF_NEVER_UNLOCKED);
        read_each(a, snap, LENGTH);          /* print(list(a)) */
        if (snap[0] == -1) {
            say("the first element is -1: stopping");
            return;
        }
        say("%s", list_str(&t, snap, NULL, LENGTH));
        step(a, &a->reader_steps);
    }
}

/* Seed 002: the writer fills in squares, the reader prints the list after
 * each one; then the parent sets the first element to -1 to stop it. */
static void squares(void)
{
    struct int_array *a = make_int_array();
    pid_t w = process_start("Writer", squares_writer, a);
    pid_t r = process_start("Reader", squares_reader, a);
    if (process_join(w) != 0) {
        kill(r, SIGKILL);
        process_join(r);
        fatal("the writer failed");
    }

    say("the writer is done; setting the first element to -1");
    lock_array(&a->lock);
    a->v[0] = -1;
    Pthread_mutex_unlock(&a->lock);
    step(a, &a->writer_steps);
    if (process_join(r) != 0)
        fatal("the reader failed");
    shared_unmap(a, sizeof *a);
}

/* ---------------------------------------------------------------- doubles */

static void halve(void *arg)
{
    struct double_array *a = arg;
    say("halving every element");
    lock_array(&a->lock);
    for (int i = 0; i < 10; i++)
        a->v[i] /= 2;
    Pthread_mutex_unlock(&a->lock);
}

/* multiprocessing.Array('d', range(10)) - ten doubles in shared memory,
 * not seed 000's manager.Array - changed by a child, seen by the parent. */
static void doubles(void)
{
    struct double_array *a = shared_map(sizeof *a);
    init_array_lock(&a->lock);
    for (int i = 0; i < 10; i++)
        a->v[i] = i;

    struct text t;
    say("Array('d', range(10)): %zu doubles of %zu bytes", sizeof a->v / sizeof a->v[0],
        sizeof a->v[0]);
    say("%s", list_str(&t, NULL, a->v, 10));
    if (process_join(process_start(NULL, halve, a)) != 0)
        fatal("the child failed");
    /* The child is gone; the join orders its writes before this read. */
    say("%s", list_str(&t, NULL, a->v, 10));
    shared_unmap(a, sizeof *a);
}

/* ---------------------------------------------------------------- held */

/* Wait until the reader, which has said it is about to read, sleeps (in
 * get(), on the lock this writer holds) or has read anyway.  Returns
 * true if it read while the lock was held. */
static bool reader_read_anyway(struct int_array *a)
{
    pid_t reader = a->reader_pid; /* set before its first step: seen */
    const struct timespec a_moment = { 0, 100 * 1000 };
    /* No deadline: it cannot help doing one or the other, however slowly
     * a loaded machine runs it. */
    for (;;) {
        if (counter_of(a, &a->reader_steps) >= 2)
            return true;
        /* Asleep, and still not done after that: between its two steps
         * the reader only reads, so it sleeps waiting for the lock. */
        if (shared_is_asleep(reader))
            return counter_of(a, &a->reader_steps) >= 2;
        nanosleep(&a_moment, NULL);
    }
}

/* a[:] = [1] * 5 under one lock, stopped after two elements: the reader
 * is let in while the write is half done, and must wait for the lock. */
static void held_writer(void *arg)
{
    struct int_array *a = arg;
    i_am(a, &a->writer_pid);
    say("setting every element to 1, under one lock");
    lock_array(&a->lock);
    for (int i = 0; i < 2; i++)
        a->v[i] = 1;
    step(a, &a->writer_steps);                   /* "reader, read now" */
    wait_for(a, &a->reader_steps, 1, IF_NEVER_UNLOCKED);
    if (reader_read_anyway(a))
        say("the reader read the array while I held its lock");
    else
        say("the reader waits for the lock: finishing the write");
    for (int i = 2; i < LENGTH; i++)
        a->v[i] = 1;
    Pthread_mutex_unlock(&a->lock);
    wait_for(a, &a->reader_steps, 2,
             "the lock was let go, but the reader sleeps on: a mutex that is "
             "not PTHREAD_PROCESS_SHARED wakes only waiters of its own "
             "process");
}

static void report(const int snap[LENGTH]);

static void held_reader(void *arg)
{
    struct int_array *a = arg;
    i_am(a, &a->reader_pid);
    int snap[LENGTH];
    wait_for(a, &a->writer_steps, 1, IF_NEVER_UNLOCKED);
    step(a, &a->reader_steps);                   /* "about to read" */
    read_each(a, snap, LENGTH);
    step(a, &a->reader_steps);                   /* "done" */
    report(snap);
}

/* A writer holds the array's lock across a whole write and is stopped
 * halfway; the reader reads a[0], a[1], ... meanwhile. */
static void held(void)
{
    say("a writer holds the lock across a[:] = [1] * 5 and stops after 2 of %d elements",
        LENGTH);
    struct int_array *a = make_int_array();
    pid_t w = process_start("Writer", held_writer, a);
    pid_t r = process_start("Reader", held_reader, a);
    join_both(w, r);
    shared_unmap(a, sizeof *a);
}

/* ---------------------------------------------------------------- snapshot */

/* Set every element to 1, each under the lock.  If the lock is busy, say
 * so and tell the reader (a step) before waiting for it. */
static void snapshot_writer(void *arg)
{
    struct int_array *a = arg;
    i_am(a, &a->writer_pid);
    wait_for(a, &a->reader_steps, 1,
             "it waits for a lock that no other process holds: for itself - "
             "a lock that one thread takes twice must be "
             "PTHREAD_MUTEX_RECURSIVE");
    say("setting every element to 1");
    bool told = false;
    for (int i = 0; i < LENGTH; i++) {
        int s = pthread_mutex_trylock(&a->lock);
        if (s == EBUSY) {
            say("the array is locked: waiting for the reader");
            step(a, &a->writer_steps);
            told = true;
            lock_array(&a->lock);
        } else if (s != 0) {
            err_exit_en(s, "pthread_mutex_trylock");
        }
        a->v[i] = 1;
        Pthread_mutex_unlock(&a->lock);
    }
    if (!told)
        step(a, &a->writer_steps);
}

/* Print the reader's snapshot and whether it fits together. */
static void report(const int snap[LENGTH])
{
    bool same = true;
    for (int i = 1; i < LENGTH; i++)
        same = same && snap[i] == snap[0];
    struct text t;
    say("%s: %s", list_str(&t, snap, NULL, LENGTH),
        same ? "consistent, all from one moment" : "torn, part old and part new");
}

/* The three ways to read, as the reader's body in the snapshot run. */
static void (*const reads[])(struct int_array *, int[LENGTH], int) = {
    read_each, read_whole, read_slice,
};
static const char *const read_names[] = {
    "list(a), a lock per access",
    "with a.get_lock(): list(a), one lock held across the whole read",
    "a[:], one lock for one copy",
};
static int read_way; /* set before the reader is forked */

static void snapshot_reader(void *arg)
{
    struct int_array *a = arg;
    i_am(a, &a->reader_pid);
    int snap[LENGTH];
    reads[read_way](a, snap, 2);
    report(snap);
}

/* Read the array while a writer changes it, in each of the three ways.
 * Each time the reader stops after two elements, as the scheduler may
 * stop a process anywhere. */
static void snapshot(void)
{
    for (read_way = 0; read_way < 3; read_way++) {
        say("%s; the reader stops after 2 of %d elements", read_names[read_way], LENGTH);
        struct int_array *a = make_int_array();
        pid_t w = process_start("Writer", snapshot_writer, a);
        pid_t r = process_start("Reader", snapshot_reader, a);
        join_both(w, r);
        shared_unmap(a, sizeof *a);
    }
}

int main(int argc, char *argv[])
{
    if (argc > 2)
        usage_exit(USAGE, "too many arguments");
    if (argc == 1)
        squares();
    else if (strcmp(argv[1], "doubles") == 0)
        doubles();
    else if (strcmp(argv[1], "held") == 0)
        held();
    else if (strcmp(argv[1], "snapshot") == 0)
        snapshot();
    else
        usage_exit(USAGE, "unexpected argument '%s'", argv[1]);
    return 0;
}
