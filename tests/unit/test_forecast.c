/* Forecasts on synthetic histories whose answers are known in advance. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collector/analysis/forecast.h"

#define DAY  86400
#define HOUR 3600
#define GB   1e9
#define T0   1764000000 /* 2025-11-24T16:00:00Z, any fixed instant */

#define assert_near(a, b, eps) near_impl((a), (b), (eps), #a, __FILE__, __LINE__)
static void near_impl(double a, double b, double eps, const char *expr, const char *file, int line)
{
	if (!(fabs(a - b) <= eps)) {
		print_error("%s = %.12g, expected %.12g (+-%g)\n", expr, a, b, eps);
		_fail(file, line);
	}
}

/* Deterministic noise in [-1, 1] (xorshift), so tests never flake. */
static double noise(uint32_t *state)
{
	uint32_t x = *state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return (double)(x % 20001) / 10000.0 - 1.0;
}

/* 50 GB used, +1 GB/day, total 100 GB, a sample every 6 hours for 10 days:
 * at the last sample 60 GB are used, so full in exactly 40 days. */
static void test_linear_fill(void **state)
{
	struct coll_sample s[41];
	struct coll_forecast fc;
	(void)state;

	for (int i = 0; i <= 40; i++) {
		s[i].t = T0 + (int64_t)i * 6 * HOUR;
		s[i].v = 50 * GB + (double)i * 0.25 * GB;
	}
	assert_int_equal(coll_forecast_linear(s, 41, 100 * GB, s[40].t, NULL, &fc), 0);
	assert_int_equal(fc.status, COLL_FC_ETA);
	assert_near(fc.days, 40.0, 1e-6);
	assert_near(fc.slope_per_day, 1 * GB, 1.0);
	assert_near(fc.r2, 1.0, 1e-9);
	assert_int_equal(fc.confidence, COLL_CONF_HIGH);
	assert_int_equal(fc.n_used, 41);
	assert_false(fc.step_detected);
	assert_near(fc.days_low, 40.0, 1e-6); /* zero residuals: no spread */

	/* asked two days after the last sample: the line has moved on */
	assert_int_equal(coll_forecast_linear(s, 41, 100 * GB, s[40].t + 2 * DAY, NULL, &fc), 0);
	assert_near(fc.days, 38.0, 1e-6);
}

/* Order does not matter and duplicates are harmless. */
static void test_unsorted_input(void **state)
{
	struct coll_sample s[20];
	struct coll_forecast fc;
	(void)state;

	for (int i = 0; i < 20; i++) {
		int j = (i * 7) % 20; /* a permutation of 0..19 */
		s[i].t = T0 + (int64_t)j * DAY;
		s[i].v = 10 + 2.0 * j;
	}
	assert_int_equal(coll_forecast_linear(s, 20, 100, T0 + 19 * DAY, NULL, &fc), 0);
	assert_int_equal(fc.status, COLL_FC_ETA);
	assert_near(fc.days, (100.0 - 48.0) / 2.0, 1e-6);
	assert_near(fc.last_value, 48.0, 1e-12);
}

/* A cleanup: 30 days rising 1 GB/day from 40 to 69 GB, then a drop to
 * 45 GB, then 10 days at +2 GB/day. Only the last 10 days count:
 * at the end 45 + 2*9 = 63 GB, full (100 GB) in 37/2 = 18.5 days. */
static void test_step_change(void **state)
{
	struct coll_sample s[40];
	struct coll_forecast fc, fc_all;
	struct coll_forecast_params p;
	(void)state;

	for (int i = 0; i < 30; i++) {
		s[i].t = T0 + (int64_t)i * DAY;
		s[i].v = 40 * GB + i * GB;
	}
	for (int i = 0; i < 10; i++) {
		s[30 + i].t = T0 + (int64_t)(30 + i) * DAY;
		s[30 + i].v = 45 * GB + i * 2 * GB;
	}
	coll_forecast_params_default(&p);
	p.window_s = 0;
	assert_int_equal(coll_forecast_linear(s, 40, 100 * GB, s[39].t, &p, &fc), 0);
	assert_true(fc.step_detected);
	assert_int_equal(fc.n_used, 10);
	assert_int_equal(fc.fit_from, s[30].t);
	assert_int_equal(fc.status, COLL_FC_ETA);
	assert_near(fc.days, 18.5, 1e-6);
	assert_near(fc.slope_per_day, 2 * GB, 1.0);

	/* without change-point handling the answer would be badly off */
	p.drop_fraction = 10; /* nothing counts as a drop */
	p.drop_noise_k = 1e9;
	assert_int_equal(coll_forecast_linear(s, 40, 100 * GB, s[39].t, &p, &fc_all), 0);
	assert_false(fc_all.step_detected);
	assert_true(fabs(fc_all.days - 18.5) > 5);
}

