#!/bin/bash
# Benchmark of the postgres probe (issue 5 item 6): a PostgreSQL database of
# 2+ GB with 200+ B-tree indexes, a quarter of them fragmented in different
# ways, built by this script; then one probe cycle in estimate-only mode and
# in budgeted exact mode, next to check_postgres's bloat action on the same
# database in the same run, each method's error measured against pgstatindex
# ground truth. Prints figures, not verdicts (scripts/run-bench runs it).
#   DB_PROBE_TABLES=40 DB_PROBE_ROWS=200000 tests/bench/db-probe.sh
# Caches are warm (dropping the OS page cache would disturb other work on
# the machine); pages are counted by pg_stat_statements, so warm or cold the
# I/O volume is the same.
set -u
. "$(dirname "$0")/../integration/lib.sh"
TABLES=${DB_PROBE_TABLES:-40}
ROWS=${DB_PROBE_ROWS:-200000}
BUDGET_MB=${DB_PROBE_BUDGET_MB:-512}
PROBE_RUN=${PROBE_RUN:-$TOOLS/probe_run}
[ -x "$PROBE_RUN" ] || { echo "db-probe: build first: make tools" >&2; exit 1; }

pg_start shared_preload_libraries=pg_stat_statements shared_buffers=256MB \
	pg_stat_statements.track=all max_wal_size=4GB checkpoint_timeout=30min autovacuum=off || exit 1
MONPW="mon-$RANDOM"
pg_sql -c "CREATE DATABASE bench" >/dev/null
pg_sql -c "CREATE ROLE erpulse_monitor LOGIN PASSWORD '$MONPW'; GRANT pg_monitor TO erpulse_monitor;
	CREATE ROLE bench_est LOGIN PASSWORD '$MONPW'; GRANT pg_monitor TO bench_est" >/dev/null
pg_sql -d bench -c "CREATE EXTENSION pgstattuple; CREATE EXTENSION pg_stat_statements;
	GRANT pg_read_all_data TO bench_est" >/dev/null

# ---- build: TABLES tables x 6 B-tree indexes ---------------------------------
t0=$(date +%s)
build_table() { # build_table N: table, data, 6 indexes
	local i=$1
	pg_sql -d bench >/dev/null <<-SQL
		CREATE TABLE t$i (id bigserial PRIMARY KEY, u uuid, k text, s int, at timestamptz, pad text);
		CREATE INDEX t${i}_u ON t$i (u);
		INSERT INTO t$i (u, k, s, at, pad) SELECT gen_random_uuid(), md5(g::text), g % 5,
		  now() + g * interval '1 s', repeat('x', 40) FROM generate_series(1, $ROWS) g;
		CREATE INDEX t${i}_k ON t$i (k);
		CREATE INDEX t${i}_s ON t$i (s);
		CREATE INDEX t${i}_at ON t$i (at);
		CREATE INDEX t${i}_s_at ON t$i (s, at);
	SQL
}
history() { # history N: what happened to table N
	local i=$1
	case $((i % 4)) in
	0) pg_sql -d bench -c "DELETE FROM t$i WHERE random() < 0.5" ;;           # random deletes
	1) pg_sql -d bench -c "DELETE FROM t$i WHERE id % 100 < 60" ;;            # purged by key ranges
	2) pg_sql -d bench -c "UPDATE t$i SET k = md5(k) WHERE random() < 0.3" ;; # non-HOT updates
	3) ;;                                                                     # untouched
	esac >/dev/null
}
pairs() { # pairs FUNCTION: runs FUNCTION 1..TABLES, two at a time (2 cores)
	local i a b
	for ((i = 1; i <= TABLES; i += 2)); do
		"$1" "$i" &
		a=$!
		b=""
		if [ $((i + 1)) -le "$TABLES" ]; then
			"$1" $((i + 1)) &
			b=$!
		fi
		wait $a $b # these two only: the server is a child of this shell too
	done
}
pairs build_table
pairs history
# one VACUUM ANALYZE with nothing else running, so dead entries are really
# removed (a concurrent transaction would hold them back); autovacuum is off
# so that the ground truth does not move during the run
pg_sql -d bench -c "VACUUM ANALYZE" >/dev/null
read -r dbsize nidx idxsize <<<"$(pg_sql -d bench -F' ' -c "SELECT pg_database_size('bench'),
	count(*), sum(pg_relation_size(indexrelid)) FROM pg_stat_user_indexes")"
