/* Forecasts from a host's own history: least squares after the last step
 * down, and robust error-spike detection. docs/forecasts.md explains the
 * choices; everything here is pure arithmetic on caller-owned arrays. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "collector/analysis/forecast.h"
#include "collector/store/store.h"
#include "erpulse/util.h"

#define SECONDS_PER_DAY  86400.0
#define SECONDS_PER_WEEK 604800
#define MAD_TO_SIGMA     1.4826 /* MAD of a normal distribution -> sigma */

void coll_forecast_params_default(struct coll_forecast_params *p)
{
	p->min_samples = 6;
	p->window_s = 30 * 86400;
	p->drop_fraction = 0.05;
	p->drop_noise_k = 4.0;
	p->max_days = 3650.0;
	p->min_t_stat = 2.0;
}

void coll_spike_params_default(struct coll_spike_params *p)
{
	p->min_weeks = 3;
	p->recent_s = 86400;
	p->min_recent = 6;
	p->z_threshold = 4.0;
	p->min_spread = 1.0;
	p->tz_offset_s = 0;
}

const char *coll_forecast_status_name(enum coll_forecast_status s)
{
	switch (s) {
	case COLL_FC_INSUFFICIENT:
		return "insufficient";
	case COLL_FC_NEVER:
		return "never";
	case COLL_FC_ALREADY:
		return "already";
	case COLL_FC_ETA:
		return "eta";
	}
	return "unknown";
}

const char *coll_confidence_name(enum coll_confidence c)
{
	switch (c) {
	case COLL_CONF_LOW:
		return "low";
	case COLL_CONF_MEDIUM:
		return "medium";
	case COLL_CONF_HIGH:
		return "high";
	}
	return "unknown";
}

const char *coll_spike_status_name(enum coll_spike_status s)
{
	switch (s) {
	case COLL_SPIKE_INSUFFICIENT:
		return "insufficient";
	case COLL_SPIKE_NORMAL:
		return "normal";
	case COLL_SPIKE_SPIKE:
		return "spike";
	}
	return "unknown";
}

const char *coll_baseline_method_name(enum coll_baseline_method m)
{
	switch (m) {
	case COLL_BASELINE_NONE:
		return "none";
	case COLL_BASELINE_HOUR_OF_WEEK:
		return "hour_of_week";
	case COLL_BASELINE_RECENT:
		return "recent";
	}
	return "unknown";
}

const char *coll_forecast_kind_name(enum coll_forecast_kind k)
{
	switch (k) {
	case COLL_FK_DISK_BYTES:
		return "disk_bytes";
	case COLL_FK_DISK_INODES:
		return "disk_inodes";
	case COLL_FK_INDEX_FRAGMENTATION:
		return "index_fragmentation";
	case COLL_FK_ERROR_SPIKE:
		return "error_spike";
	}
	return "unknown";
}

static int cmp_sample(const void *a, const void *b)
{
	const struct coll_sample *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return 0;
}

/* Sorts s by time, oldest first. The analysis passes its history newest
 * first with this report's sample last: reversed, only the first is out of
 * place, and one move sorts it (any other order: qsort). */
static void sort_by_time(struct coll_sample *s, size_t m)
{
	bool sorted = true;
	for (size_t i = 1; i < m && sorted; i++)
		sorted = s[i - 1].t <= s[i].t;
	if (sorted)
		return;
	for (size_t i = 0, j = m - 1; i < j; i++, j--) {
		struct coll_sample t = s[i];
		s[i] = s[j];
		s[j] = t;
	}
	bool rest = s[0].t >= s[m - 1].t;
	for (size_t i = 2; i < m && rest; i++)
		rest = s[i - 1].t <= s[i].t;
	if (rest) {
		struct coll_sample first = s[0];
		memmove(s, s + 1, (m - 1) * sizeof(*s));
		s[m - 1] = first;
		return;
	}
	qsort(s, m, sizeof(*s), cmp_sample);
}

/* Puts the k-th smallest of v[0..n) at v[k], smaller ones before it and
 * larger ones after (quickselect: O(n) on average, where a sort was
 * O(n log n) for every series of every report). */
static void select_kth(double *v, size_t n, size_t k)
{
	size_t lo = 0, hi = n - 1;
	while (lo < hi) {
		double pivot = v[lo + (hi - lo) / 2];
		size_t i = lo, j = hi;
		while (i <= j) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j) {
				double t = v[i];
				v[i] = v[j];
				v[j] = t;
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			return;
	}
}

