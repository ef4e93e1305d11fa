/* Store queries: retention of raw reports, samples and rollups, the stored
 * report bodies (reads, day partitions, retention) and their compression
 * dictionary (store.h). The ingest: reports.c. */
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
		r = coll_store_reports_retention(s, now, s->keep_raw_days, keep_raw_s);
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

/* ---- raw report bodies: reads ---------------------------------------------------- */

/* Decodes one stored body, with the dictionary its frame names: known to
 * this process, else read from codec_dicts (and remembered). */
static int decode(struct coll_store *s, const char *codec, const char *data, size_t len, char **ret,
		  size_t *ret_len)
{
	int c = (int)coll_s2i(codec);
	uint32_t id = c == COLL_CODEC_ZSTD ? coll_codec_frame_dict(data, len) : 0;
	struct coll_codec_dict *d = id ? coll_codec_known(id) : NULL;
	if (id && !d) {
		struct coll_db_res res;
		int r = COLL_Q(s, "SELECT dict FROM codec_dicts WHERE id = ?", &res,
			       coll_i2s(id).s);
		if (r < 0)
			return r;
		if (res.rows == 1 &&
		    coll_codec_dict_new(coll_db_val(&res, 0, 0), coll_db_len(&res, 0, 0), &d) == 0)
			coll_codec_remember(d);
		coll_db_res_free(&res);
	}
	int r = coll_codec_decode_dict(c, data, len, COLL_CODEC_MAX_TEXT, d, ret, ret_len);
	coll_codec_dict_unref(d);
	return r;
}

int coll_store_decode_bodies(struct coll_store *s, struct coll_db_res *res, size_t body_col,
			     size_t codec_col, size_t *ret_bad)
{
	for (size_t i = 0; i < res->rows; i++) {
		size_t k = i * res->cols + body_col;
		const char *v = coll_db_val(res, i, body_col);
		if (!v)
			continue;
		char *text = NULL;
		size_t len;
		int r = decode(s, coll_db_val(res, i, codec_col), v, coll_db_len(res, i, body_col),
			       &text, &len);
		if (r == -ENOMEM || (r < 0 && coll_store_unavailable(r)))
			return r;
		if (r < 0 && ret_bad)
			(*ret_bad)++;
		free(res->v[k]);
		res->v[k] = text; /* NULL when corrupt */
		if (res->lens)
			res->lens[k] = SIZE_MAX;
	}
	return 0;
}

int coll_store_report_body(struct coll_store *s, const char *agent_id, int64_t seq, char **ret,
			   size_t *ret_len)
{
	struct coll_db_res res;
	struct coll_num n = coll_i2s(seq);
	int r;
	/* the raw window first, then the daily bodies; PostgreSQL also reads the
	 * rows written before migration 8 (reports_plain, text) */
	if (coll_db_kind(s->db) == COLL_DB_PG)
		r = COLL_Q(
			s,
			"SELECT codec, body FROM reports WHERE agent_id = ? AND seq = CAST(? AS"
			" BIGINT) UNION ALL SELECT codec, body FROM reports_daily WHERE agent_id ="
			" ? AND seq = CAST(? AS BIGINT) UNION ALL SELECT 0, convert_to(body,"
			" 'UTF8') FROM reports_plain WHERE agent_id = ? AND seq = CAST(? AS BIGINT)"
			" LIMIT 1",
			&res, agent_id, n.s, agent_id, n.s, agent_id, n.s);
	else
		r = COLL_Q(
			s,
			"SELECT codec, body FROM reports WHERE agent_id = ? AND seq = ? UNION ALL"
			" SELECT codec, body FROM reports_daily WHERE agent_id = ? AND seq = ?"
			" LIMIT 1",
			&res, agent_id, n.s, agent_id, n.s);
	if (r < 0)
		return r;
	if (res.rows == 0) {
		coll_db_res_free(&res);
		return -ENOENT;
	}
	r = decode(s, coll_db_val(&res, 0, 0), coll_db_val(&res, 0, 1), coll_db_len(&res, 0, 1),
		   ret, ret_len);
	coll_db_res_free(&res);
	if (r == -EBADMSG || r == -EFBIG || r == -EPROTONOSUPPORT || r == -ENOKEY)
		snprintf(s->err, sizeof(s->err), "report %s/%lld: %s", agent_id, (long long)seq,
			 coll_codec_strerror(r));
	return r == -ENOKEY || r == -EPROTONOSUPPORT ? -EBADMSG : r; /* unreadable */
}

