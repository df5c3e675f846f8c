# results.awk - read a lesson test's log (what tests/NN_name.sh printed) and
# write one line per test, tab-separated:
#
#     STATUS<TAB>TEST<TAB>MESSAGE
#
# STATUS is ok, fail or skip; TEST is the test function's name; MESSAGE is
# the first failure message (shunit2's "ASSERT:" line) or the reason for a
# skip, empty for ok.  The suite's progress, `make grade` and its JUnit, TAP
# and JSON writers all read a test's outcome through this one file.
#
# It relies on shunit2 (2.1.x) printing each test's name alone on a line
# before running it, and "ASSERT:message" for each failed assert; lib.sh
# prints "  SKIPPED: reason" for a skipped test.
#
# usage: awk -f tests/tools/results.awk LOG
#        awk -v show=TEST -f tests/tools/results.awk LOG
# The second form prints instead what TEST itself wrote to the log (the
# lines between its name and the next test's): the expected-against-found
# diff and the messages `make check` shows for the first failing test.

function flush() {
    if (name == "")
        return
    gsub(/\t/, " ", msg)
    printf "%s\t%s\t%s\n", status, name, msg
    name = ""
}

show != "" {
    if ($0 ~ /^test_[A-Za-z0-9_]+$/) { current = $0; next }
    if ($0 ~ /^== counts: /) { current = ""; next }
    if (current == show) print
    next
}
/^test_[A-Za-z0-9_]+$/ { flush(); name = $0; status = "ok"; msg = ""; next }
name == "" { next }
/^ASSERT:/ {
    if (status != "fail") { status = "fail"; msg = substr($0, 8) }
    next
}
/^shunit2:ERROR .* returned non-zero return code\.$/ {
    if (status != "fail") { status = "fail"; msg = "the test stopped with an error" }
    next
}
/^  SKIPPED: / {
    if (status == "ok") { status = "skip"; msg = substr($0, 12) }
    next
}
/^== counts: / { flush() }
END { flush() }
