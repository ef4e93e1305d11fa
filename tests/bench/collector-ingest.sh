#!/bin/bash
# Runs tests/bench/collector-ingest against erpulse-collector with SQLite and
# with PostgreSQL on this machine (plain HTTP over loopback), each with the
# built-in webhook receiver measuring triggering-report -> notice latency.
# Each store is measured twice: empty, then grown by SQL to GROW_HOSTS hosts
# with GROW_REPORTS reports each (raw bodies, samples, findings, score
# history), and the script prints the CPU per report of both and their ratio
# (issue 16: within 20%) next to libsodium's verify ceiling of the same run.
# PostgreSQL runs two collectors over one database (the scale-out path).
#   AGENTS=256 REPORTS=40 CONC=64 GROW_HOSTS=10000 GROW_REPORTS=30 \
#     tests/bench/collector-ingest.sh
# STORES="sqlite" (or "postgresql") runs one store only; GROW_HOSTS=0 skips
# the grown store; in the grown store the measured agents themselves have
# HISTORY_DAYS (30) of history of each series their reports carry (what
# every report's forecasts read): raw samples, one per 10 minutes, of the
# last KEEP_SAMPLES_DAYS (2) and hourly rollups before (KEEP_SAMPLES_DAYS=30:
# raw samples only, what a store before keep_samples_days held); BENCH_COLLECTOR=/path/to/erpulse-collector measures
# another build (e.g. main's) with this script.
# Each agent's successive reports are CLOCK_STEP (300) seconds apart on the
# collector's clock (the load generator moves ERPULSE_TEST_INGEST_CLOCK_FILE on
# by a round of reports at a time), so that history samples (one per 10
# minutes) and forecast refits (one per hour) happen at their real rate.
# TRIGGERS=0 (default 4): no agent's alert raised and cleared every report,
# so no webhook notice per report (fleet-scale's ingest sends none either:
# each notice is also a commit of the outbox's connection, after which the
# batcher's connection drops its page cache).
# TEMPLATE=tests/bench/real-report.json: every report is that real one (19 KB,
# an Odoo host's `erpulse-agent once --print`) with the agent's id, seq, time
# and host, instead of the built-in ~4 KiB body (no triggers then).
# BENCH_BASE=/path/to/erpulse-collector (e.g. main's build) measures that
# build too, in the same run before this one, on a store of its own, and
# prints both side by side; it runs with CLOCK_STEP=0 (a build whose
# received_at does not follow the test clock would see the reports' times
# drift from its own and raise clock-skew alerts); BASE_CLOCK_STEP=300 runs it
# on the stepped clock too (main since session 4 follows the ingest clock).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/40-collector-ingest.sh"

BENCH=$O/build/obj/tests/bench/collector-ingest
[ -x "$BENCH" ] || { echo "build it first: make bench" >&2; exit 1; }
COLLECTOR=${BENCH_COLLECTOR:-$COLLECTOR} BASE=${BENCH_BASE:-} CLOCK_STEP=${CLOCK_STEP:-300}
export ERPULSE_TEST_INGEST_CLOCK_FILE=$T/clock
AGENTS=${AGENTS:-256} REPORTS=${REPORTS:-40} CONC=${CONC:-64}
GROW_HOSTS=${GROW_HOSTS:-10000} GROW_REPORTS=${GROW_REPORTS:-30} HISTORY_DAYS=${HISTORY_DAYS:-30}
COMMON=("enroll_burst = 100000" "enroll_per_minute = 100000" "max_per_ip = 100000"
	"enroll_global_per_minute = 1000000" "enroll_global_burst = 1000000")
declare -A CPU RPS VERIFY

