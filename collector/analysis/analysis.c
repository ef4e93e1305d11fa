/* Ingest-time analysis inside the report's transaction (analysis.h):
 * history -> forecasts -> score -> alerts -> outbox. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/analysis/alerts.h"
#include "collector/analysis/analysis.h"
#include "collector/analysis/analysis_int.h"
#include "collector/analysis/coverage.h"
#include "collector/analysis/forecast.h"
#include "collector/analysis/history.h"
#include "collector/analysis/score.h"
#include "collector/settings.h"
#include "collector/store/sql.h"
#include "erpulse/report.h"
#include "erpulse/config.h"
#include "erpulse/util.h"

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
		"SELECT rule, object, severity, value FROM alerts WHERE agent_id = ? AND closed_at"
		" IS NULL",
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
		a->name = coll_db_val(&o->res, i, 0);
		a->object = coll_db_val(&o->res, i, 1);
		const char *v = coll_db_val(&o->res, i, 3);
		a->value = v && *v ? strtod(v, NULL) : NAN;
		o->n++;
	}
	return 0;
}

static void open_free(struct open_set *o)
{
	free(o->v);
	coll_db_res_free(&o->res);
}

/* Applies one evaluated alert to the alerts table; *ret_notify says whether
 * it wants a notice. */
static int apply(struct coll_store *s, struct coll_target *t, const struct coll_alert_result *a,
		 int64_t now, bool *ret_notify)
{
	const char *rule = coll_result_name(a);
	const char *level = coll_alert_level_name(a->level);
	struct coll_num v = coll_d2s(a->value), ts = coll_i2s(now);
	const char *value = v.s[0] ? v.s : NULL;
	int r = 0;

	*ret_notify = false;
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
		/* the last measured value stays: "was 56.1%" is the alert's history */
		r = COLL_Q(s,
			   "UPDATE alerts SET closed_at = ?, updated_at = ?, value = COALESCE(?,"
			   " value), message = ? WHERE agent_id = ? AND rule = ? AND object = ? AND"
			   " closed_at IS NULL",
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
	if (r == 0)
		*ret_notify = coll_alert_action_notifies(a->action);
	return r;
}

/* Applies every result, then sends the notices: one each, or one grouped
 * message per channel when several come from the same report. */
static int apply_all(const struct coll_analysis *an, struct coll_store *s, struct coll_target *t,
		     const struct coll_alert_results *ar, int64_t now)
{
	const struct coll_alert_result **v = calloc(ar->n ? ar->n : 1, sizeof(*v));
	size_t n = 0;
	int r = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < ar->n && r == 0; i++) {
		bool notify = false;
		r = apply(s, t, &ar->items[i], now, &notify);
		if (r == 0 && notify)
			v[n++] = &ar->items[i];
	}
	if (r == 0 && (an->webhook_url || an->smtp_url)) {
		if (n > 1 && an->group_notices)
			r = coll_notice_enqueue_group(an, s, t, v, n, now);
		else
			for (size_t i = 0; i < n && r == 0; i++)
				r = coll_notice_enqueue(an, s, t, v[i], now);
	}
	free(v);
	return r;
}

int coll_analysis_config(const struct coll_settings *cfg, struct coll_analysis *ret, char *err,
			 size_t errlen)
{
	*ret = (struct coll_analysis){
		.webhook_url = cfg->webhook_url,
		.smtp_url = cfg->mail_to ? cfg->smtp_url : NULL, /* alert mail needs its list */
		.mail_from = cfg->mail_from,
		.mail_to = cfg->mail_to,
		.dashboard_url = cfg->dashboard_url,
		.lang = cfg->language,
		.forecast_window_s = 30 * 86400,
		.sample_interval_s = cfg->sample_interval_s,
		.max_forecasts = 64,
		.stale_after_s = cfg->stale_after_s,
		.group_notices = cfg->group_notices,
	};
	if (coll_webhook_format_parse(cfg->webhook_format ? cfg->webhook_format : "generic",
				      &ret->webhook_format) < 0) {
		static const char *const formats[] = {"generic", "dingtalk", "wecom", "feishu",
						      "slack"};
		const char *near = NULL;
		size_t best = 3;
		for (size_t i = 0; i < EP_ARRAY_SIZE(formats); i++) {
			size_t d = ep_edit_distance(cfg->webhook_format, formats[i]);
			if (d < best) {
				best = d;
				near = formats[i];
			}
		}
		snprintf(err, errlen,
			 "[alerts] webhook_format: '%s' is not generic, dingtalk, wecom, feishu "
			 "or slack%s%s%s",
			 cfg->webhook_format, near ? "; did you mean '" : "", near ? near : "",
			 near ? "'?" : "");
		return -EINVAL;
	}
	return 0;
}

