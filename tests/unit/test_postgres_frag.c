/* The pure pieces of the PostgreSQL checks (probes/postgres/pg_pure.c):
 * wasted leaf space, verdicts, the order of exact measurements, remediation
 * statements, identifier quoting, maintenance windows, result tables; and
 * probe_pg_fragmentation over a scripted SQL runner (carried figures, the
 * rule in each finding). The real server: tests/integration/20-postgres-*.sh. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <stdio.h>

#include "probes/postgres/pg.h"

static void test_wasted(void **state)
{
	(void)state;
	/* the worked example of docs/fragmentation.md */
	assert_float_equal(probe_pg_wasted_pct(31.71, 90), 100 * (1 - 31.71 / 90), 1e-12);
	assert_float_equal(probe_pg_wasted_pct(45, 90), 50, 1e-12);
	assert_float_equal(probe_pg_wasted_pct(35, 70), 50, 1e-12); /* fillfactor 70 */
	/* denser than fillfactor (rightmost pages, fillfactor 100 builds): 0, not negative */
	assert_float_equal(probe_pg_wasted_pct(95, 90), 0, 0);
	assert_float_equal(probe_pg_wasted_pct(0, 90), 100, 0);
	assert_true(isnan(probe_pg_wasted_pct(NAN, 90))); /* no leaf pages */
	assert_true(isnan(probe_pg_wasted_pct(50, 0)));
}

static void test_severity(void **state)
{
	(void)state;
	assert_int_equal(probe_pg_frag_severity(29.99, 30), EP_SEV_INFO);
	assert_int_equal(probe_pg_frag_severity(30, 30), EP_SEV_WARNING);
	assert_int_equal(probe_pg_frag_severity(59.9, 30), EP_SEV_WARNING);
	assert_int_equal(probe_pg_frag_severity(60, 30), EP_SEV_CRITICAL);
	assert_int_equal(probe_pg_frag_severity(94, 50), EP_SEV_WARNING); /* capped at 95 */
	assert_int_equal(probe_pg_frag_severity(95, 50), EP_SEV_CRITICAL);
	assert_int_equal(probe_pg_frag_severity(NAN, 30), EP_SEV_INFO);
}

static struct probe_pg_index ix(uint32_t oid, int64_t pages, bool trusted, double est)
{
	struct probe_pg_index x = {.oid = oid,
				   .relpages = pages,
				   .estimate_trusted = trusted,
				   .estimate_pct = est,
				   .fillfactor = 90};
	return x;
}

static void test_order(void **state)
{
	time_t now = 1000000;
	struct probe_pg_index v[7];

	(void)state;
	v[0] = ix(1, 5000, true, 5);  /* trusted, low estimate, big */
	v[1] = ix(2, 2000, true, 40); /* trusted, high estimate */
	v[2] = ix(3, 9000, false, 0); /* untrusted (dedup): 0% estimate means nothing */
	v[3] = ix(4, 1000, true, 20); /* trusted, >= threshold / 2 */
	v[4] = ix(5, 8000, true, 80); /* worst, but measured an hour ago: carried */
	v[4].have_last = true;
	v[4].last_at = now - 3600;
	v[5] = ix(6, 3000, true, 2); /* measured 2 days ago: due again */
	v[5].have_last = true;
	v[5].last_at = now - 2 * 86400;
	v[6] = ix(7, 3000, true, NAN); /* no estimate at all */
	probe_pg_order(v, 7, 30, now, 6 * 3600);
	/* due & suspect: untrusted/no estimate first (largest first), then worst estimate */
	assert_int_equal(v[0].oid, 3);
	assert_int_equal(v[1].oid, 7);
	assert_int_equal(v[2].oid, 2);
	assert_int_equal(v[3].oid, 4);
	/* due, not suspect: by estimate, then size */
	assert_int_equal(v[4].oid, 1);
	assert_int_equal(v[5].oid, 6);
	/* recently measured last */
	assert_int_equal(v[6].oid, 5);
	assert_int_equal(v[6].order_class, PROBE_PG_CARRY);
	assert_int_equal(v[0].order_class, PROBE_PG_SUSPECT);
	assert_int_equal(v[4].order_class, PROBE_PG_DUE);
}

