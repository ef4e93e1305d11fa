#!/bin/bash
# Incidents end to end (docs/incidents.md), with a real collector, a real
# webhook receiver that checks DingTalk and Feishu signatures the way those
# services do, and a real SMTP sink. SLA time moves through the collector's
# test clock (ERPULSE_TEST_CLOCK_FILE), never by sleeping:
#  - a gold critical incident not acknowledged warns at 80%, breaches and
#    goes to L2 at 30 min, to L3 at 60 min (webhook and mail), once each;
#  - an acknowledged incident never escalates;
#  - a cleared finding resolves the incident as verified, with the before
#    and after values and the report that proved it;
#  - the cross-tenant matrix of incidents, comments and actions;
#  - the CLI (customer tier, incident, sla, notify test) and /metrics.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/40-collector-ingest.sh"

PY=/usr/bin/python3
$PY -c 'import aiosmtpd' 2>/dev/null || bail "python3-aiosmtpd is not installed"
HOOK=$T/hook
mkdir -p "$HOOK"
WPORT=$(free_port)
DING_SECRET=SECdingtalk-test-secret
FEISHU_SECRET=feishu-test-secret
# receiver: each POST -> HOOK/NNN.json (body) and HOOK/NNN.meta ("PATH SIG"),
# SIG = ok | bad | none: DingTalk: timestamp (ms, within an hour) and sign in
# the query, HMAC-SHA256(secret, "ts\nsecret"); Feishu: timestamp (s) and
# sign in the body, HMAC-SHA256("ts\nsecret", "").
$PY - "$WPORT" "$HOOK" "$DING_SECRET" "$FEISHU_SECRET" >"$T/hook.log" 2>&1 <<'PY' &
import base64, hashlib, hmac, http.server, json, os, sys, time, urllib.parse
port, d, ding, feishu = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
def b64(key, msg):
    return base64.b64encode(hmac.new(key.encode(), msg.encode(), hashlib.sha256).digest()).decode()
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        u = urllib.parse.urlparse(self.path)
        sig = "none"
        if u.path == "/ding":
            q = urllib.parse.parse_qs(u.query)
            ts, sign = q.get("timestamp", [""])[0], q.get("sign", [""])[0]
            fresh = ts.isdigit() and abs(int(ts) - time.time() * 1000) < 3600 * 1000
            sig = "ok" if fresh and hmac.compare_digest(sign, b64(ding, ts + "\n" + ding)) else "bad"
        elif u.path == "/feishu":
            j = json.loads(body)
            ts, sign = str(j.get("timestamp", "")), j.get("sign", "")
            fresh = ts.isdigit() and abs(int(ts) - time.time()) < 3600
            sig = "ok" if fresh and hmac.compare_digest(sign, b64(ts + "\n" + feishu, "")) else "bad"
        n = len([f for f in os.listdir(d) if f.endswith(".json")])
        with open(os.path.join(d, "%03d.meta" % n), "w") as f:
            f.write("%s %s\n" % (u.path, sig))
        with open(os.path.join(d, "%03d.json" % n), "wb") as f:
            f.write(body)
        out = b'{"errcode":0,"errmsg":"ok"}' if u.path == "/ding" else b'{"code":0}'
        self.send_response(200); self.end_headers(); self.wfile.write(out)
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

on_exit "cp $T/n1.log /tmp/49-n1.log"
export ERPULSE_TEST_CLOCK_FILE=$T/clock
clock() { echo "+$1" >"$ERPULSE_TEST_CLOCK_FILE"; }
clock 0
H="http://127.0.0.1:$WPORT"
coll_start n1 "[alerts]" "allow_private_targets = yes" "smtp_url = smtp://127.0.0.1:$SPORT" \
	"mail_from = erpulse@vendor.example" \
	"[incidents]" "escalation_interval = 1s" \
	"[tier.gold]" "escalation_l1 = l1 ding" "escalation_l2 = l2 feishu" "escalation_l3 = l3 mail" \
	"[channel.l1]" "type = generic" "url = $H/l1" \
	"[channel.l2]" "type = generic" "url = $H/l2" \
	"[channel.l3]" "type = generic" "url = $H/l3" \
	"[channel.ding]" "type = dingtalk" "url = $H/ding?access_token=t0k" "secret = $DING_SECRET" \
	"[channel.feishu]" "type = feishu" "url = $H/feishu" "secret = $FEISHU_SECRET" \
	"language = zh-CN" \
	"[channel.mail]" "type = email" "to = oncall@vendor.example" \
	"[route.resolved]" "events = resolved" "channels = l1" ||
	bail "collector did not start"
