#!/usr/bin/env bash
# Lesson 09: lesson 03's writer and reader, waiting without polling.
LESSON=09_waiting
. "$(dirname "$0")/lib.sh"

# The reader sleeps on a condition variable until the writer signals:
# lesson 03's lines, each of 0..4 once and in order.  A condition variable
# that is not process-shared, or not on CLOCK_MONOTONIC, changes the first
# line; a wait that does not wait, or a signal that never comes, ends in a
# message on stderr (exit 1).
test_condvar_reader_sleeps_until_signalled() {
    run_prog wait_value || return
    assert_exit 0 || return
    assertEquals "the reader printed each of 0..4 once, in order" \
        "0 1 2 3 4" "$(sed -n 's/^Reader: \([0-9]*\)$/\1/p' "${OUT}" | xargs)" || return
    assert_output 09_waiting.out
}

# Two semaphores carry the same hand-over, and print the same lines.
test_semaphores_hand_over_the_same_way() {
    run_prog wait_value semaphore || return
    assert_exit 0 || return
    assert_output 09_waiting_semaphore.out
}

# The pace (TICK_MS) sets how long the writer pauses, never who goes first.
test_pace_does_not_change_the_output() {
    TICK_MS=3 run_prog wait_value condvar || return
    assert_exit 0 || return
    assert_output 09_waiting.out
}

# Before each value the writer wakes the sleeping reader with nothing new,
# and waits until it has gone back to sleep: five empty wakeups, always.
# A reader that takes a wakeup for a value (`if` instead of `while`) stops
# waiting too early, and says so on stderr.
test_wakeups_with_nothing_new_are_slept_through() {
    run_prog wait_value spurious || return
    assert_exit 0 || return
    assert_output 09_waiting_spurious.out
}

# The same writer twice, a value every 5 ms: lesson 03's polling reader,
# then the sleeping one.  CPU time depends on the machine and on what else
# runs, so the numbers are masked: only the form of the lines is checked.
test_compare_prints_each_readers_cpu_time() {
    TICK_MS=5 run_prog wait_value compare || return
    assert_exit 0 || return
    assert_line_matches '^Reader \(polling\): [0-9]+\.[0-9] ms of CPU for 5 values, one every 5 ms$' || return
    assert_line_matches '^Reader \(condvar\): [0-9]+\.[0-9] ms of CPU for 5 values, one every 5 ms$' || return
    assert_output 09_waiting_compare.out \
        's/^(Reader \([a-z]+\)): [0-9]+\.[0-9] ms of CPU/\1: N ms of CPU/'
}

# Killed part-way (at human pace, once the writer has said 0), with the
# reader asleep on a condition variable or a semaphore: nothing is left
# behind.  Both live in the anonymous mapping, which has no name in
# /dev/shm, and the children go with their parent (process.h).
test_killed_part_way_leaves_nothing() {
    TICK_MS=1000 run_killed KILL '^Writer: 0$' "${BIN_DIR}/wait_value" || return
    assertEquals "condvar: killed by SIGKILL" 137 "${STATUS}" || return
    TICK_MS=1000 run_killed KILL '^Writer: 0$' "${BIN_DIR}/wait_value" semaphore || return
    assertEquals "semaphore: killed by SIGKILL" 137 "${STATUS}"
}

test_bad_arguments_get_usage() {
    assert_usage_error wait_value poll || return
    assert_usage_error wait_value condvar extra
}

. "${SHUNIT2}"
