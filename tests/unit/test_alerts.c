/* Alert rules: every rule of docs/alerts.md, hysteresis sequences, and
 * clearing of alerts whose object vanished. Reports are built as JSON the
 * way the agent sends them. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collector/analysis/alerts.h"
#include "erpulse/util.h"

#define NOW 1795420800 /* 2026-11-23T08:00:00Z */

static json_t *finding(const char *kind, const char *object, double value, const char *severity)
{
	return json_pack("{s:s, s:s, s:f, s:s, s:n, s:s, s:s, s:s}", "kind", kind, "object", object,
			 "value", value, "unit", "%", "threshold", "severity", severity, "method",
			 "test", "message", "m");
}

static json_t *probe(const char *name, const char *status, json_t *findings)
{
	return json_pack("{s:s, s:s, s:s, s:n, s:i, s:{}, s:o}", "name", name, "target", "t",
			 "status", status, "error", "duration_ms", 5, "metrics", "findings",
			 findings ? findings : json_array());
}

static json_t *report(int64_t generated_at, json_t *probes)
{
	char when[32];

	assert_int_equal(ep_time_format((time_t)generated_at, when, sizeof(when)), 0);
	return json_pack("{s:s, s:s, s:i, s:s, s:i, s:s, s:{s:s}, s:i, s:o}", "schema",
			 "erpulse.report.v1", "agent_id", "a1", "seq", 1, "generated_at", when,
			 "interval_s", 300, "agent_version", "0.1.0", "host", "hostname", "erp01",
			 "dropped_reports", 0, "probes", probes);
}

/* The one result for (rule, object), or NULL. */
static const struct coll_alert_result *find(const struct coll_alert_results *r, enum coll_rule rule,
					    const char *object)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->items[i].rule == rule && !strcmp(r->items[i].object, object))
			return &r->items[i];
	return NULL;
}

static void eval(const json_t *rep, const struct coll_object_forecast *fc, size_t nfc,
		 const struct coll_open_alert *open, size_t nopen, struct coll_alert_results *ret)
{
	struct coll_alert_input in = {
		.report = rep,
		.forecasts = fc,
		.n_forecasts = nfc,
		.open = open,
		.n_open = nopen,
		.received_at = NOW,
		.now = NOW,
	};
	assert_int_equal(coll_alerts_evaluate(&in, ret), 0);
}

