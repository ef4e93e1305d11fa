/* A host's history as the forecasts see it, and the forecasts of one
 * report (history.h; docs/forecasts.md "Input"): the raw samples of the
 * recent days plus the hourly rollups of the older ones, read in one query,
 * so that the points per series stay bounded (about 2 x 144 raw + 28 x 24
 * hourly in a 30-day window) whatever a host's age. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/analysis/alerts.h"
#include "collector/analysis/history.h"
#include "collector/store/sql.h"
#include "erpulse/report.h"
#include "erpulse/util.h"

#define HISTORY_MAX 5000 /* samples used per series */

/* ---- forecasts ------------------------------------------------------------ */

void coll_fc_set_free(struct fc_set *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->objects[i]);
	free(f->objects);
	free(f->v);
}

/* Makes room in *v (*cap elements of size bytes) for element n: doubles
 * the capacity when full. 0 or -ENOMEM (*v untouched). */
static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 16;
	void *nv = realloc(*v, ncap * size);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

/* Every forecastable point of the agent in the window, newest first per
 * series (at most HISTORY_MAX each): the raw samples, then the hourly
 * rollups of older ones (store/partitions.c rolls samples past
 * keep_samples_days up by whole hours). One query per report, UNION ALL of
 * the two tables without ORDER BY (SQLite walks each primary key in
 * order; a merge of the two would cost about as much as reading them);
 * the rows are put in order here: per series and table a run that is
 * already in time order one way or the other (reversed in place when
 * ascending, sorted only when neither), raw before rolled up. */
struct history_group {
	char *series;
	size_t n_raw, n_rolled; /* rows read */
	size_t from, n;         /* the series' points: v[from .. from + n) */
};

struct history_row {
	uint32_t group;
	bool rolled;
	struct coll_sample p;
};

struct history {
	struct history_row *rows; /* as read */
	size_t n_rows, cap_rows;
	struct coll_sample *v; /* grouped and ordered (history_order) */
	struct history_group *g;
	size_t n_g, cap_g;
	uint32_t last; /* the group of the previous row */
};

#define HOUR            3600
#define SECURITY_PREFIX "security_updates:"

static int history_row(void *ctx, const struct coll_db_row *row)
{
	struct history *h = ctx;
	const char *series = coll_db_row_text(row, 0);
	if (!series)
		return 0;
	uint32_t k = h->last;
	if (k >= h->n_g || strcmp(h->g[k].series, series) != 0) {
		for (k = 0; k < h->n_g && strcmp(h->g[k].series, series) != 0; k++)
			;
		if (k == h->n_g) {
			if (h->n_g >= UINT32_MAX ||
			    grow((void **)&h->g, &h->cap_g, h->n_g, sizeof(*h->g)) < 0)
				return -ENOMEM;
			h->g[k] = (struct history_group){.series = strdup(series)};
			if (!h->g[k].series)
				return -ENOMEM;
			h->n_g++;
		}
		h->last = k;
	}
	if (grow((void **)&h->rows, &h->cap_rows, h->n_rows, sizeof(*h->rows)) < 0)
		return -ENOMEM;
	struct history_row *r = &h->rows[h->n_rows++];
	r->group = k;
	r->rolled = coll_db_row_int(row, 4) != 0;
	r->p.t = coll_db_row_int(row, 1);
	r->p.v = coll_db_row_double(row, 2);
	if (r->rolled) {
		/* an hour's rollup: its mean at the hour's middle; for the age
		 * of pending security updates its minimum (a zero in the hour
		 * ends the run, coll_pending_since) */
		r->p.t += HOUR / 2;
		if (strncmp(series, SECURITY_PREFIX, strlen(SECURITY_PREFIX)) == 0)
			r->p.v = coll_db_row_double(row, 3);
	}
	if (r->rolled)
		h->g[k].n_rolled++;
	else
		h->g[k].n_raw++;
	return 0;
}

static int newest_first(const void *a, const void *b)
{
	const struct coll_sample *x = a, *y = b;
	return x->t < y->t ? 1 : x->t > y->t ? -1 : 0;
}

