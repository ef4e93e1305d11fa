/* One cycle: run the probes (forked workers), build one report, take the
 * next seq (persisted first), serialize once, sign, and spool durably.
 * Delivery is separate (deliver.c) and happens after, never before. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/agent.h"

static bool selected(const struct agent_instance *in, const char *only)
{
	return !only || strcmp(in->name, only) == 0 || strcmp(in->probe->name, only) == 0;
}

/* A probe entry that does not validate would make the collector refuse the
 * whole report: it is replaced by an error entry that does. */
static bool entry_valid(struct agent_probe_outcome *o, char *err, size_t errlen)
{
	json_t *host = json_pack("{s:s, s:s, s:s, s:I}", "hostname", "h", "os", "o", "kernel", "k",
				 "uptime_s", (json_int_t)0);
	json_t *rep = host ? ep_report_new("check", 1, 0, 1, host, 0) : NULL;
	int r;

	if (!rep)
		return true;
	if (ep_report_add_probe(rep, o->name, o->target, o->status,
				o->status == EP_STATUS_OK ? NULL : o->error, o->duration_ms,
				json_incref(o->metrics), json_incref(o->findings)) < 0) {
		json_decref(rep);
		return true;
	}
	r = ep_report_validate(rep, err, errlen);
	json_decref(rep);
	return r == 0;
}

static int add_outcome(json_t *report, struct agent_probe_outcome *o)
{
	char err[512];

	if (!entry_valid(o, err, sizeof(err))) {
		o->status = EP_STATUS_ERROR;
		ep_snprintf(o->error, sizeof(o->error), "probe produced an invalid result: %s",
			    err);
		json_decref(o->metrics);
		json_decref(o->findings);
		o->metrics = json_object();
		o->findings = json_array();
	}
	if (o->status == EP_STATUS_ERROR) {
		struct ep_finding f = {.kind = "probe_error",
				       .object = o->name,
				       .value = 1,
				       .unit = "count",
				       .threshold = NAN,
				       .severity = EP_SEV_WARNING,
				       .method = "agent",
				       .message = o->error,
				       .remediation = NULL};
		json_t *j = ep_finding_json(&f);
		if (j && json_is_array(o->findings))
			json_array_append_new(o->findings, j);
	}
	return ep_report_add_probe(report, o->name, o->target, o->status,
				   o->status == EP_STATUS_OK ? NULL : o->error, o->duration_ms,
				   json_incref(o->metrics), json_incref(o->findings));
}

static void record_probe(struct agent_ctx *a, const struct agent_probe_outcome *o)
{
	json_t *e = json_pack("{s:s, s:s, s:I, s:s}", "status", ep_probe_status_name(o->status),
			      "error", o->status == EP_STATUS_OK ? "" : o->error, "at",
			      (json_int_t)time(NULL), "target", o->target);
	if (e)
		json_object_set_new(a->st.probes, o->name, e);
	if (o->status == EP_STATUS_ERROR)
		ep_log(EP_LOG_WARNING, o->name, "probe %s: %s", o->name, o->error);
}

/* The target instance name last reported (state), "" when never known. */
static const char *last_target(const struct agent_ctx *a, const char *name)
{
	const char *t =
		json_string_value(json_object_get(json_object_get(a->st.probes, name), "target"));
	return t ? t : "";
}

/* "configured" (docs/protocol.md): every instance of the config, in config
 * order, whether it ran, failed, was killed or was left out by --probe. The
 * target is this cycle's, else the last one known. */
static int add_configured(const struct agent_ctx *a, json_t *report,
			  const struct agent_probe_outcome *out, size_t nsel)
{
	const struct agent_conf *c = a->conf;

	for (size_t i = 0; i < c->n_instances; i++) {
		const char *name = c->instances[i].name, *target = NULL;
		for (size_t k = 0; k < nsel && !target; k++)
			if (strcmp(out[k].name, name) == 0)
				target = out[k].target;
		int r = ep_report_add_configured(report, name,
						 target && *target ? target : last_target(a, name));
		if (r < 0)
			return r;
	}
	return 0;
}

