/* The store's schema and its migrations (store.h, docs/store.md): numbered
 * versions, {SQLite, PostgreSQL} text per version. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store/schema_incidents.h"
#include "collector/store/sql.h"
#include "collector/store/store.h"
#include "erpulse/crypto.h"
#include "erpulse/report.h"
#include "erpulse/util.h"

#define PG_MIGRATE_LOCK "7238450113" /* pg_advisory_lock key: "erpulse migrate" */

/* ---- schema ------------------------------------------------------------ */

/* {lite, pg} per version; index = version - 1. The two differ only in
 * auto-increment ids. */
#define SCHEMA_V1(AUTO_ID)                                                                         \
	"CREATE TABLE customers (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,"                  \
	" created_at BIGINT NOT NULL);"                                                            \
	"CREATE TABLE enroll_tokens (hash TEXT PRIMARY KEY,"                                       \
	" customer_id TEXT NOT NULL REFERENCES customers(id), uses_left BIGINT NOT NULL,"          \
	" expires_at BIGINT NOT NULL, created_at BIGINT NOT NULL);"                                \
	"CREATE TABLE agents (id TEXT PRIMARY KEY,"                                                \
	" customer_id TEXT NOT NULL REFERENCES customers(id), hostname TEXT NOT NULL,"             \
	" public_key TEXT NOT NULL, agent_version TEXT, enrolled_at BIGINT NOT NULL,"              \
	" revoked_at BIGINT, last_seq BIGINT NOT NULL DEFAULT 0, last_report_at BIGINT,"           \
	" interval_s BIGINT NOT NULL DEFAULT 300, seq_rewinds BIGINT NOT NULL DEFAULT 0,"          \
	" last_rewind_at BIGINT, production INTEGER NOT NULL DEFAULT 1, score INTEGER,"            \
	" band TEXT, top_reason TEXT, score_json TEXT, forecasts_json TEXT);"                      \
	"CREATE INDEX agents_customer ON agents(customer_id);"                                     \
	"CREATE TABLE reports (agent_id TEXT NOT NULL REFERENCES agents(id),"                      \
	" seq BIGINT NOT NULL, received_at BIGINT NOT NULL, generated_at BIGINT NOT NULL,"         \
	" body TEXT NOT NULL, PRIMARY KEY (agent_id, seq));"                                       \
	"CREATE INDEX reports_received ON reports(received_at);"                                   \
	"CREATE TABLE samples (agent_id TEXT NOT NULL, series TEXT NOT NULL, ts BIGINT NOT NULL,"  \
	" value DOUBLE PRECISION NOT NULL, PRIMARY KEY (agent_id, series, ts));"                   \
	"CREATE INDEX samples_ts ON samples(ts);"                                                  \
	"CREATE TABLE rollups (agent_id TEXT NOT NULL, series TEXT NOT NULL, hour BIGINT NOT "     \
	"NULL,"                                                                                    \
	" n BIGINT NOT NULL, vsum DOUBLE PRECISION NOT NULL, vmin DOUBLE PRECISION NOT NULL,"      \
	" vmax DOUBLE PRECISION NOT NULL, PRIMARY KEY (agent_id, series, hour));"                  \
	"CREATE TABLE current_findings (agent_id TEXT PRIMARY KEY REFERENCES agents(id),"          \
	" seq BIGINT NOT NULL, findings TEXT NOT NULL);"                                           \
	"CREATE TABLE alerts (id " AUTO_ID ", agent_id TEXT NOT NULL REFERENCES agents(id),"       \
	" customer_id TEXT NOT NULL, rule TEXT NOT NULL, object TEXT NOT NULL,"                    \
	" severity TEXT NOT NULL, value DOUBLE PRECISION, message TEXT, remediation TEXT,"         \
	" opened_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, closed_at BIGINT);"               \
	"CREATE UNIQUE INDEX alerts_open ON alerts(agent_id, rule, object)"                        \
	" WHERE closed_at IS NULL;"                                                                \
	"CREATE INDEX alerts_customer ON alerts(customer_id, opened_at);"                          \
	"CREATE TABLE outbox (id " AUTO_ID ", channel TEXT NOT NULL, payload TEXT NOT NULL,"       \
	" created_at BIGINT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"                        \
	" next_at BIGINT NOT NULL, lease_until BIGINT, claimed_by TEXT, sent_at BIGINT,"           \
	" dead_at BIGINT, last_error TEXT);"                                                       \
	"CREATE INDEX outbox_due ON outbox(next_at) WHERE sent_at IS NULL AND dead_at IS NULL;"    \
	"CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL,"  \
	" customer_id TEXT REFERENCES customers(id), token_hash TEXT NOT NULL UNIQUE,"             \
	" created_at BIGINT NOT NULL);"                                                            \
	"CREATE TABLE events (id " AUTO_ID ", agent_id TEXT NOT NULL, ts BIGINT NOT NULL,"         \
	" kind TEXT NOT NULL, detail TEXT);"

