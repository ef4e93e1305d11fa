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

#include "collector/analysis/forecast.h"
#include "collector/analysis/score.h"
#include "collector/store/store.h"
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
		assert_true(d->points >= 0);
		assert_true(d->full_points >= d->points);
		assert_int_equal(d->capped, d->points < d->full_points);
		assert_true(d->severity == 1 || d->severity == 2);
		assert_non_null(d->kind);
		assert_non_null(d->object);
		assert_non_null(d->reason);
		assert_true(strlen(d->reason) > 0);
		/* worst first: severity, then points before caps */
		if (i > 0) {
			const struct coll_deduction *p = &s->deductions[i - 1];
			assert_true(
				p->severity > d->severity ||
				(p->severity == d->severity && p->full_points >= d->full_points));
		}
		sum += d->points;
		cat_sum[d->category] += d->points;
	}
	/* every lost point is explained, exactly; a cap only lowers the score */
	assert_int_equal(sum, 100 - s->uncapped);
	assert_int_equal(s->score, s->uncapped < s->cap ? s->uncapped : s->cap);
	assert_int_equal(s->cap < 100, s->cap_reason != NULL);
	for (int c = 0; c < COLL_CAT_COUNT; c++) {
		assert_int_equal(cat_sum[c], s->category_lost[c]);
		assert_true(s->category_lost[c] <= coll_category_weight((enum coll_category)c));
	}
	if (s->band != COLL_BAND_UNKNOWN)
		assert_int_equal(s->band, coll_score_band(s->score));
	else
		assert_non_null(s->unknown_reason);
	if (s->n_deductions)
		assert_ptr_equal(coll_score_top_reason(s), s->band == COLL_BAND_UNKNOWN
								   ? s->unknown_reason
								   : s->deductions[0].reason);
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

/* One severity, the agent's: 3 (fragmentation warning) + 3 (55%, which the
 * agent judged warning: the collector does not re-judge it) + 0 (a small
 * index the agent judged info by its min_size) + 5 (disk 91%) + 4 (security
 * updates warning) + 6 (log errors critical) = 21 -> 79, at risk. */
static void test_known_findings(void **state)
{
	struct coll_score s;
	const struct coll_deduction *d;
	json_t *f1 = finding("index_fragmentation", "odoo/public.a_idx", 41.2, "warning");
	json_t *f2 = finding("index_fragmentation", "odoo/public.b_idx", 55, "warning");
	json_t *small = finding("index_fragmentation", "odoo/public.tiny_idx", 90, "info");
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

	assert_int_equal(score(rep, NOW - 60, NULL, 0, &s), 79);
	assert_int_equal(s.band, COLL_BAND_AT_RISK);
	assert_int_equal(s.n_deductions, 5);
	assert_string_equal(s.deductions[0].kind, "log_errors"); /* the critical one first */
	assert_int_equal(s.category_lost[COLL_CAT_DATABASE], 6);
	assert_int_equal(s.category_lost[COLL_CAT_STORAGE], 5);
	assert_int_equal(s.category_lost[COLL_CAT_PATCHES], 4);
	assert_int_equal(s.category_lost[COLL_CAT_ERRORS], 6);
	assert_int_equal(s.category_lost[COLL_CAT_LIVENESS], 0);
	assert_int_equal(s.category_score[COLL_CAT_DATABASE], 100 * (35 - 6) / 35);
	assert_int_equal(s.category_score[COLL_CAT_PATCHES], 60);
	d = find(&s, "index_fragmentation", "odoo/public.a_idx");
	assert_non_null(d);
	assert_int_equal(d->points, 3);
	assert_int_equal(d->category, COLL_CAT_DATABASE);
	assert_string_equal(d->remediation, "REINDEX INDEX CONCURRENTLY \"public\".\"a_idx\";");
	assert_non_null(strstr(d->reason, "41.2"));
	assert_non_null(strstr(d->reason, "41.2%"));
	d = find(&s, "index_fragmentation", "odoo/public.b_idx");
	assert_non_null(d);
	assert_int_equal(d->points, 3);
	assert_non_null(d->remediation); /* the table's default */
	assert_null(find(&s, "index_fragmentation", "odoo/public.tiny_idx"));
	d = find(&s, "log_errors", "odoo");
	assert_non_null(d);
	assert_int_equal(d->category, COLL_CAT_ERRORS);
	coll_score_free(&s);
	json_decref(rep);
}

