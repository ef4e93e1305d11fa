#!/bin/bash
# erp probe against a real Tryton (6.0, with the sale, stock, purchase and
# account modules). By default the database is tests/fixtures/erp/
# tryton-6.0.sql.gz: a dump of a real trytond-admin run (its whole schema and
# the rows of ir_module, ir_cron, res_user, ir_configuration; regenerate with
# tests/fixtures/erp/make-tryton-dump.sh), because trytond-admin takes 2.5 to
# more than 6 minutes on a busy 2-core machine (docs/probes-erp.md, "Tests").
# ERP_TRYTON_LIVE=1 runs trytond-admin itself (Debian's tryton-server, see
# scripts/install-deps) and reads the version from the installed package.
# Activity is inserted with SQL in known numbers (foreign keys off for the
# inserting session only), so the probe's counts are checked against figures
# this script chose, and against independent SQL. Then: the probe as a role
# granted only the columns docs/probes-erp.md lists for Tryton; `usage = no`;
# the deadline held on a session table of a million rows.
. "$(dirname "$0")/lib.sh"

PROBE_RUN=${PROBE_RUN:-$TOOLS/probe_run}
[ -x "$PROBE_RUN" ] || bail "probe_run not built: make tests"
pg_start || bail "pg_start"
pyj() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

pg_sql -c "CREATE DATABASE tryton" || bail "create database"
t0=$(date +%s)
if [ "${ERP_TRYTON_LIVE:-0}" = 1 ]; then
	command -v trytond-admin >/dev/null && /usr/bin/python3 -c 'import psycopg2' 2>/dev/null ||
		bail "ERP_TRYTON_LIVE=1 needs trytond-admin and python3-psycopg2 (scripts/install-deps)"
	cat >"$T/trytond.conf" <<EOF2
[database]
uri = postgresql://$PG_SUPERUSER:$PG_SUPERPASS@127.0.0.1:$PGPORT/
EOF2
	echo "admin-$RANDOM" >"$T/admin.pass"
	# one pass: create the schema and activate the four modules with their dependencies
	TRYTONPASSFILE=$T/admin.pass trytond-admin -c "$T/trytond.conf" -d tryton --all \
		--email admin@example.invalid -u sale stock purchase account --activate-dependencies \
		>"$T/trytond-admin.log" 2>&1 || { tail -20 "$T/trytond-admin.log"; bail "trytond-admin"; }
	ROOT=/
	want_version=$(/usr/bin/python3 -c 'import runpy; print(runpy.run_path("/usr/lib/python3/dist-packages/trytond/__init__.py")["__version__"])')
	tap_ok "trytond-admin initialised the database and activated sale stock purchase account in $(($(date +%s) - t0)) s"
else
	gzip -dc "$SRC/tests/fixtures/erp/tryton-6.0.sql.gz" |
		PGOPTIONS="-c session_replication_role=replica" pg_sql -d tryton >/dev/null ||
		bail "restore tests/fixtures/erp/tryton-6.0.sql.gz"
	ROOT=$SRC/tests/fixtures/erp/tryton-root
	want_version=6.0.29
	tap_ok "real Tryton 6.0 schema restored from its dump in $(($(date +%s) - t0)) s"
fi

# Activity, in known numbers: "recent" rows inside the 7-day window, "old"
# rows outside it. Tryton stores naive UTC timestamps.
pg_sql -d tryton <<'SQL' || bail "insert activity"
SET session_replication_role = replica; -- no FK checks: counts only, no real documents
CREATE TEMP TABLE t AS SELECT (now() AT TIME ZONE 'UTC') AS now;
SELECT setval('res_user_id_seq', (SELECT max(id) FROM res_user)); -- the dump has rows, not sequences
INSERT INTO res_user (name, login, active, menu) SELECT 'user ' || g, 'u' || g, g <= 8, 1 FROM generate_series(1, 10) g;
-- sessions: 3 users today, 2 more within 7 days, 1 more within 30, 1 stale (60 days)
INSERT INTO ir_session (key, create_uid, create_date, write_date)
SELECT md5(g::text || random()), u.id, (SELECT now FROM t) - a, (SELECT now FROM t) - a
FROM (VALUES (1, interval '1 hour'), (2, interval '2 hours'), (3, interval '3 hours'),
             (3, interval '5 hours'), (4, interval '3 days'), (5, interval '6 days'),
             (6, interval '20 days'), (7, interval '60 days')) AS s(n, a)
