#!/usr/bin/env bash
# grade_formats.sh - `make grade`'s score table and reports, read by real
# readers: prove (TAP), node's tap-parser in strict mode (TAP version 14),
# xmllint or python3's XML parser (JUnit), python3's json module or jq
# (Gradescope's results.json).
#
# It grades the fixture course (tests/harness/fixture/, through tree.sh) in
# a throw-away copy of the tree, so it never depends on the real lessons:
#   partial  lesson 01 with second.c solved and first.c untouched, against
#            the untouched exercises (GRADE_PRISTINE=git:HEAD): first.c
#            fails two tests on purpose, so every format must show failed
#            tests and their messages; a test the untouched first.c passes
#            too earns nothing;
#   full     lesson 01 solved: full marks, exit status 0.
# The fixture's weights (fixture/tests/grade/weights): lesson 01 is worth 6,
# the hello test counts double.  `make test` runs it.
LESSON=harness
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fixture/tree.sh"

# The untouched first.c fails these tests, with these messages.
FAILING=test_first__says_hello_to_the_world
MESSAGE='first: output differs from tests/expected/01_alpha.out'
FAILING2=test_first__takes_no_arguments
MESSAGE2='first extra: exit status 0, expected 2'

# python3, the system's own first: a pyenv shim takes 0.2 s to start.
PYTHON=
for p in /usr/bin/python3 "$(command -v python3 2>/dev/null)"; do
    [ -n "${p}" ] && [ -x "${p}" ] && { PYTHON=${p}; break; }
done

