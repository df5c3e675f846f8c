#!/usr/bin/env bash
# grade_formats.sh - `make grade`'s score table and reports, read by real
# readers: prove (TAP), node's tap-parser in strict mode (TAP version 14),
# xmllint or python3's XML parser (JUnit), python3's json module or jq
# (Gradescope's results.json).  Lesson 01's untouched exercise fails one
# test on purpose, so every format must show a failed test and its message.
#
# Run it directly: bash tests/harness/grade_formats.sh (after `make`).
. "$(dirname "$0")/../lib.sh"

# The untouched exercise of lesson 01 fails this test, with this message.
FAILING=test_each_child_changes_only_its_own_copy
MESSAGE='separate_memory: output differs from tests/expected/01_separate_memory.out'

oneTimeSetUp() {
    R=${SHUNIT_TMPDIR}/results
    if ! git -C "${ROOT}" rev-parse --verify -q HEAD >/dev/null 2>&1; then
        NO_GIT=yes
        return
    fi
    # The exercises of this tree, lesson 01 only; the untouched ones come
    # from the tree's own commit, so tests they pass earn nothing.
    (cd "${ROOT}" && env -u CHECK_MODE -u FAIL_FAST BUILD="${BUILD}" LESSON=01 \
        RESULTS="${R}" GRADE_PRISTINE=git:HEAD TSAN_TESTED= \
        TEST_TOOLS="manager_probe replay_requests" bash tests/grade.sh one) \
        >"${SHUNIT_TMPDIR}/table" 2>&1
    GRADE_STATUS=$?
    # In a tree whose lessons/ holds changes, lesson 01 may pass.
    if [ -n "$(git -C "${ROOT}" status --porcelain -- lessons/01_separate_memory 2>/dev/null)" ]; then
        EDITED=yes
    fi
}

need_untouched() {
    if [ -n "${NO_GIT:-}" ]; then
        skip_test "not a git checkout: the untouched exercises come from git (GRADE_PRISTINE=git:HEAD)"
    elif [ -n "${EDITED:-}" ]; then
        skip_test "lessons/01_separate_memory has local changes: this test needs it untouched"
    fi
}

test_grade__one_lesson_exits_non_zero_unless_full_marks() {
    need_untouched
    assertEquals "make grade LESSON=01 on the untouched exercise: exit status (1 = not full marks); output: $(head -c 600 "${SHUNIT_TMPDIR}/table")" \
        1 "${GRADE_STATUS}"
}

test_grade__table_shows_points_per_test_lesson_and_total() {
    need_untouched
    local t=${SHUNIT_TMPDIR}/table
    assertTrue "the lesson's line, with its points out of 10: $(cat "${t}")" \
        "grep -Eq '^01_separate_memory +0\.00 / 10\.00$' '${t}'"
    assertTrue "the failed test, with its points, and its message below it: $(cat "${t}")" \
        "grep -Eq '^  FAIL +0\.00 / 10\.00 +${FAILING}$' '${t}' && grep -qF '${MESSAGE}' '${t}'"
    assertTrue "a test the untouched exercise passes earns nothing: $(cat "${t}")" \
        "grep -Eq '^  ok +- +test_parent_speaks_last \(the untouched exercise passes it too' '${t}'"
    assertTrue "the total: $(cat "${t}")" "grep -Eq '^Total +0\.00 / 10\.00$' '${t}'"
}

test_grade__tap_is_read_by_prove() {
    need_untouched
    command -v prove >/dev/null 2>&1 || { skip_test "no prove here (Debian: perl)"; return; }
    local tap=${R}/results.tap n
    assertEquals "results.tap says which TAP it is" "TAP version 14" "$(head -n 1 "${tap}")"
    n=$(grep -n "^not ok [0-9]* - 01_separate_memory: ${FAILING}$" "${tap}" | sed 's/:.*//')
    assertNotNull "results.tap: a 'not ok' test point for ${FAILING}: $(cat "${tap}")" "${n}"
    n=$(sed -n "${n}s/^not ok \([0-9]*\) .*/\1/p" "${tap}")
    (cd "${ROOT}" && prove -v --exec 'sh tests/grade/prove-tap14' "${tap}") >"${SHUNIT_TMPDIR}/prove" 2>&1
    local rc=$?
    assertEquals "prove fails on a failed test: $(cat "${SHUNIT_TMPDIR}/prove")" 1 "${rc}"
    assertTrue "prove names the failed test (number ${n}) and nothing else: $(cat "${SHUNIT_TMPDIR}/prove")" \
        "grep -Eq '^  Failed test: +${n}$' '${SHUNIT_TMPDIR}/prove'"
    assertFalse "prove found no parse error: $(cat "${SHUNIT_TMPDIR}/prove")" \
        "grep -q 'Parse errors' '${SHUNIT_TMPDIR}/prove'"
    assertTrue "the message is in the failed test's YAML block: $(cat "${tap}")" \
        "grep -qF '  message: \"${MESSAGE}\"' '${tap}'"
}

