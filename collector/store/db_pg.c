/* The PostgreSQL backend of the db layer (db.h, db_int.h), driven
 * asynchronously with poll(2) so that a hung server costs at most the
 * deadline, never a hang: on timeout the connection is dropped and reopened
 * by the next call. */
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store/db_int.h"
#include "erpulse/util.h"

/* statements deferred at most before their answers are read (their
 * answers, a few bytes each, never fill a socket buffer) */
#define PG_QUEUE_MAX 64

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
	db->pg_queued = 0; /* with the session: the statements prepared in it go */
	db->pg_n_preparing = 0;
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

static void pg_tune_session(struct coll_db *db);

int coll_db_pg_connect(struct coll_db *db)
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
		coll_db_set_err(db, "postgresql: ", "out of memory");
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
			coll_db_set_err(db, "postgresql: connection timed out", "");
			pg_drop(db);
			return -ETIMEDOUT;
		}
		st = PQconnectPoll(db->pg);
	}
	if (PQsetnonblocking(db->pg, 1) != 0)
		goto bad;
	PQsetNoticeProcessor(db->pg, pg_quiet, NULL);
	db->pg_session++;
	if (db->pg_writer)
		pg_tune_session(db);
	return 0;
bad:
	coll_db_set_err(db, "postgresql: ", PQerrorMessage(db->pg));
	pg_drop(db);
	return -ECONNRESET;
}

