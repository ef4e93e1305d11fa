#!/bin/bash
# Enrollment and signed push over real HTTPS on loopback (tests/tools/https_sink
# with a throwaway CA): success (key 0600, ids in the state, the report
# verified by the server), and each failure with its own message: bad URL,
# DNS, connection refused, wrong CA, wrong host name, expired certificate,
# pin mismatch, token unknown / expired / used up, collector error.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"

[ -x "$AGENT" ] || bail "no agent binary at $AGENT"
[ -x "$TOOLS/https_sink" ] || bail "no https_sink at $TOOLS (make tools)"
pki_make "$T/pki" || bail "cannot make the test PKI"
on_exit sink_stop

S=$T/state
P=$(free_port)
URL=https://127.0.0.1:$P
conf() { # conf FILE [extra [agent] lines...]
	local f=$1
	shift
	{
		printf '[agent]\nstate_dir = %s\nallow_root = yes\njitter = 0\n' "$S"
		printf '%s\n' "$@"
		printf '[testblock]\nmode = ok\n'
	} >"$f"
}
conf "$T/a.conf" "ca_file = $T/pki/ca.pem"
enroll() { # enroll CONF URL TOKEN -> $out, $rc
	out=$("$AGENT" --config "$1" enroll --collector "$2" --token "$3" 2>&1)
	rc=$?
}

# ---- failures before any server ----
enroll "$T/a.conf" "http://127.0.0.1:$P" good1
tap_is "http:// URL: exit 2" "$rc" 2
tap_like "  ... 'bad collector URL'" "$out" "bad collector URL 'http://127.0.0.1:$P': it must start with https://"
enroll "$T/a.conf" "https://exa mple/" good1
tap_like "malformed URL: 'bad collector URL'" "$out" "bad collector URL"
enroll "$T/a.conf" "https://erpulse-collector.invalid:8443" good1
tap_is "unresolvable host: exit 1" "$rc" 1
tap_like "  ... 'cannot resolve'" "$out" "cannot resolve the collector's host name"
enroll "$T/a.conf" "$URL" good1
tap_is "nothing listening: exit 1" "$rc" 1
tap_like "  ... 'cannot connect' (connection refused)" "$out" "cannot connect to the collector at '$URL'.*(refused|Failed to connect)"
tap_check "failed enrollments leave no key behind" test ! -e "$S/agent.key" -a ! -e "$S/agent.key.new"

# ---- TLS verification ----
sink_start "$T/sink-other" "$P" "$T/pki/other.pem" "$T/pki/other.key" || bail "sink did not start"
enroll "$T/a.conf" "$URL" good1
tap_is "certificate from another CA: exit 1" "$rc" 1
tap_like "  ... 'TLS verification ... failed' with curl's reason" "$out" "TLS verification of the collector at '$URL' failed: .*(certificate|issuer)"
sink_stop
sink_start "$T/sink-wh" "$P" "$T/pki/wronghost.pem" "$T/pki/wronghost.key" || bail "sink did not start"
enroll "$T/a.conf" "$URL" good1
tap_like "certificate for another host name refused" "$out" "TLS verification .* failed: .*(name|match|subject)"
sink_stop
sink_start "$T/sink-exp" "$P" "$T/pki/expired.pem" "$T/pki/expired.key" || bail "sink did not start"
enroll "$T/a.conf" "$URL" good1
tap_like "expired certificate refused" "$out" "TLS verification .* failed: .*expired"
sink_stop
conf "$T/sys.conf"
sink_start "$T/sink" "$P" "$T/pki/server.pem" "$T/pki/server.key" || bail "sink did not start"
enroll "$T/sys.conf" "$URL" good1
tap_like "system trust store does not trust the test CA" "$out" "TLS verification .* failed"
conf "$T/pin.conf" "ca_file = $T/pki/ca.pem" "pinned_pubkey = $(pki_pin "$T/pki/other.pem")"
enroll "$T/pin.conf" "$URL" good1
tap_like "pinned key mismatch refused" "$out" "TLS verification .* failed: .*(pinned|public key)"
tap_check "no requests reached the server through a failed TLS check" test ! -s "$T/sink/requests.log"

# ---- token and collector errors ----
enroll "$T/a.conf" "$URL" nosuchtoken
tap_is "unknown token: exit 6" "$rc" 6
tap_like "  ... 'does not know this enrollment token'" "$out" "does not know this enrollment token"
enroll "$T/a.conf" "$URL" expired
tap_like "expired token: 'has expired'" "$out" "enrollment token has expired"
enroll "$T/a.conf" "$URL" usedup
tap_like "used-up token: 'used up'" "$out" "enrollment token has been used up"
echo "500" >"$T/sink/control"
enroll "$T/a.conf" "$URL" good1
tap_like "collector error: HTTP status and code" "$out" "collector refused the enrollment: HTTP 500 unavailable"
echo normal >"$T/sink/control"
tap_check "no key or state after the refusals" test ! -e "$S/agent.key" -a ! -e "$S/state"