int agent_cycle(struct agent_ctx *a, bool print_only, const char *only, char **ret_body)
{
	struct agent_conf *c = a->conf;
	struct agent_instance *sel = NULL;
	struct agent_probe_outcome *out = NULL;
	size_t nsel = 0;
	json_t *report = NULL;
	char *body = NULL;
	size_t len = 0;
	int64_t seq;
	int r;

	sel = calloc(c->n_instances ? c->n_instances : 1, sizeof(*sel));
	if (!sel)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_instances; i++)
		if (selected(&c->instances[i], only))
			sel[nsel++] = c->instances[i];
	if (only && nsel == 0) {
		ep_log_err("no probe instance named '%s' is configured", only);
		r = -ENOENT;
		goto out;
	}
	r = agent_run_probes(sel, nsel, c->root, c->state_dir, c->probe_timeout_s * 1000,
			     a->fresh ? AGENT_RUN_FRESH : AGENT_RUN_MEASURE, a->tick, a->userdata,
			     &out);
	if (r < 0) {
		if (r != -ECANCELED)
			ep_log_err("cannot run the probes: %s", strerror(-r));
		goto out;
	}

	seq = a->st.next_seq;
	if (!print_only) {
		/* seq is persisted before it is used, with the drops it announces */
		a->st.next_seq = seq + 1;
		r = agent_state_report_built(&a->st, seq);
		if (r == 0)
			r = agent_state_save(c->state_dir, &a->st);
		if (r < 0) {
			a->st.next_seq = seq;
			ep_log_err("cannot save state in '%s' (%s): no report this cycle",
				   c->state_dir, strerror(-r));
			goto out;
		}
	}
	report = ep_report_new(agent_state_enrolled(&a->st) ? a->st.agent_id : "not-enrolled", seq,
			       time(NULL), c->interval_s, ep_report_host_json(c->root),
			       a->st.dropped);
	if (!report) {
		r = -ENOMEM;
		goto fail_after_seq;
	}
	for (size_t i = 0; i < nsel; i++) {
		/* a killed or failed worker says no target: keep the instance's last */
		if (!out[i].target[0])
			ep_snprintf(out[i].target, sizeof(out[i].target), "%s",
				    last_target(a, out[i].name));
		if (add_outcome(report, &out[i]) < 0) {
			r = -ENOMEM;
			goto fail_after_seq;
		}
	}
	if (add_configured(a, report, out, nsel) < 0) {
		r = -ENOMEM;
		goto fail_after_seq;
	}
	body = ep_report_serialize(report, &len);
	if (!body) {
		r = -ENOMEM;
		goto fail_after_seq;
	}
	if (len > EP_REPORT_MAX_BYTES && !print_only) {
		/* the protocol's cap: the collector would refuse it with 413 */
		ep_log_err("report seq %lld is %zu bytes, above the %d-byte limit of the protocol: "
			   "dropped and counted in the next report (a probe returns too much)",
			   (long long)seq, len, EP_REPORT_MAX_BYTES);
		agent_state_count_drops(&a->st, 1);
		agent_state_save(c->state_dir, &a->st);
		r = -E2BIG;
		goto out;
	}
	if (print_only) {
		*ret_body = body;
		body = NULL;
		r = 0;
		goto out;
	}

	for (size_t i = 0; i < nsel; i++) {
		record_probe(a, &out[i]);
		if (out[i].state) {
			int sr = agent_probe_state_save(c->state_dir, out[i].name, out[i].state);
			if (sr < 0)
				ep_log(EP_LOG_WARNING, out[i].name,
				       "cannot save the state of probe %s: %s", out[i].name,
				       strerror(-sr));
		}
	}
	{
		unsigned char raw[EP_SIGNATURE_BYTES];
		char sig[EP_SIGNATURE_B64_SIZE];
		int64_t more = 0;

		ep_sign(&a->key, body, len, raw);
		ep_base64_encode(raw, sizeof(raw), sig, sizeof(sig));
		r = agent_spool_write(a->spool_dir, seq, sig, body, len);
		if (r == -ENOSPC || r == -EDQUOT) {
			/* make room at the expense of the oldest report, once */
			struct agent_spool_stats s;
			if (agent_spool_stats(a->spool_dir, &s) == 0 && s.count > 0 &&
			    agent_spool_enforce(a->spool_dir, s.bytes - 1, 0, 0, &more) == 0 &&
			    more > 0) {
				agent_state_count_drops(&a->st, more);
				ep_log_warning(
					"spool full: dropped the oldest report to make room");
				r = agent_spool_write(a->spool_dir, seq, sig, body, len);
			}
		}
		if (r < 0) {
			ep_log_err(
				"cannot spool report seq %lld in '%s': %s; the report is dropped "
				"and counted in the next one",
				(long long)seq, a->spool_dir, strerror(-r));
			agent_state_count_drops(&a->st, 1);
			agent_state_save(c->state_dir, &a->st);
			goto out;
		}
		r = agent_spool_enforce(a->spool_dir, c->spool_max_bytes, c->spool_max_age_s,
					time(NULL), &more);
		if (more > 0) {
			ep_log_warning(
				"spool over its bounds (spool_max_mb, spool_max_age): dropped "
				"%lld report(s), counted in the next report",
				(long long)more);
			agent_state_count_drops(&a->st, more);
		}
		r = agent_state_save(c->state_dir, &a->st);
		if (r < 0)
			ep_log_err("cannot save state in '%s': %s", c->state_dir, strerror(-r));
		r = 0;
		ep_log_info("report seq %lld spooled (%zu bytes, %zu probe(s))", (long long)seq,
			    len, nsel);
	}
	goto out;

fail_after_seq:
	ep_log_err("cannot build report seq %lld: %s", (long long)seq, strerror(-r));
	if (!print_only) {
		agent_state_count_drops(&a->st, 1);
		agent_state_save(c->state_dir, &a->st);
	}
out:
	json_decref(report);
	free(body);
	agent_outcomes_free(out, nsel);
	free(sel);
	return r;
}
