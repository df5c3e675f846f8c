/* named_shm.c - see named_shm.h. */
#include "named_shm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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
        int en = errno;
        snprintf(last_error, sizeof last_error, "fstat: %s", strerror(en));
        errno = en;
        return NULL;
    }
    if (st.st_size == 0) {
        snprintf(last_error, sizeof last_error,
                 "it is 0 bytes long: a new object stays empty until "
                 "ftruncate(2) gives it a size");
        errno = EINVAL;
        return NULL;
    }
    void *memory = mmap(NULL, (size_t)st.st_size, prot, MAP_SHARED, fd, 0);
    if (memory == MAP_FAILED) {
        int en = errno;
        snprintf(last_error, sizeof last_error, "mmap %lld bytes: %s",
                 (long long)st.st_size, strerror(en));
        errno = en;
        return NULL;
    }
    *size = (size_t)st.st_size;
    return memory;
}

const char *nshm_error(void)
{
    return last_error;
}

int nshm_inherited_memfd(char *what, size_t len)
{
    DIR *dir = opendir("/proc/self/fd");
    if (dir == NULL)
        return -1;
    int self = dirfd(dir), found = -1;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end != '\0' || end == e->d_name || fd == self)
            continue;
        char link[64], target[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%ld", fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        if (strncmp(target, "/memfd:", 7) != 0 || (found != -1 && fd > found))
            continue;
        found = (int)fd;
        snprintf(what, len, "%s", target);
    }
    closedir(dir);
    return found;
}

void nshm_seal_names(int seals, char *out, size_t len)
{
    static const struct { int bit; const char *name; } known[] = {
        { F_SEAL_SEAL, "F_SEAL_SEAL" },       { F_SEAL_SHRINK, "F_SEAL_SHRINK" },
        { F_SEAL_GROW, "F_SEAL_GROW" },       { F_SEAL_WRITE, "F_SEAL_WRITE" },
        { F_SEAL_FUTURE_WRITE, "F_SEAL_FUTURE_WRITE" },
    };
    size_t used = 0;
    if (len == 0)
        return;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (seals & known[i].bit) {
            int n = snprintf(out + used, len - used, "%s%s", used ? " " : "",
                             known[i].name);
            if (n > 0 && (size_t)n < len - used)
                used += (size_t)n;
        }
    if (used == 0)
        snprintf(out, len, "none");
}
