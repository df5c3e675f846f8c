#!/usr/bin/env bash
# Lesson 07: seed 000's five shared objects, read round by round.
# Two programs, in the order a learner gets them right:
#   manager_queue  the seed's program: the reader's get, with a timeout and
#                  its error handled, and no polling
#   mini_queue     the learner's queue on lesson 07's server, stage by stage
#                  (tests/tools/stage_client), then the lesson program and
#                  the hostile-client probe on it
LESSON=07_manager_queue
. "$(dirname "$0")/lib.sh"

RELAY=${TOOLS_DIR}/mgr_relay

# Four rounds, every line in order: the done-queue handshake makes each
# round's five lines one consistent snapshot.
test_manager_queue__four_rounds_like_the_seed() {
    TIMEOUT_CAUSE="the reader or the writer waits for ever: does the reader's get have a timeout?"
    run_prog manager_queue || return
    assert_exit 0 || return
    assert_output 07_manager_queue.out
}

# Nothing ever arrives (a relay in front of the real server answers the
# writer's puts ok and drops the items): the reader's get must give up
# after its patience (PATIENCE_MS) with Empty, and the round not be printed.
test_manager_queue__a_get_that_gets_nothing_gives_up() {
    TIMEOUT_CAUSE="the reader waited for ever on a queue that stays empty: give its get a timeout (s->patience_ms), never -1"
    MGR_SERVER=${RELAY} RELAY_SWALLOW_PUTS=1 PATIENCE_MS=80 PROGRAM_TIMEOUT=1.5 \
        run_prog manager_queue 2 || return
    if grep -q '^\[.*\] : Queue ' "${OUT}"; then
        show_stderr
        fail "nothing was ever put on the queue, yet the reader printed '$(grep -m1 '^\[.*\] : Queue ' "${OUT}" | sed 's/^\[[^]]*\] : //')': is the result of proxy_queue_get() checked? (-1: nothing came; mgr_error() says Empty)"
        return 1
    fi
    if [ "${STATUS}" -eq 0 ]; then
        fail "nothing was ever put on the queue, yet manager_queue exited 0: a reader whose get fails must fail"
        return 1
    fi
    assert_stderr_matches 'Empty' \
        "the reader failed without saying why: print mgr_error() (it says Empty)"
}

