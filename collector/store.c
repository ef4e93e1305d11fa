/* The store (store.h, docs/store.md): schema, migrations and every query,
 * written once in the SQL both SQLite and PostgreSQL understand. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/analysis.h"
#include "collector/sql.h"
#include "collector/store.h"
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

static const char *const lite_migrations[] = {
	SCHEMA_V1("INTEGER PRIMARY KEY"),
	SCHEMA_V2,
};
static const char *const pg_migrations[] = {
	SCHEMA_V1("BIGSERIAL PRIMARY KEY"),
	SCHEMA_V2,
};

/* ---- helpers ----------------------------------------------------------- */

static void copy_id(char dst[COLL_ID_SIZE], const char *src)
{
	snprintf(dst, COLL_ID_SIZE, "%s", src ? src : "");
}

bool coll_store_unavailable(int r)
{
	return r == -ETIMEDOUT || r == -ECONNRESET || r == -EBUSY || r == -EIO || r == -EAGAIN ||
	       r == -ENOSPC;
}

int coll_store_open(const char *url, const struct coll_db_opts *opts, struct coll_store **ret,
		    char *err, size_t errlen)
{
	struct coll_store *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	int r = coll_db_open(url, opts, &s->db, err, errlen);
	if (r < 0) {
		free(s);
		return r;
	}
	*ret = s;
	return 0;
}

void coll_store_close(struct coll_store *s)
{
	if (!s)
		return;
	coll_db_close(s->db);
	free(s);
}

void coll_store_set_deadline(struct coll_store *s, int64_t at_ms)
{
	coll_db_set_deadline(s->db, at_ms);
}

int coll_store_ping(struct coll_store *s)
{
	return coll_sql_query(s, "SELECT 1", NULL, 0, NULL);
}

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
	r = 0;
unlock:
	if (r < 0)
		snprintf(s->err, sizeof(s->err), "%s", coll_db_error(s->db));
	if (pg)
		coll_db_exec(s->db, "SELECT pg_advisory_unlock(" PG_MIGRATE_LOCK ")");
	return r;
fail:
	snprintf(s->err, sizeof(s->err), "%s", coll_db_error(s->db));
	return r;
}

/* ---- rows to JSON ------------------------------------------------------------ */

/* types: one char per column: s string, i integer, d double, b boolean,
 * j JSON text (embedded as is), '-' skipped. */
