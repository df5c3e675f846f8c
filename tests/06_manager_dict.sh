#!/usr/bin/env bash
# Lesson 06: a manager server owns a dict; workers reach it through proxies.
# Also the manager itself (common/manager.c): bad input, dying clients,
# other users, and the recorded requests of its fuzz target.
LESSON=06_manager_dict
. "$(dirname "$0")/lib.sh"

# The seed's output: the workers' lines in either order, then the dict.
test_workers_fill_the_managers_dict() {
    run_prog manager_dict || return
    assert_exit 0 || return
    assert_output 06_manager_dict.out
}

# The nested-object trap: what a proxy returns is a copy.
test_a_fetched_copy_is_only_a_copy() {
    run_prog manager_dict trap || return
    assert_exit 0 || return
    assert_output 06_manager_dict_trap.out
}

test_bad_arguments_get_usage() {
    assert_usage_error manager_dict trick || return
    assert_usage_error manager_dict trap twice
}

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

. "${SHUNIT2}"