# A get waits on the server: one request per item.  The relay logs the
# gets each process sends, with their timeouts, and the gets it answered
# Empty; with a 30 ms tick the queue is empty for 30 ms each round, so a
# reader that polls (a get with timeout 0, a sleep, again) asks again after
# an Empty.  Allowed: one get that waits, per item - or a try first
# (timeout 0) and, if it is Empty, one get that waits.
test_manager_queue__waits_without_polling() {
    local log=${SHUNIT_TMPDIR}/requests rounds=3
    : >"${log}"
    TIMEOUT_CAUSE="the reader or the writer waits for ever: does the reader's get have a timeout?"
    MGR_SERVER=${RELAY} RELAY_LOG=${log} TICK_MS=30 run_prog manager_queue "${rounds}" || return
    assert_exit 0 || return
    local verdict
    verdict=$(awk -v rounds="${rounds}" '
        function t(s) { sub(/^timeout=/, "", s); return s + 0 }
        $1 == "QUEUE_GET" {
            p = $NF; to = t($3)
            if (to == 0) zero[p]++; else waiting[p]++
            if (to == 0 && empty0[p] && !bad)
                bad = "a process asked the queue again with a get of timeout 0 right after one came back Empty: that is polling (a loop of get(timeout 0) and sleeps); let one get wait on the server, with a timeout (s->patience_ms)"
            empty0[p] = 0
        }
        $1 == "QUEUE_EMPTY" {
            p = $NF; to = t($3)
            if (to == 0) empty0[p] = 1
            else if (!bad) bad = "a get that waited only " to " ms came back Empty, and the reader went on asking: that is polling with short timeouts; let one get wait the whole s->patience_ms"
        }
        END {
            if (bad) { print bad; exit }
            for (p in waiting) if (waiting[p] > rounds + 1) {
                print "one process sent " waiting[p] " gets that wait for " rounds " rounds (" rounds " items): that is polling with short timeouts; one get per item, waiting s->patience_ms"; exit }
            for (p in zero) if (zero[p] > rounds + 1) {
                print "one process sent " zero[p] " gets with timeout 0 for " rounds " rounds (" rounds " items): that is polling; let one get wait on the server, with a timeout"; exit }
            most = 0
            for (p in waiting) if (waiting[p] + zero[p] > most) most = waiting[p] + zero[p]
            for (p in zero) if (waiting[p] + zero[p] > most) most = waiting[p] + zero[p]
            if (most < rounds)
                print "the relay saw only " most " queue gets from any one process for " rounds " rounds: is the reader taking its items from the queue?"
        }' "${log}")
    if [ -n "${verdict}" ]; then
        echo "  the requests the relay saw (tests/tools/mgr_relay.c):"
        grep -E '^QUEUE_(GET|EMPTY) ' "${log}" | head -20 | sed 's/^/  | /'
        fail "${verdict}"
        return 1
    fi
}

# More rounds, same rule: round N shows N everywhere and the list 0..N.
test_manager_queue__every_round_is_consistent() {
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
test_manager_queue__killed_part_way_leaves_nothing() {
    TICK_MS=50 run_killed KILL '^\[.*\] : Queue 1$' "${BIN_DIR}/manager_queue" 20 || return
    assertEquals "killed by SIGKILL" 137 "${STATUS}"
}

# The same with SIGTERM, the signal a shell's kill sends.
test_manager_queue__terminated_part_way_leaves_nothing() {
    TICK_MS=50 run_killed TERM '^\[.*\] : Queue 1$' "${BIN_DIR}/manager_queue" 20 || return
    assertEquals "ended by SIGTERM" 143 "${STATUS}"
}

test_manager_queue__bad_arguments_get_usage() {
    assert_usage_error manager_queue 0 || return
    assert_usage_error manager_queue many || return
    assert_usage_error manager_queue 3 4
}

# ------------------------------------------------------------ mini_queue

# run_stage STAGE CAUSE: drive this tree's mini_queue through STAGE with
# stage_client; the stage's first broken check is the failure message.
run_stage() {
    TIMEOUT_CAUSE=$2
    run_cmd "${TOOLS_DIR}/stage_client" "${BIN_DIR}/mini_queue" "$1" || return
    TIMEOUT_CAUSE=
    if [ "${STATUS}" -ne 0 ]; then
        echo "  what stage_client saw, stage $1:"
        sed 's/^/  | /' "${OUT}"
        show_stderr
        fail "$(sed -n 's/^FAIL: //p' "${OUT}" | head -n 1)"
        return 1
    fi
}

test_mini_queue__answers_at_once_when_an_item_is_there() {
    run_stage queue_now "a get on a queue with items got no reply: does queue_get() answer one?"
}

test_mini_queue__parks_a_get_until_a_put() {
    run_stage parked_get "a parked get stalled the server: does queue_get() wait (sleep, loop) instead of parking and returning?"
}

test_mini_queue__answers_empty_when_the_time_is_up() {
    run_stage timeout "a get with a timeout stalled the server"
}

test_mini_queue__sleeps_while_a_get_waits() {
    run_stage no_spin "a get with a timeout stalled the server"
}

# The lesson program, unchanged, on the learner's server.
test_mini_queue__runs_manager_queue() {
    TIMEOUT_CAUSE="manager_queue waited for ever on your server: is a request left without a reply?"
    MGR_SERVER=${BIN_DIR}/mini_queue run_prog manager_queue 10 || return
    assert_exit 0 || return
    sed -n '1,28p' "${OUT}" >"${SHUNIT_TMPDIR}/first4"
    cp "${SHUNIT_TMPDIR}/first4" "${OUT}"
    assert_output 07_manager_queue.out
}

# The hostile clients of tests/tools/manager_probe that apply to a server
# with a queue (a full queue's put is answered Full here, not parked; a
# half-closed client is dropped: those two cases are left out).
MINI_PROBE_CASES=garbage,short-header,oversized-length,empty-frame,long-string,trailing-bytes,unknown-object,wrong-kind,missing-key,unknown-kind,hangup-mid-request,killed-mid-request,killed-while-parked,parked-get,pipelined-gets,get-timeout,other-user,shutdown-by-other,stopped-server

test_mini_queue__survives_hostile_clients() {
    TIMEOUT_CAUSE="the probe's hostile clients stalled your server"
    run_cmd "${TOOLS_DIR}/manager_probe" --server "${BIN_DIR}/mini_queue" \
        --cases "${MINI_PROBE_CASES}" --brief || return
    local failed ran
    failed=$(grep -m1 ': FAILED: ' "${OUT}")
    if [ -n "${failed}" ] || [ "${STATUS}" -ne 0 ]; then
        sed 's/^/  | /' "${OUT}"
        show_stderr
        fail "a hostile client got the better of your server: ${failed:-exit status ${STATUS}}"
        return 1
    fi
    ran=$(grep -cE ': (passed|skipped)' "${OUT}")
    assertEquals "probe cases that ran (passed or skipped)" \
        "$(echo "${MINI_PROBE_CASES}" | tr ',' '\n' | wc -l)" "${ran}"
}

. "${SHUNIT2}"