echo "built in $(($(date +%s) - t0)) s: database $((dbsize / 1048576)) MB, $nidx indexes, $((idxsize / 1048576)) MB of indexes"

# ---- ground truth: pgstatindex on every index of >= 1000 pages ---------------
t0=$(date +%s%N)
pg_sql -d bench -F$'\t' -c "SELECT 'bench/' || schemaname || '.' || indexrelname,
	100 * (1 - avg_leaf_density / 90), leaf_fragmentation, pg_relation_size(indexrelid) / 8192
	FROM pg_stat_user_indexes, LATERAL pgstatindex(indexrelid::regclass)
	WHERE pg_relation_size(indexrelid) >= 1000 * 8192" >"$T/truth.tsv"
truth_ms=$((($(date +%s%N) - t0) / 1000000))
echo "ground truth: pgstatindex on all $(wc -l <"$T/truth.tsv") indexes >= 1000 pages: $truth_ms ms"

# ---- one probe cycle, measured ------------------------------------------------
# cycle NAME ROLE SECTION-LINES...: runs one cycle; prints wall, client CPU,
# server time and pages touched by the role (pg_stat_statements).
cat >"$T/agent.conf" <<EOF2
[postgres.estimate]
conninfo = host=127.0.0.1 port=$PGPORT user=bench_est password=$MONPW dbname=bench
databases = bench
exact_budget_mb = 0

[postgres.exact]
conninfo = host=127.0.0.1 port=$PGPORT user=erpulse_monitor password=$MONPW dbname=bench
databases = bench
exact_budget_mb = $BUDGET_MB

[postgres.exact_ordered]
conninfo = host=127.0.0.1 port=$PGPORT user=bench_est password=$MONPW dbname=bench
databases = bench
exact_budget_mb = $BUDGET_MB
EOF2
cycle() { # cycle SECTION ROLE OUT
	pg_sql -d bench -c "SELECT pg_stat_statements_reset()" >/dev/null
	local t0 t1 c0 c1
	c0=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
	t0=$(date +%s%N)
	"$PROBE_RUN" "$T/agent.conf" "$1" --state "$T/state-$1.json" --timeout-ms 60000 >"$3" 2>/dev/null
	t1=$(date +%s%N)
	c1=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
	read -r pages rd srv <<<"$(pg_sql -d bench -F' ' -c "SELECT coalesce(sum(shared_blks_hit + shared_blks_read), 0),
		coalesce(sum(shared_blks_read), 0),
		round(coalesce(sum(total_exec_time), 0)) FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
		WHERE r.rolname = '$2'")"
	printf '%-24s wall %6d ms  client CPU %4d ms  server %6d ms  buffer accesses %8d (%d MB), %d read outside shared_buffers\n' \
		"$1" $(((t1 - t0) / 1000000)) $(((c1 - c0) * 1000 / $(getconf CLK_TCK))) "$srv" "$pages" $((pages * 8 / 1024)) "$rd"
}
echo
echo "one cycle (budget $BUDGET_MB MB for exact modes):"
cycle postgres.estimate bench_est "$T/est.json"
cycle postgres.exact erpulse_monitor "$T/exact.json"
cycle postgres.exact_ordered bench_est "$T/ordered.json"
cycle postgres.exact erpulse_monitor "$T/exact2.json"
echo "(the last line is the second cycle of postgres.exact: figures younger than remeasure_after are carried)"

