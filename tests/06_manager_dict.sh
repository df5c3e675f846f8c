#!/usr/bin/env bash
# Lesson 06: a manager server owns a dict; workers reach it through proxies.
# Two programs, in the order a learner gets them right:
#   manager_dict   the seed's program: proxy calls, with their errors handled;
#                  then the built-in manager it runs on (common/manager.c):
#                  bad input, dying clients, other users, the fuzz corpus
#   mini_manager   the learner's own server, stage by stage (tests/tools/
#                  stage_client drives it byte by byte), then the lesson
#                  program and the hostile-client probe on it
LESSON=06_manager_dict
. "$(dirname "$0")/lib.sh"

RELAY=${TOOLS_DIR}/mgr_relay

# ------------------------------------------------------------ manager_dict

# The seed's output: the workers' lines in either order, then the dict.
test_manager_dict__workers_fill_the_managers_dict() {
    TIMEOUT_CAUSE="a worker or main waits for the manager for ever: is every proxy call's result checked?"
    run_prog manager_dict || return
    assert_exit 0 || return
    assert_output 06_manager_dict.out
}

# A set the server refuses (a relay in front of the real server answers
# every DICT_SET with an error): the worker must fail and say why, not
# print "Setting ..." as if it had worked.
test_manager_dict__a_refused_set_fails_the_worker() {
    MGR_SERVER=${RELAY} RELAY_REFUSE=DICT_SET run_prog manager_dict || return
    if grep -q '^Worker: Setting' "${OUT}"; then
        show_stderr
        fail "the server refused d[key] = value (error reply), yet the worker printed '$(grep -m1 '^Worker: Setting' "${OUT}")': is the result of proxy_dict_set() checked (it returns -1 and mgr_error() says why)?"
        return 1
    fi
    if [ "${STATUS}" -eq 0 ]; then
        fail "the server refused every d[key] = value, yet manager_dict exited 0: a worker whose set failed must fail (exit non-zero)"
        return 1
    fi
    assert_stderr_matches 'refused by the test' \
        "the worker failed without saying why: print mgr_error() (e.g. through fatal() or proxy_must())"
}

# The items request refused: main must not print a dict it never got.
test_manager_dict__a_refused_items_fails_main() {
    MGR_SERVER=${RELAY} RELAY_REFUSE=ITEMS run_prog manager_dict || return
    if grep -q '^Main: Dictionary contents' "${OUT}"; then
        show_stderr
        fail "the server refused d.items() (error reply), yet main printed '$(grep -m1 '^Main: Dictionary' "${OUT}")': is the result of proxy_items() checked?"
        return 1
    fi
    if [ "${STATUS}" -eq 0 ]; then
        fail "the server refused d.items(), yet manager_dict exited 0: stop with an error"
        return 1
    fi
    assert_stderr_matches 'refused by the test' \
        "main failed without saying why: print mgr_error()"
}

# The nested-object trap: what a proxy returns is a copy.
test_manager_dict__a_fetched_copy_is_only_a_copy() {
    run_prog manager_dict trap || return
    assert_exit 0 || return
    assert_output 06_manager_dict_trap.out
}

test_manager_dict__bad_arguments_get_usage() {
    assert_usage_error manager_dict trick || return
    assert_usage_error manager_dict trap twice
}

# ------------------------------------------------------------ common/manager.c
# (these tests are the manager helper's: the built-in server and its probe)

# The probe's cases but those that need root (another user); comma-separated.
probe_cases_any_user() {
    "${TOOLS_DIR}/manager_probe" --list | cut -f1 | grep -vx -e other-user -e rogue-server |
        paste -sd, -
}

# Garbage, cut-short and oversized frames, unknown objects and operations,
# clients that die mid-request, a SHUTDOWN from a stranger, an impostor at a
# stopped manager's address, 64 stalled clients, 64 parked gets, 70
# processes with proxies, a server short of descriptors, a stopped server
# with a full backlog, starters killed while starting: each gets an error,
# loses its connection or is refused, nothing is left behind, and after
# each one the stored data is intact and the server answers.
test_manager_dict__the_server_survives_bad_clients() {
    TIMEOUT_CAUSE="a case of manager_probe hangs: is a deadline missing (mgr_shutdown, a stalled frame)?"
    run_cmd "${TOOLS_DIR}/manager_probe" --cases "$(probe_cases_any_user)" || return
    TIMEOUT_CAUSE=
    assert_exit 0 || return
    assert_output 06_manager_probe.out
}

# Cases that see how a server is started and stopped, against the built-in
# server run as a server program (MGR_SERVER, mgr_start_program's keeper,
# mgr_serve): the way a server of one's own is run.  Judged by the probe,
# whatever the wording.
test_manager_dict__a_server_program_passes_the_probe() {
    local cases=garbage,oversized-length,missing-key,killed-mid-request,parked-get
    cases=${cases},shutdown-by-other,impostor,stalled-clients,parked-clients,many-clients
    cases=${cases},low-fd-limit,out-of-fds,stopped-server,killed-starter,no-close-range
    TIMEOUT_CAUSE="a case of manager_probe hangs against a server program: does the keeper wait for it?"
    run_cmd "${TOOLS_DIR}/manager_probe" --self-server --brief --cases "${cases}" || return
    TIMEOUT_CAUSE=
    assert_exit 0 || return
    assert_line_matches '^stopped-server: passed$' \
        "mgr_shutdown must stop a stopped server program too"
    if grep -v ': passed$' "${OUT}" | grep -q .; then
        fail "manager_probe --self-server: $(grep -v ': passed$' "${OUT}" | head -1)"
    fi
}