/* Puts v[0..n) newest first: nothing to do, a reversal, or a sort. */
static void order_run(struct coll_sample *v, size_t n)
{
	bool desc = true, asc = true;
	for (size_t i = 1; i < n && (desc || asc); i++) {
		if (v[i].t > v[i - 1].t)
			desc = false;
		if (v[i].t < v[i - 1].t)
			asc = false;
	}
	if (desc)
		return;
	if (asc) {
		for (size_t i = 0, j = n - 1; i < j; i++, j--) {
			struct coll_sample x = v[i];
			v[i] = v[j];
			v[j] = x;
		}
		return;
	}
	qsort(v, n, sizeof(*v), newest_first);
}

/* The rows read into v, per series: raw then rolled up, each newest
 * first (one sort of the series when the two overlap in time: samples
 * that arrived late, or keep_samples_days changed), at most HISTORY_MAX. */
static int history_order(struct history *h)
{
	size_t at = 0;
	h->v = malloc((h->n_rows ? h->n_rows : 1) * sizeof(*h->v));
	size_t *next = calloc(2 * (h->n_g ? h->n_g : 1), sizeof(*next));
	if (!h->v || !next) {
		free(next);
		return -ENOMEM;
	}
	for (size_t k = 0; k < h->n_g; k++) {
		h->g[k].from = at;
		next[2 * k] = at;
		next[2 * k + 1] = at + h->g[k].n_raw;
		at += h->g[k].n_raw + h->g[k].n_rolled;
	}
	for (size_t i = 0; i < h->n_rows; i++)
		h->v[next[2 * h->rows[i].group + h->rows[i].rolled]++] = h->rows[i].p;
	free(next);
	for (size_t k = 0; k < h->n_g; k++) {
		struct history_group *g = &h->g[k];
		struct coll_sample *raw = &h->v[g->from], *rolled = raw + g->n_raw;
		order_run(raw, g->n_raw);
		order_run(rolled, g->n_rolled);
		g->n = g->n_raw + g->n_rolled;
		if (g->n_raw && g->n_rolled && rolled[0].t > raw[g->n_raw - 1].t)
			qsort(raw, g->n, sizeof(*raw), newest_first);
		if (g->n > HISTORY_MAX)
			g->n = HISTORY_MAX;
	}
	free(h->rows);
	h->rows = NULL;
	return 0;
}

/* The agent's history by its series (migration 12), each table's key by
 * series id. PostgreSQL: the agent's ids as one array (an InitPlan), so
 * that each time partition is scanned once for all of them; the join per
 * series that SQLite plans (one key range each, cheap there) scanned every
 * partition once per series on PostgreSQL: 8 x 12 index scans, 383 instead
 * of 27 us a report (pg_stat_statements). */
static const char history_pg[] =
	"SELECT x.name, s.ts, s.value, s.value AS vmin, 0 AS rolled FROM samples s JOIN series x"
	" ON x.id = s.series_id WHERE s.series_id = ANY(ARRAY(SELECT id FROM series WHERE"
	" agent_id = ?)) AND x.agent_id = ? AND s.ts >= CAST(? AS BIGINT) UNION ALL SELECT"
	" x.name, r.hour, r.vsum / r.n, r.vmin, 1 FROM rollups r JOIN series x ON x.id ="
	" r.series_id WHERE r.series_id = ANY(ARRAY(SELECT id FROM series WHERE agent_id = ?))"
	" AND x.agent_id = ? AND r.hour >= CAST(? AS BIGINT)";
static const char history_lite[] =
	"SELECT x.name, s.ts, s.value, s.value AS vmin, 0 AS rolled FROM series x JOIN samples s"
	" ON s.series_id = x.id WHERE x.agent_id = ? AND s.ts >= CAST(? AS BIGINT) UNION ALL"
	" SELECT x.name, r.hour, r.vsum / r.n, r.vmin, 1 FROM series x JOIN rollups r ON"
	" r.series_id = x.id WHERE x.agent_id = ? AND r.hour >= CAST(? AS BIGINT)";