static void test_order_ties(void **state)
{
	struct probe_pg_index v[3];
	(void)state;
	v[0] = ix(30, 100, true, 50);
	v[1] = ix(10, 100, true, 50);
	v[2] = ix(20, 200, true, 50);
	probe_pg_order(v, 3, 30, 0, 0);
	assert_int_equal(v[0].oid, 20); /* larger first */
	assert_int_equal(v[1].oid, 10); /* then by oid: stable across cycles */
	assert_int_equal(v[2].oid, 30);
	probe_pg_order(v, 0, 30, 0, 0); /* empty is fine */
}

static void test_remediation(void **state)
{
	char out[256], qs[64], qn[64];
	(void)state;
	assert_int_equal(probe_pg_quote_ident("Sales Dept", qs, sizeof(qs)), 0);
	assert_int_equal(probe_pg_quote_ident("Order\"Lines id", qn, sizeof(qn)), 0);
	assert_string_equal(qn, "\"Order\"\"Lines id\"");
	assert_int_equal(probe_pg_remediation(150004, qs, qn, out, sizeof(out)), 0);
	assert_string_equal(out,
			    "REINDEX INDEX CONCURRENTLY \"Sales Dept\".\"Order\"\"Lines id\";");
	assert_int_equal(probe_pg_remediation(110022, qs, qn, out, sizeof(out)), 0);
	assert_string_equal(out, "REINDEX INDEX \"Sales Dept\".\"Order\"\"Lines id\";");
	assert_int_equal(probe_pg_remediation(150004, qs, qn, out, 10), -ENOSPC);
	assert_non_null(strstr(probe_pg_remediation_lock(150000), "SHARE UPDATE EXCLUSIVE"));
	assert_non_null(strstr(probe_pg_remediation_lock(110000), "ACCESS EXCLUSIVE"));
}

static void test_quote(void **state)
{
	char out[8];
	(void)state;
	assert_int_equal(probe_pg_quote_ident("abc", out, sizeof(out)), 0);
	assert_string_equal(out, "\"abc\"");
	assert_int_equal(probe_pg_quote_ident("abcdef", out, sizeof(out)), -ENOSPC);
	assert_string_equal(out, "");
	assert_int_equal(probe_pg_quote_ident("\"\"", out, sizeof(out)), 0);
	assert_string_equal(out, "\"\"\"\"\"\"");
	assert_int_equal(probe_pg_quote_ident("x", out, 2), -ENOSPC);
}

static void test_window(void **state)
{
	int from, to;
	(void)state;
	assert_int_equal(probe_pg_window_parse("01:00-05:30", &from, &to), 0);
	assert_int_equal(from, 60);
	assert_int_equal(to, 330);
	assert_true(probe_pg_window_contains(from, to, 60));
	assert_true(probe_pg_window_contains(from, to, 329));
	assert_false(probe_pg_window_contains(from, to, 330));
	assert_false(probe_pg_window_contains(from, to, 59));
	/* wraps midnight */
	assert_int_equal(probe_pg_window_parse("22:00-02:00", &from, &to), 0);
	assert_true(probe_pg_window_contains(from, to, 23 * 60));
	assert_true(probe_pg_window_contains(from, to, 60));
	assert_false(probe_pg_window_contains(from, to, 12 * 60));
	assert_int_equal(probe_pg_window_parse("00:00-24:00", &from, &to), 0);
	assert_true(probe_pg_window_contains(from, to, 1439));
	const char *bad[] = {"",
			     "1:00-2:00",
			     "01:00",
			     "01:00-01:00",
			     "25:00-01:00",
			     "01:60-02:00",
			     "24:01-01:00",
			     "01:00-02:00x",
			     "aa:bb-cc:dd",
			     NULL};
	for (size_t i = 0; bad[i]; i++)
		assert_int_equal(probe_pg_window_parse(bad[i], &from, &to), -EINVAL);
	assert_int_equal(probe_pg_window_parse(NULL, &from, &to), -EINVAL);
}

