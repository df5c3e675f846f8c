#!/usr/bin/env bash
# Lesson 10: measuring honestly - and the benchmark's own statistics.
LESSON=10_measuring
. "$(dirname "$0")/lib.sh"

# The summary of repeated runs: median, min and max.  Odd and even counts,
# samples in any order.
test_median_min_max() {
    run_prog bench stats 5 1 4 2 3 || return
    assert_exit 0 || return
    assertEquals "five samples" "median 3, min 1, max 5" "$(cat "${OUT}")"
    run_prog bench stats 40 10 30 20 || return
    assertEquals "four samples: the mean of the middle two" \
        "median 25, min 10, max 40" "$(cat "${OUT}")"
    run_prog bench stats 7 || return
    assertEquals "one sample" "median 7, min 7, max 7" "$(cat "${OUT}")"
}

# Every benchmark runs and reports a rate, in the order and with the names
# `make bench` documents.  Only the form is checked: speed is measured by
# `make bench`, never asserted by a test.
test_every_benchmark_reports_a_rate() {
    BENCH_FORMAT=tsv BENCH_MS=1 BENCH_RUNS=1 run_prog bench || return
    assert_exit 0 || return
    assertEquals "the benchmarks, in order" \
        "pipe_pingpong socket_pingpong manager_dict_set manager_dict_get manager_queue_putget value_mutex_incr value_atomic_incr" \
        "$(cut -f1 "${OUT}" | tr '\n' ' ' | sed 's/ $//')"
    assertEquals "lines that are not name<TAB>rate" "" \
        "$(grep -Ev '^[a-z_]+	[1-9][0-9]*$' "${OUT}")"
}

test_bad_arguments_get_usage() {
    assert_usage_error bench nosuch || return
    assert_usage_error bench stats || return
    assert_usage_error bench stats 1 two 3
}

# The Python side measures the same operations, when python3 is here.
test_python_side_reports_rates() {
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