/* ---- raw report bodies: retention ------------------------------------------------ */

#define DAY         86400
#define AGENT_CHUNK "499" /* OFFSET: 500 agents per keeper statement */

/* Copies the last report of UTC day [day, day + DAY) of every agent into
 * reports_daily, 500 agents per statement (short write locks). */
static int keep_day(struct coll_store *s, int64_t day)
{
	bool pg = coll_db_kind(s->db) == COLL_DB_PG;
	struct coll_num from = coll_i2s(day), to = coll_i2s(day + DAY);
	char lo[COLL_ID_SIZE + 1] = "";
	for (;;) {
		struct coll_db_res res;
		int r = COLL_Q(s,
			       "SELECT id FROM agents WHERE id > ? ORDER BY id LIMIT 1 "
			       "OFFSET " AGENT_CHUNK,
			       &res, lo);
		if (r < 0)
			return r;
		char hi[COLL_ID_SIZE + 1];
		bool last = res.rows == 0;
		/* '~' sorts after every id (lower-case hex) */
		snprintf(hi, sizeof(hi), "%s", last ? "~" : coll_db_val(&res, 0, 0));
		coll_db_res_free(&res);
		r = COLL_Q(
			s,
			"INSERT INTO reports_daily (agent_id, seq, received_at, generated_at,"
			" codec, body) SELECT r.agent_id, r.seq, r.received_at, r.generated_at,"
			" r.codec, r.body FROM agents a JOIN reports r ON r.agent_id = a.id AND"
			" r.received_at >= CAST(? AS BIGINT) AND r.received_at < CAST(? AS BIGINT)"
			" AND r.seq = (SELECT MAX(x.seq) FROM reports x WHERE x.agent_id = a.id AND"
			" x.received_at >= CAST(? AS BIGINT) AND x.received_at < CAST(? AS BIGINT))"
			" WHERE a.id > ? AND a.id <= ? ON CONFLICT DO NOTHING",
			NULL, from.s, to.s, from.s, to.s, lo, hi);
		if (r == 0 && pg) /* rows written before migration 8 */
			r = COLL_Q(
				s,
				"INSERT INTO reports_daily (agent_id, seq, received_at,"
				" generated_at, codec, body) SELECT r.agent_id, r.seq,"
				" r.received_at, r.generated_at, 0, convert_to(r.body, 'UTF8')"
				" FROM agents a JOIN reports_plain r ON r.agent_id = a.id AND"
				" r.seq = (SELECT MAX(x.seq) FROM reports_plain x WHERE x.agent_id"
				" = a.id AND x.received_at >= CAST(? AS BIGINT) AND x.received_at <"
				" CAST(? AS BIGINT)) WHERE a.id > ? AND a.id <= ? AND NOT EXISTS"
				" (SELECT 1 FROM reports n WHERE n.agent_id = a.id AND "
				"n.received_at"
				" >= CAST(? AS BIGINT) AND n.received_at < CAST(? AS BIGINT))"
				" ON CONFLICT DO NOTHING",
				NULL, from.s, to.s, lo, hi, from.s, to.s);
		if (r < 0)
			return r;
		if (last)
			return 0;
		snprintf(lo, sizeof(lo), "%s", hi);
	}
}

/* The oldest received_at of a chunk-retired table (SQLite's reports, the
 * default partitions, reports_plain), or INT64_MAX when empty. */