static int pg_result_rc(struct coll_db *db, PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	coll_db_set_err(db, "postgresql: ", PQresultErrorMessage(res));
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

/* Drops the connection after a timeout (r = -ETIMEDOUT) or a broken one
 * (-ECONNRESET). Returns r. */
static int pg_lost(struct coll_db *db, int r)
{
	if (r == -ETIMEDOUT)
		coll_db_set_err(db, "postgresql: no answer within the deadline", "");
	else
		coll_db_set_err(db, "postgresql: ", PQerrorMessage(db->pg));
	pg_drop(db);
	return r;
}

/* Sends what is queued, waiting for the socket until until. */
static int pg_flush(struct coll_db *db, int64_t until)
{
	int rc;
	while ((rc = PQflush(db->pg)) == 1)
		if (wait_fd(PQsocket(db->pg), true, until) < 0)
			return pg_lost(db, -ETIMEDOUT);
	return rc < 0 ? pg_lost(db, -ECONNRESET) : 0;
}

/* The next result into *ret (NULL: the current query's are done), waiting
 * for it until until. */
static int pg_next(struct coll_db *db, int64_t until, PGresult **ret)
{
	while (PQisBusy(db->pg)) {
		if (wait_fd(PQsocket(db->pg), false, until) < 0)
			return pg_lost(db, -ETIMEDOUT);
		if (!PQconsumeInput(db->pg))
			return pg_lost(db, -ECONNRESET);
	}
	*ret = PQgetResult(db->pg);
	return 0;
}

/* Flushes, waits for and collects every result of the nq queries sent
 * (pipeline: in pipeline mode, ended by a sync, which is left too). The
 * first failure is returned, with the index of its query in *ret_failed
 * (nq: none failed; may be NULL); the last result of the last query is
 * kept in *ret_res. */
static int pg_collect_n(struct coll_db *db, int nq, bool pipeline, PGresult **ret_res,
			int *ret_failed)
{
	int64_t until = pg_wait_until(db);
	PGresult *last = NULL, *res;
	int failed = nq, r = pg_flush(db, until);
	if (r < 0)
		return r;
	for (int q = 0; q < nq; q++) {
		for (;;) {
			int rc = pg_next(db, until, &res);
			if (rc < 0) {
				PQclear(last);
				return rc;
			}
			if (!res)
				break;
			ExecStatusType es = PQresultStatus(res);
			if (failed == nq && es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK &&
			    es != PGRES_EMPTY_QUERY && es != PGRES_PIPELINE_ABORTED) {
				r = pg_result_rc(db, res);
				failed = q;
			}
			PQclear(last);
			last = res;
		}
	}
	if (ret_failed)
		*ret_failed = failed;
	if (pipeline) {
		int rc = pg_next(db, until, &res);
		if (rc < 0) {
			PQclear(last);
			return rc;
		}
		bool synced = res && PQresultStatus(res) == PGRES_PIPELINE_SYNC;
		PQclear(res);
		if (!synced || !PQexitPipelineMode(db->pg)) {
			PQclear(last);
			return pg_lost(db, -ECONNRESET);
		}
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
}

static int pg_collect(struct coll_db *db, PGresult **ret_res)
{
	return pg_collect_n(db, 1, false, ret_res, NULL);
}

/* Collects the results of nq queries sent (pipeline: in pipeline mode,
 * the sync sent too): the first failure, or 0 and the last query's result
 * in *ret_res. The statements prepared in the pipeline at or after the
 * failed query are not. */
static int pg_settle(struct coll_db *db, int nq, bool pipeline, PGresult **ret_res)
{
	int failed = nq;
	int r = pg_collect_n(db, nq, pipeline, ret_res, &failed);
	for (size_t i = 0; db->pg && i < db->pg_n_preparing; i++)
		if (db->pg_preparing[i].query >= failed)
			db->pg_preparing[i].slot->pg_session = 0;
	db->pg_queued = 0;
	db->pg_n_preparing = 0;
	return r;
}

/* Reads the answers of the deferred statements: the first failure of
 * theirs, or 0. */
static int pg_sync(struct coll_db *db)
{
	if (!db->pg || db->pg_queued == 0)
		return 0;
	if (!PQpipelineSync(db->pg))
		return pg_lost(db, -ECONNRESET);
	PGresult *res = NULL;
	int r = pg_settle(db, db->pg_queued, true, &res);
	PQclear(res);
	return r;
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
	if (db->pg_queued > 0) /* deferred writes went with the session: never lose them unsaid */
		return pg_lost(db, -ECONNRESET);
	return coll_db_pg_connect(db);
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
		ret->v[i * cols + c] = coll_db_dup_bytes(b, n);
		ret->lens[i * cols + c] = n;
		PQfreemem(b);
		if (!ret->v[i * cols + c])
			return -ENOMEM;
	}
	return 0;
}

int coll_db_pg_query(struct coll_db *db, const char *sql, const char *const *params,
		     const size_t *lens, size_t n, struct coll_db_res *ret, coll_db_row_fn fn,
		     void *ctx)
{
	int r = pg_ensure(db);
	if (r < 0)
		return r;
	struct stmt_slot *slot = coll_db_slot_for(db, sql);
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
	/* binary parameters: lengths and formats (at most a few per statement) */
	int plen[16], pfmt[16];
	bool bin = false;
	for (size_t i = 0; lens && i < n; i++)
		bin |= lens[i] != COLL_DB_TEXT;
	if (bin) {
		if (n > EP_ARRAY_SIZE(plen)) {
			free(owned);
			coll_db_set_err(db, "postgresql: ", "too many binary parameters");
			return -EINVAL;
		}
		for (size_t i = 0; i < n; i++) {
			bool b = lens[i] != COLL_DB_TEXT && lens[i] <= INT32_MAX;
			plen[i] = b ? (int)lens[i] : 0;
			pfmt[i] = b ? 1 : 0;
		}
	}
	const int *pl = bin ? plen : NULL, *pf = bin ? pfmt : NULL;
	/* cached statements are prepared once per session: PostgreSQL then
	 * skips the parse (and, once it settles on a generic plan, the plan)
	 * of every later call. A BEGIN not sent yet, the statement's prepare
	 * and the writes deferred before it go in one pipeline with it: one
	 * round trip. */
	char name[16] = "";
	bool begin = db->pg_begin_pending, prepare = false;
	if (slot) {
		snprintf(name, sizeof(name), "s%zu", (size_t)(slot - db->cache));
		prepare = slot->pg_session != db->pg_session;
	}
	bool defer = db->pg_defer && !ret && !fn && db->pg_queued + 3 <= PG_QUEUE_MAX;
	bool pipeline = begin || prepare || defer || db->pg_queued > 0;
	bool sent = !pipeline || PQpipelineStatus(db->pg) != PQ_PIPELINE_OFF ||
		    PQenterPipelineMode(db->pg);
	int nq = db->pg_queued;
	db->pg_begin_pending = false;
	if (sent && begin) {
		sent = PQsendQueryParams(db->pg, "BEGIN", 0, NULL, NULL, NULL, NULL, 0);
		nq++;
	}
	if (sent && prepare) {
		sent = PQsendPrepare(db->pg, name, text, (int)n, NULL);
		/* taken as prepared from now on (a second call in this
		 * pipeline); pg_settle takes it back if it failed */
		slot->pg_session = db->pg_session;
		db->pg_preparing[db->pg_n_preparing].slot = slot;
		db->pg_preparing[db->pg_n_preparing++].query = nq++;
	}
	if (sent) {
		sent = slot ? PQsendQueryPrepared(db->pg, name, (int)n, params, pl, pf, 0)
			    : PQsendQueryParams(db->pg, text, (int)n, NULL, params, pl, pf, 0);
		nq++;
	}
	free(owned);
	if (sent && defer) { /* the answers are read by the next call that waits */
		db->pg_queued = nq;
		return PQflush(db->pg) < 0 ? pg_lost(db, -ECONNRESET) : 0;
	}
	if (sent && pipeline)
		sent = PQpipelineSync(db->pg);
	if (!sent)
		return pg_lost(db, -ECONNRESET);
	PGresult *res = NULL;
	r = pg_settle(db, nq, pipeline, &res);
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

int coll_db_pg_exec(struct coll_db *db, const char *sql)
{
	int r = pg_sync(db); /* a text of several statements cannot join the pipeline */
	if (r == 0)
		r = pg_ensure(db);
	if (r < 0)
		return r;
	char *owned = NULL;
	if (db->pg_begin_pending) { /* several statements in one query text */
		db->pg_begin_pending = false;
		owned = malloc(strlen(sql) + sizeof("BEGIN; "));
		if (!owned)
			return -ENOMEM;
		memcpy(owned, "BEGIN; ", 7);
		memcpy(owned + 7, sql, strlen(sql) + 1);
		sql = owned;
	}
	int sent = PQsendQuery(db->pg, sql);
	free(owned);
	if (!sent)
		return pg_lost(db, -ECONNRESET);
	PGresult *res = NULL;
	r = pg_collect(db, &res);
	PQclear(res);
	return r;
}

int coll_db_pg_begin(struct coll_db *db)
{
	int r = pg_ensure(db); /* a server that is down fails here, as BEGIN did */
	if (r == 0)
		db->pg_begin_pending = true;
	return r;
}

int coll_db_pg_commit(struct coll_db *db)
{
	db->pg_defer = false;
	if (db->pg_begin_pending) { /* nothing was sent */
		db->pg_begin_pending = false;
		return 0;
	}
	if (!db->pg || db->pg_queued == 0)
		return coll_db_pg_exec(db, "COMMIT");
	/* the deferred statements' answers, and the COMMIT's, in one round trip */
	if (!PQsendQueryParams(db->pg, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) ||
	    !PQpipelineSync(db->pg))
		return pg_lost(db, -ECONNRESET);
	PGresult *res = NULL;
	int r = pg_settle(db, db->pg_queued + 1, true, &res);
	PQclear(res);
	return r;
}

/* The ingest connection's session (coll_db_tune_writer), set again at
 * every reconnect; a setting the server does not know (an older version,
 * a build without lz4) is left at the server's default:
 * - plan_cache_mode: the connection runs the same few dozen prepared
 *   statements all day, with keys and arrays for parameters. PostgreSQL's
 *   plan cache kept choosing a custom plan for those over arrays (unnest:
 *   a generic plan cannot know the array's length) and over partitioned
 *   tables (a generic plan prunes at run time only), so it planned them
 *   again on every call: 1.7 plans and 344 us of planner time per report
 *   in the two-collector bench (docs/store.md "pgserver branch"). Their
 *   generic plans are key lookups and nested loops over the arrays
 *   (docs/store.md "pgset branch": EXPLAIN at 100,000 agents).
 * - default_toast_compression: the findings text (3.5 KB in the bench,
 *   rewritten by most reports) and the forecasts' texts are compressed
 *   inline when a row passes 2 KB; pglz took 4% of the server's CPU,
 *   lz4 compresses them 4% larger at a fraction of the CPU.
 * The other connections (pages, retention) keep the server's choices. */
static void pg_tune_session(struct coll_db *db)
{
	static const char *const sets[] = {
		"SET plan_cache_mode = force_generic_plan",
		"SET default_toast_compression = lz4",
	};
	/* outside the transaction a reconnect may find begun (its BEGIN not
	 * sent yet): a rollback would undo a SET made inside it */
	bool begin = db->pg_begin_pending;
	db->pg_begin_pending = false;
	for (size_t i = 0; i < EP_ARRAY_SIZE(sets); i++)
		(void)coll_db_pg_exec(db, sets[i]);
	db->pg_begin_pending = begin;
}

void coll_db_pg_tune_writer(struct coll_db *db)
{
	db->pg_writer = true;
	if (db->pg && PQstatus(db->pg) == CONNECTION_OK)
		pg_tune_session(db);
}

void coll_db_defer_writes(struct coll_db *db)
{
	if (db->kind == COLL_DB_PG)
		db->pg_defer = true;
}

void coll_db_pg_close(struct coll_db *db)
{
	for (size_t i = 0; i < db->n_cache; i++)
		free(db->cache[i].pg_sql);
	pg_drop(db);
}

void coll_db_pg_rollback(struct coll_db *db)
{
	db->pg_begin_pending = false;
	db->pg_defer = false;
	pg_sync(db); /* their failure is what is rolled back */
	if (db->pg && PQstatus(db->pg) == CONNECTION_OK &&
	    PQtransactionStatus(db->pg) != PQTRANS_IDLE)
		coll_db_pg_exec(db, "ROLLBACK");
}
