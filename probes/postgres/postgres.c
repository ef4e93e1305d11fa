/* The postgres probe (libpq): connects to each database of the cluster in
 * turn and runs the checks of probes/postgres/pg_collect.c under the
 * probe's deadline. Connections are made asynchronously (PQconnectStartParams
 * + PQconnectPoll) and every query is waited for with poll(), so neither a
 * dead host nor a hung server keeps the probe past its deadline: at the
 * deadline the query is cancelled (PQcancel). statement_timeout and
 * lock_timeout keep the server side inside the same bounds. */
#include <errno.h>
#include <libpq-fe.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "erpulse/probe.h"
#include "probes/postgres/pg.h"
#include "probes/postgres/pq.h"

static const struct ep_option postgres_options[] = {
	{"conninfo", EP_OPT_STRING, "", 0, 0,
	 "libpq connection string or URI (host=/run/postgresql dbname=odoo user=erpulse_monitor); "
	 "empty = libpq defaults, service files and ~/.pgpass work as usual"},
	{"databases", EP_OPT_LIST, NULL, 0, 0,
	 "databases to examine (default: every connectable non-template database but the "
	 "maintenance database postgres, which is examined when named here)"},
	{"fragmentation_threshold", EP_OPT_INT, "30", 1, 100,
	 "wasted leaf space (%) at which an index is reported as fragmented"},
	{"min_index_pages", EP_OPT_INT, "1000", 1, 1LL << 31,
	 "indexes smaller than this (8 kB pages) are not judged"},
	{"exact_budget_mb", EP_OPT_INT, "512", 0, 1LL << 30,
	 "index bytes read by exact pgstatindex() measurements per cycle"},
	{"maintenance_window", EP_OPT_STRING, NULL, 0, 0,
	 "HH:MM-HH:MM local time in which maintenance_budget_mb applies"},
	{"maintenance_budget_mb", EP_OPT_INT, "4096", 0, 1LL << 30,
	 "exact measurement budget inside the maintenance window"},
	{"remeasure_after", EP_OPT_DURATION, "6h", 0, 365LL * 86400,
	 "an exact figure younger than this is carried instead of measured again"},
	{"statement_timeout", EP_OPT_DURATION, "60s", 1, 3600,
	 "statement_timeout of the probe's session (also bounded by the deadline)"},
	{"lock_timeout_ms", EP_OPT_INT, "1000", 1, 600000,
	 "lock_timeout of the probe's session: a locked index is skipped, not waited for"},
	{"connect_timeout", EP_OPT_DURATION, "10s", 1, 600, "connection timeout"},
	{"long_transaction", EP_OPT_DURATION, "1h", 1, 365LL * 86400,
	 "transactions open longer than this are reported"},
	{"idle_in_transaction", EP_OPT_DURATION, "5m", 1, 365LL * 86400,
	 "sessions idle in transaction longer than this are reported"},
	{"dead_tuples_pct", EP_OPT_INT, "20", 1, 100, "dead tuples (% of a table) that warn"},
	{"dead_tuples_min", EP_OPT_INT, "10000", 0, 1LL << 40,
	 "... when the table has at least this many dead tuples"},
	{"month_end_days", EP_OPT_INT, "0", 0, 15,
	 "Findings on a known ERP accounting or stock table go one severity up in the last this "
	 "many days of a month, with a maintenance window proposed before closing "
	 "(docs/probes-erp.md); 0 = off. Findings on known ERP tables always name the module "
	 "and the business function."},
	{"max_index_findings", EP_OPT_INT, "500", 0, 4000,
	 "cap on per-index findings (problems first; the report has a size limit)"},
	{.key = NULL},
};

struct postgres_ctx {
	char *conninfo;
	char **databases; /* NULL = all */
	struct probe_pg_settings cfg;
	int64_t budget_mb, window_budget_mb;
	bool have_window;
	int window_from, window_to;
	int64_t connect_timeout_s;
};

/* ---- the probe --------------------------------------------------------------- */

static void ctx_free(struct postgres_ctx *c)
{
	if (!c)
		return;
	if (c->conninfo) {
		explicit_bzero(c->conninfo, strlen(c->conninfo));
		free(c->conninfo);
	}
	free(c->databases);
	free(c);
}

