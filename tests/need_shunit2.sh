# need_shunit2.sh - make sure shunit2, the test library, is installed.
# Behind `make shunit2`, which `make test` and `make check` run first.
# As root on a Debian-like system it installs the package; otherwise it
# names the one command that does.
SHUNIT2=${SHUNIT2:-/usr/bin/shunit2}
[ -r "${SHUNIT2}" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "shunit2 is missing; installing Debian's package (you are root):"
    apt-get install -y shunit2 >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get install -y -qq shunit2; }
    [ -r "${SHUNIT2}" ] && exit 0
fi
echo "shunit2 (the test library) is missing. Install it with:" >&2
echo "    sudo apt-get install shunit2" >&2
echo "(or your distribution's shunit2 package; SHUNIT2=/path/to/shunit2 to use another copy)" >&2
exit 1
