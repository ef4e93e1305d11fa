/* MariaDB / MySQL through ODBC: what rebuilding each InnoDB table would give
 * back. DATA_FREE counts only wholly free extents, so a table whose deletes
 * left its pages half empty looks healthy by it; the probe therefore models
 * the rebuilt tablespace (mysql_space.c) from, best first:
 * - the page headers of the table's .ibd file (exact, within
 *   exact_budget_mb per cycle, when the agent can read the datadir);
 * - the used pages of mysql.innodb_index_stats (free pages only: "at least");
 * - DATA_FREE.
 * Tablespaces are found by InnoDB's on-disk name (mysql_filename.c:
 * `tabGL Entry` is tabGL@0020Entry). Statistics-based figures are judged
 * only when the statistics describe the file. docs/fragmentation.md has the
 * measure, a worked example and its error against OPTIMIZE TABLE. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "probes/erp/erp.h"
#include "probes/odbc/mysql_filename.h"
#include "probes/odbc/odbc.h"

#define MB (1024.0 * 1024.0)

/* User-visible texts of this dialect, in one place (zh-CN comes later);
 * the messages with numbers are printf formats, hence macros. */
#define TXT_MSG_EXACT                                                                              \
	"a rebuild would give back %.1f%% of the tablespace (%.1f of %.1f MB; "                    \
	"leaf pages %.0f%% full, %lld of %lld pages free)"
#define TXT_MSG_PAGES                                                                              \
	"a rebuild would give back at least %.1f%% of the tablespace (%.1f of "                    \
	"%.1f MB in free pages; free space inside half-empty pages is not "                        \
	"counted without the exact page scan)"
#define TXT_MSG_DATA_FREE                                                                          \
	"%.1f%% of the table's space is free (DATA_FREE %.1f MB of %.1f MB; "                      \
	"free space inside pages is not counted)"
#define TXT_MSG_STALE                                                                              \
	"InnoDB statistics are stale: DATA_LENGTH + INDEX_LENGTH + DATA_FREE = "                   \
	"%.1f MB describe %.0f%% of the %.1f MB tablespace file, so the free-space "               \
	"ratio (%.1f%% from these numbers) is not judged; refresh the statistics "                 \
	"and look again"
static const struct {
	const char *method_exact, *method_pages, *method_data_free, *method_stale, *msg_no_file,
		*msg_no_own_file, *lock_online, *lock_offline;
} txt = {
	.method_exact = "InnoDB page headers of the tablespace file (exact)",
	.method_pages = "mysql.innodb_index_stats used pages (at least: free space inside "
			"pages not seen)",
	.method_data_free = "information_schema.TABLES (DATA_FREE)",
	.method_stale = "information_schema.TABLES vs INNODB tablespace file size",
	.msg_no_file = "; the tablespace file size is not readable (PROCESS privilege), so "
		       "stale statistics cannot be ruled out",
	.msg_no_own_file = "; the table has no tablespace file of its own (partitioned, or in "
			   "a shared tablespace), so stale statistics cannot be ruled out",
	.lock_online = "online rebuild (ALGORITHM=INPLACE, LOCK=NONE): reads and writes go "
		       "on, with a short exclusive metadata lock at start and end that waits "
		       "for open transactions on the table; fails instead of blocking where "
		       "the server cannot rebuild online (FULLTEXT index): then OPTIMIZE TABLE "
		       "in a maintenance window. Needs free disk for the rebuilt copy "
		       "(extra_disk_bytes) plus the changes made meanwhile",
	.lock_offline = "this server version rebuilds by copying: writes to the table are "
			"blocked for the whole rebuild (maintenance window). Needs free disk for "
			"the rebuilt copy (extra_disk_bytes)",
};

int probe_mysql_quote_ident(const char *ident, char *out, size_t outlen)
{
	size_t o = 0;

	if (outlen < 3)
		return -ENOSPC;
	out[o++] = '`';
	for (const char *p = ident; *p; p++) {
		if (o + (*p == '`' ? 2 : 1) + 2 > outlen) {
			out[0] = '\0';
			return -ENOSPC;
		}
		out[o++] = *p;
		if (*p == '`')
			out[o++] = '`';
	}
	out[o++] = '`';
	out[o] = '\0';
	return 0;
}

