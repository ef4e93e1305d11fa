#!/bin/bash
# odbc probe on MariaDB (MariaDB Connector/ODBC) as the least-privilege
# monitoring user, statistics only (innodb_page_scan = no; the exact page scan
# is 24-mariadb-reclaimable.sh): InnoDB free space per table; stale statistics
# (before ANALYZE TABLE) are detected and reported as such, never alarmed on;
# the remediation runs as printed; missing PROCESS privilege and a wrong
# password give precise findings.
. "$(dirname "$0")/lib.sh"

PROBE_RUN=${PROBE_RUN:-$TOOLS/probe_run} # PROBE_RUN=.../asan/... for a sanitizer run
[ -x "$PROBE_RUN" ] || bail "probe_run not built: make tests"
mariadb_start || bail "mariadb_start"
odbc_setup || bail "odbc_setup"
pyj() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

MONPW="mon-$RANDOM$RANDOM"
# The documented monitoring user: PROCESS (tablespace file sizes) and SHOW VIEW
# on the ERP schema (lists its tables in information_schema, reads no data).
mariadb_sql <<SQL || bail "create the monitoring users"
CREATE DATABASE erp;
CREATE USER erpulse_monitor@'127.0.0.1' IDENTIFIED BY '$MONPW';
GRANT PROCESS ON *.* TO erpulse_monitor@'127.0.0.1';
GRANT SHOW VIEW ON erp.* TO erpulse_monitor@'127.0.0.1';
CREATE USER noprocess@'127.0.0.1' IDENTIFIED BY '$MONPW';
GRANT SHOW VIEW ON erp.* TO noprocess@'127.0.0.1';
SQL
tap_check "the monitoring user cannot read table data" bash -c \
	"! mariadb --no-defaults -h 127.0.0.1 -P $MARIADB_PORT -u erpulse_monitor -p$MONPW -e 'SELECT 1 FROM erp.gl_entry LIMIT 1' 2>/dev/null"

t0=$(date +%s)
mariadb_sql erp <<'SQL' >/dev/null || bail "build the test tables"
-- purged: 60k rows (~30 MB), statistics taken, then a key range deleted
CREATE TABLE gl_entry (id int AUTO_INCREMENT PRIMARY KEY, account char(36), memo varchar(300),
  KEY (account)) ENGINE=InnoDB STATS_AUTO_RECALC=0;
INSERT INTO gl_entry (account, memo) SELECT uuid(), repeat('m', 250) FROM seq_1_to_60000;
ANALYZE TABLE gl_entry;
DELETE FROM gl_entry WHERE id > 20000;
-- bulk-loaded after its last ANALYZE: statistics say one page
CREATE TABLE stock_move (id int AUTO_INCREMENT PRIMARY KEY, item char(36), note varchar(300))
  ENGINE=InnoDB STATS_AUTO_RECALC=0;
ANALYZE TABLE stock_move;
INSERT INTO stock_move (item, note) SELECT uuid(), repeat('n', 250) FROM seq_1_to_40000;
-- healthy
CREATE TABLE customer (id int AUTO_INCREMENT PRIMARY KEY, name varchar(300)) ENGINE=InnoDB;
INSERT INTO customer (name) SELECT repeat('c', 250) FROM seq_1_to_100000;
ANALYZE TABLE customer;
SQL
sleep 2 # purge of the deleted rows frees their extents
tap_ok "test tables built in $(($(date +%s) - t0)) s"
mariadb_sql -e "SELECT TABLE_NAME, DATA_LENGTH, INDEX_LENGTH, DATA_FREE FROM information_schema.TABLES WHERE TABLE_SCHEMA='erp'" | sed 's/^/# /'

cat >"$T/agent.conf" <<EOF2
[odbc.erpnext]
connection = DSN=erpulse_mariadb;UID=erpulse_monitor;PWD=$MONPW
min_table_mb = 4
innodb_page_scan = no

[odbc.noprocess]
connection = DSN=erpulse_mariadb;UID=noprocess;PWD=$MONPW
min_table_mb = 4

[odbc.badpw]
connection = DSN=erpulse_mariadb;UID=erpulse_monitor;PWD=wrong
EOF2

f() { # f FILE KIND TABLE FIELD
	pyj "$1" "[f['$4'] for f in j['findings'] if f['kind']=='$2' and f['object']=='erp/$3'][0]"
}
"$PROBE_RUN" "$T/agent.conf" odbc.erpnext >"$T/r1.json" 2>"$T/r1.err"
sed 's/^/# /' "$T/r1.err"
tap_is "MariaDB detected via SQL_DBMS_NAME, status ok" \
	"$(pyj "$T/r1.json" "(j['metrics']['dbms_name'], j['metrics']['dialect'], j['status'])")" \
	"('MariaDB', 'mysql', 'ok')"
tap_like "server version by SQL" "$(pyj "$T/r1.json" "j['metrics']['server_version']")" 'MariaDB'
tap_is "innodb_file_per_table reported" "$(pyj "$T/r1.json" "j['metrics']['innodb_file_per_table']")" True
pyj "$T/r1.json" "'\n'.join('# %s %s %.1f %s' % (f['kind'], f['object'], f['value'], f['message'][:150]) for f in j['findings'])"

