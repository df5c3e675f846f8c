/* shared.h - memory that processes made by fork() really share, and the
 * locks and waits that go with it.
 *
 * Lesson 03 has the learner write the key calls out by hand - mmap(2) with
 * MAP_SHARED and a mutex marked PTHREAD_PROCESS_SHARED - and lesson 04 the
 * recursive one, because they are what those lessons teach.  Elsewhere the
 * lessons call these helpers instead, so that their main() tells the story
 * of the lesson, not of the set-up.
 *
 * Everything here works between processes related by fork(): the memory
 * is mapped before the children are made, and they inherit the mapping.
 * (Unrelated programs need a name to meet at, shm_open(3): lesson 08.)
 */
#ifndef SHARED_H
#define SHARED_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Map `size` bytes of zeroed memory with MAP_SHARED | MAP_ANONYMOUS: this
 * process and every child it forks after this call see the same bytes.
 * Never returns NULL; ends the process if mmap(2) fails. */
void *shared_map(size_t size);

/* Unmap `size` bytes at `memory`, as returned by shared_map(size).  Ends the
 * process if munmap(2) fails.  (The kernel frees the memory when the last
 * process that maps it unmaps it or exits.) */
void shared_unmap(void *memory, size_t size);

/* What shared_mutex_init() adds to a process-shared mutex; combine with |. */
enum {
    SHARED_MUTEX_PLAIN = 0,
    /* The thread that holds it may lock it again; it is free once that
     * thread has unlocked it as often as it locked it.  (Like Python's
     * RLock, the default lock of multiprocessing.Value and Array, which
     * is built on a POSIX semaphore instead: lessons 03 and 04.) */
    SHARED_MUTEX_RECURSIVE = 1 << 0,
    /* If its holder dies, the next locker gets EOWNERDEAD instead of
     * waiting forever (lesson 05). */
    SHARED_MUTEX_ROBUST = 1 << 1,
};

/* Initialise *mutex as PTHREAD_PROCESS_SHARED, plus whatever `flags` asks,
 * so that every process that maps the memory it lies in can lock it.  Call
 * it once, on memory from shared_map(), before any child exists.  Ends the
 * process if a pthread call fails. */
void shared_mutex_init(pthread_mutex_t *mutex, int flags);

/* How long shared_wait_until() and shared_lock_patiently() wait before
 * they give up: this many seconds plus two ticks of the pace (pace.h).  A
 * partner that is alive answers in microseconds; one that has not answered
 * after a second is stuck, or is not sharing our memory, and a test that
 * waits for the verdict must not wait long.  A test may set another
 * patience, in milliseconds, in the environment: SHARED_PATIENCE_MS=200.
 * (A value that is not a whole number from 1 to 60000 ends the program.) */
#define SHARED_PATIENCE_S 1

/* Wait until *counter, read with *lock held, is at least `want`.  Looks
 * every 100 microseconds and sleeps in between, so the process it waits
 * for gets the CPU even when both run on one.  Returns true once it is;
 * false if the patience above passes first - and it has looked at least
 * twice per millisecond of it by then, so that a machine too loaded to
 * run the partner is not taken for a partner that never answers - and then
 * the caller says what it waited for.  Ends the process only if locking
 * fails.  (Lesson 09's condition variables wait without looking.) */
bool shared_wait_until(pthread_mutex_t *lock, const int *counter, int want);

/* Lock *mutex, waiting at most SHARED_PATIENCE_S seconds (plus two
 * ticks) for it, on the monotonic clock: tries, and tries again every 100
 * microseconds (pthread_mutex_trylock(3p)).  Returns true once it is
 * locked.  Returns false once the patience has passed AND it has tried as
 * often as shared_wait_until() looks (twice per millisecond), with the
 * mutex busy every time: its holder never unlocks it.  The caller then
 * says what it waited for.  Ends the process if trying fails for any
 * other reason than EBUSY. */
bool shared_lock_patiently(pthread_mutex_t *mutex);

/* Is process `pid` asleep in the kernel right now (state S in
 * /proc/PID/stat: blocked in a system call, waiting for something)?  False
 * when it runs, is ready to run, or is gone.  Lessons 03 and 04 use it to
 * stage a race: "let go of the lock only once the other process sleeps
 * waiting for it". */
bool shared_is_asleep(pid_t pid);

/* Is process `pid` asleep in a futex wait (/proc/PID/wchan names a futex
 * function)?  That is where pthread_mutex_lock() sleeps on a busy mutex.
 * False when it is not, or when the kernel does not say. */
bool shared_sleeps_on_a_futex(pid_t pid);

#endif
