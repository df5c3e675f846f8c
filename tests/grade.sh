#!/usr/bin/env bash
# grade.sh - the teacher's side: behind `make grade` and `make grade-all`.
#
#   bash tests/grade.sh one         grade this tree's exercises (lessons/)
#   bash tests/grade.sh all DIR     grade every submission in DIR, one
#                                   folder or tarball per student
#
# Run it through make, which passes BUILD, LESSON, MAKE, CC, CFLAGS,
# TSAN_TESTED and TEST_TOOLS in the environment.  LESSON may name several
# lessons ("01 02").  What a teacher may set (README, "For teachers"):
#
#   RESULTS=DIR            where the reports go (default BUILD/results)
#   GRADE_WEIGHTS=FILE     the points of each lesson (tests/grade/weights)
#   GRADE_PRISTINE=DIR     `one` only: a tree with the untouched exercises,
#                          or git:REV for a commit that holds them; tests
#                          the untouched exercises pass earn nothing (in
#                          `all` the grader's own tree is the pristine one)
#   PROGRAM_TIMEOUT=S      seconds a program may run in a test (default 3:
#                          a passing run takes milliseconds, and a hung
#                          one would only cost time; make check gives 2)
#   SUPERVISE_GRACE=S      seconds what a killed program leaves may take
#                          to end by itself (default 3; make check: 2)
#   GRADE_LESSON_TIMEOUT=S seconds for one lesson's test (default 60)
#   GRADE_TIMEOUT=S        `all`: seconds for one submission (default 300)
#   GRADE_JOBS=N           `all`: submissions graded at once (as root:
#                          the number of CPUs; otherwise 1)
#   GRADE_NPROC=N          processes (and threads) a student's programs may
#                          have at once (default 128)
#   GRADE_UID_BASE=N       `all` as root: the first of the unused uids the
#                          students' code runs as (default 62000)
#   GRADE_WORK=DIR         `all`: where submissions are built and tested
#                          (default BUILD/grade-all)
#
# Each test's outcome is read from its log by tests/tools/results.awk; the
# files in tests/grade/ turn the outcomes into points (score.awk, with the
# weights file) and the points into each report (report.awk).

set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
BUILD=${BUILD:-build}
case ${BUILD} in /*) ;; *) BUILD=${ROOT}/${BUILD} ;; esac
MAKE=${MAKE:-make}
RESULTS=${RESULTS:-${BUILD}/results}
case ${RESULTS} in /*) ;; *) RESULTS=${ROOT}/${RESULTS} ;; esac
GRADE=${ROOT}/tests/grade
WEIGHTS=${GRADE_WEIGHTS:-${GRADE}/weights}
RESULTS_AWK=${ROOT}/tests/tools/results.awk
PROGRAM_TIMEOUT=${PROGRAM_TIMEOUT:-3}
SUPERVISE_GRACE=${SUPERVISE_GRACE:-3}
GRADE_LESSON_TIMEOUT=${GRADE_LESSON_TIMEOUT:-60}
GRADE_TIMEOUT=${GRADE_TIMEOUT:-300}
GRADE_NPROC=${GRADE_NPROC:-128}
GRADE_UID_BASE=${GRADE_UID_BASE:-62000}
TSAN_TESTED=${TSAN_TESTED:-}
TEST_TOOLS=${TEST_TOOLS:-}
# The system's own PATH for what runs as a student's uid: a PATH into a
# private home (pyenv's shims, say) would not work for that uid.
SYSTEM_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

die() { echo "grade: $*" >&2; exit 2; }

ALL_LESSONS=()
for dir in "${ROOT}"/lessons/[0-9][0-9]_*/; do
    ALL_LESSONS+=("$(basename "${dir}")")
done

# LESSONS: the lessons LESSON names (2, 02, 02_threads_mutex; several with
# spaces or commas), or all of them.
select_lessons() {
    LESSONS=()
    local want l found
    [ -z "${LESSON:-}" ] && { LESSONS=("${ALL_LESSONS[@]}"); return; }
    for want in ${LESSON//,/ }; do
        case ${want} in [1-9]) want=0${want} ;; esac
        found=""
        for l in "${ALL_LESSONS[@]}"; do
            case ${want} in "${l}" | "${l%%_*}") LESSONS+=("${l}"); found=yes ;; esac
        done
        if [ -z "${found}" ]; then
            echo "No lesson matches LESSON=${want}. The lessons are:" >&2
            printf '  %s\n' "${ALL_LESSONS[@]}" >&2
            exit 2
        fi
    done
}

