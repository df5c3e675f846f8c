#!/usr/bin/env bash
# make watch, driven without a terminal (keys through a pipe) on a fixture
# course in a throw-away copy of the tree: a save is seen (inotify, and
# polling when forced), the keys work, it moves on when a program passes,
# and Ctrl-C leaves no process behind.  `make test` runs it.
LESSON=harness
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fixture/tree.sh"

# HARNESS_TIMES=1: say how long each test takes.
setUp() { [ -n "${HARNESS_TIMES:-}" ] && TEST_START=$(now_ms); return 0; }
tearDown() {
    [ -n "${HARNESS_TIMES:-}" ] && echo "  took $(($(now_ms) - TEST_START)) ms"
    return 0
}

eval "$(declare -f oneTimeSetUp | sed '1s/^oneTimeSetUp/lib_oneTimeSetUp/')"
oneTimeSetUp() {
    lib_oneTimeSetUp
    T=${SHUNIT_TMPDIR}/tree
    make_tree "${T}" || exit 2
}

# start_watch [MAKE-ARG...]: make watch in the tree, in a session of its own
# (so that a "Ctrl-C" can go to its whole process group as a terminal's
# would), keys from the fifo ${KEYS}, output in ${WOUT}.
start_watch() {
    KEYS=${SHUNIT_TMPDIR}/keys
    WOUT=${SHUNIT_TMPDIR}/watch.out
    rm -f "${KEYS}" && mkfifo "${KEYS}"
    : >"${WOUT}" # (here, not in the background: wait_for reads it at once)
    (cd "${T}" && WATCH_DEBOUNCE_MS=50 exec "${CLEAN_ENV[@]}" setsid make watch "$@" \
        <"${KEYS}" >>"${WOUT}" 2>&1) &
    WATCH_PID=$!
    exec 7>"${KEYS}" # keep the pipe open: the keys come from here
    [ -p "${SHUNIT_TMPDIR}/nap" ] || mkfifo "${SHUNIT_TMPDIR}/nap"
    exec 9<>"${SHUNIT_TMPDIR}/nap"
}

# key CHARS: type them.
key() { printf '%s' "$1" >&7; }

# nap: sleep 20 ms without starting a process (read times out on a pipe
# nobody writes to: fd 9, opened in start_watch).
nap() { read -r -t 0.02 -u 9 _; }

