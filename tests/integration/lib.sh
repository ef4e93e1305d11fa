# Shared helpers for tests/integration/NN-name.sh scripts. Source it first:
#   . "$(dirname "$0")/lib.sh"
# Gives: TAP output (tap_ok, tap_fail, tap_check, tap_is, tap_done), a private
# temp dir $T removed on every exit path, cleanup hooks (on_exit CMD), free
# loopback ports, paths to the built binaries, and (below, "test servers")
# throwaway PostgreSQL and MariaDB servers.
set -u

SRC=${ERPULSE_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
O=${O:-$SRC}
case "$O" in /*) ;; *) O=$SRC/$O ;; esac
BIN=$O/bin
TOOLS=$O/build/obj/tests/tools
AGENT=$BIN/erpulse-agent
COLLECTOR=$BIN/erpulse-collector

T=$(mktemp -d /tmp/erpulse-test.XXXXXX)
chmod 755 "$T"
_tap_n=0
_tap_failed=0
_exit_hooks=()

# on_exit CMD...: run CMD (a string, eval'd) at exit, last registered first.
on_exit() { _exit_hooks+=("$*"); }
_run_exit_hooks() {
	local rc=$? i
	for ((i = ${#_exit_hooks[@]} - 1; i >= 0; i--)); do
		eval "${_exit_hooks[$i]}" >/dev/null 2>&1 || true
	done
	rm -rf "$T"
	exit "$rc"
}
trap _run_exit_hooks EXIT
trap 'exit 130' INT TERM HUP

tap_ok() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $*"; }
tap_fail() {
	_tap_n=$((_tap_n + 1))
	_tap_failed=$((_tap_failed + 1))
	echo "not ok $_tap_n - $*"
}
# tap_check "description" cmd args...: ok when the command exits 0.
tap_check() {
	local desc=$1
	shift
	if "$@" >"$T/.last.out" 2>&1; then
		tap_ok "$desc"
	else
		tap_fail "$desc"
		sed 's/^/#   /' "$T/.last.out" | tail -20
	fi
}
# tap_is "description" GOT WANT
tap_is() {
	if [ "$2" = "$3" ]; then tap_ok "$1"; else
		tap_fail "$1"
		echo "#   got:  '$2'"
		echo "#   want: '$3'"
	fi
}
# tap_like "description" TEXT REGEX
tap_like() {
	if printf '%s' "$2" | grep -qE -- "$3"; then tap_ok "$1"; else
		tap_fail "$1"
		echo "#   '$2'"
		echo "#   does not match /$3/"
	fi
}
tap_done() {
	echo "1..$_tap_n"
	[ "$_tap_failed" -eq 0 ]
}
# bail "why": the script cannot go on; counts as a failure.
bail() {
	tap_fail "$*"
	tap_done
	exit 1
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds.
wait_for() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# ---- test servers -----------------------------------------------------------
# (pg_start / pg_stop / mariadb_start / mariadb_stop / odbc_setup: see below)
