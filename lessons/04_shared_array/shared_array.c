/* shared_array.c - an array in shared memory, and how to read it whole.
 *
 * usage: shared_array             the seed's writer and reader (squares)
 *        shared_array doubles     Array('d', range(10)), halved by a child
 *        shared_array snapshot    a lock per access against one lock held
 *                                 across the whole read
 *
 * The C version of seed 002's multiprocessing.Array(ctypes.c_int, 5) and
 * seed 000's Array('d', range(10)).  An Array is a C array in a MAP_SHARED
 * mapping with one lock for the whole array, an RLock: the process that
 * holds it may take it again.  Python takes that lock around every single
 * a[i]; a read of several elements that must fit together (a snapshot)
 * has to hold it across all of them: with a.get_lock(): snap = list(a).
 *
 * The writer and the reader take turns as in lesson 03, so every list is
 * printed once.  The snapshot run shows what a lock per access allows: the
 * reader stops halfway through its read, as if the scheduler had taken
 * the CPU away right there, and lets the writer try to change the array.
 * Your job: the TODO in read_whole().  The lesson is in README.md beside
 * this file; `make check` tells you how you are doing.
 *
 * Expected output: see README.md.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "checked.h"
#include "errors.h"
#include "pace.h"
#include "process.h"
#include "say.h"
#include "shared.h"

#define USAGE "shared_array [doubles | snapshot]"
#define LENGTH 5

/* Array(ctypes.c_int, 5): five ints and the array's lock.  The writer and
 * the reader signal each other through two counters, which have a lock
 * of their own: a process must be able to signal while the other holds
 * the array's lock (the snapshot run does just that). */
