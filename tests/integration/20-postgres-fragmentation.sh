#!/bin/bash
# postgres probe, fragmentation: real indexes with real histories, measured by
# the probe as the least-privilege monitoring role (docs/probes-database.md).
# Checks that the probe's exact figures are pgstatindex()'s own, that the 30%
# verdicts follow wasted leaf space and not leaf_fragmentation, that the
# deduplicated index is not missed, that the I/O budget holds and that
# figures not measured this cycle are carried with their age, but never
# across a rebuild (REINDEX as printed by the probe: measured again at once).
. "$(dirname "$0")/lib.sh"

PROBE_RUN=${PROBE_RUN:-$TOOLS/probe_run} # PROBE_RUN=.../asan/... for a sanitizer run
[ -x "$PROBE_RUN" ] || bail "probe_run not built: make tests"
pg_start || bail "pg_start"

# pyj FILE EXPR: evaluates a Python expression over the JSON document j.
pyj() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

MONPW="mon-$RANDOM$RANDOM"
pg_sql -c "CREATE DATABASE erp" || bail "create database"
# The documented monitoring role: pg_monitor, plus pgstattuple in each database.
pg_sql -c "CREATE ROLE erpulse_monitor LOGIN PASSWORD '$MONPW'; GRANT pg_monitor TO erpulse_monitor" ||
	bail "create role"
t0=$(date +%s)
pg_sql -d erp <<'SQL' || bail "build the test tables"
CREATE EXTENSION pgstattuple;
-- 1. random keys with an OLTP history: inserts in random key order, random
--    deletes, updates of the indexed column (never HOT), vacuum.
CREATE TABLE oltp (id int PRIMARY KEY, k text NOT NULL, pad text);
CREATE INDEX oltp_k_idx ON oltp (k);
INSERT INTO oltp SELECT g, md5(g::text), repeat('x', 20) FROM generate_series(1, 60000) g;
DELETE FROM oltp WHERE random() < 0.5;
UPDATE oltp SET k = md5(k) WHERE random() < 0.3;
VACUUM oltp;
-- ... and the same data indexed fresh
CREATE TABLE oltp_fresh AS SELECT * FROM oltp;
CREATE INDEX oltp_fresh_k_idx ON oltp_fresh (k);
-- 2. insert-only random UUIDs: healthy, yet leaf_fragmentation is high
CREATE TABLE events (id uuid PRIMARY KEY, at timestamptz DEFAULT now());
INSERT INTO events (id) SELECT gen_random_uuid() FROM generate_series(1, 80000);
-- 3. sequential key purged by key ranges (65 of every 100 keys): leaf pages
--    stay in key order (leaf_fragmentation ~0) but are mostly empty
CREATE TABLE journal (id bigserial PRIMARY KEY, amount numeric);
INSERT INTO journal (amount) SELECT g FROM generate_series(1, 150000) g;
DELETE FROM journal WHERE id % 100 < 65;
VACUUM journal;
-- 4. low-cardinality key: deduplicated (PostgreSQL 13+), then 60% deleted
CREATE TABLE orders (id int, state int);
INSERT INTO orders SELECT g, g % 4 FROM generate_series(1, 300000) g;
CREATE INDEX orders_state_idx ON orders (state);
DELETE FROM orders WHERE random() < 0.6;
VACUUM orders;
-- a schema and an index name that need quoting
CREATE SCHEMA "Sales Dept";
CREATE TABLE "Sales Dept"."Order""Lines" (id int);
INSERT INTO "Sales Dept"."Order""Lines" SELECT g FROM generate_series(1, 40000) g;
CREATE INDEX "Order""Lines id" ON "Sales Dept"."Order""Lines" (id);
DELETE FROM "Sales Dept"."Order""Lines" WHERE id % 10 < 7;
VACUUM "Sales Dept"."Order""Lines";
ANALYZE;
SQL
tap_ok "test tables built in $(($(date +%s) - t0)) s"

