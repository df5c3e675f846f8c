# suite.sh - the driver behind `make test`, `make check`, `make hint`,
# `make list`, `make reset`, `make compare`, `make watch`,
# `make verify-exercises` and `make run`.  Run it through make, which passes
# BUILD, LESSON, PROG, LEVEL, ALL, FORCE, WHICH, VARIANT, TICK_MS and MAKE in
# the environment.
#
#   bash tests/suite.sh test     every lesson's test on the solutions (or VARIANT),
#                                and the translations' drift check;
#                                ONLY_HARNESS=1: the harness's own tests instead
#   bash tests/suite.sh check    the learner's loop over the exercises
#   bash tests/suite.sh hint     the next hint tier of the current program
#   bash tests/suite.sh list     every lesson and program, done or pending
#   bash tests/suite.sh reset    restore untouched exercises, keeping a copy
#   bash tests/suite.sh compare  your exercise beside its solution
#   bash tests/suite.sh watch-*  the actions behind make watch's keys
#   bash tests/suite.sh verify   every untouched exercise must FAIL its test
#   bash tests/suite.sh run      run the solutions (WHICH=exercise: the exercises)
#
# Progress is kept per program (one exercise file lessons/NN_name/PROG.c) in
# the state file .progress at the top of the tree (PROGRESS_FILE to use
# another): git ignores it, and `make clean` and updates leave it alone.
# A test named test_PROG__what belongs to PROG; one without "__" to every
# program of its lesson.  A lesson whose tests name no program is checked
# as one piece: its programs pass or fail together.

set -u
cd "$(dirname "$0")/.." || exit 2
BUILD=${BUILD:-build}
MAKE=${MAKE:-make}
STATE=${PROGRESS_FILE:-.progress}
SAVED=${SAVED_DIR:-.saved}

ALL_LESSONS=()
for dir in lessons/[0-9][0-9]_*/; do
    [ -d "${dir}" ] && ALL_LESSONS+=("$(basename "${dir}")")
done

# lesson_named NAME: the lesson NAME means (2, 02 or 02_threads_mutex), or
# an error that lists them.
lesson_named() {
    local l want=$1
    case ${want} in [1-9]) want=0${want} ;; esac
    for l in "${ALL_LESSONS[@]}"; do
        case ${want} in "${l}" | "${l%%_*}") echo "${l}"; return 0 ;; esac
    done
    {
        echo "No lesson matches LESSON=$1. The lessons are:"
        printf '  %s\n' "${ALL_LESSONS[@]}"
    } >&2
    return 2
}

# The lessons to work on: all, or the one LESSON names.
select_lessons() {
    LESSONS=()
    if [ -z "${LESSON:-}" ]; then
        LESSONS=("${ALL_LESSONS[@]}")
    else
        LESSONS=("$(lesson_named "${LESSON}")") || exit 2
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

# readme_of LESSON: the README a learner reads - README.ja.md or
# README.zh-CN.md where LANGUAGE (or LC_ALL, LC_MESSAGES, LANG) asks for
# Japanese or Chinese and the translation exists, else README.md.
readme_of() {
    local lang="" v
    for v in "${LANGUAGE:-}" "${LC_ALL:-}" "${LC_MESSAGES:-}" "${LANG:-}"; do
        [ -n "${v}" ] && { lang=${v}; break; }
    done
    case ${lang} in
        ja*) [ -f "lessons/$1/README.ja.md" ] && { echo "lessons/$1/README.ja.md"; return; } ;;
        zh*) [ -f "lessons/$1/README.zh-CN.md" ] && { echo "lessons/$1/README.zh-CN.md"; return; } ;;
    esac
    echo "lessons/$1/README.md"
}

# ------------------------------------------------------------ programs
# Read once, at the start, from the test scripts (bash only: this runs on
# every make check, and a fork per question would cost more than a test).

