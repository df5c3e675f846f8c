# report.awk - write the grade in one format, from score.awk's lines
# (LESSON TEST STATUS KIND POINTS MAX MESSAGE, tab-separated).
#
# usage: LC_ALL=C awk -f tests/grade/report.awk -v format=FORMAT [-v name=NAME] SCORED
#
#   table   the score table `make grade` prints: points per test, per lesson
#           and in total, with the first line of each failure message
#   junit   JUnit XML: a testsuite per lesson, a testcase per test, a
#           <failure message="..."> for each failed test
#   tap     TAP version 14: a test point per test, the message and the
#           points in its YAML block, "# SKIP reason" for a skipped test
#   json    Gradescope's results.json: {score, tests: [{name, score,
#           max_score, status, output}]}
#   totals  LESSON<TAB>POINTS<TAB>MAX per lesson, then "total" (for the CSV)
#
# Messages come from test logs and may hold a program's output: bytes that
# no format can carry (control characters) are dropped here; grade.sh has
# already dropped byte sequences that are not UTF-8.

BEGIN { FS = "\t" }

{
    n++
    L[n] = $1; T[n] = $2; S[n] = $3; K[n] = $4; P[n] = $5 + 0; X[n] = $6 + 0
    M[n] = clean($7)
    if (!($1 in lmax)) { lessons[++nl] = $1; lmax[$1] = 0; lpts[$1] = 0 }
    lmax[$1] += X[n]; lpts[$1] += P[n]; total += P[n]; total_max += X[n]
    ltests[$1]++
    if (S[n] == "fail") { lfail[$1]++; fails++ }
    if (S[n] == "skip") { lskip[$1]++; skips++ }
}

function clean(s) {
    gsub(/[\001-\010\013\014\016-\037\177]/, "", s)
    return s
}

function pts(x) { return sprintf("%.2f", x + 0) }

# ------------------------------------------------------------------ table
function table(  i, l, mark, what) {
    for (i = 1; i <= n; i++) {
        l = L[i]
        if (i == 1 || L[i - 1] != l)
            printf "%-58s %7s / %s\n", l, pts(lpts[l]), pts(lmax[l])
        mark = (S[i] == "ok") ? "ok" : (S[i] == "skip") ? "skip" : "FAIL"
        if (K[i] == "scored")
            printf "  %-4s %7s / %-6s %s\n", mark, pts(P[i]), pts(X[i]), T[i]
        else
            printf "  %-4s %7s   %-6s %s (%s)\n", mark, "-", "", T[i],
                K[i] == "free" ? "the untouched exercise passes it too: no points" : "not run here: no points"
        if (S[i] != "ok" && M[i] != "")
            printf "                        %s\n", M[i]
    }
    printf "%-58s %7s / %s\n", "Total", pts(total), pts(total_max)
}

# ------------------------------------------------------------------ JUnit
function xml(s) {
    gsub(/&/, "\\&amp;", s); gsub(/</, "\\&lt;", s); gsub(/>/, "\\&gt;", s)
    gsub(/"/, "\\&quot;", s); gsub(/'/, "\\&apos;", s)
    return s
}

function junit(  i, l) {
    print "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    printf "<testsuites name=\"%s\" tests=\"%d\" failures=\"%d\" errors=\"0\" skipped=\"%d\">\n",
        xml(name), n, fails, skips
    for (i = 1; i <= n; i++) {
        l = L[i]
        if (i == 1 || L[i - 1] != l)
            printf "  <testsuite name=\"%s\" tests=\"%d\" failures=\"%d\" errors=\"0\" skipped=\"%d\">\n",
                xml(l), ltests[l], lfail[l], lskip[l]
        printf "    <testcase classname=\"%s\" name=\"%s\" time=\"0\">\n", xml(l), xml(T[i])
        if (S[i] == "fail")
            printf "      <failure message=\"%s\" type=\"failure\">%s</failure>\n", xml(M[i]), xml(M[i])
        else if (S[i] == "skip")
            printf "      <skipped message=\"%s\"/>\n", xml(M[i])
        printf "      <system-out>%s</system-out>\n", xml(points_line(i))
        print "    </testcase>"
        if (i == n || L[i + 1] != l)
            print "  </testsuite>"
    }
    print "</testsuites>"
}

function points_line(i) {
    if (K[i] == "free")
        return "no points: the untouched exercise passes this test too"
    if (K[i] == "skip")
        return "no points: the test did not run here"
    return "points " pts(P[i]) " of " pts(X[i])
}

# ------------------------------------------------------------------ TAP 14
# A description may not hold an unescaped "#" (it would start a directive)
# and "\" escapes; test names never hold either, but be safe.
function tapdesc(s) { gsub(/\\/, "\\\\", s); gsub(/#/, "\\#", s); return s }
# A YAML double-quoted scalar.
function yq(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }

function tap(  i, line) {
    print "TAP version 14"
    if (n == 0) { print "1..0 # no tests"; return }
    print "1.." n
    for (i = 1; i <= n; i++) {
        line = (S[i] == "fail" ? "not ok " : "ok ") i " - " tapdesc(L[i] ": " T[i])
        if (S[i] == "skip") {
            line = line " # SKIP"
            if (M[i] != "") line = line " " M[i]
        }
        print line
        print "  ---"
        if (S[i] == "fail") print "  message: " yq(M[i])
        print "  points: " pts(P[i])
        print "  max: " pts(X[i])
        if (K[i] == "free") print "  note: " yq("the untouched exercise passes this test too: no points")
        print "  ..."
    }
}

# ------------------------------------------------------------------ JSON
function js(s) {
    gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); gsub(/\t/, "\\t", s)
    return "\"" s "\""
}

function json(  i, out) {
    print "{"
    printf "  \"score\": %s,\n", pts(total)
    printf "  \"output\": %s,\n", js(sprintf("%s of %s points", pts(total), pts(total_max)))
    print "  \"tests\": ["
    for (i = 1; i <= n; i++) {
        out = (S[i] == "ok") ? "passed" : (S[i] == "skip") ? "skipped: " M[i] : "FAILED: " M[i]
        out = out " (" points_line(i) ")"
        printf "    {\"name\": %s, \"number\": \"%d\", \"score\": %s, \"max_score\": %s, \"status\": \"%s\", \"output\": %s}%s\n",
            js(L[i] ": " T[i]), i, pts(P[i]), pts(X[i]),
            S[i] == "fail" ? "failed" : "passed", js(out), i < n ? "," : ""
    }
    print "  ]"
    print "}"
}

# ------------------------------------------------------------------ totals
function totals(  j, l) {
    for (j = 1; j <= nl; j++) {
        l = lessons[j]
        printf "%s\t%s\t%s\n", l, pts(lpts[l]), pts(lmax[l])
    }
    printf "total\t%s\t%s\n", pts(total), pts(total_max)
}

END {
    if (format == "table") table()
    else if (format == "junit") junit()
    else if (format == "tap") tap()
    else if (format == "json") json()
    else if (format == "totals") totals()
    else { print "report.awk: unknown format " format > "/dev/stderr"; exit 2 }
}
