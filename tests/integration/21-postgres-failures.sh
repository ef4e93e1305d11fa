#!/bin/bash
# postgres probe when things go wrong: a locked index (lock_timeout), a lock
# held past the deadline (statement_timeout bounded by the deadline), wrong
# password, nothing listening, a server that never answers, pgstattuple
# missing, pgstatindex not permitted. Each gives a precise finding; the probe
# never overruns its deadline.
. "$(dirname "$0")/lib.sh"

PROBE_RUN=${PROBE_RUN:-$TOOLS/probe_run} # PROBE_RUN=.../asan/... for a sanitizer run
[ -x "$PROBE_RUN" ] || bail "probe_run not built: make tests"
pg_start || bail "pg_start"
pyj() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

MONPW="mon-$RANDOM$RANDOM"
pg_sql -c "CREATE DATABASE erp" -c "CREATE DATABASE noext" || bail "create databases"
pg_sql -c "CREATE ROLE erpulse_monitor LOGIN PASSWORD '$MONPW'; GRANT pg_monitor TO erpulse_monitor;
	CREATE ROLE plain_role LOGIN PASSWORD '$MONPW'" || bail "create roles"
for db in erp noext; do
	pg_sql -d "$db" <<-SQL || bail "tables in $db"
		$([ $db = erp ] && echo "CREATE EXTENSION pgstattuple;")
		CREATE TABLE orders (id int PRIMARY KEY, state int);
		INSERT INTO orders SELECT g, g % 4 FROM generate_series(1, 50000) g;
		CREATE INDEX orders_state_idx ON orders (state);
		CREATE TABLE lines (id int PRIMARY KEY, note text);
		INSERT INTO lines SELECT g, md5(g::text) FROM generate_series(1, 50000) g;
		ANALYZE;
	SQL
done

conf() { # conf NAME EXTRA-LINES...
	{
		echo "[postgres.$1]"
		shift
		printf '%s\n' "min_index_pages = 10" "$@"
	} >>"$T/agent.conf"
}
MON="host=127.0.0.1 port=$PGPORT user=erpulse_monitor password=$MONPW"
conf lock "conninfo = $MON dbname=erp" "databases = erp" "lock_timeout_ms = 300"
conf slow "conninfo = $MON dbname=erp" "databases = erp" "lock_timeout_ms = 600000"
conf badpw "conninfo = host=127.0.0.1 port=$PGPORT user=erpulse_monitor password=wrong dbname=erp"
DEAD_PORT=$(free_port)
conf refused "conninfo = host=127.0.0.1 port=$DEAD_PORT user=erpulse_monitor dbname=erp"
HUNG_PORT=$(free_port)
conf hung "conninfo = host=127.0.0.1 port=$HUNG_PORT user=erpulse_monitor dbname=erp" "connect_timeout = 60s"
conf noext "conninfo = $MON dbname=noext" "databases = noext"
conf nopriv "conninfo = host=127.0.0.1 port=$PGPORT user=plain_role password=$MONPW dbname=erp" "databases = erp"
conf alldbs "conninfo = $MON dbname=postgres"
conf named "conninfo = $MON dbname=postgres" "databases = postgres erp"

# ---- a session holds ACCESS EXCLUSIVE on orders and on its index ----
# (DROP INDEX, uncommitted: pgstatindex locks only the index, so a LOCK TABLE
# alone would not block it -- see docs/fragmentation.md)
"$PG_BIN/psql" -X -q -h "$PGHOST" -p "$PGPORT" -U postgres -d erp -v ON_ERROR_STOP=1 \
	-c "SET application_name = 'locker'" \
	-c "BEGIN" -c "LOCK TABLE orders IN ACCESS EXCLUSIVE MODE" -c "DROP INDEX orders_state_idx" \
	-c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
locker=$!
on_exit "kill $locker 2>/dev/null"
locked() { [ "$(pg_sql -c "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'locker' AND l.mode = 'AccessExclusiveLock' AND l.granted")" -ge 2 ]; }
wait_for 10 locked || bail "the locking session did not get its locks"
tap_ok "a session holds ACCESS EXCLUSIVE on orders and orders_state_idx"

