# collect.awk - one lesson's outcome, one line per test of the lesson:
#
#     LESSON<TAB>TEST<TAB>STATUS<TAB>MESSAGE
#
# usage: awk -f tests/grade/collect.awk -v lesson=NN_name \
#            -v tests=TESTLIST [-v build_error=TEXT] [-v stopped=TEXT] RESULTS
#
# TESTLIST names the lesson's tests, one a line, from the grader's own copy
# of the test script.  RESULTS is what tests/tools/results.awk made of the
# test's log (STATUS<TAB>TEST<TAB>MESSAGE).  A test named more than once
# keeps its worst outcome (fail, then skip, then ok), so a line that only
# looks like a test name (a program can print anything) never turns a
# failure into a pass; a name that is not in TESTLIST is ignored.  A test
# that has no outcome failed: the script stopped before it (message
# `stopped`).  With build_error set, a failure because a program could not
# be run says that the program did not compile instead.
#
# A test skipped because an earlier one failed (lib.sh's FAIL_FAST, or a
# lesson that stops a program's tests at its first failure: "an earlier
# test of PROG failed") did not pass: it counts as failed, with its points
# lost, never as "not run here" (which takes a test out of the lesson's
# points, so that fixing an earlier stage would shrink what is left).

BEGIN {
    FS = "\t"
    rank["ok"] = 1; rank["skip"] = 2; rank["fail"] = 3
    while ((getline t < tests) > 0)
        if (t != "" && !(t in known)) {
            known[t] = 1
            order[++n] = t
        }
}

{
    st = $1; name = $2; msg = $3
    if (!(name in known) || !(st in rank))
        next
    if (st == "skip" && msg ~ /an earlier test( of [^ ]+)? failed/)
        st = "fail"
    if (!(name in status) || rank[st] > rank[status[name]]) {
        status[name] = st
        message[name] = msg
    }
}

END {
    if (stopped == "")
        stopped = "the test script stopped before this test ran"
    for (i = 1; i <= n; i++) {
        t = order[i]
        if (t in status) {
            st = status[t]; msg = message[t]
        } else {
            st = "fail"; msg = stopped
        }
        if (st == "fail" && build_error != "" && (msg ~ /could not be run/ || !(t in status)))
            msg = build_error
        gsub(/[\t\r]/, " ", msg)
        printf "%s\t%s\t%s\t%s\n", lesson, t, st, msg
    }
}
