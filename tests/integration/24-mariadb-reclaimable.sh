#!/bin/bash
# odbc probe on MariaDB: what a rebuild gives back, on ERPNext-shaped tables
# (names with spaces, a Chinese name, a dash; name VARCHAR(140) primary keys;
# TEXT columns). Histories: random deletes (60%), a purge by key range, updates
# that grow rows, and a freshly rebuilt control. Ground truth for each table is
# its tablespace file before and after OPTIMIZE TABLE, run at the end on the
# table itself; the probe's exact figure (page headers) must be within 5 points
# of it, and its statistics-only figure (innodb_index_stats) must never exceed
# it by more than 5 (it is a lower bound). After the rebuild nothing is flagged.
. "$(dirname "$0")/lib.sh"

PROBE_RUN=${PROBE_RUN:-$TOOLS/probe_run}
[ -x "$PROBE_RUN" ] || bail "probe_run not built: make tests"
ROWS=${ROWS:-100000} # rows of `tabGL Entry` (the issue's 400 000 with ROWS=400000)
mariadb_start || bail "mariadb_start"
odbc_setup || bail "odbc_setup"
pyj() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

MONPW="mon-$RANDOM$RANDOM"
mariadb_sql <<SQL || bail "create the monitoring user"
CREATE DATABASE erp;
CREATE USER erpulse_monitor@'127.0.0.1' IDENTIFIED BY '$MONPW';
GRANT PROCESS ON *.* TO erpulse_monitor@'127.0.0.1';
GRANT SHOW VIEW ON erp.* TO erpulse_monitor@'127.0.0.1';
GRANT SELECT ON mysql.innodb_index_stats TO erpulse_monitor@'127.0.0.1';
SQL
tap_check "the monitoring user cannot read ERP rows" bash -c \
	"! mariadb --no-defaults -h 127.0.0.1 -P $MARIADB_PORT -u erpulse_monitor -p$MONPW -e 'SELECT 1 FROM erp.\`tabGL Entry\` LIMIT 1' 2>/dev/null"

# ERPNext's columns (a subset of each doctype, same types), ROW_FORMAT=DYNAMIC, utf8mb4
cols="name varchar(140) NOT NULL, creation datetime(6), modified datetime(6),
  modified_by varchar(140), owner varchar(140), docstatus int(1) NOT NULL DEFAULT 0,
  idx int(8) NOT NULL DEFAULT 0"
