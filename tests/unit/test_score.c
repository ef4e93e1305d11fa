/* Risk score: exact scores for known findings, caps, liveness, forecasts,
 * bands, and the explanation adding up to exactly the points lost. The
 * expected numbers follow from the tables in docs/scoring.md. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collector/analysis/score.h"
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
	return json_pack(
		"{s:s, s:s, s:s, s:o, s:i, s:{}, s:o}", "name", name, "target", "t", "status",
		status, "error",
		strcmp(status, "error") == 0 ? json_string("connection refused") : json_null(),
		"duration_ms", 5, "metrics", "findings", findings ? findings : json_array());
}

static json_t *report(int64_t generated_at, int dropped, json_t *probes)
{
	char when[32];

	assert_int_equal(ep_time_format((time_t)generated_at, when, sizeof(when)), 0);
	return json_pack("{s:s, s:s, s:i, s:s, s:i, s:s, s:{s:s}, s:i, s:o}", "schema",
			 "erpulse.report.v1", "agent_id", "a1", "seq", 1, "generated_at", when,
			 "interval_s", 300, "agent_version", "0.1.0", "host", "hostname", "erp01",
			 "dropped_reports", dropped, "probes", probes);
}

/* Scores rep received at `received`, checks the bookkeeping invariants and
 * returns the score (s filled; caller frees). */
static int score(const json_t *rep, int64_t received, const struct coll_object_forecast *fc,
		 size_t nfc, struct coll_score *s)
{
	struct coll_score_input in = {
		.report = rep,
		.forecasts = fc,
		.n_forecasts = nfc,
		.received_at = received,
		.now = NOW,
	};
	int sum = 0, cat_sum[COLL_CAT_COUNT] = {0};

	assert_int_equal(coll_score_host(&in, s), 0);
	for (size_t i = 0; i < s->n_deductions; i++) {
		const struct coll_deduction *d = &s->deductions[i];
		assert_true(d->points > 0);
		assert_non_null(d->kind);
		assert_non_null(d->object);
		assert_non_null(d->reason);
		assert_true(strlen(d->reason) > 0);
		assert_true(i == 0 || s->deductions[i - 1].points >= d->points);
		sum += d->points;
		cat_sum[d->category] += d->points;
	}
	/* every lost point is explained, exactly */
	assert_int_equal(sum, 100 - s->score);
	for (int c = 0; c < COLL_CAT_COUNT; c++) {
		assert_int_equal(cat_sum[c], s->category_lost[c]);
		assert_true(s->category_lost[c] <= coll_category_weight((enum coll_category)c));
	}
	assert_int_equal(s->band, coll_score_band(s->score));
	return s->score;
}

static const struct coll_deduction *find(const struct coll_score *s, const char *kind,
					 const char *object)
{
	for (size_t i = 0; i < s->n_deductions; i++)
		if (!strcmp(s->deductions[i].kind, kind) &&
		    !strcmp(s->deductions[i].object, object))
			return &s->deductions[i];
	return NULL;
}

static void test_weights(void **state)
{
	int total = 0;
	(void)state;

	for (int c = 0; c < COLL_CAT_COUNT; c++)
		total += coll_category_weight((enum coll_category)c);
	assert_int_equal(total, 100);
	assert_int_equal(coll_category_weight(COLL_CAT_DATABASE), 35);
	assert_int_equal(coll_category_weight(COLL_CAT_STORAGE), 25);
	assert_int_equal(coll_category_weight(COLL_CAT_ERRORS), 15);
	assert_int_equal(coll_category_weight(COLL_CAT_PATCHES), 10);
	assert_int_equal(coll_category_weight(COLL_CAT_LIVENESS), 15);
	assert_string_equal(coll_category_name(COLL_CAT_LIVENESS), "liveness");
}

static void test_healthy(void **state)
{
	struct coll_score s;
	json_t *rep = report(NOW - 60, 0,
			     json_pack("[o,o]",
				       probe("postgres", "ok",
					     json_pack("[o]", finding("index_fragmentation",
								      "db/s.i", 12, "info"))),
				       probe("disk", "ok", NULL)));
	(void)state;

	assert_int_equal(score(rep, NOW - 60, NULL, 0, &s), 100);
	assert_int_equal(s.band, COLL_BAND_HEALTHY);
	assert_int_equal(s.n_deductions, 0);
	for (int c = 0; c < COLL_CAT_COUNT; c++)
		assert_int_equal(s.category_score[c], 100);
	coll_score_free(&s);
	json_decref(rep);
}

