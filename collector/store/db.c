/* SQLite and PostgreSQL behind one text-in, text-out query call (db.h):
 * what both backends share, and the calls that pick one (db_lite.c,
 * db_pg.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store/db_int.h"
#include "erpulse/util.h"

void coll_db_redact_url(char *msg, size_t size, const char *url)
{
	char pw[256];

	if (!url)
		return;
	ep_conninfo_password(url, pw, sizeof(pw));
	ep_redact(msg, size, pw);
	explicit_bzero(pw, sizeof(pw));
}

void coll_db_set_err(struct coll_db *db, const char *prefix, const char *msg)
{
	snprintf(db->err, sizeof(db->err), "%s%s", prefix, msg ? msg : "");
	if (db->kind == COLL_DB_PG)
		coll_db_redact_url(db->err, sizeof(db->err), db->url);
	size_t n = strlen(db->err);
	while (n > 0 && (db->err[n - 1] == '\n' || db->err[n - 1] == ' '))
		db->err[--n] = '\0';
}

enum coll_db_kind coll_db_kind(const struct coll_db *db)
{
	return db->kind;
}

const char *coll_db_error(const struct coll_db *db)
{
	return db->err;
}

void coll_db_set_deadline(struct coll_db *db, int64_t at_ms)
{
	db->deadline_ms = at_ms;
}

void coll_db_res_free(struct coll_db_res *r)
{
	if (!r || !r->v)
		return;
	for (size_t i = 0; i < r->rows * r->cols; i++)
		free(r->v[i]);
	free(r->v);
	free(r->lens);
	r->v = NULL;
	r->lens = NULL;
	r->rows = r->cols = 0;
}

size_t coll_db_len(const struct coll_db_res *r, size_t row, size_t col)
{
	const char *v = coll_db_val(r, row, col);
	if (!v)
		return 0;
	size_t n = r->lens ? r->lens[row * r->cols + col] : SIZE_MAX;
	return n == SIZE_MAX ? strlen(v) : n;
}

char *coll_db_dup_bytes(const void *p, size_t n)
{
	char *c = malloc(n + 1);
	if (c) {
		if (n)
			memcpy(c, p, n);
		c[n] = '\0';
	}
	return c;
}

const char *coll_db_row_text(const struct coll_db_row *row, size_t col)
{
	if (row->st)
		return (const char *)sqlite3_column_text(row->st, (int)col);
	return PQgetisnull(row->res, row->row, (int)col) ? NULL
							 : PQgetvalue(row->res, row->row, (int)col);
}

int64_t coll_db_row_int(const struct coll_db_row *row, size_t col)
{
	if (row->st)
		return sqlite3_column_int64(row->st, (int)col);
	int64_t v = 0;
	const char *t = coll_db_row_text(row, col);
	if (t)
		ep_parse_int64(t, INT64_MIN, INT64_MAX, &v);
	return v;
}

double coll_db_row_double(const struct coll_db_row *row, size_t col)
{
	if (row->st)
		return sqlite3_column_double(row->st, (int)col);
	const char *t = coll_db_row_text(row, col);
	return t ? strtod(t, NULL) : 0;
}

struct stmt_slot *coll_db_slot_for(struct coll_db *db, const char *sql)
{
	for (size_t i = 0; i < db->n_cache; i++)
		if (db->cache[i].sql == sql)
			return strcmp(db->cache[i].text, sql) == 0 ? &db->cache[i] : NULL;
	if (db->n_cache < STMT_CACHE) {
		struct stmt_slot *s = &db->cache[db->n_cache];
		memset(s, 0, sizeof(*s));
		s->text = strdup(sql);
		if (!s->text)
			return NULL;
		s->sql = sql;
		db->n_cache++;
		return s;
	}
	return NULL;
}

int coll_db_open(const char *url, const struct coll_db_opts *opts, struct coll_db **ret, char *err,
		 size_t errlen)
{
	struct coll_db *db = calloc(1, sizeof(*db));
	int r;
	if (!db)
		return -ENOMEM;
	db->opts = *opts;
	if (db->opts.statement_timeout_ms <= 0)
		db->opts.statement_timeout_ms = 1500;
	if (db->opts.connect_timeout_ms <= 0)
		db->opts.connect_timeout_ms = 1500;
	if (db->opts.busy_timeout_ms <= 0)
		db->opts.busy_timeout_ms = 5000;
	db->deadline_ms = INT64_MAX;
	if (strncmp(url, "sqlite://", 9) == 0) {
		db->kind = COLL_DB_SQLITE;
		db->url = strdup(url + 9);
		if (!db->url) {
			r = -ENOMEM;
			goto fail;
		}
		if (!db->url[0]) {
			snprintf(err, errlen, "store url '%s': no file name", url);
			r = -EINVAL;
			goto fail;
		}
		r = coll_db_lite_open(db, err, errlen);
		if (r < 0)
			goto fail;
	} else if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
		db->kind = COLL_DB_PG;
		db->url = strdup(url);
		if (!db->url) {
			r = -ENOMEM;
			goto fail;
		}
		r = coll_db_pg_connect(db);
		if (r < 0) {
			snprintf(err, errlen, "cannot connect to PostgreSQL: %s", db->err);
			goto fail;
		}
	} else {
		snprintf(err, errlen,
			 "store url '%s': expected sqlite:///path or postgresql://user@host/db",
			 url);
		coll_db_redact_url(err, errlen, url);
		r = -EINVAL;
		goto fail;
	}
	*ret = db;
	return 0;
fail:
	coll_db_close(db);
	return r;
}

void coll_db_close(struct coll_db *db)
{
	if (!db)
		return;
	if (db->kind == COLL_DB_SQLITE)
		coll_db_lite_close(db);
	else
		coll_db_pg_close(db);
	for (size_t i = 0; i < db->n_cache; i++)
		free(db->cache[i].text);
	if (db->url) /* a PostgreSQL URL may carry the password */
		explicit_bzero(db->url, strlen(db->url));
	free(db->url);
	free(db);
}