/* Median of v[0..n) (n > 0); reorders v. */
static double median_sorting(double *v, size_t n)
{
	select_kth(v, n, n / 2);
	if (n % 2)
		return v[n / 2];
	double below = v[0]; /* the largest of the lower half */
	for (size_t i = 1; i < n / 2; i++)
		if (v[i] > below)
			below = v[i];
	return (below + v[n / 2]) / 2.0;
}

/* Median and MAD of v (n > 0), using scratch (n doubles). */
static void median_mad(const double *v, size_t n, double *scratch, double *ret_median,
		       double *ret_mad)
{
	double med;

	memcpy(scratch, v, n * sizeof(*v));
	med = median_sorting(scratch, n);
	for (size_t i = 0; i < n; i++)
		scratch[i] = fabs(v[i] - med);
	*ret_median = med;
	*ret_mad = median_sorting(scratch, n);
}

/* Index of the first sample after the last significant step down, or 0;
 * *ret_threshold the size of step that counts. */
static size_t last_change_point(const struct coll_sample *s, size_t n, double limit,
				const struct coll_forecast_params *p, bool *ret_step,
				double *ret_threshold)
{
	double *d, *scratch, med, mad, threshold;
	size_t start = 0;

	*ret_step = false;
	*ret_threshold = p->drop_fraction * fabs(limit);
	if (n < 3)
		return 0;
	d = malloc((n - 1) * sizeof(*d));
	scratch = malloc((n - 1) * sizeof(*scratch));
	if (!d || !scratch) {
		/* without memory, fit everything: a worse answer, not a wrong type */
		free(d);
		free(scratch);
		return 0;
	}
	for (size_t i = 1; i < n; i++)
		d[i - 1] = s[i].v - s[i - 1].v;
	median_mad(d, n - 1, scratch, &med, &mad);
	threshold = fmax(p->drop_fraction * fabs(limit), p->drop_noise_k * MAD_TO_SIGMA * mad);
	*ret_threshold = threshold;
	for (size_t i = 1; i < n; i++)
		if (d[i - 1] < -threshold) {
			start = i;
			*ret_step = true;
		}
	free(d);
	free(scratch);
	return start;
}

/* The answer of step 5 (docs/forecasts.md) for a line of `slope` +- se
 * (value units per second) at value `fitted` now: fc->status, days and
 * range. */
static void answer(struct coll_forecast *fc, double slope, double se, double fitted,
		   const struct coll_forecast_params *p)
{
	double remaining;

	fc->days = fc->days_low = fc->days_high = NAN;
	/* flat, falling, or a rise indistinguishable from noise */
	fc->status = COLL_FC_NEVER;
	if (slope <= 0 || (se > 0 && slope / se < p->min_t_stat))
		return;
	remaining = fmax(0.0, fc->limit - fitted);
	fc->days = remaining / slope / SECONDS_PER_DAY;
	if (fc->days > p->max_days) {
		fc->days = NAN;
		return;
	}
	fc->status = COLL_FC_ETA;
	fc->days_low = remaining / (slope + 2 * se) / SECONDS_PER_DAY;
	fc->days_high =
		slope - 2 * se > 0 ? remaining / (slope - 2 * se) / SECONDS_PER_DAY : INFINITY;
}

