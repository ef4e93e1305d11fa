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

/* ---- the ODBC runner -------------------------------------------------------- */

struct odbc_conn {
	SQLHENV env;
	SQLHDBC dbc;
	bool connected;
	int64_t max_query_s;
};

static void diag(SQLSMALLINT type, SQLHANDLE h, char *sqlstate, char *err, size_t errlen)
{
	SQLCHAR state[8] = "", msg[700] = "";
	SQLINTEGER native = 0;
	SQLSMALLINT len = 0;

	if (SQL_SUCCEEDED(SQLGetDiagRec(type, h, 1, state, &native, msg, sizeof(msg), &len))) {
		/* drop the driver's "[unixODBC][Driver]..." prefixes */
		char *m = (char *)msg;
		while (*m == '[') {
			char *e = strchr(m, ']');
			if (!e)
				break;
			m = e + 1;
		}
		while (isspace((unsigned char)*m))
			m++;
		size_t n = strcspn(m, "\n");
		m[n] = '\0';
		ep_snprintf(err, errlen, "%s (SQLSTATE %s)", m, (char *)state);
	} else {
		ep_snprintf(err, errlen, "ODBC call failed without diagnostics");
	}
	if (sqlstate)
		ep_snprintf(sqlstate, 6, "%s", (char *)state);
}

static int odbc_exec(void *impl, const struct ep_deadline *d, const char *sql,
		     struct probe_sql_rows *ret, char *sqlstate, char *err, size_t errlen)
{
	struct odbc_conn *c = impl;
	SQLHSTMT st = SQL_NULL_HSTMT;
	int rc = 0;
	int64_t left_s = ep_deadline_left_ms(d) / 1000;
	char *buf = NULL;

	if (ret)
		memset(ret, 0, sizeof(*ret));
	if (left_s < 1) {
		ep_snprintf(err, errlen, "the probe's deadline was reached");
		return -ETIME;
	}
	if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_STMT, c->dbc, &st))) {
		diag(SQL_HANDLE_DBC, c->dbc, sqlstate, err, errlen);
		return -EIO;
	}
	SQLULEN qt = (SQLULEN)(left_s < c->max_query_s ? left_s : c->max_query_s);
	SQLSetStmtAttr(st, SQL_ATTR_QUERY_TIMEOUT, (SQLPOINTER)qt, 0);
	/* SQLExecDirect takes a non-const pointer: hand it a copy */
	char *text = strdup(sql);
	if (!text) {
		rc = -ENOMEM;
		goto out;
	}
	SQLRETURN x = SQLExecDirect(st, (SQLCHAR *)text, SQL_NTS);
	free(text);
	if (!SQL_SUCCEEDED(x) && x != SQL_NO_DATA) {
		diag(SQL_HANDLE_STMT, st, sqlstate, err, errlen);
		rc = -EIO;
		goto out;
	}
	SQLSMALLINT ncols = 0;
	if (!SQL_SUCCEEDED(SQLNumResultCols(st, &ncols)) || ncols <= 0 || !ret)
		goto out;
	if (ncols > 64)
		ncols = 64;
	const size_t bufsz = 8192;
	buf = malloc((size_t)ncols * bufsz);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	ret->ncols = (size_t)ncols;
	for (;;) {
		x = SQLFetch(st);
		if (x == SQL_NO_DATA)
			break;
		if (!SQL_SUCCEEDED(x)) {
			diag(SQL_HANDLE_STMT, st, sqlstate, err, errlen);
			rc = -EIO;
			goto out;
		}
		const char *cells[64];
		for (SQLSMALLINT j = 0; j < ncols; j++) {
			SQLLEN ind = 0;
			char *b = buf + (size_t)j * bufsz;
			b[0] = '\0';
			x = SQLGetData(st, (SQLUSMALLINT)(j + 1), SQL_C_CHAR, b, (SQLLEN)bufsz,
				       &ind);
			if (!SQL_SUCCEEDED(x)) {
				diag(SQL_HANDLE_STMT, st, sqlstate, err, errlen);
				rc = -EIO;
				goto out;
			}
			cells[j] = ind == SQL_NULL_DATA ? NULL : b;
		}
		if (probe_sql_rows_add(ret, (size_t)ncols, cells) < 0) {
			rc = -ENOMEM;
			goto out;
		}
	}
out:
	if (rc == -ENOMEM)
		ep_snprintf(err, errlen, "out of memory");
	if (rc < 0 && ret)
		probe_sql_rows_free(ret);
	free(buf);
	SQLFreeHandle(SQL_HANDLE_STMT, st);
	return rc;
}

