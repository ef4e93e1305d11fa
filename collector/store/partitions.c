/* Time-ordered history and its retention (store.h, docs/decisions.md
 * "pgpart"): samples, rollups and score history.
 *
 * Samples are kept raw for s->keep_samples_days (docs/decisions.md
 * "samples"), cut on a whole hour, then rolled up by hour; the forecasts
 * read both (analysis/history.c).
 *
 * PostgreSQL partitions the three tables by time (schema.c, migration 6):
 * coll_store_partitions_maintain makes the partitions ahead of time and
 * retention drops whole partitions once all their rows are past the window
 * (samples rolled up by hour first, in the same transaction), so that no
 * DELETE ever scans. SQLite has no partitions: retention walks the samples'
 * key (agent, series) with one index seek per series and deletes each
 * series' old rows in short transactions, so that ingest (which queues for
 * the same write lock) never waits long. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store/sql.h"
#include "collector/store/store.h"
#include "erpulse/util.h"

#define DAY  86400
#define WEEK (7 * DAY)

struct part_table {
	const char *name, *col;
	int64_t period;
};

static const struct part_table part_tables[] = {
	{"samples", "ts", DAY},
	{"rollups", "hour", WEEK},
	{"score_history", "ts", WEEK},
};

/* The hourly rollup of the samples of one source (a partition's name, or
 * "samples" with a WHERE), merged with a rollup of the same hour. */
#define ROLLUP_INSERT                                                                              \
	"INSERT INTO rollups (series_id, hour, n, vsum, vmin, vmax)"                               \
	" SELECT series_id, ts - ts % 3600, COUNT(*), SUM(value), MIN(value), MAX(value)"          \
	" FROM "
#define ROLLUP_MERGE                                                                               \
	" GROUP BY series_id, ts - ts % 3600 ON CONFLICT (series_id, hour) DO"                     \
	" UPDATE SET n = rollups.n + excluded.n, vsum = rollups.vsum + excluded.vsum,"             \
	" vmin = CASE WHEN excluded.vmin < rollups.vmin THEN excluded.vmin ELSE rollups.vmin END," \
	" vmax = CASE WHEN excluded.vmax > rollups.vmax THEN excluded.vmax ELSE rollups.vmax END"

/* b += the rollup of the samples in table (a partition), where: "" or
 * " WHERE ...". 0 or -ENOMEM. */
static int append_rollup(struct ep_buf *b, const char *table, const char *where)
{
	if (ep_buf_append(b, ROLLUP_INSERT, strlen(ROLLUP_INSERT)) < 0 ||
	    ep_buf_append(b, table, strlen(table)) < 0 ||
	    ep_buf_append(b, where, strlen(where)) < 0 ||
	    ep_buf_append(b, ROLLUP_MERGE "; ", strlen(ROLLUP_MERGE "; ")) < 0)
		return -ENOMEM;
	return 0;
}

/* ---- writing ------------------------------------------------------------------------- */

#define SAMPLE_ROWS_MAX 16
/* Samples are keyed by their series' id (schema.c, migration 12): one
 * statement makes the series of the report that are new (most reports have
 * none: one index probe each, and no sequence value taken on PostgreSQL),
 * a second one stores the samples with their ids looked up in the same
 * statement. Both return nothing, so that PostgreSQL's ingest pipelines
 * them (coll_db_defer_writes): no round trip is added. */
#define N1 "(?)"
#define N2 N1 ", " N1
#define N4 N2 ", " N2
#define N8 N4 ", " N4
#define SERIES_INSERT                                                                              \
	"INSERT INTO series (agent_id, name) SELECT CAST(? AS TEXT), v.column1 FROM (VALUES "
#define SERIES_NEW                                                                                 \
	") AS v WHERE NOT EXISTS (SELECT 1 FROM series x WHERE x.agent_id = ? AND x.name ="        \
	" v.column1) ON CONFLICT DO NOTHING"
