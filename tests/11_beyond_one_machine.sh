#!/usr/bin/env bash
# Lesson 11: beyond one machine - Python's authkey handshake in C, the
# manager on TCP, another network stack, and seed 000 on Redis.
#
# Programs, in the order a learner gets them right:
#   auth_client   the learner's answer_challenge() and send_frame()
#   tcp_queue     lesson 07's program on the TCP manager (given), and the
#                 handshake code in common/ it uses
#   redis_queue   the learner's resp_encode() and resp_read_reply()
#
# Python: python3 and the newest Python 3.12+ found under ~/.pyenv
# (or on the PATH), and every interpreter in PYTHONS ("a b c"), each run
# once per side.  Redis: redis-server on the PATH.  Namespaces: root and
# ip(8).  Without them those tests are skipped, saying why.
LESSON=11_beyond_one_machine
. "$(dirname "$0")/lib.sh"

KEY='lesson-11 secret'

# ------------------------------------------------------------ helpers

# The Pythons to try, one path a line: python3, the newest 3.12+ that can
# be found, and PYTHONS.  No interpreter is started to find them.  A pyenv
# shim (a shell script that looks up the version, ~0.1 s a run) is
# replaced by the interpreter it would run, found the way pyenv finds it
# by default: PYENV_VERSION, else the global version file.
pythons() {
    {
        local p3 root=${PYENV_ROOT:-${HOME}/.pyenv} v
        p3=$(command -v python3)
        case ${p3} in
            */shims/python3)
                v=${PYENV_VERSION:-$(head -n 1 "${root}/version" 2>/dev/null)}
                [ -x "${root}/versions/${v}/bin/python3" ] && p3=${root}/versions/${v}/bin/python3 ;;
        esac
        echo "${p3}"
        local newest="" p
        # (shims on the PATH name versions that may not run: the
        # interpreters themselves are taken instead.)
        for p in "$(command -v python3.12)" "$(command -v python3.13)" \
            "${root}"/versions/3.1[2-9]*/bin/python3; do
            case ${p} in */shims/*) continue ;; esac
            [ -x "${p}" ] && newest=${p}
        done
        [ -n "${newest}" ] && echo "${newest}"
        for p in ${PYTHONS:-}; do command -v "${p}" || echo "${p}"; done
    } 2>/dev/null | awk 'NF && !seen[$0]++'
}

# run_pythons MODE PROGRAM: py_interop.py MODE PROGRAM with every Python
# of pythons() at once, under one supervise (a run's time is then its
# slowest Python's, not their sum).  Each one's stdout, stderr and exit
# status go to ${SHUNIT_TMPDIR}/py.K.{out,err,status}, K counting from 0
# in the order of PY_LIST (the interpreters); the test asserts on each.
run_pythons() {
    local mode=$1 prog=$2 py
    PY_LIST=()
    while read -r py; do PY_LIST+=("${py}"); done < <(pythons)
    [ "${#PY_LIST[@]}" -gt 0 ] || return 0
    rm -f "${SHUNIT_TMPDIR}"/py.*
    run_cmd bash -c '
        script=$1 mode=$2 prog=$3 dir=$4
        shift 4
        k=0 pids=()
        for py; do
            "${py}" "${script}" "${mode}" "${prog}" >"${dir}/py.${k}.out" 2>"${dir}/py.${k}.err" &
            pids+=($!) k=$((k + 1))
        done
        k=0
        for pid in "${pids[@]}"; do
            wait "${pid}"
            echo $? >"${dir}/py.${k}.status"
            k=$((k + 1))
        done' py_interop "${TESTS_DIR}/tools/py_interop.py" "${mode}" "${prog}" \
        "${SHUNIT_TMPDIR}" "${PY_LIST[@]}"
}

# examine PROTO PROG-ARGS...: run auth_client (with AUTHKEY from the
# caller's environment) against mp_examiner, a listener that sends a
# PROTO challenge with ${KEY} and names the mistakes it sees.
examine() {
    local proto=$1
    shift
    TIMEOUT_CAUSE="auth_client or the examiner waited for the other: does answer_challenge read exactly one frame and send exactly one?"
    run_cmd "${TOOLS_DIR}/mp_examiner" "${proto}" "${KEY}" "${BIN_DIR}/auth_client" ADDR "$@"
}

# The examiner's first MISTAKE line, if any, as the failure message.
assert_no_mistake() {
    local mistake
    mistake=$(sed -n 's/^examiner: MISTAKE: //p' "${OUT}" | head -1)
    if [ -n "${mistake}" ]; then
        echo "  what the examiner saw:"
        sed 's/^/  | /' "${OUT}"
        show_stderr
        fail "auth_client: ${mistake}"
        return 1
    fi
}

REDIS_SERVER=${REDIS_SERVER-$(command -v redis-server)} # REDIS_SERVER= : as if not installed
REDIS_PID=""

# start_redis: a private redis-server on a Unix socket in a fresh folder,
# nothing saved (--save '', --appendonly no), no TCP port (--port 0).
# Sets REDIS_DIR, REDIS_SOCK, REDIS_PID; stop_redis undoes all of it.
start_redis() {
    REDIS_DIR=$(mktemp -d "${SHUNIT_TMPDIR}/redis.XXXXXX")
    REDIS_SOCK=${REDIS_DIR}/redis.sock
    "${REDIS_SERVER}" --port 0 --unixsocket "${REDIS_SOCK}" --unixsocketperm 700 \
        --save '' --appendonly no --dir "${REDIS_DIR}" --logfile '' --daemonize no \
        >"${REDIS_DIR}/log" 2>&1 &
    REDIS_PID=$!
    local waited=0
    while [ ! -S "${REDIS_SOCK}" ] && [ "${waited}" -lt 300 ] && kill -0 "${REDIS_PID}" 2>/dev/null; do
        sleep 0.01
        waited=$((waited + 1))
    done
    if [ ! -S "${REDIS_SOCK}" ]; then
        sed 's/^/  | /' "${REDIS_DIR}/log"
        fail "redis-server did not start (its log is above)"
        stop_redis
        return 1
    fi
}

stop_redis() {
    [ -n "${REDIS_PID}" ] || return 0
    kill "${REDIS_PID}" 2>/dev/null
    wait "${REDIS_PID}" 2>/dev/null
    REDIS_PID=""
    rm -rf "${REDIS_DIR}"
}

need_redis() {
    if [ -z "${REDIS_SERVER}" ]; then
        skip_test "redis-server is not installed (Debian package redis-server; make test installs it when run as root)"
        return 1
    fi
}

# The keys in the private server (redis-cli comes with redis-server).
redis_keys() {
    redis-cli -s "${REDIS_SOCK}" --raw keys '*' 2>/dev/null | sed '/^$/d'
}

tearDown() {
    stop_redis
    remove_namespaces
}

# ------------------------------------------------------------ auth_client

# The library's own client half (common/mp_auth_answer.c: a frame sender,
# the answer, the whole handshake) is not the learner's to call: what the
# built program links is read from its symbol table (nm), so a wrapper
# around mp_make_answer() or mp_send_bytes() is refused, whatever its
# source looks like.  (The manager and the TCP proxies link them too.)
test_auth_client__writes_its_own_frames_and_answer() {
    local prog=${BIN_DIR}/auth_client syms sym found="" called
    local lib='mp_send_bytes|mp_make_answer|mp_answer_challenge|mp_client_handshake|mp_server_handshake|mp_server_auth_begin|mp_server_auth_next'
    if ! command -v nm >/dev/null 2>&1; then
        skip_test "nm (Debian package binutils) is not installed: what auth_client links is not checked"
        return 0
    fi
    if ! syms=$(nm -P --defined-only "${prog}" 2>&1); then
        fail "nm ${prog}: ${syms}: is it built? (make)"
        return 1
    fi
    found=$(printf '%s\n' "${syms}" | grep -Eo "^(${lib}) " | tr -d ' ' | sort -u | paste -sd, -)
    [ -z "${found}" ] && return 0
    # Linking one of them brings in the whole file; which one the
    # program's own code calls is in its machine code (objdump), if
    # objdump is here: a call or a jump to it from outside the file.
    called=$(objdump -d --no-show-raw-insn "${prog}" 2>/dev/null | awk -v lib="^(${lib})$" '
        /^[0-9a-f]+ <[^>]+>:$/ { f = $2; gsub(/[<>:]/, "", f); next }
        f !~ lib && match($0, /(call|jmp)[a-z]* +[0-9a-f]+ <[A-Za-z_0-9]+>/) {
            t = substr($0, RSTART, RLENGTH); sub(/.*</, "", t); sub(/>/, "", t)
            if (t ~ lib && !seen[t]++) print t
        }' | head -n 1)
    case ${called} in
        mp_send_bytes)
            fail "auth_client calls mp_send_bytes() (common/mp_auth_answer.c), the library's frame sender: send_frame() is yours to write - the length as 4 bytes, most significant first, then the bytes, with mgr_write_all()" ;;
        ?*)
            fail "auth_client calls ${called}() (common/mp_auth_answer.c), the library's own answer: answer_challenge() is yours to write - the HMAC with hmac_sha256() or hmac_md5() (digest.h), sent with your send_frame()" ;;
        *)
            fail "auth_client links the library's client half, common/mp_auth_answer.c (${found//,/, }): send_frame() and answer_challenge() are yours to write - the length first, 4 bytes big-endian, with mgr_write_all(); the HMAC with hmac_sha256() or hmac_md5() (digest.h)" ;;
    esac
    return 1
}

# Against a Python 3.12-style challenge ("{sha256}" + 40 bytes), the
# answer must be Python's byte for byte, its length big-endian; then the
# client's messages are framed the same way.  The examiner names a length
# in the wrong byte order, a digest without its prefix, an HMAC over the
# wrong bytes.
test_auth_client__answers_a_sha256_challenge() {
    AUTHKEY=${KEY} examine sha256 hello world || return
    assert_no_mistake || return
    assert_exit 0 || return
    assert_output 11_auth_sha256.out
}

# Against a Python 3.11-style challenge (20 bytes): the raw HMAC-MD5.
test_auth_client__answers_a_legacy_md5_challenge() {
    AUTHKEY=${KEY} examine legacy hello || return
    assert_no_mistake || return
    assert_exit 0 || return
    assert_output 11_auth_legacy.out
}

# A wrong key: the server says #FAILURE#, and the client stops with
# Python's own message, having sent nothing else.
test_auth_client__a_wrong_key_is_refused() {
    AUTHKEY='not the secret' examine sha256 hello || return
    assert_exit 1 || return
    if ! grep -q 'AuthenticationError: digest sent was rejected' "${ERR}"; then
        show_stderr
        fail "auth_client with a wrong key: the #FAILURE# verdict was not taken as a refusal: answer_challenge must fail with 'AuthenticationError: digest sent was rejected' when the verdict is not #WELCOME# (it said: $(head -n 1 "${ERR}" | sed 's/\\/<BS>/g'))"
        return 1
    fi
    assertEquals "auth_client: nothing on stdout after a refusal" "" "$(grep -v '^examiner: ' "${OUT}")" || return
    assert_line_matches '^examiner: the program exited with status 1$'
}

# Python's own Listener, every Python found: the right key is accepted and
# the message echoed; a wrong key fails on both sides with their usual
# errors (AuthenticationError in Python).
test_auth_client__talks_to_pythons_listener() {
    local py found_new="" count=0 version k
    TIMEOUT_CAUSE="Python's Listener and auth_client waited for each other"
    run_pythons listener "${BIN_DIR}/auth_client" || return
    for k in "${!PY_LIST[@]}"; do
        py=${PY_LIST[k]}
        local OUT=${SHUNIT_TMPDIR}/py.${k}.out ERR=${SHUNIT_TMPDIR}/py.${k}.err
        local STATUS LAST_CMD="${py##*/} py_interop.py listener auth_client"
        STATUS=$(cat "${SHUNIT_TMPDIR}/py.${k}.status")
        version=$(sed -n 's/^Python //p' "${ERR}")
        echo "  (with Python ${version}: ${py})"
        assert_exit 0 || return
        assert_output 11_interop_listener.out || return
        case ${version} in 3.1[2-9].* | 3.[2-9][0-9].*) found_new=yes ;; esac
        count=$((count + 1))
    done
    if [ "${count}" -eq 0 ]; then
        skip_test "no python3 here: the handshake is checked against the recordings only (tcp_queue tests)"
    elif [ -z "${found_new}" ]; then
        skip_test "no Python 3.12 or newer found (PYTHONS=\"...\" names more): its {sha256} protocol is checked against the recordings only"
    fi
}

