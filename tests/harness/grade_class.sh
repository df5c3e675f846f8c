#!/usr/bin/env bash
# grade_class.sh - `make grade-all` on a small class of the fixture course
# (tests/harness/fixture/, through tree.sh: a throw-away copy of the tree,
# so it never depends on the real lessons), lesson 01 only (lesson 02's
# untouched exercise hangs):
#
#   solved/          lessons/ made of the solutions: full marks
#   pristine.tar.gz  a repository tarball with the untouched exercises: zero
#   cheat/           the solutions, and first.c tries to write the tests,
#                    the grader's results, its own outcome and log, the
#                    supervise wrapper and another student's build, and fake
#                    test lines into every descriptor it inherits; given an
#                    argument, it leaves a process that forks without end;
#                    and its submission holds a tests/ and a results file
#
# The cheat gets what its programs earn: the points of the tests they pass,
# and none for the test that runs first.c with an argument (its fork bomb
# fails it); nothing it tried to write changed, and the others' grades are
# untouched by its fork bomb.  Here lesson 01 also has traced.c, tested
# under strace (add_traced).  The fixture's weights: lesson 01 is worth 6,
# the hello test counts double: 2.40, the argument test, second.c's and
# traced.c's 1.20 each.  The parts that need the sandbox (root) are
# skipped, saying so, without root.
# `make test` runs it.
LESSON=harness
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fixture/tree.sh"

eval "$(declare -f oneTimeSetUp | sed '1s/^oneTimeSetUp/lib_oneTimeSetUp/')"
oneTimeSetUp() {
    lib_oneTimeSetUp
    # The students' uids must reach the submissions' builds in here: open
    # the way (shunit2's folders are 700) to others, without listing.
    chmod 711 "${SHUNIT_TMPDIR}" "$(dirname "${SHUNIT_TMPDIR}")"
    T=${SHUNIT_TMPDIR}/tree
    WORK=${SHUNIT_TMPDIR}/work
    R=${SHUNIT_TMPDIR}/results
    SUBS=${SHUNIT_TMPDIR}/submissions
    OUT_TREE=${SHUNIT_TMPDIR}/output
    make_tree "${T}" || exit 2
    add_traced "${T}"
    local l=01_alpha
    mkdir -p "${SUBS}/solved/lessons/${l}" "${SHUNIT_TMPDIR}/pristine/course-main/lessons/${l}" \
        "${SUBS}/cheat/lessons/${l}"
    cp "${T}/solutions/${l}"/*.c "${SUBS}/solved/lessons/${l}/"
    cp "${T}/solutions/${l}"/*.c "${SUBS}/cheat/lessons/${l}/"
    # The grader's own lessons/ are the untouched exercises here.
    cp "${T}/lessons/${l}"/*.c "${SHUNIT_TMPDIR}/pristine/course-main/lessons/${l}/"
    tar -czf "${SUBS}/pristine.tar.gz" -C "${SHUNIT_TMPDIR}/pristine" course-main
    make_cheat "${SUBS}/cheat"
    cp "${T}/tests/01_alpha.sh" "${SHUNIT_TMPDIR}/test01.before"
    cp "${T}/tests/tools/results.awk" "${SHUNIT_TMPDIR}/results.awk.before"
    local start
    start=$(now_ms)
    in_tree "${T}" env RESULTS="${R}" GRADE_WORK="${WORK}" GRADE_JOBS=2 \
        make grade-all LESSON=01 SUBMISSIONS="${SUBS}"
    GRADE_STATUS=${RC}
    TOOK=$(($(now_ms) - start))
}

# add_traced DIR: in this test's tree only (the fixture's other users count
# its programs and tests), lesson 01 gets a third program, traced.c, whose
# test runs it under strace -f, as lessons 01, 03 and 05 do.  Its solution
# forks and waits; the untouched exercise does not fork.  In the sandbox,
# strace must still write the test's trace, and the program run as the
# student.
add_traced() {
    local d=$1 t=test # (so that this file's own test list does not take it in)
    cat >"${d}/lessons/01_alpha/traced.c" <<'EOF'
/* traced.c - fixture exercise: it must fork a child and wait for it. */
#include <stdio.h>

int main(void)
{
    printf("done\n");
    return 0;
}
EOF
    cat >"${d}/solutions/01_alpha/traced.c" <<'EOF'
/* traced.c - fixture solution: forks, waits, says who it runs as. */
#include "errors.h"
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    pid_t pid = fork();
    if (pid == -1)
        err_exit("fork");
    if (pid == 0)
        _exit(0);
    if (waitpid(pid, NULL, 0) == -1)
        err_exit("waitpid");
    printf("uid %d\n", (int)getuid());
    return 0;
}
EOF
    local script=${d}/tests/01_alpha.sh
    sed -i '$d' "${script}" # (the last line sources shunit2)
    cat >>"${script}" <<EOF
${t}_traced__forks_and_waits_under_strace() {
    command -v strace >/dev/null 2>&1 || { skip_test "no strace here"; return; }
    local trace=\${SHUNIT_TMPDIR}/trace
    run_cmd "\$(command -v strace)" -f -qq -o "\${trace}" -e trace=clone,clone3,fork,vfork,wait4 \\
        "\${BIN_DIR}/traced" || return
    [ -s "\${trace}" ] || { fail "traced (under strace): an empty trace (strace said: \$(head -c 300 "\${ERR}"))"; return 1; }
    grep -Eq '(clone|fork)\(' "\${trace}" && grep -q 'wait4(' "\${trace}" ||
        { fail "traced (under strace): expected a fork and a wait: \$(cat "\${trace}")"; return 1; }
    echo "  traced: \$(cat "\${OUT}")"
}

