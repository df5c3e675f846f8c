/* named_shm.c - see named_shm.h. */
#include "named_shm.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

static char last_error[256];

bool nshm_name_ok(const char *name)
{
    size_t len = strlen(name);
    return len >= 2 && len <= NAME_MAX && name[0] == '/' &&
           strchr(name + 1, '/') == NULL;
}

void *nshm_map(int fd, int prot, size_t *size)
{
    struct stat st;
    if (fstat(fd, &st) == -1) {
        snprintf(last_error, sizeof last_error, "fstat: %s", strerror(errno));
        return NULL;
    }
    if (st.st_size == 0) {
        snprintf(last_error, sizeof last_error,
                 "it is 0 bytes long: a new object stays empty until "
                 "ftruncate(2) gives it a size");
        return NULL;
    }
    void *memory = mmap(NULL, (size_t)st.st_size, prot, MAP_SHARED, fd, 0);
    if (memory == MAP_FAILED) {
        snprintf(last_error, sizeof last_error, "mmap %lld bytes: %s",
                 (long long)st.st_size, strerror(errno));
        return NULL;
    }
    *size = (size_t)st.st_size;
    return memory;
}

const char *nshm_error(void)
{
    return last_error;
}
