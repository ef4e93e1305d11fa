/* Ingest-time analysis inside the report's transaction (analysis.h):
 * history -> forecasts -> score -> alerts -> outbox. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/analysis/alerts.h"
#include "collector/analysis/analysis.h"
#include "collector/analysis/forecast.h"
#include "collector/analysis/score.h"
#include "collector/store/sql.h"
#include "erpulse/report.h"
#include "erpulse/util.h"

#define HISTORY_MAX 5000 /* samples used per series */

/* ---- forecasts ------------------------------------------------------------ */

struct fc_set {
	struct coll_object_forecast *v;
	char **objects;
	size_t n, cap;
	int64_t security_since; /* security updates pending since (epoch s), 0 = none */
};

static void fc_set_free(struct fc_set *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->objects[i]);
	free(f->objects);
	free(f->v);
}

/* Every forecastable sample of the agent in the window, ordered by series
 * then newest first: one query per report, grouped here. */
struct history {
	struct coll_db_res res;
	struct coll_sample *v; /* res.rows samples, in the row order */
};

static int load_history(struct coll_store *s, const char *agent, int64_t from, struct history *h)
{
	int r = COLL_Q(
		s,
		"SELECT series, ts, value FROM samples WHERE agent_id = ? AND ts >= CAST(? AS"
		" BIGINT) ORDER BY series, ts DESC",
		&h->res, agent, coll_i2s(from).s);
	if (r < 0)
		return r;
	h->v = calloc(h->res.rows ? h->res.rows : 1, sizeof(*h->v));
	if (!h->v)
		return -ENOMEM;
	for (size_t i = 0; i < h->res.rows; i++) {
		h->v[i].t = coll_s2i(coll_db_val(&h->res, i, 1));
		h->v[i].v = strtod(coll_db_val(&h->res, i, 2), NULL);
	}
	return 0;
}

static void history_free(struct history *h)
{
	coll_db_res_free(&h->res);
	free(h->v);
}

/* The rows of one series (at most HISTORY_MAX, newest first). */
static const struct coll_sample *history_of(const struct history *h, const char *series,
					    size_t *ret_n)
{
	size_t i = 0, n = h->res.rows;
	while (i < n && strcmp(coll_db_val(&h->res, i, 0), series) != 0)
		i++;
	size_t j = i;
	while (j < n && j - i < HISTORY_MAX && strcmp(coll_db_val(&h->res, j, 0), series) == 0)
		j++;
	*ret_n = j - i;
	return &h->v[i];
}

/* Stores this report's value of series when a sample interval has passed
 * since the last stored one (history keeps one sample per interval per
 * series: enough for forecasts over days, and a bounded number of rows per
 * report), and returns the series as the analysis sees it: the n past
 * samples plus this value as the last (*ret_v, n + 1 entries, caller frees). */
