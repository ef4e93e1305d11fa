/* The report model (model.h): the overall score and its trend, the
 * categories, the top risks, the fixes of the month, the SLA figures and
 * month over month. Capacity, database, patches and logs are in
 * model_state.c. Everything is read through the store's interface, within
 * the customer's scope. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/analysis/score.h"
#include "collector/report/chart.h"
#include "collector/report/model.h"
#include "collector/report/model_int.h"
#include "collector/report/report.h"
#include "collector/service/tiers.h"
#include "erpulse/util.h"

#define DAY 86400

const char *coll_rating_name(enum coll_rating r)
{
	static const char *const names[] = {"green", "yellow", "red", "grey"};
	return (unsigned)r < EP_ARRAY_SIZE(names) ? names[r] : "grey";
}

enum coll_rating coll_report_rating(int score, int worst_severity, bool fresh)
{
	if (!fresh || score < 0)
		return COLL_RATING_GREY;
	if (worst_severity >= 2 || score < 60)
		return COLL_RATING_RED;
	if (worst_severity == 1 || score < 85)
		return COLL_RATING_YELLOW;
	return COLL_RATING_GREEN;
}

int64_t coll_report_month_start(const struct coll_tz *tz, int y, int m)
{
	while (m < 1) {
		m += 12;
		y--;
	}
	while (m > 12) {
		m -= 12;
		y++;
	}
	int64_t local = (int64_t)coll_date_days(y, m, 1) * DAY;
	return tz ? coll_tz_to_utc(tz, local) : local;
}

double coll_report_series_mean(const struct coll_report_series *s, int64_t from, int64_t to)
{
	double sum = 0;
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->t[i] >= from && s->t[i] < to && isfinite(s->v[i])) {
			sum += s->v[i];
			n++;
		}
	return n ? sum / (double)n : NAN;
}

/* ---- small JSON helpers (shared with model_state.c) ----------------------------- */

const char *coll_rm_str(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : "";
}

double coll_rm_num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

int64_t coll_rm_int(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? json_integer_value(v)
	       : json_is_real(v)  ? (int64_t)json_real_value(v)
				  : 0;
}

void coll_rm_copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
	coll_utf8_cut(dst);
}

int coll_rm_fail(char *err, size_t err_size, struct coll_store *s, const char *what, int r)
{
	if (r == -ENOMEM)
		snprintf(err, err_size, "%s: out of memory", what);
	else
		snprintf(err, err_size, "%s: %s", what, s->err[0] ? s->err : coll_db_error(s->db));
	return r;
}

/* Fills out from the {series: [{name, t, v}]} answer's element named name. */
void coll_rm_series(const json_t *answer, const char *name, struct coll_report_series *out)
{
	size_t i;
	const json_t *e;
	out->n = 0;
	json_array_foreach(json_object_get(answer, "series"), i, e)
	{
		if (strcmp(coll_rm_str(e, "name"), name) != 0)
			continue;
		const json_t *t = json_object_get(e, "t"), *v = json_object_get(e, "v");
		for (size_t k = 0; k < json_array_size(t) && out->n < COLL_REPORT_MAX_POINTS; k++) {
			out->t[out->n] = json_integer_value(json_array_get(t, k));
			out->v[out->n] = json_number_value(json_array_get(v, k));
			out->n++;
		}
	}
}

/* ---- overall ------------------------------------------------------------------- */

