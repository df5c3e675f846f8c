#!/usr/bin/env bash
# Lesson 10: measuring honestly - the clock and the statistics under it.
LESSON=10_measuring
. "$(dirname "$0")/lib.sh"

# now() is CLOCK_MONOTONIC in seconds: its value is near the time since
# boot (not ~1.7e9, the wall clock's seconds since 1970), and it measures a
# 50 ms sleep as about 50 ms.
test_bench__now_is_a_monotonic_clock_in_seconds() {
    run_prog bench clock || return
    assert_exit 0 || return
    local line t ms up
    line=$(cat "${OUT}")
    t=$(sed -nE 's/^now\(\) ([0-9.]+) s; .*/\1/p' "${OUT}")
    ms=$(sed -nE 's/.*a 50 ms sleep measured (-?[0-9.]+) ms$/\1/p' "${OUT}")
    up=$(cut -d' ' -f1 /proc/uptime)
    if [ -z "${t}" ] || [ -z "${ms}" ]; then
        fail "bench clock printed '${line}', expected 'now() T s; a 50 ms sleep measured M ms'"
        return 1
    fi
    if awk -v t="${t}" 'BEGIN { exit !(t > 1e8) }'; then
        fail "bench clock: now() is ${t} s, the wall clock's seconds since 1970 (CLOCK_REALTIME or time()): a measurement needs CLOCK_MONOTONIC, which never jumps when the clock is set"
        return 1
    fi
    if ! awk -v ms="${ms}" 'BEGIN { exit !(ms >= 45 && ms < 1000) }'; then
        fail "bench clock: a 50 ms sleep measured ${ms} ms: does now() return seconds with their fraction, tv_sec + tv_nsec / 1e9 (a double, not an integer division), on a clock that runs while the program sleeps (not a CPU-time clock)?"
        return 1
    fi
    if ! awk -v t="${t}" -v up="${up}" 'BEGIN { exit !(t > 0 && t <= up + 60) }'; then
        fail "bench clock: now() is ${t} s, while the machine has been up ${up} s: is it CLOCK_MONOTONIC?"
        return 1
    fi
}

# stats_of ARG...: run `bench stats ARG...` and compare with the wanted line.
assert_stats() {
    local want=$1 what=$2
    shift 2
    run_prog bench stats "$@" || return
    assert_exit 0 || return
    if [ "$(cat "${OUT}")" != "${want}" ]; then
        fail "bench stats $*: printed '$(cat "${OUT}")', expected '${want}': ${what}"
        return 1
    fi
}

# The summary of repeated runs: median, min and max.  Odd and even counts,
# samples in any order.
test_bench__median_min_max() {
    assert_stats "median 3, min 1, max 5" \
        "five samples: sort them (qsort with by_value), then the middle one is the median" 5 1 4 2 3 || return
    assert_stats "median 25, min 10, max 40" \
        "an even count: the median is the mean of the middle two" 40 10 30 20 || return
    assert_stats "median 7, min 7, max 7" "one sample is its own median" 7 || return
    assert_stats "median 2, min 1, max 3" "samples in descending order" 3 2 1
}

# Rates are fractional; a comparator that turns the difference into an int
# calls 0.25 and 0.5 equal, and the sort leaves them where they were.
test_bench__sorts_fractional_samples() {
    assert_stats "median 0.375, min 0.125, max 0.75" \
        "these samples differ by less than 1: does by_value compare the doubles themselves, rather than return (int)(x - y), which is 0 for them?" \
        0.5 0.25 0.75 0.125 0.375 || return
    assert_stats "median 2.5, min 1.5, max 3.5" \
        "does by_value compare the doubles themselves (not their difference truncated to an int)?" 3.5 2.5 1.5 || return
    assert_stats "median -0.5, min -1.75, max 0.25" \
        "negative samples: is the comparator's sign right for them too?" 0.25 -1.75 -0.5
}

# Every benchmark runs and reports a rate, in the order and with the names
# `make bench` documents.  Only the form is checked: speed is measured by
# `make bench`, never asserted by a test.
test_bench__every_benchmark_reports_a_rate() {
    TIMEOUT_CAUSE="the benchmarks never finished: does now() measure time (the warm-up doubles the work until a run takes BENCH_MS)?"
    BENCH_FORMAT=tsv BENCH_MS=1 BENCH_RUNS=1 run_prog bench || return
    assert_exit 0 || return
    assertEquals "the benchmarks, in order" \
        "pipe_pingpong socket_pingpong manager_dict_set manager_dict_get manager_queue_putget value_mutex_incr value_atomic_incr" \
        "$(cut -f1 "${OUT}" | tr '\n' ' ' | sed 's/ $//')" || return
    assertEquals "lines that are not name<TAB>rate" "" \
        "$(grep -Ev '^[a-z_]+	[1-9][0-9]*$' "${OUT}")"
}

test_bench__rejects_bad_arguments() {
    assert_usage_error bench nosuch || return
    assert_usage_error bench stats || return
    assert_usage_error bench stats 1 two 3
}

# The Python side measures the same operations, when python3 is here.
test_bench__python_side_reports_rates() {
    if ! command -v python3 >/dev/null 2>&1; then
        skip_test "python3 is not installed"
        return
    fi
    BENCH_MS=1 BENCH_RUNS=1 run_cmd "$(command -v python3)" \
        "${ROOT}/lessons/${LESSON}/bench.py" || return
    assert_exit 0 || return
    assertEquals "the Python benchmarks, in order" \
        "socket_pingpong manager_dict_set manager_dict_get manager_queue_putget value_mutex_incr" \
        "$(cut -f1 "${OUT}" | tr '\n' ' ' | sed 's/ $//')"
}

. "${SHUNIT2}"