# ---- check_postgres bloat, same database, same run ---------------------------
if command -v check_postgres_bloat >/dev/null; then
	t0=$(date +%s%N)
	check_postgres_bloat --host="$PGHOST" --port="$PGPORT" --dbuser=postgres --db=bench \
		--warning='1000 GB' --critical='2000 GB' --perflimit=100000 >"$T/cp.out" 2>&1
	cp_ms=$((($(date +%s%N) - t0) / 1000000))
	echo "check_postgres bloat       wall $cp_ms ms"
else
	echo "check_postgres: not installed (apt-get install check-postgres) -- comparison skipped"
	: >"$T/cp.out"
fi

# ---- accuracy against the ground truth ----------------------------------------
python3 - "$T/truth.tsv" "$T/est.json" "$T/exact.json" "$T/ordered.json" "$T/exact2.json" "$T/cp.out" <<'PY'
import json, re, sys
truth = {}
for line in open(sys.argv[1]):
    o, w, lf, pages = line.rstrip('\n').split('\t')
    truth[o] = (float(w), float(lf), int(pages))
def load(p):
    return json.load(open(p))
est = {x['object']: x for x in load(sys.argv[2])['metrics']['databases']['bench']['indexes']}
def exact_figs(j):
    return {f['object']: (f['value'], f['carried']) for f in j['findings'] if f['kind'] == 'index_fragmentation'}
cp = {}
text = open(sys.argv[6]).read()
if '|' in text:
    for name, b in re.findall(r'(\S+)=(\d+)B', text.split('|', 1)[1]):
        o = 'bench/' + name
        if o in truth:
            cp[o] = 100.0 * int(b) / (truth[o][2] * 8192)
T = 30.0
bad = {o for o, v in truth.items() if v[0] >= T}
print()
print(f"{len(truth)} indexes >= 1000 pages; {len(bad)} truly at or above {T:.0f}% wasted leaf space")
def report(name, figs, note=''):
    common = [o for o in truth if o in figs and figs[o] is not None]
    if not common:
        print(f"{name:28s} no figures {note}")
        return
    errs = [abs(figs[o] - truth[o][0]) for o in common]
    fn = sum(1 for o in bad if o in figs and figs[o] is not None and figs[o] < T)
    fp = sum(1 for o in common if o not in bad and figs[o] >= T)
    missing = len(truth) - len(common)
    print(f"{name:28s} figures {len(common):3d}  mean |error| {sum(errs)/len(errs):5.1f} pts  max {max(errs):5.1f}  "
          f"missed (>=30 said <30) {fn:3d}  false alarms {fp:3d}  no figure {missing:3d} {note}")
    worst = sorted(common, key=lambda o: -abs(figs[o] - truth[o][0]))[:2]
    for o in worst:
        if abs(figs[o] - truth[o][0]) >= 5:
            print(f"{'':30s}worst: {o} said {figs[o]:.1f}, truth {truth[o][0]:.1f}")
report('estimate (ioguix, pg_stats)', {o: (x['estimate_pct'] if x['estimate_pct'] is not None else None) for o, x in est.items()})
report('  ... where marked trusted', {o: x['estimate_pct'] for o, x in est.items() if x['estimate_trusted']})
report('check_postgres bloat', cp)
for label, p in (('exact, cycle 1 (monitor)', sys.argv[3]), ('exact, cycle 1 (ordered)', sys.argv[4]), ('exact, cycle 2 (monitor)', sys.argv[5])):
    j = load(p)
    m = j['metrics']['databases']['bench']
    figs = {o: v for o, (v, c) in exact_figs(j).items()}
    caught = sum(1 for o in bad if o in figs and figs[o] >= T)
    report(label, figs, f"(measured {m['exact_measured']}, carried {m['exact_carried']}, over budget {m['exact_over_budget']}, "
           f"read {m['exact_bytes_read']/1048576:.0f} MB; caught {caught}/{len(bad)}; probe {j['duration_ms']} ms)")
PY
