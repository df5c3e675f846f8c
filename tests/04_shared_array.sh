#!/usr/bin/env bash
# Lesson 04: an Array in shared memory, and reading it whole under its lock.
LESSON=04_shared_array
. "$(dirname "$0")/lib.sh"

# The seed's writer fills in squares and the reader prints the whole list
# after each one, exactly once each, in turn; -1 in the first element stops
# the reader.
test_reader_sees_each_square_once() {
    run_prog shared_array || return
    assert_exit 0 || return
    assert_output 04_shared_array.out
}

# Array('d', range(10)): a child halves every element; the parent, after
# joining it, sees the halves (printed as Python prints floats).
test_doubles_changed_by_a_child() {
    run_prog shared_array doubles || return
    assert_exit 0 || return
    assert_output 04_shared_array_doubles.out
}

# The reader stops after two elements and lets the writer try.  With a
# lock per access the writer gets in and the snapshot is torn; with the
# lock held across the read the writer has to wait, and the snapshot is
# consistent.  Both runs are staged, so the result is the same every time.
test_snapshot_needs_the_lock_across_the_read() {
    run_prog shared_array snapshot || return
    assert_exit 0 || return
    assert_output 04_shared_array_snapshot.out
}

test_bad_arguments_get_usage() {
    assert_usage_error shared_array triples || return
    assert_usage_error shared_array doubles extra
}

. "${SHUNIT2}"
