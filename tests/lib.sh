# lib.sh - what every lesson test shares.  Sourced by tests/NN_name.sh.
#
# A lesson test sets LESSON, sources this file, defines test_* functions and
# ends by sourcing shunit2:
#
#     LESSON=01_separate_memory
#     . "$(dirname "$0")/lib.sh"
#     test_children_get_a_copy() {
#         run_prog separate_memory || return
#         assert_exit 0
#         assert_output 01_separate_memory.out
#     }
#     . "${SHUNIT2}"
#
# Which build a test runs is chosen from outside, with the same assertions:
#     WHICH=solution (default)  build/solutions/...   what `make test` checks
#     WHICH=exercise            build/lessons/...     what `make check` checks
#     VARIANT=asan|ubsan|tsan   the sanitizer build of the same tree
# so `WHICH=exercise bash tests/01_separate_memory.sh` works by hand too.

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "${TESTS_DIR}")
BUILD=${BUILD:-build}
case ${BUILD} in /*) ;; *) BUILD=${ROOT}/${BUILD} ;; esac

case ${WHICH:-solution} in
    solution | solutions) TREE=solutions ;;
    exercise | exercises | lessons) TREE=lessons ;;
    *) echo "lib.sh: WHICH must be 'solution' or 'exercise', not '${WHICH}'" >&2
       exit 2 ;;
esac
BIN_DIR=${BUILD}/${VARIANT:+${VARIANT}/}${TREE}/${LESSON}
TSAN_BIN_DIR=${BUILD}/tsan/${TREE}/${LESSON}
SUPERVISE=${BUILD}/tools/supervise
# Test-only programs (tests/tools/), built like the lessons, per variant.
TOOLS_DIR=${BUILD}/${VARIANT:+${VARIANT}/}tools
SHUNIT2=${SHUNIT2:-/usr/bin/shunit2}
SHUNIT_COLOR=${SHUNIT_COLOR:-none}

# Seconds before a program counts as hung.  A lesson program takes
# milliseconds; the margin is for sanitizer builds on a loaded machine.
PROGRAM_TIMEOUT=${PROGRAM_TIMEOUT:-20}

# Tests never wait for a human-paced tick.
export TICK_MS=0
# Sanitizers: fail the program on the first report, and say where.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=0}

SKIPPED_TESTS=0

# ---------------------------------------------------------------- shunit2 hooks
# A test script that defines its own setUp or oneTimeSetUp calls these first.

oneTimeSetUp() {
    OUT=${SHUNIT_TMPDIR}/stdout
    ERR=${SHUNIT_TMPDIR}/stderr
    RUN_TMP=${SHUNIT_TMPDIR}/run-tmp
    REPORT=${SHUNIT_TMPDIR}/report
    if [ ! -x "${SUPERVISE}" ]; then
        echo "lib.sh: ${SUPERVISE} is missing: run 'make' first" >&2
        exit 2
    fi
}

# shunit2 counts failed asserts, not failed tests; this line gives the suite
# driver (tests/suite.sh) the number of tests.  __shunit_tests* are
# shunit2's own counters (2.1.x); they are final when this hook runs.
# (shunit2 may call this hook twice: on the way out too; print once.)
oneTimeTearDown() {
    [ -n "${COUNTS_SHOWN:-}" ] && return 0
    COUNTS_SHOWN=yes
    local passed=${__shunit_testsPassed:-0} failed=${__shunit_testsFailed:-0}
    echo "== counts: $((passed - SKIPPED_TESTS)) passed, ${failed} failed, ${SKIPPED_TESTS} skipped"
}

# ---------------------------------------------------------------- running

# /dev/shm entries that could be ours.  Dot-files and PulseAudio's segments
# belong to desktop programs (browsers, sound) that come and go on their own.
# A name with "-test-PID-" in it belongs to the test script with that pid
# (lesson 08 makes such names on purpose): each script counts only its own,
# so scripts running at the same time never count or remove each other's.
# ${SHM_LEFT_OK} (set by expect_shm_left) is one a run is meant to leave.
shm_entries() {
    ls -1 /dev/shm 2>/dev/null | grep -v -e '^\.' -e '^pulse-shm-' |
        grep -vxF -e "${SHM_LEFT_OK:-}" |
        awk -v mine="-test-$$-" '!/-test-[0-9]+-/ || index($0, mine)' | LC_ALL=C sort
}

# expect_shm_left /NAME COMMAND [ARG...]: run COMMAND (run_prog, run_killed,
# ...) for a program that is meant to leave the shared memory object /NAME
# in /dev/shm: it is neither counted as a leftover nor removed (anything
# else still is); the test asserts on it itself.
expect_shm_left() {
    local SHM_LEFT_OK=${1#/}
    shift
    "$@"
}

# TIMEOUT_CAUSE: a test that runs a program which could hang sets it first
# to a sentence naming the likely cause ("is the lock ever unlocked?"); a
# run that times out says it instead of the generic cause.
TIMEOUT_CAUSE=

# run_cmd PATH [ARG...]: run a program under supervise, with stdout in
# ${OUT}, stderr in ${ERR} and the exit status in ${STATUS}; TMPDIR points
# at an empty scratch folder.  Fails the test (and returns 1) if the program
# hung, left a process behind, or left a /dev/shm entry or a file in TMPDIR;
# whatever it left is removed, so one bad run never spoils the next.
run_cmd() {
    run_begin "$@"
    TMPDIR=${RUN_TMP} SUPERVISE_REPORT=${REPORT} "${SUPERVISE}" "${PROGRAM_TIMEOUT}" "$@" >"${OUT}" 2>"${ERR}"
    STATUS=$?
    run_end
}

# run_killed SIGNAL PATTERN PATH [ARG...]: like run_cmd, but once a line of
# its output matches the extended PATTERN, send SIGNAL to the program itself
# (not to its children).  What it leaves behind must then end by itself:
# supervise allows a few seconds for that, then counts what still runs.
run_killed() {
    local signal=$1 pattern=$2 main="" waited=0
    shift 2
    run_begin "$@"
    TMPDIR=${RUN_TMP} SUPERVISE_REPORT=${REPORT} "${SUPERVISE}" "${PROGRAM_TIMEOUT}" "$@" >"${OUT}" 2>"${ERR}" &
    local sup=$!
    # Wait - for a condition, with a deadline - until the program is running
    # and has printed the line; this orders nothing, it only lets it start.
    while [ "${waited}" -lt 1000 ] && kill -0 "${sup}" 2>/dev/null; do
        main=$(cat "/proc/${sup}/task/${sup}/children" 2>/dev/null)
        main=${main%% *} # the program: supervise's first child
        [ -n "${main}" ] && grep -Eq -- "${pattern}" "${OUT}" && break
        sleep 0.01
        waited=$((waited + 1))
    done
    local killed=""
    if [ -n "${main}" ] && grep -Eq -- "${pattern}" "${OUT}"; then
        kill -s "${signal}" ${main} 2>/dev/null && killed=yes
    fi
    wait "${sup}"
    STATUS=$?
    LAST_CMD="${LAST_CMD} (to get SIG${signal} after /${pattern}/)"
    run_end || return
    if [ -z "${killed}" ]; then
        show_stderr
        fail "${LAST_CMD}: it ended by itself (exit status ${STATUS}) before printing a line like /${pattern}/, so it could not be stopped part-way: see the other failures"
        return 1
    fi
}

run_begin() {
    LAST_CMD="${1##*/}${2:+ ${*:2}}"
    rm -f "${REPORT}"
    CPU_MS="" WALL_MS=""
    SHM_BEFORE=$(shm_entries)
    rm -rf "${RUN_TMP}" && mkdir -p "${RUN_TMP}"
}