/* ---- host state: instances and overrides ------------------------------------- */

struct host_state {
	json_t *instances; /* stored instance state (coverage.h), or NULL */
	/* agent_analysis (migration 10): the stored texts' hashes (score,
	 * forecasts, instances; coll_text_hash) when the host has a row */
	bool analysis_row;
	int64_t hash[3];
	struct coll_db_res ov_res;
	struct coll_threshold_override *ov;
	size_t n_ov;
};

static double db_num(const char *v)
{
	return v && *v ? strtod(v, NULL) : NAN;
}

/* The findings of the instances not reporting ok now, from the stored
 * report in which each was last ok (coverage.h): only while one is missing,
 * failed or removed, so the common report reads nothing more. */
static int attach_findings(struct coll_store *s, const struct coll_ingest *it, json_t *instances)
{
	json_t *want = instances ? coll_coverage_wanted(it->report, instances) : NULL, *seq;
	json_t *body = NULL;
	int64_t body_seq = -1;
	const char *key;
	int r = 0;

	if (instances && !want)
		return -ENOMEM;
	json_object_foreach(want, key, seq)
	{
		int64_t n = json_integer_value(seq);
		if (n != body_seq) {
			char *text = NULL;
			size_t len;
			json_decref(body);
			body = NULL;
			body_seq = n;
			r = coll_store_report_body(s, it->agent.id, n, &text, &len);
			/* gone by retention, or unreadable: nothing left to carry */
			if (r < 0 && r != -ENOENT && r != -EBADMSG && r != -EFBIG)
				break;
			r = 0;
			if (text)
				body = json_loadb(text, len, 0, NULL);
			free(text);
		}
		const json_t *fs = coll_coverage_findings_of(body, key);
		if (fs && json_object_set(json_object_get(instances, key), "findings",
					  (json_t *)(uintptr_t)fs) < 0) {
			r = -ENOMEM;
			break;
		}
	}
	json_decref(body);
	json_decref(want);
	return r;
}

static int load_state(struct coll_store *s, const struct coll_ingest *it, struct host_state *hs)
{
	struct coll_db_res res;
	/* after the seq gate: the agents row is locked, so this statement sees
	 * what the last writer of this agent committed (PostgreSQL: read for
	 * the batch's round at once) */
	int r = coll_store_round_state(s, it->agent.id, &res);
	if (r == -ENOTSUP)
		r = COLL_Q(s,
			   "SELECT (SELECT COUNT(*) FROM customer_thresholds t WHERE"
			   " t.customer_id = ?), x.instances, x.score_hash, x.forecasts_hash,"
			   " x.instances_hash FROM (SELECT 1 AS one) o LEFT JOIN agent_analysis x"
			   " ON x.agent_id = ?",
			   &res, it->agent.customer_id, it->agent.id);
	if (r < 0)
		return r;
	int64_t n_ov = res.rows ? coll_s2i(coll_db_val(&res, 0, 0)) : 0;
	const char *text = res.rows ? coll_db_val(&res, 0, 1) : NULL;
	hs->analysis_row = res.rows && coll_db_val(&res, 0, 2);
	for (size_t i = 0; i < 3; i++)
		hs->hash[i] = hs->analysis_row ? coll_s2i(coll_db_val(&res, 0, 2 + i)) : 0;
	hs->instances = text ? json_loads(text, 0, NULL) : NULL;
	coll_db_res_free(&res);
	r = attach_findings(s, it, hs->instances);
	if (r < 0)
		return r;
	if (n_ov <= 0)
		return 0;
	r = COLL_Q(s,
		   "SELECT kind, warning, critical, min_size FROM customer_thresholds WHERE"
		   " customer_id = ?",
		   &hs->ov_res, it->agent.customer_id);
	if (r < 0)
		return r;
	hs->ov = calloc(hs->ov_res.rows ? hs->ov_res.rows : 1, sizeof(*hs->ov));
	if (!hs->ov)
		return -ENOMEM;
	for (size_t i = 0; i < hs->ov_res.rows; i++)
		hs->ov[hs->n_ov++] = (struct coll_threshold_override){
			.kind = coll_db_val(&hs->ov_res, i, 0),
			.warning = db_num(coll_db_val(&hs->ov_res, i, 1)),
			.critical = db_num(coll_db_val(&hs->ov_res, i, 2)),
			.min_size = db_num(coll_db_val(&hs->ov_res, i, 3)),
		};
	return 0;
}