/* A drop right at the end leaves too few samples: insufficient, not a
 * forecast from the stale pre-cleanup line. */
static void test_step_at_end(void **state)
{
	struct coll_sample s[20];
	struct coll_forecast fc;
	(void)state;

	for (int i = 0; i < 18; i++) {
		s[i].t = T0 + (int64_t)i * DAY;
		s[i].v = 50 + i;
	}
	s[18].t = T0 + 18 * DAY;
	s[18].v = 20;
	s[19].t = T0 + 19 * DAY;
	s[19].v = 21;
	assert_int_equal(coll_forecast_linear(s, 20, 100, s[19].t, NULL, &fc), 0);
	assert_true(fc.step_detected);
	assert_int_equal(fc.n_used, 2);
	assert_int_equal(fc.status, COLL_FC_INSUFFICIENT);
}

/* +1 GB/day with +-2 GB noise, hourly for 20 days: the estimate stays
 * near the truth, the range contains it, R² is lower than perfect and the
 * noise does not read as a cleanup. */
static void test_noise(void **state)
{
	enum { N = 20 * 24 };
	struct coll_sample s[N];
	struct coll_forecast fc;
	uint32_t rng = 12345;
	double truth;
	(void)state;

	for (int i = 0; i < N; i++) {
		s[i].t = T0 + (int64_t)i * HOUR;
		s[i].v = 30 * GB + (double)i / 24.0 * GB + 2 * GB * noise(&rng);
	}
	/* true line at the last sample: 30 + 479/24 GB; days to 100 GB */
	truth = (100.0 - (30.0 + (N - 1) / 24.0)) / 1.0;
	assert_int_equal(coll_forecast_linear(s, N, 100 * GB, s[N - 1].t, NULL, &fc), 0);
	assert_int_equal(fc.status, COLL_FC_ETA);
	assert_false(fc.step_detected);
	assert_int_equal(fc.n_used, N);
	assert_true(fabs(fc.days - truth) < 2.0);
	assert_true(fc.days_low <= truth && truth <= fc.days_high);
	assert_true(fc.r2 > 0.8 && fc.r2 < 1.0);
	assert_true(fc.resid_sd > 0.8 * GB && fc.resid_sd < 1.5 * GB); /* uniform(-2,2) sd ~1.15 */
}

/* Gaps: samples on days 0-4 and 20-24 only; the fit uses real time. */
static void test_gaps(void **state)
{
	struct coll_sample s[10];
	struct coll_forecast fc;
	(void)state;

	for (int i = 0; i < 5; i++) {
		s[i].t = T0 + (int64_t)i * DAY;
		s[i].v = 10 + 0.5 * i;
		s[5 + i].t = T0 + (int64_t)(20 + i) * DAY;
		s[5 + i].v = 10 + 0.5 * (20 + i);
	}
	assert_int_equal(coll_forecast_linear(s, 10, 40, s[9].t, NULL, &fc), 0);
	assert_int_equal(fc.status, COLL_FC_ETA);
	assert_near(fc.slope_per_day, 0.5, 1e-9);
	assert_near(fc.days, (40 - 22.0) / 0.5, 1e-6);
}