/* Ten critical indexes and a critical XID age of 80%: xid 25, then
 * fragmentation 6 and 4 (the database category's 35 are used up), the other
 * eight listed as capped. 100 - 35 = 65, and XID age over 75% is fatal:
 * capped at 59. */
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
	assert_int_equal(score(rep, NOW - 60, NULL, 0, &s), 59);
	assert_int_equal(s.uncapped, 65);
	assert_int_equal(s.cap, COLL_CAP_FATAL);
	assert_string_equal(s.cap_kind, "xid_wraparound");
	assert_int_equal(s.band, COLL_BAND_CRITICAL);
	assert_int_equal(s.n_deductions, 11);
	assert_string_equal(s.deductions[0].kind, "xid_wraparound");
	assert_int_equal(s.deductions[0].points, 25);
	assert_int_equal(s.deductions[1].points, 6);
	assert_int_equal(s.deductions[2].points, 4);
	assert_int_equal(s.deductions[3].points, 0);
	assert_true(s.deductions[3].capped);
	assert_int_equal(s.deductions[3].full_points, 6);
	assert_int_equal(s.category_lost[COLL_CAT_DATABASE], 35);
	assert_int_equal(s.category_score[COLL_CAT_DATABASE], 0);
	coll_score_free(&s);
	json_decref(rep);

	/* the same ten indexes alone stop at the kind's cap of 15; a critical
	 * finding keeps the host out of healthy: 85 -> 84 */
	findings = json_array();
	for (int i = 0; i < 10; i++) {
		json_t *f;
		snprintf(obj, sizeof(obj), "db/s.idx%d", i);
		f = finding("index_fragmentation", obj, 70, "critical");
		json_array_append_new(findings, f);
	}
	rep = report(NOW - 60, 0, json_pack("[o]", probe("postgres", "ok", findings)));
	assert_int_equal(score(rep, NOW - 60, NULL, 0, &s), 84);
	assert_int_equal(s.uncapped, 85);
	assert_int_equal(s.band, COLL_BAND_AT_RISK);
	assert_int_equal(s.n_deductions, 10);
	coll_score_free(&s);
	json_decref(rep);
}

static void test_liveness(void **state)
{
	struct coll_score s;
	json_t *rep;
	(void)state;

	/* silent: last report 1000 s ago at a 300 s interval -> all 15 liveness
	 * points, band unknown; the failed probe is listed capped; a database
	 * probe that failed is "database unreachable": fatal, capped at 59 */
	rep = report(
		NOW - 1000, 0,
		json_pack("[o,o]", probe("postgres", "error", NULL), probe("disk", "ok", NULL)));
	assert_int_equal(score(rep, NOW - 1000, NULL, 0, &s), 59);
	assert_int_equal(s.uncapped, 85);
	assert_string_equal(s.cap_kind, "database_unreachable");
	assert_int_equal(s.band, COLL_BAND_UNKNOWN);
	assert_non_null(strstr(s.unknown_reason, "silent"));
	assert_int_equal(s.stale_since, NOW - 1000);
	assert_int_equal(s.n_deductions, 2);
	assert_string_equal(s.deductions[0].kind, "report_age");
	assert_int_equal(s.deductions[0].points, 15);
	assert_string_equal(s.deductions[0].object, "erp01");
	assert_true(s.deductions[1].capped);
	coll_score_free(&s);
	json_decref(rep);

	/* late (500 s: 5) + failed probe (3) + dropped reports (2) + clock
	 * 600 s behind (3) = 13 -> 87 */
	rep = report(NOW - 500 - 600, 4,
		     json_pack("[o,o]", probe("log", "error", NULL), probe("disk", "ok", NULL)));
	assert_int_equal(score(rep, NOW - 500, NULL, 0, &s), 87);
	assert_int_equal(s.band, COLL_BAND_HEALTHY);
	assert_non_null(find(&s, "report_age", "erp01"));
	assert_int_equal(find(&s, "report_age", "erp01")->points, 5);
	assert_non_null(find(&s, "probe_error", "log/t"));
	assert_non_null(strstr(find(&s, "probe_error", "log/t")->reason, "connection refused"));
	assert_int_equal(find(&s, "dropped_reports", "erp01")->points, 2);
	assert_int_equal(find(&s, "clock_skew", "erp01")->points, 3);
	coll_score_free(&s);
	json_decref(rep);

	/* received_at unknown: the report's own generated_at is the age */
	rep = report(NOW - 2000, 0, json_pack("[]"));
	assert_int_equal(score(rep, 0, NULL, 0, &s), 85);
	assert_int_equal(s.band, COLL_BAND_UNKNOWN);
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
 * 25 + 5 + 1 = 31 -> 69; a filesystem full within 7 days is fatal: 59. */
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
	assert_int_equal(score(rep, NOW - 60, fc, 6, &s), 59);
	assert_int_equal(s.uncapped, 69);
	assert_string_equal(s.cap_kind, "disk_full_forecast");
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
	assert_int_equal(s.band, COLL_BAND_UNKNOWN); /* silent for 5000 s: grey, score 0 */
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

	assert_int_equal(score(rep, NOW - 60, NULL, 0, &s), 84); /* 96, capped: critical */
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
	assert_int_equal(score(rep, NOW - 60, NULL, 0, &s), 84); /* errors: 15 of 15 */
	assert_true(ep_mono_ms() - t0 < 2000);
	/* 4 + 4 + 4 + 3, then the capped ones up to the listing limit */
	assert_int_equal(s.n_deductions, 4 + COLL_SCORE_MAX_CAPPED);
	assert_int_equal(s.omitted, N - 4 - COLL_SCORE_MAX_CAPPED);
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

	assert_int_equal(score(rep, NOW - 60, NULL, 0, &s), 84);
	j = coll_score_json(&s);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "score")), 84);
	assert_int_equal(json_integer_value(json_object_get(j, "uncapped_score")), 88);
	assert_string_equal(json_string_value(json_object_get(j, "band")), "at_risk");
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