static void host_state_free(struct host_state *hs)
{
	json_decref(hs->instances);
	free(hs->ov);
	if (hs->n_ov || hs->ov_res.v)
		coll_db_res_free(&hs->ov_res);
}

/* ---- the ingest step ------------------------------------------------------------ */

/* The score's columns of agents, written only when one changed: they are
 * indexed (the keyset sorts, migration 9), the rest of the per-report UPDATE
 * of agents is not, so that PostgreSQL keeps that one a HOT update. */
static int store_head(struct coll_store *s, const struct coll_ingest *it,
		      const struct coll_score *sc)
{
	struct coll_num score = coll_i2s(sc->score);
	const char *band = coll_band_name(sc->band), *why = coll_score_top_reason(sc);
	const char *stale = sc->stale_since > 0 ? coll_i2s(sc->stale_since).s : NULL;
	return COLL_Q(s,
		      "UPDATE agents SET score = ?, band = ?, top_reason = ?, stale_since = ? WHERE"
		      " id = ? AND (score IS DISTINCT FROM CAST(? AS INTEGER) OR band IS DISTINCT"
		      " FROM CAST(? AS TEXT) OR top_reason IS DISTINCT FROM CAST(? AS TEXT) OR"
		      " stale_since IS DISTINCT FROM CAST(? AS BIGINT))",
		      NULL, score.s, band, why, stale, it->agent.id, score.s, band, why, stale);
}

/* The wide texts of agent_analysis (migration 10): only those whose hash
 * differs from the stored one (load_state read them), none when all are
 * equal. text/hash: score, forecasts, instances. One constant statement per
 * set of changed texts (the db layer caches statements by their text's
 * address). */
#define SET_SCORE            "score_hash = ?, score_json = ?"
#define SET_FORECASTS        "forecasts_hash = ?, forecasts_json = ?"
#define SET_INSTANCES        "instances_hash = ?, instances = ?"
#define UPDATE_ANALYSIS(SET) "UPDATE agent_analysis SET " SET " WHERE agent_id = ?"
static int store_analysis(struct coll_store *s, const struct coll_ingest *it,
			  const struct host_state *hs, char *const text[3], const int64_t hash[3])
{
	static const char *const sql[8] = {
		NULL,
		UPDATE_ANALYSIS(SET_SCORE),
		UPDATE_ANALYSIS(SET_FORECASTS),
		UPDATE_ANALYSIS(SET_SCORE ", " SET_FORECASTS),
		UPDATE_ANALYSIS(SET_INSTANCES),
		UPDATE_ANALYSIS(SET_SCORE ", " SET_INSTANCES),
		UPDATE_ANALYSIS(SET_FORECASTS ", " SET_INSTANCES),
		UPDATE_ANALYSIS(SET_SCORE ", " SET_FORECASTS ", " SET_INSTANCES),
	};
	struct coll_num h[3] = {coll_i2s(hash[0]), coll_i2s(hash[1]), coll_i2s(hash[2])};
	const char *params[7];
	size_t n = 0, mask = 0;

	if (!hs->analysis_row)
		return COLL_Q(s,
			      "INSERT INTO agent_analysis (agent_id, score_hash, score_json,"
			      " forecasts_hash, forecasts_json, instances_hash, instances) VALUES"
			      " (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (agent_id) DO UPDATE SET"
			      " score_hash = excluded.score_hash, score_json = excluded.score_json,"
			      " forecasts_hash = excluded.forecasts_hash, forecasts_json ="
			      " excluded.forecasts_json, instances_hash = excluded.instances_hash,"
			      " instances = excluded.instances",
			      NULL, it->agent.id, h[0].s, text[0], h[1].s, text[1], h[2].s,
			      text[2]);
	for (size_t i = 0; i < 3; i++) {
		if (hash[i] == hs->hash[i])
			continue;
		mask |= (size_t)1 << i;
		params[n++] = h[i].s;
		params[n++] = text[i];
	}
	if (!mask)
		return 0; /* nothing changed */
	/* PostgreSQL: with the round's other reports, in one statement */
	int r = coll_store_round_analysis(s, it->agent.id, (unsigned)mask, hash, text);
	if (r != -ENOTSUP)
		return r;
	params[n++] = it->agent.id;
	return coll_sql_query(s, sql[mask], params, n, NULL);
}