test_auth_client__bad_arguments_get_usage() {
    AUTHKEY=k assert_usage_error auth_client localhost:5000 || return
    AUTHKEY= assert_usage_error auth_client 127.0.0.1:5000
}

# ------------------------------------------------------------ tcp_queue

# SHA-256, MD5 and both HMACs (common/digest.c) against the published
# vectors: FIPS 180-4, RFC 1321, RFC 2202, RFC 4231.
test_tcp_queue__digests_match_the_published_vectors() {
    run_cmd "${TOOLS_DIR}/digest_vectors" || return
    assert_exit 0 || return
    assert_output 11_digest_vectors.out
}

# The handshakes recorded from real Python 3.11 (HMAC-MD5) and 3.12
# ({sha256}), replayed: the C server and the C client send the recorded
# bytes exactly, and fail with Python's messages.  No Python needed.
test_tcp_queue__replays_handshakes_recorded_from_python() {
    run_cmd "${TOOLS_DIR}/mp_replay" "${TESTS_DIR}"/data/handshake_3.11_ok.txt \
        "${TESTS_DIR}"/data/handshake_3.11_wrongkey.txt "${TESTS_DIR}"/data/handshake_3.12_ok.txt \
        "${TESTS_DIR}"/data/handshake_3.12_wrongkey.txt || return
    assert_exit 0 || return
    assert_output 11_replay.out
}