# Only the server's own user may connect (the socket's directory is 0700,
# and the server checks SO_PEERCRED), and a proxy talks only to a server of
# its own user: a listener of user nobody at a stopped manager's address
# gets no byte.  Becoming another user needs root.
test_manager_dict__another_user_cannot_connect() {
    run_cmd "${TOOLS_DIR}/manager_probe" --brief --cases other-user,rogue-server || return
    if grep -q ': skipped: ' "${OUT}"; then
        skip_test "$(grep -m1 ': skipped: ' "${OUT}")"
        return
    fi
    assert_exit 0 || return
    assert_line_matches "^other-user: passed$" "a process of another user must be refused" || return
    assert_line_matches "^rogue-server: passed$" \
        "a proxy must refuse a server of another user before sending anything"
}

# The decoder's fuzz corpus, replayed as an ordinary test (any compiler).
test_manager_dict__recorded_requests_replay_cleanly() {
    run_cmd "${TOOLS_DIR}/replay_requests" "${TESTS_DIR}"/fuzz/corpus/* || return
    assert_exit 0 || return
    assert_line_matches '^replayed [0-9]+ requests: [0-9]+ decoded, [0-9]+ refused$'
}

# ------------------------------------------------------------ mini_manager

# run_stage STAGE CAUSE: drive this tree's mini_manager through STAGE with
# stage_client; the stage's first broken check is the failure message.
run_stage() {
    TIMEOUT_CAUSE=$2
    run_cmd "${TOOLS_DIR}/stage_client" "${BIN_DIR}/mini_manager" "$1" || return
    TIMEOUT_CAUSE=
    if grep -q '^SKIP: ' "${OUT}"; then
        skip_test "$(sed -n 's/^SKIP: //p' "${OUT}")"
        return 0
    fi
    if [ "${STATUS}" -ne 0 ]; then
        echo "  what stage_client saw, stage $1:"
        sed 's/^/  | /' "${OUT}"
        show_stderr
        fail "$(sed -n 's/^FAIL: //p' "${OUT}" | head -n 1)"
        return 1
    fi
}

test_mini_manager__answers_one_request() {
    run_stage one_request "the server never answered: is a recv() or a loop in read_requests() waiting for bytes that do not come?"
}

test_mini_manager__waits_for_a_frame_split_across_reads() {
    run_stage split_frame "a frame in pieces: does read_requests() loop on recv() until a frame is whole? Take one recv() per call and return; poll() calls again"
}

test_mini_manager__answers_two_frames_in_one_read() {
    run_stage two_frames "two frames in one read: is read_requests() looping without taking a frame out of the buffer?"
}

test_mini_manager__refuses_bad_lengths() {
    run_stage bad_lengths "a bad length: does read_requests() wait for 4 GiB that never come, or loop for ever on a length of 0?"
}

test_mini_manager__serves_many_clients_at_once() {
    run_stage many_clients "one client's half-sent frame held up the others: does read_requests() wait (loop, block) for the rest?"
}

test_mini_manager__does_dict_get_set_and_items() {
    run_stage dict_ops "a dict request got no reply: does every case of dispatch() send exactly one?"
}

# SO_PEERCRED: a process of user nobody connects (root only) to an address
# with no permissions at all, so only the server's own check keeps it out.
test_mini_manager__refuses_another_user() {
    run_stage other_user "the other user's request got no answer and no close"
}

# The lesson program, unchanged, on the learner's server (mgr_start runs
# the program named by MGR_SERVER instead of the built-in server).
test_mini_manager__runs_manager_dict() {
    TIMEOUT_CAUSE="manager_dict waited for ever on your server: is a request left without a reply?"
    MGR_SERVER=${BIN_DIR}/mini_manager run_prog manager_dict || return
    assert_exit 0 || return
    assert_output 06_manager_dict.out || return
    MGR_SERVER=${BIN_DIR}/mini_manager run_prog manager_dict trap || return
    assert_exit 0 || return
    assert_output 06_manager_dict_trap.out
}

# The hostile clients of tests/tools/manager_probe that apply to a server
# of dicts: garbage, cut-short and oversized frames, clients that hang up
# or are killed mid-request, another user (root only), a SHUTDOWN from a
# process that did not start it, a stopped server.  (Stalled clients, a
# frame deadline and more processes than connections are the full
# server's hardening: README.md.)
MINI_PROBE_CASES=garbage,short-header,oversized-length,empty-frame,long-string,trailing-bytes,unknown-object,missing-key,unknown-kind,hangup-mid-request,killed-mid-request,other-user,shutdown-by-other,stopped-server

test_mini_manager__survives_hostile_clients() {
    TIMEOUT_CAUSE="the probe's hostile clients stalled your server"
    run_cmd "${TOOLS_DIR}/manager_probe" --server "${BIN_DIR}/mini_manager" \
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