static void test_hysteresis_levels(void **state)
{
	const enum coll_rule r = COLL_RULE_INDEX_FRAGMENTATION;
	(void)state;

	/* 29 -> 31 raise */
	assert_int_equal(coll_rule_level(r, 29, COLL_LEVEL_NONE), COLL_LEVEL_NONE);
	assert_int_equal(coll_rule_level(r, 31, COLL_LEVEL_NONE), COLL_LEVEL_WARNING);
	assert_int_equal(coll_alert_transition(COLL_LEVEL_NONE, COLL_LEVEL_WARNING),
			 COLL_ACTION_RAISE);
	/* 31 -> 28: still warning, nothing to say */
	assert_int_equal(coll_rule_level(r, 28, COLL_LEVEL_WARNING), COLL_LEVEL_WARNING);
	assert_int_equal(coll_alert_transition(COLL_LEVEL_WARNING, COLL_LEVEL_WARNING),
			 COLL_ACTION_NONE);
	/* 28 -> 24 clear */
	assert_int_equal(coll_rule_level(r, 24, COLL_LEVEL_WARNING), COLL_LEVEL_NONE);
	assert_int_equal(coll_alert_transition(COLL_LEVEL_WARNING, COLL_LEVEL_NONE),
			 COLL_ACTION_CLEAR);
	/* exactly 25 keeps it, exactly 30 does not raise it */
	assert_int_equal(coll_rule_level(r, 25, COLL_LEVEL_WARNING), COLL_LEVEL_WARNING);
	assert_int_equal(coll_rule_level(r, 30, COLL_LEVEL_NONE), COLL_LEVEL_NONE);
	/* 45 -> 55 escalate */
	assert_int_equal(coll_rule_level(r, 45, COLL_LEVEL_WARNING), COLL_LEVEL_WARNING);
	assert_int_equal(coll_rule_level(r, 55, COLL_LEVEL_WARNING), COLL_LEVEL_CRITICAL);
	assert_int_equal(coll_alert_transition(COLL_LEVEL_WARNING, COLL_LEVEL_CRITICAL),
			 COLL_ACTION_ESCALATE);
	/* critical holds down to 45, then de-escalates; straight to clear below 25 */
	assert_int_equal(coll_rule_level(r, 47, COLL_LEVEL_CRITICAL), COLL_LEVEL_CRITICAL);
	assert_int_equal(coll_rule_level(r, 44, COLL_LEVEL_CRITICAL), COLL_LEVEL_WARNING);
	assert_int_equal(coll_alert_transition(COLL_LEVEL_CRITICAL, COLL_LEVEL_WARNING),
			 COLL_ACTION_DEESCALATE);
	assert_int_equal(coll_rule_level(r, 20, COLL_LEVEL_CRITICAL), COLL_LEVEL_NONE);
	/* first report already at 60: raise straight to critical */
	assert_int_equal(coll_rule_level(r, 60, COLL_LEVEL_NONE), COLL_LEVEL_CRITICAL);
	/* not measurable: keeps what is open */
	assert_int_equal(coll_rule_level(r, NAN, COLL_LEVEL_CRITICAL), COLL_LEVEL_CRITICAL);

	assert_true(coll_alert_action_notifies(COLL_ACTION_RAISE));
	assert_true(coll_alert_action_notifies(COLL_ACTION_ESCALATE));
	assert_true(coll_alert_action_notifies(COLL_ACTION_CLEAR));
	assert_false(coll_alert_action_notifies(COLL_ACTION_NONE));
	assert_false(coll_alert_action_notifies(COLL_ACTION_DEESCALATE));
}

/* The same sequence through whole reports, feeding each result back as
 * the open state the way the store does. */
static void test_fragmentation_sequence(void **state)
{
	static const struct {
		double value;
		enum coll_alert_action action;
		enum coll_alert_level level;
	} steps[] = {
		{29, COLL_ACTION_NONE, COLL_LEVEL_NONE},
		{31, COLL_ACTION_RAISE, COLL_LEVEL_WARNING},
		{28, COLL_ACTION_NONE, COLL_LEVEL_WARNING},
		{45, COLL_ACTION_NONE, COLL_LEVEL_WARNING},
		{55, COLL_ACTION_ESCALATE, COLL_LEVEL_CRITICAL},
		{52, COLL_ACTION_NONE, COLL_LEVEL_CRITICAL},
		{40, COLL_ACTION_DEESCALATE, COLL_LEVEL_WARNING},
		{24, COLL_ACTION_CLEAR, COLL_LEVEL_NONE},
		{26, COLL_ACTION_NONE, COLL_LEVEL_NONE},
	};
	const char *obj = "odoo/public.sale_order_line_order_id_idx";
	enum coll_alert_level open = COLL_LEVEL_NONE;
	(void)state;

	for (size_t i = 0; i < EP_ARRAY_SIZE(steps); i++) {
		json_t *f = finding("index_fragmentation", obj, steps[i].value, "info");
		struct coll_open_alert oa = {COLL_RULE_INDEX_FRAGMENTATION, obj, open};
		struct coll_alert_results res;
		const struct coll_alert_result *a;
		json_t *rep;

		json_object_set_new(f, "pages", json_integer(5000));
		rep = report(NOW, json_pack("[o]", probe("postgres", "ok", json_pack("[o]", f))));
		eval(rep, NULL, 0, &oa, open != COLL_LEVEL_NONE, &res);
		a = find(&res, COLL_RULE_INDEX_FRAGMENTATION, obj);
		if (steps[i].action == COLL_ACTION_NONE && steps[i].level == COLL_LEVEL_NONE &&
		    open == COLL_LEVEL_NONE) {
			assert_null(a);
		} else {
			assert_non_null(a);
			assert_int_equal(a->action, steps[i].action);
			assert_int_equal(a->level, steps[i].level);
			assert_int_equal(a->open, open);
			assert_true(fabs(a->value - steps[i].value) < 1e-9);
			assert_non_null(a->message);
			assert_non_null(a->remediation);
		}
		open = steps[i].level;
		coll_alert_results_free(&res);
		json_decref(rep);
	}
}

