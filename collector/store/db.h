/* A thin SQL layer over the two store backends (SQLite and PostgreSQL), so
 * that the store's queries are written once. SQL uses '?' placeholders (turned
 * into $1..$n for PostgreSQL); every parameter and every result value is text
 * (NULL = SQL NULL). One struct coll_db is one connection: not thread-safe.
 * Errors: 0 or -errno; -EEXIST unique violation, -ETIMEDOUT deadline or
 * statement timeout, -ECONNRESET the connection is gone (reconnected on the next
 * call), -EBUSY database locked, -EIO anything else (message in db->err). */
#ifndef COLL_DB_H
#define COLL_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum coll_db_kind {
	COLL_DB_SQLITE,
	COLL_DB_PG,
};

struct coll_db_opts {
	int64_t statement_timeout_ms; /* per statement, and the client-side deadline */
	int64_t connect_timeout_ms;
	int64_t busy_timeout_ms; /* SQLite */
};

struct coll_db;

/* url: "sqlite:///abs/path", "sqlite://rel/path" or "postgresql://..."
 * ("postgres://" too). 0 or -errno with err. */
int coll_db_open(const char *url, const struct coll_db_opts *opts, struct coll_db **ret, char *err,
		 size_t errlen);
void coll_db_close(struct coll_db *db);
enum coll_db_kind coll_db_kind(const struct coll_db *db);
/* The last error's message. */
const char *coll_db_error(const struct coll_db *db);

/* Result of a query: rows x cols of text values, owned by the caller. A
 * BLOB (SQLite) or BYTEA (PostgreSQL) value comes as its bytes, with a NUL
 * after them; its length is coll_db_len's. */
struct coll_db_res {
	size_t rows, cols;
	char **v;        /* rows*cols, NULL = SQL NULL */
	size_t *lens;    /* rows*cols, or NULL when no value is binary; SIZE_MAX = text */
	int64_t changes; /* rows affected by INSERT/UPDATE/DELETE */
};
void coll_db_res_free(struct coll_db_res *r);
static inline const char *coll_db_val(const struct coll_db_res *r, size_t row, size_t col)
{
	return (row < r->rows && col < r->cols) ? r->v[row * r->cols + col] : NULL;
}
/* The length of a value in bytes (0 for NULL). */
size_t coll_db_len(const struct coll_db_res *r, size_t row, size_t col);

/* Runs one statement with n text params. ret may be NULL (results dropped);
 * *ret is set only on success. Statements are cached (prepared once; on
 * PostgreSQL, named prepared statements of the session, prepared again after
 * a reconnect) per connection by the address of sql, so pass string
 * literals: a text that comes at a cached address with other words (a
 * buffer) is prepared at every call. */
int coll_db_query(struct coll_db *db, const char *sql, const char *const *params, size_t n,
		  struct coll_db_res *ret);
/* Marks a parameter of coll_db_query_bin as text (NUL-terminated). */
#define COLL_DB_TEXT SIZE_MAX
/* Like coll_db_query; lens[i] (lens may be NULL) is params[i]'s length when
 * it is binary (bound as a BLOB / BYTEA), COLL_DB_TEXT when it is text. */
int coll_db_query_bin(struct coll_db *db, const char *sql, const char *const *params,
		      const size_t *lens, size_t n, struct coll_db_res *ret);
/* A one-dimensional array parameter of coll_db_query_bin in PostgreSQL's
 * binary format (its length: coll_db_array_len), for one statement per
 * batch: "... FROM unnest(CAST(? AS text[]), ...)". Elements are text,
 * bigint or bytea (the cast's type); NULL: an SQL NULL element. Adds return
 * 0 or -ENOMEM (the array is then unusable; free it). */
enum coll_db_array_type {
	COLL_DB_ARRAY_TEXT = 25,
	COLL_DB_ARRAY_INT8 = 20,
	COLL_DB_ARRAY_BYTEA = 17
};
struct coll_db_array {
	char *data;
	size_t len, cap, n;
	int err;
};
void coll_db_array_init(struct coll_db_array *a, enum coll_db_array_type type);
int coll_db_array_add(struct coll_db_array *a, const void *p, size_t len);
int coll_db_array_add_text(struct coll_db_array *a, const char *text);
int coll_db_array_add_int(struct coll_db_array *a, int64_t v);
/* The parameter: data (the element count written in) and its length; NULL
 * after a failed add. */
