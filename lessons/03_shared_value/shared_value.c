/* shared_value.c - a writer process puts 0..4 in a shared value; a reader
 * process prints each one, exactly once.
 *
 * usage: shared_value           the seed's writer and reader
 *        shared_value sizes     the sizes that the mapping is made of
 *
 * The C version of seed 002's multiprocessing.Value('i', 0): an int in
 * memory mapped with MAP_SHARED before fork(), so that the writer, the
 * reader and the parent all see the same int, and beside it, in the same
 * mapping, a lock for it: a mutex marked PTHREAD_PROCESS_SHARED.  (Python's
 * Value keeps its lock elsewhere: an RLock built on a POSIX semaphore in a
 * mapping of its own; README.md shows both.)
 *
 * Before the seed's story, prove_lock() shows that the lock works between
 * processes: it holds the lock, lets a child try to take it, and lets go
 * only once the child sleeps in the kernel waiting for it.  A lock that
 * the child gets anyway is not shared; one whose sleeper is never woken is
 * a mutex private to one process.
 *
 * The seed's reader looks at the value every half second and the writer
 * changes it every second, so the reader prints some values twice and
 * could miss one.  Here the two take turns through two counters in the
 * same shared struct: the writer puts value number n and waits until the
 * reader has taken number n; the reader waits until number n is put.  A
 * value of -1, put by the parent once the writer is done, stops the reader.
 *
 * Your job: make_value() (TODO 1 and 2) and the start of main() (TODO 3).
 * The lesson is in README.md beside this file; `make check` tells you how
 * you are doing, and `make hint` helps when you are stuck.
 *
 * Expected output:
 *     MainProcess: the lock is process-shared: another process waited for it and was woken
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
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "checked.h"
#include "errors.h"
#include "pace.h"
#include "process.h"
#include "say.h"
#include "shared.h"

#define USAGE "shared_value [sizes]"

/* multiprocessing.Value('i', 0): the int and its lock, in one struct so
 * that both live in the shared mapping.  The two counters are the turn
 * taking; the lock guards all three fields. */
struct shared_value {
    pthread_mutex_t lock;
    int value;
    int put;    /* how many values the writer (or the parent) has put */
    int taken;  /* how many of them the reader has taken */
};

/* Make the Value: the struct in memory shared with every child this
 * process forks from now on, its value 0, its lock a mutex that works
 * between processes.  Ends the process if a call fails. */
static struct shared_value *make_value(void)
{
    /* TODO 1: get the memory for one whole struct shared_value from
     * mmap(2): readable and writable, with no file behind it, and shared
     * with the children this process forks afterwards - not a private copy
     * for each of them.  If the kernel refuses, end the program with
     * err_exit("mmap"): the RETURN VALUE section of mmap(2) says how a
     * failure looks (it is not what most allocators return).
     *
     * TODO 2: initialise the struct's lock so that a process other than
     * this one can wait for it and be woken when it is let go: make a
     * mutex attributes object, set it to be shared between processes, and
     * initialise the mutex with it (pthread_mutexattr_init(3p),
     * pthread_mutexattr_setpshared(3), pthread_mutex_init(3p)).  Each of
     * these returns an error number instead of setting errno: check every
     * one with err_exit_en() (common/errors.h).  Then give the value its
     * start, 0, as Value('i', 0) does, and return the struct. */
    fatal("make_value() is not written yet (TODO 1 and TODO 2)");
}

/* ------------------------------------------------------- the lock, proved */

/* What the child of prove_lock() is given: the Value, and two pipes. */
struct lock_taker {
    struct shared_value *v;
    int go;   /* read end: the parent says "try now" */
    int news; /* write end: 'r' when about to lock, 'l' once it has it */
};

static void tell(int fd, char c)
{
    if (write(fd, &c, 1) != 1)
        err_exit("write to a pipe");
}

/* Wait up to `ms` ms (-1: for ever) for a byte on fd: the byte, or 0 on a
 * timeout, or -1 if the other end closed without a word. */
static int hear(int fd, int ms)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    int ready;
    while ((ready = poll(&pfd, 1, ms)) == -1)
        if (errno != EINTR)
            err_exit("poll");
    if (ready == 0)
        return 0;
    char c;
    ssize_t n = read(fd, &c, 1);
    if (n == -1)
        err_exit("read from a pipe");
    return n == 1 ? c : -1;
}

/* The child: when told, say so and take the lock; say when it has it.
 * Between 'r' and 'l' it does nothing but lock, so if it sleeps there, it
 * sleeps waiting for the lock. */
static void take_lock(void *arg)
{
    struct lock_taker *t = arg;
    if (hear(t->go, -1) != 'g')
        fatal("the parent of the lock proof went away");
    tell(t->news, 'r');
    Pthread_mutex_lock(&t->v->lock);
    tell(t->news, 'l');
    Pthread_mutex_unlock(&t->v->lock);
}

/* Show, without luck, that v's lock works between processes: hold it, let
 * a child try to take it, and let go only once the child sleeps in the
 * kernel waiting for it.  Then the child must wake up and get it.  The
 * pipes carry the news, so this works even if the memory is not shared. */
