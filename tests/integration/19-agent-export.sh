#!/bin/bash
# export: the spooled signed reports into one bundle for a host without a
# network path (docs/protocol.md, "Bundles"). N reports spooled while the
# collector is away are exported byte for byte with signatures that verify
# (tests/tools/bundle_check, the reference reader); the spool is untouched
# unless --remove, which waits for the bundle to be durable and refuses while
# another agent holds the state lock; a tampered bundle fails the check.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"

[ -x "$TOOLS/https_sink" ] || bail "no https_sink at $TOOLS (make tools)"
[ -x "$TOOLS/bundle_check" ] || bail "no bundle_check at $TOOLS (make tools)"
pki_make "$T/pki" || bail "cannot make the test PKI"
on_exit sink_stop

S=$T/state
SP=$S/spool
K=$T/sink
P=$(free_port)
cat >"$T/a.conf" <<CONF
[agent]
state_dir = $S
allow_root = yes
jitter = 0
ca_file = $T/pki/ca.pem
[testblock]
mode = ok
CONF
A() { "$AGENT" --config "$T/a.conf" "$@"; }
spooled() { ls "$SP" | grep -c '\.report$'; }

A export -o "$T/early.bundle" >/dev/null 2>"$T/err"
tap_is "export before enrollment: exit 4" "$?" 4
tap_like "  ... says why" "$(cat "$T/err")" "not enrolled"
A export >/dev/null 2>&1
tap_is "export without -o: exit 2" "$?" 2

sink_start "$K" "$P" "$T/pki/server.pem" "$T/pki/server.key" || bail "sink did not start"
A enroll --collector "https://127.0.0.1:$P" --token good1 >/dev/null 2>&1 || bail "enroll failed"
sink_stop
N=4
for ((i = 0; i < N; i++)); do A once >/dev/null 2>&1; done
tap_is "$N reports spooled while the collector is away" "$(spooled)" "$N"
sums() { (cd "$SP" && sha256sum ./*.report); }
sums >"$T/before.sum"

A export -o "$T/b.bundle" 2>"$T/err"
tap_is "export: exit 0" "$?" 0
tap_like "  ... says how many, to where" "$(cat "$T/err")" "exported $N report\(s\) \(seq 1 to $N\), [0-9]+ bytes, to $T/b.bundle"
tap_like "  ... and that they stay in the spool" "$(cat "$T/err")" "the reports stay in the spool"
tap_is "  ... the spool is untouched" "$(sums)" "$(cat "$T/before.sum")"
mkdir "$T/out"
"$TOOLS/bundle_check" "$T/b.bundle" "$S/agent.key" "$T/out" >"$T/check" 2>&1
tap_is "  ... the bundle reads whole, every signature verifies" "$?" 0
tap_is "  ... $N reports in it" "$(grep -c '^report .* ok$' "$T/check")" "$N"
tap_check "  ... each body byte for byte the spooled one" python3 -c '
import sys, glob, os
spool, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
files = sorted(glob.glob(spool + "/*.report"))
assert len(files) == n, files
for f in files:
    data = open(f, "rb").read()
    body = data[data.index(b"\n") + 1:]
    seq = int(os.path.basename(f).split(".")[0])
    assert open("%s/%d.body" % (out, seq), "rb").read() == body, seq
' "$SP" "$T/out" "$N"
tap_check "  ... one JSON object per line: header, reports, end" python3 -c '
import json, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
assert lines[-1] == b"", "no final newline"
docs = [json.loads(l) for l in lines[:-1]]
assert docs[0]["format"] == "erpulse.bundle.v1" and docs[0]["agent_id"], docs[0]
assert docs[-1] == {"end": True, "reports": len(docs) - 2}, docs[-1]
assert [d["seq"] for d in docs[1:-1]] == list(range(1, len(docs) - 1))
assert all(set(d) == {"agent_id", "seq", "signature", "body"} for d in docs[1:-1])
' "$T/b.bundle"

# a tampered bundle: one bit of one body flipped
python3 -c '
import base64, json, sys
lines = open(sys.argv[1]).read().splitlines()
d = json.loads(lines[2]); body = bytearray(base64.b64decode(d["body"]))
body[10] ^= 1; d["body"] = base64.b64encode(bytes(body)).decode()
lines[2] = json.dumps(d, separators=(",", ":"), sort_keys=True)
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
' "$T/b.bundle" "$T/tampered.bundle"
out=$("$TOOLS/bundle_check" "$T/tampered.bundle" "$S/agent.key" 2>&1)
tap_is "tampered bundle: refused" "$?" 1
tap_like "  ... signature does not verify, on that line" "$out" "line 3: signature does not verify"
head -n 3 "$T/b.bundle" >"$T/cut.bundle"
"$TOOLS/bundle_check" "$T/cut.bundle" "$S/agent.key" >/dev/null 2>&1
tap_is "truncated bundle (no end line): refused" "$?" 1

A export -o - >"$T/stdout.bundle" 2>/dev/null
tap_is "export -o - (standard output): exit 0" "$?" 0
tap_is "  ... the same reports" "$(grep -c '"seq"' "$T/stdout.bundle")" "$N"

# --remove while another agent holds the lock: refused, nothing removed
python3 -c '
import fcntl, sys, time
f = open(sys.argv[1], "a"); fcntl.flock(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close(); time.sleep(120)' "$S/lock" "$T/locked" &
lockpid=$!
on_exit "kill $lockpid 2>/dev/null"
wait_for 10 test -e "$T/locked" || bail "lock holder did not start"
A export -o "$T/r.bundle" --remove 2>"$T/err"
tap_is "export --remove while the daemon runs: exit 1" "$?" 1
tap_like "  ... says to stop the daemon" "$(cat "$T/err")" "stop the daemon first"
tap_is "  ... nothing removed" "$(spooled)" "$N"
kill $lockpid
wait $lockpid 2>/dev/null

A export -o "$T/r.bundle" --remove 2>"$T/err"
tap_is "export --remove: exit 0" "$?" 0
tap_like "  ... says it removed them" "$(cat "$T/err")" "removed $N report\(s\) from the spool"
tap_is "  ... the spool is empty" "$(spooled)" 0
"$TOOLS/bundle_check" "$T/r.bundle" "$S/agent.key" >/dev/null 2>&1
tap_is "  ... the bundle holds them" "$?" 0
tap_is "  ... the same reports as the first export" "$(grep '"seq"' "$T/r.bundle" | sha256sum)" "$(grep '"seq"' "$T/b.bundle" | sha256sum)"

A export -o "$T/empty.bundle" 2>"$T/err"
tap_is "empty spool: exit 0" "$?" 0
tap_is "  ... a bundle with no report, whole" "$("$TOOLS/bundle_check" "$T/empty.bundle" "$S/agent.key" | tail -1)" "end 0"

tap_done
