/* Store queries: ingest of accepted reports (group commit, savepoints) and
 * retention of raw reports, samples and rollups (store.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store/sql.h"
#include "collector/store/store.h"
#include "erpulse/crypto.h"
#include "erpulse/report.h"
#include "erpulse/util.h"

static int store_findings(struct coll_store *s, const struct coll_ingest *it)
{
	char *owned = NULL;
	const char *text = it->findings_json;
	if (!text) {
		text = owned = coll_store_findings_json(it->report);
		if (!text)
			return -ENOMEM;
	}
	int r = COLL_Q(s,
		       "INSERT INTO current_findings (agent_id, seq, findings) VALUES (?, ?, ?)"
		       " ON CONFLICT (agent_id) DO UPDATE SET seq = excluded.seq, findings ="
		       " excluded.findings",
		       NULL, it->agent.id, coll_i2s(it->seq).s, text);
	free(owned);
	return r;
}

/* The seq did not advance: a duplicate only when this very body is stored
 * under this seq; a seq too far ahead or taken by another body is a
 * conflict (docs/protocol.md "Sequence numbers"). */
static int not_advanced(struct coll_store *s, struct coll_ingest *it, struct coll_num now)
{
	struct coll_db_res res;
	struct coll_num seq = coll_i2s(it->seq);
	int r = COLL_Q(s, "SELECT last_seq, revoked_at FROM agents WHERE id = ?", &res,
		       it->agent.id);
	if (r < 0)
		return r;
	if (res.rows != 1 || coll_db_val(&res, 0, 1)) {
		coll_db_res_free(&res);
		return -EPERM; /* revoked meanwhile */
	}
	it->last_seq = coll_s2i(coll_db_val(&res, 0, 0));
	coll_db_res_free(&res);
	if (it->seq > it->last_seq) {
		it->result = COLL_INGEST_CONFLICT;
		it->error = -ERANGE;
		return 0;
	}
	r = COLL_Q(s, "SELECT body FROM reports WHERE agent_id = ? AND seq = ?", &res, it->agent.id,
		   seq.s);
	if (r < 0)
		return r;
	const char *stored = res.rows == 1 ? coll_db_val(&res, 0, 0) : NULL;
	bool same = stored && strlen(stored) == it->len && memcmp(stored, it->body, it->len) == 0;
	coll_db_res_free(&res);
	if (same) {
		it->result = COLL_INGEST_DUPLICATE;
		if (it->seq == it->last_seq)
			return 0; /* the plain resend of the last accepted report */
	} else {
		it->result = COLL_INGEST_CONFLICT;
		it->error = -EEXIST;
	}
	/* older than the newest accepted, or another body under the same seq: a
	 * restored or cloned agent */
	r = COLL_Q(s,
		   "UPDATE agents SET seq_rewinds = seq_rewinds + 1, last_rewind_at = ?"
		   " WHERE id = ?",
		   NULL, now.s, it->agent.id);
	if (r == 0)
		r = COLL_Q(s,
			   "INSERT INTO events (agent_id, ts, kind, detail) VALUES (?, ?,"
			   " 'agent_seq_rewind', ?)",
			   NULL, it->agent.id, now.s, seq.s);
	return r;
}

/* Stores one report inside the open transaction: the caller wraps it in a
 * savepoint. */
