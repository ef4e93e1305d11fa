/* Store queries: history for charts (store.h, docs/dashboard.md "History
 * API"): a host's score per hour, its metric samples and their hourly
 * rollups, per customer and fleet band counts per hour. Every series is cut
 * into at most COLL_SERIES_MAX_POINTS buckets whatever the range; customer
 * scope is checked here, in the queries. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store/sql.h"
#include "collector/store/store.h"
#include "erpulse/util.h"

#define HOUR      3600
#define FLEET_ALL "*" /* fleet_history's customer_id for the sum of all customers */

static const char *const score_names[] = {"score",        "score.database", "score.storage",
					  "score.errors", "score.patches",  "score.liveness"};
static const char *const fleet_names[] = {"score",    "healthy", "at_risk",
					  "critical", "unknown", "no_score"};

int64_t coll_series_step(int64_t from, int64_t to, int64_t step)
{
	int64_t span = to > from ? to - from : 1;
	int64_t min = (span + COLL_SERIES_MAX_POINTS - 1) / COLL_SERIES_MAX_POINTS;
	if (step < min)
		step = min;
	if (step < 60)
		step = 60;
	return step;
}

/* ---- writing -------------------------------------------------------------------------- */

int coll_store_history_score(struct coll_store *s, const char *agent_id, int64_t ts, int score,
			     const int categories[COLL_HISTORY_CATEGORIES])
{
	struct coll_num c[COLL_HISTORY_CATEGORIES];
	for (size_t i = 0; i < COLL_HISTORY_CATEGORIES; i++)
		c[i] = coll_i2s(categories[i]);
	/* one row per hour: the hour's worst score (what a person wants to see
	 * in a trend is the dip, not an average that hides it) */
	return COLL_Q(s,
		      "INSERT INTO score_history (agent_id, ts, score, cat_database, cat_storage,"
		      " cat_errors, cat_patches, cat_liveness) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
		      " ON CONFLICT (agent_id, ts) DO UPDATE SET"
		      " score = CASE WHEN excluded.score < score_history.score THEN excluded.score"
		      " ELSE score_history.score END, cat_database = excluded.cat_database,"
		      " cat_storage = excluded.cat_storage, cat_errors = excluded.cat_errors,"
		      " cat_patches = excluded.cat_patches, cat_liveness = excluded.cat_liveness",
		      NULL, agent_id, coll_i2s(ts - ts % HOUR).s, coll_i2s(score).s, c[0].s, c[1].s,
		      c[2].s, c[3].s, c[4].s);
}

