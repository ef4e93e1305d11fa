#!/bin/bash
# Alert notices end to end: a real local webhook receiver (python http.server)
# and a real SMTP sink (aiosmtpd) get raise and clear notices through the
# persistent outbox; nothing while an alert stays the same; a failing receiver
# is retried (at least once); a private target is refused unless allowed; a
# hung receiver never slows ingest.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/40-collector-ingest.sh"

PY=/usr/bin/python3
$PY -c 'import aiosmtpd' 2>/dev/null || bail "python3-aiosmtpd is not installed"
HOOK=$T/hook
mkdir -p "$HOOK"
echo ok >"$HOOK/mode"
WPORT=$(free_port)
# receiver: stores each body as HOOK/N.json; $HOOK/mode: ok | fail-once | slow
$PY - "$WPORT" "$HOOK" >"$T/hook.log" 2>&1 <<'PY' &
import http.server, os, sys, time
port, d = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        mode = open(os.path.join(d, "mode")).read().strip()
        if mode == "slow":
            time.sleep(8)
        if mode == "fail-once":
            open(os.path.join(d, "mode"), "w").write("ok")
            self.send_response(503); self.end_headers(); return
        n = len([f for f in os.listdir(d) if f.endswith(".json")])
        with open(os.path.join(d, "%03d.json" % n), "wb") as f:
            f.write(body)
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
WPID=$!
on_exit "kill $WPID"
SPORT=$(free_port)
$PY -u -m aiosmtpd -n -l "127.0.0.1:$SPORT" >"$T/smtp.out" 2>&1 &
SPID=$!
on_exit "kill $SPID"
wait_for 5 port_open "$WPORT" || bail "webhook receiver did not start"
wait_for 5 port_open "$SPORT" || bail "SMTP sink did not start"

coll_start n1 "[alerts]" "webhook_url = http://127.0.0.1:$WPORT/hook" "webhook_format = generic" \
	"allow_private_targets = yes" "smtp_url = smtp://127.0.0.1:$SPORT" \
	"mail_from = erpulse@vendor.example" "mail_to = support@vendor.example, oncall@vendor.example" ||
	bail "collector did not start"
