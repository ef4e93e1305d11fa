/* The odbc probe (unixODBC): connects with a DSN or a connection string,
 * finds out which DBMS answers (SQLGetInfo SQL_DBMS_NAME, case-insensitive
 * prefix) and runs that dialect: PostgreSQL through psqlODBC gives the same
 * figures as the postgres probe (same SQL, probes/postgres/pg_collect.c),
 * MariaDB/MySQL (mysql.c), SQL Server (mssql.c). Anything else is skipped,
 * naming the DBMS found. Every statement carries SQL_ATTR_QUERY_TIMEOUT
 * bounded by the deadline; the login by SQL_ATTR_LOGIN_TIMEOUT. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <sql.h>
#include <sqlext.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "erpulse/probe.h"
#include "probes/odbc/odbc.h"

static const struct ep_option odbc_options[] = {
	{"connection", EP_OPT_STRING, NULL, 0, 0,
	 "ODBC connection string (DSN=UFDATA_001;UID=erpulse_monitor;PWD=...) or a bare DSN name"},
	{"fragmentation_threshold", EP_OPT_INT, "30", 1, 100,
	 "fragmentation / free space (%) that is reported as a problem"},
	{"reorganize_threshold", EP_OPT_INT, "5", 0, 100,
	 "SQL Server: ALTER INDEX ... REORGANIZE suggested from here up to the threshold"},
	{"min_index_pages", EP_OPT_INT, "1000", 1, 1LL << 31, "smaller indexes are not judged"},
	{"min_table_mb", EP_OPT_INT, "64", 0, 1LL << 30,
	 "MariaDB/MySQL: smaller tables are not judged"},
	{"stale_statistics_pct", EP_OPT_INT, "25", 1, 100,
	 "MariaDB/MySQL: statistics that miss more than this % of the tablespace file are stale"},
	{"exact_budget_mb", EP_OPT_INT, "512", 0, 1LL << 30,
	 "PostgreSQL: index bytes read by exact measurements per cycle; MariaDB: tablespace "
	 "bytes whose page headers are read per cycle"},
	{"maintenance_window", EP_OPT_STRING, NULL, 0, 0,
	 "HH:MM-HH:MM local time in which maintenance_budget_mb replaces exact_budget_mb"},
	{"maintenance_budget_mb", EP_OPT_INT, "4096", 0, 1LL << 30,
	 "exact measurement budget inside the maintenance window"},
	{"innodb_page_scan", EP_OPT_BOOL, "yes", 0, 0,
	 "MariaDB: exact reclaimable space from the page headers of the tablespace files "
	 "(needs read access to the datadir; the estimate is used otherwise)"},
	{"remeasure_after", EP_OPT_DURATION, "6h", 0, 365LL * 86400,
	 "PostgreSQL: an exact figure younger than this is carried"},
	{"statement_timeout", EP_OPT_DURATION, "60s", 1, 3600,
	 "per statement (SQL_ATTR_QUERY_TIMEOUT; statement_timeout on PostgreSQL)"},
	{"lock_timeout_ms", EP_OPT_INT, "1000", 1, 600000,
	 "lock_timeout (PostgreSQL) / SET LOCK_TIMEOUT (SQL Server)"},
	{"login_timeout", EP_OPT_DURATION, "10s", 1, 600, "SQL_ATTR_LOGIN_TIMEOUT"},
	{"page_density", EP_OPT_BOOL, "no", 0, 0,
	 "SQL Server: SAMPLED instead of LIMITED scans, giving page density (reads more)"},
	{"backup_max_age", EP_OPT_DURATION, "26h", 60, 365LL * 86400,
	 "SQL Server: newest full or differential backup older than this warns"},
	{"log_backup_max_age", EP_OPT_DURATION, "2h", 60, 365LL * 86400,
	 "SQL Server: newest log backup (full/bulk-logged recovery) older than this warns"},
	{"month_end_days", EP_OPT_INT, "0", 0, 15,
	 "findings on a known ERP table of accounting or stock go one severity step up in the "
	 "last N days of the month (0 = off; docs/probes-erp.md)"},
	{.key = NULL},
};

struct odbc_ctx {
	char *connection;
	char *root;
	int64_t window_budget_mb;
	bool have_window;
	int window_from, window_to;
	struct probe_odbc_settings cfg;
	int64_t login_timeout_s;
};

enum probe_odbc_dbms probe_odbc_dbms_from_name(const char *n)
{
	if (!n)
		return PROBE_ODBC_OTHER;
	if (strncasecmp(n, "PostgreSQL", 10) == 0)
		return PROBE_ODBC_POSTGRES;
	if (strncasecmp(n, "MariaDB", 7) == 0 || strncasecmp(n, "MySQL", 5) == 0)
		return PROBE_ODBC_MYSQL;
	if (strncasecmp(n, "Microsoft SQL Server", 20) == 0)
		return PROBE_ODBC_MSSQL;
	return PROBE_ODBC_OTHER;
}

static int pg_quote(void *impl, const char *ident, char *out, size_t outlen)
{
	(void)impl;
	return probe_pg_quote_ident(ident, out, outlen);
}

/* ---- the probe ----------------------------------------------------------------- */

