#!/usr/bin/env bash
# Lesson 07: seed 000's five shared objects, read round by round.
LESSON=07_manager_queue
. "$(dirname "$0")/lib.sh"

# Four rounds, every line in order: the done-queue handshake makes each
# round's five lines one consistent snapshot.
test_four_rounds_like_the_seed() {
    run_prog manager_queue || return
    assert_exit 0 || return
    assert_output 07_manager_queue.out
}

# More rounds, same rule: round N shows N everywhere and the list 0..N.
test_every_round_is_consistent() {
    run_prog manager_queue 30 || return
    assert_exit 0 || return
    local bad
    bad=$(sed -E 's/^\[[^]]*\] : //' "${OUT}" | awk '
        /^Value /  { n = $2 }
        /^Array /  { if ($2 != n ".0") print "round " n ": " $0 }
        /^list /   { want = "[0"; for (k = 1; k <= n; k++) want = want ", " k; want = want "]"
                     if (substr($0, 6) != want) print "round " n ": " $0 }
        /^dict /   { if ($0 != "dict {\x27val\x27: " n "}") print "round " n ": " $0 }
        /^Queue /  { if ($2 != n) print "round " n ": " $0; rounds++ }
        END        { if (rounds != 30) print rounds " rounds, not 30" }')
    assertEquals "rounds whose five lines disagree" "" "${bad}"
}

# Killed part-way, mid-round, with SIGKILL: nothing can clean up in the
# program itself, yet the manager server notices that its owner is gone
# (PR_SET_PDEATHSIG), removes its socket and directory, and exits; the
# writer and reader go with their parent.  Nothing is left running or on disk.
test_killed_part_way_leaves_nothing() {
    TICK_MS=100 run_killed KILL '^\[.*\] : Queue 1$' "${BIN_DIR}/manager_queue" 100 || return
    assertEquals "killed by SIGKILL" 137 "${STATUS}"
}

# The same with SIGTERM, the signal a shell's kill sends.
test_terminated_part_way_leaves_nothing() {
    TICK_MS=100 run_killed TERM '^\[.*\] : Queue 1$' "${BIN_DIR}/manager_queue" 100 || return
    assertEquals "ended by SIGTERM" 143 "${STATUS}"
}

test_bad_arguments_get_usage() {
    assert_usage_error manager_queue 0 || return
    assert_usage_error manager_queue many || return
    assert_usage_error manager_queue 3 4
}

. "${SHUNIT2}"