static json_t *row_json(const struct coll_db_res *res, size_t row, const char *const *names,
			const char *types)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	for (size_t c = 0; c < res->cols && types[c]; c++) {
		const char *v = coll_db_val(res, row, c);
		json_t *j;
		if (types[c] == '-')
			continue;
		if (!v) {
			j = json_null();
		} else {
			switch (types[c]) {
			case 'i':
				j = json_integer(coll_s2i(v));
				break;
			case 'd': {
				char *end;
				double d = strtod(v, &end);
				j = isfinite(d) ? json_real(d) : json_null();
				break;
			}
			case 'b':
				j = json_boolean(coll_s2i(v) != 0);
				break;
			case 'j':
				j = json_loads(v, JSON_DECODE_ANY, NULL);
				if (!j)
					j = json_null();
				break;
			default:
				j = json_string(v);
				if (!j)
					j = json_null();
				break;
			}
		}
		if (json_object_set_new(o, names[c], j) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static int rows_json(const struct coll_db_res *res, const char *const *names, const char *types,
		     json_t **ret)
{
	json_t *a = json_array();
	if (!a)
		return -ENOMEM;
	for (size_t i = 0; i < res->rows; i++) {
		if (json_array_append_new(a, row_json(res, i, names, types)) < 0) {
			json_decref(a);
			return -ENOMEM;
		}
	}
	*ret = a;
	return 0;
}

/* ---- customers, tokens, users --------------------------------------------------- */

int coll_store_customer_add(struct coll_store *s, const char *name, int64_t now,
			    char ret_id[COLL_ID_SIZE])
{
	char id[COLL_ID_SIZE];
	ep_random_hex(8, id, sizeof(id));
	int r = COLL_Q(s, "INSERT INTO customers (id, name, created_at) VALUES (?, ?, ?)", NULL, id,
		       name, coll_i2s(now).s);
	if (r == 0)
		copy_id(ret_id, id);
	return r;
}

int coll_store_customer_find(struct coll_store *s, const char *name_or_id,
			     char ret_id[COLL_ID_SIZE])
{
	struct coll_db_res res;
	int r = COLL_Q(s, "SELECT id FROM customers WHERE id = ? OR name = ? ORDER BY id = ? DESC",
		       &res, name_or_id, name_or_id, name_or_id);
	if (r < 0)
		return r;
	if (res.rows == 0)
		r = -ENOENT;
	else
		copy_id(ret_id, coll_db_val(&res, 0, 0));
	coll_db_res_free(&res);
	return r;
}

/* The hosts that count for customer c: its production hosts, or all of them
 * when none is marked production (as coll_customer_score). */
#define COUNTED_SQL                                                                                \
	" FROM agents h WHERE h.customer_id = c.id AND h.revoked_at IS NULL AND (h.production = 1" \
	" OR NOT EXISTS (SELECT 1 FROM agents p WHERE p.customer_id = c.id AND p.revoked_at IS"    \
	" NULL AND p.production = 1))"
/* Customer band (coll_customer_band): critical if a counted host is, else
 * unknown if one is (never healthy while a production host is unknown),
 * else at_risk if one is, else healthy; NULL without hosts. */
#define CUSTOMER_BAND_SQL                                                                          \
	"CASE WHEN EXISTS (SELECT 1" COUNTED_SQL " AND h.band = 'critical') THEN 'critical'"       \
	" WHEN EXISTS (SELECT 1" COUNTED_SQL " AND (h.band = 'unknown' OR h.band IS NULL OR"       \
	" h.last_report_at IS NULL)) THEN 'unknown'"                                               \
	" WHEN EXISTS (SELECT 1" COUNTED_SQL " AND h.band = 'at_risk') THEN 'at_risk'"             \
	" WHEN EXISTS (SELECT 1" COUNTED_SQL ") THEN 'healthy' END"

int coll_store_customers(struct coll_store *s, const struct coll_scope *scope, json_t **ret)
{
	static const char *const names[] = {"id", "name", "created_at", "hosts", "score", "band"};
	struct coll_db_res res;
	if (!scope)
		return -EINVAL;
	int r = COLL_Q(
		s,
		"SELECT c.id, c.name, c.created_at,"
		" (SELECT COUNT(*) FROM agents a WHERE a.customer_id = c.id AND a.revoked_at IS "
		"NULL),"
		" COALESCE((SELECT MIN(a.score) FROM agents a WHERE a.customer_id = c.id AND"
		" a.revoked_at IS NULL AND a.production = 1 AND a.score IS NOT NULL),"
		" (SELECT MIN(a.score) FROM agents a WHERE a.customer_id = c.id AND"
		" a.revoked_at IS NULL AND a.score IS NOT NULL)), " CUSTOMER_BAND_SQL
		" FROM customers c WHERE (CAST(? AS TEXT) IS NULL OR c.id = ?) ORDER BY c.name",
		&res, scope->customer_id, scope->customer_id);
	if (r < 0)
		return r;
	r = rows_json(&res, names, "ssiiis", ret);
	coll_db_res_free(&res);
	return r;
}

int coll_store_token_add(struct coll_store *s, const char *customer_id, const char *hash,
			 int64_t uses, int64_t expires_at, int64_t now)
{
	return COLL_Q(
		s,
		"INSERT INTO enroll_tokens (hash, customer_id, uses_left, expires_at, created_at)"
		" VALUES (?, ?, ?, ?, ?)",
		NULL, hash, customer_id, coll_i2s(uses).s, coll_i2s(expires_at).s, coll_i2s(now).s);
}

int coll_store_user_add(struct coll_store *s, const char *name, enum coll_role role,
			const char *customer_id, const char *token_hash, int64_t now)
{
	char id[COLL_ID_SIZE];
	ep_random_hex(8, id, sizeof(id));
	return COLL_Q(s,
		      "INSERT INTO users (id, name, role, customer_id, token_hash, created_at)"
		      " VALUES (?, ?, ?, ?, ?, ?)",
		      NULL, id, name, role == COLL_ROLE_VENDOR ? "vendor" : "viewer",
		      role == COLL_ROLE_VENDOR ? NULL : customer_id, token_hash, coll_i2s(now).s);
}

int coll_store_user_by_token(struct coll_store *s, const char *token_hash, struct coll_user *ret)
{
	struct coll_db_res res;
	int r = COLL_Q(s, "SELECT id, name, role, customer_id FROM users WHERE token_hash = ?",
		       &res, token_hash);
	if (r < 0)
		return r;
	if (res.rows != 1) {
		r = -ENOENT;
		goto out;
	}
	memset(ret, 0, sizeof(*ret));
	copy_id(ret->id, coll_db_val(&res, 0, 0));
	snprintf(ret->name, sizeof(ret->name), "%s", coll_db_val(&res, 0, 1));
	ret->role = strcmp(coll_db_val(&res, 0, 2), "vendor") == 0 ? COLL_ROLE_VENDOR
								   : COLL_ROLE_VIEWER;
	copy_id(ret->customer_id, coll_db_val(&res, 0, 3));
	if (ret->role == COLL_ROLE_VIEWER && !ret->customer_id[0])
		r = -ENOENT; /* a viewer without a customer sees nothing: refuse */
out:
	coll_db_res_free(&res);
	return r;
}

/* ---- agents -------------------------------------------------------------------- */

int coll_store_enroll(struct coll_store *s, const struct coll_enroll *e,
		      char ret_agent_id[COLL_ID_SIZE], char ret_customer_id[COLL_ID_SIZE])
{
	struct coll_db_res res = {0};
	char id[COLL_ID_SIZE], customer[COLL_ID_SIZE];
	int r = coll_db_begin(s->db);
	if (r < 0)
		goto fail;
	r = COLL_Q(s,
		   "UPDATE enroll_tokens SET uses_left = uses_left - 1"
		   " WHERE hash = ? AND uses_left > 0 AND expires_at > ? RETURNING customer_id",
		   &res, e->token_hash, coll_i2s(e->now).s);
	if (r < 0)
		goto fail;
	if (res.rows != 1) {
		coll_db_res_free(&res);
		r = COLL_Q(s, "SELECT uses_left, expires_at FROM enroll_tokens WHERE hash = ?",
			   &res, e->token_hash);
		if (r < 0)
			goto fail;
		if (res.rows == 0)
			r = -ENOENT;
		else if (coll_s2i(coll_db_val(&res, 0, 1)) <= e->now)
			r = -EKEYEXPIRED;
		else
			r = -EUSERS;
		goto fail;
	}
	copy_id(customer, coll_db_val(&res, 0, 0));
	coll_db_res_free(&res);
	ep_random_hex(16, id, sizeof(id));
	r = COLL_Q(s,
		   "INSERT INTO agents (id, customer_id, hostname, public_key, agent_version,"
		   " enrolled_at, interval_s) VALUES (?, ?, ?, ?, ?, ?, ?)",
		   NULL, id, customer, e->hostname, e->public_key_b64, e->agent_version,
		   coll_i2s(e->now).s, coll_i2s(e->interval_s).s);
	if (r < 0)
		goto fail;
	r = coll_db_commit(s->db);
	if (r < 0)
		goto fail;
	copy_id(ret_agent_id, id);
	copy_id(ret_customer_id, customer);
	return 0;
fail:
	coll_db_res_free(&res);
	coll_db_rollback(s->db);
	return r;
}

int coll_store_agent_get(struct coll_store *s, const char *id, struct coll_agent *ret)
{
	struct coll_db_res res;
	int r = COLL_Q(
		s,
		"SELECT id, customer_id, public_key, revoked_at, last_seq FROM agents WHERE id = "
		"?",
		&res, id);
	if (r < 0)
		return r;
	if (res.rows != 1) {
		r = -ENOENT;
		goto out;
	}
	memset(ret, 0, sizeof(*ret));
	copy_id(ret->id, coll_db_val(&res, 0, 0));
	copy_id(ret->customer_id, coll_db_val(&res, 0, 1));
	const char *pk = coll_db_val(&res, 0, 2);
	size_t len = 0;
	if (!pk ||
	    ep_base64_decode(pk, strlen(pk), ret->public_key, sizeof(ret->public_key), &len) < 0 ||
	    len != EP_PUBLIC_KEY_BYTES) {
		r = -EIO;
		snprintf(s->err, sizeof(s->err), "agent %s: stored public key is malformed", id);
		goto out;
	}
	ret->revoked = coll_db_val(&res, 0, 3) != NULL;
	ret->last_seq = coll_s2i(coll_db_val(&res, 0, 4));
out:
	coll_db_res_free(&res);
	return r;
}

int coll_store_agent_revoke(struct coll_store *s, const char *id, int64_t now)
{
	struct coll_db_res res;
	int r = COLL_Q(s, "UPDATE agents SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
		       &res, coll_i2s(now).s, id);
	if (r < 0)
		return r;
	if (res.changes == 0) {
		coll_db_res_free(&res);
		r = COLL_Q(s, "SELECT 1 FROM agents WHERE id = ?", &res, id);
		if (r == 0 && res.rows == 0)
			r = -ENOENT;
	}
	coll_db_res_free(&res);
	return r;
}

/* An agent is silent after 3 intervals without a report (the dead-man rule). */
/* a host that never reported has no score: its band is unknown (docs/scoring.md) */
#define BAND_SQL "CASE WHEN a.last_report_at IS NULL THEN 'unknown' ELSE a.band END"

#define STATE_SQL                                                                                  \
	"CASE WHEN a.revoked_at IS NOT NULL THEN 'revoked'"                                        \
	" WHEN a.last_report_at IS NULL THEN 'never_reported'"                                     \
	" WHEN a.last_report_at + 3 * a.interval_s < CAST(? AS BIGINT) THEN 'silent'"              \
	" ELSE 'active' END"

int coll_store_agents(struct coll_store *s, const struct coll_scope *scope, int64_t now,
		      json_t **ret)
{
	static const char *const names[] = {
		"id",          "customer_id", "customer",   "hostname",       "agent_version",
		"enrolled_at", "revoked_at",  "last_seq",   "last_report_at", "state",
		"score",       "band",        "seq_rewinds"};
	struct coll_db_res res;
	if (!scope)
		return -EINVAL;
	int r = COLL_Q(
		s,
		"SELECT a.id, a.customer_id, c.name, a.hostname, a.agent_version, a.enrolled_at,"
		" a.revoked_at, a.last_seq, a.last_report_at, " STATE_SQL ", a.score, " BAND_SQL ","
		" a.seq_rewinds FROM agents a JOIN customers c ON c.id = a.customer_id"
		" WHERE (CAST(? AS TEXT) IS NULL OR a.customer_id = ?) ORDER BY c.name, "
		"a.hostname",
		&res, coll_i2s(now).s, scope->customer_id, scope->customer_id);
	if (r < 0)
		return r;
	r = rows_json(&res, names, "ssssssiiisisi", ret);
	coll_db_res_free(&res);
	return r;
}

int coll_store_agent_states(struct coll_store *s, int64_t now, int64_t counts[4])
{
	static const char *const states[] = {"active", "silent", "revoked", "never_reported"};
	struct coll_db_res res;
	int r = COLL_Q(s, "SELECT " STATE_SQL ", COUNT(*) FROM agents a GROUP BY 1", &res,
		       coll_i2s(now).s);
	if (r < 0)
		return r;
	for (size_t k = 0; k < 4; k++)
		counts[k] = 0;
	for (size_t i = 0; i < res.rows; i++)
		for (size_t k = 0; k < 4; k++)
			if (strcmp(coll_db_val(&res, i, 0), states[k]) == 0)
				counts[k] = coll_s2i(coll_db_val(&res, i, 1));
	coll_db_res_free(&res);
	return 0;
}

/* ---- compact JSON text ------------------------------------------------------ */

/* Room for extra more bytes (and the NUL) in b, grown as ep_buf_append
 * grows it; the caller then writes into b->data directly. */
static int jb_reserve(struct ep_buf *b, size_t extra)
{
	if (extra > b->max - b->len)
		return -E2BIG;
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	size_t ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	char *nd = realloc(b->data, ncap);
	if (!nd)
		return -ENOMEM;
	b->data = nd;
	b->cap = ncap;
	return 0;
}

static int jd_string(struct ep_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	if (n > (SIZE_MAX - 2) / 6)
		return -E2BIG;
	int r = jb_reserve(b, 2 + 6 * n); /* every byte escaped as \u00XX at worst */
	if (r < 0)
		return r;
	char *o = b->data + b->len;
	size_t from = 0;
	*o++ = '"';
	for (size_t i = 0; i < n; i++) {
		/* eight bytes at a time while none is '"', '\\' or below 0x20 */
		while (n - i >= 8) {
			const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
			uint64_t x, q, bs;
			memcpy(&x, s + i, 8);
			q = x ^ (ones * '"');
			bs = x ^ (ones * '\\');
			if ((((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs)) &
			    highs)
				break;
			i += 8;
		}
		if (i >= n)
			break;
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		memcpy(o, s + from, i - from);
		o += i - from;
		from = i + 1;
		*o++ = '\\';
		switch (c) {
		case '"':
		case '\\':
			*o++ = (char)c;
			break;
		case '\b':
			*o++ = 'b';
			break;
		case '\f':
			*o++ = 'f';
			break;
		case '\n':
			*o++ = 'n';
			break;
		case '\r':
			*o++ = 'r';
			break;
		case '\t':
			*o++ = 't';
			break;
		default: /* as jansson writes it: \u001F */
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
			break;
		}
	}
	memcpy(o, s + from, n - from);
	o += n - from;
	*o++ = '"';
	b->len = (size_t)(o - b->data);
	b->data[b->len] = '\0';
	return 0;
}

/* %.17g as jansson writes it, exactly, without printf: for 1e-16 <= |v| < 1e17
 * (false otherwise: the caller falls back to snprintf). v = m * 2^e exactly;
 * d = round-half-even(v * 10^(16-p)) is computed in 128-bit integers
 * (m * 5^k < 2^53 * 5^32 < 2^128), then written in %g's fixed or exponent
 * form with trailing zeros dropped, ".0" added to integral values and the
 * exponent without '+' or leading zeros. */
static const uint64_t pow5_lo[33] = {1u,
				     5u,
				     25u,
				     125u,
				     625u,
				     3125u,
				     15625u,
				     78125u,
				     390625u,
				     1953125u,
				     9765625u,
				     48828125u,
				     244140625u,
				     1220703125u,
				     6103515625u,
				     30517578125u,
				     152587890625u,
				     762939453125u,
				     3814697265625u,
				     19073486328125u,
				     95367431640625u,
				     476837158203125u,
				     2384185791015625u,
				     11920928955078125u,
				     59604644775390625u,
				     298023223876953125u,
				     1490116119384765625u,
				     7450580596923828125u,
				     359414837200037393u,
				     1797074186000186965u,
				     8985370930000934825u,
				     8033366502585570893u,
				     3273344365508751233u};
static const uint64_t pow5_hi[33] = {0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u,  0u,  0u,   0u,
				     0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u,  0u,  0u,   0u,
				     0u, 0u, 0u, 0u, 0u, 0u, 2u, 10u, 50u, 252u, 1262u};

static bool g17(double v, char *t, size_t *ret_len)
{
	static const uint64_t p10_16 = 10000000000000000u, p10_17 = 100000000000000000u;
	double a = fabs(v);
	if (!(a >= 1e-16 && a < 1e17))
		return false;
	int e2;
	double fr = frexp(a, &e2);            /* a = fr * 2^e2, fr in [0.5, 1) */
	uint64_t m = (uint64_t)ldexp(fr, 53); /* exact: 53 bits */
	int e = e2 - 53;                      /* a = m * 2^e */
	int p = (int)floor(log10(a));
	uint64_t d = 0;
	for (int tries = 0; tries < 3; tries++) {
		int k = 16 - p;
		if (k < 0 || k > 32)
			return false;
		unsigned __int128 x = (unsigned __int128)m * pow5_lo[k] +
				      ((unsigned __int128)(m * pow5_hi[k]) << 64);
		int s = e + k; /* x * 2^s */
		unsigned __int128 q;
		bool up = false; /* round half to even, on the exact remainder */
		if (s >= 0) {
			if (s > 10)
				return false;
			q = x << s;
		} else {
			int sh = -s;
			if (sh >= 127)
				return false;
			q = x >> sh;
			unsigned __int128 rem = x - (q << sh),
					  half = (unsigned __int128)1 << (sh - 1);
			up = rem > half || (rem == half && (q & 1));
		}
		/* p from the exact value: 17 digits before rounding */
		if (q < p10_16) {
			p--;
			continue;
		}
		if (q >= p10_17) {
			p++;
			continue;
		}
		if (up)
			q++;
		if (q == p10_17) { /* 99..9.5 rounds up to the next power of ten */
			q = p10_16;
			p++;
		}
		d = (uint64_t)q;
		break;
	}
	if (d < p10_16 || d >= p10_17)
		return false;
	char dig[17];
	for (int i = 16; i >= 0; i--) {
		dig[i] = (char)('0' + d % 10);
		d /= 10;
	}
	int nd = 17;
	while (nd > 1 && dig[nd - 1] == '0')
		nd--;
	size_t len = 0;
	if (signbit(v))
		t[len++] = '-';
	if (p >= -4 && p < 17) {
		if (p >= 0) {
			for (int i = 0; i <= p; i++)
				t[len++] = dig[i];
			t[len++] = '.';
			if (nd > p + 1)
				for (int i = p + 1; i < nd; i++)
					t[len++] = dig[i];
			else
				t[len++] = '0';
		} else {
			t[len++] = '0';
			t[len++] = '.';
			for (int i = 0; i < -p - 1; i++)
				t[len++] = '0';
			for (int i = 0; i < nd; i++)
				t[len++] = dig[i];
		}
	} else {
		t[len++] = dig[0];
		if (nd > 1) {
			t[len++] = '.';
			for (int i = 1; i < nd; i++)
				t[len++] = dig[i];
		}
		t[len++] = 'e';
		int x = p;
		if (x < 0) {
			t[len++] = '-';
			x = -x;
		}
		char ex[8];
		int ne = 0;
		do {
			ex[ne++] = (char)('0' + x % 10);
			x /= 10;
		} while (x);
		while (ne)
			t[len++] = ex[--ne];
	}
	*ret_len = len;
	return true;
}

/* jansson's real format: %.17g, ".0" added to integral values, the
 * exponent without '+' and leading zeros */
static int jd_real(struct ep_buf *b, double v)
{
	char t[40];
	/* exact shortcut for multiples of 1/16 below 1e12 (counts, percentages
	 * like 12.5): at most 16 significant digits, so %.17g prints their exact
	 * decimal expansion in fixed notation, trailing zeros dropped */
	double x = v * 16.0;
	if (fabs(v) < 1e12 && x == (double)(int64_t)x) {
		int64_t q = (int64_t)x;
		uint64_t u = q < 0 ? (uint64_t)0 - (uint64_t)q : (uint64_t)q;
		struct coll_num ip = coll_i2s((int64_t)(u / 16));
		unsigned frac = (unsigned)(u % 16) * 625; /* ten-thousandths */
		size_t len = 0;
		if (signbit(v))
			t[len++] = '-';
		for (const char *p = ip.s; *p; p++)
			t[len++] = *p;
		t[len++] = '.';
		if (!frac)
			t[len++] = '0';
		for (unsigned d = 1000; frac; d /= 10) {
			t[len++] = (char)('0' + frac / d);
			frac %= d;
		}
		return ep_buf_append(b, t, len);
	}
	size_t glen;
	if (g17(v, t, &glen))
		return ep_buf_append(b, t, glen);
	int n = snprintf(t, sizeof(t), "%.17g", v);
	if (n < 0 || (size_t)n >= sizeof(t) - 3)
		return -EINVAL;
	size_t len = (size_t)n;
	if (!memchr(t, '.', len) && !memchr(t, 'e', len)) {
		t[len++] = '.';
		t[len++] = '0';
		t[len] = '\0';
	}
	char *e = memchr(t, 'e', len);
	if (e) {
		char *start = e + 1, *end = e + 2;
		if (*start == '-')
			start++;
		while (*end == '0')
			end++;
		if (end != start) {
			memmove(start, end, len - (size_t)(end - t) + 1);
			len -= (size_t)(end - start);
		}
	}
	return ep_buf_append(b, t, len);
}

static int jd(struct ep_buf *b, const json_t *j, int depth)
{
	int r = 0;
	if (depth > 2048)
		return -ELOOP;
	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		const char *key;
		json_t *v;
		bool first = true;
		r = ep_buf_append(b, "{", 1);
		json_object_foreach((json_t *)(uintptr_t)j, key, v)
		{
			if (r == 0 && !first)
				r = ep_buf_append(b, ",", 1);
			first = false;
			if (r == 0)
				r = jd_string(b, key, strlen(key));
			if (r == 0)
				r = ep_buf_append(b, ":", 1);
			if (r == 0)
				r = jd(b, v, depth + 1);
			if (r < 0)
				return r;
		}
		return r == 0 ? ep_buf_append(b, "}", 1) : r;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *v;
		r = ep_buf_append(b, "[", 1);
		json_array_foreach(j, i, v)
		{
			if (r == 0 && i > 0)
				r = ep_buf_append(b, ",", 1);
			if (r == 0)
				r = jd(b, v, depth + 1);
			if (r < 0)
				return r;
		}
		return r == 0 ? ep_buf_append(b, "]", 1) : r;
	}
	case JSON_STRING:
		return jd_string(b, json_string_value(j), json_string_length(j));
	case JSON_INTEGER: {
		struct coll_num n = coll_i2s((int64_t)json_integer_value(j));
		return ep_buf_append(b, n.s, strlen(n.s));
	}
	case JSON_REAL:
		return jd_real(b, json_real_value(j));
	case JSON_TRUE:
		return ep_buf_append(b, "true", 4);
	case JSON_FALSE:
		return ep_buf_append(b, "false", 5);
	case JSON_NULL:
		return ep_buf_append(b, "null", 4);
	}
	return -EINVAL;
}

char *coll_json_compact(const json_t *j)
{
	struct ep_buf b;
	if (!j)
		return NULL;
	ep_buf_init(&b, (size_t)1 << 30);
	b.data = malloc(4096); /* most texts fit: no regrowth */
	if (b.data) {
		b.data[0] = '\0';
		b.cap = 4096;
	}
	if (jd(&b, j, 0) < 0) {
		ep_buf_free(&b);
		return NULL;
	}
	return ep_buf_steal(&b);
}

/* The current findings: one row per agent holding a JSON array of every
 * finding of its latest report, each with its probe's name added. One row
 * instead of one per finding keeps ingest at a few statements per report.
 * Shallow copies: the findings' members are shared, not duplicated. */
/* obj's text with key "probe" set to probe: replaced in place when obj has
 * one, else added last (as json_object_set then json_dumps would write) */
static int jd_with_probe(struct ep_buf *b, const json_t *obj, const json_t *probe)
{
	const char *key;
	json_t *v;
	bool first = true, replaced = false;
	int r = ep_buf_append(b, "{", 1);
	json_object_foreach((json_t *)(uintptr_t)obj, key, v)
	{
		bool is_probe = strcmp(key, "probe") == 0;
		if (r == 0 && !first)
			r = ep_buf_append(b, ",", 1);
		first = false;
		if (r == 0)
			r = jd_string(b, key, strlen(key));
		if (r == 0)
			r = ep_buf_append(b, ":", 1);
		if (r == 0)
			r = jd(b, is_probe ? probe : v, 1);
		replaced |= is_probe;
		if (r < 0)
			return r;
	}
	if (r == 0 && !replaced)
		r = ep_buf_append(b, first ? "\"probe\":" : ",\"probe\":", first ? 8 : 9);
	if (r == 0 && !replaced)
		r = jd(b, probe, 1);
	return r == 0 ? ep_buf_append(b, "}", 1) : r;
}

char *coll_store_findings_json(const json_t *report)
{
	const json_t *probes = json_object_get(report, "probes");
	const json_t *p, *f;
	size_t i, k;
	bool first = true;
	struct ep_buf b;
	ep_buf_init(&b, (size_t)1 << 30);
	b.data = malloc(8192);
	if (b.data) {
		b.data[0] = '\0';
		b.cap = 8192;
	}
	int r = ep_buf_append(&b, "[", 1);
	json_array_foreach(probes, i, p)
	{
		const json_t *probe = json_object_get(p, "name");
		json_array_foreach(json_object_get(p, "findings"), k, f)
		{
			if (r == 0 && !first)
				r = ep_buf_append(&b, ",", 1);
			first = false;
			/* json_object_set would refuse a non-object or a missing name */
			if (r == 0)
				r = json_is_object(f) && probe ? jd_with_probe(&b, f, probe)
							       : -EINVAL;
		}
	}
	if (r == 0)
		r = ep_buf_append(&b, "]", 1);
	if (r < 0) {
		ep_buf_free(&b);
		return NULL;
	}
	return ep_buf_steal(&b);
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
	int r = COLL_Q(s,
		       "INSERT INTO current_findings (agent_id, seq, findings) VALUES (?, ?, ?)"
		       " ON CONFLICT (agent_id) DO UPDATE SET seq = excluded.seq, findings ="
		       " excluded.findings",
		       NULL, it->agent.id, coll_i2s(it->seq).s, text);
	free(owned);
	return r;
}

/* Stores one report inside the open transaction: the caller wraps it in a
 * savepoint. */
static int ingest_one(struct coll_store *s, struct coll_ingest *it, const struct coll_analysis *an)
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
		   " last_seq < CAST(? AS BIGINT) AND revoked_at IS NULL RETURNING (SELECT COUNT(*)"
		   " FROM alerts x WHERE x.agent_id = agents.id AND x.closed_at IS NULL)",
		   &res, seq.s, now.s, coll_jstr(host, "hostname"),
		   coll_jstr(it->report, "agent_version"), coll_i2s(interval).s, it->agent.id,
		   seq.s);
	if (r < 0)
		return r;
	int64_t changed = (int64_t)res.rows;
	it->open_alerts = changed == 1 ? coll_s2i(coll_db_val(&res, 0, 0)) : 0;
	coll_db_res_free(&res);
	if (changed != 1) {
		r = COLL_Q(s, "SELECT last_seq, revoked_at FROM agents WHERE id = ?", &res,
			   it->agent.id);
		if (r < 0)
			return r;
		if (res.rows != 1 || coll_db_val(&res, 0, 1)) {
			coll_db_res_free(&res);
			return -EPERM; /* revoked meanwhile */
		}
		it->last_seq = coll_s2i(coll_db_val(&res, 0, 0));
		coll_db_res_free(&res);
		it->result = COLL_INGEST_DUPLICATE;
		if (it->seq < it->last_seq) {
			/* older than the newest accepted: a restored or cloned agent */
			r = COLL_Q(s,
				   "UPDATE agents SET seq_rewinds = seq_rewinds + 1, "
				   "last_rewind_at = ?"
				   " WHERE id = ?",
				   NULL, now.s, it->agent.id);
			if (r == 0)
				r = COLL_Q(s,
					   "INSERT INTO events (agent_id, ts, kind, detail) VALUES "
					   "(?, "
					   "?,"
					   " 'agent_seq_rewind', ?)",
					   NULL, it->agent.id, now.s, seq.s);
		}
		return r;
	}
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
	if (an) {
		r = coll_analysis_run(an, s, it);
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
			const struct coll_analysis *an, bool savepoints, bool *ret_redo)
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
		r = ingest_one(s, it, an);
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

