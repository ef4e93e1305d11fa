/* Internal to collector/analysis/score*.c: the raw deductions before caps,
 * the cap of the worst problem, and the helpers the score's files share. */
#ifndef COLL_SCORE_INT_H
#define COLL_SCORE_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "collector/analysis/score.h"

struct raw {
	enum coll_category category;
	int points, cap; /* full points; the per-kind cap */
	int sev;         /* 1 warning, 2 critical */
	double value;    /* NAN = none */
	double worse;    /* value oriented so that larger is worse (ordering only) */
	bool stale;
	int64_t stale_since;
	char *kind, *object, *reason, *remediation;
};

struct raw_list {
	size_t n, cap;
	struct raw *items;
};

/* The worst problem that caps the score (docs/scoring.md, "Caps"). */
struct cap {
	int score; /* 100 = none */
	char *kind, *object, *reason;
};

/* Adds a deduction that is not a finding; reason is consumed. 0 or -ENOMEM. */
int coll_score_raw_add_simple(struct raw_list *l, enum coll_category cat, int points, int cap,
			      int sev, const char *kind, const char *object, char *reason,
			      const char *remediation);
/* Lowers the cap to score for this reason (consumed) when lower. 0 or -ENOMEM. */
int coll_score_cap_lower(struct cap *c, int score, const char *kind, const char *object,
			 char *reason);
/* A malloc'd printf, NULL on ENOMEM. */
char *coll_score_fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
/* An RFC 3339 member of o as epoch seconds, 0 when absent or invalid. */
int64_t coll_score_time_field(const json_t *o, const char *key);
/* The category a probe's findings of unknown kinds (and its coverage) count in. */
enum coll_category coll_score_category_of_probe(const char *probe);

/* score_inputs.c: forecasts, liveness (and fatal conditions they show), coverage. */
int coll_score_forecasts(struct raw_list *l, struct cap *cap, const struct coll_score_input *in);
int coll_score_liveness(struct raw_list *l, struct cap *cap, const struct coll_score_input *in,
			const char *hostname, struct coll_score *cov);
int coll_score_coverage(struct coll_score *s, const struct coll_score_input *in);

#endif