static void test_fragmentation_min_pages(void **state)
{
	json_t *small = finding("index_fragmentation", "db/s.small", 80, "critical");
	json_t *big = finding("index_fragmentation", "db/s.big", 35, "warning");
	json_t *nopages = finding("index_fragmentation", "db/s.nopages", 35, "warning");
	struct coll_alert_results res;
	const struct coll_alert_result *a;
	json_t *rep;
	(void)state;

	json_object_set_new(small, "pages", json_integer(999));
	json_object_set_new(big, "pages", json_integer(1000));
	json_object_set_new(big, "remediation", json_string("REINDEX INDEX CONCURRENTLY s.big;"));
	rep = report(NOW, json_pack("[o]", probe("postgres", "ok",
						 json_pack("[o,o,o]", small, big, nopages))));
	eval(rep, NULL, 0, NULL, 0, &res);
	assert_null(find(&res, COLL_RULE_INDEX_FRAGMENTATION, "db/s.small"));
	a = find(&res, COLL_RULE_INDEX_FRAGMENTATION, "db/s.big");
	assert_non_null(a);
	assert_int_equal(a->action, COLL_ACTION_RAISE);
	assert_string_equal(a->remediation, "REINDEX INDEX CONCURRENTLY s.big;");
	assert_non_null(find(&res, COLL_RULE_INDEX_FRAGMENTATION, "db/s.nopages"));
	coll_alert_results_free(&res);
	json_decref(rep);
}

static struct coll_object_forecast disk_fc(const char *obj, enum coll_forecast_kind k,
					   enum coll_forecast_status st, double days)
{
	struct coll_object_forecast f = {.kind = k, .object = obj};

	f.fc.status = st;
	f.fc.days = days;
	f.fc.r2 = 0.95;
	f.fc.n_used = 30;
	f.fc.confidence = COLL_CONF_HIGH;
	return f;
}