opts="ENGINE=InnoDB ROW_FORMAT=DYNAMIC DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"
t0=$(date +%s)
mariadb_sql erp <<SQL >/dev/null || bail "build the test tables"
-- random deletes: hash names (Frappe's default naming), 60% of the rows deleted
CREATE TABLE \`tabGL Entry\` ($cols, posting_date date, account varchar(140),
  party varchar(140), debit decimal(21,9) NOT NULL DEFAULT 0, credit decimal(21,9) NOT NULL DEFAULT 0,
  voucher_type varchar(140), voucher_no varchar(140), against text, remarks text,
  company varchar(140), PRIMARY KEY (name), KEY voucher_no (voucher_no), KEY account (account),
  KEY posting_date (posting_date), KEY party (party), KEY modified (modified)) $opts;
INSERT INTO \`tabGL Entry\` SELECT LEFT(MD5(seq), 10), NOW(6) - INTERVAL seq MINUTE, NOW(6),
  'Administrator', 'accounts@example.com', 1, 0, CURDATE() - INTERVAL (seq DIV 200) DAY,
  CONCAT('Debtors ', seq % 50, ' - EX'), CONCAT('CUST-', LPAD(seq % 3000, 5, '0')),
  (seq % 1000) * 1.5, 0, 'Sales Invoice', CONCAT('ACC-SINV-2024-', LPAD(seq DIV 3, 5, '0')),
  CONCAT('Sales ', seq % 77), IF(seq % 5 = 0, REPEAT('Note for the ledger line ', 1 + seq % 7), NULL),
  'Example Ltd' FROM seq_1_to_$ROWS;
DELETE FROM \`tabGL Entry\` WHERE RAND(7) < 0.6;
-- purge by key range: a naming series, the oldest two thirds deleted
CREATE TABLE \`tabStock Ledger Entry\` ($cols, item_code varchar(140), warehouse varchar(140),
  posting_date date, actual_qty decimal(21,9), voucher_no varchar(140), remarks text,
  PRIMARY KEY (name), KEY item_code (item_code), KEY posting_date (posting_date)) $opts;
INSERT INTO \`tabStock Ledger Entry\` SELECT CONCAT('MAT-SLE-2024-', LPAD(seq, 6, '0')), NOW(6), NOW(6),
  'Administrator', 'stock@example.com', 1, 0, CONCAT('ITEM-', LPAD(seq % 5000, 5, '0')),
  CONCAT('Stores ', seq % 9, ' - EX'), CURDATE() - INTERVAL (seq DIV 100) DAY, seq % 17,
  CONCAT('MAT-STE-', seq DIV 4), NULL FROM seq_1_to_$((ROWS * 6 / 10));
DELETE FROM \`tabStock Ledger Entry\` WHERE name < CONCAT('MAT-SLE-2024-', LPAD($((ROWS * 4 / 10)), 6, '0'));
-- updates that grow rows: half the descriptions grow from 20 to about 400 bytes
CREATE TABLE \`tabSales Invoice Item\` ($cols, parent varchar(140), item_code varchar(140),
  description text, qty decimal(21,9), rate decimal(21,9), PRIMARY KEY (name),
  KEY parent (parent), KEY item_code (item_code)) $opts;
INSERT INTO \`tabSales Invoice Item\` SELECT LEFT(SHA1(seq), 10), NOW(6), NOW(6), 'Administrator',
  'sales@example.com', 1, seq % 5, CONCAT('ACC-SINV-2024-', LPAD(seq DIV 5, 5, '0')),
  CONCAT('ITEM-', LPAD(seq % 5000, 5, '0')), 'Standard item sold', 1, seq % 300
  FROM seq_1_to_$((ROWS / 2));
UPDATE \`tabSales Invoice Item\` SET description = REPEAT('Longer description of the item ', 13)
  WHERE idx < 3;
-- a Chinese name with a space and a dashed name: found by their on-disk names
CREATE TABLE \`物料 清单\` ($cols, item varchar(140), remarks text, PRIMARY KEY (name)) $opts;
INSERT INTO \`物料 清单\` SELECT LEFT(MD5(seq), 12), NOW(6), NOW(6), 'Administrator', 'a@example.com',
  0, 0, CONCAT('ITEM-', seq), REPEAT('备注', 20) FROM seq_1_to_$((ROWS / 4));
DELETE FROM \`物料 清单\` WHERE RAND(3) < 0.5;
-- control: the same shape, freshly rebuilt
CREATE TABLE \`tab-Customer\` ($cols, customer_name varchar(140), customer_group varchar(140),
  territory varchar(140), remarks text, PRIMARY KEY (name), KEY customer_group (customer_group)) $opts;
INSERT INTO \`tab-Customer\` SELECT LEFT(MD5(seq), 10), NOW(6), NOW(6), 'Administrator',
  'crm@example.com', 0, 0, CONCAT('Customer ', seq), CONCAT('Group ', seq % 12),
  CONCAT('Territory ', seq % 40), IF(seq % 3 = 0, 'Key account', NULL) FROM seq_1_to_$((ROWS / 2));
DELETE FROM \`tab-Customer\` WHERE RAND(5) < 0.5;
OPTIMIZE TABLE \`tab-Customer\`;
SQL
tap_ok "ERPNext-shaped tables built in $(($(date +%s) - t0)) s"

# Deterministic settling, no sleeps: purge has removed every deleted record
# (it merges the pages deletes emptied), the pages are on disk, statistics fresh.
purged() { [ "$(mariadb_sql -e "SELECT count FROM information_schema.INNODB_METRICS WHERE name = 'trx_rseg_history_len'")" = 0 ]; }
wait_for 300 purged || bail "purge did not finish"
tables=('tabGL Entry' 'tabStock Ledger Entry' 'tabSales Invoice Item' '物料 清单' 'tab-Customer')
list=$(printf '`%s`,' "${tables[@]}")
mariadb_sql erp -e "FLUSH TABLES ${list%,} FOR EXPORT; UNLOCK TABLES; ANALYZE TABLE ${list%,}" >/dev/null ||
	bail "flush and analyze"

cat >"$T/agent.conf" <<EOF2
[odbc.exact]
connection = DSN=erpulse_mariadb;UID=erpulse_monitor;PWD=$MONPW
min_table_mb = 4

[odbc.pages]
connection = DSN=erpulse_mariadb;UID=erpulse_monitor;PWD=$MONPW
min_table_mb = 4
innodb_page_scan = no

[odbc.budget]
connection = DSN=erpulse_mariadb;UID=erpulse_monitor;PWD=$MONPW
min_table_mb = 4
exact_budget_mb = 20

[odbc.window]
connection = DSN=erpulse_mariadb;UID=erpulse_monitor;PWD=$MONPW
min_table_mb = 4
exact_budget_mb = 0
maintenance_window = $(date -d '-1 hour' +%H:%M)-$(date -d '+1 hour' +%H:%M)
EOF2
"$PROBE_RUN" "$T/agent.conf" odbc.exact >"$T/exact.json" 2>"$T/exact.err" || true
"$PROBE_RUN" "$T/agent.conf" odbc.pages >"$T/pages.json" 2>/dev/null || true
"$PROBE_RUN" "$T/agent.conf" odbc.budget >"$T/budget.json" 2>/dev/null || true
"$PROBE_RUN" "$T/agent.conf" odbc.window >"$T/window.json" 2>/dev/null || true
sed 's/^/# /' "$T/exact.err"
tap_is "status ok" "$(pyj "$T/exact.json" "j['status']")" ok
# field of the table_free_space finding of erp/TABLE in FILE
f() { python3 - "$@" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
for f in j['findings']:
    if f['kind'] == 'table_free_space' and f['object'] == 'erp/' + sys.argv[2]:
        print(f.get(sys.argv[3]))
        break
else:
    print('MISSING')
PY
}
tap_is "every tablespace matched by its on-disk name" "$(pyj "$T/exact.json" "j['metrics']['tablespaces_unmatched']")" 0
tap_is "every table measured exactly (page headers)" "$(pyj "$T/exact.json" "j['metrics']['tables_exact']")" 5
for t in "${tables[@]}"; do
	tap_check "file size read for '$t'" test "$(f "$T/exact.json" "$t" file_size)" -gt 0
done
tap_like "method stated" "$(f "$T/exact.json" 'tabGL Entry' method)" 'page headers.*exact'
tap_like "statistics-only figure says what it is" "$(f "$T/pages.json" 'tabGL Entry' method)" 'innodb_index_stats.*at least'
tap_is "budget: 20 MB lets the largest candidates wait" \
	"$(pyj "$T/budget.json" "j['metrics']['tables_over_budget'] > 0 and j['metrics']['tablespace_bytes_scanned'] <= 20*1024*1024")" True
tap_is "no budget outside the window, maintenance_budget_mb inside it: all exact" \
	"$(pyj "$T/window.json" "(j['metrics']['in_maintenance_window'], j['metrics']['tables_exact'])")" "(True, 5)"
tap_is "the rule travels with the finding" \
	"$(f "$T/exact.json" 'tabGL Entry' threshold) $(f "$T/exact.json" 'tabGL Entry' critical_threshold) $(f "$T/exact.json" 'tabGL Entry' min_size) $(f "$T/exact.json" 'tabGL Entry' size_unit)" \
	"30.0 60.0 4194304.0 bytes"
tap_is "remediation: online rebuild, backtick-quoted" "$(f "$T/exact.json" 'tabGL Entry' remediation)" \
	'ALTER TABLE `erp`.`tabGL Entry` ENGINE=InnoDB, ALGORITHM=INPLACE, LOCK=NONE;'
tap_like "remediation says the lock and the disk space" "$(f "$T/exact.json" 'tabGL Entry' lock)" 'LOCK=NONE.*metadata lock.*free disk'
tap_check "extra disk: the rebuilt size" test "$(f "$T/exact.json" 'tabGL Entry' extra_disk_bytes)" -gt 0
tap_like "per-index figures" "$(pyj "$T/exact.json" "[ [i['index'] for i in f['indexes']] for f in j['findings'] if f['object']=='erp/tabGL Entry'][0]")" "PRIMARY.*voucher_no"
tap_is "control (freshly rebuilt): no alarm" "$(f "$T/exact.json" 'tab-Customer' severity)" info
# an agent that cannot read the datadir: statistics-based figures and one
# finding saying what the exact ones need
if id nobody >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
	# the driver by path: unixODBC reads no user DSN for another user
	printf '[odbc.noread]\nconnection = Driver=%s;Server=127.0.0.1;Port=%s;UID=erpulse_monitor;PWD=%s\nmin_table_mb = 4\n' \
		"$(_odbc_driver_path odbc-mariadb libmaodbc.so)" "$MARIADB_PORT" "$MONPW" >"$T/noread.conf"
	chmod 644 "$T/noread.conf"
	setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
		"$PROBE_RUN" "$T/noread.conf" odbc.noread >"$T/noread.json" 2>"$T/noread.err" || true
	sed 's/^/# /' "$T/noread.err"
	tap_is "no access to the datadir: status ok, no exact figure" \
		"$(pyj "$T/noread.json" "(j['status'], j['metrics']['tables_exact'])")" "('ok', 0)"
	tap_like "no access to the datadir: one finding says what to grant" \
		"$(pyj "$T/noread.json" "[f['message'] + ' -> ' + f['remediation'] for f in j['findings'] if f['kind']=='monitoring_setup'][0]")" \
		'could not be measured exactly.*Permission denied.*setfacl -R -m u:nobody:rX'
	tap_like "no access to the datadir: the figure says it is a lower bound" \
		"$(f "$T/noread.json" 'tabGL Entry' method)" 'at least'
else
	tap_ok "# SKIP not root: the no-access case needs another user"
fi

# Ground truth: OPTIMIZE TABLE each table, the file before and after.
echo "# table | probe exact | statistics-only | DATA_FREE ratio | truth (file before -> after)"
for t in "${tables[@]}"; do
	before=$(mariadb_sql -e "SELECT FILE_SIZE FROM information_schema.INNODB_SYS_TABLESPACES WHERE NAME = CONCAT('erp/', CONVERT(CONVERT('$t' USING filename) USING binary))")
	naive=$(mariadb_sql -e "SELECT ROUND(100 * DATA_FREE / (DATA_LENGTH + INDEX_LENGTH + DATA_FREE), 1) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'erp' AND TABLE_NAME = '$t'")
	mariadb_sql erp -e "OPTIMIZE TABLE \`$t\`" >/dev/null
	after=$(mariadb_sql -e "SELECT FILE_SIZE FROM information_schema.INNODB_SYS_TABLESPACES WHERE NAME = CONCAT('erp/', CONVERT(CONVERT('$t' USING filename) USING binary))")
	truth=$(python3 -c "print(round(100 * ($before - $after) / $before, 1))")
	exact=$(f "$T/exact.json" "$t" value)
	pages=$(f "$T/pages.json" "$t" value)
	echo "# $t | $(printf %.1f "$exact") | $(printf %.1f "$pages") | $naive | $truth ($((before >> 20)) MB -> $((after >> 20)) MB)"
	tap_check "'$t': exact figure $(printf %.1f "$exact")% within 5 points of the truth $truth%" \
		python3 -c "import sys; sys.exit(0 if abs($exact - $truth) <= 5 else 1)"
	tap_check "'$t': statistics-only figure $(printf %.1f "$pages")% is no more than the truth + 5" \
		python3 -c "import sys; sys.exit(0 if $pages <= $truth + 5 else 1)"
done

# After the rebuilds: nothing flagged, every figure small.
mariadb_sql erp -e "FLUSH TABLES ${list%,} FOR EXPORT; UNLOCK TABLES" >/dev/null
"$PROBE_RUN" "$T/agent.conf" odbc.exact >"$T/after.json" 2>/dev/null || true
tap_is "after OPTIMIZE: no table flagged" \
	"$(pyj "$T/after.json" "sorted(set(f['severity'] for f in j['findings'] if f['kind']=='table_free_space'))")" "['info']"
tap_check "after OPTIMIZE: every exact figure below 5%" \
	python3 -c "import json,sys; j=json.load(open('$T/after.json')); sys.exit(0 if all(f['value'] < 5 for f in j['findings'] if f['kind']=='table_free_space') else 1)"
tap_done
