/* What the db layer's files (db.c: the calls of db.h and what both backends
 * share; db_lite.c: SQLite; db_pg.c: PostgreSQL) share, and nobody else. */
#ifndef COLL_STORE_DB_INT_H
#define COLL_STORE_DB_INT_H

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/store/db.h"

/* prepared statements kept per connection: the ingest connection alone
 * runs some 70 (store, analysis, incidents, notices); one that does not fit
 * would be parsed again at every call */
#define STMT_CACHE 192
/* prepares in one pipeline at most (each deferred statement can bring one) */
#define PG_PREPARING_MAX 64

struct stmt_slot {
	const char *sql; /* key: the literal's address */
	char *text;      /* and its text (an address that comes with another is not cached) */
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
	uint64_t pg_session;   /* bumped by every (re)connect: prepared statements go */
	bool pg_begin_pending; /* BEGIN to be sent with the next statement */
	bool pg_defer;         /* coll_db_defer_writes: until the transaction ends */
	bool pg_writer;        /* coll_db_tune_writer: its settings in every session */
	int pg_queued;         /* queries in the pipeline whose answers are not read */
	struct {
		struct stmt_slot *slot;
		int query;                /* its index in the pipeline */
	} pg_preparing[PG_PREPARING_MAX]; /* prepares sent in the pipeline */
	size_t pg_n_preparing;
	struct stmt_slot cache[STMT_CACHE];
	size_t n_cache;
	char err[512];
};

/* One result row handed to a coll_db_row_fn: SQLite's statement, or a
 * PostgreSQL result and a row number. */
struct coll_db_row {
	sqlite3_stmt *st;
	PGresult *res;
	int row;
};

/* ---- db.c ---- */

/* Copies url's password over every quote of it in msg (libpq quotes a
 * malformed URL whole), so that no error text or log carries it. */
void coll_db_redact_url(char *msg, size_t size, const char *url);
/* db->err = prefix msg (password redacted, trailing newlines cut). */
void coll_db_set_err(struct coll_db *db, const char *prefix, const char *msg);
/* A copy of n bytes with a NUL after them. */
char *coll_db_dup_bytes(const void *p, size_t n);
/* The cache slot of sql (found or new), NULL when the cache is full or
 * when sql's address is cached with another text (a buffer, not a
 * literal: such a statement is prepared at every call). */
struct stmt_slot *coll_db_slot_for(struct coll_db *db, const char *sql);

/* ---- db_lite.c ---- */

int coll_db_lite_open(struct coll_db *db, char *err, size_t errlen);
/* Finalizes the cached statements and closes the file. */
void coll_db_lite_close(struct coll_db *db);
int coll_db_lite_query(struct coll_db *db, const char *sql, const char *const *params,
		       const size_t *lens, size_t n, struct coll_db_res *ret, coll_db_row_fn fn,
		       void *ctx);
int coll_db_lite_exec(struct coll_db *db, const char *sql);
int coll_db_lite_begin(struct coll_db *db);
int coll_db_lite_commit(struct coll_db *db);
void coll_db_lite_rollback(struct coll_db *db);

/* ---- db_pg.c ---- */

/* (Re)connects: every prepared statement of the session before goes. */
int coll_db_pg_connect(struct coll_db *db);
/* Frees the cached translations and drops the connection. */
void coll_db_pg_close(struct coll_db *db);
int coll_db_pg_query(struct coll_db *db, const char *sql, const char *const *params,
		     const size_t *lens, size_t n, struct coll_db_res *ret, coll_db_row_fn fn,
		     void *ctx);
int coll_db_pg_exec(struct coll_db *db, const char *sql);
/* The ingest connection's tuning (db.h, coll_db_tune_writer). */
void coll_db_pg_tune_writer(struct coll_db *db);
/* BEGIN goes with the transaction's first statement (one round trip
 * less); a transaction without any is never sent. */
int coll_db_pg_begin(struct coll_db *db);
int coll_db_pg_commit(struct coll_db *db);
void coll_db_pg_rollback(struct coll_db *db);

#endif