int coll_forecast_linear(const struct coll_sample *samples, size_t n, double limit, int64_t now,
			 const struct coll_forecast_params *params, struct coll_forecast *ret)
{
	struct coll_forecast_params defaults;
	const struct coll_forecast_params *p = params;
	struct coll_forecast fc = {0};
	struct coll_sample *s = NULL, *f;
	size_t m = 0, start, k;
	double t0, tm = 0, vm = 0, sxx = 0, sxy = 0, sse = 0, sst = 0, slope, se;

	if ((!samples && n) || !ret || !isfinite(limit))
		return -EINVAL;
	if (n > COLL_FORECAST_MAX_SAMPLES)
		return -E2BIG;
	if (!p) {
		coll_forecast_params_default(&defaults);
		p = &defaults;
	}

	fc.status = COLL_FC_INSUFFICIENT;
	fc.confidence = COLL_CONF_LOW;
	fc.days = fc.days_low = fc.days_high = NAN;
	fc.slope_per_day = fc.r2 = fc.resid_sd = fc.last_value = NAN;
	fc.fit_t = fc.fit_v = fc.slope_se_per_day = fc.drop_threshold = NAN;
	fc.limit = limit;

	if (n) {
		s = malloc(n * sizeof(*s));
		if (!s)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(samples[i].v) || samples[i].t > now)
			continue;
		if (p->window_s > 0 && samples[i].t < now - p->window_s)
			continue;
		s[m++] = samples[i];
	}
	if (m == 0)
		goto done;
	sort_by_time(s, m);
	fc.last_value = s[m - 1].v;

	start = last_change_point(s, m, limit, p, &fc.step_detected, &fc.drop_threshold);
	f = s + start;
	k = m - start;
	fc.n_used = k;
	fc.fit_from = f[0].t;
	fc.sums = (struct coll_fit_sums){.t0 = f[0].t, .v0 = f[0].v};
	for (size_t i = 0; i < k; i++)
		coll_fit_sums_add(&fc.sums, f[i].t, f[i].v);
	if (fc.last_value >= limit) {
		/* full is full, however short the history */
		fc.status = COLL_FC_ALREADY;
		fc.days = fc.days_low = fc.days_high = 0;
	}
	if (k < p->min_samples || k < 3)
		goto done;

	/* least squares on times relative to the first sample (keeps precision) */
	t0 = (double)f[0].t;
	for (size_t i = 0; i < k; i++) {
		tm += (double)f[i].t - t0;
		vm += f[i].v;
	}
	tm /= (double)k;
	vm /= (double)k;
	for (size_t i = 0; i < k; i++) {
		double dt = (double)f[i].t - t0 - tm, dv = f[i].v - vm;
		sxx += dt * dt;
		sxy += dt * dv;
		sst += dv * dv;
	}
	if (sxx <= 0) /* every sample at the same instant: no trend to fit */
		goto done;
	slope = sxy / sxx;
	for (size_t i = 0; i < k; i++) {
		double r = f[i].v - (vm + slope * ((double)f[i].t - t0 - tm));
		sse += r * r;
	}
	fc.slope_per_day = slope * SECONDS_PER_DAY;
	fc.resid_sd = sqrt(sse / (double)(k - 2));
	if (sst > 0)
		fc.r2 = fmax(0.0, 1.0 - sse / sst);
	else
		fc.r2 = 1.0; /* a perfectly flat series is perfectly explained */
	se = fc.resid_sd / sqrt(sxx);
	fc.fit_t = t0 + tm;
	fc.fit_v = vm;
	fc.slope_se_per_day = se * SECONDS_PER_DAY;
	if (fc.r2 >= 0.9 && k >= 2 * p->min_samples)
		fc.confidence = COLL_CONF_HIGH;
	else if (fc.r2 >= 0.6)
		fc.confidence = COLL_CONF_MEDIUM;

	if (fc.status != COLL_FC_ALREADY)
		answer(&fc, slope, se, vm + slope * ((double)now - t0 - tm), p);
done:
	free(s);
	*ret = fc;
	return 0;
}

void coll_fit_sums_add(struct coll_fit_sums *s, int64_t t, double v)
{
	double dt = (double)(t - s->t0), dv = v - s->v0;
	s->n += 1;
	s->st += dt;
	s->sv += dv;
	s->stt += dt * dt;
	s->stv += dt * dv;
	s->svv += dv * dv;
}

int coll_forecast_from_sums(const struct coll_forecast *fit, double last_value, int64_t now,
			    const struct coll_forecast_params *params, struct coll_forecast *ret)
{
	struct coll_forecast_params defaults;
	const struct coll_forecast_params *p = params;
	const struct coll_fit_sums *u;
	struct coll_forecast fc;
	double n, sxx, sxy, sst, sse, slope, se, tm, vm;

	if (!fit || !ret || !isfinite(last_value))
		return -EINVAL;
	if (!p) {
		coll_forecast_params_default(&defaults);
		p = &defaults;
	}
	fc = *fit;
	u = &fc.sums;
	n = u->n;
	fc.n_used = (size_t)n;
	fc.last_value = last_value;
	fc.status = COLL_FC_INSUFFICIENT;
	fc.confidence = COLL_CONF_LOW;
	fc.days = fc.days_low = fc.days_high = NAN;
	fc.slope_per_day = fc.r2 = fc.resid_sd = NAN;
	fc.fit_t = fc.fit_v = fc.slope_se_per_day = NAN;
	if (last_value >= fc.limit) {
		fc.status = COLL_FC_ALREADY;
		fc.days = fc.days_low = fc.days_high = 0;
	}
	if (n < (double)p->min_samples || n < 3)
		goto done;
	tm = u->st / n;
	vm = u->sv / n;
	sxx = u->stt - u->st * tm;
	sxy = u->stv - u->st * vm;
	sst = fmax(0.0, u->svv - u->sv * vm);
	if (!(sxx > 0))
		goto done;
	slope = sxy / sxx;
	sse = fmax(0.0, sst - slope * sxy);
	fc.slope_per_day = slope * SECONDS_PER_DAY;
	fc.resid_sd = sqrt(sse / (n - 2));
	fc.r2 = sst > 0 ? fmax(0.0, 1.0 - sse / sst) : 1.0;
	se = fc.resid_sd / sqrt(sxx);
	fc.fit_t = (double)u->t0 + tm;
	fc.fit_v = u->v0 + vm;
	fc.slope_se_per_day = se * SECONDS_PER_DAY;
	if (fc.r2 >= 0.9 && n >= 2.0 * (double)p->min_samples)
		fc.confidence = COLL_CONF_HIGH;
	else if (fc.r2 >= 0.6)
		fc.confidence = COLL_CONF_MEDIUM;
	if (fc.status != COLL_FC_ALREADY)
		answer(&fc, slope, se, fc.fit_v + slope * ((double)now - fc.fit_t), p);
done:
	*ret = fc;
	return 0;
}