static double stats_total(const struct probe_mysql_table *t)
{
	return (double)t->data_length + (double)t->index_length + (double)t->data_free;
}

enum probe_mysql_verdict probe_mysql_judge(const struct probe_mysql_table *t,
					   const struct probe_odbc_settings *s,
					   double *ret_free_pct, double *ret_stats_cover_pct)
{
	double total = stats_total(t);
	double biggest = total > (double)t->file_size ? total : (double)t->file_size;
	double cover = t->file_size > 0 ? 100.0 * total / (double)t->file_size : NAN;
	double pct = total > 0 ? 100.0 * (double)t->data_free / total : 0;

	if (t->source != PROBE_MYSQL_SRC_DATA_FREE && t->file_size > 0) {
		double after = (double)t->pages_after * (double)t->page_size;
		pct = after < (double)t->file_size
			      ? 100.0 * ((double)t->file_size - after) / (double)t->file_size
			      : 0;
	}
	*ret_free_pct = pct;
	*ret_stats_cover_pct = cover;
	if (biggest < (double)s->min_table_mb * MB)
		return PROBE_MYSQL_SMALL;
	/* the page scan reads the file itself: statistics do not matter */
	if (t->source != PROBE_MYSQL_SRC_EXACT && t->file_size > 0 &&
	    fabs(100.0 - cover) > (double)s->stale_pct)
		return PROBE_MYSQL_STALE;
	if (t->file_size <= 0)
		return PROBE_MYSQL_NO_FILE_SIZE;
	return pct >= (double)s->pg.threshold ? PROBE_MYSQL_FRAGMENTED : PROBE_MYSQL_OK;
}

