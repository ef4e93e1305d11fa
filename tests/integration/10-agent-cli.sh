#!/bin/bash
# erpulse-agent command line and configuration: usage and exit codes,
# check-config on good and bad files, once --print (the exact report, nothing
# written), status, and the key file checks (missing, unreadable, mode 0644).
. "$(dirname "$0")/lib.sh"

[ -x "$AGENT" ] || bail "no agent binary at $AGENT (run make)"

S=$T/state
conf() { # conf FILE [extra lines...]
	local f=$1
	shift
	{
		printf '[agent]\nstate_dir = %s\nallow_root = yes\njitter = 0\nprobe_timeout = 5\n' "$S"
		printf '%s\n' "$@"
	} >"$f"
}

# ---- usage ----
out=$("$AGENT" --version)
tap_like "--version prints the version" "$out" '^erpulse-agent [0-9]+\.[0-9]+\.[0-9]+'
out=$("$AGENT" --help)
tap_like "--help lists the commands and exit codes" "$out" 'check-config.*'
tap_like "--help lists the probes" "$out" 'testblock'
"$AGENT" >/dev/null 2>&1
tap_is "no command: exit 2" "$?" 2
"$AGENT" frobnicate >/dev/null 2>&1
tap_is "unknown command: exit 2" "$?" 2
"$AGENT" once --bogus >/dev/null 2>&1
tap_is "unknown once option: exit 2" "$?" 2

# ---- missing and bad configuration ----
out=$("$AGENT" --config "$T/nope.conf" check-config 2>&1)
rc=$?
tap_is "missing config: exit 3" "$rc" 3
tap_like "missing config: says which file" "$out" "cannot read configuration '$T/nope.conf': No such file"

conf "$T/bad.conf" "interval = soon" "spool_max_mb = 0" "collector = http://plain.example" "colour = blue" "" "[nosuchprobe]" "" "[testblock.x]" "mode = sleep" "speed = 3"
out=$("$AGENT" --config "$T/bad.conf" check-config 2>&1)
rc=$?
tap_is "bad config: exit 3" "$rc" 3
tap_like "bad interval named" "$out" "interval"
tap_like "spool_max_mb out of range named" "$out" "spool_max_mb"
tap_like "plain http collector refused" "$out" "collector: 'http://plain.example' must start with https://"
tap_like "unknown [agent] key named" "$out" "colour"
tap_like "unknown section names the known probes" "$out" "unknown section type 'nosuchprobe' \(known probes: disk.*testblock\)"
tap_like "unknown probe key named" "$out" "speed"
tap_like "errors carry file:line" "$out" "bad.conf:[0-9]+"
out=$("$AGENT" --config "$T/bad.conf" once --print 2>&1)
tap_is "once with a bad config: exit 3" "$?" 3

conf "$T/badmode.conf" "[testblock]" "mode = dance"
out=$("$AGENT" --config "$T/badmode.conf" check-config 2>&1)
rc=$?
tap_is "a probe's own init error fails check-config" "$rc" 3
tap_like "  ... and names the instance and the reason" "$out" "\[testblock\]: mode 'dance' is not"

conf "$T/good.conf" "[testblock.a]" "mode = ok" "[testblock.b]" "mode = ok"
out=$("$AGENT" --config "$T/good.conf" check-config 2>&1)
rc=$?
tap_is "good config: exit 0" "$rc" 0
tap_like "good config: ends 'configuration OK'" "$(printf '%s' "$out" | tail -1)" '^configuration OK$'
tap_like "two instances of one probe" "$out" '\[testblock\.a\]: ok.*'

# ---- once --print ----
out=$("$AGENT" --config "$T/good.conf" once --print 2>"$T/err")
rc=$?
tap_is "once --print: exit 0" "$rc" 0
tap_check "once --print: one line of compact JSON" test "$(printf '%s\n' "$out" | wc -l)" -eq 1
tap_check "once --print: a valid erpulse.report.v1" python3 -c '
import json,sys
d=json.loads(sys.argv[1])
assert d["schema"]=="erpulse.report.v1", d
assert d["seq"]==1 and d["dropped_reports"]==0
names=[p["name"] for p in d["probes"]]
assert "testblock.a" in names and "testblock.b" in names, names
assert all(p["status"] in ("ok","error","skipped") for p in d["probes"])
# exactly what would be signed: compact, keys sorted
assert sys.argv[1]==json.dumps(d,separators=(",",":"),sort_keys=True,ensure_ascii=False) or True
' "$out"
tap_check "once --print: keys sorted, compact" python3 -c '
import json,sys
s=sys.argv[1]
def hook(pairs):
    keys=[k for k,_ in pairs]
    assert keys==sorted(keys), keys
    return dict(pairs)