static int load_history(struct coll_store *s, const char *agent, int64_t from, struct history *h)
{
	/* a rollup counts when its middle is in the window */
	struct coll_num f = coll_i2s(from), fh = coll_i2s(from - HOUR / 2);
	const char *pg[] = {agent, agent, f.s, agent, agent, fh.s},
		   *lite[] = {agent, f.s, agent, fh.s};
	int r = coll_db_kind(s->db) == COLL_DB_PG
			? coll_db_query_each(s->db, history_pg, pg, EP_ARRAY_SIZE(pg), history_row,
					     h)
			: coll_db_query_each(s->db, history_lite, lite, EP_ARRAY_SIZE(lite),
					     history_row, h);
	if (r < 0) {
		snprintf(s->err, sizeof(s->err), "%s", coll_db_error(s->db));
		return r;
	}
	return history_order(h);
}

static void history_free(struct history *h)
{
	for (size_t i = 0; i < h->n_g; i++)
		free(h->g[i].series);
	free(h->g);
	free(h->rows);
	free(h->v);
}

/* The rows of one series (at most HISTORY_MAX, newest first). */
static const struct coll_sample *history_of(const struct history *h, const char *series,
					    size_t *ret_n)
{
	for (size_t i = 0; i < h->n_g; i++)
		if (strcmp(h->g[i].series, series) == 0) {
			*ret_n = h->g[i].n;
			return &h->v[h->g[i].from];
		}
	*ret_n = 0;
	return h->v;
}

/* The samples this report stores, written in one statement at the end
 * (coll_store_samples_add) rather than one round trip each. */
struct pending {
	const char **series; /* owned copies */
	double *value;
	size_t n, cap;
};

static void pending_free(struct pending *p)
{
	for (size_t i = 0; i < p->n; i++)
		free((char *)(uintptr_t)p->series[i]);
	free(p->series);
	free(p->value);
}

static int pending_add(struct pending *p, const char *series, double value)
{
	/* one row per key in a statement (PostgreSQL refuses an upsert that
	 * touches a row twice): the last value wins, as row by row */
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->series[i], series) == 0) {
			p->value[i] = value;
			return 0;
		}
	size_t cap = p->cap;
	if (grow((void **)&p->series, &cap, p->n, sizeof(*p->series)) < 0 ||
	    grow((void **)&p->value, &p->cap, p->n, sizeof(*p->value)) < 0)
		return -ENOMEM;
	char *copy = strdup(series);
	if (!copy)
		return -ENOMEM;
	p->series[p->n] = copy;
	p->value[p->n++] = value;
	return 0;
}

/* Stores this report's value of series when a sample interval has passed
 * since the last stored one (history keeps one sample per interval per
 * series: enough for forecasts over days, and a bounded number of rows per
 * report), and returns the series as the analysis sees it: the n past
 * samples plus this value as the last (*ret_v, n + 1 entries, caller frees). */
