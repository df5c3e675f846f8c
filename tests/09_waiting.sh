#!/usr/bin/env bash
# Lesson 09: lesson 03's writer and reader, waiting without polling.
#
# Every test is about wait_value, in the order a learner gets it right:
# condition variables of the right kind, a reader woken by a signal, a
# predicate loop that sleeps through wakeups with nothing new, and a
# deadline that ends the wait when the partner is gone - asleep until then,
# neither spinning nor polling.
LESSON=09_waiting
. "$(dirname "$0")/lib.sh"

# How long a waiter waits for its partner (wait_value reads PATIENCE_MS;
# 1000 ms unless set).  A live partner answers in microseconds; sanitizer
# builds run slower, so they get more.  The 999 ms part is on purpose: a
# deadline made without carrying tv_nsec over into tv_sec is then invalid
# (EINVAL) unless the clock's nanoseconds happen to be below 1 ms, and the
# mistake shows in nearly every run.
if [ -n "${VARIANT:-}" ]; then
    export PATIENCE_MS=${PATIENCE_MS:-5999}
else
    export PATIENCE_MS=${PATIENCE_MS:-999}
fi

setUp() {
    TIMEOUT_CAUSE="nobody woke a sleeper, and its deadline never came: is there a signal after each change (TODO 4 and 5), and is the deadline a time on CLOCK_MONOTONIC (TODO 2), does wait_until() unlock before it returns, and is the deadline a valid time (tv_nsec below one second)?"
}

# What the program said on stderr, for a message: its first line.
first_complaint() {
    head -n 1 "${ERR}" | sed 's/^wait_value: //'
}

# explain_failure: a message naming the likely mistake, from what the
# program said when a wait went wrong.  Fails the test if it did.
explain_failure() {
    [ "${STATUS}" = 0 ] && return 0
    local said
    said=$(first_complaint)
    show_stderr
    case ${said} in
        *"must be PTHREAD_PROCESS_SHARED"* | *"CLOCK_MONOTONIC"*)
            fail "${said} (TODO 1)" ;;
        *"the wait ended by itself"*)
            fail "${said}: is the deadline clock_gettime() plus the patience, not the patience alone (TODO 2)?" ;;
        *"began its patience again after each wakeup"*)
            fail "${said}. One deadline for the whole wait: work it out once, before the loop, not on every pass (TODO 3)" ;;
        *"with time left, the count still short"*)
            fail "a wait returned before its count was there and before its deadline: ${said}. Wait in a loop that asks count_reached() again after every wakeup (TODO 3)" ;;
        *"nobody signalled"*)
            fail "${said}: wake the sleeper after each change (TODO 4 in put(), TODO 5 in take())" ;;
        *"fall asleep"*)
            fail "${said}: the reader never asked count_reached() before it slept; the loop's condition must be count_reached(v, cond, counter, want) (TODO 3)" ;;
        *"gave up waiting"*)
            fail "${said}. Does the loop sleep on the right condition variable, and does the other side signal it (TODO 3, 4, 5)?" ;;
        *"pthread_cond_timedwait"*"Invalid argument"*)
            fail "${said}: the deadline is not a valid time - is tv_nsec kept below 1,000,000,000 (TODO 2)?" ;;
        *)
            fail "wait_value failed (exit status ${STATUS})${said:+: ${said}}" ;;
    esac
    return 1
}

# The first two tests look at the same run of `wait_value` (made once).
run_condvar() {
    local saved=${SHUNIT_TMPDIR}/condvar-run
    if [ -f "${saved}.status" ]; then
        cp "${saved}.out" "${OUT}" && cp "${saved}.err" "${ERR}"
        STATUS=$(cat "${saved}.status") LAST_CMD=wait_value
        return 0
    fi
    run_prog wait_value || return
    cp "${OUT}" "${saved}.out" && cp "${ERR}" "${saved}.err"
    echo "${STATUS}" >"${saved}.status"
}