/* Flat with a little noise, and falling: never "full in N days". */
static void test_flat_and_falling(void **state)
{
	struct coll_sample s[100];
	struct coll_forecast fc;
	uint32_t rng = 777;
	(void)state;

	for (int i = 0; i < 100; i++) {
		s[i].t = T0 + (int64_t)i * HOUR;
		s[i].v = 70 * GB;
	}
	assert_int_equal(coll_forecast_linear(s, 100, 100 * GB, s[99].t, NULL, &fc), 0);
	assert_int_equal(fc.status, COLL_FC_NEVER);
	assert_true(isnan(fc.days));
	assert_near(fc.slope_per_day, 0, 1e-3);

	for (int i = 0; i < 100; i++)
		s[i].v = 70 * GB + 0.5 * GB * noise(&rng);
	assert_int_equal(coll_forecast_linear(s, 100, 100 * GB, s[99].t, NULL, &fc), 0);
	assert_int_equal(fc.status, COLL_FC_NEVER);

	for (int i = 0; i < 100; i++)
		s[i].v = 70 * GB - (double)i * 0.01 * GB;
	assert_int_equal(coll_forecast_linear(s, 100, 100 * GB, s[99].t, NULL, &fc), 0);
	assert_int_equal(fc.status, COLL_FC_NEVER);
	assert_true(fc.slope_per_day < 0);

	/* rising so slowly the crossing is beyond max_days (10 years) */
	for (int i = 0; i < 100; i++)
		s[i].v = 10 + (double)i * 1e-6;
	assert_int_equal(coll_forecast_linear(s, 100, 100, s[99].t, NULL, &fc), 0);
	assert_int_equal(fc.status, COLL_FC_NEVER);
}

static void test_too_few_and_window(void **state)
{
	struct coll_sample s[10];
	struct coll_forecast fc;
	struct coll_forecast_params p;
	(void)state;

	for (int i = 0; i < 10; i++) {
		s[i].t = T0 + (int64_t)i * DAY;
		s[i].v = i;
	}
	assert_int_equal(coll_forecast_linear(s, 5, 100, s[4].t, NULL, &fc), 0);
	assert_int_equal(fc.status, COLL_FC_INSUFFICIENT);
	assert_int_equal(fc.n_used, 5);
	assert_near(fc.last_value, 4, 0);
	assert_int_equal(coll_forecast_linear(s, 6, 100, s[5].t, NULL, &fc), 0);
	assert_int_equal(fc.status, COLL_FC_ETA);
	assert_int_equal(coll_forecast_linear(NULL, 0, 100, T0, NULL, &fc), 0);
	assert_int_equal(fc.status, COLL_FC_INSUFFICIENT);
	assert_true(isnan(fc.last_value));

	/* a 4-day window leaves 5 samples: insufficient */
	coll_forecast_params_default(&p);
	p.window_s = 4 * DAY;
	assert_int_equal(coll_forecast_linear(s, 10, 100, s[9].t, &p, &fc), 0);
	assert_int_equal(fc.status, COLL_FC_INSUFFICIENT);
	assert_int_equal(fc.n_used, 5);

	/* samples from the future are ignored */
	assert_int_equal(coll_forecast_linear(s, 10, 100, s[3].t, NULL, &fc), 0);
	assert_int_equal(fc.n_used, 4);

	assert_int_equal(coll_forecast_linear(NULL, 3, 100, T0, NULL, &fc), -EINVAL);
	assert_int_equal(coll_forecast_linear(s, 10, NAN, T0, NULL, &fc), -EINVAL);
}

static void test_already_full(void **state)
{
	struct coll_sample s[8];
	struct coll_forecast fc;
	(void)state;

	for (int i = 0; i < 8; i++) {
		s[i].t = T0 + (int64_t)i * DAY;
		s[i].v = 94 + i;
	}
	assert_int_equal(coll_forecast_linear(s, 8, 100, s[7].t, NULL, &fc), 0);
	assert_int_equal(fc.status, COLL_FC_ALREADY);
	assert_near(fc.days, 0, 0);
	/* full is full even with a history too short to fit */
	assert_int_equal(coll_forecast_linear(s + 6, 2, 100, s[7].t, NULL, &fc), 0);
	assert_int_equal(fc.status, COLL_FC_ALREADY);
	assert_int_equal(fc.n_used, 2);
}

/* Index fragmentation history: 12% rising 0.5 points/day, threshold 30;
 * a REINDEX on day 20 takes it to 2% and it grows again at 1 point/day. */
