#!/bin/bash
# Migration 6 and the retention of history (docs/decisions.md "pgpart"), on
# SQLite and on a real PostgreSQL: a store at schema 5 with samples, rollups
# and score history (`migrate --to 5`, then rows) migrates to 6
# with every row kept; `sweep --now EPOCH --retention` then removes the
# samples past the 30-day window (rolled up by hour first) and keeps the
# newer ones -- on PostgreSQL by dropping the old day's partition whole; and
# rolls up the samples past keep_samples_days (2 by default: a sample 3
# days old) the same way, into rollups kept rollup_retention_days. (The
# sweep migrates the store to the latest schema first: since migration 12
# the history is keyed by series id, `rolled AGENT` reads it by agent.)
. "$(dirname "$0")/lib.sh"

now=$(date +%s)
# 40 days old, ten minutes into its hour: the two samples a minute apart
# fall into one hour whatever the time of the run (at xx:59 they did not)
old=$((now - 40 * 86400))
old=$((old - old % 3600 + 600))
new=$((now - 86400))
mid=$((now - 3 * 86400))
mid_day=$(date -u -d "@$mid" +%Y%m%d)
mid_hour=$((mid - mid % 3600))
old_day=$(date -u -d "@$old" +%Y%m%d)
new_day=$(date -u -d "@$new" +%Y%m%d)
old_hour=$((old - old % 3600))
rows="('a1', 'disk_usage:/', $old, 10), ('a1', 'disk_usage:/', $((old + 60)), 20),
      ('a1', 'disk_usage:/', $new, 30), ('a2', 'index_fragmentation:db/i', $new, 40),
      ('a4', 'disk_usage:/data', $mid, 5)"

# ---- SQLite ----
db=$T/store.db
lite() { sqlite3 "$db" "$@"; }
# the rollups of agent $1 (schema 12: through its series)
rolled() { echo "SELECT r.hour, r.n, r.vsum, r.vmin, r.vmax FROM rollups r JOIN series x ON x.id = r.series_id WHERE x.agent_id = '$1'"; }
$COLLECTOR --store "sqlite://$db" migrate --to 5 >"$T/m0" 2>&1 || bail "migrate --to 5: $(cat "$T/m0")"
lite "INSERT INTO samples VALUES $rows;
      INSERT INTO score_history (agent_id, ts, score) VALUES ('a1', $new, 80);" ||
	bail "a version-5 SQLite store"
tap_is "SQLite: the fixture is at schema 5" "$(lite 'SELECT MAX(version) FROM schema_version')" 5
$COLLECTOR --store "sqlite://$db" migrate --to 6 >"$T/m1" 2>&1
tap_is "SQLite: migrate to 6" "$?:$(lite 'SELECT MAX(version) FROM schema_version')" "0:6"
tap_is "SQLite: every sample kept" "$(lite 'SELECT COUNT(*), SUM(value) FROM samples')" "5|105.0"
tap_like "SQLite: samples are WITHOUT ROWID, no ts index" \
	"$(lite "SELECT sql FROM sqlite_master WHERE tbl_name = 'samples'")" 'WITHOUT ROWID$'
out=$($COLLECTOR --store "sqlite://$db" sweep --now "$now" --retention 2>&1)
tap_like "SQLite: sweep --retention" "$out" 'retention: 0 partitions dropped, 2 sample series cut'
tap_is "SQLite: old samples gone, new ones kept" \
	"$(lite 'SELECT GROUP_CONCAT(value) FROM (SELECT value FROM samples ORDER BY value)')" "30.0,40.0"
tap_is "SQLite: the old ones rolled up by hour" \
	"$(lite "$(rolled a1)")" \
	"$old_hour|2|30.0|10.0|20.0"
tap_is "SQLite: a sample past keep_samples_days (3 days old) rolled up by hour" \
	"$(lite "SELECT hour, n, vsum FROM ($(rolled a4))")" "$mid_hour|1|5.0"
tap_is "SQLite: score history kept" "$(lite 'SELECT COUNT(*) FROM score_history')" 1
# migrations 11 and 12 (the sweep ran them): rollups WITHOUT ROWID
tap_like "SQLite: rollups are WITHOUT ROWID" \
	"$(lite "SELECT sql FROM sqlite_master WHERE name = 'rollups'")" 'WITHOUT ROWID$'