/* Issue 10, defect 7: seven bloated indexes, the kind's cap of 15 reached
 * by the worst five; all seven listed, worst first, the two least bad
 * marked capped with 0 points; top_reason is the worst by severity then
 * value. */
static void test_explanation_worst_first(void **state)
{
	static const double v[7] = {41.0, 69.6, 35.2, 62.5, 64.0, 38.8, 33.3};
	json_t *findings = json_array(), *rep;
	struct coll_score s;
	char obj[64];
	(void)state;

	for (int i = 0; i < 7; i++) {
		json_t *f;
		snprintf(obj, sizeof(obj), "erp/public.idx%d", i);
		f = finding("index_fragmentation", obj, v[i], v[i] > 60 ? "critical" : "warning");
		json_array_append_new(findings, f);
	}
	rep = report(NOW - 60, 0, json_pack("[o]", probe("postgres", "ok", findings)));
	/* 6 + 6 + 6 (three critical, 18 > cap 15: 6 + 6 + 3), then 0 0 0 0 */
	assert_int_equal(score(rep, NOW - 60, NULL, 0, &s), 84);
	assert_int_equal(s.n_deductions, 7);
	assert_string_equal(s.deductions[0].object, "erp/public.idx1"); /* 69.6 */
	assert_string_equal(s.deductions[1].object, "erp/public.idx4"); /* 64.0 */
	assert_string_equal(s.deductions[2].object, "erp/public.idx3"); /* 62.5 */
	assert_int_equal(s.deductions[2].points, 3);
	assert_true(s.deductions[2].capped);
	assert_string_equal(s.deductions[3].object, "erp/public.idx0"); /* 41.0 warning */
	assert_int_equal(s.deductions[3].points, 0);
	assert_string_equal(s.deductions[6].object, "erp/public.idx6"); /* 33.3 */
	assert_non_null(strstr(coll_score_top_reason(&s), "69.6%"));
	coll_score_free(&s);
	json_decref(rep);
}

static json_t *stale_probe(const char *name, const char *status, int64_t since, json_t *findings)
{
	json_t *p = probe(name, status, findings);
	char when[32];

	assert_int_equal(ep_time_format((time_t)since, when, sizeof(when)), 0);
	json_object_set_new(p, "stale", json_true());
	json_object_set_new(p, "stale_since", json_string(when));
	return p;
}

/* Carried (stale) findings keep costing points; a category without fresh
 * data turns stale, then unknown after stale_after; a host whose configured
 * instances mostly lack recent data is unknown. */