static int postgres_init(const struct ep_config_section *s, const struct ep_probe_env *env,
			 void **ret_ctx, char *err, size_t errlen)
{
	struct postgres_ctx *c = calloc(1, sizeof(*c));
	const char *conninfo = NULL;
	int64_t v;
	int rc;

	if (!c)
		return -ENOMEM;
	if ((rc = ep_config_get_string(s, postgres_options, "conninfo", &conninfo, err, errlen)) <
	    0)
		goto fail;
	if (!(c->conninfo = strdup(conninfo))) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = ep_config_get_list(s, postgres_options, "databases", &c->databases, err, errlen);
	if (rc < 0 && rc != -ENOENT)
		goto fail;
	if (c->databases && !c->databases[0]) {
		free(c->databases);
		c->databases = NULL;
	}
#define GETI(key, field)                                                                           \
	do {                                                                                       \
		if ((rc = ep_config_get_int(s, postgres_options, key, &v, err, errlen)) < 0)       \
			goto fail;                                                                 \
		field = v;                                                                         \
	} while (0)
#define GETD(key, field)                                                                           \
	do {                                                                                       \
		if ((rc = ep_config_get_duration(s, postgres_options, key, &v, err, errlen)) < 0)  \
			goto fail;                                                                 \
		field = v;                                                                         \
	} while (0)
	GETI("fragmentation_threshold", c->cfg.threshold);
	GETI("min_index_pages", c->cfg.min_index_pages);
	GETI("exact_budget_mb", c->budget_mb);
	GETI("maintenance_budget_mb", c->window_budget_mb);
	GETD("remeasure_after", c->cfg.remeasure_after_s);
	if (env && env->fresh)
		c->cfg.remeasure_after_s = 0; /* once --fresh: nothing carried */
	GETD("statement_timeout", c->cfg.statement_timeout_ms);
	c->cfg.statement_timeout_ms *= 1000;
	GETI("lock_timeout_ms", c->cfg.lock_timeout_ms);
	GETD("connect_timeout", c->connect_timeout_s);
	GETD("long_transaction", c->cfg.long_xact_s);
	GETD("idle_in_transaction", c->cfg.idle_xact_s);
	GETI("dead_tuples_pct", c->cfg.dead_tuples_pct);
	GETI("dead_tuples_min", c->cfg.dead_tuples_min);
	GETI("max_index_findings", c->cfg.max_index_findings);
	GETI("month_end_days", c->cfg.month_end_days);
#undef GETI
#undef GETD
	rc = probe_pg_window_option(s, postgres_options, "postgres", &c->have_window,
				    &c->window_from, &c->window_to, err, errlen);
	if (rc < 0)
		goto fail;
	/* A conninfo libpq cannot parse is a config error now, not at 3 a.m. */
	char *perr = NULL;
	PQconninfoOption *opts = c->conninfo[0] ? PQconninfoParse(c->conninfo, &perr) : NULL;
	if (c->conninfo[0] && !opts) {
		char line[300];
		probe_pq_message_line(line, sizeof(line), perr ? perr : "out of memory",
				      c->conninfo);
		ep_snprintf(err, errlen, "%s:%d: [%s] conninfo: %s",
			    s && s->file ? s->file : "config", s ? s->line : 0,
			    s ? s->name : "postgres", line);
		PQfreemem(perr);
		rc = -EINVAL;
		goto fail;
	}
	PQconninfoFree(opts);
	*ret_ctx = c;
	return 0;
fail:
	ctx_free(c);
	return rc;
}

static void target_of(const struct postgres_ctx *ctx, PGconn *conn, char *out, size_t len)
{
	(void)ctx;
	const char *host = PQhost(conn);
	ep_snprintf(out, len, "%s@%s:%s", PQdb(conn), host && *host ? host : "localhost",
		    PQport(conn));
}

static int postgres_check(void *vctx, const struct ep_deadline *d, char *err, size_t errlen)
{
	struct postgres_ctx *ctx = vctx;
	PGconn *conn = probe_pq_connect(ctx->conninfo, ctx->connect_timeout_s,
					ctx->databases ? ctx->databases[0] : NULL, d, err, errlen);
	if (!conn)
		return -ECONNREFUSED;
	struct probe_pq q = {conn};
	struct probe_sql_rows rows = {0};
	char st[6];
	int rc = probe_pq_exec(
		&q, d,
		"SELECT pg_catalog.has_function_privilege(pg_catalog.format("
		"'%I.pgstatindex(regclass)', n.nspname), 'EXECUTE'), current_user "
		"FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = "
		"e.extnamespace WHERE e.extname = 'pgstattuple'",
		&rows, st, err, errlen);
	if (rc == 0 && rows.nrows == 0) {
		ep_snprintf(err, errlen,
			    "connected, but pgstattuple is not installed in database %s: as a "
			    "superuser run CREATE EXTENSION pgstattuple there (fragmentation is "
			    "estimated only until then)",
			    PQdb(conn));
		rc = -ENOENT;
	} else if (rc == 0 && strcmp(probe_sql_str(&rows, 0, 0), "t") != 0) {
		const char *role = probe_sql_str(&rows, 0, 1);
		char qrole[300];
		if (probe_pq_quote(&q, role, qrole, sizeof(qrole)) < 0)
			ep_snprintf(qrole, sizeof(qrole), "<the monitoring role>");
		ep_snprintf(err, errlen,
			    "connected, but role %s may not run pgstatindex(): as a superuser run "
			    "GRANT pg_stat_scan_tables TO %s",
			    role, qrole);
		rc = -EACCES;
	}
	probe_sql_rows_free(&rows);
	PQfinish(conn);
	return rc;
}