static void test_disk_full_forecast(void **state)
{
	struct coll_object_forecast fc[4] = {
		disk_fc("/var", COLL_FK_DISK_BYTES, COLL_FC_ETA, 5.5),
		disk_fc("/srv", COLL_FK_DISK_BYTES, COLL_FC_ETA, 20),
		disk_fc("/var", COLL_FK_DISK_INODES, COLL_FC_ALREADY, 0),
		disk_fc("/home", COLL_FK_DISK_BYTES, COLL_FC_ETA, 31),
	};
	struct coll_alert_results res;
	const struct coll_alert_result *a;
	json_t *rep = report(NOW, json_pack("[o]", probe("disk", "ok", NULL)));
	(void)state;

	eval(rep, fc, 4, NULL, 0, &res);
	a = find(&res, COLL_RULE_DISK_FULL, "/var");
	assert_non_null(a);
	assert_int_equal(a->level, COLL_LEVEL_CRITICAL);
	assert_int_equal(a->action, COLL_ACTION_RAISE);
	assert_string_equal(a->unit, "days");
	assert_non_null(strstr(a->message, "5.5 days"));
	a = find(&res, COLL_RULE_DISK_FULL, "/srv");
	assert_non_null(a);
	assert_int_equal(a->level, COLL_LEVEL_WARNING);
	a = find(&res, COLL_RULE_DISK_FULL, "/var (inodes)");
	assert_non_null(a);
	assert_int_equal(a->level, COLL_LEVEL_CRITICAL);
	assert_null(find(&res, COLL_RULE_DISK_FULL, "/home")); /* 31 days: no alert */
	coll_alert_results_free(&res);

	/* open warnings: /home at 31 days stays (clears above 35), a flat /srv
	 * ("never") clears, insufficient data keeps /opt as it is */
	{
		struct coll_object_forecast fc2[3] = {
			disk_fc("/home", COLL_FK_DISK_BYTES, COLL_FC_ETA, 31),
			disk_fc("/srv", COLL_FK_DISK_BYTES, COLL_FC_NEVER, NAN),
			disk_fc("/opt", COLL_FK_DISK_BYTES, COLL_FC_INSUFFICIENT, NAN),
		};
		struct coll_open_alert open[3] = {
			{COLL_RULE_DISK_FULL, "/home", COLL_LEVEL_WARNING},
			{COLL_RULE_DISK_FULL, "/srv", COLL_LEVEL_WARNING},
			{COLL_RULE_DISK_FULL, "/opt", COLL_LEVEL_WARNING},
		};
		eval(rep, fc2, 3, open, 3, &res);
		a = find(&res, COLL_RULE_DISK_FULL, "/home");
		assert_non_null(a);
		assert_int_equal(a->action, COLL_ACTION_NONE);
		assert_int_equal(a->level, COLL_LEVEL_WARNING);
		a = find(&res, COLL_RULE_DISK_FULL, "/srv");
		assert_non_null(a);
		assert_int_equal(a->action, COLL_ACTION_CLEAR);
		a = find(&res, COLL_RULE_DISK_FULL, "/opt");
		assert_non_null(a);
		assert_int_equal(a->action, COLL_ACTION_NONE);
		assert_int_equal(a->level, COLL_LEVEL_WARNING);
		coll_alert_results_free(&res);
	}
	json_decref(rep);
}

static void test_filesystem_xid_backup(void **state)
{
	struct coll_alert_results res;
	const struct coll_alert_result *a;
	json_t *rep = report(
		NOW, json_pack("[o,o]",
			       probe("disk", "ok",
				     json_pack("[o,o,o]", finding("disk_usage", "/", 91, "warning"),
					       finding("disk_usage", "/data", 96, "critical"),
					       finding("inode_usage", "/var", 92, "warning"))),
			       probe("postgres", "ok",
				     json_pack("[o,o,o]",
					       finding("xid_wraparound", "odoo", 51, "warning"),
					       finding("xid_wraparound", "erp2", 76, "critical"),
					       finding("backup_age", "odoo", 27, "warning")))));
	(void)state;

	eval(rep, NULL, 0, NULL, 0, &res);
	a = find(&res, COLL_RULE_FILESYSTEM_USAGE, "/");
	assert_non_null(a);
	assert_int_equal(a->level, COLL_LEVEL_WARNING);
	a = find(&res, COLL_RULE_FILESYSTEM_USAGE, "/data");
	assert_non_null(a);
	assert_int_equal(a->level, COLL_LEVEL_CRITICAL);
	a = find(&res, COLL_RULE_FILESYSTEM_USAGE, "/var (inodes)");
	assert_non_null(a);
	assert_int_equal(a->level, COLL_LEVEL_WARNING);
	a = find(&res, COLL_RULE_XID_WRAPAROUND, "odoo");
	assert_non_null(a);
	assert_int_equal(a->level, COLL_LEVEL_WARNING);
	a = find(&res, COLL_RULE_XID_WRAPAROUND, "erp2");
	assert_non_null(a);
	assert_int_equal(a->level, COLL_LEVEL_CRITICAL);
	a = find(&res, COLL_RULE_BACKUP_AGE, "odoo");
	assert_non_null(a);
	assert_int_equal(a->level, COLL_LEVEL_WARNING);
	assert_int_equal(a->action, COLL_ACTION_RAISE);
	coll_alert_results_free(&res);
	json_decref(rep);

	/* below the thresholds: nothing */
	rep = report(NOW,
		     json_pack("[o]", probe("postgres", "ok",
					    json_pack("[o,o]",
						      finding("xid_wraparound", "odoo", 49, "info"),
						      finding("backup_age", "odoo", 25, "info")))));
	eval(rep, NULL, 0, NULL, 0, &res);
	assert_null(find(&res, COLL_RULE_XID_WRAPAROUND, "odoo"));
	assert_null(find(&res, COLL_RULE_BACKUP_AGE, "odoo"));
	coll_alert_results_free(&res);
	json_decref(rep);
}

