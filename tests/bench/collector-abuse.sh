#!/bin/bash
# Issue 15, items 1 and 2: the collector under a memory attack (2,000
# unfinished 1 MiB bodies from 4 addresses) and a slow-connection attack
# (twice max_connections held by slow clients from 5 addresses) while real
# agents post; prints the collector's peak RSS and the agents' success rate.
#   tests/bench/collector-abuse.sh            # this tree's collector
#   COLLECTOR_OVERRIDE=/path/to/old/erpulse-collector tests/bench/collector-abuse.sh
#   MODES=slow REPORTS=40 CONNS=2000 KIB=512 MAXCONN=256 (the defaults, but MODES)
# Needs 127.0.0.2..6 (Linux routes all of 127/8 to lo) and ulimit -n >= 8192.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/40-collector-ingest.sh"
[ -n "${COLLECTOR_OVERRIDE:-}" ] && COLLECTOR=$COLLECTOR_OVERRIDE
ulimit -n 16384 2>/dev/null || ulimit -n "$(ulimit -Hn)"
CONNS=${CONNS:-2000} KIB=${KIB:-512} REPORTS=${REPORTS:-200} MAXCONN=${MAXCONN:-256}

# REPORTS signed reports from 4 agents in $T/r
mkreports() {
	local i n=0 a
	mkdir -p "$T/r"
	for a in 1 2 3 4; do
		AG[$a]=$(coll_enroll Bench "$T/k$a" "erp0$a") || return 1
		coll_enroll Bench "$T/x$a" "other0$a" >>"$T/r/attacker-ids" || return 1
	done
	for ((i = 1; n < REPORTS; i++)); do
		for a in 1 2 3 4; do
			[ $n -lt "$REPORTS" ] || break
			coll_report "${AG[$a]}" "$i" >"$T/r/$n.json"
			"$TOOLS/coll_post" sign "$T/k$a" "$T/r/$n.json" >"$T/r/$n.sig"
			echo "${AG[$a]}" >"$T/r/$n.agent"
			n=$((n + 1))
		done
	done
}
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); collector: $COLLECTOR"

MODES=${MODES:-memory slow}
if [[ " $MODES " == *" memory "* ]]; then
coll_start mem "enroll_burst = 100000" "enroll_per_minute = 100000" || exit 1
mkreports || exit 1
echo "== memory: $CONNS unfinished 1 MiB bodies (${KIB} KiB sent each) from 127.0.0.2..5"
/usr/bin/python3 "$(dirname "$0")/collector-abuse.py" memory "${COLL_URL##*:}" "$COLL_PID" "$T/r" "$CONNS" "$KIB"
coll_stop
rm -rf "$T/r"
fi
[[ " $MODES " == *" slow "* ]] || exit 0

coll_start slow "enroll_burst = 100000" "enroll_per_minute = 100000" "max_connections = $MAXCONN" || exit 1
mkreports || exit 1
echo "== slow: $((2 * MAXCONN)) slow connections from 127.0.0.2..6 against max_connections = $MAXCONN"
/usr/bin/python3 "$(dirname "$0")/collector-abuse.py" slow "${COLL_URL##*:}" "$COLL_PID" "$T/r" $((2 * MAXCONN))
coll_stop