# The programs of a lesson, from the grader's tree: what is built.
progs_of() {
    local src
    for src in "${ROOT}/lessons/$1"/*.c; do
        [ -f "${src}" ] && basename "${src}" .c
    done
}

# The exercises among them: all but the programs that come complete, which
# lessons/NN_name/GIVEN names (as for make check); a submission's copy of
# a given program is never taken.
exercises_of() {
    local given=${ROOT}/lessons/$1/GIVEN p
    if [ ! -f "${given}" ]; then
        progs_of "$1"
        return
    fi
    for p in $(progs_of "$1"); do
        awk -v p="${p}.c" '$1 == p { found = 1 } END { exit !found }' "${given}" || echo "${p}"
    done
}

# The tests of a lesson, found in the grader's copy of its script the way
# shunit2 finds them.
tests_of() {
    sed -n -E 's/^[[:space:]]*(function[[:space:]]+)?(test_[A-Za-z0-9_]+)[[:space:]]*\(\).*/\2/p' \
        "${ROOT}/tests/$1.sh" 2>/dev/null
}

# make, with only what the build needs from the environment: a fail-fast
# switch or a MAKEFLAGS meant for the caller never reaches it.
clean_make() {
    env -i PATH="${PATH}" HOME="${HOME:-/}" ${CC:+CC="${CC}"} ${CFLAGS:+CFLAGS="${CFLAGS}"} \
        "${MAKE}" -s --no-print-directory "$@"
}

# The targets every graded build shares: common/, supervise, the test tools.
shared_targets() {
    local b=$1 t
    echo "${b}/libcommon.a" "${b}/tools/supervise"
    for t in ${TEST_TOOLS}; do echo "${b}/tools/${t}"; done
    [ -n "${TSAN_TESTED}" ] && echo "${b}/tsan/libcommon.a"
}

