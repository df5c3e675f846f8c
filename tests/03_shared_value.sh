#!/usr/bin/env bash
# Lesson 03: a Value in shared memory; a writer and a reader take turns.
#
# shared_value's tests look at what the program asks the kernel for, with
# strace(1): the flags and the size of its mmap(2) call, and where that
# call comes relative to the forks (clone).  A mapping too small for the
# struct, or made after fork(), can otherwise go unseen: the kernel maps
# whole pages, and a lucky run can look right.
#
# Each program's tests come in the order a learner gets them right: `make
# check` runs one program's tests (PROG) and stops at its first failure
# (FAIL_FAST, tests/lib.sh); `make test` runs them all.
LESSON=03_shared_value
. "$(dirname "$0")/lib.sh"

STRACE_LOG="" STRACE_OUT=""

# The first line the program wrote to stderr (or FILE), for a message.
first_err() {
    local line
    line=$(sed -n '1p' "${1:-${ERR}}")
    [ -n "${line}" ] && echo " (it said: ${line})"
}

# need_strace: skip the rest of the test when strace cannot trace here.
# Sanitizer builds map shadow memory of their own, and are slow to trace:
# the plain build's tests cover what the calls are.
need_strace() {
    if [ -n "${VARIANT:-}" ]; then
        skip_test "strace checks run on the plain build only"
        return 1
    fi
    if ! strace -qq -o /dev/null true 2>/dev/null; then
        skip_test "strace is missing or may not trace here (apt-get install strace)"
        return 1
    fi
}

# trace_shared_value: run shared_value once under strace -f, keeping its
# mmap and fork calls in ${STRACE_LOG} (one run serves several tests).
# These tests judge the calls, and the lock proof that comes first: the
# Writer and the Reader need not finish, so they get little patience
# (common/shared.h), which a program mapped after fork() would spend.
trace_shared_value() {
    [ -n "${STRACE_LOG}" ] && [ -s "${STRACE_LOG}" ] && return 0
    STRACE_LOG=${SHUNIT_TMPDIR}/strace.log
    TIMEOUT_CAUSE="the Writer and the Reader wait for each other: do they share one Value?"
    SHARED_PATIENCE_MS=200 run_cmd strace -f -qq -o "${STRACE_LOG}" -e trace=mmap,clone,clone3,fork,vfork \
        "${BIN_DIR}/shared_value" || { STRACE_LOG=""; return 1; }
    TIMEOUT_CAUSE=""
    STRACE_ERR=${SHUNIT_TMPDIR}/strace.err
    STRACE_OUT=${SHUNIT_TMPDIR}/strace.out
    cp "${ERR}" "${STRACE_ERR}"
    cp "${OUT}" "${STRACE_OUT}"
}

# The program's shared mappings, from the log: "LINE PID LENGTH FLAGS" each.
shared_mmaps() {
    awk '/ mmap\(/ && /MAP_SHARED/ {
        split($0, a, /mmap\(/); split(a[2], arg, /, /)
        print NR, $1, arg[2], arg[4] }' "${STRACE_LOG}"
}

# The log line of the first fork (clone, clone3, fork or vfork), or a
# number past the end when there is none.
first_fork_line() {
    awk '/ (clone3?|v?fork)\(/ { print NR; found = 1; exit }
         END { if (!found) print NR + 1 }' "${STRACE_LOG}"
}

# ---------------------------------------------------------------- shared_value

# The Value's memory is a MAP_SHARED mapping (MAP_PRIVATE would give each
# process a copy of its own at its first write).
test_shared_value__maps_shared_memory() {
    need_strace || return 0
    trace_shared_value || return
    if [ -z "$(shared_mmaps)" ]; then
        if grep -Eq ' mmap\(NULL, [0-9]+, PROT_READ\|PROT_WRITE, MAP_PRIVATE\|MAP_ANONYMOUS, -1' \
            "${STRACE_LOG}" && grep -q 'did not keep another process out' "${OUT}"; then
            fail "shared_value mapped its Value with MAP_PRIVATE: each process gets a copy of its own at its first write - mmap(2) has a flag for memory the children share$(first_err "${STRACE_ERR}")"
        else
            fail "shared_value made no MAP_SHARED mapping (mmap(2)): the Value must live in memory shared with the children$(first_err "${STRACE_ERR}")"
        fi
    fi
}