JOIN LATERAL (SELECT id FROM res_user WHERE login = 'u' || s.n) u ON true,
     generate_series(1, 1) g;
INSERT INTO res_user_login_attempt (login, create_date)
SELECT 'x', (SELECT now FROM t) - g * interval '1 hour' FROM generate_series(1, 12) g;
INSERT INTO res_user_login_attempt (login, create_date)
SELECT 'x', (SELECT now FROM t) - interval '9 days' FROM generate_series(1, 4) g;
INSERT INTO sale_sale (company, currency, party, invoice_method, invoice_state, shipment_method, shipment_state, state, create_date)
SELECT 1, 1, 1, 'order', 'none', 'order', 'none', 'draft', (SELECT now FROM t) - g * interval '1 day' FROM generate_series(0, 9) g;
INSERT INTO purchase_purchase (company, currency, party, invoice_method, invoice_state, shipment_state, state, create_date)
SELECT 1, 1, 1, 'order', 'none', 'none', 'draft', (SELECT now FROM t) - g * interval '2 days' FROM generate_series(0, 9) g;
INSERT INTO stock_move (company, from_location, to_location, product, uom, quantity, internal_quantity, state, create_date)
SELECT 1, 1, 2, 1, 1, 1, 1, 'draft', (SELECT now FROM t) - g * interval '3 hours' FROM generate_series(0, 99) g;
INSERT INTO account_invoice (account, company, currency, invoice_address, journal, party, type, state, create_date)
SELECT 1, 1, 1, 1, 1, 1, 'out', 'draft', (SELECT now FROM t) - g * interval '1 day' FROM generate_series(0, 14) g;
INSERT INTO account_move (company, date, journal, number, period, state, create_date)
SELECT 1, current_date, 1, 'M' || g, 1, 'draft', (SELECT now FROM t) - g * interval '12 hours' FROM generate_series(0, 29) g;
INSERT INTO ir_queue (name, data, enqueued_at, finished_at)
SELECT 'ir.cron', '{}', (SELECT now FROM t) - g * interval '1 hour', CASE WHEN g > 5 THEN (SELECT now FROM t) END FROM generate_series(1, 9) g;
-- one active scheduled job overdue by a day
UPDATE ir_cron SET next_call = (SELECT now FROM t) - interval '1 day'
 WHERE id = (SELECT min(id) FROM ir_cron WHERE active);
ANALYZE;
SQL
tap_ok "activity inserted"

cat >"$T/agent.conf" <<EOF2
[erp.su]
conninfo = $PG_CONNINFO dbname=tryton
databases = tryton
EOF2
"$PROBE_RUN" "$T/agent.conf" erp.su --root "$ROOT" --state "$T/state.json" >"$T/su.json" 2>"$T/su.err"
sed 's/^/# /' "$T/su.err"
m() { pyj "${2:-$T/su.json}" "j['metrics']['databases']['tryton']$1"; }
tap_is "status ok" "$(pyj "$T/su.json" 'j["status"]')" ok
tap_is "application detected from the schema" "$(m "['application']")" tryton
tap_is "version from the installed trytond package" "$(m "['version']")" "$want_version"
tap_is "series" "$(m "['series']")" "$(echo "$want_version" | cut -d. -f1-2)"
tap_is "activated modules equal ir_module's" "$(pyj "$T/su.json" "' '.join(j['metrics']['databases']['tryton']['modules'])")" \
	"$(pg_sql -d tryton -c "SELECT string_agg(name, ' ' ORDER BY name) FROM ir_module WHERE state = 'activated'")"
tap_like "modules include sale stock purchase account" "$(m "['modules']")" "'account'.*'purchase'.*'sale'.*'stock'"
# Release table: 6.0 LTS ends 2026-05-03; from then on the finding is critical.
want_lag=$(python3 -c 'import datetime,sys; print("critical" if datetime.date.today() >= datetime.date(2026,5,3) else "warning")')
lag=$(pyj "$T/su.json" "[(f['severity'], f['object']) for f in j['findings'] if f['kind']=='erp_version_lag']")
if [ "$want_lag" = critical ]; then
	tap_is "erp_version_lag: 6.0 out of support -> critical" "$lag" "[('critical', 'tryton/tryton')]"
else
	tap_is "erp_version_lag: 6.0 one major behind, supported -> none" "$lag" "[]"
fi