#define R1 "(?, CAST(? AS DOUBLE PRECISION))"
#define R2 R1 ", " R1
#define R4 R2 ", " R2
#define R8 R4 ", " R4
#define SAMPLES_INSERT                                                                             \
	"INSERT INTO samples (series_id, ts, value) SELECT x.id, CAST(? AS BIGINT), v.column2"     \
	" FROM (VALUES "
/* (SQLite: an upsert's SELECT needs a WHERE, else ON CONFLICT is read as a
 * join's ON) */
#define SAMPLES_UPSERT                                                                             \
	") AS v JOIN series x ON x.name = v.column1 WHERE x.agent_id = ?"                          \
	" ON CONFLICT (series_id, ts) DO UPDATE SET value = excluded.value"

/* One statement per row count (the statement cache keys on the text's
 * address): 1, 2, 4, 8 and 16 rows; other counts are made of these. */
static const char *const series_sql[] = {
	SERIES_INSERT N1 SERIES_NEW,         SERIES_INSERT N2 SERIES_NEW,
	SERIES_INSERT N4 SERIES_NEW,         SERIES_INSERT N8 SERIES_NEW,
	SERIES_INSERT N8 ", " N8 SERIES_NEW,
};
static const char *const samples_sql[] = {
	SAMPLES_INSERT R1 SAMPLES_UPSERT,         SAMPLES_INSERT R2 SAMPLES_UPSERT,
	SAMPLES_INSERT R4 SAMPLES_UPSERT,         SAMPLES_INSERT R8 SAMPLES_UPSERT,
	SAMPLES_INSERT R8 ", " R8 SAMPLES_UPSERT,
};

int coll_store_samples_add(struct coll_store *s, const char *agent_id, int64_t ts,
			   const char *const *series, const double *value, size_t n)
{
	const char *params[2 * SAMPLE_ROWS_MAX + 2];
	struct coll_num vals[SAMPLE_ROWS_MAX], t = coll_i2s(ts);
	size_t done = 0;

	while (done < n) {
		size_t k = 0, rows = 1;
		while (k + 1 < EP_ARRAY_SIZE(samples_sql) && rows * 2 <= n - done) {
			k++;
			rows *= 2;
		}
		params[0] = agent_id;
		for (size_t i = 0; i < rows; i++)
			params[1 + i] = series[done + i];
		params[1 + rows] = agent_id;
		int r = coll_sql_query(s, series_sql[k], params, rows + 2, NULL);
		if (r < 0)
			return r;
		params[0] = t.s;
		for (size_t i = 0; i < rows; i++) {
			vals[i] = coll_d2s(value[done + i]);
			params[1 + 2 * i] = series[done + i];
			params[2 + 2 * i] = vals[i].s;
		}
		params[1 + 2 * rows] = agent_id;
		r = coll_sql_query(s, samples_sql[k], params, 2 * rows + 2, NULL);
		if (r < 0)
			return r;
		done += rows;
	}
	return 0;
}

/* PostgreSQL: one key range per series of the agent in each day
 * partition (a nested loop over its series ids). The join SQLite plans
 * the same way was a hash join over a sequential scan of the whole day's
 * samples on PostgreSQL (every agent's, 2,048 rows in the bench's empty
 * store), replanned on every call: 250 us of executor and 250 us of
 * planner time per report in the two-collector bench (pg_stat_statements,
 * docs/store.md "pgserver branch"). OFFSET 0 keeps the subquery a
 * subquery, so the planner cannot flatten it back into the join. */
static const char since_pg[] =
	"SELECT x.name, s.ts, s.value FROM series x CROSS JOIN LATERAL (SELECT ts, value FROM"
	" samples WHERE series_id = x.id AND ts > CAST(? AS BIGINT) OFFSET 0) s"
	" WHERE x.agent_id = ? ORDER BY x.name, s.ts";
static const char since_lite[] =
	"SELECT x.name, s.ts, s.value FROM series x JOIN samples s ON s.series_id = x.id"
	" WHERE s.ts > CAST(? AS BIGINT) AND x.agent_id = ? ORDER BY x.name, s.ts";