static void postgres_run(void *vctx, const struct ep_deadline *d, struct ep_probe_result *r)
{
	struct postgres_ctx *ctx = vctx;
	char err[1024];
	char **dbs = NULL;
	bool own_list = false;
	size_t ok = 0, failed = 0;
	json_t *dberr = json_object();
	struct probe_pg_settings cfg = ctx->cfg;
	time_t now = time(NULL);

	int64_t budget = ctx->budget_mb;
	if (ctx->have_window) {
		struct tm lt;
		localtime_r(&now, &lt);
		bool in = probe_pg_window_contains(ctx->window_from, ctx->window_to,
						   lt.tm_hour * 60 + lt.tm_min);
		if (in)
			budget = ctx->window_budget_mb;
		json_object_set_new(r->metrics, "in_maintenance_window", json_boolean(in));
	}
	cfg.exact_budget_mb = budget;
	struct probe_pg_cycle cy = {
		.cfg = &cfg, .budget_left_bytes = budget * 1024 * 1024, .now = now};

	PGconn *first =
		probe_pq_connect(ctx->conninfo, ctx->connect_timeout_s,
				 ctx->databases ? ctx->databases[0] : NULL, d, err, sizeof(err));
	if (!first) {
		/* the agent turns a failed probe into its probe_error finding */
		ep_probe_fail(r, EP_STATUS_ERROR, "%s", err);
		json_decref(dberr);
		return;
	}
	target_of(ctx, first, r->target, sizeof(r->target));
	if (ctx->databases) {
		dbs = ctx->databases;
	} else {
		struct probe_pq q = {first};
		struct probe_sql c = {.impl = &q,
				      .exec = probe_pq_exec,
				      .quote_ident = probe_pq_quote,
				      .via = "libpq",
				      .statement_timeout_ms = cfg.statement_timeout_ms};
		if (probe_pg_session(&c, &cfg, d, err, sizeof(err)) < 0 ||
		    probe_pg_list_databases(&c, d, &dbs, err, sizeof(err)) < 0) {
			ep_probe_fail(r, EP_STATUS_ERROR, "listing databases: %s", err);
			PQfinish(first);
			json_decref(dberr);
			return;
		}
		own_list = true;
	}
	for (size_t i = 0; dbs[i]; i++) {
		PGconn *conn = NULL;
		if (ep_deadline_left_ms(d) < 300) {
			json_object_set_new(dberr, dbs[i], json_string("not examined: deadline"));
			failed++;
			continue;
		}
		if (first && strcmp(PQdb(first), dbs[i]) == 0) {
			conn = first;
			first = NULL;
		} else {
			conn = probe_pq_connect(ctx->conninfo, ctx->connect_timeout_s, dbs[i], d,
						err, sizeof(err));
		}
		if (!conn) {
			json_object_set_new(dberr, dbs[i], json_string(err));
			failed++;
			continue;
		}
		struct probe_pq q = {conn};
		struct probe_sql c = {.impl = &q,
				      .exec = probe_pq_exec,
				      .quote_ident = probe_pq_quote,
				      .via = "libpq",
				      .statement_timeout_ms = cfg.statement_timeout_ms};
		if (probe_pg_session(&c, &cfg, d, err, sizeof(err)) < 0 ||
		    probe_pg_collect(&c, &cy, dbs[i], d, r, err, sizeof(err)) < 0) {
			json_object_set_new(dberr, dbs[i], json_string(err));
			failed++;
		} else {
			ok++;
		}
		PQfinish(conn);
	}
	if (first)
		PQfinish(first);
	json_object_set_new(r->metrics, "databases_examined", json_integer((json_int_t)ok));
	json_object_set_new(r->metrics, "exact_budget_mb", json_integer(budget));
	json_object_set_new(r->metrics, "exact_budget_left_bytes",
			    json_integer(cy.budget_left_bytes > 0 ? cy.budget_left_bytes : 0));
	if (json_object_size(dberr) > 0) {
		const char *k;
		json_t *v;
		json_object_foreach(dberr, k, v)
		{
			struct ep_finding f = {
				.kind = "probe_error",
				.object = k,
				.value = 1,
				.unit = "count",
				.threshold = NAN,
				.severity = EP_SEV_WARNING,
				.method = "libpq",
				.message = json_string_value(v),
			};
			ep_probe_add_finding(r, &f);
		}
		json_object_set_new(r->metrics, "database_errors", dberr);
	} else {
		json_decref(dberr);
	}
	if (ok == 0 && failed > 0)
		ep_probe_fail(r, EP_STATUS_ERROR, "no database could be examined: %s", err);
	if (own_list) {
		for (size_t i = 0; dbs[i]; i++)
			free(dbs[i]);
		free(dbs);
	}
}

static void postgres_fini(void *ctx)
{
	ctx_free(ctx);
}

const struct ep_probe ep_probe_postgres = {
	.name = "postgres",
	.summary = "PostgreSQL: true index fragmentation (pgstatindex), maintenance debt, health",
	.options = postgres_options,
	.init = postgres_init,
	.check = postgres_check,
	.run = postgres_run,
	.fini = postgres_fini,
};
