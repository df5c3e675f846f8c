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
 *    asks with a deadline (pthread_mutex_timedlock) and gets ETIMEDOUT.
 * 2. With a robust mutex (PTHREAD_MUTEX_ROBUST) the kernel notices the
 *    death, and the next locker gets the lock with EOWNERDEAD: "you have
 *    it, but its data may be half-updated".  It repairs the data, calls
 *    pthread_mutex_consistent(), and the mutex works as before.
 *
 * The parent joins each child before it locks, so the child is certainly
 * dead, holding the lock, by then: the output is always the same.
 *
 * Your job: TODO 3 in robust() (TODOs 1 and 2 are in counter.c).  The
 * lesson is in README.md beside this file; `make check` tells you how you
 * are doing.
 *
 * Expected output: see README.md.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
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

static struct pair *make_pair(int mutex_flags)
{
    struct pair *p = shared_map(sizeof *p);
    shared_mutex_init(&p->lock, mutex_flags);
    p->first = TOTAL;
    p->second = 0;
    return p;
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
    struct pair *p = make_pair(SHARED_MUTEX_PLAIN);
    kill_a_holder(p);

    /* The deadline is on CLOCK_REALTIME, as pthread_mutex_timedlock wants. */
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += 100 * 1000 * 1000; /* 100 ms */
    if (deadline.tv_nsec >= 1000 * 1000 * 1000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000 * 1000 * 1000;
    }
    int s = pthread_mutex_timedlock(&p->lock, &deadline);
    if (s == 0)
        fatal("pthread_mutex_timedlock took a lock that the dead hold");
    if (s != ETIMEDOUT)
        err_exit_en(s, "pthread_mutex_timedlock");
    say("pthread_mutex_timedlock: ETIMEDOUT after 100 ms; nobody will ever "
        "unlock it, and pthread_mutex_lock would wait forever");
    /* The mutex stays locked by the dead; it goes away with the mapping
     * (destroying a locked mutex is undefined). */
    shared_unmap(p, sizeof *p);
}

/* 2. A robust mutex: the next locker is told, and repairs. */
static void robust(void)
{
    say("2. a robust mutex");
    struct pair *p = make_pair(SHARED_MUTEX_ROBUST);
    kill_a_holder(p);

    int s = pthread_mutex_lock(&p->lock);
    /* TODO 3: s is EOWNERDEAD here, the robust mutex's news that its owner
     * died: we hold the lock now, but the counts may be half-updated.
     *   - say so, with the counts (README.md shows the line);
     *   - repair: make the two counts add up to TOTAL again, finishing the
     *     move the child began (its 10 never reached the second count);
     *   - tell the mutex that its data is whole again with
     *     pthread_mutex_consistent(3), then say "repaired: ...".
     * Unlocking without that last step marks the mutex unusable for ever
     * (the next lock fails with ENOTRECOVERABLE). */
    if (s != 0)
        err_exit_en(s, "pthread_mutex_lock");
    Pthread_mutex_unlock(&p->lock);

    Pthread_mutex_lock(&p->lock); /* an ordinary lock and unlock again */
    say("locked and unlocked again: the mutex works (%d + %d)", p->first, p->second);
    Pthread_mutex_unlock(&p->lock);
    shared_unmap(p, sizeof *p);
}

int main(int argc, char *argv[])
{
    if (argc > 1)
        usage_exit("robust", "unexpected argument '%s'", argv[1]);
    ordinary();
    robust();
    return 0;
}
