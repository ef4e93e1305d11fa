/* SQL Server mapping of the odbc probe (probes/odbc/mssql.c) on result rows
 * shaped exactly as sys.dm_db_index_physical_stats and msdb return them
 * through ODBC (tests/fixtures/odbc/mssql/, tab-separated). SQL Server cannot run on
 * the test machine; docs/probes-database.md says the dialect is not yet
 * verified against a live server. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "probes/odbc/odbc.h"

/* Loads a TSV fixture ("#" comments, "NULL" = SQL NULL) into rows. */
static void load_rows(const char *name, struct probe_sql_rows *rows)
{
	const char *src = getenv("ERPULSE_SRCDIR");
	char path[1024], line[4096];
	snprintf(path, sizeof(path), "%s/tests/fixtures/odbc/mssql/%s", src ? src : ".", name);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	memset(rows, 0, sizeof(*rows));
	while (fgets(line, sizeof(line), f)) {
		const char *cells[64];
		size_t n = 0;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		line[strcspn(line, "\n")] = '\0';
		for (char *p = line; p && n < 64;) {
			char *tab = strchr(p, '\t');
			if (tab)
				*tab = '\0';
			cells[n++] = strcmp(p, "NULL") == 0 ? NULL : p;
			p = tab ? tab + 1 : NULL;
		}
		assert_int_equal(probe_sql_rows_add(rows, n, cells), 0);
	}
	fclose(f);
}

static struct probe_odbc_settings settings(void)
{
	struct probe_odbc_settings s = {
		.pg = {.threshold = 30, .min_index_pages = 1000},
		.reorganize_pct = 5,
		.backup_max_age_s = 26 * 3600,
		.log_backup_max_age_s = 2 * 3600,
	};
	return s;
}

static struct ep_probe_result *new_result(void)
{
	struct ep_probe_result *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	r->metrics = json_object();
	r->findings = json_array();
	r->state = json_object();
	return r;
}

static void free_result(struct ep_probe_result *r)
{
	json_decref(r->metrics);
	json_decref(r->findings);
	json_decref(r->state);
	free(r);
}

static json_t *find(const struct ep_probe_result *r, const char *object)
{
	size_t i;
	json_t *f;
	json_array_foreach(r->findings, i, f)
	{
		if (strcmp(json_string_value(json_object_get(f, "object")), object) == 0)
			return f;
	}
	return NULL;
}

static const char *sfield(json_t *f, const char *k)
{
	return json_string_value(json_object_get(f, k));
}