static void test_rows(void **state)
{
	struct probe_sql_rows r = {0};
	const char *row1[3] = {"1", NULL, "x"};
	const char *row2[3] = {"2", "b", ""};
	(void)state;
	assert_int_equal(probe_sql_rows_add(&r, 3, row1), 0);
	assert_int_equal(probe_sql_rows_add(&r, 3, row2), 0);
	assert_int_equal(probe_sql_rows_add(&r, 2, row2), -EINVAL); /* column count is fixed */
	assert_int_equal(r.nrows, 2);
	assert_string_equal(probe_sql_cell(&r, 0, 0), "1");
	assert_null(probe_sql_cell(&r, 0, 1));
	assert_string_equal(probe_sql_cell(&r, 1, 1), "b");
	assert_string_equal(probe_sql_cell(&r, 1, 2), "");
	assert_null(probe_sql_cell(&r, 2, 0));
	assert_null(probe_sql_cell(&r, 0, 3));
	assert_null(probe_sql_cell(NULL, 0, 0));
	probe_sql_rows_free(&r);
	assert_int_equal(r.nrows, 0);
	probe_sql_rows_free(&r);
	probe_sql_rows_free(NULL);
}

static void test_critical_line(void **state)
{
	(void)state;
	assert_float_equal(probe_pg_frag_critical(30), 60, 0);
	assert_float_equal(probe_pg_frag_critical(50), 95, 0); /* capped */
	/* the severity and the published lines agree at both edges */
	for (double thr = 5; thr <= 60; thr += 5) {
		double crit = probe_pg_frag_critical(thr);
		assert_int_equal(probe_pg_frag_severity(thr, thr), EP_SEV_WARNING);
		assert_int_equal(probe_pg_frag_severity(nextafter(thr, 0), thr), EP_SEV_INFO);
		assert_int_equal(probe_pg_frag_severity(crit, thr), EP_SEV_CRITICAL);
		assert_int_equal(probe_pg_frag_severity(nextafter(crit, 0), thr), EP_SEV_WARNING);
	}
}

static void test_carry_mismatch(void **state)
{
	(void)state;
	assert_null(probe_pg_carry_mismatch(100, 100, 3000, 100, 100, 3000));
	assert_null(probe_pg_carry_mismatch(100, 100, 3300, 100, 100, 3000)); /* +10% */
	assert_null(probe_pg_carry_mismatch(100, 100, 2700, 100, 100, 3000)); /* -10% */
	assert_string_equal(probe_pg_carry_mismatch(100, 100, 3301, 100, 100, 3000),
			    "resized by more than 10%");
	assert_non_null(strstr(probe_pg_carry_mismatch(100, 200, 3000, 100, 100, 3000), "rebuilt"));
	assert_non_null(
		strstr(probe_pg_carry_mismatch(300, 300, 3000, 100, 100, 3000), "replaced"));
	assert_non_null(probe_pg_carry_mismatch(100, 100, 3000, -1, -1, -1)); /* older state */
}

static void test_order_changed_first(void **state)
{
	time_t now = 1000000;
	struct probe_pg_index v[3];

	(void)state;
	v[0] = ix(1, 9000, false, NAN); /* due and suspect */
	v[1] = ix(2, 100, true, 1);     /* rebuilt: its figure is of another index */
	v[1].changed = "rebuilt";
	v[2] = ix(3, 5000, true, 50); /* carried */
	v[2].have_last = true;
	v[2].last_at = now - 60;
	probe_pg_order(v, 3, 30, now, 6 * 3600);
	assert_int_equal(v[0].oid, 2);
	assert_int_equal(v[0].order_class, PROBE_PG_CHANGED);
	assert_int_equal(v[1].order_class, PROBE_PG_SUSPECT);
	assert_int_equal(v[2].order_class, PROBE_PG_CARRY);
	/* once --fresh: remeasure_after 0, nothing is carried */
	probe_pg_order(v, 3, 30, now, 0);
	for (size_t i = 0; i < 3; i++)
		assert_int_not_equal(v[i].order_class, PROBE_PG_CARRY);
}

/* ---- probe_pg_fragmentation over a scripted server ---- */

struct fake_index {
	uint32_t oid, filenode;
	int64_t relpages;
	double density;
};

