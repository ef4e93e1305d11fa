/* The PostgreSQL checks over a probe_sql runner (libpq or psqlODBC):
 * per-index fragmentation (estimate to order the work, exact pgstatindex()
 * within the I/O budget for the verdicts), maintenance debt and server
 * health. docs/fragmentation.md and docs/probes-database.md explain them. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probes/postgres/pg.h"

#define WRAPAROUND 2147483648.0 /* 2^31 transaction ids */

/* ---- small helpers ------------------------------------------------------ */

static bool boolean(const struct probe_sql_rows *r, size_t row, size_t col)
{
	const char *s = probe_sql_cell(r, row, col);
	return s && (strcmp(s, "t") == 0 || strcmp(s, "1") == 0 || strcmp(s, "true") == 0);
}

/* Runs sql keeping statement_timeout inside the deadline. */
static int run(struct probe_sql *c, const struct ep_deadline *d, const char *sql,
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
static json_t *add_finding(struct ep_probe_result *r, const struct ep_finding *f, json_t *extras)
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

static json_t *jnum(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static void time_text(time_t t, char *buf, size_t len)
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
	int rc = run(c, d,
		     "SELECT datname FROM pg_catalog.pg_database WHERE datallowconn AND NOT "
		     "datistemplate AND pg_catalog.has_database_privilege(datname, 'CONNECT') "
		     "ORDER BY datname",
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

/* ---- fragmentation ------------------------------------------------------- */

/* Every valid B-tree index outside the system schemas, with the catalog
 * figures and the statistics-based estimate of wasted space (the ioguix
 * btree bloat query, rewritten: LEFT JOIN on pg_stats so an index without
 * statistics is still listed, marked by stats_cols < indnatts). Catalog
 * only: no lock on any user relation, milliseconds. */
static const char catalog_sql[] =
	"WITH idx AS ("
	" SELECT ci.oid AS idxoid, n.nspname, ct.relname AS tblname, ci.relname AS idxname,"
	"  ci.relpages::bigint AS relpages, ci.reltuples::float8 AS reltuples,"
	"  ct.reltuples::float8 AS tbltuples,"
	"  coalesce(substring(array_to_string(ci.reloptions, ' ') from 'fillfactor=([0-9]+)')::int,"
	"   90) AS fillfactor,"
	"  coalesce(array_to_string(ci.reloptions, ' ') ~* 'deduplicate_items=(off|false|no|0)',"
	"   false) AS dedup_off,"
	"  i.indisunique, i.indnatts::int AS indnatts, i.indkey, i.indrelid"
	" FROM pg_catalog.pg_index i"
	" JOIN pg_catalog.pg_class ci ON ci.oid = i.indexrelid"
	" JOIN pg_catalog.pg_class ct ON ct.oid = i.indrelid"
	" JOIN pg_catalog.pg_namespace n ON n.oid = ci.relnamespace"
	" JOIN pg_catalog.pg_am am ON am.oid = ci.relam"
	" WHERE am.amname = 'btree' AND i.indisvalid AND i.indisready AND ci.relkind = 'i'"
	"  AND ci.relpersistence <> 't'"
	"  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'"
	"), cols AS ("
	" SELECT idx.idxoid, a.attpos, s.null_frac, s.avg_width, s.n_distinct,"
	"  s.attname IS NOT NULL AS has_stats,"
	"  coalesce(ta.atttypid, ia.atttypid) = 'pg_catalog.name'::pg_catalog.regtype AS is_name"
	" FROM idx"
	" CROSS JOIN LATERAL pg_catalog.generate_series(1, idx.indnatts) AS a(attpos)"
	" LEFT JOIN pg_catalog.pg_attribute ta ON idx.indkey[a.attpos - 1] <> 0"
	"  AND ta.attrelid = idx.indrelid AND ta.attnum = idx.indkey[a.attpos - 1]"
	" LEFT JOIN pg_catalog.pg_attribute ia ON idx.indkey[a.attpos - 1] = 0"
	"  AND ia.attrelid = idx.idxoid AND ia.attnum = a.attpos"
	" LEFT JOIN pg_catalog.pg_stats s ON s.schemaname = idx.nspname AND NOT s.inherited"
	"  AND ((ta.attname IS NOT NULL AND s.tablename = idx.tblname AND s.attname = ta.attname)"
	"   OR (ia.attname IS NOT NULL AND s.tablename = idx.idxname AND s.attname = ia.attname))"
	"), agg AS ("
	" SELECT idxoid, count(*) FILTER (WHERE has_stats) AS stats_cols,"
	"  max(coalesce(null_frac, 0)) AS max_null_frac,"
	"  sum((1 - coalesce(null_frac, 0)) * coalesce(avg_width, 1024)) AS datawidth,"
	"  bool_or(is_name) AS is_na,"
	"  (array_agg(n_distinct ORDER BY attpos))[1] AS lead_ndistinct"
	" FROM cols GROUP BY idxoid"
	"), est AS ("
	" SELECT idx.*, agg.stats_cols, agg.is_na, agg.lead_ndistinct,"
	"  current_setting('block_size')::float8 AS bs,"
	/* tuple: header (8, or 12 with a null bitmap) and data, each MAXALIGNed (8) */
	"  (((CASE WHEN agg.max_null_frac = 0 THEN 8 ELSE 12 END) + 7) / 8 * 8"
	"   + (round(agg.datawidth)::int + 7) / 8 * 8)::float8 AS width"
	" FROM idx JOIN agg USING (idxoid)"
	")"
	" SELECT idxoid, nspname, tblname, idxname, relpages, reltuples, fillfactor, dedup_off,"
	"  indisunique, indnatts, stats_cols, is_na, lead_ndistinct, tbltuples,"
	"  CASE WHEN relpages > 0 AND reltuples >= 0 THEN greatest(0::float8, 100 * (relpages"
	"   - (1 + ceil(reltuples / greatest(1::float8, floor((bs - 40) * fillfactor"
	"   / (100 * (4 + width)))))))::float8 / relpages) END AS est_pct"
	" FROM est ORDER BY idxoid";

enum {
	CAT_OID,
	CAT_SCHEMA,
	CAT_TABLE,
	CAT_NAME,
	CAT_RELPAGES,
	CAT_RELTUPLES,
	CAT_FILLFACTOR,
	CAT_DEDUP_OFF,
	CAT_UNIQUE,
	CAT_NATTS,
	CAT_STATS_COLS,
	CAT_IS_NA,
	CAT_LEAD_NDISTINCT,
	CAT_TBLTUPLES,
	CAT_EST_PCT,
	CAT_NCOLS
};

static void index_free(struct probe_pg_index *x)
{
	free(x->schema);
	free(x->table);
	free(x->name);
}

/* Why the catalog estimate cannot be trusted for this index, or NULL. */
static const char *untrusted(const struct probe_sql_rows *rows, size_t i, int version)
{
	double reltuples = probe_sql_num(rows, i, CAT_RELTUPLES);
	double tbltuples = probe_sql_num(rows, i, CAT_TBLTUPLES);
	double nd = probe_sql_num(rows, i, CAT_LEAD_NDISTINCT);

	if (probe_sql_int(rows, i, CAT_STATS_COLS, 0) < probe_sql_int(rows, i, CAT_NATTS, 1))
		return "no statistics for its key columns (not analyzed, or pg_stats not "
		       "readable by the monitoring role)";
	if (!isfinite(reltuples) || reltuples < 0)
		return "the index was never vacuumed or analyzed";
	if (boolean(rows, i, CAT_IS_NA))
		return "name-type key columns";
	if (version >= 130000 && !boolean(rows, i, CAT_DEDUP_OFF) &&
	    !boolean(rows, i, CAT_UNIQUE) && isfinite(nd)) {
		double frac = nd < 0 ? -nd : nd / (tbltuples > 1 ? tbltuples : 1);
		if (frac < 0.5)
			return "repeated keys: B-tree deduplication (PostgreSQL 13+) defeats the "
			       "estimate";
	}
	return NULL;
}

static void load_last(struct probe_pg_index *x, json_t *exact, const char *object)
{
	json_t *e = json_object_get(exact, object);
	json_t *at = json_object_get(e, "at");
	if (!json_is_object(e) || !json_is_integer(at))
		return;
	x->have_last = true;
	x->last_wasted = json_number_value(json_object_get(e, "wasted"));
	x->last_leaf_frag = json_number_value(json_object_get(e, "leaf_fragmentation"));
	x->last_density = json_number_value(json_object_get(e, "avg_leaf_density"));
	x->last_pages = json_integer_value(json_object_get(e, "pages"));
	x->last_at = (time_t)json_integer_value(at);
}

struct exact {
	bool done;
	double density, leaf_frag, wasted;
	int64_t leaf_pages, index_size;
	char error[300]; /* non-empty: measurement failed */
};

static void index_object(char *buf, size_t len, const char *db, const struct probe_pg_index *x)
{
	ep_snprintf(buf, len, "%s/%s.%s", db, x->schema, x->name);
}

/* Adds the per-index finding (exact this cycle, or carried). */
static void index_finding(struct ep_probe_result *r, struct probe_sql *c, struct probe_pg_cycle *cy,
			  int version, const char *db, const struct probe_pg_index *x,
			  const struct exact *e)
{
	char object[512], qs[300], qn[300], rem[700], msg[600], at[32];
	double wasted = e->done ? e->wasted : x->last_wasted;
	double leaf = e->done ? e->leaf_frag : x->last_leaf_frag;
	double density = e->done ? e->density : x->last_density;
	int64_t pages = e->done ? e->index_size / cy->block_size : x->last_pages;
	time_t when = e->done ? cy->now : x->last_at;
	double thr = (double)cy->cfg->threshold;
	enum ep_severity sev = probe_pg_frag_severity(wasted, thr);
	char method[64];

	if (cy->index_findings >= (size_t)cy->cfg->max_index_findings)
		return;
	index_object(object, sizeof(object), db, x);
	if (c->quote_ident(c->impl, x->schema, qs, sizeof(qs)) < 0 ||
	    c->quote_ident(c->impl, x->name, qn, sizeof(qn)) < 0)
		return;
	probe_pg_remediation(version, qs, qn, rem, sizeof(rem));
	time_text(when, at, sizeof(at));
	ep_snprintf(method, sizeof(method), "pgstatindex via %s", c->via);
	ep_snprintf(
		msg, sizeof(msg),
		"%.1f%% of the leaf space is wasted (avg_leaf_density %.1f%% against fillfactor "
		"%d); leaf_fragmentation %.1f%% is page order, not waste%s",
		wasted, density, x->fillfactor, isfinite(leaf) ? leaf : 0.0,
		e->done ? "" : "; figure carried from an earlier cycle");
	struct ep_finding f = {
		.kind = "index_fragmentation",
		.object = object,
		.value = wasted,
		.unit = "%",
		.threshold = thr,
		.severity = sev,
		.method = method,
		.message =
			sev == EP_SEV_INFO ? NULL : msg, /* healthy: figures only (report size) */
		.remediation = sev == EP_SEV_INFO ? NULL : rem,
	};
	json_t *extra = json_pack(
		"{s:I, s:I, s:o, s:o, s:i, s:s, s:I, s:b, s:o, s:b}", "pages", (json_int_t)pages,
		"bytes", (json_int_t)(pages * cy->block_size), "leaf_fragmentation", jnum(leaf),
		"avg_leaf_density", jnum(density), "fillfactor", x->fillfactor, "measured_at", at,
		"age_s", (json_int_t)(cy->now - when), "carried", !e->done, "estimate_pct",
		jnum(x->estimate_pct), "estimate_trusted", x->estimate_trusted);
	json_t *j = add_finding(r, &f, extra);
	if (!j)
		return;
	cy->index_findings++;
	if (sev != EP_SEV_INFO) {
		json_object_set_new(j, "lock", json_string(probe_pg_remediation_lock(version)));
		json_object_set_new(j, "extra_disk_bytes",
				    json_integer((json_int_t)(pages * cy->block_size)));
	}
}

static void estimate_finding(struct ep_probe_result *r, struct probe_pg_cycle *cy, const char *db,
			     const struct probe_pg_index *x, const char *why)
{
	char object[512], msg[700];

	if (cy->index_findings >= (size_t)cy->cfg->max_index_findings || !isfinite(x->estimate_pct))
		return;
	index_object(object, sizeof(object), db, x);
	ep_snprintf(msg, sizeof(msg),
		    "statistics-based estimate only (%s)%s%s: not a verdict; exact figures need "
		    "pgstattuple",
		    why, x->estimate_trusted ? "" : "; and it cannot be trusted here: ",
		    x->estimate_trusted ? "" : x->untrusted_reason);
	struct ep_finding f = {
		.kind = "index_fragmentation_estimate",
		.object = object,
		.value = x->estimate_pct,
		.unit = "%",
		.threshold = NAN,
		.severity = EP_SEV_INFO,
		.method = "estimate (btree bloat query)",
		.message = msg,
	};
	json_t *extra = json_pack("{s:I, s:b}", "pages", (json_int_t)x->relpages,
				  "estimate_trusted", x->estimate_trusted);
	if (add_finding(r, &f, extra))
		cy->index_findings++;
}

/* What pgstattuple looks like here: NULL schema when not installed. */
struct pgstattuple {
	char schema[200]; /* quoted */
	bool installed, can_execute;
};

static void setup_finding(struct ep_probe_result *r, struct probe_sql *c, struct probe_pg_cycle *cy,
			  const char *db, const struct pgstattuple *p, const char *user,
			  int version)
{
	char qu[300], qdb[300], rem[1200], msg[600], object[300];

	if (c->quote_ident(c->impl, user, qu, sizeof(qu)) < 0 ||
	    c->quote_ident(c->impl, db, qdb, sizeof(qdb)) < 0)
		return;
	char g[400] = "";
	if (version >= 100000)
		ep_snprintf(g, sizeof(g), "GRANT pg_stat_scan_tables TO %s;", qu);
	if (!p->installed) {
		ep_snprintf(msg, sizeof(msg),
			    "the pgstattuple extension is not installed in database %s: index "
			    "fragmentation is estimated only, without verdicts",
			    db);
		ep_snprintf(
			rem, sizeof(rem),
			"as a superuser, connected to database %s: CREATE EXTENSION IF NOT EXISTS "
			"pgstattuple; %s",
			qdb, g);
	} else {
		ep_snprintf(msg, sizeof(msg),
			    "role %s may not execute pgstatindex() in database %s: index "
			    "fragmentation is estimated only, without verdicts",
			    user, db);
		if (version >= 100000)
			ep_snprintf(rem, sizeof(rem), "as a superuser: %s", g);
		else
			ep_snprintf(rem, sizeof(rem),
				    "as a superuser, in database %s: GRANT EXECUTE ON FUNCTION "
				    "%s.pgstatindex(regclass) TO %s;",
				    qdb, p->schema, qu);
	}
	ep_snprintf(object, sizeof(object), "%s", db);
	struct ep_finding f = {
		.kind = "monitoring_setup",
		.object = object,
		.value = 1,
		.unit = "count",
		.threshold = NAN,
		.severity = EP_SEV_WARNING,
		.method = "pg_extension",
		.message = msg,
		.remediation = rem,
	};
	(void)cy;
	add_finding(r, &f, NULL);
}

static int fragmentation(struct probe_sql *c, struct probe_pg_cycle *cy, const char *db,
			 int version, const char *user, const struct ep_deadline *d,
			 struct ep_probe_result *r, json_t *m)
{
	const struct probe_pg_settings *cfg = cy->cfg;
	struct probe_sql_rows rows, ext;
	struct pgstattuple pst = {.installed = false};
	struct probe_pg_index *idx = NULL;
	struct exact *ex = NULL;
	char err[512], st[6];
	size_t n = 0, total = 0;
	int rc;

	/* pgstattuple: installed? may we run it? */
	rc = run(c, d,
		 "SELECT n.nspname, e.extversion, pg_catalog.has_function_privilege("
		 "pg_catalog.format('%I.pgstatindex(regclass)', n.nspname), 'EXECUTE') "
		 "FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = "
		 "e.extnamespace WHERE e.extname = 'pgstattuple'",
		 &ext, st, err, sizeof(err));
	if (rc < 0) {
		json_object_set_new(m, "fragmentation_error", json_string(err));
		return rc;
	}
	if (ext.nrows > 0) {
		pst.installed = true;
		pst.can_execute = boolean(&ext, 0, 2);
		if (c->quote_ident(c->impl, probe_sql_str(&ext, 0, 0), pst.schema,
				   sizeof(pst.schema)) < 0)
			pst.can_execute = false;
		json_object_set_new(m, "pgstattuple_version",
				    json_string(probe_sql_str(&ext, 0, 1)));
	}
	probe_sql_rows_free(&ext);
	json_object_set_new(m, "pgstattuple",
			    json_string(!pst.installed     ? "missing"
					: !pst.can_execute ? "not permitted"
							   : "ok"));
	if (!pst.installed || !pst.can_execute)
		setup_finding(r, c, cy, db, &pst, user, version);

	rc = run(c, d, catalog_sql, &rows, st, err, sizeof(err));
	if (rc < 0) {
		json_object_set_new(m, "fragmentation_error", json_string(err));
		return rc;
	}
	json_t *state_exact = json_object_get(r->state, "exact");
	if (!json_is_object(state_exact)) {
		state_exact = json_object();
		json_object_set_new(r->state, "exact", state_exact);
	}
	idx = calloc(rows.nrows ? rows.nrows : 1, sizeof(*idx));
	ex = calloc(rows.nrows ? rows.nrows : 1, sizeof(*ex));
	if (!idx || !ex) {
		rc = -ENOMEM;
		goto out;
	}
	/* Keep indexes of at least min_index_pages; forget state of dropped ones. */
	json_t *seen = json_object();
	for (size_t i = 0; i < rows.nrows; i++) {
		struct probe_pg_index *x = &idx[n];
		char object[512];
		int64_t oid = probe_sql_int(&rows, i, CAT_OID, 0);
		total++;
		memset(x, 0, sizeof(*x));
		x->oid = (uint32_t)oid;
		x->relpages = probe_sql_int(&rows, i, CAT_RELPAGES, 0);
		x->reltuples = probe_sql_num(&rows, i, CAT_RELTUPLES);
		x->fillfactor = (int)probe_sql_int(&rows, i, CAT_FILLFACTOR, 90);
		x->estimate_pct = probe_sql_num(&rows, i, CAT_EST_PCT);
		x->untrusted_reason = untrusted(&rows, i, version);
		x->estimate_trusted = x->untrusted_reason == NULL && isfinite(x->estimate_pct);
		if (!x->estimate_trusted && !x->untrusted_reason)
			x->untrusted_reason = "no estimate";
		x->schema = strdup(probe_sql_str(&rows, i, CAT_SCHEMA));
		x->table = strdup(probe_sql_str(&rows, i, CAT_TABLE));
		x->name = strdup(probe_sql_str(&rows, i, CAT_NAME));
		if (!x->schema || !x->table || !x->name) {
			index_free(x);
			json_decref(seen);
			rc = -ENOMEM;
			goto out;
		}
		index_object(object, sizeof(object), db, x);
		json_object_set_new(seen, object, json_true());
		if (x->relpages < cfg->min_index_pages) {
			index_free(x);
			continue;
		}
		load_last(x, state_exact, object);
		n++;
	}
	{
		/* prune state entries of this database whose index is gone */
		const char *key;
		json_t *val, *tmp;
		size_t dblen = strlen(db);
		void *iter;
		(void)val;
		(void)tmp;
		for (iter = json_object_iter(state_exact); iter;) {
			key = json_object_iter_key(iter);
			iter = json_object_iter_next(state_exact, iter);
			if (strncmp(key, db, dblen) == 0 && key[dblen] == '/' &&
			    !json_object_get(seen, key))
				json_object_del(state_exact, key);
		}
	}
	json_decref(seen);

	probe_pg_order(idx, n, (double)cfg->threshold, cy->now, cfg->remeasure_after_s);

	/* Exact measurements: one index per statement, within budget and deadline. */
	int64_t measured = 0, failed = 0, over_budget = 0, not_due = 0, out_of_time = 0;
	int64_t bytes_read = 0, ms_exact = 0;
	bool exact_ok = pst.installed && pst.can_execute;
	for (size_t i = 0; exact_ok && i < n; i++) {
		struct probe_pg_index *x = &idx[i];
		int64_t bytes = x->relpages * cy->block_size;
		if (x->order_class == 2) {
			not_due++;
			continue;
		}
		if (bytes > cy->budget_left_bytes) {
			over_budget++;
			continue;
		}
		/* about 2 ms per MB read cold; leave the rest of the deadline alone */
		if (ep_deadline_left_ms(d) < 500 + bytes / (512 * 1024)) {
			out_of_time++;
			continue;
		}
		char sql[400];
		struct probe_sql_rows e;
		ep_snprintf(sql, sizeof(sql),
			    "SELECT avg_leaf_density, leaf_fragmentation, leaf_pages, index_size "
			    "FROM %s.pgstatindex('%u'::pg_catalog.oid::pg_catalog.regclass)",
			    pst.schema, x->oid);
		int64_t t0 = ep_mono_ms();
		rc = run(c, d, sql, &e, st, ex[i].error, sizeof(ex[i].error));
		ms_exact += ep_mono_ms() - t0;
		if (rc < 0 || e.nrows != 1) {
			if (rc >= 0)
				ep_snprintf(ex[i].error, sizeof(ex[i].error), "no row");
			probe_sql_rows_free(&e);
			failed++;
			/* charge what it may have read, the budget must hold */
			cy->budget_left_bytes -= bytes;
			if (rc == -ETIME)
				break;
			continue;
		}
		ex[i].density = probe_sql_num(&e, 0, 0);
		ex[i].leaf_frag = probe_sql_num(&e, 0, 1);
		ex[i].leaf_pages = probe_sql_int(&e, 0, 2, 0);
		ex[i].index_size = probe_sql_int(&e, 0, 3, bytes);
		probe_sql_rows_free(&e);
		cy->budget_left_bytes -= ex[i].index_size;
		bytes_read += ex[i].index_size;
		ex[i].wasted = probe_pg_wasted_pct(ex[i].density, x->fillfactor);
		if (!isfinite(ex[i].wasted)) {
			ep_snprintf(ex[i].error, sizeof(ex[i].error),
				    "no leaf pages with tuples (avg_leaf_density is NaN)");
			failed++;
			continue;
		}
		ex[i].done = true;
		measured++;
		char object[512];
		index_object(object, sizeof(object), db, x);
		json_object_set_new(state_exact, object,
				    json_pack("{s:f, s:o, s:f, s:I, s:I}", "wasted", ex[i].wasted,
					      "leaf_fragmentation", jnum(ex[i].leaf_frag),
					      "avg_leaf_density", ex[i].density, "pages",
					      (json_int_t)(ex[i].index_size / cy->block_size), "at",
					      (json_int_t)cy->now));
	}

	/* Findings and the per-index metrics table. Problems first, so that a
	 * cap on findings (max_index_findings; the report has a size limit)
	 * never drops a problem in favour of a healthy index. */
	int64_t carried = 0, no_figure = 0;
	json_t *list = json_array();
	for (size_t i = 0; exact_ok && i < n; i++) {
		double w = ex[i].done ? ex[i].wasted : idx[i].have_last ? idx[i].last_wasted : NAN;
		if ((ex[i].done || idx[i].have_last) &&
		    probe_pg_frag_severity(w, (double)cfg->threshold) != EP_SEV_INFO)
			index_finding(r, c, cy, version, db, &idx[i], &ex[i]);
	}
	for (size_t i = 0; i < n; i++) {
		struct probe_pg_index *x = &idx[i];
		char object[512];
		const char *figure = "none";
		index_object(object, sizeof(object), db, x);
		if (ex[i].done || (x->have_last && exact_ok)) {
			double w = ex[i].done ? ex[i].wasted : x->last_wasted;
			if (probe_pg_frag_severity(w, (double)cfg->threshold) == EP_SEV_INFO)
				index_finding(r, c, cy, version, db, x, &ex[i]);
			figure = ex[i].done ? "exact" : "carried";
			if (!ex[i].done)
				carried++;
		} else if (!exact_ok) {
			estimate_finding(r, cy, db, x,
					 pst.installed ? "pgstatindex not permitted"
						       : "pgstattuple not installed");
			figure = "estimate";
		} else {
			no_figure++;
		}
		if (ex[i].error[0]) {
			char msg[700];
			ep_snprintf(msg, sizeof(msg), "not measured this cycle: %s%s", ex[i].error,
				    x->have_last ? " (the last exact figure is carried)" : "");
			struct ep_finding f = {
				.kind = "index_not_measured",
				.object = object,
				.value = (double)x->relpages,
				.unit = "pages",
				.threshold = NAN,
				.severity = EP_SEV_INFO,
				.method = "pgstatindex",
				.message = msg,
			};
			add_finding(r, &f, NULL);
		}
		if (list && json_array_size(list) < 200)
			json_array_append_new(
				list,
				json_pack("{s:s, s:I, s:o, s:b, s:s?, s:s, s:o, s:o}", "object",
					  object, "pages", (json_int_t)x->relpages, "estimate_pct",
					  jnum(x->estimate_pct), "estimate_trusted",
					  x->estimate_trusted, "untrusted_reason",
					  x->estimate_trusted ? NULL : x->untrusted_reason,
					  "figure", figure, "wasted_pct",
					  jnum(ex[i].done     ? ex[i].wasted
					       : x->have_last ? x->last_wasted
							      : NAN),
					  "leaf_fragmentation",
					  jnum(ex[i].done     ? ex[i].leaf_frag
					       : x->have_last ? x->last_leaf_frag
							      : NAN)));
	}
	json_object_set_new(m, "btree_indexes", json_integer((json_int_t)total));
	json_object_set_new(m, "indexes_considered", json_integer((json_int_t)n));
	json_object_set_new(m, "exact_measured", json_integer(measured));
	json_object_set_new(m, "exact_failed", json_integer(failed));
	json_object_set_new(m, "exact_carried", json_integer(carried));
	json_object_set_new(m, "exact_not_due", json_integer(not_due));
	json_object_set_new(m, "exact_over_budget", json_integer(over_budget));
	json_object_set_new(m, "exact_out_of_time", json_integer(out_of_time));
	json_object_set_new(m, "no_figure_yet", json_integer(no_figure));
	json_object_set_new(m, "exact_bytes_read", json_integer(bytes_read));
	json_object_set_new(m, "exact_ms", json_integer(ms_exact));
	json_object_set_new(m, "indexes", list);
	rc = 0;
out:
	for (size_t i = 0; i < n; i++)
		index_free(&idx[i]);
	free(idx);
	free(ex);
	probe_sql_rows_free(&rows);
	return rc;
}

/* ---- maintenance debt (per database) ----------------------------------- */

static void tables(struct probe_sql *c, struct probe_pg_cycle *cy, const char *db,
		   const struct ep_deadline *d, struct ep_probe_result *r, json_t *m)
{
	const struct probe_pg_settings *cfg = cy->cfg;
	struct probe_sql_rows rows;
	char err[300], st[6];

	if (run(c, d,
		"SELECT schemaname, relname, n_live_tup, n_dead_tup,"
		" extract(epoch FROM now() - greatest(last_vacuum, last_autovacuum))::bigint,"
		" extract(epoch FROM now() - greatest(last_analyze, last_autoanalyze))::bigint,"
		" extract(epoch FROM now() - coalesce(pg_catalog.pg_stat_get_db_stat_reset_time("
		"  (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())),"
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
		bool due = boolean(&rows, i, 7);
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
				.severity = EP_SEV_WARNING,
				.method = "pg_stat_user_tables",
				.message = msg,
				.remediation = rem,
			};
			add_finding(r, &f, json_pack("{s:I}", "dead_tuples", (json_int_t)dead));
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
			add_finding(r, &f, NULL);
		}
		if (vac_age > max_vac_age)
			max_vac_age = vac_age;
	}
	json_object_set_new(m, "top_dead_tuples", top);
	probe_sql_rows_free(&rows);
}

/* ---- cluster-wide ---------------------------------------------------------- */

static void cluster(struct probe_sql *c, struct probe_pg_cycle *cy, bool in_recovery,
		    const struct ep_deadline *d, struct ep_probe_result *r)
{
	const struct probe_pg_settings *cfg = cy->cfg;
	struct probe_sql_rows rows;
	char err[300], st[6], msg[500], object[300];
	json_t *m = r->metrics;

	/* wraparound */
	if (run(c, d,
		"SELECT datname, age(datfrozenxid), mxid_age(datminmxid),"
		" current_setting('autovacuum_freeze_max_age')::bigint,"
		" current_setting('autovacuum_multixact_freeze_max_age')::bigint"
		" FROM pg_catalog.pg_database ORDER BY 2 DESC",
		&rows, st, err, sizeof(err)) == 0) {
		json_t *w = json_object();
		for (size_t i = 0; i < rows.nrows; i++) {
			int64_t age = probe_sql_int(&rows, i, 1, 0),
				mxid = probe_sql_int(&rows, i, 2, 0);
			int64_t fmax = probe_sql_int(&rows, i, 3, 200000000),
				mmax = probe_sql_int(&rows, i, 4, 400000000);
			double pct = 100.0 * (double)age / WRAPAROUND;
			double mpct = 100.0 * (double)mxid / WRAPAROUND;
			double worst = pct > mpct ? pct : mpct;
			json_object_set_new(
				w, probe_sql_str(&rows, i, 0),
				json_pack("{s:I, s:f, s:f, s:I, s:f}", "xid_age", (json_int_t)age,
					  "pct_of_wraparound", pct, "pct_of_freeze_max_age",
					  100.0 * (double)age / (double)(fmax ? fmax : 1),
					  "mxid_age", (json_int_t)mxid,
					  "mxid_pct_of_freeze_max_age",
					  100.0 * (double)mxid / (double)(mmax ? mmax : 1)));
			ep_snprintf(msg, sizeof(msg),
				    "transaction id age %lld (%.1f%% of wraparound, %.0f%% of "
				    "autovacuum_freeze_max_age); multixact age %lld",
				    (long long)age, pct,
				    100.0 * (double)age / (double)(fmax ? fmax : 1),
				    (long long)mxid);
			char rem[300];
			ep_snprintf(rem, sizeof(rem),
				    "VACUUM (FREEZE, VERBOSE) in database %s, oldest tables first; "
				    "check for long transactions, prepared transactions and "
				    "replication slots holding back xmin",
				    probe_sql_str(&rows, i, 0));
			ep_snprintf(object, sizeof(object), "%s", probe_sql_str(&rows, i, 0));
			struct ep_finding f = {
				.kind = "xid_wraparound",
				.object = object,
				.value = worst,
				.unit = "%",
				.threshold = 50,
				.severity = worst >= 75   ? EP_SEV_CRITICAL
					    : worst >= 50 ? EP_SEV_WARNING
							  : EP_SEV_INFO,
				.method = "pg_database",
				.message = msg,
				.remediation = worst >= 50 ? rem : NULL,
			};
			add_finding(r, &f, NULL);
		}
		json_object_set_new(m, "wraparound", w);
		probe_sql_rows_free(&rows);
	}

	/* sessions: long transactions, idle in transaction (no query text: it may
	 * hold customer data) */
	if (run(c, d,
		"SELECT pid, usename, datname, state,"
		" extract(epoch FROM now() - xact_start)::bigint,"
		" extract(epoch FROM now() - state_change)::bigint, backend_xmin IS NOT NULL"
		" FROM pg_catalog.pg_stat_activity WHERE xact_start IS NOT NULL"
		" AND pid <> pg_catalog.pg_backend_pid() AND backend_type = 'client backend'"
		" ORDER BY xact_start LIMIT 50",
		&rows, st, err, sizeof(err)) == 0) {
		int64_t oldest = 0, n_long = 0, n_idle = 0;
		for (size_t i = 0; i < rows.nrows; i++) {
			int64_t xage = probe_sql_int(&rows, i, 4, 0),
				sage = probe_sql_int(&rows, i, 5, 0);
			bool idle =
				strncmp(probe_sql_str(&rows, i, 3), "idle in transaction", 19) == 0;
			if (xage > oldest)
				oldest = xage;
			ep_snprintf(object, sizeof(object), "pid %s (%s@%s)",
				    probe_sql_str(&rows, i, 0), probe_sql_str(&rows, i, 1),
				    probe_sql_str(&rows, i, 2));
			if (idle && sage >= cfg->idle_xact_s) {
				n_idle++;
				ep_snprintf(msg, sizeof(msg),
					    "session idle in transaction for %lld s (transaction "
					    "open %lld s)%s",
					    (long long)sage, (long long)xage,
					    boolean(&rows, i, 6) ? ", holding back vacuum" : "");
				struct ep_finding f = {
					.kind = "idle_in_transaction",
					.object = object,
					.value = (double)sage,
					.unit = "s",
					.threshold = (double)cfg->idle_xact_s,
					.severity = EP_SEV_WARNING,
					.method = "pg_stat_activity",
					.message = msg,
					.remediation =
						"find the application that leaves transactions "
						"open; set idle_in_transaction_session_timeout; "
						"SELECT pg_terminate_backend(pid) ends it",
				};
				add_finding(r, &f, NULL);
			} else if (!idle && xage >= cfg->long_xact_s) {
				n_long++;
				ep_snprintf(msg, sizeof(msg), "transaction running for %lld s",
					    (long long)xage);
				struct ep_finding f = {
					.kind = "long_transaction",
					.object = object,
					.value = (double)xage,
					.unit = "s",
					.threshold = (double)cfg->long_xact_s,
					.severity = EP_SEV_WARNING,
					.method = "pg_stat_activity",
					.message = msg,
				};
				add_finding(r, &f, NULL);
			}
		}
		json_object_set_new(m, "oldest_transaction_s", json_integer(oldest));
		json_object_set_new(m, "long_transactions", json_integer(n_long));
		json_object_set_new(m, "idle_in_transaction", json_integer(n_idle));
		probe_sql_rows_free(&rows);
	}

	/* prepared transactions */
	if (run(c, d,
		"SELECT gid, extract(epoch FROM now() - prepared)::bigint, database"
		" FROM pg_catalog.pg_prepared_xacts ORDER BY prepared LIMIT 20",
		&rows, st, err, sizeof(err)) == 0) {
		json_object_set_new(m, "prepared_transactions",
				    json_integer((json_int_t)rows.nrows));
		for (size_t i = 0; i < rows.nrows; i++) {
			int64_t age = probe_sql_int(&rows, i, 1, 0);
			if (age < cfg->long_xact_s)
				continue;
			ep_snprintf(object, sizeof(object), "prepared %s (%s)",
				    probe_sql_str(&rows, i, 0), probe_sql_str(&rows, i, 2));
			ep_snprintf(msg, sizeof(msg),
				    "prepared transaction open for %lld s holds back xmin (vacuum "
				    "and wraparound protection)",
				    (long long)age);
			struct ep_finding f = {
				.kind = "long_transaction",
				.object = object,
				.value = (double)age,
				.unit = "s",
				.threshold = (double)cfg->long_xact_s,
				.severity = EP_SEV_WARNING,
				.method = "pg_prepared_xacts",
				.message = msg,
				.remediation = "COMMIT PREPARED or ROLLBACK PREPARED it, after "
					       "checking with its transaction manager",
			};
			add_finding(r, &f, NULL);
		}
		probe_sql_rows_free(&rows);
	}

	/* replication slots holding back xmin or WAL */
	if (run(c, d,
		in_recovery
			? "SELECT slot_name, slot_type, active, age(xmin), age(catalog_xmin), NULL"
			  " FROM pg_catalog.pg_replication_slots"
			: "SELECT slot_name, slot_type, active, age(xmin), age(catalog_xmin),"
			  " pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), "
			  "restart_lsn)::bigint"
			  " FROM pg_catalog.pg_replication_slots",
		&rows, st, err, sizeof(err)) == 0) {
		json_object_set_new(m, "replication_slots", json_integer((json_int_t)rows.nrows));
		for (size_t i = 0; i < rows.nrows; i++) {
			int64_t xa = probe_sql_int(&rows, i, 3, -1),
				cxa = probe_sql_int(&rows, i, 4, -1);
			int64_t wal = probe_sql_int(&rows, i, 5, 0);
			bool active = boolean(&rows, i, 2);
			if (active && wal < (1LL << 30))
				continue;
			if (!active && xa < 0 && cxa < 0 && wal < (1LL << 30))
				continue;
			ep_snprintf(object, sizeof(object), "slot %s", probe_sql_str(&rows, i, 0));
			ep_snprintf(msg, sizeof(msg),
				    "%s replication slot retains %lld bytes of WAL%s",
				    active ? "active" : "inactive", (long long)wal,
				    xa >= 0 || cxa >= 0 ? " and holds back xmin" : "");
			char rem[300];
			ep_snprintf(rem, sizeof(rem),
				    "if the slot's consumer is gone: SELECT "
				    "pg_drop_replication_slot('%s');",
				    probe_sql_str(&rows, i, 0));
			struct ep_finding f = {
				.kind = "replication_lag",
				.object = object,
				.value = (double)wal,
				.unit = "bytes",
				.threshold = (double)(1LL << 30),
				.severity = EP_SEV_WARNING,
				.method = "pg_replication_slots",
				.message = msg,
				.remediation = active ? NULL : rem,
			};
			add_finding(r, &f, NULL);
		}
		probe_sql_rows_free(&rows);
	}

	/* connections */
	if (run(c, d,
		"SELECT (SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type ="
		" 'client backend'), current_setting('max_connections')::int,"
		" current_setting('superuser_reserved_connections')::int",
		&rows, st, err, sizeof(err)) == 0 &&
	    rows.nrows == 1) {
		int64_t used = probe_sql_int(&rows, 0, 0, 0), max = probe_sql_int(&rows, 0, 1, 100),
			res = probe_sql_int(&rows, 0, 2, 3);
		double avail = (double)(max - res > 0 ? max - res : 1);
		double pct = 100.0 * (double)used / avail;
		json_object_set_new(m, "connections",
				    json_pack("{s:I, s:I, s:I, s:f}", "used", (json_int_t)used,
					      "max", (json_int_t)max, "reserved", (json_int_t)res,
					      "pct", pct));
		ep_snprintf(msg, sizeof(msg), "%lld of %lld usable connections in use",
			    (long long)used, (long long)(max - res));
		struct ep_finding f = {
			.kind = "connections",
			.object = "server",
			.value = pct,
			.unit = "%",
			.threshold = 80,
			.severity = pct >= 95   ? EP_SEV_CRITICAL
				    : pct >= 80 ? EP_SEV_WARNING
						: EP_SEV_INFO,
			.method = "pg_stat_activity",
			.message = msg,
			.remediation = pct >= 80 ? "use a connection pooler (PgBouncer) or raise "
						   "max_connections"
						 : NULL,
		};
		add_finding(r, &f, NULL);
	}
	probe_sql_rows_free(&rows);

	/* cache hit ratio */
	if (run(c, d,
		"SELECT sum(blks_hit)::bigint, sum(blks_read)::bigint FROM "
		"pg_catalog.pg_stat_database",
		&rows, st, err, sizeof(err)) == 0 &&
	    rows.nrows == 1) {
		int64_t hit = probe_sql_int(&rows, 0, 0, 0), rd = probe_sql_int(&rows, 0, 1, 0);
		if (hit + rd > 0) {
			double ratio = 100.0 * (double)hit / (double)(hit + rd);
			json_object_set_new(m, "cache_hit_ratio", json_real(ratio));
			if (hit + rd >= 100000) {
				ep_snprintf(msg, sizeof(msg),
					    "%.2f%% of block reads found in shared buffers", ratio);
				struct ep_finding f = {
					.kind = "cache_hit_ratio",
					.object = "server",
					.value = ratio,
					.unit = "%",
					.threshold = 90,
					.severity = ratio < 90 ? EP_SEV_WARNING : EP_SEV_INFO,
					.method = "pg_stat_database",
					.message = msg,
					.remediation = ratio < 90
							       ? "consider a larger shared_buffers "
								 "(and RAM)"
							       : NULL,
				};
				add_finding(r, &f, NULL);
			}
		}
	}
	probe_sql_rows_free(&rows);

	/* WAL archiver */
	if (run(c, d,
		"SELECT current_setting('archive_mode'), archived_count, failed_count,"
		" extract(epoch FROM now() - last_archived_time)::bigint,"
		" coalesce(last_failed_time > coalesce(last_archived_time, '-infinity'), false)"
		" FROM pg_catalog.pg_stat_archiver",
		&rows, st, err, sizeof(err)) == 0 &&
	    rows.nrows == 1) {
		const char *mode = probe_sql_str(&rows, 0, 0);
		json_object_set_new(m, "archive_mode", json_string(mode));
		if (strcmp(mode, "off") != 0) {
			int64_t failed = probe_sql_int(&rows, 0, 2, 0),
				age = probe_sql_int(&rows, 0, 3, -1);
			bool failing = boolean(&rows, 0, 4);
			json_object_set_new(m, "archiver",
					    json_pack("{s:I, s:I, s:I, s:b}", "archived",
						      (json_int_t)probe_sql_int(&rows, 0, 1, 0),
						      "failed", (json_int_t)failed,
						      "last_archived_age_s", (json_int_t)age,
						      "failing", failing));
			ep_snprintf(msg, sizeof(msg),
				    "%s; last WAL segment archived %s%lld s ago; %lld failures",
				    failing ? "archiving is FAILING" : "archiving works",
				    age < 0 ? "never, " : "", (long long)(age < 0 ? 0 : age),
				    (long long)failed);
			struct ep_finding f = {
				.kind = "wal_archiver",
				.object = "server",
				.value = age < 0 ? 0 : (double)age / 3600,
				.unit = "hours",
				.threshold = 24,
				.severity = failing       ? EP_SEV_CRITICAL
					    : age > 86400 ? EP_SEV_WARNING
							  : EP_SEV_INFO,
				.method = "pg_stat_archiver",
				.message = msg,
				.remediation =
					failing ? "check archive_command and the server log; "
						  "WAL piles up in pg_wal until it works"
						: NULL,
			};
			add_finding(r, &f, NULL);
		}
	}
	probe_sql_rows_free(&rows);

	/* replication lag */
	if (run(c, d,
		in_recovery ? "SELECT 'replay', extract(epoch FROM now() -"
			      " pg_catalog.pg_last_xact_replay_timestamp())::float8, NULL"
			    : "SELECT application_name, extract(epoch FROM replay_lag)::float8,"
			      " pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(),"
			      " replay_lsn)::bigint FROM pg_catalog.pg_stat_replication",
		&rows, st, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < rows.nrows; i++) {
			double lag = probe_sql_num(&rows, i, 1);
			if (!isfinite(lag))
				lag = 0;
			ep_snprintf(object, sizeof(object), "%s %s",
				    in_recovery ? "this replica" : "replica",
				    probe_sql_str(&rows, i, 0));
			ep_snprintf(msg, sizeof(msg), "replay lag %.1f s", lag);
			struct ep_finding f = {
				.kind = "replication_lag",
				.object = object,
				.value = lag,
				.unit = "s",
				.threshold = 300,
				.severity = lag >= 300 ? EP_SEV_WARNING : EP_SEV_INFO,
				.method = in_recovery ? "pg_last_xact_replay_timestamp"
						      : "pg_stat_replication",
				.message = msg,
			};
			add_finding(r, &f, NULL);
		}
		probe_sql_rows_free(&rows);
	}
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
	rc = run(c, d,
		 "SELECT current_setting('server_version_num')::int, "
		 "current_setting('server_version'),"
		 " current_user, pg_catalog.pg_is_in_recovery(),"
		 " pg_catalog.pg_database_size(current_database()),"
		 " current_setting('block_size')::int",
		 &rows, st, err, errlen);
	if (rc < 0)
		return rc;
	int version = (int)probe_sql_int(&rows, 0, 0, 0);
	bool in_recovery = boolean(&rows, 0, 3);
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

	fragmentation(c, cy, db, version, user, d, r, m);
	tables(c, cy, db, d, r, m);
	if (!cy->cluster_done) {
		cluster(c, cy, in_recovery, d, r);
		cy->cluster_done = true;
	}
	return 0;
}