eval "$(declare -f oneTimeSetUp | sed '1s/^oneTimeSetUp/lib_oneTimeSetUp/')"
oneTimeSetUp() {
    lib_oneTimeSetUp
    T=${SHUNIT_TMPDIR}/partial
    FULL=${SHUNIT_TMPDIR}/full
    make_tree "${T}" || exit 2
    cp -a "${T}" "${FULL}"
    cp "${T}/solutions/01_alpha/second.c" "${T}/lessons/01_alpha/"
    cp "${FULL}"/solutions/01_alpha/*.c "${FULL}/lessons/01_alpha/"
    # Both at once (each builds two programs and runs four tests).
    (OUT_TREE=${SHUNIT_TMPDIR}/full-table && in_tree "${FULL}" make grade LESSON=01; echo "${RC}" >"${FULL}/rc") &
    OUT_TREE=${SHUNIT_TMPDIR}/table
    in_tree "${T}" env GRADE_PRISTINE=git:HEAD make grade LESSON=01
    GRADE_STATUS=${RC}
    wait
    FULL_STATUS=$(cat "${FULL}/rc" 2>/dev/null)
    R=${T}/build/results
}

# has_line FILE ERE: FILE has a line matching ERE.
has_line() { grep -Eq -- "$2" "$1"; }

test_grade__one_lesson_exits_non_zero_unless_full_marks() {
    assertNotEquals "make grade LESSON=01, not full marks, must fail (a GitHub Classroom step reads it); output: $(cat "${SHUNIT_TMPDIR}/table")" \
        0 "${GRADE_STATUS}"
    assertEquals "make grade LESSON=01, full marks, must succeed; output: $(cat "${SHUNIT_TMPDIR}/full-table")" \
        0 "${FULL_STATUS}"
}

test_grade__table_shows_points_per_test_lesson_and_total() {
    local t=${SHUNIT_TMPDIR}/table
    assertTrue "the lesson's line, with its points (1.50 of 6, second.c's test): $(cat "${t}")" \
        "has_line '${t}' '^01_alpha +1\.50 / 6\.00$'"
    assertTrue "a failed test, with its points (double share: 3 of 6) and its message on the next line: $(cat "${t}")" \
        "grep -A1 -E '^  FAIL +0\.00 / 3\.00 +${FAILING}$' '${t}' | grep -qF '${MESSAGE}'"
    assertTrue "the other failed test, 1.50 points, and its message: $(cat "${t}")" \
        "grep -A1 -E '^  FAIL +0\.00 / 1\.50 +${FAILING2}$' '${t}' | grep -qF '${MESSAGE2}'"
    assertTrue "a passed test earns its points: $(cat "${t}")" \
        "has_line '${t}' '^  ok +1\.50 / 1\.50 +test_second__exits_0$'"
    assertTrue "a test the untouched exercise passes earns nothing: $(cat "${t}")" \
        "has_line '${t}' '^  ok +- +test_first__runs_and_exits_0 \(the untouched exercise passes it too'"
    assertTrue "the total: $(cat "${t}")" "has_line '${t}' '^Total +1\.50 / 6\.00$'"
    assertTrue "full marks: $(cat "${SHUNIT_TMPDIR}/full-table")" \
        "has_line '${SHUNIT_TMPDIR}/full-table' '^Total +6\.00 / 6\.00$'"
    assertTrue "the reports are where make help says: build/results/: $(ls "${R}" 2>&1)" \
        "[ -s '${R}/junit.xml' ] && [ -s '${R}/results.tap' ] && [ -s '${R}/results.json' ]"
}

# The course's own weights file (tests/grade/weights; the fixture has its
# own) must be one score.awk reads.
test_grade__the_course_weights_file_is_readable() {
    local msg
    msg=$(awk -f "${ROOT}/tests/grade/score.awk" -v weights="${ROOT}/tests/grade/weights" </dev/null 2>&1)
    assertEquals "score.awk reads tests/grade/weights without a complaint" "" "${msg}"
}

# A test that did not run because an earlier one failed (lib.sh's
# FAIL_FAST, or a lesson's own stages) counts as failed, keeping its share
# of the points; one skipped for want of a tool carries none.
test_grade__a_test_not_run_after_a_failure_counts_as_failed() {
    local got
    got=$(printf '%s\t%s\t%s\n' ok test_p__one "" fail test_p__two "p: wrong" \
        skip test_p__three "an earlier test of p failed: fix that first" \
        skip test_p__four "not run: an earlier test failed (FAIL_FAST stops at the first failure)" \
        skip test_p__five "strace is not installed" |
        awk -f "${ROOT}/tests/grade/collect.awk" -v lesson=01_alpha \
            -v tests=<(printf 'test_p__%s\n' one two three four five) |
        awk -f "${ROOT}/tests/grade/score.awk" -v weights="${T}/tests/grade/weights" |
        cut -f2,3,6 | tr '\t\n' ' |')
    assertEquals "outcome and max points of each test (lesson 01: 6 points)" \
        "test_p__one ok 1.5000|test_p__two fail 1.5000|test_p__three fail 1.5000|test_p__four fail 1.5000|test_p__five skip 0.0000|" "${got}"
}

test_grade__tap_is_read_by_prove() {
    command -v prove >/dev/null 2>&1 || { skip_test "no prove here (Debian: perl)"; return; }
    local tap=${R}/results.tap n1 n2 p=${SHUNIT_TMPDIR}/prove
    assertEquals "results.tap says which TAP it is" "TAP version 14" "$(head -n 1 "${tap}")"
    n1=$(sed -n "s/^not ok \([0-9]*\) - 01_alpha: ${FAILING}$/\1/p" "${tap}")
    n2=$(sed -n "s/^not ok \([0-9]*\) - 01_alpha: ${FAILING2}$/\1/p" "${tap}")
    assertNotNull "results.tap: a 'not ok' test point for ${FAILING}: $(cat "${tap}")" "${n1}"
    assertNotNull "results.tap: a 'not ok' test point for ${FAILING2}: $(cat "${tap}")" "${n2}"
    (cd "${T}" && prove -v --exec 'sh tests/grade/prove-tap14' "${tap}") >"${p}" 2>&1
    local rc=$?
    assertEquals "prove fails on failed tests: $(cat "${p}")" 1 "${rc}"
    assertTrue "prove names the failed tests (${n1} and ${n2}) and nothing else: $(cat "${p}")" \
        "has_line '${p}' '^  Failed tests: +${n1}-${n2}$'"
    assertFalse "prove found no parse error: $(cat "${p}")" "grep -q 'Parse errors' '${p}'"
    assertTrue "the message is in the failed test's YAML block: $(cat "${tap}")" \
        "grep -A2 -E '^not ok ${n1} ' '${tap}' | grep -qxF '  message: \"${MESSAGE}\"'"
}

# What TAP 14 requires of a document (testanything.org, TAP 14
# specification): the version line first, one plan "1..N" before or after
# all test points, N test points with ids 1..N, YAML blocks indented by two
# spaces between "  ---" and "  ...", no unescaped "#" in a description.
# Node's tap-parser (Debian: node-tap-parser) reads version 14 itself.
test_grade__tap_follows_version_14() {
    local tap=${R}/results.tap problems
    problems=$(awk '
        NR == 1 { if ($0 != "TAP version 14") print "line 1 is not \"TAP version 14\""; next }
        inyaml { if ($0 == "  ...") inyaml = 0; else if ($0 !~ /^  /) print "line " NR ": YAML not indented by 2"; next }
        /^1\.\.[0-9]+$/ { plans++; plan = substr($0, 4) + 0; if (points && points != plan) late = 1; next }
        /^(not )?ok [0-9]+( |$)/ {
            points++; id = $0; sub(/^(not )?ok /, "", id); sub(/ .*/, "", id)
            if (id + 0 != points) print "line " NR ": test point id " id ", expected " points
            if (plans && late) print "line " NR ": test point after a closing plan"
            d = $0; sub(/ # (SKIP|TODO).*$/, "", d); gsub(/\\\\/, "", d); gsub(/\\#/, "", d)
            if (index(d, "#")) print "line " NR ": unescaped # in the description"
            next
        }
        $0 == "  ---" { inyaml = 1; next }
        { print "line " NR ": not TAP: " $0 }
        END { if (plans != 1) print plans + 0 " plans"; else if (plan != points) print "plan " plan ", test points " points }
    ' "${tap}")
    assertEquals "results.tap against the TAP 14 grammar" "" "${problems}"
    if ! command -v tap-parser >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
        echo "  (no tap-parser here: the TAP 14 grammar was checked above; Debian: node-tap-parser)"
        return
    fi
    NODE_PATH=/usr/share/nodejs tap-parser --strict -j 0 <"${tap}" >"${SHUNIT_TMPDIR}/tp.json" 2>&1
    local rc=$?
    assertEquals "tap-parser: failed tests make the stream fail: $(head -c 400 "${SHUNIT_TMPDIR}/tp.json")" 1 "${rc}"
    if [ -n "${PYTHON}" ]; then
        assertEquals "tap-parser's reading: version, count, failures, the first one and its message" \
            "14 4 2 ${FAILING} ${MESSAGE}" "$("${PYTHON}" -c '
