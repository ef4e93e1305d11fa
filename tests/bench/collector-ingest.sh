#!/bin/bash
# Runs tests/bench/collector-ingest against erpulse-collector with SQLite and
# with PostgreSQL on this machine (plain HTTP over loopback), each with the
# built-in webhook receiver measuring triggering-report -> notice latency.
#   AGENTS=256 REPORTS=40 CONC=64 tests/bench/collector-ingest.sh
# STORES="sqlite" (or "postgresql") runs one store only.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/40-collector-ingest.sh"

BENCH=$O/build/obj/tests/bench/collector-ingest
[ -x "$BENCH" ] || { echo "build it first: make bench" >&2; exit 1; }
AGENTS=${AGENTS:-256} REPORTS=${REPORTS:-40} CONC=${CONC:-64}
COMMON=("enroll_burst = 100000" "enroll_per_minute = 100000" "max_per_ip = 100000")

run() { # label, then coll_start's config lines
	local label=$1 hook tok
	shift
	hook=$(free_port)
	coll_start "$label" "${COMMON[@]}" "$@" "[alerts]" "webhook_url = http://127.0.0.1:$hook/hook" \
		"allow_private_targets = yes" || { echo "collector ($label) did not start"; return 1; }
	coll_cli customer add Bench >/dev/null
	tok=$(coll_cli token create Bench --uses $((AGENTS + 10)) 2>/dev/null)
	"$BENCH" --url "$COLL_URL" --token "$tok" --agents "$AGENTS" --reports "$REPORTS" \
		--concurrency "$CONC" --hook-port "$hook" --triggers 4 --label "$label" --pid "$COLL_PID"
	local rc=$?
	curl -s "$COLL_URL/metrics" | grep -E '^erpulse_store_(batches|batched_reports)_total' | sed 's/^/        /'
	coll_stop
	return $rc
}
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
STORES=${STORES:-sqlite postgresql}
case " $STORES " in *" sqlite "*) run sqlite || exit 1 ;; esac
case " $STORES " in *" postgresql "*) ;; *) exit 0 ;; esac
if pg_start "synchronous_commit = on" "fsync = on" >/dev/null 2>&1; then
	pg_sql -c "CREATE DATABASE erpulse_bench" >/dev/null
	run postgresql "[store]" "url = postgresql://$PG_SUPERUSER:$PG_SUPERPASS@127.0.0.1:$PGPORT/erpulse_bench" \
		"pool = 8"
else
	echo "postgresql: could not start a test server; skipped"
fi
