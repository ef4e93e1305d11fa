#!/bin/bash
# kill -9 at random points of the cycle, hundreds of times: every report that
# ever reached the spool is delivered in the end, no spool file is ever
# corrupt (nothing quarantined, every file parses), the state file is always
# valid, and the server never accepts a seq twice (accepted seqs strictly
# grow in arrival order).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"

[ -x "$TOOLS/https_sink" ] || bail "no https_sink at $TOOLS (make tools)"
pki_make "$T/pki" || bail "cannot make the test PKI"
on_exit sink_stop
[ -n "${KEEP:-}" ] && on_exit "rm -rf $KEEP; cp -r $T $KEEP"

S=$T/state
SP=$S/spool
K=$T/sink
P=$(free_port)
ITER=${KILL9_ITERATIONS:-400}
BUDGET_S=${KILL9_SECONDS:-50}
cat >"$T/a.conf" <<EOF
[agent]
state_dir = $S
allow_root = yes
jitter = 0
log_level = err
ca_file = $T/pki/ca.pem
[testblock.a]
mode = ok
[testblock.b]
mode = ok
EOF
sink_start "$K" "$P" "$T/pki/server.pem" "$T/pki/server.key" || bail "sink did not start"
"$AGENT" --config "$T/a.conf" enroll --collector "https://127.0.0.1:$P" --token good1 >/dev/null 2>&1 ||
	bail "enroll failed"
once() { "$AGENT" --config "$T/a.conf" once --probe testblock; }

# how long an undisturbed cycle takes, to spread the kills over all of it
t0=$(date +%s%N)
for i in 1 2 3; do once 2>/dev/null || bail "a plain cycle failed"; done
cycle_us=$((($(date +%s%N) - t0) / 3000))
span_us=$((cycle_us + 1000))
echo "# one cycle takes ${cycle_us} us; kills land in [0, ${span_us}] us"

state_bad=0
killed=0
start=$(date +%s)
: >"$T/seen"
mkdir "$T/states"
for ((i = 0; i < ITER; i++)); do
	[ $(($(date +%s) - start)) -ge "$BUDGET_S" ] && break
	# every 7th round the server is down, so reports pile up in the spool;
	# every 4th it answers 150 ms after storing, so kills land between the
	# server's commit and the agent's unlink (the answer is lost)
	span=$span_us
	if ((i % 7 == 3)); then
		echo drop >"$K/control"
	elif ((i % 4 == 1)); then
		echo "ackdelay 150" >"$K/control"
		span=$((span_us + 150000))
	else
		echo normal >"$K/control"
	fi
	# the agent itself, not a subshell around it, is what gets the SIGKILL
	"$AGENT" --config "$T/a.conf" once --probe testblock 2>/dev/null &
	pid=$!
	delay=$(((RANDOM * 32768 + RANDOM) % span))
	sleep "$(printf '0.%06d' "$delay")"
	kill -9 "$pid" 2>/dev/null && killed=$((killed + 1))
	wait "$pid" 2>/dev/null
	ls "$SP" 2>/dev/null | sed -n 's/^0*\([0-9][0-9]*\)\.report$/\1/p' >>"$T/seen"
	cp "$S/state" "$T/states/$i" 2>/dev/null || state_bad=$((state_bad + 1))
done
echo "# $i rounds, $killed killed mid-cycle, $(sort -u "$T/seen" | wc -l) distinct seqs seen in the spool"
tap_check "ran at least 100 rounds ($i)" test "$i" -ge 100
tap_check "many rounds were killed mid-cycle ($killed of $i)" test "$killed" -ge $((i / 3))
tap_is "the state file existed after every kill" "$state_bad" 0
tap_check "  ... and was valid JSON every time" python3 -c '
import glob,json,sys
for f in glob.glob(sys.argv[1]+"/*"):
    json.load(open(f))' "$T/states"

tap_check "every file left in the spool is intact" python3 -c '
import glob,json,os,sys
for f in glob.glob(sys.argv[1]+"/*.report"):
    data=open(f,"rb").read()
    head,_,body=data.partition(b"\n")
    magic,sig,n=head.split(b" ")
    assert magic==b"ERPULSE-SPOOL-1" and len(sig)==88 and int(n)==len(body), f
    d=json.loads(body)
    assert d["seq"]==int(os.path.basename(f).split(".")[0]), f' "$SP"
tap_check "nothing was ever quarantined (no corrupt file)" test ! -d "$SP/quarantine" -o -z "$(ls -A "$SP/quarantine" 2>/dev/null)"

echo normal >"$K/control"
once 2>"$T/final.err"
tap_is "an undisturbed cycle then delivers the rest (exit 0)" "$?" 0
tap_is "  ... and leaves the spool empty" "$(ls "$SP" | grep -c '\.report$')" 0
sink_seqs "$K" >"$T/accepted"
tap_check "accepted seqs strictly grow in arrival order (none accepted twice)" python3 -c '
import sys
s=[int(x) for x in open(sys.argv[1])]
assert s and all(a<b for a,b in zip(s,s[1:])), s' "$T/accepted"
missing=$(sort -u "$T/seen" | comm -23 - <(sort -u "$T/accepted") | head -5)
tap_is "every report that reached the spool was delivered" "$missing" ""
tap_check "every accepted body is a valid report with its seq" python3 -c '
import glob,json,sys
for f in glob.glob(sys.argv[1]+"/reports/*.json"):
    d=json.load(open(f))
    assert d["schema"]=="erpulse.report.v1" and str(d["seq"])==f.rsplit("-",1)[1][:-5], f' "$K"
left=0
for p in /proc/[0-9]*; do
	[ "$(readlink "$p/exe" 2>/dev/null)" = "$AGENT" ] && left=$((left + 1))
done
tap_is "no agent process or worker left behind" "$left" 0
dups=$(grep -c duplicate "$K/requests.log")
echo "# accepted $(wc -l <"$T/accepted") reports, $dups duplicate answers (answers lost to a kill)"
tap_check "kills did land between the server's commit and the agent's unlink ($dups resends)" test "$dups" -gt 0

tap_done
