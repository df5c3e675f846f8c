/* watch.c - make watch: rerun the check each time an exercise is saved.
 *
 * usage: watch [--poll] DIR -- DRIVER [ARG...]
 *
 * It runs "DRIVER ARG... watch-check" at the start and again each time a
 * .c or .h file under DIR (DIR and its sub-folders, two levels) is saved,
 * and "DRIVER ARG... watch-ACTION" for the keys it reads from stdin:
 *
 *     n  next program (watch-next, then a check)     h  hint (watch-hint)
 *     l  list of lessons (watch-list)                r  check again
 *     x  reset the current exercise (watch-reset; asks y to confirm)
 *     q  quit
 *
 * Keys are read from a terminal one at a time, without Enter; stdin may
 * as well be a pipe, so a script (or a test) can drive it.  At the end of
 * stdin it goes on watching.
 *
 * How it sees a save: inotify(7), where the kernel reports changes; saves
 * in quick succession (an editor writes a file in several steps) are taken
 * as one, after DEBOUNCE ms of quiet.  On file systems where inotify sees
 * nothing - network and host-mounted ones: NFS, SMB/CIFS, 9p (WSL's
 * Windows drives, /mnt/c), FUSE, VirtualBox shared folders - it polls the
 * files' modification times instead, once a second, and says so.  --poll
 * or WATCH_POLL=1 forces polling.  WATCH_INTERVAL_MS and WATCH_DEBOUNCE_MS
 * change the two delays (the tests make them short).
 *
 * Each DRIVER run is a process group of its own.  On Ctrl-C (SIGINT),
 * SIGTERM or SIGHUP, watch ends the running one (SIGTERM, then SIGKILL),
 * and - being a child subreaper (prctl(2)) - also whatever it left, so
 * that no process is left behind.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* statfs(2) f_type of file systems where inotify does not see changes
 * made by other machines (or by the Windows side). */
static const struct { unsigned long magic; const char *name; } remote_fs[] = {
    { 0x6969, "NFS" },
    { 0xFF534D42, "CIFS" },
    { 0xFE534D42, "SMB2" },
    { 0x517B, "SMB" },
    { 0x01021997, "9p (WSL's Windows drives)" },
    { 0x65735546, "FUSE" },
    { 0x786f4256, "VirtualBox shared folder" },
    { 0x00c36400, "Ceph" },
    { 0x5346414F, "AFS" },
    { 0x73757245, "Coda" },
};

static char **driver;       /* DRIVER ARG... with two free slots at the end */
static int driver_argc;
static pid_t child = -1;    /* the running DRIVER, if any */
static struct termios saved_tty;
static int tty_changed;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000 + (double)ts.tv_nsec / 1e6;
}

static long env_ms(const char *name, long fallback)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0')
        return fallback;
    char *end;
    long ms = strtol(v, &end, 10);
    return *end == '\0' && ms > 0 ? ms : fallback;
}

static int is_source(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && n > 2 && name[n - 2] == '.' &&
           (name[n - 1] == 'c' || name[n - 1] == 'h');
}

/* ------------------------------------------------------------ processes */