static int overall(struct coll_store *s, struct coll_report_model *m, const struct coll_tz *tz,
		   const struct coll_scope *scope)
{
	json_t *list = NULL, *ans = NULL;
	int r = coll_store_customers(s, scope, &list);
	if (r < 0)
		return r;
	size_t i;
	const json_t *c;
	m->score = -1;
	json_array_foreach(list, i, c)
	{
		if (strcmp(coll_rm_str(c, "id"), m->customer_id) != 0)
			continue;
		coll_rm_copy(m->customer, sizeof(m->customer), coll_rm_str(c, "name"));
		if (json_is_integer(json_object_get(c, "score")))
			m->score = (int)json_integer_value(json_object_get(c, "score"));
		coll_rm_copy(m->band, sizeof(m->band), coll_rm_str(c, "band"));
	}
	json_decref(list);

	/* the 6-month trend: daily worst scores, their mean per month */
	static const char *const names[] = {"score"};
	int64_t from = coll_report_month_start(tz, m->year, m->month - 5);
	struct coll_series_query q = {from, m->to, coll_series_step(from, m->to, DAY), names, 1};
	r = coll_store_customer_series(s, scope, m->customer_id, &q, &ans);
	if (r < 0)
		return r;
	const json_t *e = json_array_get(json_object_get(ans, "series"), 0);
	const json_t *t = json_object_get(e, "t"), *v = json_object_get(e, "v");
	for (int k = 0; k < COLL_REPORT_TREND_MONTHS; k++) {
		int64_t a = coll_report_month_start(tz, m->year, m->month - 5 + k);
		int64_t b = coll_report_month_start(tz, m->year, m->month - 4 + k);
		int32_t day = coll_tz_day(tz, a);
		int d;
		coll_date_civil(day, &m->trend_year[k], &m->trend_month[k], &d);
		double sum = 0;
		size_t n = 0;
		for (size_t j = 0; j < json_array_size(t); j++) {
			int64_t ts = json_integer_value(json_array_get(t, j));
			if (ts >= a && ts < b) {
				sum += json_number_value(json_array_get(v, j));
				n++;
			}
		}
		m->trend[k] = n ? sum / (double)n : NAN;
	}
	json_decref(ans);
	return 0;
}

/* ---- categories and risks ---------------------------------------------------------- */

static int severity_of(const char *s)
{
	return strcmp(s, "critical") == 0 ? 2 : strcmp(s, "warning") == 0 ? 1 : 0;
}

void coll_rm_insert(void *base, size_t *n, size_t cap, size_t elem, const void *item,
		    bool (*worse)(const void *item, const void *element))
{
	unsigned char *b = base;
	size_t at = *n;
	while (at > 0 && worse(item, b + (at - 1) * elem))
		at--;
	if (at >= cap)
		return;
	size_t keep = *n < cap ? *n : cap - 1;
	memmove(b + (at + 1) * elem, b + at * elem, (keep - at) * elem);
	memcpy(b + at * elem, item, elem);
	if (*n < cap)
		(*n)++;
}

/* Risks: worse by severity, then points, then value. */
static bool risk_worse(const void *item, const void *element)
{
	const struct coll_report_risk *r = item, *p = element;
	return r->severity != p->severity ? r->severity > p->severity
	       : r->points != p->points   ? r->points > p->points
					  : r->value > p->value;
}

/* One host's explanation into the categories and the risks. */
static void host_score(struct coll_report_model *m, const char *id, const char *hostname,
		       const json_t *expl, int worst_sev[COLL_REPORT_CATEGORIES],
		       bool fresh[COLL_REPORT_CATEGORIES])
{
	const json_t *cats = json_object_get(expl, "categories");
	for (int c = 0; c < COLL_REPORT_CATEGORIES; c++) {
		const json_t *o = json_object_get(cats, coll_category_name((enum coll_category)c));
		if (!o)
			continue;
		const char *state = coll_rm_str(o, "state");
		if (strcmp(state, "fresh") == 0 || strcmp(state, "stale") == 0)
			fresh[c] = true;
		double sc = coll_rm_num(o, "score");
		if (isfinite(sc) && (m->cat[c].score < 0 || sc < m->cat[c].score))
			m->cat[c].score = (int)sc;
	}
	size_t i;
	const json_t *d;
	json_array_foreach(json_object_get(expl, "deductions"), i, d)
	{
		enum coll_category c = COLL_CAT_COUNT;
		for (int k = 0; k < COLL_REPORT_CATEGORIES; k++)
			if (strcmp(coll_rm_str(d, "category"),
				   coll_category_name((enum coll_category)k)) == 0)
				c = (enum coll_category)k;
		double pts = coll_rm_num(d, "points");
		if (c == COLL_CAT_COUNT || !(pts > 0) || json_is_true(json_object_get(d, "stale")))
			continue;
		struct coll_report_risk r = {.severity = severity_of(coll_rm_str(d, "severity")),
					     .points = (int)pts,
					     .value = coll_rm_num(d, "value")};
		coll_rm_copy(r.agent_id, sizeof(r.agent_id), id);
		coll_rm_copy(r.host, sizeof(r.host), hostname);
		coll_rm_copy(r.kind, sizeof(r.kind), coll_rm_str(d, "kind"));
		coll_rm_copy(r.object, sizeof(r.object), coll_rm_str(d, "object"));
		/* the category's "why": its worst deduction over every host */
		if (r.severity > worst_sev[c] || !m->cat[c].kind[0]) {
			if (r.severity > worst_sev[c])
				worst_sev[c] = r.severity;
			coll_rm_copy(m->cat[c].kind, sizeof(m->cat[c].kind), r.kind);
			coll_rm_copy(m->cat[c].object, sizeof(m->cat[c].object), r.object);
			coll_rm_copy(m->cat[c].host, sizeof(m->cat[c].host), hostname);
		}
		coll_rm_insert(m->risks, &m->n_risks, COLL_REPORT_MAX_RISKS, sizeof(r), &r,
			       risk_worse);
	}
}