# bench LABEL URLS PIDS [HISTORY-FUNCTION STORE]: one load run against the
# running collector(s) (the last started one's config enrolls); records its
# figures. With a function: it gives the enrolled agents HISTORY_DAYS of
# samples before the load starts.
bench() {
	local label=$1 urls=$2 pids=$3 hist=${4:-} tok rc bp t0 ticks0 wal0
	coll_cli customer add Bench >/dev/null 2>&1
	tok=$(coll_cli token create Bench --uses $((AGENTS + 10)) 2>/dev/null)
	rm -f "$T/ids" "$T/go"
	local clock=()
	[ "${CLOCK_STEP:-0}" -gt 0 ] && clock=(--clock-file "$ERPULSE_TEST_INGEST_CLOCK_FILE" --step "$CLOCK_STEP")
	"$BENCH" --url "$urls" --token "$tok" --agents "$AGENTS" --reports "$REPORTS" \
		--concurrency "$CONC" --hook-port "$HOOK" --triggers ${TRIGGERS:-4} --label "$label" --pid "$pids" \
		${TEMPLATE:+--template "$TEMPLATE"} \
		${hist:+--ids-file "$T/ids" --wait-file "$T/go"} "${clock[@]}" >"$T/bench.out" &
	bp=$!
	if [ -n "$hist" ]; then
		while [ ! -s "$T/ids" ] && kill -0 "$bp" 2>/dev/null; do sleep 0.2; done
		t0=$SECONDS
		"$hist" "$5" "$T/ids" >/dev/null || echo "history seeding failed"
		echo "history $label $(wc -l <"$T/ids") measured agents x $HISTORY_DAYS days of samples in $((SECONDS - t0))s"
		touch "$T/go"
	fi
	[ "${label#pg}" = "$label" ] || ticks0=$(pg_ticks) wal0=$(pg_wal erpulse_bench)
	wait "$bp"
	rc=$?
	rm -f "$ERPULSE_TEST_INGEST_CLOCK_FILE" # the next collectors start on the wall clock
	# the server's side of each report (includes the agents' enrollment)
	[ -z "${ticks0:-}" ] || awk -v a="$ticks0" -v b="$(pg_ticks)" -v wa="$wal0" -v wb="$(pg_wal erpulse_bench)" \
		-v hz="$(getconf CLK_TCK)" -v n=$((AGENTS * REPORTS)) -v l="$label" 'BEGIN {
		printf "server  %-10s PostgreSQL CPU %.0f us, WAL %.0f bytes per report\n", l,
			(b - a) / hz / n * 1e6, (wb - wa) / n }'
	local out
	out=$(cat "$T/bench.out")
	printf '%s\n' "$out" | grep -v '^result'
	CPU[$label]=$(printf '%s\n' "$out" | sed -n 's/^result .* cpu_us=\([0-9]*\).*/\1/p')
	RPS[$label]=$(printf '%s\n' "$out" | sed -n 's/^result .* rps=\([0-9]*\).*/\1/p')
	VERIFY[$label]=$(printf '%s\n' "$out" | sed -n 's/^result .* verify=\([0-9]*\).*/\1/p')
	curl -s "${urls%%,*}/metrics" | grep -E '^erpulse_store_(batches|batched_reports)_total' |
		sed 's/^/        /'
	return $rc
}