/* 2 = verdicts (issue 10, docs/scoring.md): per-instance state for stale
 * findings, per-customer threshold overrides, the host's stale_since. */
#define SCHEMA_V2                                                                                  \
	"ALTER TABLE agents ADD COLUMN instances TEXT;"                                            \
	"ALTER TABLE agents ADD COLUMN stale_since BIGINT;"                                        \
	"CREATE TABLE customer_thresholds (customer_id TEXT NOT NULL REFERENCES customers(id),"    \
	" kind TEXT NOT NULL, warning DOUBLE PRECISION, critical DOUBLE PRECISION,"                \
	" min_size DOUBLE PRECISION, updated_at BIGINT NOT NULL, PRIMARY KEY (customer_id, "       \
	"kind));"

/* 4: history for charts (store/history.c, issue 12). */
#define SCHEMA_V4                                                                                  \
	"CREATE TABLE score_history (agent_id TEXT NOT NULL, ts BIGINT NOT NULL,"                  \
	" score INTEGER NOT NULL, cat_database INTEGER, cat_storage INTEGER, cat_errors INTEGER,"  \
	" cat_patches INTEGER, cat_liveness INTEGER, PRIMARY KEY (agent_id, ts));"                 \
	"CREATE INDEX score_history_ts ON score_history(ts);"                                      \
	"CREATE TABLE fleet_history (customer_id TEXT NOT NULL, ts BIGINT NOT NULL, score "        \
	"INTEGER,"                                                                                 \
	" healthy BIGINT NOT NULL, at_risk BIGINT NOT NULL, critical BIGINT NOT NULL,"             \
	" unknown BIGINT NOT NULL, no_score BIGINT NOT NULL, PRIMARY KEY (customer_id, ts));"      \
	"CREATE INDEX fleet_history_ts ON fleet_history(ts);"

/* 5: lifecycle (issue 15): archived customers and hosts, host labels. */
#define SCHEMA_V5                                                                                  \
	"ALTER TABLE customers ADD COLUMN archived_at BIGINT;"                                     \
	"ALTER TABLE agents ADD COLUMN archived_at BIGINT;"                                        \
	"ALTER TABLE agents ADD COLUMN label TEXT;"

/* 6: flat ingest cost and bounded history (issue 16, docs/decisions.md
 * "pgpart"). SQLite: samples WITHOUT ROWID, so that the key is stored once
 * (the rowid table kept it in the row and again in the primary key's index)
 * and without the ts index (retention walks the key, store/partitions.c);
 * rollups get an index on hour so that their retention goes in chunks. */
#define SCHEMA_V6_LITE                                                                             \
	"CREATE TABLE samples_v6 (agent_id TEXT NOT NULL, series TEXT NOT NULL, ts BIGINT NOT "    \
	"NULL,"                                                                                    \
	" value DOUBLE PRECISION NOT NULL, PRIMARY KEY (agent_id, series, ts)) WITHOUT ROWID;"     \
	"INSERT INTO samples_v6 (agent_id, series, ts, value) SELECT agent_id, series, ts, value"  \
	" FROM samples;"                                                                           \
	"DROP TABLE samples;"                                                                      \
	"ALTER TABLE samples_v6 RENAME TO samples;"                                                \
	"CREATE INDEX rollups_hour ON rollups(hour);"

/* PostgreSQL: samples (one partition per UTC day), rollups and
 * score_history (one per 7 days) partitioned by time, retention by
 * dropping whole partitions; each has a DEFAULT partition for rows outside
 * the partitions made (a clock far off), which retention empties. The old
 * tables' rows move into partitions made for their range here (at most the
 * last 40 days of samples, 400 of the others; older rows go to DEFAULT). Partitions are made by
 * erpulse_partitions_ensure (ahead of time, by the collector's maintenance,
 * store/partitions.c). No index on ts: queries give agent_id and a time
 * range, which prunes partitions. */
/* T made partitioned by COL, with partitions for the rows of table OLD
 * (which it takes, then drops) */