/* The three texts of one report are written into one buffer per thread,
 * kept between reports (they are hashed, and written only when they changed:
 * most reports then allocate nothing for them); a buffer grown past this is
 * let go after the report. */
#define TEXT_SCRATCH_KEEP ((size_t)256 * 1024)

/* The forecasts text: an array of coll_object_forecast_text, as
 * coll_json_compact wrote the array of coll_object_forecast_json. */
static int forecasts_text(struct ep_buf *b, const struct fc_set *set)
{
	int r = ep_buf_append(b, "[", 1);
	for (size_t i = 0; r == 0 && i < set->n; i++) {
		r = i ? ep_buf_append(b, ",", 1) : 0;
		if (r == 0)
			r = coll_object_forecast_text(b, &set->v[i]);
	}
	return r == 0 ? ep_buf_append(b, "]", 1) : r;
}

static int store_score(struct coll_store *s, const struct coll_ingest *it,
		       const struct host_state *hs, const struct coll_score *sc,
		       const struct fc_set *set, const struct coll_coverage *cov)
{
	static _Thread_local struct ep_buf scratch;
	char *text[3] = {NULL, NULL, NULL}; /* score, forecasts, instances */
	size_t at[3];
	int64_t hash[3];
	int r = 0;

	if (!scratch.max)
		ep_buf_init(&scratch, (size_t)1 << 30);
	ep_buf_reset(&scratch);
	/* each text with its NUL, written without a json_t tree but byte for
	 * byte what coll_json_compact wrote of the tree (test_score) */
	at[0] = scratch.len;
	r = coll_score_text(&scratch, sc);
	if (r == 0)
		r = ep_buf_append(&scratch, "", 1);
	at[1] = scratch.len;
	if (r == 0)
		r = forecasts_text(&scratch, set);
	if (r == 0)
		r = ep_buf_append(&scratch, "", 1);
	at[2] = scratch.len;
	if (r == 0)
		r = coll_json_compact_append(&scratch, cov->instances);
	if (r < 0)
		r = -ENOMEM; /* as a tree or text that could not be made answered */
	if (r == 0) {
		for (size_t i = 0; i < 3; i++) {
			text[i] = scratch.data + at[i];
			hash[i] = coll_text_hash(text[i]);
		}
		/* the explanation holds score, band, top_reason and stale_since */
		r = hash[0] != hs->hash[0] || !hs->analysis_row ? store_head(s, it, sc) : 0;
		if (r == 0)
			r = store_analysis(s, it, hs, text, hash);
	}
	/* a removal is worth remembering even when it had no open alert */
	for (size_t i = 0; r == 0 && i < json_array_size(cov->removed); i++)
		r = COLL_Q(s,
			   "INSERT INTO events (agent_id, ts, kind, detail) VALUES (?, ?,"
			   " 'instance_removed', ?)",
			   NULL, it->agent.id, coll_i2s(it->received_at).s,
			   coll_jstr(json_array_get(cov->removed, i), "instance"));
	if (r == 0 && (cov->n_stale || cov->n_override || json_array_size(cov->removed))) {
		/* the read API shows what was scored: carried findings too */
		char *f = coll_store_findings_json(cov->report);
		r = f ? COLL_Q(s,
			       "UPDATE current_findings SET findings = ?, hash = ? WHERE agent_id "
			       "= ?",
			       NULL, f, coll_i2s(coll_text_hash(f)).s, it->agent.id)
		      : -ENOMEM;
		free(f);
	}
	if (scratch.cap > TEXT_SCRATCH_KEEP)
		ep_buf_free(&scratch);
	return r;
}