static void test_stale_and_unknown(void **state)
{
	struct coll_score s;
	json_t *f = finding("index_fragmentation", "erp/public.x", 42.9, "warning"), *rep;
	char when[32];
	(void)state;

	assert_int_equal(ep_time_format((time_t)(NOW - 600), when, sizeof(when)), 0);
	json_object_set_new(f, "stale", json_true());
	json_object_set_new(f, "stale_since", json_string(when));
	/* once --probe log: postgres carried from 10 min ago (stale_after 900) */
	rep = report(NOW - 60, 0,
		     json_pack("[o,o]", probe("log", "ok", NULL),
			       stale_probe("postgres", "missing", NOW - 600, json_pack("[o]", f))));
	json_object_set_new(rep, "configured",
			    json_pack("[{s:s,s:s},{s:s,s:s}]", "name", "log", "target", "t", "name",
				      "postgres", "target", "t"));
	assert_int_equal(score(rep, NOW - 60, NULL, 0, &s), 97);
	assert_int_equal(s.band, COLL_BAND_HEALTHY);
	assert_int_equal(s.category_state[COLL_CAT_DATABASE], COLL_CAT_STALE);
	assert_int_equal(s.category_state[COLL_CAT_ERRORS], COLL_CAT_FRESH);
	assert_int_equal(s.category_state[COLL_CAT_STORAGE], COLL_CAT_UNMONITORED);
	assert_true(s.deductions[0].stale);
	assert_non_null(strstr(s.deductions[0].reason, "stale"));
	coll_score_free(&s);

	/* 20 min later still not measured: database unknown, host unknown
	 * (1 of 2 instances without recent data is not most; add a third) */
	json_array_append_new(json_object_get(rep, "configured"),
			      json_pack("{s:s,s:s}", "name", "disk", "target", "t"));
	struct coll_score_input in = {.report = rep, .received_at = NOW, .now = NOW + 1200};
	in.received_at = NOW + 1200;
	assert_int_equal(coll_score_host(&in, &s), 0);
	assert_int_equal(s.category_state[COLL_CAT_DATABASE], COLL_CAT_UNKNOWN);
	assert_int_equal(s.category_state[COLL_CAT_STORAGE], COLL_CAT_UNKNOWN);
	assert_int_equal(s.band, COLL_BAND_UNKNOWN);
	assert_non_null(strstr(s.unknown_reason, "2 of 3"));
	assert_int_equal(s.score, 94); /* still scored (3 + 3 clock skew), shown greyed */
	coll_score_free(&s);
	json_decref(rep);
}

/* the text the json_pack form of coll_score_json wrote for the score below */
static const char expected_score_text[] =
	"{\"score\":40,\"band\":\"critical\",\"uncapped_score\":88,\"cap\":{\"score\":40,"
	"\"kind\":\"disk_usage\",\"object\":\"/var\",\"reason\":\"critical\"},\"unknown_r"
	"eason\":null,\"stale_since\":null,\"top_reason\":\"/var is 96.5% full\",\"catego"
	"ries\":{\"database\":{\"weight\":35,\"lost\":0,\"score\":100,\"state\":\"stale\""
	",\"stale_since\":\"2023-11-14T22:13:20Z\"},\"storage\":{\"weight\":25,\"lost\":1"
	"2,\"score\":40,\"state\":\"fresh\",\"stale_since\":null},\"errors\":{\"weight\":"
	"15,\"lost\":0,\"score\":100,\"state\":\"fresh\",\"stale_since\":null},\"patches\""
	":{\"weight\":10,\"lost\":0,\"score\":100,\"state\":\"fresh\",\"stale_since\":nul"
	"l},\"liveness\":{\"weight\":15,\"lost\":0,\"score\":100,\"state\":\"fresh\",\"st"
	"ale_since\":null}},\"deductions\":[{\"category\":\"storage\",\"points\":12,\"ful"
	"l_points\":12,\"capped\":false,\"severity\":\"critical\",\"value\":96.5,\"kind\""
	":\"disk_usage\",\"object\":\"/var\",\"reason\":\"/var is 96.5% full\",\"remediat"
	"ion\":\"Free space on \\\"/var\\\"\",\"stale\":false,\"stale_since\":null},{\"ca"
	"tegory\":\"database\",\"points\":0,\"full_points\":4,\"capped\":true,\"severity\""
	":\"warning\",\"value\":null,\"kind\":\"index_fragmentation\",\"object\":\"odoo/x"
	"\",\"reason\":\"fragmented\",\"remediation\":null,\"stale\":true,\"stale_since\""
	":\"2023-11-14T22:13:20Z\"}],\"omitted\":3}";

/* The stored explanation's exact text (its hash decides whether it is
 * written): key order, nulls, a capped and a stale deduction, the cap. */
