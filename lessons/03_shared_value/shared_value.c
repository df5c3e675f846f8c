/* shared_value.c - a writer process puts 0..4 in a shared value; a reader
 * process prints each one, exactly once.
 *
 * usage: shared_value
 *
 * The C version of seed 002's multiprocessing.Value('i', 0).  The value
 * lives in memory mapped with MAP_SHARED before fork(), so the writer, the
 * reader and the parent all see the same int.  Beside it, in the same
 * mapping, is its lock: a mutex marked PTHREAD_PROCESS_SHARED.  Python's
 * Value is exactly that, an int and a lock in shared memory.
 *
 * The writer and the reader take turns through two counters beside the
 * value (README.md explains how).  Your job: the two TODOs in make_value(),
 * which make the struct really shared and its lock really process-shared.
 * The lesson is in README.md beside this file; `make check` tells you how
 * you are doing.
 *
 * Expected output:
 *     MainProcess: the lock is process-shared
 *     Writer: 0
 *     Reader: 0
 *     ...
 *     Writer: 4
 *     Reader: 4
 *     MainProcess: the writer is done; putting -1
 *     Reader: -1 means stop
 *     MainProcess: the reader is done; the value is -1
 */
#include <pthread.h>
#include <sys/mman.h>

#include "checked.h"
#include "errors.h"
#include "pace.h"
#include "process.h"
#include "say.h"
#include "shared.h"

/* multiprocessing.Value('i', 0): the int and its lock, in one struct so
 * that both live in the shared mapping.  The two counters are the turn
 * taking; the lock guards all three fields. */
struct shared_value {
    pthread_mutex_t lock;
    int value;
    int put;    /* how many values the writer (or the parent) has put */
    int taken;  /* how many of them the reader has taken */
};

/* Say which kind of lock `attr` makes, and refuse a private one: a mutex
 * that is not PTHREAD_PROCESS_SHARED may seem to work between processes,
 * until a process that waits for it is never woken up (README.md). */
static void check_lock_kind(const pthread_mutexattr_t *attr)
{
    int pshared;
    int s = pthread_mutexattr_getpshared(attr, &pshared);
    if (s != 0)
        err_exit_en(s, "pthread_mutexattr_getpshared");
    if (pshared != PTHREAD_PROCESS_SHARED) {
        say("the lock is private to this process");
        fatal("a lock in shared memory must be PTHREAD_PROCESS_SHARED");
    }
    say("the lock is process-shared");
}

/* Make the Value, once, before any child exists: every process forked
 * after this shares the struct it returns. */
static struct shared_value *make_value(void)
{
    /* TODO 1: get the memory for the struct from mmap(2): room for one
     * struct shared_value, readable and writable, with no file behind it,
     * and shared with the children this process will fork (not a private
     * copy for each).  mmap returns MAP_FAILED, not NULL, when it fails:
     * then err_exit("mmap").  Until you do, v points at ordinary memory,
     * and fork() gives each child a copy of its own (lesson 01). */
    static struct shared_value not_shared;
    struct shared_value *v = &not_shared;

    pthread_mutexattr_t attr;
    int s = pthread_mutexattr_init(&attr);
    if (s != 0)
        err_exit_en(s, "pthread_mutexattr_init");
    /* TODO 2: make the attribute say that the mutex will be used by
     * several processes, not only by the threads of this one (see
     * pthread_mutexattr_setpshared(3)).  Like every pthread call, it
     * returns the error number: if (s != 0) err_exit_en(s, "..."). */
    check_lock_kind(&attr);
    s = pthread_mutex_init(&v->lock, &attr);
    if (s != 0)
        err_exit_en(s, "pthread_mutex_init");
    pthread_mutexattr_destroy(&attr);

    v->value = 0; /* mmap gives zeroed memory; Value('i', 0) says it anyway */
    return v;
}

/* Put `value` as the next number in turn; returns that number. */
static int put(struct shared_value *v, int value)
{
    Pthread_mutex_lock(&v->lock);
    v->value = value;
    int n = ++v->put;
    Pthread_mutex_unlock(&v->lock);
    return n;
}

static void writer(void *arg)
{
    struct shared_value *v = arg;
    for (int i = 0; i < 5; i++) {
        say("%d", i); /* before putting it: the reader prints after us */
        int n = put(v, i);
        if (!shared_wait_until(&v->lock, &v->taken, n))
            fatal("Writer gave up waiting for the reader to take %d: "
                  "is the memory really shared?", i);
        pace_wait(1);
    }
}

static void reader(void *arg)
{
    struct shared_value *v = arg;
    for (int n = 1;; n++) {
        if (!shared_wait_until(&v->lock, &v->put, n))
            fatal("Reader gave up waiting for a new value (it has taken "
                  "%d): is the memory really shared?", n - 1);
        Pthread_mutex_lock(&v->lock);
        int value = v->value;
        Pthread_mutex_unlock(&v->lock);
        if (value == -1) {
            say("-1 means stop");
            return;
        }
        say("%d", value);
        Pthread_mutex_lock(&v->lock);
        v->taken = n; /* only now may the writer go on */
        Pthread_mutex_unlock(&v->lock);
    }
}

int main(int argc, char *argv[])
{
    if (argc > 1)
        usage_exit("shared_value", "unexpected argument '%s'", argv[1]);

    struct shared_value *v = make_value();

    pid_t w = process_start("Writer", writer, v);
    pid_t r = process_start("Reader", reader, v);
    int writer_status = process_join(w);

    say("the writer is done; putting -1");
    put(v, -1);
    int reader_status = process_join(r);
    if (writer_status != 0 || reader_status != 0)
        fatal("the writer or the reader failed (exit status %d and %d)",
              writer_status, reader_status);

    Pthread_mutex_lock(&v->lock);
    say("the reader is done; the value is %d", v->value);
    Pthread_mutex_unlock(&v->lock);
    return 0; /* exit unmaps v; munmap(2) is for a program that goes on */
}