TEST_RE='^[[:space:]]*(function[[:space:]]+)?(test[A-Za-z0-9_]*)[[:space:]]*(\(\))?'
declare -A PROGS_OF=() HAS_PT=()
load_programs() {
    local l line src p order
    local -A exists seen
    for l in "${ALL_LESSONS[@]}"; do
        exists=() seen=() order=""
        for src in lessons/"${l}"/*.c; do
            [ -f "${src}" ] || continue
            p=${src##*/}
            exists[${p%.c}]=1
        done
        # lessons/NN_name/GIVEN names the programs that come complete (to
        # read and run, not to edit): they are not exercises, so they count
        # for no progress and are never offered to edit or reset.
        if [ -f "lessons/${l}/GIVEN" ]; then
            while read -r p _; do
                case ${p} in '' | '#'*) continue ;; esac
                unset "exists[${p%.c}]"
            done <"lessons/${l}/GIVEN"
        fi
        if [ -f "tests/${l}.sh" ]; then
            while IFS= read -r line; do
                [[ ${line} =~ ${TEST_RE} ]] || continue
                [[ -n ${BASH_REMATCH[1]} || -n ${BASH_REMATCH[3]} ]] || continue
                [[ ${BASH_REMATCH[2]} == test_*__* ]] || continue
                HAS_PT[${l}]=1
                p=${BASH_REMATCH[2]#test_}
                p=${p%%__*}
                if [ -n "${exists[${p}]:-}" ] && [ -z "${seen[${p}]:-}" ]; then
                    seen[${p}]=1 order="${order} ${p}"
                fi
            done <"tests/${l}.sh"
        fi
        for p in $(printf '%s\n' "${!exists[@]}" | LC_ALL=C sort); do
            [ -z "${seen[${p}]:-}" ] && order="${order} ${p}"
        done
        PROGS_OF[${l}]=${order# }
    done
}
load_programs

# programs_of LESSON: its programs in the order a learner meets them: the
# order their tests come in, then the others by name.
programs_of() { printf '%s\n' ${PROGS_OF[$1]:-}; }

# has_program_tests LESSON: do its tests name their programs?
has_program_tests() { [ -n "${HAS_PT[$1]:-}" ]; }

# units_of LESSON: what is checked on its own, one a line: each program,
# or "@" (the whole lesson) when its tests name no program.
units_of() {
    if has_program_tests "$1"; then programs_of "$1"; else echo '@'; fi
}

# progs_of_unit LESSON UNIT: the programs a unit stands for.
progs_of_unit() {
    if [ "$2" = '@' ]; then programs_of "$1"; else echo "$2"; fi
}

# unit_of LESSON PROG: the unit that checks PROG.
unit_of() {
    if has_program_tests "$1"; then echo "$2"; else echo '@'; fi
}

# files_of_unit LESSON UNIT: its exercise files, on one line.
files_of_unit() {
    local p out=""
    for p in $(progs_of_unit "$1" "$2"); do out="${out} lessons/$1/${p}.c"; done
    echo "${out# }"
}

# names_of_unit LESSON UNIT: "a.c" or "a.c, b.c".
names_of_unit() {
    local p out=""
    for p in $(progs_of_unit "$1" "$2"); do out="${out}, ${p}.c"; done
    echo "${out#, }"
}

# check_prog_named LESSON PROG: PROG is one of LESSON's programs.
check_prog_named() {
    if [[ " ${PROGS_OF[$1]:-} " != *" $2 "* ]]; then
        {
            echo "Lesson $1 has no program '$2'. Its programs are:"
            programs_of "$1" | sed 's/^/  /'
        } >&2
        return 2
    fi
}

# PROG=name without LESSON: the lesson that has the program.
lesson_of_prog() {
    local l found=()
    for l in "${ALL_LESSONS[@]}"; do
        [[ " ${PROGS_OF[${l}]:-} " == *" $1 "* ]] && found+=("${l}")
    done
    case ${#found[@]} in
        1) echo "${found[0]}" ;;
        0) echo "No lesson has a program '$1' (make list shows them all)." >&2; return 2 ;;
        *) echo "Several lessons have a program '$1': say which with LESSON=NN (${found[*]})." >&2; return 2 ;;
    esac
}
if [ -z "${LESSON:-}" ] && [ -n "${PROG:-}" ] && [ -z "${ALL:-}" ]; then
    case ${1:-} in check | hint | reset | compare) LESSON=$(lesson_of_prog "${PROG}") || exit 2 ;; esac
fi

# ------------------------------------------------------------ state file
# One fact a line:  done LESSON/PROG   hint LESSON/PROG N   current LESSON/PROG
# Read once into memory; every change writes the whole file again (through
# a temporary file and a rename, so that it is never half-written).

declare -A DONE=() DONE_PROG=() HINT=()
CURRENT=""
STATE_OTHER=()
load_state() {
    local kind key rest
    [ -f "${STATE}" ] || return 0
    while read -r kind key rest; do
        case ${kind} in
            done)
                DONE[${key}]=1
                # a lesson since renamed: its programs keep their progress
                [ -d "lessons/${key%%/*}" ] || DONE_PROG[${key#*/}]=1 ;;
            hint) HINT[${key}]=${rest} ;;
            current) CURRENT=${key} ;;
            "" | "#"*) ;;
            *) STATE_OTHER+=("${kind} ${key} ${rest}") ;;
        esac
    done <"${STATE}"
}
load_state

save_state() {
    local tmp="${STATE}.tmp.$$" k
    {
        echo "# make check's record of your progress (git ignores it; make clean keeps it)."
        {
            for k in "${!DONE[@]}"; do echo "done ${k}"; done
            for k in "${!HINT[@]}"; do echo "hint ${k} ${HINT[${k}]}"; done
        } | LC_ALL=C sort
        if [ -n "${CURRENT}" ]; then echo "current ${CURRENT}"; fi
        if [ "${#STATE_OTHER[@]}" -gt 0 ]; then printf '%s\n' "${STATE_OTHER[@]}"; fi
    } >"${tmp}" && mv -f "${tmp}" "${STATE}"
}

# is_done LESSON PROG (the same program in a lesson since renamed counts too)
is_done() { [ -n "${DONE[$1/$2]:-}" ] || [ -n "${DONE_PROG[$2]:-}" ]; }
mark_done() {
    [ -n "${DONE[$1/$2]:-}" ] && return 0
    DONE[$1/$2]=1
    save_state
}
mark_pending() {
    local k
    is_done "$1" "$2" || return 0
    unset "DONE[$1/$2]"
    if [ -n "${DONE_PROG[$2]:-}" ]; then
        for k in "${!DONE[@]}"; do
            [ "${k#*/}" = "$2" ] && [ ! -d "lessons/${k%%/*}" ] && unset "DONE[${k}]"
        done
        unset "DONE_PROG[$2]"
    fi
    save_state
}
set_current() {
    [ "${CURRENT}" = "$1/$2" ] && return 0
    CURRENT=$1/$2
    save_state
}
hint_seen() { echo "${HINT[$1/$2]:-0}"; }
set_hint_seen() { HINT[$1/$2]=$3; save_state; }

