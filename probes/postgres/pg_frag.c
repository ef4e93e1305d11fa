/* Index fragmentation over a probe_sql runner: the catalog estimate orders
 * the work, exact pgstatindex() within the I/O budget gives the verdicts,
 * figures are carried between cycles in the probe state.
 * docs/fragmentation.md explains the rules. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probes/erp/erp.h"
#include "probes/postgres/pg.h"

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
	"  i.indisunique, i.indnatts::int AS indnatts, i.indkey, i.indrelid,"
	"  ci.relfilenode::bigint AS filenode"
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
	"  indisunique, indnatts, stats_cols, is_na, lead_ndistinct, tbltuples, filenode,"
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
	CAT_FILENODE,
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
	if (probe_pg_bool(rows, i, CAT_IS_NA))
		return "name-type key columns";
	if (version >= 130000 && !probe_pg_bool(rows, i, CAT_DEDUP_OFF) &&
	    !probe_pg_bool(rows, i, CAT_UNIQUE) && isfinite(nd)) {
		double frac = nd < 0 ? -nd : nd / (tbltuples > 1 ? tbltuples : 1);
		if (frac < 0.5)
			return "repeated keys: B-tree deduplication (PostgreSQL 13+) defeats the "
			       "estimate";
	}
	return NULL;
}

static int64_t int_or(json_t *o, const char *key, int64_t def)
{
	json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

/* The figure carried from an earlier cycle, when it is still this index's
 * (probe_pg_carry_mismatch); otherwise x->changed says why it is not. */
static void load_last(struct probe_pg_index *x, json_t *exact, const char *object)
{
	json_t *e = json_object_get(exact, object);
	json_t *at = json_object_get(e, "at");
	if (!json_is_object(e) || !json_is_integer(at))
		return;
	x->changed = probe_pg_carry_mismatch(x->oid, x->filenode, x->relpages, int_or(e, "oid", -1),
					     int_or(e, "filenode", -1), int_or(e, "relpages", -1));
	if (x->changed)
		return; /* a figure of another index: never shown as this one's */
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
	probe_pg_time_text(when, at, sizeof(at));
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
		.critical_threshold = probe_pg_frag_critical(thr),
		.min_size = (double)cy->cfg->min_index_pages,
		.size = (double)pages,
		.size_unit = "pages",
		.severity = sev,
		.method = method,
		.message =
			sev == EP_SEV_INFO ? NULL : msg, /* healthy: figures only (report size) */
		.remediation = sev == EP_SEV_INFO ? NULL : rem,
	};
	json_t *extra = json_pack(
		"{s:I, s:I, s:o, s:o, s:i, s:s, s:I, s:b, s:o, s:b}", "pages", (json_int_t)pages,
		"bytes", (json_int_t)(pages * cy->block_size), "leaf_fragmentation",
		probe_pg_jnum(leaf), "avg_leaf_density", probe_pg_jnum(density), "fillfactor",
		x->fillfactor, "measured_at", at, "age_s", (json_int_t)(cy->now - when), "carried",
		!e->done, "estimate_pct", probe_pg_jnum(x->estimate_pct), "estimate_trusted",
		x->estimate_trusted);
	json_t *j = probe_pg_add_finding(r, &f, extra);
	if (!j)
		return;
	cy->index_findings++;
	/* an index of a known ERP table names its module and business function
	 * ("sale_line: sales order lines, module sale"); month-end rule (issue 14) */
	probe_erp_annotate_table(j, x->table, cy->now, (int)cy->cfg->month_end_days);
	/* measured again because the index is no longer the one measured before:
	 * the collector's clear notice then says "after rebuild" (docs/alerts.md) */
	if (e->done && x->changed) {
		json_object_set_new(j, "changed", json_string(x->changed));
		if (strncmp(x->changed, "rebuilt", 7) == 0 ||
		    strncmp(x->changed, "replaced", 8) == 0)
			json_object_set_new(j, "rebuilt", json_true());
	}
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
		.min_size = (double)cy->cfg->min_index_pages,
		.size = (double)x->relpages,
		.size_unit = "pages",
		.severity = EP_SEV_INFO,
		.method = "estimate (btree bloat query)",
		.message = msg,
	};
	json_t *extra = json_pack("{s:I, s:b}", "pages", (json_int_t)x->relpages,
				  "estimate_trusted", x->estimate_trusted);
	if (probe_pg_add_finding(r, &f, extra))
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
	probe_pg_add_finding(r, &f, NULL);
}