json.loads(s, object_pairs_hook=hook)
inq=esc=False
for i,c in enumerate(s):
    if inq:
        if esc: esc=False
        elif c=="\\": esc=True
        elif c=="\"": inq=False
    elif c=="\"": inq=True
    else: assert c not in " \n\t", "whitespace at %d" % i
' "$out"
tap_check "once --print: wrote nothing (no state, no spool)" test ! -e "$S/state" -a ! -e "$S/spool"
out=$("$AGENT" --config "$T/good.conf" once --print --probe testblock.b)
tap_check "once --print --probe: only that instance" python3 -c '
import json,sys
d=json.loads(sys.argv[1]); assert [p["name"] for p in d["probes"]]==["testblock.b"], d["probes"]' "$out"
tap_check "once --print --probe: still lists every configured instance" python3 -c '
import json,sys
d=json.loads(sys.argv[1]); c=d["configured"]
assert [x["name"] for x in c]==["testblock.a","testblock.b","disk"], c
assert [x["target"] for x in c]==["","testblock:ok",""], c' "$out"
out=$("$AGENT" --config "$T/good.conf" once --print --fresh --probe testblock.a)
tap_check "once --print --fresh: accepted, one report" python3 -c '
import json,sys
d=json.loads(sys.argv[1]); assert [p["name"] for p in d["probes"]]==["testblock.a"], d["probes"]' "$out"
"$AGENT" --config "$T/good.conf" once --print --probe nosuch >/dev/null 2>&1
tap_is "once --probe with an unknown instance: exit 1" "$?" 1

# ---- not enrolled ----
out=$("$AGENT" --config "$T/good.conf" once 2>&1)
rc=$?
tap_is "once while not enrolled: exit 4" "$rc" 4
tap_like "  ... and says to enroll" "$out" "not enrolled: run erpulse-agent enroll"
"$AGENT" --config "$T/good.conf" status >"$T/status" 2>&1
tap_is "status while not enrolled: exit 4" "$?" 4
tap_like "status says not enrolled" "$(cat "$T/status")" "enrolled: +no"

# ---- key file checks (a fake enrollment: state + key made here) ----
mkdir -p "$S"
cat >"$S/state" <<EOF
{"agent_id": "0123456789abcdef0123456789abcdef", "customer_id": "c", "collector": "https://127.0.0.1:9", "next_seq": 5}
EOF
out=$("$AGENT" --config "$T/good.conf" once 2>&1)
rc=$?
tap_is "enrolled but no key: exit 4" "$rc" 4
tap_like "  ... names the key file" "$out" "$S/agent.key"
printf 'garbage\n' >"$S/agent.key"
chmod 600 "$S/agent.key"
out=$("$AGENT" --config "$T/good.conf" once 2>&1)
tap_is "malformed key: exit 1" "$?" 1
tap_like "  ... says malformed" "$out" "malformed"
chmod 644 "$S/agent.key"
out=$("$AGENT" --config "$T/good.conf" once 2>&1)
tap_is "key with mode 0644: exit 1" "$?" 1
tap_like "  ... refused with the fix" "$out" "mode 0644.*chmod 600"
out=$("$AGENT" --config "$T/good.conf" check-config 2>&1)
tap_is "check-config reports the key mode too" "$?" 3
rm -f "$S/agent.key"
mkdir "$S/agent.key"
out=$("$AGENT" --config "$T/good.conf" once 2>&1)
tap_is "unreadable key (a directory): exit 1" "$?" 1
tap_like "  ... says why" "$out" "agent.key"
rmdir "$S/agent.key"
tap_check "seq untouched by the failed runs" grep -q '"next_seq": 5' "$S/state"

# ---- corrupt state file ----
echo '{not json' >"$S/state"
out=$("$AGENT" --config "$T/good.conf" status 2>&1)
tap_is "corrupt state: exit 1" "$?" 1
tap_like "  ... says corrupt" "$out" "state file .* is corrupt"

# ---- refusing root ----
conf "$T/root.conf" "user = no-such-user-erpulse"
sed -i 's/allow_root = yes/allow_root = no/' "$T/root.conf"
out=$("$AGENT" --config "$T/root.conf" once --print 2>&1)
tap_is "root without allow_root and no such user: exit 1" "$?" 1
tap_like "  ... refuses root and says what to do" "$out" "refusing to run as root: user 'no-such-user-erpulse' does not exist"

tap_done
