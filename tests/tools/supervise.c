/* supervise.c - run one lesson program for a test and make sure it ends clean.
 *
 * usage: supervise SECONDS PROGRAM [ARG...]
 *
 * This is the test suite's one way to run a program under a timeout.
 *
 * - PROGRAM runs in a process group of its own, so that on a timeout the
 *   whole group (the program and every child it made) is killed at once.
 * - supervise makes itself a "child subreaper" (prctl(2),
 *   PR_SET_CHILD_SUBREAPER): any process the program leaves behind - a child
 *   it never waited for, or one still running when it exits - is handed to
 *   supervise instead of to init.  That makes "no zombie, no orphan" a fact
 *   the test can check every time, not a race to catch with ps.
 *
 * When a signal killed the program (a test that kills it part-way does
 * that), it could not wait for anyone: then the processes it leaves get up
 * to SUPERVISE_GRACE seconds (environment; 5 unless set) to end by
 * themselves - as a manager server must when its owner dies - and only
 * those still running after that count.
 *
 * On a timeout, before it kills anything, supervise looks at what each
 * process of the run was blocked in (/proc/PID/task/TID/syscall, and
 * /proc/PID/task/TID/wchan where the system call number cannot be read;
 * see proc(5)) and says it in words, one "supervise: stuck:" line per
 * process and system call, e.g.
 *   supervise: stuck: counter (pid 4242) in futex: waiting on a lock or
 *   condition that is never released or signalled
 *
 * One exception: the symbolizer that clang's sanitizer runtimes start to
 * turn addresses into file:line (llvm-symbolizer) is never waited for by
 * them.  It is the runtime's helper, not the program's child, and is not
 * counted (it is still killed and reaped).
 *
 * Exit status:
 *   the program's own status (128 + N if signal N killed it), when it ended
 *   in time and left nothing behind;
 *   123 when it left processes behind (they are killed and reaped);
 *   124 when it ran out of time (everything is killed and reaped);
 *   125 for supervise's own usage errors, 127 when PROGRAM cannot be run.
 * (A program that itself exits with 123, 124 or 127 is taken for these; no
 * lesson program does.)
 * What went wrong is said on stderr, in a line starting "supervise:".
 *
 * With SUPERVISE_REPORT=FILE in the environment, supervise also writes what
 * the run cost to FILE, as "name value" lines a test can read:
 *   cpu_ms N    CPU time (user + system) of every process of the run that
 *               was waited for - the program, and the children it or
 *               supervise reaped (getrusage(2), RUSAGE_CHILDREN)
 *   wall_ms N   time from the start to the end of the program
 *   stuck COMM PID SYSCALL WORDS...
 *               (on a timeout, one line per process and system call it
 *               was blocked in, as on stderr)
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { GRACE_SECONDS = 5 };
enum { LEFT_BEHIND = 123, TIMED_OUT = 124, USAGE = 125, CANNOT_RUN = 127 };

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Is pid the sanitizer runtime's symbolizer (see the top of the file)? */
static int is_sanitizer_helper(pid_t pid)
{
    char path[64], comm[32] = "";
    snprintf(path, sizeof path, "/proc/%ld/comm", (long)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    if (fgets(comm, sizeof comm, f) == NULL)
        comm[0] = '\0';
    fclose(f);
    return strncmp(comm, "llvm-symbolizer", 15) == 0;
}

/* Reap one child that has ended, if there is one, and return its pid (0 if
 * none has ended, -1 if we have no children at all).  *left_behind is set
 * when it was not the program itself nor a sanitizer helper.  The child is
 * looked at first with WNOWAIT, while /proc still knows its name. */
static pid_t reap_one(pid_t main_pid, int *status, int *left_behind)
{
    siginfo_t info;
    info.si_pid = 0;
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == -1)
        return -1;
    pid_t pid = info.si_pid;
    if (pid == 0)
        return 0;
    *left_behind = pid != main_pid && !is_sanitizer_helper(pid);
    while (waitpid(pid, status, 0) == -1 && errno == EINTR)
        ;
    return pid;
}

/* Our children that are still there, at most max of them, into pids[];
 * returns how many.  /proc/self/task/TID/children lists them; supervise is
 * single-threaded, so TID is our pid. */
static int list_children(pid_t *pids, int max)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%ld/children", (long)getpid());
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    int n = 0;
    long pid;
    while (n < max && fscanf(f, "%ld", &pid) == 1)
        pids[n++] = (pid_t)pid;
    fclose(f);
    return n;
}