static void test_index_threshold(void **state)
{
	struct coll_sample s[30];
	struct coll_forecast fc;
	(void)state;

	for (int i = 0; i < 20; i++) {
		s[i].t = T0 + (int64_t)i * DAY;
		s[i].v = 12 + 0.5 * i;
	}
	for (int i = 0; i < 10; i++) {
		s[20 + i].t = T0 + (int64_t)(20 + i) * DAY;
		s[20 + i].v = 2 + i;
	}
	assert_int_equal(coll_forecast_linear(s, 20, 30, s[19].t, NULL, &fc), 0);
	assert_int_equal(fc.status, COLL_FC_ETA);
	assert_near(fc.days, (30 - 21.5) / 0.5, 1e-6);
	assert_int_equal(coll_forecast_linear(s, 30, 30, s[29].t, NULL, &fc), 0);
	assert_true(fc.step_detected);
	assert_int_equal(fc.status, COLL_FC_ETA);
	assert_near(fc.days, 30 - 11.0, 1e-6);
}

/* ---- spikes ---------------------------------------------------------------- */

/* Five weeks of hourly error rates: 5/min normally (with jitter), 100/min
 * every Monday 09:00 (a batch job that always logs errors). */
static size_t weekly_history(struct coll_sample *s, int64_t start, int weeks)
{
	uint32_t rng = 99;
	size_t n = 0;

	for (int64_t t = start; t < start + (int64_t)weeks * 7 * DAY; t += HOUR) {
		s[n].t = t;
		s[n].v = coll_hour_of_week(t, 0) == 9 ? 100 + 3 * noise(&rng) : 5 + noise(&rng);
		n++;
	}
	return n;
}

static void test_hour_of_week(void **state)
{
	(void)state;
	/* 2026-11-23 is a Monday */
	assert_int_equal(coll_hour_of_week(1795392000, 0), 0); /* Mon 00:00Z */
	assert_int_equal(coll_hour_of_week(1795392000 + 9 * HOUR + 59 * 60, 0), 9);
	assert_int_equal(coll_hour_of_week(1795392000 - 1, 0), 167);  /* Sun 23:59:59 */
	assert_int_equal(coll_hour_of_week(1795392000, 8 * HOUR), 8); /* UTC+8 */
	assert_int_equal(coll_hour_of_week(0, 0), 3 * 24); /* 1970-01-01 was a Thursday */
}

static void test_spike_vs_normal_hour(void **state)
{
	const int64_t monday = 1795392000; /* 2026-11-23T00:00Z, Monday */
	struct coll_sample *s = calloc(5 * 7 * 24, sizeof(*s));
	struct coll_spike sp;
	size_t n;
	(void)state;

	assert_non_null(s);
	n = weekly_history(s, monday - 5 * 7 * DAY, 5);

	/* Monday 09:30 with 101/min: the usual batch-job hour, not a spike */
	assert_int_equal(coll_spike_detect(s, n, monday + 9 * HOUR + 1800, 101, NULL, &sp), 0);
	assert_int_equal(sp.method, COLL_BASELINE_HOUR_OF_WEEK);
	assert_int_equal(sp.status, COLL_SPIKE_NORMAL);
	assert_int_equal(sp.n_baseline, 5);
	assert_true(fabs(sp.baseline - 100) < 3.5);

	/* Tuesday 03:00 with 100/min: a spike */
	assert_int_equal(coll_spike_detect(s, n, monday + DAY + 3 * HOUR, 100, NULL, &sp), 0);
	assert_int_equal(sp.method, COLL_BASELINE_HOUR_OF_WEEK);
	assert_int_equal(sp.status, COLL_SPIKE_SPIKE);
	assert_true(sp.z > 20);

	/* Tuesday 03:00 with 6/min: normal */
	assert_int_equal(coll_spike_detect(s, n, monday + DAY + 3 * HOUR, 6, NULL, &sp), 0);
	assert_int_equal(sp.status, COLL_SPIKE_NORMAL);
	free(s);
}