# After each run, CPU_MS and WALL_MS hold what it cost (supervise's report):
# the CPU time of every process of the run that was waited for, and the
# program's wall-clock time, in milliseconds.  A test can catch polling or
# spinning with them ("used 900 ms of CPU while it should sleep").
run_end() {
    local problems="" left
    if [ -f "${REPORT}" ]; then
        CPU_MS=$(sed -n 's/^cpu_ms //p' "${REPORT}")
        WALL_MS=$(sed -n 's/^wall_ms //p' "${REPORT}")
    fi
    case ${STATUS} in
        124) problems="${problems}
  ${LAST_CMD} timed out after ${PROGRAM_TIMEOUT} s: ${TIMEOUT_CAUSE:-a deadlock, or a child that never exited}" ;;
        123) problems="${problems}
  ${LAST_CMD} left processes behind: every child must be waited for (waitpid)" ;;
        127) problems="${problems}
  ${LAST_CMD} could not be run: is it built? (make)" ;;
    esac
    left=$(LC_ALL=C comm -13 <(printf '%s\n' "${SHM_BEFORE}") <(shm_entries) | sed '/^$/d')
    if [ -n "${left}" ]; then
        problems="${problems}
  ${LAST_CMD} left entries in /dev/shm (shm_unlink them): $(echo ${left})"
        (cd /dev/shm && rm -f -- ${left})
    fi
    left=$(ls -A "${RUN_TMP}")
    if [ -n "${left}" ]; then
        problems="${problems}
  ${LAST_CMD} left files in its TMPDIR (sockets must be unlinked): $(echo ${left})"
    fi
    if [ -n "${problems}" ]; then
        show_stderr
        fail "${problems#?}"
        return 1
    fi
    return 0
}