static void test_error_spike(void **state)
{
	struct coll_object_forecast fc[3] = {
		{.kind = COLL_FK_ERROR_SPIKE, .object = "odoo"},
		{.kind = COLL_FK_ERROR_SPIKE, .object = "nginx"},
		{.kind = COLL_FK_ERROR_SPIKE, .object = "cron"},
	};
	struct coll_alert_results res;
	const struct coll_alert_result *a;
	json_t *rep = report(NOW, json_pack("[o]", probe("log", "ok", NULL)));
	(void)state;

	fc[0].spike = (struct coll_spike){
		COLL_SPIKE_SPIKE, COLL_BASELINE_HOUR_OF_WEEK, 120, 5, 1.5, (120 - 5) / 1.5, 5};
	fc[1].spike =
		(struct coll_spike){COLL_SPIKE_SPIKE, COLL_BASELINE_RECENT, 12, 5, 1.4, 5, 24};
	fc[2].spike =
		(struct coll_spike){COLL_SPIKE_NORMAL, COLL_BASELINE_RECENT, 6, 5, 1.4, 0.7, 24};
	eval(rep, fc, 3, NULL, 0, &res);
	a = find(&res, COLL_RULE_ERROR_SPIKE, "odoo");
	assert_non_null(a);
	assert_int_equal(a->level, COLL_LEVEL_CRITICAL);
	assert_non_null(strstr(a->message, "hour_of_week"));
	a = find(&res, COLL_RULE_ERROR_SPIKE, "nginx");
	assert_non_null(a);
	assert_int_equal(a->level, COLL_LEVEL_WARNING);
	assert_null(find(&res, COLL_RULE_ERROR_SPIKE, "cron"));
	coll_alert_results_free(&res);
	json_decref(rep);
}

static void test_security_updates(void **state)
{
	struct coll_alert_results res;
	const struct coll_alert_result *a;
	struct coll_alert_input in = {.received_at = NOW, .now = NOW};
	json_t *f = finding("security_updates", "host", 3, "warning");
	json_t *rep;
	(void)state;

	/* pending_days from the probe */
	json_object_set_new(f, "pending_days", json_real(8));
	rep = report(NOW, json_pack("[o]", probe("patches", "ok", json_pack("[o]", f))));
	eval(rep, NULL, 0, NULL, 0, &res);
	a = find(&res, COLL_RULE_SECURITY_UPDATES, "host");
	assert_non_null(a);
	assert_int_equal(a->level, COLL_LEVEL_WARNING);
	coll_alert_results_free(&res);
	json_decref(rep);

	/* no age from the probe: the store's first-seen time decides */
	rep = report(NOW, json_pack("[o]", probe("patches", "ok",
						 json_pack("[o]", finding("security_updates",
									  "host", 3, "warning")))));
	in.report = rep;
	in.security_pending_since = NOW - 3 * 86400;
	assert_int_equal(coll_alerts_evaluate(&in, &res), 0);
	assert_null(find(&res, COLL_RULE_SECURITY_UPDATES, "host"));
	coll_alert_results_free(&res);
	in.security_pending_since = NOW - 10 * 86400;
	assert_int_equal(coll_alerts_evaluate(&in, &res), 0);
	a = find(&res, COLL_RULE_SECURITY_UPDATES, "host");
	assert_non_null(a);
	assert_true(fabs(a->value - 10) < 1e-9);
	assert_int_equal(a->level, COLL_LEVEL_WARNING);
	coll_alert_results_free(&res);
	in.security_pending_since = NOW - 31 * 86400;
	assert_int_equal(coll_alerts_evaluate(&in, &res), 0);
	assert_int_equal(find(&res, COLL_RULE_SECURITY_UPDATES, "host")->level,
			 COLL_LEVEL_CRITICAL);
	coll_alert_results_free(&res);
	json_decref(rep);

	/* installed: count 0 clears the open alert */
	{
		struct coll_open_alert open = {COLL_RULE_SECURITY_UPDATES, "host",
					       COLL_LEVEL_WARNING};
		rep = report(NOW,
			     json_pack("[o]", probe("patches", "ok",
						    json_pack("[o]", finding("security_updates",
									     "host", 0, "info")))));
		in.report = rep;
		in.open = &open;
		in.n_open = 1;
		assert_int_equal(coll_alerts_evaluate(&in, &res), 0);
		a = find(&res, COLL_RULE_SECURITY_UPDATES, "host");
		assert_non_null(a);
		assert_int_equal(a->action, COLL_ACTION_CLEAR);
		coll_alert_results_free(&res);
		json_decref(rep);
	}
}