# The mapping has room for the whole struct.  `sizeof v` is the size of
# the pointer (8), not of the struct: the kernel rounds it up to a page,
# so the program still runs - until the struct grows past a page.
test_shared_value__maps_room_for_the_whole_struct() {
    need_strace || return 0
    trace_shared_value || return
    run_prog shared_value sizes || return
    local want asked
    want=$(sed -n 's/^struct shared_value: \([0-9]*\) bytes.*/\1/p' "${OUT}")
    assertNotEquals "'shared_value sizes' names the size of struct shared_value" "" "${want}" || return
    asked=$(shared_mmaps | awk -v want="${want}" '$3 + 0 >= want + 0 { ok = 1 }
        { max = $3 } END { print ok ? "ok" : max }')
    [ -z "${asked}" ] && { fail "shared_value made no MAP_SHARED mapping"; return 1; }
    if [ "${asked}" != ok ]; then
        fail "shared_value asked mmap for ${asked} bytes, but struct shared_value is ${want}: is the size that of the pointer (sizeof v) instead of the struct it points to (sizeof *v)? The kernel rounds it up to a page, which hides the mistake only while the struct is smaller than a page"
    fi
}

# When mmap fails (the test makes it fail with ENOMEM), the program says so
# and exits 1.  mmap returns MAP_FAILED, not NULL: a NULL check goes on
# with the pointer (void *)-1 and crashes at the first use.
test_shared_value__reports_a_failed_mmap() {
    need_strace || return 0
    trace_shared_value || return
    local main_pid nth
    main_pid=$(awk 'NR == 1 { print $1 }' "${STRACE_LOG}")
    nth=$(awk -v pid="${main_pid}" '$1 == pid && / mmap\(/ { n++; if (/MAP_SHARED/) { print n; exit } }' "${STRACE_LOG}")
    if [ -z "${nth}" ]; then
        fail "shared_value made no MAP_SHARED mapping in its first process, so there is no mmap to make fail"
        return 1
    fi
    TIMEOUT_CAUSE="mmap failed and the program went on: does it check for MAP_FAILED?"
    run_cmd strace -qq -o /dev/null -e trace=mmap -e "inject=mmap:error=ENOMEM:when=${nth}" \
        "${BIN_DIR}/shared_value" || return
    TIMEOUT_CAUSE=""
    if [ "${STATUS}" -gt 128 ]; then
        show_stderr
        fail "when mmap failed, shared_value was killed by signal $((STATUS - 128)) instead of reporting it: on failure mmap returns MAP_FAILED, not NULL - read RETURN VALUE in mmap(2)"
        return 1
    fi
    if [ "${STATUS}" = 0 ] || grep -q '^Writer: ' "${OUT}"; then
        show_stderr
        fail "when mmap failed, shared_value went on (exit status ${STATUS}): does it check mmap's result for MAP_FAILED and end with err_exit(\"mmap\")?"
        return 1
    fi
    assert_exit 1 || return
    assert_stderr_matches 'mmap.*: Cannot allocate memory' \
        "when mmap failed, the error must name the call and the reason, as err_exit(\"mmap\") does ('shared_value: mmap: Cannot allocate memory')"
}

# One mapping, made before the first fork, so that every process inherits
# it.  A mapping made after fork() - in a child, or one for each child - is
# a second, unrelated one.
test_shared_value__maps_the_value_before_forking() {
    need_strace || return 0
    trace_shared_value || return
    local first main_pid late
    first=$(first_fork_line)
    main_pid=$(awk 'NR == 1 { print $1 }' "${STRACE_LOG}")
    late=$(shared_mmaps | awk -v first="${first}" -v pid="${main_pid}" \
        '$1 > first || $2 != pid { n++ } END { print n + 0 }')
    if [ "${late}" -gt 0 ]; then
        fail "shared_value made ${late} shared mapping(s) after its first fork(): a mapping made after fork() belongs to one process and its later children only - make the Value once, in main(), before any process is started$(first_err "${STRACE_ERR}")"
    fi
}

# prove_lock(): a child sleeps waiting for the lock the parent holds, and
# must be woken when the parent lets go.  A mutex without
# PTHREAD_PROCESS_SHARED wakes only waiters of its own process: the child
# sleeps on (the program kills it after a second and says so).
test_shared_value__lock_wakes_another_process() {
    if [ -n "${STRACE_OUT}" ]; then
        # The traced run's output says it as well: no second wait.
        cp "${STRACE_OUT}" "${OUT}"
        cp "${STRACE_ERR}" "${ERR}"
    else
        TIMEOUT_CAUSE="a process waits for the Value's lock and is never woken: is the mutex PTHREAD_PROCESS_SHARED?"
        run_prog shared_value || return
        TIMEOUT_CAUSE=""
    fi
    if grep -q 'was never woken' "${OUT}"; then
        show_stderr
        fail "a process that waited for the Value's lock was never woken when it was let go: the mutex is private to one process - its attribute must be set PTHREAD_PROCESS_SHARED (pthread_mutexattr_setpshared(3)) before pthread_mutex_init"
        return 1
    fi
    if grep -q 'did not keep another process out' "${OUT}"; then
        show_stderr
        fail "another process took the lock while the parent held it: it locked a copy of its own - is the mapping MAP_SHARED, made before fork()?"
        return 1
    fi
    local want
    want=$(sed -n 1p "${TESTS_DIR}/expected/03_shared_value.out")
    if [ "$(sed -n 1p "${OUT}")" != "${want}" ]; then
        show_stderr
        fail "the first line must be '${want}', from prove_lock(): does main() make the Value and call prove_lock(v) before it starts the Writer and the Reader?$(first_err)"
    fi
}

# The seed's writer and reader: each of 0..4 printed by the writer, then
# by the reader, exactly once and in order; -1 stops the reader.
test_shared_value__writer_and_reader_take_turns() {
    TIMEOUT_CAUSE="the Writer and the Reader wait for each other: do they share one Value?"
    run_prog shared_value || return
    TIMEOUT_CAUSE=""
    if grep -q 'gave up waiting' "${ERR}"; then
        show_stderr
        fail "the Writer and the Reader never saw each other's values: they use different Values - make the Value once, before both process_start() calls, and give both the same one"
        return 1
    fi
    assert_exit 0 || return
    assertEquals "the reader printed each of 0..4 once, in order" \
        "0 1 2 3 4" "$(sed -n 's/^Reader: \([0-9]*\)$/\1/p' "${OUT}" | xargs)" || return
    assert_output 03_shared_value.out
}

# The pace (TICK_MS) sets how long the writer pauses, never who goes first:
# the output is the same at any pace.
test_shared_value__pace_does_not_change_the_output() {
    TICK_MS=3 run_prog shared_value || return
    assert_exit 0 || return
    assert_output 03_shared_value.out
}

# A program killed part-way (at human pace, once the writer has said 0)
# leaves nothing behind: an anonymous mapping has no name in /dev/shm, the
# kernel frees it with the last process that maps it, and the children go
# with their parent (process.h).
test_shared_value__killed_part_way_leaves_nothing() {
    TICK_MS=1000 run_killed KILL '^Writer: 0$' "${BIN_DIR}/shared_value" || return
    assertEquals "killed by SIGKILL" 137 "${STATUS}"
}

test_shared_value__rejects_bad_arguments() {
    assert_usage_error shared_value extra || return
    assert_usage_error shared_value sizes extra
}

# ---------------------------------------------------------------- string_trap

# The char array carries the characters; the pointer carries an address
# that, in the reader, leads to the reader's own (empty) copy.  The
# program writes a longer string into the array before the writer starts,
# so a copy without its '\0' shows the rest of that.  Addresses change from run to run (ASLR) and are masked.
test_string_trap__char_array_carries_the_string() {
    run_prog string_trap || return
    local text
    text=$(sed -n "s/^Reader: the char array in shared memory holds '\(.*\)'$/\1/p" "${OUT}")
    case ${text} in
        "Hello from the writer") ;;
        "") show_stderr
            fail "the reader found no string in the char array: the writer must copy its string's characters into shared->text" ;;
        "Hello from the writer"?*)
            fail "the reader found '${text}': the writer's string, then the rest of the older one - the copy left out the string's terminating NUL character" ;;
        *) fail "the reader found '${text}' in the char array, not 'Hello from the writer': copy the whole string, its characters and its terminating NUL, into shared->text" ;;
    esac || return
    assert_exit 0 || return
    assert_output 03_shared_value_string.out 's/0x[0-9a-f]+/0xADDRESS/g' || return
    assertEquals "the reader follows the same address the writer stored" 1 \
        "$(grep -o '0x[0-9a-f]*' "${OUT}" | sort -u | wc -l)"
}

