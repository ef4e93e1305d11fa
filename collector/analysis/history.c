/* A host's history as the forecasts see it, and the forecasts of one
 * report (history.h; docs/forecasts.md "Input"): the raw samples of the
 * recent days plus the hourly rollups of the older ones, read in one query,
 * so that the points per series stay bounded (about 2 x 144 raw + 28 x 24
 * hourly in a 30-day window) whatever a host's age. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/analysis/alerts.h"
#include "collector/analysis/fitstate.h"
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
 * keep_samples_days up by whole hours). Read at a refit: the two tables
 * without ORDER BY (SQLite walks each primary key in order; a merge of the
 * two would cost about as much as reading them); the rows are put in
 * order here: per series and table a run that is
 * already in time order one way or the other (reversed in place when
 * ascending, sorted only when neither), raw before rolled up. */
struct history_group {
	char *series;
	int64_t id;             /* the series' row (migration 12) */
	bool security;          /* a security-update count */
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

/* One series of the agent: a group, before its rows are read (the rows
 * then name their series by id: no text per row). */
static int history_series(void *ctx, const struct coll_db_row *row)
{
	struct history *h = ctx;
	const char *series = coll_db_row_text(row, 1);
	if (!series)
		return 0;
	if (h->n_g >= UINT32_MAX || grow((void **)&h->g, &h->cap_g, h->n_g, sizeof(*h->g)) < 0)
		return -ENOMEM;
	h->g[h->n_g] = (struct history_group){
		.series = strdup(series),
		.id = coll_db_row_int(row, 0),
		.security = strncmp(series, SECURITY_PREFIX, strlen(SECURITY_PREFIX)) == 0};
	return h->g[h->n_g++].series ? 0 : -ENOMEM;
}

/* One row of a series of the agent: raw (series id, ts, value) or an
 * hour's rollup (series id, hour, vsum, n, vmin). */
static int history_add(struct history *h, const struct coll_db_row *row, bool rolled)
{
	int64_t id = coll_db_row_int(row, 0);
	uint32_t k = h->last;
	if (k >= h->n_g || h->g[k].id != id) {
		for (k = 0; k < h->n_g && h->g[k].id != id; k++)
			;
		if (k == h->n_g)
			return 0;
		h->last = k;
	}
	if (grow((void **)&h->rows, &h->cap_rows, h->n_rows, sizeof(*h->rows)) < 0)
		return -ENOMEM;
	struct history_row *r = &h->rows[h->n_rows++];
	r->group = k;
	r->rolled = rolled;
	r->p.t = coll_db_row_int(row, 1);
	if (!rolled) {
		r->p.v = coll_db_row_double(row, 2);
		h->g[k].n_raw++;
		return 0;
	}
	/* an hour's rollup: its mean at the hour's middle; for the age of
	 * pending security updates its minimum (a zero in the hour ends the
	 * run, coll_pending_since) */
	int64_t n = coll_db_row_int(row, 3);
	if (n < 1) { /* not a rollup of any sample */
		h->n_rows--;
		return 0;
	}
	r->p.t += HOUR / 2;
	r->p.v = h->g[k].security ? coll_db_row_double(row, 4)
				  : coll_db_row_double(row, 2) / (double)n;
	h->g[k].n_rolled++;
	return 0;
}

static int history_raw(void *ctx, const struct coll_db_row *row)
{
	return history_add(ctx, row, false);
}

static int history_rolled(void *ctx, const struct coll_db_row *row)
{
	return history_add(ctx, row, true);
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
 * series id: the names from the agent's series first, then the raw samples
 * and the rollups, each row carrying its series' id and only the columns it
 * needs (no text column and string compare per row, no constant columns:
 * a refit's whole ingest took 4.4 ms of CPU with one query of the names and
 * both tables under a UNION ALL, 3.55 ms so, for 4 series of 30 days of raw
 * samples in test_coll_store). PostgreSQL: the agent's ids as one array (an
 * InitPlan), so that each time partition is scanned once for all of them;
 * the join per series that SQLite plans (one key range each, cheap there)
 * scanned every partition once per series on PostgreSQL: 8 x 12 index
 * scans, 383 instead of 27 us a report (pg_stat_statements). */
static const char raw_pg[] =
	"SELECT series_id, ts, value FROM samples WHERE series_id = ANY(ARRAY(SELECT id FROM"
	" series WHERE agent_id = ?)) AND ts >= CAST(? AS BIGINT)";
static const char rolled_pg[] =
	"SELECT series_id, hour, vsum, n, vmin FROM rollups WHERE series_id = ANY(ARRAY(SELECT"
	" id FROM series WHERE agent_id = ?)) AND hour >= CAST(? AS BIGINT)";
static const char raw_lite[] =
	"SELECT s.series_id, s.ts, s.value FROM series x JOIN samples s ON s.series_id = x.id"
	" WHERE x.agent_id = ? AND s.ts >= CAST(? AS BIGINT)";
static const char rolled_lite[] =
	"SELECT r.series_id, r.hour, r.vsum, r.n, r.vmin FROM series x JOIN rollups r ON"
	" r.series_id = x.id WHERE x.agent_id = ? AND r.hour >= CAST(? AS BIGINT)";

static int load_history(struct coll_store *s, const char *agent, int64_t from, struct history *h)
{
	/* a rollup counts when its middle is in the window */
	struct coll_num f = coll_i2s(from), fh = coll_i2s(from - HOUR / 2);
	bool pg = coll_db_kind(s->db) == COLL_DB_PG;
	const char *raw[] = {agent, f.s}, *rolled[] = {agent, fh.s};
	int r = coll_db_query_each(s->db, "SELECT id, name FROM series WHERE agent_id = ?", raw, 1,
				   history_series, h);
	if (r == 0 && h->n_g)
		r = coll_db_query_each(s->db, pg ? raw_pg : raw_lite, raw, EP_ARRAY_SIZE(raw),
				       history_raw, h);
	if (r == 0 && h->n_g)
		r = coll_db_query_each(s->db, pg ? rolled_pg : rolled_lite, rolled,
				       EP_ARRAY_SIZE(rolled), history_rolled, h);
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

/* ---- the fit state (fitstate.h; docs/forecasts.md "Refit and the cached
 * path") ---------------------------------------------------------------------
 *
 * One row per host: when its forecasts were last refitted from the whole
 * history (fitted_at), when the cached path last stored samples
 * (sampled_at), and per series what a report needs to be judged without
 * history:
 *   linear   last_t, then COLL_FIT_L_*: limit, last_value (the sums'
 *            newest point's), fit_from, step, drop_threshold, the
 *            least-squares sums and the time of their newest point
 *   spike    last_t, then per hour bucket from the refit's on (2, or 25
 *            when every one has its hour-of-week baseline): COLL_FIT_S_*
 *   security last_t, pending since, last value
 * last_t: the series' newest stored sample. */
#define UPDATE_AFTER HOUR        /* linear sums take the new samples this often */
#define REFIT_DAILY  (24 * HOUR) /* whole-history refit of a host ... */
#define REFIT_HOURLY HOUR        /* ... or of one with a recent-past spike baseline */

/* ---- one report's series ------------------------------------------------------------ */

/* What ingest needs of a report: where its samples go, the state it
 * reads (cached path) or builds (refit). */
struct run {
	const struct coll_analysis *an;
	const struct coll_ingest *it;
	struct pending pend;
	const struct history *hist;       /* refit: the history read; NULL on the cached path */
	const struct coll_fit_state *old; /* cached path: the stored state */
	bool current;                     /* cached path: the sums hold every stored sample */
	struct coll_fit_state new;        /* refit: the state to store */
};

/* Whether this report stores its value of series: a sample interval has
 * passed since the series' last stored sample (history keeps one sample
 * per interval per series: enough for forecasts over days, and a bounded
 * number of rows per report). last_t 0: none. */
static int sample_maybe(struct run *run, const char *series, double value, int64_t last_t,
			bool *ret_written)
{
	*ret_written = last_t == 0 || run->it->received_at - last_t >= run->an->sample_interval_s;
	return *ret_written ? pending_add(&run->pend, series, value) : 0;
}

/* Refit: the series as the analysis sees it, the n past samples (newest
 * first) plus this value as the last (*ret_v, n + 1 entries, caller frees),
 * stored as a sample when due; *ret_last_t the newest stored sample after. */
static int series_refit(struct run *run, const char *series, double value,
			struct coll_sample **ret_v, size_t *ret_n, int64_t *ret_last_t)
{
	size_t n = 0;
	const struct coll_sample *past = history_of(run->hist, series, &n);
	bool written;
	int r = sample_maybe(run, series, value, n ? past[0].t : 0, &written);
	if (r < 0)
		return r;
	*ret_last_t = written ? run->it->received_at : past[0].t;
	struct coll_sample *v = malloc((n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (n)
		memcpy(v, past, n * sizeof(*v));
	v[n].t = run->it->received_at;
	v[n].v = value;
	*ret_v = v;
	*ret_n = n;
	return 0;
}

/* Cached path: the stored numbers of series if it has type t (else 1: a
 * series new to the state, refit), its sample stored when due. */
static int series_cached(struct run *run, const char *series, enum coll_fit_type t, double value,
			 const struct coll_fit_entry **ret_e)
{
	const struct coll_fit_entry *e = coll_fit_state_get(run->old, series, t);
	if (!e)
		return 1;
	int64_t last_t = e->last_t;
	/* a sample stored by the cached path since the refit counts for every
	 * series (each report of a host carries the same series) */
	if (run->old->sampled_at > last_t)
		last_t = run->old->sampled_at;
	bool written;
	*ret_e = e;
	return sample_maybe(run, series, value, last_t, &written);
}

/* Security updates have no age of their own in a report: the host's history
 * of the count says since when they have been pending (alerts.h,
 * security_pending_since). Cached: the run's start stored at the refit, as
 * long as the count stays zero or stays positive (else 1: refit). */
static int security_pending(struct run *run, const json_t *f, int64_t *since)
{
	const char *object = coll_jstr(f, "object");
	const json_t *val = json_object_get(f, "value");
	if (!object || !json_is_number(val))
		return 0;
	char series[EP_REPORT_MAX_STRING + 32];
	snprintf(series, sizeof(series), SECURITY_PREFIX "%s", object);
	double value = json_number_value(val);
	int64_t t;
	int r;
	if (!run->hist) {
		const struct coll_fit_entry *e;
		r = series_cached(run, series, COLL_FIT_SECURITY, value, &e);
		if (r != 0)
			return r;
		const double *x = coll_fit_nums(run->old, e);
		if ((value > 0) != (x[COLL_FIT_U_LAST_V] > 0) ||
		    (value > 0 && !(fabs(x[COLL_FIT_U_SINCE]) < 9e18)))
			return 1;
		t = value > 0 ? (int64_t)x[COLL_FIT_U_SINCE] : 0;
	} else {
		struct coll_sample *v;
		size_t n;
		int64_t last_t;
		r = series_refit(run, series, value, &v, &n, &last_t);
		if (r < 0)
			return r;
		t = coll_pending_since(v, n + 1);
		free(v);
		double e[COLL_FIT_U_COUNT] = {
			[COLL_FIT_U_SINCE] = (double)t, [COLL_FIT_U_LAST_V] = value};
		r = coll_fit_state_put(&run->new, series, COLL_FIT_SECURITY, last_t, e,
				       EP_ARRAY_SIZE(e));
		if (r < 0)
			return r;
	}
	if (t > 0 && (*since == 0 || t < *since))
		*since = t;
	return 0;
}

static void spike_entry(const struct coll_spike *sp, int64_t hour, double *e)
{
	e[COLL_FIT_S_HOUR] = (double)hour;
	e[COLL_FIT_S_STATUS] = sp->status;
	e[COLL_FIT_S_METHOD] = sp->method;
	e[COLL_FIT_S_BASE] = sp->baseline;
	e[COLL_FIT_S_SPREAD] = sp->spread;
	e[COLL_FIT_S_N] = (double)sp->n_baseline;
}

/* The stored baseline of the hour bucket of t; 1 when there is none. */
static int spike_from_entry(const struct coll_fit_state *fs, const struct coll_fit_entry *e,
			    int64_t t, struct coll_spike *sp)
{
	const double *x = coll_fit_nums(fs, e);
	for (size_t o = 0; o + COLL_FIT_S_COUNT <= e->n; o += COLL_FIT_S_COUNT) {
		const double *b = x + o;
		if (b[COLL_FIT_S_HOUR] != (double)(t / HOUR))
			continue;
		/* the status and method are small integers; anything else is
		 * not a stored baseline */
		if (!(b[COLL_FIT_S_STATUS] >= 0 && b[COLL_FIT_S_STATUS] <= COLL_SPIKE_SPIKE) ||
		    !(b[COLL_FIT_S_METHOD] >= 0 && b[COLL_FIT_S_METHOD] <= COLL_BASELINE_RECENT) ||
		    !(b[COLL_FIT_S_N] >= 0 && b[COLL_FIT_S_N] < 1e15))
			return 1;
		*sp = (struct coll_spike){
			.status = (enum coll_spike_status)b[COLL_FIT_S_STATUS],
			.method = (enum coll_baseline_method)b[COLL_FIT_S_METHOD],
			.baseline = b[COLL_FIT_S_BASE],
			.spread = b[COLL_FIT_S_SPREAD],
			.n_baseline = (size_t)b[COLL_FIT_S_N],
			.z = NAN,
		};
		return 0;
	}
	return 1;
}

/* A new forecast slot in set for object; NULL on ENOMEM. */
static struct coll_object_forecast *set_push(struct fc_set *set, enum coll_forecast_kind fk,
					     const char *object)
{
	if (set->n == set->cap) {
		size_t ncap = set->cap ? set->cap * 2 : 8;
		struct coll_object_forecast *nv = realloc(set->v, ncap * sizeof(*nv));
		if (!nv)
			return NULL;
		set->v = nv;
		char **no = realloc(set->objects, ncap * sizeof(*no));
		if (!no)
			return NULL;
		set->objects = no;
		set->cap = ncap;
	}
	struct coll_object_forecast *o = &set->v[set->n];
	memset(o, 0, sizeof(*o));
	o->kind = fk;
	set->objects[set->n] = strdup(object);
	if (!set->objects[set->n])
		return NULL;
	o->object = set->objects[set->n];
	return o;
}

/* Refit of one forecastable series: from its history; the state entry. */

/* Refit of one forecastable series: from its history; the state entry. */
static int forecast_refit(struct run *run, const char *series, enum coll_forecast_kind fk,
			  double value, double limit, struct coll_object_forecast *o)
{
	const struct coll_ingest *it = run->it;
	struct coll_sample *v;
	size_t n;
	int64_t last_t;
	int r = series_refit(run, series, value, &v, &n, &last_t);
	if (r < 0)
		return r;
	if (fk == COLL_FK_ERROR_SPIKE) {
		/* the baselines of this hour bucket and the next ones: 2 (a
		 * cached report comes less than REFIT_HOURLY later) or, when
		 * each has its hour-of-week baseline (earlier weeks: what the
		 * coming hours add does not change it), COLL_FIT_SPIKE_BUCKETS
		 * for a daily refit */
		int64_t hour = it->received_at / HOUR;
		size_t nv = last_t == it->received_at ? n + 1 : n, b = 1;
		double e[COLL_FIT_SPIKE_BUCKETS * COLL_FIT_S_COUNT] = {0};
		bool weekly = true; /* every bucket so far */
		r = coll_spike_detect(v, n, it->received_at, value, NULL, &o->spike);
		if (r == 0)
			spike_entry(&o->spike, hour, e);
		for (; r == 0 && b < COLL_FIT_SPIKE_BUCKETS && (b < 2 || weekly); b++) {
			struct coll_spike later;
			r = coll_spike_detect(v, nv, (hour + (int64_t)b) * HOUR, value, NULL,
					      &later);
			spike_entry(&later, hour + (int64_t)b, e + b * COLL_FIT_S_COUNT);
			weekly = weekly && later.method == COLL_BASELINE_HOUR_OF_WEEK;
		}
		if (r == 0 && !weekly)
			run->new.interval = REFIT_HOURLY;
		if (r == 0)
			r = coll_fit_state_put(&run->new, series, COLL_FIT_SPIKE, last_t, e,
					       b * COLL_FIT_S_COUNT);
	} else {
		double e[COLL_FIT_L_COUNT];
		r = coll_forecast_linear(v, n + 1, limit, it->received_at, NULL, &o->fc);
		if (r == 0) {
			coll_fit_linear_nums(&o->fc, e);
			/* the newest point of the sums: this report's value */
			e[COLL_FIT_L_SUM_T] = (double)it->received_at;
			r = coll_fit_state_put(&run->new, series, COLL_FIT_LINEAR, last_t, e,
					       EP_ARRAY_SIZE(e));
		}
	}
	free(v);
	return r;
}

/* Cached: the stored fit and this report's value; 1: a refit must decide,
 * 2: the samples stored since the last update must be added first (the
 * value moved half a drop threshold from the last one, crossed the limit,
 * or the segment is still short: fit_update, then again). */
static int forecast_cached(struct run *run, const char *series, enum coll_forecast_kind fk,
			   double value, double limit, struct coll_object_forecast *o)
{
	const struct coll_fit_entry *e;
	int r = series_cached(run, series,
			      fk == COLL_FK_ERROR_SPIKE ? COLL_FIT_SPIKE : COLL_FIT_LINEAR, value,
			      &e);
	if (r != 0)
		return r;
	if (fk == COLL_FK_ERROR_SPIKE) {
		struct coll_spike base;
		r = spike_from_entry(run->old, e, run->it->received_at, &base);
		if (r == 0 && base.status == COLL_SPIKE_INSUFFICIENT &&
		    run->old->sampled_at <= run->old->fitted_at && isfinite(value)) {
			/* too few points for a baseline at the refit and none
			 * stored since: a refit finds as few (its window only
			 * moves on), so a new host's error rate does not refit
			 * every report until it has a baseline */
			o->spike = base;
			o->spike.current = value;
			return 0;
		}
		return r ? r : coll_spike_from_baseline(&base, value, NULL, &o->spike);
	}
	struct coll_forecast fit;
	if (coll_fit_linear_from(run->old, e, &fit) != 0 || limit != fit.limit ||
	    !isfinite(value) || !isfinite(fit.last_value))
		return 1;
	double threshold = isfinite(fit.drop_threshold) ? fit.drop_threshold : 0.05 * fabs(limit);
	struct coll_forecast_params p;
	coll_forecast_params_default(&p);
	if (!run->current &&
	    (fit.sums.n < (double)p.min_samples || fabs(value - fit.last_value) > threshold / 2 ||
	     (value >= limit) != (fit.last_value >= limit)))
		return 2;
	/* the sums with this value as their newest point, as a refit fits it:
	 * a drop of the threshold from the last sample starts a new segment */
	int64_t now = run->it->received_at;
	if ((double)now > coll_fit_nums(run->old, e)[COLL_FIT_L_SUM_T]) {
		if (value < fit.last_value - threshold) {
			fit.sums = (struct coll_fit_sums){.t0 = now, .v0 = value};
			fit.fit_from = now;
			fit.step_detected = true;
		}
		coll_fit_sums_add(&fit.sums, now, value);
	}
	return coll_forecast_from_sums(&fit, value, now, NULL, &o->fc);
}

static int forecast_finding(struct run *run, const json_t *f, struct fc_set *set)
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
	if (set->n >= run->an->max_forecasts)
		return 0;
	char series[EP_REPORT_MAX_STRING * 2 + 2];
	snprintf(series, sizeof(series), "%s:%s", kind, object);
	struct coll_object_forecast *o = set_push(set, fk, object);
	if (!o)
		return -ENOMEM;
	double value = json_number_value(val);
	int r = run->hist ? forecast_refit(run, series, fk, value, limit, o)
			  : forecast_cached(run, series, fk, value, limit, o);
	if (r != 0) {
		free(set->objects[set->n]);
		/* a series it cannot use is skipped (-EINVAL, -E2BIG) */
		return r == -ENOMEM || r > 0 ? r : 0;
	}
	set->n++;
	return 0;
}

/* Every forecastable finding of the report: 0, 1 (the cached path met
 * what needs a refit), 2 (... an update) or -errno. */
static int forecast_report(struct run *run, struct fc_set *set)
{
	const json_t *p, *f;
	size_t i, k;
	json_array_foreach(json_object_get(run->it->report, "probes"), i, p)
	{
		json_array_foreach(json_object_get(p, "findings"), k, f)
		{
			const char *kind = coll_jstr(f, "kind");
			int r = kind && strcmp(kind, "security_updates") == 0
					? security_pending(run, f, &set->security_since)
					: forecast_finding(run, f, set);
			if (r != 0)
				return r;
		}
	}
	return 0;
}

static void run_reset(struct run *run, struct fc_set *set)
{
	pending_free(&run->pend);
	run->pend = (struct pending){0};
	coll_fc_set_free(set);
	*set = (struct fc_set){0};
}

/* Between refits: the stored fits (updated hourly with the new samples, or
 * when a value needs it), no history read. 0, 1 (a refit must decide:
 * *set and the pending samples are reset) or -errno. The state is written
 * back only when an update changed it or was the hourly one, the sampled_at
 * column alone when this report stores samples. */
static int forecasts_cached(struct coll_store *s, struct run *run, struct coll_fit_state *old,
			    struct fc_set *set)
{
	const struct coll_ingest *it = run->it;
	bool changed = false, write = false;
	int r = 0;
	/* no sample stored since the sums' newest point: an update would
	 * find nothing to add (a new host's first hour on the wall clock) */
	run->current = !coll_fit_state_behind(old);
	if (it->received_at - old->updated_at >= UPDATE_AFTER) {
		r = coll_fit_state_update(s, it, old, &changed);
		run->current = write = r == 0;
	}
	if (r == 0)
		r = forecast_report(run, set);
	if (r == 2) {
		run_reset(run, set);
		r = coll_fit_state_update(s, it, old, &changed);
		run->current = r == 0;
		write = changed;
		if (r == 0)
			r = forecast_report(run, set);
	}
	if (r != 0) {
		if (r > 0)
			run_reset(run, set);
		return r;
	}
	int64_t sampled = run->pend.n ? it->received_at : old->sampled_at;
	r = coll_store_samples_add(s, it->agent.id, it->received_at, run->pend.series,
				   run->pend.value, run->pend.n);
	if (r == 0 && write)
		r = coll_fit_state_save(s, it->agent.id, old, sampled);
	else if (r == 0 && run->pend.n)
		r = COLL_Q(s, "UPDATE forecast_fits SET sampled_at = ? WHERE agent_id = ?", NULL,
			   coll_i2s(sampled).s, it->agent.id);
	return r;
}

int coll_forecasts(const struct coll_analysis *an, struct coll_store *s,
		   const struct coll_ingest *it, struct fc_set *set)
{
	struct history hist = {0};
	struct coll_fit_state old = {0};
	struct run run = {.an = an, .it = it, .old = &old};
	int r = coll_fit_state_load(s, it->agent.id, &old);
	if (r < 0)
		goto out;
	if (old.row && it->received_at >= old.fitted_at && it->received_at >= old.updated_at &&
	    it->received_at - old.fitted_at < old.interval) {
		r = forecasts_cached(s, &run, &old, set);
		if (r <= 0)
			goto out;
	}
	/* refit: the history read, every series fitted, the state stored */
	run.new.interval = REFIT_DAILY;
	r = load_history(s, it->agent.id, it->received_at - an->forecast_window_s, &hist);
	if (r < 0)
		goto out;
	run.hist = &hist;
	r = forecast_report(&run, set);
	if (r == 0)
		r = coll_store_samples_add(s, it->agent.id, it->received_at, run.pend.series,
					   run.pend.value, run.pend.n);
	if (r == 0)
		r = coll_fit_state_store(s, it, &run.new);
out:
	pending_free(&run.pend);
	coll_fit_state_free(&old);
	coll_fit_state_free(&run.new);
	history_free(&hist);
	return r;
}
