#!/usr/bin/env bash
# grade_class.sh - `make grade-all` on a small class, lesson 01 only (to
# stay fast):
#
#   solved/          lessons/ made of the solutions: full marks
#   pristine.tar.gz  a repository tarball with the untouched exercises: zero
#   cheat/           the solution, plus a try to write the tests, the
#                    grader's results, its own outcome and log, the
#                    supervise wrapper and another student's build, and fake
#                    test lines into every descriptor it inherits; given an
#                    argument, it leaves a process that forks without end;
#                    and its submission holds a tests/ and a results file
#
# The cheat gets what its program earns: the points of the tests it passes,
# a failure for the test that runs it with an argument (which the untouched
# exercise passes, so it carries no points); nothing it tried to write
# changed, and the others' grades are untouched by its fork bomb.  The parts that need the sandbox (root) are skipped,
# saying so, without root.
#
# Run it directly: bash tests/harness/grade_class.sh (after `make`).
. "$(dirname "$0")/../lib.sh"

oneTimeSetUp() {
    T=${BUILD}/grade-test-$$
    WORK=${T}/work
    R=${T}/results
    SUBS=${T}/submissions
    rm -rf "${T}" && mkdir -p "${SUBS}"
    local l
    for l in 01_separate_memory; do
        mkdir -p "${SUBS}/solved/lessons/${l}" "${T}/pristine/course-main/lessons/${l}" \
            "${SUBS}/cheat/lessons/${l}"
        cp "${ROOT}/solutions/${l}"/*.c "${SUBS}/solved/lessons/${l}/"
        # The grader's own lessons/ are the untouched exercises here.
        cp "${ROOT}/lessons/${l}"/*.c "${T}/pristine/course-main/lessons/${l}/"
    done
    tar -czf "${SUBS}/pristine.tar.gz" -C "${T}/pristine" course-main
    make_cheat "${SUBS}/cheat"
    cp "${ROOT}/tests/01_separate_memory.sh" "${T}/test01.before"
    cp "${ROOT}/tests/tools/results.awk" "${T}/results.awk.before"
    START=${SECONDS}
    (cd "${ROOT}" && env -u CHECK_MODE -u FAIL_FAST BUILD="${BUILD}" LESSON=01 \
        RESULTS="${R}" GRADE_WORK="${WORK}" GRADE_JOBS=2 PROGRAM_TIMEOUT=5 \
        TSAN_TESTED= TEST_TOOLS="manager_probe replay_requests" bash tests/grade.sh all "${SUBS}") \
        >"${T}/output" 2>&1
    GRADE_STATUS=$?
    TOOK=$((SECONDS - START))
}

oneTimeTearDown() {
    [ -n "${COUNTS_SHOWN:-}" ] && return 0
    if [ -n "${T:-}" ] && [ -d "${T}" ] && [ -z "${GRADE_TEST_KEEP:-}" ]; then rm -rf "${T}"; fi
    COUNTS_SHOWN=yes
    local passed=${__shunit_testsPassed:-0} failed=${__shunit_testsFailed:-0}
    echo "== counts: $((passed - SKIPPED_TESTS)) passed, ${failed} failed, ${SKIPPED_TESTS} skipped"
}

# The cheat's submission.  Every path it tries is one the grader owns.
make_cheat() {
    local d=$1 p targets=""
    for p in "${R}/injected" "${R}/class.csv.part" "${R}/class.csv" \
        "${ROOT}/tests/01_separate_memory.sh" "${ROOT}/tests/tools/results.awk" \
        "${WORK}/cheat/out/raw-01_separate_memory.tsv" "${WORK}/cheat/out/01_separate_memory.log" \
        "${WORK}/cheat/build/tools/supervise" "${WORK}/cheat/tests-tmp/injected" \
        "${WORK}/solved/build/lessons/01_separate_memory/separate_memory" \
        "${WORK}/untouched/out/raw-01_separate_memory.tsv"; do
        targets="${targets}\"${p}\", "
    done
    {
        cat <<EOF
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static void cheat(void)
{
    static const char *targets[] = { ${targets} 0 };
    char mark[64], fake[128];
    /* The mark is made at run time, so that neither the source nor the
     * program holds it: the test looks for it in every file it protects. */
    snprintf(mark, sizeof mark, "CHEAT-%d\n", 1000 + (int)getpid() % 1000);
    snprintf(fake, sizeof fake, "\ntest_each_child_changes_only_its_own_copy\n%s", mark);
    for (int i = 0; targets[i] != 0; i++) {
        int fd = open(targets[i], O_WRONLY | O_CREAT | O_APPEND, 0666);
        if (fd >= 0) {
            if (write(fd, mark, strlen(mark)) < 0) {}
            close(fd);
        }
    }
    for (int fd = 3; fd < 256; fd++)
        if (write(fd, fake, strlen(fake)) < 0) {}
}
EOF
        sed 's/^int main(int argc, char \*argv\[\])/static int real_main(int argc, char *argv[])/' \
            "${ROOT}/solutions/01_separate_memory/separate_memory.c"
        cat <<'EOF'
