/* The pure pieces of the PostgreSQL checks (probes/postgres/pg_pure.c):
 * wasted leaf space, verdicts, the order of exact measurements, remediation
 * statements, identifier quoting, maintenance windows, result tables. The
 * SQL side is covered by tests/integration/20-postgres-fragmentation.sh
 * against a real server. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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
	assert_int_equal(v[6].order_class, 2);
	assert_int_equal(v[0].order_class, 0);
	assert_int_equal(v[4].order_class, 1);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wasted),      cmocka_unit_test(test_severity),
		cmocka_unit_test(test_order),       cmocka_unit_test(test_order_ties),
		cmocka_unit_test(test_remediation), cmocka_unit_test(test_quote),
		cmocka_unit_test(test_window),      cmocka_unit_test(test_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
