/* Store queries: ingest of accepted reports (group commit, savepoints;
 * on PostgreSQL in rounds, one statement per table) (store.h). Retention,
 * the stored bodies and their dictionary: reports_keep.c. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store/codec.h"
#include "collector/store/dayparts.h"
#include "collector/store/sql.h"
#include "collector/store/store.h"
#include "erpulse/crypto.h"
#include "erpulse/report.h"
#include "erpulse/util.h"

/* The report's findings, written only when they differ from the stored
 * ones (their hash, migration 10): seq is the report that last changed them.
 * The comparison is the upsert's own, on the row it locks, so a collector
 * that waited for another's report of the same agent compares with what
 * that one committed. */
/* The hash of the findings text: the checker's when it made the text. */
static int64_t findings_hash(const struct coll_ingest *it, const char *text)
{
	return text == it->findings_json && it->has_findings_hash ? it->findings_hash
								  : coll_text_hash(text);
}

static int store_findings(struct coll_store *s, const struct coll_ingest *it)
{
	char *owned = NULL;
	const char *text = it->findings_json;
	if (!text) {
		text = owned = coll_store_findings_json(it->report);
		if (!text)
			return -ENOMEM;
	}
	int r = COLL_Q(
		s,
		"INSERT INTO current_findings (agent_id, seq, findings, hash) VALUES (?, ?, ?,"
		" ?) ON CONFLICT (agent_id) DO UPDATE SET seq = excluded.seq, findings ="
		" excluded.findings, hash = excluded.hash WHERE current_findings.hash <>"
		" excluded.hash",
		NULL, it->agent.id, coll_i2s(it->seq).s, text, coll_i2s(findings_hash(it, text)).s);
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
	char *stored = NULL;
	size_t stored_len = 0;
	r = coll_store_report_body(s, it->agent.id, it->seq, &stored, &stored_len);
	if (r < 0 && r != -ENOENT && r != -EBADMSG && r != -EFBIG)
		return r;
	/* a body no longer kept, or unreadable, is no proof of a duplicate */
	bool same = r == 0 && stored_len == it->len && memcmp(stored, it->body, it->len) == 0;
	free(stored);
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

/* The report's interval (300 s when absent or invalid) and generated_at. */
static int64_t report_interval(const struct coll_ingest *it)
{
	const json_t *iv = json_object_get(it->report, "interval_s");
	int64_t interval = json_is_integer(iv) ? json_integer_value(iv) : 300;
	return interval < 1 ? 300 : interval;
}

static int64_t report_generated(const struct coll_ingest *it)
{
	time_t gen = 0;
	const char *g = coll_jstr(it->report, "generated_at");
	if (g)
		ep_time_parse(g, &gen);
	return (int64_t)gen;
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
	r = COLL_Q(s,
		   "UPDATE agents SET last_seq = ?, last_report_at = ?, hostname = COALESCE(?, "
		   "hostname),"
		   " agent_version = COALESCE(?, agent_version), interval_s = ? WHERE id = ? AND"
		   " last_seq < CAST(? AS BIGINT) AND CAST(? AS BIGINT) - last_seq "
		   "<= " COLL_SEQ_MAX_JUMP_SQL " AND revoked_at IS NULL RETURNING open_alerts",
		   &res, seq.s, now.s, coll_jstr(host, "hostname"),
		   coll_jstr(it->report, "agent_version"), coll_i2s(report_interval(it)).s,
		   it->agent.id, seq.s, seq.s);
	if (r < 0)
		return r;
	int64_t changed = (int64_t)res.rows;
	/* the counter kept by triggers (migration 9), read from the row the
	 * gate locked: what the last writer committed */
	it->open_alerts = changed == 1 ? coll_s2i(coll_db_val(&res, 0, 0)) : 0;
	coll_db_res_free(&res);
	if (changed != 1)
		return not_advanced(s, it, now);
	int64_t gen = report_generated(it);
	void *owned = NULL;
	const void *stored = it->stored;
	size_t stored_len = it->stored_len;
	if (!stored && it->body) { /* no body: the NOT NULL constraint refuses it */
		r = coll_codec_compress(it->body, it->len, &owned, &stored_len);
		if (r < 0)
			return r;
		stored = owned;
	}
	const char *const params[] = {
		it->agent.id,        seq.s, now.s, coll_i2s(gen).s, COLL_CODEC_ZSTD_SQL,
		(const char *)stored};
	const size_t lens[] = {COLL_DB_TEXT, COLL_DB_TEXT, COLL_DB_TEXT,
			       COLL_DB_TEXT, COLL_DB_TEXT, stored_len};
	/* no conflict target: on PostgreSQL the key also holds received_at */
	r = coll_db_query_bin(
		s->db,
		"INSERT INTO reports (agent_id, seq, received_at, generated_at, codec,"
		" body) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
		params, lens, EP_ARRAY_SIZE(params), NULL);
	free(owned);
	if (r < 0) {
		snprintf(s->err, sizeof(s->err), "%s", coll_db_error(s->db));
		return r;
	}
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

/* ---- PostgreSQL: one statement per table and round ------------------------------- */

/* The batch runs in rounds, each agent at most once per round (its first
 * report in round 0, its second in round 1, ...): ON CONFLICT DO UPDATE and
 * UPDATE ... FROM touch a row at most once per statement, and a report's
 * analysis reads what the agent's report before it wrote. Per round: the
 * seq gate of all its reports in one UPDATE (the row locks agree on one
 * winner per report between collectors, as the per-report UPDATE did), the
 * advanced ones' bodies in one INSERT and their findings in one upsert
 * (deferred: no answer awaited), then per report the duplicate/conflict
 * check of those that did not advance and the hook. */
struct round {
	size_t *v; /* indexes into the batch, sorted by agent id (one lock order) */
	size_t n;
	bool *advanced;
};

static int by_agent(const void *a, const void *b, void *arg)
{
	struct coll_ingest *const *items = arg;
	return strcmp(items[*(const size_t *)a]->agent.id, items[*(const size_t *)b]->agent.id);
}

/* Runs sql with the n arrays as its parameters (binary). */
static int query_arrays(struct coll_store *s, const char *sql, struct coll_db_array *a, size_t n,
			struct coll_db_res *ret)
{
	const char *params[8];
	size_t lens[8];
	int r = 0;
	for (size_t i = 0; i < n; i++) {
		params[i] = coll_db_array_param(&a[i], &lens[i]);
		if (!params[i])
			r = a[i].err ? a[i].err : -ENOMEM;
	}
	if (r == 0) {
		r = coll_db_query_bin(s->db, sql, params, lens, n, ret);
		if (r < 0)
			snprintf(s->err, sizeof(s->err), "%s", coll_db_error(s->db));
	}
	for (size_t i = 0; i < n; i++)
		coll_db_array_free(&a[i]);
	return r;
}

/* The seq gate of a round's reports: rd->advanced[k] for those whose seq
 * advanced (their open_alerts read from the row the gate locked). */
static int gate_round(struct coll_store *s, struct coll_ingest *const *items, struct round *rd)
{
	struct coll_db_array a[6];
	coll_db_array_init(&a[0], COLL_DB_ARRAY_TEXT);
	coll_db_array_init(&a[1], COLL_DB_ARRAY_INT8);
	coll_db_array_init(&a[2], COLL_DB_ARRAY_INT8);
	coll_db_array_init(&a[3], COLL_DB_ARRAY_TEXT);
	coll_db_array_init(&a[4], COLL_DB_ARRAY_TEXT);
	coll_db_array_init(&a[5], COLL_DB_ARRAY_INT8);
	for (size_t k = 0; k < rd->n; k++) {
		const struct coll_ingest *it = items[rd->v[k]];
		coll_db_array_add_text(&a[0], it->agent.id);
		coll_db_array_add_int(&a[1], it->seq);
		coll_db_array_add_int(&a[2], it->received_at);
		coll_db_array_add_text(&a[3],
				       coll_jstr(json_object_get(it->report, "host"), "hostname"));
		coll_db_array_add_text(&a[4], coll_jstr(it->report, "agent_version"));
		coll_db_array_add_int(&a[5], report_interval(it));
	}
	struct coll_db_res res;
	int r = query_arrays(
		s,
		"UPDATE agents a SET last_seq = v.seq, last_report_at = v.at, hostname ="
		" COALESCE(v.hostname, a.hostname), agent_version = COALESCE(v.version,"
		" a.agent_version), interval_s = v.interval_s FROM unnest(CAST(? AS text[]),"
		" CAST(? AS bigint[]), CAST(? AS bigint[]), CAST(? AS text[]), CAST(? AS text[]),"
		" CAST(? AS bigint[])) AS v(id, seq, at, hostname, version, interval_s) WHERE"
		" a.id = v.id AND a.last_seq < v.seq AND v.seq - a.last_seq "
		"<= " COLL_SEQ_MAX_JUMP_SQL
		" AND a.revoked_at IS NULL RETURNING a.id, a.open_alerts",
		a, 6, &res);
	if (r < 0)
		return r;
	for (size_t i = 0; i < res.rows; i++)
		for (size_t k = 0; k < rd->n; k++) {
			struct coll_ingest *it = items[rd->v[k]];
			if (strcmp(it->agent.id, coll_db_val(&res, i, 0)) != 0)
				continue;
			rd->advanced[k] = true;
			it->open_alerts = coll_s2i(coll_db_val(&res, i, 1));
			break;
		}
	coll_db_res_free(&res);
	return 0;
}

/* The bodies and findings of a round's advanced reports: one INSERT and
 * one upsert, deferred. */
static int store_round(struct coll_store *s, struct coll_ingest *const *items,
		       const struct round *rd)
{
	struct coll_db_array b[5], f[4];
	char **owned = calloc(rd->n ? rd->n : 1, sizeof(*owned));
	size_t n = 0;
	int r = 0;
	if (!owned)
		return -ENOMEM;
	coll_db_array_init(&b[0], COLL_DB_ARRAY_TEXT);
	coll_db_array_init(&b[1], COLL_DB_ARRAY_INT8);
	coll_db_array_init(&b[2], COLL_DB_ARRAY_INT8);
	coll_db_array_init(&b[3], COLL_DB_ARRAY_INT8);
	coll_db_array_init(&b[4], COLL_DB_ARRAY_BYTEA);
	coll_db_array_init(&f[0], COLL_DB_ARRAY_TEXT);
	coll_db_array_init(&f[1], COLL_DB_ARRAY_INT8);
	coll_db_array_init(&f[2], COLL_DB_ARRAY_TEXT);
	coll_db_array_init(&f[3], COLL_DB_ARRAY_INT8);
	for (size_t k = 0; k < rd->n; k++) {
		const struct coll_ingest *it = items[rd->v[k]];
		if (!rd->advanced[k])
			continue;
		const char *text = it->findings_json;
		if (!text && !(text = owned[k] = coll_store_findings_json(it->report))) {
			r = -ENOMEM;
			break;
		}
		coll_db_array_add_text(&b[0], it->agent.id);
		coll_db_array_add_int(&b[1], it->seq);
		coll_db_array_add_int(&b[2], it->received_at);
		coll_db_array_add_int(&b[3], report_generated(it));
		/* no body (coll_store_ingest_batch compressed what it could): the
		 * NOT NULL constraint refuses the statement, the batch runs again
		 * per report and this one fails alone */
		coll_db_array_add(&b[4], it->stored, it->stored_len);
		coll_db_array_add_text(&f[0], it->agent.id);
		coll_db_array_add_int(&f[1], it->seq);
		coll_db_array_add_text(&f[2], text);
		coll_db_array_add_int(&f[3], findings_hash(it, text));
		n++;
	}
	/* no conflict target: on PostgreSQL the key also holds received_at */
	if (r == 0 && n)
		r = query_arrays(
			s,
			"INSERT INTO reports (agent_id, seq, received_at, generated_at,"
			" codec, body) SELECT v.id, v.seq, v.at, v.gen, " COLL_CODEC_ZSTD_SQL
			", v.body FROM unnest(CAST(? AS text[]), CAST(? AS bigint[]), CAST(? AS"
			" bigint[]), CAST(? AS bigint[]), CAST(? AS bytea[])) AS v(id, seq, at,"
			" gen, body) ON CONFLICT DO NOTHING",
			b, 5, NULL);
	/* see store_findings */
	if (r == 0 && n)
		r = query_arrays(
			s,
			"INSERT INTO current_findings (agent_id, seq, findings, hash) SELECT"
			" * FROM unnest(CAST(? AS text[]), CAST(? AS bigint[]), CAST(? AS"
			" text[]), CAST(? AS bigint[])) ON CONFLICT (agent_id) DO UPDATE SET"
			" seq = excluded.seq, findings = excluded.findings, hash ="
			" excluded.hash WHERE current_findings.hash <> excluded.hash",
			f, 4, NULL);
	for (size_t i = 0; i < 5; i++)
		coll_db_array_free(&b[i]);
	for (size_t i = 0; i < 4; i++)
		coll_db_array_free(&f[i]);
	for (size_t k = 0; k < rd->n; k++)
		free(owned[k]);
	free(owned);
	return r;
}

/* The hook's writes of a round (coll_store_round_score): one array per
 * column, written by flush_round. */
_Static_assert(COLL_HISTORY_CATEGORIES == 5, "score_history's category columns");
struct coll_round_writes {
	struct coll_db_array score[8]; /* agent, hour, score, 5 categories */
	struct coll_db_array an[7]; /* agent, then hash and text of score, forecasts, instances */
	size_t n_score, n_an;
	int err; /* a failed add: the round fails */
	/* the analysis state of the round's agents (prefetch_state) */
	struct coll_db_res state;
	bool have_state;
};

static void round_writes_init(struct coll_round_writes *w)
{
	memset(w, 0, sizeof(*w));
	coll_db_array_init(&w->score[0], COLL_DB_ARRAY_TEXT);
	for (size_t i = 1; i < 8; i++)
		coll_db_array_init(&w->score[i], COLL_DB_ARRAY_INT8);
	coll_db_array_init(&w->an[0], COLL_DB_ARRAY_TEXT);
	for (size_t i = 1; i < 7; i++)
		coll_db_array_init(&w->an[i], i % 2 ? COLL_DB_ARRAY_INT8 : COLL_DB_ARRAY_TEXT);
}

static void round_writes_free(struct coll_round_writes *w)
{
	if (w->have_state)
		coll_db_res_free(&w->state);
	w->have_state = false;
	for (size_t i = 0; i < 8; i++)
		coll_db_array_free(&w->score[i]);
	for (size_t i = 0; i < 7; i++)
		coll_db_array_free(&w->an[i]);
}

int coll_store_round_score(struct coll_store *s, const char *agent_id, int64_t ts, int score,
			   const int categories[5])
{
	struct coll_round_writes *w = s->round;
	if (!w)
		return -ENOTSUP;
	int r = coll_db_array_add_text(&w->score[0], agent_id);
	r |= coll_db_array_add_int(&w->score[1], ts - ts % 3600);
	r |= coll_db_array_add_int(&w->score[2], score);
	for (size_t i = 0; i < 5; i++)
		r |= coll_db_array_add_int(&w->score[3 + i], categories[i]);
	w->n_score++;
	if (r < 0)
		w->err = -ENOMEM;
	return w->err;
}

int coll_store_round_analysis(struct coll_store *s, const char *agent_id, unsigned mask,
			      const int64_t hash[3], char *const text[3])
{
	struct coll_round_writes *w = s->round;
	if (!w)
		return -ENOTSUP;
	int r = coll_db_array_add_text(&w->an[0], agent_id);
	for (size_t i = 0; i < 3; i++) { /* NULL: that text stays */
		bool set = mask & (1u << i);
		r |= set ? coll_db_array_add_int(&w->an[1 + 2 * i], hash[i])
			 : coll_db_array_add(&w->an[1 + 2 * i], NULL, 0);
		r |= coll_db_array_add_text(&w->an[2 + 2 * i], set ? text[i] : NULL);
	}
	w->n_an++;
	if (r < 0)
		w->err = -ENOMEM;
	return w->err;
}

/* The analysis state of the agents of a round's advanced reports, read
 * once for the round after its seq gate (the rows are locked: what their
 * last writer committed), for the hook's coll_store_round_state. */
static int prefetch_state(struct coll_store *s, struct coll_ingest *const *items,
			  const struct round *rd, struct coll_round_writes *w)
{
	struct coll_db_array a[2];
	size_t n = 0;
	coll_db_array_init(&a[0], COLL_DB_ARRAY_TEXT);
	coll_db_array_init(&a[1], COLL_DB_ARRAY_TEXT);
	for (size_t k = 0; k < rd->n; k++)
		if (rd->advanced[k]) {
			coll_db_array_add_text(&a[0], items[rd->v[k]]->agent.id);
			coll_db_array_add_text(&a[1], items[rd->v[k]]->agent.customer_id);
			n++;
		}
	if (!n) {
		coll_db_array_free(&a[0]);
		coll_db_array_free(&a[1]);
		return 0;
	}
	/* and the forecasts' fit state (coll_store_round_fits): one statement
	 * for the round where each report read its own row. One key lookup
	 * per agent (LATERAL, OFFSET 0: not flattened into a join), which the
	 * generic plan of a plain join turned into a hash join over a
	 * sequential scan of all fit states on a table of a few hundred rows */
	int r = query_arrays(
		s,
		"SELECT v.id, (SELECT COUNT(*) FROM customer_thresholds t WHERE t.customer_id ="
		" v.cid), x.instances, x.score_hash, x.forecasts_hash, x.instances_hash,"
		" f.fitted_at, f.sampled_at, f.state FROM unnest(CAST(? AS text[]), CAST(? AS"
		" text[])) AS v(id, cid) LEFT JOIN agent_analysis x ON x.agent_id = v.id LEFT"
		" JOIN LATERAL (SELECT fitted_at, sampled_at, state FROM forecast_fits WHERE"
		" agent_id = v.id OFFSET 0) f ON TRUE",
		a, 2, &w->state);
	w->have_state = r == 0;
	return r;
}

/* A copy of row i's columns from..from + n - 1 of res into the one-row
 * *ret (binary values with their lengths). 0 or -ENOMEM. */
static int copy_row(const struct coll_db_res *res, size_t i, size_t from, size_t n,
		    struct coll_db_res *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->v = calloc(n, sizeof(*ret->v));
	ret->lens = res->lens ? calloc(n, sizeof(*ret->lens)) : NULL;
	if (!ret->v || (res->lens && !ret->lens)) {
		coll_db_res_free(ret);
		return -ENOMEM;
	}
	ret->rows = 1;
	ret->cols = n;
	for (size_t c = 0; c < n; c++) {
		const char *v = coll_db_val(res, i, from + c);
		size_t len = coll_db_len(res, i, from + c);
		if (ret->lens)
			ret->lens[c] = res->lens[i * res->cols + from + c];
		if (!v)
			continue;
		ret->v[c] = malloc(len + 1);
		if (!ret->v[c]) {
			coll_db_res_free(ret);
			return -ENOMEM;
		}
		memcpy(ret->v[c], v, len);
		ret->v[c][len] = '\0';
	}
	return 0;
}

int coll_store_round_state(struct coll_store *s, const char *agent_id, struct coll_db_res *ret)
{
	const struct coll_round_writes *w = s->round;
	if (!w || !w->have_state)
		return -ENOTSUP;
	for (size_t i = 0; i < w->state.rows; i++) {
		if (strcmp(coll_db_val(&w->state, i, 0), agent_id) == 0)
			return copy_row(&w->state, i, 1, 5, ret);
	}
	return -ENOTSUP; /* not read for this round: the caller reads it */
}

int coll_store_round_fits(struct coll_store *s, const char *agent_id, struct coll_db_res *ret)
{
	const struct coll_round_writes *w = s->round;
	if (!w || !w->have_state || w->state.cols < 9)
		return -ENOTSUP;
	for (size_t i = 0; i < w->state.rows; i++) {
		if (strcmp(coll_db_val(&w->state, i, 0), agent_id) != 0)
			continue;
		if (!coll_db_val(&w->state, i, 6)) { /* no row */
			memset(ret, 0, sizeof(*ret));
			return 0;
		}
		return copy_row(&w->state, i, 6, 3, ret);
	}
	return -ENOTSUP;
}

/* The round's score rows and agent_analysis texts: one statement each,
 * deferred (the arrays are emptied for the next round). */
static int flush_round(struct coll_store *s, struct coll_round_writes *w)
{
	int r = w->err;
	/* the hour's worst score, as coll_store_history_score */
	if (r == 0 && w->n_score)
		r = query_arrays(
			s,
			"INSERT INTO score_history (agent_id, ts, score, cat_database, cat_storage,"
			" cat_errors, cat_patches, cat_liveness) SELECT * FROM unnest(CAST(? AS"
			" text[]), CAST(? AS bigint[]), CAST(? AS bigint[]), CAST(? AS bigint[]),"
			" CAST(? AS bigint[]), CAST(? AS bigint[]), CAST(? AS bigint[]), CAST(? AS"
			" bigint[])) ON CONFLICT (agent_id, ts) DO UPDATE SET score = CASE WHEN"
			" excluded.score < score_history.score THEN excluded.score ELSE"
			" score_history.score END, cat_database = excluded.cat_database, "
			"cat_storage"
			" = excluded.cat_storage, cat_errors = excluded.cat_errors, cat_patches ="
			" excluded.cat_patches, cat_liveness = excluded.cat_liveness",
			w->score, 8, NULL);
	/* a text whose hash is NULL stays as stored (its TOAST pointer too) */
	if (r == 0 && w->n_an)
		r = query_arrays(
			s,
			"UPDATE agent_analysis x SET score_hash = COALESCE(v.sh, x.score_hash),"
			" score_json = CASE WHEN v.sh IS NULL THEN x.score_json ELSE v.sj END,"
			" forecasts_hash = COALESCE(v.fh, x.forecasts_hash), forecasts_json = CASE"
			" WHEN v.fh IS NULL THEN x.forecasts_json ELSE v.fj END, instances_hash ="
			" COALESCE(v.ih, x.instances_hash), instances = CASE WHEN v.ih IS NULL THEN"
			" x.instances ELSE v.ij END FROM unnest(CAST(? AS text[]), CAST(? AS"
			" bigint[]), CAST(? AS text[]), CAST(? AS bigint[]), CAST(? AS text[]),"
			" CAST(? AS bigint[]), CAST(? AS text[])) AS v(id, sh, sj, fh, fj, ih, ij)"
			" WHERE x.agent_id = v.id",
			w->an, 7, NULL);
	round_writes_free(w); /* query_arrays freed what it sent */
	round_writes_init(w);
	return r;
}

/* The batch in rounds (above), without savepoints: any failure after a
 * write sets *ret_redo (the caller runs the batch again per report, with
 * savepoints). */
static int ingest_rounds(struct coll_store *s, struct coll_ingest *const *items, size_t n,
			 coll_ingest_hook hook, void *ctx, bool *ret_redo)
{
	size_t *round_of = calloc(n ? n : 1, sizeof(*round_of)), rounds = 0;
	struct round rd = {.v = calloc(n ? n : 1, sizeof(*rd.v)),
			   .advanced = calloc(n ? n : 1, sizeof(*rd.advanced))};
	int r = round_of && rd.v && rd.advanced ? 0 : -ENOMEM;
	for (size_t i = 0; r == 0 && i < n; i++) {
		items[i]->result = COLL_INGEST_PENDING;
		items[i]->error = 0;
		for (size_t j = 0; j < i; j++)
			if (strcmp(items[j]->agent.id, items[i]->agent.id) == 0 &&
			    round_of[j] + 1 > round_of[i])
				round_of[i] = round_of[j] + 1;
		if (round_of[i] + 1 > rounds)
			rounds = round_of[i] + 1;
	}
	/* the hook's writes of the round (coll_store_round_score) */
	struct coll_round_writes *w = malloc(sizeof(*w));
	if (w)
		round_writes_init(w);
	else
		r = -ENOMEM;
	if (r == 0)
		r = coll_db_begin(s->db);
	if (r == 0)
		coll_db_defer_writes(s->db);
	s->round = w;
	for (size_t k = 0; r == 0 && k < rounds; k++) {
		rd.n = 0;
		for (size_t i = 0; i < n; i++)
			if (round_of[i] == k)
				rd.v[rd.n++] = i;
		memset(rd.advanced, 0, n * sizeof(*rd.advanced));
		qsort_r(rd.v, rd.n, sizeof(*rd.v), by_agent, (void *)(uintptr_t)items);
		r = gate_round(s, items, &rd);
		if (r == 0)
			r = store_round(s, items, &rd);
		if (r == 0 && hook)
			r = prefetch_state(s, items, &rd, w);
		if (r < 0) {
			*ret_redo = !coll_store_unavailable(r);
			break;
		}
		/* in arrival order within the round */
		for (size_t i = 0; r == 0 && i < n; i++) {
			if (round_of[i] != k)
				continue;
			struct coll_ingest *it = items[i];
			size_t pos = 0;
			while (rd.v[pos] != i)
				pos++;
			if (!rd.advanced[pos]) {
				r = not_advanced(s, it, coll_i2s(it->received_at));
				if (r == -EPERM) { /* revoked: fails before any write */
					it->result = COLL_INGEST_FAILED;
					it->error = r;
					r = 0;
				}
			} else {
				r = hook ? hook(ctx, s, it) : 0;
				if (r == 0) {
					it->result = COLL_INGEST_ACCEPTED;
					it->last_seq = it->seq;
				}
			}
			if (r < 0)
				*ret_redo = !coll_store_unavailable(r);
		}
		if (r == 0 && (r = flush_round(s, w)) < 0)
			*ret_redo = !coll_store_unavailable(r);
	}
	s->round = NULL;
	if (w)
		round_writes_free(w);
	free(w);
	free(round_of);
	free(rd.v);
	free(rd.advanced);
	if (r == 0) {
		r = coll_db_commit(s->db);
		if (r < 0 && !coll_store_unavailable(r))
			*ret_redo = true; /* a deferred write's failure */
	}
	return r;
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
	/* PostgreSQL: writes without results go without waiting for their
	 * answers (a failure comes with a later call: the batch runs again with
	 * savepoints, where each item waits for its own) */
	if (!savepoints)
		coll_db_defer_writes(s->db);
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
	r = coll_db_commit(s->db);
	if (r < 0 && !savepoints && !coll_store_unavailable(r))
		*ret_redo = true; /* a deferred write's failure */
	return r;
}

int coll_store_ingest_batch(struct coll_store *s, struct coll_ingest *const *items, size_t n,
			    coll_ingest_hook hook, void *ctx)
{
	bool redo = false;
	/* bodies not compressed by the caller: compressed here, before the
	 * transaction takes the write lock (failures: by ingest_one) */
	void **owned = calloc(n ? n : 1, sizeof(*owned));
	for (size_t i = 0; owned && i < n; i++)
		if (!items[i]->stored && items[i]->body &&
		    coll_codec_compress(items[i]->body, items[i]->len, &owned[i],
					&items[i]->stored_len) == 0)
			items[i]->stored = owned[i];
	/* PostgreSQL: one statement per table and round of the batch first */
	int r = coll_db_kind(s->db) == COLL_DB_PG
			? ingest_rounds(s, items, n, hook, ctx, &redo)
			: ingest_batch(s, items, n, hook, ctx, false, &redo);
	if (r < 0 && redo) {
		s->ingest_reruns++;
		coll_db_rollback(s->db);
		r = ingest_batch(s, items, n, hook, ctx, true, &redo);
	}
	for (size_t i = 0; owned && i < n; i++)
		if (owned[i]) {
			items[i]->stored = NULL;
			free(owned[i]);
		}
	free(owned);
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
