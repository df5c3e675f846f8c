#!/usr/bin/env bash
# The translations (README.ja.md, README.zh-CN.md beside every README.md)
# stay in step with the English: tests/tools/drift.sh finds no difference
# in the real tree, and it does find a planted one, naming the file and the
# block.  Every README, in every language, links only to files that exist,
# and names only make targets and programs that exist.  `make test` runs it.
LESSON=harness
. "$(dirname "$0")/../lib.sh"

DRIFT=${TESTS_DIR}/tools/drift.sh

# All the READMEs, English and translated.
readmes() {
    (cd "${ROOT}" && ls README*.md lessons/[0-9][0-9]_*/README*.md)
}

test_translations__match_the_english_readmes() {
    local out
    if ! out=$(bash "${DRIFT}" 2>&1); then
        fail "a translation has drifted from its English README (or is missing); carry the change over:
${out}"
    fi
}

# A copy of lesson 01's three READMEs, with one change planted in the
# English only: each kind of change is found, and the message names the
# translation and what differs.
plant() {
    P=${SHUNIT_TMPDIR}/plant
    rm -rf "${P}" && mkdir -p "${P}"
    cp "${ROOT}"/lessons/01_separate_memory/README*.md "${P}/"
}

assert_drift_found() {
    local what=$1 pattern=$2 out
    if out=$(bash "${DRIFT}" "${P}/README.md" 2>&1); then
        fail "drift.sh did not notice ${what}"
        return 1
    fi
    echo "${out}" | grep -Eq -- "${pattern}" ||
        fail "drift.sh noticed ${what}, but its message does not name it (/${pattern}/): ${out}"
}

test_translations__a_changed_code_block_is_found() {
    plant
    # The first line inside the first fenced block gets a word more.
    awk '/^```/ && !seen { print; getline; print $0 " (changed)"; seen = 1; next } { print }' \
        "${P}/README.md" >"${P}/new" && mv "${P}/new" "${P}/README.md"
    assert_drift_found "a changed code block" 'README\.ja\.md: code block 1 .*differs'
}

test_translations__a_new_section_is_found() {
    plant
    printf '\n## A new section\n\nSee `make list`.\n' >>"${P}/README.md"
    assert_drift_found "a section added to the English" 'README\.(ja|zh-CN)\.md: the heading at line [0-9]+ of .* is missing'
}

test_translations__a_changed_man_page_or_command_is_found() {
    plant
    sed -i '0,/waitpid(2)/s//waitid(2)/' "${P}/README.md"
    assert_drift_found "a man page changed in the English" 'man page waitid\(2\) is in .* but not in the translation'
}

test_translations__a_missing_translation_is_found() {
    plant
    rm "${P}/README.zh-CN.md"
    assert_drift_found "a missing translation" 'README\.zh-CN\.md: missing'
}

# Relative links, in every language, point at files that exist.
test_translations__links_point_at_files_that_exist() {
    local f target dir bad=""
    while read -r f; do
        dir=$(dirname "${ROOT}/${f}")
        while read -r target; do
            target=${target%%#*}
            [ -n "${target}" ] || continue
            [ -e "${dir}/${target}" ] || bad="${bad}
  ${f}: a link to ${target}, which does not exist"
        done < <(grep -o '\]([^)]*)' "${ROOT}/${f}" | sed 's/^](//; s/)$//; s/[[:space:]].*//' |
            grep -v -e '^[a-z]*:' -e '^#')
    done < <(readmes)
    [ -z "${bad}" ] || fail "broken links:${bad}"
}

# The make targets the READMEs name (`make check LESSON=02`) are the
# Makefile's, and the exercise files they name (lessons/NN_name/PROG.c)
# exist, so every command in them runs as written.
test_translations__commands_and_programs_they_name_exist() {
    local targets f t bad=""
    targets=" $(sed -n 's/^\([a-z][a-z-]*\)\( [a-z -]*\)\{0,1\}:.*/\1\2/p' "${ROOT}/Makefile" | tr '\n' ' ') "
    while read -r f; do
        while read -r t; do
            case ${targets} in *" ${t} "*) ;; *) bad="${bad}
  ${f}: \`make ${t}\`: the Makefile has no target ${t}" ;; esac
        done < <(grep -o '`make [a-z][a-z-]*' "${ROOT}/${f}" | sed 's/^`make //' | sort -u)
        while read -r t; do
            [ -e "${ROOT}/${t}" ] || bad="${bad}
  ${f}: names ${t}, which does not exist"
        done < <(grep -oE '(lessons|solutions)/[0-9]{2}_[a-z_]+/[a-z_]+\.c' "${ROOT}/${f}" | sort -u)
    done < <(readmes)
    [ -z "${bad}" ] || fail "commands or files that do not exist:${bad}"
}

. "${SHUNIT2}"