const char *coll_db_array_param(struct coll_db_array *a, size_t *ret_len);
void coll_db_array_free(struct coll_db_array *a);
/* Like coll_db_query, but hands each row to fn as it comes, typed and
 * without a copy (a row is valid during the call only): for queries that
 * read many rows (the ingest's history). fn returns 0, or -errno to stop;
 * that is returned. */
struct coll_db_row;
typedef int (*coll_db_row_fn)(void *ctx, const struct coll_db_row *row);
int coll_db_query_each(struct coll_db *db, const char *sql, const char *const *params, size_t n,
		       coll_db_row_fn fn, void *ctx);
/* A column of the row: text (NULL = SQL NULL), integer, double (0 for NULL). */
const char *coll_db_row_text(const struct coll_db_row *row, size_t col);
int64_t coll_db_row_int(const struct coll_db_row *row, size_t col);
double coll_db_row_double(const struct coll_db_row *row, size_t col);

/* Like coll_db_query, without parameters, several statements allowed. */
int coll_db_exec(struct coll_db *db, const char *sql);

/* The statement timeout from now on (0 = none: a migration that rewrites a
 * large table); *ret_old (may be NULL) gets the one before. 0 or -errno. */
int coll_db_set_statement_timeout(struct coll_db *db, int64_t ms, int64_t *ret_old);

/* BEGIN (IMMEDIATE on SQLite) / COMMIT / ROLLBACK. */
int coll_db_begin(struct coll_db *db);
int coll_db_commit(struct coll_db *db);
void coll_db_rollback(struct coll_db *db);

/* PostgreSQL: until this transaction ends (commit or rollback), a
 * statement whose results are dropped (ret NULL) is sent without waiting
 * for its answer: the answers are read with the next call that waits (a
 * query with results, an exec, the COMMIT), all in one round trip. Such a
 * statement returns 0 once sent; its failure is returned by that later
 * call instead (the transaction is then aborted: roll back). For a
 * transaction that treats every failure alike (the ingest batch, which
 * runs again with savepoints). No-op for SQLite. Call after coll_db_begin. */
void coll_db_defer_writes(struct coll_db *db);

/* SQLite, for a connection that commits all day (the ingest batcher): its
 * commits leave the WAL checkpoint to coll_db_checkpoint (another thread's
 * connection) unless the WAL has grown past COLL_DB_WAL_HARD_PAGES, so that
 * it does not copy the WAL into the database on its own time; and its page
 * cache holds the hot rows of every agent (64 MiB instead of 2) rather than
 * re-reading them from the file. PostgreSQL: the connection plans its
 * prepared statements once (plan_cache_mode = force_generic_plan) and
 * compresses wide values with lz4, in this session and in every session
 * it reconnects (db_pg.c). */
#define COLL_DB_WAL_HARD_PAGES 20000
void coll_db_tune_writer(struct coll_db *db);
/* SQLite in WAL mode: this connection's commits write the WAL without
 * syncing it (synchronous=NORMAL), so that the next transaction can run
 * while another thread syncs; a commit is durable once coll_db_sync_wal of
 * the path set in *ret_wal (malloc'd) has returned 0 after it. -ENOTSUP for
 * PostgreSQL, a journal other than WAL or a temporary database (commits stay
 * durable on return). */
int coll_db_defer_sync(struct coll_db *db, char **ret_wal);
/* fdatasync of the WAL file: every commit that returned before this call
 * is on disk when it returns 0. Safe from any thread. 0 or -errno. */
int coll_db_sync_wal(const char *wal);
/* SQLite: a PASSIVE checkpoint (never waits for writers; durability is the
 * WAL's, synced at every commit or by coll_db_sync_wal). 0 or -errno; no-op
 * for PostgreSQL. */
int coll_db_checkpoint(struct coll_db *db);

/* Every later call of this connection must end by ms on the monotonic clock
 * (INT64_MAX = the statement timeout alone). */
void coll_db_set_deadline(struct coll_db *db, int64_t at_ms);

#endif
