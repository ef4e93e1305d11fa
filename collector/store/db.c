/* SQLite and PostgreSQL behind one text-in, text-out query call (db.h).
 * PostgreSQL is driven asynchronously with poll(2) so that a hung server
 * costs at most the deadline, never a hang: on timeout the connection is
 * dropped and reopened by the next call. */
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store/db.h"
#include "erpulse/util.h"

/* prepared statements kept per connection: the ingest connection alone
 * runs some 70 (store, analysis, incidents, notices); one that does not fit
 * would be parsed again at every call */
#define STMT_CACHE 192
/* bytes of the SQLite file mapped (shared by every connection; the
 * kernel's page cache, not our heap) */
#define LITE_MMAP_SIZE "1073741824"

struct stmt_slot {
	const char *sql; /* key: the literal's address */
	sqlite3_stmt *stmt;
	char *pg_sql;        /* '?' -> $n translation */
	uint64_t pg_session; /* prepared as "s<index>" in this session (0 = not) */
};

struct coll_db {
	enum coll_db_kind kind;
	bool holds_write; /* SQLite: this connection holds the process write ticket */
	struct coll_db_opts opts;
	char *url; /* PostgreSQL conninfo / SQLite path */
	sqlite3 *lite;
	PGconn *pg;
	int64_t deadline_ms;
	uint64_t pg_session; /* bumped by every (re)connect: prepared statements go */
	struct stmt_slot cache[STMT_CACHE];
	size_t n_cache;
	char err[512];
};

/* Copies url's password over every quote of it in msg (libpq quotes a
 * malformed URL whole), so that no error text or log carries it. */
static void redact_url(char *msg, size_t size, const char *url)
{
	char pw[256];

	if (!url)
		return;
	ep_conninfo_password(url, pw, sizeof(pw));
	ep_redact(msg, size, pw);
	explicit_bzero(pw, sizeof(pw));
}

