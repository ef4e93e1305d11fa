/* The PostgreSQL checks over a probe_sql runner (libpq or psqlODBC): the
 * helpers the check files share, the session settings, the database list,
 * maintenance debt per database, and probe_pg_collect, which runs them all.
 * The checks themselves: pg_frag.c (index fragmentation), pg_cluster.c
 * (cluster-wide health). docs/fragmentation.md and docs/probes-database.md
 * explain them. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probes/erp/erp.h"
#include "probes/postgres/pg.h"

/* ---- small helpers ------------------------------------------------------ */

bool probe_pg_bool(const struct probe_sql_rows *r, size_t row, size_t col)
{
	const char *s = probe_sql_cell(r, row, col);
	return s && (strcmp(s, "t") == 0 || strcmp(s, "1") == 0 || strcmp(s, "true") == 0);
}

/* Runs sql keeping statement_timeout inside the deadline. */
int probe_pg_run(struct probe_sql *c, const struct ep_deadline *d, const char *sql,
		 struct probe_sql_rows *rows, char *sqlstate, char *err, size_t errlen)
{
	int64_t left = ep_deadline_left_ms(d) - 150;
	char set[96];
	char st[6] = "";

	if (rows)
		memset(rows, 0, sizeof(*rows));
	if (sqlstate)
		sqlstate[0] = '\0';
	if (left < 50) {
		ep_snprintf(err, errlen, "the probe's deadline was reached");
		return -ETIME;
	}
	if (left < c->statement_timeout_ms) {
		ep_snprintf(set, sizeof(set), "SET statement_timeout = %lld", (long long)left);
		int rc = c->exec(c->impl, d, set, NULL, st, err, errlen);
		if (rc < 0)
			return rc;
		c->statement_timeout_ms = left;
	}
	return c->exec(c->impl, d, sql, rows, sqlstate ? sqlstate : st, err, errlen);
}

/* Appends a finding with optional extra fields; returns the JSON object
 * (borrowed) so the caller may add more, or NULL. extras is consumed. */
json_t *probe_pg_add_finding(struct ep_probe_result *r, const struct ep_finding *f, json_t *extras)
{
	json_t *j = ep_finding_json(f);

	if (j && extras)
		json_object_update(j, extras);
	json_decref(extras);
	return ep_findings_append(r->findings, j) == 0 ? j : NULL;
}

static json_t *db_metrics(struct ep_probe_result *r, const char *db)
{
	json_t *dbs = json_object_get(r->metrics, "databases");
	if (!dbs) {
		dbs = json_object();
		if (json_object_set_new(r->metrics, "databases", dbs) < 0)
			return NULL;
	}
	json_t *m = json_object_get(dbs, db);
	if (!m) {
		m = json_object();
		if (json_object_set_new(dbs, db, m) < 0)
			return NULL;
	}
	return m;
}

