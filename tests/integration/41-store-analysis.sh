#!/bin/bash
# Migration 10 (docs/store.md "narrowrow branch"), on SQLite and on a real
# PostgreSQL: a store at schema 9 whose agents carry the wide JSON (score
# explanation, forecasts, instance state) inline migrates to 10 with each text
# intact in agent_analysis, the columns gone from agents and the findings kept
# (their hash 0: the next report writes it).
. "$(dirname "$0")/lib.sh"

SJ='{"score":62,"band":"at_risk","top_reason":"why \"quoted\" 引号"}'
FJ='[{"kind":"disk_bytes","object":"/var/lib/postgresql","days":41.5}]'
IJ='{"postgres":{"name":"postgres","target":"odoo","seq":7,"last_ok_at":100}}'
FS='[{"kind":"index_fragmentation","value":47.5}]'
q() { printf '%s' "$1" | sed "s/'/''/g"; }
FIXTURE="INSERT INTO customers (id, name, created_at) VALUES ('c1', 'Acme', 1);
INSERT INTO agents (id, customer_id, hostname, public_key, enrolled_at, last_seq, score, band,
  top_reason, score_json, forecasts_json, instances) VALUES
  ('a1', 'c1', 'erp01', 'pk1', 1, 7, 62, 'at_risk', 'why', '$(q "$SJ")', '$(q "$FJ")', '$(q "$IJ")'),
  ('a2', 'c1', 'erp02', 'pk2', 1, 0, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO current_findings (agent_id, seq, findings) VALUES ('a1', 7, '$(q "$FS")');"
CHECK_TEXTS="SELECT COUNT(*) FROM agent_analysis WHERE agent_id = 'a1' AND score_json = '$(q "$SJ")'
  AND forecasts_json = '$(q "$FJ")' AND instances = '$(q "$IJ")' AND score_hash = 0"
CHECK_ROWS="SELECT (SELECT COUNT(*) FROM agent_analysis), (SELECT COUNT(*) FROM agents),
  (SELECT score || ' ' || band FROM agents WHERE id = 'a1'),
  (SELECT seq || ' ' || hash FROM current_findings WHERE findings = '$(q "$FS")')"

# ---- SQLite ----
db=$T/store.db
lite() { sqlite3 "$db" "$@"; }
$COLLECTOR --store "sqlite://$db" migrate --to 9 >"$T/m0" 2>&1 || bail "migrate --to 9: $(cat "$T/m0")"
lite "$FIXTURE" || bail "a version-9 SQLite store"
$COLLECTOR --store "sqlite://$db" migrate --to 10 >"$T/m1" 2>&1
tap_is "SQLite: migrate to 10" "$?:$(lite 'SELECT MAX(version) FROM schema_version')" "0:10"
tap_is "SQLite: the wide JSON intact in agent_analysis" "$(lite "$CHECK_TEXTS")" 1
tap_is "SQLite: one row per agent that had JSON; score, band and findings kept" \
	"$(lite "$CHECK_ROWS")" "1|2|62 at_risk|7 0"
tap_is "SQLite: the columns gone from agents" \
	"$(lite "SELECT COUNT(*) FROM pragma_table_info('agents') WHERE name IN ('score_json', 'forecasts_json', 'instances')")" 0

# ---- PostgreSQL ----
pg_start || bail "PostgreSQL did not start"
pg_sql -c "CREATE DATABASE erpulse_m10" >/dev/null || bail "createdb"
url="postgresql://$PG_SUPERUSER:$PG_SUPERPASS@127.0.0.1:$PGPORT/erpulse_m10"
pq() { pg_sql -d erpulse_m10 -c "$@"; }
$COLLECTOR --store "$url" migrate --to 9 >"$T/p0" 2>&1 || bail "migrate --to 9: $(cat "$T/p0")"
pq "$FIXTURE" >/dev/null || bail "a version-9 PostgreSQL store"
$COLLECTOR --store "$url" migrate --to 10 >"$T/p1" 2>&1
tap_is "PostgreSQL: migrate to 10" "$?:$(pq 'SELECT MAX(version) FROM schema_version')" "0:10"
tap_is "PostgreSQL: the wide JSON intact in agent_analysis" "$(pq "$CHECK_TEXTS")" 1
tap_is "PostgreSQL: one row per agent that had JSON; score, band and findings kept" \
	"$(pq "$CHECK_ROWS")" "1|2|62 at_risk|7 0"
tap_is "PostgreSQL: the columns gone from agents" \
	"$(pq "SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 'agents' AND column_name IN ('score_json', 'forecasts_json', 'instances')")" 0
tap_done
