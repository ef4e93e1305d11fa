#!/bin/bash
# The test-server helpers of lib.sh: PostgreSQL and MariaDB start as the
# unprivileged test user on 127.0.0.1, answer through libpq and through
# unixODBC (DSNs registered in $T, never in /etc), stop, and leave nothing
# behind: no process, no listening port.
. "$(dirname "$0")/lib.sh"

ODBC_INFO=$TOOLS/odbc_info
[ -x "$ODBC_INFO" ] || bail "odbc_info not built ($ODBC_INFO): run make tests"

# ---- PostgreSQL ----
pg_start || bail "pg_start"
tap_ok "PostgreSQL started on 127.0.0.1:$PGPORT (pid $PG_PID)"
tap_is "postmaster runs as the test user" "$(ps -o user= -p "$PG_PID")" "$EP_TEST_USER"
tap_is "libpq (psql, socket) answers" "$(pg_sql -c 'SELECT 40 + 2')" 42
tap_is "libpq over TCP with the superuser password" \
	"$("$PG_BIN/psql" -X -qAt "$PG_TCP_CONNINFO" -c 'SELECT 1')" 1
tap_is "listens on loopback only" "$(pg_sql -c 'SHOW listen_addresses')" "127.0.0.1"
tap_check "pgstattuple is available" pg_sql -c "CREATE EXTENSION pgstattuple; SELECT version FROM pgstatindex('pg_class_oid_index')"
pg_port=$PGPORT pg_pid=$PG_PID

# ---- MariaDB ----
mariadb_start || bail "mariadb_start"
tap_ok "MariaDB started on 127.0.0.1:$MARIADB_PORT (pid $MARIADB_PID)"
tap_is "mariadbd runs as the test user" "$(ps -o user= -p "$MARIADB_PID")" "$EP_TEST_USER"
tap_is "mariadb client (socket) answers" "$(mariadb_sql -e 'SELECT 40 + 2')" 42
tap_is "mariadb over TCP with the root password" \
	"$(mariadb --no-defaults -h 127.0.0.1 -P "$MARIADB_PORT" -u root -p"$MARIADB_PASSWORD" -N -B -e 'SELECT 1')" 1
tap_is "binds loopback only" "$(mariadb_sql -e 'SELECT @@bind_address')" "127.0.0.1"
ma_port=$MARIADB_PORT ma_pid=$MARIADB_PID

# ---- ODBC ----
odbc_setup || bail "odbc_setup"
case "$ODBCSYSINI" in "$T"/*) tap_ok "ODBCSYSINI is in the temp dir" ;; *) tap_fail "ODBCSYSINI=$ODBCSYSINI" ;; esac
out=$("$ODBC_INFO" "$ODBC_PG_CONN" "SELECT 6 * 7" 2>&1)
tap_like "psqlODBC: SQL_DBMS_NAME says PostgreSQL" "$out" '^DBMS_NAME=PostgreSQL$'
tap_like "psqlODBC: query answers" "$out" '^RESULT=42$'
out=$("$ODBC_INFO" "$ODBC_MARIADB_CONN" "SELECT 6 * 7" 2>&1)
tap_like "MariaDB Connector/ODBC: SQL_DBMS_NAME says MariaDB" "$out" '^DBMS_NAME=MariaDB$'
tap_like "MariaDB Connector/ODBC: query answers" "$out" '^RESULT=42$'
out=$("$ODBC_INFO" "DSN=erpulse_pg;UID=$PG_SUPERUSER;PWD=wrong" 2>&1)
tap_like "wrong password: a clear ODBC error" "$out" 'password authentication failed'
tap_check "nothing registered in /etc" bash -c '! grep -qs "erpulse" /etc/odbc.ini /etc/odbcinst.ini'

# ---- stop: nothing left ----
pg_stop
tap_check "PostgreSQL process gone" bash -c "! kill -0 $pg_pid"
tap_check "PostgreSQL port $pg_port closed" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$pg_port)"
tap_check "no postgres process of this test left" bash -c "! pgrep -u $EP_TEST_USER -f -- '$T/pg/'"
mariadb_stop
tap_check "MariaDB process gone" bash -c "! kill -0 $ma_pid"
tap_check "MariaDB port $ma_port closed" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$ma_port)"
tap_check "no mariadbd of this test left" bash -c "! pgrep -u $EP_TEST_USER -f -- '$T/mariadb/'"

# ---- a killed script leaves nothing running either ----
# A child script starts PostgreSQL and is SIGKILLed (no traps run): the guard
# must stop the server and remove the child's temp dir.
cat >"$T/killed.sh" <<-SH
	. "$SRC/tests/integration/lib.sh"
	pg_start >/dev/null 2>&1 || exit 1
	echo "\$PG_PID \$PGPORT \$T" >"$T/killed.info"
	sleep 60
SH
bash "$T/killed.sh" &
child=$!
wait_for 30 test -s "$T/killed.info" || true
read -r kpid kport kdir <"$T/killed.info" 2>/dev/null || kpid=""
if [ -n "$kpid" ]; then
	kill -KILL "$child"
	wait "$child" 2>/dev/null
	pkill -KILL -P "$child" 2>/dev/null # its sleep
	if wait_for 20 bash -c "! kill -0 $kpid && ! (exec 3<>/dev/tcp/127.0.0.1/$kport)"; then
		tap_ok "SIGKILLed script: its PostgreSQL is stopped by the guard"
	else
		tap_fail "SIGKILLed script: PostgreSQL pid $kpid still running"
		kill -KILL "$kpid" 2>/dev/null
	fi
	wait_for 10 bash -c "! test -e $kdir" && tap_ok "SIGKILLed script: its temp dir is removed" ||
		tap_fail "SIGKILLed script: $kdir still exists"
else
	tap_fail "child script did not start PostgreSQL"
fi
tap_done