static void start(const char *action)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == -1) {
        perror("watch: fork");
        return;
    }
    if (pid == 0) {
        setpgid(0, 0);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int null = open("/dev/null", O_RDONLY);
        if (null != -1) {
            dup2(null, STDIN_FILENO);
            close(null);
        }
        driver[driver_argc] = (char *)action;
        driver[driver_argc + 1] = NULL;
        execvp(driver[0], driver);
        fprintf(stderr, "watch: cannot run %s: %s\n", driver[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);
    child = pid;
}

/* SIGKILL every process that is our child now (orphans come to us, the
 * subreaper), and the groups they lead; reap them all. */
static void kill_the_rest(void)
{
    for (int round = 0; round < 50; round++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/task/%ld/children", (long)getpid());
        FILE *f = fopen(path, "r");
        long pid;
        int any = 0;
        while (f != NULL && fscanf(f, "%ld", &pid) == 1) {
            kill(-(pid_t)pid, SIGKILL);
            kill((pid_t)pid, SIGKILL);
            any = 1;
        }
        if (f != NULL)
            fclose(f);
        while (waitpid(-1, NULL, WNOHANG) > 0)
            any = 1;
        if (!any)
            return;
        struct timespec tick = { 0, 10 * 1000 * 1000 };
        nanosleep(&tick, NULL);
    }
}

/* End the running DRIVER: SIGTERM to its group, up to 2 s, then SIGKILL. */
static void stop_child(void)
{
    if (child > 0) {
        kill(-child, SIGTERM);
        double deadline = now_ms() + 2000;
        while (now_ms() < deadline) {
            pid_t r = waitpid(child, NULL, WNOHANG);
            if (r == child || (r == -1 && errno == ECHILD))
                break;
            struct timespec tick = { 0, 10 * 1000 * 1000 };
            nanosleep(&tick, NULL);
        }
        /* Give what the group runs (supervise, a test) a moment to clean. */
        deadline = now_ms() + 1000;
        while (kill(-child, 0) == 0 && now_ms() < deadline) {
            while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
            struct timespec tick = { 0, 10 * 1000 * 1000 };
            nanosleep(&tick, NULL);
        }
        kill(-child, SIGKILL);
        child = -1;
    }
    kill_the_rest();
}

static void restore_tty(void)
{
    if (tty_changed)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
    tty_changed = 0;
}

/* ------------------------------------------------------------ watching */

struct watcher {
    int polling;
    int fd;             /* inotify */
    const char *dir;
    uint64_t signature; /* polling: of every file's name, size, mtime */
    char changed[PATH_MAX];
};

static void add_watches(struct watcher *w, const char *dir, int depth)
{
    const uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE |
                          IN_MOVED_FROM | IN_ATTRIB;
    if (inotify_add_watch(w->fd, dir, mask) == -1)
        return;
    if (depth == 0)
        return;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[PATH_MAX];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            add_watches(w, path, depth - 1);
    }
    if (d != NULL)
        closedir(d);
}

static uint64_t mix(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t k = 0; k < n; k++)
        h = (h ^ p[k]) * 1099511628211ULL;
    return h;
}

/* The sum of one hash per source file: it changes when any file's size or
 * modification time changes, or a file comes or goes. */
static uint64_t scan(const char *dir, int depth, char *newest, size_t size, double *newest_t)
{
    uint64_t sum = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[PATH_MAX];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth > 0)
                sum += scan(path, depth - 1, newest, size, newest_t);
            continue;
        }
        if (!is_source(e->d_name))
            continue;
        uint64_t h = mix(1469598103934665603ULL, path, strlen(path));
        h = mix(h, &st.st_size, sizeof st.st_size);
        h = mix(h, &st.st_mtim, sizeof st.st_mtim);
        h = mix(h, &st.st_ino, sizeof st.st_ino);
        sum += h;
        double t = (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec / 1e9;
        if (t > *newest_t) {
            *newest_t = t;
            snprintf(newest, size, "%s", path);
        }
    }
    if (d != NULL)
        closedir(d);
    return sum;
}

