/* Explained risk score per host, 0-100, 100 = healthy (docs/scoring.md).
 *
 * OWNER: analytics slice (collector/score.[ch]). Pure: takes a report that
 * ep_report_validate() accepted, optional forecasts and the clock; no I/O.
 *
 * Model: five categories with published weights (database 35, storage 25,
 * errors 15, patches 10, liveness 15 = 100). Each finding, forecast or
 * liveness condition costs a fixed number of points in its category; a
 * category never loses more than its weight. score = 100 - sum(points), and
 * every lost point is one entry of the explanation (whose points add up to
 * exactly 100 - score). */
#ifndef ERPULSE_COLL_SCORE_H
#define ERPULSE_COLL_SCORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "collector/analysis/forecast.h"

enum coll_category {
	COLL_CAT_DATABASE,
	COLL_CAT_STORAGE,
	COLL_CAT_ERRORS,
	COLL_CAT_PATCHES,
	COLL_CAT_LIVENESS,
	COLL_CAT_COUNT,
};
const char *coll_category_name(enum coll_category c); /* "database", ... */
int coll_category_weight(enum coll_category c);       /* 35, 25, 15, 10, 15 */

enum coll_band {
	COLL_BAND_HEALTHY,  /* 85-100 */
	COLL_BAND_AT_RISK,  /* 60-84 */
	COLL_BAND_CRITICAL, /* 0-59 */
	COLL_BAND_UNKNOWN,  /* silent, never reported, or most probes without fresh data:
			       the score is the last known one, shown greyed */
};
/* The band of a score (never UNKNOWN: that depends on coverage, not points). */
enum coll_band coll_score_band(int score);
/* "healthy" | "at_risk" | "critical" | "unknown" */
const char *coll_band_name(enum coll_band b);
int coll_band_parse(const char *s, enum coll_band *ret); /* 0 or -EINVAL */

/* Fresh data for a category? (docs/scoring.md, "Unknown and stale") */
enum coll_cat_state {
	COLL_CAT_FRESH,       /* at least one instance feeding it reported ok now */
	COLL_CAT_STALE,       /* only carried (stale) data, younger than stale_after */
	COLL_CAT_UNKNOWN,     /* no data younger than stale_after */
	COLL_CAT_UNMONITORED, /* no configured instance feeds it */
};
const char *coll_cat_state_name(enum coll_cat_state s); /* "fresh" | "stale" | ... */

#define COLL_SILENT_POINTS 15 /* no report for more than 3 intervals: all of liveness */

/* Score caps from the worst problem (docs/scoring.md, "Caps"). */
#define COLL_CAP_CRITICAL_FINDING 84 /* an open critical finding: never healthy */
#define COLL_CAP_FATAL            59 /* fatal condition: critical band */

/* Explanation lines beyond the ones that cost points: capped entries after
 * this many are summed up in `omitted` (a report may carry thousands). */
#define COLL_SCORE_MAX_CAPPED 200

/* One explained deduction. All strings are owned by the struct coll_score. */
struct coll_deduction {
	enum coll_category category;
	int points;          /* taken: 0 when the kind's or category's cap was used up */
	int full_points;     /* what it costs without caps (>= points) */
	bool capped;         /* points < full_points */
	int severity;        /* 1 warning, 2 critical */
	double value;        /* the finding's value (NAN when none) */
	bool stale;          /* carried from an instance that did not report now */
	int64_t stale_since; /* stale: time of the data (epoch s), else 0 */
	char *kind;          /* finding kind, "disk_full_forecast", "report_age", ... */
	char *object;        /* "/var", "odoo/public.x_idx", hostname, ... */
	char *reason;        /* one sentence: what was seen and why it costs points */
	char *remediation;   /* what to do; may be NULL */
};