# Lesson 07's program with the manager on TCP (127.0.0.1): the same lines.
test_tcp_queue__prints_lesson_07s_lines_over_tcp() {
    TIMEOUT_CAUSE="a proxy and the TCP manager waited for each other in the handshake"
    run_prog tcp_queue || return
    assert_exit 0 || return
    assert_output 07_manager_queue.out
}

# Python's Client(address, authkey) and the C manager: authenticated, then
# manager requests sent with send_bytes() and answered; a wrong key gets
# AuthenticationError, and the first client is still served.
test_tcp_queue__pythons_client_talks_to_the_c_manager() {
    local py count=0 version k
    TIMEOUT_CAUSE="Python's Client and the C manager waited for each other"
    run_pythons client "${BIN_DIR}/tcp_queue" || return
    for k in "${!PY_LIST[@]}"; do
        py=${PY_LIST[k]}
        local OUT=${SHUNIT_TMPDIR}/py.${k}.out ERR=${SHUNIT_TMPDIR}/py.${k}.err
        local STATUS LAST_CMD="${py##*/} py_interop.py client tcp_queue"
        STATUS=$(cat "${SHUNIT_TMPDIR}/py.${k}.status")
        version=$(sed -n 's/^Python //p' "${ERR}")
        echo "  (with Python ${version}: ${py})"
        assert_exit 0 || return
        assert_output 11_interop_client.out || return
        count=$((count + 1))
    done
    [ "${count}" -gt 0 ] || skip_test "no python3 here: the handshake is checked against the recordings only"
}

