#!/bin/bash
# erpulse-collector on a real PostgreSQL: two collectors sharing one database
# receive the same reports in parallel (one row per report, one alert, one
# notification), and a hung server (SIGSTOP) answers 503 + Retry-After within
# 2 s instead of hanging, then recovers; a stopped server answers 503 too.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/40-collector-ingest.sh"

PY=/usr/bin/python3
pg_start || bail "PostgreSQL did not start"
pg_sql -c "CREATE DATABASE erpulse" || bail "createdb"
URL="postgresql://$PG_SUPERUSER:$PG_SUPERPASS@127.0.0.1:$PGPORT/erpulse"
psq() { pg_sql -d erpulse -c "$1"; }

HOOK=$T/hook
mkdir -p "$HOOK"
WPORT=$(free_port)
$PY - "$WPORT" "$HOOK" >"$T/hook.log" 2>&1 <<'PY' &
import http.server, os, sys, threading
port, d = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with lock:
            n = len(os.listdir(d))
            open(os.path.join(d, "%03d.json" % n), "wb").write(body)
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
WPID=$!
on_exit "kill $WPID"
wait_for 5 port_open "$WPORT" || bail "webhook receiver"

ALERTS=("[alerts]" "webhook_url = http://127.0.0.1:$WPORT/hook" "allow_private_targets = yes")
coll_start pa "[store]" "url = $URL" "statement_timeout_ms = 1000" "connect_timeout_ms = 1000" "${ALERTS[@]}" ||
	bail "collector A did not start"
URL_A=$COLL_URL PID_A=$COLL_PID CONF_A=$COLL_CONF
coll_start pb "[store]" "url = $URL" "statement_timeout_ms = 1000" "connect_timeout_ms = 1000" "${ALERTS[@]}" ||
	bail "collector B did not start"
URL_B=$COLL_URL PID_B=$COLL_PID
tap_is "both collectors migrated one schema" "$(psq 'SELECT COUNT(*) = COUNT(DISTINCT version) AND COUNT(*) = MAX(version) FROM schema_version')" "t"

COLL_CONF=$CONF_A COLL_URL=$URL_A
A=$(coll_enroll Acme "$T/k" erp01) && [ -n "$A" ] || bail "enroll"
tap_like "enrolled through PostgreSQL" "$A" '^[0-9a-f]{32}$'
FRAG='[{"kind":"index_fragmentation","object":"odoo/public.x_idx","value":45,"unit":"%","threshold":30,"severity":"warning","method":"pgstatindex","message":"m","remediation":"REINDEX INDEX CONCURRENTLY x;","pages":5000}]'
files=()
for i in $(seq 1 30); do
	coll_report "$A" "$i" "$FRAG" >"$T/r$i"
	files+=("$T/r$i")
done
COLL_URL=$URL_A coll_send "$T/k" "$A" "${files[@]}" >"$T/outA" &
pa=$!
COLL_URL=$URL_B coll_send "$T/k" "$A" "${files[@]}" >"$T/outB" &
pb=$!
wait $pa $pb
acc=$(cat "$T/outA" "$T/outB" | grep -c '^200 .*accepted')
dup=$(cat "$T/outA" "$T/outB" | grep -c '^200 .*duplicate')
echo "# A accepted $(grep -c accepted "$T/outA"), B accepted $(grep -c accepted "$T/outB")"
tap_is "every answer a 200: 30 accepted + 30 duplicate across both" "$acc $dup" "30 30"
tap_is "one row per report" "$(psq 'SELECT COUNT(*), COUNT(DISTINCT seq) FROM reports')" "30|30"
tap_is "one alert" "$(psq "SELECT COUNT(*) FROM alerts WHERE rule = 'index_fragmentation'")" "1"
sleep 2
tap_is "one notification row, sent once" "$(psq 'SELECT COUNT(*), COUNT(sent_at) FROM outbox')" "1|1"
tap_is "one notice at the receiver" "$(ls "$HOOK" | wc -l)" "1"