int coll_store_history_maintain(struct coll_store *s, int64_t now, int64_t keep_s)
{
	struct coll_num hour = coll_i2s(now - now % HOUR), cut = coll_i2s(now - keep_s);
	int r = coll_db_begin(s->db);
	if (r < 0)
		goto fail;
	/* the customer's score is its worst production host (docs/scoring.md);
	 * the worst of all when none is production */
	r = COLL_Q(s,
		   "INSERT INTO fleet_history (customer_id, ts, score, healthy, at_risk, critical,"
		   " unknown, no_score) SELECT customer_id, CAST(? AS BIGINT),"
		   " COALESCE(MIN(CASE WHEN production = 1 THEN score END), MIN(score)),"
		   " SUM(CASE WHEN band = 'healthy' THEN 1 ELSE 0 END),"
		   " SUM(CASE WHEN band = 'at_risk' THEN 1 ELSE 0 END),"
		   " SUM(CASE WHEN band = 'critical' THEN 1 ELSE 0 END),"
		   " SUM(CASE WHEN band = 'unknown' THEN 1 ELSE 0 END),"
		   " SUM(CASE WHEN band IS NULL THEN 1 ELSE 0 END)"
		   " FROM agents WHERE revoked_at IS NULL GROUP BY customer_id"
		   " ON CONFLICT (customer_id, ts) DO UPDATE SET score = excluded.score,"
		   " healthy = excluded.healthy, at_risk = excluded.at_risk,"
		   " critical = excluded.critical, unknown = excluded.unknown,"
		   " no_score = excluded.no_score",
		   NULL, hour.s);
	/* and the whole fleet's row, so that a vendor's fleet chart reads one
	 * row per hour instead of one per customer */
	if (r == 0)
		r = COLL_Q(s,
			   "INSERT INTO fleet_history (customer_id, ts, score, healthy, at_risk,"
			   " critical, unknown, no_score) SELECT '" FLEET_ALL "', ts, MIN(score),"
			   " SUM(healthy), SUM(at_risk), SUM(critical), SUM(unknown), SUM(no_score)"
			   " FROM fleet_history WHERE ts = CAST(? AS BIGINT) AND customer_id <> "
			   "'" FLEET_ALL "' GROUP BY ts ON CONFLICT (customer_id, ts) DO UPDATE SET"
			   " score = excluded.score, healthy = excluded.healthy,"
			   " at_risk = excluded.at_risk, critical = excluded.critical,"
			   " unknown = excluded.unknown, no_score = excluded.no_score",
			   NULL, hour.s);
	if (r == 0)
		r = COLL_Q(s, "DELETE FROM fleet_history WHERE ts < CAST(? AS BIGINT)", NULL,
			   cut.s);
	/* score_history: coll_store_history_retention (partitions on PostgreSQL) */
	if (r == 0)
		r = coll_db_commit(s->db);
	if (r == 0)
		return 0;
	coll_db_rollback(s->db);
fail:
	snprintf(s->err, sizeof(s->err), "%s", coll_db_error(s->db));
	return r;
}

/* ---- reading -------------------------------------------------------------------------- */

/* Buckets rows (t, sum, n, min) ordered by t into {name, t: [...], v: [...]}:
 * v = sum / n per bucket (worst: the bucket's minimum instead). Column
 * col_* of res; NULL values are skipped. */
struct bucketing {
	const struct coll_db_res *res;
	int col_t, col_sum, col_n; /* col_n -1: every row counts 1 */
	int64_t from, step;
	bool worst;
};

static json_t *bucket(const char *name, const struct bucketing *b)
{
	json_t *o = json_object(), *t = json_array(), *v = json_array();
	int64_t cur = INT64_MIN;
	double sum = 0, n = 0, min = 0;
	if (!o || !t || !v)
		goto fail;
	for (size_t i = 0; i <= b->res->rows; i++) {
		bool end = i == b->res->rows;
		const char *vs = end ? NULL : coll_db_val(b->res, i, b->col_sum);
		if (!end && !vs)
			continue;
		int64_t ts = end ? INT64_MAX : coll_s2i(coll_db_val(b->res, i, b->col_t));
		int64_t k = end ? INT64_MAX : b->from + (ts - b->from) / b->step * b->step;
		if (k != cur && n > 0) {
			double val = b->worst ? min : sum / n;
			if (json_array_append_new(t, json_integer(cur)) < 0 ||
			    json_array_append_new(v, json_real(round(val * 1000) / 1000)) < 0)
				goto fail;
			n = sum = 0;
		}
		if (end)
			break;
		double x = strtod(vs, NULL);
		double cnt = b->col_n < 0 ? 1 : strtod(coll_db_val(b->res, i, b->col_n), NULL);
		double one = cnt > 0 ? x / cnt : x;
		if (n == 0 || one < min)
			min = one;
		cur = k;
		sum += x;
		n += cnt;
	}
	if (json_object_set_new(o, "name", json_string(name)) < 0 ||
	    json_object_set_new(o, "t", t) < 0) {
		t = NULL;
		goto fail;
	}
	t = NULL;
	if (json_object_set_new(o, "v", v) < 0) {
		v = NULL;
		goto fail;
	}
	return o;
fail:
	json_decref(o);
	json_decref(t);
	json_decref(v);
	return NULL;
}

