/* The score's JSON form, the dead-man view of a stored score and the
 * customer's score and band (score.h, docs/scoring.md). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "collector/analysis/json_field.h"
#include "collector/analysis/score.h"
#include "collector/store/store.h"
#include "erpulse/util.h"

static json_t *time_or_null(int64_t t)
{
	char when[32];

	if (t <= 0 || ep_time_format((time_t)t, when, sizeof(when)) < 0)
		return json_null();
	return json_string(when);
}

/* a time as the score's texts hold it: ep_time_format's text, or null */
static void put_time_or_null(struct coll_json_writer *w, int64_t t)
{
	char when[32];

	if (t <= 0 || ep_time_format((time_t)t, when, sizeof(when)) < 0)
		coll_jw_raw(w, "null");
	else
		coll_jw_str(w, when);
}

static void put_category(struct coll_json_writer *w, const struct coll_score *s, int c)
{
	coll_jw_raw(w, "{\"weight\":");
	coll_jw_int(w, coll_category_weight((enum coll_category)c));
	coll_jw_raw(w, ",\"lost\":");
	coll_jw_int(w, s->category_lost[c]);
	coll_jw_raw(w, ",\"score\":");
	coll_jw_int(w, s->category_score[c]);
	coll_jw_raw(w, ",\"state\":");
	coll_jw_str(w, coll_cat_state_name(s->category_state[c]));
	coll_jw_raw(w, ",\"stale_since\":");
	put_time_or_null(w, s->category_stale_since[c]);
	coll_jw_raw(w, "}");
}

/* kind, object and reason are required (NULL: -EINVAL, as the tree form
 * failed), remediation may be null */
static void put_deduction(struct coll_json_writer *w, const struct coll_deduction *d)
{
	coll_jw_raw(w, "{\"category\":");
	coll_jw_str(w, coll_category_name(d->category));
	coll_jw_raw(w, ",\"points\":");
	coll_jw_int(w, d->points);
	coll_jw_raw(w, ",\"full_points\":");
	coll_jw_int(w, d->full_points);
	coll_jw_raw(w, ",\"capped\":");
	coll_jw_bool(w, d->capped);
	coll_jw_raw(w, d->severity == 2 ? ",\"severity\":\"critical\",\"value\":"
					: ",\"severity\":\"warning\",\"value\":");
	coll_jw_real_or_null(w, d->value);
	coll_jw_raw(w, ",\"kind\":");
	coll_jw_str(w, d->kind);
	coll_jw_raw(w, ",\"object\":");
	coll_jw_str(w, d->object);
	coll_jw_raw(w, ",\"reason\":");
	coll_jw_str(w, d->reason);
	coll_jw_raw(w, ",\"remediation\":");
	coll_jw_str_or_null(w, d->remediation);
	coll_jw_raw(w, ",\"stale\":");
	coll_jw_bool(w, d->stale);
	coll_jw_raw(w, ",\"stale_since\":");
	put_time_or_null(w, d->stale_since);
	coll_jw_raw(w, "}");
}

int coll_score_text(struct ep_buf *b, const struct coll_score *s)
{
	struct coll_json_writer w = {.b = b, .r = s ? 0 : -EINVAL};

	if (w.r < 0)
		return w.r;
	coll_jw_raw(&w, "{\"score\":");
	coll_jw_int(&w, s->score);
	coll_jw_raw(&w, ",\"band\":");
	coll_jw_str(&w, coll_band_name(s->band));
	coll_jw_raw(&w, ",\"uncapped_score\":");
	coll_jw_int(&w, s->uncapped);
	coll_jw_raw(&w, ",\"cap\":");
	if (s->cap < 100) {
		coll_jw_raw(&w, "{\"score\":");
		coll_jw_int(&w, s->cap);
		coll_jw_raw(&w, ",\"kind\":");
		coll_jw_str_or_null(&w, s->cap_kind);
		coll_jw_raw(&w, ",\"object\":");
		coll_jw_str_or_null(&w, s->cap_object);
		coll_jw_raw(&w, ",\"reason\":");
		coll_jw_str_or_null(&w, s->cap_reason);
		coll_jw_raw(&w, "}");
	} else {
		coll_jw_raw(&w, "null");
	}
	coll_jw_raw(&w, ",\"unknown_reason\":");
	coll_jw_str_or_null(&w, s->unknown_reason);
	coll_jw_raw(&w, ",\"stale_since\":");
	put_time_or_null(&w, s->stale_since);
	coll_jw_raw(&w, ",\"top_reason\":");
	coll_jw_str_or_null(&w, coll_score_top_reason(s));
	coll_jw_raw(&w, ",\"categories\":{");
	for (int c = 0; c < COLL_CAT_COUNT; c++) {
		if (c)
			coll_jw_raw(&w, ",");
		coll_jw_str(&w, coll_category_name((enum coll_category)c));
		coll_jw_raw(&w, ":");
		put_category(&w, s, c);
	}
	coll_jw_raw(&w, "},\"deductions\":[");
	for (size_t i = 0; i < s->n_deductions; i++) {
		if (i)
			coll_jw_raw(&w, ",");
		put_deduction(&w, &s->deductions[i]);
	}
	coll_jw_raw(&w, "],\"omitted\":");
	coll_jw_int(&w, (int64_t)s->omitted);
	coll_jw_raw(&w, "}");
	return w.r;
}

json_t *coll_score_json(const struct coll_score *s)
{
	struct ep_buf b;

	ep_buf_init(&b, (size_t)1 << 30);
	return coll_json_text_tree(&b, coll_score_text(&b, s));
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
