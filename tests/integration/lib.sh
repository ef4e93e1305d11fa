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

# wait_for SECONDS CMD...: polls CMD every 0.1 s (WAIT_STEP seconds if set)
# until it succeeds, for SECONDS at most.
wait_for() {
	local secs=$1 step=${WAIT_STEP:-0.1} i n
	shift
	n=$(awk -v s="$secs" -v t="$step" 'BEGIN { print int(s / t) }')
	for ((i = 0; i < n; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep "$step"
	done
	return 1
}

# ---- test servers -----------------------------------------------------------
# (pg_start / pg_stop / mariadb_start / mariadb_stop / odbc_setup: see below)
#
# Every server runs as the unprivileged system user erpulse-test (PostgreSQL
# refuses root; the CI is root), listens on 127.0.0.1 only, on a random free
# port, with its unix socket and data below $T. Each start registers its stop
# with on_exit, and a small guard process (own session, so a Ctrl-C or a
# SIGKILL of the script does not take it along) stops the server and removes
# $T when the script's shell is gone without having stopped it.
#
#   pg_start [NAME=VALUE...]  PostgreSQL 15 (extra postgresql.conf settings);
#                           exports PGHOST (socket dir) PGPORT PGUSER PGDATABASE
#                           PG_SUPERUSER PG_SUPERPASS PG_CONNINFO (socket, superuser)
#                           PG_TCP_CONNINFO (127.0.0.1, superuser, password) PG_DATA PG_LOG
#   pg_sql [psql args...]   psql -X -qAt -v ON_ERROR_STOP=1 as the superuser
#   pg_stop                 fast shutdown; waits until the server is gone
#   mariadb_start           exports MARIADB_PORT MARIADB_SOCKET MARIADB_USER(root)
#                           MARIADB_PASSWORD MARIADB_DATA MARIADB_LOG
#   mariadb_sql [args...]   mariadb client as root over the socket (-N -B)
#   mariadb_stop
#   odbc_setup              ODBCSYSINI (dir with odbcinst.ini naming the Debian
#                           psqlODBC and MariaDB Connector/ODBC drivers) and ODBCINI
#                           (file) in $T; DSNs erpulse_pg / erpulse_mariadb for the
#                           running servers; exports ODBC_PG_CONN / ODBC_MARIADB_CONN
#                           (connection strings with the superuser's credentials);
#                           ODBC_SQLITE_DRIVER when libsqliteodbc is installed.
#   port_open PORT          true when something accepts TCP connections on 127.0.0.1:PORT

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
EP_TEST_USER=${EP_TEST_USER:-erpulse-test}

# _as_test_user CMD...: runs CMD as $EP_TEST_USER (as is, when not root).
_as_test_user() {
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid="$EP_TEST_USER" --regid="$EP_TEST_USER" --init-groups \
			env HOME="$T" USER="$EP_TEST_USER" LOGNAME="$EP_TEST_USER" "$@"
	else
		"$@"
	fi
}

# _ensure_test_user: creates the system user once (flock: parallel scripts).
_ensure_test_user() {
	[ "$(id -u)" -eq 0 ] || return 0
	id -u "$EP_TEST_USER" >/dev/null 2>&1 && return 0
	(
		flock 9
		id -u "$EP_TEST_USER" >/dev/null 2>&1 ||
			useradd --system --user-group --no-create-home --home-dir /nonexistent \
				--shell /usr/sbin/nologin "$EP_TEST_USER"
	) 9>/tmp/.erpulse-test-useradd.lock
	id -u "$EP_TEST_USER" >/dev/null 2>&1
}

# _mkdir_test_user DIR...: directories owned by the test user, mode 0700.
_mkdir_test_user() {
	mkdir -p "$@" || return 1
	chmod 700 "$@"
	[ "$(id -u)" -ne 0 ] || chown "$EP_TEST_USER:$EP_TEST_USER" "$@"
}

port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# _guard PIDFILE SIGNAL: forks a watcher in its own session that, once this
# shell is gone, sends SIGNAL to the pid in PIDFILE (first line), SIGKILLs it
# after 10 s and removes $T. Prints the watcher's pid.
_guard() {
	local parent=$$ pidfile=$1 sig=$2
	setsid bash -c '
		parent=$1 pidfile=$2 tdir=$3 sig=$4
		while kill -0 "$parent" 2>/dev/null; do sleep 0.5; done
		pid=$(head -n1 "$pidfile" 2>/dev/null)
		if [ -n "$pid" ] && kill -"$sig" "$pid" 2>/dev/null; then
			for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -KILL "$pid" 2>/dev/null
		fi
		rm -rf "$tdir"
	' erpulse-test-guard "$parent" "$pidfile" "$T" "$sig" </dev/null >/dev/null 2>&1 &
	echo $!
}

# _wait_gone PID SECONDS: true once PID has exited.
_wait_gone() {
	local pid=$1 i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# ---- PostgreSQL ----
_pg_guard=""
PG_PID=""

pg_start() {
	local dir=$T/pg try port pid i s
	[ -x "$PG_BIN/postgres" ] || { echo "pg_start: $PG_BIN/postgres not found" >&2; return 1; }
	_ensure_test_user || { echo "pg_start: cannot create user $EP_TEST_USER" >&2; return 1; }
	_mkdir_test_user "$dir" "$dir/sock"
	export PG_SUPERUSER=postgres PG_SUPERPASS="super-$RANDOM$RANDOM"
	export PG_DATA=$dir/data PG_LOG=$dir/postgres.log
	printf '%s\n' "$PG_SUPERPASS" >"$dir/pw"
	[ "$(id -u)" -ne 0 ] || chown "$EP_TEST_USER" "$dir/pw"
	if ! _as_test_user "$PG_BIN/initdb" -D "$PG_DATA" -U "$PG_SUPERUSER" --pwfile="$dir/pw" \
		--auth-host=scram-sha-256 --auth-local=trust -E UTF8 --locale=C.UTF-8 --no-sync \
		>"$dir/initdb.log" 2>&1; then
		echo "pg_start: initdb failed:" >&2
		tail -20 "$dir/initdb.log" >&2
		return 1
	fi
	rm -f "$dir/pw"
	cat >>"$PG_DATA/postgresql.conf" <<-CONF
		listen_addresses = '127.0.0.1'
		unix_socket_directories = '$dir/sock'
		fsync = off
		synchronous_commit = off
		full_page_writes = off
		shared_buffers = 32MB
		max_connections = 40
		logging_collector = off
		log_min_messages = warning
		log_line_prefix = '%m [%p] %u@%d '
	CONF
	for s in "$@"; do printf '%s\n' "$s" >>"$PG_DATA/postgresql.conf"; done
	# host lines: scram for TCP (password tests); local: trust (the helpers).
	for try in 1 2 3 4 5; do
		port=$(free_port)
		: >"$PG_LOG"
		[ "$(id -u)" -ne 0 ] || chown "$EP_TEST_USER" "$PG_LOG"
		# setsid: the postmaster is not in the script's process group, so a
		# Ctrl-C reaches it only through the cleanup (which stops it cleanly).
		_as_test_user setsid "$PG_BIN/postgres" -D "$PG_DATA" -p "$port" \
			</dev/null >>"$PG_LOG" 2>&1 &
		for ((i = 0; i < 600; i++)); do
			[ -S "$dir/sock/.s.PGSQL.$port" ] && "$PG_BIN/pg_isready" -q -h "$dir/sock" -p "$port" -U "$PG_SUPERUSER" -d postgres && break
			kill -0 $! 2>/dev/null || break
			sleep 0.1
		done
		if "$PG_BIN/pg_isready" -q -h "$dir/sock" -p "$port" -U "$PG_SUPERUSER" -d postgres; then
			pid=$(head -n1 "$PG_DATA/postmaster.pid")
			break
		fi
		# never wait for a server that is still running: stop it first
		[ -s "$PG_DATA/postmaster.pid" ] && kill -INT "$(head -n1 "$PG_DATA/postmaster.pid")" 2>/dev/null
		kill -INT $! 2>/dev/null
		wait $! 2>/dev/null
		pid=""
		grep -q 'could not bind\|Address already in use' "$PG_LOG" || break
	done
	if [ -z "$pid" ]; then
		echo "pg_start: server did not start:" >&2
		tail -20 "$PG_LOG" >&2
		return 1
	fi
	PG_PID=$pid
	_pg_guard=$(_guard "$PG_DATA/postmaster.pid" INT)
	on_exit pg_stop
	export PGHOST=$dir/sock PGPORT=$port PGUSER=$PG_SUPERUSER PGDATABASE=postgres
	export PG_CONNINFO="host=$dir/sock port=$port user=$PG_SUPERUSER dbname=postgres"
	export PG_TCP_CONNINFO="host=127.0.0.1 port=$port user=$PG_SUPERUSER password=$PG_SUPERPASS dbname=postgres"
	export PG_PID
}

pg_sql() {
	"$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$PGPORT" -U "$PG_SUPERUSER" "$@"
}

# pg_ticks: CPU clock ticks of the running PostgreSQL server (postmaster and
# its children; the benchmarks' server CPU per report); pg_wal DB: the WAL
# position in bytes
pg_ticks() {
	local p
	for p in "$PG_PID" $(pgrep -P "$PG_PID"); do
		sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }'
	done | awk '{ s += $1 } END { print s + 0 }'
}
pg_wal() { pg_sql -d "$1" -c "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"; }

pg_stop() {
	[ -n "$PG_PID" ] || return 0
	if kill -0 "$PG_PID" 2>/dev/null; then
		kill -INT "$PG_PID" 2>/dev/null # fast shutdown
		_wait_gone "$PG_PID" 30 || kill -KILL "$PG_PID" 2>/dev/null
		_wait_gone "$PG_PID" 5
	fi
	[ -z "$_pg_guard" ] || kill "$_pg_guard" 2>/dev/null
	_pg_guard=""
	PG_PID=""
}

# ---- MariaDB ----
_mariadb_guard=""
MARIADB_PID=""

mariadb_start() {
	local dir=$T/mariadb try port pid="" i
	_ensure_test_user || { echo "mariadb_start: cannot create user $EP_TEST_USER" >&2; return 1; }
	_mkdir_test_user "$dir" "$dir/data" "$dir/run"
	export MARIADB_DATA=$dir/data MARIADB_LOG=$dir/mariadb.log MARIADB_SOCKET=$dir/run/mysqld.sock
	export MARIADB_USER=root MARIADB_PASSWORD="root-$RANDOM$RANDOM"
	if ! _as_test_user mariadb-install-db --no-defaults --datadir="$MARIADB_DATA" \
		--auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
		--innodb-log-file-size=8M >"$dir/install.log" 2>&1; then
		echo "mariadb_start: mariadb-install-db failed:" >&2
		tail -20 "$dir/install.log" >&2
		return 1
	fi
	for try in 1 2 3 4 5; do
		port=$(free_port)
		: >"$MARIADB_LOG"
		[ "$(id -u)" -ne 0 ] || chown "$EP_TEST_USER" "$MARIADB_LOG"
		_as_test_user setsid mariadbd --no-defaults --datadir="$MARIADB_DATA" \
			--socket="$MARIADB_SOCKET" --port="$port" --bind-address=127.0.0.1 \
			--skip-networking=0 --skip-name-resolve --pid-file="$dir/run/mariadbd.pid" \
			--log-error="$MARIADB_LOG" --innodb-buffer-pool-size=64M \
			--innodb-log-file-size=8M --innodb-flush-log-at-trx-commit=0 \
			--innodb-doublewrite=0 --skip-log-bin --innodb-file-per-table=1 \
			--performance-schema=0 </dev/null >>"$MARIADB_LOG" 2>&1 &
		# ready = socket, pid file and TCP port all there (mariadbd writes the
		# pid file after it opens the socket: on a busy machine that gap is real)
		for ((i = 0; i < 600; i++)); do
			[ -S "$MARIADB_SOCKET" ] && [ -s "$dir/run/mariadbd.pid" ] && port_open "$port" && break
			kill -0 $! 2>/dev/null || break
			sleep 0.1
		done
		if [ -S "$MARIADB_SOCKET" ] && [ -s "$dir/run/mariadbd.pid" ] && port_open "$port"; then
			pid=$(head -n1 "$dir/run/mariadbd.pid")
			break
		fi
		# never wait for a server that is still running: stop it (by its pid
		# file when it wrote one, and the wrapper shell) before waiting
		[ -s "$dir/run/mariadbd.pid" ] && kill -TERM "$(head -n1 "$dir/run/mariadbd.pid")" 2>/dev/null
		kill -TERM $! 2>/dev/null
		wait $! 2>/dev/null
		grep -q 'Address already in use\|Do you already have another' "$MARIADB_LOG" || break
	done
	if [ -z "$pid" ]; then
		echo "mariadb_start: server did not start:" >&2
		tail -20 "$MARIADB_LOG" >&2
		return 1
	fi
	MARIADB_PID=$pid
	_mariadb_guard=$(_guard "$dir/run/mariadbd.pid" TERM)
	on_exit mariadb_stop
	export MARIADB_PORT=$port MARIADB_PID
	# root@localhost starts without a password; give it one (socket and TCP).
	mariadb --no-defaults -S "$MARIADB_SOCKET" -u root -N -B -e \
		"ALTER USER root@localhost IDENTIFIED BY '$MARIADB_PASSWORD';
		 CREATE USER IF NOT EXISTS root@'127.0.0.1';
		 ALTER USER root@'127.0.0.1' IDENTIFIED BY '$MARIADB_PASSWORD';
		 GRANT ALL ON *.* TO root@'127.0.0.1' WITH GRANT OPTION;" || {
		echo "mariadb_start: cannot set the root password" >&2
		return 1
	}
}

mariadb_sql() {
	mariadb --no-defaults -S "$MARIADB_SOCKET" -u root -p"$MARIADB_PASSWORD" -N -B "$@"
}

mariadb_stop() {
	[ -n "$MARIADB_PID" ] || return 0
	if kill -0 "$MARIADB_PID" 2>/dev/null; then
		kill -TERM "$MARIADB_PID" 2>/dev/null
		_wait_gone "$MARIADB_PID" 30 || kill -KILL "$MARIADB_PID" 2>/dev/null
		_wait_gone "$MARIADB_PID" 5
	fi
	[ -z "$_mariadb_guard" ] || kill "$_mariadb_guard" 2>/dev/null
	_mariadb_guard=""
	MARIADB_PID=""
}

# ---- ODBC ----
# _odbc_driver_path PACKAGE SONAME: the driver's path from dpkg (fallback: the
# usual multiarch directory).
_odbc_driver_path() {
	local p
	p=$(dpkg -L "$1" 2>/dev/null | grep -m1 "/$2\$")
	[ -n "$p" ] || p=$(ls /usr/lib/*/odbc/"$2" /usr/lib64/"$2" /usr/lib64/*/"$2" 2>/dev/null | head -n1)
	printf '%s' "$p"
}

odbc_setup() {
	local dir=$T/odbc pgdrv madrv
	mkdir -p "$dir"
	pgdrv=$(_odbc_driver_path odbc-postgresql psqlodbcw.so)
	madrv=$(_odbc_driver_path odbc-mariadb libmaodbc.so)
	[ -n "$pgdrv" ] && [ -n "$madrv" ] || {
		echo "odbc_setup: driver not found (psqlodbcw.so: '$pgdrv', libmaodbc.so: '$madrv')" >&2
		return 1
	}
	cat >"$dir/odbcinst.ini" <<-INI
		[erpulse PostgreSQL]
		Description = psqlODBC (odbc-postgresql)
		Driver = $pgdrv

		[erpulse MariaDB]
		Description = MariaDB Connector/ODBC (odbc-mariadb)
		Driver = $madrv
	INI
	# optional: SQLite's driver (libsqliteodbc), a DBMS the odbc probe does not support
	local sqdrv
	sqdrv=$(_odbc_driver_path libsqliteodbc libsqlite3odbc.so)
	if [ -n "$sqdrv" ]; then
		printf '\n[erpulse SQLite]\nDescription = SQLite ODBC (libsqliteodbc)\nDriver = %s\n' \
			"$sqdrv" >>"$dir/odbcinst.ini"
		export ODBC_SQLITE_DRIVER="erpulse SQLite"
	fi
	: >"$dir/odbc.ini"
	: >"$dir/user-odbc.ini"
	if [ -n "${PG_PID:-}" ]; then
		cat >>"$dir/user-odbc.ini" <<-INI
			[erpulse_pg]
			Driver = erpulse PostgreSQL
			Servername = 127.0.0.1
			Port = $PGPORT
			Database = postgres
			SSLmode = disable

		INI
		export ODBC_PG_DSN=erpulse_pg
		export ODBC_PG_CONN="DSN=erpulse_pg;UID=$PG_SUPERUSER;PWD=$PG_SUPERPASS"
	fi
	if [ -n "${MARIADB_PID:-}" ]; then
		cat >>"$dir/user-odbc.ini" <<-INI
			[erpulse_mariadb]
			Driver = erpulse MariaDB
			Server = 127.0.0.1
			Port = $MARIADB_PORT

		INI
		export ODBC_MARIADB_DSN=erpulse_mariadb
		export ODBC_MARIADB_CONN="DSN=erpulse_mariadb;UID=root;PWD=$MARIADB_PASSWORD"
	fi
	export ODBCSYSINI=$dir ODBCINI=$dir/user-odbc.ini
}