/* The name the report gives agent id: its label or hostname as read with
 * the hosts, else the incident's hostname (a host no longer listed). */
static const char *host_name(const struct coll_report_model *m, const char *id,
			     const char *fallback)
{
	for (size_t i = 0; i < m->n_names; i++)
		if (strcmp(m->names[i].agent_id, id) == 0)
			return m->names[i].name;
	return fallback;
}

/* The incident of each risk (its live one, else its latest), and the fixes
 * of the month: incidents resolved by a later report within [from, to). */
static int incidents(struct coll_store *s, struct coll_report_model *m,
		     const struct coll_scope *scope)
{
	struct coll_incident_filter f = {.state = "all", .customer_id = m->customer_id};
	json_t *list = NULL;
	int r = coll_store_incidents(s, scope, &f, &list);
	if (r < 0)
		return r;
	size_t i;
	const json_t *inc;
	json_array_foreach(list, i, inc)
	{
		const char *agent = coll_rm_str(inc, "agent_id"), *rule = coll_rm_str(inc, "rule");
		const char *host = host_name(m, agent, coll_rm_str(inc, "hostname"));
		const char *object = coll_rm_str(inc, "object"), *state = coll_rm_str(inc, "state");
		int64_t id = json_integer_value(json_object_get(inc, "id"));
		int64_t opened = coll_rm_int(inc, "first_opened_at");
		int64_t resolved = coll_rm_int(inc, "resolved_at");
		if (opened >= m->from && opened < m->to)
			m->incidents_new++;
		for (size_t k = 0; k < m->n_risks; k++) {
			struct coll_report_risk *rk = &m->risks[k];
			bool live = strcmp(state, "resolved") != 0 && strcmp(state, "closed") != 0;
			bool rk_live = rk->state[0] && strcmp(rk->state, "resolved") != 0 &&
				       strcmp(rk->state, "closed") != 0;
			if (strcmp(rk->agent_id, agent) || strcmp(rk->kind, rule) ||
			    strcmp(rk->object, object) || (rk_live && !live) ||
			    (rk->incident_id > id && rk_live == live))
				continue;
			rk->incident_id = id;
			coll_rm_copy(rk->state, sizeof(rk->state), state);
		}
		if (strcmp(state, "resolved") != 0 || resolved < m->from || resolved >= m->to)
			continue;
		m->incidents_resolved++;
		if (!json_is_true(json_object_get(inc, "verified")) ||
		    m->n_fixes >= COLL_REPORT_MAX_ROWS)
			continue;
		struct coll_report_fix *fx = &m->fixes[m->n_fixes++];
		coll_rm_copy(fx->host, sizeof(fx->host), host);
		coll_rm_copy(fx->kind, sizeof(fx->kind), rule);
		coll_rm_copy(fx->object, sizeof(fx->object), object);
		fx->before = coll_rm_num(inc, "before");
		fx->after = coll_rm_num(inc, "after");
		fx->resolved_at = resolved;
		fx->incident_id = id;
	}
	json_decref(list);
	return 0;
}

/* ---- SLA -------------------------------------------------------------------------- */

static int64_t jint(const json_t *o, const char *key, int64_t none)
{
	const json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? json_integer_value(v) : none;
}