test_string_trap__rejects_bad_arguments() {
    assert_usage_error string_trap extra
}

# ---------------------------------------------------------------- typecodes

# The table, and its last row for c_char_p: a char pointer, 8 bytes on
# 64-bit Linux.  How the learner spells the type (char *, char*) and words
# the note is free: the test reads the row's fields, not its text.
test_typecodes__table_ends_with_the_pointer_row() {
    run_prog typecodes || return
    assert_exit 0 || return
    local last
    last=$(tail -n 1 "${OUT}")
    if ! grep -q 'c_char_p' <<<"${last}"; then
        fail "the table's last row is not the one for c_char_p (found: '${last}')"
        return 1
    fi
    if ! grep -Eq '^-[[:space:]]+c_char_p[[:space:]]+(const )?char ?\*[[:space:]]+8([[:space:]]|$)' <<<"${last}"; then
        fail "the c_char_p row says '${last}': its typecode is '-', and its C type is a pointer to char, whose sizeof is 8 here"
        return 1
    fi
    if ! grep -Eq '^-[[:space:]]+c_char_p[[:space:]]+(const )?char ?\*[[:space:]]+8[[:space:]]+[^[:space:]]' <<<"${last}"; then
        fail "the c_char_p row has no note: say what a char * holds"
        return 1
    fi
    head -n -1 "${OUT}" >"${SHUNIT_TMPDIR}/table"
    cp "${SHUNIT_TMPDIR}/table" "${OUT}"
    assert_output 03_shared_value_typecodes.out
}

test_typecodes__rejects_bad_arguments() {
    assert_usage_error typecodes extra
}

. "${SHUNIT2}"
