/* Pure pieces of the PostgreSQL checks: figures, verdicts, ordering, quoting,
 * result tables. No I/O here, so tests/unit/test_postgres_frag.c covers it
 * directly. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probes/postgres/pg.h"

const char *probe_sql_cell(const struct probe_sql_rows *r, size_t row, size_t col)
{
	if (!r || row >= r->nrows || col >= r->ncols)
		return NULL;
	return r->cells[row * r->ncols + col];
}

const char *probe_sql_str(const struct probe_sql_rows *r, size_t row, size_t col)
{
	const char *s = probe_sql_cell(r, row, col);
	return s ? s : "";
}

double probe_sql_num(const struct probe_sql_rows *r, size_t row, size_t col)
{
	const char *s = probe_sql_cell(r, row, col);
	char *end;

	if (!s || !*s)
		return NAN;
	double v = strtod(s, &end); /* "NaN" (PostgreSQL's numeric NaN) gives NAN */
	return *end ? NAN : v;
}

int64_t probe_sql_int(const struct probe_sql_rows *r, size_t row, size_t col, int64_t def)
{
	const char *s = probe_sql_cell(r, row, col);
	int64_t v;

	if (!s || ep_parse_int64(s, INT64_MIN, INT64_MAX, &v) < 0)
		return def;
	return v;
}

void probe_sql_rows_free(struct probe_sql_rows *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nrows * r->ncols; i++)
		free(r->cells[i]);
	free(r->cells);
	r->cells = NULL;
	r->nrows = r->ncols = 0;
}

int probe_sql_rows_add(struct probe_sql_rows *r, size_t ncols, const char *const *cells)
{
	if (r->nrows == 0 && r->ncols == 0)
		r->ncols = ncols;
	if (ncols != r->ncols)
		return -EINVAL;
	if (r->nrows > (SIZE_MAX / sizeof(char *)) / (ncols ? ncols : 1) - 1)
		return -ENOMEM;
	char **n = realloc(r->cells, (r->nrows + 1) * (ncols ? ncols : 1) * sizeof(char *));
	if (!n)
		return -ENOMEM;
	r->cells = n;
	char **row = n + r->nrows * ncols;
	for (size_t i = 0; i < ncols; i++) {
		row[i] = NULL;
		if (cells[i] && !(row[i] = strdup(cells[i]))) {
			for (size_t j = 0; j < i; j++)
				free(row[j]);
			return -ENOMEM;
		}
	}
	r->nrows++;
	return 0;
}

int probe_pg_quote_ident(const char *ident, char *out, size_t outlen)
{
	size_t o = 0;

	if (outlen < 3)
		return -ENOSPC;
	out[o++] = '"';
	for (const char *p = ident; *p; p++) {
		size_t need = *p == '"' ? 2 : 1;
		if (o + need + 2 > outlen) {
			out[0] = '\0';
			return -ENOSPC;
		}
		out[o++] = *p;
		if (*p == '"')
			out[o++] = '"';
	}
	out[o++] = '"';
	out[o] = '\0';
	return 0;
}

static int parse_hhmm(const char *s, size_t len, int *ret)
{
	int h, m;

	if (len != 5 || s[2] != ':')
		return -EINVAL;
	for (size_t i = 0; i < 5; i++)
		if (i != 2 && (s[i] < '0' || s[i] > '9'))
			return -EINVAL;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (h > 24 || m > 59 || (h == 24 && m != 0))
		return -EINVAL;
	*ret = h * 60 + m;
	return 0;
}

int probe_pg_window_option(const struct ep_config_section *s, const struct ep_option *opts,
			   const char *probe, bool *ret_have, int *ret_from, int *ret_to, char *err,
			   size_t errlen)
{
	const char *window = NULL;
	int rc = ep_config_get_string(s, opts, "maintenance_window", &window, err, errlen);

	*ret_have = false;
	if (rc == -ENOENT || (rc == 0 && (!window || !*window)))
		return 0;
	if (rc < 0)
		return rc;
	if (probe_pg_window_parse(window, ret_from, ret_to) < 0) {
		ep_snprintf(err, errlen, "%s:%d: [%s] maintenance_window: '%s' is not HH:MM-HH:MM",
			    s && s->file ? s->file : "config", s ? s->line : 0, s ? s->name : probe,
			    window);
		return -EINVAL;
	}
	*ret_have = true;
	return 0;
}

int probe_pg_window_parse(const char *spec, int *ret_from, int *ret_to)
{
	const char *dash = spec ? strchr(spec, '-') : NULL;
	int from, to;

	if (!dash || parse_hhmm(spec, (size_t)(dash - spec), &from) < 0 ||
	    parse_hhmm(dash + 1, strlen(dash + 1), &to) < 0 || from == to)
		return -EINVAL;
	*ret_from = from;
	*ret_to = to;
	return 0;
}