int coll_hour_of_week(int64_t t, int64_t tz_offset_s)
{
	/* 1970-01-01 was a Thursday: shift so that Monday 00:00 starts a week */
	int64_t x = t + tz_offset_s + 3 * 86400;
	int64_t w = x % SECONDS_PER_WEEK;

	if (w < 0)
		w += SECONDS_PER_WEEK;
	return (int)(w / 3600);
}

static int64_t week_number(int64_t t, int64_t tz_offset_s)
{
	int64_t x = t + tz_offset_s + 3 * 86400;

	return x >= 0 ? x / SECONDS_PER_WEEK : -((-x + SECONDS_PER_WEEK - 1) / SECONDS_PER_WEEK);
}

static int cmp_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

int coll_spike_detect(const struct coll_sample *history, size_t n, int64_t now, double current,
		      const struct coll_spike_params *params, struct coll_spike *ret)
{
	struct coll_spike_params defaults;
	const struct coll_spike_params *p = params;
	struct coll_spike sp = {0};
	double *vals = NULL, *scratch = NULL, med, mad;
	int64_t *weeks = NULL;
	size_t m = 0, distinct = 0;
	int how;
	int rc = 0;

	if ((!history && n) || !ret || !isfinite(current))
		return -EINVAL;
	if (n > COLL_FORECAST_MAX_SAMPLES)
		return -E2BIG;
	if (!p) {
		coll_spike_params_default(&defaults);
		p = &defaults;
	}
	sp.status = COLL_SPIKE_INSUFFICIENT;
	sp.method = COLL_BASELINE_NONE;
	sp.current = current;
	sp.baseline = sp.spread = sp.z = NAN;
	if (n == 0)
		goto done;

	vals = malloc(n * sizeof(*vals));
	scratch = malloc(n * sizeof(*scratch));
	weeks = malloc(n * sizeof(*weeks));
	if (!vals || !scratch || !weeks) {
		rc = -ENOMEM;
		goto out;
	}

	/* 1. same hour of the week in earlier weeks */
	how = coll_hour_of_week(now, p->tz_offset_s);
	for (size_t i = 0; i < n; i++) {
		const struct coll_sample *s = &history[i];
		if (!isfinite(s->v) || s->t >= now - 3600)
			continue;
		if (coll_hour_of_week(s->t, p->tz_offset_s) != how)
			continue;
		weeks[m] = week_number(s->t, p->tz_offset_s);
		vals[m++] = s->v;
	}
	if (m > 0) {
		int64_t *w = malloc(m * sizeof(*w));
		if (!w) {
			rc = -ENOMEM;
			goto out;
		}
		memcpy(w, weeks, m * sizeof(*w));
		qsort(w, m, sizeof(*w), cmp_int64);
		distinct = 1;
		for (size_t i = 1; i < m; i++)
			if (w[i] != w[i - 1])
				distinct++;
		free(w);
	}
	if (p->min_weeks > 0 && distinct >= (size_t)p->min_weeks) {
		sp.method = COLL_BASELINE_HOUR_OF_WEEK;
	} else {
		/* 2. the recent past */
		m = 0;
		for (size_t i = 0; i < n; i++) {
			const struct coll_sample *s = &history[i];
			if (!isfinite(s->v) || s->t >= now || s->t < now - p->recent_s)
				continue;
			vals[m++] = s->v;
		}
		if (m < p->min_recent || m == 0)
			goto done;
		sp.method = COLL_BASELINE_RECENT;
	}
	median_mad(vals, m, scratch, &med, &mad);
	sp.n_baseline = m;
	sp.baseline = med;
	sp.spread = fmax(MAD_TO_SIGMA * mad, p->min_spread);
	if (!(sp.spread > 0))
		sp.spread = 1e-9; /* min_spread 0 and a constant baseline */
	sp.z = (current - med) / sp.spread;
	sp.status = sp.z >= p->z_threshold ? COLL_SPIKE_SPIKE : COLL_SPIKE_NORMAL;
done:
	*ret = sp;
out:
	free(vals);
	free(scratch);
	free(weeks);
	return rc;
}

