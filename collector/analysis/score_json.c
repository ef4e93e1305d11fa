/* The score's JSON form, the dead-man view of a stored score and the
 * customer's score and band (score.h, docs/scoring.md). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "collector/analysis/json_field.h"
#include "collector/analysis/score.h"
#include "erpulse/util.h"

static json_t *time_or_null(int64_t t)
{
	char when[32];

	if (t <= 0 || ep_time_format((time_t)t, when, sizeof(when)) < 0)
		return json_null();
	return json_string(when);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* o (NULL on failure) with key set to v; consumes v either way, as
 * json_object_set_new does. Builds what json_pack built, in its key order,
 * without parsing a format for every deduction of every report. */
static json_t *with(json_t *o, const char *key, json_t *v)
{
	if (o && json_object_set_new(o, key, v) == 0)
		return o;
	if (!o)
		json_decref(v);
	json_decref(o);
	return NULL;
}

static json_t *category_json(const struct coll_score *s, int c)
{
	json_t *o = json_object();
	o = with(o, "weight", json_integer(coll_category_weight((enum coll_category)c)));
	o = with(o, "lost", json_integer(s->category_lost[c]));
	o = with(o, "score", json_integer(s->category_score[c]));
	o = with(o, "state", json_string(coll_cat_state_name(s->category_state[c])));
	return with(o, "stale_since", time_or_null(s->category_stale_since[c]));
}

static json_t *deduction_json(const struct coll_deduction *d)
{
	json_t *o = json_object();
	o = with(o, "category", json_string(coll_category_name(d->category)));
	o = with(o, "points", json_integer(d->points));
	o = with(o, "full_points", json_integer(d->full_points));
	o = with(o, "capped", json_boolean(d->capped));
	o = with(o, "severity", json_string(d->severity == 2 ? "critical" : "warning"));
	o = with(o, "value", isfinite(d->value) ? json_real(d->value) : json_null());
	o = with(o, "kind", d->kind ? json_string(d->kind) : NULL);
	o = with(o, "object", d->object ? json_string(d->object) : NULL);
	o = with(o, "reason", d->reason ? json_string(d->reason) : NULL);
	o = with(o, "remediation", str_or_null(d->remediation));
	o = with(o, "stale", json_boolean(d->stale));
	return with(o, "stale_since", time_or_null(d->stale_since));
}

json_t *coll_score_json(const struct coll_score *s)
{
	json_t *o = json_object(), *cats = json_object(), *list = json_array(), *cap = NULL;
	int r = 0;

	if (!o || !cats || !list || !s)
		goto fail;
	for (int c = 0; c < COLL_CAT_COUNT; c++) {
		json_t *cat = category_json(s, c);
		if (!cat ||
		    json_object_set_new(cats, coll_category_name((enum coll_category)c), cat) < 0)
			goto fail;
	}
	for (size_t i = 0; i < s->n_deductions; i++) {
		json_t *e = deduction_json(&s->deductions[i]);
		if (!e || json_array_append_new(list, e) < 0)
			goto fail;
	}
	if (s->cap < 100) {
		cap = with(json_object(), "score", json_integer(s->cap));
		cap = with(cap, "kind", str_or_null(s->cap_kind));
		cap = with(cap, "object", str_or_null(s->cap_object));
		cap = with(cap, "reason", str_or_null(s->cap_reason));
		if (!cap)
			goto fail;
	}
	r |= json_object_set_new(o, "score", json_integer(s->score));
	r |= json_object_set_new(o, "band", json_string(coll_band_name(s->band)));
	r |= json_object_set_new(o, "uncapped_score", json_integer(s->uncapped));
	r |= json_object_set_new(o, "cap", cap ? cap : json_null());
	r |= json_object_set_new(o, "unknown_reason", str_or_null(s->unknown_reason));
	r |= json_object_set_new(o, "stale_since", time_or_null(s->stale_since));
	r |= json_object_set_new(o, "top_reason", str_or_null(coll_score_top_reason(s)));
	r |= json_object_set_new(o, "categories", cats);
	cats = NULL;
	r |= json_object_set_new(o, "deductions", list);
	list = NULL;
	r |= json_object_set_new(o, "omitted", json_integer((json_int_t)s->omitted));
	if (r)
		goto fail;
	return o;
fail:
	json_decref(cats);
	json_decref(list);
	json_decref(o);
	return NULL;
}

const char *coll_score_top_reason(const struct coll_score *s)
{
	if (!s)
		return NULL;
	if (s->band == COLL_BAND_UNKNOWN && s->unknown_reason)
		return s->unknown_reason;
	return s->n_deductions ? s->deductions[0].reason : NULL;
}