# ---- PostgreSQL ----
pg_start || bail "PostgreSQL did not start"
pg_sql -c "CREATE DATABASE erpulse_ret" >/dev/null || bail "createdb"
url="postgresql://$PG_SUPERUSER:$PG_SUPERPASS@127.0.0.1:$PGPORT/erpulse_ret"
pq() { pg_sql -d erpulse_ret -c "$@"; }
$COLLECTOR --store "$url" migrate --to 5 >"$T/p0" 2>&1 || bail "migrate --to 5: $(cat "$T/p0")"
pq "INSERT INTO samples VALUES $rows;
    INSERT INTO rollups VALUES ('a1', 'disk_usage:/', 1000 * 3600, 1, 5, 5, 5),
      ('a9', 'disk_usage:/', $((new - new % 3600)), 1, 7, 7, 7);
    INSERT INTO score_history (agent_id, ts, score) VALUES ('a1', $new, 80);" >/dev/null ||
	bail "a version-5 PostgreSQL store"
$COLLECTOR --store "$url" migrate --to 6 >"$T/p1" 2>&1
tap_is "PostgreSQL: migrate to 6" "$?:$(pq 'SELECT MAX(version) FROM schema_version')" "0:6"
tap_is "PostgreSQL: every row kept" \
	"$(pq 'SELECT (SELECT COUNT(*) FROM samples), (SELECT SUM(value) FROM samples), (SELECT COUNT(*) FROM rollups), (SELECT COUNT(*) FROM score_history)')" \
	"5|105|2|1"
tap_is "PostgreSQL: samples partitioned, the old rows in their day's partition" \
	"$(pq "SELECT c.relkind, (SELECT COUNT(*) FROM samples_p$old_day), (SELECT COUNT(*) FROM samples_default) FROM pg_class c WHERE relname = 'samples'")" \
	"p|2|0"
tap_is "PostgreSQL: a rollup of 1970 waits in the DEFAULT partition" \
	"$(pq 'SELECT COUNT(*) FROM rollups_default')" 1
tap_is "PostgreSQL: partitions made ahead (the next 3 days)" \
	"$(pq "SELECT COUNT(*) FROM pg_class WHERE relname IN ('samples_p$(date -u -d "@$((now + 86400))" +%Y%m%d)', 'samples_p$(date -u -d "@$((now + 3 * 86400))" +%Y%m%d)')")" 2
out=$($COLLECTOR --store "$url" sweep --now "$now" --retention 2>&1)
tap_like "PostgreSQL: sweep --retention drops partitions" "$out" 'retention: [1-9][0-9]* partitions dropped'
tap_is "PostgreSQL: the old day's partition is gone, the new day's kept" \
	"$(pq "SELECT to_regclass('samples_p$old_day') IS NULL, to_regclass('samples_p$new_day') IS NOT NULL")" "t|t"
tap_is "PostgreSQL: new samples intact" \
	"$(pq 'SELECT string_agg(value::text, $$,$$ ORDER BY value) FROM samples')" "30,40"
tap_is "PostgreSQL: the old ones rolled up by hour; the 1970 rollup gone" \
	"$(pq "$(rolled a1)")" "$old_hour|2|30|10|20"
tap_is "PostgreSQL: the partition of 3 days ago (past keep_samples_days) rolled up and dropped" \
	"$(pq "SELECT to_regclass('samples_p$mid_day') IS NULL, (SELECT hour || ':' || n || ':' || vsum FROM ($(rolled a4)) r)")" \
	"t|$mid_hour:1:5"
tap_is "PostgreSQL: score history kept" "$(pq 'SELECT COUNT(*) FROM score_history')" 1
# ingest after the migration: a sample lands in today's partition
tap_is "PostgreSQL: a new sample goes to today's partition" \
	"$(pq "INSERT INTO samples VALUES (424242, $now, 1); SELECT COUNT(*) FROM samples_p$(date -u -d "@$now" +%Y%m%d)")" 1
tap_done