# run_prog PROG [ARG...]: run_cmd on this lesson's PROG from the chosen build.
run_prog() {
    local prog=$1
    shift
    run_cmd "${BIN_DIR}/${prog}" "$@"
}

show_stderr() {
    if [ -s "${ERR}" ]; then
        echo "  what ${LAST_CMD} wrote to stderr:"
        sed -n '1,25s/^/  | /p' "${ERR}"
    fi
}

# ---------------------------------------------------------------- asserting

# assert_exit N: the last program exited with status N.
assert_exit() {
    if [ "${STATUS}" != "$1" ]; then
        show_stderr
        fail "${LAST_CMD}: exit status ${STATUS}, expected $1"
        return 1
    fi
}

# expected_lines FILE: the expected file as the learner should read it.
# Seed-style timestamps in found output are masked to this form:
TIMESTAMP_MASK='[YYYY-MM-DD hh:mm:ss]'

# assert_output NAME [SED-EXPR...]: stdout of the last program equals
# tests/expected/NAME, after masking timestamps (and applying SED-EXPRs to
# the found output, for other masks).  In the expected file the lines
# between '@any-order' and '@end' may come in any order: they are lines that
# concurrent processes print, and the program does not fix their order.
# On a mismatch the two are shown side by side as a unified diff.
assert_output() {
    local name=$1 expected=${TESTS_DIR}/expected/$1
    shift
    if [ ! -f "${expected}" ]; then
        fail "no expected file tests/expected/${name}"
        return 1
    fi
    local masks=(-e "s/\\[[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\\]/${TIMESTAMP_MASK}/g")
    local m
    for m in "$@"; do masks+=(-e "$m"); done
    # A NUL byte would end a line early when read back: show it as \0.
    sed -E 's/\x0/\\0/g' "${OUT}" | sed -E "${masks[@]}" >"${SHUNIT_TMPDIR}/found"
    normalise "${expected}" "${SHUNIT_TMPDIR}/found" \
        "${SHUNIT_TMPDIR}/want.txt" "${SHUNIT_TMPDIR}/got.txt"
    if ! diff -q "${SHUNIT_TMPDIR}/want.txt" "${SHUNIT_TMPDIR}/got.txt" >/dev/null; then
        echo "  expected (-) against found (+), for ${LAST_CMD}:"
        diff -u --label "expected: tests/expected/${name}" --label "found: ${LAST_CMD}" \
            "${SHUNIT_TMPDIR}/want.txt" "${SHUNIT_TMPDIR}/got.txt" | sed 's/^/  /'
        if grep -q '^@any-order' "${expected}"; then
            echo "  (lines printed by concurrent processes are compared in any order, shown sorted)"
        fi
        show_stderr
        fail "${LAST_CMD}: output differs from tests/expected/${name}"
        return 1
    fi
}