struct int_array {
    pthread_mutex_t lock;      /* a.get_lock(): recursive, process-shared */
    int v[LENGTH];
    pthread_mutex_t turn_lock; /* guards the two counters */
    int writer_steps;          /* how many steps the writer has made */
    int reader_steps;          /* how many of them the reader has seen */
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

/* ---------------------------------------------------------------- turns */

static struct int_array *make_int_array(void)
{
    struct int_array *a = shared_map(sizeof *a); /* zeroed: [0, 0, 0, 0, 0] */
    shared_mutex_init(&a->lock, SHARED_MUTEX_RECURSIVE);
    shared_mutex_init(&a->turn_lock, SHARED_MUTEX_PLAIN);
    return a;
}

/* Add one to a step counter: a signal to the other process. */
static void step(struct int_array *a, int *counter)
{
    Pthread_mutex_lock(&a->turn_lock);
    ++*counter;
    Pthread_mutex_unlock(&a->turn_lock);
}

/* Wait until the other process has made `n` steps, or give up loudly. */
static void wait_for(struct int_array *a, int *counter, int n)
{
    if (!shared_wait_until(&a->turn_lock, counter, n))
        fatal("%s gave up waiting for step %d of the other process: "
              "is the memory really shared?", speaker(), n);
}

/* ---------------------------------------------------------------- reading */

/* What Python's list(a) does: take the lock for each element on its own.
 * The reader stops after `stop_at` elements (LENGTH: never) and lets the
 * writer try to change the array before it reads the rest. */
static void read_each(struct int_array *a, int snap[LENGTH], int stop_at)
{
    for (int i = 0; i < LENGTH; i++) {
        if (i == stop_at) {
            step(a, &a->reader_steps);             /* "writer, go now" */
            wait_for(a, &a->writer_steps, 1);      /* it is done, or stuck */
        }
        Pthread_mutex_lock(&a->lock);
        snap[i] = a->v[i];
        Pthread_mutex_unlock(&a->lock);
    }
}

/* with a.get_lock(): snap = list(a) -- one lock held across the whole
 * read, so that no write can come between two of its elements.  The lock
 * is recursive, so read_each() may take it again inside. */
static void read_whole(struct int_array *a, int snap[LENGTH], int stop_at)
{
    /* TODO: make this read one step for every other process: hold the
     * array's lock (a->lock) from before the first element is read until
     * after the last (checked.h has the wrappers).  read_each() takes the
     * same lock for each element; that is allowed, the lock is recursive. */
    read_each(a, snap, stop_at);
}

/* ---------------------------------------------------------------- squares */

static void squares_writer(void *arg)
{
    struct int_array *a = arg;
    struct text t;
    for (int i = 0; i < LENGTH; i++) {
        Pthread_mutex_lock(&a->lock);
        a->v[i] = i * i;
        list_str(&t, a->v, NULL, i + 1);
        Pthread_mutex_unlock(&a->lock);
        say("%s", t.s);                      /* print, then let the reader go */
        step(a, &a->writer_steps);
        wait_for(a, &a->reader_steps, i + 1);
        pace_wait(1);
    }
}

static void squares_reader(void *arg)
{
    struct int_array *a = arg;
    struct text t;
    int snap[LENGTH];
    for (int n = 1;; n++) {
        wait_for(a, &a->writer_steps, n);
        read_whole(a, snap, LENGTH);
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
    int writer_status = process_join(w);

    say("the writer is done; setting the first element to -1");
    Pthread_mutex_lock(&a->lock);
    a->v[0] = -1;
    Pthread_mutex_unlock(&a->lock);
    step(a, &a->writer_steps);
    if (process_join(r) != 0 || writer_status != 0)
        fatal("the writer or the reader failed");
    shared_unmap(a, sizeof *a);
}

/* ---------------------------------------------------------------- doubles */

static void halve(void *arg)
{
    struct double_array *a = arg;
    say("halving every element");
    Pthread_mutex_lock(&a->lock);
    for (int i = 0; i < 10; i++)
        a->v[i] /= 2;
    Pthread_mutex_unlock(&a->lock);
}

/* Seed 000's Array('d', range(10)), changed by a child, seen by the parent. */
static void doubles(void)
{
    struct double_array *a = shared_map(sizeof *a);
    shared_mutex_init(&a->lock, SHARED_MUTEX_RECURSIVE);
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

/* ---------------------------------------------------------------- snapshot */

/* Set every element to 1, each under the lock.  If the lock is busy, say
 * so and tell the reader (a step) before waiting for it. */
static void snapshot_writer(void *arg)
{
    struct int_array *a = arg;
    wait_for(a, &a->reader_steps, 1);
    say("setting every element to 1");
    bool told = false;
    for (int i = 0; i < LENGTH; i++) {
        int s = pthread_mutex_trylock(&a->lock);
        if (s == EBUSY) {
            say("the array is locked: waiting for the reader");
            step(a, &a->writer_steps);
            told = true;
            Pthread_mutex_lock(&a->lock);
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

static void reader_each(void *arg)
{
    int snap[LENGTH];
    read_each(arg, snap, 2);
    report(snap);
}

static void reader_whole(void *arg)
{
    int snap[LENGTH];
    read_whole(arg, snap, 2);
    report(snap);
}

/* Read the array while a writer changes it: with a lock per access, then
 * with one lock held across the read.  Each time the reader stops after
 * two elements, as the scheduler may stop a process anywhere. */
static void snapshot(void)
{
    for (int whole = 0; whole <= 1; whole++) {
        say("%s; the reader stops after 2 of %d elements",
            whole ? "one lock held across the whole read" : "a lock per access",
            LENGTH);
        struct int_array *a = make_int_array();
        pid_t w = process_start("Writer", snapshot_writer, a);
        pid_t r = process_start("Reader", whole ? reader_whole : reader_each, a);
        int writer_status = process_join(w);
        if (process_join(r) != 0 || writer_status != 0)
            fatal("the writer or the reader failed");
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
    else if (strcmp(argv[1], "snapshot") == 0)
        snapshot();
    else
        usage_exit(USAGE, "unexpected argument '%s'", argv[1]);
    return 0;
}