#define PG_PARTITIONED_FROM(T, OLD, COLS, KEY, COL, PERIOD, WINDOW_DAYS)                           \
	"CREATE TABLE " T " (" COLS ", PRIMARY KEY (" KEY ")) PARTITION BY RANGE (" COL ");"       \
	"CREATE TABLE " T "_default PARTITION OF " T " DEFAULT;"                                   \
	"SELECT erpulse_partitions_ensure('" T "', '" COL "', " PERIOD ", GREATEST(MIN(" COL "),"  \
	" MAX(" COL ") - " WINDOW_DAYS " * 86400), MAX(" COL ")) FROM " OLD                        \
	" HAVING COUNT(*) > 0;"                                                                    \
	"INSERT INTO " T " SELECT * FROM " OLD ";"                                                 \
	"DROP TABLE " OLD ";"
#define PG_PARTITIONED(T, COLS, KEY, COL, PERIOD, WINDOW_DAYS)                                     \
	"ALTER TABLE " T " RENAME TO " T "_v5;"                                                    \
	"ALTER INDEX " T "_pkey RENAME TO " T                                                      \
	"_v5_pkey;" PG_PARTITIONED_FROM(T, T "_v5", COLS, KEY, COL, PERIOD, WINDOW_DAYS)

#define SCHEMA_V6_PG                                                                               \
	"CREATE OR REPLACE FUNCTION erpulse_partitions_ensure(tbl TEXT, col TEXT, period BIGINT,"  \
	" lo BIGINT, hi BIGINT) RETURNS INTEGER LANGUAGE plpgsql AS $f$"                           \
	" DECLARE d BIGINT; part TEXT; made INTEGER := 0;"                                         \
	" BEGIN"                                                                                   \
	"  PERFORM pg_advisory_xact_lock(723845011, hashtext(tbl));"                               \
	"  d := lo - ((lo % period) + period) % period;"                                           \
	"  WHILE d <= hi LOOP"                                                                     \
	"   part := tbl || '_p' || to_char(to_timestamp(d) AT TIME ZONE 'UTC', 'YYYYMMDD');"       \
	"   IF to_regclass(part) IS NULL THEN"                                                     \
	"    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS)', part, tbl);"           \
	"    EXECUTE format('WITH m AS (DELETE FROM %I WHERE %I >= %s AND %I < %s RETURNING *)"    \
	" INSERT INTO %I SELECT * FROM m', tbl || '_default', col, d, col, d + period, part);"     \
	"    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)',"    \
	" tbl, part, d, d + period);"                                                              \
	"    made := made + 1;"                                                                    \
	"   END IF;"                                                                               \
	"   d := d + period;"                                                                      \
	"  END LOOP;"                                                                              \
	"  RETURN made;"                                                                           \
	" END $f$;"                                                                                \
	"DROP INDEX samples_ts;"                                                                   \
	"DROP INDEX score_history_ts;" PG_PARTITIONED(                                             \
		"samples",                                                                         \
		"agent_id TEXT NOT NULL, series TEXT NOT NULL, ts BIGINT NOT NULL,"                \
		" value DOUBLE PRECISION NOT NULL",                                                \
		"agent_id, series, ts", "ts", "86400", "40")                                       \
		PG_PARTITIONED("rollups",                                                          \
			       "agent_id TEXT NOT NULL, series TEXT NOT NULL, hour BIGINT NOT "    \
			       "NULL,"                                                             \
			       " n BIGINT NOT NULL, vsum DOUBLE PRECISION NOT NULL,"               \
			       " vmin DOUBLE PRECISION NOT NULL, vmax DOUBLE PRECISION NOT NULL",  \
			       "agent_id, series, hour", "hour", "604800", "400")                  \
			PG_PARTITIONED("score_history",                                            \
				       "agent_id TEXT NOT NULL, ts BIGINT NOT NULL,"               \
				       " score INTEGER NOT NULL, cat_database INTEGER,"            \
				       " cat_storage INTEGER, cat_errors INTEGER,"                 \
				       " cat_patches INTEGER, cat_liveness INTEGER",               \
				       "agent_id, ts", "ts", "604800", "400")

/* 7: the monthly report's delivery (docs/report.md, "Delivery"): per
 * customer settings, the stored reports (base64 of the rendered bytes) and
 * one run row per (customer, month), whose primary key makes the send a
 * claim: exactly one collector mails a customer's month. */
#define SCHEMA_V7                                                                                  \
	"CREATE TABLE report_settings (customer_id TEXT PRIMARY KEY REFERENCES customers(id),"     \
	" time_zone TEXT, language TEXT, contacts TEXT, account_manager TEXT,"                     \
	" updated_at BIGINT NOT NULL);"                                                            \
	"CREATE TABLE monthly_reports (customer_id TEXT NOT NULL REFERENCES customers(id),"        \
	" month TEXT NOT NULL, lang TEXT NOT NULL, format TEXT NOT NULL, body TEXT NOT NULL,"      \
	" bytes BIGINT NOT NULL, sha256 TEXT NOT NULL, created_at BIGINT NOT NULL,"                \
	" PRIMARY KEY (customer_id, month, lang, format));"                                        \
	"CREATE TABLE report_runs (customer_id TEXT NOT NULL REFERENCES customers(id),"            \
	" month TEXT NOT NULL, claimed_by TEXT NOT NULL, claimed_at BIGINT NOT NULL,"              \
	" lease_until BIGINT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"                       \
	" next_at BIGINT NOT NULL, sent_at BIGINT, dead_at BIGINT, recipients TEXT,"               \
	" last_error TEXT, PRIMARY KEY (customer_id, month));"