# The targets of one lesson: its exercise programs (and their ThreadSanitizer
# builds, for the programs the Makefile's TSAN_TESTED names).
lesson_targets() {
    local b=$1 l=$2 p t
    for p in $(progs_of "${l}"); do echo "${b}/lessons/${l}/${p}"; done
    for t in ${TSAN_TESTED}; do
        case ${t} in "${l}"/*) echo "${b}/tsan/lessons/${t}" ;; esac
    done
}

# seed_build DEST: DEST gets the grader's own programs (common/, supervise,
# the test tools): copied from BUILD when they are up to date there (as
# after `make test`), else built.
seed_build() {
    local dest=$1 part
    mkdir -p "${dest}"
    if [ ! -e "${dest}/libcommon.a" ] && [ -e "${BUILD}/libcommon.a" ] &&
        clean_make -q BUILD="${BUILD}" $(shared_targets "${BUILD}") 2>/dev/null; then
        for part in common libcommon.a tools tsan/common tsan/libcommon.a; do
            if [ -e "${BUILD}/${part}" ]; then
                mkdir -p "$(dirname "${dest}/${part}")"
                cp -pR "${BUILD}/${part}" "${dest}/${part}"
            fi
        done
        rm -f "${dest}/tools/supervise.real"
    fi
    clean_make -j"$(nproc 2>/dev/null || echo 1)" BUILD="${dest}" $(shared_targets "${dest}") ||
        die "the grader's own programs do not build"
}

# ------------------------------------------------------------------ one tree
# grade_lessons SRC BUILD OUT: build SRC's exercises into BUILD and run the
# grader's tests on them, lesson by lesson; OUT gets each lesson's build
# log, test log and outcome (raw-NN_name.tsv, collect.awk's lines).  When
# SANDBOX_UID is set (root, `all`), the build and every program a test runs
# happen as that uid.
grade_lessons() {
    local src=$1 b=$2 out=$3 l tt=${TEST_TMP:-} own_tt=""
    local -A err=()
    # The tests' TMPDIR: a short path, for the Unix sockets made in it
    # (108 bytes at most, with the test's own folders below it): not one
    # under the tree, which may lie deep.
    if [ -z "${tt}" ]; then
        tt=$(mktemp -d /tmp/grade.XXXXXX) || die "cannot make a folder in /tmp"
        own_tt=${tt}
    fi
    mkdir -p "${tt}" && chmod 711 "${tt}"
    # One make for every lesson (-k: what compiles is built, and graded),
    # after removing what an earlier build left: no stale program is graded.
    local targets=() t
    for l in "${LESSONS[@]}"; do
        rm -rf "${b}/lessons/${l}" "${b}/tsan/lessons/${l}"
        targets+=($(lesson_targets "${b}" "${l}"))
    done
    as_student env -i PATH="${PATH}" HOME="${HOME:-/}" ${CC:+CC="${CC}"} \
        ${CFLAGS:+CFLAGS="${CFLAGS}"} "${MAKE}" -s --no-print-directory -C "${src}" -k -j"${BUILD_JOBS:-1}" \
        BUILD="${b}" "${targets[@]}" >"${out}/build.log" 2>&1
    for l in "${LESSONS[@]}"; do
        for t in $(lesson_targets "${b}" "${l}"); do
            [ -x "${t}" ] && continue
            err[${l}]=$(grep -m1 -E "^lessons/${l}/[^:]*:[0-9]+(:[0-9]+)?: (fatal )?error" "${out}/build.log")
            err[${l}]="does not compile: ${err[${l}]:-${t#"${b}"/} was not built (see the build log)}"
            break
        done
    done
    after_build "${b}"
    # The lessons' tests: LESSON_JOBS at a time (make grade: as many as
    # there are CPUs, as `make test` runs them; in grade-all, where the
    # submissions are graded side by side, one).
    local jobs=${LESSON_JOBS:-1} j i pids=()
    if [ "${jobs}" -le 1 ]; then
        for l in "${LESSONS[@]}"; do test_lesson "${src}" "${b}" "${out}" "${tt}" "${l}"; done
        [ -z "${own_tt}" ] || rm -rf "${own_tt}"
        return
    fi
    # (each job takes every jobs-th lesson, in order)
    for ((j = 0; j < jobs; j++)); do
        (
            for ((i = j; i < ${#LESSONS[@]}; i += jobs)); do
                test_lesson "${src}" "${b}" "${out}" "${tt}" "${LESSONS[i]}"
            done
        ) &
        pids+=($!)
    done
    wait "${pids[@]}"
    [ -z "${own_tt}" ] || rm -rf "${own_tt}"
}

# test_lesson SRC BUILD OUT TMP LESSON: run the grader's test of LESSON on
# BUILD's exercise programs; OUT gets its log and outcome (err: the build
# errors, from grade_lessons).
test_lesson() {
    local src=$1 b=$2 out=$3 tt=$4 l=$5 rc stopped
    (
        exec env -i PATH="${TEST_PATH}" HOME="${HOME:-/}" \
            ${LANG:+LANG="${LANG}"} ${LC_ALL:+LC_ALL="${LC_ALL}"} \
            ${SHUNIT2:+SHUNIT2="${SHUNIT2}"} TMPDIR="${tt}" BUILD="${b}" \
            WHICH=exercise LESSON="${l}" PROGRAM_TIMEOUT="${PROGRAM_TIMEOUT}" \
            SUPERVISE_GRACE="${SUPERVISE_GRACE}" \
            timeout -k 2 "${GRADE_LESSON_TIMEOUT}" bash "${ROOT}/tests/${l}.sh"
    ) </dev/null >"${out}/${l}.log" 2>&1
    rc=$?
    stopped=""
    if [ "${rc}" -eq 124 ] || [ "${rc}" -eq 137 ]; then
        stopped="the lesson's test ran out of time (${GRADE_LESSON_TIMEOUT} s) before this test"
    elif ! grep -q '^test_' "${out}/${l}.log"; then
        stopped="the lesson's test did not start: $(grep -m1 . "${out}/${l}.log")"
    fi
    kill_student_processes
    tests_of "${l}" >"${out}/tests-${l}"
    awk -f "${RESULTS_AWK}" "${out}/${l}.log" |
        awk -f "${GRADE}/collect.awk" -v lesson="${l}" -v tests="${out}/tests-${l}" \
            -v build_error="${err[${l}]:-}" -v stopped="${stopped}" >"${out}/raw-${l}.tsv.part"
    mv "${out}/raw-${l}.tsv.part" "${out}/raw-${l}.tsv"
}

# as_student COMMAND...: run COMMAND as the student would run: as the
# submission's uid (root) with limits on processes, core dumps, file
# size and memory; without a sandbox, just run it.
as_student() {
    student_prefix
    "${SP[@]}" "$@"
}

# SP: the words that make a command run as the student (see as_student).
student_prefix() {
    SP=()
    [ -n "${SANDBOX_UID:-}" ] || return 0
    SP=(prlimit --nproc="${GRADE_NPROC}" --core=0 --fsize=$((256 << 20)) --as=$((4 << 30)) --
        setpriv --reuid="${SANDBOX_UID}" --regid="${SANDBOX_UID}" --clear-groups --no-new-privs --)
}

# After the build: in `all`, supervise is wrapped so that each program a
# test runs gets the process limit, and as root becomes the student's uid
# (tests/grade/sandbox.sh); and, as root, the build belongs to root again:
# the student's programs may read and run it, never change it.
after_build() {
    local b=$1 uid=${SANDBOX_UID:--} nproc=${GRADE_NPROC}
    [ -n "${WRAP_SUPERVISE:-}" ] || return 0
    if [ "${uid}" = - ]; then
        # Without root the limit counts every thread of yours: allow for them.
        nproc=$(($(ps -L -u "$(id -u)" --no-headers 2>/dev/null | wc -l) + GRADE_NPROC))
    else
        chown -R "0:${uid}" "${b}"
        chmod -R g-w,o-rwx "${b}"
    fi
    if [ ! -e "${b}/tools/supervise.real" ]; then
        mv "${b}/tools/supervise" "${b}/tools/supervise.real"
        {
            echo '#!/bin/sh'
            echo "# written by tests/grade.sh: supervise, with each program run by tests/grade/sandbox.sh"
            printf 'exec /bin/sh %q %q %q %q %q "$@"\n' "${GRADE}/sandbox.sh" \
                "${uid}" "${nproc}" "${b}/tools/supervise.real" "${TEST_TMP:-/}"
        } >"${b}/tools/supervise"
        chmod 755 "${b}/tools/supervise"
    fi
}

# Every process of the student's uid (here, inside this submission's own
# PID namespace): the uid kills all it may signal, which is only its own.
kill_student_processes() {
    [ -n "${SANDBOX_UID:-}" ] || return 0
    setpriv --reuid="${SANDBOX_UID}" --regid="${SANDBOX_UID}" --clear-groups \
        /bin/sh -c 'kill -9 -1' 2>/dev/null
    return 0
}

# score OUT UNTOUCHED: OUT/scored.tsv from OUT's outcomes (missing lessons:
# stopped) and the untouched exercises' outcomes (a file, maybe empty).
score() {
    local out=$1 untouched=$2 l
    for l in "${LESSONS[@]}"; do
        if [ -f "${out}/raw-${l}.tsv" ]; then
            cat "${out}/raw-${l}.tsv"
        else
            tests_of "${l}" >"${out}/tests-${l}"
            awk -f "${GRADE}/collect.awk" -v lesson="${l}" -v tests="${out}/tests-${l}" \
                -v stopped="${STOPPED_WHY:-grading stopped before this lesson}" </dev/null
        fi
    done >"${out}/raw.tsv"
    # Keep only UTF-8 (a program's output can be any bytes).
    iconv -f UTF-8 -t UTF-8 -c <"${out}/raw.tsv" >"${out}/raw.utf8" || cp "${out}/raw.tsv" "${out}/raw.utf8"
    awk -f "${GRADE}/score.awk" -v weights="${WEIGHTS}" -v untouched="${untouched}" \
        "${out}/raw.utf8" >"${out}/scored.tsv" || die "cannot score: see the weights file ${WEIGHTS}"
}

# write_reports SCORED DIR NAME: junit.xml, results.tap, results.json.
write_reports() {
    local scored=$1 dir=$2 name=$3 f
    mkdir -p "${dir}"
    for f in junit:junit.xml tap:results.tap json:results.json; do
        LC_ALL=C awk -f "${GRADE}/report.awk" -v format="${f%%:*}" -v name="${name}" \
            "${scored}" >"${dir}/${f#*:}.part" && mv "${dir}/${f#*:}.part" "${dir}/${f#*:}"
    done
}

# lay_tree LESSONS DEST: DEST gets the grader's Makefile, common/ and
# lessons/, with each exercise file lessons/NN_name/PROG.c that LESSONS
# (a submission's lessons/ folder, or empty) holds laid over it (but not
# the programs that come complete: exercises_of).  Only
# those files are taken, only regular files (no symbolic links), at most
# 1 MiB each; everything else of a submission is ignored.
lay_tree() {
    local from=$1 dest=$2 l p f
    mkdir -p "${dest}"
    cp -pR "${ROOT}/Makefile" "${ROOT}/common" "${ROOT}/lessons" "${dest}/"
    TAKEN=0
    [ -n "${from}" ] || return 0
    for l in "${ALL_LESSONS[@]}"; do
        [ -d "${from}/${l}" ] && [ ! -L "${from}/${l}" ] || continue
        for p in $(exercises_of "${l}"); do
            f=${from}/${l}/${p}.c
            if [ -f "${f}" ] && [ ! -L "${f}" ]; then
                head -c 1048576 "${f}" >"${dest}/lessons/${l}/${p}.c"
                TAKEN=$((TAKEN + 1))
            fi
        done
    done
}

# The lessons/ folder of a submission folder: its own, or that of its one
# top-level folder (a tarball of a repository has one).
find_lessons() {
    local d=$1 c
    if [ -d "${d}/lessons" ] && [ ! -L "${d}/lessons" ]; then
        echo "${d}/lessons"
        return
    fi
    c=$(find "${d}" -mindepth 2 -maxdepth 2 -name lessons -type d 2>/dev/null)
    [ -n "${c}" ] && [ "$(echo "${c}" | wc -l)" -eq 1 ] && [ ! -L "$(dirname "${c}")" ] && echo "${c}"
}

# ------------------------------------------------------------------ make grade
cmd_one() {
    select_lessons
    [ -r "${WEIGHTS}" ] || die "no weights file ${WEIGHTS}"
    local work=${BUILD}/grade b out untouched="" name
    b=${work}/build
    out=${work}/out
    rm -rf "${out}" && mkdir -p "${out}" "${RESULTS}"
    TEST_PATH=${PATH}
    # One tree: its build and its tests may use every CPU (grade-all
    # grades several trees at once instead).
    BUILD_JOBS=$(nproc 2>/dev/null || echo 1)
    LESSON_JOBS=${BUILD_JOBS}
    # (with the untouched exercises graded alongside, half each: no more
    # tests at once than `make test` runs)
    if [ -n "${GRADE_PRISTINE:-}" ]; then
        LESSON_JOBS=$((BUILD_JOBS / 2))
    fi
    seed_build "${b}"
    local pristine_pid=""
    if [ -n "${GRADE_PRISTINE:-}" ]; then
        # The untouched exercises are graded while yours are, in a copy of
        # their own, made before your build starts.
        prepare_pristine
        grade_lessons "${PRISTINE}/src" "${PRISTINE}/build" "${PRISTINE}/out" >/dev/null &
        pristine_pid=$!
    fi
    grade_lessons "${ROOT}" "${b}" "${out}"
    if [ -n "${pristine_pid}" ]; then
        wait "${pristine_pid}"
        local l
        for l in "${LESSONS[@]}"; do
            cat "${PRISTINE}/out/raw-${l}.tsv" || die "the untouched exercises of lesson ${l} were not graded"
        done >"${PRISTINE}/untouched.tsv"
        untouched=${PRISTINE}/untouched.tsv
    fi
    score "${out}" "${untouched}"
    name="the exercises in ${ROOT}/lessons"
    write_reports "${out}/scored.tsv" "${RESULTS}" "${name}"
    echo "Grade of ${name}: points per test (weights: ${WEIGHTS#"${ROOT}"/})"
    LC_ALL=C awk -f "${GRADE}/report.awk" -v format=table "${out}/scored.tsv"
    if [ -z "${untouched}" ]; then
        echo "(No untouched exercises to compare with: tests they already pass count too."
        echo " GRADE_PRISTINE=DIR or GRADE_PRISTINE=git:REV names them.)"
    fi
    echo "Reports: ${RESULTS#"${ROOT}"/}/junit.xml, results.tap, results.json"
    # One lesson: the exit status says full marks (a GitHub Classroom step).
    if [ -n "${LESSON:-}" ] && cut -f3 "${out}/scored.tsv" | grep -qx fail; then
        return 1
    fi
    return 0
}

# PRISTINE: a folder with the untouched exercises of GRADE_PRISTINE laid
# over this tree (src/) and a copy of the grader's build (build/), ready for
# grade_lessons.
prepare_pristine() {
    local p=${GRADE_PRISTINE}
    PRISTINE=${BUILD}/grade/pristine
    rm -rf "${PRISTINE}" && mkdir -p "${PRISTINE}/given" "${PRISTINE}/out"
    case ${p} in
        git:*)
            git -C "${ROOT}" archive "${p#git:}" lessons | tar -x -C "${PRISTINE}/given" ||
                die "GRADE_PRISTINE=${p}: git cannot give lessons/ at ${p#git:}"
            p=${PRISTINE}/given ;;
    esac
    [ -d "${p}/lessons" ] || die "GRADE_PRISTINE=${p}: no lessons/ folder there"
    lay_tree "${p}/lessons" "${PRISTINE}/src"
    cp -pR "${BUILD}/grade/build" "${PRISTINE}/build"
}

# ------------------------------------------------------------------ make grade-all
# The submission's name, made safe for a file name and a CSV field.
student_name() {
    local n
    n=$(basename "$1")
    n=${n%.tar.gz} n=${n%.tgz} n=${n%.tar.xz} n=${n%.txz} n=${n%.tar.bz2} n=${n%.tar}
    n=$(printf '%s' "${n}" | tr -c 'A-Za-z0-9._-' '_')
    n=${n#.}
    echo "${n:-student}"
}

is_tarball() {
    case $1 in *.tar | *.tar.gz | *.tgz | *.tar.xz | *.txz | *.tar.bz2) [ -f "$1" ] ;; *) false ;; esac
}

# An unused uid for one worker, locked for as long as the worker runs, so
# that two graders running at once never share one.
claim_uid() {
    local u=${GRADE_UID_BASE} end=$((GRADE_UID_BASE + 1000))
    while [ "${u}" -lt "${end}" ]; do
        if ! getent passwd "${u}" >/dev/null && ! getent group "${u}" >/dev/null &&
            ! pgrep -U "${u}" >/dev/null; then
            exec {UID_LOCK}>"${GRADE_LOCK_DIR:-/tmp}/.grade-uid-${u}.lock"
            if flock -n "${UID_LOCK}"; then
                SANDBOX_UID=${u}
                return 0
            fi
            exec {UID_LOCK}>&-
        fi
        u=$((u + 1))
    done
    die "no free uid from ${GRADE_UID_BASE} on (GRADE_UID_BASE)"
}

# grade_submission NAME PATH: grade one student's submission (a folder or
# a tarball, or "" for the untouched exercises) in WORK/NAME; the
# student's outcomes end in WORK/NAME/out.
grade_submission() {
    local name=$1 sub=$2 w=${WORK}/$1 lessons_dir="" rc
    rm -rf "${w}" && mkdir -p "${w}/out" "${w}/in"
    chmod 711 "${w}" && chmod 700 "${w}/out"
    if [ -n "${SANDBOX_UID:-}" ]; then
        chown "${SANDBOX_UID}:${SANDBOX_UID}" "${w}/in"
        chmod 700 "${w}/in"
    fi
    NOTE=""
    if [ -n "${sub}" ] && is_tarball "${sub}"; then
        # Only the exercise files are taken out, as the student's uid.
        local z=""
        case ${sub} in *gz) z=-z ;; *xz) z=-J ;; *bz2) z=-j ;; esac
        student_prefix
        (cd "${w}/in" && timeout -k 2 30 "${SP[@]}" tar -x ${z} -f - --no-same-owner \
            --no-same-permissions --wildcards '*lessons/[0-9][0-9]_*/*.c') \
            <"${sub}" >"${w}/out/unpack.log" 2>&1 ||
            NOTE="the tarball could not be unpacked (see ${w}/out/unpack.log)"
        lessons_dir=$(find_lessons "${w}/in")
    elif [ -n "${sub}" ]; then
        lessons_dir=$(find_lessons "${sub}")
    fi
    lay_tree "${lessons_dir}" "${w}/src"
    if [ -n "${sub}" ] && [ "${TAKEN}" -eq 0 ] && [ -z "${NOTE}" ]; then
        NOTE="no exercise file found (lessons/NN_name/PROG.c): graded as untouched"
    fi
    echo "${NOTE}" >"${w}/out/note"
    cp -pR "${SEED}" "${w}/build"
    if [ -n "${SANDBOX_UID:-}" ]; then
        chown -R "0:${SANDBOX_UID}" "${w}/src" && chmod -R g+rX,g-w,o-rwx "${w}/src"
        chown -R "${SANDBOX_UID}:${SANDBOX_UID}" "${w}/build" && chmod 750 "${w}/build"
        timeout -k 5 "${GRADE_TIMEOUT}" \
            unshare --mount --pid --fork --kill-child --mount-proc \
            env -i PATH="${SYSTEM_PATH}" HOME=/ ${LANG:+LANG="${LANG}"} ${LC_ALL:+LC_ALL="${LC_ALL}"} \
            ${SHUNIT2:+SHUNIT2="${SHUNIT2}"} ${CC:+CC="${CC}"} ${CFLAGS:+CFLAGS="${CFLAGS}"} \
            BUILD="${BUILD}" MAKE="${MAKE}" LESSON="${LESSON:-}" TSAN_TESTED="${TSAN_TESTED}" \
            TEST_TOOLS="${TEST_TOOLS}" PROGRAM_TIMEOUT="${PROGRAM_TIMEOUT}" SUPERVISE_GRACE="${SUPERVISE_GRACE}" \
            GRADE_LESSON_TIMEOUT="${GRADE_LESSON_TIMEOUT}" GRADE_NPROC="${GRADE_NPROC}" \
            SANDBOX_UID="${SANDBOX_UID}" INNER_PRIVATE_TMP="${PRIVATE_TMP}" WRAP_SUPERVISE=yes \
            bash "${ROOT}/tests/grade.sh" _inner "${w}" >"${w}/out/inner.log" 2>&1
        rc=$?
        leave_cgroups "${SANDBOX_UID}"
    else
        timeout -k 5 "${GRADE_TIMEOUT}" env TEST_PATH="${PATH}" WRAP_SUPERVISE=yes \
            bash "${ROOT}/tests/grade.sh" _inner "${w}" >"${w}/out/inner.log" 2>&1
        rc=$?
    fi
    if [ "${rc}" -eq 124 ] || [ "${rc}" -eq 137 ]; then
        echo "grading stopped after ${GRADE_TIMEOUT} s (GRADE_TIMEOUT)" >"${w}/out/stopped"
    fi
    return 0
}