static void test_pending_since(void **state)
{
	struct coll_sample h[6] = {
		{NOW - 50 * 86400, 2}, {NOW - 40 * 86400, 0}, {NOW - 9 * 86400, 1},
		{NOW - 3 * 86400, 4},  {NOW - 86400, 4},      {NOW - 20 * 86400, 0},
	};
	(void)state;

	/* pending again since the newest zero (day -20) was followed by day -9 */
	assert_int_equal(coll_pending_since(h, 6), NOW - 9 * 86400);
	h[4].v = 0; /* installed yesterday */
	assert_int_equal(coll_pending_since(h, 6), 0);
	h[4].v = 4;
	h[2].v = 0;
	assert_int_equal(coll_pending_since(h, 6), NOW - 3 * 86400);
	assert_int_equal(coll_pending_since(NULL, 0), 0);
	assert_int_equal(coll_pending_since(h, 1), NOW - 50 * 86400);
}

static void test_agent_silent(void **state)
{
	struct coll_alert_results res;
	const struct coll_alert_result *a;
	struct coll_alert_input in = {
		.now = NOW, .last_seen = NOW - 3 * 300 - 60, .interval_s = 300};
	struct coll_open_alert open = {COLL_RULE_AGENT_SILENT, "agent", COLL_LEVEL_CRITICAL};
	json_t *rep;
	(void)state;

	/* dead-man sweep without a report: 3.2 intervals -> critical */
	assert_int_equal(coll_alerts_evaluate(&in, &res), 0);
	assert_int_equal(res.n, 1);
	a = &res.items[0];
	assert_int_equal(a->rule, COLL_RULE_AGENT_SILENT);
	assert_int_equal(a->level, COLL_LEVEL_CRITICAL);
	assert_int_equal(a->action, COLL_ACTION_RAISE);
	coll_alert_results_free(&res);

	/* 2.9 intervals: nothing yet */
	in.last_seen = NOW - 870;
	assert_int_equal(coll_alerts_evaluate(&in, &res), 0);
	assert_int_equal(res.n, 0);
	coll_alert_results_free(&res);

	/* still silent with the alert open: no second notice */
	in.last_seen = NOW - 4000;
	in.open = &open;
	in.n_open = 1;
	assert_int_equal(coll_alerts_evaluate(&in, &res), 0);
	assert_int_equal(res.n, 1);
	assert_int_equal(res.items[0].action, COLL_ACTION_NONE);
	coll_alert_results_free(&res);

	/* a report arrives: cleared */
	rep = report(NOW, json_pack("[]"));
	eval(rep, NULL, 0, &open, 1, &res);
	a = find(&res, COLL_RULE_AGENT_SILENT, "agent");
	assert_non_null(a);
	assert_int_equal(a->action, COLL_ACTION_CLEAR);
	coll_alert_results_free(&res);
	json_decref(rep);
}