# the read side works on PostgreSQL too
VENDOR=$(coll_cli user add vera --role vendor 2>/dev/null)
tap_like "read API on PostgreSQL" \
	"$(curl -s -H "Authorization: Bearer $VENDOR" "$URL_B/api/v1/hosts/$A")" '"last_seq":30'
tap_like "scores on PostgreSQL" "$(coll_cli scores)" 'erp01'
tap_like "history API on PostgreSQL: the score of the reports' hour" \
	"$(curl -s -H "Authorization: Bearer $VENDOR" "$URL_B/api/v1/hosts/$A/series?names=score,index_fragmentation:x,nope")" \
	'"series":\[\{"name":"score","t":\[[0-9]+\],"v":\[[0-9.]+\]\}'
snapshot_taken() { test "$(psq "SELECT COUNT(*) FROM fleet_history WHERE customer_id = '*'")" -ge 1; }
tap_check "the fleet's hourly snapshot on PostgreSQL" wait_for 60 snapshot_taken
tap_like "fleet series on PostgreSQL" \
	"$(curl -s -H "Authorization: Bearer $VENDOR" "$URL_B/api/v1/fleet/series?names=healthy,critical")" '"name":"critical","t":\[[0-9]+'

# a hung server: every PostgreSQL process stopped
pids="$PG_PID $(pgrep -P "$PG_PID" | tr '\n' ' ')"
on_exit "kill -CONT $pids"
kill -STOP $pids
coll_report "$A" 31 >"$T/r31"
t0=$(date +%s%N)
out=$(curl -s -i -m 10 -H "X-Erpulse-Agent: $A" -H "X-Erpulse-Signature: $("$TOOLS/coll_post" sign "$T/k" "$T/r31")" \
	--data-binary @"$T/r31" "$URL_A/api/v1/reports" | tr -d '\r')
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
echo "# hung PostgreSQL: answered in $ms ms"
tap_like "hung PostgreSQL: 503 unavailable" "$out" 'HTTP/1.1 503'
tap_like "with Retry-After" "$out" 'Retry-After: [0-9]+'
# the collector gives up after statement_timeout_ms (1 s) + 0.5 s; the bound
# leaves a busy machine room and still fails a collector that waits for the
# client's own 10 s timeout (2 s failed once under load 15+)
tap_check "within 5 s" test "$ms" -lt 5000
t0=$(date +%s%N)
code=$(curl -s -o /dev/null -w '%{http_code}' -m 10 "$URL_B/healthz")
t1=$(date +%s%N)
tap_is "healthz says 503 while PostgreSQL hangs" "$code" "503"
tap_check "also within 5 s" test $(((t1 - t0) / 1000000)) -lt 5000
kill -CONT $pids
ok=""
for i in $(seq 1 30); do
	ok=$(COLL_URL=$URL_A coll_send "$T/k" "$A" "$T/r31" | grep -c '^200 .*"seq":31')
	[ "$ok" = 1 ] && break
	sleep 0.3
done
tap_is "after PostgreSQL resumes, the report is accepted" "$ok" "1"
# a server that is down: connections refused, 503 at once
pg_stop
coll_report "$A" 32 >"$T/r32"
t0=$(date +%s%N)
out=$(COLL_URL=$URL_A coll_send "$T/k" "$A" "$T/r32")
t1=$(date +%s%N)
tap_like "PostgreSQL down: 503" "$out" '^503 .*unavailable'
tap_check "within 5 s" test $(((t1 - t0) / 1000000)) -lt 5000
tap_is "healthz 503" "$(curl -s -o /dev/null -w '%{http_code}' -m 10 "$URL_B/healthz")" "503"
tap_check "collector A still running" kill -0 "$PID_A"
tap_check "collector B still running" kill -0 "$PID_B"
tap_done