int coll_db_query(struct coll_db *db, const char *sql, const char *const *params, size_t n,
		  struct coll_db_res *ret)
{
	return coll_db_query_bin(db, sql, params, NULL, n, ret);
}

int coll_db_query_bin(struct coll_db *db, const char *sql, const char *const *params,
		      const size_t *lens, size_t n, struct coll_db_res *ret)
{
	if (ret)
		memset(ret, 0, sizeof(*ret));
	if (db->kind == COLL_DB_SQLITE)
		return coll_db_lite_query(db, sql, params, lens, n, ret, NULL, NULL);
	return coll_db_pg_query(db, sql, params, lens, n, ret, NULL, NULL);
}

int coll_db_query_each(struct coll_db *db, const char *sql, const char *const *params, size_t n,
		       coll_db_row_fn fn, void *ctx)
{
	if (db->kind == COLL_DB_SQLITE)
		return coll_db_lite_query(db, sql, params, NULL, n, NULL, fn, ctx);
	return coll_db_pg_query(db, sql, params, NULL, n, NULL, fn, ctx);
}

int coll_db_exec(struct coll_db *db, const char *sql)
{
	if (db->kind == COLL_DB_SQLITE)
		return coll_db_lite_exec(db, sql);
	return coll_db_pg_exec(db, sql);
}

int coll_db_set_statement_timeout(struct coll_db *db, int64_t ms, int64_t *ret_old)
{
	if (ret_old)
		*ret_old = db->opts.statement_timeout_ms;
	db->opts.statement_timeout_ms = ms;
	if (db->kind != COLL_DB_PG)
		return 0;
	char sql[64];
	snprintf(sql, sizeof(sql), "SET statement_timeout = %lld", (long long)(ms > 0 ? ms : 0));
	return coll_db_pg_exec(db, sql);
}

int coll_db_begin(struct coll_db *db)
{
	if (db->kind == COLL_DB_SQLITE)
		return coll_db_lite_begin(db);
	return coll_db_pg_begin(db);
}

int coll_db_commit(struct coll_db *db)
{
	if (db->kind == COLL_DB_SQLITE)
		return coll_db_lite_commit(db);
	return coll_db_pg_commit(db);
}

void coll_db_rollback(struct coll_db *db)
{
	if (db->kind == COLL_DB_SQLITE)
		coll_db_lite_rollback(db);
	else
		coll_db_pg_rollback(db);
}

/* ---- array parameters (PostgreSQL's binary array format: ndim, has-null
 * flag, element type, then per dimension its size and lower bound, then each
 * element as a length (-1 = NULL) and its bytes; integers big-endian) ---- */

#define ARRAY_HEAD 20 /* ndim, flags, element type, size, lower bound */

static void put_be32(char *p, uint32_t v)
{
	p[0] = (char)(v >> 24);
	p[1] = (char)(v >> 16);
	p[2] = (char)(v >> 8);
	p[3] = (char)v;
}

static int array_grow(struct coll_db_array *a, size_t more)
{
	if (a->err)
		return a->err;
	if (a->len + more <= a->cap)
		return 0;
	size_t cap = a->cap ? a->cap : 256;
	while (cap < a->len + more)
		cap *= 2;
	char *d = realloc(a->data, cap);
	if (!d) {
		a->err = -ENOMEM;
		return a->err;
	}
	a->data = d;
	a->cap = cap;
	return 0;
}

void coll_db_array_init(struct coll_db_array *a, enum coll_db_array_type type)
{
	memset(a, 0, sizeof(*a));
	if (array_grow(a, ARRAY_HEAD) < 0)
		return;
	put_be32(a->data, 1);                  /* one dimension */
	put_be32(a->data + 4, 0);              /* has NULLs: set by the first */
	put_be32(a->data + 8, (uint32_t)type); /* the element type's oid */
	put_be32(a->data + 12, 0);             /* its size: coll_db_array_param */
	put_be32(a->data + 16, 1);             /* lower bound */
	a->len = ARRAY_HEAD;
}

int coll_db_array_add(struct coll_db_array *a, const void *p, size_t len)
{
	if (p && len > INT32_MAX)
		return a->err = -E2BIG;
	int r = array_grow(a, 4 + (p ? len : 0));
	if (r < 0)
		return r;
	put_be32(a->data + a->len, p ? (uint32_t)len : UINT32_MAX);
	if (p)
		memcpy(a->data + a->len + 4, p, len);
	else
		put_be32(a->data + 4, 1);
	a->len += 4 + (p ? len : 0);
	a->n++;
	return 0;
}

int coll_db_array_add_text(struct coll_db_array *a, const char *text)
{
	return coll_db_array_add(a, text, text ? strlen(text) : 0);
}

int coll_db_array_add_int(struct coll_db_array *a, int64_t v)
{
	char b[8];
	put_be32(b, (uint32_t)((uint64_t)v >> 32));
	put_be32(b + 4, (uint32_t)v);
	return coll_db_array_add(a, b, sizeof(b));
}

const char *coll_db_array_param(struct coll_db_array *a, size_t *ret_len)
{
	if (a->err || !a->data || a->n > INT32_MAX)
		return NULL;
	put_be32(a->data + 12, (uint32_t)a->n);
	*ret_len = a->len;
	return a->data;
}

void coll_db_array_free(struct coll_db_array *a)
{
	free(a->data);
	memset(a, 0, sizeof(*a));
}