/* 3 (fragmentation warning) + 6 (fragmentation 55%: critical by the alert
 * threshold although the probe said warning) + 5 (disk 91%) + 4 (security
 * updates warning) + 6 (log errors critical) = 24 -> 76, at risk. */
static void test_known_findings(void **state)
{
	struct coll_score s;
	const struct coll_deduction *d;
	json_t *f1 = finding("index_fragmentation", "odoo/public.a_idx", 41.2, "warning");
	json_t *f2 = finding("index_fragmentation", "odoo/public.b_idx", 55, "warning");
	json_t *small = finding("index_fragmentation", "odoo/public.tiny_idx", 90, "critical");
	json_t *rep;
	(void)state;

	json_object_set_new(f1, "pages", json_integer(5000));
	json_object_set_new(f1, "remediation",
			    json_string("REINDEX INDEX CONCURRENTLY \"public\".\"a_idx\";"));
	json_object_set_new(f2, "pages", json_integer(5000));
	json_object_set_new(small, "pages", json_integer(10)); /* too small to matter */
	rep = report(
		NOW - 60, 0,
		json_pack(
			"[o,o,o,o]", probe("postgres", "ok", json_pack("[o,o,o]", f1, f2, small)),
			probe("disk", "ok",
			      json_pack("[o]", finding("disk_usage", "/", 91, "warning"))),
			probe("patches", "ok",
			      json_pack("[o]", finding("security_updates", "host", 3, "warning"))),
			probe("log", "ok",
			      json_pack("[o]", finding("log_errors", "odoo", 40, "critical")))));

	assert_int_equal(score(rep, NOW - 60, NULL, 0, &s), 76);
	assert_int_equal(s.band, COLL_BAND_AT_RISK);
	assert_int_equal(s.n_deductions, 5);
	assert_int_equal(s.category_lost[COLL_CAT_DATABASE], 9);
	assert_int_equal(s.category_lost[COLL_CAT_STORAGE], 5);
	assert_int_equal(s.category_lost[COLL_CAT_PATCHES], 4);
	assert_int_equal(s.category_lost[COLL_CAT_ERRORS], 6);
	assert_int_equal(s.category_lost[COLL_CAT_LIVENESS], 0);
	assert_int_equal(s.category_score[COLL_CAT_DATABASE], 100 * (35 - 9) / 35);
	assert_int_equal(s.category_score[COLL_CAT_PATCHES], 60);
	d = find(&s, "index_fragmentation", "odoo/public.a_idx");
	assert_non_null(d);
	assert_int_equal(d->points, 3);
	assert_int_equal(d->category, COLL_CAT_DATABASE);
	assert_string_equal(d->remediation, "REINDEX INDEX CONCURRENTLY \"public\".\"a_idx\";");
	assert_non_null(strstr(d->reason, "41.2"));
	d = find(&s, "index_fragmentation", "odoo/public.b_idx");
	assert_non_null(d);
	assert_int_equal(d->points, 6);
	assert_non_null(d->remediation); /* the table's default */
	assert_null(find(&s, "index_fragmentation", "odoo/public.tiny_idx"));
	d = find(&s, "log_errors", "odoo");
	assert_non_null(d);
	assert_int_equal(d->category, COLL_CAT_ERRORS);
	coll_score_free(&s);
	json_decref(rep);
}

/* Ten critical indexes and a critical XID age: xid 25, then fragmentation
 * 6 and 4 (the database category's 35 are used up). 100 - 35 = 65. */