# The cgroups of a submission (as root, where the kernel has them): its own
# CPU share, so that a fork bomb takes its own half of the machine and not
# the other worker's submission's, and a hard process limit.  Best effort:
# without them RLIMIT_NPROC still holds, and PROGRAM_TIMEOUT ends the bomb.
cgroup_dirs() {
    local u=$1
    if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        echo "/sys/fs/cgroup/grade-${u}"
    else
        local c
        for c in cpu pids; do
            [ -d "/sys/fs/cgroup/${c}" ] && echo "/sys/fs/cgroup/${c}/grade-${u}"
        done
    fi
}

join_cgroups() {
    local d
    for d in $(cgroup_dirs "${SANDBOX_UID}"); do
        mkdir -p "${d}" 2>/dev/null && echo $$ >"${d}/cgroup.procs" 2>/dev/null || continue
        [ -w "${d}/pids.max" ] && echo $((GRADE_NPROC * 2)) >"${d}/pids.max"
    done 2>/dev/null
    return 0
}

leave_cgroups() {
    local d
    for d in $(cgroup_dirs "$1"); do
        [ -d "${d}" ] && rmdir "${d}" 2>/dev/null
    done
    return 0
}

# student_user W: inside the submission's mount namespace, the student's
# uid gets a name, grade<UID>, in a copy of /etc/passwd and /etc/group (in
# W) mounted over them, for this namespace alone.  strace needs it: a test
# that runs a program under strace gets a strace run as root (with no new
# privileges), which writes its trace where the test wants it and starts
# the program as that user (strace -u takes a name), so that the program
# can neither read nor forge its own trace (tests/grade/sandbox.sh).
# Best effort: without it strace runs as the student, and cannot write the
# test's trace file (those tests then skip).
student_user() {
    local w=$1 name=grade${SANDBOX_UID}
    getent passwd "${name}" >/dev/null 2>&1 && return 0
    {
        cat /etc/passwd
        echo "${name}:x:${SANDBOX_UID}:${SANDBOX_UID}:a student's code (make grade-all):/nonexistent:/usr/sbin/nologin"
    } >"${w}/passwd" &&
        { cat /etc/group; echo "${name}:x:${SANDBOX_UID}:"; } >"${w}/group" &&
        chmod 644 "${w}/passwd" "${w}/group" &&
        mount --bind "${w}/passwd" /etc/passwd && mount --bind "${w}/group" /etc/group
    return 0
}

