/* process.c - see process.h. */
#include "process.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "errors.h"
#include "say.h"

pid_t process_start(const char *name, process_body body, void *arg)
{
    static int started; /* how many children this process has started */
    started++;

    fflush(stdout); /* the child must not inherit unwritten output */
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == -1)
        err_exit("fork");
    if (pid == 0) {
        /* Go when the parent goes, even if it is killed: no orphan keeps
         * waiting for a partner that is gone.  (The check covers a parent
         * that died before prctl.) */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
            err_exit("prctl PR_SET_PDEATHSIG");
        if (getppid() != parent)
            _exit(1); /* the parent is already gone: nobody to work for */
        if (name != NULL)
            speaker_set("%s", name);
        else
            speaker_set("Process-%d", started);
        body(arg);
        leave(0);
    }
    return pid;
}

int process_join(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) == -1)
        if (errno != EINTR)
            err_exit("waitpid %ld", (long)pid);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
