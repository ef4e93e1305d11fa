#!/bin/bash
# History bytes per host-day (samples + rollups; docs/store.md "samples
# branch"), before and after keep_samples_days, on SQLite and PostgreSQL:
# HOSTS hosts x DAYS days of the 8 series of the bench's report (one sample
# per 10 minutes each, what collector-ingest.sh's agents carry), all raw
# ("before": what a store keeping raw samples for retention_days holds),
# then `erpulse-collector sweep --now NOW --retention` (the collector's own
# rollup, keep_samples_days = KEEP days) and the same bytes again ("after").
# Bytes: SQLite dbstat of the tables and their indexes after VACUUM;
# PostgreSQL pg_total_relation_size over every partition. Since migration 12
# the rows are keyed by series id: the `series` table (one row per host and
# series) is counted in the per host-day figure, its bytes per row printed.
#   HOSTS=200 DAYS=30 KEEP=2 STORES="sqlite pg" tests/bench/samples-size.sh
# Figures, not a test.
. "$(dirname "$0")/../integration/lib.sh"

HOSTS=${HOSTS:-200} DAYS=${DAYS:-30} KEEP=${KEEP:-2}
STORES=${STORES:-sqlite pg}
now=$(date +%s)
now=$((now - now % 600))
cat >"$T/c.conf" <<EOF
[store]
keep_samples_days = $KEEP
EOF

# per_day LABEL BYTES-SAMPLES BYTES-ROLLUPS ROWS-SAMPLES ROWS-ROLLUPS BYTES-SERIES ROWS-SERIES
per_day() {
	awk -v l="$1" -v s="$2" -v r="$3" -v ns="$4" -v nr="$5" -v x="$6" -v nx="$7" -v h="$HOSTS" \
		-v d="$DAYS" 'BEGIN {
		printf "%-22s samples %8d rows %6.1f B/row  rollups %7d rows %6.1f B/row  series %5d" \
			" rows %6.1f B/row  = %6.1f KiB per host-day (over %d days)\n", l, ns, \
			ns ? s / ns : 0, nr, nr ? r / nr : 0, nx, nx ? x / nx : 0, \
			(s + r + x) / h / d / 1024, d }'
}

if [[ " $STORES " == *" sqlite "* ]]; then
	db=$T/s.db
	$COLLECTOR --store "sqlite://$db" migrate >/dev/null || exit 1
	sqlite3 "$db" <<-SQL
		PRAGMA synchronous=OFF;
		BEGIN;
		CREATE TEMP TABLE a AS WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1
		  FROM c WHERE i < $HOSTS - 1) SELECT lower(hex(randomblob(16))) AS id FROM c;
		CREATE TEMP TABLE s AS WITH RECURSIVE c(j) AS (SELECT 0 UNION ALL SELECT j + 1
		  FROM c WHERE j < 7) SELECT CASE WHEN j = 7 THEN 'disk_usage:/var/lib/postgresql'
		  ELSE 'index_fragmentation:odoo/public.bench_table_' || j || '_partner_id_index' END
		  AS series FROM c;
		INSERT INTO series (agent_id, name) SELECT a.id, s.series FROM a, s ORDER BY 1, 2;
		INSERT INTO samples (series_id, ts, value)
		  WITH RECURSIVE c(t) AS (SELECT $now - $DAYS * 86400 UNION ALL SELECT t + 600 FROM c
		  WHERE t + 600 < $now) SELECT x.id, c.t, 10 + (c.t % 86400) / 8640.0
		  FROM series x, c;
		COMMIT;
	SQL
	lite_bytes() {
		sqlite3 "$db" "VACUUM" &&
			sqlite3 -separator ' ' "$db" "SELECT
			(SELECT SUM(pgsize) FROM dbstat WHERE name = 'samples' OR name IN
			  (SELECT name FROM sqlite_master WHERE tbl_name = 'samples' AND type = 'index')),
			(SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name = 'rollups' OR name IN
			  (SELECT name FROM sqlite_master WHERE tbl_name = 'rollups' AND type = 'index')),
			(SELECT COUNT(*) FROM samples), (SELECT COUNT(*) FROM rollups),
			(SELECT SUM(pgsize) FROM dbstat WHERE name = 'series' OR name IN
			  (SELECT name FROM sqlite_master WHERE tbl_name = 'series' AND type = 'index')),
			(SELECT COUNT(*) FROM series)"
	}
	# shellcheck disable=SC2046
	per_day "sqlite before (raw)" $(lite_bytes)
	$COLLECTOR --config "$T/c.conf" --store "sqlite://$db" sweep --now "$now" --retention |
		tail -1
	# shellcheck disable=SC2046
	per_day "sqlite after (${KEEP}d raw)" $(lite_bytes)
fi

if [[ " $STORES " == *" pg "* ]]; then
	pg_start >/dev/null 2>&1 || { echo "postgresql: did not start"; exit 1; }
	pg_sql -c "CREATE DATABASE erpulse_size" >/dev/null
	url="postgresql://$PG_SUPERUSER:$PG_SUPERPASS@127.0.0.1:$PGPORT/erpulse_size"
	$COLLECTOR --store "$url" migrate >/dev/null || exit 1
	pg_sql -d erpulse_size >/dev/null <<-SQL
		SELECT erpulse_partitions_ensure('samples', 'ts', 86400, $now - $DAYS * 86400, $now + 86400);
		SELECT erpulse_partitions_ensure('rollups', 'hour', 604800, $now - $DAYS * 86400, $now + 86400);
		CREATE TEMP TABLE s AS SELECT CASE WHEN j = 7 THEN 'disk_usage:/var/lib/postgresql'
		  ELSE 'index_fragmentation:odoo/public.bench_table_' || j || '_partner_id_index' END
		  AS series FROM generate_series(0, 7) j;
		INSERT INTO series (agent_id, name) SELECT md5(i::text), s.series
		  FROM generate_series(1, $HOSTS) i, s ORDER BY 1, 2;
		INSERT INTO samples (series_id, ts, value)
		  SELECT x.id, t, 10 + (t % 86400) / 8640.0
		  FROM series x, generate_series($now - $DAYS * 86400, $now - 600, 600) t;
		VACUUM ANALYZE;
	SQL
	pg_bytes() {
		pg_sql -d erpulse_size -c "VACUUM" >/dev/null
		pg_sql -d erpulse_size -A -t -F ' ' -c "SELECT
			(SELECT SUM(pg_total_relation_size(relid)) FROM pg_partition_tree('samples')),
			(SELECT SUM(pg_total_relation_size(relid)) FROM pg_partition_tree('rollups')),
			(SELECT COUNT(*) FROM samples), (SELECT COUNT(*) FROM rollups),
			pg_total_relation_size('series'), (SELECT COUNT(*) FROM series)"
	}
	# shellcheck disable=SC2046
	per_day "postgresql before (raw)" $(pg_bytes)
	$COLLECTOR --config "$T/c.conf" --store "$url" sweep --now "$now" --retention | tail -1
	# shellcheck disable=SC2046
	per_day "postgresql after (${KEEP}d raw)" $(pg_bytes)
fi
