#!/bin/bash
# Probe isolation (docs/agent.md, "Isolation"): probes that block forever
# (sleep), spin, or crash are cut off or contained at their deadline, each
# reported as an error with the reason, while the other probes' results still
# go out in the same report; no worker outlives the cycle.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"

[ -x "$TOOLS/https_sink" ] || bail "no https_sink at $TOOLS (make tools)"
pki_make "$T/pki" || bail "cannot make the test PKI"
on_exit sink_stop

S=$T/state
K=$T/sink
P=$(free_port)
cat >"$T/a.conf" <<EOF
[agent]
state_dir = $S
allow_root = yes
jitter = 0
probe_timeout = 2
ca_file = $T/pki/ca.pem

[testblock.hang]
mode = sleep
[testblock.spin]
mode = spin
[testblock.crash]
mode = crash
[testblock.one]
mode = ok
[testblock.two]
mode = ok
EOF
sink_start "$K" "$P" "$T/pki/server.pem" "$T/pki/server.key" || bail "sink did not start"
"$AGENT" --config "$T/a.conf" enroll --collector "https://127.0.0.1:$P" --token good1 >/dev/null 2>&1 ||
	bail "enroll failed"

t0=$(date +%s%N)
"$AGENT" --config "$T/a.conf" once 2>"$T/agent.log"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
tap_is "once with hanging probes: exit 0 (delivered)" "$rc" 0
tap_check "  ... the cycle ended at the 2 s deadline, not later (${ms} ms)" test "$ms" -ge 1900 -a "$ms" -lt 4500
tap_is "  ... one report accepted" "$(sink_seqs "$K")" 1
body=$(cat "$K"/reports/*-1.json)
tap_check "blocked and spinning probes: error 'timed out after 2 s'" python3 -c '
import json,sys
d={p["name"]:p for p in json.loads(sys.argv[1])["probes"]}
for n in ("testblock.hang","testblock.spin"):
    assert d[n]["status"]=="error" and d[n]["error"]=="timed out after 2 s", d[n]
    assert 1900 <= d[n]["duration_ms"] <= 3000, d[n]["duration_ms"]
    f=d[n]["findings"]
    assert f and f[0]["kind"]=="probe_error" and f[0]["object"]==n, f' "$body"
tap_check "crashing probe: error naming the signal" python3 -c '
import json,sys
d={p["name"]:p for p in json.loads(sys.argv[1])["probes"]}
assert d["testblock.crash"]["status"]=="error", d["testblock.crash"]
assert "killed by signal 11" in d["testblock.crash"]["error"], d["testblock.crash"]' "$body"
tap_check "configured lists the killed, crashed and healthy instances alike" python3 -c '
import json,sys
c=[x["name"] for x in json.loads(sys.argv[1])["configured"]]
assert c==["testblock.hang","testblock.spin","testblock.crash","testblock.one","testblock.two","disk"], c' "$body"
tap_check "the other probes' results went out in the same report" python3 -c '
import json,sys
d={p["name"]:p for p in json.loads(sys.argv[1])["probes"]}
for n in ("testblock.one","testblock.two"):
    assert d[n]["status"]=="ok" and d[n]["metrics"]=={"answer":42}, d[n]
    assert d[n]["duration_ms"] < 1000, d[n]' "$body"
sleep 0.2
left=0
for p in /proc/[0-9]*; do
	[ "$(readlink "$p/exe" 2>/dev/null)" = "$AGENT" ] && left=$((left + 1))
done
tap_is "no probe worker left behind" "$left" 0
tap_like "the log names the probe and the reason" "$(cat "$T/agent.log")" "probe testblock.hang: timed out after 2 s"
out=$("$AGENT" --config "$T/a.conf" status)
tap_like "status lists the last error per probe" "$out" "testblock.hang +error: timed out after 2 s"
tap_like "  ... and the good ones" "$out" "testblock.one +ok"

# check-config is cut off the same way
out=$("$AGENT" --config "$T/a.conf" check-config 2>&1)
tap_is "check-config with a crashing probe: exit 3" "$?" 3
tap_like "  ... names the crash" "$out" "\[testblock.crash\]: probe worker died: killed by signal 11"
tap_like "  ... and the hang" "$out" "\[testblock.hang\]: timed out after 2 s"
tap_like "  ... and passes the good ones" "$out" "\[testblock.one\]: ok"

tap_done