static int pg_quote(void *impl, const char *ident, char *out, size_t outlen)
{
	(void)impl;
	return probe_pg_quote_ident(ident, out, outlen);
}

static void odbc_close(struct odbc_conn *c)
{
	if (c->connected)
		SQLDisconnect(c->dbc);
	if (c->dbc != SQL_NULL_HDBC)
		SQLFreeHandle(SQL_HANDLE_DBC, c->dbc);
	if (c->env != SQL_NULL_HENV)
		SQLFreeHandle(SQL_HANDLE_ENV, c->env);
	memset(c, 0, sizeof(*c));
}

/* The PWD (or Password) value of an ODBC connection string, raw as written
 * ("" when none), to redact from driver messages that quote the string. */
static void connection_password(const char *cs, char *out, size_t outlen)
{
	out[0] = '\0';
	for (const char *p = cs; *p;) {
		size_t klen = strcspn(p, "=;");
		const char *v = p + klen, *end;

		if (*v != '=') {
			p = *v ? v + 1 : v;
			continue;
		}
		v++;
		if (*v == '{') { /* {value}, "}}" a literal brace: the value is the inside */
			for (end = ++v; *end && !(end[0] == '}' && end[1] != '}'); end++)
				if (end[0] == '}')
					end++;
		} else {
			end = v + strcspn(v, ";");
		}
		while (klen && (*p == ' ' || *p == '\t'))
			p++, klen--;
		while (klen && (p[klen - 1] == ' ' || p[klen - 1] == '\t'))
			klen--;
		if (((klen == 3 && strncasecmp(p, "PWD", 3) == 0) ||
		     (klen == 8 && strncasecmp(p, "Password", 8) == 0)) &&
		    end > v && (size_t)(end - v) < outlen) {
			memcpy(out, v, (size_t)(end - v));
			out[end - v] = '\0';
			return;
		}
		if (*end == '}')
			end++;
		end += strcspn(end, ";");
		p = *end ? end + 1 : end;
	}
}

/* A precise text for a failed login (the ODBC message, plus what to check). */
static void connect_error(char *err, size_t errlen, const char *msg)
{
	if (strcasestr(msg, "password") || strcasestr(msg, "Access denied") ||
	    strcasestr(msg, "Login failed") || strcasestr(msg, "authentication"))
		ep_snprintf(err, errlen,
			    "authentication failed: %s (check UID/PWD in the connection "
			    "string or the DSN)",
			    msg);
	else if (strcasestr(msg, "Data source name not found"))
		ep_snprintf(err, errlen,
			    "%s (the DSN is not in odbc.ini / ODBCINI; check odbcinst "
			    "-q -s)",
			    msg);
	else if (strcasestr(msg, "refused") || strcasestr(msg, "Can't connect") ||
		 strcasestr(msg, "timeout") || strcasestr(msg, "timed out") ||
		 strcasestr(msg, "could not connect"))
		ep_snprintf(err, errlen, "cannot reach the server: %s (check the server and port)",
			    msg);
	else
		ep_snprintf(err, errlen, "cannot connect: %s", msg);
}

static int odbc_open(const struct odbc_ctx *ctx, struct odbc_conn *c, const struct ep_deadline *d,
		     char *err, size_t errlen)
{
	char conn[4096], msg[800];
	/* leave half a second of the deadline for what follows the login */
	int64_t left_s = (ep_deadline_left_ms(d) - 500) / 1000;
	int64_t login = ctx->login_timeout_s < left_s ? ctx->login_timeout_s : left_s;

	memset(c, 0, sizeof(*c));
	c->max_query_s = ctx->cfg.pg.statement_timeout_ms / 1000;
	if (login < 1) {
		ep_snprintf(err, errlen, "the probe's deadline was reached before connecting");
		return -ETIME;
	}
	if (ep_snprintf(conn, sizeof(conn), strchr(ctx->connection, '=') ? "%s" : "DSN=%s",
			ctx->connection) < 0) {
		ep_snprintf(err, errlen, "connection string too long");
		return -EINVAL;
	}
	if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_ENV, SQL_NULL_HANDLE, &c->env)) ||
	    !SQL_SUCCEEDED(
		    SQLSetEnvAttr(c->env, SQL_ATTR_ODBC_VERSION, (SQLPOINTER)SQL_OV_ODBC3, 0)) ||
	    !SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_DBC, c->env, &c->dbc))) {
		ep_snprintf(err, errlen, "cannot initialise unixODBC");
		explicit_bzero(conn, sizeof(conn));
		odbc_close(c);
		return -ENOMEM;
	}
	SQLSetConnectAttr(c->dbc, SQL_ATTR_LOGIN_TIMEOUT, (SQLPOINTER)(SQLULEN)login, 0);
	SQLSetConnectAttr(c->dbc, SQL_ATTR_CONNECTION_TIMEOUT, (SQLPOINTER)(SQLULEN)login, 0);
	if (!SQL_SUCCEEDED(SQLDriverConnect(c->dbc, NULL, (SQLCHAR *)conn, SQL_NTS, NULL, 0, NULL,
					    SQL_DRIVER_NOPROMPT))) {
		char pw[256];

		diag(SQL_HANDLE_DBC, c->dbc, NULL, msg, sizeof(msg));
		connection_password(conn, pw, sizeof(pw));
		ep_redact(msg, sizeof(msg), pw);
		explicit_bzero(pw, sizeof(pw));
		explicit_bzero(conn, sizeof(conn));
		connect_error(err, errlen, msg);
		odbc_close(c);
		return -ECONNREFUSED;
	}
	explicit_bzero(conn, sizeof(conn));
	c->connected = true;
	return 0;
}

