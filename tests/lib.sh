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
#
# Tests are named test_<prog>__<what_it_checks> (<prog>: one exercise file
# lessons/NN_name/<prog>.c); a test without "__" belongs to every program
# of the lesson.  Also chosen from outside:
#     PROG=name        run only that program's tests (and the shared ones)
#     FAIL_FAST=1      stop at the first failing test: the rest are skipped
#                      (reported as skipped, not failed) - `make check`
#     PROGRAM_TIMEOUT  seconds before a plain build's run counts as hung
#     SANITIZER_TIMEOUT  the same for sanitizer builds (VARIANT, or a path
#                      under build/asan, build/ubsan, build/tsan)

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
# milliseconds; the margin is for a loaded machine.  `make check` sets a
# short one (2 s) so that a deadlock is reported at once; sanitizer builds
# keep a long one, as they run many times slower.
PROGRAM_TIMEOUT=${PROGRAM_TIMEOUT:-20}
SANITIZER_TIMEOUT=${SANITIZER_TIMEOUT:-20}
# (a longer PROGRAM_TIMEOUT, for a slow machine, holds for them too)
case ${PROGRAM_TIMEOUT} in
    *[!0-9]*) ;;
    *) [ "${PROGRAM_TIMEOUT}" -gt "${SANITIZER_TIMEOUT%.*}" ] 2>/dev/null && SANITIZER_TIMEOUT=${PROGRAM_TIMEOUT} ;;
esac

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

# Without these, shunit2 runs an empty script of that name for every test.
setUp() { :; }
tearDown() { :; }

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

# ---------------------------------------------------------------- which tests

# The script's test functions in file order (as shunit2 finds them).
lib_test_names() {
    grep -aE '^[[:space:]]*((function[[:space:]]+test[A-Za-z0-9_]*)|(test[A-Za-z0-9_]*[[:space:]]*\(\)))' "$0" |
        sed -E 's/^[[:space:]]*(function[[:space:]]+)?//; s/[^A-Za-z0-9_].*//'
}

# shunit2 calls suite() to learn which tests to run: here, in file order,
# those of ${PROG} (all when PROG is empty).  With FAIL_FAST set, each test
# is wrapped so that it is skipped once an earlier one has failed.
suite() {
    local t n=0
    for t in $(lib_test_names); do
        if [ -n "${PROG:-}" ] && [[ ${t} == test_*__* && ${t} != "test_${PROG}__"* ]]; then
            continue
        fi
        if [ -n "${FAIL_FAST:-}" ]; then
            eval "$(declare -f "${t}" | sed "1s/^${t} /__lib_body_${t} /")"
            eval "${t}() { lib_not_after_a_failure || return 0; __lib_body_${t} \"\$@\"; }"
        fi
        suite_addTest "${t}"
        n=$((n + 1))
    done
    if [ "${n}" -eq 0 ]; then
        # shunit2 would run every test of the script instead.
        eval "test_${PROG}__has_no_test_yet() { skip_test 'no test checks ${PROG} yet'; }"
        suite_addTest "test_${PROG}__has_no_test_yet"
    fi
}

lib_not_after_a_failure() {
    if [ "${__shunit_testsFailed:-0}" -gt 0 ]; then
        skip_test "not run: an earlier test failed (FAIL_FAST stops at the first failure)"
        return 1
    fi
}

# ---------------------------------------------------------------- running