static void test_json_text(void **state)
{
	char k1[] = "disk_usage", o1[] = "/var", r1[] = "/var is 96.5% full",
	     m1[] = "Free space on \"/var\"", k2[] = "index_fragmentation", o2[] = "odoo/x",
	     r2[] = "fragmented", crit[] = "critical";
	struct coll_deduction d[2] = {
		{.category = COLL_CAT_STORAGE,
		 .points = 12,
		 .full_points = 12,
		 .severity = 2,
		 .value = 96.5,
		 .kind = k1,
		 .object = o1,
		 .reason = r1,
		 .remediation = m1},
		{.category = COLL_CAT_DATABASE,
		 .points = 0,
		 .full_points = 4,
		 .capped = true,
		 .severity = 1,
		 .value = NAN,
		 .stale = true,
		 .stale_since = 1700000000,
		 .kind = k2,
		 .object = o2,
		 .reason = r2},
	};
	struct coll_score s = {
		.score = 40,
		.uncapped = 88,
		.cap = 40,
		.cap_kind = k1,
		.cap_object = o1,
		.cap_reason = crit,
		.band = COLL_BAND_CRITICAL,
		.n_deductions = 2,
		.deductions = d,
		.omitted = 3,
	};
	(void)state;
	for (int c = 0; c < COLL_CAT_COUNT; c++) {
		s.category_score[c] = 100;
		s.category_state[c] = COLL_CAT_FRESH;
	}
	s.category_lost[COLL_CAT_STORAGE] = 12;
	s.category_score[COLL_CAT_STORAGE] = 40;
	s.category_state[COLL_CAT_DATABASE] = COLL_CAT_STALE;
	s.category_stale_since[COLL_CAT_DATABASE] = 1700000000;
	json_t *j = coll_score_json(&s);
	char *text = json_dumps(j, JSON_COMPACT);
	assert_non_null(text);
	assert_string_equal(text, expected_score_text);
	free(text);
	json_decref(j);
	d[1].reason = NULL; /* refused, as json_pack refused it */
	assert_null(coll_score_json(&s));
}

/* ---- the texts written without a tree, against the tree forms they replaced --- */

/* The tree forms of coll_score_json and coll_object_forecast_json as
 * session 5 built them (json_object_set_new, key by key); what ingest
 * stored was coll_json_compact of these trees. */
static json_t *tree_time_or_null(int64_t t)
{
	char when[32];

	if (t <= 0 || ep_time_format((time_t)t, when, sizeof(when)) < 0)
		return json_null();
	return json_string(when);
}

static json_t *tree_str_or_null(const char *v)
{
	return v ? json_string(v) : json_null();
}

static json_t *tree_with(json_t *o, const char *key, json_t *v)
{
	if (o && json_object_set_new(o, key, v) == 0)
		return o;
	if (!o)
		json_decref(v);
	json_decref(o);
	return NULL;
}

static json_t *tree_category(const struct coll_score *s, int c)
{
	json_t *o = json_object();
	o = tree_with(o, "weight", json_integer(coll_category_weight((enum coll_category)c)));
	o = tree_with(o, "lost", json_integer(s->category_lost[c]));
	o = tree_with(o, "score", json_integer(s->category_score[c]));
	o = tree_with(o, "state", json_string(coll_cat_state_name(s->category_state[c])));
	return tree_with(o, "stale_since", tree_time_or_null(s->category_stale_since[c]));
}

static json_t *tree_deduction(const struct coll_deduction *d)
{
	json_t *o = json_object();
	o = tree_with(o, "category", json_string(coll_category_name(d->category)));
	o = tree_with(o, "points", json_integer(d->points));
	o = tree_with(o, "full_points", json_integer(d->full_points));
	o = tree_with(o, "capped", json_boolean(d->capped));
	o = tree_with(o, "severity", json_string(d->severity == 2 ? "critical" : "warning"));
	o = tree_with(o, "value", isfinite(d->value) ? json_real(d->value) : json_null());
	o = tree_with(o, "kind", d->kind ? json_string(d->kind) : NULL);
	o = tree_with(o, "object", d->object ? json_string(d->object) : NULL);
	o = tree_with(o, "reason", d->reason ? json_string(d->reason) : NULL);
	o = tree_with(o, "remediation", tree_str_or_null(d->remediation));
	o = tree_with(o, "stale", json_boolean(d->stale));
	return tree_with(o, "stale_since", tree_time_or_null(d->stale_since));
}