static void watcher_init(struct watcher *w, const char *dir, int force_poll)
{
    w->dir = dir;
    w->fd = -1;
    w->polling = 1;
    const char *why = force_poll ? "asked for (--poll or WATCH_POLL=1)" : NULL;
    struct statfs fs;
    if (why == NULL && statfs(dir, &fs) == 0) {
        for (size_t k = 0; k < sizeof remote_fs / sizeof remote_fs[0]; k++)
            if ((unsigned long)fs.f_type == remote_fs[k].magic) {
                static char buf[160];
                snprintf(buf, sizeof buf, "%s/ is on a %s file system, where inotify sees no changes",
                         dir, remote_fs[k].name);
                why = buf;
            }
    }
    if (why == NULL) {
        w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (w->fd == -1) {
            static char buf[160];
            snprintf(buf, sizeof buf, "inotify is not available: %s", strerror(errno));
            why = buf;
        } else {
            w->polling = 0;
            add_watches(w, dir, 2);
        }
    }
    if (w->polling) {
        double t = 0;
        w->signature = scan(dir, 2, w->changed, sizeof w->changed, &t);
        printf("watch: watching %s/ by polling modification times every %ld ms (%s)\n",
               dir, env_ms("WATCH_INTERVAL_MS", 1000), why);
    } else {
        printf("watch: watching %s/ with inotify (if saves go unseen, as on network or "
               "Windows drives: make watch POLL=1)\n", dir);
    }
}

/* Read the inotify events that are there; 1 if a source file changed. */
static int inotify_changed(struct watcher *w)
{
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    int changed = 0;
    for (;;) {
        ssize_t n = read(w->fd, buf, sizeof buf);
        if (n <= 0)
            return changed;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            if (ev->len > 0 && (ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO))) {
                /* a new folder: watch it too (its full path is not known
                 * from the event alone: rescan from the top) */
                add_watches(w, w->dir, 2);
            } else if (ev->len > 0 && is_source(ev->name)) {
                snprintf(w->changed, sizeof w->changed, "%s", ev->name);
                changed = 1;
            }
            p += sizeof *ev + ev->len;
        }
    }
}

static int poll_changed(struct watcher *w)
{
    double t = 0;
    char newest[PATH_MAX] = "";
    uint64_t sig = scan(w->dir, 2, newest, sizeof newest, &t);
    if (sig == w->signature)
        return 0;
    w->signature = sig;
    snprintf(w->changed, sizeof w->changed, "%s", newest);
    return 1;
}

/* ------------------------------------------------------------ main */

static void legend(const struct watcher *w)
{
    printf("watch: n next | h hint | l list | x reset | r check again | q quit   (%s)\n",
           w->polling ? "polling" : "inotify");
    fflush(stdout);
}

