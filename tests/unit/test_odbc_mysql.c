/* MariaDB/MySQL judgement of the odbc probe (probes/odbc/mysql.c): free
 * space only when the statistics describe the tablespace file; stale
 * statistics reported as such. Figures below are the ones a real MariaDB
 * 10.11 showed in tests/integration/22-mariadb-free-space.sh. */
#include <errno.h>
#include <stdio.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "probes/odbc/mysql_filename.h"
#include "probes/odbc/mysql_space.h"
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

static void test_filename_names(void **state)
{
	static const char *const cases[][2] = {
		/* as MariaDB 10.11 named the files and INNODB_SYS_TABLESPACES rows */
		{"tabGL Entry", "tabGL@0020Entry"},
		{"tabSales Invoice Item", "tabSales@0020Invoice@0020Item"},
		{"中文表", "@4e2d@6587@8868"},
		{"物料 清单", "@7269@6599@0020@6e05@5355"},
		{"a-b", "a@002db"},
		{"my db-1", "my@0020db@002d1"},
		{"éa", "@0pa"},
		{"ǅx", "@01c5x"},
		{"aux.x", "aux@002ex"},
		{"clock$", "clock@0024"},
		{"con", "con@@@"},
		{"CON", "CON@@@"},
		{"lpt1", "lpt1@@@"},
		{"com9", "com9@@@"},
		{"com0", "com0"},
		{"com10", "com10"},
		{"conx", "conx"},
		{"nul.txt", "nul@002etxt"},
		{"ab中", "ab@4e2d"},
		{"_Tab_9", "_Tab_9"},
	};
	char out[128];
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(probe_mysql_filename_encode(cases[i][0], strlen(cases[i][0]), out,
							     sizeof(out)),
				 0);
		assert_string_equal(out, cases[i][1]);
	}
	/* not UTF-8, outside the BMP (identifiers are utf8mb3), NUL, empty */
	assert_int_equal(probe_mysql_filename_encode("a\xff", 2, out, sizeof(out)), -EILSEQ);
	assert_int_equal(probe_mysql_filename_encode("\xc0\xa0", 2, out, sizeof(out)), -EILSEQ);
	assert_int_equal(probe_mysql_filename_encode("\xed\xa0\x80", 3, out, sizeof(out)), -EILSEQ);
	assert_int_equal(probe_mysql_filename_encode("\xf0\x9f\x98\x80", 4, out, sizeof(out)),
			 -EILSEQ);
	assert_int_equal(probe_mysql_filename_encode("a\0b", 3, out, sizeof(out)), -EINVAL);
	assert_int_equal(probe_mysql_filename_encode("", 0, out, sizeof(out)), -EINVAL);
	/* too small: nothing half-written */
	assert_int_equal(probe_mysql_filename_encode("a b", 3, out, 5), -ENOSPC);
	assert_string_equal(out, "");
	assert_int_equal(probe_mysql_filename_encode("con", 3, out, 6), -ENOSPC);
	assert_int_equal(probe_mysql_filename_encode("con", 3, out, 7), 0);
}

/* Every code point of the fixture, encoded by the server itself. */
static void test_filename_server(void **state)
{
	char path[1024], line[256];
	const char *src = getenv("ERPULSE_SRCDIR");
	size_t n = 0;
	(void)state;

	snprintf(path, sizeof(path), "%s/tests/fixtures/odbc/mysql/filename-encoding.tsv",
		 src ? src : ".");
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned cp;
		char want[32], in[8], out[32];
		if (line[0] == '#' || sscanf(line, "%x\t%31s", &cp, want) != 2)
			continue;
		/* the code point as UTF-8 */
		size_t len = 0;
		if (cp < 0x80) {
			in[len++] = (char)cp;
		} else if (cp < 0x800) {
			in[len++] = (char)(0xc0 | (cp >> 6));
			in[len++] = (char)(0x80 | (cp & 0x3f));
		} else {
			in[len++] = (char)(0xe0 | (cp >> 12));
			in[len++] = (char)(0x80 | ((cp >> 6) & 0x3f));
			in[len++] = (char)(0x80 | (cp & 0x3f));
		}
		assert_int_equal(probe_mysql_filename_encode(in, len, out, sizeof(out)), 0);
		if (strcmp(out, want) != 0)
			fail_msg("U+%04X: encoded %s, the server wrote %s", cp, out, want);
		n++;
	}
	fclose(f);
	assert_true(n > 3000);
}

