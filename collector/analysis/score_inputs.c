/* What costs points besides findings, and what the score knows it does
 * not know (score_int.h, docs/scoring.md): forecasts, liveness and the
 * fatal conditions they show; fresh, stale and unknown categories and
 * hosts. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "collector/analysis/json_field.h"
#include "collector/analysis/score.h"
#include "collector/analysis/score_int.h"
#include "erpulse/util.h"

#define DISK_FULL_7D     12 /* forecast full within 7 days (or already full) */
#define DISK_FULL_30D    5  /* ... within 30 days */
#define DISK_FULL_CAP    25
#define INDEX_FC_POINTS  1 /* index crosses the fragmentation threshold within 30 days */
#define INDEX_FC_CAP     5
#define SPIKE_POINTS     5
#define SPIKE_CAP        10
#define SPIKE_CRITICAL_Z 8.0 /* error_spike's critical line (alerts.c) */
#define SILENT_POINTS    COLL_SILENT_POINTS
#define LATE_POINTS      5 /* no report for more than 1.5 intervals */
#define PROBE_ERR_POINTS 3
#define PROBE_ERR_CAP    9
#define DROPPED_POINTS   2
#define SKEW_POINTS      3
#define SKEW_LIMIT_S     300
#define FATAL_DISK_DAYS  7.0
#define MAX_INSTANCES    256 /* coverage counts at most this many probe instances */

int coll_score_forecasts(struct raw_list *l, struct cap *cap, const struct coll_score_input *in)
{
	char obj[512];
	int rc = 0;

	for (size_t i = 0; i < in->n_forecasts && rc == 0; i++) {
		const struct coll_object_forecast *f = &in->forecasts[i];
		const char *object = f->object ? f->object : "";
		const struct coll_forecast *c = &f->fc;

		switch (f->kind) {
		case COLL_FK_DISK_BYTES:
		case COLL_FK_DISK_INODES: {
			int pts = 0;
			const char *what = f->kind == COLL_FK_DISK_INODES ? "inodes" : "space";
			char *reason;
			snprintf(obj, sizeof(obj), "%s%s", object,
				 f->kind == COLL_FK_DISK_INODES ? " (inodes)" : "");
			if (c->status == COLL_FC_ALREADY)
				pts = DISK_FULL_7D;
			else if (c->status == COLL_FC_ETA && c->days < FATAL_DISK_DAYS)
				pts = DISK_FULL_7D;
			else if (c->status == COLL_FC_ETA && c->days < 30)
				pts = DISK_FULL_30D;
			if (!pts)
				break;
			if (c->status == COLL_FC_ALREADY)
				reason = coll_score_fmt("%s out of %s now", object, what);
			else
				reason = coll_score_fmt(
					"%s runs out of %s in %.1f days (between %.1f and "
					"%.1f; %s confidence, R² %.2f over %zu samples)",
					object, what, c->days, c->days_low, c->days_high,
					coll_confidence_name(c->confidence), c->r2, c->n_used);
			if (pts == DISK_FULL_7D) {
				rc = coll_score_cap_lower(cap, COLL_CAP_FATAL, "disk_full_forecast",
							  obj, reason ? strdup(reason) : NULL);
				if (rc < 0) {
					free(reason);
					break;
				}
			}
			rc = coll_score_raw_add_simple(
				l, COLL_CAT_STORAGE, pts, DISK_FULL_CAP,
				pts == DISK_FULL_7D ? 2 : 1, "disk_full_forecast", obj, reason,
				c->status == COLL_FC_ALREADY
					? "Free space or grow the filesystem now."
					: "Free space or grow the filesystem before the "
					  "forecast date.");
			break;
		}
		case COLL_FK_INDEX_FRAGMENTATION:
			if (c->status == COLL_FC_ETA && c->days < 30)
				rc = coll_score_raw_add_simple(
					l, COLL_CAT_DATABASE, INDEX_FC_POINTS, INDEX_FC_CAP, 1,
					"index_fragmentation_forecast", object,
					coll_score_fmt(
						"%s crosses %.1f%% fragmentation in %.1f days (%s "
						"confidence)",
						object, c->limit, c->days,
						coll_confidence_name(c->confidence)),
					"Schedule a REINDEX / REBUILD in the next maintenance "
					"window.");
			break;
		case COLL_FK_ERROR_SPIKE:
			if (f->spike.status == COLL_SPIKE_SPIKE)
				rc = coll_score_raw_add_simple(
					l, COLL_CAT_ERRORS, SPIKE_POINTS, SPIKE_CAP,
					f->spike.z >= SPIKE_CRITICAL_Z ? 2 : 1, "error_spike",
					object,
					coll_score_fmt(
						"%s error rate %.1f against a usual %.1f (robust z "
						"%.1f, %s baseline)",
						object, f->spike.current, f->spike.baseline,
						f->spike.z,
						coll_baseline_method_name(f->spike.method)),
					"Read the top error signatures in the latest report.");
			break;
		}
	}
	return rc;
}

