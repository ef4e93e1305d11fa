#!/bin/bash
# Delivery against a real HTTPS server (tests/tools/https_sink): the server
# down for N cycles then back (all N delivered, in order, exactly once);
# 503 + Retry-After honoured by the daemon; 401 not retried in a loop; 400
# quarantined and counted; a lost answer (true duplicate) and a restored
# snapshot (duplicate with a higher last_seq: resynchronised); corrupt and
# truncated spool files quarantined; the age bound dropping and counting;
# dropped_reports cumulative until a report announcing the drops is accepted.
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
URL=https://127.0.0.1:$P
cat >"$T/a.conf" <<EOF
[agent]
state_dir = $S
allow_root = yes
jitter = 0
interval = 60
ca_file = $T/pki/ca.pem
[testblock]
mode = ok
EOF
once() { "$AGENT" --config "$T/a.conf" once 2>>"$T/agent.log"; }
spooled() { ls "$SP" | grep -c '\.report$'; }
count() { grep -c -- "$1" "$K/requests.log" 2>/dev/null || true; }
count_ge() { [ "$(count "$1")" -ge "$2" ]; }
body_field() { # body_field SEQ FIELD
	python3 -c 'import json,sys,glob; print(json.load(open(glob.glob(sys.argv[1])[0]))[sys.argv[2]])' \
		"$K/reports/*-$1.json" "$2"
}

sink_start "$K" "$P" "$T/pki/server.pem" "$T/pki/server.key" || bail "sink did not start"
"$AGENT" --config "$T/a.conf" enroll --collector "$URL" --token good1 >/dev/null 2>&1 ||
	bail "enroll failed"
aid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["agent_id"])' "$S/state")

# ---- server down for N cycles, then back ----
sink_stop
N=5
fails=0
for ((i = 0; i < N; i++)); do
	once
	[ $? -eq 5 ] || fails=$((fails + 1))
done
tap_is "server down: each of $N cycles exits 5 (kept)" "$fails" 0
tap_is "  ... $N reports in the spool" "$(spooled)" "$N"
tap_like "  ... the log says connection refused" "$(tail -1 "$T/agent.log")" "connection refused"
sink_start "$K" "$P" "$T/pki/server.pem" "$T/pki/server.key" || bail "sink did not restart"
once
tap_is "server back: exit 0" "$?" 0
tap_is "all $((N + 1)) delivered in order" "$(sink_seqs "$K" | tr '\n' ' ')" "1 2 3 4 5 6 "
tap_is "  ... exactly once (no duplicates sent)" "$(count duplicate)" 0
tap_is "  ... spool empty" "$(spooled)" 0

# ---- 401: not retried in a loop, reports kept ----
echo 401 >"$K/control"
once
tap_is "401: exit 6" "$?" 6
tap_is "  ... one request only" "$(count ' 401 ')" 1
tap_is "  ... the report is kept" "$(spooled)" 1
tap_like "  ... the state records the problem" "$(cat "$S/state")" "refuses this agent: HTTP 401 unauthorized"
out=$("$AGENT" --config "$T/a.conf" status)
tap_like "  ... status shows it" "$out" "last push: .*HTTP 401"
"$AGENT" --config "$T/a.conf" run 2>>"$T/agent.log" &
apid=$!
sleep 3
tap_is "  ... the daemon tries once, then waits for the next cycle" "$(count ' 401 ')" 2
echo "503 2" >"$K/control"
kill -HUP $apid # reload: nothing changes, but it must not trigger a burst either
sleep 1.5
n503=$(count ' 503 ')
tap_is "503 + Retry-After 2: no request yet 1.5 s later (next cycle is 60 s away)" "$n503" 0
kill -TERM $apid
wait $apid
tap_is "daemon stopped cleanly on SIGTERM" "$?" 0

# Retry-After honoured by the daemon's backoff
"$AGENT" --config "$T/a.conf" run 2>>"$T/agent.log" &
apid=$!
wait_for 5 count_ge ' 503 ' 1
t0=$(date +%s%N)
wait_for 10 count_ge ' 503 ' 2
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
tap_check "second attempt after >= 2 s (Retry-After), got ${ms} ms" test "$ms" -ge 1800 -a "$ms" -le 7000
echo normal >"$K/control"
kill -TERM $apid
wait $apid