static void test_clock_skew(void **state)
{
	struct coll_alert_results res;
	const struct coll_alert_result *a;
	json_t *rep;
	(void)state;

	rep = report(NOW - 400, json_pack("[]")); /* agent 400 s behind */
	eval(rep, NULL, 0, NULL, 0, &res);
	a = find(&res, COLL_RULE_CLOCK_SKEW, "clock");
	assert_non_null(a);
	assert_int_equal(a->level, COLL_LEVEL_WARNING);
	assert_true(fabs(a->value - 400) < 1e-9);
	coll_alert_results_free(&res);
	json_decref(rep);

	rep = report(NOW + 7200, json_pack("[]")); /* 2 h ahead */
	eval(rep, NULL, 0, NULL, 0, &res);
	assert_int_equal(find(&res, COLL_RULE_CLOCK_SKEW, "clock")->level, COLL_LEVEL_CRITICAL);
	coll_alert_results_free(&res);
	json_decref(rep);

	rep = report(NOW - 100, json_pack("[]"));
	eval(rep, NULL, 0, NULL, 0, &res);
	assert_null(find(&res, COLL_RULE_CLOCK_SKEW, "clock"));
	coll_alert_results_free(&res);
	json_decref(rep);
}

static void test_vanished_objects(void **state)
{
	struct coll_open_alert open[2] = {
		{COLL_RULE_INDEX_FRAGMENTATION, "db/s.gone_idx", COLL_LEVEL_WARNING},
		{COLL_RULE_FILESYSTEM_USAGE, "/mnt/old", COLL_LEVEL_WARNING},
	};
	struct coll_alert_results res;
	const struct coll_alert_result *a;
	json_t *rep;
	(void)state;

	/* postgres ran fine and no longer reports the index: cleared.
	 * disk failed this cycle: its alert stays untouched (no result). */
	rep = report(NOW, json_pack("[o,o]", probe("postgres", "ok", NULL),
				    probe("disk", "error", NULL)));
	eval(rep, NULL, 0, open, 2, &res);
	a = find(&res, COLL_RULE_INDEX_FRAGMENTATION, "db/s.gone_idx");
	assert_non_null(a);
	assert_int_equal(a->action, COLL_ACTION_CLEAR);
	assert_true(isnan(a->value));
	assert_non_null(strstr(a->message, "no longer reported"));
	assert_null(find(&res, COLL_RULE_FILESYSTEM_USAGE, "/mnt/old"));
	coll_alert_results_free(&res);
	json_decref(rep);
}

/* Thousands of findings and open alerts: merged worst-first, in well
 * under a second (the evaluation is O(n log n), not O(n^2)). */