cat >"$T/agent.conf" <<EOF2
[postgres.erp]
conninfo = host=127.0.0.1 port=$PGPORT user=erpulse_monitor password=$MONPW dbname=erp
databases = erp
min_index_pages = 20
exact_budget_mb = 512

[postgres.su]
conninfo = $PG_CONNINFO dbname=erp
databases = erp
min_index_pages = 20

[postgres.budget]
conninfo = host=127.0.0.1 port=$PGPORT user=erpulse_monitor password=$MONPW dbname=erp
databases = erp
min_index_pages = 20
exact_budget_mb = 1
EOF2

"$PROBE_RUN" "$T/agent.conf" postgres.erp --state "$T/state.json" >"$T/r1.json" 2>"$T/r1.err"
tap_is "probe runs as erpulse_monitor: status ok" "$(pyj "$T/r1.json" 'j["status"]')" ok
sed 's/^/# /' "$T/r1.err"
tap_is "role is the monitoring role" "$(pyj "$T/r1.json" 'j["metrics"]["role"]')" erpulse_monitor

# finding FIELD INDEX: a field of the index_fragmentation finding for erp/INDEX
finding() {
	pyj "${3:-$T/r1.json}" "[f['$1'] for f in j['findings'] if f['kind']=='index_fragmentation' and f['object']=='erp/$2'][0]"
}