# Clients without the key - a wrong key, none, a handshake cut short, one
# announcing 100000 bytes, an HTTP request, an honest answer replayed -
# get nothing but the challenge (and #FAILURE# where Python sends it) and
# change nothing; meanwhile the honest proxy is served.
test_tcp_queue__clients_without_the_key_get_nothing() {
    TIMEOUT_CAUSE="the manager kept a hostile connection open, or stopped serving"
    run_cmd "${TOOLS_DIR}/tcp_hostile" || return
    assert_exit 0 || return
    assert_output 11_tcp_hostile.out
}

# "Another machine": the server in one network namespace, the writer and
# reader in another, joined by a veth pair (root and ip(8) needed): lesson
# 07's lines.  Then a server bound to 127.0.0.1 in the first cannot be
# reached from the second at all.  Only addresses inside the two
# namespaces are used; tearDown removes them, whatever happened.
NS_A="" NS_B="" NS_SERVER=""
remove_namespaces() {
    if [ -n "${NS_SERVER}" ]; then
        kill "${NS_SERVER}" 2>/dev/null
        wait "${NS_SERVER}" 2>/dev/null
        NS_SERVER=""
    fi
    [ -n "${NS_A}" ] && ip netns del "${NS_A}" 2>/dev/null
    [ -n "${NS_B}" ] && ip netns del "${NS_B}" 2>/dev/null
    NS_A="" NS_B=""
}