# Every program of the course, one "LESSON PROG" a line, in order.
all_programs() {
    local l p
    for l in "${ALL_LESSONS[@]}"; do
        for p in ${PROGS_OF[${l}]}; do echo "${l} ${p}"; done
    done
}

first_pending() {
    local l p
    while read -r l p; do
        is_done "${l}" "${p}" || { echo "${l} ${p}"; return 0; }
    done < <(all_programs)
}

# The program the learner is on: the one make check last found failing
# (or make watch moved to) while it is pending, else the first pending one,
# else the last program of the course.
current_program() {
    local l=${CURRENT%%/*} p=${CURRENT#*/} cur
    if [ -n "${CURRENT}" ] && [ -f "lessons/${l}/${p}.c" ] && ! is_done "${l}" "${p}"; then
        echo "${l} ${p}"
        return
    fi
    cur=$(first_pending)
    if [ -n "${cur}" ]; then echo "${cur}"; else all_programs | tail -n 1; fi
}

progress_bar() {
    local total=0 done=0 l p width=20 filled
    while read -r l p; do
        total=$((total + 1))
        is_done "${l}" "${p}" && done=$((done + 1))
    done < <(all_programs)
    filled=$((total > 0 ? done * width / total : 0))
    printf '[%s%s] %d/%d programs done' "$(printf '%*s' "${filled}" '' | tr ' ' '#')" \
        "$(printf '%*s' "$((width - filled))" '' | tr ' ' '-')" "${done}" "${total}"
}

# ------------------------------------------------------------ hints

# hint_tiers README PROG: the hint tiers for PROG.c, each starting with a
# line "\001TITLE".  The README's "## Hints" section holds a "### PROG.c"
# subsection per program, and in it <details><summary>Hint N: title
# </summary> ... </details> blocks.  A README with no subsections (the old
# flat form) gives its whole section as one tier; so does a subsection with
# no <details> in it.
hint_tiers() {
    awk -v prog="$2" '
        function trim(s) { gsub(/^[ \t`]+|[ \t`]+$/, "", s); return s }
        /^## / { insec = ($0 ~ /^## .*(Hints|ヒント|提示)/); inprog = 0; next }
        !insec { next }
        /^### / { sub_seen = 1; inprog = (trim(substr($0, 5)) == prog ".c"); next }
        { all[++na] = $0; if (inprog) mine[++nm] = $0 }
        function emit(arr, n,    i, line, t, title, body, intier, nt, loose) {
            nt = 0; loose = ""
            for (i = 1; i <= n; i++) {
                line = arr[i]
                if (line ~ /<details>/ && line ~ /<summary>/) {
                    title = line
                    sub(/.*<summary>/, "", title); sub(/<\/summary>.*/, "", title)
                    sub(/^[^:：]*[0-9]+[ ]*[:：][ ]*/, "", title)
                    out[++nt] = "\001" title; intier = 1; continue
                }
                if (line ~ /<\/details>/) { intier = 0; continue }
                if (intier) out[nt] = out[nt] "\n" line
                else loose = loose "\n" line
            }
            if (nt == 0 && loose ~ /[^ \t\n]/) out[++nt] = "\001" loose
            for (t = 1; t <= nt; t++) print out[t]
        }
        END { if (sub_seen) emit(mine, nm); else emit(all, na) }
    ' "$1"
}

# hint_count README PROG
hint_count() { hint_tiers "$1" "$2" | grep -c $'^\001'; }

# hint_show README PROG N: tier N: its title line, then its text.
hint_show() {
    hint_tiers "$1" "$2" | awk -v n="$3" '/^\001/ { k++ } k == n' |
        sed '1s/^\x01//' | sed -e '2,${/./,$!d}' | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
}

# The nudge after a failure: where the next hint is, never the hint.
nudge() {
    local l=$1 p=$2 readme total seen next
    readme=$(readme_of "${l}")
    total=$(hint_count "${readme}" "${p}")
    if [ "${total}" -eq 0 ]; then
        echo "  Stuck? Read ${readme} again: it has no hint for ${p}.c."
        return
    fi
    seen=$(hint_seen "${l}" "${p}")
    next=$((seen + 1))
    if [ "${next}" -le "${total}" ]; then
        echo "  Stuck? \`make hint\` - tier ${next} of ${total}"
    else
        echo "  Stuck? You have seen all ${total} hint tiers: \`make hint LEVEL=N\` shows tier N again."
    fi
}