static int sla(struct coll_store *s, struct coll_report_model *m, const struct coll_scope *scope,
	       const struct coll_incident_ctx *ctx)
{
	json_t *out = NULL;
	int r = coll_store_sla(s, ctx, scope, m->customer_id, m->from, m->to, m->now, &out);
	if (r < 0)
		return r;
	const json_t *o = json_object_get(out, "overall");
	struct coll_report_sla *a = &m->sla;
	a->opened = jint(o, "opened", 0);
	a->has = a->opened > 0;
	a->excluded = jint(o, "excluded", 0);
	a->responded = jint(o, "responded", 0);
	a->resolved = jint(o, "resolved", 0);
	a->resolved_within = jint(o, "resolved_within_target", 0);
	a->breaches = jint(o, "breaches", 0);
	a->open = jint(o, "open", 0);
	a->p50_s = jint(o, "response_p50_s", -1);
	a->p90_s = jint(o, "response_p90_s", -1);
	a->within_share = coll_rm_num(o, "response_within_target");
	a->resolution_rate = coll_rm_num(o, "resolution_rate");
	/* the tier whose targets the month was judged by: the one with most incidents */
	const char *k, *best = NULL;
	const json_t *t;
	int64_t most = 0;
	json_object_foreach(json_object_get(out, "tiers"), k, t)
	{
		if (jint(t, "opened", 0) > most) {
			most = jint(t, "opened", 0);
			best = k;
		}
	}
	const struct coll_tier *tier = best ? coll_tiers_find(ctx->tiers, best) : NULL;
	if (tier) {
		coll_rm_copy(a->tier, sizeof(a->tier), tier->name);
		a->target_critical_s = tier->response_s[COLL_SEV_CRITICAL];
		a->target_warning_s = tier->response_s[COLL_SEV_WARNING];
	}
	json_decref(out);
	return 0;
}

/* ---- month over month: each category's worst host, daily, this month vs the last */

static int category_months(struct coll_store *s, struct coll_report_model *m,
			   const struct coll_scope *scope, const char *host_id,
			   const struct coll_tz *tz)
{
	static const char *const names[] = {"score.database", "score.storage", "score.errors",
					    "score.patches", "score.liveness"};
	int64_t prev = coll_report_month_start(tz, m->year, m->month - 1);
	struct coll_series_query q = {prev, m->to, coll_series_step(prev, m->to, DAY), names,
				      EP_ARRAY_SIZE(names)};
	json_t *ans = NULL;
	int r = coll_store_host_series(s, scope, host_id, &q, &ans);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	struct coll_report_series *ser = malloc(sizeof(*ser));
	if (!ser) {
		json_decref(ans);
		return -ENOMEM;
	}
	for (int c = 0; c < COLL_REPORT_CATEGORIES; c++) {
		coll_rm_series(ans, names[c], ser);
		double p = coll_report_series_mean(ser, prev, m->from);
		double cur = coll_report_series_mean(ser, m->from, m->to);
		/* the worst host of the month counts, like the customer's score */
		if (isfinite(cur) && (!isfinite(m->cat[c].cur) || cur < m->cat[c].cur)) {
			m->cat[c].cur = cur;
			m->cat[c].prev = p;
		}
	}
	free(ser);
	json_decref(ans);
	return 0;
}

/* ---- the whole ---------------------------------------------------------------------- */

static int hosts(struct coll_store *s, struct coll_report_model *m, const struct coll_scope *scope,
		 const struct coll_tz *tz, char *err, size_t err_size)
{
	json_t *list = NULL;
	int r = coll_store_hosts(s, scope, m->now, &list);
	if (r < 0)
		return coll_rm_fail(err, err_size, s, "reading the hosts", r);
	int worst_sev[COLL_REPORT_CATEGORIES] = {0};
	bool fresh[COLL_REPORT_CATEGORIES] = {false};
	size_t i;
	const json_t *h;
	struct coll_rm_state st;
	coll_rm_state_init(&st);
	json_array_foreach(list, i, h)
	{
		if (strcmp(coll_rm_str(h, "customer_id"), m->customer_id) != 0)
			continue;
		const char *id = coll_rm_str(h, "id");
		json_t *host = NULL;
		r = coll_store_host(s, scope, id, m->now, &host);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			break;
		m->hosts++;
		const char *label = coll_rm_str(host, "label");
		const char *name = label[0] ? label : coll_rm_str(host, "hostname");
		if (m->n_names < COLL_REPORT_MAX_HOSTS) {
			coll_rm_copy(m->names[m->n_names].agent_id, COLL_ID_SIZE, id);
			coll_rm_copy(m->names[m->n_names].name, sizeof(m->names[0].name), name);
			name = m->names[m->n_names++].name;
		}
		host_score(m, id, name, json_object_get(host, "explanation"), worst_sev, fresh);
		r = category_months(s, m, scope, id, tz);
		if (r == 0)
			r = coll_rm_host_state(s, m, scope, id, name, host, &st);
		json_decref(host);
		if (r < 0)
			break;
	}
	json_decref(list);
	if (r < 0)
		return coll_rm_fail(err, err_size, s, "reading a host", r);
	coll_rm_state_finish(m, &st);
	for (int c = 0; c < COLL_REPORT_CATEGORIES; c++)
		m->cat[c].rating = coll_report_rating(m->cat[c].score, worst_sev[c], fresh[c]);
	return 0;
}