static void test_large_report(void **state)
{
	enum { N = 4000 };
	json_t *findings = json_array(), *rep;
	struct coll_open_alert *open = calloc(N, sizeof(*open));
	char(*names)[32] = calloc(N, sizeof(*names));
	struct coll_alert_results res;
	const struct coll_alert_result *a;
	int64_t t0;
	size_t raises = 0, clears = 0;
	(void)state;

	assert_non_null(open);
	assert_non_null(names);
	for (int i = 0; i < N; i++) {
		char obj[32];
		snprintf(obj, sizeof(obj), "db/s.idx%04d", i);
		json_array_append_new(findings, finding("index_fragmentation", obj, 31, "warning"));
		snprintf(names[i], sizeof(names[i]), "db/s.old%04d", i);
		open[i] = (struct coll_open_alert){COLL_RULE_INDEX_FRAGMENTATION, names[i],
						   COLL_LEVEL_WARNING};
	}
	/* the same index twice: the worse value wins */
	json_array_append_new(findings,
			      finding("index_fragmentation", "db/s.idx0007", 60, "critical"));
	json_array_append_new(findings, finding("index_fragmentation", "db/s.idx0007", 20, "info"));
	rep = report(NOW, json_pack("[o]", probe("postgres", "ok", findings)));
	t0 = ep_mono_ms();
	eval(rep, NULL, 0, open, N, &res);
	assert_true(ep_mono_ms() - t0 < 2000);
	for (size_t i = 0; i < res.n; i++) {
		raises += res.items[i].action == COLL_ACTION_RAISE;
		clears += res.items[i].action == COLL_ACTION_CLEAR;
	}
	assert_int_equal(raises, N);
	assert_int_equal(clears, N);
	a = find(&res, COLL_RULE_INDEX_FRAGMENTATION, "db/s.idx0007");
	assert_non_null(a);
	assert_int_equal(a->level, COLL_LEVEL_CRITICAL);
	assert_true(fabs(a->value - 60) < 1e-9);
	coll_alert_results_free(&res);
	json_decref(rep);
	free(open);
	free(names);
}

static void test_names_and_json(void **state)
{
	enum coll_rule r;
	enum coll_alert_level l;
	struct coll_alert_results res;
	json_t *rep, *j;
	(void)state;

	for (int i = 0; i < COLL_RULE_COUNT; i++) {
		const struct coll_rule_def *d = coll_rule_get((enum coll_rule)i);
		assert_non_null(d);
		assert_int_equal(d->rule, i);
		assert_int_equal(coll_rule_parse(coll_rule_name((enum coll_rule)i), &r), 0);
		assert_int_equal(r, i);
		assert_non_null(d->summary);
		/* clear thresholds never above raise thresholds (for higher-is-worse) */
		if (!d->lower_is_worse)
			assert_true(d->warn_clear <= d->warn_raise);
		else
			assert_true(d->warn_clear >= d->warn_raise);
	}
	assert_int_equal(coll_rule_parse("nope", &r), -EINVAL);
	assert_null(coll_rule_get(COLL_RULE_COUNT));
	assert_int_equal(coll_alert_level_parse("critical", &l), 0);
	assert_int_equal(l, COLL_LEVEL_CRITICAL);
	assert_int_equal(coll_alert_level_parse("bad", &l), -EINVAL);

	rep = report(NOW, json_pack("[o]", probe("postgres", "ok",
						 json_pack("[o]", finding("xid_wraparound", "odoo",
									  80, "critical")))));
	eval(rep, NULL, 0, NULL, 0, &res);
	j = coll_alert_result_json(find(&res, COLL_RULE_XID_WRAPAROUND, "odoo"));
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "rule")), "xid_wraparound");
	assert_string_equal(json_string_value(json_object_get(j, "level")), "critical");
	assert_string_equal(json_string_value(json_object_get(j, "action")), "raise");
	assert_true(fabs(json_number_value(json_object_get(j, "value")) - 80) < 1e-9);
	json_decref(j);
	coll_alert_results_free(&res);
	json_decref(rep);

	{
		struct coll_alert_input bad = {0};
		assert_int_equal(coll_alerts_evaluate(NULL, &res), -EINVAL);
		bad.n_open = 1;
		assert_int_equal(coll_alerts_evaluate(&bad, &res), -EINVAL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hysteresis_levels),
		cmocka_unit_test(test_fragmentation_sequence),
		cmocka_unit_test(test_fragmentation_min_pages),
		cmocka_unit_test(test_disk_full_forecast),
		cmocka_unit_test(test_filesystem_xid_backup),
		cmocka_unit_test(test_error_spike),
		cmocka_unit_test(test_security_updates),
		cmocka_unit_test(test_pending_since),
		cmocka_unit_test(test_agent_silent),
		cmocka_unit_test(test_clock_skew),
		cmocka_unit_test(test_vanished_objects),
		cmocka_unit_test(test_large_report),
		cmocka_unit_test(test_names_and_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
