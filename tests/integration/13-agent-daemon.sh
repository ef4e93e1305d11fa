#!/bin/bash
# The daemon under a real sd_notify socket (a datagram socket in the test):
# READY=1, STATUS= with the last push and the spool depth, WATCHDOG=1 at
# least every WATCHDOG_USEC/2 even while a probe hangs, SIGHUP with a broken
# config (kept, with the reason) and with a good one (applied), SIGTERM
# within 5 s in the middle of a hung probe, and the switch from root to an
# unprivileged user.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"

[ -x "$TOOLS/https_sink" ] || bail "no https_sink at $TOOLS (make tools)"
pki_make "$T/pki" || bail "cannot make the test PKI"
on_exit sink_stop
[ -n "${KEEP:-}" ] && on_exit "rm -rf $KEEP; cp -r $T $KEEP"

S=$T/state
K=$T/sink
P=$(free_port)
URL=https://127.0.0.1:$P
NS=$T/notify.sock
write_conf() { # write_conf FILE USER_LINES... ; probes from $PROBES
	local f=$1
	shift
	{
		printf '[agent]\nstate_dir = %s\njitter = 0\ninterval = 2\nprobe_timeout = 3\nca_file = %s\n' \
			"$S" "$T/pki/ca.pem"
		printf '%s\n' "$@"
		printf '%b' "$PROBES"
	} >"$f"
	chmod 644 "$f"
}
PROBES='[testblock.hang]\nmode = sleep\n[testblock.fine]\nmode = ok\n'
write_conf "$T/a.conf" "allow_root = yes"

# the notify listener: one line per datagram, "<monotonic ms> <message>"
python3 - "$NS" "$T/notify.log" <<'EOF' &
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        msg = s.recv(4096).decode()
        for line in msg.split("\n"):
            if line:
                log.write("%d %s\n" % (time.monotonic() * 1000, line))
EOF
LPID=$!
on_exit "kill $LPID"
wait_for 5 test -S "$NS" || bail "notify listener did not start"

sink_start "$K" "$P" "$T/pki/server.pem" "$T/pki/server.key" || bail "sink did not start"
"$AGENT" --config "$T/a.conf" enroll --collector "$URL" --token good1 >/dev/null 2>&1 || bail "enroll failed"

delivered_gt() { [ "$(sink_seqs "$K" | wc -l)" -gt "$1" ]; }
start_agent() { # start_agent CONF: daemon with NOTIFY_SOCKET + WATCHDOG_USEC=1 s
	(
		export NOTIFY_SOCKET=$NS WATCHDOG_USEC=1000000 WATCHDOG_PID=$BASHPID
		exec "$AGENT" --config "$1" run
	) 2>>"$T/agent.log" &
	APID=$!
	on_exit "kill -9 $APID"
}