int coll_spike_from_baseline(const struct coll_spike *base, double current,
			     const struct coll_spike_params *params, struct coll_spike *ret)
{
	struct coll_spike_params defaults;
	const struct coll_spike_params *p = params;

	if (!base || !ret || !isfinite(current))
		return -EINVAL;
	if (!p) {
		coll_spike_params_default(&defaults);
		p = &defaults;
	}
	if (base->status == COLL_SPIKE_INSUFFICIENT || !isfinite(base->baseline) ||
	    !(base->spread > 0))
		return 1;
	*ret = *base;
	ret->current = current;
	ret->z = (current - base->baseline) / base->spread;
	ret->status = ret->z >= p->z_threshold ? COLL_SPIKE_SPIKE : COLL_SPIKE_NORMAL;
	return 0;
}

/* a run of keys with real values (null when not finite), in order */
struct key_real {
	const char *key; /* with its leading comma and colon */
	double v;
};

static void put_reals(struct coll_json_writer *w, const struct key_real *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		coll_jw_raw(w, kv[i].key);
		coll_jw_real_or_null(w, kv[i].v);
	}
}

int coll_object_forecast_text(struct ep_buf *b, const struct coll_object_forecast *f)
{
	struct coll_json_writer w = {.b = b, .r = f ? 0 : -EINVAL};

	if (w.r < 0)
		return w.r;
	coll_jw_raw(&w, "{\"kind\":");
	coll_jw_str(&w, coll_forecast_kind_name(f->kind));
	coll_jw_raw(&w, ",\"object\":");
	coll_jw_str_or_null(&w, f->object);
	if (f->kind == COLL_FK_ERROR_SPIKE) {
		const struct coll_spike *s = &f->spike;
		const struct key_real reals[] = {{",\"current\":", s->current},
						 {",\"baseline\":", s->baseline},
						 {",\"spread\":", s->spread},
						 {",\"z\":", s->z}};
		coll_jw_raw(&w, ",\"status\":");
		coll_jw_str(&w, coll_spike_status_name(s->status));
		coll_jw_raw(&w, ",\"method\":");
		coll_jw_str(&w, coll_baseline_method_name(s->method));
		put_reals(&w, reals, sizeof(reals) / sizeof(reals[0]));
		coll_jw_raw(&w, ",\"n_baseline\":");
		coll_jw_int(&w, (int64_t)s->n_baseline);
	} else {
		const struct coll_forecast *c = &f->fc;
		const struct key_real reals[] = {
			{",\"days\":", c->days},
			{",\"days_low\":", c->days_low},
			{",\"days_high\":", c->days_high},
			{",\"slope_per_day\":", c->slope_per_day},
			{",\"r2\":", c->r2},
			{",\"resid_sd\":", c->resid_sd},
			{",\"last_value\":", c->last_value},
			{",\"limit\":", c->limit},
		};
		coll_jw_raw(&w, ",\"status\":");
		coll_jw_str(&w, coll_forecast_status_name(c->status));
		coll_jw_raw(&w, ",\"confidence\":");
		coll_jw_str(&w, coll_confidence_name(c->confidence));
		put_reals(&w, reals, sizeof(reals) / sizeof(reals[0]));
		coll_jw_raw(&w, ",\"n_used\":");
		coll_jw_int(&w, (int64_t)c->n_used);
		coll_jw_raw(&w, ",\"fit_from\":");
		coll_jw_int(&w, (int64_t)c->fit_from);
		coll_jw_raw(&w, ",\"step_detected\":");
		coll_jw_bool(&w, c->step_detected);
	}
	coll_jw_raw(&w, "}");
	return w.r;
}

json_t *coll_object_forecast_json(const struct coll_object_forecast *f)
{
	struct ep_buf b;

	ep_buf_init(&b, (size_t)1 << 30);
	return coll_json_text_tree(&b, coll_object_forecast_text(&b, f));
}
