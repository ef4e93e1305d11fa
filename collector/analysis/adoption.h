/* Adoption beside risk (issue 14, docs/adoption.md): how much a customer
 * really uses its ERP, from the erp probe's aggregate usage metrics, after
 * the customer-health model the product follows (bands 85-100 healthy, 60-84
 * at risk, below 60 churn warning), kept apart from the technical risk
 * score; and the customer-health view that combines risk, adoption and SLA
 * attainment with published, configurable weights.
 *
 * Pure functions: no I/O, no store access. Wiring (samples of the score per
 * customer, read API, dashboard) is described in docs/adoption.md. */
#ifndef ERPULSE_COLL_ADOPTION_H
#define ERPULSE_COLL_ADOPTION_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/analysis/forecast.h"

enum coll_adoption_band {
	COLL_ADOPTION_HEALTHY,       /* 85-100 */
	COLL_ADOPTION_AT_RISK,       /* 60-84 */
	COLL_ADOPTION_CHURN_WARNING, /* 0-59 */
};
/* With the model's published bands (85, 60). */
enum coll_adoption_band coll_adoption_band(int score);
const char *coll_adoption_band_name(enum coll_adoption_band b); /* "healthy", ... */

/* The model's measured parts and their weights (the model's own: login
 * frequency of key users 25, use of core modules 30; the other parts are the
 * vendor's CRM). A weight of 0 leaves a part out. */
struct coll_adoption_params {
	int login_weight;     /* 25 */
	int modules_weight;   /* 30 */
	int login_target_pct; /* share of enabled users active in 7 days for full marks (70) */
	int healthy_from;     /* band limits, also of customer health: 85 */
	int at_risk_from;     /* 60; below: churn warning */
};
void coll_adoption_params_default(struct coll_adoption_params *p);
/* The band of a score with p's limits. */
enum coll_adoption_band coll_adoption_band_p(int score, const struct coll_adoption_params *p);

struct coll_adoption {
	int score; /* 0..100; -1 when nothing could be measured */
	enum coll_adoption_band band;
	int login_score;   /* 0..100, -1 = not measured */
	int modules_score; /* 0..100, -1 = not measured */
	int64_t users_enabled, active_users_7d;
	int modules_used, modules_available; /* core document types with documents in 7 days */
	char reason[512];                    /* one or two sentences: what was measured */
};

/* Scores one ERP database from its erp probe metrics (the object
 * metrics.databases.<db> of an erp probe entry). 0, or -ENOENT when the
 * object carries no usage block (usage = no, or no ERP found). */
int coll_adoption_score(const json_t *erp_db_metrics, const struct coll_adoption_params *p,
			struct coll_adoption *ret);

/* The ERP database of a report that speaks for the customer: the one with
 * the most enabled users among the erp probe entries. Borrowed, or NULL. */
const json_t *coll_adoption_pick(const json_t *report);

/* Least-squares slope of scores over time, in points per 30 days; NAN with
 * fewer than 2 samples or no time spread. */
double coll_adoption_trend(const struct coll_sample *scores, size_t n);

/* ---- customer health ------------------------------------------------------ */

struct coll_health_weights {
	int risk, adoption, sla; /* published defaults 40, 40, 20 */
};
void coll_health_weights_default(struct coll_health_weights *w);

/* Weighted mean of the technical risk score, the adoption score and the SLA
 * attainment (%), each 0..100 or -1 when unknown (its weight is then shared
 * by the others). -1 when all are unknown. Band as for adoption. */
int coll_customer_health(int risk_score, int adoption_score, int sla_pct,
			 const struct coll_health_weights *w);

/* {score, band, login: {score, users_enabled, active_users_7d}, modules:
 *  {score, used, available}, reason}. New reference or NULL on ENOMEM. */
json_t *coll_adoption_json(const struct coll_adoption *a);

#endif