int probe_pg_fragmentation(struct probe_sql *c, struct probe_pg_cycle *cy, const char *db,
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
	rc = probe_pg_run(
		c, d,
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
		pst.can_execute = probe_pg_bool(&ext, 0, 2);
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

	rc = probe_pg_run(c, d, catalog_sql, &rows, st, err, sizeof(err));
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
		x->filenode = (uint32_t)probe_sql_int(&rows, i, CAT_FILENODE, 0);
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
	int64_t measured = 0, failed = 0, over_budget = 0, not_due = 0, out_of_time = 0,
		changed = 0;
	int64_t bytes_read = 0, ms_exact = 0;
	bool exact_ok = pst.installed && pst.can_execute;
	for (size_t i = 0; exact_ok && i < n; i++) {
		struct probe_pg_index *x = &idx[i];
		int64_t bytes = x->relpages * cy->block_size;
		if (x->order_class == PROBE_PG_CARRY) {
			not_due++;
			continue;
		}
		if (x->changed)
			changed++;
		if (bytes > cy->budget_left_bytes) {
			over_budget++;
			if (x->changed)
				ep_snprintf(ex[i].error, sizeof(ex[i].error),
					    "%s since its last exact figure, and larger than what "
					    "is left of this cycle's I/O budget (exact_budget_mb)",
					    x->changed);
			continue;
		}
		/* about 2 ms per MB read cold; leave the rest of the deadline alone */
		if (ep_deadline_left_ms(d) < 500 + bytes / (512 * 1024)) {
			out_of_time++;
			if (x->changed)
				ep_snprintf(ex[i].error, sizeof(ex[i].error),
					    "%s since its last exact figure; the probe's deadline "
					    "came first",
					    x->changed);
			continue;
		}
		char sql[400];
		struct probe_sql_rows e;
		ep_snprintf(sql, sizeof(sql),
			    "SELECT avg_leaf_density, leaf_fragmentation, leaf_pages, index_size "
			    "FROM %s.pgstatindex('%u'::pg_catalog.oid::pg_catalog.regclass)",
			    pst.schema, x->oid);
		int64_t t0 = ep_mono_ms();
		rc = probe_pg_run(c, d, sql, &e, st, ex[i].error, sizeof(ex[i].error));
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
		json_object_set_new(
			state_exact, object,
			json_pack("{s:f, s:o, s:f, s:I, s:I, s:I, s:I, s:I}", "wasted",
				  ex[i].wasted, "leaf_fragmentation",
				  probe_pg_jnum(ex[i].leaf_frag), "avg_leaf_density", ex[i].density,
				  "pages", (json_int_t)(ex[i].index_size / cy->block_size), "at",
				  (json_int_t)cy->now, "oid", (json_int_t)x->oid, "filenode",
				  (json_int_t)x->filenode, "relpages", (json_int_t)x->relpages));
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
			probe_pg_add_finding(r, &f, NULL);
		}
		if (list && json_array_size(list) < 200)
			json_array_append_new(
				list,
				json_pack("{s:s, s:I, s:o, s:b, s:s?, s:s, s:o, s:o}", "object",
					  object, "pages", (json_int_t)x->relpages, "estimate_pct",
					  probe_pg_jnum(x->estimate_pct), "estimate_trusted",
					  x->estimate_trusted, "untrusted_reason",
					  x->estimate_trusted ? NULL : x->untrusted_reason,
					  "figure", figure, "wasted_pct",
					  probe_pg_jnum(ex[i].done     ? ex[i].wasted
							: x->have_last ? x->last_wasted
								       : NAN),
					  "leaf_fragmentation",
					  probe_pg_jnum(ex[i].done     ? ex[i].leaf_frag
							: x->have_last ? x->last_leaf_frag
								       : NAN)));
	}
	json_object_set_new(m, "btree_indexes", json_integer((json_int_t)total));
	json_object_set_new(m, "indexes_considered", json_integer((json_int_t)n));
	json_object_set_new(m, "exact_measured", json_integer(measured));
	json_object_set_new(m, "exact_failed", json_integer(failed));
	json_object_set_new(m, "exact_carried", json_integer(carried));
	json_object_set_new(m, "exact_not_due", json_integer(not_due));
	json_object_set_new(m, "exact_changed", json_integer(changed));
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
