/* Store queries: the notification outbox's rows -- add, claim, sent,
 * failed, depth (store.h). The delivery loop is collector/notify/outbox.c. */
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

/* ---- outbox ---------------------------------------------------------------------------- */

void coll_outbox_rows_free(struct coll_outbox_row *rows, size_t n)
{
	for (size_t i = 0; rows && i < n; i++) {
		free(rows[i].channel);
		free(rows[i].payload);
	}
	free(rows);
}

int coll_store_outbox_add(struct coll_store *s, const char *channel, const char *payload,
			  int64_t now)
{
	int r = COLL_Q(
		s, "INSERT INTO outbox (channel, payload, created_at, next_at) VALUES (?, ?, ?, ?)",
		NULL, channel, payload, coll_i2s(now).s, coll_i2s(now).s);
	if (r == 0)
		s->outbox_added++;
	return r;
}

int coll_store_outbox_claim(struct coll_store *s, const char *worker, int64_t now, int64_t lease_s,
			    size_t max, struct coll_outbox_row **ret, size_t *ret_n)
{
	struct coll_db_res res;
	struct coll_num n = coll_i2s(now), until = coll_i2s(now + lease_s),
			lim = coll_i2s((int64_t)max);
	int r;
	*ret = NULL;
	*ret_n = 0;
	/* A row is due when unsent, not dead, its retry time has come and no
	 * live lease holds it. PostgreSQL's SKIP LOCKED lets several collectors
	 * claim side by side; SQLite's single UPDATE runs under the one write
	 * lock, which is the same guarantee for one file. */
	if (coll_db_kind(s->db) == COLL_DB_PG)
		r = COLL_Q(
			s,
			"UPDATE outbox SET lease_until = ?, claimed_by = ?, attempts = attempts + 1"
			" WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NULL AND dead_at IS"
			" NULL AND next_at <= CAST(? AS BIGINT) AND (lease_until IS NULL OR"
			" lease_until < CAST(? AS BIGINT)) ORDER BY next_at, id LIMIT"
			" CAST(? AS BIGINT) FOR UPDATE SKIP LOCKED)"
			" RETURNING id, channel, payload, attempts",
			&res, until.s, worker, n.s, n.s, lim.s);
	else
		r = COLL_Q(
			s,
			"UPDATE outbox SET lease_until = ?, claimed_by = ?, attempts = attempts + 1"
			" WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NULL AND dead_at IS"
			" NULL AND next_at <= CAST(? AS BIGINT) AND (lease_until IS NULL OR"
			" lease_until < CAST(? AS BIGINT)) ORDER BY next_at, id LIMIT"
			" CAST(? AS BIGINT)) RETURNING id, channel, payload, attempts",
			&res, until.s, worker, n.s, n.s, lim.s);
	if (r < 0)
		return r;
	if (res.rows == 0)
		goto out;
	struct coll_outbox_row *rows = calloc(res.rows, sizeof(*rows));
	if (!rows) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < res.rows; i++) {
		rows[i].id = coll_s2i(coll_db_val(&res, i, 0));
		rows[i].channel = strdup(coll_db_val(&res, i, 1));
		rows[i].payload = strdup(coll_db_val(&res, i, 2));
		rows[i].attempts = (int)coll_s2i(coll_db_val(&res, i, 3));
		if (!rows[i].channel || !rows[i].payload) {
			coll_outbox_rows_free(rows, res.rows);
			r = -ENOMEM;
			goto out;
		}
	}
	*ret = rows;
	*ret_n = res.rows;
out:
	coll_db_res_free(&res);
	return r;
}

int coll_store_outbox_sent(struct coll_store *s, int64_t id, const char *worker, int64_t now)
{
	return COLL_Q(
		s,
		"UPDATE outbox SET sent_at = ?, lease_until = NULL, last_error = NULL WHERE id = ?"
		" AND claimed_by = ?",
		NULL, coll_i2s(now).s, coll_i2s(id).s, worker);
}

int coll_store_outbox_failed(struct coll_store *s, int64_t id, const char *worker, int64_t next_at,
			     bool dead, const char *error)
{
	struct coll_num at = coll_i2s(next_at);
	return COLL_Q(s,
		      "UPDATE outbox SET next_at = ?, lease_until = NULL, last_error = ?, dead_at ="
		      " CASE WHEN ? = '1' THEN CAST(? AS BIGINT) ELSE NULL END WHERE id = ? AND"
		      " claimed_by = ?",
		      NULL, at.s, error, dead ? "1" : "0", at.s, coll_i2s(id).s, worker);
}

int coll_store_outbox_depth(struct coll_store *s, int64_t *ret)
{
	struct coll_db_res res;
	int r = coll_sql_query(
		s, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND dead_at IS NULL", NULL, 0,
		&res);
	if (r < 0)
		return r;
	*ret = coll_s2i(coll_db_val(&res, 0, 0));
	coll_db_res_free(&res);
	return 0;
}