# start NAME N CONFIG...: N collectors NAME-1..N with the same config; sets
# URLS, PIDS (comma lists).
start() {
	local name=$1 n=$2 i
	shift 2
	URLS="" PIDS=""
	for ((i = 1; i <= n; i++)); do
		coll_start "$name-$i" "${COMMON[@]}" "$@" "[alerts]" \
			"webhook_url = http://127.0.0.1:$HOOK/hook" "allow_private_targets = yes" ||
			{ echo "collector ($name-$i) did not start"; return 1; }
		URLS=$URLS${URLS:+,}$COLL_URL PIDS=$PIDS${PIDS:+,}$COLL_PID
	done
}
stop_all() {
	local p
	for p in ${PIDS//,/ }; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
}

# The grown store's rows: GROW_HOSTS agents over 100 customers, each with
# GROW_REPORTS reports 5 minutes apart (a ~4 KiB body), one sample per
# 10 minutes of 8 series (what the bench's reports carry), its current
# findings and an hourly score. Runs in seconds where the HTTP path would
# take an hour.
# The history rows of the temp tables hs (agent_id, series, ts, value) and,
# with ROLLUPS, hr (agent_id, series, hour, n, vsum, vmin, vmax) as SQL for
# the store's schema: keyed by series id since migration 12 (SERIES 1), by
# agent and name before (a BENCH_BASE collector of an older main).
# samples_from_hs SERIES SQLITE-OR PG-CONFLICT [rollups]
samples_from_hs() {
	if [ "$1" != 1 ]; then
		echo "INSERT INTO samples (agent_id, series, ts, value) SELECT * FROM hs;"
		[ -n "${4:-}" ] && echo "INSERT INTO rollups (agent_id, series, hour, n, vsum, vmin, vmax) SELECT * FROM hr;"
		return 0
	fi
	echo "INSERT $2 INTO series (agent_id, name) SELECT DISTINCT agent_id, series FROM hs $3;"
	[ -n "${4:-}" ] && echo "INSERT $2 INTO series (agent_id, name) SELECT DISTINCT agent_id, series FROM hr $3;"
	echo "INSERT INTO samples (series_id, ts, value) SELECT x.id, hs.ts, hs.value FROM hs"
	echo "  JOIN series x ON x.agent_id = hs.agent_id AND x.name = hs.series;"
	[ -n "${4:-}" ] && echo "INSERT INTO rollups (series_id, hour, n, vsum, vmin, vmax) SELECT x.id, hr.hour, hr.n, hr.vsum, hr.vmin, hr.vmax FROM hr JOIN series x ON x.agent_id = hr.agent_id AND x.name = hr.series;"
	return 0
}
has_series_lite() { sqlite3 "$1" "SELECT COUNT(*) FROM sqlite_master WHERE name = 'series'"; }
has_series_pg() { pg_sql -d erpulse_bench -c "SELECT COUNT(*) FROM pg_class WHERE relname = 'series'"; }

seed_sqlite() {
	local db=$1 now
	now=$(date +%s)
	sqlite3 "$db" <<-SQL
		PRAGMA busy_timeout=10000; PRAGMA synchronous=OFF;
		BEGIN;
		CREATE TEMP TABLE n AS WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1
		  FROM c WHERE i < $GROW_HOSTS - 1) SELECT i, lower(hex(randomblob(16))) AS id FROM c;
		CREATE TEMP TABLE k AS WITH RECURSIVE c(k) AS (SELECT 1 UNION ALL SELECT k + 1
		  FROM c WHERE k < $GROW_REPORTS) SELECT k, $now - ($GROW_REPORTS - k + 1) * 300 AS t FROM c;
		CREATE TEMP TABLE s AS WITH RECURSIVE c(j) AS (SELECT 0 UNION ALL SELECT j + 1
		  FROM c WHERE j < 7) SELECT CASE WHEN j = 7 THEN 'disk_usage:/var/lib/postgresql'
		  ELSE 'index_fragmentation:odoo/public.seed_table_' || j || '_index' END AS series FROM c;
		INSERT OR IGNORE INTO customers (id, name, created_at)
		  SELECT 'seed' || i, 'Seed ' || i, $now FROM n WHERE i < 100;
		INSERT INTO agents (id, customer_id, hostname, public_key, agent_version, enrolled_at,
		  last_seq, last_report_at, interval_s, score, band, top_reason)
		  SELECT id, 'seed' || (i % 100), 'seed-' || i, 'seedkey' || i, 'seed',
		  $now - 86400, $GROW_REPORTS, $now - 300, 300, 90, 'healthy', NULL FROM n;
		INSERT INTO reports (agent_id, seq, received_at, generated_at, body)
		  SELECT n.id, k.k, k.t, k.t, '{"seed":"' || hex(randomblob(2000)) || '"}' FROM n, k;
		CREATE TEMP TABLE hs AS SELECT n.id AS agent_id, s.series, k.t AS ts, 8 + k.k % 5
		  AS value FROM n, k, s WHERE k.k % 2 = 0;
		$(samples_from_hs "$(has_series_lite "$db")" "OR IGNORE" "")
		INSERT INTO current_findings (agent_id, seq, findings)
		  SELECT id, $GROW_REPORTS, '[' || hex(randomblob(800)) || ']' FROM n;
		INSERT OR IGNORE INTO score_history (agent_id, ts, score)
		  SELECT n.id, k.t - k.t % 3600, 90 FROM n, k;
		COMMIT;
		PRAGMA wal_checkpoint(TRUNCATE);
	SQL
}
seed_pg() {
	local now
	now=$(date +%s)
	pg_sql -d erpulse_bench <<-SQL
		BEGIN;
		CREATE TEMP TABLE n AS SELECT i, md5(random()::text) AS id
		  FROM generate_series(0, $GROW_HOSTS - 1) i;
		CREATE TEMP TABLE k AS SELECT k, $now - ($GROW_REPORTS - k + 1) * 300 AS t
		  FROM generate_series(1, $GROW_REPORTS) k;
		CREATE TEMP TABLE s AS SELECT CASE WHEN j = 7 THEN 'disk_usage:/var/lib/postgresql'
		  ELSE 'index_fragmentation:odoo/public.seed_table_' || j || '_index' END AS series
		  FROM generate_series(0, 7) j;
		CREATE TEMP TABLE pad AS SELECT string_agg(md5(random()::text), '') AS p
		  FROM generate_series(1, 125);
		INSERT INTO customers (id, name, created_at)
		  SELECT 'seed' || i, 'Seed ' || i, $now FROM n WHERE i < 100 ON CONFLICT DO NOTHING;
		INSERT INTO agents (id, customer_id, hostname, public_key, agent_version, enrolled_at,
		  last_seq, last_report_at, interval_s, score, band)
		  SELECT id, 'seed' || (i % 100), 'seed-' || i, 'seedkey' || i, 'seed',
		  $now - 86400, $GROW_REPORTS, $now - 300, 300, 90, 'healthy' FROM n;
		INSERT INTO reports (agent_id, seq, received_at, generated_at, codec, body)
		  SELECT n.id, k.k, k.t, k.t, 0, convert_to('{"seed":"' || pad.p || '"}', 'UTF8')
		  FROM n, k, pad;
		CREATE TEMP TABLE hs AS SELECT n.id AS agent_id, s.series, k.t AS ts, 8 + k.k % 5
		  AS value FROM n, k, s WHERE k.k % 2 = 0;
		$(samples_from_hs "$(has_series_pg)" "" "ON CONFLICT DO NOTHING")
		INSERT INTO current_findings (agent_id, seq, findings)
		  SELECT id, $GROW_REPORTS, '[' || left(pad.p, 1600) || ']' FROM n, pad;
		INSERT INTO score_history (agent_id, ts, score)
		  SELECT n.id, k.t - k.t % 3600, 90 FROM n, k ON CONFLICT DO NOTHING;
		COMMIT;
		VACUUM ANALYZE;
	SQL
}