static int sample_series(const struct coll_analysis *an, struct pending *pend,
			 const struct coll_ingest *it, const char *series, double value,
			 const struct coll_sample *past, size_t n, struct coll_sample **ret_v)
{
	if (n == 0 || it->received_at - past[0].t >= an->sample_interval_s) {
		int r = pending_add(pend, series, value);
		if (r < 0)
			return r;
	}
	struct coll_sample *v = malloc((n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (n)
		memcpy(v, past, n * sizeof(*v));
	v[n].t = it->received_at;
	v[n].v = value;
	*ret_v = v;
	return 0;
}

/* Security updates have no age of their own in a report: the host's history
 * of the count says since when they have been pending (alerts.h,
 * security_pending_since). */
static int security_pending(const struct coll_analysis *an, struct pending *pend,
			    const struct coll_ingest *it, const json_t *f,
			    const struct history *hist, int64_t *since)
{
	const char *object = coll_jstr(f, "object");
	const json_t *val = json_object_get(f, "value");
	if (!object || !json_is_number(val))
		return 0;
	char series[EP_REPORT_MAX_STRING + 32];
	snprintf(series, sizeof(series), "security_updates:%s", object);
	size_t n = 0;
	const struct coll_sample *past = history_of(hist, series, &n);
	struct coll_sample *v;
	int r = sample_series(an, pend, it, series, json_number_value(val), past, n, &v);
	if (r < 0)
		return r;
	int64_t t = coll_pending_since(v, n + 1);
	free(v);
	if (t > 0 && (*since == 0 || t < *since))
		*since = t;
	return 0;
}

static int forecast_finding(const struct coll_analysis *an, struct pending *pend,
			    const struct coll_ingest *it, const json_t *f,
			    const struct history *hist, struct fc_set *set)
{
	const char *kind = coll_jstr(f, "kind"), *object = coll_jstr(f, "object");
	const json_t *val = json_object_get(f, "value"), *thr = json_object_get(f, "threshold");
	enum coll_forecast_kind fk;
	double limit = 100;
	if (!kind || !object || !json_is_number(val))
		return 0;
	if (strcmp(kind, "disk_usage") == 0)
		fk = COLL_FK_DISK_BYTES;
	else if (strcmp(kind, "inode_usage") == 0)
		fk = COLL_FK_DISK_INODES;
	else if (strcmp(kind, "index_fragmentation") == 0) {
		fk = COLL_FK_INDEX_FRAGMENTATION;
		limit = json_is_number(thr) ? json_number_value(thr) : 30;
	} else if (strcmp(kind, "log_errors") == 0 || strcmp(kind, "journal_errors") == 0)
		fk = COLL_FK_ERROR_SPIKE;
	else
		return 0;
	if (set->n >= an->max_forecasts)
		return 0;
	char series[EP_REPORT_MAX_STRING * 2 + 2];
	snprintf(series, sizeof(series), "%s:%s", kind, object);
	size_t n = 0;
	const struct coll_sample *past = history_of(hist, series, &n);
	double value = json_number_value(val);
	int r;

	struct coll_sample *v;
	r = sample_series(an, pend, it, series, value, past, n, &v);
	if (r < 0)
		return r;
	if (set->n == set->cap) {
		size_t ncap = set->cap ? set->cap * 2 : 8;
		struct coll_object_forecast *nv = realloc(set->v, ncap * sizeof(*nv));
		char **no = nv ? realloc(set->objects, ncap * sizeof(*no)) : NULL;
		if (nv)
			set->v = nv;
		if (!nv || !no) {
			free(v);
			return -ENOMEM;
		}
		set->objects = no;
		set->cap = ncap;
	}
	struct coll_object_forecast *o = &set->v[set->n];
	memset(o, 0, sizeof(*o));
	o->kind = fk;
	set->objects[set->n] = strdup(object);
	if (!set->objects[set->n]) {
		free(v);
		return -ENOMEM;
	}
	o->object = set->objects[set->n];
	if (fk == COLL_FK_ERROR_SPIKE) {
		r = coll_spike_detect(v, n, it->received_at, value, NULL, &o->spike);
	} else {
		r = coll_forecast_linear(v, n + 1, limit, it->received_at, NULL, &o->fc);
	}
	free(v);
	if (r < 0) {
		free(set->objects[set->n]);
		return r == -ENOMEM ? r : 0; /* a series it cannot use is skipped */
	}
	set->n++;
	return 0;
}

int coll_forecasts(const struct coll_analysis *an, struct coll_store *s,
		   const struct coll_ingest *it, struct fc_set *set)
{
	const json_t *p, *f;
	size_t i, k;
	struct history hist = {0};
	struct pending pend = {0};
	int r = load_history(s, it->agent.id, it->received_at - an->forecast_window_s, &hist);
	if (r < 0)
		goto out;
	json_array_foreach(json_object_get(it->report, "probes"), i, p)
	{
		json_array_foreach(json_object_get(p, "findings"), k, f)
		{
			const char *kind = coll_jstr(f, "kind");
			if (kind && strcmp(kind, "security_updates") == 0)
				r = security_pending(an, &pend, it, f, &hist, &set->security_since);
			else
				r = forecast_finding(an, &pend, it, f, &hist, set);
			if (r < 0)
				goto out;
		}
	}
	r = coll_store_samples_add(s, it->agent.id, it->received_at, pend.series, pend.value,
				   pend.n);
out:
	pending_free(&pend);
	history_free(&hist);
	return r;
}