# TODO 1: process-shared condition variables, deadlines on CLOCK_MONOTONIC
# (the program checks its attribute and says what it found).
test_wait_value__its_condition_variables_are_shared_and_monotonic() {
    run_condvar || return
    if ! grep -q '^MainProcess: the condition variables are process-shared, on CLOCK_MONOTONIC$' "${OUT}"; then
        explain_failure || return
        fail "wait_value did not say its condition variables are process-shared, on CLOCK_MONOTONIC"
    fi
}

# The reader sleeps until the writer signals: lesson 03's lines, each of
# 0..4 once and in order.
test_wait_value__the_reader_sleeps_until_signalled() {
    run_condvar || return
    explain_failure || return
    assertEquals "the reader printed each of 0..4 once, in order" \
        "0 1 2 3 4" "$(sed -n 's/^Reader: \([0-9]*\)$/\1/p' "${OUT}" | xargs)" || return
    assert_output 09_waiting.out
}

# The pace (TICK_MS) sets how long the writer pauses, never who goes first.
test_wait_value__the_pace_does_not_change_the_output() {
    TICK_MS=3 run_prog wait_value condvar || return
    explain_failure || return
    assert_output 09_waiting.out
}

# Before each value the writer wakes the sleeping reader with nothing new,
# and waits until it has gone back to sleep: five empty wakeups, always.
# A reader that takes a wakeup for a value (`if` instead of `while`) stops
# waiting too early, and says so on stderr.
test_wait_value__wakeups_with_nothing_new_are_slept_through() {
    run_prog wait_value spurious || return
    explain_failure || return
    local looks
    looks=$(sed -n 's/^Reader: woke up \([0-9]*\) times\{0,1\} with nothing new$/\1/p' "${OUT}")
    if [ "${looks:-0}" -gt 5 ]; then
        fail "the reader looked at the count ${looks} times with nothing new, though the writer woke it only 5 times: it looks again without being woken - polling, or spinning. Sleep in pthread_cond_timedwait until a signal or the deadline (TODO 3)"
        return 1
    fi
    assert_output 09_waiting_spurious.out
}

# The writer is killed after value 1: value 2 never comes.  The reader must
# give up by itself at its deadline (PATIENCE_MS), asleep until then.  A
# loop that ignores ETIMEDOUT spins for ever (here: until the run's time
# limit); one that polls (a deadline a millisecond away, again and again,
# or a sleep and a look) gives up the CPU hundreds of times.
test_wait_value__gives_up_at_its_deadline_when_the_writer_is_killed() {
    local patience=500 limit=${PROGRAM_TIMEOUT}
    [ -z "${VARIANT:-}" ] && [ "${limit}" -gt 3 ] && limit=3
    TIMEOUT_CAUSE="the reader never gave up waiting for a writer that was killed: does the loop stop when pthread_cond_timedwait returns ETIMEDOUT, and is the deadline a time on CLOCK_MONOTONIC (TODO 2 and 3)?"
    PATIENCE_MS=${patience} PROGRAM_TIMEOUT=${limit} run_prog wait_value lost-writer || return
    explain_failure || return
    assert_output 09_waiting_lost_writer.out 's/gave up the CPU [0-9]+ times/gave up the CPU N times/' || return
    if [ "${WALL_MS:-0}" -lt "${patience}" ]; then
        fail "the run took ${WALL_MS} ms: the reader gave up before its ${patience} ms were over (TODO 2: the deadline is patience_ms from now)"
        return 1
    fi
    local cpu_limit=60
    [ -n "${VARIANT:-}" ] && cpu_limit=400
    if [ "${CPU_MS:-0}" -gt "${cpu_limit}" ]; then
        fail "the run used ${CPU_MS} ms of CPU in ${WALL_MS} ms, most of it while the reader waited for a value that never came: it spun instead of sleeping. Sleep in pthread_cond_timedwait until the deadline, and stop at ETIMEDOUT (TODO 3)"
        return 1
    fi
    local switches
    switches=$(sed -n 's/^MainProcess: the reader gave up the CPU \([0-9]*\) times.*/\1/p' "${OUT}")
    if [ "${switches:-0}" -gt 30 ]; then
        fail "the reader gave up the CPU ${switches} times while it waited ${patience} ms for a value that never came: it polled, waking again and again. One deadline for the whole wait, and sleep until it or a signal (TODO 2 and 3)"
        return 1
    fi
}