static void test_index_rows_online(void **state)
{
	struct probe_sql_rows rows;
	struct probe_odbc_settings s = settings();
	struct ep_probe_result *r = new_result();
	json_t *f;

	(void)state;
	load_rows("index_physical_stats.tsv", &rows);
	assert_int_equal(rows.ncols, MSSQL_IX_NCOLS);
	/* heap, LOB_DATA, non-leaf, columnstore and the 120-page index are skipped */
	assert_int_equal(probe_mssql_map_index_rows(&rows, &s, true, r), 6);
	assert_int_equal(json_array_size(r->findings), 6);
	assert_null(find(r, "UFDATA_001/dbo.CCI_IA_Subsidiary"));
	assert_null(find(r, "UFDATA_001/dbo.IX_RdRecords_tiny"));

	/* < 5%: info, nothing to do */
	f = find(r, "UFDATA_001/dbo.PK_GL_accvouch");
	assert_non_null(f);
	assert_string_equal(sfield(f, "severity"), "info");
	assert_true(json_is_null(json_object_get(f, "remediation")));
	assert_float_equal(json_real_value(json_object_get(f, "value")), 3.1428571428571428, 1e-12);
	assert_string_equal(sfield(f, "method"), "dm_db_index_physical_stats LIMITED");
	assert_true(json_is_null(json_object_get(f, "page_density")));

	/* 5-30%: REORGANIZE, still info (the alert is at the threshold) */
	f = find(r, "UFDATA_001/dbo.IX_GL_accvouch_ccode");
	assert_string_equal(sfield(f, "severity"), "info");
	assert_string_equal(
		sfield(f, "remediation"),
		"ALTER INDEX [IX_GL_accvouch_ccode] ON [UFDATA_001].[dbo].[GL_accvouch] "
		"REORGANIZE;");
	assert_non_null(strstr(sfield(f, "lock"), "always online"));

	/* >= 30%: REBUILD WITH (ONLINE = ON) on an edition that has it */
	f = find(r, "UFDATA_001/dbo.IX_SA_SaleBillVouchs_cSBVCode");
	assert_string_equal(sfield(f, "severity"), "warning");
	assert_float_equal(json_real_value(json_object_get(f, "threshold")), 30, 0);
	assert_string_equal(sfield(f, "remediation"),
			    "ALTER INDEX [IX_SA_SaleBillVouchs_cSBVCode] ON "
			    "[UFDATA_001].[dbo].[SA_SaleBillVouchs] REBUILD WITH (ONLINE = ON);");
	assert_int_equal(json_integer_value(json_object_get(f, "pages")), 16200);
	assert_int_equal(json_integer_value(json_object_get(f, "extra_disk_bytes")), 16200 * 8192);

	/* >= 2 x threshold: critical */
	f = find(r, "UFDATA_001/dbo.IX_RdRecords_AutoID");
	assert_string_equal(sfield(f, "severity"), "critical");

	/* partitioned, with names that need brackets escaped */
	f = find(r, "UFDATA_001/sales.IX Order]Lines (partition 2)");
	assert_non_null(f);
	assert_string_equal(sfield(f, "remediation"),
			    "ALTER INDEX [IX Order]]Lines] ON [UFDATA_001].[sales].[Order]]Lines] "
			    "REBUILD PARTITION = 2 WITH (ONLINE = ON);");

	/* SAMPLED: page density reported */
	f = find(r, "UFDATA_001/dbo.IX_GL_accass_sampled");
	assert_string_equal(sfield(f, "method"), "dm_db_index_physical_stats SAMPLED");
	assert_float_equal(json_real_value(json_object_get(f, "page_density")), 61.734, 1e-9);

	/* every finding passes the report schema's finding rules */
	size_t i;
	json_array_foreach(r->findings, i, f)
	{
		assert_string_equal(sfield(f, "kind"), "index_fragmentation");
		assert_string_equal(sfield(f, "unit"), "%");
	}
	probe_sql_rows_free(&rows);
	free_result(r);
}

static void test_index_rows_offline_edition(void **state)
{
	struct probe_sql_rows rows;
	struct probe_odbc_settings s = settings();
	struct ep_probe_result *r = new_result();

	(void)state;
	load_rows("index_physical_stats.tsv", &rows);
	probe_mssql_map_index_rows(&rows, &s, false, r);
	json_t *f = find(r, "UFDATA_001/dbo.IX_SA_SaleBillVouchs_cSBVCode");
	assert_string_equal(sfield(f, "remediation"),
			    "ALTER INDEX [IX_SA_SaleBillVouchs_cSBVCode] ON "
			    "[UFDATA_001].[dbo].[SA_SaleBillVouchs] REBUILD;");
	assert_non_null(strstr(sfield(f, "lock"), "Sch-M"));
	probe_sql_rows_free(&rows);
	free_result(r);
}

static void test_index_rows_thresholds(void **state)
{
	struct probe_sql_rows rows;
	struct probe_odbc_settings s = settings();
	struct ep_probe_result *r = new_result();

	(void)state;
	load_rows("index_physical_stats.tsv", &rows);
	s.pg.threshold = 50;
	s.pg.min_index_pages = 100; /* the 120-page index now counts */
	assert_int_equal(probe_mssql_map_index_rows(&rows, &s, true, r), 7);
	json_t *f = find(r, "UFDATA_001/dbo.IX_SA_SaleBillVouchs_cSBVCode");
	assert_string_equal(sfield(f, "severity"), "info");
	assert_non_null(strstr(sfield(f, "remediation"), "REORGANIZE"));
	f = find(r, "UFDATA_001/dbo.IX_RdRecords_tiny");
	assert_string_equal(sfield(f, "severity"), "warning");
	probe_sql_rows_free(&rows);
	free_result(r);
}