cmd_hint() {
    local l p q readme total seen level cur_l cur_p
    read -r cur_l cur_p < <(current_program)
    if [ -z "${LESSON:-}" ]; then
        l=${cur_l} p=${cur_p}
    else
        l=$(lesson_named "${LESSON}") || exit 2
        if [ -n "${PROG:-}" ]; then
            check_prog_named "${l}" "${PROG}" || exit 2
            p=${PROG}
        elif [ "${cur_l}" = "${l}" ]; then
            p=${cur_p}
        else
            # the lesson's first pending program, else its first
            p=""
            for q in ${PROGS_OF[${l}]}; do is_done "${l}" "${q}" || { p=${q}; break; }; done
            [ -n "${p}" ] || p=$(programs_of "${l}" | head -n 1)
        fi
    fi
    readme=$(readme_of "${l}")
    total=$(hint_count "${readme}" "${p}")
    if [ "${total}" -eq 0 ]; then
        echo "${readme} has no hints for ${p}.c. Read the lesson again, and what make check says."
        return 0
    fi
    seen=$(hint_seen "${l}" "${p}")
    if [ -n "${LEVEL:-}" ]; then
        case ${LEVEL} in
            *[!0-9]* | 0) echo "LEVEL must be a tier number, 1 to ${total}, not '${LEVEL}'" >&2; exit 2 ;;
        esac
        if [ "${LEVEL}" -gt "${total}" ]; then
            echo "${p}.c has ${total} hint tiers: LEVEL=1 to LEVEL=${total}" >&2
            exit 2
        fi
        level=${LEVEL}
    else
        level=$((seen + 1))
        [ "${level}" -gt "${total}" ] && level=${total}
    fi
    [ "${level}" -gt "${seen}" ] && set_hint_seen "${l}" "${p}" "${level}"
    local body
    body=$(hint_show "${readme}" "${p}" "${level}")
    local heading=${body%%$'\n'*}
    echo "Hint ${level} of ${total} for ${p}.c ($(title "${l}"))${heading:+: ${heading}}"
    echo
    if [[ ${body} == *$'\n'* ]]; then printf '%s\n' "${body#*$'\n'}" | sed 's/^/    /'; fi
    echo
    if [ "${level}" -lt "${total}" ]; then
        echo "More: \`make hint\` again shows tier $((level + 1)) of ${total}. (From ${readme}.)"
    else
        echo "That was the last tier. (From ${readme}.)"
    fi
}

# ------------------------------------------------------------ building

# build_quietly TARGET...: build without echoing commands.  When it fails,
# print the compiler's own message starting with its first error, and
# return 1.
build_quietly() {
    local log rc
    log=$(mktemp)
    ${MAKE} -s --no-print-directory -Otarget "$@" >"${log}" 2>&1
    rc=$?
    if [ "${rc}" -ne 0 ]; then
        LC_ALL=C grep -av -e '^make\(\[[0-9]*\]\)\?: \*\*\*' -e '^make\(\[[0-9]*\]\)\?: Target .* not remade' "${log}" |
            LC_ALL=C awk 'on || /: (fatal )?error:|undefined reference|multiple definition|No rule to make/ { on = 1; print }' >"${log}.shown"
        if [ -s "${log}.shown" ]; then cat "${log}.shown"; else cat "${log}"; fi
        # the exercise files the compiler names, for "Edit:"
        BUILD_BROKEN=$(LC_ALL=C grep -aoE 'lessons/[0-9][0-9]_[^/: ]*/[^/: ]*\.[ch]' "${log}" | awk '!seen[$0]++' | paste -sd ' ' -)
        rm -f "${log}.shown"
    fi
    rm -f "${log}"
    return "${rc}"
}

# Build one lesson's exercise programs and what its test needs (Makefile:
# exercise-LESSON).
build_exercise() {
    build_quietly "exercise-$1"
}

# ------------------------------------------------------------ running tests

TEST_LOG=$(mktemp)
RESULTS=${TEST_LOG}.results
trap 'rm -f "${TEST_LOG}" "${RESULTS}"' EXIT

# run_test LESSON WHICH [PROG]: run the lesson's test script, output in
# ${TEST_LOG} (NUL bytes shown as \0) and one "STATUS<TAB>TEST<TAB>MESSAGE"
# line per test in ${RESULTS}; sets PASSED, FAILED and SKIPPED from its
# counts line.  A script that dies before shunit2 reports counts as one
# failed test.
run_test() {
    local script=tests/$1.sh
    PASSED=0 FAILED=0 SKIPPED=0
    : >"${RESULTS}"
    if [ ! -f "${script}" ]; then
        echo "  no test script ${script}" >"${TEST_LOG}"
        FAILED=1
        return 1
    fi
    WHICH=$2 LESSON=$1 PROG=${3:-} bash "${script}" 2>&1 </dev/null | LC_ALL=C sed 's/\x0/\\0/g' >"${TEST_LOG}"
    local rc=${PIPESTATUS[0]} counts
    awk -f tests/tools/results.awk "${TEST_LOG}" >"${RESULTS}"
    counts=$(sed -n 's/^== counts: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' "${TEST_LOG}")
    if [ -z "${counts}" ]; then
        FAILED=1
        return 1
    fi
    read -r PASSED FAILED SKIPPED <<<"${counts}"
    [ "${rc}" -eq 0 ] && [ "${FAILED}" -eq 0 ]
}

# The whole test log as a learner should read it: shunit2's chatter and
# the counts line left out.
show_log() {
    LC_ALL=C grep -av -e '^== counts:' -e '^Ran [0-9]* test' -e '^$' \
        -e '^OK' -e '^FAILED (' -e 'returned non-zero return code' "${TEST_LOG}" | sed 's/^/    /'
}