# ns_serve NS HOST: start `tcp_queue serve HOST:0` in namespace NS;
# sets NS_SERVER and NS_ADDRESS (the port it got).
ns_serve() {
    local ns=$1 host=$2 out=${SHUNIT_TMPDIR}/ns_serve waited=0
    : >"${out}"
    AUTHKEY=${KEY} ip netns exec "${ns}" "${BIN_DIR}/tcp_queue" serve "${host}:0" >"${out}" 2>&1 &
    NS_SERVER=$!
    while ! grep -q '^serving on ' "${out}" && [ "${waited}" -lt 300 ] && kill -0 "${NS_SERVER}" 2>/dev/null; do
        sleep 0.01
        waited=$((waited + 1))
    done
    NS_ADDRESS=$(sed -n 's/^serving on //p' "${out}")
    if [ -z "${NS_ADDRESS}" ]; then
        sed 's/^/  | /' "${out}"
        fail "tcp_queue serve ${host}:0 in namespace ${ns} did not start"
        return 1
    fi
}

test_tcp_queue__runs_across_two_network_namespaces() {
    if [ "$(id -u)" != 0 ]; then
        skip_test "needs root, to make network namespaces (ip netns add): run make test as root"
        return
    fi
    if ! command -v ip >/dev/null 2>&1; then
        skip_test "needs ip(8), Debian package iproute2"
        return
    fi
    # Names carry this script's pid; the /30 link's addresses live only
    # inside the two namespaces (each has its own stack, and no route
    # leads anywhere else).
    local tag=$$ net
    NS_A=l11-${tag}-a NS_B=l11-${tag}-b
    net=10.200.$((tag % 250)).$(((tag / 250) % 60 * 4))
    local ip_a=${net%.*}.$((${net##*.} + 1)) ip_b=${net%.*}.$((${net##*.} + 2))
    # (Three ip(8) runs, each a batch that stops at its first error: the
    # veth pair is made with its ends already in their namespaces.)
    if ! { printf '%s\n' "netns add ${NS_A}" "netns add ${NS_B}" \
        "link add v11a${tag} netns ${NS_A} type veth peer name v11b${tag} netns ${NS_B}" | ip -batch - &&
        printf '%s\n' "addr add ${ip_a}/30 dev v11a${tag}" "link set lo up" "link set v11a${tag} up" |
        ip -n "${NS_A}" -batch - &&
        printf '%s\n' "addr add ${ip_b}/30 dev v11b${tag}" "link set lo up" "link set v11b${tag} up" |
        ip -n "${NS_B}" -batch -; } 2>"${SHUNIT_TMPDIR}/ip.err"; then
        sed 's/^/  | /' "${SHUNIT_TMPDIR}/ip.err"
        ip link del "v11a${tag}" 2>/dev/null
        remove_namespaces
        skip_test "could not make two network namespaces joined by a veth pair here (see ip's message above)"
        return
    fi
    # 1. The server in A on its veth address, the writer and reader in B.
    ns_serve "${NS_A}" "${ip_a}" || return
    TIMEOUT_CAUSE="the client in one namespace and the server in the other waited for each other"
    AUTHKEY=${KEY} run_cmd ip netns exec "${NS_B}" "${BIN_DIR}/tcp_queue" connect "${NS_ADDRESS}" || return
    assert_exit 0 || return
    assert_output 07_manager_queue.out || return
    kill "${NS_SERVER}"
    wait "${NS_SERVER}"
    NS_SERVER=""
    # 2. The server in A bound to A's loopback: B's client is refused.
    ns_serve "${NS_A}" 127.0.0.1 || return
    AUTHKEY=${KEY} run_cmd ip netns exec "${NS_B}" "${BIN_DIR}/tcp_queue" connect "${ip_a}:${NS_ADDRESS##*:}" || return
    assert_exit 1 || return
    assert_stderr_matches 'Connection refused' \
        "a server bound to 127.0.0.1 in one namespace must refuse a client from the other"
}

test_tcp_queue__bad_arguments_get_usage() {
    AUTHKEY=k assert_usage_error tcp_queue serve localhost:5000 || return
    AUTHKEY= assert_usage_error tcp_queue connect 127.0.0.1:5000
}

# ------------------------------------------------------------ redis_queue

# plain TEXT: TEXT with its backslash escapes spelled out (<CR>, <LF>):
# shunit2 prints failure messages through echo -e, which would turn a
# "\r\n" in them into a real line break.
plain() {
    printf '%s' "$1" | sed -e 's/\\r/<CR>/g' -e 's/\\n/<LF>/g' -e 's/\\/<BS>/g'
}

# RESP: an array of bulk strings, each "$" + length + CRLF + bytes + CRLF.
test_redis_queue__encodes_a_command_as_resp() {
    run_prog redis_queue encode SET value 0 || return
    assert_exit 0 || return
    local want='*3\r\n$3\r\nSET\r\n$5\r\nvalue\r\n$1\r\n0\r\n' got why=""
    got=$(cat "${OUT}")
    [ "${got}" = "${want}" ] && return 0
    case ${got} in
        '*3\r\n$3\r\nSET$5\r\nvalue$1\r\n0') why="a bulk string without its CRLF: after each argument's bytes comes CR LF too" ;;
        '*2\r\n'*) why="the array header counts 2 elements: the command's name is one of the bulk strings, so SET value 0 is *3" ;;
        '*3\n'* | *'$3\nSET'*) why="a line ends in CR LF, not LF alone" ;;
        *'"'* | *"'"*) why="the arguments were quoted: a bulk string is the bytes as they are, its length says where it ends" ;;
        *) why="see the expected and found bytes above" ;;
    esac
    echo "  expected: ${want}"
    echo "  found:    ${got}"
    fail "redis_queue encode SET value 0: $(plain "${why}") (expected $(plain "${want}"), found $(plain "${got}"))"
}