static bool has_probe_error_finding(const json_t *probe)
{
	const json_t *findings = json_object_get(probe, "findings"), *f;
	size_t i;

	json_array_foreach(findings, i, f)
	{
		const char *k = coll_json_str(f, "kind");
		if (k && !strcmp(k, "probe_error"))
			return true;
	}
	return false;
}

static void instance_name(const json_t *p, char *buf, size_t size)
{
	const char *name = coll_json_str(p, "name"), *target = coll_json_str(p, "target");

	snprintf(buf, size, "%s%s%s", name ? name : "?", target ? "/" : "", target ? target : "");
}

int coll_score_liveness(struct raw_list *l, struct cap *cap, const struct coll_score_input *in,
			const char *hostname, struct coll_score *cov)
{
	const json_t *rep = in->report, *probes = json_object_get(rep, "probes"), *p;
	const char *gen = coll_json_str(rep, "generated_at");
	double interval = coll_json_num(rep, "interval_s"),
	       dropped = coll_json_num(rep, "dropped_reports");
	time_t generated = 0;
	int64_t received;
	size_t i;
	int rc;

	if (gen && ep_time_parse(gen, &generated) < 0)
		generated = 0;
	received = in->received_at > 0 ? in->received_at : (int64_t)generated;

	if (received > 0 && interval > 0) {
		double age = (double)(in->now - received);
		if (age > 3 * interval && !cov->unknown_reason) {
			cov->unknown_reason =
				coll_score_fmt("silent: no report for %.0f s (more than 3 "
					       "intervals of %.0f s)",
					       age, interval);
			cov->stale_since = received;
			if (!cov->unknown_reason)
				return -ENOMEM;
		}
		if (age > 3 * interval)
			rc = coll_score_raw_add_simple(
				l, COLL_CAT_LIVENESS, SILENT_POINTS, SILENT_POINTS, 2, "report_age",
				hostname,
				coll_score_fmt("no report for %.0f s (%.1f intervals of %.0f s): "
					       "the agent is silent",
					       age, age / interval, interval),
				"Check that the host is up and erpulse-agent is "
				"running and can reach the collector.");
		else if (age > 1.5 * interval)
			rc = coll_score_raw_add_simple(
				l, COLL_CAT_LIVENESS, LATE_POINTS, LATE_POINTS, 1, "report_age",
				hostname,
				coll_score_fmt(
					"last report %.0f s ago (%.1f intervals of %.0f s): late",
					age, age / interval, interval),
				"Check the agent's push errors (erpulse-agent status).");
		else
			rc = 0;
		if (rc < 0)
			return rc;
	}
	json_array_foreach(probes, i, p)
	{
		const char *status = coll_json_str(p, "status"), *err = coll_json_str(p, "error");
		const char *name = coll_json_str(p, "name");
		char obj[512];
		if (!status || strcmp(status, "error") != 0)
			continue;
		instance_name(p, obj, sizeof(obj));
		if (name && coll_score_category_of_probe(name) == COLL_CAT_DATABASE) {
			rc = coll_score_cap_lower(
				cap, COLL_CAP_FATAL, "database_unreachable", obj,
				coll_score_fmt("database unreachable: probe %s failed: %s", obj,
					       err ? err : "no error text"));
			if (rc < 0)
				return rc;
		}
		if (has_probe_error_finding(p))
			continue;
		rc = coll_score_raw_add_simple(
			l, COLL_CAT_LIVENESS, PROBE_ERR_POINTS, PROBE_ERR_CAP, 1, "probe_error",
			obj,
			coll_score_fmt("probe %s failed: %s", obj, err ? err : "no error text"),
			"erpulse-agent check-config shows why the probe fails.");
		if (rc < 0)
			return rc;
	}
	if (dropped > 0) {
		rc = coll_score_raw_add_simple(
			l, COLL_CAT_LIVENESS, DROPPED_POINTS, DROPPED_POINTS, 1, "dropped_reports",
			hostname,
			coll_score_fmt(
				"%.0f reports dropped from the agent's full spool since the last "
				"accepted one",
				dropped),
			"Check the agent's connectivity to the collector and spool_max_mb.");
		if (rc < 0)
			return rc;
	}
	if (in->received_at > 0 && generated > 0) {
		double skew = fabs((double)((int64_t)generated - in->received_at));
		if (skew > SKEW_LIMIT_S) {
			rc = coll_score_raw_add_simple(
				l, COLL_CAT_LIVENESS, SKEW_POINTS, SKEW_POINTS, 1, "clock_skew",
				hostname,
				coll_score_fmt("agent clock off by %.0f s (more than %d s)", skew,
					       SKEW_LIMIT_S),
				"Enable time synchronisation (systemd-timesyncd or "
				"chrony).");
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* ---- coverage: fresh, stale and unknown data -------------------------------- */

/* Age of an instance's data at `now`: 0 fresh, INT64_MAX none. */
static int64_t data_age(const json_t *p, int64_t now, int64_t *ret_since)
{
	const char *status = coll_json_str(p, "status");
	int64_t since = coll_score_time_field(p, "stale_since");

	*ret_since = 0;
	if (json_is_true(json_object_get(p, "stale"))) {
		if (since <= 0)
			return INT64_MAX;
		*ret_since = since;
		return now > since ? now - since : 0;
	}
	return status && !strcmp(status, "ok") ? 0 : INT64_MAX;
}

static bool listed(const json_t *probes, size_t upto, const json_t *c)
{
	const char *name = coll_json_str(c, "name"), *target = coll_json_str(c, "target");
	const json_t *p;
	size_t i;

	json_array_foreach(probes, i, p)
	{
		const char *n = coll_json_str(p, "name"), *t = coll_json_str(p, "target");
		if (i >= upto)
			break;
		if (n && name && !strcmp(n, name) && !t == !target && (!t || !strcmp(t, target)))
			return true;
	}
	return false;
}

/* Category states and host coverage (docs/scoring.md, "Unknown and stale"). */
int coll_score_coverage(struct coll_score *s, const struct coll_score_input *in)
{
	const json_t *probes = json_object_get(in->report, "probes");
	const json_t *configured = json_object_get(in->report, "configured"), *p;
	double interval = coll_json_num(in->report, "interval_s");
	int64_t stale_after = in->stale_after_s;
	int64_t newest[COLL_CAT_COUNT], newest_any = 0;
	bool seen[COLL_CAT_COUNT] = {false}, fresh[COLL_CAT_COUNT] = {false};
	size_t total = 0, covered = 0, i;

	if (stale_after <= 0)
		stale_after = (int64_t)(3 * (interval > 0 ? interval : 300));
	for (int c = 0; c < COLL_CAT_COUNT; c++)
		newest[c] = 0;
	json_array_foreach(probes, i, p)
	{
		const char *name = coll_json_str(p, "name");
		int64_t since, age;
		enum coll_category c;
		if (!name || total >= MAX_INSTANCES)
			continue;
		c = coll_score_category_of_probe(name);
		age = data_age(p, in->now, &since);
		total++;
		seen[c] = true;
		bool is_fresh = !json_is_true(json_object_get(p, "stale")) && age == 0;
		if (is_fresh)
			fresh[c] = true;
		if (age <= stale_after)
			covered++;
		if (since > newest[c])
			newest[c] = since;
		if (since > newest_any)
			newest_any = since;
		if (is_fresh) {
			newest[c] = in->now;
			newest_any = in->now;
		}
	}
	/* configured instances the report does not mention at all: no data */
	json_array_foreach(configured, i, p)
	{
		const char *name = coll_json_str(p, "name");
		if (!name || total >= MAX_INSTANCES || listed(probes, json_array_size(probes), p))
			continue;
		total++;
		seen[coll_score_category_of_probe(name)] = true;
	}
	for (int c = 0; c < COLL_CAT_COUNT; c++) {
		if (c == COLL_CAT_LIVENESS)
			s->category_state[c] = COLL_CAT_FRESH; /* the report itself */
		else if (!seen[c])
			s->category_state[c] = COLL_CAT_UNMONITORED;
		else if (fresh[c])
			s->category_state[c] = COLL_CAT_FRESH;
		else if (newest[c] > 0 && in->now - newest[c] <= stale_after)
			s->category_state[c] = COLL_CAT_STALE;
		else
			s->category_state[c] = COLL_CAT_UNKNOWN;
		if (s->category_state[c] == COLL_CAT_STALE ||
		    s->category_state[c] == COLL_CAT_UNKNOWN)
			s->category_stale_since[c] = newest[c];
	}
	if (total > 0 && covered * 2 < total) {
		s->unknown_reason =
			coll_score_fmt("%zu of %zu configured probe instances have no data "
				       "younger than %lld s",
				       total - covered, total, (long long)stale_after);
		if (!s->unknown_reason)
			return -ENOMEM;
		s->stale_since = newest_any;
	}
	return 0;
}