# The same, but once the writer is dead the parent wakes the reader with
# nothing new every quarter of its patience (as broadcasts for another
# condition would).  One deadline for the whole wait ends it at its patience
# all the same.  A loop that works out a new deadline on every pass waits a
# whole patience again after each wakeup and never gives up while they go
# on: the parent stops it after twice the patience, and says so.
test_wait_value__one_deadline_however_often_it_is_woken() {
    local patience=500 limit=${PROGRAM_TIMEOUT}
    [ -z "${VARIANT:-}" ] && [ "${limit}" -gt 3 ] && limit=3
    TIMEOUT_CAUSE="the reader, woken with nothing new again and again, never gave up: is there one deadline for the whole wait (TODO 3), and does the loop stop at ETIMEDOUT?"
    PATIENCE_MS=${patience} PROGRAM_TIMEOUT=${limit} run_prog wait_value lost-writer-nudged || return
    explain_failure || return
    assert_output 09_waiting_lost_writer_nudged.out || return
    if [ "${WALL_MS:-0}" -lt "${patience}" ]; then
        fail "the run took ${WALL_MS} ms: the reader gave up before its ${patience} ms were over (TODO 2: the deadline is patience_ms from now)"
        return 1
    fi
}

# Two semaphores carry the same hand-over, and print the same lines.
test_wait_value__semaphores_hand_over_the_same_way() {
    run_prog wait_value semaphore || return
    assert_exit 0 || return
    assert_output 09_waiting_semaphore.out
}

# The same writer twice, a value every 5 ms: lesson 03's polling reader,
# then the sleeping one.  CPU time depends on the machine and on what else
# runs, so the numbers are masked: only the form of the lines is checked.
test_wait_value__compare_prints_each_readers_cpu_time() {
    TICK_MS=5 run_prog wait_value compare || return
    explain_failure || return
    assert_line_matches '^Reader \(polling\): [0-9]+\.[0-9] ms of CPU for 5 values, one every 5 ms$' || return
    assert_line_matches '^Reader \(condvar\): [0-9]+\.[0-9] ms of CPU for 5 values, one every 5 ms$' || return
    assert_output 09_waiting_compare.out \
        's/^(Reader \([a-z]+\)): [0-9]+\.[0-9] ms of CPU/\1: N ms of CPU/'
}

# Killed part-way (at human pace, once the writer has said 0), with the
# reader asleep on a condition variable or a semaphore: nothing is left
# behind.  Both live in the anonymous mapping, which has no name in
# /dev/shm, and the children go with their parent (process.h).
test_wait_value__killed_part_way_leaves_nothing() {
    TICK_MS=1000 run_killed KILL '^Writer: 0$' "${BIN_DIR}/wait_value" || return
    assertEquals "condvar: killed by SIGKILL" 137 "${STATUS}" || return
    TICK_MS=1000 run_killed KILL '^Writer: 0$' "${BIN_DIR}/wait_value" semaphore || return
    assertEquals "semaphore: killed by SIGKILL" 137 "${STATUS}"
}

test_wait_value__bad_arguments_get_usage() {
    assert_usage_error wait_value poll || return
    assert_usage_error wait_value condvar extra || return
    PATIENCE_MS=soon assert_usage_error_or_fatal
}

# PATIENCE_MS that is not a number is refused, naming the variable.
assert_usage_error_or_fatal() {
    run_prog wait_value || return
    assert_exit 1 || return
    assert_stderr_matches "PATIENCE_MS" "a bad PATIENCE_MS must be refused, naming it"
}

. "${SHUNIT2}"