# usage counts: the numbers inserted above, and independent SQL
U="['usage']"
got=$(m "$U" | python3 -c 'import ast,sys; u=ast.literal_eval(sys.stdin.read()); d=u["documents_7d"];
print(u["active_users_1d"], u["active_users_7d"], u["active_users_30d"], u["logins_7d"], u["failed_logins_7d"],
d["sales_orders"], d["purchase_orders"], d["stock_moves"], d["invoices"], d["journal_entries"], u["queue_backlog"], u["cron_late"])')
# inserted: users 1-3 today, 4-5 within 7 days, 6 within 30; 6 sessions within 7 days
# (logins); 12 failed attempts within 7 days; sales at 0..6 days = 7 (day 7 is the edge:
# excluded); purchases at 0,2,4,6 = 4; stock moves every 3 h: 56 within 168 h; invoices 0..6 = 7;
# journal entries every 12 h: 0..6.5 days = 14; queue: 5 unfinished; 1 overdue job.
tap_is "usage counts equal the activity inserted" "$got" "3 5 6 6 12 7 4 56 7 14 5 1"
indep=$(pg_sql -d tryton -F' ' <<'SQL'
WITH n AS (SELECT now() AT TIME ZONE 'UTC' AS t)
SELECT (SELECT count(DISTINCT create_uid) FROM ir_session, n WHERE coalesce(write_date, create_date) > n.t - interval '24 hours'),
       (SELECT count(DISTINCT create_uid) FROM ir_session, n WHERE coalesce(write_date, create_date) > n.t - interval '168 hours'),
       (SELECT count(DISTINCT create_uid) FROM ir_session, n WHERE coalesce(write_date, create_date) > n.t - interval '720 hours'),
       (SELECT count(*) FROM ir_session, n WHERE create_date > n.t - interval '168 hours'),
       (SELECT count(*) FROM res_user_login_attempt, n WHERE create_date > n.t - interval '168 hours'),
       (SELECT count(*) FROM sale_sale, n WHERE create_date > n.t - interval '168 hours'),
       (SELECT count(*) FROM purchase_purchase, n WHERE create_date > n.t - interval '168 hours'),
       (SELECT count(*) FROM stock_move, n WHERE create_date > n.t - interval '168 hours'),
       (SELECT count(*) FROM account_invoice, n WHERE create_date > n.t - interval '168 hours'),
       (SELECT count(*) FROM account_move, n WHERE create_date > n.t - interval '168 hours'),
       (SELECT count(*) FROM ir_queue WHERE finished_at IS NULL),
       (SELECT count(*) FROM ir_cron, n WHERE active AND next_call < n.t - interval '60 minutes')
SQL
)
tap_is "usage counts equal independent SQL" "$got" "$indep"
tap_is "sessions: exact row count" "$(m "$U['sessions']")" "$(pg_sql -d tryton -c 'SELECT count(*) FROM ir_session')"
tap_is "users enabled (active, not root)" "$(m "$U['users_enabled']")" \
	"$(pg_sql -d tryton -c 'SELECT count(*) FROM res_user WHERE active AND id > 0')"
tap_like "overdue job -> erp_jobs_late on tryton/ir_cron" \
	"$(pyj "$T/su.json" "[(f['kind'], f['object'], f['value']) for f in j['findings'] if f['kind']=='erp_jobs_late']")" \
	"\('erp_jobs_late', 'tryton/ir_cron', 1"

# Least privilege: a role granted only the columns docs/probes-erp.md lists for Tryton.
grants=$(python3 "$SRC/tests/fixtures/erp/grants.py" "$SRC/docs/probes-erp.md" Tryton erp_mon postgresql tryton)
echo "$grants" | sed 's/^/# /'
MONPW="mon-$RANDOM$RANDOM"
pg_sql -d tryton -c "CREATE ROLE erp_mon LOGIN PASSWORD '$MONPW'; GRANT USAGE ON SCHEMA public TO erp_mon; $grants" ||
	bail "grants"
cat >>"$T/agent.conf" <<EOF2

[erp.mon]
conninfo = host=127.0.0.1 port=$PGPORT user=erp_mon password=$MONPW dbname=tryton
databases = tryton
EOF2
"$PROBE_RUN" "$T/agent.conf" erp.mon --root "$ROOT" >"$T/mon.json" 2>"$T/mon.err"
sed 's/^/# /' "$T/mon.err"
tap_is "least-privilege role: status ok, nothing unavailable" \
	"$(pyj "$T/mon.json" "(j['status'], j['metrics']['databases']['tryton'].get('unavailable'))")" "('ok', None)"
tap_is "least-privilege role: same usage figures as the superuser" \
	"$(pyj "$T/mon.json" "j['metrics']['databases']['tryton']['usage']")" "$(m "$U")"
tap_check "least-privilege role cannot read a business column (sale_sale.number)" \
	bash -c "! PGPASSWORD=$MONPW $PG_BIN/psql -X -qAt -h 127.0.0.1 -p $PGPORT -U erp_mon -d tryton -c 'SELECT number FROM sale_sale' 2>/dev/null"
tap_check "least-privilege role cannot read res_user.login" \
	bash -c "! PGPASSWORD=$MONPW $PG_BIN/psql -X -qAt -h 127.0.0.1 -p $PGPORT -U erp_mon -d tryton -c 'SELECT login FROM res_user' 2>/dev/null"

# usage = no: application, version and modules only
cat >>"$T/agent.conf" <<EOF2

[erp.nousage]
conninfo = $PG_CONNINFO dbname=tryton
databases = tryton
usage = no
EOF2
"$PROBE_RUN" "$T/agent.conf" erp.nousage >"$T/nousage.json" 2>/dev/null
tap_is "usage = no: no usage block, application still reported" \
	"$(pyj "$T/nousage.json" "('usage' in j['metrics']['databases']['tryton'], j['metrics']['databases']['tryton']['application'])")" \
	"(False, 'tryton')"

# A million stale sessions: the probe keeps its deadline, reports the
# table, and the growth since the previous cycle.
pg_sql -d tryton -c "SET session_replication_role = replica; INSERT INTO ir_session (key, create_uid, create_date, write_date)
	SELECT md5(g::text), 2 + g % 5, now() AT TIME ZONE 'UTC' - interval '90 days', NULL FROM generate_series(1, 1000000) g; ANALYZE ir_session" ||
	bail "million sessions"
sed -i 's/^\[erp.su\]$/[erp.su]\nstatement_timeout = 2s/' "$T/agent.conf"
# the previous cycle was an hour ago (the state's clock, not a sleep)
python3 -c 'import json,sys; p=sys.argv[1]; j=json.load(open(p)); [v.__setitem__("at", v["at"] - 3600) for v in j["sessions"].values()]; json.dump(j, open(p, "w"))' "$T/state.json" ||
	bail "state clock"
t0=$(date +%s%N)
"$PROBE_RUN" "$T/agent.conf" erp.su --root "$ROOT" --state "$T/state.json" --timeout-ms 3000 >"$T/big.json" 2>/dev/null
ms=$((($(date +%s%N) - t0) / 1000000))
echo "# probe over a million-row ir_session: ${ms} ms (deadline 3000 ms); duration_ms $(pyj "$T/big.json" 'j["duration_ms"]')"
echo "# unavailable: $(m "['get']('unavailable')" "$T/big.json" 2>/dev/null || m ".get('unavailable')" "$T/big.json")"
tap_check "deadline held: probe returned within 3 s + 0.5 s (took $ms ms)" test "$ms" -le 3500
tap_is "status ok on the million-row table" "$(pyj "$T/big.json" 'j["status"]')" ok
tap_like "erp_session_table finding names the table, its module and function" \
	"$(pyj "$T/big.json" "[(f['object'], f['erp_module'], f['erp_function']) for f in j['findings'] if f['kind']=='erp_session_table']")" \
	"\('tryton/ir_session', 'ir', 'web sessions'\)"
tap_like "session growth per day from the previous cycle's state (a million rows in seconds)" \
	"$(m "['usage'].get('sessions_growth_per_day')" "$T/big.json")" '^[0-9.]+(e\+[0-9]+)?$'
# A deadline shorter than the statements need: the probe stops at it, and
# says which figures it could not measure.
t0=$(date +%s%N)
"$PROBE_RUN" "$T/agent.conf" erp.su --root "$ROOT" --timeout-ms 400 >"$T/short.json" 2>/dev/null
ms=$((($(date +%s%N) - t0) / 1000000))
echo "# 400 ms deadline: took $ms ms; status $(pyj "$T/short.json" 'j["status"]'); unavailable: $(m ".get('unavailable')" "$T/short.json" 2>/dev/null)"
tap_check "400 ms deadline held on the million-row table (took $ms ms, limit 400 + 500)" test "$ms" -le 900
tap_done