. "\${SHUNIT2}"
EOF
    (cd "${d}" && git add -A && git -c commit.gpgsign=false commit -qm "a traced program")
}

# The cheat's submission.  Every path it tries is one the grader owns.
make_cheat() {
    local d=$1 p targets=""
    for p in "${R}/injected" "${R}/class.csv.part" "${R}/class.csv" \
        "${T}/tests/01_alpha.sh" "${T}/tests/tools/results.awk" \
        "${WORK}/cheat/out/raw-01_alpha.tsv" "${WORK}/cheat/out/01_alpha.log" \
        "${WORK}/cheat/build/tools/supervise" "${WORK}/cheat/tests-tmp/injected" \
        "${WORK}/solved/build/lessons/01_alpha/first" \
        "${WORK}/untouched/out/raw-01_alpha.tsv"; do
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
    snprintf(fake, sizeof fake, "\ntest_first__takes_no_arguments\n%s", mark);
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
            "${T}/solutions/01_alpha/first.c"
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
    } >"${d}/lessons/01_alpha/first.c"
    mkdir -p "${d}/tests" "${d}/build/results"
    printf '#!/bin/sh\necho test_first__takes_no_arguments\nexit 0\n' >"${d}/tests/01_alpha.sh"
    echo "cheat,99,99,198" >"${d}/build/results/class.csv"
}

need_root() {
    [ "$(id -u)" = 0 ] || skip_test "not root: without the sandbox a student's programs run as you (README)"
}

test_grade_all__class_csv_has_the_grades_earned() {
    assertEquals "make grade-all's exit status; output: $(cat "${OUT_TREE}")" 0 "${GRADE_STATUS}"
    assertEquals "class.csv: solved gets full marks, pristine zero, the cheat what its programs earn (all but the 1.20 of the test its fork bomb fails); output: $(cat "${OUT_TREE}")" \
        "student,lesson01,total
cheat,4.80,4.80
pristine,0.00,0.00
solved,6.00,6.00" "$(cat "${R}/class.csv" 2>&1)"
    echo "  (graded in ${TOOK} ms)"
}

test_grade_all__each_student_gets_reports() {
    local s
    for s in cheat pristine solved; do
        assertTrue "${s}: results.json, junit.xml, results.tap, score.txt in results/students/${s}/: $(ls "${R}/students/${s}" 2>&1)" \
            "[ -s '${R}/students/${s}/results.json' ] && [ -s '${R}/students/${s}/junit.xml' ] && [ -s '${R}/students/${s}/results.tap' ] && [ -s '${R}/students/${s}/score.txt' ]"
    done
    assertTrue "the cheat's fork bomb fails its test in its TAP: $(cat "${R}/students/cheat/results.tap")" \
        "grep -q '^not ok [0-9]* - 01_alpha: test_first__takes_no_arguments$' '${R}/students/cheat/results.tap'"
    assertEquals "the cheat fails only that test of lesson 01 (its fake test lines and its own tests/ change nothing): $(cat "${R}/students/cheat/score.txt")" \
        1 "$(grep -c '^not ok [0-9]* - 01_alpha:' "${R}/students/cheat/results.tap")"
    command -v prove >/dev/null 2>&1 || { skip_test "no prove here (Debian: perl)"; return; }
    (cd "${T}" && prove --exec 'sh tests/grade/prove-tap14' "${R}/students/solved/results.tap") \
        >"${SHUNIT_TMPDIR}/prove" 2>&1
    local rc=$?
    assertEquals "prove passes the solved submission's TAP: $(cat "${SHUNIT_TMPDIR}/prove")" 0 "${rc}"
}

# In the sandbox a test's strace runs as root and writes the trace, and the
# program it starts runs as the student (tests/grade/sandbox.sh).
test_grade_all__strace_traces_in_the_sandbox() {
    local log=${R}/students/solved/logs/01_alpha.log
    command -v strace >/dev/null 2>&1 || { skip_test "no strace here"; return; }
    assertFalse "the strace test ran (not skipped) and passed: $(cat "${log}")" "grep -q -e SKIPPED -e ASSERT '${log}'"
    need_root
    assertTrue "the traced program ran as a student's uid, not as root: $(cat "${log}")" \
        "grep -Eq '^  traced: uid 6[0-9]{4}$' '${log}'"
}

test_grade_all__nothing_the_cheat_tried_to_write_changed() {
    need_root
    local hits
    hits=$(grep -rlE 'CHEAT-[0-9]' "${R}" "${WORK}" "${T}/tests" 2>/dev/null)
    assertEquals "files the cheat reached (it must reach none)" "" "${hits}"
    assertFalse "the cheat created ${R}/injected" "[ -e '${R}/injected' ]"
    assertTrue "the grader's tests/01_alpha.sh is unchanged" "cmp -s '${SHUNIT_TMPDIR}/test01.before' '${T}/tests/01_alpha.sh'"
    assertTrue "the grader's tests/tools/results.awk is unchanged" "cmp -s '${SHUNIT_TMPDIR}/results.awk.before' '${T}/tests/tools/results.awk'"
}

test_grade_all__the_fork_bomb_leaves_nothing_behind() {
    need_root
    local left log=${R}/students/cheat/logs/01_alpha.log
    left=$(ps -e -o uid=,pid=,comm= | awk '$1 >= 62000 && $1 < 63000')
    assertEquals "processes of the students' uids after grading" "" "${left}"
    assertTrue "the bomb's test says it left processes behind: $(head -n 20 "${log}")" \
        "grep -q 'left processes behind' '${log}'"
}

. "${SHUNIT2}"
