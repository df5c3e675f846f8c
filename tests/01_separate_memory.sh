#!/usr/bin/env bash
# Lesson 01: two forked children each add one to their own copy of x, and
# the parent tells how each one ended.
LESSON=01_separate_memory
. "$(dirname "$0")/lib.sh"

BEFORE="MainProcess: {'x': 0}"

# count_lines TEXT: how many lines of the last run's stdout are exactly TEXT.
count_lines() {
    grep -cxF -- "$1" "${OUT}"
}

# Both children printed their line: fork() was called, and each child ran
# the worker.
test_separate_memory__starts_two_children() {
    TIMEOUT_CAUSE="a child or the parent never ended: does every child leave with _exit()?"
    run_prog separate_memory || return
    local c1 c2
    c1=$(count_lines "Process-1: {'x': 1}") c2=$(count_lines "Process-2: {'x': 1}")
    if [ "${c1}" -eq 0 ] || [ "${c2}" -eq 0 ]; then
        sed 's/^/  | /' "${OUT}"
        show_stderr
        fail "${LAST_CMD}: expected a line from Process-1 and one from Process-2, found ${c1} and ${c2}: does main fork() twice, and does each child call speaker_set and worker?"
        return 1
    fi
}

# stdout is a file here, so printf's line waits in stdio's buffer; fork()
# copies that buffer, and a child that flushes it prints the line again.
test_separate_memory__prints_no_line_twice() {
    run_prog separate_memory || return
    local before c1 c2
    before=$(count_lines "${BEFORE}")
    c1=$(grep -c "^Process-1: {'x'" "${OUT}") c2=$(grep -c "^Process-2: {'x'" "${OUT}")
    if [ "${before}" -gt 2 ]; then
        sed 's/^/  | /' "${OUT}"
        fail "${LAST_CMD}: the parent's first line came out ${before} times instead of once (plus the last line): a child printed its copy of stdout's unflushed buffer. Flush stdout (fflush) before every fork(), and end each child with _exit()."
        return 1
    fi
    if [ "${c1}" -ne 1 ] || [ "${c2}" -ne 1 ]; then
        sed 's/^/  | /' "${OUT}"
        fail "${LAST_CMD}: Process-1 printed ${c1} {'x': ...} lines and Process-2 ${c2}, one each expected: does a child fall back into main's loop and fork children of its own? End each child with _exit() right after worker()."
        return 1
    fi
}

# The seed's output: each child saw x become 1; the parent still has 0,
# and its last line comes after the children's, because it waited.
test_separate_memory__each_child_changes_only_its_own_copy() {
    run_prog separate_memory || return
    if [ "$(tail -n 1 "${OUT}")" != "${BEFORE}" ]; then
        sed 's/^/  | /' "${OUT}"
        fail "${LAST_CMD}: the last line should be the parent's ${BEFORE}, printed after both children ended: does main wait for both (waitpid) before its last line?"
        return 1
    fi
    assert_exit 0 || return
    assert_output 01_separate_memory.out
}

# Both children must be alive at once: the parent forks the second before
# it waits for the first.  Seen in the order of the parent's system calls,
# so no timing is involved.
test_separate_memory__children_run_at_the_same_time() {
    if ! command -v strace >/dev/null 2>&1; then
        skip_test "strace is not installed: cannot see the order of fork and waitpid"
        return
    fi
    local trace=${SHUNIT_TMPDIR}/trace
    # LeakSanitizer cannot work under ptrace: no leak check in this run.
    ASAN_OPTIONS=detect_leaks=0 run_cmd "$(command -v strace)" -f -qq -o "${trace}" \
        -e trace=clone,clone3,fork,vfork,wait4,waitid "${BIN_DIR}/separate_memory" || return
    if ! grep -q . "${trace}" 2>/dev/null; then
        skip_test "strace could not trace here (is ptrace allowed?)"
        return
    fi
    # The parent is the pid of the first line.  Number its forks and waits.
    local order
    order=$(awk 'NR == 1 { parent = $1 }
        $1 != parent { next }
        /(clone|clone3)\(.*SIGCHLD|[^a-z_]v?fork\(/ { printf "fork " }
        /(wait4|waitid)\(/ && !/resumed>/ { printf "wait " }' "${trace}")
    case ${order} in
        "fork fork wait wait "*) ;;
        "fork wait fork wait "*)
            fail "separate_memory (under strace): the parent waited for Process-1 before it started Process-2 (system calls: ${order% }), so the children ran one after the other: is waitpid inside the fork loop? Start both, then wait for both."
            return 1 ;;
        *)
            fail "separate_memory (under strace): expected the parent to fork twice and then wait twice; its system calls were: ${order:-none} (fork() is clone on Linux, waitpid is wait4)"
            return 1 ;;
    esac
}

# Python's p.exitcode: the status a child exited with ...
test_separate_memory__reports_a_childs_exit_status() {
    run_prog separate_memory exit 3 || return
    if ! grep -Eq '^MainProcess: Process-2 exitcode 3$' "${OUT}"; then
        sed 's/^/  | /' "${OUT}"
        show_stderr
        fail "${LAST_CMD}: Process-2 exited with status 3, so the parent should print 'MainProcess: Process-2 exitcode 3': does join() take the exit status out of waitpid's status word (WIFEXITED, WEXITSTATUS) rather than return the word itself?"
        return 1
    fi
    if grep -q '^MainProcess: Process-1 exitcode' "${OUT}"; then
        fail "${LAST_CMD}: Process-1 ended normally (exitcode 0), and only a child whose exitcode is not 0 gets a line"
        return 1
    fi
    assert_exit 1 || return
    run_prog separate_memory exit 255 || return
    assert_line_matches '^MainProcess: Process-2 exitcode 255$' \
        "Process-2 exited with status 255; expected the line 'MainProcess: Process-2 exitcode 255'" || return
    assert_exit 1
}

# ... or minus the signal that killed it.
test_separate_memory__reports_a_child_killed_by_a_signal() {
    local sig
    for sig in 15 9; do
        run_prog separate_memory kill "${sig}" || return
        if ! grep -Eq "^MainProcess: Process-2 exitcode -${sig}\$" "${OUT}"; then
            sed 's/^/  | /' "${OUT}"
            show_stderr
            fail "${LAST_CMD}: signal ${sig} killed Process-2, so the parent should print 'MainProcess: Process-2 exitcode -${sig}', as Python's p.exitcode says: does join() tell a killed child (WIFSIGNALED, WTERMSIG) from one that exited?"
            return 1
        fi
        assert_exit 1 || return
    done
}

test_separate_memory__rejects_bad_arguments() {
    assert_usage_error separate_memory extra || return
    assert_usage_error separate_memory exit || return
    assert_usage_error separate_memory exit 256 || return
    assert_usage_error separate_memory kill 0 || return
    assert_usage_error separate_memory exit 3 4
}

. "${SHUNIT2}"