# An empty argument, one with a space, a CRLF inside and a two-byte
# character: lengths count bytes, and the bytes go as they are.
test_redis_queue__encodes_any_bytes_by_length() {
    run_prog redis_queue encode SET "" "a b" $'x\r\ny' 'é' || return
    if [ "${STATUS}" != 0 ]; then
        show_stderr
        fail "redis_queue encode SET '' 'a b' 'x<CR><LF>y' 'é': exit status ${STATUS}: an empty argument, a space, CR LF or a two-byte character must encode too"
        return 1
    fi
    local want='*5\r\n$3\r\nSET\r\n$0\r\n\r\n$3\r\na b\r\n$4\r\nx\r\ny\r\n$2\r\n\xc3\xa9\r\n' got
    got=$(cat "${OUT}")
    [ "${got}" = "${want}" ] && return 0
    echo "  expected: ${want}"
    echo "  found:    ${got}"
    fail "redis_queue encode SET '' 'a b' 'x<CR><LF>y' 'é': lengths count bytes (é is 2), and the bytes go as they are (expected $(plain "${want}"), found $(plain "${got}"))"
}

# Every reply type the program meets, each as redis-py shows it; a wrong
# line is named by the reply it came from.
test_redis_queue__decodes_every_reply_type() {
    local replies=('+OK\r\n' ':3\r\n' '$-1\r\n' '$5\r\nhello\r\n' '*2\r\n$3\r\nval\r\n$1\r\n0\r\n'
        '*-1\r\n' '-ERR wrong type\r\n' '$4\r\na\r\nb\r\n' '$0\r\n\r\n' '*0\r\n'
        '*3\r\n$1\r\na\r\n$-1\r\n$2\r\n\r\n\r\n' ':9223372036854775807\r\n' ':-9223372036854775808\r\n')
    local what=("a simple string (+OK)" "an integer (:3)" "a null bulk string (\$-1: a missing key, None)"
        "a bulk string" "an array of bulk strings (HGETALL, LRANGE)" "a null array (*-1: BLPOP timed out, None)"
        "an error reply (-ERR ...)" "a bulk string holding CR LF: read by its length, not up to the next CRLF"
        "an empty bulk string (\$0)" "an empty array (*0)" "an array with a null element and a CRLF one"
        "the largest integer, 2^63 - 1 (RESP integers are signed 64-bit: long long, strtoll)"
        "the smallest integer, -2^63 (RESP integers are signed 64-bit: long long, strtoll)")
    local r k
    for r in "${replies[@]}"; do printf -- "${r}"; done >"${SHUNIT_TMPDIR}/replies"
    TIMEOUT_CAUSE="the decoder waited for more input than the replies hold: a bulk string read by line, or its CRLF read twice?"
    run_prog redis_queue decode <"${SHUNIT_TMPDIR}/replies" || return
    local -a want got
    mapfile -t want <"${TESTS_DIR}/expected/11_redis_decode.out"
    mapfile -t got <"${OUT}"
    for k in "${!want[@]}"; do
        if [ "${got[k]-}" != "${want[k]}" ]; then
            echo "  replies: $(printf '%s' "${replies[@]}")"
            echo "  found:"; sed 's/^/  | /' "${OUT}"
            show_stderr
            fail "redis_queue decode: reply $((k + 1)), ${what[k]}, printed $(plain "${got[k]-nothing}"), expected $(plain "${want[k]}")"
            return 1
        fi
    done
    assert_exit 0 || return
    assert_output 11_redis_decode.out
}