static json_t *tree_score(const struct coll_score *s)
{
	json_t *o = json_object(), *cats = json_object(), *list = json_array(), *cap = NULL;
	int r = 0;

	for (int c = 0; c < COLL_CAT_COUNT; c++) {
		json_t *cat = tree_category(s, c);
		if (!cat ||
		    json_object_set_new(cats, coll_category_name((enum coll_category)c), cat) < 0)
			goto fail;
	}
	for (size_t i = 0; i < s->n_deductions; i++) {
		json_t *e = tree_deduction(&s->deductions[i]);
		if (!e || json_array_append_new(list, e) < 0)
			goto fail;
	}
	if (s->cap < 100) {
		cap = tree_with(json_object(), "score", json_integer(s->cap));
		cap = tree_with(cap, "kind", tree_str_or_null(s->cap_kind));
		cap = tree_with(cap, "object", tree_str_or_null(s->cap_object));
		cap = tree_with(cap, "reason", tree_str_or_null(s->cap_reason));
		if (!cap)
			goto fail;
	}
	r |= json_object_set_new(o, "score", json_integer(s->score));
	r |= json_object_set_new(o, "band", json_string(coll_band_name(s->band)));
	r |= json_object_set_new(o, "uncapped_score", json_integer(s->uncapped));
	r |= json_object_set_new(o, "cap", cap ? cap : json_null());
	r |= json_object_set_new(o, "unknown_reason", tree_str_or_null(s->unknown_reason));
	r |= json_object_set_new(o, "stale_since", tree_time_or_null(s->stale_since));
	r |= json_object_set_new(o, "top_reason", tree_str_or_null(coll_score_top_reason(s)));
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

static json_t *tree_num_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *tree_forecast(const struct coll_object_forecast *f)
{
	json_t *o = json_object();
	int r = 0;

	r |= json_object_set_new(o, "kind", json_string(coll_forecast_kind_name(f->kind)));
	r |= json_object_set_new(o, "object", f->object ? json_string(f->object) : json_null());
	if (f->kind == COLL_FK_ERROR_SPIKE) {
		const struct coll_spike *p = &f->spike;
		r |= json_object_set_new(o, "status",
					 json_string(coll_spike_status_name(p->status)));
		r |= json_object_set_new(o, "method",
					 json_string(coll_baseline_method_name(p->method)));
		r |= json_object_set_new(o, "current", tree_num_or_null(p->current));
		r |= json_object_set_new(o, "baseline", tree_num_or_null(p->baseline));
		r |= json_object_set_new(o, "spread", tree_num_or_null(p->spread));
		r |= json_object_set_new(o, "z", tree_num_or_null(p->z));
		r |= json_object_set_new(o, "n_baseline", json_integer((json_int_t)p->n_baseline));
	} else {
		const struct coll_forecast *c = &f->fc;
		r |= json_object_set_new(o, "status",
					 json_string(coll_forecast_status_name(c->status)));
		r |= json_object_set_new(o, "confidence",
					 json_string(coll_confidence_name(c->confidence)));
		r |= json_object_set_new(o, "days", tree_num_or_null(c->days));
		r |= json_object_set_new(o, "days_low", tree_num_or_null(c->days_low));
		r |= json_object_set_new(o, "days_high", tree_num_or_null(c->days_high));
		r |= json_object_set_new(o, "slope_per_day", tree_num_or_null(c->slope_per_day));
		r |= json_object_set_new(o, "r2", tree_num_or_null(c->r2));
		r |= json_object_set_new(o, "resid_sd", tree_num_or_null(c->resid_sd));
		r |= json_object_set_new(o, "last_value", tree_num_or_null(c->last_value));
		r |= json_object_set_new(o, "limit", tree_num_or_null(c->limit));
		r |= json_object_set_new(o, "n_used", json_integer((json_int_t)c->n_used));
		r |= json_object_set_new(o, "fit_from", json_integer((json_int_t)c->fit_from));
		r |= json_object_set_new(o, "step_detected", json_boolean(c->step_detected));
	}
	if (r) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* NaN, infinities, -0, huge, tiny, subnormal, %.17g's and the shortcut's
 * edges, multiples of 1/16, and any bit pattern */
static double rnd_double(void)
{
	static const double edge[] = {
		0.0,
		-0.0,
		1.0,
		-1.0,
		0.5,
		12.5,
		1e-16,
		9.9e-17,
		1e17,
		9.99999999999999e16,
		1e12,
		1e12 - 0.0625,
		-1e12,
		1e300,
		-1e-300,
		5e-324,
		2.2250738585072014e-308,
		1.7976931348623157e308,
		0.1,
		1.0 / 3.0,
		123456789.123456789,
		1e21,
		1e-5,
		0.0001,
		99999999999999999.0,
		4503599627370496.5,
	};
	switch (rnd() % 8) {
	case 0:
		return NAN;
	case 1:
		return rnd() % 2 ? INFINITY : -INFINITY;
	case 2:
		return edge[rnd() % (sizeof(edge) / sizeof(edge[0]))];
	case 3:
		return (double)(int64_t)(rnd() % 200000 - 100000) / 16.0;
	case 4: {
		uint64_t u = rnd();
		double d;
		memcpy(&d, &u, sizeof(d));
		return d;
	}
	case 5:
		return ldexp((double)(rnd() >> 11), (int)(rnd() % 200) - 150);
	default:
		return (double)(rnd() % 1000000) / 1000.0 * (rnd() % 2 ? 1 : -1);
	}
}

/* NULL, empty, escapes and controls, UTF-8 of 1-4 bytes; one string in
 * 32 with a piece of invalid UTF-8 */
static char *rnd_string(char *buf, size_t cap)
{
	static const char *const piece[] = {
		"a", "/var", "\"", "\\",  "\n", "\t", "\x01", "\x1f",   "\x7f",
		"é", "€",    "😀",  "ü/x", " ",  "/",  "<>&'", "\b\f\r", "odoo/public.x_idx",
	};
	static const char *const bad[] = {"\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf",
					  "\xff"};
	unsigned k = (unsigned)(rnd() % 16);
	size_t n = 0;

	if (k == 0)
		return NULL;
	buf[0] = '\0';
	for (unsigned i = 1; i < k; i++) {
		const char *pc = rnd() % 512 ? piece[rnd() % (sizeof(piece) / sizeof(piece[0]))]
					     : bad[rnd() % (sizeof(bad) / sizeof(bad[0]))];
		size_t l = strlen(pc);
		if (n + l + 1 > cap)
			break;
		memcpy(buf + n, pc, l + 1);
		n += l;
	}
	return buf;
}

/* an enum's value, out of its range once in 64 */
static unsigned rnd_enum(unsigned count)
{
	return rnd() % 64 ? (unsigned)(rnd() % count) : count;
}

static int64_t rnd_time(void)
{
	switch (rnd() % 4) {
	case 0:
		return 0;
	case 1:
		return -(int64_t)(rnd() % 1000);
	case 2:
		return (int64_t)(rnd() >> 1); /* past what ep_time_format writes */
	default:
		return 1700000000 + (int64_t)(rnd() % 100000000);
	}
}

static int rnd_int(void)
{
	static const int edge[] = {0, 1, -1, 100, INT32_MAX, INT32_MIN};
	return rnd() % 4 ? (int)(rnd() % 201) - 100 : edge[rnd() % 6];
}

/* text is NULL when making it failed, malloc'd otherwise */
static void same_text(json_t *tree, int r, const struct ep_buf *b)
{
	char *old = tree ? coll_json_compact(tree) : NULL;
	char *dumped = tree ? json_dumps(tree, JSON_COMPACT) : NULL;

	if (!old) {
		assert_true(r < 0);
	} else {
		assert_int_equal(r, 0);
		assert_string_equal(b->data, old);
		assert_string_equal(b->data, dumped);
	}
	free(old);
	free(dumped);
	json_decref(tree);
}

/* coll_score_text and coll_object_forecast_text write, byte for byte, what
 * coll_json_compact (and json_dumps) wrote of the trees they replaced, and
 * fail where building the tree failed (a NULL required text, invalid UTF-8) */
static void test_text_as_tree(void **state)
{
	struct ep_buf b;
	char str[8][96];
	size_t same = 0;
	(void)state;

	ep_buf_init(&b, (size_t)1 << 20);
	for (int iter = 0; iter < 20000; iter++) {
		struct coll_deduction d[4];
		struct coll_score s = {0};
		s.score = rnd_int();
		s.uncapped = rnd_int();
		s.cap = rnd() % 2 ? 100 : rnd_int();
		s.cap_kind = rnd_string(str[0], sizeof(str[0]));
		s.cap_object = rnd_string(str[1], sizeof(str[1]));
		s.cap_reason = rnd_string(str[2], sizeof(str[2]));
		s.band = (enum coll_band)rnd_enum(4);
		s.unknown_reason = rnd_string(str[3], sizeof(str[3]));
		s.stale_since = rnd_time();
		for (int c = 0; c < COLL_CAT_COUNT; c++) {
			s.category_lost[c] = rnd_int();
			s.category_score[c] = rnd_int();
			s.category_state[c] = (enum coll_cat_state)(rnd() % 256 ? rnd() % 4 : 4);
			s.category_stale_since[c] = rnd_time();
		}
		s.n_deductions = rnd() % 5;
		s.deductions = d;
		s.omitted = rnd() % 3 ? rnd() % 10 : (size_t)INT64_MAX;
		for (size_t i = 0; i < s.n_deductions; i++) {
			/* required texts mostly present: the whole text gets compared */
			char *k = rnd_string(str[4], sizeof(str[4]));
			char *o = rnd_string(str[5], sizeof(str[5]));
			char *why = rnd_string(str[6], sizeof(str[6]));
			static char kind[] = "kind", none[] = "", why_lit[] = "why";
			if (!k && rnd() % 4)
				k = kind;
			if (!o && rnd() % 4)
				o = none;
			if (!why && rnd() % 4)
				why = why_lit;
			d[i] = (struct coll_deduction){
				.category = (enum coll_category)(rnd() % COLL_CAT_COUNT),
				.points = rnd_int(),
				.full_points = rnd_int(),
				.capped = rnd() % 2,
				.severity = (int)(rnd() % 3),
				.value = rnd_double(),
				.stale = rnd() % 2,
				.stale_since = rnd_time(),
				.kind = k,
				.object = o,
				.reason = why,
				.remediation = rnd_string(str[7], sizeof(str[7])),
			};
		}
		ep_buf_reset(&b);
		json_t *tree = tree_score(&s);
		same += tree != NULL;
		same_text(tree, coll_score_text(&b, &s), &b);
	}
	assert_true(same > 10000); /* most of them compared as texts */
	same = 0;
	for (int iter = 0; iter < 100000; iter++) {
		struct coll_object_forecast f = {
			.kind = (enum coll_forecast_kind)rnd_enum(4),
			.object = rnd_string(str[0], sizeof(str[0])),
		};
		f.fc = (struct coll_forecast){
			.status = (enum coll_forecast_status)rnd_enum(4),
			.confidence = (enum coll_confidence)rnd_enum(3),
			.days = rnd_double(),
			.days_low = rnd_double(),
			.days_high = rnd_double(),
			.slope_per_day = rnd_double(),
			.r2 = rnd_double(),
			.resid_sd = rnd_double(),
			.last_value = rnd_double(),
			.limit = rnd_double(),
			.n_used = rnd() % 2 ? rnd() % 9000 : (size_t)rnd() >> 1,
			.fit_from = (int64_t)rnd(),
			.step_detected = rnd() % 2,
		};
		f.spike = (struct coll_spike){
			.status = (enum coll_spike_status)rnd_enum(3),
			.method = (enum coll_baseline_method)rnd_enum(3),
			.current = rnd_double(),
			.baseline = rnd_double(),
			.spread = rnd_double(),
			.z = rnd_double(),
			.n_baseline = rnd() % 2 ? rnd() % 9000 : (size_t)rnd() >> 1,
		};
		ep_buf_reset(&b);
		json_t *tree = tree_forecast(&f);
		same += tree != NULL;
		same_text(tree, coll_object_forecast_text(&b, &f), &b);
	}
	assert_true(same > 80000);
	assert_int_equal(coll_object_forecast_text(&b, NULL), -EINVAL);
	assert_int_equal(coll_score_text(&b, NULL), -EINVAL);
	ep_buf_free(&b);
}

/* The dead-man view: liveness all lost, band unknown, stale_since. */
static void test_silent_json(void **state)
{
	struct coll_score s;
	json_t *rep = report(NOW - 60, 1,
			     json_pack("[o]", probe("disk", "ok",
						    json_pack("[o]", finding("disk_usage", "/", 91,
									     "warning")))));
	json_t *j;
	(void)state;

	assert_int_equal(score(rep, NOW - 60, NULL, 0, &s), 93); /* 5 + 2 dropped */
	j = coll_score_json(&s);
	assert_int_equal(coll_score_json_silent(j, "erp01", NOW - 60, NOW + 780, 60), 80);
	assert_string_equal(json_string_value(json_object_get(j, "band")), "unknown");
	assert_non_null(json_string_value(json_object_get(j, "stale_since")));
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(j, "deductions"), 0), "kind")),
			    "report_age");
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(j, "categories"), "storage"), "state")),
		"unknown");
	json_t *empty = json_object();
	assert_int_equal(coll_score_json_silent(empty, "x", 0, 1, 60), -EINVAL);
	json_decref(empty);
	json_decref(j);
	coll_score_free(&s);
	json_decref(rep);
}

