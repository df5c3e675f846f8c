#!/usr/bin/env bash
# Lesson 03: a Value in shared memory; a writer and a reader take turns.
LESSON=03_shared_value
. "$(dirname "$0")/lib.sh"

# The seed's writer and reader: each of 0..4 printed by the writer, then
# by the reader, exactly once and in order; -1 stops the reader.  A private
# mapping, or one made after fork(), ends in the reader giving up (exit 1);
# a lock without PTHREAD_PROCESS_SHARED changes the first line.
test_writer_and_reader_take_turns() {
    run_prog shared_value || return
    assert_exit 0 || return
    assertEquals "the reader printed each of 0..4 once, in order" \
        "0 1 2 3 4" "$(sed -n 's/^Reader: \([0-9]*\)$/\1/p' "${OUT}" | xargs)" || return
    assert_output 03_shared_value.out
}

# The pace (TICK_MS) sets how long the writer pauses, never who goes first:
# the output is the same at any pace.
test_pace_does_not_change_the_output() {
    TICK_MS=3 run_prog shared_value || return
    assert_exit 0 || return
    assert_output 03_shared_value.out
}

# A program killed part-way (at human pace, once the writer has said 0)
# leaves nothing behind: an anonymous mapping has no name in /dev/shm, the
# kernel frees it with the last process that maps it, and the children go
# with their parent (process.h).
test_killed_part_way_leaves_nothing() {
    TICK_MS=1000 run_killed KILL '^Writer: 0$' "${BIN_DIR}/shared_value" || return
    assertEquals "killed by SIGKILL" 137 "${STATUS}"
}

test_typecodes_table() {
    run_prog typecodes || return
    assert_exit 0 || return
    assert_output 03_shared_value_typecodes.out
}

# The char array carries the characters; the pointer carries an address
# that, in the reader, leads to the reader's own (empty) copy.  Addresses
# change from run to run (ASLR) and are masked.
test_string_needs_a_char_array_not_a_pointer() {
    run_prog string_trap || return
    assert_exit 0 || return
    assert_output 03_shared_value_string.out 's/0x[0-9a-f]+/0xADDRESS/g' || return
    assertEquals "the reader follows the same address the writer stored" 1 \
        "$(grep -o '0x[0-9a-f]*' "${OUT}" | sort -u | wc -l)"
}

test_bad_arguments_get_usage() {
    assert_usage_error shared_value extra || return
    assert_usage_error typecodes extra || return
    assert_usage_error string_trap extra
}

. "${SHUNIT2}"