/* How many children we have that are still running, helpers left out. */
static int count_running_children(void)
{
    pid_t pids[256];
    int n = list_children(pids, 256), running = 0;
    for (int k = 0; k < n; k++)
        running += !is_sanitizer_helper(pids[k]);
    return running;
}

/* SIGKILL every child of ours that is still there, and its process group. */
static void kill_children(pid_t group)
{
    if (group > 0)
        kill(-group, SIGKILL);
    pid_t pids[256];
    int n = list_children(pids, 256);
    for (int k = 0; k < n; k++) {
        kill(-pids[k], SIGKILL); /* its group, if it leads one */
        kill(pids[k], SIGKILL);
    }
}

/* Kill and reap everything that is left; returns how many were reaped. */
static int kill_and_reap_all(pid_t group)
{
    int reaped = 0;
    for (;;) {
        kill_children(group);
        int status;
        pid_t r = waitpid(-1, &status, 0);
        if (r == -1) {
            if (errno == EINTR)
                continue;
            return reaped; /* ECHILD: nobody is left */
        }
        reaped++;
    }
}

/* ------------------------------------------------------------ diagnosis */

/* What a process blocked in a system call is waiting for, in words. */
struct blocker {
    long nr;
    const char *name, *words;
};

#define LOCK "waiting on a lock or condition that is never released or signalled"
#define CHILD "waiting for a child that never ends"
#define MESSAGE "waiting for a message that never comes"
#define ROOM "waiting for room to write: nobody reads the other end"
#define SLEEP "sleeping: a sleep that is too long, or a loop that sleeps for ever"
#define SIGNAL "waiting for a signal that never comes"

static const struct blocker blockers[] = {
    { SYS_futex, "futex", LOCK },
#ifdef SYS_futex_waitv
    { SYS_futex_waitv, "futex_waitv", LOCK },
#endif
#ifdef SYS_semop
    { SYS_semop, "semop", LOCK },
#endif
    { SYS_semtimedop, "semtimedop", LOCK },
    { SYS_flock, "flock", LOCK },
    { SYS_fcntl, "fcntl", LOCK },
    { SYS_wait4, "wait4", CHILD },
    { SYS_waitid, "waitid", CHILD },
    { SYS_read, "read", MESSAGE },
    { SYS_readv, "readv", MESSAGE },
    { SYS_pread64, "pread64", MESSAGE },
    { SYS_recvfrom, "recvfrom", MESSAGE },
    { SYS_recvmsg, "recvmsg", MESSAGE },
#ifdef SYS_poll
    { SYS_poll, "poll", MESSAGE },
#endif
    { SYS_ppoll, "ppoll", MESSAGE },
#ifdef SYS_select
    { SYS_select, "select", MESSAGE },
#endif
    { SYS_pselect6, "pselect6", MESSAGE },
#ifdef SYS_epoll_wait
    { SYS_epoll_wait, "epoll_wait", MESSAGE },
#endif
    { SYS_epoll_pwait, "epoll_pwait", MESSAGE },
#ifdef SYS_accept
    { SYS_accept, "accept", MESSAGE },
#endif
    { SYS_accept4, "accept4", MESSAGE },
    { SYS_connect, "connect", MESSAGE },
    { SYS_msgrcv, "msgrcv", MESSAGE },
    { SYS_mq_timedreceive, "mq_timedreceive", MESSAGE },
    { SYS_write, "write", ROOM },
    { SYS_writev, "writev", ROOM },
    { SYS_sendto, "sendto", ROOM },
    { SYS_sendmsg, "sendmsg", ROOM },
    { SYS_nanosleep, "nanosleep", SLEEP },
    { SYS_clock_nanosleep, "clock_nanosleep", SLEEP },
#ifdef SYS_pause
    { SYS_pause, "pause", SIGNAL },
#endif
    { SYS_rt_sigsuspend, "rt_sigsuspend", SIGNAL },
    { SYS_rt_sigtimedwait, "rt_sigtimedwait", SIGNAL },
};

/* The kernel function a thread sleeps in (wchan), where the system call
 * number is not readable: the same words, from the function's name. */
