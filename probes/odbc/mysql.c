/* MariaDB / MySQL through ODBC: InnoDB free space per table, with the
 * statistics checked against the tablespace file before anything is judged.
 * DATA_LENGTH and INDEX_LENGTH come from InnoDB's persistent statistics and
 * can be wildly stale (a table bulk-loaded after its last ANALYZE shows one
 * page); DATA_FREE is read live from the tablespace. Dividing a live number
 * by a stale one is how free-space monitors cry wolf, so a table whose
 * statistics do not add up to its file is reported as stale instead.
 * docs/fragmentation.md has a worked example. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "probes/odbc/odbc.h"

#define MB (1024.0 * 1024.0)

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

enum probe_mysql_verdict probe_mysql_judge(const struct probe_mysql_table *t,
					   const struct probe_odbc_settings *s,
					   double *ret_free_pct, double *ret_stats_cover_pct)
{
	double total = (double)t->data_length + (double)t->index_length + (double)t->data_free;
	double biggest = total > (double)t->file_size ? total : (double)t->file_size;
	double free_pct = total > 0 ? 100.0 * (double)t->data_free / total : 0;
	double cover = t->file_size > 0 ? 100.0 * total / (double)t->file_size : NAN;

	*ret_free_pct = free_pct;
	*ret_stats_cover_pct = cover;
	if (biggest < (double)s->min_table_mb * MB)
		return PROBE_MYSQL_SMALL;
	if (t->file_size > 0 && fabs(100.0 - cover) > (double)s->stale_pct)
		return PROBE_MYSQL_STALE;
	if (t->file_size <= 0)
		return PROBE_MYSQL_NO_FILE_SIZE;
	return free_pct >= (double)s->pg.threshold ? PROBE_MYSQL_FRAGMENTED : PROBE_MYSQL_OK;
}

int probe_mysql_table_finding(const struct probe_mysql_table *t,
			      const struct probe_odbc_settings *s, const char *quoted,
			      struct ep_probe_result *r)
{
	double free_pct, cover;
	enum probe_mysql_verdict v = probe_mysql_judge(t, s, &free_pct, &cover);
	char object[400], msg[700], rem[600];
	double thr = (double)s->pg.threshold;

	if (v == PROBE_MYSQL_SMALL)
		return 0;
	ep_snprintf(object, sizeof(object), "%s/%s", t->schema, t->table);
	struct ep_finding f = {.object = object, .unit = "%", .message = msg};
	if (v == PROBE_MYSQL_STALE) {
		ep_snprintf(
			msg, sizeof(msg),
			"InnoDB statistics are stale: DATA_LENGTH + INDEX_LENGTH + DATA_FREE = "
			"%.1f MB describe %.0f%% of the %.1f MB tablespace file, so the free-space "
			"ratio (%.1f%% from these numbers) is not judged; refresh the statistics "
			"and look again",
			((double)t->data_length + (double)t->index_length + (double)t->data_free) /
				MB,
			cover, (double)t->file_size / MB, free_pct);
		ep_snprintf(rem, sizeof(rem), "ANALYZE TABLE %s;", quoted);
		f.kind = "table_statistics_stale";
		f.value = cover;
		f.threshold = NAN;
		f.severity = EP_SEV_INFO;
		f.method = "information_schema.TABLES vs INNODB tablespace file size";
		f.remediation = rem;
	} else {
		enum ep_severity sev = free_pct < thr                              ? EP_SEV_INFO
				       : free_pct >= (thr * 2 > 95 ? 95 : thr * 2) ? EP_SEV_CRITICAL
										   : EP_SEV_WARNING;
		ep_snprintf(
			msg, sizeof(msg),
			"%.1f%% of the table's space is free (DATA_FREE %.1f MB of %.1f MB)%s",
			free_pct, (double)t->data_free / MB,
			((double)t->data_length + (double)t->index_length + (double)t->data_free) /
				MB,
			v == PROBE_MYSQL_NO_FILE_SIZE ? "; the tablespace file size is not "
							"readable (PROCESS privilege), so "
							"stale statistics cannot be ruled out"
						      : "");
		ep_snprintf(rem, sizeof(rem), "OPTIMIZE TABLE %s;", quoted);
		f.kind = "table_free_space";
		f.value = free_pct;
		f.threshold = thr;
		f.severity = sev;
		f.method = "information_schema.TABLES (DATA_FREE)";
		f.remediation = sev == EP_SEV_INFO ? NULL : rem;
	}
	json_t *j = ep_finding_json(&f);
	if (!j)
		return -ENOMEM;
	json_object_set_new(j, "bytes",
			    json_integer(t->data_length + t->index_length + t->data_free));
	json_object_set_new(j, "data_free", json_integer(t->data_free));
	json_object_set_new(j, "file_size",
			    t->file_size > 0 ? json_integer(t->file_size) : json_null());
	json_object_set_new(j, "stats_cover_pct", isfinite(cover) ? json_real(cover) : json_null());
	json_object_set_new(j, "table_rows", json_integer(t->table_rows));
	if (v != PROBE_MYSQL_STALE && f.remediation) {
		json_object_set_new(
			j, "lock",
			json_string(
				"InnoDB rebuilds the table (ALTER TABLE ... FORCE, online: reads "
				"and writes go on, with short metadata locks at start and end); "
				"needs free disk about the table's size"));
		json_object_set_new(j, "extra_disk_bytes",
				    json_integer(t->data_length + t->index_length));
	}
	if (ep_findings_append(r->findings, j) < 0)
		return -ENOMEM;
	return 0;
}

static const char tables_sql_fmt[] =
	"SELECT t.TABLE_SCHEMA, t.TABLE_NAME, t.DATA_LENGTH, t.INDEX_LENGTH, t.DATA_FREE,"
	" t.TABLE_ROWS, %s"
	" FROM information_schema.TABLES t %s"
	" WHERE t.ENGINE = 'InnoDB' AND t.TABLE_TYPE = 'BASE TABLE'"
	" AND t.TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')"
	" ORDER BY t.DATA_LENGTH + t.INDEX_LENGTH + t.DATA_FREE DESC LIMIT 2000";

int probe_mysql_collect(struct probe_sql *c, const struct probe_odbc_settings *s,
			const struct ep_deadline *d, struct ep_probe_result *r, char *err,
			size_t errlen)
{
	struct probe_sql_rows rows = {0};
	char st[6], sql[1200], e2[300];
	int rc;

	rc = c->exec(c->impl, d, "SELECT VERSION(), @@innodb_file_per_table, CURRENT_USER()", &rows,
		     st, err, errlen);
	if (rc < 0)
		return rc;
	const char *version = probe_sql_cell(&rows, 0, 0);
	bool mariadb = version && strstr(version, "MariaDB");
	const char *fpt = probe_sql_cell(&rows, 0, 1);
	bool file_per_table = fpt && (strcmp(fpt, "1") == 0 || strcmp(fpt, "ON") == 0);
	/* CURRENT_USER() is user@host: the GRANT wants 'user'@'host' */
	char user[300];
	const char *cu = probe_sql_cell(&rows, 0, 2) ? probe_sql_cell(&rows, 0, 2) : "?";
	const char *at = strrchr(cu, '@');
	if (at && !strchr(cu, '\'') && !strchr(cu, '\\'))
		ep_snprintf(user, sizeof(user), "'%.*s'@'%s'", (int)(at - cu), cu, at + 1);
	else
		ep_snprintf(user, sizeof(user), "<the monitoring user>");
	json_object_set_new(r->metrics, "server_version", json_string(version ? version : ""));
	json_object_set_new(r->metrics, "innodb_file_per_table", json_boolean(file_per_table));
	probe_sql_rows_free(&rows);
	if (!file_per_table) {
		struct ep_finding f = {
			.kind = "innodb_file_per_table",
			.object = "server",
			.value = 0,
			.unit = "count",
			.threshold = NAN,
			.severity = EP_SEV_INFO,
			.method = "@@innodb_file_per_table",
			.message =
				"innodb_file_per_table is OFF: tables created now share the system "
				"tablespace, whose free space cannot be given back nor measured "
				"per table",
			.remediation =
				"SET GLOBAL innodb_file_per_table = ON; (and in my.cnf), then "
				"rebuild tables with ALTER TABLE ... ENGINE=InnoDB",
		};
		ep_probe_add_finding(r, &f);
	}

	/* With the tablespace file size (needs PROCESS) ... */
	ep_snprintf(sql, sizeof(sql), tables_sql_fmt, "ts.FILE_SIZE",
		    mariadb ? "LEFT JOIN information_schema.INNODB_SYS_TABLESPACES ts ON ts.NAME = "
			      "CONCAT(t.TABLE_SCHEMA, '/', t.TABLE_NAME)"
			    : "LEFT JOIN information_schema.INNODB_TABLESPACES ts ON ts.NAME = "
			      "CONCAT(t.TABLE_SCHEMA, '/', t.TABLE_NAME)");
	rc = c->exec(c->impl, d, sql, &rows, st, e2, sizeof(e2));
	bool have_files = rc == 0;
	if (rc < 0) {
		/* ... or without it, and say what is missing. */
		char msg[600], rem[300];
		ep_snprintf(msg, sizeof(msg),
			    "the tablespace file sizes are not readable (%s): stale InnoDB "
			    "statistics cannot be told from real free space",
			    e2);
		ep_snprintf(rem, sizeof(rem), "GRANT PROCESS ON *.* TO %s;", user);
		struct ep_finding f = {
			.kind = "monitoring_setup",
			.object = "server",
			.value = 1,
			.unit = "count",
			.threshold = NAN,
			.severity = EP_SEV_WARNING,
			.method = "information_schema",
			.message = msg,
			.remediation = rem,
		};
		ep_probe_add_finding(r, &f);
		ep_snprintf(sql, sizeof(sql), tables_sql_fmt, "NULL", "");
		if ((rc = c->exec(c->impl, d, sql, &rows, st, err, errlen)) < 0)
			return rc;
	}
	int64_t judged = 0, stale = 0, fragmented = 0, small = 0;
	for (size_t i = 0; i < rows.nrows; i++) {
		char qs[300], qt[300], quoted[620];
		struct probe_mysql_table t = {
			.schema = probe_sql_cell(&rows, i, 0) ? probe_sql_cell(&rows, i, 0) : "",
			.table = probe_sql_cell(&rows, i, 1) ? probe_sql_cell(&rows, i, 1) : "",
			.data_length = probe_sql_int(&rows, i, 2, 0),
			.index_length = probe_sql_int(&rows, i, 3, 0),
			.data_free = probe_sql_int(&rows, i, 4, 0),
			.table_rows = probe_sql_int(&rows, i, 5, 0),
			.file_size = probe_sql_int(&rows, i, 6, -1),
		};
		if (probe_mysql_quote_ident(t.schema, qs, sizeof(qs)) < 0 ||
		    probe_mysql_quote_ident(t.table, qt, sizeof(qt)) < 0)
			continue;
		ep_snprintf(quoted, sizeof(quoted), "%s.%s", qs, qt);
		double fp, cov;
		switch (probe_mysql_judge(&t, s, &fp, &cov)) {
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
		probe_mysql_table_finding(&t, s, quoted, r);
	}
	json_object_set_new(r->metrics, "innodb_tables", json_integer((json_int_t)rows.nrows));
	json_object_set_new(r->metrics, "tables_judged", json_integer(judged));
	json_object_set_new(r->metrics, "tables_fragmented", json_integer(fragmented));
	json_object_set_new(r->metrics, "tables_stale_statistics", json_integer(stale));
	json_object_set_new(r->metrics, "tables_small", json_integer(small));
	json_object_set_new(r->metrics, "tablespace_sizes_readable", json_boolean(have_files));
	probe_sql_rows_free(&rows);
	return 0;
}