# Inside the submission's namespaces (as root) or as it is: build and test.
cmd_inner() {
    local w=$1 fd
    # No descriptor of the grader's (a make jobserver, a lock, a pipe of
    # whoever started the grading) reaches the student's programs.
    for fd in /proc/$$/fd/*; do
        fd=${fd##*/}
        if [ "${fd}" -gt 2 ] && [ "${fd}" -ne 255 ]; then eval "exec ${fd}>&-"; fi
    done 2>/dev/null
    select_lessons
    if [ -n "${SANDBOX_UID:-}" ]; then
        join_cgroups
        # A /dev/shm (and /tmp) of this submission's own: what its programs
        # leave there is never seen by another submission's tests.
        mount -t tmpfs -o size=256m,mode=1777,nosuid,nodev tmpfs /dev/shm || exit 3
        if [ "${INNER_PRIVATE_TMP}" = yes ]; then
            mount -t tmpfs -o size=256m,mode=1777,nosuid,nodev tmpfs /tmp || exit 3
        fi
        student_user "${w}"
        TEST_PATH=${SYSTEM_PATH}
    fi
    # The tests' TMPDIR: a short path, for the Unix sockets made in it
    # (108 bytes at most, Python's multiprocessing included).
    local tt
    if [ "${INNER_PRIVATE_TMP:-}" = yes ]; then
        tt=/tmp/grade && mkdir -p "${tt}"
    else
        tt=$(mktemp -d /tmp/grade.XXXXXX) || exit 3
    fi
    chmod 711 "${tt}"
    TEST_TMP=${tt} grade_lessons "${w}/src" "${w}/build" "${w}/out"
    rm -rf "${tt}"
}