int main(int argc, char *argv[])
{
    cheat();
    if (argc > 1 && fork() == 0) {
        setsid();
        for (;;)
            fork();
    }
    return real_main(argc, argv);
}
EOF
    } >"${d}/lessons/01_separate_memory/separate_memory.c"
    mkdir -p "${d}/tests" "${d}/build/results"
    printf '#!/bin/sh\necho test_each_child_changes_only_its_own_copy\nexit 0\n' >"${d}/tests/01_separate_memory.sh"
    echo "cheat,99,99,198" >"${d}/build/results/class.csv"
}

need_root() {
    [ "$(id -u)" = 0 ] || skip_test "not root: without the sandbox a student's programs run as you (README)"
}

test_grade_all__class_csv_has_the_grades_earned() {
    assertEquals "make grade-all's exit status; output: $(cat "${T}/output")" 0 "${GRADE_STATUS}"
    assertEquals "build/results/class.csv (the cheat earns what its program earns); output: $(cat "${T}/output")" \
        "student,lesson01,total
cheat,10.00,10.00
pristine,0.00,0.00
solved,10.00,10.00" "$(cat "${R}/class.csv" 2>&1)"
    echo "  (graded in ${TOOK} s)"
}

test_grade_all__each_student_gets_reports() {
    local s
    for s in cheat pristine solved; do
        assertTrue "${s}: results.json, junit.xml, results.tap, score.txt" \
            "[ -s '${R}/students/${s}/results.json' ] && [ -s '${R}/students/${s}/junit.xml' ] && [ -s '${R}/students/${s}/results.tap' ] && [ -s '${R}/students/${s}/score.txt' ]"
    done
    command -v prove >/dev/null 2>&1 || { skip_test "no prove here (Debian: perl)"; return; }
    (cd "${ROOT}" && prove --exec 'sh tests/grade/prove-tap14' "${R}/students/solved/results.tap") \
        >"${T}/prove" 2>&1
    local rc=$?
    assertEquals "prove passes the solved submission's TAP: $(cat "${T}/prove")" 0 "${rc}"
    assertTrue "the cheat's fork bomb fails in its TAP: $(cat "${R}/students/cheat/results.tap")" \
        "grep -q '^not ok [0-9]* - 01_separate_memory: test_takes_no_arguments$' '${R}/students/cheat/results.tap'"
}

test_grade_all__nothing_the_cheat_tried_to_write_changed() {
    need_root
    local hits
    hits=$(grep -rlE 'CHEAT-[0-9]' "${R}" "${WORK}" "${ROOT}/tests" 2>/dev/null)
    assertEquals "files the cheat reached (it must reach none)" "" "${hits}"
    assertFalse "the cheat created ${R}/injected" "[ -e '${R}/injected' ]"
    assertTrue "tests/01_separate_memory.sh unchanged" "cmp -s '${T}/test01.before' '${ROOT}/tests/01_separate_memory.sh'"
    assertTrue "tests/tools/results.awk unchanged" "cmp -s '${T}/results.awk.before' '${ROOT}/tests/tools/results.awk'"
}

test_grade_all__the_fork_bomb_leaves_nothing_behind() {
    need_root
    local left
    left=$(ps -e -o uid=,pid=,comm= | awk '$1 >= 62000 && $1 < 63000')
    assertEquals "processes of the students' uids after grading" "" "${left}"
    assertTrue "the bomb's test says it left processes behind: $(head -n 20 "${R}/students/cheat/logs/01_separate_memory.log")" \
        "grep -q 'left processes behind' '${R}/students/cheat/logs/01_separate_memory.log'"
}

. "${SHUNIT2}"