/* 9: reads that do not grow with the fleet (issue 16, docs/api.md
 * "Paging"): an open-alert counter per host kept by triggers (no count per
 * host per read), and an index per keyset sort, the vendor's and the
 * customer's (customer_id first) -- on columns that change seldom, so that
 * ingest's per-report UPDATE of agents stays cheap (PostgreSQL keeps it a
 * HOT update: last_report_at and last_seq are not indexed). 6-8 are other
 * branches' numbers, no-ops here until merged. */
#define SCHEMA_V9_COMMON                                                                           \
	"ALTER TABLE agents ADD COLUMN open_alerts BIGINT NOT NULL DEFAULT 0;"                     \
	"UPDATE agents SET open_alerts = (SELECT COUNT(*) FROM alerts x WHERE x.agent_id ="        \
	" agents.id AND x.closed_at IS NULL);"                                                     \
	"CREATE INDEX agents_score ON agents((COALESCE(score, 101)), id);"                         \
	"CREATE INDEX agents_cust_score ON agents(customer_id, (COALESCE(score, 101)), id);"       \
	"CREATE INDEX agents_name ON agents((COALESCE(label, hostname)), id);"                     \
	"CREATE INDEX agents_cust_name ON agents(customer_id, (COALESCE(label, hostname)), id);"   \
	"CREATE INDEX agents_open_alerts ON agents(open_alerts, id);"                              \
	"CREATE INDEX agents_cust_open_alerts ON agents(customer_id, open_alerts, id);"            \
	"CREATE INDEX agents_band ON agents((CASE COALESCE(band, 'unknown') WHEN 'critical' THEN"  \
	" 0 WHEN 'at_risk' THEN 2 WHEN 'healthy' THEN 3 ELSE 1 END), (COALESCE(score, 101)), id);" \
	"CREATE INDEX agents_cust_band ON agents(customer_id, (CASE COALESCE(band, 'unknown') "    \
	"WHEN"                                                                                     \
	" 'critical' THEN 0 WHEN 'at_risk' THEN 2 WHEN 'healthy' THEN 3 ELSE 1 END),"              \
	" (COALESCE(score, 101)), id);"                                                            \
	"CREATE INDEX agents_cust_scores ON agents(customer_id, revoked_at, production, score);"   \
	"CREATE INDEX agents_cust_id ON agents(customer_id, id);"                                  \
	"CREATE INDEX alerts_open_updated ON alerts(updated_at, id) WHERE closed_at IS NULL;"      \
	"CREATE INDEX alerts_cust_open_updated ON alerts(customer_id, updated_at, id)"             \
	" WHERE closed_at IS NULL;"                                                                \
	"CREATE INDEX alerts_open_severity ON alerts((CASE severity WHEN 'critical' THEN 0 WHEN"   \
	" 'warning' THEN 1 ELSE 2 END), opened_at, id) WHERE closed_at IS NULL;"                   \
	"CREATE INDEX alerts_cust_open_severity ON alerts(customer_id, (CASE severity WHEN"        \
	" 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END), opened_at, id) WHERE closed_at IS"  \
	" NULL;"                                                                                   \
	"CREATE INDEX alerts_updated ON alerts(updated_at, id);"                                   \
	"CREATE INDEX alerts_cust_updated ON alerts(customer_id, updated_at, id);"
#define SCHEMA_V9_LITE                                                                             \
	SCHEMA_V9_COMMON                                                                           \
	"CREATE TRIGGER alerts_open_ins AFTER INSERT ON alerts WHEN NEW.closed_at IS NULL"         \
	" BEGIN UPDATE agents SET open_alerts = open_alerts + 1 WHERE id = NEW.agent_id; END;"     \
	"CREATE TRIGGER alerts_open_upd AFTER UPDATE OF closed_at ON alerts"                       \
	" WHEN (OLD.closed_at IS NULL) <> (NEW.closed_at IS NULL) BEGIN UPDATE agents SET"         \
	" open_alerts = open_alerts + CASE WHEN NEW.closed_at IS NULL THEN 1 ELSE -1 END"          \
	" WHERE id = NEW.agent_id; END;"                                                           \
	"CREATE TRIGGER alerts_open_del AFTER DELETE ON alerts WHEN OLD.closed_at IS NULL"         \
	" BEGIN UPDATE agents SET open_alerts = open_alerts - 1 WHERE id = OLD.agent_id; END;"