static int oldest(struct coll_store *s, const char *sql, int64_t *ret)
{
	struct coll_db_res res;
	int r = coll_sql_query(s, sql, NULL, 0, &res);
	if (r < 0)
		return r;
	const char *v = coll_db_val(&res, 0, 0);
	*ret = v ? coll_s2i(v) : INT64_MAX;
	coll_db_res_free(&res);
	return 0;
}

/* Every row of the chunk-retired raw tables before `before`. */
static int retire_raw(struct coll_store *s, int64_t before)
{
	if (coll_db_kind(s->db) != COLL_DB_PG)
		return retire(
			s,
			"SELECT received_at FROM reports WHERE received_at < CAST(? AS BIGINT)"
			" ORDER BY received_at LIMIT 1 OFFSET " RETENTION_CHUNK,
			NULL, "DELETE FROM reports WHERE received_at < CAST(? AS BIGINT)", before);
	int r = retire(s,
		       "SELECT received_at FROM reports_default WHERE received_at < CAST(? AS"
		       " BIGINT) ORDER BY received_at LIMIT 1 OFFSET " RETENTION_CHUNK,
		       NULL, "DELETE FROM reports_default WHERE received_at < CAST(? AS BIGINT)",
		       before);
	if (r == 0)
		r = retire(s,
			   "SELECT received_at FROM reports_plain WHERE received_at < CAST(? AS"
			   " BIGINT) ORDER BY received_at LIMIT 1 OFFSET " RETENTION_CHUNK,
			   NULL, "DELETE FROM reports_plain WHERE received_at < CAST(? AS BIGINT)",
			   before);
	return r;
}

/* The oldest raw day still held: a day partition or a row of a
 * chunk-retired table. INT64_MAX when none. */
static int oldest_raw_day(struct coll_store *s, int64_t *ret)
{
	int64_t t = INT64_MAX, u;
	int r;
	if (coll_db_kind(s->db) == COLL_DB_PG) {
		int64_t *days = NULL;
		size_t n = 0;
		r = coll_part_days(s, "reports", &days, &n);
		if (r < 0)
			return r;
		if (n)
			t = days[0];
		free(days);
		if ((r = oldest(s, "SELECT MIN(received_at) FROM reports_default", &u)) < 0)
			return r;
		t = u < t ? u : t;
		if ((r = oldest(s, "SELECT MIN(received_at) FROM reports_plain", &u)) < 0)
			return r;
		t = u < t ? u : t;
	} else if ((r = oldest(s, "SELECT MIN(received_at) FROM reports", &t)) < 0) {
		return r;
	}
	*ret = t == INT64_MAX ? t : t - (t % DAY + DAY) % DAY;
	return 0;
}

/* The kept daily bodies older than keep_cut go: whole day partitions on
 * PostgreSQL (a day partly newer waits a day), chunks elsewhere. */
static int retire_daily(struct coll_store *s, int64_t keep_cut)
{
	if (coll_db_kind(s->db) != COLL_DB_PG)
		return retire(s,
			      "SELECT received_at FROM reports_daily WHERE received_at < CAST(? AS"
			      " BIGINT) ORDER BY received_at LIMIT 1 OFFSET " RETENTION_CHUNK,
			      NULL,
			      "DELETE FROM reports_daily WHERE received_at < CAST(? AS BIGINT)",
			      keep_cut);
	int64_t *days = NULL;
	size_t n = 0;
	int r = coll_part_days(s, "reports_daily", &days, &n);
	for (size_t i = 0; r == 0 && i < n && days[i] + DAY <= keep_cut; i++)
		r = coll_part_drop_day(s, "reports_daily", days[i]);
	free(days);
	if (r == 0)
		r = retire(
			s,
			"SELECT received_at FROM reports_daily_default WHERE received_at <"
			" CAST(? AS BIGINT) ORDER BY received_at LIMIT 1 OFFSET " RETENTION_CHUNK,
			NULL,
			"DELETE FROM reports_daily_default WHERE received_at < CAST(? AS BIGINT)",
			keep_cut);
	return r;
}