A=$(coll_enroll Acme "$T/ka" erp01) && [ -n "$A" ] || bail "enroll Acme"
B=$(coll_enroll Beta "$T/kb" erp02) && [ -n "$B" ] || bail "enroll Beta"
tap_like "customer tier Acme gold" "$(coll_cli customer tier Acme gold 2>&1)" "tier gold"
tap_like "an unknown tier is refused" "$(coll_cli customer tier Acme bronze 2>&1)" "unknown tier"
tok() { coll_cli user add "$1" --role "$2" ${3:+--customer "$3"} 2>/dev/null; }
SUPPORT=$(tok alice support)
VVIEW=$(tok victor vendor_viewer)
AVIEW=$(tok ann viewer Acme)
AADMIN=$(tok adam customer_admin Acme)
BVIEW=$(tok bob viewer Beta)
BADMIN=$(tok bea customer_admin Beta)
[ -n "$SUPPORT" ] && [ -n "$AVIEW" ] && [ -n "$BADMIN" ] || bail "users"

api() { # api TOKEN METHOD PATH [BODY] -> "STATUS BODY"
	local t=$1 m=$2 p=$3
	curl -s -o "$T/api.out" -w '%{http_code}' -X "$m" -H "Authorization: Bearer $t" \
		${4:+-d "$4"} "$COLL_URL$p"
	echo " $(cat "$T/api.out")"
}
# the agent decides the severity (one severity, issue 10): critical from 50, warning from 30
sev_of() { awk -v v="$1" 'BEGIN { print (v >= 50 ? "critical" : v >= 30 ? "warning" : "info") }'; }
one() { echo "{\"kind\":\"index_fragmentation\",\"object\":\"odoo/public.$2\",\"value\":$1,\"unit\":\"%\",\"threshold\":30,\"critical_threshold\":50,\"severity\":\"$(sev_of "$1")\",\"method\":\"pgstatindex\",\"message\":\"wasted leaf space\",\"remediation\":\"REINDEX INDEX CONCURRENTLY public.$2;\",\"pages\":5000}"; }
frag() { echo "[$(one "$1" "$2")]"; }
count() { grep -l "^$1 " "$HOOK"/*.meta 2>/dev/null | wc -l; }
count_ge() { [ "$(count "$1")" -ge "$2" ]; }
events_at() { # events_at PATH: the incident events a receiver path got, in order
	local m
	for m in $(grep -l "^$1 " "$HOOK"/*.meta 2>/dev/null | sort); do
		json_get "${m%.meta}.json" 'j.get("incident", {}).get("event", "?")'
	done | tr '\n' ' '
}
mails() { grep -c '^---------- MESSAGE FOLLOWS' "$T/smtp.out"; }
mails_ge() { [ "$(mails)" -ge "$1" ]; }

# ---- a gold critical incident nobody acknowledges ------------------------------------
coll_report "$A" 1 "$(frag 55 sale_order_line_idx)" >"$T/r1"
coll_send "$T/ka" "$A" "$T/r1" | grep -q '^200 .*accepted' || bail "report 1"
wait_for 10 count_ge /l1 1
wait_for 10 count_ge /ding 1
tap_is "the opened notice goes to L1 (generic and DingTalk)" "$(count /l1) $(count /ding)" "1 1"
tap_is "the DingTalk robot accepts the signature" "$(cut -d' ' -f2 $(grep -l '^/ding ' "$HOOK"/*.meta))" "ok"
ID=$(json_get "$(ls "$HOOK"/*.json | head -1)" 'j["incident"]["id"]')
tap_like "the notice names the incident" "$ID" '^[0-9]+$'
tap_is "nothing at L2 yet" "$(count /l2)" "0"

clock 1440 # 24 min: 80% of the 30 min response target
wait_for 15 count_ge /l1 2
tap_is "80%: a response warning at L1" "$(events_at /l1)" "opened response_warning "
clock 1800 # 30 min: breach, and L2
wait_for 15 count_ge /l2 1
wait_for 15 count_ge /feishu 1
tap_is "30 min: escalated to L2" "$(events_at /l2)" "escalate_l2 "
tap_is "the Feishu robot accepts the signature (body timestamp and sign)" \
	"$(cut -d' ' -f2 $(grep -l '^/feishu ' "$HOOK"/*.meta))" "ok"
tap_like "Feishu gets its zh-CN text" "$(cat $(grep -l '^/feishu ' "$HOOK"/*.meta | sed 's/meta$/json/'))" '已升级至 L2'
wait_for 15 count_ge /l1 3
tap_is "the breach notice at L1" "$(events_at /l1)" "opened response_warning response_breach "
clock 3600 # 60 min: L3, by webhook and by mail
wait_for 15 count_ge /l3 1
wait_for 15 mails_ge 1
tap_is "60 min: escalated to L3" "$(events_at /l3)" "escalate_l3 "
tap_like "L3 by mail too" "$(grep -i '^Subject:' "$T/smtp.out")" 'index_fragmentation'
tap_is "each step once (L2 one notice, L3 one notice)" "$(count /l2) $(count /l3)" "1 1"

# ---- acknowledged: escalation stops -------------------------------------------------------
out=$(api "$SUPPORT" POST "/api/v1/incidents/$ID/acknowledge" '{}')
tap_like "support acknowledges (200, changed)" "$out" '^200 .*"changed": ?true'
out=$(api "$SUPPORT" POST "/api/v1/incidents/$ID/acknowledge")
tap_like "acknowledging again is idempotent (200, unchanged)" "$out" '^200 .*"changed": ?false'
coll_report "$A" 2 "[$(one 55 sale_order_line_idx),$(one 52 stock_move_idx)]" >"$T/r2"
coll_send "$T/ka" "$A" "$T/r2" | grep -q '^200' || bail "report 2"
wait_for 10 count_ge /l1 4
ID2=$(coll_cli incident list --json | json_get - '[i["id"] for i in j if i["object"].endswith("stock_move_idx")][0]')
out=$(api "$SUPPORT" POST "/api/v1/incidents/$ID2/assign" '{"assignee":"carol"}')
tap_like "support assigns the second incident at once" "$out" '^200 .*"in_progress"'
clock 7200 # 2 h: the second incident is an hour old, answered: no escalation
out=$(coll_cli incident escalate)
tap_like "incident escalate runs a pass" "$out" 'SLA events fired'
tap_is "no escalation of an acknowledged incident" "$(count /l2) $(count /l3)" "1 1"

# ---- the cross-tenant matrix -------------------------------------------------------------
tap_like "Beta's viewer: Acme's incident is 404" "$(api "$BVIEW" GET "/api/v1/incidents/$ID")" '^404'
tap_like "Beta's admin cannot comment on it (404)" \
	"$(api "$BADMIN" POST "/api/v1/incidents/$ID/comment" '{"text":"hi"}')" '^404'
tap_like "Beta's viewer lists none of Acme's" "$(api "$BVIEW" GET /api/v1/incidents)" '^200 \{"incidents": ?\[\]\}'
tap_like "Acme's viewer may not act (403)" "$(api "$AVIEW" POST "/api/v1/incidents/$ID/resolve")" '^403'
tap_like "a vendor viewer may not act (403)" "$(api "$VVIEW" POST "/api/v1/incidents/$ID/resolve")" '^403'
tap_like "Acme's admin may not close (403)" \
	"$(api "$AADMIN" POST "/api/v1/incidents/$ID/close" '{"reason":"duplicate"}')" '^403'
api "$SUPPORT" POST "/api/v1/incidents/$ID/comment" '{"text":"internal: customer DBA is slow"}' >/dev/null
api "$SUPPORT" POST "/api/v1/incidents/$ID/comment" '{"text":"REINDEX tonight","visibility":"customer"}' >/dev/null
tap_like "Acme's admin comments" "$(api "$AADMIN" POST "/api/v1/incidents/$ID/comment" '{"text":"ok for us"}')" '^200'
out=$(api "$AVIEW" GET "/api/v1/incidents/$ID")
tap_like "Acme's viewer sees the incident and the customer-visible comments" "$out" '^200 .*REINDEX tonight.*ok for us'
tap_unlike() { if [[ "$2" =~ $3 ]]; then tap_fail "$1"; else tap_ok "$1"; fi; }
tap_unlike "...but never the internal ones nor the escalations" "$out" 'customer DBA|escalate_l2'
out=$(api "$VVIEW" GET "/api/v1/incidents/$ID")
tap_like "a vendor viewer sees internal comments and escalations" "$out" 'customer DBA.*escalate_l2|escalate_l2.*customer DBA'
tap_like "a bad close reason is 400" \
	"$(api "$SUPPORT" POST "/api/v1/incidents/$ID/close" '{"reason":"bored"}')" '^400'
tap_like "an unknown action is 404" "$(api "$SUPPORT" POST "/api/v1/incidents/$ID/explode")" '^404'
tap_like "no token: 401" "$(api nope GET /api/v1/incidents)" '^401'

# ---- the fix: a later report clears it, verified ------------------------------------------
coll_report "$A" 3 "[$(one 3.5 sale_order_line_idx),$(one 52 stock_move_idx)]" >"$T/r3"
coll_send "$T/ka" "$A" "$T/r3" | grep -q '^200' || bail "report 3"
out=$(api "$AVIEW" GET "/api/v1/incidents/$ID")
tap_is "resolved, verified, before/after and the report's seq" \
	"$(echo "${out#* }" | json_get - 'j["state"], j["verified"], j["before"], j["after"], j["resolved_seq"]')" \
	"('resolved', True, 55.0, 3.5, 3)"
wait_for 10 count_ge /l1 6
tap_like "the resolved notice reaches L1 once (tier and route name it)" "$(events_at /l1)" 'resolved $'
tap_like "a resolved incident cannot be assigned (409)" \
	"$(api "$SUPPORT" POST "/api/v1/incidents/$ID/assign" '{"assignee":"x"}')" '^409'

# ---- CLI, SLA and metrics ----------------------------------------------------------------
out=$(coll_cli incident show "$ID")
tap_like "incident show: the timeline" "$out" 'before 55.0, after 3.5 \(verified by a report\)'
out=$(coll_cli sla --customer Acme --json)
tap_is "sla --json: opened, resolved, breaches" \
	"$(echo "$out" | json_get - 'j["overall"]["opened"], j["overall"]["resolved"], j["overall"]["breaches"]')" \
	"(2, 1, 1)"
tap_like "sla (table)" "$(coll_cli sla)" 'gold'
out=$(api "$AVIEW" GET /api/v1/sla)
tap_like "the read API's SLA month for Acme's viewer" "$out" '^200 .*"opened": ?2'
tap_like "the read API's SLA month for Beta's viewer: nothing of Acme's" "$(api "$BVIEW" GET /api/v1/sla)" '"opened": ?0'
tap_like "notify test ding: the robot's answer" "$(coll_cli notify test ding)" 'ok \(status 200'
tap_like "notify test: unknown channel" "$(coll_cli notify test nope 2>&1)" 'no \[channel.nope\]'
# ---- maintenance windows: the vendor proposes, the customer's admin approves -------------
W=$(coll_cli maintenance add Acme --weekly 'Sun 02:00-04:00' --time-zone Asia/Shanghai --reason "index rebuild" 2>/dev/null)
tap_like "maintenance add: a window id" "$W" '^[0-9]+$'
tap_like "Beta's admin cannot approve it (404)" "$(api "$BADMIN" POST "/api/v1/maintenance/$W/approve")" '^404'
tap_like "Acme's viewer may not approve (403)" "$(api "$AVIEW" POST "/api/v1/maintenance/$W/approve")" '^403'
tap_like "Acme's admin approves" "$(api "$AADMIN" POST "/api/v1/maintenance/$W/approve")" '^200 .*"changed": ?true'
tap_like "the window is listed approved by adam" "$(api "$AVIEW" GET /api/v1/maintenance)" '"approved_by": ?"adam"'
tap_like "Beta sees no window of Acme's" "$(api "$BVIEW" GET /api/v1/maintenance)" '^200 \{"windows": ?\[\]\}'
tap_like "maintenance list" "$(coll_cli maintenance list)" 'index rebuild'

m=$(curl -s "$COLL_URL/metrics")
tap_like "metrics: live incidents by state" "$m" 'erpulse_incidents\{state="in_progress"\} 1'
tap_like "metrics: SLA events" "$m" 'erpulse_sla_events_total [1-9]'
tap_done