json_t *probe_pg_jnum(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

void probe_pg_time_text(time_t t, char *buf, size_t len)
{
	if (ep_time_format(t, buf, len) < 0)
		ep_snprintf(buf, len, "?");
}

/* ---- session ------------------------------------------------------------- */

int probe_pg_session(struct probe_sql *c, const struct probe_pg_settings *cfg,
		     const struct ep_deadline *d, char *err, size_t errlen)
{
	char sql[160];
	char st[6];
	int64_t left = ep_deadline_left_ms(d) - 150;
	int64_t stmt = cfg->statement_timeout_ms;
	int rc;

	if (left < 50) {
		ep_snprintf(err, errlen, "the probe's deadline was reached");
		return -ETIME;
	}
	if (left < stmt)
		stmt = left;
	ep_snprintf(sql, sizeof(sql), "SET statement_timeout = %lld", (long long)stmt);
	if ((rc = c->exec(c->impl, d, sql, NULL, st, err, errlen)) < 0)
		return rc;
	c->statement_timeout_ms = stmt;
	ep_snprintf(sql, sizeof(sql), "SET lock_timeout = %lld", (long long)cfg->lock_timeout_ms);
	if ((rc = c->exec(c->impl, d, sql, NULL, st, err, errlen)) < 0)
		return rc;
	/* The probe only reads: make any accidental write fail. */
	if ((rc = c->exec(c->impl, d, "SET default_transaction_read_only = on", NULL, st, err,
			  errlen)) < 0)
		return rc;
	return c->exec(c->impl, d, "SET idle_in_transaction_session_timeout = 60000", NULL, st, err,
		       errlen);
}

int probe_pg_list_databases(struct probe_sql *c, const struct ep_deadline *d, char ***ret,
			    char *err, size_t errlen)
{
	struct probe_sql_rows rows;
	/* The maintenance database "postgres" is left out (nobody asked to watch
	 * it; its wraparound age is still among the cluster-wide checks), unless
	 * it is the only one: the cluster-wide checks need a database to run in. */
	int rc = probe_pg_run(
		c, d,
		"WITH dbs AS (SELECT datname FROM pg_catalog.pg_database WHERE datallowconn AND "
		"NOT datistemplate AND pg_catalog.has_database_privilege(datname, 'CONNECT'))"
		" SELECT datname FROM dbs WHERE datname <> 'postgres'"
		" OR NOT EXISTS (SELECT 1 FROM dbs WHERE datname <> 'postgres') ORDER BY datname",
		&rows, NULL, err, errlen);
	if (rc < 0)
		return rc;
	char **v = calloc(rows.nrows + 1, sizeof(char *));
	if (!v) {
		probe_sql_rows_free(&rows);
		return -ENOMEM;
	}
	for (size_t i = 0; i < rows.nrows; i++) {
		if (!(v[i] = strdup(probe_sql_str(&rows, i, 0)))) {
			for (size_t j = 0; j < i; j++)
				free(v[j]);
			free(v);
			probe_sql_rows_free(&rows);
			return -ENOMEM;
		}
	}
	probe_sql_rows_free(&rows);
	*ret = v;
	return 0;
}

/* ---- maintenance debt (per database) ----------------------------------- */

static void tables(struct probe_sql *c, struct probe_pg_cycle *cy, const char *db,
		   const struct ep_deadline *d, struct ep_probe_result *r, json_t *m)
{
	const struct probe_pg_settings *cfg = cy->cfg;
	struct probe_sql_rows rows;
	char err[300], st[6];

	if (probe_pg_run(
		    c, d,
		    "SELECT schemaname, relname, n_live_tup, n_dead_tup,"
		    " extract(epoch FROM now() - greatest(last_vacuum, last_autovacuum))::bigint,"
		    " extract(epoch FROM now() - greatest(last_analyze, last_autoanalyze))::bigint,"
		    " extract(epoch FROM now() - "
		    "coalesce(pg_catalog.pg_stat_get_db_stat_reset_time("
		    "  (SELECT oid FROM pg_catalog.pg_database WHERE datname = "
		    "current_database())),"
		    "  pg_catalog.pg_postmaster_start_time()))::bigint,"
		    " n_dead_tup > current_setting('autovacuum_vacuum_threshold')::float8"
		    "  + current_setting('autovacuum_vacuum_scale_factor')::float8 * "
		    "greatest(n_live_tup, 0)"
		    " FROM pg_catalog.pg_stat_user_tables ORDER BY n_dead_tup DESC, relid LIMIT 20",
		    &rows, st, err, sizeof(err)) < 0) {
		json_object_set_new(m, "tables_error", json_string(err));
		return;
	}
	int64_t max_vac_age = -1;
	json_t *top = json_array();
	for (size_t i = 0; i < rows.nrows; i++) {
		char object[400], qs[200], qt[200], rem[500], msg[400];
		int64_t live = probe_sql_int(&rows, i, 2, 0), dead = probe_sql_int(&rows, i, 3, 0);
		int64_t vac_age = probe_sql_int(&rows, i, 4, -1),
			since = probe_sql_int(&rows, i, 6, 0);
		double pct = live + dead > 0 ? 100.0 * (double)dead / (double)(live + dead) : 0;
		bool due = probe_pg_bool(&rows, i, 7);
		ep_snprintf(object, sizeof(object), "%s/%s.%s", db, probe_sql_str(&rows, i, 0),
			    probe_sql_str(&rows, i, 1));
		if (c->quote_ident(c->impl, probe_sql_str(&rows, i, 0), qs, sizeof(qs)) < 0 ||
		    c->quote_ident(c->impl, probe_sql_str(&rows, i, 1), qt, sizeof(qt)) < 0)
			continue;
		ep_snprintf(rem, sizeof(rem), "VACUUM (ANALYZE) %s.%s;", qs, qt);
		if (top && i < 5)
			json_array_append_new(
				top, json_pack("{s:s, s:I, s:I, s:o}", "table", object,
					       "n_live_tup", (json_int_t)live, "n_dead_tup",
					       (json_int_t)dead, "last_vacuum_age_s",
					       vac_age >= 0 ? json_integer(vac_age) : json_null()));
		if (dead >= cfg->dead_tuples_min && pct >= (double)cfg->dead_tuples_pct) {
			ep_snprintf(msg, sizeof(msg), "%lld dead tuples (%.1f%% of the table)",
				    (long long)dead, pct);
			struct ep_finding f = {
				.kind = "dead_tuples",
				.object = object,
				.value = pct,
				.unit = "%",
				.threshold = (double)cfg->dead_tuples_pct,
				.min_size = (double)cfg->dead_tuples_min,
				.size = (double)dead,
				.size_unit = "dead tuples",
				.severity = EP_SEV_WARNING,
				.method = "pg_stat_user_tables",
				.message = msg,
				.remediation = rem,
			};
			json_t *j = probe_pg_add_finding(
				r, &f, json_pack("{s:I}", "dead_tuples", (json_int_t)dead));
			if (j) /* a known ERP table: module, function, month-end rule */
				probe_erp_annotate_table(j, probe_sql_str(&rows, i, 1), cy->now,
							 (int)cfg->month_end_days);
		}
		/* Due for autovacuum and not vacuumed for a day: autovacuum lags. */
		int64_t age = vac_age >= 0 ? vac_age : since;
		if (due && age >= 86400) {
			ep_snprintf(msg, sizeof(msg),
				    "due for autovacuum (%lld dead tuples) but %s for %.1f days",
				    (long long)dead,
				    vac_age >= 0 ? "not vacuumed" : "never vacuumed",
				    (double)age / 86400);
			struct ep_finding f = {
				.kind = "vacuum_lag",
				.object = object,
				.value = (double)age / 86400,
				.unit = "days",
				.threshold = 1,
				.severity = EP_SEV_WARNING,
				.method = "pg_stat_user_tables",
				.message = msg,
				.remediation = rem,
			};
			json_t *j = probe_pg_add_finding(r, &f, NULL);
			if (j)
				probe_erp_annotate_table(j, probe_sql_str(&rows, i, 1), cy->now,
							 (int)cfg->month_end_days);
		}
		if (vac_age > max_vac_age)
			max_vac_age = vac_age;
	}
	json_object_set_new(m, "top_dead_tuples", top);
	probe_sql_rows_free(&rows);
}

int probe_pg_collect(struct probe_sql *c, struct probe_pg_cycle *cy, const char *db,
		     const struct ep_deadline *d, struct ep_probe_result *r, char *err,
		     size_t errlen)
{
	struct probe_sql_rows rows;
	char st[6];
	int rc;

	json_t *m = db_metrics(r, db);
	if (!m)
		return -ENOMEM;
	rc = probe_pg_run(c, d,
			  "SELECT current_setting('server_version_num')::int, "
			  "current_setting('server_version'),"
			  " current_user, pg_catalog.pg_is_in_recovery(),"
			  " pg_catalog.pg_database_size(current_database()),"
			  " current_setting('block_size')::int",
			  &rows, st, err, errlen);
	if (rc < 0)
		return rc;
	int version = (int)probe_sql_int(&rows, 0, 0, 0);
	bool in_recovery = probe_pg_bool(&rows, 0, 3);
	cy->block_size = probe_sql_int(&rows, 0, 5, 8192);
	if (cy->block_size <= 0)
		cy->block_size = 8192;
	char user[200];
	ep_snprintf(user, sizeof(user), "%s", probe_sql_str(&rows, 0, 2));
	json_object_set_new(m, "size_bytes", json_integer(probe_sql_int(&rows, 0, 4, 0)));
	if (!cy->cluster_done) {
		json_object_set_new(r->metrics, "server_version",
				    json_string(probe_sql_str(&rows, 0, 1)));
		json_object_set_new(r->metrics, "server_version_num", json_integer(version));
		json_object_set_new(r->metrics, "in_recovery", json_boolean(in_recovery));
		json_object_set_new(r->metrics, "role", json_string(user));
	}
	probe_sql_rows_free(&rows);

	probe_pg_fragmentation(c, cy, db, version, user, d, r, m);
	tables(c, cy, db, d, r, m);
	if (!cy->cluster_done) {
		probe_pg_cluster(c, cy, in_recovery, d, r);
		cy->cluster_done = true;
	}
	return 0;
}
