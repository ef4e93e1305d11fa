#!/bin/bash
# Issue 15, both halves of a host without a network path, end to end: a real
# agent enrolled with a real collector spools N reports while the collector
# is away, `erpulse-agent export` bundles them, `erpulse-collector import`
# (run as 49-collector-cli.sh runs it: the collector's command with its
# configuration) accepts the N; the same bundle again is all duplicates; a
# bundle with one byte of one body changed is refused for that report alone,
# with the reason, and the others import; the host's last seq in the read API
# then equals the agent's, and the agent, once the collector is back, empties
# its spool (exit 0) and the last seqs agree again. The collector then holds
# seqs 5 and 7 of that bundle but not 6: the agent, answered 409 seq_conflict
# for 6, gives that report alone a new seq (re-numbering 7 too would store its
# body twice): every report body stored exactly once, none lost.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/40-collector-ingest.sh"

pki_make "$T/pki" >/dev/null || bail "cannot make the test PKI"
export COLL_TLS=1 COLL_CA=$T/pki/ca.pem
coll_start imp || bail "collector did not start"
DB=$T/imp.db
coll_cli customer add Acme >/dev/null 2>&1
TOKEN=$(coll_cli token create Acme 2>/dev/null) || bail "no enrollment token"
API=$(coll_cli user add vera --role vendor 2>/dev/null) || bail "no API user"

S=$T/state
cat >"$T/a.conf" <<CONF
[agent]
state_dir = $S
allow_root = yes
jitter = 0
ca_file = $COLL_CA
[testblock]
mode = ok
CONF
A() { "$AGENT" --config "$T/a.conf" "$@"; }
spooled() { ls "$S/spool" 2>/dev/null | grep -c '\.report$'; }
agent_last_seq() { A status --json | json_get - 'j["next_seq"] - 1'; }
# every stored body without its seq, one line each
# the stored bodies (a zstd frame when codec is 1: collector/store/codec.h),
# each without its seq, one per line
bodies() {
	python3 -c 'import json,sqlite3,subprocess,sys
c = sqlite3.connect(sys.argv[1])
for codec, body in c.execute("SELECT codec, body FROM reports WHERE agent_id=? ORDER BY seq", (sys.argv[2],)):
    if codec == 1:
        body = subprocess.run(["zstd", "-dcq"], input=body, capture_output=True, check=True).stdout
    d = json.loads(body); d.pop("seq", None); print(json.dumps(d, sort_keys=True))' "$DB" "$AID"
}
api_last_seq() {
	curl -sf --cacert "$COLL_CA" -H "Authorization: Bearer $API" "$COLL_URL/api/v1/hosts/$AID" |
		json_get - 'j["last_seq"]'
}

A enroll --collector "$COLL_URL" --token "$TOKEN" >/dev/null 2>&1 || bail "enroll failed"
AID=$(A status --json | json_get - 'j["agent_id"]')
[ -n "$AID" ] || bail "no agent id in status --json"
A once >"$T/once" 2>&1
tap_like "a first report is delivered online" "$(cat "$T/once")" "report seq 1: accepted"
coll_stop

N=3
for ((i = 0; i < N; i++)); do A once >/dev/null 2>&1; done
tap_is "collector stopped: $N reports spooled" "$(spooled)" "$N"
A export -o "$T/b.bundle" 2>"$T/err"
tap_is "export: exit 0" "$?" 0
tap_like "  ... seq 2 to $((N + 1))" "$(cat "$T/err")" "exported $N report\(s\) \(seq 2 to $((N + 1))\)"

out=$(coll_cli import "$T/b.bundle" 2>&1)
rc=$?
tap_like "import: the $N reports accepted" "$out" "^$N accepted, 0 duplicate, 0 refused"
tap_like "  ... each named" "$(echo $out)" "seq 2: accepted seq 3: accepted seq 4: accepted"
tap_is "  ... exit 0" "$rc" 0
tap_is "  ... stored" "$(coll_sql "$DB" "SELECT COUNT(*) FROM reports WHERE agent_id='$AID'")" $((N + 1))

out=$(coll_cli import "$T/b.bundle" 2>&1)
rc=$?
tap_like "the same bundle again: all duplicates" "$out" "^0 accepted, $N duplicate, 0 refused"
tap_is "  ... exit 0" "$rc" 0
tap_is "  ... nothing stored twice" "$(coll_sql "$DB" "SELECT COUNT(*) FROM reports WHERE agent_id='$AID'")" $((N + 1))

# three more reports; in the bundle, one byte of the middle one's body changed
for ((i = 0; i < 3; i++)); do A once >/dev/null 2>&1; done
A export -o "$T/c.bundle" 2>/dev/null || bail "second export failed"
python3 - "$T/c.bundle" "$T/t.bundle" <<'PY' || bail "cannot tamper"
import base64, json, sys
lines = open(sys.argv[1]).read().splitlines()
docs = [json.loads(l) for l in lines]
mid = [i for i, d in enumerate(docs) if "body" in d and d["seq"] == 6][0]
body = bytearray(base64.b64decode(docs[mid]["body"]))
body[10] ^= 1 # one bit of one byte
docs[mid]["body"] = base64.b64encode(bytes(body)).decode()
lines[mid] = json.dumps(docs[mid], separators=(",", ":"), sort_keys=True)
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
PY
out=$(coll_cli import "$T/t.bundle" 2>&1)
rc=$?
tap_like "a bundle with one body byte changed: that report refused, saying why" "$out" \
	"seq 6: refused: unknown agent or bad signature"
tap_like "  ... the others import" "$(echo $out)" "seq 5: accepted.*seq 7: accepted.*2 accepted, [0-9]+ duplicate, 1 refused"
tap_is "  ... exit 1" "$rc" 1
tap_is "  ... the changed report is not stored" \
	"$(coll_sql "$DB" "SELECT COUNT(*) FROM reports WHERE agent_id='$AID' AND seq=6")" 0

# back on the same address, with the same configuration
"$COLLECTOR" --config "$COLL_CONF" serve >>"$COLL_LOG" 2>&1 &
COLL_PID=$!
on_exit "kill $COLL_PID; wait $COLL_PID"
wait_for 15 curl -sf -o /dev/null --cacert "$COLL_CA" "$COLL_URL/healthz" || bail "collector did not restart"
tap_is "the read API's last seq for the host equals the agent's" "$(api_last_seq)" "$(agent_last_seq)"
A once >"$T/once" 2>&1
tap_is "the collector back: the agent delivers its spool, exit 0" "$?" 0
tap_is "  ... the spool is empty" "$(spooled)" 0
tap_is "  ... the last seqs agree again" "$(api_last_seq)" "$(agent_last_seq)"
tap_like "  ... the refused report alone re-numbered" "$(cat "$T/once")" \
	"holds no report seq 6 .*re-numbered as seq 9"
bodies >"$T/bodies"
tap_is "  ... every report stored: 1 + $N + 3 + 1" "$(wc -l <"$T/bodies")" $((N + 5))
tap_is "  ... each body exactly once (none re-numbered after it was stored)" \
	"$(sort "$T/bodies" | uniq -d | wc -l)" 0

tap_done