#define SCHEMA_V9_PG                                                                               \
	SCHEMA_V9_COMMON                                                                           \
	"CREATE FUNCTION erpulse_open_alerts() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"       \
	" IF TG_OP <> 'INSERT' THEN IF OLD.closed_at IS NULL THEN UPDATE agents SET open_alerts"   \
	" = open_alerts - 1 WHERE id = OLD.agent_id; END IF; END IF;"                              \
	" IF TG_OP <> 'DELETE' THEN IF NEW.closed_at IS NULL THEN UPDATE agents SET open_alerts"   \
	" = open_alerts + 1 WHERE id = NEW.agent_id; END IF; END IF; RETURN NULL; END $$;"         \
	"CREATE TRIGGER alerts_open_count AFTER INSERT OR DELETE OR UPDATE OF closed_at ON"        \
	" alerts FOR EACH ROW EXECUTE FUNCTION erpulse_open_alerts();"

/* 8: raw report bodies compressed (store/codec.h), kept for a short window
 * and then one per agent and UTC day (store/reports_keep.c, docs/decisions.md
 * "zstd"). SQLite: the codec marker is added and old rows (plain text,
 * codec 0) stay where they are until retention takes them; its BLOBs live in
 * the TEXT-declared column as they are. */
#define REPORTS_DAILY_COLS                                                                         \
	"(agent_id TEXT NOT NULL, seq BIGINT NOT NULL, received_at BIGINT NOT NULL,"               \
	" generated_at BIGINT NOT NULL, codec SMALLINT NOT NULL,"
/* the zstd dictionaries trained on the store's reports (store/codec.h) */
#define CODEC_DICTS "CREATE TABLE codec_dicts (id BIGINT PRIMARY KEY, created_at BIGINT NOT NULL,"
#define SCHEMA_V8_LITE                                                                             \
	"ALTER TABLE reports ADD COLUMN codec SMALLINT NOT NULL DEFAULT 0;"                        \
	"CREATE TABLE reports_daily " REPORTS_DAILY_COLS " body BLOB NOT NULL,"                    \
	" PRIMARY KEY (agent_id, seq));"                                                           \
	"CREATE INDEX reports_daily_received ON reports_daily(received_at);" CODEC_DICTS           \
	" dict BLOB NOT NULL);"
/* PostgreSQL: the text column cannot hold bytes, so the old table stays as
 * reports_plain (read through, emptied by retention, never rewritten) and
 * reports is new, partitioned by UTC day (store/dayparts.c): a default
 * partition takes what no day partition covers yet. The primary key of a
 * partitioned table must hold the partition key; the seq gate on agents
 * keeps (agent_id, seq) unique. */
#define SCHEMA_V8_PG                                                                               \
	"ALTER TABLE reports RENAME TO reports_plain;"                                             \
	"ALTER INDEX reports_received RENAME TO reports_plain_received;"                           \
	"ALTER TABLE reports_plain RENAME CONSTRAINT reports_pkey TO reports_plain_pkey;"          \
	"CREATE TABLE reports (agent_id TEXT NOT NULL REFERENCES agents(id), seq BIGINT NOT NULL," \
	" received_at BIGINT NOT NULL, generated_at BIGINT NOT NULL, codec SMALLINT NOT NULL,"     \
	" body BYTEA NOT NULL, PRIMARY KEY (agent_id, seq, received_at))"                          \
	" PARTITION BY RANGE (received_at);"                                                       \
	"CREATE TABLE reports_default PARTITION OF reports DEFAULT;"                               \
	"CREATE INDEX reports_default_received ON reports_default(received_at);"                   \
	"CREATE TABLE reports_daily " REPORTS_DAILY_COLS " body BYTEA NOT NULL,"                   \
	" PRIMARY KEY (agent_id, seq, received_at)) PARTITION BY RANGE (received_at);"             \
	"CREATE TABLE reports_daily_default PARTITION OF reports_daily DEFAULT;"                   \
	"CREATE INDEX reports_daily_default_received ON "                                          \
	"reports_daily_default(received_at);" CODEC_DICTS " dict BYTEA NOT NULL);"