int coll_store_ingest(struct coll_store *s, struct coll_ingest *const *items, size_t n,
		      const struct coll_analysis *an)
{
	bool redo = false;
	int r = ingest_batch(s, items, n, an, false, &redo);
	if (r < 0 && redo) {
		coll_db_rollback(s->db);
		r = ingest_batch(s, items, n, an, true, &redo);
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
	/* hourly rollups of the samples about to go, merged when an hour is
	 * rolled up in two chunks */
	int r = retire(s,
		       "SELECT ts FROM samples WHERE ts < CAST(? AS BIGINT) ORDER BY ts LIMIT 1"
		       " OFFSET " RETENTION_CHUNK,
		       "INSERT INTO rollups (agent_id, series, hour, n, vsum, vmin, vmax)"
		       " SELECT agent_id, series, ts - ts % 3600, COUNT(*), SUM(value), MIN(value),"
		       " MAX(value) FROM samples WHERE ts < CAST(? AS BIGINT) GROUP BY agent_id,"
		       " series, ts - ts % 3600 ON CONFLICT (agent_id, series, hour) DO UPDATE SET"
		       " n = rollups.n + excluded.n, vsum = rollups.vsum + excluded.vsum,"
		       " vmin = CASE WHEN excluded.vmin < rollups.vmin THEN excluded.vmin ELSE"
		       " rollups.vmin END, vmax = CASE WHEN excluded.vmax > rollups.vmax THEN"
		       " excluded.vmax ELSE rollups.vmax END",
		       "DELETE FROM samples WHERE ts < CAST(? AS BIGINT)", now - keep_raw_s);
	if (r == 0)
		r = retire(s,
			   "SELECT received_at FROM reports WHERE received_at < CAST(? AS BIGINT)"
			   " ORDER BY received_at LIMIT 1 OFFSET " RETENTION_CHUNK,
			   NULL, "DELETE FROM reports WHERE received_at < CAST(? AS BIGINT)",
			   now - keep_raw_s);
	if (r == 0)
		r = COLL_Q(s, "DELETE FROM rollups WHERE hour < CAST(? AS BIGINT)", NULL,
			   roll_cut.s);
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

/* ---- read API ------------------------------------------------------------------------ */

int coll_store_hosts(struct coll_store *s, const struct coll_scope *scope, int64_t now,
		     json_t **ret)
{
	static const char *const names[] = {
		"id",    "customer_id", "customer",   "hostname",    "last_report_at", "state",
		"score", "band",        "top_reason", "open_alerts", "stale_since"};
	struct coll_db_res res;
	if (!scope)
		return -EINVAL;
	int r = COLL_Q(
		s,
		"SELECT a.id, a.customer_id, c.name, a.hostname, a.last_report_at, " STATE_SQL
		", a.score, " BAND_SQL ", a.top_reason, (SELECT COUNT(*) FROM alerts x WHERE"
		" x.agent_id = a.id AND x.closed_at IS NULL), a.stale_since FROM agents a JOIN "
		"customers c ON c.id = a.customer_id"
		" WHERE (CAST(? AS TEXT) IS NULL OR a.customer_id = ?)"
		" ORDER BY a.revoked_at IS NOT NULL, COALESCE(a.score, 101), c.name, a.hostname,"
		" a.id LIMIT CAST(? AS BIGINT) OFFSET CAST(? AS BIGINT)",
		&res, coll_i2s(now).s, scope->customer_id, scope->customer_id,
		coll_i2s(scope->limit > 0 ? scope->limit : 100000).s, coll_i2s(scope->offset).s);
	if (r < 0)
		return r;
	r = rows_json(&res, names, "ssssisissii", ret);
	coll_db_res_free(&res);
	return r;
}

static const char *const alert_names[] = {
	"id",    "host_id", "hostname",    "customer_id", "rule",       "object",   "severity",
	"value", "message", "remediation", "opened_at",   "updated_at", "closed_at"};
static const char alert_types[] = "issssssdssiii";

int coll_store_host(struct coll_store *s, const struct coll_scope *scope, const char *id,
		    int64_t now, json_t **ret)
{
	static const char *const names[] = {
		"id",          "customer_id", "customer",    "hostname",       "agent_version",
		"enrolled_at", "revoked_at",  "last_seq",    "last_report_at", "state",
		"score",       "band",        "seq_rewinds", "score_detail",   "forecasts",
		"stale_since"};
	struct coll_db_res res = {0};
	json_t *host = NULL, *j = NULL;
	if (!scope)
		return -EINVAL;
	int r = COLL_Q(
		s,
		"SELECT a.id, a.customer_id, c.name, a.hostname, a.agent_version, a.enrolled_at,"
		" a.revoked_at, a.last_seq, a.last_report_at, " STATE_SQL ", a.score, " BAND_SQL ","
		" a.seq_rewinds, a.score_json, a.forecasts_json, a.stale_since"
		" FROM agents a JOIN customers c ON c.id = a.customer_id"
		" WHERE a.id = ? AND (CAST(? AS TEXT) IS NULL OR a.customer_id = ?)",
		&res, coll_i2s(now).s, id, scope->customer_id, scope->customer_id);
	if (r < 0)
		return r;
	if (res.rows != 1) {
		coll_db_res_free(&res);
		return -ENOENT; /* missing and out of scope alike */
	}
	host = row_json(&res, 0, names, "sssssiiiisisijji");
	coll_db_res_free(&res);
	if (!host)
		return -ENOMEM;

	r = COLL_Q(
		s,
		"SELECT body FROM reports WHERE agent_id = ? AND seq = (SELECT last_seq FROM agents"
		" WHERE id = ?)",
		&res, id, id);
	if (r < 0)
		goto fail;
	j = res.rows ? json_loads(coll_db_val(&res, 0, 0), 0, NULL) : NULL;
	json_object_set_new(host, "report", j ? j : json_null());
	coll_db_res_free(&res);

	r = COLL_Q(s, "SELECT findings FROM current_findings WHERE agent_id = ?", &res, id);
	if (r < 0)
		goto fail;
	j = res.rows ? json_loads(coll_db_val(&res, 0, 0), 0, NULL) : NULL;
	coll_db_res_free(&res);
	if (!j)
		j = json_array();
	json_object_set_new(host, "findings", j);

	r = COLL_Q(
		s,
		"SELECT x.id, x.agent_id, a.hostname, x.customer_id, x.rule, x.object, x.severity,"
		" x.value, x.message, x.remediation, x.opened_at, x.updated_at, x.closed_at"
		" FROM alerts x JOIN agents a ON a.id = x.agent_id WHERE x.agent_id = ? AND"
		" x.closed_at IS NULL ORDER BY x.opened_at DESC",
		&res, id);
	if (r < 0)
		goto fail;
	r = rows_json(&res, alert_names, alert_types, &j);
	coll_db_res_free(&res);
	if (r < 0)
		goto fail;
	json_object_set_new(host, "alerts", j);
	/* score_detail/forecasts: stored JSON, renamed for the API */
	json_t *sd = json_incref(json_object_get(host, "score_detail"));
	json_object_del(host, "score_detail");
	json_object_set_new(host, "explanation", sd ? sd : json_null());
	if (json_is_null(json_object_get(host, "forecasts")))
		json_object_set_new(host, "forecasts", json_array());
	*ret = host;
	return 0;
fail:
	json_decref(host);
	return r;
}

int coll_store_alerts(struct coll_store *s, const struct coll_scope *scope, bool open_only,
		      json_t **ret)
{
	struct coll_db_res res;
	if (!scope)
		return -EINVAL;
	int r = COLL_Q(
		s,
		"SELECT x.id, x.agent_id, a.hostname, x.customer_id, x.rule, x.object,"
		" x.severity, x.value, x.message, x.remediation, x.opened_at, x.updated_at,"
		" x.closed_at FROM alerts x JOIN agents a ON a.id = x.agent_id"
		" WHERE (CAST(? AS TEXT) IS NULL OR x.customer_id = ?) AND (? = '0' OR"
		" x.closed_at IS NULL) ORDER BY x.closed_at IS NOT NULL, x.updated_at DESC, x.id"
		" DESC LIMIT CAST(? AS BIGINT) OFFSET CAST(? AS BIGINT)",
		&res, scope->customer_id, scope->customer_id, open_only ? "1" : "0",
		coll_i2s(scope->limit > 0 ? scope->limit : 1000).s, coll_i2s(scope->offset).s);
	if (r < 0)
		return r;
	r = rows_json(&res, alert_names, alert_types, ret);
	coll_db_res_free(&res);
	return r;
}

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