static void test_caps(void **state)
{
	struct coll_score s;
	json_t *findings = json_array(), *rep;
	char obj[64];
	(void)state;

	for (int i = 0; i < 10; i++) {
		json_t *f;
		snprintf(obj, sizeof(obj), "db/s.idx%d", i);
		f = finding("index_fragmentation", obj, 70, "critical");
		json_object_set_new(f, "pages", json_integer(2000));
		json_array_append_new(findings, f);
	}
	json_array_append_new(findings, finding("xid_wraparound", "db", 80, "critical"));
	rep = report(NOW - 60, 0, json_pack("[o]", probe("postgres", "ok", findings)));
	assert_int_equal(score(rep, NOW - 60, NULL, 0, &s), 65);
	assert_int_equal(s.n_deductions, 3);
	assert_string_equal(s.deductions[0].kind, "xid_wraparound");
	assert_int_equal(s.deductions[0].points, 25);
	assert_int_equal(s.deductions[1].points, 6);
	assert_int_equal(s.deductions[2].points, 4);
	assert_int_equal(s.category_lost[COLL_CAT_DATABASE], 35);
	assert_int_equal(s.category_score[COLL_CAT_DATABASE], 0);
	coll_score_free(&s);
	json_decref(rep);

	/* the same ten indexes alone stop at the kind's cap of 15 */
	findings = json_array();
	for (int i = 0; i < 10; i++) {
		json_t *f;
		snprintf(obj, sizeof(obj), "db/s.idx%d", i);
		f = finding("index_fragmentation", obj, 70, "critical");
		json_array_append_new(findings, f);
	}
	rep = report(NOW - 60, 0, json_pack("[o]", probe("postgres", "ok", findings)));
	assert_int_equal(score(rep, NOW - 60, NULL, 0, &s), 85);
	assert_int_equal(s.band, COLL_BAND_HEALTHY);
	coll_score_free(&s);
	json_decref(rep);
}

static void test_liveness(void **state)
{
	struct coll_score s;
	json_t *rep;
	(void)state;

	/* silent: last report 1000 s ago at a 300 s interval -> all 15 liveness
	 * points; the failed probe has no points left in the category */
	rep = report(
		NOW - 1000, 0,
		json_pack("[o,o]", probe("postgres", "error", NULL), probe("disk", "ok", NULL)));
	assert_int_equal(score(rep, NOW - 1000, NULL, 0, &s), 85);
	assert_int_equal(s.n_deductions, 1);
	assert_string_equal(s.deductions[0].kind, "report_age");
	assert_int_equal(s.deductions[0].points, 15);
	assert_string_equal(s.deductions[0].object, "erp01");
	coll_score_free(&s);
	json_decref(rep);

	/* late (500 s: 5) + failed probe (3) + dropped reports (2) + clock
	 * 600 s behind (3) = 13 -> 87 */
	rep = report(
		NOW - 500 - 600, 4,
		json_pack("[o,o]", probe("postgres", "error", NULL), probe("disk", "ok", NULL)));
	assert_int_equal(score(rep, NOW - 500, NULL, 0, &s), 87);
	assert_non_null(find(&s, "report_age", "erp01"));
	assert_int_equal(find(&s, "report_age", "erp01")->points, 5);
	assert_non_null(find(&s, "probe_error", "postgres/t"));
	assert_non_null(
		strstr(find(&s, "probe_error", "postgres/t")->reason, "connection refused"));
	assert_int_equal(find(&s, "dropped_reports", "erp01")->points, 2);
	assert_int_equal(find(&s, "clock_skew", "erp01")->points, 3);
	coll_score_free(&s);
	json_decref(rep);

	/* received_at unknown: the report's own generated_at is the age */
	rep = report(NOW - 2000, 0, json_pack("[]"));
	assert_int_equal(score(rep, 0, NULL, 0, &s), 85);
	coll_score_free(&s);
	json_decref(rep);
}

static struct coll_object_forecast lin(enum coll_forecast_kind k, const char *obj,
				       enum coll_forecast_status st, double days)
{
	struct coll_object_forecast f = {.kind = k, .object = obj};

	f.fc.status = st;
	f.fc.days = days;
	f.fc.days_low = days * 0.9;
	f.fc.days_high = days * 1.1;
	f.fc.r2 = 0.97;
	f.fc.n_used = 40;
	f.fc.limit = 30;
	f.fc.confidence = COLL_CONF_HIGH;
	return f;
}

/* /var full in 5 days (12) + /var inodes already full (12) + /srv in 20
 * days (5, trimmed to 1 by the storage cap of 25) + /home in 40 days (0)
 * + an error spike (5) + an index crossing 30% in 10 days (1):
 * 25 + 5 + 1 = 31 -> 69. */
