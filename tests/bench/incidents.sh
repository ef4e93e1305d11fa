#!/bin/bash
# Incidents at scale: 10,000 open incidents, then the triage queue and one
# SLA month, on SQLite and on PostgreSQL (issue 11: each under 200 ms).
#   INCIDENTS=10000 RUNS=5 tests/bench/incidents.sh
# STORES="sqlite" (or "postgresql") runs one store only.
. "$(dirname "$0")/../integration/lib.sh"

BENCH=$O/build/obj/tests/bench/incidents
[ -x "$BENCH" ] || { echo "build it first: make bench" >&2; exit 1; }
N=${INCIDENTS:-10000} RUNS=${RUNS:-5}
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
rc=0
for store in ${STORES:-sqlite postgresql}; do
	case $store in
	sqlite) url="sqlite://$T/bench.db" ;;
	postgresql)
		pg_start >/dev/null 2>&1 || { echo "postgresql: did not start (skipped)"; continue; }
		pg_sql -c "CREATE DATABASE erpulse_bench" >/dev/null || continue
		url="postgresql://$PG_SUPERUSER:$PG_SUPERPASS@127.0.0.1:$PGPORT/erpulse_bench"
		;;
	esac
	echo "$store:"
	"$BENCH" --url "$url" --incidents "$N" --runs "$RUNS" || rc=1
done
exit $rc