/* The liveness lines of j's deductions capped, a "report_age" line first. */
static int silent_deductions(json_t *list, const char *hostname, int64_t age, int64_t interval_s)
{
	json_t *e;
	size_t i;

	json_array_foreach(list, i, e)
	{
		const char *cat = coll_json_str(e, "category");
		if (!cat || strcmp(cat, "liveness") != 0)
			continue;
		json_object_set_new(e, "points", json_integer(0));
		json_object_set_new(e, "capped", json_true());
	}
	char reason[160];
	snprintf(reason, sizeof(reason),
		 "no report for %lld s (%.1f intervals of %lld s): the agent is silent",
		 (long long)age, (double)age / (double)interval_s, (long long)interval_s);
	e = json_pack("{s:s, s:i, s:i, s:b, s:s, s:n, s:s, s:s, s:s, s:s, s:b, s:n}", "category",
		      "liveness", "points", COLL_SILENT_POINTS, "full_points", COLL_SILENT_POINTS,
		      "capped", 0, "severity", "critical", "value", "kind", "report_age", "object",
		      hostname, "reason", reason, "remediation",
		      "Check that the host is up and erpulse-agent is running and can reach the "
		      "collector.",
		      "stale", 0, "stale_since");
	if (!e || json_array_insert_new(list, 0, e) < 0)
		return -ENOMEM;
	return 0;
}

int coll_score_json_silent(json_t *j, const char *hostname, int64_t last_report_at, int64_t now,
			   int64_t interval_s)
{
	json_t *cats = json_object_get(j, "categories"), *list = json_object_get(j, "deductions");
	json_t *cap = json_object_get(j, "cap"), *c;
	const char *name;
	int lost = 0, score, r;

	if (!json_is_object(cats) || !json_is_array(list) || interval_s <= 0)
		return -EINVAL;
	r = silent_deductions(list, hostname ? hostname : "host", now - last_report_at, interval_s);
	if (r < 0)
		return r;
	json_object_foreach(cats, name, c)
	{
		if (!strcmp(name, "liveness")) {
			json_object_set_new(c, "lost", json_integer(COLL_SILENT_POINTS));
			json_object_set_new(c, "score", json_integer(0));
			json_object_set_new(c, "state", json_string("fresh"));
		} else {
			json_object_set_new(c, "state", json_string("unknown"));
			json_object_set_new(c, "stale_since", time_or_null(last_report_at));
		}
		lost += (int)json_integer_value(json_object_get(c, "lost"));
	}
	score = 100 - lost;
	json_object_set_new(j, "uncapped_score", json_integer(score));
	if (json_is_object(cap) && json_integer_value(json_object_get(cap, "score")) < score)
		score = (int)json_integer_value(json_object_get(cap, "score"));
	char why[160];
	snprintf(why, sizeof(why),
		 "silent: no report since %lld s ago (more than 3 intervals of %lld s)",
		 (long long)(now - last_report_at), (long long)interval_s);
	json_object_set_new(j, "score", json_integer(score));
	json_object_set_new(j, "band", json_string("unknown"));
	json_object_set_new(j, "unknown_reason", json_string(why));
	json_object_set_new(j, "top_reason", json_string(why));
	json_object_set_new(j, "stale_since", time_or_null(last_report_at));
	return score;
}

/* The hosts that count for a customer: its production hosts, or all of
 * them when none is marked production. */
static bool counts(const bool *production, size_t n, size_t i)
{
	bool any_prod = false;

	for (size_t k = 0; production && k < n && !any_prod; k++)
		any_prod = production[k];
	return !any_prod || production[i];
}

int coll_customer_score(const int *host_scores, const bool *production, size_t n, size_t *ret_worst)
{
	size_t worst = (size_t)-1;

	for (size_t i = 0; i < n; i++)
		if (counts(production, n, i) &&
		    (worst == (size_t)-1 || host_scores[i] < host_scores[worst]))
			worst = i;
	if (ret_worst)
		*ret_worst = worst;
	return worst == (size_t)-1 ? 100 : host_scores[worst];
}

enum coll_band coll_customer_band(const enum coll_band *host_bands, const bool *production,
				  size_t n)
{
	/* order of precedence: critical, unknown, at_risk, healthy */
	static const int rank[] = {
		[COLL_BAND_HEALTHY] = 0,
		[COLL_BAND_AT_RISK] = 1,
		[COLL_BAND_UNKNOWN] = 2,
		[COLL_BAND_CRITICAL] = 3,
	};
	enum coll_band worst = COLL_BAND_HEALTHY;

	for (size_t i = 0; i < n; i++)
		if (counts(production, n, i) && (unsigned)host_bands[i] <= COLL_BAND_UNKNOWN &&
		    rank[host_bands[i]] > rank[worst])
			worst = host_bands[i];
	return worst;
}
