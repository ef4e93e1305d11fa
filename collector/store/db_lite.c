/* The SQLite backend of the db layer (db.h, db_int.h): cached prepared
 * statements, the process's write ticket, WAL checkpoints. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/store/db_int.h"
#include "erpulse/util.h"

/* bytes of the SQLite file the writer maps (the kernel's page cache, not
 * our heap). Only the writer: a connection drops its page cache and its
 * whole map at the start of a read after another connection committed,
 * which for a reader under ingest is every read (an munmap, its TLB
 * shootdown on every core and a page fault per page touched again, more
 * than the read(2)s it spares); the writer is told of others' commits only
 * (a notice delivered, a maintenance step), and its forecasts' refits read
 * a host's 30 days from the map (docs/decisions.md "lite-mmap"). */
#define LITE_WRITER_MMAP_SIZE "1073741824"

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
	coll_db_set_err(db, "sqlite: ", sqlite3_errmsg(db->lite));
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

int coll_db_lite_open(struct coll_db *db, char *err, size_t errlen)
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
		/* every connection: 16 MiB of page cache rather than SQLite's
		 * 2 MiB for the B-tree's inner pages; sorts in memory; no map
		 * (the writer's: coll_db_tune_writer) */
		"PRAGMA mmap_size=0; PRAGMA cache_size=-16384;"
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

int coll_db_lite_query(struct coll_db *db, const char *sql, const char *const *params,
		       const size_t *lens, size_t n, struct coll_db_res *ret, coll_db_row_fn fn,
		       void *ctx)
{
	struct stmt_slot *slot = coll_db_slot_for(db, sql);
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
				vals[nvals] = coll_db_dup_bytes(b, bn);
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

static int wal_hook(void *arg, sqlite3 *lite, const char *name, int pages)
{
	(void)arg;
	if (pages >= COLL_DB_WAL_HARD_PAGES) /* the checkpointer fell behind */
		sqlite3_wal_checkpoint_v2(lite, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return SQLITE_OK;
}

void coll_db_tune_writer(struct coll_db *db)
{
	if (db->kind == COLL_DB_PG)
		coll_db_pg_tune_writer(db);
	if (db->kind != COLL_DB_SQLITE || !db->lite)
		return;
	sqlite3_wal_hook(db->lite, wal_hook, NULL); /* replaces wal_autocheckpoint */
	sqlite3_exec(db->lite, "PRAGMA cache_size=-65536; PRAGMA mmap_size=" LITE_WRITER_MMAP_SIZE,
		     NULL, NULL, NULL);
}

int coll_db_defer_sync(struct coll_db *db, char **ret_wal)
{
	*ret_wal = NULL;
	if (db->kind != COLL_DB_SQLITE || !db->lite)
		return -ENOTSUP;
	sqlite3_stmt *st = NULL;
	bool wal = false;
	if (sqlite3_prepare_v2(db->lite, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *m = sqlite3_column_text(st, 0);
		wal = m && strcmp((const char *)m, "wal") == 0;
	}
	sqlite3_finalize(st);
	const char *file = sqlite3_db_filename(db->lite, "main");
	if (!wal || !file || !*file) /* not WAL, or a temporary database */
		return -ENOTSUP;
	char *path = strdup(sqlite3_filename_wal(file));
	if (!path)
		return -ENOMEM;
	int r = coll_db_lite_exec(db, "PRAGMA synchronous=NORMAL");
	if (r < 0) {
		free(path);
		return r;
	}
	*ret_wal = path;
	return 0;
}

int coll_db_sync_wal(const char *wal)
{
	/* opened anew each time: were the WAL deleted and made again (only
	 * after a complete checkpoint into the synced database), the file that
	 * holds the commits is the one the path names now */
	int fd = open(wal, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = fdatasync(fd) == 0 ? 0 : -errno;
	close(fd);
	return r;
}

int coll_db_checkpoint(struct coll_db *db)
{
	if (db->kind != COLL_DB_SQLITE || !db->lite)
		return 0;
	int rc = sqlite3_wal_checkpoint_v2(db->lite, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return rc == SQLITE_OK ? 0 : lite_rc(db, rc);
}

void coll_db_lite_close(struct coll_db *db)
{
	write_release(db);
	for (size_t i = 0; i < db->n_cache; i++)
		if (db->cache[i].stmt)
			sqlite3_finalize(db->cache[i].stmt);
	if (db->lite)
		sqlite3_close(db->lite);
	db->lite = NULL;
}

int coll_db_lite_exec(struct coll_db *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db->lite, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		int r = lite_rc(db, rc);
		if (msg)
			coll_db_set_err(db, "sqlite: ", msg);
		sqlite3_free(msg);
		return r;
	}
	return 0;
}

int coll_db_lite_begin(struct coll_db *db)
{
	write_acquire(db);
	int r = coll_db_lite_exec(db, "BEGIN IMMEDIATE");
	if (r < 0)
		write_release(db);
	return r;
}

int coll_db_lite_commit(struct coll_db *db)
{
	int r = coll_db_lite_exec(db, "COMMIT");
	if (r == 0 || sqlite3_get_autocommit(db->lite))
		write_release(db);
	return r;
}

void coll_db_lite_rollback(struct coll_db *db)
{
	if (!sqlite3_get_autocommit(db->lite))
		sqlite3_exec(db->lite, "ROLLBACK", NULL, NULL, NULL);
	write_release(db);
}
