#!/bin/bash
# erp probe on fixture schemas of Odoo, ERPNext, iDempiere and Dolibarr
# (tests/fixtures/erp/*.sql: tables and columns from the projects' published
# definitions, activity in known numbers). One probe run examines the four
# databases and one without an ERP; every count must equal the numbers the
# fixtures inserted (worked out in the comments below).
. "$(dirname "$0")/lib.sh"

PROBE_RUN=${PROBE_RUN:-$TOOLS/probe_run}
[ -x "$PROBE_RUN" ] || bail "probe_run not built: make tests"
pg_start || bail "pg_start"
pyj() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

for erp in odoo erpnext idempiere dolibarr; do
	pg_sql -c "CREATE DATABASE $erp" && pg_sql -d "$erp" -f "$SRC/tests/fixtures/erp/$erp.sql" >/dev/null ||
		bail "load tests/fixtures/erp/$erp.sql"
done
pg_sql -c "CREATE DATABASE plain" && pg_sql -d plain -c "CREATE TABLE res_users (id int)" || bail "plain database"
tap_ok "fixture schemas loaded"

cat >"$T/agent.conf" <<EOF2
[erp]
conninfo = $PG_CONNINFO
databases = odoo erpnext idempiere dolibarr plain
EOF2
"$PROBE_RUN" "$T/agent.conf" erp >"$T/r.json" 2>"$T/r.err"
sed 's/^/# /' "$T/r.err"
tap_is "status ok, five databases examined" "$(pyj "$T/r.json" '(j["status"], j["metrics"]["databases_examined"])')" "('ok', 5)"
tap_is "applications detected from their schema (none where there is none)" \
	"$(pyj "$T/r.json" 'sorted(j["metrics"]["applications"].items()), j["metrics"]["databases"]["plain"]["application"]')" \
	"([('dolibarr', 'dolibarr'), ('erpnext', 'erpnext'), ('idempiere', 'idempiere'), ('odoo', 'odoo')], None)"

# usage DB: the usage figures in a fixed order (None = not measured)
usage() {
	pyj "$T/r.json" "(lambda u: ' '.join(str(u.get(k, (u.get('documents_7d') or {}).get(k))) for k in
	('users_enabled', 'active_users_1d', 'active_users_7d', 'active_users_30d', 'logins_7d', 'failed_logins_7d',
	 'sales_orders', 'invoices', 'stock_moves', 'purchase_orders', 'journal_entries',
	 'cron_active', 'cron_late', 'cron_failing', 'queue_backlog', 'sessions')))(j['metrics']['databases']['$1']['usage'])"
}
db() { pyj "$T/r.json" "j['metrics']['databases']['$1']$2"; }
finding() { pyj "$T/r.json" "sorted((f['kind'], f['severity'], f['object']) for f in j['findings'] if f['object'].startswith('$1/'))"; }

# Odoo 15: users 1-9 active, 9 is a portal (share) user -> 8; logins: users 1-4
# within a day, +5,6 within 7 days, +7 within 30; 7 logins in 7 days; failed
# logins not stored; sales at 0-4 days (+2 older); invoices at 1-5 days;
# entries at 1-9 days -> 6; stock moves daily 0-11 -> 7; purchases every 3
# days -> 3; 3 active crons, one 3 h late; failure_count absent in 15;
# queue_job: 4 waiting; sessions are files.
tap_is "odoo: usage counts" "$(usage odoo)" "8 4 6 7 7 None 5 5 7 3 6 3 1 None 4 None"
tap_is "odoo: version, series, modules" "$(db odoo "['version'], j['metrics']['databases']['odoo']['series'], ' '.join(j['metrics']['databases']['odoo']['modules'])")" \
	"('15.0.1.3', '15.0', 'account base purchase queue_job sale stock')"
tap_is "odoo: a missing column is named, not an error" "$(db odoo "['unavailable'].get('cron_failing')")" \
	"column not present (other release)"
tap_like "odoo 15: out of support -> erp_version_lag critical; late cron -> erp_jobs_late" "$(finding odoo)" \
	"\('erp_jobs_late', 'warning', 'odoo/cron'\), \('erp_version_lag', 'critical', 'odoo/odoo'\)"

# ERPNext 15: 8 enabled system users: 3 active today, +2 in 7 days, +1 in 30;
# login log every 5 h: 33 within 7 days, 8 of them failed; sales orders daily
# -> 7; invoices: sales every 2 days (4) + purchase every 4 days (2); stock
# ledger every 6 h -> 28; purchase orders every 10 days -> 1; journal entries
# every 3 days -> 3; 5 running jobs: an hourly one 5 h late, a daily one 3
# days late; 2 job types failed in the last day; RQ is in Redis; 11 sessions.
tap_is "erpnext: usage counts" "$(usage erpnext)" "8 3 5 6 25 8 7 6 28 1 3 5 2 2 None 11"
tap_is "erpnext: version and apps" "$(db erpnext "['version'], ' '.join(j['metrics']['databases']['erpnext']['modules'])")" \
	"('15.38.0', 'erpnext frappe hrms')"
tap_like "erpnext: late and failing jobs found" "$(finding erpnext)" \
	"\('erp_jobs_failing', 'warning', 'erpnext/cron'\), \('erp_jobs_late', 'warning', 'erpnext/cron'\)"

