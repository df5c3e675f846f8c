#!/usr/bin/env bash
# Lesson 02: two threads share x; the mutex makes each update whole.
LESSON=02_threads_mutex
. "$(dirname "$0")/lib.sh"

# The seed's output.  Which thread gets there first is up to the scheduler,
# so the thread numbers are masked to N: one thread saw x become 1, the other
# saw it become 2, and the main thread, after joining both, sees 2.
test_threads_share_x() {
    run_prog threads_mutex || return
    assert_exit 0 || return
    assert_output 02_threads_mutex.out 's/^Thread-[12]:/Thread-N:/' || return
    assertEquals "one line from each thread" "Thread-1 Thread-2" \
        "$(grep -o '^Thread-[0-9]*' "${OUT}" | sort | tr '\n' ' ' | sed 's/ $//')"
}

test_locked_count_is_exact() {
    run_prog threads_mutex count 200000 || return
    assert_exit 0 || return
    assert_output 02_threads_mutex_count.out
}

# Without the lock the count is usually short, but not always (one CPU, a
# lucky schedule): only the form of the line is certain.
test_unlocked_count_reports_against_expected() {
    local want=0
    # Under `make tsan` this run is itself the race report, and TSan exits 66.
    [ "${VARIANT:-}" = tsan ] && want=66
    run_prog threads_mutex count 200000 unlocked || return
    assert_exit "${want}" || return
    assert_line_matches "^MainThread: 2 threads x 200000 increments without a lock: counter [0-9]+, expected 400000( \\(lost [0-9]+\\))?$"
}

# The proof that does not depend on luck: ThreadSanitizer watches every
# access and reports two threads touching x with nothing ordering them.
test_tsan_finds_the_race_without_the_lock() {
    run_cmd "${TSAN_BIN_DIR}/threads_mutex" count 1000 unlocked || return
    assert_stderr_matches 'WARNING: ThreadSanitizer: data race' \
        "ThreadSanitizer should report a data race on x without the lock"
}

test_tsan_is_quiet_with_the_lock() {
    run_cmd "${TSAN_BIN_DIR}/threads_mutex" count 1000 || return
    assert_stderr_lacks 'ThreadSanitizer' \
        "ThreadSanitizer reports a data race: is every access to x under the lock?" || return
    assert_exit 0
}

test_bad_arguments_get_usage() {
    assert_usage_error threads_mutex count || return
    assert_usage_error threads_mutex count lots || return
    assert_usage_error threads_mutex count 0 || return
    assert_usage_error threads_mutex count 10 sideways || return
    assert_usage_error threads_mutex fast
}

. "${SHUNIT2}"