start_agent "$T/a.conf"
wait_for 5 grep -q 'READY=1' "$T/notify.log"
tap_check "READY=1 after the config was loaded" grep -q 'READY=1' "$T/notify.log"
wait_for 10 delivered_gt 0
tap_check "a report was delivered while one probe hangs" test "$(sink_seqs "$K" | wc -l)" -ge 1
body=$(cat "$K"/reports/*-1.json)
tap_check "  ... the hung probe is cut off at 3 s, the other one ok" python3 -c '
import json,sys
d={p["name"]:p for p in json.loads(sys.argv[1])["probes"]}
assert d["testblock.hang"]["status"]=="error" and d["testblock.hang"]["error"]=="timed out after 3 s", d
assert d["testblock.fine"]["status"]=="ok", d
assert 2900 <= d["testblock.hang"]["duration_ms"] <= 4000, d["testblock.hang"]["duration_ms"]' "$body"
wait_for 5 grep -q 'STATUS=last push: accepted seq 1' "$T/notify.log"
tap_check "STATUS= shows the last push and the spool depth" grep -qE 'STATUS=last push: accepted seq [0-9]+; spool: 0 report' "$T/notify.log"
sleep 2
tap_check "WATCHDOG=1 well within the 1 s watchdog for the whole run, hung probes included" python3 -c '
import sys
t=[int(l.split()[0]) for l in open(sys.argv[1]) if "WATCHDOG=1" in l]
assert len(t) >= 8, len(t)
gaps=[b-a for a,b in zip(t,t[1:])]
assert max(gaps) < 900, max(gaps)
print("watchdog pings:", len(t), "max gap ms:", max(gaps))' "$T/notify.log"

# ---- SIGHUP: a broken config is refused, the running one kept ----
cp "$T/a.conf" "$T/a.conf.good"
sed -i 's/^interval = 2$/interval = often/' "$T/a.conf"
n0=$(sink_seqs "$K" | wc -l)
kill -HUP $APID
wait_for 5 grep -q 'reload of' "$T/agent.log"
tap_like "SIGHUP with a broken config: refused with the reason" "$(grep 'reload of' "$T/agent.log")" \
	"reload of '$T/a.conf' failed, keeping the running configuration: .*interval: 'often'"
wait_for 10 delivered_gt "$n0"
tap_check "  ... and it keeps running and delivering" test "$(sink_seqs "$K" | wc -l)" -gt "$n0"

# ---- SIGHUP with a good config: applied ----
PROBES='[testblock.fine]\nmode = ok\n'
write_conf "$T/a.conf" "allow_root = yes"
kill -HUP $APID
wait_for 5 grep -q 'configuration reloaded' "$T/agent.log"
tap_check "SIGHUP with a good config: reloaded" grep -q "configuration reloaded from '$T/a.conf'" "$T/agent.log"
n1=$(sink_seqs "$K" | wc -l)
wait_for 10 delivered_gt "$((n1 + 1))"
last=$(sink_seqs "$K" | tail -1)
tap_check "  ... the next reports use it (hung probe gone)" python3 -c '
import json,sys,glob
d=json.load(open(glob.glob(sys.argv[1])[0]))
names=[p["name"] for p in d["probes"]]
assert "testblock.fine" in names and "testblock.hang" not in names, names' "$K/reports/*-$last.json"
kill -TERM $APID
wait $APID
tap_is "SIGTERM: exit 0" "$?" 0
tap_check "STOPPING=1 sent" grep -q 'STOPPING=1' "$T/notify.log"

# ---- SIGTERM in the middle of a hung probe ----
PROBES='[testblock.hang]\nmode = sleep\n'
write_conf "$T/b.conf" "allow_root = yes" "probe_timeout = 60"
sed -i 's/^probe_timeout = 3$//' "$T/b.conf"
start_agent "$T/b.conf"
sleep 1.5
t0=$(date +%s%N)
kill -TERM $APID
wait $APID
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
tap_is "SIGTERM during a 60 s hung probe: exit 0" "$rc" 0
tap_check "  ... within 5 s (took ${ms} ms)" test "$ms" -lt 5000
sleep 0.3
left=0
for p in /proc/[0-9]*; do
	[ "$(readlink "$p/exe" 2>/dev/null)" = "$AGENT" ] && left=$((left + 1))
done
tap_is "  ... no probe worker left behind" "$left" 0

# ---- SIGTERM in the middle of a push to a server that does not answer ----
PROBES='[testblock.fine]\nmode = ok\n'
write_conf "$T/c.conf" "allow_root = yes"
echo "hang 30" >"$K/control"
start_agent "$T/c.conf"
wait_for 10 grep -q "reports hang" "$K/requests.log"
sleep 0.5
t0=$(date +%s%N)
kill -TERM $APID
wait $APID
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
tap_is "SIGTERM during a hanging HTTPS push: exit 0" "$rc" 0
tap_check "  ... within 5 s (took ${ms} ms)" test "$ms" -lt 5000
kill -9 "$SINK_PID" # it is still sleeping in the hung answer
wait "$SINK_PID" 2>/dev/null
echo normal >"$K/control"
sink_start "$K" "$P" "$T/pki/server.pem" "$T/pki/server.key" || bail "sink did not restart"

# ---- root drops to the configured user ----
PROBES='[testblock.fine]\nmode = ok\n'
write_conf "$T/u.conf" "user = nobody"
chmod 755 "$T"
start_agent "$T/u.conf"
wait_for 10 grep -q "STATUS=last push" "$T/notify.log"
sleep 1
uid=$(awk '/^Uid:/ {print $2 "," $3 "," $4 "," $5}' /proc/$APID/status 2>/dev/null)
nob=$(id -u nobody)
tap_is "started as root: runs as nobody (real, effective, saved, fs uid)" "$uid" "$nob,$nob,$nob,$nob"
tap_is "  ... gid and groups without root's" "$(awk '/^Gid:/ {print $2} /^Groups:/ {print $2}' /proc/$APID/status | tr '\n' ' ')" "$(id -g nobody) $(id -g nobody) "
tap_is "  ... the state directory handed over" "$(stat -c %U "$S/state" "$S/agent.key" "$S/spool" | sort -u)" nobody
n2=$(sink_seqs "$K" | wc -l)
wait_for 10 delivered_gt "$n2"
tap_check "  ... and it still delivers" test "$(sink_seqs "$K" | wc -l)" -gt "$n2"
kill -TERM $APID
wait $APID

tap_done