# 1. exact figures equal pgstatindex's own, on every index
all_equal=1
for idx in public.oltp_k_idx public.oltp_fresh_k_idx public.events_pkey public.journal_pkey \
	public.orders_state_idx; do
	want=$(pg_sql -d erp -F' ' -c "SELECT avg_leaf_density, leaf_fragmentation,
		100 * (1 - avg_leaf_density / 90) FROM pgstatindex('$idx')")
	read -r wd wl ww <<<"$want"
	gd=$(finding avg_leaf_density "$idx")
	gl=$(finding leaf_fragmentation "$idx")
	gw=$(finding value "$idx")
	echo "# $idx: pgstatindex density $wd leaf_frag $wl wasted $ww | probe $gd $gl $gw"
	python3 -c "import sys; a=list(map(float,sys.argv[1:4])); b=list(map(float,sys.argv[4:7]));
sys.exit(0 if all(abs(x-y) < 1e-9 for x,y in zip(a,b)) else 1)" "$wd" "$wl" "$ww" "$gd" "$gl" "$gw" ||
		{ all_equal=0; tap_fail "$idx: probe figures differ from pgstatindex"; }
done
[ $all_equal = 1 ] && tap_ok "exact figures equal pgstatindex() on all 5 indexes (density, leaf_fragmentation, wasted)"

# 2. verdicts follow wasted space
wasted() { finding value "$1"; }
lf() { finding leaf_fragmentation "$1"; }
sev() { finding severity "$1"; }
gt() { python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)" "$1" "$2"; }
tap_check "OLTP random-key index: wasted $(wasted public.oltp_k_idx)% >= 30 -> warning or critical" \
	bash -c "[ '$(sev public.oltp_k_idx)' != info ]"
tap_check "same data indexed fresh: wasted $(wasted public.oltp_fresh_k_idx)% < 10 -> info" \
	bash -c "$(declare -f gt); ! gt $(wasted public.oltp_fresh_k_idx) 10 && [ '$(sev public.oltp_fresh_k_idx)' = info ]"
tap_check "insert-only UUID: leaf_fragmentation $(lf public.events_pkey)% > 30 but wasted $(wasted public.events_pkey)% < 30 -> info (no cry wolf)" \
	bash -c "$(declare -f gt); gt $(lf public.events_pkey) 30 && ! gt $(wasted public.events_pkey) 30 && [ '$(sev public.events_pkey)' = info ]"
tap_check "sequential key purged by ranges: leaf_fragmentation $(lf public.journal_pkey)% < 5 but wasted $(wasted public.journal_pkey)% > 30 -> flagged" \
	bash -c "$(declare -f gt); ! gt $(lf public.journal_pkey) 5 && gt $(wasted public.journal_pkey) 30 && [ '$(sev public.journal_pkey)' != info ]"
tap_check "deduplicated low-cardinality index: wasted $(wasted public.orders_state_idx)% > 30 -> flagged (not missed)" \
	bash -c "$(declare -f gt); gt $(wasted public.orders_state_idx) 30 && [ '$(sev public.orders_state_idx)' != info ]"
tap_is "remediation quotes identifiers (REINDEX CONCURRENTLY on 15)" \
	"$(pyj "$T/r1.json" "[f['remediation'] for f in j['findings'] if f['kind']=='index_fragmentation' and f['object'].endswith('id')][0]")" \
	'REINDEX INDEX CONCURRENTLY "Sales Dept"."Order""Lines id";'
tap_check "the remediation statement runs as printed (superuser)" \
	pg_sql -d erp -c "$(pyj "$T/r1.json" "[f['remediation'] for f in j['findings'] if f['kind']=='index_fragmentation' and f['object'].endswith('id')][0]")"
tap_like "finding says which method and when" \
	"$(finding method public.journal_pkey) $(finding measured_at public.journal_pkey)" \
	'^pgstatindex via libpq [0-9]{4}-[0-9]{2}-[0-9]{2}T'
tap_like "remediation says the lock and the extra disk space" "$(finding lock public.journal_pkey)" \
	'SHARE UPDATE EXCLUSIVE.*extra disk space'
tap_is "without pg_stats access estimates are untrusted, so everything was measured exactly" \
	"$(pyj "$T/r1.json" "(j['metrics']['databases']['erp']['exact_measured'], j['metrics']['databases']['erp']['indexes_considered'])")" \
	"(7, 7)"

# 3. the estimate (superuser: pg_stats readable) orders work but decides nothing
"$PROBE_RUN" "$T/agent.conf" postgres.su >"$T/su.json" 2>/dev/null
est_dd=$(pyj "$T/su.json" "[x for x in j['metrics']['databases']['erp']['indexes'] if x['object']=='erp/public.orders_state_idx'][0]")
echo "# dedup index as seen by the estimate: $est_dd"
tap_is "dedup index: the estimate is flagged untrusted (deduplication) and the index measured exactly anyway" \
	"$(pyj "$T/su.json" "[(x['estimate_trusted'], 'deduplication' in x['untrusted_reason'], x['figure']) for x in j['metrics']['databases']['erp']['indexes'] if x['object']=='erp/public.orders_state_idx'][0]")" \
	"(False, True, 'exact')"
tap_check "dedup index: the estimate alone would have missed it (< 30%)" \
	bash -c "$(declare -f gt); ! gt $(pyj "$T/su.json" "[x['estimate_pct'] for x in j['metrics']['databases']['erp']['indexes'] if x['object']=='erp/public.orders_state_idx'][0]") 30"
echo "# estimate vs exact (superuser run):"
pyj "$T/su.json" "'\n'.join('#   %-40s estimate %6s%%  exact %6.1f%%  leaf_frag %5.1f%% %s' % (x['object'], 'n/a' if x['estimate_pct'] is None else '%.1f' % x['estimate_pct'], x['wasted_pct'], x['leaf_fragmentation'], '' if x['estimate_trusted'] else '(untrusted: '+x['untrusted_reason'][:40]+')') for x in j['metrics']['databases']['erp']['indexes'])"

# 3b. the same database through psqlODBC (odbc probe) gives the same figures
odbc_setup || bail "odbc_setup"
cat >>"$T/agent.conf" <<EOF2

[odbc.pg]
connection = DSN=erpulse_pg;Database=erp;UID=erpulse_monitor;PWD=$MONPW
min_index_pages = 20
EOF2
"$PROBE_RUN" "$T/agent.conf" odbc.pg >"$T/odbc.json" 2>"$T/odbc.err"
sed 's/^/# /' "$T/odbc.err"
tap_is "odbc probe: psqlODBC detected as PostgreSQL, status ok" \
	"$(pyj "$T/odbc.json" "(j['metrics'].get('dialect'), j['status'], j.get('error'))")" "('postgresql', 'ok', None)"
same=$(python3 - "$T/su.json" "$T/odbc.json" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
def figs(j):
    return {f['object']: (f['value'], f['leaf_fragmentation'], f['avg_leaf_density'], f['severity'])
            for f in j['findings'] if f['kind'] == 'index_fragmentation'}
fa, fb = figs(a), figs(b)
print(len(fa), fa == fb)
if fa != fb:
    for k in sorted(set(fa) | set(fb)):
        print('#', k, fa.get(k), fb.get(k))
PY
)
echo "$same" | sed -n '2,$p'
tap_is "psqlODBC and libpq give the same figures and verdicts on every index" "$(echo "$same" | head -1)" "7 True"
tap_like "method names the path" \
	"$(pyj "$T/odbc.json" "sorted(set(f['method'] for f in j['findings'] if f['kind']=='index_fragmentation'))")" \
	"pgstatindex via psqlODBC"

# 4. the I/O budget holds; unmeasured indexes carry their last figure and age
sleep 1
"$PROBE_RUN" "$T/agent.conf" postgres.budget --state "$T/state.json" >"$T/r2.json" 2>/dev/null
read -r bytes over carried measured <<<"$(pyj "$T/r2.json" "' '.join(str(j['metrics']['databases']['erp'][k]) for k in ('exact_bytes_read','exact_over_budget','exact_carried','exact_measured'))")"
echo "# 1 MB budget: measured $measured, bytes read $bytes, over budget $over, carried $carried"
tap_check "budget of 1 MB: at most 1 MB of index read ($bytes bytes)" test "$bytes" -le 1048576
# remeasure_after (6h) keeps recent figures, but the index rebuilt above by
# the printed REINDEX CONCURRENTLY is another index now: measured again
tap_is "second cycle within remeasure_after: the rebuilt index re-read, the other 6 carried" "$measured $carried" "1 6"
tap_is "  ... the rebuilt index's figure is fresh, not carried" \
	"$(pyj "$T/r2.json" "[(f['carried'], f['value'] < 30) for f in j['findings'] if f['kind']=='index_fragmentation' and f['object'].endswith('id')][0]")" \
	"(False, True)"
tap_check "carried figures keep their age and value" bash -c "$(declare -f pyj); [ \"\$(pyj $T/r2.json \"[f['carried'] and f['age_s'] >= 1 for f in j['findings'] if f['object']=='erp/public.journal_pkey'][0]\")\" = True ]"
tap_is "carried figure equals the first cycle's" "$(finding value public.journal_pkey "$T/r2.json")" \
	"$(finding value public.journal_pkey)"
# with remeasure_after = 0, the budget decides: some measured, some over budget, the rest carried
cat >>"$T/agent.conf" <<EOF2

[postgres.budget0]
conninfo = host=127.0.0.1 port=$PGPORT user=erpulse_monitor password=$MONPW dbname=erp
databases = erp
min_index_pages = 20
exact_budget_mb = 1
remeasure_after = 0
EOF2
"$PROBE_RUN" "$T/agent.conf" postgres.budget0 --state "$T/state.json" >"$T/r3.json" 2>/dev/null
read -r bytes over carried measured <<<"$(pyj "$T/r3.json" "' '.join(str(j['metrics']['databases']['erp'][k]) for k in ('exact_bytes_read','exact_over_budget','exact_carried','exact_measured'))")"
echo "# remeasure_after=0, 1 MB: measured $measured, bytes $bytes, over budget $over, carried $carried"
tap_check "budget-limited cycle: $measured measured within 1 MB, $over over budget and carried" \
	bash -c "[ $bytes -le 1048576 ] && [ $over -ge 1 ] && [ $carried -eq $over ] && [ $measured -ge 1 ]"

# 5. after maintenance, default settings (issue 10, defect 3): a bloated
#    index is measured, rebuilt with the statement the agent printed, and the
#    next regular cycle reports the true figure of the new index, not the
#    carried one (carried figures are reused only while the index's oid,
#    relfilenode and size are unchanged).
pg_sql -d erp <<'SQL' || bail "build the bloated index"
CREATE TABLE maint (id int, k text);
CREATE INDEX maint_k_idx ON maint (k);
INSERT INTO maint SELECT g, md5(g::text) FROM generate_series(1, 600000) g;
DELETE FROM maint WHERE random() < 0.55;
VACUUM maint;
SQL
cat >>"$T/agent.conf" <<EOF2

[postgres.defaults]
conninfo = host=127.0.0.1 port=$PGPORT user=erpulse_monitor password=$MONPW dbname=erp
databases = erp
EOF2
mfind() { # mfind FILE EXPR-over-f: the finding of erp/public.maint_k_idx
	pyj "$1" "[$2 for f in j['findings'] if f['kind']=='index_fragmentation' and f['object']=='erp/public.maint_k_idx'][0]"
}
"$PROBE_RUN" "$T/agent.conf" postgres.defaults --state "$T/defaults.json" >"$T/m1.json" 2>/dev/null
before=$(mfind "$T/m1.json" "(round(f['value'], 1), f['pages'], f['severity'], f['carried'])")
echo "# before: $before"
tap_like "bloated index measured with defaults: over 30% wasted, not carried" \
	"$(mfind "$T/m1.json" "(f['value'] > 30, f['severity'], f['carried'], f['threshold'], f['critical_threshold'], f['min_size'], f['size'] == f['pages'], f['size_unit'])")" \
	"^\(True, '(warning|critical)', False, 30.0, 60.0, 1000.0, True, 'pages'\)$"
pg_sql -d erp -c "$(mfind "$T/m1.json" "f['remediation']")" || tap_fail "the printed REINDEX failed"
newpages=$(pg_sql -d erp -c "SELECT pg_relation_size('public.maint_k_idx') / 8192")
"$PROBE_RUN" "$T/agent.conf" postgres.defaults --state "$T/defaults.json" >"$T/m2.json" 2>/dev/null
after=$(mfind "$T/m2.json" "(round(f['value'], 1), f['pages'], f['severity'], f['carried'])")
echo "# after REINDEX CONCURRENTLY: $after (pg_relation_size: $newpages pages)"
tap_like "next regular cycle: the true figure of the rebuilt index, measured, not carried" \
	"$(mfind "$T/m2.json" "(f['value'] < 5, f['severity'], f['carried'], f['pages'])")" \
	"^\(True, 'info', False, $newpages\)$"
tap_is "  ... measured first: counted as changed" \
	"$(pyj "$T/m2.json" "j['metrics']['databases']['erp']['exact_changed']")" 1
"$PROBE_RUN" "$T/agent.conf" postgres.defaults --state "$T/defaults.json" >"$T/m3.json" 2>/dev/null
tap_is "  ... the cycle after carries the new figure" \
	"$(mfind "$T/m3.json" "(f['carried'], f['pages'])")" "(True, $newpages)"
"$PROBE_RUN" "$T/agent.conf" postgres.defaults --state "$T/defaults.json" --fresh >"$T/m4.json" 2>/dev/null
tap_is "--fresh (once --fresh): every index measured again, none carried" \
	"$(pyj "$T/m4.json" "(j['metrics']['databases']['erp']['exact_carried'], j['metrics']['databases']['erp']['exact_measured'] == j['metrics']['databases']['erp']['indexes_considered'])")" \
	"(0, True)"

# 6. maintenance figures are there
tap_like "server version and wraparound figures" \
	"$(pyj "$T/r1.json" "(j['metrics']['server_version_num'], sorted(j['metrics']['wraparound']))")" \
	"^\(15[0-9]{4}, \[.*'erp'.*\]\)"
tap_like "xid_wraparound finding per database" \
	"$(pyj "$T/r1.json" "sorted(f['object'] for f in j['findings'] if f['kind']=='xid_wraparound')")" "'erp'"
tap_like "connections finding" \
	"$(pyj "$T/r1.json" "[f['message'] for f in j['findings'] if f['kind']=='connections'][0]")" \
	'of 37 usable connections in use'
tap_done