struct fake_pg {
	struct fake_index ix;
	int pgstatindex_calls;
};

static int fake_exec(void *impl, const struct ep_deadline *d, const char *sql,
		     struct probe_sql_rows *ret, char *sqlstate, char *err, size_t errlen)
{
	struct fake_pg *f = impl;
	char a[32], b[32], c[32], e[32];

	(void)d;
	(void)sqlstate;
	if (ret)
		memset(ret, 0, sizeof(*ret));
	if (strncmp(sql, "SET ", 4) == 0)
		return 0;
	if (strstr(sql, "pg_extension")) {
		const char *row[] = {"public", "1.5", "t"};
		return probe_sql_rows_add(ret, 3, row);
	}
	if (strstr(sql, "WITH idx AS")) {
		snprintf(a, sizeof(a), "%u", f->ix.oid);
		snprintf(b, sizeof(b), "%lld", (long long)f->ix.relpages);
		snprintf(c, sizeof(c), "%u", f->ix.filenode);
		/* oid schema table name relpages reltuples fillfactor dedup_off unique natts
		 * stats_cols is_na lead_ndistinct tbltuples filenode est_pct */
		const char *row[] = {a,
				     "public",
				     "sale_order_line",
				     "sol_order_idx",
				     b,
				     "500000",
				     "90",
				     "f",
				     "f",
				     "1",
				     "1",
				     "f",
				     "-1",
				     "500000",
				     c,
				     "20"};
		return probe_sql_rows_add(ret, 16, row);
	}
	if (strstr(sql, "pgstatindex(")) {
		f->pgstatindex_calls++;
		snprintf(a, sizeof(a), "%.2f", f->ix.density);
		snprintf(b, sizeof(b), "%lld", (long long)(f->ix.relpages - 1));
		snprintf(e, sizeof(e), "%lld", (long long)(f->ix.relpages * 8192));
		const char *row[] = {a, "12.5", b, e};
		return probe_sql_rows_add(ret, 4, row);
	}
	snprintf(err, errlen, "unexpected statement: %.60s", sql);
	return -EIO;
}

static int fake_quote(void *impl, const char *ident, char *out, size_t outlen)
{
	(void)impl;
	return probe_pg_quote_ident(ident, out, outlen);
}

/* One cycle at time now with remeasure_after_s and budget; returns the
 * result (caller frees metrics/findings) with state in/out. */
static json_t *frag_cycle(struct fake_pg *f, json_t *state, time_t now, int64_t remeasure_after_s,
			  int64_t budget_bytes)
{
	struct probe_pg_settings cfg = {.threshold = 30,
					.min_index_pages = 1000,
					.statement_timeout_ms = 60000,
					.lock_timeout_ms = 1000,
					.remeasure_after_s = remeasure_after_s,
					.max_index_findings = 500};
	struct probe_pg_cycle cy = {
		.cfg = &cfg, .budget_left_bytes = budget_bytes, .now = now, .block_size = 8192};
	struct probe_sql c = {.impl = f,
			      .exec = fake_exec,
			      .quote_ident = fake_quote,
			      .via = "test",
			      .statement_timeout_ms = 60000};
	struct ep_deadline d = ep_deadline_in(60000);
	struct ep_probe_result r = {.status = EP_STATUS_OK};
	json_t *m = json_object();

	r.metrics = json_object();
	r.findings = json_array();
	r.state = state;
	assert_int_equal(probe_pg_fragmentation(&c, &cy, "erp", 160000, "mon", &d, &r, m), 0);
	json_t *out =
		json_pack("{s:o, s:o, s:o}", "findings", r.findings, "m", m, "metrics", r.metrics);
	assert_non_null(out);
	return out;
}

static json_t *finding_of(json_t *out, const char *kind)
{
	json_t *f;
	size_t i;
	json_array_foreach(json_object_get(out, "findings"), i, f)
	{
		if (strcmp(json_string_value(json_object_get(f, "kind")), kind) == 0)
			return f;
	}
	return NULL;
}

static double fnum(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	assert_true(json_is_number(v));
	return json_number_value(v);
}