import json, sys
ev = json.load(open(sys.argv[1]))
version = [e[1] for e in ev if e[0] == "version"][0]
done = [e[1] for e in ev if e[0] == "complete"][0]
f = done["failures"]
print(version, done["count"], done["fail"], f[0]["name"].split(": ")[1], f[0]["diag"]["message"])
' "${SHUNIT_TMPDIR}/tp.json" 2>&1)"
    fi
}

test_grade__junit_is_well_formed_and_shows_the_failure() {
    local x=${R}/junit.xml got
    if command -v xmllint >/dev/null 2>&1; then
        assertTrue "xmllint: junit.xml is well-formed: $(xmllint --noout "${x}" 2>&1)" "xmllint --noout '${x}'"
        got=$(xmllint --xpath "concat(count(//testcase), ' ', count(//testcase[failure]), ' ', //testcase[@name='${FAILING}']/failure/@message, ' | ', //testcase[@name='${FAILING2}']/failure/@message)" "${x}")
    elif [ -n "${PYTHON}" ]; then
        got=$("${PYTHON}" -c '
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = root.findall(".//testcase")
failed = [c for c in cases if c.find("failure") is not None]
def msg(name):
    m = [c.find("failure").get("message") for c in failed if c.get("name") == name]
    return m[0] if m else ""
print(len(cases), len(failed), msg(sys.argv[2]), "|", msg(sys.argv[3]))
' "${x}" "${FAILING}" "${FAILING2}" 2>&1)
        assertEquals "python3's XML parser reads junit.xml: $(head -c 300 "${x}")" 0 $?
    else
        skip_test "neither xmllint (Debian: libxml2-utils) nor python3 to read the XML"
        return
    fi
    assertEquals "junit.xml: testcases, failed ones, and the failures' messages" \
        "4 2 ${MESSAGE} | ${MESSAGE2}" "${got}"
}

test_grade__json_is_gradescope_results() {
    local j=${R}/results.json got
    if [ -n "${PYTHON}" ]; then
        # (json.load reads it whole: a file that is not JSON fails here)
        got=$("${PYTHON}" -c '
import json, sys
r = json.load(open(sys.argv[1]))
t = [x for x in r["tests"] if x["name"].endswith(": " + sys.argv[2])][0]
print("%g %d %g %g %s %s" % (r["score"], len(r["tests"]), t["score"], t["max_score"], t["status"], sys.argv[3] in t["output"]))
' "${j}" "${FAILING}" "${MESSAGE}" 2>&1)
    elif command -v jq >/dev/null 2>&1; then
        got=$(jq -r --arg t "${FAILING}" --arg m "${MESSAGE}" '
            (.tests[] | select(.name | endswith(": " + $t))) as $f
            | "\(.score) \(.tests | length) \($f.score) \($f.max_score) \($f.status) \(if ($f.output | contains($m)) then "True" else "False" end)"' "${j}" 2>&1)
    else
        skip_test "neither python3 nor jq to read the JSON"
        return
    fi
    assertEquals "results.json: score, tests, and the failed test's score, max_score, status, message" \
        "1.5 4 0 3 failed True" "${got}"
}

. "${SHUNIT2}"