static int frame(const struct coll_series_query *q, json_t *series, json_t **ret)
{
	json_t *o = json_pack("{sIsIsIso}", "from", (json_int_t)q->from, "to", (json_int_t)q->to,
			      "step", (json_int_t)q->step, "series", series);
	if (!o)
		return -ENOMEM;
	*ret = o;
	return 0;
}

static int index_of(const char *const *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], name) == 0)
			return (int)i;
	return -1;
}

/* A sample series: raw samples plus the hourly rollups of older ones. */
static int sample_series(struct coll_store *s, const char *id, const char *name,
			 const struct coll_series_query *q, json_t *out)
{
	struct coll_db_res res;
	struct coll_num from = coll_i2s(q->from), to = coll_i2s(q->to);
	/* the series' id once (a scalar subquery: each table's key range, and
	 * its time partitions pruned on PostgreSQL) */
	int r = COLL_Q(s,
		       "SELECT ts, value, 1 FROM samples WHERE series_id = (SELECT id FROM series"
		       " WHERE agent_id = ? AND name = ?) AND ts >= CAST(? AS BIGINT) AND"
		       " ts < CAST(? AS BIGINT) UNION ALL SELECT hour, vsum, n FROM rollups WHERE"
		       " series_id = (SELECT id FROM series WHERE agent_id = ? AND name = ?) AND"
		       " hour >= CAST(? AS BIGINT) AND hour < CAST(? AS BIGINT) ORDER BY 1",
		       &res, id, name, from.s, to.s, id, name, from.s, to.s);
	if (r < 0)
		return r;
	struct bucketing b = {&res, 0, 1, 2, q->from, q->step, false};
	json_t *o = bucket(name, &b);
	coll_db_res_free(&res);
	return o && json_array_append_new(out, o) == 0 ? 0 : -ENOMEM;
}

/* 0 when sql (parameters: id, the scope's customer twice) finds a row,
 * -ENOENT when it does not: out of scope answers like missing. */
static int in_scope(struct coll_store *s, const char *sql, const char *id,
		    const struct coll_scope *scope)
{
	struct coll_db_res res;
	int r = COLL_Q(s, sql, &res, id, scope->customer_id, scope->customer_id);
	if (r < 0)
		return r;
	size_t found = res.rows;
	coll_db_res_free(&res);
	return found ? 0 : -ENOENT;
}

/* The series names a host has: its score's and every sampled object's
 * that still has history (a series row outlives its rows). */
static int host_names(struct coll_store *s, const char *id, json_t **ret)
{
	struct coll_db_res res;
	int r = COLL_Q(s,
		       "SELECT x.name FROM series x WHERE x.agent_id = ? AND (EXISTS (SELECT 1"
		       " FROM samples WHERE series_id = x.id) OR EXISTS (SELECT 1 FROM rollups"
		       " WHERE series_id = x.id)) ORDER BY 1",
		       &res, id);
	if (r < 0)
		return r;
	json_t *a = json_array();
	for (size_t i = 0; a && i < EP_ARRAY_SIZE(score_names); i++)
		json_array_append_new(a, json_string(score_names[i]));
	for (size_t i = 0; a && i < res.rows; i++)
		json_array_append_new(a, json_string(coll_db_val(&res, i, 0)));
	coll_db_res_free(&res);
	if (!a)
		return -ENOMEM;
	*ret = json_pack("{so}", "names", a);
	return *ret ? 0 : -ENOMEM;
}