# normalise EXPECTED FOUND WANT GOT: write the comparable forms of both.
# Ordered lines pair up one to one; an '@any-order' group of k lines takes
# the next k found lines, and both sides of the group are sorted.
normalise() {
    local -a exp act
    mapfile -t exp <"$1"
    mapfile -t act <"$2"
    local i=0 j=0 k
    local -a want=() got=() group
    while [ "$i" -lt "${#exp[@]}" ]; do
        if [ "${exp[i]}" = "@any-order" ]; then
            group=()
            i=$((i + 1))
            while [ "$i" -lt "${#exp[@]}" ] && [ "${exp[i]}" != "@end" ]; do
                group+=("${exp[i]}")
                i=$((i + 1))
            done
            i=$((i + 1))
            k=${#group[@]}
            [ "$k" -eq 0 ] && continue
            mapfile -t -O "${#want[@]}" want < <(printf '%s\n' "${group[@]}" | LC_ALL=C sort)
            if [ "$j" -lt "${#act[@]}" ]; then
                mapfile -t -O "${#got[@]}" got < <(printf '%s\n' "${act[@]:j:k}" | LC_ALL=C sort)
            fi
            j=$((j + k))
        else
            want+=("${exp[i]}")
            [ "$j" -lt "${#act[@]}" ] && got+=("${act[j]}")
            i=$((i + 1))
            j=$((j + 1))
        fi
    done
    [ "$j" -lt "${#act[@]}" ] && got+=("${act[@]:j}")
    if [ "${#want[@]}" -gt 0 ]; then printf '%s\n' "${want[@]}"; fi >"$3"
    if [ "${#got[@]}" -gt 0 ]; then printf '%s\n' "${got[@]}"; fi >"$4"
}

# assert_line_matches REGEX [WHAT]: some stdout line matches the extended REGEX.
assert_line_matches() {
    if ! grep -Eq -- "$1" "${OUT}"; then
        echo "  found, for ${LAST_CMD}:"
        sed 's/^/  | /' "${OUT}"
        show_stderr
        fail "${LAST_CMD}: ${2:-no line of its output matches /$1/}"
        return 1
    fi
}

# assert_stderr_matches REGEX WHAT: some stderr line matches the REGEX.
assert_stderr_matches() {
    if ! grep -Eq -- "$1" "${ERR}"; then
        show_stderr
        fail "${LAST_CMD}: $2"
        return 1
    fi
}

# assert_stderr_lacks REGEX WHAT: no stderr line matches the REGEX.
assert_stderr_lacks() {
    if grep -Eq -- "$1" "${ERR}"; then
        show_stderr
        fail "${LAST_CMD}: $2"
        return 1
    fi
}

# skip_test REASON: skip the rest of this test, saying why.
skip_test() {
    echo "  SKIPPED: $1"
    SKIPPED_TESTS=$((SKIPPED_TESTS + 1))
    startSkipping
}

# assert_usage_error ARG...: the program rejects these arguments with a
# usage line on stderr and exit status 2, and prints nothing on stdout.
assert_usage_error() {
    local prog=$1
    shift
    run_prog "${prog}" "$@" || return
    assert_exit 2 || return
    assert_stderr_matches '^usage: ' "a bad argument must print a usage line" || return
    assertEquals "${LAST_CMD}: nothing on stdout for a bad argument" "" "$(cat "${OUT}")"
}
