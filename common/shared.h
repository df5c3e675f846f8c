/* shared.h - memory that processes made by fork() really share, and the
 * locks and waits that go with it.
 *
 * Lesson 03 writes the two key calls out by hand - mmap(2) with MAP_SHARED
 * and a mutex marked PTHREAD_PROCESS_SHARED - because they are what it
 * teaches.  From then on the lessons call these helpers instead, so that
 * their main() tells the story of the lesson, not of the set-up.
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
    /* The process that holds it may lock it again (Python's RLock, the
     * lock of multiprocessing.Value and Array). */
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

/* How long shared_wait_until() waits before it gives up: this many seconds
 * plus two ticks of the pace (pace.h).  A partner that is alive answers in
 * microseconds; one that never answers is not sharing our memory. */
#define SHARED_PATIENCE_S 2

/* Wait until *counter, read with *lock held, is at least `want`.  Looks
 * every 100 microseconds and sleeps in between, so the process it waits
 * for gets the CPU even when both run on one.  Returns true once it is;
 * false if SHARED_PATIENCE_S seconds (plus two ticks) pass first, and then
 * the caller says what it waited for.  Ends the process only if locking
 * fails.  (Lesson 09's condition variables wait without looking.) */
bool shared_wait_until(pthread_mutex_t *lock, const int *counter, int want);

#endif