int coll_store_host_series(struct coll_store *s, const struct coll_scope *scope, const char *id,
			   const struct coll_series_query *q, json_t **ret)
{
	if (!scope || !q)
		return -EINVAL;
	int r = in_scope(s,
			 "SELECT 1 FROM agents WHERE id = ? AND (CAST(? AS TEXT) IS NULL OR"
			 " customer_id = ?)",
			 id, scope);
	if (r < 0)
		return r;
	if (q->n_names == 0)
		return host_names(s, id, ret);
	json_t *out = json_array();
	if (!out)
		return -ENOMEM;
	bool want_score = false;
	for (size_t i = 0; i < q->n_names; i++)
		if (index_of(score_names, EP_ARRAY_SIZE(score_names), q->names[i]) >= 0)
			want_score = true;
	struct coll_db_res sres = {0};
	if (want_score) {
		r = COLL_Q(s,
			   "SELECT ts, score, cat_database, cat_storage, cat_errors, cat_patches,"
			   " cat_liveness FROM score_history WHERE agent_id = ? AND"
			   " ts >= CAST(? AS BIGINT) AND ts < CAST(? AS BIGINT) ORDER BY ts",
			   &sres, id, coll_i2s(q->from).s, coll_i2s(q->to).s);
		if (r < 0)
			goto out;
	}
	for (size_t i = 0; i < q->n_names; i++) {
		int k = index_of(score_names, EP_ARRAY_SIZE(score_names), q->names[i]);
		if (k >= 0) {
			struct bucketing b = {&sres, 0, 1 + k, -1, q->from, q->step, true};
			json_t *o = bucket(q->names[i], &b);
			r = o && json_array_append_new(out, o) == 0 ? 0 : -ENOMEM;
		} else
			r = sample_series(s, id, q->names[i], q, out);
		if (r < 0)
			goto out;
	}
	r = frame(q, out, ret);
	out = NULL;
out:
	coll_db_res_free(&sres);
	json_decref(out);
	return r;
}

/* Customer or fleet: a customer's rows of fleet_history; the fleet is the
 * scope's customer for a viewer, the FLEET_ALL rows for a vendor. */
static int fleet(struct coll_store *s, const char *scope_customer, const char *customer,
		 const struct coll_series_query *q, json_t **ret)
{
	struct coll_db_res res;
	const char *c = customer ? customer : scope_customer ? scope_customer : FLEET_ALL;
	int r = COLL_Q(s,
		       "SELECT ts, score, healthy, at_risk, critical, unknown, no_score FROM"
		       " fleet_history WHERE customer_id = ? AND ts >= CAST(? AS BIGINT) AND"
		       " ts < CAST(? AS BIGINT) ORDER BY ts",
		       &res, c, coll_i2s(q->from).s, coll_i2s(q->to).s);
	if (r < 0)
		return r;
	json_t *out = json_array();
	r = out ? 0 : -ENOMEM;
	for (size_t i = 0; r == 0 && i < q->n_names; i++) {
		int k = index_of(fleet_names, EP_ARRAY_SIZE(fleet_names), q->names[i]);
		if (k < 0)
			continue; /* unknown names answer nothing, as for hosts */
		struct bucketing b = {&res, 0, 1 + k, -1, q->from, q->step, k == 0};
		json_t *o = bucket(q->names[i], &b);
		r = o && json_array_append_new(out, o) == 0 ? 0 : -ENOMEM;
	}
	coll_db_res_free(&res);
	if (r == 0) {
		r = frame(q, out, ret);
		out = NULL;
	}
	json_decref(out);
	return r;
}

int coll_store_customer_series(struct coll_store *s, const struct coll_scope *scope,
			       const char *customer_id, const struct coll_series_query *q,
			       json_t **ret)
{
	if (!scope || !q)
		return -EINVAL;
	int r = in_scope(s,
			 "SELECT 1 FROM customers WHERE id = ? AND (CAST(? AS TEXT) IS NULL OR"
			 " id = ?)",
			 customer_id, scope);
	if (r < 0)
		return r;
	return fleet(s, scope->customer_id, customer_id, q, ret);
}

int coll_store_fleet_series(struct coll_store *s, const struct coll_scope *scope,
			    const struct coll_series_query *q, json_t **ret)
{
	if (!scope || !q)
		return -EINVAL;
	return fleet(s, scope->customer_id, NULL, q, ret);
}