t0=$(date +%s%N)
"$PROBE_RUN" "$T/agent.conf" postgres.lock >"$T/lock.json" 2>/dev/null
ms=$((($(date +%s%N) - t0) / 1000000))
tap_is "lock: probe status ok" "$(pyj "$T/lock.json" 'j["status"]')" ok
tap_like "lock: the locked index is reported not measured, with the reason" \
	"$(pyj "$T/lock.json" "[f['message'] for f in j['findings'] if f['kind']=='index_not_measured' and f['object']=='erp/public.orders_state_idx'][0]")" \
	'not measured this cycle: canceling statement due to lock timeout \(SQLSTATE 55P03\)'
tap_is "lock: the other indexes are measured exactly" \
	"$(pyj "$T/lock.json" "sorted(f['object'] for f in j['findings'] if f['kind']=='index_fragmentation')")" \
	"['erp/public.lines_pkey', 'erp/public.orders_pkey']"
tap_check "lock: cycle took ${ms} ms (lock_timeout 300 ms, not a hang)" test "$ms" -lt 10000

# lock_timeout longer than the deadline: statement_timeout (set from the
# deadline) cancels the wait and the probe ends within its deadline.
t0=$(date +%s%N)
"$PROBE_RUN" "$T/agent.conf" postgres.slow --timeout-ms 3000 >"$T/slow.json" 2>/dev/null
ms=$((($(date +%s%N) - t0) / 1000000))
tap_check "deadline 3000 ms: the probe returned in $ms ms" test "$ms" -lt 3500
tap_like "deadline: the locked index is not measured (statement timeout)" \
	"$(pyj "$T/slow.json" "[f['message'] for f in j['findings'] if f['kind']=='index_not_measured'][0]")" \
	'statement timeout|deadline'
pg_sql -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'locker'" >/dev/null
wait "$locker" 2>/dev/null

# ---- wrong password ----
"$PROBE_RUN" "$T/agent.conf" postgres.badpw >"$T/badpw.json" 2>/dev/null
tap_is "wrong password: status error" "$(pyj "$T/badpw.json" 'j["status"]')" error
tap_like "wrong password: the error says authentication failed for the role and what to check" \
	"$(pyj "$T/badpw.json" 'j["error"]')" \
	'authentication failed.*password authentication failed for user "erpulse_monitor".*pgpass'
# through the agent: the failed probe is in the report with its error, and
# the rest of the report (another postgres instance, disk) still goes out
cat >"$T/agent-full.conf" <<EOF2
[agent]
collector = https://127.0.0.1:9
state_dir = $T/agent-state
allow_root = yes

[postgres.badpw]
conninfo = host=127.0.0.1 port=$PGPORT user=erpulse_monitor password=wrong dbname=erp

[postgres.good]
conninfo = $MON dbname=erp
databases = erp
min_index_pages = 10
EOF2
mkdir -p "$T/agent-state"
if [ -x "$AGENT" ] && "$AGENT" --config "$T/agent-full.conf" once --print >"$T/report.json" 2>"$T/agent.err"; then
	tap_is "agent report: the failed instance is there with its error, the others are ok" \
		"$(pyj "$T/report.json" "sorted((p['name'], p['status'], (p['error'] or '')[:21]) for p in j['probes'])")" \
		"[('disk', 'ok', ''), ('postgres.badpw', 'error', 'authentication failed'), ('postgres.good', 'ok', '')]"
	tap_is "agent report: the good instance still carries its index figures" \
		"$(pyj "$T/report.json" "len([f for p in j['probes'] if p['name']=='postgres.good' for f in p['findings'] if f['kind']=='index_fragmentation'])")" 3
else
	tap_fail "erpulse-agent once --print failed"
	sed 's/^/#   /' "$T/agent.err" | tail -5
fi

# ---- nothing listens ----
"$PROBE_RUN" "$T/agent.conf" postgres.refused >"$T/refused.json" 2>/dev/null
tap_like "unreachable: 'cannot reach the server' naming host and port" \
	"$(pyj "$T/refused.json" 'j["error"]')" "cannot reach the server.*127.0.0.1.*$DEAD_PORT.*Connection refused"