# What is not RESP ends the decoder with a message, exit 1: each file is
# decoded on its own, so one run tries them all.
test_redis_queue__refuses_what_is_not_resp() {
    local bad k=0 files=() what=("a line that is no reply type" "a bulk string not followed by CRLF"
        "an array holding an integer" "a bulk length that is no number" "a bulk longer than RESP_STR_MAX"
        "an integer beyond 64 bits (strtoll's ERANGE)" "an integer with no digits")
    for bad in 'hello\r\n' '$3\r\nabcXY' '*1\r\n:1\r\n' '$x\r\n' '$999999\r\n' \
        ':9223372036854775808\r\n' ':\r\n'; do
        printf -- "${bad}" >"${SHUNIT_TMPDIR}/bad${k}"
        files+=("${SHUNIT_TMPDIR}/bad${k}")
        k=$((k + 1))
    done
    TIMEOUT_CAUSE="the decoder waited on input that cannot be a reply"
    run_prog redis_queue decode "${files[@]}" || return
    assert_exit 1 || return
    for k in "${!files[@]}"; do
        if ! grep -q "^redis_queue: decode: ${files[k]}: " "${ERR}"; then
            show_stderr
            fail "redis_queue decode: ${what[k]} ($(cat -v "${files[k]}" | sed 's/\\/<BS>/g')) must be refused with resp_fail(), not taken for a reply"
            return 1
        fi
    done
    assertEquals "redis_queue decode: nothing printed for input that is not RESP" "" "$(cat "${OUT}")"
}

# Seed 000 on a private Redis: the lines of lesson 07, and no keys left.
test_redis_queue__prints_lesson_07s_lines_on_redis() {
    need_redis || return 0
    start_redis || return
    TIMEOUT_CAUSE="a BLPOP that never gets its item: is every reply read whole?"
    run_prog redis_queue run "${REDIS_SOCK}" || return
    assert_exit 0 || return
    assert_output 07_manager_queue.out || return
    assertEquals "keys left on the Redis server after the run" "" "$(redis_keys)"
}

# The server dies mid-run (SIGKILL, after round 1's Queue line): the
# program ends at once with a clear error, not a hang.
test_redis_queue__a_server_that_dies_gets_a_clear_error() {
    need_redis || return 0
    start_redis || return
    local waited=0 sup
    run_begin "${BIN_DIR}/redis_queue" run "${REDIS_SOCK}" 200
    : >"${OUT}" # the last run's lines must not count
    TIMEOUT_CAUSE="the Redis server was killed and the program still waits: does it notice end of file?"
    TMPDIR=${RUN_TMP} SUPERVISE_REPORT=${REPORT} TICK_MS=50 "${SUPERVISE}" "${PROGRAM_TIMEOUT}" \
        "${BIN_DIR}/redis_queue" run "${REDIS_SOCK}" 200 >"${OUT}" 2>"${ERR}" &
    sup=$!
    while [ "${waited}" -lt 300 ] && ! grep -q ': Queue 1$' "${OUT}" && kill -0 "${sup}" 2>/dev/null; do
        sleep 0.01
        waited=$((waited + 1))
    done
    if ! grep -q ': Queue 1$' "${OUT}"; then
        wait "${sup}"
        STATUS=$?
        run_end
        show_stderr
        fail "redis_queue run: it ended (or hung) before round 1's Queue line, so the server could not be killed mid-run: see the other failures"
        return 1
    fi
    kill -KILL "${REDIS_PID}"
    wait "${REDIS_PID}" 2>/dev/null
    REDIS_PID=""
    rm -rf "${REDIS_DIR}"
    wait "${sup}"
    STATUS=$?
    run_end || return
    assert_exit 1 || return
    assert_stderr_matches 'the Redis server closed the connection' \
        "a dead server must be named in the error ('the Redis server closed the connection')" || return
    assertTrue "the program ended within 2 s of the kill (took ${WALL_MS} ms in all)" \
        "[ ${WALL_MS:-0} -lt $((waited * 10 + 2000)) ]"
}

test_redis_queue__bad_arguments_get_usage() {
    assert_usage_error redis_queue run || return
    assert_usage_error redis_queue run /tmp/x 0
}

. "${SHUNIT2}"
