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

# Garbage, cut-short and oversized frames, unknown objects and operations,
# clients that die mid-request: each gets an error or loses its connection,
# and after each one the stored data is intact and the server answers.
test_the_server_survives_bad_clients() {
    run_cmd "${TOOLS_DIR}/manager_probe" || return
    assert_exit 0 || return
    grep -v '^another user:' "${OUT}" >"${SHUNIT_TMPDIR}/probe"
    cp "${SHUNIT_TMPDIR}/probe" "${OUT}"
    assert_output 06_manager_probe.out
}

# Only the server's own user may connect: the socket's directory is 0700,
# and the server checks SO_PEERCRED.  Becoming another user needs root.
test_another_user_cannot_connect() {
    run_cmd "${TOOLS_DIR}/manager_probe" || return
    if grep -q '^another user: not tested' "${OUT}"; then
        skip_test "$(grep '^another user:' "${OUT}")"
        return
    fi
    assert_line_matches "^another user: Permission denied; data intact$" \
        "a process of another user must be refused"
}

# The decoder's fuzz corpus, replayed as an ordinary test (any compiler).
test_recorded_requests_replay_cleanly() {
    run_cmd "${TOOLS_DIR}/replay_requests" "${TESTS_DIR}"/fuzz/corpus/* || return
    assert_exit 0 || return
    assert_line_matches '^replayed [0-9]+ requests: [0-9]+ decoded, [0-9]+ refused$'
}

. "${SHUNIT2}"