static int getinfo(struct odbc_conn *c, SQLUSMALLINT what, char *out, size_t len)
{
	SQLSMALLINT n = 0;
	out[0] = '\0';
	if (!SQL_SUCCEEDED(SQLGetInfo(c->dbc, what, out, (SQLSMALLINT)len, &n)))
		return -EIO;
	return 0;
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
	GETD("login_timeout", c->login_timeout_s);
	GETD("backup_max_age", c->cfg.backup_max_age_s);
	GETD("log_backup_max_age", c->cfg.log_backup_max_age_s);
#undef GETI
#undef GETD
	if ((rc = ep_config_get_bool(s, odbc_options, "page_density", &b, err, errlen)) < 0)
		goto fail;
	c->cfg.page_density = b;
	const char *window = NULL;
	rc = ep_config_get_string(s, odbc_options, "maintenance_window", &window, err, errlen);
	if (rc < 0 && rc != -ENOENT)
		goto fail;
	if (rc == 0 && window && *window) {
		if (probe_pg_window_parse(window, &c->window_from, &c->window_to) < 0) {
			ep_snprintf(err, errlen,
				    "%s:%d: [%s] maintenance_window: '%s' is not HH:MM-HH:MM",
				    s && s->file ? s->file : "config", s ? s->line : 0,
				    s ? s->name : "odbc", window);
			rc = -EINVAL;
			goto fail;
		}
		c->have_window = true;
	}
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
	struct odbc_conn c;
	char name[256];
	int rc = odbc_open(ctx, &c, d, err, errlen);
	if (rc < 0)
		return rc;
	getinfo(&c, SQL_DBMS_NAME, name, sizeof(name));
	if (probe_odbc_dbms_from_name(name) == PROBE_ODBC_OTHER) {
		ep_snprintf(err, errlen,
			    "connected, but the DBMS '%s' is not supported (PostgreSQL, "
			    "MariaDB/MySQL, SQL Server are)",
			    name);
		rc = -ENOTSUP;
	}
	odbc_close(&c);
	return rc;
}

static void odbc_run(void *vctx, const struct ep_deadline *d, struct ep_probe_result *r)
{
	struct odbc_ctx *ctx = vctx;
	struct odbc_conn c;
	char err[1024], name[256], ver[256], server[256], dbname[256];

	if (odbc_open(ctx, &c, d, err, sizeof(err)) < 0) {
		/* the agent turns a failed probe into its probe_error finding */
		ep_probe_fail(r, EP_STATUS_ERROR, "%s", err);
		return;
	}
	getinfo(&c, SQL_DBMS_NAME, name, sizeof(name));
	getinfo(&c, SQL_DBMS_VER, ver, sizeof(ver));
	getinfo(&c, SQL_SERVER_NAME, server, sizeof(server));
	getinfo(&c, SQL_DATABASE_NAME, dbname, sizeof(dbname));
	ep_snprintf(r->target, sizeof(r->target), "%s@%s (%s)", dbname, server, name);
	json_object_set_new(r->metrics, "dbms_name", json_string(name));
	json_object_set_new(r->metrics, "dbms_ver", json_string(ver));
	struct probe_sql sql = {.impl = &c,
				.exec = odbc_exec,
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
	odbc_close(&c);
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