static void test_customer_band(void **state)
{
	enum coll_band b[3] = {COLL_BAND_HEALTHY, COLL_BAND_UNKNOWN, COLL_BAND_HEALTHY};
	bool prod[3] = {true, true, false};
	enum coll_band x;
	(void)state;

	assert_int_equal(coll_customer_band(b, prod, 3), COLL_BAND_UNKNOWN);
	b[2] = COLL_BAND_CRITICAL; /* not production: does not count */
	assert_int_equal(coll_customer_band(b, prod, 3), COLL_BAND_UNKNOWN);
	b[0] = COLL_BAND_CRITICAL;
	assert_int_equal(coll_customer_band(b, prod, 3), COLL_BAND_CRITICAL);
	assert_int_equal(coll_customer_band(NULL, NULL, 0), COLL_BAND_HEALTHY);
	assert_int_equal(coll_band_parse("unknown", &x), 0);
	assert_int_equal(x, COLL_BAND_UNKNOWN);
	assert_int_equal(coll_band_parse("green", &x), -EINVAL);
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
		cmocka_unit_test(test_explanation_worst_first),
		cmocka_unit_test(test_stale_and_unknown),
		cmocka_unit_test(test_json_text),
		cmocka_unit_test(test_text_as_tree),
		cmocka_unit_test(test_silent_json),
		cmocka_unit_test(test_customer_band),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
