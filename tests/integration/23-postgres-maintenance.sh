#!/bin/bash
# postgres probe, maintenance debt and server health, as the monitoring role:
# dead tuples, long-running / idle-in-transaction / prepared transactions,
# connection saturation, a failing WAL archiver, wraparound ages. Each is
# produced for real on a throwaway server and must come out as its finding.
. "$(dirname "$0")/lib.sh"

PROBE_RUN=${PROBE_RUN:-$TOOLS/probe_run}
[ -x "$PROBE_RUN" ] || bail "probe_run not built: make tests"
pg_start max_connections=12 max_prepared_transactions=4 archive_mode=on \
	"archive_command='/bin/false'" || bail "pg_start"
pyj() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
PSQL=("$PG_BIN/psql" -X -q -h "$PGHOST" -p "$PGPORT" -U postgres -d erp)

MONPW="mon-$RANDOM$RANDOM"
pg_sql -c "CREATE DATABASE erp" || bail "create database"
pg_sql -c "CREATE ROLE erpulse_monitor LOGIN PASSWORD '$MONPW'; GRANT pg_monitor TO erpulse_monitor" ||
	bail "create role"
pg_sql -d erp <<'SQL' >/dev/null || bail "tables"
CREATE TABLE stock_quant (id int PRIMARY KEY, qty int) WITH (autovacuum_enabled = false);
INSERT INTO stock_quant SELECT g, g FROM generate_series(1, 50000) g;
DELETE FROM stock_quant WHERE id % 10 < 4;
CREATE TABLE audit (id int);
SELECT pg_switch_wal() IS NOT NULL;
SQL

# sessions: idle in transaction, a long transaction, a prepared transaction,
# and sleepers filling the connection slots
sleeper() { # sleeper SQL...: a background session fed by a pipe that stays open
	{ printf '%s\n' "$@"; sleep 60; } | "${PSQL[@]}" >/dev/null 2>&1 &
	on_exit "kill $! 2>/dev/null"
}
sleeper "SET application_name = 'idle';" "BEGIN;" "SELECT txid_current();"
sleeper "SET application_name = 'long';" "BEGIN;" "SELECT txid_current();" "SELECT pg_sleep(60);"
for i in 1 2 3 4 5; do sleeper "SET application_name = 'sleeper';" "SELECT 1;"; done
"${PSQL[@]}" -c "BEGIN" -c "INSERT INTO audit VALUES (1)" -c "PREPARE TRANSACTION 'erp-close-2026-11'" ||
	bail "prepare transaction"
on_exit "pg_sql -d erp -c \"ROLLBACK PREPARED 'erp-close-2026-11'\""
sessions_up() { [ "$(pg_sql -c "SELECT count(*) FROM pg_stat_activity WHERE application_name IN ('idle', 'long', 'sleeper')")" -ge 7 ]; }
archiver_failed() { [ "$(pg_sql -c 'SELECT failed_count FROM pg_stat_archiver')" -ge 1 ]; }
dead_counted() { [ "$(pg_sql -d erp -c "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'stock_quant'")" -ge 20000 ]; }
wait_for 10 sessions_up || bail "background sessions did not connect"
# the archiver must have failed at least once; the delete's statistics flushed
wait_for 20 archiver_failed || bail "the archiver did not fail"
wait_for 20 dead_counted || bail "dead tuples not in the statistics"
sleep 2 # ages above the 1 s thresholds
tap_ok "idle, long, prepared and sleeping sessions are there; the archiver fails"

cat >"$T/agent.conf" <<EOF2
[postgres.erp]
conninfo = host=127.0.0.1 port=$PGPORT user=erpulse_monitor password=$MONPW dbname=erp
databases = erp
long_transaction = 1s
idle_in_transaction = 1s
dead_tuples_min = 1000
EOF2
"$PROBE_RUN" "$T/agent.conf" postgres.erp >"$T/r.json" 2>"$T/r.err"
sed 's/^/# /' "$T/r.err"
tap_is "status ok as erpulse_monitor" "$(pyj "$T/r.json" "(j['status'], j['metrics']['role'])")" "('ok', 'erpulse_monitor')"
kinds() { pyj "$T/r.json" "sorted((f['object'], f['severity']) for f in j['findings'] if f['kind']=='$1')"; }
msg() { pyj "$T/r.json" "[f['$2'] for f in j['findings'] if f['kind']=='$1'][0]"; }
pyj "$T/r.json" "'\n'.join('# %-20s %-40s %8.1f %s' % (f['kind'], f['object'], f['value'], f['severity']) for f in j['findings'])"

tap_like "dead tuples: 40% of stock_quant, with the VACUUM to run" \
	"$(kinds dead_tuples) $(msg dead_tuples remediation)" \
	"erp/public.stock_quant', 'warning'.*VACUUM \(ANALYZE\) \"public\".\"stock_quant\";"
tap_check "dead tuples figure is 40% (20000 of 50000)" python3 -c \
	"import sys; sys.exit(0 if abs($(msg dead_tuples value) - 40) < 0.01 else 1)"
tap_like "idle in transaction: the session is named" "$(kinds idle_in_transaction)" "pid [0-9]+ \(postgres@erp\)', 'warning'"
tap_like "long transaction: the running one" "$(pyj "$T/r.json" "[f['message'] for f in j['findings'] if f['kind']=='long_transaction' and f['object'].startswith('pid')]")" "transaction running for"
tap_like "prepared transaction holding back xmin" "$(kinds long_transaction)" "prepared erp-close-2026-11 \(erp\)', 'warning'"
tap_is "no query text in any finding (it may hold customer data)" \
	"$(pyj "$T/r.json" "any('txid_current' in json.dumps(f) or 'pg_sleep' in json.dumps(f) for f in j['findings'])")" False
tap_like "connections: 8 of 9 usable -> warning" "$(kinds connections) $(msg connections message)" \
	"warning.*[89] of 9 usable connections"
tap_like "WAL archiver failing -> critical" "$(kinds wal_archiver) $(msg wal_archiver message)" \
	"critical.*archiving is FAILING"
tap_like "wraparound ages per database, info" "$(kinds xid_wraparound)" "\('erp', 'info'\)"
tap_like "metrics: server version, cache hit ratio, archiver" \
	"$(pyj "$T/r.json" "(j['metrics']['server_version_num'] // 10000, 'cache_hit_ratio' in j['metrics'], j['metrics']['archiver']['failing'])")" \
	"^\(15, True, True\)$"
tap_done
