/* The erp probe's pure parts (probes/erp/): detection from marker tables,
 * version series and lag against the dated release table, the Python
 * version line, the ERP table map and the month-end rule. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "probes/erp/erp.h"

/* Noon UTC of a day; the month-end tests run with TZ=UTC. */
static time_t day(int y, int m, int d)
{
	struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = 12};
	return timegm(&tm);
}

static void test_detect(void **state)
{
	const char *schema = NULL;
	(void)state;
	const struct probe_erp_seen odoo[] = {{"public", "res_users"},
					      {"public", "ir_module_module"}};
	assert_int_equal(probe_erp_detect(odoo, 2, &schema), PROBE_ERP_ODOO);
	assert_string_equal(schema, "public");
	const struct probe_erp_seen tryton[] = {{"public", "ir_module"}, {"public", "res_user"}};
	assert_int_equal(probe_erp_detect(tryton, 2, NULL), PROBE_ERP_TRYTON);
	/* markers in different schemas are not one application */
	const struct probe_erp_seen split[] = {{"a", "ad_system"}, {"b", "ad_client"}};
	assert_int_equal(probe_erp_detect(split, 2, NULL), PROBE_ERP_NONE);
	const struct probe_erp_seen idem[] = {{"adempiere", "ad_client"},
					      {"adempiere", "ad_system"}};
	assert_int_equal(probe_erp_detect(idem, 2, &schema), PROBE_ERP_IDEMPIERE);
	assert_string_equal(schema, "adempiere");
	const struct probe_erp_seen frappe[] = {{"public", "tabDefaultValue"},
						{"public", "tabInstalled Application"}};
	assert_int_equal(probe_erp_detect(frappe, 2, NULL), PROBE_ERP_ERPNEXT);
	const struct probe_erp_seen doli[] = {{"public", "llx_const"}, {"public", "llx_user"}};
	assert_int_equal(probe_erp_detect(doli, 2, NULL), PROBE_ERP_DOLIBARR);
	const struct probe_erp_seen half[] = {{"public", "llx_const"}};
	assert_int_equal(probe_erp_detect(half, 1, NULL), PROBE_ERP_NONE);
	assert_int_equal(probe_erp_detect(NULL, 0, NULL), PROBE_ERP_NONE);
	for (int a = PROBE_ERP_ODOO; a < PROBE_ERP_N_APPS; a++) {
		const struct probe_erp_spec *s = probe_erp_spec((enum probe_erp_app)a);
		assert_non_null(s);
		assert_int_equal(s->app, a);
		assert_non_null(s->usage);
	}
	assert_string_equal(probe_erp_app_name(PROBE_ERP_IDEMPIERE), "idempiere");
}

static void test_series(void **state)
{
	char s[32];
	(void)state;
	assert_int_equal(probe_erp_series(PROBE_ERP_ODOO, "17.0.1.3", s, sizeof(s)), 0);
	assert_string_equal(s, "17.0");
	assert_int_equal(probe_erp_series(PROBE_ERP_TRYTON, "6.0.29", s, sizeof(s)), 0);
	assert_string_equal(s, "6.0");
	assert_int_equal(probe_erp_series(PROBE_ERP_ERPNEXT, "v15.38.0", s, sizeof(s)), 0);
	assert_string_equal(s, "15");
	assert_int_equal(probe_erp_series(PROBE_ERP_DOLIBARR, "20.0.2", s, sizeof(s)), 0);
	assert_string_equal(s, "20");
	assert_int_equal(probe_erp_series(PROBE_ERP_IDEMPIERE, "11", s, sizeof(s)), 0);
	assert_string_equal(s, "11");
	assert_int_equal(probe_erp_series(PROBE_ERP_ODOO, "saas~17.2", s, sizeof(s)), -EINVAL);
	assert_int_equal(probe_erp_series(PROBE_ERP_ODOO, "", s, sizeof(s)), -EINVAL);
	assert_int_equal(probe_erp_series(PROBE_ERP_ODOO, NULL, s, sizeof(s)), -EINVAL);
	assert_int_equal(probe_erp_series(PROBE_ERP_ODOO, "9999999999.1", s, sizeof(s)), 0);
}

