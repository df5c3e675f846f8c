# suite.sh - the driver behind `make test`, `make check`, `make verify-exercises`,
# `make run` and `make hint`.  Run it through make, which builds first and
# passes BUILD, LESSON, WHICH, VARIANT, TICK_MS and MAKE in the environment.
#
#   bash tests/suite.sh test     every lesson's test on the solutions (or VARIANT)
#   bash tests/suite.sh check    the learner's loop over the exercises
#   bash tests/suite.sh verify   every untouched exercise must FAIL its test
#   bash tests/suite.sh run      run the solutions (WHICH=exercise: the exercises)
#   bash tests/suite.sh hint     the hint of the current lesson (or LESSON)

set -u
cd "$(dirname "$0")/.." || exit 2
BUILD=${BUILD:-build}
MAKE=${MAKE:-make}

ALL_LESSONS=()
for dir in lessons/[0-9][0-9]_*/; do
    ALL_LESSONS+=("$(basename "${dir}")")
done

# The lessons to work on: all, or the one LESSON names (2, 02 or
# 02_threads_mutex).
select_lessons() {
    LESSONS=()
    local l want=${LESSON:-}
    case ${want} in [1-9]) want=0${want} ;; esac
    for l in "${ALL_LESSONS[@]}"; do
        case ${want} in
            "" | "${l}" | "${l%%_*}") LESSONS+=("${l}") ;;
        esac
    done
    if [ "${#LESSONS[@]}" -eq 0 ]; then
        echo "No lesson matches LESSON=${LESSON}. The lessons are:" >&2
        printf '  %s\n' "${ALL_LESSONS[@]}" >&2
        exit 2
    fi
}

# The tree WHICH names: solutions (the default) or lessons (the exercises).
tree_of_which() {
    case ${WHICH:-solution} in
        solution | solutions) echo solutions ;;
        exercise | exercises | lessons) echo lessons ;;
        *) echo "WHICH must be 'solution' or 'exercise', not '${WHICH}'" >&2
           exit 2 ;;
    esac
}