# ---- a server that accepts TCP and never answers: the deadline holds ----
python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); time.sleep(60)' "$HUNG_PORT" &
hung=$!
on_exit "kill $hung 2>/dev/null"
wait_for 5 port_open "$HUNG_PORT"
t0=$(date +%s%N)
"$PROBE_RUN" "$T/agent.conf" postgres.hung --timeout-ms 2000 >"$T/hung.json" 2>/dev/null
ms=$((($(date +%s%N) - t0) / 1000000))
kill "$hung" 2>/dev/null
tap_check "silent server, deadline 2000 ms: the probe gave up in $ms ms" test "$ms" -lt 2500
tap_like "silent server: the error says no connection before the deadline" \
	"$(pyj "$T/hung.json" 'j["error"]')" "deadline"

# ---- pgstattuple missing ----
"$PROBE_RUN" "$T/agent.conf" postgres.noext >"$T/noext.json" 2>/dev/null
tap_is "missing extension: status still ok" "$(pyj "$T/noext.json" 'j["status"]')" ok
tap_is "missing extension: one monitoring_setup finding" \
	"$(pyj "$T/noext.json" "len([f for f in j['findings'] if f['kind']=='monitoring_setup'])")" 1
tap_like "missing extension: it says exactly what to run" \
	"$(pyj "$T/noext.json" "[f['remediation'] for f in j['findings'] if f['kind']=='monitoring_setup'][0]")" \
	'connected to database "noext": CREATE EXTENSION IF NOT EXISTS pgstattuple; GRANT pg_stat_scan_tables TO "erpulse_monitor";'
tap_is "missing extension: estimates only, marked, no verdicts" \
	"$(pyj "$T/noext.json" "sorted(set((f['kind'], f['severity'], f['threshold']) for f in j['findings'] if 'index' in f['kind']))")" \
	"[('index_fragmentation_estimate', 'info', None)]"

# check-config tries the connection and says what to fix
cat >"$T/check.conf" <<EOF2
[agent]
collector = https://127.0.0.1:9
state_dir = $T/agent-state
allow_root = yes

[postgres.noext]
conninfo = $MON dbname=noext
EOF2
if [ -x "$AGENT" ]; then
	out=$("$AGENT" --config "$T/check.conf" check-config 2>&1)
	rc=$?
	tap_check "check-config fails on a database without pgstattuple (exit $rc)" test "$rc" -ne 0
	tap_like "check-config names the statement to run" "$out" \
		'\[postgres.noext\].*pgstattuple is not installed in database noext.*CREATE EXTENSION pgstattuple'
fi

# ---- pgstatindex not permitted (a role without pg_monitor) ----
"$PROBE_RUN" "$T/agent.conf" postgres.nopriv >"$T/nopriv.json" 2>/dev/null
rem=$(pyj "$T/nopriv.json" "[f['remediation'] for f in j['findings'] if f['kind']=='monitoring_setup'][0]")
tap_like "not permitted: the finding names the GRANT" "$rem" 'GRANT pg_stat_scan_tables TO "plain_role";'
pg_sql -c "${rem#as a superuser: }" >/dev/null
"$PROBE_RUN" "$T/agent.conf" postgres.nopriv >"$T/nopriv2.json" 2>/dev/null
tap_is "after running that GRANT: exact figures, no setup finding" \
	"$(pyj "$T/nopriv2.json" "(len([f for f in j['findings'] if f['kind']=='monitoring_setup']), len([f for f in j['findings'] if f['kind']=='index_fragmentation']))")" \
	"(0, 3)"

# ---- the default database list leaves out the maintenance database ----
"$PROBE_RUN" "$T/agent.conf" postgres.alldbs >"$T/alldbs.json" 2>/dev/null
tap_is "default list: every database but postgres, no monitoring_setup for postgres" \
	"$(pyj "$T/alldbs.json" "(sorted(j['metrics']['databases']), [f['object'] for f in j['findings'] if f['kind']=='monitoring_setup'])")" \
	"(['erp', 'noext'], ['noext'])"
tap_like "  ... its transaction-ID age is still watched" \
	"$(pyj "$T/alldbs.json" "sorted(j['metrics']['wraparound'])")" "'postgres'"
"$PROBE_RUN" "$T/agent.conf" postgres.named >"$T/named.json" 2>/dev/null
tap_is "named in databases: postgres is examined" \
	"$(pyj "$T/named.json" "sorted(j['metrics']['databases'])")" "['erp', 'postgres']"
tap_done