static int sample_series(const struct coll_analysis *an, struct coll_store *s,
			 const struct coll_ingest *it, const char *series, double value,
			 const struct coll_sample *past, size_t n, struct coll_sample **ret_v)
{
	if (n == 0 || it->received_at - past[0].t >= an->sample_interval_s) {
		int r = COLL_Q(
			s,
			"INSERT INTO samples (agent_id, series, ts, value) VALUES (?, ?, ?, ?)"
			" ON CONFLICT (agent_id, series, ts) DO UPDATE SET value = excluded.value",
			NULL, it->agent.id, series, coll_i2s(it->received_at).s, coll_d2s(value).s);
		if (r < 0)
			return r;
	}
	struct coll_sample *v = malloc((n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (n)
		memcpy(v, past, n * sizeof(*v));
	v[n].t = it->received_at;
	v[n].v = value;
	*ret_v = v;
	return 0;
}

/* Security updates have no age of their own in a report: the host's history
 * of the count says since when they have been pending (alerts.h,
 * security_pending_since). */
static int security_pending(const struct coll_analysis *an, struct coll_store *s,
			    const struct coll_ingest *it, const json_t *f,
			    const struct history *hist, int64_t *since)
{
	const char *object = coll_jstr(f, "object");
	const json_t *val = json_object_get(f, "value");
	if (!object || !json_is_number(val))
		return 0;
	char series[EP_REPORT_MAX_STRING + 32];
	snprintf(series, sizeof(series), "security_updates:%s", object);
	size_t n = 0;
	const struct coll_sample *past = history_of(hist, series, &n);
	struct coll_sample *v;
	int r = sample_series(an, s, it, series, json_number_value(val), past, n, &v);
	if (r < 0)
		return r;
	int64_t t = coll_pending_since(v, n + 1);
	free(v);
	if (t > 0 && (*since == 0 || t < *since))
		*since = t;
	return 0;
}

static int forecast_finding(const struct coll_analysis *an, struct coll_store *s,
			    const struct coll_ingest *it, const json_t *f,
			    const struct history *hist, struct fc_set *set)
{
	const char *kind = coll_jstr(f, "kind"), *object = coll_jstr(f, "object");
	const json_t *val = json_object_get(f, "value"), *thr = json_object_get(f, "threshold");
	enum coll_forecast_kind fk;
	double limit = 100;
	if (!kind || !object || !json_is_number(val))
		return 0;
	if (strcmp(kind, "disk_usage") == 0)
		fk = COLL_FK_DISK_BYTES;
	else if (strcmp(kind, "inode_usage") == 0)
		fk = COLL_FK_DISK_INODES;
	else if (strcmp(kind, "index_fragmentation") == 0) {
		fk = COLL_FK_INDEX_FRAGMENTATION;
		limit = json_is_number(thr) ? json_number_value(thr) : 30;
	} else if (strcmp(kind, "log_errors") == 0 || strcmp(kind, "journal_errors") == 0)
		fk = COLL_FK_ERROR_SPIKE;
	else
		return 0;
	if (set->n >= an->max_forecasts)
		return 0;
	char series[EP_REPORT_MAX_STRING * 2 + 2];
	snprintf(series, sizeof(series), "%s:%s", kind, object);
	size_t n = 0;
	const struct coll_sample *past = history_of(hist, series, &n);
	double value = json_number_value(val);
	int r;

	struct coll_sample *v;
	r = sample_series(an, s, it, series, value, past, n, &v);
	if (r < 0)
		return r;
	if (set->n == set->cap) {
		size_t ncap = set->cap ? set->cap * 2 : 8;
		struct coll_object_forecast *nv = realloc(set->v, ncap * sizeof(*nv));
		char **no = nv ? realloc(set->objects, ncap * sizeof(*no)) : NULL;
		if (nv)
			set->v = nv;
		if (!nv || !no) {
			free(v);
			return -ENOMEM;
		}
		set->objects = no;
		set->cap = ncap;
	}
	struct coll_object_forecast *o = &set->v[set->n];
	memset(o, 0, sizeof(*o));
	o->kind = fk;
	set->objects[set->n] = strdup(object);
	if (!set->objects[set->n]) {
		free(v);
		return -ENOMEM;
	}
	o->object = set->objects[set->n];
	if (fk == COLL_FK_ERROR_SPIKE) {
		r = coll_spike_detect(v, n, it->received_at, value, NULL, &o->spike);
	} else {
		r = coll_forecast_linear(v, n + 1, limit, it->received_at, NULL, &o->fc);
	}
	free(v);
	if (r < 0) {
		free(set->objects[set->n]);
		return r == -ENOMEM ? r : 0; /* a series it cannot use is skipped */
	}
	set->n++;
	return 0;
}

static int forecasts(const struct coll_analysis *an, struct coll_store *s,
		     const struct coll_ingest *it, struct fc_set *set)
{
	const json_t *p, *f;
	size_t i, k;
	struct history hist = {0};
	int r = load_history(s, it->agent.id, it->received_at - an->forecast_window_s, &hist);
	if (r < 0)
		goto out;
	json_array_foreach(json_object_get(it->report, "probes"), i, p)
	{
		json_array_foreach(json_object_get(p, "findings"), k, f)
		{
			const char *kind = coll_jstr(f, "kind");
			if (kind && strcmp(kind, "security_updates") == 0)
				r = security_pending(an, s, it, f, &hist, &set->security_since);
			else
				r = forecast_finding(an, s, it, f, &hist, set);
			if (r < 0)
				goto out;
		}
	}
out:
	history_free(&hist);
	return r;
}

/* ---- alerts ------------------------------------------------------------------ */

struct open_set {
	struct coll_open_alert *v;
	struct coll_db_res res;
	size_t n;
};

static int load_open(struct coll_store *s, const char *agent, struct open_set *o)
{
	memset(o, 0, sizeof(*o));
	int r = COLL_Q(
		s,
		"SELECT rule, object, severity FROM alerts WHERE agent_id = ? AND closed_at IS "
		"NULL",
		&o->res, agent);
	if (r < 0)
		return r;
	o->v = calloc(o->res.rows ? o->res.rows : 1, sizeof(*o->v));
	if (!o->v)
		return -ENOMEM;
	for (size_t i = 0; i < o->res.rows; i++) {
		struct coll_open_alert *a = &o->v[o->n];
		if (coll_rule_parse(coll_db_val(&o->res, i, 0), &a->rule) < 0 ||
		    coll_alert_level_parse(coll_db_val(&o->res, i, 2), &a->level) < 0)
			continue;
		a->object = coll_db_val(&o->res, i, 1);
		o->n++;
	}
	return 0;
}

static void open_free(struct open_set *o)
{
	free(o->v);
	coll_db_res_free(&o->res);
}

struct target {
	const char *agent_id, *customer_id, *hostname;
	char customer[256];
	bool customer_loaded;
};

static int enqueue(const struct coll_analysis *an, struct coll_store *s, struct target *t,
		   const struct coll_alert_result *a, int64_t now)
{
	if (!an->webhook_url && !an->smtp_url)
		return 0;
	if (!t->customer_loaded) {
		struct coll_db_res res;
		int r = COLL_Q(s, "SELECT name FROM customers WHERE id = ?", &res, t->customer_id);
		if (r < 0)
			return r;
		snprintf(t->customer, sizeof(t->customer), "%s",
			 res.rows ? coll_db_val(&res, 0, 0) : t->customer_id);
		coll_db_res_free(&res);
		t->customer_loaded = true;
	}
	char url[1024];
	if (an->dashboard_url) {
		size_t n = strlen(an->dashboard_url);
		while (n > 0 && an->dashboard_url[n - 1] == '/')
			n--;
		snprintf(url, sizeof(url), "%.*s/hosts/%s", (int)n, an->dashboard_url, t->agent_id);
	}
	struct coll_notice n = {
		.host = t->hostname,
		.customer = t->customer,
		.rule = coll_rule_name(a->rule),
		.object = a->object,
		.severity = coll_alert_level_name(a->level == COLL_LEVEL_NONE ? a->open : a->level),
		.value = a->value,
		.unit = a->unit,
		.message = a->message,
		.remediation = a->remediation,
		.dashboard_url = an->dashboard_url ? url : NULL,
		.at = now,
	};
	switch (a->action) {
	case COLL_ACTION_RAISE:
		n.state = COLL_NOTICE_RAISE;
		break;
	case COLL_ACTION_ESCALATE:
		n.state = COLL_NOTICE_ESCALATE;
		break;
	case COLL_ACTION_CLEAR:
		n.state = COLL_NOTICE_CLEAR;
		break;
	default:
		return 0;
	}
	int r = 0;
	if (an->webhook_url) {
		char *body = coll_notice_render_webhook(&n, an->webhook_format);
		if (!body)
			return -ENOMEM;
		r = coll_store_outbox_add(s, "webhook", body, now);
		free(body);
		if (r < 0)
			return r;
	}
	if (an->smtp_url) {
		char *msg = NULL;
		r = coll_notice_render_mail(&n, an->mail_from, an->mail_to, &msg);
		if (r < 0)
			return r;
		r = coll_store_outbox_add(s, "email", msg, now);
		free(msg);
	}
	return r;
}

/* Applies one evaluated alert to the alerts table (and the outbox). */
static int apply(const struct coll_analysis *an, struct coll_store *s, struct target *t,
		 const struct coll_alert_result *a, int64_t now)
{
	const char *rule = coll_rule_name(a->rule);
	const char *level = coll_alert_level_name(a->level);
	struct coll_num v = coll_d2s(a->value), ts = coll_i2s(now);
	const char *value = v.s[0] ? v.s : NULL;
	int r = 0;
	switch (a->action) {
	case COLL_ACTION_RAISE:
		r = COLL_Q(
			s,
			"INSERT INTO alerts (agent_id, customer_id, rule, object, severity, value,"
			" message, remediation, opened_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?,"
			" ?, ?, ?)",
			NULL, t->agent_id, t->customer_id, rule, a->object, level, value,
			a->message, a->remediation, ts.s, ts.s);
		break;
	case COLL_ACTION_ESCALATE:
	case COLL_ACTION_DEESCALATE:
		r = COLL_Q(s,
			   "UPDATE alerts SET severity = ?, value = ?, message = ?, updated_at = ?"
			   " WHERE agent_id = ? AND rule = ? AND object = ? AND closed_at IS NULL",
			   NULL, level, value, a->message, ts.s, t->agent_id, rule, a->object);
		break;
	case COLL_ACTION_CLEAR:
		r = COLL_Q(s,
			   "UPDATE alerts SET closed_at = ?, updated_at = ?, value = ?, message = ?"
			   " WHERE agent_id = ? AND rule = ? AND object = ? AND closed_at IS NULL",
			   NULL, ts.s, ts.s, value, a->message, t->agent_id, rule, a->object);
		break;
	case COLL_ACTION_NONE:
		if (a->open != COLL_LEVEL_NONE && value)
			r = COLL_Q(s,
				   "UPDATE alerts SET value = ? WHERE agent_id = ? AND rule = ? AND"
				   " object = ? AND closed_at IS NULL AND (value IS NULL OR value "
				   "<> ?)",
				   NULL, value, t->agent_id, rule, a->object, value);
		return r;
	}
	if (r < 0)
		return r;
	if (coll_alert_action_notifies(a->action))
		r = enqueue(an, s, t, a, now);
	return r;
}

/* ---- the ingest step ------------------------------------------------------------ */

int coll_analysis_run(const struct coll_analysis *an, struct coll_store *s,
		      const struct coll_ingest *it)
{
	struct fc_set set = {0};
	struct open_set open = {0};
	struct coll_score sc = {0};
	struct coll_alert_results ar = {0};
	char *score_json = NULL, *fc_json = NULL;
	int r;

	r = forecasts(an, s, it, &set);
	if (r < 0)
		goto out;

	struct coll_score_input si = {
		.report = it->report,
		.forecasts = set.v,
		.n_forecasts = set.n,
		.received_at = it->received_at,
		.now = it->received_at,
	};
	r = coll_score_host(&si, &sc);
	if (r < 0)
		goto out;
	json_t *sj = coll_score_json(&sc);
	json_t *fj = json_array();
	for (size_t i = 0; fj && i < set.n; i++)
		json_array_append_new(fj, coll_object_forecast_json(&set.v[i]));
	score_json = sj ? coll_json_compact(sj) : NULL;
	fc_json = fj ? coll_json_compact(fj) : NULL;
	json_decref(sj);
	json_decref(fj);
	if (!score_json || !fc_json) {
		r = -ENOMEM;
		goto out;
	}
	r = COLL_Q(s,
		   "UPDATE agents SET score = ?, band = ?, top_reason = ?, score_json = ?, "
		   "forecasts_json"
		   " = ? WHERE id = ?",
		   NULL, coll_i2s(sc.score).s, coll_band_name(sc.band),
		   sc.n_deductions ? sc.deductions[0].reason : NULL, score_json, fc_json,
		   it->agent.id);
	if (r == 0) {
		_Static_assert(COLL_CAT_COUNT == COLL_HISTORY_CATEGORIES, "history columns");
		r = coll_store_history_score(s, it->agent.id, it->received_at, sc.score,
					     sc.category_score);
	}
	if (r < 0)
		goto out;

	if (it->open_alerts > 0) { /* most reports find none: spare the query */
		r = load_open(s, it->agent.id, &open);
		if (r < 0)
			goto out;
	}
	struct coll_alert_input ai = {
		.report = it->report,
		.forecasts = set.v,
		.n_forecasts = set.n,
		.open = open.v,
		.n_open = open.n,
		.received_at = it->received_at,
		.now = it->received_at,
		.security_pending_since = set.security_since,
	};
	r = coll_alerts_evaluate(&ai, &ar);
	if (r < 0)
		goto out;
	struct target t = {
		.agent_id = it->agent.id,
		.customer_id = it->agent.customer_id,
		.hostname = coll_jstr(json_object_get(it->report, "host"), "hostname"),
	};
	if (!t.hostname)
		t.hostname = it->agent.id;
	for (size_t i = 0; i < ar.n; i++) {
		r = apply(an, s, &t, &ar.items[i], it->received_at);
		if (r < 0)
			goto out;
	}
out:
	coll_alert_results_free(&ar);
	open_free(&open);
	coll_score_free(&sc);
	fc_set_free(&set);
	free(score_json);
	free(fc_json);
	return r;
}

/* ---- dead man --------------------------------------------------------------------- */

int coll_analysis_deadman(const struct coll_analysis *an, struct coll_store *s, int64_t now)
{
	struct coll_db_res res;
	int raised = 0;
	/* the scan runs outside any transaction (a reader does not hold up
	 * ingest); only agents found silent are handled in one, re-checked */
	int r = COLL_Q(
		s,
		"SELECT a.id, a.customer_id, a.hostname, a.last_report_at, a.interval_s FROM "
		"agents a"
		" WHERE a.revoked_at IS NULL AND a.last_report_at IS NOT NULL AND"
		" a.last_report_at + 3 * a.interval_s < CAST(? AS BIGINT) AND NOT EXISTS (SELECT 1"
		" FROM alerts x WHERE x.agent_id = a.id AND x.rule = 'agent_silent' AND"
		" x.closed_at IS NULL AND x.severity = 'critical') LIMIT 1000",
		&res, coll_i2s(now).s);
	if (r < 0)
		return r;
	if (res.rows == 0) {
		coll_db_res_free(&res);
		return 0;
	}
	r = coll_db_begin(s->db);
	if (r < 0) {
		coll_db_res_free(&res);
		return r;
	}
	for (size_t i = 0; i < res.rows; i++) {
		struct open_set open;
		struct coll_alert_results ar = {0};
		struct target t = {
			.agent_id = coll_db_val(&res, i, 0),
			.customer_id = coll_db_val(&res, i, 1),
			.hostname = coll_db_val(&res, i, 2),
		};
		struct coll_db_res again;
		r = COLL_Q(s,
			   "SELECT 1 FROM agents WHERE id = ? AND last_report_at = CAST(? AS "
			   "BIGINT) AND"
			   " revoked_at IS NULL",
			   &again, t.agent_id, coll_db_val(&res, i, 3));
		if (r < 0)
			goto fail_res;
		size_t still = again.rows;
		coll_db_res_free(&again);
		if (!still)
			continue; /* it reported (or was revoked) since the scan */
		r = load_open(s, t.agent_id, &open);
		if (r < 0)
			goto fail_res;
		struct coll_alert_input ai = {
			.open = open.v,
			.n_open = open.n,
			.now = now,
			.last_seen = coll_s2i(coll_db_val(&res, i, 3)),
			.interval_s = coll_s2i(coll_db_val(&res, i, 4)),
		};
		r = coll_alerts_evaluate(&ai, &ar);
		for (size_t k = 0; r == 0 && k < ar.n; k++) {
			if (ar.items[k].rule != COLL_RULE_AGENT_SILENT ||
			    ar.items[k].action == COLL_ACTION_NONE)
				continue;
			/* another collector may raise the same alert at the same time:
			 * the unique index lets one win; the loser's savepoint goes */
			r = coll_db_exec(s->db, "SAVEPOINT deadman");
			if (r == 0)
				r = apply(an, s, &t, &ar.items[k], now);
			if (r == -EEXIST)
				r = coll_db_exec(s->db, "ROLLBACK TO SAVEPOINT deadman");
			else if (r == 0)
				raised++;
			if (r == 0)
				r = coll_db_exec(s->db, "RELEASE SAVEPOINT deadman");
		}
		coll_alert_results_free(&ar);
		open_free(&open);
		if (r < 0)
			goto fail_res;
	}
	coll_db_res_free(&res);
	r = coll_db_commit(s->db);
	if (r < 0)
		goto fail;
	return raised;
fail_res:
	coll_db_res_free(&res);
fail:
	coll_db_rollback(s->db);
	return r;
}
