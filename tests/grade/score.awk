# score.awk - points for each test, from the weights file and the outcomes.
#
# usage: awk -f tests/grade/score.awk -v weights=FILE [-v untouched=FILE] RESULTS
#
# RESULTS and UNTOUCHED are collect.awk's lines (LESSON TEST STATUS MESSAGE,
# tab-separated): the submission's, and the untouched exercises' (an empty
# file, or none, when there is nothing to compare with).  Writes, tab-separated:
#
#     LESSON TEST STATUS KIND POINTS MAX MESSAGE
#
# KIND is "scored" (the test carries points), "free" (the untouched
# exercise passes it too: it shows no work and carries none) or "skip" (it
# did not run here: it carries none).  A lesson's points (tests/grade/weights)
# are shared among its scored tests by their shares; POINTS is MAX for a
# passed test and 0 otherwise.

BEGIN {
    FS = "\t"
    dflt = 10
    while ((r = getline raw < weights) > 0)
        read_weight(raw, ++wl)
    if (r < 0) {
        printf "score.awk: cannot read the weights file %s\n", weights > "/dev/stderr"
        bad = 1
        exit 2
    }
    if (untouched != "") {
        while ((getline raw < untouched) > 0) {
            split(raw, u, "\t")
            if (u[3] == "ok")
                untouched_ok[u[1] SUBSEP u[2]] = 1
        }
    }
}

function read_weight(line, lineno,  k, f) {
    sub(/#.*/, "", line)
    gsub(/^[ \t]+|[ \t]+$/, "", line)
    if (line == "")
        return
    k = split(line, f, /[ \t]+/)
    if (k != 2 || f[2] !~ /^[0-9]+(\.[0-9]+)?$/) {
        printf "score.awk: %s:%d: expected \"LESSON POINTS\" or \"LESSON/TEST SHARE\": %s\n",
            weights, lineno, line > "/dev/stderr"
        bad = 1
        return
    }
    if (f[1] == "default") dflt = f[2] + 0
    else if (index(f[1], "/")) share[f[1]] = f[2] + 0
    else points[f[1]] = f[2] + 0
}

{
    n++
    L[n] = $1; T[n] = $2; S[n] = $3; M[n] = $4
    if ($3 == "skip") K[n] = "skip"
    else if (($1 SUBSEP $2) in untouched_ok) K[n] = "free"
    else K[n] = "scored"
    if (K[n] == "scored") total_share[$1] += share_of($1, $2)
}

function lesson_points(l,  nn) {
    nn = substr(l, 1, 2)
    if (l in points) return points[l]
    if (nn in points) return points[nn]
    return dflt
}

function share_of(l, t,  nn) {
    nn = substr(l, 1, 2)
    if ((l "/" t) in share) return share[l "/" t]
    if ((nn "/" t) in share) return share[nn "/" t]
    return 1
}

END {
    if (bad)
        exit 2
    for (i = 1; i <= n; i++) {
        max = 0
        if (K[i] == "scored" && total_share[L[i]] > 0)
            max = lesson_points(L[i]) * share_of(L[i], T[i]) / total_share[L[i]]
        pts = (S[i] == "ok") ? max : 0
        printf "%s\t%s\t%s\t%s\t%.4f\t%.4f\t%s\n", L[i], T[i], S[i], K[i], pts, max, M[i]
    }
}