bool probe_pg_window_contains(int from, int to, int minute)
{
	if (from < to)
		return minute >= from && minute < to;
	return minute >= from || minute < to; /* wraps midnight */
}

double probe_pg_wasted_pct(double avg_leaf_density, double fillfactor)
{
	if (!isfinite(avg_leaf_density) || !isfinite(fillfactor) || fillfactor <= 0)
		return NAN;
	double w = 100.0 * (1.0 - avg_leaf_density / fillfactor);
	if (w < 0)
		w = 0;
	if (w > 100)
		w = 100;
	return w;
}

double probe_pg_frag_critical(double threshold)
{
	return threshold * 2 > 95 ? 95 : threshold * 2;
}

enum ep_severity probe_pg_frag_severity(double wasted_pct, double threshold)
{
	double crit = probe_pg_frag_critical(threshold);

	if (!isfinite(wasted_pct) || wasted_pct < threshold)
		return EP_SEV_INFO;
	return wasted_pct >= crit ? EP_SEV_CRITICAL : EP_SEV_WARNING;
}

struct order_ctx {
	double threshold;
	time_t now;
	int64_t remeasure_after_s;
};

const char *probe_pg_carry_mismatch(uint32_t oid, uint32_t filenode, int64_t relpages,
				    int64_t last_oid, int64_t last_filenode, int64_t last_relpages)
{
	if (last_oid < 0 || last_filenode < 0 || last_relpages < 0)
		return "measured before the agent kept the index's identity";
	if ((int64_t)oid != last_oid)
		return "replaced (a new index under the same name: REINDEX CONCURRENTLY, or "
		       "dropped and created again)";
	if ((int64_t)filenode != last_filenode)
		return "rebuilt (REINDEX, VACUUM FULL or CLUSTER of its table)";
	int64_t diff =
		relpages > last_relpages ? relpages - last_relpages : last_relpages - relpages;
	if (diff * 10 > last_relpages)
		return "resized by more than 10%";
	return NULL;
}

static int order_class(const struct probe_pg_index *x, const struct order_ctx *o)
{
	bool due = !x->have_last || (o->now - x->last_at) >= o->remeasure_after_s;
	bool suspect = !x->estimate_trusted || !isfinite(x->estimate_pct) ||
		       x->estimate_pct >= o->threshold / 2;
	if (x->changed)
		return PROBE_PG_CHANGED;
	if (!due)
		return PROBE_PG_CARRY;
	return suspect ? PROBE_PG_SUSPECT : PROBE_PG_DUE;
}

static double order_estimate(const struct probe_pg_index *x)
{
	/* Untrusted or missing estimates sort as the worst: they must be measured. */
	if (!x->estimate_trusted || !isfinite(x->estimate_pct))
		return 1000;
	return x->estimate_pct;
}

static int cmp_index(const struct probe_pg_index *a, const struct probe_pg_index *b)
{
	if (a->order_class != b->order_class)
		return a->order_class < b->order_class ? -1 : 1;
	if (a->order_class == PROBE_PG_CARRY && a->last_at != b->last_at)
		return a->last_at < b->last_at ? -1 : 1; /* oldest figure first */
	double ea = order_estimate(a), eb = order_estimate(b);
	if (ea != eb)
		return ea > eb ? -1 : 1;
	if (a->relpages != b->relpages)
		return a->relpages > b->relpages ? -1 : 1;
	return a->oid < b->oid ? -1 : a->oid > b->oid;
}

void probe_pg_order(struct probe_pg_index *idx, size_t n, double threshold, time_t now,
		    int64_t remeasure_after_s)
{
	struct order_ctx o = {threshold, now, remeasure_after_s};

	for (size_t i = 0; i < n; i++)
		idx[i].order_class = order_class(&idx[i], &o);
	/* insertion sort: n is the number of indexes worth measuring (hundreds) */
	for (size_t i = 1; i < n; i++) {
		struct probe_pg_index v = idx[i];
		size_t j = i;
		while (j > 0 && cmp_index(&idx[j - 1], &v) > 0) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = v;
	}
}

int probe_pg_remediation(int server_version_num, const char *qschema, const char *qname, char *out,
			 size_t outlen)
{
	return ep_snprintf(out, outlen, "REINDEX INDEX %s%s.%s;",
			   server_version_num >= 120000 ? "CONCURRENTLY " : "", qschema, qname);
}

const char *probe_pg_remediation_lock(int server_version_num)
{
	if (server_version_num >= 120000)
		return "REINDEX CONCURRENTLY takes a SHARE UPDATE EXCLUSIVE lock: reads and writes "
		       "go on; it cannot run inside a transaction block and needs about the "
		       "index's size in extra disk space while it runs";
	return "REINDEX takes a SHARE lock on the table (writes wait) and an ACCESS EXCLUSIVE "
	       "lock on the index (queries using it wait); it needs about the index's size in "
	       "extra disk space; run it in a maintenance window";
}
