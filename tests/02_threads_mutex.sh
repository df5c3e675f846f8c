#!/usr/bin/env bash
# Lesson 02: two threads share x; the mutex makes each update whole.
LESSON=02_threads_mutex
. "$(dirname "$0")/lib.sh"

HANG="the program hung: is the mutex unlocked after every update (a thread that locks it again while holding it waits for itself for ever)? And are both threads started before either is joined (in the count form they wait for each other at the start)?"

# Both threads ran the worker and the main thread joined them: one line
# from each thread, and main's line last.
test_threads_mutex__starts_and_joins_two_threads() {
    TIMEOUT_CAUSE=${HANG}
    run_prog threads_mutex || return
    local t1 t2
    t1=$(grep -c '^Thread-1: ' "${OUT}") t2=$(grep -c '^Thread-2: ' "${OUT}")
    if [ "${t1}" -ne 1 ] || [ "${t2}" -ne 1 ]; then
        sed 's/^/  | /' "${OUT}"
        show_stderr
        fail "${LAST_CMD}: expected one line from Thread-1 and one from Thread-2, found ${t1} and ${t2}: does main start worker() in two threads (pthread_create), the first with &tasks[0] and the second with &tasks[1]?"
        return 1
    fi
    if [ "$(tail -n 1 "${OUT}")" != "MainThread: {'x': 2}" ]; then
        sed 's/^/  | /' "${OUT}"
        fail "${LAST_CMD}: the last line should be MainThread: {'x': 2}, printed after both threads ended: does main join both (pthread_join) before it prints?"
        return 1
    fi
    assert_exit 0
}

# The seed's output.  Which thread gets there first is up to the scheduler,
# so the thread numbers are masked to N: one thread saw x become 1, the other
# saw it become 2, and the main thread, after joining both, sees 2.
test_threads_mutex__threads_share_x() {
    TIMEOUT_CAUSE=${HANG}
    run_prog threads_mutex || return
    assert_exit 0 || return
    assert_output 02_threads_mutex.out 's/^Thread-[12]:/Thread-N:/'
}

# pthread_create fails here for want of address space: each thread's stack
# is as large as the stack limit (4 GB), more than the 2 GB allowed.  It
# returns EAGAIN and sets no errno, so only a program that reports the
# number it returned says "Resource temporarily unavailable".
test_threads_mutex__reports_a_failed_pthread_create() {
    case ${VARIANT:-} in asan | tsan)
        skip_test "the ${VARIANT} run-time needs more address space than this test allows"
        return ;;
    esac
    run_cmd /bin/bash -c 'ulimit -s 4000000 && ulimit -v 2000000 && exec "$0" count 10' \
        "${BIN_DIR}/threads_mutex" || return
    LAST_CMD="threads_mutex count 10 (with too little memory for a thread's stack)"
    if [ "${STATUS}" -ne 1 ]; then
        sed 's/^/  | /' "${OUT}"
        show_stderr
        fail "${LAST_CMD}: pthread_create could not make a thread, so the program should say why and exit with status 1, but its exit status was ${STATUS}: is pthread_create's result checked (it returns 0 or an error number)?"
        return 1
    fi
    assert_stderr_matches 'pthread_create.*Resource temporarily unavailable' \
        "pthread_create failed with EAGAIN, and the message should say so (Resource temporarily unavailable): pthread calls return the error number and do not set errno - report it with err_exit_en(result, ...), not err_exit"
}

# With the lock every update counts; on one CPU as well.  A lock that does
# not cover both the read and the write is found free between them, and
# the program then forces a collision there, as in the unlocked mode.
test_threads_mutex__the_lock_keeps_every_update() {
    local pin
    for pin in "" 0; do
        TIMEOUT_CAUSE=${HANG}
        if [ -n "${pin}" ]; then
            command -v taskset >/dev/null 2>&1 || continue
            run_cmd "$(command -v taskset)" -c "${pin}" "${BIN_DIR}/threads_mutex" count 1000 || return
            LAST_CMD="taskset -c ${pin} threads_mutex count 1000"
        else
            run_prog threads_mutex count 1000 || return
        fi
        assert_exit 0 || return
        if ! grep -q 'counter 2000, expected 2000$' "${OUT}"; then
            sed 's/^/  | /' "${OUT}"
            fail "${LAST_CMD}: updates were lost with the lock: are both the read and the write of x between pthread_mutex_lock and pthread_mutex_unlock, on the one shared mutex s->lock?"
            return 1
        fi
        assert_output 02_threads_mutex_count.out || return
    done
}

# Without the lock the forced interleaving (every 10th update of each thread
# waits between its read and its write until the other has read) loses
# updates on every run.
test_threads_mutex__without_the_lock_updates_are_lost() {
    local want=0
    # Under `make tsan` this run is itself the race report, and TSan exits 66.
    [ "${VARIANT:-}" = tsan ] && want=66
    run_prog threads_mutex count 1000 unlocked || return
    assert_exit "${want}" || return
    assert_line_matches '^MainThread: 2 threads x 1000 increments without a lock: counter [0-9]+, expected 2000 \(lost [1-9][0-9]*\)$' \
        "the unlocked mode lost no update: does it still lock? It must stay unlocked, to show what goes wrong"
}

# ThreadSanitizer sees the two threads touch x with nothing ordering them.
test_threads_mutex__tsan_finds_the_race_without_the_lock() {
    run_cmd "${TSAN_BIN_DIR}/threads_mutex" count 100 unlocked || return
    assert_stderr_matches 'WARNING: ThreadSanitizer: data race' \
        "ThreadSanitizer should report a data race on x without the lock"
}

test_threads_mutex__tsan_is_quiet_with_the_lock() {
    TIMEOUT_CAUSE=${HANG}
    run_cmd "${TSAN_BIN_DIR}/threads_mutex" count 100 || return
    assert_stderr_lacks 'ThreadSanitizer' \
        "ThreadSanitizer reports a data race with the lock: is every access to x, the read and the write, under the lock?" || return
    assert_exit 0
}

test_threads_mutex__rejects_bad_arguments() {
    assert_usage_error threads_mutex count || return
    assert_usage_error threads_mutex count lots || return
    assert_usage_error threads_mutex count 0 || return
    assert_usage_error threads_mutex count 10 sideways || return
    assert_usage_error threads_mutex fast
}

. "${SHUNIT2}"