static void test_lag(void **state)
{
	struct probe_erp_lag l;
	(void)state;
	/* Tryton 6.0 LTS: supported until 2026-05-03, one major (7) behind */
	assert_int_equal(probe_erp_version_lag(PROBE_ERP_TRYTON, "6.0.29", day(2026, 5, 2), &l), 0);
	assert_false(l.out_of_support);
	assert_int_equal(l.behind, 1);
	assert_int_equal(probe_erp_version_lag(PROBE_ERP_TRYTON, "6.0.29", day(2026, 12, 6), &l),
			 0);
	assert_true(l.out_of_support);
	assert_string_equal(l.newest->series, "7.8");
	/* Odoo 15 at 2025-01-01: 16, 17, 18 out -> 3 majors behind, out of support */
	assert_int_equal(probe_erp_version_lag(PROBE_ERP_ODOO, "15.0.1.3", day(2025, 1, 1), &l), 0);
	assert_int_equal(l.behind, 3);
	assert_true(l.out_of_support);
	assert_string_equal(l.newest->series, "18.0");
	/* Odoo 17 at 2024-06-01: newest, supported */
	assert_int_equal(probe_erp_version_lag(PROBE_ERP_ODOO, "17.0", day(2024, 6, 1), &l), 0);
	assert_int_equal(l.behind, 0);
	assert_false(l.out_of_support);
	/* a release not out yet at that date is not counted */
	assert_int_equal(probe_erp_version_lag(PROBE_ERP_DOLIBARR, "19.0.3", day(2024, 6, 1), &l),
			 0);
	assert_int_equal(l.behind, 0);
	assert_int_equal(probe_erp_version_lag(PROBE_ERP_DOLIBARR, "19.0.3", day(2025, 8, 1), &l),
			 0);
	assert_int_equal(l.behind, 3);
	assert_false(l.out_of_support); /* no published date: lag rule only */
	/* unknown series */
	assert_int_equal(probe_erp_version_lag(PROBE_ERP_ODOO, "8.0", day(2025, 1, 1), &l),
			 -ENOENT);
	assert_string_equal(l.series, "8.0");
	assert_int_equal(probe_erp_version_lag(PROBE_ERP_ODOO, "junk", day(2025, 1, 1), &l),
			 -ENOENT);
}

static void test_python_version(void **state)
{
	char v[32];
	(void)state;
	static const char init[] = "# This file is part of Tryton.\n"
				   "import os\n__version__ = \"6.0.29\"\n__all__ = []\n";
	assert_int_equal(probe_erp_python_version(init, strlen(init), v, sizeof(v)), 0);
	assert_string_equal(v, "6.0.29");
	static const char single[] = "__version__='7.0.1'";
	assert_int_equal(probe_erp_python_version(single, strlen(single), v, sizeof(v)), 0);
	assert_string_equal(v, "7.0.1");
	static const char bad[] = "__version__ = get_version()\nx__version__ = \"1\"\n";
	assert_int_equal(probe_erp_python_version(bad, strlen(bad), v, sizeof(v)), -ENOENT);
	static const char unterminated[] = "__version__ = \"6.0";
	assert_int_equal(probe_erp_python_version(unterminated, strlen(unterminated), v, sizeof(v)),
			 -ENOENT);
	static const char longv[] = "__version__ = \"1234567890123456789012345678901234567890\"";
	assert_int_equal(probe_erp_python_version(longv, strlen(longv), v, sizeof(v)), -ENOENT);
	assert_int_equal(probe_erp_python_version("", 0, v, sizeof(v)), -ENOENT);
}

static void test_tables(void **state)
{
	char d[200];
	(void)state;
	const struct probe_erp_table *t = probe_erp_table_lookup(PROBE_ERP_TRYTON, "sale_line");
	assert_non_null(t);
	assert_int_equal(probe_erp_table_describe(t, d, sizeof(d)), 0);
	assert_string_equal(d, "sale_line: sales order lines, module sale");
	/* the same name in two ERPs: the application decides */
	assert_string_equal(probe_erp_table_lookup(PROBE_ERP_ODOO, "account_move")->function,
			    "journal entries and invoices");
	assert_string_equal(probe_erp_table_lookup(PROBE_ERP_TRYTON, "account_move")->function,
			    "journal entries");
	assert_non_null(probe_erp_table_lookup(PROBE_ERP_NONE, "tabGL Entry"));
	assert_null(probe_erp_table_lookup(PROBE_ERP_ODOO, "sale_line"));
	assert_null(probe_erp_table_lookup(PROBE_ERP_NONE, NULL));
}

static void test_month_end(void **state)
{
	(void)state;
	assert_int_equal(probe_erp_days_to_month_end(day(2026, 1, 31)), 1);
	assert_int_equal(probe_erp_days_to_month_end(day(2026, 1, 29)), 3);
	assert_int_equal(probe_erp_days_to_month_end(day(2028, 2, 27)), 3); /* leap year */
	assert_int_equal(probe_erp_days_to_month_end(day(2026, 2, 26)), 3);
	assert_true(probe_erp_in_month_end(day(2026, 1, 29), 3));
	assert_false(probe_erp_in_month_end(day(2026, 1, 28), 3));
	assert_false(probe_erp_in_month_end(day(2026, 1, 31), 0));
	assert_true(probe_erp_in_month_end(day(2026, 4, 30), 1));
}