int coll_analysis_run(const struct coll_analysis *an, struct coll_store *s,
		      const struct coll_ingest *it)
{
	struct fc_set set = {0};
	struct open_set open = {0};
	struct coll_score sc = {0};
	struct coll_alert_results ar = {0};
	struct host_state hs = {0};
	struct coll_coverage cov = {0};
	int r;

	r = load_state(s, it, &hs);
	if (r < 0)
		goto out;
	struct coll_coverage_input ci = {
		.report = it->report,
		.instances = hs.instances,
		.overrides = hs.ov,
		.n_overrides = hs.n_ov,
		.now = it->received_at,
		.seq = it->seq,
	};
	r = coll_coverage_apply(&ci, &cov);
	if (r < 0)
		goto out;
	/* history and forecasts from what was measured now, never from carried figures */
	r = coll_forecasts(an, s, it, &set);
	if (r < 0)
		goto out;

	struct coll_score_input si = {
		.report = cov.report,
		.forecasts = set.v,
		.n_forecasts = set.n,
		.received_at = it->received_at,
		.now = it->received_at,
		.stale_after_s = an->stale_after_s,
	};
	r = coll_score_host(&si, &sc);
	if (r < 0)
		goto out;
	r = store_score(s, it, &hs, &sc, &set, &cov);
	if (r == 0) {
		_Static_assert(COLL_CAT_COUNT == COLL_HISTORY_CATEGORIES, "history columns");
		r = coll_store_round_score(s, it->agent.id, it->received_at, sc.score,
					   sc.category_score);
		if (r == -ENOTSUP)
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
		.report = cov.report,
		.forecasts = set.v,
		.n_forecasts = set.n,
		.open = open.v,
		.n_open = open.n,
		.received_at = it->received_at,
		.now = it->received_at,
		.security_pending_since = set.security_since,
		.removed = cov.removed,
	};
	r = coll_alerts_evaluate(&ai, &ar);
	if (r < 0)
		goto out;
	struct coll_target t = {
		.agent_id = it->agent.id,
		.customer_id = it->agent.customer_id,
		.hostname = coll_jstr(json_object_get(it->report, "host"), "hostname"),
	};
	if (!t.hostname)
		t.hostname = it->agent.id;
	r = apply_all(an, s, &t, &ar, it->received_at);
	if (r == 0)
		r = coll_analysis_incidents(an, s, it->agent.id, it->agent.customer_id, it->seq,
					    &ar);
out:
	coll_alert_results_free(&ar);
	open_free(&open);
	coll_score_free(&sc);
	coll_fc_set_free(&set);
	coll_coverage_free(&cov);
	host_state_free(&hs);
	return r;
}

/* ---- dead man --------------------------------------------------------------------- */

/* A silent host: its stored score loses the liveness points, its band
 * turns unknown with stale_since (coll_score_json_silent). */
static int silent_score(struct coll_store *s, const struct coll_target *t, int64_t last_seen,
			int64_t now, int64_t interval_s)
{
	struct coll_db_res res;
	int r = COLL_Q(s, "SELECT score_json FROM agent_analysis WHERE agent_id = ?", &res,
		       t->agent_id);
	if (r < 0)
		return r;
	const char *text = coll_db_val(&res, 0, 0);
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;
	coll_db_res_free(&res);
	int score =
		j ? coll_score_json_silent(j, t->hostname, last_seen, now, interval_s) : -EINVAL;
	char *out = score >= 0 ? coll_json_compact(j) : NULL;
	const char *why = score >= 0 ? coll_jstr(j, "top_reason") : NULL;
	if (score >= 0 && !out)
		r = -ENOMEM;
	else if (score >= 0)
		r = COLL_Q(s,
			   "UPDATE agents SET score = ?, band = 'unknown', top_reason = ?,"
			   " stale_since = ? WHERE id = ?",
			   NULL, coll_i2s(score).s, why, coll_i2s(last_seen).s, t->agent_id);
	if (score >= 0 && r == 0) /* the stored hash stays the stored text's */
		r = COLL_Q(s,
			   "UPDATE agent_analysis SET score_json = ?, score_hash = ? WHERE"
			   " agent_id = ?",
			   NULL, out, coll_i2s(coll_text_hash(out)).s, t->agent_id);
	else /* no score yet: the band alone says it */
		r = COLL_Q(s, "UPDATE agents SET band = 'unknown', stale_since = ? WHERE id = ?",
			   NULL, coll_i2s(last_seen).s, t->agent_id);
	free(out);
	json_decref(j);
	return r;
}

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
		struct coll_target t = {
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
			bool notify = false;
			if (ar.items[k].rule != COLL_RULE_AGENT_SILENT ||
			    ar.items[k].action == COLL_ACTION_NONE)
				continue;
			/* another collector may raise the same alert at the same time:
			 * the unique index lets one win; the loser's savepoint goes */
			r = coll_db_exec(s->db, "SAVEPOINT deadman");
			if (r == 0)
				r = apply(s, &t, &ar.items[k], now, &notify);
			if (r == 0 && notify)
				r = coll_notice_enqueue(an, s, &t, &ar.items[k], now);
			if (r == 0)
				r = coll_analysis_incident(an, s, t.agent_id, t.customer_id, 0,
							   &ar.items[k]);
			if (r == 0)
				r = silent_score(s, &t, ai.last_seen, now, ai.interval_s);
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