# wait_for COUNT TEXT: until TEXT is in the output COUNT times (15 s at
# most: a loaded machine can be slow; a working watch is far quicker).
# Each line is looked at once.
wait_for() {
    local n=0 seen=0 scanned=0 line lines
    while [ "${n}" -lt 750 ]; do
        mapfile -t -s "${scanned}" lines <"${WOUT}"
        # (a last line without its newline yet is looked at again next time)
        [ "${#lines[@]}" -gt 0 ] && scanned=$((scanned + ${#lines[@]} - 1)) && unset 'lines[-1]'
        for line in "${lines[@]}"; do [[ ${line} == *"$2"* ]] && seen=$((seen + 1)); done
        # the held-back last line
        mapfile -t -s "${scanned}" lines <"${WOUT}"
        local extra=0
        for line in "${lines[@]}"; do [[ ${line} == *"$2"* ]] && extra=$((extra + 1)); done
        [ $((seen + extra)) -ge "$1" ] && return 0
        nap
        n=$((n + 1))
    done
    sed 's/^/  | /' "${WOUT}"
    fail "make watch did not print \"$2\" ${1} time(s) within 15 s"
    return 1
}

# stop_watch: q, then it must end by itself.
stop_watch() {
    key q
    exec 7>&-
    local n=0
    while kill -0 "${WATCH_PID}" 2>/dev/null && [ "${n}" -lt 500 ]; do
        nap
        n=$((n + 1))
    done
    if kill -0 "${WATCH_PID}" 2>/dev/null; then
        fail "make watch did not quit on q"
        kill -KILL -- "-${WATCH_PID}" 2>/dev/null
    fi
    wait "${WATCH_PID}" 2>/dev/null
}

# Processes still running from the tree (its programs, its make): those
# whose command line names it, or whose working directory is in it.
left_in_tree() {
    {
        grep -laF -- "${T}/" /proc/[0-9]*/cmdline 2>/dev/null
        find /proc -mindepth 2 -maxdepth 2 -name cwd \( -lname "${T}" -o -lname "${T}/*" \) 2>/dev/null
    } | cut -d/ -f3 | grep -vx -e "$$" -e "${BASHPID}" | sort -u
}

test_watch_reruns_on_save_and_its_keys_work() {
    # (stuck.c deadlocks for 2 s on every check: keep it out of this one)
    printf 'done 02_flat/stuck\n' >"${T}/.progress"
    start_watch
    wait_for 1 "with inotify" || return
    wait_for 1 "== Lesson 01 first.c: fail at stage 2 of 3" || { stop_watch; return; }
    wait_for 1 "q quit" || { stop_watch; return; }
    echo "/* mine */" >>"${T}/lessons/01_alpha/second.c"
    echo "/* saved */" >>"${T}/lessons/01_alpha/first.c"
    wait_for 1 "first.c was saved: checking again" || { stop_watch; return; }
    wait_for 2 "== Lesson 01 first.c: fail" || { stop_watch; return; }
    key h
    wait_for 1 "Hint 1 of 3 for first.c" || { stop_watch; return; }
    key l
    wait_for 1 "-> pending  lessons/01_alpha/first.c" || { stop_watch; return; }
    # n: on to the next program, though this one does not pass yet
    key n
    wait_for 1 "Moved on to lessons/01_alpha/second.c" || { stop_watch; return; }
    wait_for 1 "== Lesson 01 second.c: fail" || { stop_watch; return; }
    # x, then y to confirm: reset the current exercise, keeping a copy
    key xy
    wait_for 1 "Your lessons/01_alpha/second.c is kept in" || { stop_watch; return; }
    wait_for 2 "== Lesson 01 second.c: fail" || { stop_watch; return; }
    # The program passes: watch moves on to the next pending one.
    cp "${T}/solutions/01_alpha/second.c" "${T}/lessons/01_alpha/second.c"
    wait_for 1 "[done] Lesson 01: alpha - second.c" || { stop_watch; return; }
    wait_for 3 "== Lesson 01 first.c: fail" || { stop_watch; return; }
    stop_watch
    assertEquals "left no process behind" "" "$(left_in_tree)"
    (cd "${T}" && git checkout -q lessons)
}

test_watch_polls_when_asked() {
    # (on second.c, the program with the fewest tests: this test is about
    # seeing the save)
    printf 'done 01_alpha/first\ndone 02_flat/stuck\n' >"${T}/.progress"
    WATCH_INTERVAL_MS=100 start_watch POLL=1
    wait_for 1 "by polling modification times every 100 ms" || { stop_watch; return; }
    wait_for 1 "q quit" || { stop_watch; return; }
    echo "/* saved */" >>"${T}/lessons/01_alpha/second.c"
    wait_for 1 "second.c was saved: checking again" || { stop_watch; return; }
    wait_for 2 "== Lesson 01 second.c: fail" || { stop_watch; return; }
    stop_watch
    (cd "${T}" && git checkout -q lessons)
}

test_ctrl_c_leaves_no_process_behind() {
    # The current program deadlocks: Ctrl-C comes while it is stuck.
    printf 'done 01_alpha/first\ndone 01_alpha/second\n' >"${T}/.progress"
    start_watch
    local n=0
    while [ "${n}" -lt 750 ] && ! pgrep -f "${T}/build/lessons/02_flat/stuck" >/dev/null; do
        nap
        n=$((n + 1))
    done
    pgrep -f "${T}/build/lessons/02_flat/stuck" >/dev/null || fail "the stuck program never ran"
    kill -INT -- "-${WATCH_PID}"
    n=0
    while kill -0 "${WATCH_PID}" 2>/dev/null && [ "${n}" -lt 500 ]; do
        nap
        n=$((n + 1))
    done
    kill -0 "${WATCH_PID}" 2>/dev/null && fail "make watch did not end on Ctrl-C"
    exec 7>&-
    wait "${WATCH_PID}" 2>/dev/null
    # Give the killed processes' last steps a moment (reaping is not instant).
    n=0
    while [ -n "$(left_in_tree)" ] && [ "${n}" -lt 250 ]; do
        nap
        n=$((n + 1))
    done
    assertEquals "Ctrl-C left no process behind: $(ps -o pid,args -p "$(left_in_tree | paste -sd, -)" 2>/dev/null)" \
        "" "$(left_in_tree)"
}

. "${SHUNIT2}"