/* 10: the wide per-host JSON out of the agents row (issue 16, docs/store.md
 * "narrowrow branch"): the score explanation, the forecasts and the instance
 * state live in agent_analysis, each beside a 64-bit hash of its text
 * (coll_text_hash), and current_findings keeps the hash of its findings, so
 * that ingest writes a text only when it changed and the per-report UPDATE of
 * agents touches a small row (PostgreSQL: a HOT update, nothing to TOAST).
 * Column order: what changes with most reports (the instance state: seq,
 * last_ok_at) last, so that PostgreSQL's WAL record of an update leaves the
 * unchanged prefix out. Hashes of the moved rows start at 0 (= unknown): the
 * first report after the migration writes them. */
#define SCHEMA_V10(WITH)                                                                           \
	"CREATE TABLE agent_analysis (agent_id TEXT PRIMARY KEY REFERENCES agents(id),"            \
	" score_hash BIGINT NOT NULL DEFAULT 0, forecasts_hash BIGINT NOT NULL DEFAULT 0,"         \
	" score_json TEXT, forecasts_json TEXT, instances_hash BIGINT NOT NULL DEFAULT 0,"         \
	" instances TEXT)" WITH ";"                                                                \
	"INSERT INTO agent_analysis (agent_id, score_json, forecasts_json, instances)"             \
	" SELECT id, score_json, forecasts_json, instances FROM agents WHERE score_json IS NOT"    \
	" NULL OR forecasts_json IS NOT NULL OR instances IS NOT NULL;"                            \
	"ALTER TABLE agents DROP COLUMN score_json;"                                               \
	"ALTER TABLE agents DROP COLUMN forecasts_json;"                                           \
	"ALTER TABLE agents DROP COLUMN instances;"                                                \
	"ALTER TABLE current_findings ADD COLUMN hash BIGINT NOT NULL DEFAULT 0;"
/* PostgreSQL: room on each page for the next version of its rows, so that
 * the per-report updates stay HOT (same page, no index entry) */
#define SCHEMA_V10_PG                                                                              \
	SCHEMA_V10(" WITH (fillfactor = 50)")                                                      \
	"ALTER TABLE agents SET (fillfactor = 70);"                                                \
	"ALTER TABLE current_findings SET (fillfactor = 70);"
/* 11: SQLite rollups WITHOUT ROWID (docs/decisions.md "samples"): the
 * forecasts read the hourly rollups of 28 days on every report
 * (analysis/history.c); in key order that is one B-tree walk with the
 * values in the key's leaf, where the rowid table took a second lookup per
 * row, and the key is stored once. Retention deletes by key
 * (store/partitions.c). PostgreSQL: nothing (its partitions' primary key
 * index plus heap are what they are). */
#define SCHEMA_V11_LITE                                                                            \
	"CREATE TABLE rollups_v11 (agent_id TEXT NOT NULL, series TEXT NOT NULL, hour BIGINT NOT " \
	"NULL, n BIGINT NOT NULL, vsum DOUBLE PRECISION NOT NULL, vmin DOUBLE PRECISION NOT NULL," \
	" vmax DOUBLE PRECISION NOT NULL, PRIMARY KEY (agent_id, series, hour)) WITHOUT ROWID;"    \
	"INSERT INTO rollups_v11 (agent_id, series, hour, n, vsum, vmin, vmax) SELECT agent_id,"   \
	" series, hour, n, vsum, vmin, vmax FROM rollups;"                                         \
	"DROP TABLE rollups;"                                                                      \
	"ALTER TABLE rollups_v11 RENAME TO rollups;"                                               \
	"CREATE INDEX rollups_hour ON rollups(hour);"

/* 12: integer series ids (issue 16 item 2, docs/decisions.md "pgbytes"): a
 * sample or rollup row carried its agent's id and the series' name (~80
 * bytes of text) in the row and again in the primary key; now one `series`
 * row per (agent, name) and the history keyed by (series_id, time). The
 * history is rewritten once, in the migration's transaction (as 6 did):
 * the series from both tables, then the rows with their ids. */
#define SERIES_TABLE(AUTO_ID)                                                                      \
	"CREATE TABLE series (id " AUTO_ID ", agent_id TEXT NOT NULL, name TEXT NOT NULL);"        \
	"INSERT INTO series (agent_id, name) SELECT agent_id, series FROM samples UNION SELECT"    \
	" agent_id, series FROM rollups ORDER BY 1, 2;"                                            \
	"CREATE UNIQUE INDEX series_key ON series(agent_id, name);"
#define SAMPLES_COLS_V12                                                                           \
	"series_id BIGINT NOT NULL, ts BIGINT NOT NULL, value DOUBLE PRECISION NOT NULL"
#define ROLLUPS_COLS_V12                                                                           \
	"series_id BIGINT NOT NULL, hour BIGINT NOT NULL, n BIGINT NOT NULL,"                      \
	" vsum DOUBLE PRECISION NOT NULL, vmin DOUBLE PRECISION NOT NULL,"                         \
	" vmax DOUBLE PRECISION NOT NULL"
