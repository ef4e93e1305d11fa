/* The erp probe (libpq): for each configured database, which ERP runs on it
 * (detect.c), its version and lag against the release table (releases.c),
 * its installed modules and aggregate usage health (one file per ERP), with
 * findings named after the ERP's own tables (tables.c). Connections and
 * statements go through the postgres probe's runner (probes/postgres/pq.c),
 * so the deadline, statement_timeout and lock_timeout hold exactly as there.
 * Every statement reads counts only: docs/probes-erp.md lists each table and
 * column, and a role granted only those columns runs the probe in the tests.
 * MariaDB/MySQL (ERPNext, Dolibarr) is read through ODBC (`connection`), with
 * the odbc probe's runner (probes/odbc/conn.c) and each spec's MySQL SQL.
 * Over ~800 lines on purpose: the option table, the per-database walk and
 * the finding rules are one flow that reads best in one place; the
 * per-ERP parts already live in their own files. */
#include <errno.h>
#include <glob.h>
#include <math.h>
#include <sql.h>
#include <sqlext.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "erpulse/probe.h"
#include "probes/erp/erp.h"
#include "probes/odbc/odbc.h"
#include "probes/postgres/pg.h"
#include "probes/postgres/pq.h"

static const struct ep_option erp_options[] = {
	{"conninfo", EP_OPT_STRING, "", 0, 0,
	 "libpq connection string of the ERP's PostgreSQL (host=/run/postgresql dbname=odoo "
	 "user=erpulse_monitor); empty = libpq defaults"},
	{"connection", EP_OPT_STRING, NULL, 0, 0,
	 "instead of conninfo, for an ERP on MariaDB/MySQL: ODBC connection string naming the "
	 "database (DSN=mariadb;UID=erpulse_monitor;PWD=...;DATABASE=erpnext)"},
	{"databases", EP_OPT_LIST, NULL, 0, 0,
	 "databases to examine with conninfo (default: every connectable non-template "
	 "database); with connection, the one it names"},
	{"usage", EP_OPT_BOOL, "yes", 0, 0,
	 "aggregate usage health (active users, logins, documents per module, jobs); no = "
	 "application, version and modules only"},
	{"month_end_days", EP_OPT_INT, "3", 0, 15,
	 "the last N days of a month rank findings on accounting and stock tables one step higher "
	 "(0 = off)"},
	{"failed_logins_warning", EP_OPT_INT, "50", 1, 1LL << 40,
	 "failed logins in 7 days that warn (brute force)"},
	{"queue_backlog_warning", EP_OPT_INT, "1000", 1, 1LL << 40,
	 "unfinished jobs in the ERP's job queue that warn"},
	{"session_rows_warning", EP_OPT_INT, "100000", 1, 1LL << 40,
	 "rows in the ERP's session table that warn (a table nobody purges)"},
	{"dead_tuples_pct", EP_OPT_INT, "20", 1, 100,
	 "dead rows (% of a core ERP table) that warn, with the table's module and function"},
	{"dead_tuples_min", EP_OPT_INT, "10000", 0, 1LL << 40, "... when at least this many"},
	{"statement_timeout", EP_OPT_DURATION, "10s", 1, 3600,
	 "statement_timeout of the probe's session (also bounded by the deadline)"},
	{"lock_timeout_ms", EP_OPT_INT, "1000", 1, 600000, "lock_timeout of the probe's session"},
	{"connect_timeout", EP_OPT_DURATION, "10s", 1, 600, "connection timeout"},
	{.key = NULL},
};

struct erp_ctx {
	char *conninfo;
	char *connection; /* ODBC (MariaDB/MySQL), or NULL */
	char **databases; /* NULL = all */
	const char *root;
	bool usage;
	int64_t month_end_days, failed_logins_warning, queue_backlog_warning, session_rows_warning,
		dead_pct, dead_min, connect_timeout_s;
	struct probe_pg_settings cfg; /* statement and lock timeouts for probe_pg_session */
};

struct erp_db {
	struct probe_sql *c;
	const struct erp_ctx *ctx;
	const struct ep_deadline *d;
	struct ep_probe_result *r;
	const char *db;
	enum probe_erp_app app;
	bool mysql;          /* MariaDB/MySQL through ODBC: the specs' sql_mysql */
	json_t *m;           /* metrics.databases.<db> */
	json_t *unavailable; /* metric -> why it is null */
	time_t now;
};

/* ---- findings ----------------------------------------------------------------- */

/* Adds a finding on the ERP of x; table (may be NULL) names the ERP table
 * it concerns, for module, function and the month-end rule. */