int coll_store_reports_partitions(struct coll_store *s, int64_t now)
{
	int64_t today = now - (now % DAY + DAY) % DAY;
	int r = 0;
	/* yesterday to the day after tomorrow: ingest never waits for one, and
	 * never writes into the default partition (whose rows a day partition
	 * made later moves: a DELETE, dead rows until vacuum) */
	for (int64_t d = today - DAY;
	     coll_db_kind(s->db) == COLL_DB_PG && r == 0 && d <= today + 2 * DAY; d += DAY)
		r = coll_part_ensure_day(s, "reports", "received_at", d);
	return r;
}

int coll_store_reports_retention(struct coll_store *s, int64_t now, int64_t raw_days,
				 int64_t keep_s)
{
	bool pg = coll_db_kind(s->db) == COLL_DB_PG;
	int64_t today = now - (now % DAY + DAY) % DAY, keep_cut = now - keep_s;
	/* whole days only: a day's bodies go together (one partition) */
	int64_t raw_cut = raw_days > 0 ? today - raw_days * DAY : keep_cut;
	int r = coll_store_reports_partitions(s, now);

	if (r == 0)
		r = retire_daily(s, keep_cut);
	for (int64_t done = INT64_MIN; r == 0;) {
		int64_t day;
		r = oldest_raw_day(s, &day);
		if (r < 0 || day == INT64_MAX || day + DAY > raw_cut)
			break;
		if (day <= done) { /* a day that would not go: never loop on it */
			snprintf(s->err, sizeof(s->err),
				 "raw reports of day %lld remain after retention", (long long)day);
			r = -EIO;
			break;
		}
		done = day;
		/* a day still within the retention keeps its last body per agent */
		if (day + DAY > keep_cut) {
			if (pg)
				r = coll_part_ensure_day(s, "reports_daily", "received_at", day);
			if (r == 0)
				r = keep_day(s, day);
		}
		if (r == 0 && pg)
			r = coll_part_drop_day(s, "reports", day);
		if (r == 0)
			r = retire_raw(s, day + DAY);
	}
	/* what is older than the retention even within the raw window */
	if (r == 0 && raw_cut > keep_cut)
		r = retire_raw(s, keep_cut);
	return r;
}

/* ---- raw report bodies: the dictionary ------------------------------------------ */

#define DICT_EVERY   (7 * DAY)         /* a new dictionary a week: the fleet changes */
#define DICT_SAMPLES "2000"            /* at most this many recent bodies to learn from */
#define DICT_MIN     100               /* fewer: no dictionary yet */
#define DICT_BYTES   ((size_t)8 << 20) /* at most this much sample text */
#define DICT_CAP     ((size_t)64 << 10)

/* Trains a dictionary on the latest bodies of the fleet's agents (2000 in
 * all, at least 3 each) and stores it. 0 (also when there is too little to learn from) or
 * -errno. */