# history_* STORE IDS-FILE: HISTORY_DAYS of history of the 8 series of the
# bench's reports for each agent in IDS-FILE, as the store keeps it: raw
# samples (one per 10 minutes) of the last KEEP_SAMPLES_DAYS (2, the
# collector's keep_samples_days), hourly rollups (6 samples each) before,
# cut on a whole hour as the sweep cuts. KEEP_SAMPLES_DAYS >= HISTORY_DAYS
# seeds raw samples only (what a collector before keep_samples_days kept).
# SQLite: checkpointed here, as the grown store is, so that the collector
# does not copy the seed's WAL into the database during the measured run.
history_sqlite() {
	local now ids cut
	now=$(date +%s)
	cut=$(history_cut "$now")
	ids=$(sed "s/.*/('&')/" "$2" | paste -sd,)
	sqlite3 "$1" <<-SQL
		PRAGMA busy_timeout=30000;
		BEGIN IMMEDIATE;
		CREATE TEMP TABLE a(id TEXT); INSERT INTO a VALUES $ids;
		CREATE TEMP TABLE t AS WITH RECURSIVE c(t) AS (SELECT $cut
		  UNION ALL SELECT t + 600 FROM c WHERE t < $now - 1200) SELECT t FROM c;
		CREATE TEMP TABLE h AS WITH RECURSIVE c(h) AS (SELECT $((now - HISTORY_DAYS * 86400))
		  - $((now - HISTORY_DAYS * 86400)) % 3600 UNION ALL SELECT h + 3600 FROM c
		  WHERE h + 3600 < $cut) SELECT h FROM c WHERE h < $cut;
		CREATE TEMP TABLE s AS WITH RECURSIVE c(j) AS (SELECT 0 UNION ALL SELECT j + 1
		  FROM c WHERE j < 7) SELECT CASE WHEN j = 7 THEN 'disk_usage:/var/lib/postgresql'
		  ELSE 'index_fragmentation:odoo/public.bench_table_' || j || '_partner_id_index' END
		  AS series, CASE WHEN j = 7 THEN 41 ELSE 8 + j END AS v FROM c;
		CREATE TEMP TABLE hs AS SELECT a.id AS agent_id, s.series, t.t AS ts, s.v AS value
		  FROM a, s, t;
		CREATE TEMP TABLE hr AS SELECT a.id AS agent_id, s.series, h.h AS hour, 6 AS n,
		  6 * s.v AS vsum, s.v AS vmin, s.v AS vmax FROM a, s, h;
		$(samples_from_hs "$(has_series_lite "$1")" "OR IGNORE" "" rollups)
		COMMIT;
		PRAGMA wal_checkpoint(TRUNCATE);
	SQL
}
history_pg() {
	local now ids cut
	now=$(date +%s)
	cut=$(history_cut "$now")
	ids=$(sed "s/.*/('&')/" "$2" | paste -sd,)
	pg_sql -d erpulse_bench <<-SQL
		CREATE TEMP TABLE a(id TEXT); INSERT INTO a VALUES $ids;
		CREATE TEMP TABLE s AS SELECT CASE WHEN j = 7 THEN 'disk_usage:/var/lib/postgresql'
		  ELSE 'index_fragmentation:odoo/public.bench_table_' || j || '_partner_id_index' END
		  AS series, CASE WHEN j = 7 THEN 41 ELSE 8 + j END AS v FROM generate_series(0, 7) j;
		CREATE TEMP TABLE hs AS SELECT a.id AS agent_id, s.series, t AS ts, s.v AS value
		  FROM a, s, generate_series($cut, $now - 1200, 600) t;
		CREATE TEMP TABLE hr AS SELECT a.id AS agent_id, s.series, h AS hour, 6 AS n,
		  6 * s.v AS vsum, s.v AS vmin, s.v AS vmax FROM a, s,
		  generate_series($((now - HISTORY_DAYS * 86400)) - $((now - HISTORY_DAYS * 86400)) % 3600,
		  $cut - 3600, 3600) h;
		$(samples_from_hs "$(has_series_pg)" "" "ON CONFLICT DO NOTHING" rollups)
		ANALYZE samples; ANALYZE rollups;
	SQL
}
# history_cut NOW: where raw samples start (whole hour; the window's start
# when KEEP_SAMPLES_DAYS covers it)
history_cut() {
	local keep=${KEEP_SAMPLES_DAYS:-2} c
	if [ "$keep" -ge "$HISTORY_DAYS" ]; then
		echo $(($1 - HISTORY_DAYS * 86400))
		return
	fi
	c=$(($1 - keep * 86400))
	echo $((c - c % 3600))
}