static void test_short_rows_ignored(void **state)
{
	struct probe_sql_rows rows = {0};
	const char *cells[3] = {"a", "b", "c"};
	struct probe_odbc_settings s = settings();
	struct ep_probe_result *r = new_result();

	(void)state;
	assert_int_equal(probe_sql_rows_add(&rows, 3, cells), 0);
	assert_int_equal(probe_mssql_map_index_rows(&rows, &s, true, r), 0);
	assert_int_equal(probe_mssql_map_backup_rows(&rows, &s, r), 0);
	probe_sql_rows_free(&rows);
	free_result(r);
}

static void test_backup_rows(void **state)
{
	struct probe_sql_rows rows;
	struct probe_odbc_settings s = settings();
	struct ep_probe_result *r = new_result();
	json_t *f;

	(void)state;
	load_rows("backups.tsv", &rows);
	assert_int_equal(rows.ncols, MSSQL_BK_NCOLS);
	assert_int_equal(probe_mssql_map_backup_rows(&rows, &s, r), 8);
	/* a differential newer than the full counts */
	f = find(r, "UFDATA_001");
	assert_float_equal(json_real_value(json_object_get(f, "value")), 2.0, 1e-9);
	assert_string_equal(sfield(f, "severity"), "info");
	assert_string_equal(sfield(f, "unit"), "hours");
	f = find(r, "UFDATA_001 (log)");
	assert_float_equal(json_real_value(json_object_get(f, "value")), 0.25, 1e-9);
	/* SIMPLE recovery: no log finding */
	assert_null(find(r, "UFSystem (log)"));
	/* 50 hours old: warning; full recovery without any log backup: critical */
	f = find(r, "UFDATA_002");
	assert_float_equal(json_real_value(json_object_get(f, "value")), 50.0, 1e-9);
	assert_string_equal(sfield(f, "severity"), "warning");
	assert_non_null(sfield(f, "remediation"));
	f = find(r, "UFDATA_002 (log)");
	assert_string_equal(sfield(f, "severity"), "critical");
	assert_non_null(strstr(sfield(f, "message"), "no log backup ever"));
	/* never backed up in 6666 hours: critical */
	f = find(r, "UFDATA_OLD");
	assert_string_equal(sfield(f, "severity"), "critical");
	assert_non_null(strstr(sfield(f, "message"), "never backed up"));
	/* offline databases are not judged */
	assert_null(find(r, "UFDATA_OFF"));
	probe_sql_rows_free(&rows);
	free_result(r);
}

static void test_quote(void **state)
{
	char out[16];
	(void)state;
	assert_int_equal(probe_mssql_quote_ident("a]b", out, sizeof(out)), 0);
	assert_string_equal(out, "[a]]b]");
	assert_int_equal(probe_mssql_quote_ident("0123456789abcd", out, sizeof(out)), -ENOSPC);
	assert_int_equal(probe_mssql_quote_ident("", out, sizeof(out)), 0);
	assert_string_equal(out, "[]");
}

static void test_dbms_names(void **state)
{
	(void)state;
	assert_int_equal(probe_odbc_dbms_from_name("Microsoft SQL Server"), PROBE_ODBC_MSSQL);
	assert_int_equal(probe_odbc_dbms_from_name("microsoft sql server 2019"), PROBE_ODBC_MSSQL);
	assert_int_equal(probe_odbc_dbms_from_name("PostgreSQL"), PROBE_ODBC_POSTGRES);
	assert_int_equal(probe_odbc_dbms_from_name("MariaDB"), PROBE_ODBC_MYSQL);
	assert_int_equal(probe_odbc_dbms_from_name("MySQL"), PROBE_ODBC_MYSQL);
	assert_int_equal(probe_odbc_dbms_from_name("SQLite"), PROBE_ODBC_OTHER);
	assert_int_equal(probe_odbc_dbms_from_name("Microsoft"), PROBE_ODBC_OTHER);
	assert_int_equal(probe_odbc_dbms_from_name(""), PROBE_ODBC_OTHER);
	assert_int_equal(probe_odbc_dbms_from_name(NULL), PROBE_ODBC_OTHER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_index_rows_online),
		cmocka_unit_test(test_index_rows_offline_edition),
		cmocka_unit_test(test_index_rows_thresholds),
		cmocka_unit_test(test_short_rows_ignored),
		cmocka_unit_test(test_backup_rows),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_dbms_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