int main(int argc, char *argv[])
{
    int force_poll = getenv("WATCH_POLL") != NULL && *getenv("WATCH_POLL") != '\0' &&
                     strcmp(getenv("WATCH_POLL"), "0") != 0;
    int k = 1;
    if (k < argc && strcmp(argv[k], "--poll") == 0) {
        force_poll = 1;
        k++;
    }
    if (argc - k < 3 || strcmp(argv[k + 1], "--") != 0) {
        fprintf(stderr, "usage: watch [--poll] DIR -- DRIVER [ARG...]\n");
        return 2;
    }
    const char *dir = argv[k];
    driver_argc = argc - (k + 2);
    driver = calloc((size_t)driver_argc + 2, sizeof *driver);
    if (driver == NULL)
        return 1;
    memcpy(driver, &argv[k + 2], (size_t)driver_argc * sizeof *driver);
    setvbuf(stdout, NULL, _IOLBF, 0);
    prctl(PR_SET_CHILD_SUBREAPER, 1);

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGCHLD);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    int sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd == -1) {
        perror("watch: signalfd");
        return 1;
    }

    int keys_open = 1;
    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_tty) == 0) {
        struct termios raw = saved_tty;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
            tty_changed = 1;
    }

    struct watcher w;
    watcher_init(&w, dir, force_poll);
    long interval = env_ms("WATCH_INTERVAL_MS", 1000);
    long debounce = env_ms("WATCH_DEBOUNCE_MS", 200);

    char queue[256];            /* keys and actions waiting for the child */
    size_t queued = 0;
    int dirty = 0, confirm_reset = 0, quit = 0, exit_code = 0;
    double settle_at = 0, next_poll = now_ms() + (double)interval;
    queue[queued++] = 'r';      /* the first check */

    while (!quit) {
        /* Nothing runs: do what is waiting. */
        while (child <= 0 && !quit && (queued > 0 || (dirty && now_ms() >= settle_at))) {
            char key;
            if (dirty && now_ms() >= settle_at) {
                dirty = 0;
                if (confirm_reset) {
                    confirm_reset = 0;
                    printf("watch: reset cancelled (a file was saved)\n");
                }
                printf("\nwatch: %s was saved: checking again\n", w.changed);
                start("watch-check");
                continue;
            }
            key = queue[0];
            memmove(queue, queue + 1, --queued);
            if (confirm_reset) {
                confirm_reset = 0;
                if (key == 'y' || key == 'Y')
                    start("watch-reset"); /* the file it restores is a save: a check follows */
                else {
                    printf("watch: reset cancelled\n");
                    legend(&w);
                }
                continue;
            }
            switch (key) {
            case 'r': start("watch-check"); break;
            case 'n': start("watch-next"); if (queued < sizeof queue) queue[queued++] = 'r'; break;
            case 'h': start("watch-hint"); break;
            case 'l': start("watch-list"); break;
            case 'x':
                printf("watch: reset the current exercise to its untouched version? "
                       "(yours is kept in a copy) press y to confirm\n");
                confirm_reset = 1;
                break;
            case 'q': quit = 1; break;
            default: break;
            }
        }
        if (quit)
            break;

        struct pollfd fds[3];
        int nfds = 0;
        fds[nfds++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
        int key_i = -1, ino_i = -1;
        if (keys_open) {
            key_i = nfds;
            fds[nfds++] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
        }
        if (!w.polling) {
            ino_i = nfds;
            fds[nfds++] = (struct pollfd){ .fd = w.fd, .events = POLLIN };
        }
        double wake = w.polling ? next_poll : now_ms() + 60000;
        if (dirty && child <= 0 && settle_at < wake)
            wake = settle_at; /* (while a check runs, its end comes first) */
        int timeout = (int)(wake - now_ms());
        if (timeout < 0)
            timeout = 0;
        if (poll(fds, (nfds_t)nfds, timeout) == -1 && errno != EINTR)
            break;

        if (fds[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
                if (si.ssi_signo == SIGCHLD) {
                    int status;
                    pid_t r;
                    while ((r = waitpid(-1, &status, WNOHANG)) > 0)
                        if (r == child) {
                            child = -1;
                            if (!confirm_reset)
                                legend(&w);
                        }
                } else {
                    printf("\nwatch: stopped by signal %u\n", si.ssi_signo);
                    exit_code = 128 + (int)si.ssi_signo;
                    quit = 1;
                }
            }
        }
        if (key_i >= 0 && (fds[key_i].revents & (POLLIN | POLLHUP | POLLERR))) {
            char buf[64];
            ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
            if (n <= 0) {
                keys_open = 0; /* no more keys: go on watching */
            } else {
                for (ssize_t j = 0; j < n; j++) {
                    char c = (char)tolower((unsigned char)buf[j]);
                    if (c == 'q' && !confirm_reset) {
                        quit = 1;  /* at once, even while a check runs */
                        break;
                    }
                    if (strchr("nhlxry", c) != NULL && queued < sizeof queue)
                        queue[queued++] = c;
                    else if (confirm_reset && c != '\n' && queued < sizeof queue)
                        queue[queued++] = c;
                }
            }
        }
        if (ino_i >= 0 && (fds[ino_i].revents & POLLIN) && inotify_changed(&w)) {
            dirty = 1;
            settle_at = now_ms() + (double)debounce;
        }
        if (w.polling && now_ms() >= next_poll) {
            next_poll = now_ms() + (double)interval;
            if (poll_changed(&w)) {
                dirty = 1;
                settle_at = now_ms(); /* one interval is already a debounce */
            }
        }
    }
    stop_child();
    restore_tty();
    return exit_code;
}
