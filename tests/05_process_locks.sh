#!/usr/bin/env bash
# Lesson 05: processes sharing one counter, and a lock whose owner dies.
LESSON=05_process_locks
. "$(dirname "$0")/lib.sh"

# The counting processes must really run at the same time for a wrong
# atomic increment or an unshared lock to lose updates.  A test run pinned
# to one CPU (taskset -c 0 make test) would hide that, so the counter runs
# on every online CPU; counter places each process on a CPU of its own.
ONLINE=$(cat /sys/devices/system/cpu/online 2>/dev/null)
run_counter() {
    if [ -n "${ONLINE}" ] && command -v taskset >/dev/null 2>&1; then
        run_cmd "$(command -v taskset)" -c "${ONLINE}" "${BIN_DIR}/counter" "$@" || return
        LAST_CMD="counter $*"
    else
        run_prog counter "$@"
    fi
}
one_cpu_only() {
    case ${ONLINE} in *[-,]*) return 1 ;; esac
    return 0
}

COUNTER_HANG="the counting processes hung: is the mutex unlocked after every increment? And is it initialised PTHREAD_PROCESS_SHARED? (A waiter in another process is never woken otherwise.)"

# count_of WAY: the counter value the last run printed for WAY.
count_of() {
    sed -nE "s/^MainProcess: [0-9]+ processes x [0-9]+ increments $1: counter ([0-9]+), expected [0-9]+.*/\\1/p" "${OUT}"
}

# check_way K N WAY MISTAKE: the way's count is exactly K * N.
check_way() {
    local k=$1 n=$2 way=$3 mistake=$4 got
    got=$(count_of "${way}")
    if [ -z "${got}" ]; then
        sed 's/^/  | /' "${OUT}"
        show_stderr
        fail "${LAST_CMD}: no line for the way '${way}' (exit status ${STATUS})"
        return 1
    fi
    if [ "${got}" -ne $((k * n)) ]; then
        sed 's/^/  | /' "${OUT}"
        fail "${LAST_CMD}: ${way}, the counter is ${got}, expected $((k * n)): ${mistake}"
        return 1
    fi
}

counted_cleanly() {
    if grep -q "Assertion .*__owner == 0" "${ERR}"; then
        show_stderr
        fail "${LAST_CMD}: glibc found the mutex held by someone it does not know: a mutex that several processes use must be initialised PTHREAD_PROCESS_SHARED (TODO 1)"
        return 1
    fi
    assert_exit 0
}

# The given way: without a lock, updates are lost on every run (each process
# waits between its load and its store until the others have loaded too).
test_counter__without_a_lock_updates_are_lost() {
    TIMEOUT_CAUSE=${COUNTER_HANG}
    run_counter 2 2000 || return
    local got
    got=$(count_of "without a lock")
    if [ -z "${got}" ] || [ "${got}" -ge 4000 ]; then
        sed 's/^/  | /' "${OUT}"
        show_stderr
        fail "${LAST_CMD}: the unlocked way should lose updates on every run; did the unlocked way change?"
        return 1
    fi
}

test_counter__the_mutex_keeps_every_update() {
    local k n
    for k in 2 4; do
        n=$((40000 / k))
        TIMEOUT_CAUSE=${COUNTER_HANG}
        run_counter "${k}" "${n}" || return
        counted_cleanly || return
        check_way "${k}" "${n}" "with a process-shared mutex" \
            "updates were lost: is c->lock locked around the increment, and is it the mutex in the shared mapping (c->lock), not a copy in each process?" || return
    done
    if one_cpu_only; then
        skip_test "this machine has one CPU: an unshared lock may lose nothing here; run the test on two CPUs to see it"
    fi
}

# A process-shared mutex waits and wakes with shared futexes; a mutex that
# is not process-shared uses private ones (FUTEX_..._PRIVATE), which another
# process never sees.
test_counter__the_mutex_is_process_shared() {
    if ! command -v strace >/dev/null 2>&1; then
        skip_test "strace is not installed: cannot see which futexes the mutex uses"
        return
    fi
    local trace=${SHUNIT_TMPDIR}/trace
    TIMEOUT_CAUSE=${COUNTER_HANG}
    # LeakSanitizer cannot work under ptrace: no leak check in this run.
    ASAN_OPTIONS=detect_leaks=0 run_cmd "$(command -v strace)" -f -qq --seccomp-bpf -o "${trace}" -e trace=futex \
        "${BIN_DIR}/counter" 2 5000 || return
    LAST_CMD="counter 2 5000 (under strace)"
    counted_cleanly || return
    if grep -q 'FUTEX_[A-Z_]*PRIVATE' "${trace}"; then
        grep -m3 'FUTEX_[A-Z_]*PRIVATE' "${trace}" | sed 's/^/  | /'
        fail "${LAST_CMD}: the mutex waits on a private futex, which a process that unlocks it never wakes: initialise it with a mutex attribute that says PTHREAD_PROCESS_SHARED (TODO 1)"
        return 1
    fi
}