static void test_spike_recent_fallback(void **state)
{
	struct coll_sample s[48];
	struct coll_spike sp;
	struct coll_spike_params p;
	const int64_t now = T0 + 48 * HOUR;
	(void)state;

	/* two days of history: not enough weeks, recent median + MAD instead */
	for (int i = 0; i < 48; i++) {
		s[i].t = T0 + (int64_t)i * HOUR;
		s[i].v = 10 + (i % 3); /* 10, 11, 12 */
	}
	assert_int_equal(coll_spike_detect(s, 48, now, 30, NULL, &sp), 0);
	assert_int_equal(sp.method, COLL_BASELINE_RECENT);
	assert_int_equal(sp.n_baseline, 24); /* the last 24 h */
	assert_near(sp.baseline, 11, 1e-12);
	/* MAD = 1 -> sigma 1.4826; z = 19 / 1.4826 */
	assert_near(sp.spread, 1.4826, 1e-9);
	assert_near(sp.z, 19 / 1.4826, 1e-9);
	assert_int_equal(sp.status, COLL_SPIKE_SPIKE);

	assert_int_equal(coll_spike_detect(s, 48, now, 13, NULL, &sp), 0);
	assert_int_equal(sp.status, COLL_SPIKE_NORMAL);

	/* a zero baseline: 0 -> 1 is not a spike thanks to min_spread, 0 -> 10 is */
	for (int i = 0; i < 48; i++)
		s[i].v = 0;
	assert_int_equal(coll_spike_detect(s, 48, now, 1, NULL, &sp), 0);
	assert_int_equal(sp.status, COLL_SPIKE_NORMAL);
	assert_int_equal(coll_spike_detect(s, 48, now, 10, NULL, &sp), 0);
	assert_int_equal(sp.status, COLL_SPIKE_SPIKE);

	/* too few samples */
	coll_spike_params_default(&p);
	assert_int_equal(coll_spike_detect(s, 5, T0 + 5 * HOUR, 100, &p, &sp), 0);
	assert_int_equal(sp.status, COLL_SPIKE_INSUFFICIENT);
	assert_int_equal(coll_spike_detect(NULL, 0, now, 100, &p, &sp), 0);
	assert_int_equal(sp.status, COLL_SPIKE_INSUFFICIENT);
	assert_true(isnan(sp.z));
}

/* The cached path's sums (coll_fit_sums_add, coll_forecast_from_sums,
 * docs/forecasts.md "Refit and the cached path"): points added to a fit's
 * sums give what a fit of all the points gives. */
static void test_from_sums(void **state)
{
	struct coll_sample s[61];
	struct coll_forecast fit, full, sums;
	uint32_t st = 7;
	(void)state;

	/* 50 GB + 1 GB/day (+-0.2 GB) on 100 GB, a sample every 6 hours */
	for (int i = 0; i <= 60; i++) {
		s[i].t = T0 + (int64_t)i * 6 * HOUR;
		s[i].v = 50 * GB + (double)i * 0.25 * GB + 0.2 * GB * noise(&st);
	}
	assert_int_equal(coll_forecast_linear(s, 41, 100 * GB, s[40].t, NULL, &fit), 0);
	assert_near(fit.sums.n, 41, 0);
	/* 20 more points, asked a day after the last */
	for (int i = 41; i <= 60; i++)
		coll_fit_sums_add(&fit.sums, s[i].t, s[i].v);
	int64_t later = s[60].t + DAY;
	assert_int_equal(coll_forecast_from_sums(&fit, s[60].v, later, NULL, &sums), 0);
	assert_int_equal(coll_forecast_linear(s, 61, 100 * GB, later, NULL, &full), 0);
	assert_int_equal(sums.status, COLL_FC_ETA);
	assert_int_equal(full.status, COLL_FC_ETA);
	assert_near(sums.days, full.days, 1e-6);
	assert_near(sums.days_low, full.days_low, 1e-6);
	assert_near(sums.days_high, full.days_high, 1e-6);
	assert_near(sums.slope_per_day, full.slope_per_day, 1e-3 * GB * 1e-3);
	assert_near(sums.r2, full.r2, 1e-9);
	assert_near(sums.resid_sd, full.resid_sd, 1e-6 * GB);
	assert_int_equal(sums.n_used, 61);
	assert_int_equal(sums.confidence, full.confidence);
	assert_near(sums.last_value, s[60].v, 0);

	/* full is full; too few points say so */
	assert_int_equal(coll_forecast_from_sums(&fit, 100 * GB, later, NULL, &sums), 0);
	assert_int_equal(sums.status, COLL_FC_ALREADY);
	assert_near(sums.days, 0, 0);
	struct coll_forecast few = fit;
	few.sums = (struct coll_fit_sums){.t0 = later, .v0 = 60 * GB};
	coll_fit_sums_add(&few.sums, later, 60 * GB);
	assert_int_equal(coll_forecast_from_sums(&few, 60 * GB, later, NULL, &sums), 0);
	assert_int_equal(sums.status, COLL_FC_INSUFFICIENT);
	assert_int_equal(coll_forecast_from_sums(NULL, 1, later, NULL, &sums), -EINVAL);
}