# iDempiere 9 (schema adempiere): 3 active unlocked users with 3+2 failed-login
# counters; sessions: 2 users today, +1 within 7 days, +1 within 30; 4
# sessions in 7 days; orders every 12 h: 13 in 7 days, every third a purchase
# (4); invoices every 2 days -> 3; inventory moves hourly -> 167; GL journals
# every 5 days -> 2; 2 active schedulers, one late, one failing; 6 sessions.
tap_is "idempiere: usage counts" "$(usage idempiere)" "3 2 3 4 4 None 9 3 167 4 2 2 1 1 None 6"
tap_is "idempiere: failed-login counters" "$(db idempiere "['usage']['failed_login_counters']")" 5
tap_is "idempiere: schema, version, modules" \
	"$(db idempiere "['schema'], j['metrics']['databases']['idempiere']['version'], j['metrics']['databases']['idempiere']['modules']")" \
	"('adempiere', '9', ['D', 'EE01', 'U'])"
tap_like "idempiere 9: three majors behind -> erp_version_lag warning" "$(finding idempiere)" \
	"\('erp_version_lag', 'warning', 'idempiere/idempiere'\)"

# Dolibarr 17.0.4 (upgraded from 16): 5 enabled users: 1 today, +1 in 7 days,
# +1 in 30; security events every 4 h: 41 in 7 days, 13 failed; orders daily
# -> 6; invoices every 2 days -> 3; stock moves every 10 h -> 16; supplier
# orders every 5 days -> 2; ledger lines hourly -> 12; 4 active jobs, 1 late,
# 1 failing; PHP sessions.
tap_is "dolibarr: usage counts" "$(usage dolibarr)" "5 1 2 3 28 13 6 3 16 2 12 4 1 1 None None"
tap_is "dolibarr: version from MAIN_VERSION_LAST_UPGRADE, modules from MAIN_MODULE_*" \
	"$(db dolibarr "['version'], j['metrics']['databases']['dolibarr']['modules']")" \
	"('17.0.4', ['commande', 'facture', 'societe', 'stock'])"
tap_like "dolibarr 17: behind -> erp_version_lag warning" "$(finding dolibarr)" \
	"\('erp_version_lag', 'warning', 'dolibarr/dolibarr'\)"
tap_check "no business value or user name in the report" \
	bash -c "! grep -qE 'Secret Company|not-for-the-probe|GardenWorld|admin@|\"u1\"' '$T/r.json'"
# The postgres probe names the ERP module and business function of an index
# on a known ERP table (issue 14, item 3): sale_order_pkey on Odoo's fixture.
pg_sql -d odoo -c "CREATE EXTENSION IF NOT EXISTS pgstattuple" >/dev/null || bail "pgstattuple"
cat >"$T/pg.conf" <<EOF2
[postgres]
conninfo = $PG_CONNINFO
databases = odoo
min_index_pages = 1
EOF2
"$PROBE_RUN" "$T/pg.conf" postgres >"$T/pg.json" 2>"$T/pg.err"
sed 's/^/# /' "$T/pg.err"
tap_is "postgres probe: sale_order_pkey names module and business function" \
	"$(pyj "$T/pg.json" "[(f.get('erp_module'), f.get('erp_function'), f.get('table')) for f in j['findings'] if f['object'] == 'odoo/public.sale_order_pkey']")" \
	"[('sale', 'sales orders', 'sale_order')]"
tap_is "  ... and an index of a table the map does not know carries nothing" \
	"$(pyj "$T/pg.json" "sorted(set(f.get('erp_module') for f in j['findings'] if f['kind'] == 'index_fragmentation' and f.get('table') is None))")" \
	"[None]"
# A table-level finding on a known ERP table carries the same annotation:
# every row of Odoo's stock_move updated once with autovacuum off for it ->
# half its tuples dead -> dead_tuples names module stock, business function
# "stock moves" (month-end itself: tests/unit/test_erp.c, time injected).
pg_sql -d odoo -c "ALTER TABLE stock_move SET (autovacuum_enabled = false)" \
	-c "UPDATE stock_move SET product_uom_qty = product_uom_qty" >/dev/null || bail "stock_move update"
# statistics reach pg_stat_user_tables when the updating session ends (it
# flushes them on exit); wait for that condition, bounded by 60 s rather than
# a guess of how long a busy machine takes
stock_move_dead() {
	[ "$(pg_sql -d odoo -c "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'stock_move'")" -gt 0 ]
}
wait_for 60 stock_move_dead || bail "the dead tuples of stock_move never reached pg_stat_user_tables"
cat >"$T/pgt.conf" <<EOF2
[postgres]
conninfo = $PG_CONNINFO
databases = odoo
dead_tuples_min = 1
dead_tuples_pct = 10
month_end_days = 0
EOF2
"$PROBE_RUN" "$T/pgt.conf" postgres >"$T/pgt.json" 2>"$T/pgt.err"
sed 's/^/# /' "$T/pgt.err"
tap_is "postgres probe: dead_tuples on stock_move names module and business function" \
	"$(pyj "$T/pgt.json" "[(f['severity'], f.get('table'), f.get('erp_module'), f.get('erp_function'), f.get('erp_table'), f.get('month_end')) for f in j['findings'] if f['kind'] == 'dead_tuples' and f['object'] == 'odoo/public.stock_move']")" \
	"[('warning', 'stock_move', 'stock', 'stock moves', 'stock_move: stock moves, module stock', None)]"
tap_done
