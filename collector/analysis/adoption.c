/* Adoption score and customer health (adoption.h, docs/adoption.md). */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "collector/analysis/adoption.h"
#include "erpulse/util.h"

/* The five core document types the erp probe counts (documents_7d). */
static const struct {
	const char *key, *label;
} core_docs[] = {
	{"sales_orders", "sales"},         {"invoices", "invoicing"},
	{"stock_moves", "stock"},          {"purchase_orders", "purchasing"},
	{"journal_entries", "accounting"},
};

enum coll_adoption_band coll_adoption_band_p(int score, const struct coll_adoption_params *p)
{
	if (score >= p->healthy_from)
		return COLL_ADOPTION_HEALTHY;
	if (score >= p->at_risk_from)
		return COLL_ADOPTION_AT_RISK;
	return COLL_ADOPTION_CHURN_WARNING;
}

enum coll_adoption_band coll_adoption_band(int score)
{
	struct coll_adoption_params p;
	coll_adoption_params_default(&p);
	return coll_adoption_band_p(score, &p);
}

const char *coll_adoption_band_name(enum coll_adoption_band b)
{
	switch (b) {
	case COLL_ADOPTION_HEALTHY:
		return "healthy";
	case COLL_ADOPTION_AT_RISK:
		return "at_risk";
	default:
		return "churn_warning";
	}
}

void coll_adoption_params_default(struct coll_adoption_params *p)
{
	p->login_weight = 25;
	p->modules_weight = 30;
	p->login_target_pct = 70;
	p->healthy_from = 85;
	p->at_risk_from = 60;
}

static int64_t int_of(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

/* Weighted mean of parts whose value is >= 0; -1 when none counts. */
static int weighted(const int *value, const int *weight, size_t n)
{
	double sum = 0, wsum = 0;
	for (size_t i = 0; i < n; i++)
		if (value[i] >= 0 && weight[i] > 0) {
			sum += (double)value[i] * weight[i];
			wsum += weight[i];
		}
	return wsum > 0 ? (int)lround(sum / wsum) : -1;
}

int coll_adoption_score(const json_t *db, const struct coll_adoption_params *p,
			struct coll_adoption *ret)
{
	const json_t *u = json_object_get(db, "usage");
	memset(ret, 0, sizeof(*ret));
	ret->score = ret->login_score = ret->modules_score = -1;
	if (!json_is_object(u))
		return -ENOENT;

	ret->users_enabled = int_of(u, "users_enabled");
	ret->active_users_7d = int_of(u, "active_users_7d");
	if (ret->users_enabled > 0 && ret->active_users_7d >= 0) {
		double pct = 100.0 * (double)ret->active_users_7d / (double)ret->users_enabled;
		double target = p->login_target_pct > 0 ? p->login_target_pct : 100;
		ret->login_score = (int)lround(fmin(100.0, 100.0 * pct / target));
		ep_snprintf(ret->reason, sizeof(ret->reason),
			    "%lld of %lld enabled users active in 7 days (%.0f%%, "
			    "full marks at %d%%). ",
			    (long long)ret->active_users_7d, (long long)ret->users_enabled, pct,
			    p->login_target_pct);
	}
	const json_t *docs = json_object_get(u, "documents_7d");
	char used[128] = "", unused[128] = "";
	for (size_t i = 0; i < EP_ARRAY_SIZE(core_docs); i++) {
		int64_t n = int_of(docs, core_docs[i].key);
		if (n < 0)
			continue; /* module not installed or not measured */
		ret->modules_available++;
		char *list = n > 0 ? used : unused;
		size_t len = strlen(list);
		ep_snprintf(list + len, sizeof(used) - len, "%s%s", len ? ", " : "",
			    core_docs[i].label);
		if (n > 0)
			ret->modules_used++;
	}
	if (ret->modules_available > 0) {
		ret->modules_score =
			(int)lround(100.0 * ret->modules_used / ret->modules_available);
		size_t off = strlen(ret->reason);
		if (off < sizeof(ret->reason))
			ep_snprintf(ret->reason + off, sizeof(ret->reason) - off,
				    "%d of %d core modules used in 7 days (used: %s; idle: %s).",
				    ret->modules_used, ret->modules_available,
				    used[0] ? used : "none", unused[0] ? unused : "none");
	}
	int value[] = {ret->login_score, ret->modules_score};
	int weight[] = {p->login_weight, p->modules_weight};
	ret->score = weighted(value, weight, 2);
	ret->band = coll_adoption_band_p(ret->score < 0 ? 0 : ret->score, p);
	return ret->score < 0 ? -ENOENT : 0;
}

const json_t *coll_adoption_pick(const json_t *report)
{
	const json_t *best = NULL, *probe;
	int64_t best_users = -2;
	size_t i;

	json_array_foreach(json_object_get(report, "probes"), i, probe)
	{
		const char *name = json_string_value(json_object_get(probe, "name"));
		if (!name || strcmp(name, "erp") != 0)
			continue;
		json_t *dbs = json_object_get(json_object_get(probe, "metrics"), "databases");
		const char *k;
		const json_t *db;
		json_object_foreach(dbs, k, db)
		{
			const json_t *u = json_object_get(db, "usage");
			if (!json_is_object(u))
				continue;
			int64_t n = int_of(u, "users_enabled");
			if (n > best_users) {
				best_users = n;
				best = db;
			}
		}
	}
	return best;
}

double coll_adoption_trend(const struct coll_sample *s, size_t n)
{
	if (n < 2)
		return NAN;
	double mt = 0, mv = 0;
	for (size_t i = 0; i < n; i++) {
		mt += (double)(s[i].t - s[0].t);
		mv += s[i].v;
	}
	mt /= (double)n;
	mv /= (double)n;
	double sxy = 0, sxx = 0;
	for (size_t i = 0; i < n; i++) {
		double dt = (double)(s[i].t - s[0].t) - mt;
		sxy += dt * (s[i].v - mv);
		sxx += dt * dt;
	}
	if (sxx <= 0)
		return NAN;
	return sxy / sxx * 30.0 * 86400.0;
}

void coll_health_weights_default(struct coll_health_weights *w)
{
	w->risk = 40;
	w->adoption = 40;
	w->sla = 20;
}

int coll_customer_health(int risk_score, int adoption_score, int sla_pct,
			 const struct coll_health_weights *w)
{
	int value[] = {risk_score, adoption_score, sla_pct};
	int weight[] = {w->risk, w->adoption, w->sla};
	return weighted(value, weight, 3);
}

json_t *coll_adoption_json(const struct coll_adoption *a)
{
	return json_pack("{s:i, s:s, s:{s:i, s:I, s:I}, s:{s:i, s:i, s:i}, s:s}", "score", a->score,
			 "band", coll_adoption_band_name(a->band), "login", "score", a->login_score,
			 "users_enabled", (json_int_t)a->users_enabled, "active_users_7d",
			 (json_int_t)a->active_users_7d, "modules", "score", a->modules_score,
			 "used", a->modules_used, "available", a->modules_available, "reason",
			 a->reason);
}