static int train(struct coll_store *s, int64_t now)
{
	struct coll_db_res res;
	/* the latest few of as many agents as fit: a fleet's variety */
	int r = coll_sql_query(s, "SELECT COUNT(*) FROM agents WHERE revoked_at IS NULL", NULL, 0,
			       &res);
	if (r < 0)
		return r;
	int64_t agents = coll_s2i(coll_db_val(&res, 0, 0)), each = 2000 / (agents ? agents : 1);
	coll_db_res_free(&res);
	r = COLL_Q(s,
		   "SELECT r.codec, r.body FROM agents a JOIN reports r ON r.agent_id = a.id AND"
		   " r.seq > a.last_seq - CAST(? AS BIGINT) WHERE a.revoked_at IS NULL"
		   " LIMIT " DICT_SAMPLES,
		   &res, coll_i2s(each < 3 ? 3 : each).s);
	if (r < 0)
		return r;
	char **text = calloc(res.rows ? res.rows : 1, sizeof(*text));
	size_t *lens = calloc(res.rows ? res.rows : 1, sizeof(*lens)), n = 0, total = 0;
	if (!text || !lens) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < res.rows && total < DICT_BYTES; i++) {
		r = decode(s, coll_db_val(&res, i, 0), coll_db_val(&res, i, 1),
			   coll_db_len(&res, i, 1), &text[n], &lens[n]);
		if (r == -ENOMEM || (r < 0 && coll_store_unavailable(r)))
			goto out;
		if (r == 0)
			total += lens[n++];
	}
	r = 0;
	void *dict = NULL;
	size_t dlen = 0;
	/* zstd wants about ten times the dictionary's size in samples */
	size_t cap = total / 10 < DICT_CAP ? total / 10 : DICT_CAP;
	if (n < DICT_MIN || cap < 1024 ||
	    coll_codec_dict_train((const char *const *)text, lens, n, cap, &dict, &dlen) < 0)
		goto out; /* too little, or too uniform, to learn from: next time */
	struct coll_codec_dict *d = NULL;
	if (coll_codec_dict_new(dict, dlen, &d) == 0) {
		struct coll_num id = coll_i2s(coll_codec_dict_id(d)), at = coll_i2s(now);
		const char *const params[] = {id.s, at.s, dict};
		const size_t lens_p[] = {COLL_DB_TEXT, COLL_DB_TEXT, dlen};
		r = coll_db_query_bin(
			s->db,
			"INSERT INTO codec_dicts (id, created_at, dict) VALUES (?, ?, ?)"
			" ON CONFLICT DO NOTHING",
			params, lens_p, EP_ARRAY_SIZE(params), NULL);
		if (r < 0)
			snprintf(s->err, sizeof(s->err), "%s", coll_db_error(s->db));
		coll_codec_dict_unref(d);
	}
	free(dict);
out:
	for (size_t i = 0; text && i < n; i++)
		free(text[i]);
	free(text);
	free(lens);
	coll_db_res_free(&res);
	return r;
}

/* The newest dictionary as of now: rows (id, created_at, dict), 0 or 1. */
static int newest_dict(struct coll_store *s, int64_t now, struct coll_db_res *ret)
{
	return COLL_Q(s,
		      "SELECT id, created_at, dict FROM codec_dicts WHERE created_at <= CAST(? AS"
		      " BIGINT) ORDER BY created_at DESC LIMIT 1",
		      ret, coll_i2s(now).s);
}

int coll_store_codec_maintain(struct coll_store *s, int64_t now)
{
	struct coll_db_res res;
	int r = newest_dict(s, now, &res);
	if (r < 0)
		return r;
	bool stale = res.rows == 0 || coll_s2i(coll_db_val(&res, 0, 1)) <= now - DICT_EVERY;
	coll_db_res_free(&res);
	if (stale && (r = train(s, now)) < 0)
		return r;
	return coll_store_codec_load(s, now);
}

int coll_store_codec_load(struct coll_store *s, int64_t now)
{
	struct coll_db_res res;
	int r;
	/* the newest, whoever trained it (several collectors share a store) */
	if ((r = newest_dict(s, now, &res)) < 0)
		return r;
	struct coll_codec_dict *cur = coll_codec_current(), *d = NULL;
	uint32_t id = (uint32_t)coll_s2i(coll_db_val(&res, 0, 0));
	if (res.rows == 1 && coll_codec_dict_id(cur) != id) {
		d = coll_codec_known(id);
		if (!d &&
		    coll_codec_dict_new(coll_db_val(&res, 0, 2), coll_db_len(&res, 0, 2), &d) < 0)
			d = NULL; /* not a dictionary: keep compressing without */
		if (d)
			coll_codec_set_current(d);
		coll_codec_dict_unref(d);
	}
	coll_codec_dict_unref(cur);
	coll_db_res_free(&res);
	return 0;
}
