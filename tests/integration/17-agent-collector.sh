#!/bin/bash
# The real agent against the real collector over HTTPS with a test CA:
# enrollment with a one-use token (then "used up"), signed reports stored
# byte for byte in order, the collector down for N cycles then back (all
# delivered once, in order, bodies byte for byte), and a revoked agent (403:
# kept, not retried in a loop).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/40-collector-ingest.sh" # coll_* helpers only

[ -x "$COLLECTOR" ] || bail "no collector binary at $COLLECTOR"
pki_make "$T/pki" || bail "cannot make the test PKI"
export COLL_TLS=1 COLL_CA=$T/pki/ca.pem
coll_start c1 || bail "collector did not start"
DB=$T/c1.db
S=$T/state
SP=$S/spool
cat >"$T/a.conf" <<EOF
[agent]
state_dir = $S
allow_root = yes
jitter = 0
ca_file = $T/pki/ca.pem
[testblock]
mode = ok
EOF
once() { "$AGENT" --config "$T/a.conf" once --probe testblock 2>>"$T/agent.log"; }

coll_cli customer add Acme >/dev/null 2>&1
tok=$(coll_cli token create Acme --uses 1 --expires 1h 2>/dev/null)
tap_like "the collector made a token" "$tok" '^ept_'
out=$("$AGENT" --config "$T/a.conf" enroll --collector "$COLL_URL" --token "$tok" 2>&1)
tap_is "enroll with the real collector: exit 0" "$?" 0
aid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["agent_id"])' "$S/state")
tap_is "  ... the collector knows the agent" "$(coll_sql "$DB" "SELECT COUNT(*) FROM agents WHERE id='$aid'")" 1
out=$("$AGENT" --config "$T/a.conf" enroll --force --collector "$COLL_URL" --token "$tok" 2>&1)
tap_like "the one-use token again: 'used up'" "$out" "enrollment token has been used up"
out=$("$AGENT" --config "$T/a.conf" enroll --force --collector "$COLL_URL" --token ept_0000 2>&1)
tap_like "an unknown token: 'does not know this enrollment token'" "$out" "does not know this enrollment token"
tap_is "  ... the failed attempts kept the enrollment" \
	"$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["agent_id"])' "$S/state")" "$aid"

once
tap_is "once: exit 0" "$?" 0
tap_is "  ... stored as seq 1" "$(coll_sql "$DB" "SELECT seq FROM reports WHERE agent_id='$aid'")" 1

# down for N cycles, then back
coll_stop
for i in 1 2 3 4; do once; done
tap_is "collector down: 4 reports spooled" "$(ls "$SP" | grep -c '\.report$')" 4
mkdir "$T/copies" && cp "$SP"/*.report "$T/copies/"
coll_start c1 || bail "collector did not restart"
# it came back on another port: [agent] collector overrides the enrolled URL
sed -i "s|^\[agent\]$|[agent]\ncollector = $COLL_URL|" "$T/a.conf"
once
tap_is "back: exit 0" "$?" 0
tap_is "  ... all delivered once, in order" \
	"$(coll_sql "$DB" "SELECT seq FROM reports WHERE agent_id='$aid' ORDER BY received_at, seq" | tr '\n' ' ')" \
	"1 2 3 4 5 6 "
tap_is "  ... spool empty" "$(ls "$SP" | grep -c '\.report$')" 0
tap_check "  ... bodies stored byte for byte as the agent spooled and signed them" python3 -c '
import glob,os,sqlite3,subprocess,sys
c=sqlite3.connect(sys.argv[1])
files=glob.glob(sys.argv[3]+"/*.report")
assert len(files)==4
for f in files:
    seq=int(os.path.basename(f).split(".")[0])
    spooled=open(f,"rb").read().split(b"\n",1)[1].decode()
    (codec,body),=c.execute("SELECT codec, body FROM reports WHERE agent_id=? AND seq=?", (sys.argv[2],seq))
    assert codec==1, seq  # a zstd frame (collector/store/codec.h)
    body=subprocess.run(["zstd","-dcq"],input=body,capture_output=True,check=True).stdout.decode()
    assert body==spooled, seq' "$DB" "$aid" "$T/copies"

# check-config asks the real collector whether it knows this agent
nrep=$(sqlite3 "$DB" "SELECT count(*) FROM reports")
out=$("$AGENT" --config "$T/a.conf" check-config 2>&1)
tap_is "check-config against the real collector: exit 0" "$?" 0
tap_like "  ... it knows the agent and its key" "$out" "collector: ok: $COLL_URL knows agent $aid and its key"
tap_like "  ... and its clock agrees" "$out" "collector: ok: clocks agree within [0-9]+ s"
tap_is "  ... nothing stored by the question" "$(sqlite3 "$DB" "SELECT count(*) FROM reports")" "$nrep"

# revoked: 403, kept, one request per cycle
# (check-config's "revoked" is tested against tests/tools/https_sink in
# 19-agent-check-config.sh: the collector's agent cache shows a revocation
# to an unstored request only after up to 30 s)
coll_cli agent revoke "$aid" >/dev/null 2>&1
once
tap_is "revoked: exit 6" "$?" 6
tap_like "  ... says the collector refuses this agent" "$(tail -1 "$T/agent.log")" "refuses this agent: HTTP 403 revoked"
tap_is "  ... the report is kept" "$(ls "$SP" | grep -c '\.report$')" 1

tap_done
