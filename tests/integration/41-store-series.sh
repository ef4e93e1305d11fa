#!/bin/bash
# Migration 12 (docs/decisions.md "pgbytes"), on SQLite and on a real
# PostgreSQL: a store at schema 11 with raw samples and hourly rollups keyed
# by (agent_id, series) migrates to 12 with every value intact under one
# `series` row per (agent, name) -- a name on two hosts is two series, a
# series that only has rollups keeps them; PostgreSQL's tables are still
# partitioned, the old samples in their day's partition. Then `sweep --now
# EPOCH --retention` rolls a sample past keep_samples_days into the
# migrated rollup of its hour, by series id.
. "$(dirname "$0")/lib.sh"

now=$(date +%s)
now=$((now - now % 3600))
old=$((now - 5 * 86400))  # rolled up by the sweep (keep_samples_days 2)
hour=$((old - old % 3600))
new=$((now - 3600))
new_day=$(date -u -d "@$new" +%Y%m%d)
name2='index_fragmentation:odoo/public."x" 引号'
FIXTURE="INSERT INTO samples (agent_id, series, ts, value) VALUES
  ('a1', 'disk_usage:/', $((old + 600)), 60), ('a1', 'disk_usage:/', $new, 10.5),
  ('a1', 'disk_usage:/', $((new + 600)), 20.25), ('a1', '${name2//\'/\'\'}', $new, 40),
  ('a2', 'disk_usage:/', $new, 7);
INSERT INTO rollups (agent_id, series, hour, n, vsum, vmin, vmax) VALUES
  ('a1', 'disk_usage:/', $hour, 6, 300, 45, 55), ('a3', 'security_updates:h', $hour, 2, 4, 1, 3);"
# what the history holds, by agent and name, before and after
SAMPLES_V11="SELECT agent_id, series, ts, value FROM samples ORDER BY 1, 2, 3"
ROLLUPS_V11="SELECT agent_id, series, hour, n, vsum, vmin, vmax FROM rollups ORDER BY 1, 2, 3"
SAMPLES_V12="SELECT x.agent_id, x.name, s.ts, s.value FROM samples s JOIN series x ON x.id = s.series_id ORDER BY 1, 2, 3"
ROLLUPS_V12="SELECT x.agent_id, x.name, r.hour, r.n, r.vsum, r.vmin, r.vmax FROM rollups r JOIN series x ON x.id = r.series_id ORDER BY 1, 2, 3"
SERIES="SELECT COUNT(*), COUNT(DISTINCT id), COUNT(DISTINCT agent_id || ':' || name) FROM series"
ROLLED="SELECT r.n, CAST(r.vsum AS INTEGER), CAST(r.vmin AS INTEGER), CAST(r.vmax AS INTEGER) FROM rollups r JOIN series x ON x.id = r.series_id WHERE x.agent_id = 'a1' AND x.name = 'disk_usage:/' AND r.hour = $hour"
cat >"$T/c.conf" <<EOF
[store]
keep_samples_days = 2
EOF

# check STORE-LABEL SQL-RUNNER: the v11 fixture, the migration, the sweep
check() {
	local label=$1 run=$2 samples rollups out
	$run "$FIXTURE" >/dev/null || bail "$label: a version-11 store"
	samples=$($run "$SAMPLES_V11") rollups=$($run "$ROLLUPS_V11")
	[ "$(printf '%s\n' "$samples" | wc -l)" = 5 ] || bail "$label: fixture samples"
	$COLLECTOR --store "$url" migrate --to 12 >"$T/$label.m" 2>&1
	tap_is "$label: migrate to 12" "$?:$($run 'SELECT MAX(version) FROM schema_version')" "0:12"
	tap_is "$label: one series per agent and name (a name on two hosts: two)" "$($run "$SERIES")" "4|4|4"
	tap_is "$label: every sample intact under its series" "$($run "$SAMPLES_V12")" "$samples"
	tap_is "$label: every rollup intact under its series (also one without samples)" \
		"$($run "$ROLLUPS_V12")" "$rollups"
	tap_is "$label: the old columns are gone" \
		"$($run "SELECT COUNT(*) FROM samples WHERE series_id IS NULL")" 0
	out=$($COLLECTOR --config "$T/c.conf" --store "$url" sweep --now "$now" --retention 2>&1)
	tap_like "$label: sweep --retention" "$out" 'retention: '
	tap_is "$label: the old sample rolled into the migrated rollup of its hour" \
		"$($run "$ROLLED")" "7|360|45|60"
	tap_is "$label: the recent samples kept" "$($run "SELECT COUNT(*) FROM samples")" 4
}

# ---- SQLite ----
db=$T/store.db
url="sqlite://$db"
lite() { sqlite3 "$db" "$@"; }
$COLLECTOR --store "$url" migrate --to 11 >"$T/m0" 2>&1 || bail "migrate --to 11: $(cat "$T/m0")"
check SQLite lite
tap_like "SQLite: samples and rollups WITHOUT ROWID" \
	"$(lite "SELECT group_concat(sql, ' / ') FROM sqlite_master WHERE name IN ('samples', 'rollups')")" \
	'WITHOUT ROWID / .*WITHOUT ROWID$'

# ---- PostgreSQL ----
pg_start || bail "PostgreSQL did not start"
pg_sql -c "CREATE DATABASE erpulse_m12" >/dev/null || bail "createdb"
url="postgresql://$PG_SUPERUSER:$PG_SUPERPASS@127.0.0.1:$PGPORT/erpulse_m12"
pq() { pg_sql -d erpulse_m12 -c "$@"; }
$COLLECTOR --store "$url" migrate --to 11 >"$T/p0" 2>&1 || bail "migrate --to 11: $(cat "$T/p0")"
check PostgreSQL pq
tap_is "PostgreSQL: samples partitioned, the recent rows in their day's partition" \
	"$(pq "SELECT c.relkind, (SELECT COUNT(*) FROM samples_p$new_day) > 0, (SELECT COUNT(*) FROM samples_default) FROM pg_class c WHERE relname = 'samples'")" \
	"p|t|0"
tap_is "PostgreSQL: rollups partitioned" "$(pq "SELECT relkind FROM pg_class WHERE relname = 'rollups'")" p
# a new series after the migration takes an id past the migrated ones
tap_is "PostgreSQL: the id sequence continues past the migrated series" \
	"$(pq "INSERT INTO series (agent_id, name) VALUES ('a9', 'n') RETURNING id > (SELECT MAX(id) FROM series WHERE agent_id <> 'a9')")" t
tap_done