# ratio LABEL: the grown store's CPU per report against the empty one's
ratio() {
	local e=${CPU[$1-empty]:-} g=${CPU[$1-grown]:-}
	[ -n "$e" ] && [ -n "$g" ] && [ "$e" -gt 0 ] || return 0
	awk -v l="$1" -v e="$e" -v g="$g" -v re="${RPS[$1-empty]}" -v rg="${RPS[$1-grown]}" \
		-v v="${VERIFY[$1-grown]}" -v h="$GROW_HOSTS" -v k="$GROW_REPORTS" -v d="$HISTORY_DAYS" 'BEGIN {
		printf "growth  %-10s CPU per report %d us empty -> %d us at %d hosts x %d reports, " \
			"%d days of history: " \
			"x%.2f (target <= x1.20 %s); %d -> %d reports/s (target >= 3300 %s); " \
			"libsodium verify ceiling %d/s\n", l, e, g, h, k, d, g / e, \
			(g / e <= 1.2 ? "met" : "NOT met"), re, rg, (rg >= 3300 ? "met" : "NOT met"), v }'
}

# compare LABEL: the base build's figures (LABEL-main) beside this build's
compare() {
	local b=${CPU[$1-main-grown]:-} be=${CPU[$1-main-empty]:-} g=${CPU[$1-grown]:-} e=${CPU[$1-empty]:-}
	[ -n "$b" ] && [ -n "$g" ] && [ -n "$be" ] && [ -n "$e" ] && [ "$g" -gt 0 ] || return 0
	awk -v l="$1" -v b="$b" -v be="$be" -v g="$g" -v e="$e" -v d="$HISTORY_DAYS" 'BEGIN {
		printf "compare %-10s CPU per report, agents with their own %d days of history: base " \
			"%d us (x%.2f of its empty store, %d us), this build %d us (x%.2f of its " \
			"empty store, %d us; target <= x1.20 %s): base/this x%.2f\n", l, d, b, b / be, \
			be, g, g / e, e, (g / e <= 1.2 ? "met" : "NOT met"), b / g }'
}

