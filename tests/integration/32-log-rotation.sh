#!/bin/bash
# Log rotation in every form while a writer appends: rename (the writer
# keeps writing to the renamed file for a while before it reopens),
# rename + create (a new empty file appears at once), and copytruncate.
# The probe runs cycles in between (probe_run with a state file, as the
# agent does); the sum of its error records must equal what the writer
# wrote and an independent grep -c over every file, with nothing lost and
# nothing counted twice. The writer and the rotator share a lock so that
# copytruncate's own race (lines written between copy and truncate are
# lost by logrotate itself) does not blur the count.
# The test drives the writer: it asks for a batch of records, runs a probe
# cycle while that batch is being written, waits for the batch to finish,
# then rotates. Every rotation in the list happens however fast or slow
# the machine is (no timing decides how many rotations there are).
. "$(dirname "$0")/lib.sh"

PROBE_RUN=$TOOLS/probe_run
[ -x "$PROBE_RUN" ] || bail "probe_run not built ($PROBE_RUN): run make tests"
jget() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

D=$T/r
mkdir -p "$D"
LOG=$D/app.log
LOCK=$D/.lock
: >"$LOCK"
cat >"$T/agent.conf" <<CONF
[log.rot]
paths = $D/*.log
preset = java
CONF

total_errors=0
total_records=0
total_lost=0
cycles=0
cycle() {
	"$PROBE_RUN" "$T/agent.conf" log.rot --state "$T/state.json" >"$T/out.json" 2>"$T/err.txt" || true
	local e r
	e=$(jget "$T/out.json" 'j["metrics"]["records"]["error"] + j["metrics"]["records"]["critical"]')
	r=$(jget "$T/out.json" 'sum(j["metrics"]["records"].values())')
	total_errors=$((total_errors + e))
	total_records=$((total_records + r))
	total_lost=$((total_lost + $(jget "$T/out.json" 'j["metrics"]["lost_files"]')))
	cycles=$((cycles + 1))
	[ -n "${DEBUG_DIR:-}" ] && cp "$T/out.json" "$DEBUG_DIR/c$cycles.json" && cp "$T/state.json" "$DEBUG_DIR/s$cycles.json" && echo "$cycles ${LASTMODE:-}" >>"$DEBUG_DIR/modes"
}

cycle # first run, no file yet: every file seen later is read from its start

cat >"$T/writer.py" <<'PY'
# Reads batch sizes from stdin, one a line; writes that many records, then
# prints "done" (flushed). At end of input prints "records errors".
import fcntl, os, random, sys
path, lock = sys.argv[1], sys.argv[2]
random.seed(11)
lk = open(lock, "w")
fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
pending = -1  # lines still written to a rotated file before reopening
errors = records = 0
i = 0
for line in sys.stdin:
    for _ in range(int(line)):
        lvl = "ERROR" if random.random() < 0.08 else random.choice(["INFO", "INFO", "DEBUG", "WARN"])
        rec = "2026-11-26 21:%02d:%02d,%03d %-5s [exec-%d] org.erp.Sales - order %d %s\n" % (
            i // 6000 % 60, i // 100 % 60, i % 1000, lvl, i % 8, i, "failed" if lvl == "ERROR" else "ok")
        if lvl == "ERROR" and random.random() < 0.4:
            rec += "java.lang.IllegalStateException: ERROR state %d\n\tat org.erp.Sales.post(Sales.java:%d)\n\t... 12 more\n" % (i, i % 300)
        fcntl.flock(lk, fcntl.LOCK_EX)
        try:
            st = os.stat(path)
            moved = (st.st_ino != os.fstat(fd).st_ino)
        except FileNotFoundError:
            moved = True
        if moved and pending < 0:
            pending = random.randint(0, 20)
        if pending == 0:
            os.close(fd)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            pending = -1
        elif pending > 0:
            pending -= 1
        os.write(fd, rec.encode())
        fcntl.flock(lk, fcntl.LOCK_UN)
        records += 1
        errors += lvl == "ERROR"
        i += 1
    print("done", flush=True)
print(records, errors, flush=True)
PY
coproc WRITER { python3 "$T/writer.py" "$LOG" "$LOCK"; }
WPID=$WRITER_PID
# own copies of the coprocess's pipes: bash closes its own when the writer exits
exec {WIN}>&"${WRITER[1]}" {WOUT}<&"${WRITER[0]}"
on_exit "kill $WPID"
# batch N: the writer writes N records while a probe cycle runs, and the
# test waits until all N are written.
batch() {
	local ack
	echo "$1" >&"$WIN"
	cycle
	read -r -t 300 ack <&"$WOUT" || bail "the writer did not finish a batch of $1"
	[ "$ack" = done ] || bail "the writer answered '$ack'"
}
batch 500 # the file exists before its first rotation

shift_rotated() { # NAME.k -> NAME.k+1, logrotate style
	local k
	for ((k = 30; k >= 1; k--)); do
		[ -e "$LOG.$k" ] && mv "$LOG.$k" "$LOG.$((k + 1))"
	done
	return 0
}
rotate() {
	case $1 in
	rename) flock "$LOCK" bash -c "[ -e '$LOG' ] || exit 0; $(declare -f shift_rotated); LOG='$LOG'; shift_rotated; mv '$LOG' '$LOG.1'" ;;
	create) flock "$LOCK" bash -c "[ -e '$LOG' ] || exit 0; $(declare -f shift_rotated); LOG='$LOG'; shift_rotated; mv '$LOG' '$LOG.1'; : >'$LOG'; chmod 644 '$LOG'" ;;
	copytruncate) flock "$LOCK" bash -c "[ -e '$LOG' ] || exit 0; $(declare -f shift_rotated); LOG='$LOG'; shift_rotated; cp '$LOG' '$LOG.1'; : >'$LOG'" ;;
	esac
}

modes=(rename copytruncate create copytruncate rename create rename copytruncate create)
rotations=0
for m in "${modes[@]}"; do
	batch 1100
	rotate "$m"
	LASTMODE=$m
	rotations=$((rotations + 1))
	batch 1100 # the first up to 20 records still go to the rotated file
done
# end of input: close both copies of the writer's stdin
exec {WIN}>&-
[ -n "${WRITER[1]:-}" ] && eval "exec ${WRITER[1]}>&-"
read -r -t 60 w_records w_errors <&"$WOUT" || bail "the writer did not report its totals"
wait "$WPID"
cycle
cycle
cycle

tap_ok "writer wrote $w_records records ($w_errors errors) through $rotations rotations, $cycles probe cycles"
tap_is "every rotation happened while the writer held the file open" "$rotations" "${#modes[@]}"
grep_errors=$(cat "$D"/app.log* | grep -cE '^[0-9-]+ [0-9:,]+ ERROR ')
grep_records=$(cat "$D"/app.log* | grep -cE '^[0-9]{4}-')
tap_is "files on disk hold every error record (grep -c)" "$grep_errors" "$w_errors"
tap_is "probe's error records over all cycles = grep -c" "$total_errors" "$grep_errors"
tap_is "probe's records over all cycles = grep -c of record starts" "$total_records" "$grep_records"
tap_is "no backlog left" "$(jget "$T/out.json" 'j["metrics"]["backlog_bytes"]')" 0
tap_is "no rotated file lost in any cycle" "$total_lost" 0
tap_done
