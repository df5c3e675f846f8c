# need_redis.sh - install redis-server for lesson 11's tests, if we may.
# Behind `make redis`, which `make test` and `make check` run first.
# As root on a Debian-like system it installs the distribution's package;
# otherwise it only says so, and lesson 11 skips its Redis tests, naming
# the package.  It never fails the build: Redis is optional.
command -v redis-server >/dev/null 2>&1 && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "redis-server is missing; installing Debian's package (you are root):"
    # The package's own service is not wanted: the tests start a private
    # server on a Unix socket and stop it.  (Under systemd the package
    # starts one; policy-rc.d keeps it from starting in a container.)
    apt-get install -y -qq redis-server >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; }
    command -v redis-server >/dev/null 2>&1 && exit 0
fi
echo "note: redis-server is not installed, so lesson 11 skips its Redis tests." >&2
echo "      Install it with:  sudo apt-get install redis-server" >&2
exit 0
