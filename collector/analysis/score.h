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
};
enum coll_band coll_score_band(int score);
const char *coll_band_name(enum coll_band b); /* "healthy" | "at_risk" | "critical" */

/* One explained deduction. All strings are owned by the struct coll_score. */
struct coll_deduction {
	enum coll_category category;
	int points;        /* > 0 */
	char *kind;        /* finding kind, "disk_full_forecast", "report_age", ... */
	char *object;      /* "/var", "odoo/public.x_idx", hostname, ... */
	char *reason;      /* one sentence: what was seen and why it costs points */
	char *remediation; /* what to do; may be NULL */
};

struct coll_score_input {
	const json_t *report; /* validated erpulse.report.v1 (borrowed); required */
	const struct coll_object_forecast *forecasts; /* may be NULL */
	size_t n_forecasts;
	int64_t received_at; /* when the collector received this report (epoch s);
				0 = use the report's generated_at */
	int64_t now;         /* the clock the score is computed at (epoch s) */
};

struct coll_score {
	int score; /* 0..100 */
	enum coll_band band;
	int category_lost[COLL_CAT_COUNT];  /* points lost per category (<= weight) */
	int category_score[COLL_CAT_COUNT]; /* 0..100 per category: 100 * (w - lost) / w */
	size_t n_deductions;
	struct coll_deduction *deductions; /* biggest first */
};

/* Scores one host. On success *ret is filled and owned by the caller
 * (coll_score_free). 0, -EINVAL (no report / report not an object) or -ENOMEM. */
int coll_score_host(const struct coll_score_input *in, struct coll_score *ret);
/* Frees what coll_score_host allocated inside s (not s itself). NULL-safe. */
void coll_score_free(struct coll_score *s);

/* {score, band, categories: {database: {weight, lost, score}, ...},
 *  deductions: [{category, points, kind, object, reason, remediation}]}.
 * New reference or NULL on ENOMEM. */
json_t *coll_score_json(const struct coll_score *s);

/* Customer score = its worst production host. production[i] says whether
 * host i counts; when none does, the worst of all hosts counts. Returns the
 * score (100 when n == 0) and, if ret_worst, the index of that host (or
 * (size_t)-1 when n == 0). */
int coll_customer_score(const int *host_scores, const bool *production, size_t n,
			size_t *ret_worst);

#endif
