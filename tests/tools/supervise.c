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
 * to GRACE_SECONDS to end by themselves - as a manager server must when its
 * owner dies - and only those still running after that count.
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
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
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
    fprintf(f, "cpu_ms %ld\nwall_ms %ld\n", cpu_ms,
            (long)((now_seconds() - started) * 1000));
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
            int killed = kill_and_reap_all(main_pid);
            write_report(started);
            fprintf(stderr,
                    "supervise: timed out after %s s: a deadlock, or a child "
                    "that never exited (%s and %d process(es) killed)\n",
                    argv[1], argv[2], killed > 0 ? killed - 1 : 0);
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
        double grace_end = now_seconds() + GRACE_SECONDS;
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