cmd_all() {
    local dir=${1:-}
    [ -n "${dir}" ] || die "usage: make grade-all SUBMISSIONS=DIR"
    [ -d "${dir}" ] || die "SUBMISSIONS=${dir}: no such folder"
    dir=$(cd "${dir}" && pwd)
    select_lessons
    [ -r "${WEIGHTS}" ] || die "no weights file ${WEIGHTS}"
    local started=${SECONDS} entry name jobs j i
    WORK=${GRADE_WORK:-${BUILD}/grade-all}
    SEED=${BUILD}/grade/seed
    rm -rf "${WORK}" && mkdir -p "${WORK}" "${RESULTS}/students" && chmod 711 "${WORK}"
    rm -rf "${RESULTS}/students"/* "${RESULTS}/class.csv"
    seed_build "${SEED}"
    PRIVATE_TMP=yes
    case "${ROOT}/ ${WORK}/" in /tmp/* | *" /tmp/"*) PRIVATE_TMP=no ;; esac
    if [ "$(id -u)" = 0 ]; then
        jobs=${GRADE_JOBS:-$(nproc 2>/dev/null || echo 2)}
        # The students' uids build and run in WORK: every folder above it
        # must let others through, or every program "does not compile".
        setpriv --reuid="${GRADE_UID_BASE}" --regid="${GRADE_UID_BASE}" --clear-groups \
            test -x "${WORK}/." ||
            die "the students' uids cannot reach ${WORK}: a folder above it is closed to others (chmod o+x it, or set GRADE_WORK)"
    else
        jobs=${GRADE_JOBS:-1}
        echo "grade-all: not root, so the students' programs run as you, one submission at a time:"
        echo "  they could change what you can change. Run it as root for the sandbox (README)."
    fi

    # The submissions, with names made unique.
    local -a names=() paths=()
    declare -A used=()
    for entry in "${dir}"/*; do
        [ -d "${entry}" ] || is_tarball "${entry}" || continue
        name=$(student_name "${entry}")
        i=2
        local base=${name}
        while [ -n "${used[${name}]:-}" ] || [ "${name}" = untouched ]; do
            name=${base}_${i}
            i=$((i + 1))
        done
        used[${name}]=1
        names+=("${name}")
        paths+=("${entry}")
    done
    [ "${#names[@]}" -gt 0 ] || die "SUBMISSIONS=${dir}: no folder or tarball in it"

    echo "Grading ${#names[@]} submission(s), ${jobs} at a time; lessons: ${LESSONS[*]}"
    # The untouched exercises are graded too (first): what they pass earns
    # nothing.  Each worker takes every jobs-th submission, with its own uid.
    local -a todo_names=(untouched "${names[@]}") todo_paths=("" "${paths[@]}")
    for ((j = 0; j < jobs; j++)); do
        (
            [ "$(id -u)" = 0 ] && claim_uid
            for ((i = j; i < ${#todo_names[@]}; i += jobs)); do
                grade_submission "${todo_names[i]}" "${todo_paths[i]}"
                [ "${i}" -gt 0 ] && echo "  graded ${todo_names[i]}"
            done
        ) &
    done
    wait

    STOPPED_WHY=""
    score "${WORK}/untouched/out" ""
    local untouched=${WORK}/untouched/out/raw.tsv l header row
    header=student
    for l in "${LESSONS[@]}"; do header="${header},lesson${l%%_*}"; done
    echo "${header},total" >"${RESULTS}/class.csv.part"
    for name in "${names[@]}"; do
        local out=${WORK}/${name}/out dest=${RESULTS}/students/${name}
        STOPPED_WHY=$(cat "${out}/stopped" 2>/dev/null)
        score "${out}" "${untouched}"
        write_reports "${out}/scored.tsv" "${dest}" "${name}"
        mkdir -p "${dest}/logs"
        cp "${out}"/*.log "${dest}/logs/" 2>/dev/null
        LC_ALL=C awk -f "${GRADE}/report.awk" -v format=table "${out}/scored.tsv" >"${dest}/score.txt"
        row=$(LC_ALL=C awk -f "${GRADE}/report.awk" -v format=totals "${out}/scored.tsv" |
            cut -f2 | paste -sd, -)
        echo "${name},${row}" >>"${RESULTS}/class.csv.part"
        local note
        note=$(cat "${out}/note" 2>/dev/null)
        [ -n "${STOPPED_WHY}" ] && note="${note:+${note}; }${STOPPED_WHY}"
        [ -n "${note}" ] && echo "  ${name}: ${note}"
    done
    mv "${RESULTS}/class.csv.part" "${RESULTS}/class.csv"
    local max
    max=$(LC_ALL=C awk -f "${GRADE}/report.awk" -v format=totals "${WORK}/untouched/out/scored.tsv" |
        awk -F'\t' '$1 == "total" { print $3 }')
    echo "Wrote ${RESULTS#"${ROOT}"/}/class.csv (out of ${max} points; each student's reports and logs"
    echo "  in ${RESULTS#"${ROOT}"/}/students/NAME/) in $((SECONDS - started)) s:"
    column -t -s, "${RESULTS}/class.csv" 2>/dev/null | sed 's/^/  /' || sed 's/^/  /' "${RESULTS}/class.csv"
}

case ${1:-} in
    one) cmd_one ;;
    all) cmd_all "${2:-}" ;;
    _inner) cmd_inner "$2" ;;
    *) echo "usage: bash tests/grade.sh one | all DIR" >&2; exit 2 ;;
esac