static void prove_lock(struct shared_value *v)
{
    int go[2], news[2];
    if (pipe(go) == -1 || pipe(news) == -1)
        err_exit("pipe");
    struct lock_taker t = { v, go[0], news[1] };
    pid_t child = process_start(NULL, take_lock, &t);
    close(go[0]);
    close(news[1]);

    Pthread_mutex_lock(&v->lock);
    tell(go[1], 'g');
    /* No deadlines here: the child cannot help doing one of the things
     * waited for, however slowly a loaded machine runs it, and a verdict
     * is given only on what is seen (a hang is the test's to catch). */
    int heard = hear(news[0], -1);
    if (heard != 'r')
        fatal("the child of the lock proof never started (%d)", heard);
    /* Until it sleeps, or gets the lock that we hold. */
    const struct timespec a_moment = { 0, 100 * 1000 };
    for (;;) {
        heard = hear(news[0], 0);
        if (heard != 0)
            break; /* it got the lock we hold, or died */
        if (shared_is_asleep(child)) {
            /* Asleep, and still no 'l' after that: it sleeps waiting for
             * the lock (0), or it got the lock first and slept later. */
            heard = hear(news[0], 0);
            break;
        }
        nanosleep(&a_moment, NULL);
    }
    Pthread_mutex_unlock(&v->lock);
    if (heard == 'l') {
        process_join(child);
        say("the lock did not keep another process out");
        fatal("a process took the lock while this one held it: it locked a "
              "copy of its own - is the Value's memory MAP_SHARED, and "
              "mapped before fork()?");
    }
    /* Woken, the child is ready to run at once, and takes the lock.  One
     * still asleep on the futex after our unlock was not woken. */
    /* (Where /proc/PID/wchan says nothing, a second asleep will do.) */
    for (int polls_left = 1000 * SHARED_PATIENCE_S; heard == 0; polls_left--) {
        heard = hear(news[0], 1);
        if (heard == 0 && shared_is_asleep(child) &&
            (shared_sleeps_on_a_futex(child) || polls_left <= 0) &&
            (heard = hear(news[0], 0)) == 0)
            break; /* asleep on the lock we let go: never woken */
    }
    if (heard != 'l') {
        bool on_futex = shared_sleeps_on_a_futex(child);
        kill(child, SIGKILL);
        process_join(child);
        say("another process waited for the lock and was never woken");
        fatal("the lock was let go, but the process sleeping on it %s: "
              "a mutex that is not PTHREAD_PROCESS_SHARED wakes only "
              "waiters of its own process - see "
              "pthread_mutexattr_setpshared(3)",
              on_futex ? "still sleeps in futex()" : "never got it");
    }
    if (process_join(child) != 0)
        fatal("the child of the lock proof failed");
    close(go[1]);
    close(news[0]);
    say("the lock is process-shared: another process waited for it and was woken");
}

/* ------------------------------------------------------- the seed's story */

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
            fatal("Writer gave up waiting for the reader to take %d: do the "
                  "Writer and the Reader share one Value, made once, before "
                  "both forks?", i);
        pace_wait(1);
    }
}

static void reader(void *arg)
{
    struct shared_value *v = arg;
    for (int n = 1;; n++) {
        if (!shared_wait_until(&v->lock, &v->put, n))
            fatal("Reader gave up waiting for a new value (it has taken %d): "
                  "do the Writer and the Reader share one Value, made once, "
                  "before both forks?", n - 1);
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

/* The seed's main after the start: join the writer, put -1, join the
 * reader, and show the value they leave. */
static void finish(struct shared_value *v, pid_t writer_pid, pid_t reader_pid)
{
    int writer_status = process_join(writer_pid);
    say("the writer is done; putting -1");
    put(v, -1);
    int reader_status = process_join(reader_pid);
    if (writer_status != 0 || reader_status != 0)
        fatal("the writer or the reader failed (exit status %d and %d)",
              writer_status, reader_status);

    Pthread_mutex_lock(&v->lock);
    say("the reader is done; the value is %d", v->value);
    Pthread_mutex_unlock(&v->lock);
}

/* What the mapping is made of: the sizes a mmap call may be given. */
static void sizes(void)
{
    struct shared_value *v = NULL; /* only for sizeof: never followed */
    put_line("struct shared_value: %zu bytes (sizeof *v)", sizeof *v);
    put_line("a pointer to it: %zu bytes (sizeof v)", sizeof v);
    put_line("a page: %ld bytes (mmap maps whole pages)", sysconf(_SC_PAGESIZE));
}

int main(int argc, char *argv[])
{
    if (argc == 2 && strcmp(argv[1], "sizes") == 0) {
        sizes();
        return 0;
    }
    if (argc > 1)
        usage_exit(USAGE, "unexpected argument '%s'", argv[1]);

    struct shared_value *v = NULL;
    pid_t writer_pid = 0, reader_pid = 0;
    /* TODO 3: the seed's main: make the Value, let prove_lock() show that
     * its lock works between processes, and start the Writer and the
     * Reader with process_start() (common/process.h), writer() and reader()
     * as their bodies - so that this process, the Writer and the Reader
     * all use the one Value, as the Python original does. */

    /* Until TODO 3 calls them, nothing uses these four; this line tells
     * the compiler that is on purpose.  Delete it once you call them. */
    (void)make_value, (void)prove_lock, (void)writer, (void)reader;
    if (writer_pid == 0 || reader_pid == 0)
        fatal("main() starts no Writer and no Reader yet (TODO 3)");

    finish(v, writer_pid, reader_pid);
    return 0; /* exit unmaps v; munmap(2) is for a program that goes on */
}
