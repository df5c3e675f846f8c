#!/usr/bin/env bash
# Lesson 01: two forked children each add one to their own copy of x.
LESSON=01_separate_memory
. "$(dirname "$0")/lib.sh"

# The seed's output: each child saw x become 1; the parent still has 0.
test_each_child_changes_only_its_own_copy() {
    run_prog separate_memory || return
    assert_exit 0 || return
    assert_output 01_separate_memory.out
}

# The parent's line comes after both children's, because the parent waited.
# (run_prog already failed the test if a child was never waited for.)
test_parent_speaks_last() {
    run_prog separate_memory || return
    assertEquals "the last line is the parent's, after waitpid" \
        "MainProcess: {'x': 0}" "$(tail -n 1 "${OUT}")"
}

test_takes_no_arguments() {
    assert_usage_error separate_memory extra
}

. "${SHUNIT2}"
