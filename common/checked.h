/* checked.h - pthread calls that check their own result.
 *
 * OSTEP's trick: a capitalised wrapper does the call and the error check, so
 * the lesson code reads like the story it tells.  Each wrapper ends the
 * process through err_exit_en() if the call fails; none can return an error.
 * (They are functions, not assert()s: an assert vanishes under -DNDEBUG and
 * takes the call inside it along.)
 */
#ifndef CHECKED_H
#define CHECKED_H

#include <pthread.h>

void Pthread_create(pthread_t *thread, void *(*start)(void *), void *arg);
void Pthread_join(pthread_t thread);
void Pthread_mutex_lock(pthread_mutex_t *mutex);
void Pthread_mutex_unlock(pthread_mutex_t *mutex);
void Pthread_cond_signal(pthread_cond_t *cond);
void Pthread_cond_broadcast(pthread_cond_t *cond);

#endif