static void test_forecasts(void **state)
{
	struct coll_object_forecast fc[6] = {
		lin(COLL_FK_DISK_BYTES, "/var", COLL_FC_ETA, 5),
		lin(COLL_FK_DISK_INODES, "/var", COLL_FC_ALREADY, 0),
		lin(COLL_FK_DISK_BYTES, "/srv", COLL_FC_ETA, 20),
		lin(COLL_FK_DISK_BYTES, "/home", COLL_FC_ETA, 40),
		{.kind = COLL_FK_ERROR_SPIKE, .object = "odoo"},
		lin(COLL_FK_INDEX_FRAGMENTATION, "db/s.x_idx", COLL_FC_ETA, 10),
	};
	struct coll_score s;
	const struct coll_deduction *d;
	json_t *rep = report(NOW - 60, 0, json_pack("[]"));
	(void)state;

	fc[4].spike = (struct coll_spike){
		COLL_SPIKE_SPIKE, COLL_BASELINE_HOUR_OF_WEEK, 90, 5, 2, 42.5, 5};
	assert_int_equal(score(rep, NOW - 60, fc, 6, &s), 69);
	assert_int_equal(s.category_lost[COLL_CAT_STORAGE], 25);
	d = find(&s, "disk_full_forecast", "/var");
	assert_non_null(d);
	assert_int_equal(d->points, 12);
	assert_non_null(strstr(d->reason, "5.0 days"));
	assert_int_equal(find(&s, "disk_full_forecast", "/var (inodes)")->points, 12);
	assert_int_equal(find(&s, "disk_full_forecast", "/srv")->points, 1);
	assert_null(find(&s, "disk_full_forecast", "/home"));
	assert_int_equal(find(&s, "error_spike", "odoo")->points, 5);
	assert_int_equal(find(&s, "index_fragmentation_forecast", "db/s.x_idx")->points, 1);
	coll_score_free(&s);

	/* "never" and "insufficient" cost nothing */
	fc[0] = lin(COLL_FK_DISK_BYTES, "/var", COLL_FC_NEVER, NAN);
	fc[1] = lin(COLL_FK_DISK_INODES, "/var", COLL_FC_INSUFFICIENT, NAN);
	assert_int_equal(score(rep, NOW - 60, fc, 2, &s), 100);
	coll_score_free(&s);
	json_decref(rep);
}

static void test_bands(void **state)
{
	(void)state;
	assert_int_equal(coll_score_band(100), COLL_BAND_HEALTHY);
	assert_int_equal(coll_score_band(85), COLL_BAND_HEALTHY);
	assert_int_equal(coll_score_band(84), COLL_BAND_AT_RISK);
	assert_int_equal(coll_score_band(60), COLL_BAND_AT_RISK);
	assert_int_equal(coll_score_band(59), COLL_BAND_CRITICAL);
	assert_int_equal(coll_score_band(0), COLL_BAND_CRITICAL);
	assert_string_equal(coll_band_name(COLL_BAND_AT_RISK), "at_risk");
}

/* Worse than everything: the score bottoms out at 0, still explained. */
static void test_floor(void **state)
{
	struct coll_score s;
	json_t *rep = report(
		NOW - 5000, 9,
		json_pack(
			"[o,o,o,o,o]",
			probe("postgres", "ok",
			      json_pack("[o,o,o]", finding("xid_wraparound", "db", 90, "critical"),
					finding("backup_age", "db", 100, "critical"),
					finding("wal_archiver", "db", 1, "critical"))),
			probe("disk", "ok",
			      json_pack("[o,o]", finding("filesystem_readonly", "/", 1, "critical"),
					finding("disk_usage", "/", 99, "critical"))),
			probe("log", "ok",
			      json_pack("[o,o,o]", finding("log_errors", "a", 1, "critical"),
					finding("log_errors", "b", 1, "critical"),
					finding("journal_errors", "c", 1, "critical"))),
			probe("patches", "ok",
			      json_pack("[o,o]", finding("security_updates", "h", 9, "critical"),
					finding("os_eol", "h", 1, "critical"))),
			probe("odbc", "error", NULL)));
	(void)state;

	assert_int_equal(score(rep, NOW - 5000, NULL, 0, &s), 0);
	assert_int_equal(s.band, COLL_BAND_CRITICAL);
	coll_score_free(&s);
	json_decref(rep);
}

