#!/bin/sh
# sandbox.sh - how `make grade-all` runs each program a lesson test runs.
#
# usage: sh tests/grade/sandbox.sh UID NPROC SUPERVISE TOP SECONDS PROGRAM [ARG...]
#
# tests/grade.sh writes, in each submission's build, a tools/supervise that
# calls this file, so lib.sh's run_prog, run_cmd and run_killed go through
# it unchanged.  The real supervise (SUPERVISE) still runs the program with
# its timeout and its zombie and orphan checks, as the grader's user; the
# program gets at most NPROC processes and threads, no core dumps, and, when
# UID is not "-" (the grader is root), runs as that uid: it can use the
# scratch folder TMPDIR of its run, and read and run its own build, but
# write nothing of the grader's (the test's files, the logs, the results).
uid=$1 nproc=$2 real=$3 top=$4 secs=$5
shift 5
if [ "${uid}" != - ]; then
    if [ -n "${TMPDIR:-}" ] && [ -d "${TMPDIR}" ]; then
        # The run's own scratch folder belongs to the uid; the test's
        # folders above it, up to TOP (the tests' TMPDIR), may be passed
        # through (mode 711) but not listed, and the test's own files in
        # them are root's: readable, never writable.
        chown "${uid}:${uid}" "${TMPDIR}" || exit 125
        d=${TMPDIR%/*}
        while [ "${#d}" -gt "${#top}" ]; do
            chmod 711 "${d}" || exit 125
            d=${d%/*}
        done
    fi
    # strace (a test that looks at system calls): strace itself runs as
    # the grader, with no new privileges, so that it can write the trace
    # where the test asked and the program cannot touch it, and starts the
    # program as the student's user (grade<UID>, named in this submission's
    # own /etc/passwd by tests/grade.sh).  Its -u drops the privileges in
    # the child before the program's execve, which is where the trace
    # starts: the trace holds the program's calls only, as it does outside
    # the sandbox.  (Without the name: strace runs as the student.)
    case ${1##*/} in
        strace)
            if getent passwd "grade${uid}" >/dev/null 2>&1; then
                strace=$1
                shift
                exec "${real}" "${secs}" prlimit --nproc="${nproc}" --core=0 --fsize=$((64 << 20)) -- \
                    setpriv --no-new-privs -- "${strace}" -u "grade${uid}" "$@"
            fi ;;
    esac
    exec "${real}" "${secs}" prlimit --nproc="${nproc}" --core=0 --fsize=$((64 << 20)) -- \
        setpriv --reuid="${uid}" --regid="${uid}" --clear-groups --no-new-privs -- "$@"
fi
exec "${real}" "${secs}" prlimit --nproc="${nproc}" --core=0 --fsize=$((64 << 20)) -- "$@"