# /dev/shm: a test may remove only what it created itself.  Names with
# "-test-PID-" in them are tagged with the pid of the test script that chose
# them (lesson 08 makes such names on purpose): an entry tagged with this
# script's pid ($$) that a run leaves is a failure, and is removed.  Entries
# tagged with another pid belong to another script running at the same time
# and are ignored.  Any other new entry may be anyone's (a program outside
# the tests made it): it is reported (a "NOTE:" line) and left alone.
# Dot-files and PulseAudio's segments belong to desktop programs.
# ${SHM_LEFT_OK} (set by expect_shm_left) is one a run is meant to leave.
shm_entries() {
    local f
    for f in /dev/shm/*; do
        f=${f#/dev/shm/}
        case ${f} in '*' | pulse-shm-*) ;; *) printf '%s\n' "${f}" ;; esac
    done
}

# (without starting a process: this runs twice for every program a test runs)
declare -A SHM_BEFORE=()
shm_snapshot() {
    local f
    SHM_BEFORE=()
    for f in /dev/shm/*; do SHM_BEFORE[${f#/dev/shm/}]=1; done
}

# dir_entries DIR: into the array ENTRIES, what DIR holds, dot-files too.
dir_entries() {
    local ng=0 dg=0
    shopt -q nullglob && ng=1
    shopt -q dotglob && dg=1
    shopt -s nullglob dotglob
    ENTRIES=("$1"/*)
    [ "${ng}" = 1 ] || shopt -u nullglob
    [ "${dg}" = 1 ] || shopt -u dotglob
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
    TMPDIR=${RUN_TMP} SUPERVISE_REPORT=${REPORT} "${SUPERVISE}" "${RUN_TIMEOUT}" "$@" >"${OUT}" 2>"${ERR}"
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
    TMPDIR=${RUN_TMP} SUPERVISE_REPORT=${REPORT} "${SUPERVISE}" "${RUN_TIMEOUT}" "$@" >"${OUT}" 2>"${ERR}" &
    local sup=$!
    # Wait - for a condition, with a deadline - until the program is running
    # and has printed the line; this orders nothing, it only lets it start.
    while [ "${waited}" -lt 1000 ] && kill -0 "${sup}" 2>/dev/null; do
        main=$(cat "/proc/${sup}/task/${sup}/children" 2>/dev/null)
        main=${main%% *} # the program: supervise's first child
        [ -n "${main}" ] && grep -aEq -- "${pattern}" "${OUT}" && break
        sleep 0.01
        waited=$((waited + 1))
    done
    local killed=""
    if [ -n "${main}" ] && grep -aEq -- "${pattern}" "${OUT}"; then
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
    # A sanitizer build runs many times slower: it keeps a long timeout.
    RUN_TIMEOUT=${PROGRAM_TIMEOUT}
    case ${VARIANT:-}:$1 in
        ?*:* | :"${BUILD}"/asan/* | :"${BUILD}"/ubsan/* | :"${BUILD}"/tsan/*)
            RUN_TIMEOUT=${SANITIZER_TIMEOUT} ;;
    esac
    rm -f "${REPORT}"
    CPU_MS="" WALL_MS=""
    shm_snapshot
    if [ -d "${RUN_TMP}" ]; then
        dir_entries "${RUN_TMP}"
        [ "${#ENTRIES[@]}" -eq 0 ] || { rm -rf "${RUN_TMP}" && mkdir -p "${RUN_TMP}"; }
    else
        mkdir -p "${RUN_TMP}"
    fi
}

# After each run, CPU_MS and WALL_MS hold what it cost (supervise's report):
# the CPU time of every process of the run that was waited for, and the
# program's wall-clock time, in milliseconds.  A test can catch polling or
# spinning with them ("used 900 ms of CPU while it should sleep").
run_end() {
    local problems="" name cause
    if [ -f "${REPORT}" ]; then
        local key value
        while read -r key value; do
            case ${key} in cpu_ms) CPU_MS=${value} ;; wall_ms) WALL_MS=${value} ;; esac
        done <"${REPORT}"
    fi
    case ${STATUS} in
        124)
            # The test's own TIMEOUT_CAUSE, or else what supervise saw each
            # process blocked in ("stuck COMM PID SYSCALL WORDS" lines; the
            # same lines are on stderr, shown below).
            cause=${TIMEOUT_CAUSE:-$(stuck_causes)}
            problems="${problems}
  ${LAST_CMD} timed out after ${RUN_TIMEOUT} s: ${cause:-a deadlock, or a child that never exited}" ;;
        123) problems="${problems}
  ${LAST_CMD} left processes behind: every child must be waited for (waitpid)" ;;
        127) problems="${problems}
  ${LAST_CMD} could not be run: is it built? (make)" ;;
    esac
    # New /dev/shm entries (see shm_entries): only this script's are removed.
    local mine=() others=()
    for name in /dev/shm/*; do
        name=${name#/dev/shm/}
        [ -n "${SHM_BEFORE[${name}]:-}" ] && continue
        case ${name} in
            '*' | pulse-shm-* | "${SHM_LEFT_OK:-}") ;;
            *-test-$$-*) mine+=("${name}") ;;
            *-test-[0-9]*-*) ;;
            *) others+=("${name}") ;;
        esac
    done
    if [ "${#mine[@]}" -gt 0 ]; then
        problems="${problems}
  ${LAST_CMD} left entries in /dev/shm (shm_unlink them): ${mine[*]}"
        for name in "${mine[@]}"; do rm -f -- "/dev/shm/${name}"; done
    fi
    for name in "${others[@]}"; do
        echo "  NOTE: /dev/shm/${name} appeared while ${LAST_CMD} ran; it is not tagged -test-$$-, so it may be another program's and was left alone (if your program made it: rm '/dev/shm/${name}')"
    done
    dir_entries "${RUN_TMP}"
    if [ "${#ENTRIES[@]}" -gt 0 ]; then
        problems="${problems}
  ${LAST_CMD} left files in its TMPDIR (sockets must be unlinked): ${ENTRIES[*]#"${RUN_TMP}"/}"
    fi
    if [ -n "${problems}" ]; then
        show_stderr
        fail "${problems#?}"
        return 1
    fi
    return 0
}

# stuck_causes: what the processes of a run that timed out waited for, in
# words, the likeliest cause first: a parent waiting for its children only
# waits because they are stuck, so that comes last (and only when alone).
stuck_causes() {
    [ -f "${REPORT}" ] || return 0
    sed -n 's/^stuck [^ ]* [0-9]* [^ ]* //p' "${REPORT}" | sed 's/ ([0-9]* of [0-9]* threads)$//' |
        awk '!seen[$0]++ { if ($0 ~ /^waiting for a child/) child = $0; else other[++n] = $0 }
             END { if (n == 0 && child != "") print child
                   for (i = 1; i <= n; i++) printf "%s%s", other[i], (i < n ? "; " : "\n") }'
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
        visible <"${ERR}" | sed -n '1,25s/^/  | /p'
    fi
}

# visible: a program's output as it can be shown in a log: a NUL byte as
# \0 (a NUL would end a line early, and make grep call the log binary).
visible() {
    LC_ALL=C sed 's/\x0/\\0/g'
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
    visible <"${OUT}" | sed -E "${masks[@]}" >"${SHUNIT_TMPDIR}/found"
    normalise "${expected}" "${SHUNIT_TMPDIR}/found" \
        "${SHUNIT_TMPDIR}/want.txt" "${SHUNIT_TMPDIR}/got.txt"
    if ! diff -q "${SHUNIT_TMPDIR}/want.txt" "${SHUNIT_TMPDIR}/got.txt" >/dev/null; then
        echo "  expected (-) against found (+), for ${LAST_CMD}:"
        diff -a -u --label "expected: tests/expected/${name}" --label "found: ${LAST_CMD}" \
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
    if ! grep -aEq -- "$1" "${OUT}"; then
        echo "  found, for ${LAST_CMD}:"
        visible <"${OUT}" | sed 's/^/  | /'
        show_stderr
        fail "${LAST_CMD}: ${2:-no line of its output matches /$1/}"
        return 1
    fi
}

# assert_stderr_matches REGEX WHAT: some stderr line matches the REGEX.
assert_stderr_matches() {
    if ! grep -aEq -- "$1" "${ERR}"; then
        show_stderr
        fail "${LAST_CMD}: $2"
        return 1
    fi
}

# assert_stderr_lacks REGEX WHAT: no stderr line matches the REGEX.
assert_stderr_lacks() {
    if grep -aEq -- "$1" "${ERR}"; then
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