# stale before ANALYZE: both tables, no free-space alarm
tap_like "purged table before ANALYZE: stale statistics detected" \
	"$(f "$T/r1.json" table_statistics_stale gl_entry message)" 'statistics are stale'
tap_like "bulk-loaded table: stale statistics detected" \
	"$(f "$T/r1.json" table_statistics_stale stock_move message)" 'statistics are stale'
tap_is "stale tables: no table_free_space finding (no false alarm)" \
	"$(pyj "$T/r1.json" "[f['object'] for f in j['findings'] if f['kind']=='table_free_space' and f['object'] in ('erp/gl_entry','erp/stock_move')]")" "[]"
tap_is "stale: severity info and the remedy is ANALYZE TABLE" \
	"$(f "$T/r1.json" table_statistics_stale stock_move severity) $(f "$T/r1.json" table_statistics_stale stock_move remediation)" \
	'info ANALYZE TABLE `erp`.`stock_move`;'
naive=$(mariadb_sql -e "SELECT ROUND(100 * DATA_FREE / (DATA_LENGTH + INDEX_LENGTH + DATA_FREE)) FROM information_schema.TABLES WHERE TABLE_SCHEMA='erp' AND TABLE_NAME='stock_move'")
echo "# naive free-space ratio of stock_move from the stale numbers: $naive%"
tap_is "healthy table: judged, below threshold" "$(f "$T/r1.json" table_free_space customer severity)" info

# ANALYZE TABLE, as the stale finding says: now the purged table is judged
mariadb_sql erp -e "ANALYZE TABLE gl_entry; ANALYZE TABLE stock_move" >/dev/null
"$PROBE_RUN" "$T/agent.conf" odbc.erpnext >"$T/r2.json" 2>/dev/null
gl=$(f "$T/r2.json" table_free_space gl_entry value)
tap_check "after ANALYZE: purged table has ${gl}% free -> flagged" bash -c \
	"[ \"$(f "$T/r2.json" table_free_space gl_entry severity)\" != info ]"
tap_is "after ANALYZE: bulk-loaded table is healthy" "$(f "$T/r2.json" table_free_space stock_move severity)" info
want=$(mariadb_sql -e "SELECT 100 * DATA_FREE / (DATA_LENGTH + INDEX_LENGTH + DATA_FREE) FROM information_schema.TABLES WHERE TABLE_SCHEMA='erp' AND TABLE_NAME='gl_entry'")
tap_check "figure equals information_schema's own ($want%)" python3 -c "import sys; sys.exit(0 if abs($gl - $want) < 0.01 else 1)"
rem=$(f "$T/r2.json" table_free_space gl_entry remediation)
tap_is "remediation: online rebuild with quoted identifiers" "$rem" \
	'ALTER TABLE `erp`.`gl_entry` ENGINE=InnoDB, ALGORITHM=INPLACE, LOCK=NONE;'
tap_like "remediation says the lock and the disk space" "$(f "$T/r2.json" table_free_space gl_entry lock)" 'online.*free disk'
mariadb_sql erp -e "$rem" >/dev/null
"$PROBE_RUN" "$T/agent.conf" odbc.erpnext >"$T/r3.json" 2>/dev/null
tap_is "after running it: the table is healthy" "$(f "$T/r3.json" table_free_space gl_entry severity)" info

# no PROCESS privilege: one precise setup finding, judged on statistics alone
"$PROBE_RUN" "$T/agent.conf" odbc.noprocess >"$T/np.json" 2>/dev/null
tap_is "without PROCESS: status ok" "$(pyj "$T/np.json" "j['status']")" ok
tap_like "without PROCESS: the finding names the GRANT" \
	"$(pyj "$T/np.json" "[f['remediation'] for f in j['findings'] if f['kind']=='monitoring_setup'][0]")" \
	"GRANT PROCESS ON \*\.\* TO 'noprocess'@'127.0.0.1';"

# wrong password
"$PROBE_RUN" "$T/agent.conf" odbc.badpw >"$T/bad.json" 2>/dev/null
tap_is "wrong password: status error" "$(pyj "$T/bad.json" "j['status']")" error
tap_like "wrong password: precise error" "$(pyj "$T/bad.json" "j['error']")" \
	"authentication failed: Access denied for user 'erpulse_monitor'.*check UID/PWD"
# a DBMS the probe does not support: skipped, naming what it found
if [ -n "${ODBC_SQLITE_DRIVER:-}" ]; then
	printf '[odbc.other]\nconnection = Driver=%s;Database=%s\n' "$ODBC_SQLITE_DRIVER" "$T/other.db" >>"$T/agent.conf"
	"$PROBE_RUN" "$T/agent.conf" odbc.other >"$T/other.json" 2>/dev/null
	tap_like "another DBMS (SQLite via ODBC): skipped, naming it" \
		"$(pyj "$T/other.json" "j['status'] + ': ' + j['error']")" \
		"^skipped: the DBMS 'SQLite' \(version 3\.[0-9.]+\) is not supported"
else
	tap_ok "# SKIP libsqliteodbc not installed: unsupported-DBMS case not run"
fi
tap_done