static json_t *finding(const char *severity)
{
	return json_pack("{s:s, s:s, s:s}", "kind", "erp_table_dead_rows", "severity", severity,
			 "remediation", "VACUUM (ANALYZE) account_move_line;");
}

static void test_annotate(void **state)
{
	(void)state;
	const struct probe_erp_table *aml =
		probe_erp_table_lookup(PROBE_ERP_TRYTON, "account_move_line");
	const struct probe_erp_table *sale = probe_erp_table_lookup(PROBE_ERP_TRYTON, "sale_line");

	/* month-end, accounting table: one step up, flagged, window proposed */
	json_t *f = finding("warning");
	assert_int_equal(probe_erp_annotate_finding(f, aml, day(2026, 1, 30), 3), 0);
	assert_string_equal(json_string_value(json_object_get(f, "severity")), "critical");
	assert_true(json_is_true(json_object_get(f, "month_end")));
	assert_string_equal(json_string_value(json_object_get(f, "erp_module")), "account");
	const char *rem = json_string_value(json_object_get(f, "remediation"));
	assert_non_null(strstr(rem, "VACUUM (ANALYZE) account_move_line; Month-end closing in 2 "
				    "days: plan this in a maintenance window before closing"));
	json_decref(f);
	/* info goes to warning (one step, not two) */
	f = finding("info");
	assert_int_equal(probe_erp_annotate_finding(f, aml, day(2026, 1, 30), 3), 0);
	assert_string_equal(json_string_value(json_object_get(f, "severity")), "warning");
	json_decref(f);
	/* critical stays critical */
	f = finding("critical");
	assert_int_equal(probe_erp_annotate_finding(f, aml, day(2026, 1, 31), 3), 0);
	assert_string_equal(json_string_value(json_object_get(f, "severity")), "critical");
	json_decref(f);
	/* mid-month: named, not raised */
	f = finding("warning");
	assert_int_equal(probe_erp_annotate_finding(f, aml, day(2026, 1, 15), 3), 0);
	assert_string_equal(json_string_value(json_object_get(f, "severity")), "warning");
	assert_null(json_object_get(f, "month_end"));
	assert_string_equal(json_string_value(json_object_get(f, "erp_function")),
			    "journal entry lines");
	json_decref(f);
	/* month-end, sales table: named, not raised */
	f = finding("info");
	assert_int_equal(probe_erp_annotate_finding(f, sale, day(2026, 1, 30), 3), 0);
	assert_string_equal(json_string_value(json_object_get(f, "severity")), "info");
	json_decref(f);
	/* unknown table: untouched */
	f = finding("info");
	assert_int_equal(probe_erp_annotate_finding(f, NULL, day(2026, 1, 30), 3), 0);
	assert_null(json_object_get(f, "erp_module"));
	json_decref(f);
}

/* the database probes' one call: table, erp_table, module, month-end */
static void test_annotate_table(void **state)
{
	(void)state;
	json_t *f = finding("warning");
	assert_int_equal(probe_erp_annotate_table(f, "tabSales Invoice", day(2026, 4, 29), 2), 0);
	assert_string_equal(json_string_value(json_object_get(f, "table")), "tabSales Invoice");
	assert_string_equal(json_string_value(json_object_get(f, "erp_table")),
			    "tabSales Invoice: sales invoices, module accounts");
	assert_string_equal(json_string_value(json_object_get(f, "erp_module")), "accounts");
	assert_string_equal(json_string_value(json_object_get(f, "severity")), "critical");
	assert_true(json_is_true(json_object_get(f, "month_end")));
	json_decref(f);
	/* month_end_days 0: named, never raised */
	f = finding("warning");
	assert_int_equal(probe_erp_annotate_table(f, "tabSales Invoice", day(2026, 4, 30), 0), 0);
	assert_string_equal(json_string_value(json_object_get(f, "severity")), "warning");
	assert_null(json_object_get(f, "month_end"));
	json_decref(f);
	/* unknown table: nothing added */
	f = finding("warning");
	assert_int_equal(probe_erp_annotate_table(f, "res_partner_x", day(2026, 4, 30), 2), 0);
	assert_int_equal(json_object_size(f), 3);
	json_decref(f);
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detect),   cmocka_unit_test(test_series),
		cmocka_unit_test(test_lag),      cmocka_unit_test(test_python_version),
		cmocka_unit_test(test_tables),   cmocka_unit_test(test_month_end),
		cmocka_unit_test(test_annotate), cmocka_unit_test(test_annotate_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