test_counter__atomics_keep_every_update() {
    local k n
    for k in 2 4; do
        n=$((40000 / k))
        TIMEOUT_CAUSE=${COUNTER_HANG}
        run_counter "${k}" "${n}" || return
        counted_cleanly || return
        check_way "${k}" "${n}" "with C11 atomics" \
            "updates were lost: is the increment one atomic step (atomic_fetch_add)? c->atomic = c->atomic + 1, or atomic_load then atomic_store, is a load and a store with room for another process in between" || return
    done
    if one_cpu_only; then
        skip_test "this machine has one CPU: a non-atomic increment may lose nothing here; run the test on two CPUs to see it"
    fi
}

# What the robust program prints around the learner's own lines (the
# EOWNERDEAD and repair messages are the learner's to word).
ROBUST_GIVEN='/^(Process-[0-9]+: took|MainProcess: ([123]\. |the child is dead|pthread_mutex_clocklock|locked and unlocked again|pthread_mutex_lock: EOWNERDEAD; unlocked again|lock_pair: ENOTRECOVERABLE))/!d'
ROBUST_HANG="a lock whose holder died was never handed over: is the mutex made robust in make_pair (pthread_mutexattr_setrobust)? An ordinary mutex whose holder died waits for ever."

robust_failure() {
    show_stderr
    if grep -q 'Owner died' "${ERR}"; then
        fail "${LAST_CMD}: EOWNERDEAD reached the error check: lock_pair must handle it first (we hold the lock: repair, then pthread_mutex_consistent)"
    elif grep -q 'State not recoverable' "${ERR}"; then
        fail "${LAST_CMD}: ENOTRECOVERABLE: the mutex was unlocked without pthread_mutex_consistent, or lock_pair ended the program on ENOTRECOVERABLE instead of returning it"
    elif grep -q 'not recoverable after its repair' "${ERR}"; then
        fail "${LAST_CMD}: after the repair the mutex could not be locked again (ENOTRECOVERABLE): on EOWNERDEAD, call pthread_mutex_consistent before the lock is unlocked"
    elif grep -q 'not recoverable, though nobody gave up' "${ERR}"; then
        fail "${LAST_CMD}: lock_pair returned ENOTRECOVERABLE for a mutex that works: return 0 once the lock is held (TODO 5)"
    else
        fail "${LAST_CMD}: exit status ${STATUS}, expected 0"
    fi
}

# Given: an ordinary mutex whose holder died times out.
test_robust__an_ordinary_mutex_times_out() {
    TIMEOUT_CAUSE=${ROBUST_HANG}
    run_prog robust || return
    assert_line_matches '^MainProcess: pthread_mutex_clocklock: ETIMEDOUT after 100 ms' \
        "the ordinary mutex should time out after 100 ms"
}

# The next locker of a robust mutex gets it, repairs the counts, and the
# mutex works again; finishing the move and undoing it are both repairs.
test_robust__the_next_locker_repairs_the_counts() {
    TIMEOUT_CAUSE=${ROBUST_HANG}
    run_prog robust || return
    local works a b
    works=$(sed -nE 's/^MainProcess: locked and unlocked again: the mutex works \(([0-9]+) \+ ([0-9]+) = [0-9]+\)$/\1 \2/p' "${OUT}")
    if [ -z "${works}" ]; then
        sed 's/^/  | /' "${OUT}"
        robust_failure
        return 1
    fi
    read -r a b <<<"${works}"
    if [ $((a + b)) -ne 100 ]; then
        sed 's/^/  | /' "${OUT}"
        fail "${LAST_CMD}: after the repair the counts are ${a} + ${b} = $((a + b)), not 100: on EOWNERDEAD, make them whole (finish the move, or undo it) before pthread_mutex_consistent"
        return 1
    fi
}

# Unlocked without pthread_mutex_consistent, a robust mutex is dead for
# good: lock_pair reports ENOTRECOVERABLE to its caller.
test_robust__an_unrepaired_mutex_is_not_recoverable() {
    TIMEOUT_CAUSE=${ROBUST_HANG}
    run_prog robust || return
    if [ "${STATUS}" -ne 0 ]; then
        sed 's/^/  | /' "${OUT}"
        robust_failure
        return 1
    fi
    assert_output 05_process_locks_robust.out "${ROBUST_GIVEN}" \
        's/the mutex works \([0-9]+ \+ [0-9]+ = 100\)$/the mutex works (A + B = 100)/'
}

test_counter__rejects_bad_arguments() {
    assert_usage_error counter 0 || return
    assert_usage_error counter 2 lots || return
    assert_usage_error counter 65 || return
    assert_usage_error counter 2 10 extra
}

test_robust__rejects_bad_arguments() {
    assert_usage_error robust extra
}

. "${SHUNIT2}"