int coll_report_model_build(struct coll_store *s, const struct coll_report_request *rq,
			    struct coll_report_model *ret, char *err, size_t err_size)
{
	struct coll_report_model *m = ret;
	struct coll_tz tz = {0};
	struct coll_tiers builtin = {0};
	struct coll_incident_ctx ctx0 = {0};
	const struct coll_incident_ctx *ctx = rq->incidents;
	int r;

	memset(m, 0, sizeof(*m));
	if (rq->month < 1 || rq->month > 12 || rq->year < 1970 || rq->year > 9999) {
		snprintf(err, err_size, "month %04d-%02d: not a month (YYYY-MM)", rq->year,
			 rq->month);
		return -EINVAL;
	}
	const char *zone = rq->time_zone && rq->time_zone[0] ? rq->time_zone : "UTC";
	char tzerr[256] = "";
	if ((r = coll_tz_load(zone, NULL, &tz, tzerr, sizeof(tzerr))) < 0) {
		snprintf(err, err_size, "time zone '%s': %s", zone, tzerr);
		return -EINVAL;
	}
	coll_rm_copy(m->time_zone, sizeof(m->time_zone), zone);
	m->year = rq->year;
	m->month = rq->month;
	m->now = rq->now;
	m->from = coll_report_month_start(&tz, rq->year, rq->month);
	m->to = coll_report_month_start(&tz, rq->year, rq->month + 1);
	m->utc_offset = coll_tz_offset(&tz, m->from);
	if (m->from > m->now) {
		snprintf(err, err_size,
			 "month %04d-%02d has not begun yet in %s: choose this month or an "
			 "earlier one",
			 rq->year, rq->month, zone);
		r = -EINVAL;
		goto out;
	}
	r = coll_store_customer_find(s, rq->customer ? rq->customer : "", m->customer_id);
	if (r < 0) {
		if (r == -ENOENT)
			snprintf(err, err_size,
				 "customer '%s': no such customer (see: erpulse-collector customer "
				 "list)",
				 rq->customer ? rq->customer : "");
		else
			coll_rm_fail(err, err_size, s, "finding the customer", r);
		goto out;
	}
	if (!ctx) {
		if ((r = coll_tiers_defaults(&builtin)) < 0) {
			snprintf(err, err_size, "service tiers: out of memory");
			goto out;
		}
		ctx0.tiers = &builtin;
		ctx = &ctx0;
	}
	for (int c = 0; c < COLL_REPORT_CATEGORIES; c++) {
		m->cat[c].score = -1;
		m->cat[c].prev = m->cat[c].cur = NAN;
	}
	m->index_threshold = NAN;
	struct coll_scope scope = {.customer_id = m->customer_id};
	if ((r = overall(s, m, &tz, &scope)) < 0) {
		coll_rm_fail(err, err_size, s, "reading the score history", r);
		goto out;
	}
	if ((r = hosts(s, m, &scope, &tz, err, err_size)) < 0)
		goto out;
	if ((r = incidents(s, m, &scope)) < 0) {
		coll_rm_fail(err, err_size, s, "reading the incidents", r);
		goto out;
	}
	if ((r = sla(s, m, &scope, ctx)) < 0) {
		coll_rm_fail(err, err_size, s, "reading the SLA figures", r);
		goto out;
	}
	r = 0;
out:
	coll_tz_free(&tz);
	coll_tiers_free(&builtin);
	return r;
}