static struct probe_mysql_index_space ix_pages(const char *name, bool clustered, int64_t leaf,
					       int64_t nonleaf)
{
	struct probe_mysql_index_space x = {.clustered = clustered,
					    .leaf_pages = leaf,
					    .nonleaf_pages = nonleaf,
					    .leaf_bytes = -1};
	snprintf(x.name, sizeof(x.name), "%s", name);
	return x;
}

/* The rebuilt-size model against files MariaDB 10.11 wrote by OPTIMIZE TABLE
 * (used pages per index from the page scan, file size from the server). */
static void test_rebuilt_model(void **state)
{
	struct probe_mysql_layout l = {.page_size = 16384, .fill_factor = 100};
	(void)state;

	/* `tabGL Entry`, 40 000 rows: 1408 pages (22 MB) */
	struct probe_mysql_index_space gl[] = {
		ix_pages("PRIMARY", true, 675, 3), ix_pages("voucher_no", false, 92, 1),
		ix_pages("account", false, 82, 1), ix_pages("posting_date", false, 51, 1),
		ix_pages("party", false, 70, 1),   ix_pages("modified", false, 63, 1),
	};
	assert_int_equal(probe_mysql_rebuilt_pages(gl, 6, &l), 1408);
	assert_int_equal(gl[0].pages_after, 803); /* innodb_index_stats 'size' */
	assert_int_equal(gl[1].pages_after, 161);
	assert_int_equal(gl[2].pages_after, 97);
	/* `tabSales Invoice Item`, 50 000 rows: 1856 pages (29 MB) */
	struct probe_mysql_index_space sii[] = {
		ix_pages("PRIMARY", true, 1300, 3),
		ix_pages("parent", false, 116, 1),
		ix_pages("item_code", false, 88, 1),
	};
	assert_int_equal(probe_mysql_rebuilt_pages(sii, 3, &l), 1856);
	assert_int_equal(sii[0].pages_after, 1507);
	/* the same table with 200 000 rows: a segment past 40 extents */
	struct probe_mysql_index_space sii2[] = {
		ix_pages("PRIMARY", true, 5198, 9),
		ix_pages("parent", false, 462, 3),
		ix_pages("item_code", false, 351, 1),
	};
	assert_int_equal(probe_mysql_rebuilt_pages(sii2, 3, &l), 6656);
	assert_int_equal(sii2[0].pages_after, 5481);
	assert_int_equal(sii2[1].pages_after, 547);
	assert_int_equal(sii2[2].pages_after, 417);

	/* from record bytes: the clustered index packs 15/16, less half a record */
	struct probe_mysql_index_space b = {.clustered = true,
					    .leaf_pages = 808,
					    .nonleaf_pages = 3,
					    .leaf_bytes = 10185974,
					    .nonleaf_bytes = 16000,
					    .leaf_recs = 40129};
	struct probe_mysql_index_space s2 = b;
	s2.clustered = false;
	probe_mysql_rebuilt_pages(&b, 1, &l);
	probe_mysql_rebuilt_pages(&s2, 1, &l);
	assert_in_range(b.pages_after, 800, 803);
	assert_true(s2.pages_after < b.pages_after);
	/* an empty table keeps its root pages */
	struct probe_mysql_index_space e = {.clustered = true, .leaf_bytes = 0};
	assert_int_equal(probe_mysql_rebuilt_pages(&e, 1, &l), 64);
	/* past 32 MB the file grows 4 MB at a time */
	struct probe_mysql_index_space big = ix_pages("PRIMARY", true, 3000, 10);
	assert_int_equal(probe_mysql_rebuilt_pages(&big, 1, &l) % 256, 0);
}

