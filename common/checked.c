/* checked.c - see checked.h. */
#include "checked.h"

#include "errors.h"

void Pthread_create(pthread_t *thread, void *(*start)(void *), void *arg)
{
    int s = pthread_create(thread, NULL, start, arg);
    if (s != 0)
        err_exit_en(s, "pthread_create");
}

void Pthread_join(pthread_t thread)
{
    int s = pthread_join(thread, NULL);
    if (s != 0)
        err_exit_en(s, "pthread_join");
}

void Pthread_mutex_lock(pthread_mutex_t *mutex)
{
    int s = pthread_mutex_lock(mutex);
    if (s != 0)
        err_exit_en(s, "pthread_mutex_lock");
}

void Pthread_mutex_unlock(pthread_mutex_t *mutex)
{
    int s = pthread_mutex_unlock(mutex);
    if (s != 0)
        err_exit_en(s, "pthread_mutex_unlock");
}

void Pthread_cond_signal(pthread_cond_t *cond)
{
    int s = pthread_cond_signal(cond);
    if (s != 0)
        err_exit_en(s, "pthread_cond_signal");
}

void Pthread_cond_broadcast(pthread_cond_t *cond)
{
    int s = pthread_cond_broadcast(cond);
    if (s != 0)
        err_exit_en(s, "pthread_cond_broadcast");
}