static const struct { const char *part, *name, *words; } wchans[] = {
    { "futex", "futex", LOCK },
    { "do_wait", "wait4", CHILD },
    { "pipe_read", "read", MESSAGE },
    { "unix_stream_read", "recv", MESSAGE },
    { "sk_wait", "recv", MESSAGE },
    { "poll", "poll", MESSAGE },
    { "select", "select", MESSAGE },
    { "accept", "accept", MESSAGE },
    { "pipe_write", "write", ROOM },
    { "nanosleep", "nanosleep", SLEEP },
    { "sigsuspend", "rt_sigsuspend", SIGNAL },
};

struct proc {
    pid_t pid, ppid, pgrp;
    char state;
    char comm[32];
    int mine;
};

/* Read the first line of a /proc file into buf; 0 on success. */
static int read_line(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char *ok = fgets(buf, (int)size, f);
    fclose(f);
    if (ok == NULL)
        return -1;
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

/* Parse /proc/PID/stat: "pid (comm) state ppid pgrp ..." (comm may hold
 * spaces and parentheses: it ends at the last ')'). */
static int read_stat(pid_t pid, struct proc *p)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    if (read_line(path, buf, sizeof buf) != 0)
        return -1;
    char *open = strchr(buf, '('), *close = strrchr(buf, ')');
    if (open == NULL || close == NULL || close < open)
        return -1;
    size_t n = (size_t)(close - open - 1);
    if (n >= sizeof p->comm)
        n = sizeof p->comm - 1;
    memcpy(p->comm, open + 1, n);
    p->comm[n] = '\0';
    for (char *c = p->comm; *c; c++)
        if (isspace((unsigned char)*c))
            *c = '_';
    long ppid, pgrp;
    if (sscanf(close + 1, " %c %ld %ld", &p->state, &ppid, &pgrp) != 3)
        return -1;
    p->pid = pid;
    p->ppid = (pid_t)ppid;
    p->pgrp = (pid_t)pgrp;
    p->mine = 0;
    return 0;
}

/* What thread tid of pid is blocked in: its system call's name and the
 * words for it. */
static void blocked_in(pid_t pid, const char *tid, char state,
                       char *name, size_t size, const char **words)
{
    char path[96], buf[256];
    *words = NULL;
    if (state == 'Z') {
        snprintf(name, size, "exit");
        *words = "has ended, but nobody waited for it (a zombie)";
        return;
    }
    if (state == 'T' || state == 't') {
        snprintf(name, size, "stop");
        *words = "is stopped by a signal (SIGSTOP)";
        return;
    }
    snprintf(path, sizeof path, "/proc/%ld/task/%s/syscall", (long)pid, tid);
    if (read_line(path, buf, sizeof buf) == 0) {
        if (strncmp(buf, "running", 7) == 0 || state == 'R') {
            snprintf(name, size, "running");
            *words = "running without end: a loop that never stops, or spinning on a flag";
            return;
        }
        char *end;
        long nr = strtol(buf, &end, 10);
        if (end != buf && nr >= 0) {
            for (size_t k = 0; k < sizeof blockers / sizeof blockers[0]; k++)
                if (blockers[k].nr == nr) {
                    snprintf(name, size, "%s", blockers[k].name);
                    *words = blockers[k].words;
                    return;
                }
            snprintf(name, size, "syscall_%ld", nr);
        }
    }
    snprintf(path, sizeof path, "/proc/%ld/task/%s/wchan", (long)pid, tid);
    if (read_line(path, buf, sizeof buf) == 0 && buf[0] != '\0' && strcmp(buf, "0") != 0) {
        for (size_t k = 0; k < sizeof wchans / sizeof wchans[0]; k++)
            if (strstr(buf, wchans[k].part) != NULL) {
                snprintf(name, size, "%s", wchans[k].name);
                *words = wchans[k].words;
                return;
            }
        if (name[0] == '\0')
            snprintf(name, size, "%.40s", buf);
    }
    if (name[0] == '\0')
        snprintf(name, size, state == 'R' ? "running" : "unknown");
    *words = state == 'R' ? "running without end: a loop that never stops, or spinning on a flag"
                          : "blocked in the kernel";
}

static char diagnosis[8192];
static size_t diagnosis_len;

/* Describe every process of the run (those in the program's group, our
 * children, and their descendants) into diagnosis[], and on stderr. */