/* coll_spike_from_baseline: the current value against a stored baseline */
static void test_spike_from_baseline(void **state)
{
	const int64_t monday = 1795392000; /* 2026-11-23T00:00Z, Monday */
	struct coll_sample *s = calloc(5 * 7 * 24, sizeof(*s));
	struct coll_spike base, sp, full;
	size_t n;
	(void)state;

	assert_non_null(s);
	n = weekly_history(s, monday - 5 * 7 * DAY, 5);
	int64_t t = monday + DAY + 3 * HOUR;
	assert_int_equal(coll_spike_detect(s, n, t, 6, NULL, &base), 0);
	assert_int_equal(base.status, COLL_SPIKE_NORMAL);
	/* later in the same hour: 100/min is the spike a full detection sees */
	assert_int_equal(coll_spike_from_baseline(&base, 100, NULL, &sp), 0);
	assert_int_equal(coll_spike_detect(s, n, t + 1800, 100, NULL, &full), 0);
	assert_int_equal(sp.status, COLL_SPIKE_SPIKE);
	assert_int_equal(full.status, COLL_SPIKE_SPIKE);
	assert_near(sp.z, full.z, 1e-9);
	assert_near(sp.current, 100, 0);
	assert_int_equal(coll_spike_from_baseline(&base, 6, NULL, &sp), 0);
	assert_int_equal(sp.status, COLL_SPIKE_NORMAL);
	/* no baseline: a refit decides */
	assert_int_equal(coll_spike_detect(s, 0, t, 6, NULL, &base), 0);
	assert_int_equal(coll_spike_from_baseline(&base, 6, NULL, &sp), 1);
	free(s);
}

static void test_forecast_json(void **state)
{
	struct coll_sample s[8];
	struct coll_object_forecast of = {.kind = COLL_FK_DISK_BYTES, .object = "/var"};
	json_t *j;
	(void)state;

	for (int i = 0; i < 8; i++) {
		s[i].t = T0 + (int64_t)i * DAY;
		s[i].v = 10 + i;
	}
	assert_int_equal(coll_forecast_linear(s, 8, 100, s[7].t, NULL, &of.fc), 0);
	j = coll_object_forecast_json(&of);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "eta");
	assert_string_equal(json_string_value(json_object_get(j, "kind")), "disk_bytes");
	assert_near(json_number_value(json_object_get(j, "days")), 83.0, 1e-6);
	assert_true(json_is_null(json_object_get(j, "days_high")) ||
		    json_is_number(json_object_get(j, "days_high")));
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linear_fill),
		cmocka_unit_test(test_unsorted_input),
		cmocka_unit_test(test_step_change),
		cmocka_unit_test(test_step_at_end),
		cmocka_unit_test(test_noise),
		cmocka_unit_test(test_gaps),
		cmocka_unit_test(test_flat_and_falling),
		cmocka_unit_test(test_too_few_and_window),
		cmocka_unit_test(test_already_full),
		cmocka_unit_test(test_index_threshold),
		cmocka_unit_test(test_hour_of_week),
		cmocka_unit_test(test_spike_vs_normal_hour),
		cmocka_unit_test(test_spike_recent_fallback),
		cmocka_unit_test(test_forecast_json),
		cmocka_unit_test(test_from_sums),
		cmocka_unit_test(test_spike_from_baseline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
