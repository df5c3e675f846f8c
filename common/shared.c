/* shared.c - see shared.h. */
#include "shared.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "args.h"
#include "checked.h"
#include "errors.h"
#include "pace.h"

void *shared_map(size_t size)
{
    void *memory = mmap(NULL, size, PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED)
        err_exit("mmap %zu bytes", size);
    return memory;
}

void shared_unmap(void *memory, size_t size)
{
    if (munmap(memory, size) == -1)
        err_exit("munmap");
}

void shared_mutex_init(pthread_mutex_t *mutex, int flags)
{
    pthread_mutexattr_t attr;
    int s = pthread_mutexattr_init(&attr);
    if (s != 0)
        err_exit_en(s, "pthread_mutexattr_init");
    s = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (s != 0)
        err_exit_en(s, "pthread_mutexattr_setpshared");
    if (flags & SHARED_MUTEX_RECURSIVE) {
        s = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
        if (s != 0)
            err_exit_en(s, "pthread_mutexattr_settype");
    }
    if (flags & SHARED_MUTEX_ROBUST) {
        s = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
        if (s != 0)
            err_exit_en(s, "pthread_mutexattr_setrobust");
    }
    s = pthread_mutex_init(mutex, &attr);
    if (s != 0)
        err_exit_en(s, "pthread_mutex_init");
    pthread_mutexattr_destroy(&attr); /* the mutex keeps its own copy */
}

/* Now on the monotonic clock, in seconds (it never jumps with the date). */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The patience of the waits below in milliseconds: SHARED_PATIENCE_MS, or
 * SHARED_PATIENCE_S seconds; plus two ticks of the pace. */
static long patience_ms(void)
{
    const char *text = getenv("SHARED_PATIENCE_MS");
    long ms = 1000L * SHARED_PATIENCE_S;
    if (text != NULL && *text != '\0' && !parse_long(text, 1, 60000, &ms))
        fatal("SHARED_PATIENCE_MS must be a whole number of milliseconds "
              "from 1 to 60000, not '%s'", text);
    return ms + 2 * pace_tick_ms();
}

/* Looks a wait must have made, beside its time, before it gives up: two
 * a millisecond of patience.  A process that could look this often had
 * the CPU often enough that the one it waits for could have answered too,
 * however loaded the machine (the partner runs while this one sleeps
 * between looks). */
static long enough_looks(long ms)
{
    return 2 * ms;
}

bool shared_wait_until(pthread_mutex_t *lock, const int *counter, int want)
{
    const struct timespec look_again = { 0, 100 * 1000 }; /* 100 µs */
    long ms = patience_ms();
    double give_up = now_s() + ms / 1000.0;
    for (long looks = 0;; looks++) {
        Pthread_mutex_lock(lock);
        int seen = *counter;
        Pthread_mutex_unlock(lock);
        if (seen >= want)
            return true;
        if (looks >= enough_looks(ms) && now_s() > give_up)
            return false;
        /* Sleeping, rather than spinning, hands the CPU to the process we
         * wait for; a signal that cuts the sleep short does no harm. */
        if (nanosleep(&look_again, NULL) == -1 && errno != EINTR)
            err_exit("nanosleep");
    }
}

bool shared_lock_patiently(pthread_mutex_t *mutex)
{
    /* Try, then look again every 100 microseconds until the deadline.
     * (pthread_mutex_clocklock(3) would sleep instead, but the
     * ThreadSanitizer runtime does not know it, and the sanitizer builds
     * must see every lock.) */
    const struct timespec look_again = { 0, 100 * 1000 }; /* 100 µs */
    long ms = patience_ms();
    double give_up = now_s() + ms / 1000.0;
    for (long looks = 0;; looks++) {
        int s = pthread_mutex_trylock(mutex);
        if (s == 0)
            return true;
        if (s != EBUSY)
            err_exit_en(s, "pthread_mutex_trylock");
        if (looks >= enough_looks(ms) && now_s() > give_up)
            return false;
        if (nanosleep(&look_again, NULL) == -1 && errno != EINTR)
            err_exit("nanosleep");
    }
}

/* The first line of /proc/PID/FILE in buf ("" if it cannot be read). */
static void read_proc(pid_t pid, const char *file, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/%s", (long)pid, file);
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    if (fgets(buf, (int)size, f) == NULL)
        buf[0] = '\0';
    fclose(f);
}

bool shared_is_asleep(pid_t pid)
{
    char stat[512];
    read_proc(pid, "stat", stat, sizeof stat);
    /* "PID (COMM) STATE ...": COMM may hold spaces and ')', so look for
     * the state after the last ')'. */
    const char *end = strrchr(stat, ')');
    return end != NULL && end[1] == ' ' && end[2] == 'S';
}

bool shared_sleeps_on_a_futex(pid_t pid)
{
    char wchan[128];
    read_proc(pid, "wchan", wchan, sizeof wchan);
    return strstr(wchan, "futex") != NULL;
}
