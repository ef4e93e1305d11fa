/* Forecasts from a host's own history (docs/forecasts.md).
 *
 * OWNER: analytics slice (collector/forecast.[ch]). Pure functions: no I/O,
 * no store access, no logging. The store/ingest code (collector slice) loads
 * the samples and passes them in; everything here is deterministic.
 *
 *  - coll_forecast_linear(): least squares over a window of (time, value)
 *    samples, after the last significant drop (a cleanup or REINDEX must not
 *    poison the fit); answers "crosses `limit` in N days", "never",
 *    "already" or "insufficient", with R², residual spread and a range.
 *    Disk days-to-full: values = used bytes (or used inodes), limit = total.
 *    Index: values = fragmentation %, limit = the alert threshold (30).
 *  - coll_spike_detect(): error-rate spike against the host's own baseline
 *    (same hour-of-week when enough weeks exist, else the recent median and
 *    MAD as a robust z-score). */
#ifndef ERPULSE_COLL_FORECAST_H
#define ERPULSE_COLL_FORECAST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* One observation. t: seconds since the epoch (UTC); v: the value. Arrays
 * need not be sorted; duplicates and gaps are fine. */
struct coll_sample {
	int64_t t;
	double v;
};

#define COLL_FORECAST_MAX_SAMPLES 100000 /* more is refused (-E2BIG) */

struct coll_forecast_params {
	size_t min_samples;   /* fewer after the change point: insufficient (6) */
	int64_t window_s;     /* only samples in [now - window_s, now]; 0 = all (30 days) */
	double drop_fraction; /* a step down larger than this fraction of |limit| starts
				 a new fit (0.05); see also drop_noise_k */
	double drop_noise_k;  /* ... and larger than k robust sigmas of the sample-to-
				 sample differences (4.0) */
	double max_days;      /* a crossing further away than this is "never" (3650) */
	double min_t_stat;    /* slope must be this many standard errors above 0, else
				 the line is flat: "never" (2.0) */
};
/* Fills p with the defaults written in parentheses above. */
void coll_forecast_params_default(struct coll_forecast_params *p);

enum coll_forecast_status {
	COLL_FC_INSUFFICIENT, /* fewer than min_samples usable samples (and not full) */
	COLL_FC_NEVER,        /* flat or decreasing (or beyond max_days) */
	COLL_FC_ALREADY,      /* the latest sample is at or over the limit (any sample count) */
	COLL_FC_ETA,          /* crosses the limit in `days` */
};
const char *coll_forecast_status_name(enum coll_forecast_status s); /* "eta", ... */

enum coll_confidence {
	COLL_CONF_LOW,    /* R² < 0.6 or fewer than 2 * min_samples */
	COLL_CONF_MEDIUM, /* R² >= 0.6 */
	COLL_CONF_HIGH,   /* R² >= 0.9 and at least 2 * min_samples */
};
const char *coll_confidence_name(enum coll_confidence c); /* "low" | "medium" | "high" */

/* The least-squares sums of a fit's points, times relative to t0 and values
 * to v0 (precision), so that points can be added later without the others
 * (coll_fit_sums_add, coll_forecast_from_sums). */
struct coll_fit_sums {
	int64_t t0;
	double v0, n, st, sv, stt, stv, svv;
};
void coll_fit_sums_add(struct coll_fit_sums *s, int64_t t, double v);

struct coll_forecast {
	enum coll_forecast_status status;
	enum coll_confidence confidence;
	double days;          /* ETA: days from `now` to the crossing (>= 0); else NAN */
	double days_low;      /* ETA: earliest plausible crossing (slope + 2 SE); else NAN */
	double days_high;     /* ETA: latest (slope - 2 SE); INFINITY when unbounded */
	double slope_per_day; /* fitted growth, value units per day (NAN if insufficient) */
	double r2;            /* coefficient of determination of the fit (NAN if n/a) */
	double resid_sd;      /* residual standard deviation, value units (NAN if n/a) */
	double last_value;    /* value of the latest sample (NAN when there is none) */
	double limit;         /* the limit that was asked about */
	size_t n_used;        /* samples in the fit (after window and change point) */
	int64_t fit_from;     /* time of the first sample in the fit (0 if none) */
	bool step_detected;   /* a significant drop was found and earlier samples ignored */
	/* the fitted line (NAN when there was no fit): it passes through
	 * value fit_v at time fit_t (epoch s);
	 * slope_se_per_day is the slope's standard error; drop_threshold the
	 * step down that starts a new segment (step 2 of docs/forecasts.md) */
	double fit_t, fit_v, slope_se_per_day, drop_threshold;
	struct coll_fit_sums sums; /* of the n_used points fitted */
};

/* Forecast when the series crosses `limit` going up, as seen at `now`.
 * p NULL = defaults. Returns 0 (*ret filled, status says what), -EINVAL
 * (NULL/invalid arguments) or -E2BIG / -ENOMEM. */
