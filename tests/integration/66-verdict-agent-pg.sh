#!/bin/bash
# Issue 10, defects 2, 3 and 5 end to end: the real agent measures a real
# PostgreSQL index (sequential keys purged by ranges: mostly empty leaf
# pages) with min_index_pages = 100 and reports to the real collector.
# - the 4xx-page index the agent judged is scored and alerted with the
#   agent's severity and rule (no collector floor of 1000 pages);
# - `once --probe testblock` (a partial report; `configured` names both
#   instances) keeps the alert and the score, the index finding stale;
# - after the REINDEX the agent printed, the next cycle measures the index
#   again (its identity changed) and the alert clears, saying what it is now
#   and what it was.
# Before: the partial report cleared the alert; the collector ignored
# indexes under 1000 pages.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/40-collector-ingest.sh"
. "$(dirname "$0")/verdict-lib.sh"

pg_start || bail "pg_start"
MONPW="mon-$RANDOM$RANDOM"
pg_sql -c "CREATE DATABASE erp" || bail "create database"
pg_sql -c "CREATE ROLE erpulse_monitor LOGIN PASSWORD '$MONPW'; GRANT pg_monitor TO erpulse_monitor" ||
	bail "create role"
pg_sql -d erp <<'SQL' || bail "build the table"
CREATE EXTENSION pgstattuple;
CREATE TABLE journal (id bigserial PRIMARY KEY, amount numeric);
INSERT INTO journal (amount) SELECT g FROM generate_series(1, 150000) g;
DELETE FROM journal WHERE id % 100 < 65;
VACUUM journal;
ANALYZE;
SQL

pki_make "$T/pki" || bail "cannot make the test PKI"
export COLL_TLS=1 COLL_CA=$T/pki/ca.pem
v_hook_start || bail "webhook receiver"
v_start a1 || bail "collector did not start"
v_vendor
v_agent "[postgres.erp]" "conninfo = host=127.0.0.1 port=$PGPORT user=erpulse_monitor password=$MONPW dbname=erp" \
	"databases = erp" "min_index_pages = 100" || bail "enroll: $(cat "$T/enroll.out")"
OBJ=erp/public.journal_pkey
alert() { v_sql "SELECT severity, CAST(ROUND(value) AS INTEGER) FROM alerts WHERE object = '$OBJ' AND closed_at IS NULL"; }
finding() { v_api "/api/v1/hosts/$A" "[(f[\"severity\"], int(f.get(\"size\", 0)), int(f.get(\"min_size\", 0)), f.get(\"stale\", False)) for f in j[\"findings\"] if f[\"object\"] == \"$OBJ\"]"; }

once || bail "once: $(tail -3 "$T/agent.log")"
sev=$(v_sql "SELECT severity FROM alerts WHERE object = '$OBJ' AND closed_at IS NULL")
tap_like "the agent's judgement of the ~400-page index opens an alert at its severity" "$sev" '^(warning|critical)$'
tap_like "  ... the finding carries the agent's rule (min_size 100)" "$(finding)" "^\[\('$sev', [0-9]+, 100, False\)\]$"
score1=$(v_api "/api/v1/hosts/$A" 'j["score"]')
tap_check "  ... and costs points ($score1)" test "${score1:-100}" -lt 100
wait_for 10 hooks_ge 1
n1=$(v_sql "SELECT COUNT(*) FROM outbox")

once --probe testblock || bail "once --probe testblock"
tap_is "once --probe testblock: no notice, the alert stays" "$(v_sql "SELECT COUNT(*) FROM outbox") $(alert | cut -d'|' -f1)" "$n1 $sev"
tap_is "  ... same score" "$(v_api "/api/v1/hosts/$A" 'j["score"]')" "$score1"
tap_like "  ... the index finding is carried, stale" "$(finding)" "^\[\('$sev', [0-9]+, 100, True\)\]$"

rem=$(v_api "/api/v1/hosts/$A" "[f[\"remediation\"] for f in j[\"findings\"] if f[\"object\"] == \"$OBJ\"][0]")
tap_like "the remediation is the agent's REINDEX" "$rem" 'REINDEX INDEX CONCURRENTLY'
pg_sql -d erp -c "$rem" || bail "reindex"
once || bail "once after REINDEX"
tap_is "after the REINDEX the next cycle clears the alert" "$(alert)" ""
tap_like "  ... saying what it is now and what it was" \
	"$(v_sql "SELECT message FROM alerts WHERE object = '$OBJ'")" \
	"^Resolved: index_fragmentation on $OBJ: now [0-9]+\.[0-9]% \(was [0-9]+\.[0-9]%\) after rebuild"
tap_is "  ... fresh again, info" "$(finding | sed 's/, [0-9]*, 100,/, N, 100,/')" "[('info', N, 100, False)]"
tap_done