static json_t *indexes_json(const struct probe_mysql_table *t)
{
	json_t *a = json_array();
	if (!a)
		return NULL;
	for (size_t i = 0; i < t->nix; i++) {
		const struct probe_mysql_index_space *x = &t->ix[i];
		int64_t pages = x->leaf_pages + (x->nonleaf_pages > 0 ? x->nonleaf_pages : 0) +
				x->blob_pages;
		json_t *o = json_pack("{s:s, s:b, s:I, s:I, s:I}", "index", x->name, "clustered",
				      x->clustered, "leaf_pages", (json_int_t)x->leaf_pages,
				      "used_pages", (json_int_t)pages, "pages_after_rebuild",
				      (json_int_t)x->pages_after);
		if (o && x->leaf_bytes >= 0 && x->leaf_pages > 0)
			json_object_set_new(o, "leaf_fill_pct",
					    json_real(round(1000.0 * (double)x->leaf_bytes /
							    ((double)x->leaf_pages *
							     (double)(t->page_size - 128))) /
						      10.0));
		if (!o || json_array_append_new(a, o) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* Leaf fill of the whole table in % (exact source). */
static double leaf_fill(const struct probe_mysql_table *t)
{
	double bytes = 0, pages = 0;
	for (size_t i = 0; i < t->nix; i++) {
		bytes += (double)t->ix[i].leaf_bytes;
		pages += (double)t->ix[i].leaf_pages;
	}
	return pages > 0 ? 100.0 * bytes / (pages * (double)(t->page_size - 128)) : 0;
}

int probe_mysql_table_finding(const struct probe_mysql_table *t,
			      const struct probe_odbc_settings *s, const char *quoted,
			      struct ep_probe_result *r)
{
	double pct, cover;
	enum probe_mysql_verdict v = probe_mysql_judge(t, s, &pct, &cover);
	char object[400], msg[900], rem[700];
	double thr = (double)s->pg.threshold;
	double crit = thr * 2 > 95 ? 95 : thr * 2;
	double file = (double)t->file_size;
	double after = (double)t->pages_after * (double)t->page_size;
	bool modelled = t->source != PROBE_MYSQL_SRC_DATA_FREE && t->file_size > 0;

	if (v == PROBE_MYSQL_SMALL)
		return 0;
	ep_snprintf(object, sizeof(object), "%s/%s", t->schema, t->table);
	struct ep_finding f = {.object = object,
			       .unit = "%",
			       .message = msg,
			       .min_size = (double)s->min_table_mb * MB,
			       .size = t->file_size > 0 ? file : stats_total(t),
			       .size_unit = "bytes"};
	if (v == PROBE_MYSQL_STALE) {
		ep_snprintf(msg, sizeof(msg), TXT_MSG_STALE, stats_total(t) / MB, cover, file / MB,
			    100.0 * (double)t->data_free /
				    (stats_total(t) > 0 ? stats_total(t) : 1));
		ep_snprintf(rem, sizeof(rem), "ANALYZE TABLE %s;", quoted);
		f.kind = "table_statistics_stale";
		f.value = cover;
		f.threshold = NAN;
		f.severity = EP_SEV_INFO;
		f.method = txt.method_stale;
		f.remediation = rem;
	} else {
		enum ep_severity sev = pct < thr     ? EP_SEV_INFO
				       : pct >= crit ? EP_SEV_CRITICAL
						     : EP_SEV_WARNING;
		if (t->source == PROBE_MYSQL_SRC_EXACT && modelled) {
			int64_t used = 0;
			for (size_t i = 0; i < t->nix; i++)
				used += t->ix[i].leaf_pages + t->ix[i].nonleaf_pages +
					t->ix[i].blob_pages;
			int64_t fpages = t->file_size / t->page_size;
			ep_snprintf(msg, sizeof(msg), TXT_MSG_EXACT, pct, (file - after) / MB,
				    file / MB, leaf_fill(t), (long long)(fpages - used),
				    (long long)fpages);
			f.method = txt.method_exact;
		} else if (modelled) {
			ep_snprintf(msg, sizeof(msg), TXT_MSG_PAGES, pct,
				    (file > after ? file - after : 0) / MB, file / MB);
			f.method = txt.method_pages;
		} else {
			ep_snprintf(msg, sizeof(msg), TXT_MSG_DATA_FREE, pct,
				    (double)t->data_free / MB, stats_total(t) / MB);
			if (v == PROBE_MYSQL_NO_FILE_SIZE)
				ep_snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), "%s",
					    t->files_listed ? txt.msg_no_own_file
							    : txt.msg_no_file);
			f.method = txt.method_data_free;
		}
		if (t->online_rebuild)
			ep_snprintf(rem, sizeof(rem),
				    "ALTER TABLE %s ENGINE=InnoDB, ALGORITHM=INPLACE, LOCK=NONE;",
				    quoted);
		else
			ep_snprintf(rem, sizeof(rem), "OPTIMIZE TABLE %s;", quoted);
		f.kind = "table_free_space";
		f.value = pct;
		f.threshold = thr;
		f.critical_threshold = crit;
		f.severity = sev;
		f.remediation = sev == EP_SEV_INFO ? NULL : rem;
	}
	json_t *j = ep_finding_json(&f);
	if (!j)
		return -ENOMEM;
	json_object_set_new(j, "bytes", json_integer((json_int_t)stats_total(t)));
	json_object_set_new(j, "data_free", json_integer(t->data_free));
	json_object_set_new(j, "file_size",
			    t->file_size > 0 ? json_integer(t->file_size) : json_null());
	json_object_set_new(j, "stats_cover_pct", isfinite(cover) ? json_real(cover) : json_null());
	json_object_set_new(j, "table_rows", json_integer(t->table_rows));
	/* a known ERP table ("tabSales Invoice"): module, function, month-end rule */
	probe_erp_annotate_table(j, t->table, time(NULL), (int)s->pg.month_end_days);
	if (v != PROBE_MYSQL_STALE && modelled) {
		json_object_set_new(j, "rebuilt_size_bytes", json_integer((json_int_t)after));
		json_object_set_new(j, "reclaimable_bytes",
				    json_integer((json_int_t)(file > after ? file - after : 0)));
		json_t *ix = indexes_json(t);
		if (ix)
			json_object_set_new(j, "indexes", ix);
	}
	if (v != PROBE_MYSQL_STALE && f.remediation) {
		json_object_set_new(
			j, "lock",
			json_string(t->online_rebuild ? txt.lock_online : txt.lock_offline));
		json_object_set_new(j, "extra_disk_bytes",
				    json_integer(modelled ? (json_int_t)after
							  : t->data_length + t->index_length));
	}
	if (ep_findings_append(r->findings, j) < 0)
		return -ENOMEM;
	return 0;
}

/* ---- collection ------------------------------------------------------------ */

struct tablespace {
	const char *name; /* on-disk form: schema/table */
	int64_t file_size, space;
	const char *filename; /* NULL when the server does not say (MySQL) */
};

struct table_work {
	struct probe_mysql_table t;
	char *schema, *table;
	const struct tablespace *ts;
	struct probe_mysql_index_space *ix; /* owned */
	size_t nix;
	double order; /* pages figure, for the exact scans' order */
};

static int ts_cmp(const void *a, const void *b)
{
	return strcmp(((const struct tablespace *)a)->name, ((const struct tablespace *)b)->name);
}

static int work_cmp(const void *a, const void *b)
{
	const struct table_work *x = *(struct table_work *const *)a,
				*y = *(struct table_work *const *)b;
	if (x->order != y->order)
		return x->order < y->order ? 1 : -1;
	return x->t.file_size < y->t.file_size ? 1 : x->t.file_size > y->t.file_size ? -1 : 0;
}

static const struct tablespace *find_tablespace(const struct tablespace *ts, size_t n,
						const char *schema, const char *table)
{
	char es[700], et[700], key[1401];
	if (n == 0 || probe_mysql_filename_encode(schema, strlen(schema), es, sizeof(es)) < 0 ||
	    probe_mysql_filename_encode(table, strlen(table), et, sizeof(et)) < 0)
		return NULL;
	ep_snprintf(key, sizeof(key), "%s/%s", es, et);
	struct tablespace k = {.name = key};
	return bsearch(&k, ts, n, sizeof(*ts), ts_cmp);
}

static int fd_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	ssize_t n = pread(*(int *)ctx, buf, len, (off_t)off);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/* Exact figures for one table from its file; names the indexes from
 * INNODB_SYS_INDEXES. 0 or -errno with err. */
static int scan_table(struct probe_sql *c, const struct ep_deadline *d,
		      const struct probe_odbc_settings *s, const char *datadir,
		      struct table_work *w, int64_t *bytes_read, char *err, size_t errlen)
{
	char path[4096], sql[300], st[6];
	const char *fn = w->ts->filename;
	struct probe_mysql_scan sc;
	struct probe_sql_rows rows = {0};
	int rc;

	/* the name comes from the server: only tablespace files, no way up */
	size_t fl = strlen(fn);
	if (fl < 5 || strcmp(fn + fl - 4, ".ibd") != 0 || strstr(fn, "/../") ||
	    strncmp(fn, "../", 3) == 0) {
		ep_snprintf(err, errlen, "'%s' is not a tablespace file name", fn);
		return -EINVAL;
	}
	if (fn[0] == '.' && fn[1] == '/')
		fn += 2;
	if (ep_snprintf(path, sizeof(path), "%s/%s%s%s", strcmp(s->root, "/") ? s->root : "",
			fn[0] == '/' ? "" : datadir, fn[0] == '/' || !*datadir ? "" : "/", fn) < 0)
		return -ENAMETOOLONG;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		rc = -errno;
		ep_snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	rc = probe_mysql_scan_tablespace(fd_read, &fd, w->t.file_size, w->t.page_size, w->ts->space,
					 &sc, err, errlen);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
	if (rc < 0)
		return rc;
	*bytes_read += sc.bytes_read;
	ep_snprintf(sql, sizeof(sql),
		    "SELECT INDEX_ID, NAME, TYPE FROM information_schema.INNODB_SYS_INDEXES "
		    "WHERE SPACE = %lld",
		    (long long)w->ts->space);
	if (c->exec(c->impl, d, sql, &rows, st, err, errlen) == 0) {
		for (size_t i = 0; i < sc.nix; i++)
			for (size_t k = 0; k < rows.nrows; k++)
				if ((uint64_t)probe_sql_int(&rows, k, 0, -1) == sc.ix[i].index_id) {
					ep_snprintf(sc.ix[i].name, sizeof(sc.ix[i].name), "%s",
						    probe_sql_str(&rows, k, 1));
					sc.ix[i].clustered = probe_sql_int(&rows, k, 2, 0) & 1;
				}
		probe_sql_rows_free(&rows);
	}
	free(w->ix);
	w->ix = sc.ix;
	w->nix = sc.nix;
	w->t.source = PROBE_MYSQL_SRC_EXACT;
	return 0;
}

/* Indexes of one table from the innodb_index_stats rows (sorted by
 * database, table, index): used leaf pages; bytes unknown. */
static int pages_from_stats(const struct probe_sql_rows *st, struct table_work *w)
{
	size_t cap = 0;
	for (size_t i = 0; i < st->nrows; i++) {
		if (strcmp(probe_sql_str(st, i, 0), w->t.schema) ||
		    strcmp(probe_sql_str(st, i, 1), w->t.table) ||
		    strcmp(probe_sql_str(st, i, 3), "n_leaf_pages"))
			continue;
		if (w->nix == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			void *p = realloc(w->ix, ncap * sizeof(*w->ix));
			if (!p)
				return -ENOMEM;
			w->ix = p;
			cap = ncap;
		}
		struct probe_mysql_index_space *x = &w->ix[w->nix++];
		memset(x, 0, sizeof(*x));
		ep_snprintf(x->name, sizeof(x->name), "%s", probe_sql_str(st, i, 2));
		x->clustered =
			strcmp(x->name, "PRIMARY") == 0 || strcmp(x->name, "GEN_CLUST_INDEX") == 0;
		x->leaf_pages = probe_sql_int(st, i, 4, 1);
		x->nonleaf_pages = -1;
		x->leaf_bytes = -1;
	}
	return 0;
}

/* A finding about the server rather than a table. */
static void server_finding(struct ep_probe_result *r, const char *kind, double value,
			   enum ep_severity sev, const char *method, const char *msg,
			   const char *rem)
{
	struct ep_finding f = {
		.kind = kind,
		.object = "server",
		.value = value,
		.unit = "count",
		.threshold = NAN,
		.severity = sev,
		.method = method,
		.message = msg,
		.remediation = rem,
	};
	ep_probe_add_finding(r, &f);
}

static const char tables_sql[] =
	"SELECT TABLE_SCHEMA, TABLE_NAME, DATA_LENGTH, INDEX_LENGTH, DATA_FREE, TABLE_ROWS"
	" FROM information_schema.TABLES"
	" WHERE ENGINE = 'InnoDB' AND TABLE_TYPE = 'BASE TABLE'"
	" AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')"
	" ORDER BY DATA_LENGTH + INDEX_LENGTH + DATA_FREE DESC LIMIT 2000";

static bool version_online(const char *v, bool mariadb)
{
	int major = 0, minor = 0;
	if (!v || sscanf(v, "%d.%d", &major, &minor) != 2)
		return false;
	return mariadb ? major >= 10 : (major > 5 || (major == 5 && minor >= 6));
}

int probe_mysql_collect(struct probe_sql *c, const struct probe_odbc_settings *s,
			const struct ep_deadline *d, struct ep_probe_result *r, char *err,
			size_t errlen)
{
	struct probe_sql_rows rows = {0}, tsrows = {0}, ixrows = {0};
	struct tablespace *ts = NULL;
	struct table_work *work = NULL, **order = NULL;
	size_t nts = 0, nwork = 0;
	char st[6], e2[300], user[300], datadir[1024] = "", msg[900], rem[600];
	int rc;

	rc = c->exec(c->impl, d,
		     "SELECT VERSION(), @@innodb_file_per_table, CURRENT_USER(), "
		     "@@innodb_page_size, @@innodb_fill_factor, @@datadir",
		     &rows, st, err, errlen);
	if (rc < 0)
		return rc;
	const char *version = probe_sql_cell(&rows, 0, 0);
	bool mariadb = version && strstr(version, "MariaDB");
	bool online = version_online(version, mariadb);
	const char *fpt = probe_sql_cell(&rows, 0, 1);
	bool file_per_table = fpt && (strcmp(fpt, "1") == 0 || strcmp(fpt, "ON") == 0);
	struct probe_mysql_layout layout = {.page_size = probe_sql_int(&rows, 0, 3, 16384),
					    .fill_factor = probe_sql_int(&rows, 0, 4, 100)};
	ep_snprintf(datadir, sizeof(datadir), "%s", probe_sql_str(&rows, 0, 5));
	for (size_t n = strlen(datadir); n > 1 && datadir[n - 1] == '/'; n--)
		datadir[n - 1] = '\0';
	/* CURRENT_USER() is user@host: the GRANT wants 'user'@'host' */
	const char *cu = probe_sql_cell(&rows, 0, 2) ? probe_sql_cell(&rows, 0, 2) : "?";
	const char *at = strrchr(cu, '@');
	if (at && !strchr(cu, '\'') && !strchr(cu, '\\'))
		ep_snprintf(user, sizeof(user), "'%.*s'@'%s'", (int)(at - cu), cu, at + 1);
	else
		ep_snprintf(user, sizeof(user), "<the monitoring user>");
	json_object_set_new(r->metrics, "server_version", json_string(version ? version : ""));
	json_object_set_new(r->metrics, "innodb_file_per_table", json_boolean(file_per_table));
	json_object_set_new(r->metrics, "innodb_page_size", json_integer(layout.page_size));
	probe_sql_rows_free(&rows);
	if (!file_per_table)
		server_finding(r, "innodb_file_per_table", 0, EP_SEV_INFO,
			       "@@innodb_file_per_table",
			       "innodb_file_per_table is OFF: tables created now share the system "
			       "tablespace, whose free space cannot be given back nor measured "
			       "per table",
			       "SET GLOBAL innodb_file_per_table = ON; (and in my.cnf), then "
			       "rebuild tables with ALTER TABLE ... ENGINE=InnoDB");

	/* Tablespace files (PROCESS), matched by their on-disk names */
	rc = c->exec(c->impl, d,
		     mariadb ? "SELECT NAME, FILE_SIZE, FILENAME, SPACE, ROW_FORMAT FROM "
			       "information_schema.INNODB_SYS_TABLESPACES WHERE NAME LIKE '%/%'"
			     : "SELECT NAME, FILE_SIZE, NULL, SPACE, ROW_FORMAT FROM "
			       "information_schema.INNODB_TABLESPACES WHERE NAME LIKE '%/%'",
		     &tsrows, st, e2, sizeof(e2));
	if (rc < 0 && mariadb) /* MariaDB before 10.6: no FILENAME column */
		rc = c->exec(c->impl, d,
			     "SELECT NAME, FILE_SIZE, NULL, SPACE, ROW_FORMAT FROM "
			     "information_schema.INNODB_SYS_TABLESPACES WHERE NAME LIKE '%/%'",
			     &tsrows, st, e2, sizeof(e2));
	bool have_files = rc == 0;
	if (!have_files) {
		ep_snprintf(msg, sizeof(msg),
			    "the tablespace file sizes are not readable (%s): stale InnoDB "
			    "statistics cannot be told from real free space",
			    e2);
		ep_snprintf(rem, sizeof(rem), "GRANT PROCESS ON *.* TO %s;", user);
		server_finding(r, "monitoring_setup", 1, EP_SEV_WARNING, "information_schema", msg,
			       rem);
	} else if (tsrows.nrows) {
		if (!(ts = calloc(tsrows.nrows, sizeof(*ts)))) {
			rc = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < tsrows.nrows; i++) {
			ts[nts].name = probe_sql_str(&tsrows, i, 0);
			ts[nts].file_size = probe_sql_int(&tsrows, i, 1, -1);
			/* compressed pages are not what the scan reads */
			ts[nts].filename = strcmp(probe_sql_str(&tsrows, i, 4), "Compressed")
						   ? probe_sql_cell(&tsrows, i, 2)
						   : NULL;
			ts[nts].space = probe_sql_int(&tsrows, i, 3, -1);
			nts++;
		}
		qsort(ts, nts, sizeof(*ts), ts_cmp);
	}

	/* Used pages per index (SELECT on mysql.innodb_index_stats) */
	rc = c->exec(c->impl, d,
		     "SELECT database_name, table_name, index_name, stat_name, stat_value"
		     " FROM mysql.innodb_index_stats WHERE stat_name = 'n_leaf_pages'"
		     " ORDER BY database_name, table_name, index_name",
		     &ixrows, st, e2, sizeof(e2));
	bool have_pages = rc == 0;
	if (!have_pages) {
		ep_snprintf(msg, sizeof(msg),
			    "the used pages of each index are not readable (%s): without them "
			    "(or the exact page scan) free space inside the table's segments is "
			    "not seen",
			    e2);
		ep_snprintf(rem, sizeof(rem), "GRANT SELECT ON mysql.innodb_index_stats TO %s;",
			    user);
		server_finding(r, "monitoring_setup", 1, EP_SEV_INFO, "mysql.innodb_index_stats",
			       msg, rem);
	}

	if ((rc = c->exec(c->impl, d, tables_sql, &rows, st, err, errlen)) < 0)
		goto out;
	if (rows.nrows && (!(work = calloc(rows.nrows, sizeof(*work))) ||
			   !(order = calloc(rows.nrows, sizeof(*order))))) {
		rc = -ENOMEM;
		goto out;
	}
	int64_t unmatched = 0;
	for (size_t i = 0; i < rows.nrows; i++) {
		struct table_work *w = &work[nwork];
		w->t = (struct probe_mysql_table){
			.schema = probe_sql_str(&rows, i, 0),
			.table = probe_sql_str(&rows, i, 1),
			.data_length = probe_sql_int(&rows, i, 2, 0),
			.index_length = probe_sql_int(&rows, i, 3, 0),
			.data_free = probe_sql_int(&rows, i, 4, 0),
			.table_rows = probe_sql_int(&rows, i, 5, 0),
			.file_size = -1,
			.page_size = layout.page_size,
			.online_rebuild = online,
			.files_listed = have_files,
		};
		w->ts = find_tablespace(ts, nts, w->t.schema, w->t.table);
		if (w->ts)
			w->t.file_size = w->ts->file_size;
		else if (have_files && file_per_table)
			unmatched++;
		if (have_pages && w->ts && pages_from_stats(&ixrows, w) < 0) {
			rc = -ENOMEM;
			goto out;
		}
		if (w->nix) {
			w->t.source = PROBE_MYSQL_SRC_PAGES;
			w->t.pages_after = probe_mysql_rebuilt_pages(w->ix, w->nix, &layout);
			double cov;
			probe_mysql_judge(&w->t, s, &w->order, &cov);
		}
		order[nwork] = w;
		nwork++;
	}

	/* Exact scans, most promising first, within the byte budget */
	int64_t budget = s->pg.exact_budget_mb * 1024 * 1024, spent = 0, bytes_read = 0;
	int64_t scanned = 0, over_budget = 0, scan_failed = 0;
	char scan_err[600] = "";
	qsort(order, nwork, sizeof(*order), work_cmp);
	for (size_t i = 0; s->innodb_page_scan && i < nwork; i++) {
		struct table_work *w = order[i];
		if (!w->ts || !w->ts->filename || w->t.file_size <= 0 ||
		    (double)w->t.file_size < (double)s->min_table_mb * MB)
			continue;
		if (spent + w->t.file_size > budget) {
			over_budget++;
			continue;
		}
		if (ep_deadline_left_ms(d) < 2000)
			break;
		char e3[600];
		if (scan_table(c, d, s, datadir, w, &bytes_read, e3, sizeof(e3)) < 0) {
			if (!scan_failed++)
				ep_snprintf(scan_err, sizeof(scan_err), "%s", e3);
			continue;
		}
		spent += w->t.file_size;
		w->t.pages_after = probe_mysql_rebuilt_pages(w->ix, w->nix, &layout);
		scanned++;
	}

	int64_t judged = 0, stale = 0, fragmented = 0, small = 0, exact = 0;
	for (size_t i = 0; i < nwork; i++) {
		struct table_work *w = &work[i];
		char qs[300], qt[300], quoted[620];
		double fp, cov;

		w->t.ix = w->ix;
		w->t.nix = w->nix;
		if (probe_mysql_quote_ident(w->t.schema, qs, sizeof(qs)) < 0 ||
		    probe_mysql_quote_ident(w->t.table, qt, sizeof(qt)) < 0)
			continue;
		ep_snprintf(quoted, sizeof(quoted), "%s.%s", qs, qt);
		switch (probe_mysql_judge(&w->t, s, &fp, &cov)) {
		case PROBE_MYSQL_SMALL:
			small++;
			break;
		case PROBE_MYSQL_STALE:
			stale++;
			break;
		case PROBE_MYSQL_FRAGMENTED:
			fragmented++;
			judged++;
			break;
		default:
			judged++;
			break;
		}
		exact += w->t.source == PROBE_MYSQL_SRC_EXACT;
		if ((rc = probe_mysql_table_finding(&w->t, s, quoted, r)) < 0)
			goto out;
	}
	if (scan_failed) {
		/* say once what the exact figures need; the tables keep their
		 * statistics-based figures */
		struct passwd *pw = getpwuid(geteuid());
		json_object_set_new(r->metrics, "innodb_page_scan_error", json_string(scan_err));
		ep_snprintf(msg, sizeof(msg),
			    "%lld table(s) could not be measured exactly from their tablespace "
			    "files (%s); their figures come from the statistics and miss free "
			    "space inside half-empty pages",
			    (long long)scan_failed, scan_err);
		ep_snprintf(rem, sizeof(rem),
			    "run the agent on the database host and let it read the datadir, e.g. "
			    "setfacl -R -m u:%s:rX,d:u:%s:rX %s (or set innodb_page_scan = no)",
			    pw ? pw->pw_name : "erpulse", pw ? pw->pw_name : "erpulse",
			    *datadir ? datadir : "/var/lib/mysql");
		server_finding(r, "monitoring_setup", 1, EP_SEV_INFO, "innodb page scan", msg, rem);
	}
	json_object_set_new(r->metrics, "innodb_tables", json_integer((json_int_t)nwork));
	json_object_set_new(r->metrics, "tables_judged", json_integer(judged));
	json_object_set_new(r->metrics, "tables_fragmented", json_integer(fragmented));
	json_object_set_new(r->metrics, "tables_stale_statistics", json_integer(stale));
	json_object_set_new(r->metrics, "tables_small", json_integer(small));
	json_object_set_new(r->metrics, "tables_exact", json_integer(exact));
	json_object_set_new(r->metrics, "tables_scanned", json_integer(scanned));
	json_object_set_new(r->metrics, "tables_over_budget", json_integer(over_budget));
	json_object_set_new(r->metrics, "tables_scan_failed", json_integer(scan_failed));
	json_object_set_new(r->metrics, "tablespace_bytes_scanned", json_integer(spent));
	json_object_set_new(r->metrics, "page_header_bytes_read", json_integer(bytes_read));
	json_object_set_new(r->metrics, "tablespaces_unmatched", json_integer(unmatched));
	json_object_set_new(r->metrics, "tablespace_sizes_readable", json_boolean(have_files));
	json_object_set_new(r->metrics, "index_stats_readable", json_boolean(have_pages));
	rc = 0;
out:
	if (rc == -ENOMEM)
		ep_snprintf(err, errlen, "out of memory");
	for (size_t i = 0; i < nwork; i++)
		free(work[i].ix);
	free(work);
	free(order);
	free(ts);
	probe_sql_rows_free(&rows);
	probe_sql_rows_free(&tsrows);
	probe_sql_rows_free(&ixrows);
	return rc;
}