static void ctx_free(struct odbc_ctx *c)
{
	if (!c)
		return;
	if (c->connection) {
		explicit_bzero(c->connection, strlen(c->connection));
		free(c->connection);
	}
	free(c->root);
	free(c);
}

static int odbc_init(const struct ep_config_section *s, const struct ep_probe_env *env,
		     void **ret_ctx, char *err, size_t errlen)
{
	struct odbc_ctx *c = calloc(1, sizeof(*c));
	const char *conn = NULL;
	int64_t v;
	bool b;
	int rc;

	if (!c)
		return -ENOMEM;
	if (!(c->root = strdup(env && env->root ? env->root : "/"))) {
		rc = -ENOMEM;
		goto fail;
	}
	c->cfg.root = c->root;
	rc = ep_config_get_string(s, odbc_options, "connection", &conn, err, errlen);
	if (rc == -ENOENT || (rc == 0 && (!conn || !*conn))) {
		ep_snprintf(err, errlen,
			    "%s:%d: [%s] connection: missing (a DSN name or an ODBC "
			    "connection string)",
			    s && s->file ? s->file : "config", s ? s->line : 0,
			    s ? s->name : "odbc");
		rc = -EINVAL;
		goto fail;
	}
	if (rc < 0)
		goto fail;
	if (!(c->connection = strdup(conn))) {
		rc = -ENOMEM;
		goto fail;
	}
#define GETI(key, field)                                                                           \
	do {                                                                                       \
		if ((rc = ep_config_get_int(s, odbc_options, key, &v, err, errlen)) < 0)           \
			goto fail;                                                                 \
		field = v;                                                                         \
	} while (0)
#define GETD(key, field)                                                                           \
	do {                                                                                       \
		if ((rc = ep_config_get_duration(s, odbc_options, key, &v, err, errlen)) < 0)      \
			goto fail;                                                                 \
		field = v;                                                                         \
	} while (0)
	GETI("fragmentation_threshold", c->cfg.pg.threshold);
	GETI("reorganize_threshold", c->cfg.reorganize_pct);
	GETI("min_index_pages", c->cfg.pg.min_index_pages);
	GETI("min_table_mb", c->cfg.min_table_mb);
	GETI("stale_statistics_pct", c->cfg.stale_pct);
	GETI("exact_budget_mb", c->cfg.pg.exact_budget_mb);
	GETI("maintenance_budget_mb", c->window_budget_mb);
	GETD("remeasure_after", c->cfg.pg.remeasure_after_s);
	if (env && env->fresh)
		c->cfg.pg.remeasure_after_s = 0; /* once --fresh: nothing carried */
	GETD("statement_timeout", c->cfg.pg.statement_timeout_ms);
	c->cfg.pg.statement_timeout_ms *= 1000;
	GETI("lock_timeout_ms", c->cfg.pg.lock_timeout_ms);
	GETI("month_end_days", c->cfg.pg.month_end_days);
	GETD("login_timeout", c->login_timeout_s);
	GETD("backup_max_age", c->cfg.backup_max_age_s);
	GETD("log_backup_max_age", c->cfg.log_backup_max_age_s);
#undef GETI
#undef GETD
	if ((rc = ep_config_get_bool(s, odbc_options, "page_density", &b, err, errlen)) < 0)
		goto fail;
	c->cfg.page_density = b;
	rc = probe_pg_window_option(s, odbc_options, "odbc", &c->have_window, &c->window_from,
				    &c->window_to, err, errlen);
	if (rc < 0)
		goto fail;
	if ((rc = ep_config_get_bool(s, odbc_options, "innodb_page_scan", &b, err, errlen)) < 0)
		goto fail;
	c->cfg.innodb_page_scan = b;
	/* the PostgreSQL dialect's other settings: the postgres probe's defaults */
	c->cfg.pg.long_xact_s = 3600;
	c->cfg.pg.idle_xact_s = 300;
	c->cfg.pg.dead_tuples_pct = 20;
	c->cfg.pg.dead_tuples_min = 10000;
	c->cfg.pg.max_index_findings = 500;
	*ret_ctx = c;
	return 0;
fail:
	ctx_free(c);
	return rc;
}