# stage_words TEST: test_prog__children_run_at_once -> "children run at once"
stage_words() {
    local what=${1#test_}
    case ${what} in *__*) what=${what#*__} ;; esac
    echo "${what//_/ }"
}

cmd_test() {
    select_lessons
    local total_p=0 total_f=0 total_s=0 l harness_pid="" harness_log="" scripts=()
    # Beside the lessons' tests runs the check that the translations keep
    # up with the English (tests/harness/translations.sh).  The tests of
    # the learner's loop and the grader themselves (all of tests/harness/,
    # on a fixture course) take longer: `make test-harness` (ONLY_HARNESS=1)
    # runs those, and no lesson.
    if [ -n "${ONLY_HARNESS:-}" ]; then
        LESSONS=()
        scripts=(tests/harness/*.sh)
    elif [ -z "${LESSON:-}" ] && [ -z "${VARIANT:-}" ] && [ -f tests/harness/translations.sh ]; then
        scripts=(tests/harness/translations.sh)
    fi
    if [ "${#scripts[@]}" -gt 0 ]; then
        harness_log=$(mktemp -d)
        (
            for t in "${scripts[@]}"; do
                bash "${t}" </dev/null >"${harness_log}/$(basename "${t}" .sh).log" 2>&1 &
            done
            wait
        ) &
        harness_pid=$!
    fi
    [ "${#LESSONS[@]}" -eq 0 ] || echo "Testing the ${VARIANT:-plain} build of the solutions"
    # The lessons' tests run side by side, one per CPU (TEST_JOBS=1 for one
    # at a time): they share nothing - each has its own TMPDIR, and its
    # /dev/shm names carry its pid.  Their reports come out in lesson order.
    local results running=() jobs_max=${TEST_JOBS:-$(nproc 2>/dev/null || echo 2)}
    results=$(mktemp -d)
    for l in "${LESSONS[@]}"; do
        while [ "${#running[@]}" -ge "${jobs_max}" ]; do
            wait -n 2>/dev/null
            local still=() pid
            for pid in "${running[@]}"; do kill -0 "${pid}" 2>/dev/null && still+=("${pid}"); done
            running=("${still[@]}")
        done
        (
            TEST_LOG=${results}/${l}.log RESULTS=${results}/${l}.results
            run_test "${l}" solution
            echo "$? ${PASSED} ${FAILED} ${SKIPPED}" >"${results}/${l}.counts"
        ) </dev/null &
        running+=("$!")
    done
    wait "${running[@]}" 2>/dev/null
    local rc
    for l in "${LESSONS[@]}"; do
        TEST_LOG=${results}/${l}.log
        read -r rc PASSED FAILED SKIPPED <"${results}/${l}.counts" 2>/dev/null ||
            { rc=1 PASSED=0 FAILED=1 SKIPPED=0; }
        if [ "${rc}" -eq 0 ]; then
            if [ "${SKIPPED}" -gt 0 ]; then
                echo "  ok    ${l} (${PASSED} passed, ${SKIPPED} skipped)"
            else
                echo "  ok    ${l} (${PASSED} passed)"
            fi
        else
            echo "  FAIL  ${l} (${PASSED} passed, ${FAILED} failed)"
            sed 's/^/        /' "${TEST_LOG}"
        fi
        grep -a -e '^  SKIPPED:' -e '^  NOTE:' "${TEST_LOG}" | sed 's/^/      /'
        total_p=$((total_p + PASSED)) total_f=$((total_f + FAILED)) total_s=$((total_s + SKIPPED))
    done
    rm -rf "${results}"
    if [ -n "${harness_pid}" ]; then
        wait "${harness_pid}"
        echo "Testing the harness (tests/harness/)"
        local log name counts p f s
        for log in "${harness_log}"/*.log; do
            name=harness/$(basename "${log}" .log)
            counts=$(sed -n 's/^== counts: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' "${log}")
            read -r p f s <<<"${counts:-0 1 0}"
            if [ "${f}" -eq 0 ] && ! grep -aq '^ASSERT:' "${log}"; then
                echo "  ok    ${name} (${p} passed$([ "${s}" -gt 0 ] && echo ", ${s} skipped"))"
            else
                echo "  FAIL  ${name} (${p} passed, ${f} failed)"
                sed 's/^/        /' "${log}"
            fi
            grep -a '^  SKIPPED:' "${log}" | sed 's/^/      /'
            total_p=$((total_p + p)) total_f=$((total_f + f)) total_s=$((total_s + s))
        done
        rm -rf "${harness_log}"
    fi
    if [ "${total_s}" -gt 0 ]; then
        echo "${total_p} passed, ${total_f} failed, ${total_s} skipped"
    else
        echo "${total_p} passed, ${total_f} failed"
    fi
    [ "${total_f}" -eq 0 ]
}

# ------------------------------------------------------------ make check

# check_unit LESSON UNIT: build and test one unit of the learner's exercises
# (fail fast, short timeouts), record the outcome, and on a failure say
# where it stands.  Returns 0 (passes), 1 (fails) or 2 (does not compile).
BUILT=" "
check_unit() {
    local l=$1 u=$2 p names first
    names=$(names_of_unit "${l}" "${u}")
    if [[ ${BUILT} != *" ${l} "* ]]; then
        BUILD_BROKEN=""
        if ! build_exercise "${l}"; then
            local edit=${BUILD_BROKEN}
            if [ -z "${edit}" ]; then edit=$(files_of_unit "${l}" '@'); fi
            p=${edit%% *}
            p=${p##*/}
            p=${p%.*}
            [ -f "lessons/${l}/${p}.c" ] || read -r p < <(progs_of_unit "${l}" "${u}")
            set_current "${l}" "${p}"
            echo
            echo "$(title "${l}") does not compile yet: see the compiler's message above."
            echo "  Edit: ${edit}"
            echo "  Then run 'make check' again."
            STATUS_LINE="${l%%_*} ${names}: does not compile"
            return 2
        fi
        BUILT="${BUILT}${l} "
    fi
    local prog_env=""
    [ "${u}" != '@' ] && prog_env=${u}
    if FAIL_FAST=1 PROGRAM_TIMEOUT=${CHECK_TIMEOUT:-2} SUPERVISE_GRACE=${SUPERVISE_GRACE:-2} \
        run_test "${l}" exercise "${prog_env}"; then
        for p in $(progs_of_unit "${l}" "${u}"); do mark_done "${l}" "${p}"; done
        echo "  [done] $(title "${l}") - ${names}"
        grep -a '^  NOTE:' "${TEST_LOG}" | sed 's/^/  /'
        STATUS_LINE="${l%%_*} ${names}: pass"
        return 0
    fi
    for p in $(progs_of_unit "${l}" "${u}"); do mark_pending "${l}" "${p}"; done
    read -r p < <(progs_of_unit "${l}" "${u}")
    set_current "${l}" "${p}"
    STATUS_LINE="${l%%_*} ${names}: fail"
    echo "  [fail] $(title "${l}") - ${names}   <- you are here"
    echo
    first=$(awk -F '\t' '$1 == "fail" { print NR "\t" $2 "\t" $3; exit }' "${RESULTS}")
    if [ -n "${first}" ]; then
        local n name msg total
        IFS=$'\t' read -r n name msg <<<"${first}"
        total=$(grep -c . "${RESULTS}")
        echo "  Stage ${n} of ${total}: $(stage_words "${name}")"
        STATUS_LINE="${STATUS_LINE} at stage ${n} of ${total} ($(stage_words "${name}"))"
        echo
        awk -v show="${name}" -f tests/tools/results.awk "${TEST_LOG}" |
            LC_ALL=C grep -av -e 'returned non-zero return code' | sed 's/^ASSERT: */  => /' | sed 's/^/  /'
    else
        echo "  The test of your exercise says:"
        show_log
    fi
    if LC_ALL=C grep -aq "timed out after ${CHECK_TIMEOUT:-2} s" "${TEST_LOG}"; then
        echo
        echo "  (make check gives a program ${CHECK_TIMEOUT:-2} s; on a busy machine: make check CHECK_TIMEOUT=10)"
    fi
    echo
    nudge "${l}" "${p}"
    echo "  Edit: $(files_of_unit "${l}" "${u}")"
    echo "  Read: $(readme_of "${l}")"
    echo "  Try:  make run LESSON=${l%%_*} WHICH=exercise"
    echo "  Then: make check${LESSON:+ LESSON=${l%%_*}}"
    return 1
}

# lesson_done LESSON: every program of it is done.
lesson_done() {
    local p
    for p in $(programs_of "$1"); do is_done "$1" "${p}" || return 1; done
}

say_solution() {
    echo "  $(title "$1") passes. Its solution: solutions/$1/ - \`make compare LESSON=${1%%_*}\` shows yours beside it."
}

# check_units MODE "LESSON UNIT"...: check them in order, stopping at the
# first failure; MODE "pending" skips the done ones.
check_units() {
    local mode=$1 l u p pending rc last_l=""
    shift
    for item in "$@"; do
        read -r l u <<<"${item}"
        if [ "${mode}" = pending ]; then
            pending=
            for p in $(progs_of_unit "${l}" "${u}"); do is_done "${l}" "${p}" || pending=yes; done
            [ -n "${pending}" ] || continue
        fi
        check_unit "${l}" "${u}"
        rc=$?
        [ "${rc}" -ne 0 ] && return "${rc}"
        CHECKED=$((CHECKED + 1))
        # A lesson's last unit passed: say where its solution is.
        if [ "$(units_of "${l}" | tail -n 1)" = "${u}" ] && lesson_done "${l}"; then
            say_solution "${l}"
        fi
    done
    return 0
}

cmd_check() {
    local l u items=() rc=0 start="" before=() after=() seen_start=""
    STATUS_LINE=""
    CHECKED=0
    if [ -n "${LESSON:-}" ]; then
        l=$(lesson_named "${LESSON}") || exit 2
        if [ -n "${PROG:-}" ]; then
            check_prog_named "${l}" "${PROG}" || exit 2
            items=("${l} $(unit_of "${l}" "${PROG}")")
        else
            for u in $(units_of "${l}"); do items+=("${l} ${u}"); done
        fi
        check_units all "${items[@]}"
        rc=$?
    else
        # From START (make watch's current program) or the first pending
        # one, the pending units in order, then those before START.
        [ -n "${START:-}" ] && start="${START%% *} $(unit_of "${START%% *}" "${START##* }")"
        for l in "${ALL_LESSONS[@]}"; do
            for u in $(units_of "${l}"); do
                [ "${l} ${u}" = "${start}" ] && seen_start=yes
                if [ -n "${start}" ] && [ -z "${seen_start}" ]; then before+=("${l} ${u}"); else after+=("${l} ${u}"); fi
            done
        done
        items=("${after[@]}" "${before[@]}")
        check_units pending "${items[@]}"
        rc=$?
        if [ "${rc}" -eq 0 ] && [ -z "$(first_pending)" ] && [ "${CHECKED}" -lt "${#items[@]}" ]; then
            # Everything is done: check it all again, since an edit can
            # undo earlier progress.
            echo "  Every program is done: checking them all again (an edit can undo earlier progress)..."
            items=()
            for l in "${ALL_LESSONS[@]}"; do
                for u in $(units_of "${l}"); do items+=("${l} ${u}"); done
            done
            CHECKED=0
            check_units all "${items[@]}" >"${TEST_LOG}.again"
            rc=$?
            if [ "${rc}" -ne 0 ]; then grep -v '^  \[done\]\|passes. Its solution' "${TEST_LOG}.again"; fi
            rm -f "${TEST_LOG}.again"
        fi
    fi
    echo
    if [ "${rc}" -eq 0 ] && [ -z "${LESSON:-}" ]; then
        echo "  Progress: $(progress_bar). Every exercise passes: well done!"
    else
        echo "  Progress: $(progress_bar)"
    fi
    if [ -n "${STATUS_FILE:-}" ]; then echo "${STATUS_LINE}" >"${STATUS_FILE}"; fi
    return "${rc}"
}

# ------------------------------------------------------------ make list

cmd_list() {
    local l p cur mark state
    cur=$(current_program)
    echo "Progress: $(progress_bar)"
    for l in "${ALL_LESSONS[@]}"; do
        echo
        echo "  $(title "${l}")$(lesson_done "${l}" && echo "  (solution: solutions/${l}/)")"
        for p in $(programs_of "${l}"); do
            if is_done "${l}" "${p}"; then state=done; else state=pending; fi
            mark="   "
            [ "${l} ${p}" = "${cur}" ] && [ "${state}" = pending ] && mark="-> "
            printf '    %s%-8s lessons/%s/%s.c%s\n' "${mark}" "${state}" "${l}" "${p}" \
                "$([ "${mark}" = "-> " ] && echo "   <- you are here")"
        done
    done
    echo
    echo "make check goes on from the program marked ->; make check LESSON=NN checks any lesson."
}

# ------------------------------------------------------------ make reset

# pristine_of FILE OUT: write the untouched exercise FILE (as the course
# shipped it) to OUT.  It comes from git: from the course's version the
# tree is based on (the merge base with the branch's upstream, if it has
# one, else HEAD), going back past the learner's own commits (those whose
# author is git config user.email), so that committed work is not taken
# for the original.  PRISTINE_REF=REF names the course's version instead
# (e.g. PRISTINE_REF=origin/main).  Fails when git cannot tell.
pristine_of() {
    local file=$1 out=$2 base me commit
    git rev-parse --git-dir >/dev/null 2>&1 || return 1
    if [ -n "${PRISTINE_REF:-}" ]; then
        git show "${PRISTINE_REF}:${file}" >"${out}" 2>/dev/null
        return
    fi
    base=$(git merge-base HEAD '@{upstream}' 2>/dev/null) || base=HEAD
    me=$(git config user.email 2>/dev/null)
    commit=$(git log --no-merges --format='%H %ae' "${base}" -- "${file}" 2>/dev/null |
        awk -v me="${me}" 'me == "" || $2 != me { print $1; exit }')
    # All of them are the learner's (or the author's own tree): the version
    # at the base.
    [ -n "${commit}" ] || commit=${base}
    git show "${commit}:${file}" >"${out}" 2>/dev/null
}

cmd_reset() {
    local files=() l p f stamp dest tmpdir changed=0
    if [ -n "${ALL:-}" ]; then
        for l in "${ALL_LESSONS[@]}"; do
            for p in $(programs_of "${l}"); do files+=("${l} ${p}"); done
        done
    elif [ -n "${LESSON:-}" ]; then
        l=$(lesson_named "${LESSON}") || exit 2
        if [ -n "${PROG:-}" ]; then
            check_prog_named "${l}" "${PROG}" || exit 2
            files=("${l} ${PROG}")
        else
            for p in $(programs_of "${l}"); do files+=("${l} ${p}"); done
        fi
    else
        echo "Say what to reset: make reset LESSON=NN [PROG=name], or make reset ALL=1 for every exercise." >&2
        exit 2
    fi
    # First find every original, and change nothing unless all are found.
    tmpdir=$(mktemp -d)
    for f in "${files[@]}"; do
        read -r l p <<<"${f}"
        mkdir -p "${tmpdir}/${l}"
        if ! pristine_of "lessons/${l}/${p}.c" "${tmpdir}/${l}/${p}.c"; then
            echo "Cannot find the untouched lessons/${l}/${p}.c in git's history, so nothing was reset." >&2
            echo "(Is this a git clone of the course? PRISTINE_REF=REF names the course's version.)" >&2
            rm -rf "${tmpdir}"
            exit 1
        fi
    done
    stamp=$(date +%Y%m%d-%H%M%S)
    dest=${SAVED}/${stamp}
    # two resets in the same second keep both copies
    local n=1
    while [ -e "${dest}" ]; do n=$((n + 1)) dest=${SAVED}/${stamp}-${n}; done
    for f in "${files[@]}"; do
        read -r l p <<<"${f}"
        if cmp -s "${tmpdir}/${l}/${p}.c" "lessons/${l}/${p}.c"; then
            [ -z "${ALL:-}" ] && echo "lessons/${l}/${p}.c is already untouched."
            continue
        fi
        if [ -f "lessons/${l}/${p}.c" ]; then
            mkdir -p "${dest}/lessons/${l}"
            cp -p "lessons/${l}/${p}.c" "${dest}/lessons/${l}/${p}.c"
            echo "Your lessons/${l}/${p}.c is kept in ${dest}/lessons/${l}/${p}.c"
        fi
        cp "${tmpdir}/${l}/${p}.c" "lessons/${l}/${p}.c"
        mark_pending "${l}" "${p}"
        echo "lessons/${l}/${p}.c is untouched again."
        changed=$((changed + 1))
    done
    rm -rf "${tmpdir}"
    [ "${changed}" -eq 0 ] && [ -n "${ALL:-}" ] && echo "Every exercise is already untouched."
    [ "${changed}" -gt 0 ] && echo "(${SAVED}/ is git-ignored and make clean keeps it.)"
    return 0
}

# ------------------------------------------------------------ make compare

cmd_compare() {
    local l p progs width
    if [ -z "${LESSON:-}" ]; then
        echo "Say which lesson: make compare LESSON=NN [PROG=name]" >&2
        exit 2
    fi
    l=$(lesson_named "${LESSON}") || exit 2
    if [ -n "${PROG:-}" ]; then
        check_prog_named "${l}" "${PROG}" || exit 2
        progs=${PROG}
    else
        progs=$(programs_of "${l}")
    fi
    width=${COLUMNS:-$(tput cols 2>/dev/null || echo 160)}
    [ "${width}" -lt 100 ] && width=160
    for p in ${progs}; do
        if ! is_done "${l}" "${p}" && [ -z "${FORCE:-}" ]; then
            echo "${p}.c is not done yet: make check LESSON=${l%%_*} first (or FORCE=1 to look anyway)." >&2
            exit 1
        fi
    done
    for p in ${progs}; do
        printf '%-*s | %s\n' "$(((width - 3) / 2))" "yours: lessons/${l}/${p}.c" "solution: solutions/${l}/${p}.c"
        diff -y -t -W "${width}" "lessons/${l}/${p}.c" "solutions/${l}/${p}.c"
        echo
    done
    return 0
}

# ------------------------------------------------------------ make watch
# tests/tools/watch.c runs these: on a save (check), and for its keys.

watch_check() {
    local rc
    START=$(current_program) STATUS_FILE=${TEST_LOG}.status cmd_check
    rc=$?
    echo
    echo "== $(sed 's/^/Lesson /' "${TEST_LOG}.status")  $(progress_bar)"
    rm -f "${TEST_LOG}.status"
    return "${rc}"
}

watch_next() {
    local cur next
    local l p after="" before="" seen=""
    cur=$(current_program)
    # The next pending program after this one (round to the start if need
    # be): a done one would not stay current, so it is passed over.
    while read -r l p; do
        if [ "${l} ${p}" = "${cur}" ]; then seen=yes; continue; fi
        is_done "${l}" "${p}" && continue
        if [ -n "${seen}" ]; then [ -n "${after}" ] || after="${l} ${p}"
        else [ -n "${before}" ] || before="${l} ${p}"; fi
    done < <(all_programs)
    next=${after:-${before}}
    if [ -z "${next}" ]; then
        echo "No other program is pending: every other exercise passes."
        return 0
    fi
    set_current ${next}
    echo "Moved on to lessons/${next% *}/${next#* }.c (going ahead is allowed)."
}

watch_reset() {
    local l p
    read -r l p < <(current_program)
    LESSON=${l} PROG=${p} ALL= cmd_reset
}

# ------------------------------------------------------------ verify, run

cmd_verify() {
    select_lessons
    local bad=0 count=0 l u what
    echo "Every untouched exercise must fail its test (each program on its own):"
    for l in "${LESSONS[@]}"; do
        while read -r u; do
            count=$((count + 1))
            if [ "${u}" = '@' ]; then what=${l}; u=""; else what="${l}/${u}.c"; fi
            # One failure is all it takes: stop at the first (FAIL_FAST).
            if FAIL_FAST=1 run_test "${l}" exercise "${u}"; then
                echo "  WRONG  ${what}: the untouched exercise PASSES its tests - they cannot fail"
                bad=$((bad + 1))
            else
                echo "  good   ${what}: fails as it should ($(awk -F '\t' '$1 == "fail" { print $2; exit }' "${RESULTS}"))"
            fi
        done < <(units_of "${l}")
    done
    if [ "${bad}" -gt 0 ]; then
        echo "${bad} exercise(s) pass untouched."
        return 1
    fi
    echo "All ${count} exercises fail untouched."
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

case ${1:-} in
    test) cmd_test ;;
    check) cmd_check ;;
    verify) cmd_verify ;;
    run) cmd_run ;;
    hint) cmd_hint ;;
    list) cmd_list ;;
    reset) cmd_reset ;;
    compare) cmd_compare ;;
    watch-check) watch_check ;;
    watch-hint) LESSON= PROG= LEVEL= cmd_hint ;;
    watch-list) cmd_list ;;
    watch-next) watch_next ;;
    watch-reset) watch_reset ;;
    *) echo "usage: bash tests/suite.sh test|check|hint|list|reset|compare|verify|run|watch-ACTION" >&2; exit 2 ;;
esac
