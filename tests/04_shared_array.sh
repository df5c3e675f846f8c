#!/usr/bin/env bash
# Lesson 04: an Array in shared memory, its recursive lock, and reading it
# whole.  The races these tests need are staged by the program itself (a
# process stopped halfway, the other let in), so they end the same way
# every time, on one CPU or many.
#
# Each program's tests come in the order a learner gets them right: `make
# check` runs one program's tests (PROG) and stops at its first failure
# (FAIL_FAST, tests/lib.sh); `make test` runs them all.
LESSON=04_shared_array
. "$(dirname "$0")/lib.sh"

# The likely cause of a failed run, from what the program said (its
# patient locks and waits name what they saw), or "" when it said nothing
# known.  The most telling cause first.
cause() {
    if grep -q 'for itself' "${ERR}"; then
        echo "the reader waited for a lock that it held itself: the array's lock must be PTHREAD_MUTEX_RECURSIVE (pthread_mutexattr_settype(3p)) - read_whole() holds it while get() takes it again"
    elif grep -q 'wakes only waiters of its own process' "${ERR}"; then
        echo "a process waiting for the array's lock was not woken when the lock was let go: init_array_lock() must make it PTHREAD_PROCESS_SHARED (pthread_mutexattr_setpshared(3))"
    elif grep -q 'never let go' "${ERR}"; then
        echo "a process waited a second for the array's lock, and it was never let go: is the lock ever unlocked? Every lock in get(), read_whole() and read_slice() needs its unlock"
    elif grep -q 'read the array while I held its lock' "${OUT}"; then
        echo "the reader read a[i] while the writer held the array's lock: get() must take the lock around its read"
    fi
}

# run_array ARG...: run shared_array; fail with the likely cause if it
# failed in a way the program could name.
run_array() {
    TIMEOUT_CAUSE="a process waits for the array's lock: is the lock ever unlocked after it is taken?"
    run_prog shared_array "$@" || return
    TIMEOUT_CAUSE=""
    local why
    why=$(cause)
    if [ -n "${why}" ]; then
        show_stderr
        fail "${why}"
        return 1
    fi
}

# The seed's writer fills in squares and the reader prints the whole list
# after each one, exactly once each, in turn; -1 in the first element stops
# the reader.
test_shared_array__reader_sees_each_square_once() {
    run_array || return
    if grep -q '^Writer: \[0, 1\]$' "${OUT}" && grep -qx 'Reader: \[0, 0, 0, 0, 0\]' "${OUT}" &&
        ! grep -q '^Reader: \[0, 1' "${OUT}"; then
        fail "the reader's lists stay all 0 while the writer fills in squares: does get() return element i of the array?"
        return 1
    fi
    assert_exit 0 || return
    assert_output 04_shared_array.out
}

# Array('d', range(10)): a child halves every element; the parent, after
# joining it, sees the halves (printed as Python prints floats).
test_shared_array__doubles_changed_by_a_child() {
    run_array doubles || return
    assert_exit 0 || return
    assert_output 04_shared_array_doubles.out
}

# The writer holds the lock across a whole write (a[:] = [1] * 5) and
# stops halfway; the reader's a[i] must wait for it, and then sees the
# write whole.  The writer lets go only once the reader sleeps on the lock,
# so a get() without the lock reads the half-done write every time, and a
# lock that does not wake another process's waiter shows too.
test_shared_array__a_held_lock_makes_a_i_wait() {
    run_array held || return
    assert_exit 0 || return
    assert_output 04_shared_array_held.out
}

# The snapshot run, part 1: list(a) takes the lock once per element, and
# the writer gets in between - torn, whatever the learner wrote.  Part 2:
# with the lock held across the whole read (read_whole), the writer has to
# wait, and the copy is consistent.
test_shared_array__get_lock_holds_the_read_whole() {
    run_array snapshot || return
    local part2
    part2=$(sed -n '/get_lock/,/^MainProcess: a\[:\]/p' "${OUT}" | grep '^Reader: ')
    case ${part2} in
        *torn*) fail "with a.get_lock() the reader's copy was torn ('${part2}'): read_whole() must hold the array's lock from before its first element until after its last"
                return 1 ;;
        *consistent*) ;;
        *) show_stderr
           fail "the read with a.get_lock() printed no result: see what the program said"
           return 1 ;;
    esac
    assert_exit 0
}

# Part 3: a[:] takes the lock once for the whole copy: consistent too.
test_shared_array__slice_is_one_copy_from_one_moment() {
    run_array snapshot || return
    local part3
    part3=$(sed -n '/^MainProcess: a\[:\]/,$p' "${OUT}" | grep '^Reader: ')
    case ${part3} in
        *torn*) fail "the a[:] copy was torn ('${part3}'): read_slice() must take the array's lock once, before the first element, and let go after the last"
                return 1 ;;
        *consistent*) ;;
        *) show_stderr
           fail "the a[:] read printed no result: see what the program said"
           return 1 ;;
    esac
    assert_exit 0 || return
    assert_output 04_shared_array_snapshot.out
}

test_shared_array__rejects_bad_arguments() {
    assert_usage_error shared_array triples || return
    assert_usage_error shared_array doubles extra
}

. "${SHUNIT2}"