static void erp_finding(struct erp_db *x, const struct ep_finding *f, const char *table)
{
	json_t *j = ep_finding_json(f);
	if (!j)
		return;
	json_object_set_new(j, "erp_application", json_string(probe_erp_app_name(x->app)));
	probe_erp_annotate_finding(j, probe_erp_table_lookup(x->app, table), x->now,
				   (int)x->ctx->month_end_days);
	ep_findings_append(x->r->findings, j);
}

static void object_name(char *out, size_t len, const char *db, const char *what)
{
	ep_snprintf(out, len, "%s/%s", db, what);
}

/* ---- version, modules ----------------------------------------------------------- */

/* The version from the first file of spec->version_files under root. */
static int version_from_files(const struct probe_erp_spec *spec, const char *root, char *out,
			      size_t outlen, char *from, size_t fromlen)
{
	for (size_t i = 0; spec->version_files[i]; i++) {
		char pattern[4096];
		glob_t g;
		size_t rl = strlen(root);
		ep_snprintf(pattern, sizeof(pattern), "%s%s%s", root,
			    rl && root[rl - 1] == '/' ? "" : "/", spec->version_files[i]);
		if (glob(pattern, GLOB_NOSORT, NULL, &g) != 0)
			continue;
		for (size_t k = 0; k < g.gl_pathc; k++) {
			char *text = NULL;
			size_t len = 0;
			if (ep_read_file(g.gl_pathv[k], 256 * 1024, &text, &len) < 0)
				continue;
			int rc = probe_erp_python_version(text, len, out, outlen);
			free(text);
			if (rc == 0) {
				ep_snprintf(from, fromlen, "%s", g.gl_pathv[k] + rl);
				globfree(&g);
				return 0;
			}
		}
		globfree(&g);
	}
	return -ENOENT;
}

static void version_and_lag(struct erp_db *x, const struct probe_erp_spec *spec)
{
	char version[128] = "", from[512] = "", err[512] = "no version row", st[6];
	struct probe_sql_rows rows = {0};

	const char *version_sql = x->mysql ? spec->version_sql_mysql : spec->version_sql;
	if (version_sql) {
		if (x->c->exec(x->c->impl, x->d, version_sql, &rows, st, err, sizeof(err)) == 0 &&
		    probe_sql_cell(&rows, 0, 0)) {
			ep_snprintf(version, sizeof(version), "%s", probe_sql_cell(&rows, 0, 0));
			ep_snprintf(from, sizeof(from), "%s", spec->reads_version);
		} else if (rows.nrows == 0) {
			json_object_set_new(x->unavailable, "version", json_string(err));
		}
		probe_sql_rows_free(&rows);
	} else if (spec->version_files &&
		   version_from_files(spec, x->ctx->root, version, sizeof(version), from,
				      sizeof(from)) < 0) {
		json_object_set_new(x->unavailable, "version",
				    json_string("no installed package file names the version"));
	}
	if (!version[0])
		return;
	json_object_set_new(x->m, "version", json_string(version));
	json_object_set_new(x->m, "version_from", json_string(from));

	struct probe_erp_lag lag;
	int rc = probe_erp_version_lag(x->app, version, x->now, &lag);
	json_object_set_new(x->m, "series", json_string(lag.series));
	json_object_set_new(x->m, "releases_checked", json_string(probe_erp_releases_checked));
	if (lag.newest)
		json_object_set_new(x->m, "newest_series", json_string(lag.newest->series));
	if (rc < 0) {
		json_object_set_new(x->m, "series_known", json_false());
		return;
	}
	json_object_set_new(x->m, "majors_behind", json_integer(lag.behind));
	json_object_set_new(x->m, "out_of_support", json_boolean(lag.out_of_support));
	json_object_set_new(x->m, "support_ends",
			    lag.installed->support_ends ? json_string(lag.installed->support_ends)
							: json_null());
	if (!lag.out_of_support && lag.behind <= 1)
		return;
	char obj[300], msg[600], fix[400];
	object_name(obj, sizeof(obj), x->db, probe_erp_app_name(x->app));
	if (lag.out_of_support)
		ep_snprintf(msg, sizeof(msg),
			    "%s %s (series %s) is out of the vendor's support since %s and %d "
			    "major release%s behind %s",
			    spec->label, version, lag.series, lag.installed->support_ends,
			    lag.behind, lag.behind == 1 ? "" : "s",
			    lag.newest ? lag.newest->series : "?");
	else
		ep_snprintf(msg, sizeof(msg), "%s %s (series %s) is %d major releases behind %s",
			    spec->label, version, lag.series, lag.behind,
			    lag.newest ? lag.newest->series : "?");
	ep_snprintf(fix, sizeof(fix),
		    "Plan an upgrade to a supported %s series (newest: %s); rehearse it on a copy "
		    "of this database first.",
		    spec->label, lag.newest ? lag.newest->series : "?");
	struct ep_finding f = {
		.kind = "erp_version_lag",
		.object = obj,
		.value = lag.behind,
		.unit = "releases",
		.threshold = 2,
		.severity = lag.out_of_support ? EP_SEV_CRITICAL : EP_SEV_WARNING,
		.method = "release table",
		.message = msg,
		.remediation = fix,
	};
	erp_finding(x, &f, NULL);
}