static void set_err(struct coll_db *db, const char *prefix, const char *msg)
{
	snprintf(db->err, sizeof(db->err), "%s%s", prefix, msg ? msg : "");
	if (db->kind == COLL_DB_PG)
		redact_url(db->err, sizeof(db->err), db->url);
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

/* A copy of n bytes with a NUL after them. */
static char *dup_bytes(const void *p, size_t n)
{
	char *c = malloc(n + 1);
	if (c) {
		if (n)
			memcpy(c, p, n);
		c[n] = '\0';
	}
	return c;
}

/* One result row handed to a coll_db_row_fn: SQLite's statement, or a
 * PostgreSQL result and a row number. */
struct coll_db_row {
	sqlite3_stmt *st;
	PGresult *res;
	int row;
};

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

/* ---- SQLite ----------------------------------------------------------- */

/* SQLite has one writer per file, and its busy handler polls with growing
 * sleeps: a connection that commits back to back (the ingest batcher) would
 * starve the others (the outbox worker). Writers in this process therefore
 * queue first-come first-served on a ticket lock before they ask SQLite for
 * the write lock; the busy timeout still covers other processes (the CLI). */
static pthread_mutex_t wlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wcond = PTHREAD_COND_INITIALIZER;
static uint64_t w_next, w_serving;

static void write_acquire(struct coll_db *db)
{
	if (db->holds_write)
		return;
	pthread_mutex_lock(&wlock);
	uint64_t me = w_next++;
	while (w_serving != me)
		pthread_cond_wait(&wcond, &wlock);
	pthread_mutex_unlock(&wlock);
	db->holds_write = true;
}

static void write_release(struct coll_db *db)
{
	if (!db->holds_write)
		return;
	pthread_mutex_lock(&wlock);
	w_serving++;
	pthread_cond_broadcast(&wcond);
	pthread_mutex_unlock(&wlock);
	db->holds_write = false;
}

static int lite_rc(struct coll_db *db, int rc)
{
	int ext = sqlite3_extended_errcode(db->lite);
	set_err(db, "sqlite: ", sqlite3_errmsg(db->lite));
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
		return (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
			       ? -EEXIST
			       : -EINVAL;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_INTERRUPT:
		return -ETIMEDOUT;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_NOMEM:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

static int lite_progress(void *arg)
{
	const struct coll_db *db = arg;
	return db->deadline_ms != INT64_MAX && ep_mono_ms() > db->deadline_ms;
}

static int lite_open(struct coll_db *db, char *err, size_t errlen)
{
	int rc = sqlite3_open_v2(db->url, &db->lite,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
				 NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open SQLite database '%s': %s", db->url,
			 db->lite ? sqlite3_errmsg(db->lite) : sqlite3_errstr(rc));
		return -EIO;
	}
	sqlite3_busy_timeout(db->lite, (int)db->opts.busy_timeout_ms);
	sqlite3_progress_handler(db->lite, 1000, lite_progress, db);
	char *msg = NULL;
	rc = sqlite3_exec(
		db->lite,
		"PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
		/* every connection: reads of a store larger than the page cache
		 * come from the mapped file instead of a read(2) and a copy per
		 * page (issue 16: CPU per report grew x2.1 with the store);
		 * 16 MiB of page cache rather than SQLite's 2 MiB for the
		 * B-tree's inner pages; sorts in memory */
		"PRAGMA mmap_size=" LITE_MMAP_SIZE "; PRAGMA cache_size=-16384;"
		" PRAGMA temp_store=MEMORY;",
		NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot set up SQLite database '%s': %s", db->url,
			 msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static struct stmt_slot *slot_for(struct coll_db *db, const char *sql)
{
	for (size_t i = 0; i < db->n_cache; i++)
		if (db->cache[i].sql == sql)
			return &db->cache[i];
	if (db->n_cache < STMT_CACHE) {
		struct stmt_slot *s = &db->cache[db->n_cache++];
		memset(s, 0, sizeof(*s));
		s->sql = sql;
		return s;
	}
	return NULL;
}

static int res_alloc(struct coll_db_res *r, size_t rows, size_t cols)
{
	r->rows = rows;
	r->cols = cols;
	r->v = NULL;
	if (rows * cols == 0)
		return 0;
	r->v = calloc(rows * cols, sizeof(char *));
	return r->v ? 0 : -ENOMEM;
}

static int lite_query(struct coll_db *db, const char *sql, const char *const *params,
		      const size_t *lens, size_t n, struct coll_db_res *ret, coll_db_row_fn fn,
		      void *ctx)
{
	struct stmt_slot *slot = slot_for(db, sql);
	sqlite3_stmt *st = slot ? slot->stmt : NULL;
	int rc, r = 0;
	char **vals = NULL;
	size_t *vlens = NULL; /* allocated at the first BLOB value */
	size_t nvals = 0, cap = 0, cols = 0, rows = 0;
	bool ticket = false;

	if (!st) {
		rc = sqlite3_prepare_v2(db->lite, sql, -1, &st, NULL);
		if (rc != SQLITE_OK)
			return lite_rc(db, rc);
		if (slot)
			slot->stmt = st;
	}
	for (size_t i = 0; i < n; i++) {
		if (!params[i])
			rc = sqlite3_bind_null(st, (int)i + 1);
		else if (lens && lens[i] != COLL_DB_TEXT)
			rc = sqlite3_bind_blob64(st, (int)i + 1, params[i], lens[i], SQLITE_STATIC);
		else
			rc = sqlite3_bind_text(st, (int)i + 1, params[i], -1, SQLITE_STATIC);
		if (rc != SQLITE_OK) {
			r = lite_rc(db, rc);
			goto out;
		}
	}
	ticket = sqlite3_get_autocommit(db->lite) && !sqlite3_stmt_readonly(st) && !db->holds_write;
	if (ticket)
		write_acquire(db);
	cols = (size_t)sqlite3_column_count(st);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (fn) {
			struct coll_db_row row = {.st = st};
			r = fn(ctx, &row);
			if (r < 0)
				goto out;
			continue;
		}
		if (!ret)
			continue;
		if (nvals + cols > cap) {
			size_t ncap = cap ? cap * 2 : 16;
			while (ncap < nvals + cols)
				ncap *= 2;
			char **nv = realloc(vals, ncap * sizeof(char *));
			if (!nv) {
				r = -ENOMEM;
				goto out;
			}
			vals = nv;
			if (vlens) {
				size_t *nl = realloc(vlens, ncap * sizeof(size_t));
				if (!nl) {
					r = -ENOMEM;
					goto out;
				}
				vlens = nl;
			}
			cap = ncap;
		}
		for (size_t c = 0; c < cols; c++) {
			if (sqlite3_column_type(st, (int)c) == SQLITE_BLOB) {
				if (!vlens) {
					vlens = malloc(cap * sizeof(size_t));
					if (!vlens) {
						r = -ENOMEM;
						goto out;
					}
					for (size_t k = 0; k < cap; k++)
						vlens[k] = SIZE_MAX;
				}
				const void *b = sqlite3_column_blob(st, (int)c);
				size_t bn = (size_t)sqlite3_column_bytes(st, (int)c);
				vals[nvals] = dup_bytes(b, bn);
				vlens[nvals] = bn;
				if (!vals[nvals]) {
					r = -ENOMEM;
					goto out;
				}
				nvals++;
				continue;
			}
			const unsigned char *t = sqlite3_column_text(st, (int)c);
			vals[nvals] = t ? strdup((const char *)t) : NULL;
			if (vlens)
				vlens[nvals] = SIZE_MAX;
			if (t && !vals[nvals]) {
				r = -ENOMEM;
				goto out;
			}
			nvals++;
		}
		rows++;
	}
	if (rc != SQLITE_DONE) {
		r = lite_rc(db, rc);
		goto out;
	}
	if (ret) {
		ret->rows = rows;
		ret->cols = cols;
		ret->v = vals;
		ret->lens = vlens;
		ret->changes = sqlite3_changes(db->lite);
		vals = NULL;
		vlens = NULL;
		nvals = 0;
	}
out:
	for (size_t i = 0; i < nvals; i++)
		free(vals[i]);
	free(vals);
	free(vlens);
	sqlite3_reset(st);
	if (ticket)
		write_release(db);
	sqlite3_clear_bindings(st);
	if (!slot)
		sqlite3_finalize(st);
	return r;
}

/* ---- PostgreSQL ------------------------------------------------------- */

static int64_t pg_wait_until(const struct coll_db *db)
{
	if (db->opts.statement_timeout_ms <= 0) /* none (a migration) */
		return db->deadline_ms;
	int64_t until = ep_mono_ms() + db->opts.statement_timeout_ms + 500;
	return db->deadline_ms < until ? db->deadline_ms : until;
}

static void pg_drop(struct coll_db *db)
{
	if (db->pg)
		PQfinish(db->pg);
	db->pg = NULL;
}

/* Waits until fd is readable (or writable) or until the ms clock passes
 * until. 0, or -ETIMEDOUT. */
static int wait_fd(int fd, bool write, int64_t until)
{
	for (;;) {
		int64_t left = until - ep_mono_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = {.fd = fd, .events = write ? POLLOUT : POLLIN};
		int rc = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

/* NOTICEs ("relation already exists, skipping") are not errors: drop them
 * rather than let libpq print them on stderr. */
static void pg_quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static int pg_connect(struct coll_db *db)
{
	char options[128], ctimeout[32];
	snprintf(options, sizeof(options), "-c statement_timeout=%lld -c lock_timeout=%lld",
		 (long long)db->opts.statement_timeout_ms,
		 (long long)db->opts.statement_timeout_ms);
	long long cts = (db->opts.connect_timeout_ms + 999) / 1000;
	snprintf(ctimeout, sizeof(ctimeout), "%lld", cts < 2 ? 2 : cts);
	const char *const keys[] = {"dbname", "connect_timeout", "options", "application_name",
				    NULL};
	const char *const vals[] = {db->url, ctimeout, options, "erpulse-collector", NULL};
	int64_t until = ep_mono_ms() + db->opts.connect_timeout_ms;
	if (db->deadline_ms < until)
		until = db->deadline_ms;

	pg_drop(db);
	db->pg = PQconnectStartParams(keys, vals, 1);
	if (!db->pg) {
		set_err(db, "postgresql: ", "out of memory");
		return -ENOMEM;
	}
	if (PQstatus(db->pg) == CONNECTION_BAD)
		goto bad;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	for (;;) {
		if (st == PGRES_POLLING_OK)
			break;
		if (st == PGRES_POLLING_FAILED)
			goto bad;
		int rc = wait_fd(PQsocket(db->pg), st == PGRES_POLLING_WRITING, until);
		if (rc < 0) {
			set_err(db, "postgresql: connection timed out", "");
			pg_drop(db);
			return -ETIMEDOUT;
		}
		st = PQconnectPoll(db->pg);
	}
	if (PQsetnonblocking(db->pg, 1) != 0)
		goto bad;
	PQsetNoticeProcessor(db->pg, pg_quiet, NULL);
	db->pg_session++;
	return 0;
bad:
	set_err(db, "postgresql: ", PQerrorMessage(db->pg));
	pg_drop(db);
	return -ECONNRESET;
}

static int pg_result_rc(struct coll_db *db, PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	set_err(db, "postgresql: ", PQresultErrorMessage(res));
	if (!state)
		return -EIO;
	if (strcmp(state, "23505") == 0)
		return -EEXIST;
	if (strncmp(state, "23", 2) == 0)
		return -EINVAL;
	if (strcmp(state, "57014") == 0 || strcmp(state, "55P03") == 0)
		return -ETIMEDOUT;
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
		return -EAGAIN;
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0)
		return -ECONNRESET;
	return -EIO;
}

/* Sends (already done by caller), flushes, waits for and collects every
 * result; the last non-NULL result is kept in *ret_res. */
static int pg_collect(struct coll_db *db, PGresult **ret_res)
{
	int64_t until = pg_wait_until(db);
	int rc;
	while ((rc = PQflush(db->pg)) == 1) {
		if (wait_fd(PQsocket(db->pg), true, until) < 0)
			goto timeout;
	}
	if (rc < 0)
		goto broken;
	PGresult *last = NULL;
	int r = 0;
	for (;;) {
		while (PQisBusy(db->pg)) {
			if (wait_fd(PQsocket(db->pg), false, until) < 0) {
				PQclear(last);
				goto timeout;
			}
			if (!PQconsumeInput(db->pg)) {
				PQclear(last);
				goto broken;
			}
		}
		PGresult *res = PQgetResult(db->pg);
		if (!res)
			break;
		ExecStatusType es = PQresultStatus(res);
		if (r == 0 && es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK &&
		    es != PGRES_EMPTY_QUERY)
			r = pg_result_rc(db, res);
		PQclear(last);
		last = res;
	}
	if (r < 0 || PQstatus(db->pg) == CONNECTION_BAD) {
		PQclear(last);
		if (PQstatus(db->pg) == CONNECTION_BAD) {
			pg_drop(db);
			return r < 0 ? r : -ECONNRESET;
		}
		return r;
	}
	*ret_res = last;
	return 0;
timeout:
	set_err(db, "postgresql: no answer within the deadline", "");
	pg_drop(db);
	return -ETIMEDOUT;
broken:
	set_err(db, "postgresql: ", PQerrorMessage(db->pg));
	pg_drop(db);
	return -ECONNRESET;
}

static char *pg_translate(const char *sql)
{
	struct ep_buf b;
	ep_buf_init(&b, 1 << 20);
	int n = 0;
	bool quoted = false;
	for (const char *p = sql; *p; p++) {
		if (*p == '\'')
			quoted = !quoted;
		if (*p == '?' && !quoted) {
			if (ep_buf_printf(&b, "$%d", ++n) < 0)
				goto fail;
		} else if (ep_buf_append(&b, p, 1) < 0) {
			goto fail;
		}
	}
	if (!b.data && ep_buf_append(&b, "", 0) < 0)
		goto fail;
	return ep_buf_steal(&b);
fail:
	ep_buf_free(&b);
	return NULL;
}

static int pg_ensure(struct coll_db *db)
{
	if (db->pg && PQstatus(db->pg) == CONNECTION_OK)
		return 0;
	return pg_connect(db);
}

#define PG_BYTEA_OID 17

/* The values of column c of res: bytea unescaped (with its length). */
static int pg_copy_bytea(PGresult *res, size_t cols, size_t c, struct coll_db_res *ret)
{
	if (!ret->lens) {
		ret->lens = malloc(ret->rows * cols * sizeof(size_t));
		if (!ret->lens)
			return -ENOMEM;
		for (size_t k = 0; k < ret->rows * cols; k++)
			ret->lens[k] = SIZE_MAX;
	}
	for (size_t i = 0; i < ret->rows; i++) {
		if (PQgetisnull(res, (int)i, (int)c))
			continue;
		size_t n = 0;
		unsigned char *b =
			PQunescapeBytea((const unsigned char *)PQgetvalue(res, (int)i, (int)c), &n);
		if (!b)
			return -ENOMEM;
		ret->v[i * cols + c] = dup_bytes(b, n);
		ret->lens[i * cols + c] = n;
		PQfreemem(b);
		if (!ret->v[i * cols + c])
			return -ENOMEM;
	}
	return 0;
}

static int pg_query(struct coll_db *db, const char *sql, const char *const *params,
		    const size_t *lens, size_t n, struct coll_db_res *ret, coll_db_row_fn fn,
		    void *ctx)
{
	int r = pg_ensure(db);
	if (r < 0)
		return r;
	struct stmt_slot *slot = slot_for(db, sql);
	char *owned = NULL;
	const char *text;
	if (slot && slot->pg_sql) {
		text = slot->pg_sql;
	} else {
		owned = pg_translate(sql);
		if (!owned)
			return -ENOMEM;
		text = owned;
		if (slot) {
			slot->pg_sql = owned;
			owned = NULL;
		}
	}
	/* cached statements are prepared once per session: PostgreSQL then
	 * skips the parse (and, once it settles on a generic plan, the plan)
	 * of every later call */
	char name[16] = "";
	if (slot) {
		snprintf(name, sizeof(name), "s%zu", (size_t)(slot - db->cache));
		if (slot->pg_session != db->pg_session) {
			if (!PQsendPrepare(db->pg, name, text, (int)n, NULL)) {
				set_err(db, "postgresql: ", PQerrorMessage(db->pg));
				pg_drop(db);
				return -ECONNRESET;
			}
			PGresult *pres = NULL;
			r = pg_collect(db, &pres);
			PQclear(pres);
			if (r < 0)
				return r;
			slot->pg_session = db->pg_session;
		}
	}
	/* binary parameters: lengths and formats (at most a few per statement) */
	int plen[16], pfmt[16];
	bool bin = false;
	for (size_t i = 0; lens && i < n; i++)
		bin |= lens[i] != COLL_DB_TEXT;
	if (bin) {
		if (n > EP_ARRAY_SIZE(plen)) {
			free(owned);
			set_err(db, "postgresql: ", "too many binary parameters");
			return -EINVAL;
		}
		for (size_t i = 0; i < n; i++) {
			bool b = lens[i] != COLL_DB_TEXT && lens[i] <= INT32_MAX;
			plen[i] = b ? (int)lens[i] : 0;
			pfmt[i] = b ? 1 : 0;
		}
	}
	const int *pl = bin ? plen : NULL, *pf = bin ? pfmt : NULL;
	int sent = slot ? PQsendQueryPrepared(db->pg, name, (int)n, params, pl, pf, 0)
			: PQsendQueryParams(db->pg, text, (int)n, NULL, params, pl, pf, 0);
	if (!sent) {
		free(owned);
		set_err(db, "postgresql: ", PQerrorMessage(db->pg));
		pg_drop(db);
		return -ECONNRESET;
	}
	free(owned);
	PGresult *res = NULL;
	r = pg_collect(db, &res);
	if (r < 0)
		return r;
	if (fn && res) {
		for (int i = 0; r == 0 && i < PQntuples(res); i++) {
			struct coll_db_row row = {.res = res, .row = i};
			r = fn(ctx, &row);
		}
	} else if (ret && res) {
		size_t rows = (size_t)PQntuples(res), cols = (size_t)PQnfields(res);
		r = res_alloc(ret, rows, cols);
		for (size_t c = 0; r == 0 && rows && c < cols; c++)
			if (PQftype(res, (int)c) == PG_BYTEA_OID)
				r = pg_copy_bytea(res, cols, c, ret);
		for (size_t i = 0; r == 0 && i < rows; i++)
			for (size_t c = 0; c < cols; c++) {
				if (PQgetisnull(res, (int)i, (int)c) ||
				    PQftype(res, (int)c) == PG_BYTEA_OID)
					continue;
				ret->v[i * cols + c] = strdup(PQgetvalue(res, (int)i, (int)c));
				if (!ret->v[i * cols + c]) {
					r = -ENOMEM;
					break;
				}
			}
		const char *ch = PQcmdTuples(res);
		int64_t changes = 0;
		if (ch && *ch)
			ep_parse_int64(ch, 0, INT64_MAX, &changes);
		ret->changes = changes;
		if (r < 0)
			coll_db_res_free(ret);
	} else if (ret) {
		memset(ret, 0, sizeof(*ret));
	}
	PQclear(res);
	return r;
}

static int pg_exec(struct coll_db *db, const char *sql)
{
	int r = pg_ensure(db);
	if (r < 0)
		return r;
	if (!PQsendQuery(db->pg, sql)) {
		set_err(db, "postgresql: ", PQerrorMessage(db->pg));
		pg_drop(db);
		return -ECONNRESET;
	}
	PGresult *res = NULL;
	r = pg_collect(db, &res);
	PQclear(res);
	return r;
}

/* ---- WAL checkpoints ---------------------------------------------------- */

static int wal_hook(void *arg, sqlite3 *lite, const char *name, int pages)
{
	(void)arg;
	if (pages >= COLL_DB_WAL_HARD_PAGES) /* the checkpointer fell behind */
		sqlite3_wal_checkpoint_v2(lite, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return SQLITE_OK;
}

void coll_db_tune_writer(struct coll_db *db)
{
	if (db->kind != COLL_DB_SQLITE || !db->lite)
		return;
	sqlite3_wal_hook(db->lite, wal_hook, NULL); /* replaces wal_autocheckpoint */
	sqlite3_exec(db->lite, "PRAGMA cache_size=-65536", NULL, NULL, NULL);
}

int coll_db_checkpoint(struct coll_db *db)
{
	if (db->kind != COLL_DB_SQLITE || !db->lite)
		return 0;
	int rc = sqlite3_wal_checkpoint_v2(db->lite, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return rc == SQLITE_OK ? 0 : lite_rc(db, rc);
}

/* ---- common ----------------------------------------------------------- */

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
		r = lite_open(db, err, errlen);
		if (r < 0)
			goto fail;
	} else if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
		db->kind = COLL_DB_PG;
		db->url = strdup(url);
		if (!db->url) {
			r = -ENOMEM;
			goto fail;
		}
		r = pg_connect(db);
		if (r < 0) {
			snprintf(err, errlen, "cannot connect to PostgreSQL: %s", db->err);
			goto fail;
		}
	} else {
		snprintf(err, errlen,
			 "store url '%s': expected sqlite:///path or postgresql://user@host/db",
			 url);
		redact_url(err, errlen, url);
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
		write_release(db);
	for (size_t i = 0; i < db->n_cache; i++) {
		if (db->cache[i].stmt)
			sqlite3_finalize(db->cache[i].stmt);
		free(db->cache[i].pg_sql);
	}
	if (db->lite)
		sqlite3_close(db->lite);
	pg_drop(db);
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
		return lite_query(db, sql, params, lens, n, ret, NULL, NULL);
	return pg_query(db, sql, params, lens, n, ret, NULL, NULL);
}

int coll_db_query_each(struct coll_db *db, const char *sql, const char *const *params, size_t n,
		       coll_db_row_fn fn, void *ctx)
{
	if (db->kind == COLL_DB_SQLITE)
		return lite_query(db, sql, params, NULL, n, NULL, fn, ctx);
	return pg_query(db, sql, params, NULL, n, NULL, fn, ctx);
}

int coll_db_exec(struct coll_db *db, const char *sql)
{
	if (db->kind == COLL_DB_SQLITE) {
		char *msg = NULL;
		int rc = sqlite3_exec(db->lite, sql, NULL, NULL, &msg);
		if (rc != SQLITE_OK) {
			int r = lite_rc(db, rc);
			if (msg)
				set_err(db, "sqlite: ", msg);
			sqlite3_free(msg);
			return r;
		}
		return 0;
	}
	return pg_exec(db, sql);
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
	return pg_exec(db, sql);
}

int coll_db_begin(struct coll_db *db)
{
	if (db->kind != COLL_DB_SQLITE)
		return coll_db_exec(db, "BEGIN");
	write_acquire(db);
	int r = coll_db_exec(db, "BEGIN IMMEDIATE");
	if (r < 0)
		write_release(db);
	return r;
}

int coll_db_commit(struct coll_db *db)
{
	int r = coll_db_exec(db, "COMMIT");
	if (db->kind == COLL_DB_SQLITE && (r == 0 || sqlite3_get_autocommit(db->lite)))
		write_release(db);
	return r;
}

void coll_db_rollback(struct coll_db *db)
{
	if (db->kind == COLL_DB_SQLITE) {
		if (!sqlite3_get_autocommit(db->lite))
			sqlite3_exec(db->lite, "ROLLBACK", NULL, NULL, NULL);
		write_release(db);
		return;
	}
	if (db->pg && PQstatus(db->pg) == CONNECTION_OK &&
	    PQtransactionStatus(db->pg) != PQTRANS_IDLE)
		pg_exec(db, "ROLLBACK");
}
