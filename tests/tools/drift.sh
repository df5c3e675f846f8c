#!/usr/bin/env bash
# drift.sh - do the translations of a README still match the English one?
#
# usage: bash tests/tools/drift.sh [README.md ...]
#        (no arguments: the top-level README.md and every lesson's)
#
# English is the original.  Beside each README.md stand README.ja.md and
# README.zh-CN.md.  Prose may say things its own way, but what a learner
# types, runs or follows must be the same in every language, so for each
# translation this compares with the English file:
#   - the fenced code blocks (commands, expected output, code), in order,
#     to the letter;
#   - the headings: how many, at which level, in which order, and the
#     program names (`### shared_value.c`) that hints hang from;
#   - in each section (the text under one heading): the link targets, the
#     man page names (`mmap(2)`), the `make ...` commands in inline code,
#     and the number of folded hints (<details>), in any order within it;
#   - the language links: every file links to its two other languages (a
#     translation may also link its glossary, lessons/GLOSSARY.LANG.md).
# A missing translation is an error too.  Every difference is printed as
#     FILE: WHAT differs in section N (heading, line L of README.md): ...
# Exit status 0 when nothing differs, 1 otherwise, 2 for a usage error.

set -u
LANGS=(ja zh-CN)

# features FILE: one line per thing that must match, as
#     SECTION<TAB>KIND<TAB>VALUE<TAB>LINE
# SECTION counts headings from 0 (the text before the first heading).
features() {
    awk '
    function emit(kind, value) { printf "%d\t%s\t%s\t%d\n", sec, kind, value, NR }
    BEGIN { sec = 0; fence = "" }
    # A fenced code block, kept whole (with its info string) as one value.
    fence == "" && /^[ \t]*(```|~~~)/ {
        match($0, /(```|~~~)/); fence = substr($0, RSTART, 3)
        block = $0; start = NR; next
    }
    fence != "" {
        block = block "\\n" $0
        if ($0 ~ "^[ \t]*" fence "[ \t]*$") {
            gsub(/\t/, "\\t", block)
            printf "%d\t%s\t%s\t%d\n", sec, "code block", block, start
            fence = ""
        }
        next
    }
    /^#+ / {
        sec++
        match($0, /^#+/); level = RLENGTH
        progs = ""
        line = $0
        while (match(line, /[A-Za-z0-9_]+\.c/)) {
            progs = progs " " substr(line, RSTART, RLENGTH)
            line = substr(line, RSTART + RLENGTH)
        }
        emit("heading", "level " level progs)
        next
    }
    {
        line = $0
        # Links: [text](target); a language link is checked on its own.
        while (match(line, /\]\([^)]+\)/)) {
            target = substr(line, RSTART + 2, RLENGTH - 3)
            line = substr(line, RSTART + RLENGTH)
            sub(/[ \t].*/, "", target)
            # A translation may also link the glossary of its language.
            if (target ~ /^(\.\/)?README(\.[A-Za-z-]+)?\.md$/ || target ~ /GLOSSARY\.[A-Za-z-]+\.md$/)
                emit("language link", target)
            else {
                gsub(/README\.(ja|zh-CN)\.md/, "README.md", target)
                emit("link", target)
            }
        }
        line = $0
        while (match(line, /[A-Za-z_][A-Za-z0-9_.]*\([1-8][a-z]*\)/)) {
            emit("man page", substr(line, RSTART, RLENGTH))
            line = substr(line, RSTART + RLENGTH)
        }
        line = $0
        while (match(line, /`make [^`]*`/)) {
            emit("command", substr(line, RSTART, RLENGTH))
            line = substr(line, RSTART + RLENGTH)
        }
        n = gsub(/<details>/, "&")
        for (i = 0; i < n; i++) emit("hint", "<details>")
    }
    ' "$1"
}

# compare ENGLISH TRANSLATION: print every difference; status 1 if any.
compare() {
    local en=$1 tr=$2
    awk -F '\t' -v en="${en}" -v tr="${tr}" '
    FNR == 1 { file++ }
    file == 1 {
        if ($2 == "heading") { head[$1] = $4 }
        if ($2 == "language link") next
        if ($2 == "code block" || $2 == "heading") { eo[++ne] = $0; nth[ne] = ++kinds[$2]; next }
        bag[$1 SUBSEP $2 SUBSEP $3]++; keys[$1 SUBSEP $2 SUBSEP $3] = 1
        next
    }
    {
        if ($2 == "language link") next
        if ($2 == "code block" || $2 == "heading") { to[++nt] = $0; next }
        bag[$1 SUBSEP $2 SUBSEP $3]--; keys[$1 SUBSEP $2 SUBSEP $3] = 1
    }
    function where(sec) {
        return sec == 0 ? "before the first heading" : \
            "section " sec " (the heading at line " head[sec] " of " en ")"
    }
    function show(v) { gsub(/\\n/, " | ", v); return length(v) > 70 ? substr(v, 1, 70) "..." : v }
    END {
        bad = 0
        n = ne > nt ? ne : nt
        for (i = 1; i <= n && bad < 5; i++) {
            split(eo[i], a, "\t"); split(to[i], b, "\t")
            if (a[2] == b[2] && a[3] == b[3]) continue
            if (i > ne) {
                printf "%s: an extra %s at line %d, not in %s: %s\n", tr, b[2], b[4], en, show(b[3])
            } else if (i > nt) {
                printf "%s: the %s at line %d of %s is missing: %s\n", tr, a[2], a[4], en, show(a[3])
            } else {
                # Show the first line where the two differ, not only the start.
                ne2 = split(a[3], al, /\\n/); nt2 = split(b[3], bl, /\\n/)
                for (k = 1; k <= ne2 && k <= nt2 && al[k] == bl[k]; k++) ;
                printf "%s: %s %d (line %d) differs from %s line %d, in %s; its line %d:\n  English:     %s\n  translation: %s\n", \
                    tr, a[2], nth[i], b[4], en, a[4], where(a[1]), k, show(al[k]), show(bl[k])
            }
            bad++
            # A block or heading missing or added shifts everything after
            # it: stop there.  A changed one does not: go on (up to five).
            if (i > ne || i > nt || a[2] != b[2]) break
        }
        for (k in keys) {
            if (bag[k] == 0) continue
            split(k, p, SUBSEP)
            if (bag[k] > 0)
                printf "%s: %s %s is in %s but not in the translation, in %s\n", tr, p[2], p[3], en, where(p[1])
            else
                printf "%s: %s %s is in the translation but not in %s, in %s\n", tr, p[2], p[3], en, where(p[1])
            bad++
        }
        exit bad > 0
    }
    ' <(features "${en}") <(features "${tr}")
}

# language_links FILE NAME...: FILE links to each NAME (a sibling README).
language_links() {
    local file=$1 name rc=0
    shift
    for name in "$@"; do
        if ! grep -Eq "\]\((\./)?${name//./\\.}\)" "${file}"; then
            echo "${file}: no link to ${name} (every language links to the others)"
            rc=1
        fi
    done
    return "${rc}"
}

check_one() {
    local en=$1 dir rc=0 lang tr others names=()
    dir=$(dirname "${en}")
    for lang in "${LANGS[@]}"; do names+=("README.${lang}.md"); done
    language_links "${en}" "${names[@]}" || rc=1
    for lang in "${LANGS[@]}"; do
        tr=${dir}/README.${lang}.md
        if [ ! -f "${tr}" ]; then
            echo "${tr}: missing: every README.md has a Japanese and a Chinese translation beside it"
            rc=1
            continue
        fi
        others=(README.md)
        local l
        for l in "${LANGS[@]}"; do [ "${l}" = "${lang}" ] || others+=("README.${l}.md"); done
        language_links "${tr}" "${others[@]}" || rc=1
        compare "${en}" "${tr}" || rc=1
    done
    return "${rc}"
}

cd "$(dirname "$0")/../.." || exit 2
if [ "$#" -eq 0 ]; then
    set -- README.md lessons/[0-9][0-9]_*/README.md
fi
status=0
for f in "$@"; do
    if [ ! -f "${f}" ]; then
        echo "usage: bash tests/tools/drift.sh [README.md ...] (no file ${f})" >&2
        exit 2
    fi
    check_one "${f}" || status=1
done
exit "${status}"
