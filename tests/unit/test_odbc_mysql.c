/* MariaDB/MySQL judgement of the odbc probe (probes/odbc/mysql.c): free
 * space only when the statistics describe the tablespace file; stale
 * statistics reported as such. Figures below are the ones a real MariaDB
 * 10.11 showed in tests/integration/22-mariadb-free-space.sh. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "probes/odbc/odbc.h"

#define MiB (1024LL * 1024)

/* A table judged on DATA_FREE (no index figures). */
static struct probe_mysql_table tbl(const char *schema, const char *table, int64_t data_length,
				    int64_t index_length, int64_t data_free, int64_t rows,
				    int64_t file_size)
{
	struct probe_mysql_table t = {.schema = schema,
				      .table = table,
				      .data_length = data_length,
				      .index_length = index_length,
				      .data_free = data_free,
				      .table_rows = rows,
				      .file_size = file_size,
				      .page_size = 16384};
	return t;
}

static struct probe_odbc_settings settings(void)
{
	struct probe_odbc_settings s = {
		.pg = {.threshold = 30}, .min_table_mb = 4, .stale_pct = 25};
	return s;
}

static void test_judge(void **state)
{
	struct probe_odbc_settings s = settings();
	double fp, cov;
	(void)state;

	/* bulk-loaded after the last ANALYZE: one page of statistics, 21 MB file */
	struct probe_mysql_table bulk =
		tbl("erp", "stock_move", 16384, 0, 4 * MiB, 40000, 21 * MiB);
	assert_int_equal(probe_mysql_judge(&bulk, &s, &fp, &cov), PROBE_MYSQL_STALE);
	assert_true(fp > 99); /* what a naive monitor would alarm on */
	assert_true(cov < 20);

	/* purged after ANALYZE: statistics still count the deleted rows */
	struct probe_mysql_table purged =
		tbl("erp", "gl_entry", 21544960, 3686400, 18 * MiB, 20000, 32 * MiB);
	assert_int_equal(probe_mysql_judge(&purged, &s, &fp, &cov), PROBE_MYSQL_STALE);
	assert_true(cov > 125);

	/* after ANALYZE: consistent, 64% free */
	struct probe_mysql_table fresh =
		tbl("erp", "gl_entry", 7 * MiB, 1 * MiB, 18 * MiB, 20000, 27 * MiB);
	assert_int_equal(probe_mysql_judge(&fresh, &s, &fp, &cov), PROBE_MYSQL_FRAGMENTED);
	assert_float_equal(fp, 100.0 * 18 / 26, 1e-9);

	struct probe_mysql_table ok =
		tbl("erp", "customer", 28 * MiB, 0, 4 * MiB, 100000, 33 * MiB);
	assert_int_equal(probe_mysql_judge(&ok, &s, &fp, &cov), PROBE_MYSQL_OK);
	assert_float_equal(fp, 12.5, 1e-9);

	struct probe_mysql_table small = tbl("erp", "tiny", 16384, 0, 0, 3, 96 * 1024);
	assert_int_equal(probe_mysql_judge(&small, &s, &fp, &cov), PROBE_MYSQL_SMALL);

	struct probe_mysql_table nofile = fresh;
	nofile.file_size = -1;
	assert_int_equal(probe_mysql_judge(&nofile, &s, &fp, &cov), PROBE_MYSQL_NO_FILE_SIZE);
	assert_true(isnan(cov));

	/* the staleness tolerance is a setting */
	s.stale_pct = 40;
	assert_int_equal(probe_mysql_judge(&purged, &s, &fp, &cov), PROBE_MYSQL_FRAGMENTED);
}

static json_t *one_finding(const struct probe_mysql_table *t, const struct probe_odbc_settings *s)
{
	struct ep_probe_result r = {.findings = json_array()};
	char q1[64], q2[64], quoted[140];
	assert_int_equal(probe_mysql_quote_ident(t->schema, q1, sizeof(q1)), 0);
	assert_int_equal(probe_mysql_quote_ident(t->table, q2, sizeof(q2)), 0);
	snprintf(quoted, sizeof(quoted), "%s.%s", q1, q2);
	assert_int_equal(probe_mysql_table_finding(t, s, quoted, &r), 0);
	json_t *f = json_incref(json_array_get(r.findings, 0));
	json_decref(r.findings);
	return f;
}

static void test_findings(void **state)
{
	struct probe_odbc_settings s = settings();
	(void)state;

	struct probe_mysql_table bulk =
		tbl("erp", "stock`move", 16384, 0, 4 * MiB, 40000, 21 * MiB);
	json_t *f = one_finding(&bulk, &s);
	assert_string_equal(json_string_value(json_object_get(f, "kind")),
			    "table_statistics_stale");
	assert_string_equal(json_string_value(json_object_get(f, "severity")), "info");
	assert_true(json_is_null(json_object_get(f, "threshold")));
	assert_string_equal(json_string_value(json_object_get(f, "remediation")),
			    "ANALYZE TABLE `erp`.`stock``move`;");
	assert_string_equal(json_string_value(json_object_get(f, "object")), "erp/stock`move");
	json_decref(f);

	struct probe_mysql_table fresh =
		tbl("erp", "gl_entry", 7 * MiB, 1 * MiB, 18 * MiB, 20000, 27 * MiB);
	f = one_finding(&fresh, &s);
	assert_string_equal(json_string_value(json_object_get(f, "kind")), "table_free_space");
	assert_string_equal(json_string_value(json_object_get(f, "severity")),
			    "critical"); /* 69% */
	assert_string_equal(json_string_value(json_object_get(f, "remediation")),
			    "OPTIMIZE TABLE `erp`.`gl_entry`;");
	assert_int_equal(json_integer_value(json_object_get(f, "extra_disk_bytes")), 8 * MiB);
	json_decref(f);

	struct probe_mysql_table ok =
		tbl("erp", "customer", 28 * MiB, 0, 4 * MiB, 100000, 33 * MiB);
	f = one_finding(&ok, &s);
	assert_string_equal(json_string_value(json_object_get(f, "severity")), "info");
	assert_true(json_is_null(json_object_get(f, "remediation")));
	json_decref(f);

	struct probe_mysql_table nofile = tbl("erp", "x", 10 * MiB, 0, 10 * MiB, 1, -1);
	f = one_finding(&nofile, &s);
	assert_string_equal(json_string_value(json_object_get(f, "severity")), "warning");
	assert_non_null(strstr(json_string_value(json_object_get(f, "message")), "PROCESS"));
	json_decref(f);

	/* small tables add nothing */
	struct ep_probe_result r = {.findings = json_array()};
	struct probe_mysql_table small = tbl("erp", "tiny", 16384, 0, 0, 3, 96 * 1024);
	assert_int_equal(probe_mysql_table_finding(&small, &s, "`erp`.`tiny`", &r), 0);
	assert_int_equal(json_array_size(r.findings), 0);
	json_decref(r.findings);
}

static void test_quote(void **state)
{
	char out[8];
	(void)state;
	assert_int_equal(probe_mysql_quote_ident("a`b", out, sizeof(out)), 0);
	assert_string_equal(out, "`a``b`");
	assert_int_equal(probe_mysql_quote_ident("abcdefg", out, sizeof(out)), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_judge),
		cmocka_unit_test(test_findings),
		cmocka_unit_test(test_quote),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