static int odbc_check(void *vctx, const struct ep_deadline *d, char *err, size_t errlen)
{
	struct odbc_ctx *ctx = vctx;
	struct probe_odbc_conn c;
	char name[256];
	int rc = probe_odbc_open(ctx->connection, ctx->login_timeout_s,
				 ctx->cfg.pg.statement_timeout_ms / 1000, &c, d, err, errlen);
	if (rc < 0)
		return rc;
	probe_odbc_getinfo(&c, SQL_DBMS_NAME, name, sizeof(name));
	if (probe_odbc_dbms_from_name(name) == PROBE_ODBC_OTHER) {
		ep_snprintf(err, errlen,
			    "connected, but the DBMS '%s' is not supported (PostgreSQL, "
			    "MariaDB/MySQL, SQL Server are)",
			    name);
		rc = -ENOTSUP;
	}
	probe_odbc_close(&c);
	return rc;
}

static void odbc_run(void *vctx, const struct ep_deadline *d, struct ep_probe_result *r)
{
	struct odbc_ctx *ctx = vctx;
	struct probe_odbc_conn c;
	char err[1024], name[256], ver[256], server[256], dbname[256];

	if (probe_odbc_open(ctx->connection, ctx->login_timeout_s,
			    ctx->cfg.pg.statement_timeout_ms / 1000, &c, d, err, sizeof(err)) < 0) {
		/* the agent turns a failed probe into its probe_error finding */
		ep_probe_fail(r, EP_STATUS_ERROR, "%s", err);
		return;
	}
	probe_odbc_getinfo(&c, SQL_DBMS_NAME, name, sizeof(name));
	probe_odbc_getinfo(&c, SQL_DBMS_VER, ver, sizeof(ver));
	probe_odbc_getinfo(&c, SQL_SERVER_NAME, server, sizeof(server));
	probe_odbc_getinfo(&c, SQL_DATABASE_NAME, dbname, sizeof(dbname));
	ep_snprintf(r->target, sizeof(r->target), "%s@%s (%s)", dbname, server, name);
	json_object_set_new(r->metrics, "dbms_name", json_string(name));
	json_object_set_new(r->metrics, "dbms_ver", json_string(ver));
	struct probe_sql sql = {.impl = &c,
				.exec = probe_odbc_exec,
				.statement_timeout_ms = ctx->cfg.pg.statement_timeout_ms};
	struct probe_odbc_settings cfg = ctx->cfg;
	if (ctx->have_window) {
		time_t now = time(NULL);
		struct tm lt;
		localtime_r(&now, &lt);
		bool in = probe_pg_window_contains(ctx->window_from, ctx->window_to,
						   lt.tm_hour * 60 + lt.tm_min);
		if (in)
			cfg.pg.exact_budget_mb = ctx->window_budget_mb;
		json_object_set_new(r->metrics, "in_maintenance_window", json_boolean(in));
	}
	int rc = 0;
	switch (probe_odbc_dbms_from_name(name)) {
	case PROBE_ODBC_POSTGRES: {
		struct probe_pg_settings pg = cfg.pg;
		struct probe_pg_cycle cy = {.cfg = &pg,
					    .budget_left_bytes = pg.exact_budget_mb * 1024 * 1024,
					    .now = time(NULL)};
		sql.quote_ident = pg_quote;
		sql.via = "psqlODBC";
		json_object_set_new(r->metrics, "dialect", json_string("postgresql"));
		rc = probe_pg_session(&sql, &pg, d, err, sizeof(err));
		if (rc == 0)
			rc = probe_pg_collect(&sql, &cy, dbname, d, r, err, sizeof(err));
		break;
	}
	case PROBE_ODBC_MYSQL:
		json_object_set_new(r->metrics, "dialect", json_string("mysql"));
		rc = probe_mysql_collect(&sql, &cfg, d, r, err, sizeof(err));
		break;
	case PROBE_ODBC_MSSQL:
		json_object_set_new(r->metrics, "dialect", json_string("sqlserver"));
		rc = probe_mssql_collect(&sql, &cfg, d, r, err, sizeof(err));
		break;
	default:
		ep_probe_fail(r, EP_STATUS_SKIPPED,
			      "the DBMS '%s' (version %s) is not supported by the odbc probe "
			      "(PostgreSQL, MariaDB/MySQL and SQL Server are)",
			      name, ver);
		break;
	}
	if (rc < 0)
		ep_probe_fail(r, EP_STATUS_ERROR, "%s", err);
	probe_odbc_close(&c);
}

static void odbc_fini(void *ctx)
{
	ctx_free(ctx);
}

const struct ep_probe ep_probe_odbc = {
	.name = "odbc",
	.summary = "ODBC: index fragmentation / free space and maintenance on SQL Server, "
		   "MariaDB/MySQL and PostgreSQL",
	.options = odbc_options,
	.init = odbc_init,
	.check = odbc_check,
	.run = odbc_run,
	.fini = odbc_fini,
};