/* the old rows of T with their series' id, in the new column order */
#define SAMPLES_V11_ROWS                                                                           \
	" SELECT x.id, o.ts, o.value FROM samples o JOIN series x ON x.agent_id = o.agent_id"      \
	" AND x.name = o.series"
#define ROLLUPS_V11_ROWS                                                                           \
	" SELECT x.id, o.hour, o.n, o.vsum, o.vmin, o.vmax FROM rollups o JOIN series x"           \
	" ON x.agent_id = o.agent_id AND x.name = o.series"
#define SCHEMA_V12_LITE                                                                            \
	SERIES_TABLE("INTEGER PRIMARY KEY")                                                        \
	"CREATE TABLE samples_v12 (" SAMPLES_COLS_V12 ", PRIMARY KEY (series_id, ts))"             \
	" WITHOUT ROWID;"                                                                          \
	"INSERT INTO samples_v12 (series_id, ts, value)" SAMPLES_V11_ROWS ";"                      \
	"DROP TABLE samples;"                                                                      \
	"ALTER TABLE samples_v12 RENAME TO samples;"                                               \
	"CREATE TABLE rollups_v12 (" ROLLUPS_COLS_V12 ", PRIMARY KEY (series_id, hour))"           \
	" WITHOUT ROWID;"                                                                          \
	"INSERT INTO rollups_v12 (series_id, hour, n, vsum, vmin, vmax)" ROLLUPS_V11_ROWS ";"      \
	"DROP TABLE rollups;"                                                                      \
	"ALTER TABLE rollups_v12 RENAME TO rollups;"                                               \
	"CREATE INDEX rollups_hour ON rollups(hour);"
/* PostgreSQL: the converted rows into a plain table first, then the old
 * partitioned table dropped with its partitions (their names are the new
 * ones'), the new one made and its partitions for the rows' range (as 6). */
#define PG_REKEYED(T, ROWS, COLS, KEY, COL, PERIOD, WINDOW_DAYS)                                   \
	"CREATE TABLE " T "_v11 AS" ROWS ";"                                                       \
	"DROP TABLE " T ";" PG_PARTITIONED_FROM(T, T "_v11", COLS, KEY, COL, PERIOD, WINDOW_DAYS)
#define SCHEMA_V12_PG                                                                              \
	SERIES_TABLE("BIGSERIAL PRIMARY KEY")                                                      \
	PG_REKEYED("samples", SAMPLES_V11_ROWS, SAMPLES_COLS_V12, "series_id, ts", "ts", "86400",  \
		   "40")                                                                           \
	PG_REKEYED("rollups", ROLLUPS_V11_ROWS, ROLLUPS_COLS_V12, "series_id, hour", "hour",       \
		   "604800", "400")
/* 13: the forecasts' fit state per host (docs/forecasts.md "Refit and the
 * cached path", analysis/history.c): a report between refits evaluates
 * the stored fits instead of reading the host's history. sampled_at: the
 * last samples stored between refits. PostgreSQL: room for the updates of
 * sampled_at to stay HOT. */
#define SCHEMA_V13(WITH)                                                                           \
	"CREATE TABLE forecast_fits (agent_id TEXT PRIMARY KEY REFERENCES agents(id),"             \
	" fitted_at BIGINT NOT NULL, sampled_at BIGINT NOT NULL, state TEXT NOT NULL)" WITH ";"
/* 14: the fit state as a compact binary row (analysis/fitstate.c) instead
 * of JSON text, whose parse cost every report ~50 us. The table is a cache
 * that a refit rebuilds: made again empty, each host refits once. */
#define SCHEMA_V14(BIN, WITH)                                                                      \
	"DROP TABLE forecast_fits;"                                                                \
	"CREATE TABLE forecast_fits (agent_id TEXT PRIMARY KEY REFERENCES agents(id),"             \
	" fitted_at BIGINT NOT NULL, sampled_at BIGINT NOT NULL, state " BIN " NOT NULL)" WITH ";"