# ---- 400: quarantined, counted, the rest continues ----
once # delivers the kept report(s) first
echo 400 >"$K/control"
once
tap_is "400: exit 6" "$?" 6
tap_is "  ... quarantined, not retried" "$(ls "$SP/quarantine" | wc -l)" 1
tap_is "  ... spool empty" "$(spooled)" 0
echo normal >"$K/control"
once
last=$(sink_seqs "$K" | tail -1)
tap_is "  ... next report announces 1 dropped" "$(body_field "$last" dropped_reports)" 1
tap_like "  ... accepted: the state has settled it" "$(cat "$S/state")" '"dropped": 0'

# ---- cumulative: every report repeats the drops until one is accepted ----
echo 400 >"$K/control"
once # quarantined: 1 dropped
sink_stop
once
once
echo normal >"$K/control"
sink_start "$K" "$P" "$T/pki/server.pem" "$T/pki/server.key" || bail "sink did not restart"
once
tap_is "cumulative: the three reports after the drop each announce it" \
	"$(for s in $(sink_seqs "$K" | tail -3); do body_field "$s" dropped_reports; done | tr '\n' ' ')" "1 1 1 "
once
tap_is "  ... the report after an accepted one announces none" \
	"$(body_field "$(sink_seqs "$K" | tail -1)" dropped_reports)" 0

# ---- a lost answer: the same report again is a duplicate and removed ----
sink_stop
once
saved=$(ls "$SP"/*.report)
cp -p "$saved" "$T/saved.report"
sink_start "$K" "$P" "$T/pki/server.pem" "$T/pki/server.key" || bail "sink did not restart"
once
cp -p "$T/saved.report" "$SP/$(basename "$saved")"
before=$(sink_seqs "$K" | wc -l)
once
tap_is "replayed report: exit 0" "$?" 0
tap_is "  ... answered duplicate" "$(count duplicate)" 1
tap_is "  ... not stored twice" "$(($(sink_seqs "$K" | wc -l) - before))" 1
tap_is "  ... seqs strictly growing" "$(sink_seqs "$K" | sort -n | uniq | wc -l)" "$(sink_seqs "$K" | wc -l)"

# ---- restored snapshot: the collector has seen higher seqs ----
sink_stop
once
once
tap_is "two reports spooled while down" "$(spooled)" 2
echo 1000 >"$K/agents/$aid.seq"
sink_start "$K" "$P" "$T/pki/server.pem" "$T/pki/server.key" || bail "sink did not restart"
once
tap_is "resync: exit 0" "$?" 0
tap_is "  ... the spooled reports re-numbered above 1000, in order" "$(sink_seqs "$K" | tail -3 | tr '\n' ' ')" "1001 1002 1003 "
tap_like "  ... logged as a restore or clone" "$(cat "$T/agent.log")" "restored from a snapshot or cloned"
tap_like "  ... next seq persisted past them" "$(cat "$S/state")" '"next_seq": 1004'

# ---- corrupt and truncated spool files ----
sink_stop
once
once
f=$(ls "$SP"/*.report | head -1)
head -c 100 "$f" >"$f.t" && mv "$f.t" "$f"
printf 'garbage' >"$SP/00000000000000000001.report"
sink_start "$K" "$P" "$T/pki/server.pem" "$T/pki/server.key" || bail "sink did not restart"
once
tap_is "corrupt + truncated: delivery goes on (exit 0)" "$?" 0
tap_is "  ... both quarantined" "$(ls "$SP/quarantine" | wc -l)" 4
tap_is "  ... spool empty" "$(spooled)" 0
once
last=$(sink_seqs "$K" | tail -1)
tap_is "  ... the next report announces the 2 lost" "$(body_field "$last" dropped_reports)" 2

# ---- age bound ----
sed -i 's/^interval = 60/interval = 60\nspool_max_age = 2s/' "$T/a.conf"
sink_stop
once
once
sleep 3
once
tap_is "age bound: the two old reports dropped" "$(spooled)" 1
sink_start "$K" "$P" "$T/pki/server.pem" "$T/pki/server.key" || bail "sink did not restart"
once
last=$(sink_seqs "$K" | tail -1)
tap_is "  ... and counted in the next report" "$(body_field "$last" dropped_reports)" 2

tap_done
