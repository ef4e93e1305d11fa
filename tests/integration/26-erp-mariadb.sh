#!/bin/bash
# erp probe on MariaDB through ODBC (`connection = ...;DATABASE=...`): the
# ERPNext and Dolibarr fixtures of 25-erp-fixtures.sh built as those ERPs
# build them on MariaDB (tests/fixtures/erp/*-mariadb.sql), with the same
# activity, so the same counts are expected; ERPNext again as a user granted
# only the columns docs/probes-erp.md lists.
. "$(dirname "$0")/lib.sh"

PROBE_RUN=${PROBE_RUN:-$TOOLS/probe_run}
[ -x "$PROBE_RUN" ] || bail "probe_run not built: make tests"
mariadb_start || bail "mariadb_start"
odbc_setup || bail "odbc_setup"
[ -n "${ODBC_MARIADB_CONN:-}" ] || bail "MariaDB Connector/ODBC not found (odbc-mariadb)"
pyj() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

for erp in erpnext dolibarr; do
	mariadb_sql -e "CREATE DATABASE $erp" && mariadb_sql "$erp" <"$SRC/tests/fixtures/erp/$erp-mariadb.sql" ||
		bail "load tests/fixtures/erp/$erp-mariadb.sql"
done
tap_ok "fixture schemas loaded into MariaDB"

cat >"$T/agent.conf" <<EOF2
[erp.erpnext]
connection = $ODBC_MARIADB_CONN;DATABASE=erpnext

[erp.dolibarr]
connection = $ODBC_MARIADB_CONN;DATABASE=dolibarr

[erp.nodb]
connection = $ODBC_MARIADB_CONN
EOF2
usage() {
	pyj "$1" "(lambda u: ' '.join(str(u.get(k, (u.get('documents_7d') or {}).get(k))) for k in
	('users_enabled', 'active_users_1d', 'active_users_7d', 'active_users_30d', 'logins_7d', 'failed_logins_7d',
	 'sales_orders', 'invoices', 'stock_moves', 'purchase_orders', 'journal_entries',
	 'cron_active', 'cron_late', 'cron_failing', 'queue_backlog', 'sessions')))(j['metrics']['databases']['$2']['usage'])"
}
for erp in erpnext dolibarr; do
	"$PROBE_RUN" "$T/agent.conf" "erp.$erp" >"$T/$erp.json" 2>"$T/$erp.err"
	sed 's/^/# /' "$T/$erp.err"
	tap_is "$erp on MariaDB: status ok, detected" \
		"$(pyj "$T/$erp.json" "(j['status'], j.get('error'), j['metrics']['applications'])")" "('ok', None, {'$erp': '$erp'})"
done
# the counts of 25-erp-fixtures.sh (worked out there)
tap_is "erpnext on MariaDB: usage counts as on PostgreSQL" "$(usage "$T/erpnext.json" erpnext)" "8 3 5 6 25 8 7 6 28 1 3 5 2 2 None 11"
tap_is "erpnext on MariaDB: version and apps" \
	"$(pyj "$T/erpnext.json" "(j['metrics']['databases']['erpnext']['version'], j['metrics']['databases']['erpnext']['modules'])")" \
	"('15.38.0', ['erpnext', 'frappe', 'hrms'])"
tap_is "dolibarr on MariaDB: usage counts as on PostgreSQL" "$(usage "$T/dolibarr.json" dolibarr)" "5 1 2 3 28 13 6 3 16 2 12 4 1 1 None None"
tap_is "dolibarr on MariaDB: version and modules" \
	"$(pyj "$T/dolibarr.json" "(j['metrics']['databases']['dolibarr']['version'], j['metrics']['databases']['dolibarr']['modules'])")" \
	"('17.0.4', ['commande', 'facture', 'societe', 'stock'])"
tap_like "dolibarr 17 on MariaDB: erp_version_lag" \
	"$(pyj "$T/dolibarr.json" "[(f['kind'], f['severity']) for f in j['findings']]")" "\('erp_version_lag', 'warning'\)"
"$PROBE_RUN" "$T/agent.conf" erp.nodb >"$T/nodb.json" 2>/dev/null
echo "# without DATABASE=: $(pyj "$T/nodb.json" "(j['status'], j.get('error'), list(j['metrics']['databases']))")"
tap_like "a connection without DATABASE= is refused with a clear text" "$(pyj "$T/nodb.json" "j.get('error')")" \
	"no database selected: add DATABASE="

# least privilege on MariaDB: the ERPNext columns of docs/probes-erp.md
grants=$(python3 "$SRC/tests/fixtures/erp/grants.py" "$SRC/docs/probes-erp.md" ERPNext "erp_mon@'127.0.0.1'" mariadb erpnext)
echo "$grants" | sed 's/^/# /'
MONPW="mon-$RANDOM$RANDOM"
mariadb_sql -e "CREATE USER erp_mon@'127.0.0.1' IDENTIFIED BY '$MONPW'; $grants" || bail "grants"
cat >>"$T/agent.conf" <<EOF2

[erp.mon]
connection = DSN=$ODBC_MARIADB_DSN;UID=erp_mon;PWD=$MONPW;DATABASE=erpnext
EOF2
"$PROBE_RUN" "$T/agent.conf" erp.mon >"$T/mon.json" 2>"$T/mon.err"
sed 's/^/# /' "$T/mon.err"
tap_is "erpnext on MariaDB as a user granted only the listed columns: ok, nothing unavailable" \
	"$(pyj "$T/mon.json" "(j['status'], j['metrics']['databases']['erpnext'].get('unavailable'))")" "('ok', None)"
tap_is "... and the same figures" "$(usage "$T/mon.json" erpnext)" "8 3 5 6 25 8 7 6 28 1 3 5 2 2 None 11"

# The odbc probe's table findings on a known ERP table name its module and
# business function (issue 14 item 3): every table judged (min_table_mb = 0).
cat >>"$T/agent.conf" <<EOF2

[odbc.erpnext]
connection = $ODBC_MARIADB_CONN;DATABASE=erpnext
min_table_mb = 0
innodb_page_scan = no
month_end_days = 0
EOF2
"$PROBE_RUN" "$T/agent.conf" odbc.erpnext >"$T/odbc.json" 2>"$T/odbc.err"
sed 's/^/# /' "$T/odbc.err"
tap_is "odbc probe: tabSales Invoice names module and business function" \
	"$(pyj "$T/odbc.json" "sorted(set((f['object'], f.get('table'), f.get('erp_module'), f.get('erp_function')) for f in j['findings'] if f['object'] == 'erpnext/tabSales Invoice'))")" \
	"[('erpnext/tabSales Invoice', 'tabSales Invoice', 'accounts', 'sales invoices')]"
tap_is "  ... and a table the map does not know carries nothing" \
	"$(pyj "$T/odbc.json" "[f.get('erp_module') for f in j['findings'] if f['object'] == 'erpnext/tabDefaultValue']")" \
	"[None]"
tap_done