int coll_store_samples_since(struct coll_store *s, const char *agent_id, int64_t since,
			     coll_db_row_fn fn, void *ctx)
{
	struct coll_num t = coll_i2s(since);
	const char *params[] = {t.s, agent_id};
	int r = coll_db_query_each(s->db, coll_db_kind(s->db) == COLL_DB_PG ? since_pg : since_lite,
				   params, EP_ARRAY_SIZE(params), fn, ctx);
	if (r < 0)
		snprintf(s->err, sizeof(s->err), "%s", coll_db_error(s->db));
	return r;
}

/* ---- PostgreSQL: partitions ------------------------------------------------------ */

int coll_store_partitions_maintain(struct coll_store *s, int64_t now)
{
	if (coll_db_kind(s->db) != COLL_DB_PG)
		return 0;
	for (size_t i = 0; i < EP_ARRAY_SIZE(part_tables); i++) {
		const struct part_table *t = &part_tables[i];
		/* the period before now (a late report) to three ahead */
		int r = COLL_Q(s, "SELECT erpulse_partitions_ensure(?, ?, ?, ?, ?)", NULL, t->name,
			       t->col, coll_i2s(t->period).s, coll_i2s(now - t->period).s,
			       coll_i2s(now + 3 * t->period).s);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Our partition names only ("<table>_p<yyyymmdd>"): they are pasted into
 * DDL, which takes no parameters. */
static bool part_name_ok(const char *name)
{
	size_t n = 0;
	for (; name && name[n]; n++)
		if (!((name[n] >= 'a' && name[n] <= 'z') || (name[n] >= '0' && name[n] <= '9') ||
		      name[n] == '_') ||
		    n > 60)
			return false;
	return n > 0;
}

/* Inside a transaction: takes the lock erpulse_partitions_ensure takes
 * for t (schema.c; two collectors' retention and partition making run one
 * at a time) and says whether partition name is gone meanwhile. */
static int partition_locked_gone(struct coll_store *s, const struct part_table *t, const char *name,
				 bool *ret_gone)
{
	struct coll_db_res res;
	int r = COLL_Q(s, "SELECT pg_advisory_xact_lock(723845011, hashtext(?))", NULL, t->name);
	if (r == 0) /* a statement of its own: it sees what the lock waited for */
		r = COLL_Q(s, "SELECT to_regclass(?) IS NULL", &res, name);
	if (r < 0)
		return r;
	const char *v = coll_db_val(&res, 0, 0);
	*ret_gone = v && (v[0] == 't' || v[0] == '1');
	coll_db_res_free(&res);
	return 0;
}

/* Drops t's partitions whose upper bound is at or before cutoff (samples:
 * rolled up first, in the same transaction); empties the DEFAULT
 * partition of rows before cutoff (normally none). *ret_dropped counts. */
static int pg_drop_before(struct coll_store *s, const struct part_table *t, int64_t cutoff,
			  size_t *ret_dropped)
{
	struct coll_db_res res;
	int r = COLL_Q(s,
		       "SELECT c.relname, substring(pg_get_expr(c.relpartbound, c.oid)"
		       " from 'TO \\(\\D*(\\d+)') FROM pg_inherits i JOIN pg_class c"
		       " ON c.oid = i.inhrelid WHERE i.inhparent = CAST(? AS regclass) ORDER BY 1",
		       &res, t->name);
	if (r < 0)
		return r;
	for (size_t i = 0; i < res.rows && r == 0; i++) {
		const char *name = coll_db_val(&res, i, 0), *hi = coll_db_val(&res, i, 1);
		if (!hi || coll_s2i(hi) > cutoff || !part_name_ok(name))
			continue; /* the DEFAULT partition, or not all past the window */
		struct ep_buf sql;
		ep_buf_init(&sql, 4096);
		if (strcmp(t->name, "samples") == 0)
			r = append_rollup(&sql, name, "");
		if (r == 0)
			r = ep_buf_printf(&sql, "DROP TABLE %s", name);
		bool gone = false;
		if (r == 0)
			r = coll_db_begin(s->db);
		if (r == 0) /* another collector's retention may have dropped it */
			r = partition_locked_gone(s, t, name, &gone);
		if (r == 0 && !gone)
			r = coll_db_exec(s->db, sql.data);
		if (r == 0)
			r = coll_db_commit(s->db);
		ep_buf_free(&sql);
		if (r < 0) {
			snprintf(s->err, sizeof(s->err), "%s", coll_db_error(s->db));
			coll_db_rollback(s->db);
		} else if (!gone) {
			(*ret_dropped)++;
		}
	}
	coll_db_res_free(&res);
	if (r < 0)
		return r;
	/* rows of a clock far off, outside every partition made */
	char sql[512];
	struct coll_num cut = coll_i2s(cutoff);
	if (strcmp(t->name, "samples") == 0) {
		struct ep_buf b;
		ep_buf_init(&b, 4096);
		snprintf(sql, sizeof(sql), " WHERE ts < %s", cut.s);
		r = ep_buf_printf(&b, "BEGIN; ");
		if (r == 0)
			r = append_rollup(&b, "samples_default", sql);
		if (r == 0)
			r = ep_buf_printf(&b, "DELETE FROM samples_default%s; COMMIT", sql);
		if (r == 0)
			r = coll_db_exec(s->db, b.data);
		ep_buf_free(&b);
	} else {
		snprintf(sql, sizeof(sql), "DELETE FROM %s_default WHERE %s < %s", t->name, t->col,
			 cut.s);
		r = coll_db_exec(s->db, sql);
	}
	if (r < 0) {
		snprintf(s->err, sizeof(s->err), "%s", coll_db_error(s->db));
		coll_db_rollback(s->db);
	}
	return r;
}

/* ---- SQLite: samples by series, others in chunks --------------------------------- */

#define SERIES_PER_TX 16   /* series rolled up and deleted per write transaction */
#define CHUNK_ROWS    5000 /* rollups or score history rows per write transaction */

struct tx_clock {
	int64_t t0, longest_ms;
	size_t n; /* transactions committed */
};

static int lite_begin(struct coll_store *s, struct tx_clock *c)
{
	int r = coll_db_begin(s->db);
	c->t0 = ep_mono_ms();
	return r;
}

#define CHECKPOINT_EVERY 32 /* transactions */

static int lite_commit(struct coll_store *s, struct tx_clock *c)
{
	int r = coll_db_commit(s->db);
	int64_t held = ep_mono_ms() - c->t0;
	if (held > c->longest_ms)
		c->longest_ms = held;
	/* the WAL into the database between transactions, off the write lock
	 * (else one commit does it: 1.7 s on a 500 MB store) */
	if (r == 0 && ++c->n % CHECKPOINT_EVERY == 0)
		coll_db_checkpoint(s->db);
	return r;
}

/* The first sample of the series after series id `after` in key order:
 * one index seek. */
static int next_series(struct coll_store *s, const char *after, struct coll_db_res *ret)
{
	return COLL_Q(s,
		      "SELECT series_id, ts FROM samples WHERE series_id > CAST(? AS BIGINT)"
		      " ORDER BY series_id, ts LIMIT 1",
		      ret, after);
}

static int lite_samples_retention(struct coll_store *s, int64_t cutoff, struct tx_clock *c,
				  size_t *ret_series)
{
	struct coll_num cut = coll_i2s(cutoff), id = coll_i2s(INT64_MIN);
	size_t in_tx = 0;
	int r = 0;

	for (;;) {
		struct coll_db_res res;
		r = next_series(s, id.s, &res);
		if (r < 0 || res.rows == 0) {
			coll_db_res_free(&res);
			break;
		}
		id = coll_i2s(coll_s2i(coll_db_val(&res, 0, 0)));
		int64_t first = coll_s2i(coll_db_val(&res, 0, 1));
		coll_db_res_free(&res);
		if (first >= cutoff)
			continue; /* nothing old in this series */
		if (in_tx == 0 && (r = lite_begin(s, c)) < 0)
			break;
		r = COLL_Q(s,
			   ROLLUP_INSERT
			   "samples WHERE series_id = CAST(? AS BIGINT) AND ts < CAST(?"
			   " AS BIGINT)" ROLLUP_MERGE,
			   NULL, id.s, cut.s);
		if (r == 0)
			r = COLL_Q(s,
				   "DELETE FROM samples WHERE series_id = CAST(? AS BIGINT) AND"
				   " ts < CAST(? AS BIGINT)",
				   NULL, id.s, cut.s);
		if (r == 0 && ++in_tx >= SERIES_PER_TX) {
			r = lite_commit(s, c);
			in_tx = 0;
		}
		if (r < 0)
			break;
		(*ret_series)++;
	}
	if (r == 0 && in_tx > 0)
		r = lite_commit(s, c);
	if (r < 0)
		coll_db_rollback(s->db);
	return r;
}

/* sql: a DELETE of at most CHUNK_ROWS rows before its one parameter (an
 * index on the time column finds them); repeated until fewer are left. */
static int lite_delete_chunks(struct coll_store *s, const char *sql, int64_t cutoff,
			      struct tx_clock *c)
{
	struct coll_num cut = coll_i2s(cutoff);
	for (;;) {
		struct coll_db_res res = {0};
		int r = lite_begin(s, c);
		if (r == 0)
			r = COLL_Q(s, sql, &res, cut.s);
		int64_t deleted = res.changes;
		coll_db_res_free(&res);
		if (r == 0)
			r = lite_commit(s, c);
		if (r < 0) {
			coll_db_rollback(s->db);
			return r;
		}
		if (deleted < CHUNK_ROWS)
			return 0;
	}
}

/* ---- retention ------------------------------------------------------------------------- */

int coll_store_history_retention(struct coll_store *s, int64_t now, int64_t keep_raw_s,
				 int64_t keep_rollup_s, struct coll_retention_stats *ret_stats)
{
	struct coll_retention_stats st = {0};
	struct tx_clock c = {0};
	int r;

	s->err[0] = '\0';
	/* raw samples for keep_samples_days, then hourly rollups; the cut on
	 * a whole hour, so that no hour is part raw, part rolled up (the
	 * forecasts read both, analysis/history.c) */
	int64_t keep_samples_s = keep_raw_s;
	if (s->keep_samples_days > 0 && s->keep_samples_days * DAY < keep_samples_s)
		keep_samples_s = s->keep_samples_days * DAY;
	int64_t samples_cut = now - keep_samples_s;
	samples_cut -= (samples_cut % 3600 + 3600) % 3600;
	if (coll_db_kind(s->db) == COLL_DB_PG) {
		r = coll_store_partitions_maintain(s, now);
		for (size_t i = 0; r == 0 && i < EP_ARRAY_SIZE(part_tables); i++) {
			const struct part_table *t = &part_tables[i];
			r = pg_drop_before(s, t,
					   t->period == DAY ? samples_cut : now - keep_rollup_s,
					   &st.partitions_dropped);
		}
	} else {
		/* its commits leave checkpoints to lite_commit, between them */
		coll_db_tune_writer(s->db);
		r = lite_samples_retention(s, samples_cut, &c, &st.series_retired);
		if (r == 0)
			r = lite_delete_chunks(
				s,
				"DELETE FROM rollups WHERE (series_id, hour) IN (SELECT series_id,"
				" hour FROM rollups WHERE hour < CAST(? AS BIGINT) LIMIT 5000)",
				now - keep_rollup_s, &c);
		if (r == 0)
			r = lite_delete_chunks(
				s,
				"DELETE FROM score_history WHERE rowid IN (SELECT rowid"
				" FROM score_history WHERE ts < CAST(? AS BIGINT) LIMIT"
				" 5000)",
				now - keep_rollup_s, &c);
		st.longest_tx_ms = c.longest_ms;
		if (r == 0) /* best effort, as lite_commit's */
			coll_db_checkpoint(s->db);
	}
	if (r < 0 && !s->err[0])
		snprintf(s->err, sizeof(s->err), "%s", coll_db_error(s->db));
	if (ret_stats)
		*ret_stats = st;
	return r;
}
