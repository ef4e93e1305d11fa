/* Coverage (collector/coverage.c): fresh, stale and removed probe instances
 * and per-customer threshold overrides, as issue 10 (defects 2 and 5)
 * needs them. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "collector/analysis/coverage.h"

#define NOW 1795420800 /* 2026-11-23T08:00:00Z */

static json_t *frag(double v, const char *sev)
{
	return json_pack("{s:s, s:s, s:f, s:s, s:f, s:f, s:s, s:f, s:f, s:s}", "kind",
			 "index_fragmentation", "object", "erp/public.x_idx", "value", v, "unit",
			 "%", "threshold", 30.0, "critical_threshold", 60.0, "severity", sev,
			 "size", 833.0, "min_size", 1000.0, "size_unit", "pages");
}

static json_t *probe(const char *name, const char *status, json_t *findings)
{
	return json_pack("{s:s, s:s, s:s, s:o}", "name", name, "target", "erp", "status", status,
			 "findings", findings ? findings : json_array());
}

static json_t *report(json_t *probes, json_t *configured)
{
	json_t *r = json_pack("{s:s, s:o}", "schema", "erpulse.report.v1", "probes", probes);
	if (configured)
		json_object_set_new(r, "configured", configured);
	return r;
}

static const json_t *probe_named(const json_t *rep, const char *name)
{
	const json_t *p;
	size_t i;

	json_array_foreach(json_object_get(rep, "probes"), i, p)
	{
		if (!strcmp(json_string_value(json_object_get(p, "name")), name))
			return p;
	}
	return NULL;
}

/* What the analysis does before coll_coverage_apply: the findings of the
 * instances coll_coverage_wanted names, from the report of that seq (here:
 * `from`, the only earlier report). Returns a new state object. */
static json_t *attach(const json_t *report, const json_t *instances, const json_t *from)
{
	json_t *st = json_deep_copy(instances), *want = coll_coverage_wanted(report, st), *seq;
	const char *key;

	assert_non_null(want);
	json_object_foreach(want, key, seq)
	{
		const json_t *fs = coll_coverage_findings_of(from, key);
		if (fs)
			json_object_set(json_object_get(st, key), "findings",
					(json_t *)(uintptr_t)fs);
	}
	json_decref(want);
	return st;
}

static void test_stale_carry_and_removal(void **state)
{
	struct coll_coverage c1, c2, c3, c4;
	json_t *full = report(
		json_pack("[o,o]", probe("postgres", "ok", json_pack("[o]", frag(42.9, "warning"))),
			  probe("log", "ok", NULL)),
		NULL);
	(void)state;

	struct coll_coverage_input in = {.report = full, .now = NOW};
	assert_int_equal(coll_coverage_apply(&in, &c1), 0);
	assert_int_equal(c1.n_stale, 0);
	assert_non_null(json_object_get(c1.instances, "postgres"));

	/* once --probe log: postgres configured, absent: carried stale. The
	 * list names postgres with target "" (an agent that never ran it since
	 * the upgrade): an instance is known by its name, so this is no removal */
	json_t *partial = report(json_pack("[o]", probe("log", "ok", NULL)),
				 json_pack("[{s:s,s:s},{s:s,s:s}]", "name", "postgres", "target",
					   "", "name", "log", "target", "erp"));
	json_t *st2 = attach(partial, c1.instances, full);
	in = (struct coll_coverage_input){.report = partial, .instances = st2, .now = NOW + 60};
	assert_int_equal(coll_coverage_apply(&in, &c2), 0);
	assert_int_equal(c2.n_stale, 1);
	const json_t *pg = probe_named(c2.report, "postgres");
	assert_non_null(pg);
	assert_string_equal(json_string_value(json_object_get(pg, "status")), "missing");
	assert_true(json_is_true(json_object_get(pg, "stale")));
	const json_t *f = json_array_get(json_object_get(pg, "findings"), 0);
	assert_true(json_is_true(json_object_get(f, "stale")));
	assert_string_equal(json_string_value(json_object_get(f, "stale_since")),
			    "2026-11-23T08:00:00Z");
	assert_int_equal(json_array_size(c2.removed), 0);

	/* a failed postgres carries too; an older agent (no configured) never drops */
	json_t *failed = report(json_pack("[o]", probe("postgres", "error", NULL)), NULL);
	json_t *st3 = attach(failed, c2.instances, full);
	in.report = failed;
	in.instances = st3;
	assert_int_equal(coll_coverage_apply(&in, &c3), 0);
	assert_int_equal(c3.n_stale, 2); /* postgres (failed) and log (absent) */
	pg = probe_named(c3.report, "postgres");
	assert_string_equal(json_string_value(json_object_get(pg, "status")), "error");
	assert_int_equal(json_array_size(json_object_get(pg, "findings")), 1);

	/* postgres removed from the configuration: dropped, listed as removed */
	json_t *removed = report(json_pack("[o]", probe("log", "ok", NULL)),
				 json_pack("[{s:s,s:s}]", "name", "log", "target", "erp"));
	json_t *st4 = attach(removed, c3.instances, full);
	in.report = removed;
	in.instances = st4;
	assert_int_equal(coll_coverage_apply(&in, &c4), 0);
	assert_int_equal(c4.n_stale, 0);
	assert_null(probe_named(c4.report, "postgres"));
	assert_null(json_object_get(c4.instances, "postgres"));
	assert_int_equal(json_array_size(c4.removed), 1);
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(c4.removed, 0), "instance")),
		"postgres/erp");

	coll_coverage_free(&c1);
	coll_coverage_free(&c2);
	coll_coverage_free(&c3);
	coll_coverage_free(&c4);
	json_decref(st2);
	json_decref(st3);
	json_decref(st4);
	json_decref(full);
	json_decref(partial);
	json_decref(failed);
	json_decref(removed);
}