struct coll_score_input {
	const json_t *report; /* validated erpulse.report.v1 (borrowed); required */
	const struct coll_object_forecast *forecasts; /* may be NULL */
	size_t n_forecasts;
	int64_t received_at; /* when the collector received this report (epoch s);
				0 = use the report's generated_at */
	int64_t now;         /* the clock the score is computed at (epoch s) */
	/* carried (stale) data older than this makes its category unknown;
	 * 0 = 3 report intervals (docs/scoring.md) */
	int64_t stale_after_s;
};

struct coll_score {
	int score;    /* 0..100: min(uncapped, cap) */
	int uncapped; /* 100 - the sum of the deductions' points */
	int cap;      /* 100, COLL_CAP_CRITICAL_FINDING or COLL_CAP_FATAL */
	char *cap_kind, *cap_object, *cap_reason; /* why the cap (NULL when cap == 100) */
	enum coll_band band;
	char *unknown_reason;               /* band UNKNOWN: why (else NULL) */
	int64_t stale_since;                /* band UNKNOWN: newest data (epoch s), 0 = none */
	int category_lost[COLL_CAT_COUNT];  /* points lost per category (<= weight) */
	int category_score[COLL_CAT_COUNT]; /* 0..100 per category: 100 * (w - lost) / w */
	enum coll_cat_state category_state[COLL_CAT_COUNT];
	int64_t category_stale_since[COLL_CAT_COUNT]; /* STALE/UNKNOWN: newest data, or 0 */
	size_t n_deductions;
	struct coll_deduction *deductions; /* worst first: severity, points, value */
	size_t omitted; /* capped deductions beyond COLL_SCORE_MAX_CAPPED, not listed */
};

/* Scores one host. On success *ret is filled and owned by the caller
 * (coll_score_free). 0, -EINVAL (no report / report not an object) or -ENOMEM. */
int coll_score_host(const struct coll_score_input *in, struct coll_score *ret);
/* Frees what coll_score_host allocated inside s (not s itself). NULL-safe. */
void coll_score_free(struct coll_score *s);

/* {score, band, uncapped_score, cap: {score, kind, object, reason} | null,
 *  unknown_reason, stale_since, top_reason,
 *  categories: {database: {weight, lost, score, state, stale_since}, ...},
 *  deductions: [{category, points, full_points, capped, severity, value, kind,
 *  object, reason, remediation, stale, stale_since}], omitted}.
 * New reference or NULL on ENOMEM. */
json_t *coll_score_json(const struct coll_score *s);
/* That object's compact text (coll_json_compact of it, byte for byte)
 * appended to b without a tree: what ingest stores for every report. 0,
 * -EINVAL (s NULL, a deduction without kind, object or reason, a text that
 * is not valid UTF-8), -ENOMEM or -E2BIG (b is then partly written). */
struct ep_buf;
int coll_score_text(struct ep_buf *b, const struct coll_score *s);
/* The host's top reason: why unknown, else the worst deduction's reason
 * (worst by severity, then points, then value). Borrowed; NULL = none. */
const char *coll_score_top_reason(const struct coll_score *s);

/* The dead-man view of a stored score (coll_score_json's form, changed in
 * place): the agent is silent since last_report_at, so liveness loses all
 * its points (a "report_age" line first, the other liveness lines capped),
 * every other category is unknown, the band is unknown and stale_since says
 * since when. Returns the new score, or -EINVAL when j is not a score. */
int coll_score_json_silent(json_t *j, const char *hostname, int64_t last_report_at, int64_t now,
			   int64_t interval_s);

/* Customer score = its worst production host. production[i] says whether
 * host i counts; when none does, the worst of all hosts counts. Returns the
 * score (100 when n == 0) and, if ret_worst, the index of that host (or
 * (size_t)-1 when n == 0). */
int coll_customer_score(const int *host_scores, const bool *production, size_t n,
			size_t *ret_worst);
/* Customer band over the same hosts: critical if one is critical, else
 * unknown if one is unknown (a customer is never healthy while one of its
 * production hosts is unknown), else at_risk if one is, else healthy. */
enum coll_band coll_customer_band(const enum coll_band *host_bands, const bool *production,
				  size_t n);

#endif