static void modules(struct erp_db *x, const struct probe_erp_spec *spec)
{
	char err[512], st[6];
	struct probe_sql_rows rows = {0};

	const char *sql = x->mysql ? spec->modules_sql_mysql : spec->modules_sql;
	if (!sql || x->c->exec(x->c->impl, x->d, sql, &rows, st, err, sizeof(err)) < 0) {
		if (!sql)
			ep_snprintf(err, sizeof(err), "%s", "not read on MariaDB/MySQL");
		json_object_set_new(x->unavailable, "modules", json_string(err));
		return;
	}
	json_t *list = json_array();
	for (size_t i = 0; i < rows.nrows && i < 1000; i++)
		if (probe_sql_cell(&rows, i, 0))
			json_array_append_new(list, json_string(probe_sql_cell(&rows, i, 0)));
	json_object_set_new(x->m, "modules_count", json_integer((json_int_t)rows.nrows));
	json_object_set_new(x->m, "modules", list);
	probe_sql_rows_free(&rows);
}

/* ---- usage ------------------------------------------------------------------------ */

/* Sets metrics "a.b" (nested) to v in obj. */
static void set_path(json_t *obj, const char *path, json_t *v)
{
	const char *dot = strchr(path, '.');
	if (!dot) {
		json_object_set_new(obj, path, v);
		return;
	}
	char head[64];
	ep_snprintf(head, sizeof(head), "%.*s", (int)(dot - path), path);
	json_t *sub = json_object_get(obj, head);
	if (!sub) {
		sub = json_object();
		json_object_set_new(obj, head, sub);
	}
	set_path(sub, dot + 1, v);
}

/* Why a statement gave no figure, for the metrics: short and stable. */
static const char *why(const char *sqlstate, int rc)
{
	if (rc == -ETIME || strcmp(sqlstate, "57014") == 0 || strcmp(sqlstate, "HYT00") == 0 ||
	    strcmp(sqlstate, "70100") == 0)
		return "timed out";
	if (rc == -ENOTSUP)
		return "not read on MariaDB/MySQL";
	if (strcmp(sqlstate, "42S02") == 0)
		return "table not present (module not installed)";
	if (strcmp(sqlstate, "42S22") == 0)
		return "column not present (other release)";
	if (strcmp(sqlstate, "42P01") == 0)
		return "table not present (module not installed)";
	if (strcmp(sqlstate, "42703") == 0)
		return "column not present (other release)";
	if (strcmp(sqlstate, "42501") == 0)
		return "permission denied (see docs/probes-erp.md for the grants)";
	return "error";
}

static void usage(struct erp_db *x, const struct probe_erp_spec *spec, json_t *u)
{
	for (const struct probe_erp_query *q = spec->usage; q->metrics; q++) {
		char err[512] = "", st[6] = "";
		struct probe_sql_rows rows = {0};
		const char *sql = x->mysql ? q->sql_mysql : q->sql;
		int rc = !sql ? -ENOTSUP
			 : ep_deadline_left_ms(x->d) < 200
				 ? -ETIME
				 : x->c->exec(x->c->impl, x->d, sql, &rows, st, err, sizeof(err));
		char names[256];
		ep_snprintf(names, sizeof(names), "%s", q->metrics);
		size_t col = 0;
		for (char *save = NULL, *n = strtok_r(names, ",", &save); n;
		     n = strtok_r(NULL, ",", &save), col++) {
			if (rc == 0 && rows.nrows == 1) {
				int64_t v = probe_sql_int(&rows, 0, col, -1);
				set_path(u, n, v >= 0 ? json_integer(v) : json_null());
			} else {
				set_path(u, n, json_null());
				json_object_set_new(x->unavailable, n, json_string(why(st, rc)));
			}
		}
		probe_sql_rows_free(&rows);
	}
}