static void diagnose(pid_t group)
{
    DIR *d = opendir("/proc");
    if (d == NULL)
        return;
    size_t cap = 1024, n = 0;
    struct proc *ps = malloc(cap * sizeof *ps);
    struct dirent *e;
    while (ps != NULL && (e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        if (n == cap) {
            struct proc *more = realloc(ps, 2 * cap * sizeof *ps);
            if (more == NULL)
                break;
            ps = more;
            cap *= 2;
        }
        if (read_stat((pid_t)atol(e->d_name), &ps[n]) == 0)
            n++;
    }
    closedir(d);
    if (ps == NULL)
        return;
    pid_t self = getpid();
    for (size_t k = 0; k < n; k++)
        ps[k].mine = ps[k].pid != self && (ps[k].pgrp == group || ps[k].ppid == self);
    for (int changed = 1, round = 0; changed && round < 64; round++) {
        changed = 0;
        for (size_t k = 0; k < n; k++)
            for (size_t j = 0; !ps[k].mine && j < n; j++)
                if (ps[j].mine && ps[k].ppid == ps[j].pid)
                    ps[k].mine = changed = 1;
    }
    for (size_t k = 0; k < n; k++) {
        if (!ps[k].mine || is_sanitizer_helper(ps[k].pid))
            continue;
        /* Group the process's threads by what they are blocked in. */
        struct { char name[48]; const char *words; int threads; } seen[16];
        int kinds = 0, threads = 0;
        char path[64];
        snprintf(path, sizeof path, "/proc/%ld/task", (long)ps[k].pid);
        DIR *t = opendir(path);
        while (t != NULL && (e = readdir(t)) != NULL) {
            if (!isdigit((unsigned char)e->d_name[0]))
                continue;
            struct proc th;
            char tpath[64];
            snprintf(tpath, sizeof tpath, "%ld/task/%.20s", (long)ps[k].pid, e->d_name);
            th.state = ps[k].state;
            char sbuf[512], spath[96];
            snprintf(spath, sizeof spath, "/proc/%s/stat", tpath);
            if (read_line(spath, sbuf, sizeof sbuf) == 0) {
                char *close = strrchr(sbuf, ')');
                if (close != NULL && close[1] == ' ')
                    th.state = close[2];
            }
            char name[48] = "";
            const char *words;
            blocked_in(ps[k].pid, e->d_name, th.state, name, sizeof name, &words);
            threads++;
            int j;
            for (j = 0; j < kinds; j++)
                if (strcmp(seen[j].name, name) == 0)
                    break;
            if (j == kinds && kinds < 16) {
                snprintf(seen[j].name, sizeof seen[j].name, "%s", name);
                seen[j].words = words;
                seen[j].threads = 0;
                kinds++;
            }
            if (j < kinds)
                seen[j].threads++;
        }
        if (t != NULL)
            closedir(t);
        if (kinds == 0) { /* a zombie has no readable tasks left */
            const char *words;
            char name[48] = "";
            blocked_in(ps[k].pid, "0", ps[k].state, name, sizeof name, &words);
            snprintf(seen[0].name, sizeof seen[0].name, "%s", name);
            seen[0].words = words;
            seen[0].threads = threads = 1;
            kinds = 1;
        }
        for (int j = 0; j < kinds; j++) {
            char of[48] = "";
            if (threads > 1)
                snprintf(of, sizeof of, " (%d of %d threads)", seen[j].threads, threads);
            int running = strcmp(seen[j].name, "running") == 0;
            fprintf(stderr, "supervise: stuck: %s (pid %ld)%s%s: %s%s\n", ps[k].comm,
                    (long)ps[k].pid, running ? "" : " in ", running ? "" : seen[j].name,
                    seen[j].words, of);
            int w = snprintf(diagnosis + diagnosis_len, sizeof diagnosis - diagnosis_len,
                             "stuck %s %ld %s %s%s\n", ps[k].comm, (long)ps[k].pid,
                             seen[j].name, seen[j].words, of);
            if (w > 0 && (size_t)w < sizeof diagnosis - diagnosis_len)
                diagnosis_len += (size_t)w;
        }
    }
    free(ps);
}

/* Write the SUPERVISE_REPORT file, if one is asked for (see the top). */
static void write_report(double started)
{
    const char *path = getenv("SUPERVISE_REPORT");
    if (path == NULL || *path == '\0')
        return;
    struct rusage ru;
    if (getrusage(RUSAGE_CHILDREN, &ru) == -1)
        return;
    long cpu_ms = (long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
                  (long)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "supervise: cannot write %s: %s\n", path, strerror(errno));
        return;
    }
    fprintf(f, "cpu_ms %ld\nwall_ms %ld\n%s", cpu_ms,
            (long)((now_seconds() - started) * 1000), diagnosis);
    fclose(f);
}