A=$(coll_enroll Acme "$T/k" erp01) && [ -n "$A" ] || bail "enroll"
# the agent judges (docs/protocol.md): warning above 30, critical above 50
sev() { awk -v v="$1" 'BEGIN { print (v > 50 ? "critical" : v > 30 ? "warning" : "info") }'; }
frag() { echo "[{\"kind\":\"index_fragmentation\",\"object\":\"odoo/public.sale_order_line_order_id_idx\",\"value\":$1,\"unit\":\"%\",\"threshold\":30,\"critical_threshold\":50,\"severity\":\"$(sev "$1")\",\"method\":\"pgstatindex\",\"message\":\"wasted leaf space\",\"remediation\":\"REINDEX INDEX CONCURRENTLY public.sale_order_line_order_id_idx;\",\"pages\":5000}]"; }
hooks() { ls "$HOOK"/*.json 2>/dev/null | wc -l; }
mails() { grep -c '^---------- MESSAGE FOLLOWS' "$T/smtp.out"; }
hooks_ge() { [ "$(hooks)" -ge "$1" ]; }
mails_ge() { [ "$(mails)" -ge "$1" ]; }
dead_is() { [ "$(coll_sql "$T/n2.db" "SELECT COUNT(*) FROM outbox WHERE dead_at IS NOT NULL")" = "$1" ]; }

coll_report "$A" 1 "$(frag 41.2)" >"$T/r1"
t0=$(date +%s%N)
coll_send "$T/k" "$A" "$T/r1" | grep -q '^200 .*accepted' || bail "report 1"
wait_for 5 hooks_ge 1
t1=$(date +%s%N)
tap_is "fragmentation 41% raises one webhook notice" "$(hooks)" "1"
echo "# report to webhook: $(((t1 - t0) / 1000000)) ms"
# a bound, not a benchmark (tests/bench/collector-ingest measures the p99:
# ~70 ms): 1 s failed once under load 15+ on a 2-core machine; a notice that
# waited for a retry's backoff (30 s and more) would still fail it
tap_check "the notice arrives within 5 s of the triggering report" test $(((t1 - t0) / 1000000)) -lt 5000
tap_is "generic JSON: raise of index_fragmentation on the index" \
	"$(json_get "$HOOK/000.json" 'j["state"], j["rule"], j["object"], j["severity"], j["host"], j["customer"]')" \
	"('raise', 'index_fragmentation', 'odoo/public.sale_order_line_order_id_idx', 'warning', 'erp01', 'Acme')"
tap_like "the notice carries the remediation" "$(cat "$HOOK/000.json")" 'REINDEX INDEX CONCURRENTLY'
wait_for 5 mails_ge 1
tap_is "the SMTP sink received one mail" "$(mails)" "1"
tap_like "mail to both recipients" "$(cat "$T/smtp.out")" 'support@vendor.example.*oncall@vendor.example|RCPT.*oncall'
tap_like "mail subject names the alert" "$(grep -i '^Subject:' "$T/smtp.out")" 'index_fragmentation'

coll_report "$A" 2 "$(frag 41.9)" >"$T/r2"
coll_send "$T/k" "$A" "$T/r2" >/dev/null
sleep 1.5
tap_is "the same level again: no new notice" "$(hooks) $(mails)" "1 1"
coll_report "$A" 3 "$(frag 27)" >"$T/r3"
coll_send "$T/k" "$A" "$T/r3" >/dev/null
sleep 1.5
tap_is "27% (between 25 and 30): still open, no notice (hysteresis)" "$(hooks)" "1"

echo fail-once >"$HOOK/mode"
coll_report "$A" 4 "$(frag 20)" >"$T/r4"
coll_send "$T/k" "$A" "$T/r4" >/dev/null
wait_for 10 hooks_ge 2
tap_is "20%: a clear notice, delivered after the receiver's 503 (retried)" \
	"$(hooks) $(json_get "$HOOK/001.json" 'j["state"]')" "2 clear"
wait_for 5 mails_ge 2
tap_is "and a clear mail" "$(mails)" "2"
tap_is "outbox: every notice marked sent" \
	"$(coll_sql "$T/n1.db" "SELECT COUNT(*), SUM(sent_at IS NOT NULL), MAX(attempts) FROM outbox")" "4|4|2"
tap_like "notices counted in /metrics" "$(curl -s "$COLL_URL/metrics")" 'erpulse_notices_total\{result="failed"\} 1'
coll_stop

# a private target without allow_private_targets: refused, never delivered
before=$(hooks)
coll_start n2 "[alerts]" "webhook_url = http://127.0.0.1:$WPORT/hook" || bail "collector 2"
B=$(coll_enroll Acme "$T/k2" erp02) && [ -n "$B" ] || bail "enroll 2"
coll_report "$B" 1 "$(frag 60)" >"$T/b1"
coll_send "$T/k2" "$B" "$T/b1" >/dev/null
wait_for 5 dead_is 1
tap_is "webhook to 127.0.0.1 without allow_private_targets: given up, not sent" \
	"$(coll_sql "$T/n2.db" "SELECT COUNT(*) FROM outbox WHERE dead_at IS NOT NULL") $(hooks)" "1 $before"
tap_like "the reason is recorded" "$(coll_sql "$T/n2.db" "SELECT last_error FROM outbox")" 'private|loopback'
coll_stop

# a hung receiver: ingest stays fast
echo slow >"$HOOK/mode"
coll_start n3 "[alerts]" "webhook_url = http://127.0.0.1:$WPORT/hook" "allow_private_targets = yes" \
	"send_timeout = 5s" || bail "collector 3"
C=$(coll_enroll Acme "$T/k3" erp03) && [ -n "$C" ] || bail "enroll 3"
for i in $(seq 1 10); do
	v=60
	[ $((i % 2)) = 0 ] && v=10
	coll_report "$C" "$i" "$(frag $v)" >"$T/c$i"
done
t0=$(date +%s%N)
out=$(coll_send "$T/k3" "$C" $(for i in $(seq 1 10); do echo "$T/c$i"; done))
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
echo "# 10 reports raising/clearing alerts with a hung webhook: ${ms} ms"
tap_is "all 10 accepted" "$(printf '%s\n' "$out" | grep -c '^200 .*accepted')" "10"
tap_check "in under 2 s in total (the hung webhook does not slow ingest)" test "$ms" -lt 2000
tap_is "10 notices queued in the outbox" "$(coll_sql "$T/n3.db" "SELECT COUNT(*) FROM outbox")" "10"
echo ok >"$HOOK/mode"
tap_done
