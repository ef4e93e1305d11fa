/* GET /api/v1/adoption/<customer id> (docs/adoption.md): the customer's
 * adoption score beside its technical risk, the daily history and trend of
 * the last 30 days, and the customer-health view. Computed on read from the
 * stored reports (one per agent and day): no table of its own. */
#include <errno.h>
#include <math.h>
#include <microhttpd.h>
#include <string.h>

#include "collector/analysis/adoption.h"
#include "collector/http/http.h"
#include "collector/service/service.h"
#include "collector/store/adoption.h"
#include "collector/store/incidents.h"
#include "collector/store/sql.h"
#include "erpulse/report.h"

#define HISTORY_DAYS 30

/* The day's customer-wide adoption: the ERP database with the most enabled
 * users among that day's reports. 0, or -ENOENT when none carries usage. */
static int day_score(const struct coll_db_res *res, size_t from, size_t to,
		     const struct coll_adoption_params *p, struct coll_adoption *ret)
{
	int rc = -ENOENT;
	int64_t best = -1;
	for (size_t i = from; i < to; i++) {
		const char *body = coll_db_val(res, i, 1);
		json_t *report = body ? json_loads(body, 0, NULL) : NULL;
		const json_t *db = report ? coll_adoption_pick(report) : NULL;
		struct coll_adoption a;
		if (db && coll_adoption_score(db, p, &a) == 0 && a.users_enabled > best) {
			best = a.users_enabled;
			*ret = a;
			rc = 0;
		}
		json_decref(report);
	}
	return rc;
}

/* SLA attainment: the resolution rate (resolved within target / opened minus
 * excluded, the >= 95 % promise) of the incidents opened this UTC month, in
 * %; -1 when none was opened. *ret: {measure, month_from, opened,
 * resolved_within_target, promise_pct}. */
static int sla_attainment(struct coll_store *s, const struct coll_scope *scope,
			  const struct coll_incident_ctx *ctx, const char *id, int *pct,
			  json_t **ret)
{
	int64_t now = coll_service_now(), from, to;
	json_t *sla = NULL;
	int r = coll_month_range(NULL, now, &from, &to);
	if (r < 0 || (r = coll_store_sla(s, ctx, scope, id, from, to, now, &sla)) < 0)
		return r;
	const json_t *all = json_object_get(sla, "overall");
	const json_t *rate = json_object_get(all, "resolution_rate");
	*pct = json_is_number(rate) ? (int)lround(100.0 * json_number_value(rate)) : -1;
	*ret = json_pack("{s:s, s:I, s:O, s:O, s:i}", "measure", "resolution_rate", "month_from",
			 (json_int_t)from, "opened", json_object_get(all, "opened"),
			 "resolved_within_target", json_object_get(all, "resolved_within_target"),
			 "promise_pct", 95);
	json_decref(sla);
	return *ret ? 0 : -ENOMEM;
}

static int adoption(struct coll_store *s, const struct coll_scope *scope, struct req *rq,
		    const char *url, int64_t now, json_t **ret)
{
	const char *id = url + strlen("/api/v1/adoption/");
	struct coll_db_res res;
	const struct coll_adoption_params *p = &rq->srv->cfg->adoption;
	const struct coll_health_weights *w = &rq->srv->cfg->health_weights;
	struct coll_sample hist[HISTORY_DAYS + 1];
	size_t nh = 0;
	struct coll_adoption last;
	bool have_last = false;
	int risk = -1, sla_pct = -1;
	json_t *sla = NULL;

	int r = coll_store_adoption_reports(s, scope, id, now - HISTORY_DAYS * 86400, &res);
	if (r < 0)
		return r;
	if ((r = coll_store_customer_risk(s, id, &risk)) < 0 ||
	    (r = sla_attainment(s, scope, &rq->srv->cfg->service.ctx, id, &sla_pct, &sla)) < 0) {
		coll_db_res_free(&res);
		return r;
	}
	json_t *history = json_array();
	for (size_t i = 0; i < res.rows;) {
		int64_t day = coll_s2i(coll_db_val(&res, i, 0)) / 86400;
		size_t j = i;
		while (j < res.rows && coll_s2i(coll_db_val(&res, j, 0)) / 86400 == day)
			j++;
		struct coll_adoption a;
		if (day_score(&res, i, j, p, &a) == 0 && nh < HISTORY_DAYS + 1) {
			hist[nh].t = day * 86400;
			hist[nh].v = a.score;
			nh++;
			json_array_append_new(history, json_pack("{s:I, s:i}", "day",
								 (json_int_t)(day * 86400), "score",
								 a.score));
			last = a;
			have_last = true;
		}
		i = j;
	}
	coll_db_res_free(&res);
	double trend = coll_adoption_trend(hist, nh);
	int health = coll_customer_health(risk, have_last ? last.score : -1, sla_pct, w);
	*ret = json_pack(
		"{s:s, s:o, s:o, s:o, s:{s:o, s:o, s:o, s:o, s:o, s:o, s:{s:i, s:i, s:i}, "
		"s:{s:i, s:i, s:i}, s:{s:i, s:i}}}",
		"customer_id", id, "adoption", have_last ? coll_adoption_json(&last) : json_null(),
		"trend_points_per_30d",
		isfinite(trend) ? json_real(round(trend * 10) / 10) : json_null(), "history",
		history, "health", "score", health >= 0 ? json_integer(health) : json_null(),
		"band",
		health >= 0 ? json_string(coll_adoption_band_name(coll_adoption_band_p(health, p)))
			    : json_null(),
		"risk_score", risk >= 0 ? json_integer(risk) : json_null(), "adoption_score",
		have_last ? json_integer(last.score) : json_null(), "sla_pct",
		sla_pct >= 0 ? json_integer(sla_pct) : json_null(), "sla", sla, "weights", "risk",
		w->risk, "adoption", w->adoption, "sla", w->sla, "adoption_weights", "login",
		p->login_weight, "modules", p->modules_weight, "login_target_pct",
		p->login_target_pct, "bands", "healthy_from", p->healthy_from, "at_risk_from",
		p->at_risk_from);
	return *ret ? 0 : -ENOMEM;
}

enum MHD_Result coll_api_adoption(struct req *rq, const char *url)
{
	return coll_http_read(rq, url, adoption, NULL);
}
