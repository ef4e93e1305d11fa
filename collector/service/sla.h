/* SLA figures of a set of incidents, usually one customer's (or tier's)
 * month (docs/incidents.md, "SLA figures"). Times are SLA-clock seconds:
 * business hours only for business-hours tiers, pauses excluded. Pure. */
#ifndef COLL_SERVICE_SLA_H
#define COLL_SERVICE_SLA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One incident, already evaluated (coll_sla_evaluate). */
struct coll_sla_item {
	int64_t opened_at;
	bool excluded;  /* closed without a fix (false positive, duplicate,
			   accepted risk): not a problem to resolve */
	bool responded; /* a person answered, or it was resolved */
	bool resolved;
	int64_t response_s, resolution_s; /* used clock seconds (so far when open) */
	int64_t response_target_s, resolution_target_s;
};

#define COLL_SLA_AGE_BUCKETS 4 /* open for < 4 h, < 1 d, < 7 d, longer */

struct coll_sla_figures {
	int64_t opened;   /* incidents in the set */
	int64_t excluded; /* closed without a fix */
	int64_t responded, resolved, resolved_within;
	int64_t response_within, response_judged; /* share = within / judged */
	int64_t response_p50_s, response_p90_s;   /* -1 = none responded */
	double response_within_share;             /* NAN when none judged */
	double resolution_rate; /* resolved within target / (opened - excluded); NAN if none */
	int64_t mtta_s, mttr_s; /* -1 = none */
	int64_t breaches;       /* response or resolution target exceeded */
	int64_t open;
	int64_t open_by_age[COLL_SLA_AGE_BUCKETS];
};

/* Nearest-rank percentile p (1-100) of v (sorted ascending, n >= 1). */
int64_t coll_percentile(const int64_t *v, size_t n, int p);

/* Figures of items at now. 0 or -ENOMEM. */
int coll_sla_compute(const struct coll_sla_item *items, size_t n, int64_t now,
		     struct coll_sla_figures *ret);

#endif