int coll_forecast_linear(const struct coll_sample *samples, size_t n, double limit, int64_t now,
			 const struct coll_forecast_params *p, struct coll_forecast *ret);

/* The forecast at `now` from fit's sums after points were added to them
 * (coll_fit_sums_add): the least squares of steps 4-6 of docs/forecasts.md
 * on the sums, the change point and window as they were (fit->fit_from,
 * fit->step_detected, fit->drop_threshold kept); last_value: the newest
 * point's. 0 or -EINVAL. p NULL = defaults. */
int coll_forecast_from_sums(const struct coll_forecast *fit, double last_value, int64_t now,
			    const struct coll_forecast_params *p, struct coll_forecast *ret);

/* ---- error-rate spikes ------------------------------------------------- */

struct coll_spike_params {
	int min_weeks;       /* distinct earlier weeks with a sample in the same
				hour-of-week needed for that baseline (3) */
	int64_t recent_s;    /* fallback baseline: samples in [now - recent_s, now) (24 h) */
	size_t min_recent;   /* fewer recent samples: insufficient (6) */
	double z_threshold;  /* robust z at or above this is a spike (4.0) */
	double min_spread;   /* floor for the robust sigma, value units, so a flat
				zero baseline does not turn 0 -> 1 into a spike (1.0) */
	int64_t tz_offset_s; /* host's UTC offset for hour-of-week buckets (0) */
};
void coll_spike_params_default(struct coll_spike_params *p);

enum coll_spike_status {
	COLL_SPIKE_INSUFFICIENT,
	COLL_SPIKE_NORMAL,
	COLL_SPIKE_SPIKE,
};
const char *coll_spike_status_name(enum coll_spike_status s); /* "insufficient"|"normal"|"spike" */

enum coll_baseline_method {
	COLL_BASELINE_NONE,
	COLL_BASELINE_HOUR_OF_WEEK,
	COLL_BASELINE_RECENT,
};
const char *coll_baseline_method_name(enum coll_baseline_method m);

struct coll_spike {
	enum coll_spike_status status;
	enum coll_baseline_method method;
	double current;  /* the value examined */
	double baseline; /* median of the baseline samples (NAN if insufficient) */
	double spread;   /* robust sigma: max(1.4826 * MAD, min_spread) */
	double z;        /* (current - baseline) / spread (NAN if insufficient) */
	size_t n_baseline;
};

/* Is `current` (observed at `now`) a spike against history (earlier samples
 * of the same series; samples at or after now are ignored)? 0 or -EINVAL/-ENOMEM. */
int coll_spike_detect(const struct coll_sample *history, size_t n, int64_t now, double current,
		      const struct coll_spike_params *p, struct coll_spike *ret);

/* `current` judged against the baseline of an earlier coll_spike_detect
 * at a time of the same hour-of-week bucket (docs/forecasts.md "Refit and
 * the cached path"). 0 (*ret filled), 1 when the baseline was insufficient
 * (a refit must decide), or -EINVAL. p NULL = defaults. */
int coll_spike_from_baseline(const struct coll_spike *base, double current,
			     const struct coll_spike_params *p, struct coll_spike *ret);

/* Hour of the week 0..167 (Monday 00:00-00:59 = 0) of t shifted by tz_offset_s. */
int coll_hour_of_week(int64_t t, int64_t tz_offset_s);

/* ---- a forecast attached to an object, as scoring and alerts take it ---- */

enum coll_forecast_kind {
	COLL_FK_DISK_BYTES,          /* object: mount point; fc.limit = total bytes */
	COLL_FK_DISK_INODES,         /* object: mount point; fc.limit = total inodes */
	COLL_FK_INDEX_FRAGMENTATION, /* object: "db/schema.index"; fc.limit = threshold % */
	COLL_FK_ERROR_SPIKE,         /* object: log source or unit; uses .spike */
};
const char *coll_forecast_kind_name(enum coll_forecast_kind k);
/* "disk_bytes" | "disk_inodes" | "index_fragmentation" | "error_spike" */

struct coll_object_forecast {
	enum coll_forecast_kind kind;
	const char *object;      /* borrowed */
	struct coll_forecast fc; /* for the three linear kinds */
	struct coll_spike spike; /* for COLL_FK_ERROR_SPIKE */
};

/* JSON for the read API: {kind, object, status, days, days_low, days_high,
 * confidence, slope_per_day, r2, resid_sd, n_used, ...} (non-finite numbers
 * become null). New reference or NULL on ENOMEM. */
json_t *coll_object_forecast_json(const struct coll_object_forecast *f);

/* That object's compact text (coll_json_compact of it, byte for byte)
 * appended to b without a tree: what ingest stores for every report. 0,
 * -EINVAL (f NULL, a name that is not valid UTF-8), -ENOMEM or -E2BIG (b is
 * then partly written). */
struct ep_buf;
int coll_object_forecast_text(struct ep_buf *b, const struct coll_object_forecast *f);

#endif
