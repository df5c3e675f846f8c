/* robust.c - a process dies holding a shared lock; what happens next.
 *
 * usage: robust
 *
 * A lock shared by processes has a danger that threads hardly know: its
 * holder can die - killed, crashed - in the middle of an update, and
 * nobody will ever unlock it.  Two counts must add up to 100; a child
 * locks, takes 10 from the first count, and is killed before it adds
 * them to the second.
 *
 * 1. With an ordinary mutex the next locker would wait forever.  Here it
 *    asks with a deadline (pthread_mutex_clocklock) and gets ETIMEDOUT.
 * 2. With a robust mutex (PTHREAD_MUTEX_ROBUST) the kernel notices the
 *    death, and the next locker gets the lock with EOWNERDEAD: "you have
 *    it, but its data may be half-updated".  It repairs the data, calls
 *    pthread_mutex_consistent(), and the mutex works as before.
 * 3. A locker that gets EOWNERDEAD and unlocks without repairing leaves a
 *    mutex that nobody can lock again: ENOTRECOVERABLE.
 *
 * The parent joins each child before it locks, so the child is certainly
 * dead, holding the lock, by then: the output is always the same.
 *
 * Your job: TODO 4 and 5 (TODO 1 to 3 are in counter.c).  The lesson is
 * in README.md beside this file; `make check` tells you how you are doing.
 *
 * Expected output: see README.md.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <time.h>

#include "checked.h"
#include "errors.h"
#include "process.h"
#include "say.h"
#include "shared.h"

#define TOTAL 100

/* Two counts that must add up to TOTAL, and the lock that guards them. */
struct pair {
    pthread_mutex_t lock;
    int first;
    int second;
};

/* A pair in shared memory, its mutex process-shared, and robust if asked. */
static struct pair *make_pair(bool robust)
{
    struct pair *p = shared_map(sizeof *p);
    pthread_mutexattr_t attr;
    int e = pthread_mutexattr_init(&attr);
    if (e != 0)
        err_exit_en(e, "pthread_mutexattr_init");
    e = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (e != 0)
        err_exit_en(e, "pthread_mutexattr_setpshared");
    /* TODO 4: when `robust` is true, make the mutex robust: if its holder
     * dies, the next locker is then told (pthread_mutexattr_setrobust(3)),
     * instead of waiting for ever.  Check the result. */
    (void)robust;
    e = pthread_mutex_init(&p->lock, &attr);
    if (e != 0)
        err_exit_en(e, "pthread_mutex_init");
    pthread_mutexattr_destroy(&attr);
    p->first = TOTAL;
    p->second = 0;
    return p;
}

/* Lock p's robust mutex, whose last holder may have died part-way.
 * Returns 0 with the lock held and the counts whole again (repaired if
 * they had to be), or ENOTRECOVERABLE if the mutex can never be locked
 * again.  Ends the program on any other error. */
static int lock_pair(struct pair *p)
{
    /* TODO 5: lock p->lock, and handle what a robust mutex can answer
     * (pthread_mutexattr_setrobust(3), pthread_mutex_consistent(3)):
     *   - EOWNERDEAD: we hold the lock, but its holder died part-way, so
     *     the counts may not add up to TOTAL.  Say so with the counts
     *     (say()), make them whole again - finish the child's move, or undo
     *     it, your choice - then tell the mutex its data is consistent
     *     again, and say "repaired".  Unlocking without that last step
     *     makes the mutex unusable for ever.
     *   - ENOTRECOVERABLE: somebody unlocked it without that step; return
     *     ENOTRECOVERABLE to the caller, which decides what to do.
     *   - any other error ends the program (err_exit_en); 0: return 0. */
    (void)p;
    return ENOTRECOVERABLE;
}

/* Move 10 from the first count to the second - but die halfway. */
static void dying_mover(void *arg)
{
    struct pair *p = arg;
    Pthread_mutex_lock(&p->lock);
    p->first -= 10;
    say("took 10 from the first count (%d + %d); killed before adding them "
        "to the second", p->first, p->second);
    raise(SIGKILL); /* no unlock, no exit handlers: gone, like a crash */
}

/* Start the child that dies holding p's lock, and wait until it has. */
static void kill_a_holder(struct pair *p)
{
    int status = process_join(process_start(NULL, dying_mover, p));
    if (status != 128 + SIGKILL)
        fatal("the child should have been killed, but ended with status %d", status);
    say("the child is dead (killed by signal %d) and still holds the lock",
        status - 128);
}

/* 1. An ordinary process-shared mutex: ask for it with a deadline. */
static void ordinary(void)
{
    say("1. an ordinary mutex");
    struct pair *p = make_pair(false);
    kill_a_holder(p);

    /* The deadline is on CLOCK_MONOTONIC, which setting the wall clock
     * cannot move (pthread_mutex_clocklock, glibc 2.30 and later). */
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_nsec += 100 * 1000 * 1000; /* 100 ms */
    if (deadline.tv_nsec >= 1000 * 1000 * 1000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000 * 1000 * 1000;
    }
    int e = pthread_mutex_clocklock(&p->lock, CLOCK_MONOTONIC, &deadline);
    if (e == 0)
        fatal("pthread_mutex_clocklock took a lock that the dead hold");
    if (e != ETIMEDOUT)
        err_exit_en(e, "pthread_mutex_clocklock");
    say("pthread_mutex_clocklock: ETIMEDOUT after 100 ms; nobody will ever "
        "unlock it, and pthread_mutex_lock would wait forever");
    /* The mutex stays locked by the dead; it goes away with the mapping
     * (destroying a locked mutex is undefined). */
    shared_unmap(p, sizeof *p);
}

/* 2. A robust mutex: the next locker is told, and repairs. */
static void robust(void)
{
    say("2. a robust mutex");
    struct pair *p = make_pair(true);
    kill_a_holder(p);
    if (lock_pair(p) != 0)
        fatal("the robust mutex is not recoverable, though nobody gave up on it");
    Pthread_mutex_unlock(&p->lock);

    if (lock_pair(p) != 0) /* an ordinary lock and unlock again */
        fatal("the robust mutex is not recoverable after its repair");
    say("locked and unlocked again: the mutex works (%d + %d = %d)", p->first,
        p->second, p->first + p->second);
    Pthread_mutex_unlock(&p->lock);
    pthread_mutex_destroy(&p->lock);
    shared_unmap(p, sizeof *p);
}

/* 3. A robust mutex whose next locker gives up: unusable for ever. */
static void abandoned(void)
{
    say("3. a robust mutex nobody repairs");
    struct pair *p = make_pair(true);
    kill_a_holder(p);
    int e = pthread_mutex_lock(&p->lock);
    if (e != EOWNERDEAD)
        fatal("pthread_mutex_lock should have said EOWNERDEAD, not %d", e);
    say("pthread_mutex_lock: EOWNERDEAD; unlocked again without "
        "pthread_mutex_consistent");
    Pthread_mutex_unlock(&p->lock);

    e = lock_pair(p);
    if (e == 0)
        fatal("lock_pair took a mutex that cannot be recovered");
    say("lock_pair: ENOTRECOVERABLE; the mutex can never be locked again: "
        "destroy it and make a new one");
    pthread_mutex_destroy(&p->lock);
    shared_unmap(p, sizeof *p);
}

int main(int argc, char *argv[])
{
    if (argc > 1)
        usage_exit("robust", "unexpected argument '%s'", argv[1]);
    ordinary();
    robust();
    abandoned();
    return 0;
}
