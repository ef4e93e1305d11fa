#!/bin/bash
# Acknowledged means durable, with the pipelined group commit of SQLite
# ([store] pipeline_commits, docs/store.md "sqlrate branch"): the batcher
# commits without syncing the WAL and goes on with the next batch while the
# syncer thread syncs it, and only then are the batch's reports answered.
#  1. Under strace: every "accepted" answer leaves the collector after an
#     fdatasync of the WAL that began after the WAL's last write.
#  2. kill -9 while agents send, right after the acknowledgements started:
#     every report answered 200 is in the store after the restart, and the
#     unanswered ones sent again are accepted or duplicates, never conflicts.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/40-collector-ingest.sh"

[ -x "$TOOLS/coll_post" ] || bail "no coll_post at $TOOLS (make tools)"
ENROLL=("enroll_burst = 100" "enroll_per_minute = 1000")
coll_start k9 "${ENROLL[@]}" || bail "collector did not start"
DB=$T/k9.db
AGENTS=6 PER=80
for ((a = 0; a < AGENTS; a++)); do
	id=$(coll_enroll Kill "$T/key$a" "erp$a") || bail "enrollment $a failed"
	[ -n "$id" ] || bail "enrollment $a: no agent id"
	echo "$id" >"$T/id$a"
	mkdir "$T/r$a"
	for ((q = 1; q <= PER; q++)); do coll_report "$id" "$q" >"$T/r$a/$q.json"; done
done

# ---- 1. no answer before the sync ------------------------------------------------
if command -v strace >/dev/null; then
	strace -f -qq -yy -s 256 -e trace=pwrite64,fdatasync,sendto,sendmsg,writev \
		-e signal=none -o "$T/trace" -p "$COLL_PID" 2>/dev/null &
	SP=$!
	# strace is attached once a syscall of the collector shows in its output
	traced() {
		curl -s -o /dev/null "$COLL_URL/healthz"
		[ -s "$T/trace" ]
	}
	WAIT_STEP=0.05 wait_for 10 traced
	out=$(coll_send "$T/key0" "$(cat "$T/id0")" "$T"/r0/{1..5}.json | awk '{print $1}' | sort | uniq -c)
	kill -INT "$SP"
	wait "$SP" 2>/dev/null
	tap_like "5 reports sent one by one under strace are accepted" "$out" "^ *5 200$"
	res=$(/usr/bin/python3 - "$T/trace" <<'PY'
import re, sys
# strace -f lines: "PID name(args) = r", or "<unfinished ...>" then "<... name resumed>"
start, pending, n = {}, {}, 0
last_write = synced_from = -1      # event indexes
answers = bad = syncs = 0
for line in open(sys.argv[1]):
    n += 1
    m = re.match(r"(\d+) +(?:<\.\.\. (\w+) resumed>|(\w+)\()(.*)", line)
    if not m:
        continue
    pid, resumed, call, rest = m.group(1), m.group(2), m.group(3), m.group(4)
    if call:
        start[pid] = (call, n, rest)
    name, began, args = start.get(pid, (resumed, n, rest))
    done = "<unfinished ...>" not in line
    wal = "-wal>" in args
    if name == "pwrite64" and wal and done:
        last_write = n
    elif name == "fdatasync" and wal and done and " = 0" in line:
        syncs += 1
        synced_from = max(synced_from, began)
    elif name in ("sendto", "sendmsg", "writev") and call and "accepted" in rest:
        answers += 1
        if last_write > synced_from:
            bad += 1
print(answers, bad, syncs)
PY
)
	read -r answers bad syncs <<<"$res"
	tap_check "strace saw the 5 answers ($res)" test "${answers:-0}" -ge 5
	tap_is "no answer left before the WAL's sync ($syncs WAL syncs)" "${bad:-x}" 0
else
	tap_ok "# SKIP strace not installed"
fi

# ---- 2. kill -9 right after acknowledgements -------------------------------------------
for ((a = 0; a < AGENTS; a++)); do
	# report 1..5 of agent 0 went above; these are the rest, in order
	first=1
	[ "$a" = 0 ] && first=6
	files=()
	for ((q = first; q <= PER; q++)); do files+=("$T/r$a/$q.json"); done
	coll_send "$T/key$a" "$(cat "$T/id$a")" "${files[@]}" >"$T/out$a" 2>/dev/null &
	echo $! >>"$T/senders"
done
# kill once some reports were acknowledged: the acknowledgements go on
accepted=0
acked_60() {
	accepted=$(curl -s "$COLL_URL/metrics" | sed -n 's/^erpulse_reports_accepted_total //p')
	[ "${accepted:-0}" -ge 60 ]
}
WAIT_STEP=0.05 wait_for 30 acked_60
kill -9 "$COLL_PID"
wait "$COLL_PID" 2>/dev/null
for p in $(cat "$T/senders"); do wait "$p"; done
acked=$(cat "$T"/out* | grep -c '^200 ')
echo "# killed after $accepted accepted (metrics); the senders saw $acked answered 200"
tap_check "reports were acknowledged before the kill ($acked)" test "$acked" -ge 60
tap_check "and some were not: the kill hit the load ($acked of $((AGENTS * PER - 5)))" \
	test "$acked" -lt $((AGENTS * PER - 5))

coll_start k9 "${ENROLL[@]}" || bail "collector did not restart after kill -9"
missing=0
for ((a = 0; a < AGENTS; a++)); do
	id=$(cat "$T/id$a")
	stored=" $(coll_sql "$DB" "SELECT seq FROM reports WHERE agent_id = '$id'" | tr '\n' ' ') "
	for q in $(sed -n 's|^200 .*/\([0-9]*\)\.json .*|\1|p' "$T/out$a"); do
		case "$stored" in *" $q "*) ;; *)
			missing=$((missing + 1))
			echo "# lost: agent $a seq $q"
			;;
		esac
	done
done
tap_is "every acknowledged report is in the store after kill -9 and restart" "$missing" 0

# what was not answered is sent again, in order: accepted or a duplicate
conflicts=0
for ((a = 0; a < AGENTS; a++)); do
	files=($(sed -n 's|^[^2][0-9]* \([^ ]*\) .*|\1|p' "$T/out$a"))
	[ "${#files[@]}" -gt 0 ] || continue
	n=$(coll_send "$T/key$a" "$(cat "$T/id$a")" "${files[@]}" | grep -vc '^200 ')
	conflicts=$((conflicts + n))
done
tap_is "the unanswered reports sent again: all 200 (accepted or duplicate)" "$conflicts" 0
tap_is "every report is stored once" \
	"$(coll_sql "$DB" "SELECT COUNT(*), COUNT(DISTINCT agent_id || '/' || seq) FROM reports")" \
	"$((AGENTS * PER))|$((AGENTS * PER))"
tap_check "the collector is still running" kill -0 "$COLL_PID"
tap_done