# title 02_threads_mutex -> "Lesson 02: threads with a mutex", the first
# line of the lesson's README (or made from the folder's name without one).
title() {
    local name=${1#*_} heading
    heading=$(sed -n '1s/^# //p' "lessons/$1/README.md" 2>/dev/null)
    echo "${heading:-Lesson ${1%%_*}: ${name//_/ }}"
}

# run_test LESSON WHICH: run the lesson's test script, output in ${TEST_LOG};
# sets PASSED, FAILED and SKIPPED from its counts line.  A script that dies
# before shunit2 reports counts as one failed test.
run_test() {
    local script=tests/$1.sh
    PASSED=0 FAILED=0 SKIPPED=0
    if [ ! -f "${script}" ]; then
        echo "  no test script ${script}" >"${TEST_LOG}"
        FAILED=1
        return 1
    fi
    WHICH=$2 LESSON=$1 bash "${script}" >"${TEST_LOG}" 2>&1
    local rc=$? counts
    counts=$(sed -n 's/^== counts: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' "${TEST_LOG}")
    if [ -z "${counts}" ]; then
        FAILED=1
        return 1
    fi
    read -r PASSED FAILED SKIPPED <<<"${counts}"
    [ "${rc}" -eq 0 ] && [ "${FAILED}" -eq 0 ]
}

# The test log as a learner should read it: shunit2's chatter and the
# counts line left out, the failures and the diffs kept.
show_log() {
    grep -v -e '^== counts:' -e '^Ran [0-9]* test' -e '^$' \
        -e '^OK' -e '^FAILED (' -e 'returned non-zero return code' "${TEST_LOG}" | sed 's/^/    /'
}

# The "## Hints" section of a lesson's README, without blank lines around.
hint_of() {
    awk '/^## /{on = ($0 ~ /^## Hints/); next} on' "lessons/$1/README.md" |
        sed -e '/./,$!d' | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' | sed 's/^/    /'
}

# The files a learner edits in a lesson.
exercise_files() {
    echo $(ls lessons/"$1"/*.c 2>/dev/null)
}

# Build one lesson's exercise programs; compiler errors go to the screen.
build_exercise() {
    local progs=() src
    for src in lessons/"$1"/*.c; do
        progs+=("${BUILD}/lessons/$1/$(basename "${src}" .c)")
    done
    ${MAKE} -s --no-print-directory "${progs[@]}"
}

TEST_LOG=$(mktemp)
trap 'rm -f "${TEST_LOG}"' EXIT

cmd_test() {
    select_lessons
    local total_p=0 total_f=0 total_s=0 l
    echo "Testing the ${VARIANT:-plain} build of the solutions"
    for l in "${LESSONS[@]}"; do
        if run_test "${l}" solution; then
            if [ "${SKIPPED}" -gt 0 ]; then
                echo "  ok    ${l} (${PASSED} passed, ${SKIPPED} skipped)"
            else
                echo "  ok    ${l} (${PASSED} passed)"
            fi
        else
            echo "  FAIL  ${l} (${PASSED} passed, ${FAILED} failed)"
            sed 's/^/        /' "${TEST_LOG}"
        fi
        grep '^  SKIPPED:' "${TEST_LOG}" | sed 's/^/      /'
        total_p=$((total_p + PASSED)) total_f=$((total_f + FAILED)) total_s=$((total_s + SKIPPED))
    done
    if [ "${total_s}" -gt 0 ]; then
        echo "${total_p} passed, ${total_f} failed, ${total_s} skipped"
    else
        echo "${total_p} passed, ${total_f} failed"
    fi
    [ "${total_f}" -eq 0 ]
}

cmd_check() {
    select_lessons
    local done=0 l
    for l in "${LESSONS[@]}"; do
        if ! build_exercise "${l}"; then
            echo
            echo "$(title "${l}") does not compile yet: see the compiler's message above."
            echo "  Edit: $(exercise_files "${l}")"
            echo "  Then run 'make check' again."
            return 1
        fi
        if run_test "${l}" exercise; then
            echo "  [done] $(title "${l}")"
            done=$((done + 1))
            continue
        fi
        if [ -n "${LESSON:-}" ]; then
            echo "  [checking] $(title "${l}")"
        else
            echo "  [next] $(title "${l}")   <- you are here"
        fi
        echo
        echo "  The test of your exercise says:"
        show_log
        echo
        echo "  Hint:"
        hint_of "${l}"
        echo
        echo "  Edit: $(exercise_files "${l}")"
        echo "  Read: lessons/${l}/README.md"
        echo "  Try:  make run LESSON=${l%%_*} WHICH=exercise"
        echo "  Then: make check"
        if [ -z "${LESSON:-}" ]; then
            echo
            echo "  Progress: ${done}/${#ALL_LESSONS[@]} lessons done"
        fi
        return 1
    done
    if [ -z "${LESSON:-}" ]; then
        echo
        echo "  Progress: ${done}/${#ALL_LESSONS[@]} lessons done. Every exercise passes: well done!"
    else
        echo "  $(title "${LESSONS[0]}") passes."
    fi
}

cmd_verify() {
    select_lessons
    local bad=0 l
    echo "Every untouched exercise must fail its test:"
    for l in "${LESSONS[@]}"; do
        if run_test "${l}" exercise; then
            echo "  WRONG  ${l}: the untouched exercise PASSES its test - the test cannot fail"
            bad=$((bad + 1))
        else
            echo "  good   ${l}: fails as it should ($(grep -c '^ASSERT:' "${TEST_LOG}") failed asserts)"
        fi
    done
    if [ "${bad}" -gt 0 ]; then
        echo "${bad} exercise(s) pass untouched."
        return 1
    fi
    echo "All ${#LESSONS[@]} exercises fail untouched."
}

# The runs of a lesson: lessons/NN/RUN lists them one a line ("PROG ARG...",
# '#' starts a comment); without it, each program once with no arguments.
lesson_runs() {
    if [ -f "lessons/$1/RUN" ]; then
        sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "lessons/$1/RUN"
    else
        local src
        for src in lessons/"$1"/*.c; do basename "${src}" .c; done
    fi
}

cmd_run() {
    select_lessons
    local tree l line rc=0 supervise
    tree=$(tree_of_which) || exit 2
    supervise=$(cd "${BUILD}/tools" && pwd)/supervise
    [ -n "${TICK_MS:-}" ] && export TICK_MS || unset TICK_MS
    for l in "${LESSONS[@]}"; do
        echo
        echo "=== $(title "${l}") (${tree}/${l}) ==="
        while read -r line; do
            echo "\$ ${line}"
            # shellcheck disable=SC2086  # the line is a command and its words
            (cd "${BUILD}/${tree}/${l}" && "${supervise}" 300 ./${line}) </dev/null || rc=1
        done < <(lesson_runs "${l}")
    done
    return "${rc}"
}

cmd_hint() {
    local l
    if [ -n "${LESSON:-}" ]; then
        select_lessons
        l=${LESSONS[0]}
    else
        for l in "${ALL_LESSONS[@]}"; do
            build_exercise "${l}" >/dev/null 2>&1 && run_test "${l}" exercise || break
        done
    fi
    echo "Hint for $(title "${l}") (lessons/${l}/README.md):"
    hint_of "${l}"
}

case ${1:-} in
    test) cmd_test ;;
    check) cmd_check ;;
    verify) cmd_verify ;;
    run) cmd_run ;;
    hint) cmd_hint ;;
    *) echo "usage: bash tests/suite.sh test|check|verify|run|hint" >&2; exit 2 ;;
esac