static void test_fragmentation_carry(void **state)
{
	struct fake_pg f = {.ix = {.oid = 100, .filenode = 100, .relpages = 2959, .density = 39.5}};
	json_t *st = json_object(), *out, *x;
	time_t t0 = 1800000000;

	(void)state;
	/* 1. measured: the finding carries its rule */
	out = frag_cycle(&f, st, t0, 6 * 3600, 512 << 20);
	assert_int_equal(f.pgstatindex_calls, 1);
	x = finding_of(out, "index_fragmentation");
	assert_non_null(x);
	assert_float_equal(fnum(x, "value"), 100 * (1 - 39.5 / 90), 1e-9);
	assert_string_equal(json_string_value(json_object_get(x, "severity")), "warning");
	assert_float_equal(fnum(x, "threshold"), 30, 0);
	assert_float_equal(fnum(x, "critical_threshold"), 60, 0);
	assert_float_equal(fnum(x, "min_size"), 1000, 0);
	assert_float_equal(fnum(x, "size"), 2959, 0);
	assert_string_equal(json_string_value(json_object_get(x, "size_unit")), "pages");
	assert_null(json_object_get(x, "direction"));
	assert_false(json_is_true(json_object_get(x, "carried")));
	json_decref(out);

	/* 2. a minute later, same index: the figure is carried, nothing read */
	out = frag_cycle(&f, st, t0 + 60, 6 * 3600, 512 << 20);
	assert_int_equal(f.pgstatindex_calls, 1);
	x = finding_of(out, "index_fragmentation");
	assert_true(json_is_true(json_object_get(x, "carried")));
	assert_float_equal(fnum(x, "size"), 2959, 0);
	json_decref(out);

	/* 3. REINDEX (new relfilenode, 1294 pages): measured again at once */
	f.ix.filenode = 200;
	f.ix.relpages = 1294;
	f.ix.density = 90;
	out = frag_cycle(&f, st, t0 + 120, 6 * 3600, 512 << 20);
	assert_int_equal(f.pgstatindex_calls, 2);
	x = finding_of(out, "index_fragmentation");
	assert_false(json_is_true(json_object_get(x, "carried")));
	assert_float_equal(fnum(x, "value"), 0, 1e-9);
	assert_string_equal(json_string_value(json_object_get(x, "severity")), "info");
	assert_float_equal(fnum(x, "size"), 1294, 0);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(out, "m"), "exact_changed")), 1);
	json_decref(out);

	/* 4. REINDEX CONCURRENTLY (new oid) and no budget left for it: the old
	 * figure is never shown as this index's; a note says why */
	f.ix.oid = 300;
	f.ix.filenode = 300;
	out = frag_cycle(&f, st, t0 + 180, 6 * 3600, 1 << 20);
	assert_int_equal(f.pgstatindex_calls, 2);
	assert_null(finding_of(out, "index_fragmentation"));
	x = finding_of(out, "index_not_measured");
	assert_non_null(x);
	assert_non_null(strstr(json_string_value(json_object_get(x, "message")), "replaced"));
	json_decref(out);

	/* 5. with budget: measured; then once --fresh (remeasure_after 0) reads
	 * it again although the figure is a minute old */
	out = frag_cycle(&f, st, t0 + 240, 6 * 3600, 512 << 20);
	assert_int_equal(f.pgstatindex_calls, 3);
	json_decref(out);
	out = frag_cycle(&f, st, t0 + 300, 0, 512 << 20);
	assert_int_equal(f.pgstatindex_calls, 4);
	assert_false(
		json_is_true(json_object_get(finding_of(out, "index_fragmentation"), "carried")));
	json_decref(out);

	/* 6. grown by more than 10% (relpages after VACUUM): measured again */
	f.ix.relpages = 1500;
	out = frag_cycle(&f, st, t0 + 360, 6 * 3600, 512 << 20);
	assert_int_equal(f.pgstatindex_calls, 5);
	json_decref(out);
	json_decref(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wasted),
		cmocka_unit_test(test_severity),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_order_ties),
		cmocka_unit_test(test_remediation),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_critical_line),
		cmocka_unit_test(test_carry_mismatch),
		cmocka_unit_test(test_order_changed_first),
		cmocka_unit_test(test_fragmentation_carry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