# ---- success ----
conf "$T/ok.conf" "ca_file = $T/pki/ca.pem" "pinned_pubkey = $(pki_pin "$T/pki/server.pem")"
enroll "$T/ok.conf" "$URL" good1
tap_is "enroll with the right CA and pin: exit 0" "$rc" 0
tap_like "  ... prints the agent id" "$out" "^enrolled: agent [0-9a-f]{32}, customer cust1"
tap_is "key file mode 0600" "$(stat -c %a "$S/agent.key")" 600
aid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["agent_id"])' "$S/state")
tap_like "state holds the agent id" "$aid" '^[0-9a-f]{32}$'
tap_check "state holds customer and collector" python3 -c '
import json,sys; d=json.load(open(sys.argv[1])); assert d["customer_id"]=="cust1" and d["collector"]==sys.argv[2], d' "$S/state" "$URL"
tap_check "the server got the key the agent keeps" test -s "$T/sink/agents/$aid.pub"
enroll "$T/ok.conf" "$URL" good2
tap_like "enrolling twice needs --force" "$out" "already enrolled as agent $aid"

# ---- signed push ----
"$AGENT" --config "$T/ok.conf" once 2>"$T/once.err"
tap_is "once delivers: exit 0" "$?" 0
tap_is "the server accepted seq 1 (signature verified on the raw body)" "$(sink_seqs "$T/sink")" "1"
tap_check "spool empty after the 2xx" test -z "$(ls "$S/spool")"
body=$(cat "$T/sink/reports/"*-1.json)
tap_check "delivered body is the report, agent id as enrolled" python3 -c '
import json,sys; d=json.loads(sys.argv[1]); assert d["agent_id"]==sys.argv[2] and d["seq"]==1' "$body" "$aid"
"$AGENT" --config "$T/ok.conf" once 2>>"$T/once.err"
tap_is "second cycle: seq 2" "$(sink_seqs "$T/sink" | tr '\n' ' ')" "1 2 "
pr=$("$AGENT" --config "$T/ok.conf" once --print --probe testblock)
"$AGENT" --config "$T/ok.conf" once --probe testblock 2>>"$T/once.err"
tap_check "once --print shows what the next once signs and sends (up to clock and timings)" python3 -c '
import json,sys,glob
a=json.loads(sys.argv[1])
b=json.load(open(glob.glob(sys.argv[2])[0]))
for d in (a,b):
    d.pop("generated_at"); d["host"].pop("uptime_s")
    for p in d["probes"]: p.pop("duration_ms")
assert a==b, (a,b)
assert a["seq"]==3' "$pr" "$T/sink/reports/*-3.json"
out=$("$AGENT" --config "$T/ok.conf" status)
tap_like "status shows the last push" "$out" "last push: +accepted seq 3"
tap_like "status shows an empty spool" "$out" "spool: +0 report"

# ---- through an HTTPS proxy: from the config, then from the environment ----
PX=$(free_port)
proxy_start "$PX" "$T/proxy.log" || bail "proxy did not start"
on_exit proxy_stop
conf "$T/px.conf" "ca_file = $T/pki/ca.pem" "proxy = http://127.0.0.1:$PX"
sed -i "s|^\[agent\]|[agent]\ncollector = $URL|" "$T/px.conf"
"$AGENT" --config "$T/px.conf" once 2>>"$T/once.err"
tap_is "push through the configured proxy: exit 0" "$?" 0
tap_is "  ... the proxy carried it" "$(grep -c "CONNECT 127.0.0.1:$P" "$T/proxy.log")" 1
https_proxy=http://127.0.0.1:$PX "$AGENT" --config "$T/ok.conf" once 2>>"$T/once.err"
tap_is "push through https_proxy from the environment: exit 0" "$?" 0
tap_is "  ... the proxy carried it" "$(grep -c "CONNECT 127.0.0.1:$P" "$T/proxy.log")" 2
tap_is "  ... all delivered in order" "$(sink_seqs "$T/sink" | tr '\n' ' ')" "1 2 3 4 5 "
proxy_stop

# a push through a server with the wrong certificate is refused the same way
sink_stop
sink_start "$T/sink" "$P" "$T/pki/expired.pem" "$T/pki/expired.key" || bail "sink did not restart"
out=$("$AGENT" --config "$T/ok.conf" once 2>&1)
tap_is "push to an expired certificate: exit 5, kept" "$?" 5
tap_like "  ... says TLS verification failed" "$out" "TLS verification failed"
tap_is "  ... the report stays in the spool" "$(ls "$S/spool" | grep -c report)" 1

tap_done
