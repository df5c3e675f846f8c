# need_redis.sh - install redis-server for lesson 11's tests, if we may.
# Behind `make redis`, which `make test` and `make check` run first.
# As root on a Debian-like system it installs the distribution's package;
# otherwise it only says so, and lesson 11 skips its Redis tests, naming
# the package.  It never fails the build: Redis is optional.
#
# The package's own service is not wanted: the tests start a private
# server on a Unix socket and stop it.  So, as .ci/run does, a temporary
# policy-rc.d (exit 101: "action forbidden") keeps apt from starting it -
# made only if there is none, and removed afterwards.  Then, in case the
# package's service was started all the same, it is stopped and disabled
# (only here: this script installed the package; an existing install is
# never touched).
command -v redis-server >/dev/null 2>&1 && exit 0

POLICY=/usr/sbin/policy-rc.d
PIDFILE=/run/redis/redis-server.pid # the package's (/etc/redis/redis.conf)

# stop_packaged_service: stop and disable the package's redis-server if it
# runs (systemd, or the init script), and say so.
stop_packaged_service() {
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        if systemctl is-active --quiet redis-server.service; then
            echo "  (the package started its redis-server service: stopping and disabling it)"
            systemctl stop redis-server.service
            systemctl disable --quiet redis-server.service
        fi
        return 0
    fi
    local pid
    pid=$(cat "${PIDFILE}" 2>/dev/null)
    case ${pid} in '' | *[!0-9]*) return 0 ;; esac
    [ "$(cat "/proc/${pid}/comm" 2>/dev/null)" = redis-server ] || return 0
    echo "  (the package started its redis-server, pid ${pid}: stopping and disabling it)"
    if [ -x /etc/init.d/redis-server ]; then
        /etc/init.d/redis-server stop >/dev/null 2>&1
    fi
    kill -0 "${pid}" 2>/dev/null && kill "${pid}"
    command -v update-rc.d >/dev/null 2>&1 && update-rc.d redis-server disable >/dev/null 2>&1
    return 0
}

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "redis-server is missing; installing Debian's package (you are root):"
    made_policy=""
    if [ ! -e "${POLICY}" ]; then
        made_policy=${POLICY}
        trap 'rm -f "${made_policy}"' EXIT
        trap 'exit 130' INT TERM
        printf '#!/bin/sh\nexit 101\n' >"${POLICY}" && chmod 755 "${POLICY}"
    fi
    apt-get install -y -qq redis-server >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; }
    if [ -n "${made_policy}" ]; then
        rm -f "${made_policy}"
        trap - EXIT INT TERM
    fi
    if command -v redis-server >/dev/null 2>&1; then
        stop_packaged_service
        exit 0
    fi
fi
echo "note: redis-server is not installed, so lesson 11 skips its Redis tests." >&2
echo "      Install it with:  sudo apt-get install redis-server" >&2
exit 0