static int ingest_one(struct coll_store *s, struct coll_ingest *it, coll_ingest_hook hook,
		      void *ctx)
{
	struct coll_db_res res;
	struct coll_num seq = coll_i2s(it->seq), now = coll_i2s(it->received_at);
	int r;

	/* The seq advance is the idempotency gate: the row lock makes two
	 * collectors receiving the same report agree on one winner. */
	const json_t *host = json_object_get(it->report, "host");
	const json_t *iv = json_object_get(it->report, "interval_s");
	int64_t interval = json_is_integer(iv) ? json_integer_value(iv) : 300;
	if (interval < 1)
		interval = 300;
	r = COLL_Q(s,
		   "UPDATE agents SET last_seq = ?, last_report_at = ?, hostname = COALESCE(?, "
		   "hostname),"
		   " agent_version = COALESCE(?, agent_version), interval_s = ? WHERE id = ? AND"
		   " last_seq < CAST(? AS BIGINT) AND CAST(? AS BIGINT) - last_seq "
		   "<= " COLL_SEQ_MAX_JUMP_SQL " AND revoked_at IS NULL RETURNING (SELECT COUNT(*)"
		   " FROM alerts x WHERE x.agent_id = agents.id AND x.closed_at IS NULL)",
		   &res, seq.s, now.s, coll_jstr(host, "hostname"),
		   coll_jstr(it->report, "agent_version"), coll_i2s(interval).s, it->agent.id,
		   seq.s, seq.s);
	if (r < 0)
		return r;
	int64_t changed = (int64_t)res.rows;
	it->open_alerts = changed == 1 ? coll_s2i(coll_db_val(&res, 0, 0)) : 0;
	coll_db_res_free(&res);
	if (changed != 1)
		return not_advanced(s, it, now);
	time_t gen = 0;
	const char *g = coll_jstr(it->report, "generated_at");
	if (g)
		ep_time_parse(g, &gen);
	r = COLL_Q(s,
		   "INSERT INTO reports (agent_id, seq, received_at, generated_at, body)"
		   " VALUES (?, ?, ?, ?, ?) ON CONFLICT (agent_id, seq) DO NOTHING",
		   NULL, it->agent.id, seq.s, now.s, coll_i2s((int64_t)gen).s, it->body);
	if (r < 0)
		return r;
	r = store_findings(s, it);
	if (r < 0)
		return r;
	if (hook) {
		r = hook(ctx, s, it);
		if (r < 0)
			return r;
	}
	it->result = COLL_INGEST_ACCEPTED;
	it->last_seq = it->seq;
	return 0;
}

/* One attempt at the batch's transaction. Without savepoints an item that
 * fails after it may have written sets *ret_redo (the caller rolls back and
 * runs the batch again with savepoints); -EPERM (revoked) fails before any
 * write, so it needs none. */
static int ingest_batch(struct coll_store *s, struct coll_ingest *const *items, size_t n,
			coll_ingest_hook hook, void *ctx, bool savepoints, bool *ret_redo)
{
	bool pg = coll_db_kind(s->db) == COLL_DB_PG;
	int r = coll_db_begin(s->db);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		struct coll_ingest *it = items[i];
		it->result = COLL_INGEST_PENDING;
		it->error = 0;
		if (savepoints) {
			/* PostgreSQL: one round trip per item (COMMIT releases the
			 * last savepoint); SQLite: cached statements */
			if (pg)
				r = coll_db_exec(s->db,
						 i == 0 ? "SAVEPOINT item"
							: "RELEASE SAVEPOINT item; SAVEPOINT item");
			else {
				r = i == 0 ? 0
					   : coll_sql_query(s, "RELEASE SAVEPOINT item", NULL, 0,
							    NULL);
				if (r == 0)
					r = coll_sql_query(s, "SAVEPOINT item", NULL, 0, NULL);
			}
			if (r < 0)
				return r;
		}
		r = ingest_one(s, it, hook, ctx);
		if (r < 0) {
			if (coll_store_unavailable(r))
				return r; /* the connection is gone or timed out: all fail */
			if (!savepoints && r != -EPERM) {
				*ret_redo = true;
				return r;
			}
			it->result = COLL_INGEST_FAILED;
			it->error = r;
			if (savepoints) {
				r = coll_db_exec(s->db, "ROLLBACK TO SAVEPOINT item");
				if (r < 0)
					return r;
			}
		}
	}
	return coll_db_commit(s->db);
}

