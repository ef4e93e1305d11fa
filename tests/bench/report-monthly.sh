#!/bin/bash
# The monthly reports of CUSTOMERS customers (default 1,000): one scheduler
# pass (`erpulse-collector report-schedule --now`) renders each customer's
# previous month in PDF and HTML (collector/report/report.h, whatever the
# renderer is), stores both and mails them to a local SMTP sink (aiosmtpd,
# messages counted and dropped). Every customer has HOSTS hosts (2) with
# hourly score history over the month, its own report contact and one of
# three time zones. Printed: the total, the median and the slowest report,
# the mails the sink received, the store's size; beside them the target.
#
#   tests/bench/report-monthly.sh          CUSTOMERS=200 HOSTS=4 ...
. "$(dirname "$0")/../integration/lib.sh"

CUSTOMERS=${CUSTOMERS:-1000} HOSTS=${HOSTS:-2}
PY=/usr/bin/python3
[ -x "$COLLECTOR" ] || bail "no collector at $COLLECTOR (make)"
command -v sqlite3 >/dev/null || bail "sqlite3 is needed (apt-get install sqlite3)"
$PY -c 'import aiosmtpd' 2>/dev/null || bail "python3-aiosmtpd is needed"

SPORT=$(free_port)
$PY - "$SPORT" "$T/count" >"$T/sink.log" 2>&1 <<'PY' &
import sys, threading
from aiosmtpd.controller import Controller
port, path = int(sys.argv[1]), sys.argv[2]
n = 0
class H:
    async def handle_DATA(self, server, session, envelope):
        global n
        n += 1
        with open(path, "w") as f:
            f.write("%d %d\n" % (n, len(envelope.content)))
        return "250 OK"
Controller(H(), hostname="127.0.0.1", port=port, data_size_limit=64 << 20).start()
threading.Event().wait()
PY
on_exit "kill $!"
wait_for 10 port_open "$SPORT" || bail "SMTP sink did not start"

DB=$T/bench.db
printf '[server]\nlisten = 127.0.0.1:%s\ntls = no\n[store]\nurl = sqlite://%s\n[report]\nsmtp_url = smtp://127.0.0.1:%s\nmail_from = reports@vendor.example\n' \
	"$(free_port)" "$DB" "$SPORT" >"$T/c.conf"
"$COLLECTOR" --config "$T/c.conf" migrate >/dev/null || bail "migrate"
# the pass runs on the 1st of this month at 12:00 UTC: last month is due everywhere
M1=$(date -u -d "$(date -u +%Y-%m-01) 12:00" +%s)
P0=$(date -u -d "$(date -u -d "$(date -u +%Y-%m-01) -1 month" +%Y-%m-01)" +%s)
HOURS=$(((M1 - 12 * 3600 - P0) / 3600))
echo "generating: $CUSTOMERS customers, $HOSTS hosts each, $HOURS hours of history"
sqlite3 "$DB" >/dev/null <<SQL || bail "generating the store"
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
BEGIN;
WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM c WHERE n < $CUSTOMERS - 1)
INSERT INTO customers (id, name, created_at) SELECT printf('%016x', n + 1), 'customer-' || n, 0 FROM c;
INSERT INTO report_settings (customer_id, time_zone, language, contacts, updated_at)
SELECT id, CASE rowid % 3 WHEN 0 THEN 'Asia/Shanghai' WHEN 1 THEN 'UTC' ELSE 'Europe/Berlin' END,
	CASE rowid % 2 WHEN 0 THEN 'zh-CN' ELSE 'en' END, 'ops-' || rowid || '@bench.example', 0
	FROM customers;
WITH RECURSIVE a(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM a WHERE n < $CUSTOMERS * $HOSTS - 1)
INSERT INTO agents (id, customer_id, hostname, public_key, enrolled_at, last_seq, last_report_at,
	interval_s, score, band)
SELECT printf('%032x', n + 1), printf('%016x', n % $CUSTOMERS + 1), 'host-' || n, 'x', 0, 1, $M1,
	300, 40 + n % 61, CASE WHEN 40 + n % 61 >= 85 THEN 'healthy' WHEN 40 + n % 61 >= 60
	THEN 'at_risk' ELSE 'critical' END FROM a;
WITH RECURSIVE h(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM h WHERE i < $HOURS - 1)
INSERT INTO score_history SELECT a.id, $P0 + h.i * 3600, 60 + (h.i + a.rowid) % 40, 80,
	70 + h.i % 30, 100, 90, 100 FROM agents a, h;
WITH RECURSIVE h(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM h WHERE i < $HOURS - 1)
INSERT INTO fleet_history SELECT c.id, $P0 + h.i * 3600, 50 + h.i % 40, 1, 1, 0, 0, 0
	FROM customers c, h;
COMMIT;
SQL

t0=$(date +%s%N)
out=$("$COLLECTOR" --config "$T/c.conf" report-schedule --now "$M1" 2>&1) || {
	echo "$out" | tail -5
	bail "report-schedule failed"
}
t1=$(date +%s%N)
echo "$out"
total_ms=$(((t1 - t0) / 1000000))
read -r mails bytes <"$T/count"
median=$(sed -n 's/^per report: median \([0-9.]*\) ms, max \([0-9.]*\) ms$/\1/p' <<<"$out")
max=$(sed -n 's/^per report: median \([0-9.]*\) ms, max \([0-9.]*\) ms$/\2/p' <<<"$out")
printf '\n%-44s %14s %16s\n' "" "erpulse" "target (issue 13)"
printf '%-44s %12.1f s %16s\n' "total, $CUSTOMERS customers (render+store+mail)" \
	"$(echo "$total_ms / 1000" | bc -l)" "< 3600 s"
printf '%-44s %11s ms %16s\n' "median per report" "$median" "< 3600 ms"
printf '%-44s %11s ms\n' "slowest report" "$max"
printf '%-44s %14s\n' "mails the sink received" "$mails"
printf '%-44s %11s KB\n' "last mail's size" "$((bytes / 1024))"
printf '%-44s %11s MB\n' "store after the pass" "$(($(stat -c %s "$DB") / 1048576))"
# what serve pays every check_interval once the month's reports are out
t0=$(date +%s%N)
"$COLLECTOR" --config "$T/c.conf" report-schedule --now "$((M1 + 600))" >/dev/null 2>&1
t1=$(date +%s%N)
printf '%-44s %11s ms %16s\n' "a pass with every report already sent" "$(((t1 - t0) / 1000000))" "< 1000 ms"
read -r mails2 bytes <"$T/count"
tap_is "every customer's report was mailed once" "$mails2" "$CUSTOMERS"
tap_done