static void test_unknown_kind(void **state)
{
	struct coll_score s;
	json_t *rep = report(NOW - 60, 0,
			     json_pack("[o]", probe("postgres.erp", "ok",
						    json_pack("[o]", finding("brand_new_kind", "x",
									     1, "critical")))));
	(void)state;

	assert_int_equal(score(rep, NOW - 60, NULL, 0, &s), 96);
	assert_int_equal(s.deductions[0].category, COLL_CAT_DATABASE);
	coll_score_free(&s);
	json_decref(rep);
}

/* Thousands of findings of made-up kinds: each kind capped on its own,
 * the category cap on top, in well under a second. */
static void test_large_report(void **state)
{
	enum { N = 4000 };
	json_t *findings = json_array(), *rep;
	struct coll_score s;
	int64_t t0;
	(void)state;

	for (int i = 0; i < N; i++) {
		char kind[32];
		snprintf(kind, sizeof(kind), "made_up_%04d", i % 2000);
		json_array_append_new(findings, finding(kind, "x", 1, "critical"));
	}
	rep = report(NOW - 60, 0, json_pack("[o]", probe("log", "ok", findings)));
	t0 = ep_mono_ms();
	assert_int_equal(score(rep, NOW - 60, NULL, 0, &s), 85); /* errors: 15 of 15 */
	assert_true(ep_mono_ms() - t0 < 2000);
	assert_int_equal(s.n_deductions, 4); /* 4 + 4 + 4 + 3 */
	assert_int_equal(s.deductions[3].points, 3);
	coll_score_free(&s);
	json_decref(rep);
}

static void test_json_and_customer(void **state)
{
	struct coll_score s;
	json_t *j, *list, *e;
	json_t *rep = report(NOW - 60, 0,
			     json_pack("[o]", probe("disk", "ok",
						    json_pack("[o]", finding("disk_usage", "/", 96,
									     "critical")))));
	int scores[3] = {90, 55, 70};
	bool prod[3] = {true, false, true}, none[3] = {false, false, false};
	size_t worst, i;
	json_int_t sum = 0;
	(void)state;

	assert_int_equal(score(rep, NOW - 60, NULL, 0, &s), 88);
	j = coll_score_json(&s);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "score")), 88);
	assert_string_equal(json_string_value(json_object_get(j, "band")), "healthy");
	assert_int_equal(
		json_integer_value(json_object_get(
			json_object_get(json_object_get(j, "categories"), "storage"), "lost")),
		12);
	list = json_object_get(j, "deductions");
	assert_int_equal(json_array_size(list), 1);
	json_array_foreach(list, i, e)
	{
		sum += json_integer_value(json_object_get(e, "points"));
		assert_string_equal(json_string_value(json_object_get(e, "category")), "storage");
		assert_true(json_is_string(json_object_get(e, "remediation")));
	}
	assert_int_equal(sum, 12);
	json_decref(j);
	coll_score_free(&s);
	json_decref(rep);

	assert_int_equal(coll_customer_score(scores, prod, 3, &worst), 70);
	assert_int_equal(worst, 2);
	assert_int_equal(coll_customer_score(scores, none, 3, &worst), 55);
	assert_int_equal(worst, 1);
	assert_int_equal(coll_customer_score(scores, NULL, 3, NULL), 55);
	assert_int_equal(coll_customer_score(NULL, NULL, 0, &worst), 100);
	assert_int_equal(worst, (size_t)-1);

	{
		struct coll_score_input bad = {0};
		assert_int_equal(coll_score_host(&bad, &s), -EINVAL);
		assert_int_equal(coll_score_host(NULL, &s), -EINVAL);
	}
	coll_score_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_weights),
		cmocka_unit_test(test_healthy),
		cmocka_unit_test(test_known_findings),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_liveness),
		cmocka_unit_test(test_forecasts),
		cmocka_unit_test(test_bands),
		cmocka_unit_test(test_floor),
		cmocka_unit_test(test_unknown_kind),
		cmocka_unit_test(test_large_report),
		cmocka_unit_test(test_json_and_customer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