static int64_t metric(json_t *u, const char *key)
{
	json_t *v = json_object_get(u, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

/* The usage findings: a metric at or above a line. The texts live here, in
 * one table, for the translations to come. */
enum line_from { LINE_ONE, LINE_FAILED_LOGINS, LINE_QUEUE };
static const struct {
	const char *metric, *kind, *object; /* object "" = the ERP's queue table */
	enum line_from line;
	const char *message; /* after "<ERP>: <count> " */
	const char *remediation;
} usage_rules[] = {
	{"failed_logins_7d", "erp_failed_logins", "logins", LINE_FAILED_LOGINS,
	 "failed logins in 7 days (a brute-force signal)",
	 "Check the source addresses in the ERP's log and enforce lockout or fail2ban on the "
	 "login page."},
	{"cron_late", "erp_jobs_late", "cron", LINE_ONE,
	 "active scheduled job(s) more than an hour overdue",
	 "Check that the ERP's scheduler (cron worker) runs and look for its errors in the ERP "
	 "log."},
	{"cron_failing", "erp_jobs_failing", "cron", LINE_ONE, "scheduled job(s) failing",
	 "Open the failing jobs' logs in the ERP and fix or disable them."},
	{"queue_backlog", "erp_queue_backlog", "", LINE_QUEUE, "jobs waiting in the job queue",
	 "Check that the queue workers run and keep up; add workers or find the job that blocks "
	 "them."},
};

static void usage_findings(struct erp_db *x, const struct probe_erp_spec *spec, json_t *u)
{
	const char *queue = x->app == PROBE_ERP_TRYTON ? "ir_queue" : "queue_job";
	const char *cron = x->app == PROBE_ERP_TRYTON ? "ir_cron" : "cron";

	for (size_t i = 0; i < EP_ARRAY_SIZE(usage_rules); i++) {
		int64_t line = usage_rules[i].line == LINE_FAILED_LOGINS
				       ? x->ctx->failed_logins_warning
			       : usage_rules[i].line == LINE_QUEUE ? x->ctx->queue_backlog_warning
								   : 1;
		int64_t v = metric(u, usage_rules[i].metric);
		if (v < line)
			continue;
		const char *what = usage_rules[i].object;
		if (!*what)
			what = queue;
		else if (strcmp(what, "cron") == 0)
			what = cron;
		char obj[300], msg[400];
		object_name(obj, sizeof(obj), x->db, what);
		ep_snprintf(msg, sizeof(msg), "%s: %lld %s", spec->label, (long long)v,
			    usage_rules[i].message);
		struct ep_finding f = {.kind = usage_rules[i].kind,
				       .object = obj,
				       .value = (double)v,
				       .unit = "count",
				       .threshold = (double)line,
				       .severity = EP_SEV_WARNING,
				       .method = "SQL count",
				       .message = msg,
				       .remediation = usage_rules[i].remediation};
		erp_finding(x, &f, what);
	}
}

/* Rows in the session table (exact count within statement_timeout, else
 * the planner's estimate) and growth per day since the last cycle. */
static void sessions(struct erp_db *x, const struct probe_erp_spec *spec, json_t *u)
{
	char q[300], qt[160], err[512], st[6] = "";
	struct probe_sql_rows rows = {0};
	const char *method = "count(*)";

	if (!spec->session_table ||
	    x->c->quote_ident(x->c->impl, spec->session_table, qt, sizeof(qt)) < 0)
		return;
	ep_snprintf(q, sizeof(q), "SELECT count(*) FROM %s", qt);
	int rc = x->c->exec(x->c->impl, x->d, q, &rows, st, err, sizeof(err));
	if (rc < 0 && ep_deadline_left_ms(x->d) > 200) {
		/* too big or not granted: the planner's figure needs no privilege
		 * (session_table is a constant of the specs: no quoting needed) */
		if (x->mysql)
			ep_snprintf(q, sizeof(q),
				    "SELECT table_rows FROM information_schema.tables WHERE "
				    "table_schema = DATABASE() AND table_name = '%s'",
				    spec->session_table);
		else
			ep_snprintf(
				q, sizeof(q),
				"SELECT greatest(c.reltuples, 0)::bigint FROM pg_catalog.pg_class "
				"c WHERE c.oid = pg_catalog.to_regclass('%s')",
				qt);
		method = "pg_class.reltuples (estimate)";
		rc = x->c->exec(x->c->impl, x->d, q, &rows, st, err, sizeof(err));
	}
	int64_t n = rc == 0 ? probe_sql_int(&rows, 0, 0, -1) : -1;
	probe_sql_rows_free(&rows);
	if (n < 0) {
		json_object_set_new(x->unavailable, "sessions", json_string(why(st, rc)));
		return;
	}
	json_object_set_new(u, "sessions", json_integer(n));
	json_object_set_new(u, "sessions_method", json_string(method));

	json_t *all = json_object_get(x->r->state, "sessions");
	if (!all) {
		all = json_object();
		json_object_set_new(x->r->state, "sessions", all);
	}
	json_t *prev = json_object_get(all, x->db);
	int64_t prev_n = metric(prev, "rows"), prev_at = metric(prev, "at");
	if (prev_n >= 0 && prev_at > 0 && x->now > prev_at)
		json_object_set_new(u, "sessions_growth_per_day",
				    json_real(round((double)(n - prev_n) * 86400.0 /
						    (double)(x->now - prev_at) * 10) /
					      10));
	json_object_set_new(
		all, x->db,
		json_pack("{s:I, s:I}", "rows", (json_int_t)n, "at", (json_int_t)x->now));

	if (n < x->ctx->session_rows_warning)
		return;
	char obj[300], msg[400];
	object_name(obj, sizeof(obj), x->db, spec->session_table);
	ep_snprintf(msg, sizeof(msg),
		    "%s's session table holds %lld rows: expired sessions are not purged",
		    spec->label, (long long)n);
	struct ep_finding f = {.kind = "erp_session_table",
			       .object = obj,
			       .value = (double)n,
			       .unit = "rows",
			       .threshold = (double)x->ctx->session_rows_warning,
			       .severity = EP_SEV_WARNING,
			       .method = method,
			       .message = msg,
			       .remediation =
				       "Delete expired sessions (older than the ERP's session "
				       "timeout) in a quiet hour, then VACUUM the table."};
	erp_finding(x, &f, spec->session_table);
}

/* Dead rows on the ERP's core tables (pg_stat_user_tables: counters, no
 * data), named by module and business function, ranked up at month-end. */
static void table_health(struct erp_db *x)
{
	char err[512], st[6];
	struct probe_sql_rows rows = {0};

	if (x->c->exec(x->c->impl, x->d,
		       "SELECT relname, n_live_tup, n_dead_tup FROM pg_catalog.pg_stat_user_tables "
		       "WHERE schemaname = pg_catalog.current_schema() AND n_dead_tup > 0",
		       &rows, st, err, sizeof(err)) < 0)
		return;
	for (size_t i = 0; i < rows.nrows; i++) {
		const char *table = probe_sql_str(&rows, i, 0);
		const struct probe_erp_table *t = probe_erp_table_lookup(x->app, table);
		int64_t live = probe_sql_int(&rows, i, 1, 0), dead = probe_sql_int(&rows, i, 2, 0);
		if (!t || dead < x->ctx->dead_min || live + dead <= 0)
			continue;
		double pct = 100.0 * (double)dead / (double)(live + dead);
		if (pct < (double)x->ctx->dead_pct)
			continue;
		char obj[300], msg[600], what[300], fix[300];
		object_name(obj, sizeof(obj), x->db, table);
		probe_erp_table_describe(t, what, sizeof(what));
		ep_snprintf(msg, sizeof(msg), "%.1f%% dead rows (%lld) in %s", pct, (long long)dead,
			    what);
		ep_snprintf(fix, sizeof(fix), "VACUUM (ANALYZE) %s;", table);
		struct ep_finding f = {.kind = "erp_table_dead_rows",
				       .object = obj,
				       .value = round(pct * 10) / 10,
				       .unit = "%",
				       .threshold = (double)x->ctx->dead_pct,
				       .severity = EP_SEV_WARNING,
				       .method = "pg_stat_user_tables",
				       .message = msg,
				       .remediation = fix};
		erp_finding(x, &f, table);
	}
	probe_sql_rows_free(&rows);
}

/* ---- one database ------------------------------------------------------------- */

static int examine(struct erp_db *x, char *err, size_t errlen)
{
	struct probe_sql_rows rows = {0};
	char st[6];
	int rc = x->c->exec(x->c->impl, x->d,
			    x->mysql ? probe_erp_detect_sql_mysql : probe_erp_detect_sql, &rows, st,
			    err, errlen);
	if (rc < 0)
		return rc;
	struct probe_erp_seen seen[32];
	size_t n = 0;
	for (size_t i = 0; i < rows.nrows && n < EP_ARRAY_SIZE(seen); i++, n++) {
		seen[n].schema = probe_sql_str(&rows, i, 0);
		seen[n].table = probe_sql_str(&rows, i, 1);
	}
	const char *schema = NULL;
	x->app = probe_erp_detect(seen, n, &schema);
	const struct probe_erp_spec *spec = probe_erp_spec(x->app);
	json_object_set_new(x->m, "application",
			    spec ? json_string(probe_erp_app_name(x->app)) : json_null());
	if (!spec) {
		probe_sql_rows_free(&rows);
		return 0;
	}
	char qs[200], sql[300];
	json_object_set_new(x->m, "label", json_string(spec->label));
	json_object_set_new(x->m, "schema", json_string(schema));
	rc = x->c->quote_ident(x->c->impl, schema, qs, sizeof(qs));
	probe_sql_rows_free(&rows);
	if (rc < 0)
		return rc;
	ep_snprintf(sql, sizeof(sql), "SET search_path = %s, pg_catalog", qs);
	if (!x->mysql && (rc = x->c->exec(x->c->impl, x->d, sql, NULL, st, err, errlen)) < 0)
		return rc;

	version_and_lag(x, spec);
	modules(x, spec);
	if (x->ctx->usage) {
		json_t *u = json_object();
		json_object_set_new(x->m, "usage", u);
		usage(x, spec, u);
		sessions(x, spec, u);
		usage_findings(x, spec, u);
	}
	if (!x->mysql)
		table_health(x);
	json_object_set_new(
		x->m, "month_end",
		json_boolean(probe_erp_in_month_end(x->now, (int)x->ctx->month_end_days)));
	return 0;
}

/* ---- the probe ------------------------------------------------------------------ */

static void ctx_free(struct erp_ctx *c)
{
	if (!c)
		return;
	if (c->conninfo) {
		explicit_bzero(c->conninfo, strlen(c->conninfo));
		free(c->conninfo);
	}
	if (c->connection) {
		explicit_bzero(c->connection, strlen(c->connection));
		free(c->connection);
	}
	free(c->databases);
	free(c);
}

static int erp_init(const struct ep_config_section *s, const struct ep_probe_env *env,
		    void **ret_ctx, char *err, size_t errlen)
{
	struct erp_ctx *c = calloc(1, sizeof(*c));
	const char *conninfo = NULL;
	int64_t v;
	int rc;

	if (!c)
		return -ENOMEM;
	c->root = env && env->root ? env->root : "/";
	if ((rc = ep_config_get_string(s, erp_options, "conninfo", &conninfo, err, errlen)) < 0)
		goto fail;
	if (!(c->conninfo = strdup(conninfo))) {
		rc = -ENOMEM;
		goto fail;
	}
	const char *connection = NULL;
	rc = ep_config_get_string(s, erp_options, "connection", &connection, err, errlen);
	if (rc < 0 && rc != -ENOENT)
		goto fail;
	if (rc == 0 && connection && *connection && !(c->connection = strdup(connection))) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = ep_config_get_list(s, erp_options, "databases", &c->databases, err, errlen);
	if (rc < 0 && rc != -ENOENT)
		goto fail;
	if (c->databases && !c->databases[0]) {
		free(c->databases);
		c->databases = NULL;
	}
	if ((rc = ep_config_get_bool(s, erp_options, "usage", &c->usage, err, errlen)) < 0)
		goto fail;
	static const struct {
		const char *key;
		size_t off;
		bool duration;
	} nums[] = {
		{"month_end_days", offsetof(struct erp_ctx, month_end_days), false},
		{"failed_logins_warning", offsetof(struct erp_ctx, failed_logins_warning), false},
		{"queue_backlog_warning", offsetof(struct erp_ctx, queue_backlog_warning), false},
		{"session_rows_warning", offsetof(struct erp_ctx, session_rows_warning), false},
		{"dead_tuples_pct", offsetof(struct erp_ctx, dead_pct), false},
		{"dead_tuples_min", offsetof(struct erp_ctx, dead_min), false},
		{"connect_timeout", offsetof(struct erp_ctx, connect_timeout_s), true},
		{"statement_timeout", offsetof(struct erp_ctx, cfg.statement_timeout_ms), true},
		{"lock_timeout_ms", offsetof(struct erp_ctx, cfg.lock_timeout_ms), false},
	};
	for (size_t i = 0; i < EP_ARRAY_SIZE(nums); i++) {
		rc = nums[i].duration
			     ? ep_config_get_duration(s, erp_options, nums[i].key, &v, err, errlen)
			     : ep_config_get_int(s, erp_options, nums[i].key, &v, err, errlen);
		if (rc < 0)
			goto fail;
		memcpy((char *)c + nums[i].off, &v, sizeof(v));
	}
	c->cfg.statement_timeout_ms *= 1000;
	*ret_ctx = c;
	return 0;
fail:
	ctx_free(c);
	return rc;
}

static PGconn *connect_db(const struct erp_ctx *ctx, const char *db, const struct ep_deadline *d,
			  char *err, size_t errlen)
{
	return probe_pq_connect(ctx->conninfo, ctx->connect_timeout_s, db, d, err, errlen);
}

static int erp_check(void *vctx, const struct ep_deadline *d, char *err, size_t errlen)
{
	struct erp_ctx *ctx = vctx;
	if (ctx->connection) {
		struct probe_odbc_conn oc;
		int rc = probe_odbc_open(ctx->connection, ctx->connect_timeout_s, 1, &oc, d, err,
					 errlen);
		if (rc == 0)
			probe_odbc_close(&oc);
		return rc;
	}
	PGconn *conn = connect_db(ctx, ctx->databases ? ctx->databases[0] : NULL, d, err, errlen);
	if (!conn)
		return -ECONNREFUSED;
	PQfinish(conn);
	return 0;
}

/* MariaDB/MySQL through ODBC: the one database the connection names. */
static int mysql_quote(void *impl, const char *ident, char *out, size_t outlen)
{
	(void)impl;
	return probe_mysql_quote_ident(ident, out, outlen);
}

static void erp_run_odbc(struct erp_ctx *ctx, const struct ep_deadline *d,
			 struct ep_probe_result *r)
{
	struct probe_odbc_conn conn;
	char err[1024] = "", dbms[128], db[256], server[256], st[6];
	json_t *per_db = json_object(), *apps = json_object();

	json_object_set_new(r->metrics, "databases", per_db);
	json_object_set_new(r->metrics, "applications", apps);
	if (probe_odbc_open(ctx->connection, ctx->connect_timeout_s,
			    ctx->cfg.statement_timeout_ms / 1000, &conn, d, err, sizeof(err)) < 0) {
		ep_probe_fail(r, EP_STATUS_ERROR, "%s", err);
		return;
	}
	probe_odbc_getinfo(&conn, SQL_DBMS_NAME, dbms, sizeof(dbms));
	probe_odbc_getinfo(&conn, SQL_SERVER_NAME, server, sizeof(server));
	ep_snprintf(r->target, sizeof(r->target), "erp@%s", server[0] ? server : "odbc");
	/* the driver's SQL_DATABASE_NAME says "null" without one: ask the server */
	struct probe_sql_rows rows = {0};
	db[0] = '\0';
	if (probe_odbc_exec(&conn, d, "SELECT DATABASE()", &rows, st, err, sizeof(err)) == 0 &&
	    probe_sql_cell(&rows, 0, 0))
		ep_snprintf(db, sizeof(db), "%s", probe_sql_cell(&rows, 0, 0));
	probe_sql_rows_free(&rows);
	if (probe_odbc_dbms_from_name(dbms) != PROBE_ODBC_MYSQL || !db[0]) {
		if (!db[0] && probe_odbc_dbms_from_name(dbms) == PROBE_ODBC_MYSQL)
			ep_probe_fail(
				r, EP_STATUS_ERROR,
				"no database selected: add DATABASE=<the ERP's database> to the "
				"connection string");
		else
			ep_probe_fail(
				r, EP_STATUS_ERROR,
				"the erp probe reads MariaDB/MySQL through ODBC, found '%s': use "
				"conninfo for PostgreSQL",
				dbms);
		probe_odbc_close(&conn);
		return;
	}
	struct probe_sql c = {
		.impl = &conn, .exec = probe_odbc_exec, .quote_ident = mysql_quote, .via = "ODBC"};
	/* the probe only reads: make any accidental write fail (best effort) */
	c.exec(c.impl, d, "SET SESSION TRANSACTION READ ONLY", NULL, st, err, sizeof(err));
	json_t *m = json_object(), *unavailable = json_object();
	json_object_set_new(per_db, db, m);
	json_object_set_new(m, "dbms", json_string(dbms));
	struct erp_db x = {.c = &c,
			   .ctx = ctx,
			   .d = d,
			   .r = r,
			   .db = db,
			   .mysql = true,
			   .m = m,
			   .unavailable = unavailable,
			   .now = time(NULL)};
	if (examine(&x, err, sizeof(err)) < 0) {
		json_object_set_new(m, "error", json_string(err));
		ep_probe_fail(r, EP_STATUS_ERROR, "database %s: %s", db, err);
	} else if (x.app != PROBE_ERP_NONE) {
		json_object_set_new(apps, db, json_string(probe_erp_app_name(x.app)));
	}
	if (json_object_size(unavailable))
		json_object_set_new(m, "unavailable", unavailable);
	else
		json_decref(unavailable);
	json_object_set_new(r->metrics, "databases_examined",
			    json_integer(r->status == EP_STATUS_OK ? 1 : 0));
	probe_odbc_close(&conn);
}

static void erp_run(void *vctx, const struct ep_deadline *d, struct ep_probe_result *r)
{
	struct erp_ctx *ctx = vctx;
	if (ctx->connection) {
		erp_run_odbc(ctx, d, r);
		return;
	}
	char err[1024] = "";
	char **dbs = ctx->databases, **own = NULL;
	size_t ok = 0, failed = 0;
	json_t *per_db = json_object(), *apps = json_object();

	json_object_set_new(r->metrics, "databases", per_db);
	json_object_set_new(r->metrics, "applications", apps);
	PGconn *first = connect_db(ctx, dbs ? dbs[0] : NULL, d, err, sizeof(err));
	if (!first) {
		ep_probe_fail(r, EP_STATUS_ERROR, "%s", err);
		return;
	}
	const char *host = PQhost(first);
	ep_snprintf(r->target, sizeof(r->target), "erp@%s:%s", host && *host ? host : "localhost",
		    PQport(first));
	if (!dbs) {
		struct probe_pq q = {first};
		struct probe_sql c = {.impl = &q,
				      .exec = probe_pq_exec,
				      .quote_ident = probe_pq_quote,
				      .via = "libpq"};
		if (probe_pg_session(&c, &ctx->cfg, d, err, sizeof(err)) < 0 ||
		    probe_pg_list_databases(&c, d, &own, err, sizeof(err)) < 0) {
			ep_probe_fail(r, EP_STATUS_ERROR, "listing databases: %s", err);
			PQfinish(first);
			return;
		}
		dbs = own;
	}
	for (size_t i = 0; dbs[i]; i++) {
		PGconn *conn;
		json_t *m = json_object(), *unavailable = json_object();
		json_object_set_new(per_db, dbs[i], m);
		if (first && strcmp(PQdb(first), dbs[i]) == 0) {
			conn = first;
			first = NULL;
		} else {
			conn = ep_deadline_left_ms(d) < 300
				       ? NULL
				       : connect_db(ctx, dbs[i], d, err, sizeof(err));
			if (!conn && ep_deadline_left_ms(d) < 300)
				ep_snprintf(err, sizeof(err), "not examined: deadline");
		}
		struct probe_pq q = {conn};
		struct probe_sql c = {.impl = &q,
				      .exec = probe_pq_exec,
				      .quote_ident = probe_pq_quote,
				      .via = "libpq"};
		struct erp_db x = {.c = &c,
				   .ctx = ctx,
				   .d = d,
				   .r = r,
				   .db = dbs[i],
				   .m = m,
				   .unavailable = unavailable,
				   .now = time(NULL)};
		if (!conn || probe_pg_session(&c, &ctx->cfg, d, err, sizeof(err)) < 0 ||
		    examine(&x, err, sizeof(err)) < 0) {
			json_object_set_new(m, "error", json_string(err));
			failed++;
		} else {
			ok++;
			if (x.app != PROBE_ERP_NONE)
				json_object_set_new(apps, dbs[i],
						    json_string(probe_erp_app_name(x.app)));
		}
		if (json_object_size(unavailable))
			json_object_set_new(m, "unavailable", unavailable);
		else
			json_decref(unavailable);
		if (conn)
			PQfinish(conn);
	}
	if (first)
		PQfinish(first);
	json_object_set_new(r->metrics, "databases_examined", json_integer((json_int_t)ok));
	if (ok == 0 && failed > 0)
		ep_probe_fail(r, EP_STATUS_ERROR, "no database could be examined: %s", err);
	if (own) {
		for (size_t i = 0; own[i]; i++)
			free(own[i]);
		free(own);
	}
}

static void erp_fini(void *ctx)
{
	ctx_free(ctx);
}

const struct ep_probe ep_probe_erp = {
	.name = "erp",
	.summary = "ERP application on the database: version lag, modules, usage health",
	.options = erp_options,
	.init = erp_init,
	.check = erp_check,
	.run = erp_run,
	.fini = erp_fini,
};