# pg_mark: PostgreSQL's WAL position, the row updates (all, HOT) of the
# tables ingest updates per report and the server's CPU clock ticks;
# pg_per_report LABEL BEFORE AFTER prints them
# per measured report (the collectors stopped: their statistics flushed).
PG_MARK_TABLES="agents agent_analysis current_findings"
pg_mark() {
	[ -n "${PG_PID:-}" ] || return 0
	local t p sql="SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"
	for t in $PG_MARK_TABLES; do
		sql="$sql, (SELECT COALESCE(SUM(n_tup_upd), 0) || ' ' || COALESCE(SUM(n_tup_hot_upd), 0)"
		sql="$sql FROM pg_stat_user_tables WHERE relname = '$t')"
	done
	printf '%s ' "$(pg_sql -d erpulse_bench -F ' ' -c "$sql")"
	# the postmaster's own and its exited children's, the live children's
	{
		sed 's/.*) //' "/proc/$PG_PID/stat" | awk '{ print $12 + $13 + $14 + $15 }'
		for p in $(pgrep -P "$PG_PID"); do
			sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }'
		done
	} | awk '{ s += $1 } END { print s + 0 }'
}
pg_per_report() {
	[ -n "$2" ] || return 0
	awk -v label="$1" -v a="$2" -v b="$3" -v n=$((AGENTS * REPORTS)) -v tables="$PG_MARK_TABLES" \
		-v hz="$(getconf CLK_TCK)" '
	BEGIN { split(a, x, " "); split(b, y, " "); split(tables, t, " ")
		printf "pg      %s: server CPU %.0f us, WAL %.0f bytes per report", label,
			(y[8] - x[8]) * 1e6 / hz / n, (y[1] - x[1]) / n
		for (i = 1; i <= 3; i++)
			printf "; %s updates %.2f (HOT %.2f)", t[i], (y[2 * i] - x[2 * i]) / n,
				(y[2 * i + 1] - x[2 * i + 1]) / n
		print "" }'
}

# PG_STATEMENTS=1 loads pg_stat_statements into the bench's PostgreSQL and
# prints, after each measured load, the statements per report and the
# PG_STATEMENTS_TOP (12) heaviest by planning + execution time (calls, plans,
# executor and planner time, WAL bytes per report).
pg_statements_reset() {
	[ -n "${PG_STATEMENTS:-}" ] && [ -n "${PG_PID:-}" ] || return 0
	pg_sql -c "SELECT pg_stat_statements_reset()" >/dev/null
}
pg_statements() {
	[ -n "${PG_STATEMENTS:-}" ] && [ -n "${PG_PID:-}" ] || return 0
	pg_sql -F ' | ' <<-SQL | sed "s/^/stmt    $1 /"
		WITH s AS (SELECT * FROM pg_stat_statements
		  WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'erpulse_bench'))
		SELECT 'all' , round(SUM(calls)::numeric / $((AGENTS * REPORTS)), 2),
		  round(SUM(plans)::numeric / $((AGENTS * REPORTS)), 2),
		  round(SUM(total_exec_time)::numeric * 1000 / $((AGENTS * REPORTS))),
		  round(SUM(total_plan_time)::numeric * 1000 / $((AGENTS * REPORTS))),
		  round(SUM(wal_bytes)::numeric / $((AGENTS * REPORTS))),
		  'calls / plans / exec us / plan us / WAL B per report'
		FROM s
		UNION ALL (SELECT 'top', round(calls::numeric / $((AGENTS * REPORTS)), 2),
		  round(plans::numeric / $((AGENTS * REPORTS)), 2),
		  round(total_exec_time::numeric * 1000 / $((AGENTS * REPORTS))),
		  round(total_plan_time::numeric * 1000 / $((AGENTS * REPORTS))),
		  round(wal_bytes::numeric / $((AGENTS * REPORTS))),
		  left(regexp_replace(query, '\s+', ' ', 'g'), 150)
		FROM s ORDER BY total_exec_time + total_plan_time DESC LIMIT ${PG_STATEMENTS_TOP:-12})
	SQL
}

