#!/bin/bash
# Server time of the dashboard's data at fleet scale: HOSTS hosts (default
# 10,000) of CUSTOMERS customers (500), DAYS days (90) of hourly score
# history for every host and of the hourly fleet snapshot for every
# customer, and SAMPLED hosts (200) with 30 days of 10-minute samples plus
# 60 days of hourly rollups for two objects (a file system, an index); a
# real erpulse-collector on that SQLite store answers each request RUNS
# times (7). Printed per request: the server time (curl's time to the first
# byte minus the time to send the request: local, so no network), median
# and max, and the answer's size. Target (issue 12): < 200 ms per page's
# data at 10,000 hosts and 90 days.
#
#   tests/bench/dashboard-series.sh            HOSTS=2000 DAYS=30 RUNS=5 ...
#
# The host series read one host's rows through the primary key, so their
# time does not depend on how many other hosts have samples: SAMPLED keeps
# the store's size (and the generation time) reasonable.
. "$(dirname "$0")/../integration/lib.sh"

HOSTS=${HOSTS:-10000} CUSTOMERS=${CUSTOMERS:-500} DAYS=${DAYS:-90} SAMPLED=${SAMPLED:-200} RUNS=${RUNS:-7}
[ -x "$COLLECTOR" ] || bail "no collector at $COLLECTOR (make)"
command -v sqlite3 >/dev/null || bail "sqlite3 is needed (apt-get install sqlite3)"
DB=$T/bench.db
NOW=$(date +%s)
H0=$(((NOW - NOW % 3600) - (DAYS * 24 - 1) * 3600))
printf '[server]\nlisten = 127.0.0.1:%s\ntls = no\n[store]\nurl = sqlite://%s\n' "$(free_port)" "$DB" >"$T/c.conf"
"$COLLECTOR" --config "$T/c.conf" migrate >/dev/null || bail "migrate"

echo "generating: $HOSTS hosts, $CUSTOMERS customers, $DAYS days of hourly history, $SAMPLED hosts with samples"
gen_start=$(date +%s)
sqlite3 "$DB" >/dev/null <<SQL || bail "generating the store"
PRAGMA journal_mode = WAL; -- prints "wal"
PRAGMA synchronous = OFF;
BEGIN;
WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM c WHERE n < $CUSTOMERS - 1)
INSERT INTO customers SELECT printf('%016x', n + 1), 'customer-' || n, 0 FROM c;
WITH RECURSIVE a(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM a WHERE n < $HOSTS - 1)
INSERT INTO agents (id, customer_id, hostname, public_key, enrolled_at, last_seq, last_report_at,
	interval_s, score, band)
SELECT printf('%032x', n + 1), printf('%016x', n % $CUSTOMERS + 1), 'host-' || n, 'x', 0, 1, $NOW,
	300, 40 + n % 61, CASE WHEN 40 + n % 61 >= 85 THEN 'healthy' WHEN 40 + n % 61 >= 60
	THEN 'at_risk' ELSE 'critical' END FROM a;
WITH RECURSIVE h(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM h WHERE i < $DAYS * 24 - 1)
INSERT INTO score_history SELECT a.id, $H0 + h.i * 3600, 60 + (h.i + a.rowid) % 40, 80,
	70 + h.i % 30, 100, 90, 100 FROM agents a, h ORDER BY a.id, h.i;
WITH RECURSIVE h(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM h WHERE i < $DAYS * 24 - 1)
INSERT INTO fleet_history SELECT c.id, $H0 + h.i * 3600, 50 + h.i % 40, 8, 6, 5, 0, 1
	FROM customers c, h;
WITH RECURSIVE h(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM h WHERE i < $DAYS * 24 - 1)
INSERT INTO fleet_history SELECT '*', $H0 + h.i * 3600, 50, 8 * $CUSTOMERS, 6 * $CUSTOMERS,
	5 * $CUSTOMERS, 0, $CUSTOMERS FROM h;
WITH o(series) AS (VALUES ('disk_usage:/'), ('index_fragmentation:erp/public.big_idx'))
INSERT INTO series (agent_id, name) SELECT a.id, o.series
	FROM (SELECT id FROM agents ORDER BY id LIMIT $SAMPLED) a, o;
WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < 30 * 144 - 1)
INSERT INTO samples SELECT x.id, $NOW - (30 * 144 - s.i) * 600, 50 + s.i % 30
	FROM series x, s ORDER BY x.id, s.i;
WITH RECURSIVE h(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM h WHERE i < ($DAYS - 30) * 24 - 1)
INSERT INTO rollups SELECT x.id, $H0 + h.i * 3600, 6, 300, 45, 55
	FROM series x, h ORDER BY x.id, h.i;
COMMIT;
ANALYZE;
SQL
echo "generated in $(($(date +%s) - gen_start)) s: $(du -m "$DB" | cut -f1) MiB;" \
	"$(sqlite3 "$DB" 'SELECT COUNT(*) FROM score_history') score rows," \
	"$(sqlite3 "$DB" 'SELECT COUNT(*) FROM samples') samples"

VENDOR=$("$COLLECTOR" --config "$T/c.conf" user add vera --role vendor 2>/dev/null)
VIEWER=$("$COLLECTOR" --config "$T/c.conf" user add olga --role viewer --customer customer-0 2>/dev/null)
[ -n "$VENDOR" ] && [ -n "$VIEWER" ] || bail "user add"
"$COLLECTOR" --config "$T/c.conf" serve >"$T/serve.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$T"' EXIT
URL="http://$(sed -n 's/^listen = //p' "$T/c.conf")"
healthy() { curl -sf "$URL/healthz" >/dev/null; }
wait_for 60 healthy || bail "the collector did not start: $(tail -3 "$T/serve.log")"

HOST=$(printf '%032x' 1) CUST=$(printf '%016x' 1)
FROM=$((NOW - DAYS * 86400)) TO=$((NOW + 1))
R="from=$FROM&to=$TO"
measure() { # LABEL TOKEN PATH
	local i out ms=()
	for ((i = 0; i < RUNS; i++)); do
		out=$(curl -s -o "$T/body" -w '%{http_code} %{time_pretransfer} %{time_starttransfer}' \
			-H "Authorization: Bearer $2" "$URL/api/v1/$3")
		set -- "$1" "$2" "$3" $out
		[ "$4" = 200 ] || bail "$1: HTTP $4"
		ms+=("$(awk -v a="$5" -v b="$6" 'BEGIN { printf "%.1f", (b - a) * 1000 }')")
	done
	printf '%s\n' "${ms[@]}" | sort -n | awk -v label="$1" -v size="$(wc -c <"$T/body")" '
		{ v[NR] = $1 } END { printf "%-58s median %7.1f ms  max %7.1f ms  %8d bytes\n", label, v[int((NR + 1) / 2)], v[NR], size }'
}
echo "server time per request ($RUNS runs each):"
measure "host: score, $DAYS days" "$VENDOR" "hosts/$HOST/series?names=score&$R"
measure "host: score + 5 categories, $DAYS days" "$VENDOR" "hosts/$HOST/series?names=score,score.database,score.storage,score.errors,score.patches,score.liveness&$R"
measure "host: file system + index (samples + rollups), $DAYS days" "$VENDOR" "hosts/$HOST/series?names=disk_usage:/,index_fragmentation:erp/public.big_idx&$R"
measure "host: its series names" "$VENDOR" "hosts/$HOST/series"
measure "host: sparkline (score, 7 days, 6 h)" "$VENDOR" "hosts/$HOST/series?names=score&from=$((NOW - 7 * 86400))&to=$TO&step=21600"
measure "customer: score + bands, $DAYS days" "$VENDOR" "customers/$CUST/series?names=score,healthy,at_risk,critical&$R"
measure "fleet (vendor): bands, $DAYS days" "$VENDOR" "fleet/series?names=healthy,at_risk,critical,unknown,no_score&$R"
measure "fleet (viewer): bands, $DAYS days" "$VIEWER" "fleet/series?names=healthy,at_risk,critical&$R"
measure "host list: all $HOSTS hosts (the fleet page)" "$VENDOR" "hosts"
measure "host list: one page of 50" "$VENDOR" "hosts?limit=50"
measure "customers: all $CUSTOMERS" "$VENDOR" "customers"