int coll_store_ingest_batch(struct coll_store *s, struct coll_ingest *const *items, size_t n,
			    coll_ingest_hook hook, void *ctx)
{
	bool redo = false;
	int r = ingest_batch(s, items, n, hook, ctx, false, &redo);
	if (r < 0 && redo) {
		coll_db_rollback(s->db);
		r = ingest_batch(s, items, n, hook, ctx, true, &redo);
	}
	if (r < 0)
		goto fail;
	return 0;
fail:
	snprintf(s->err, sizeof(s->err), "%s", coll_db_error(s->db));
	coll_db_rollback(s->db);
	for (size_t i = 0; i < n; i++) {
		items[i]->result = COLL_INGEST_FAILED;
		items[i]->error = r;
	}
	return r;
}

/* ---- retention --------------------------------------------------------------------- */

#define RETENTION_CHUNK "5000"

/* The bound below which at most RETENTION_CHUNK rows of an ordered column
 * lie (sql: "... WHERE col < cutoff ORDER BY col LIMIT 1 OFFSET chunk"),
 * or cutoff when fewer are left. */
static int chunk_bound(struct coll_store *s, const char *sql, int64_t cutoff, int64_t *ret)
{
	struct coll_db_res res;
	int r = COLL_Q(s, sql, &res, coll_i2s(cutoff).s);
	if (r < 0)
		return r;
	*ret = res.rows ? coll_s2i(coll_db_val(&res, 0, 0)) : cutoff;
	coll_db_res_free(&res);
	return 0;
}

/* Deletes old rows chunk by chunk, each chunk its own short transaction, so
 * that ingest (which queues for the same write lock) is never held up for
 * long. rollup: also roll the samples of each chunk up by hour first. */
static int retire(struct coll_store *s, const char *bound_sql, const char *rollup_sql,
		  const char *delete_sql, int64_t cutoff)
{
	for (;;) {
		int64_t b;
		int r = chunk_bound(s, bound_sql, cutoff, &b);
		if (r < 0)
			return r;
		struct coll_num bs = coll_i2s(b);
		struct coll_db_res res = {0};
		r = coll_db_begin(s->db);
		if (r == 0 && rollup_sql)
			r = COLL_Q(s, rollup_sql, NULL, bs.s);
		if (r == 0)
			r = COLL_Q(s, delete_sql, &res, bs.s);
		int64_t deleted = res.changes;
		coll_db_res_free(&res);
		if (r == 0 && deleted == 0 && b < cutoff) {
			/* more than a chunk share one value: take them all */
			bs = coll_i2s(b + 1);
			if (rollup_sql)
				r = COLL_Q(s, rollup_sql, NULL, bs.s);
			if (r == 0)
				r = COLL_Q(s, delete_sql, NULL, bs.s);
		}
		if (r == 0)
			r = coll_db_commit(s->db);
		if (r < 0) {
			coll_db_rollback(s->db);
			return r;
		}
		if (b >= cutoff)
			return 0;
	}
}

int coll_store_retention(struct coll_store *s, int64_t now, int64_t keep_raw_s,
			 int64_t keep_rollup_s)
{
	struct coll_num roll_cut = coll_i2s(now - keep_rollup_s),
			raw_cut = coll_i2s(now - keep_raw_s);
	/* samples, rollups and score history: store/partitions.c */
	int r = coll_store_history_retention(s, now, keep_raw_s, keep_rollup_s, NULL);
	if (r == 0)
		r = retire(s,
			   "SELECT received_at FROM reports WHERE received_at < CAST(? AS BIGINT)"
			   " ORDER BY received_at LIMIT 1 OFFSET " RETENTION_CHUNK,
			   NULL, "DELETE FROM reports WHERE received_at < CAST(? AS BIGINT)",
			   now - keep_raw_s);
	if (r == 0)
		r = COLL_Q(
			s,
			"DELETE FROM outbox WHERE (sent_at IS NOT NULL OR dead_at IS NOT NULL) AND"
			" created_at < CAST(? AS BIGINT)",
			NULL, raw_cut.s);
	if (r == 0)
		r = COLL_Q(
			s,
			"DELETE FROM alerts WHERE closed_at IS NOT NULL AND closed_at < CAST(? AS "
			"BIGINT)",
			NULL, roll_cut.s);
	return r;
}