measure() { # LABEL N-COLLECTORS SEED-FUNCTION HISTORY-FUNCTION CONFIG...
	local label=$1 n=$2 seed=$3 hist=$4 m0
	shift 4
	[ "$HISTORY_DAYS" -gt 0 ] || hist=""
	start "$label" "$n" "$@" || return 1
	m0=$(pg_mark)
	pg_statements_reset
	bench "$label-empty" "$URLS" "$PIDS" || echo "warning: $label-empty: reports not accepted (above)"
	stop_all
	pg_per_report "$label-empty" "$m0" "$(pg_mark)"
	pg_statements "$label-empty"
	if [ "$GROW_HOSTS" -gt 0 ]; then
		local t0=$SECONDS
		"$seed" "$T/$label-1.db" >/dev/null || { echo "seeding $label failed"; return 1; }
		echo "seed    $label $GROW_HOSTS hosts x $GROW_REPORTS reports in $((SECONDS - t0))s"
		start "$label" "$n" "$@" || return 1
		m0=$(pg_mark)
		pg_statements_reset
		bench "$label-grown" "$URLS" "$PIDS" "$hist" "$T/$label-1.db" ||
			echo "warning: $label-grown: reports not accepted (above)"
		stop_all
		pg_per_report "$label-grown" "$m0" "$(pg_mark)"
		pg_statements "$label-grown"
		ratio "$label"
	fi
}

HOOK=$(free_port)
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "collector: $COLLECTOR"
STORES=${STORES:-sqlite postgresql}
echo "base: ${BASE:-none}; reports ${CLOCK_STEP}s apart on the collector's clock"
case " $STORES " in
*" sqlite "*)
	if [ -n "$BASE" ]; then
		COLLECTOR=$BASE CLOCK_STEP=${BASE_CLOCK_STEP:-0} measure sqlite-main 1 seed_sqlite history_sqlite || exit 1
	fi
	measure sqlite 1 seed_sqlite history_sqlite || exit 1
	compare sqlite
	;;
esac
case " $STORES " in *" postgresql "*) ;; *) exit 0 ;; esac
PG_CONF=("synchronous_commit = on" "fsync = on" "shared_buffers = 256MB" ${PG_CONF_EXTRA:+"$PG_CONF_EXTRA"})
[ -z "${PG_STATEMENTS:-}" ] || PG_CONF+=("shared_preload_libraries = 'pg_stat_statements'"
	"pg_stat_statements.track = all" "pg_stat_statements.max = 2000"
	"pg_stat_statements.track_planning = on")
if pg_start "${PG_CONF[@]}" >/dev/null 2>&1; then
	[ -z "${PG_STATEMENTS:-}" ] || pg_sql -c "CREATE EXTENSION pg_stat_statements" >/dev/null
	PG_STORE=("[store]" "url = postgresql://$PG_SUPERUSER:$PG_SUPERPASS@127.0.0.1:$PGPORT/erpulse_bench"
		"pool = 8")
	if [ -n "$BASE" ]; then
		pg_sql -c "CREATE DATABASE erpulse_bench" >/dev/null
		COLLECTOR=$BASE CLOCK_STEP=${BASE_CLOCK_STEP:-0} measure pg2-main 2 seed_pg history_pg "${PG_STORE[@]}"
		pg_sql -c "DROP DATABASE erpulse_bench" >/dev/null
	fi
	pg_sql -c "CREATE DATABASE erpulse_bench" >/dev/null
	measure pg2 2 seed_pg history_pg "${PG_STORE[@]}"
	compare pg2
else
	echo "postgresql: could not start a test server; skipped"
fi
# BENCH_LOGS=DIR keeps the collectors' logs (the temp dir goes at exit)
[ -z "${BENCH_LOGS:-}" ] || cp "$T"/*.log "$BENCH_LOGS"/ 2>/dev/null
