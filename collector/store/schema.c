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
#define PG_PARTITIONED(T, COLS, KEY, COL, PERIOD, WINDOW_DAYS)                                     \
	"ALTER TABLE " T " RENAME TO " T "_v5;"                                                    \
	"ALTER INDEX " T "_pkey RENAME TO " T "_v5_pkey;"                                          \
	"CREATE TABLE " T " (" COLS ", PRIMARY KEY (" KEY ")) PARTITION BY RANGE (" COL ");"       \
	"CREATE TABLE " T "_default PARTITION OF " T " DEFAULT;"                                   \
	"SELECT erpulse_partitions_ensure('" T "', '" COL "', " PERIOD ", GREATEST(MIN(" COL "),"  \
	" MAX(" COL ") - " WINDOW_DAYS " * 86400), MAX(" COL ")) FROM " T                          \
	"_v5 HAVING COUNT(*) > 0;"                                                                 \
	"INSERT INTO " T " SELECT * FROM " T "_v5;"                                                \
	"DROP TABLE " T "_v5;"

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

static const char *const lite_migrations[] = {
	SCHEMA_V1("INTEGER PRIMARY KEY"),
	SCHEMA_V2,
	SCHEMA_V3("INTEGER PRIMARY KEY", SCHEMA_V3_LITE_GUARD),
	SCHEMA_V4,
	SCHEMA_V5,
	SCHEMA_V6_LITE,
};
static const char *const pg_migrations[] = {
	SCHEMA_V1("BIGSERIAL PRIMARY KEY"),
	SCHEMA_V2,
	SCHEMA_V3("BIGSERIAL PRIMARY KEY", SCHEMA_V3_PG_GUARD),
	SCHEMA_V4,
	SCHEMA_V5,
	SCHEMA_V6_PG,
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
	for (size_t v = (size_t)version + 1; v <= n; v++) {
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
	/* this day's partitions and the next few (PostgreSQL; store/partitions.c) */
	r = coll_store_partitions_maintain(s, ep_wall_ms() / 1000);
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