int main(int argc, char *argv[])
{
    if (argc < 3) {
        fprintf(stderr, "usage: supervise SECONDS PROGRAM [ARG...]\n");
        return USAGE;
    }
    char *end;
    double limit = strtod(argv[1], &end);
    if (*end != '\0' || !(limit > 0)) {
        fprintf(stderr, "supervise: SECONDS must be a positive number, not '%s'\n",
                argv[1]);
        return USAGE;
    }
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1) {
        perror("supervise: prctl(PR_SET_CHILD_SUBREAPER)");
        return USAGE;
    }

    /* SIGCHLD stays blocked and is taken with sigtimedwait(), which makes
     * "wait for a child or for the deadline" a single call.  So are the
     * signals that stop supervise itself (a Ctrl-C, a kill): the program
     * lives in a process group of its own and would not get them, so
     * supervise takes everything down before it goes. */
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigaddset(&chld, SIGTERM);
    sigaddset(&chld, SIGINT);
    sigaddset(&chld, SIGHUP);
    sigprocmask(SIG_BLOCK, &chld, &old);

    pid_t main_pid = fork();
    if (main_pid == -1) {
        perror("supervise: fork");
        return CANNOT_RUN;
    }
    if (main_pid == 0) {
        setpgid(0, 0);
        sigprocmask(SIG_SETMASK, &old, NULL);
        execvp(argv[2], &argv[2]);
        fprintf(stderr, "supervise: cannot run %s: %s\n", argv[2], strerror(errno));
        _exit(CANNOT_RUN);
    }
    setpgid(main_pid, main_pid); /* also here: whichever runs first wins */

    double started = now_seconds(), deadline = started + limit;
    int main_status = 0, unreaped = 0;
    for (;;) {
        int status, left_behind;
        pid_t r = reap_one(main_pid, &status, &left_behind);
        if (r == main_pid) {
            main_status = status;
            break;
        }
        if (r > 0) {    /* a process the program never waited for */
            unreaped += left_behind;
            continue;
        }
        double left = deadline - now_seconds();
        if (left <= 0) {
            /* Say what they were blocked in, then kill. */
            fprintf(stderr, "supervise: timed out after %s s; what each process was doing:\n",
                    argv[1]);
            diagnose(main_pid);
            int killed = kill_and_reap_all(main_pid);
            write_report(started);
            fprintf(stderr,
                    "supervise: killed %s and %d other process(es)\n",
                    argv[2], killed > 0 ? killed - 1 : 0);
            return TIMED_OUT;
        }
        struct timespec ts = { (time_t)left, (long)((left - (double)(time_t)left) * 1e9) };
        int sig = sigtimedwait(&chld, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
            kill_and_reap_all(main_pid);
            fprintf(stderr, "supervise: stopped by signal %d; %s was killed\n", sig, argv[2]);
            return 128 + sig;
        }
    }

    /* The program has ended.  Anything that is still our child now was left
     * behind by it: already dead but never waited for, or still running. */
    int status, left_behind;
    if (WIFSIGNALED(main_status)) {
        /* Killed: let what it left end on its own, for a while. */
        const char *grace = getenv("SUPERVISE_GRACE");
        double grace_s = grace != NULL && *grace != '\0' ? strtod(grace, NULL) : GRACE_SECONDS;
        double grace_end = now_seconds() + (grace_s > 0 ? grace_s : 0);
        while (count_running_children() > 0 && now_seconds() < grace_end) {
            while (reap_one(main_pid, &status, &left_behind) > 0)
                ;
            struct timespec tick = { 0, 10 * 1000 * 1000 };
            sigtimedwait(&chld, NULL, &tick);
        }
        while (reap_one(main_pid, &status, &left_behind) > 0)
            ;
    }
    while (reap_one(main_pid, &status, &left_behind) > 0)
        unreaped += left_behind;
    int running = count_running_children();
    kill_and_reap_all(main_pid);
    if (unreaped > 0)
        fprintf(stderr, "supervise: %s left %d child process(es) it never "
                "waited for (zombies)\n", argv[2], unreaped);
    if (running > 0)
        fprintf(stderr, "supervise: %s left %d process(es) still running "
                "(orphans); they were killed\n", argv[2], running);
    write_report(started);
    if (unreaped > 0 || running > 0)
        return LEFT_BEHIND;

    if (WIFSIGNALED(main_status))
        return 128 + WTERMSIG(main_status);
    return WEXITSTATUS(main_status);
}