/* Issue 10, defect 5: the vendor lowers min_size to 500 pages for this
 * customer: a 61.7% index of 833 pages is re-judged critical (above 60),
 * with the override's numbers in the finding. */
static void test_override(void **state)
{
	struct coll_threshold_override ov = {
		.kind = "index_fragmentation", .warning = NAN, .critical = NAN, .min_size = 500};
	struct coll_coverage c;
	json_t *rep = report(
		json_pack("[o]", probe("postgres", "ok", json_pack("[o]", frag(61.7, "info")))),
		NULL);
	struct coll_coverage_input in = {
		.report = rep, .overrides = &ov, .n_overrides = 1, .now = NOW};
	(void)state;

	assert_int_equal(coll_coverage_apply(&in, &c), 0);
	assert_int_equal(c.n_override, 1);
	const json_t *f =
		json_array_get(json_object_get(probe_named(c.report, "postgres"), "findings"), 0);
	assert_string_equal(json_string_value(json_object_get(f, "severity")), "critical");
	assert_true(json_is_true(json_object_get(f, "override")));
	assert_true(json_number_value(json_object_get(f, "min_size")) == 500);
	/* the stored state keeps only where the agent's own finding is */
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(c.instances, "postgres"), "last_ok_at")),
			 NOW);
	assert_null(json_object_get(json_object_get(c.instances, "postgres"), "findings"));
	coll_coverage_free(&c);

	/* warning raised to 70 for a "below" kind: mirrored */
	json_t *g = json_pack("{s:s, s:f, s:s, s:s}", "kind", "cache_hit_ratio", "value", 80.0,
			      "direction", "below", "severity", "warning");
	struct coll_threshold_override below = {
		.kind = "cache_hit_ratio", .warning = 70, .critical = 50, .min_size = NAN};
	assert_int_equal(coll_override_finding(g, &below), 0);
	assert_string_equal(json_string_value(json_object_get(g, "severity")), "info");
	json_object_set_new(g, "value", json_real(45));
	assert_int_equal(coll_override_finding(g, &below), 0);
	assert_string_equal(json_string_value(json_object_get(g, "severity")), "critical");
	json_decref(g);
	json_decref(rep);
}

/* stale, stale_since and override are the collector's to write: an
 * agent's report that sets them has them removed. */
static void test_owned_fields(void **state)
{
	json_t *f = frag(42.9, "warning"), *rep;
	struct coll_coverage c;
	(void)state;

	json_object_set_new(f, "override", json_true());
	json_object_set_new(f, "stale", json_true());
	rep = report(json_pack("[o]", probe("postgres", "ok", json_pack("[o]", f))), NULL);
	json_object_set_new(json_array_get(json_object_get(rep, "probes"), 0), "stale",
			    json_true());
	struct coll_coverage_input in = {.report = rep, .now = NOW};
	assert_int_equal(coll_coverage_apply(&in, &c), 0);
	const json_t *p = probe_named(c.report, "postgres");
	const json_t *g = json_array_get(json_object_get(p, "findings"), 0);
	assert_null(json_object_get(p, "stale"));
	assert_null(json_object_get(g, "override"));
	assert_null(json_object_get(g, "stale"));
	assert_string_equal(json_string_value(json_object_get(g, "severity")), "warning");
	coll_coverage_free(&c);
	json_decref(rep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stale_carry_and_removal),
		cmocka_unit_test(test_override),
		cmocka_unit_test(test_owned_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