# What TAP 14 requires of a document (testanything.org, TAP 14
# specification): the version line first, one plan "1..N" before or after
# all test points, N test points with ids 1..N, YAML blocks indented by two
# spaces between "  ---" and "  ...", no unescaped "#" in a description.
# Node's tap-parser (Debian: node-tap-parser) reads version 14 itself.
test_grade__tap_follows_version_14() {
    need_untouched
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
    local nodepath=/usr/share/nodejs
    if ! command -v tap-parser >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
        echo "  (no tap-parser here: the TAP 14 grammar was checked above; Debian: node-tap-parser)"
        return
    fi
    NODE_PATH=${nodepath} tap-parser --strict -j 0 <"${tap}" >"${SHUNIT_TMPDIR}/tp.json" 2>&1
    local rc=$?
    assertEquals "tap-parser: a failed test makes the stream fail: $(head -c 400 "${SHUNIT_TMPDIR}/tp.json")" 1 "${rc}"
    if command -v python3 >/dev/null 2>&1; then
        assertEquals "tap-parser's reading: version, plan, failures and their message" \
            "14 3 1 ${FAILING} ${MESSAGE}" "$(python3 -c '
import json, sys
ev = json.load(open(sys.argv[1]))
version = [e[1] for e in ev if e[0] == "version"][0]
done = [e[1] for e in ev if e[0] == "complete"][0]
f = done["failures"]
print(version, done["count"], done["fail"], f[0]["name"].split(": ")[1], f[0]["diag"]["message"])
' "${SHUNIT_TMPDIR}/tp.json")"
    fi
}

test_grade__junit_is_well_formed_and_shows_the_failure() {
    need_untouched
    local x=${R}/junit.xml got
    if command -v xmllint >/dev/null 2>&1; then
        assertTrue "xmllint: junit.xml is well-formed: $(xmllint --noout "${x}" 2>&1)" "xmllint --noout '${x}'"
        got=$(xmllint --xpath "concat(count(//testcase), ' ', count(//testcase[failure]), ' ', //testcase[@name='${FAILING}']/failure/@message)" "${x}")
    elif command -v python3 >/dev/null 2>&1; then
        got=$(python3 -c '
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = root.findall(".//testcase")
failed = [c for c in cases if c.find("failure") is not None]
msg = [c.find("failure").get("message") for c in failed if c.get("name") == sys.argv[2]]
print(len(cases), len(failed), msg[0] if msg else "")
' "${x}" "${FAILING}")
        assertEquals "python3's XML parser reads junit.xml: $(head -c 300 "${x}")" 0 $?
    else
        skip_test "neither xmllint (Debian: libxml2-utils) nor python3 to read the XML"
        return
    fi
    assertEquals "junit.xml: testcases, failed ones, and the failure's message" "3 1 ${MESSAGE}" "${got}"
}

test_grade__json_is_gradescope_results() {
    need_untouched
    local j=${R}/results.json got
    if command -v python3 >/dev/null 2>&1; then
        assertTrue "python3 -m json.tool reads results.json: $(head -c 300 "${j}")" \
            "python3 -m json.tool '${j}' >/dev/null"
        got=$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
t = [x for x in r["tests"] if x["name"].endswith(": " + sys.argv[2])][0]
print("%g %d %g %g %s %s" % (r["score"], len(r["tests"]), t["score"], t["max_score"], t["status"], sys.argv[3] in t["output"]))
' "${j}" "${FAILING}" "${MESSAGE}")
    elif command -v jq >/dev/null 2>&1; then
        got=$(jq -r --arg t "${FAILING}" --arg m "${MESSAGE}" '
            (.tests[] | select(.name | endswith(": " + $t))) as $f
            | "\(.score) \(.tests | length) \($f.score) \($f.max_score) \($f.status) \(if ($f.output | contains($m)) then "True" else "False" end)"' "${j}")
    else
        skip_test "neither python3 nor jq to read the JSON"
        return
    fi
    assertEquals "results.json: score, tests, and the failed test's score, max_score, status, message" \
        "0 3 0 10 failed True" "${got}"
}

. "${SHUNIT2}"