/* A tablespace built in memory: page 0 with its extent descriptors, index
 * pages of two indexes, a free page that still holds an old index page. */
struct mem_file {
	unsigned char *data;
	size_t len;
	size_t reads;
};

static int mem_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	struct mem_file *m = ctx;
	if (off + len > m->len)
		return -EIO;
	memcpy(buf, m->data + off, len);
	m->reads++;
	return 0;
}

static void put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void put32(unsigned char *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static void index_page(unsigned char *pg, uint64_t id, unsigned level, unsigned bytes,
		       unsigned recs)
{
	put16(pg + 24, 17855);
	put16(pg + 38, 2);                   /* directory slots */
	put16(pg + 40, 120 + bytes - 4);     /* heap top */
	put16(pg + 42, 0x8000 | (recs + 2)); /* compact */
	put16(pg + 46, 0);                   /* garbage */
	put16(pg + 54, recs);
	put16(pg + 64, level);
	put32(pg + 66, (uint32_t)(id >> 32));
	put32(pg + 70, (uint32_t)id);
}

static void test_scan(void **state)
{
	const size_t ps = 16384, npages = 64;
	struct mem_file m = {.len = ps * npages};
	struct probe_mysql_scan sc;
	char err[200];
	(void)state;

	m.data = calloc(1, m.len);
	assert_non_null(m.data);
	put16(m.data + 24, 8); /* FSP_HDR */
	put32(m.data + 38, 7); /* space id */
	put32(m.data + 50, (uint32_t)npages);
	unsigned char *x = m.data + 150;
	put32(x + 20, 2); /* FREE_FRAG: per-page bits decide */
	/* pages 0-2 header pages, 3-9 index 11, 10-11 index 12, 12 free */
	for (size_t p = 0; p < npages; p++)
		if (p > 11)
			x[24 + (2 * p) / 8] |= (unsigned char)(1u << ((2 * p) % 8));
	put16(m.data + 1 * ps + 24, 5);
	put16(m.data + 2 * ps + 24, 3);
	index_page(m.data + 3 * ps, 11, 1, 100, 6);
	for (size_t p = 4; p < 10; p++)
		index_page(m.data + p * ps, 11, 0, 8000, 40);
	index_page(m.data + 10 * ps, 12, 0, 16000, 500);
	index_page(m.data + 11 * ps, 12, 0, 16000, 500);
	index_page(m.data + 12 * ps, 11, 0, 16000, 80); /* freed: ignored */

	assert_int_equal(probe_mysql_scan_tablespace(mem_read, &m, (int64_t)m.len, (int64_t)ps, 7,
						     &sc, err, sizeof(err)),
			 0);
	assert_int_equal(sc.file_pages, 64);
	assert_int_equal(sc.used_pages, 12);
	assert_int_equal(sc.free_pages, 52);
	assert_int_equal(sc.nix, 2);
	assert_true(sc.ix[0].clustered);
	assert_int_equal(sc.ix[0].leaf_pages, 6);
	assert_int_equal(sc.ix[0].nonleaf_pages, 1);
	assert_int_equal(sc.ix[0].leaf_bytes, 6 * 8000);
	assert_int_equal(sc.ix[0].leaf_recs, 240);
	assert_int_equal(sc.ix[1].leaf_bytes, 32000);
	assert_true(sc.bytes_read < 30000); /* headers only */
	probe_mysql_scan_free(&sc);

	/* another tablespace's file, an encrypted-looking file, a short file */
	assert_int_equal(probe_mysql_scan_tablespace(mem_read, &m, (int64_t)m.len, (int64_t)ps, 8,
						     &sc, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "another server"));
	for (size_t p = 4; p < 10; p++)
		put16(m.data + p * ps + 24, 0x9a3c);
	assert_int_equal(probe_mysql_scan_tablespace(mem_read, &m, (int64_t)m.len, (int64_t)ps, 7,
						     &sc, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "encrypted"));
	assert_int_equal(probe_mysql_scan_tablespace(mem_read, &m, (int64_t)ps * 2, (int64_t)ps, 7,
						     &sc, err, sizeof(err)),
			 -EINVAL);
	put16(m.data + 24, 0);
	assert_int_equal(probe_mysql_scan_tablespace(mem_read, &m, (int64_t)m.len, (int64_t)ps, 7,
						     &sc, err, sizeof(err)),
			 -EINVAL);
	free(m.data);
}

/* An exact figure: judged whatever the statistics say, online rebuild. */
static void test_exact_finding(void **state)
{
	struct probe_odbc_settings s = settings();
	struct probe_mysql_index_space ix[] = {
		ix_pages("PRIMARY", true, 808, 3),
		ix_pages("voucher_no", false, 128, 1),
	};
	(void)state;

	ix[0].pages_after = 803;
	ix[1].pages_after = 161;
	/* statistics from before the deletes: would be "stale" for DATA_FREE */
	struct probe_mysql_table t =
		tbl("erp", "tabGL Entry", 20 * MiB, 5 * MiB, 1 * MiB, 40000, 80 * MiB);
	t.source = PROBE_MYSQL_SRC_EXACT;
	t.pages_after = 1408;
	t.ix = ix;
	t.nix = 2;
	t.online_rebuild = true;
	json_t *f = one_finding(&t, &s);
	assert_string_equal(json_string_value(json_object_get(f, "kind")), "table_free_space");
	assert_float_equal(json_real_value(json_object_get(f, "value")), 72.5, 0.01);
	assert_string_equal(json_string_value(json_object_get(f, "severity")), "critical");
	assert_string_equal(json_string_value(json_object_get(f, "remediation")),
			    "ALTER TABLE `erp`.`tabGL Entry` ENGINE=InnoDB, ALGORITHM=INPLACE, "
			    "LOCK=NONE;");
	assert_non_null(strstr(json_string_value(json_object_get(f, "method")), "exact"));
	assert_int_equal(json_integer_value(json_object_get(f, "extra_disk_bytes")), 1408 * 16384);
	assert_int_equal(json_integer_value(json_object_get(f, "reclaimable_bytes")),
			 80 * MiB - 1408 * 16384);
	assert_float_equal(json_number_value(json_object_get(f, "critical_threshold")), 60, 0);
	assert_float_equal(json_number_value(json_object_get(f, "min_size")), 4 * MiB, 0);
	assert_string_equal(json_string_value(json_object_get(f, "size_unit")), "bytes");
	assert_int_equal(json_array_size(json_object_get(f, "indexes")), 2);
	json_decref(f);

	/* the same from statistics only: stale statistics are not judged */
	t.source = PROBE_MYSQL_SRC_PAGES;
	f = one_finding(&t, &s);
	assert_string_equal(json_string_value(json_object_get(f, "kind")),
			    "table_statistics_stale");
	json_decref(f);
	/* fresh statistics: judged, and the method says "at least" */
	t.data_length = 803 * 16384;
	t.index_length = 161 * 16384;
	t.data_free = 80 * MiB - (803 + 161) * 16384;
	f = one_finding(&t, &s);
	assert_string_equal(json_string_value(json_object_get(f, "kind")), "table_free_space");
	assert_non_null(strstr(json_string_value(json_object_get(f, "method")), "at least"));
	json_decref(f);

	/* freshly rebuilt: the model gives the file back, no alarm */
	t.source = PROBE_MYSQL_SRC_EXACT;
	t.file_size = 1408 * 16384;
	f = one_finding(&t, &s);
	assert_float_equal(json_real_value(json_object_get(f, "value")), 0, 0);
	assert_string_equal(json_string_value(json_object_get(f, "severity")), "info");
	assert_true(json_is_null(json_object_get(f, "remediation")));
	json_decref(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_judge),
		cmocka_unit_test(test_findings),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_filename_names),
		cmocka_unit_test(test_filename_server),
		cmocka_unit_test(test_rebuilt_model),
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_exact_finding),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