static const char *const lite_migrations[] = {
	SCHEMA_V1("INTEGER PRIMARY KEY"),
	SCHEMA_V2,
	SCHEMA_V3("INTEGER PRIMARY KEY", SCHEMA_V3_LITE_GUARD),
	SCHEMA_V4,
	SCHEMA_V5,
	SCHEMA_V6_LITE,
	SCHEMA_V7,
	SCHEMA_V8_LITE,
	SCHEMA_V9_LITE,
	SCHEMA_V10(""),
	SCHEMA_V11_LITE,
	SCHEMA_V12_LITE,
	SCHEMA_V13(""),
	SCHEMA_V14("BLOB", ""),
};
static const char *const pg_migrations[] = {
	SCHEMA_V1("BIGSERIAL PRIMARY KEY"),
	SCHEMA_V2,
	SCHEMA_V3("BIGSERIAL PRIMARY KEY", SCHEMA_V3_PG_GUARD),
	SCHEMA_V4,
	SCHEMA_V5,
	SCHEMA_V6_PG,
	SCHEMA_V7,
	SCHEMA_V8_PG,
	SCHEMA_V9_PG,
	SCHEMA_V10_PG,
	"SELECT 1", /* 11: SQLite only */
	SCHEMA_V12_PG,
	SCHEMA_V13(" WITH (fillfactor = 70)"),
	SCHEMA_V14("BYTEA", " WITH (fillfactor = 70)"),
};

/* ---- migrations ---------------------------------------------------------- */

int coll_store_schema_version(struct coll_store *s, int *ret)
{
	struct coll_db_res res;
	int r = coll_sql_query(s, "SELECT MAX(version) FROM schema_version", NULL, 0, &res);
	if (r < 0)
		return r;
	*ret = (int)coll_s2i(coll_db_val(&res, 0, 0));
	coll_db_res_free(&res);
	return 0;
}

int coll_store_migrate(struct coll_store *s)
{
	return coll_store_migrate_to(s, COLL_SCHEMA_VERSION);
}

int coll_store_migrate_to(struct coll_store *s, int target)
{
	bool pg = coll_db_kind(s->db) == COLL_DB_PG;
	const char *const *m = pg ? pg_migrations : lite_migrations;
	size_t n = pg ? EP_ARRAY_SIZE(pg_migrations) : EP_ARRAY_SIZE(lite_migrations);
	int r, version = 0;
	int64_t timeout = -1; /* the statement timeout to put back, -1 = untouched */

	if (pg) {
		r = coll_db_exec(s->db, "SELECT pg_advisory_lock(" PG_MIGRATE_LOCK ")");
		if (r < 0)
			goto fail;
	}
	r = coll_db_exec(s->db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT "
				"NULL, applied_at BIGINT)");
	if (r < 0)
		goto unlock;
	r = coll_store_schema_version(s, &version);
	if (r < 0)
		goto unlock;
	if ((size_t)version > n) {
		snprintf(s->err, sizeof(s->err),
			 "the store has schema version %d, newer than this collector's %zu: "
			 "upgrade erpulse-collector",
			 version, n);
		r = -EPROTO;
		goto unlock;
	}
	/* a migration may rewrite a large table (6: the history into
	 * partitions): no statement timeout while it runs */
	if ((size_t)version < n) {
		r = coll_db_set_statement_timeout(s->db, 0, &timeout);
		if (r < 0)
			goto unlock;
	}
	for (size_t v = (size_t)version + 1; v <= n && v <= (size_t)target; v++) {
		r = coll_db_begin(s->db);
		if (r < 0)
			goto unlock;
		r = coll_db_exec(s->db, m[v - 1]);
		if (r == 0)
			r = COLL_Q(s,
				   "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
				   NULL, coll_i2s((int64_t)v).s, coll_i2s(ep_wall_ms() / 1000).s);
		if (r == 0)
			r = coll_db_commit(s->db);
		if (r < 0) {
			coll_db_rollback(s->db);
			goto unlock;
		}
	}
	r = timeout >= 0 ? coll_db_set_statement_timeout(s->db, timeout, NULL) : 0;
	timeout = -1;
	if (r < 0)
		goto unlock;
	/* this day's partitions and the next few (PostgreSQL; store/partitions.c;
	 * from migration 6 on: a store held at an older version has none) */
	if (target >= 6 && n >= 6)
		r = coll_store_partitions_maintain(s, ep_wall_ms() / 1000);
	/* and the raw reports' (from migration 8 on), so that the first hour
	 * of a store does not go to the default partition */
	if (r == 0 && target >= 8 && n >= 8)
		r = coll_store_reports_partitions(s, ep_wall_ms() / 1000);
	if (r < 0)
		goto unlock;
unlock:
	if (r < 0)
		snprintf(s->err, sizeof(s->err), "%s", coll_db_error(s->db));
	if (timeout >= 0)
		coll_db_set_statement_timeout(s->db, timeout, NULL);
	if (pg)
		coll_db_exec(s->db, "SELECT pg_advisory_unlock(" PG_MIGRATE_LOCK ")");
	return r;
fail:
	snprintf(s->err, sizeof(s->err), "%s", coll_db_error(s->db));
	return r;
}
