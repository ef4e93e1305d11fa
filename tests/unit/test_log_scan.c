/* The log record reader (probes/log/scan.c) over the preset fixtures in
 * tests/fixtures/log/: counts per severity, multi-line records, partial last
 * lines, any split of the input, over-long lines and garbage; and how a log
 * looks (probes/log/fit.c): a preset that does not fit a log is a mismatch
 * with a safe sample line, the preset that fits is named, record times. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "erpulse/util.h"
#include "probes/log/fit.h"
#include "probes/log/presets.h"
#include "probes/log/scan.h"

#define DEFAULT_ERROR "ERROR|FATAL|CRITICAL|Exception"

static char *fixture(const char *name, size_t *len)
{
	const char *src = getenv("ERPULSE_SRCDIR");
	char path[4096];
	char *data = NULL;

	snprintf(path, sizeof(path), "%s/tests/fixtures/log/%s", src ? src : ".", name);
	if (ep_read_file(path, 1 << 20, &data, len) < 0)
		fail_msg("cannot read %s", path);
	return data;
}

static void preset_rules(struct probe_log_rules *r, const char *name)
{
	char err[256];
	const struct probe_log_preset *p = probe_log_preset_find(name);
	assert_non_null(p);
	probe_log_rules_init(r);
	if (probe_log_rules_from_preset(r, p, NULL, err, sizeof(err)) < 0)
		fail_msg("preset %s: %s", name, err);
}

/* Feeds data to a scanner the way the probe does: pieces of at most chunk
 * bytes appended to a carry buffer holding the partial line. */
static void scan_in_chunks(struct probe_log_scanner *sc, const char *data, size_t len, size_t chunk)
{
	size_t cap = chunk + sc->rules->max_line + 1;
	char *buf = malloc(cap);
	size_t have = 0, pos = 0;

	assert_non_null(buf);
	while (pos < len) {
		size_t n = len - pos < chunk ? len - pos : chunk;
		memcpy(buf + have, data + pos, n);
		pos += n;
		size_t total = have + n;
		size_t used = probe_log_scan(sc, buf, total);
		have = total - used;
		memmove(buf, buf + used, have);
		assert_true(have <= sc->rules->max_line);
	}
	probe_log_scanner_flush(sc); /* the end of the file */
	free(buf);
}

static void expect_counts(const struct probe_log_scanner *sc, const char *want)
{
	char got[256];
	const struct probe_log_counts *k = &sc->counts;
	snprintf(got, sizeof(got),
		 "debug=%llu info=%llu warning=%llu error=%llu critical=%llu unknown=%llu "
		 "continuation=%llu lines=%llu\n",
		 (unsigned long long)k->records[PROBE_LOG_DEBUG],
		 (unsigned long long)k->records[PROBE_LOG_INFO],
		 (unsigned long long)k->records[PROBE_LOG_WARNING],
		 (unsigned long long)k->records[PROBE_LOG_ERROR],
		 (unsigned long long)k->records[PROBE_LOG_CRITICAL],
		 (unsigned long long)k->records[PROBE_LOG_UNKNOWN],
		 (unsigned long long)k->continuation, (unsigned long long)k->lines);
	assert_string_equal(got, want);
}

/* The fixture BASE.log read with preset name gives the counts of BASE.expected. */
static void check_preset_file(const char *name, const char *base)
{
	char fn[64], en[64];
	size_t len, elen;
	struct probe_log_rules r;
	static const size_t chunks[] = {1, 2, 3, 7, 50, 333, 1 << 20};

	snprintf(fn, sizeof(fn), "%s.log", base);
	snprintf(en, sizeof(en), "%s.expected", base);
	char *data = fixture(fn, &len), *want = fixture(en, &elen);
	preset_rules(&r, name);
	for (size_t c = 0; c < EP_ARRAY_SIZE(chunks); c++) {
		struct probe_log_scanner sc;
		assert_int_equal(probe_log_scanner_init(&sc, &r), 0);
		scan_in_chunks(&sc, data, len, chunks[c]);
		expect_counts(&sc, want);
		assert_int_equal(sc.counts.bytes, len);
		probe_log_scanner_free(&sc);
	}
	free(data);
	free(want);
	probe_log_rules_free(&r);
}

static void check_preset(const char *name)
{
	check_preset_file(name, name);
}

/* Real trytond 6.0 output (Debian's package, a failing RPC each): Debian's
 * logging layout and upstream's default one. */
static void test_tryton(void **state)
{
	(void)state;
	check_preset_file("tryton", "tryton");
	check_preset_file("tryton", "tryton-upstream");
}

static void test_odoo(void **state)
{
	(void)state;
	check_preset("odoo");
}

static void test_postgresql(void **state)
{
	(void)state;
	check_preset("postgresql");
}

static void test_mariadb(void **state)
{
	(void)state;
	check_preset("mariadb");
}

static void test_java(void **state)
{
	(void)state;
	check_preset("java");
}

static void test_erpnext(void **state)
{
	(void)state;
	check_preset("erpnext");
}

/* ERP presets of the erp issue: RQ worker and scheduler logs of Frappe,
 * iDempiere's CLogFormatter, Dolibarr's file log (formats from their sources). */
static void test_erp_presets(void **state)
{
	(void)state;
	check_preset_file("erpnext", "erpnext-worker");
	check_preset("idempiere");
	check_preset("dolibarr");
}

/* Odoo's two tracebacks sign alike but for their exception types, taken
 * from each traceback's last line; the sample masks the password. */
static void test_odoo_signatures(void **state)
{
	size_t len;
	struct probe_log_rules r;
	struct probe_log_scanner sc;
	const struct probe_log_sig *top[10];
	char *data = fixture("odoo.log", &len);
	(void)state;

	preset_rules(&r, "odoo");
	assert_true(r.header.message_to_end); /* "(?<message>.*)" compiled away */
	assert_int_equal(probe_log_scanner_init(&sc, &r), 0);
	assert_int_equal(probe_log_scan(&sc, data, len), len);
	probe_log_scanner_flush(&sc); /* (the last records flushed them already) */
	size_t n = probe_log_sigtab_top(&sc.sigs, top, 10);
	assert_int_equal(n, 4);
	assert_string_equal(top[0]->signature, "[psycopg2.OperationalError] odoo.http: Exception "
					       "during request handling.");
	assert_int_equal(top[0]->count, 1);
	assert_non_null(strstr(top[0]->sample, "Exception during request handling."));
	assert_string_equal(top[1]->signature, "[psycopg2.errors.SerializationFailure] odoo.http: "
					       "Exception during request handling.");
	assert_string_equal(top[2]->signature,
			    "odoo.service.server: Failed to initialize database `erpdb`.");
	assert_string_equal(
		top[3]->signature,
		"odoo.sql_db: bad query: UPDATE sale_order SET state='<v>' WHERE id=<n>");
	probe_log_scanner_free(&sc);
	probe_log_rules_free(&r);
	free(data);
}

/* Real trytond output: two failing reads sign apart by their exception
 * types (ValueError, KeyError), however the input is split. */
static void test_tryton_signatures(void **state)
{
	size_t len;
	struct probe_log_rules r;
	char *data = fixture("tryton.log", &len);
	static const size_t chunks[] = {1, 7, 333, 1 << 20};
	(void)state;

	preset_rules(&r, "tryton");
	for (size_t c = 0; c < EP_ARRAY_SIZE(chunks); c++) {
		struct probe_log_scanner sc;
		const struct probe_log_sig *top[10];
		assert_int_equal(probe_log_scanner_init(&sc, &r), 0);
		scan_in_chunks(&sc, data, len, chunks[c]);
		assert_int_equal(probe_log_sigtab_top(&sc.sigs, top, 10), 2);
		assert_string_equal(
			top[0]->signature,
			"[KeyError] <class '<v>'>.read(*([<n>], ['<v>'], {}), **{}) from "
			"admin@<ip>/test/");
		assert_string_equal(
			top[1]->signature,
			"[ValueError] <class '<v>'>.read(*([<n>], ['<v>'], {}, <n>, <n>), "
			"**{}) from admin@<ip>/test/");
		probe_log_scanner_free(&sc);
	}
	probe_log_rules_free(&r);
	free(data);
}

/* A partial last line is not consumed; completed, it counts once. */
static void test_partial_line(void **state)
{
	struct probe_log_rules r;
	struct probe_log_scanner sc;
	char err[128];
	const char *a = "x ERROR one\ny ERROR tw";
	(void)state;

	probe_log_rules_init(&r);
	assert_int_equal(probe_log_regex_compile(&r.error, DEFAULT_ERROR, err, sizeof(err)), 0);
	assert_int_equal(probe_log_rules_finish(&r, err, sizeof(err)), 0);
	assert_int_equal(probe_log_scanner_init(&sc, &r), 0);
	assert_int_equal(probe_log_scan(&sc, a, strlen(a)), 12);
	assert_int_equal(sc.counts.records[PROBE_LOG_ERROR], 1);
	assert_int_equal(probe_log_scan(&sc, "y ERROR two\n", 12), 12);
	assert_int_equal(sc.counts.records[PROBE_LOG_ERROR], 2);
	assert_int_equal(sc.counts.lines, 2);
	probe_log_scanner_free(&sc);
	probe_log_rules_free(&r);
}

/* A match that runs over a newline does not make either line an error; a
 * literal pattern goes through memmem. */
static void test_error_pattern_edges(void **state)
{
	struct probe_log_rules r;
	struct probe_log_scanner sc;
	char err[128];
	const char *in = "ERROR\nX\nan ERROR X here\nno\n";
	(void)state;

	probe_log_rules_init(&r);
	assert_int_equal(probe_log_regex_compile(&r.error, "ERROR\\s+X", err, sizeof(err)), 0);
	assert_int_equal(r.error.n_literals, 0);
	assert_int_equal(probe_log_rules_finish(&r, err, sizeof(err)), 0);
	assert_int_equal(probe_log_scanner_init(&sc, &r), 0);
	probe_log_scan(&sc, in, strlen(in));
	assert_int_equal(sc.counts.records[PROBE_LOG_ERROR], 1);
	assert_int_equal(sc.counts.records[PROBE_LOG_UNKNOWN], 3);
	probe_log_scanner_free(&sc);
	probe_log_rules_free(&r);

	probe_log_rules_init(&r);
	assert_int_equal(probe_log_regex_compile(&r.error, "Exception", err, sizeof(err)), 0);
	assert_int_equal(r.error.n_literals, 1);
	assert_int_equal(probe_log_rules_finish(&r, err, sizeof(err)), 0);
	assert_int_equal(probe_log_scanner_init(&sc, &r), 0);
	in = "Exception\nxException\nExcept\nion\nException";
	assert_int_equal(probe_log_scan(&sc, in, strlen(in)), strlen(in) - 9);
	assert_int_equal(sc.counts.records[PROBE_LOG_ERROR], 2);
	assert_int_equal(sc.counts.records[PROBE_LOG_UNKNOWN], 2);
	probe_log_scanner_free(&sc);
	probe_log_rules_free(&r);
}

/* A 5 MiB line is counted once, on its prefix, in bounded memory, whatever
 * the read size; its sample is cut. */
static void test_long_line(void **state)
{
	struct probe_log_rules r;
	char err[128];
	size_t big = 5 * 1024 * 1024;
	size_t len = big + 64;
	char *data = malloc(len);
	static const size_t chunks[] = {4096, 65536, 1 << 20};
	(void)state;

	assert_non_null(data);
	size_t n = (size_t)snprintf(data, 64, "2026-11-26 ERROR huge password=x ");
	memset(data + n, 'y', big - n);
	data[big] = '\n';
	memcpy(data + big + 1, "2026-11-26 INFO fine\n", 21);
	len = big + 22;
	probe_log_rules_init(&r);
	assert_int_equal(probe_log_regex_compile(&r.error, DEFAULT_ERROR, err, sizeof(err)), 0);
	assert_int_equal(probe_log_rules_finish(&r, err, sizeof(err)), 0);
	for (size_t c = 0; c < EP_ARRAY_SIZE(chunks); c++) {
		struct probe_log_scanner sc;
		const struct probe_log_sig *top[1];
		assert_int_equal(probe_log_scanner_init(&sc, &r), 0);
		scan_in_chunks(&sc, data, len, chunks[c]);
		assert_int_equal(sc.counts.records[PROBE_LOG_ERROR], 1);
		assert_int_equal(sc.counts.records[PROBE_LOG_UNKNOWN], 1);
		assert_int_equal(sc.counts.long_lines, 1);
		assert_int_equal(sc.counts.bytes, len);
		assert_int_equal(probe_log_sigtab_top(&sc.sigs, top, 1), 1);
		assert_true(strlen(top[0]->sample) < PROBE_LOG_SAMPLE_MAX);
		assert_non_null(strstr(top[0]->sample, "password=***"));
		assert_string_equal(top[0]->sample + strlen(top[0]->sample) - 3, "...");
		probe_log_scanner_free(&sc);
	}
	probe_log_rules_free(&r);
	free(data);
}

/* Binary garbage, NUL bytes and invalid UTF-8: nothing breaks, every line is
 * either a record or a continuation, signatures stay valid UTF-8. */
static void test_garbage(void **state)
{
	struct probe_log_rules r;
	struct probe_log_scanner sc;
	size_t len = 1 << 20;
	unsigned char *data = malloc(len);
	uint32_t x = 12345;
	const struct probe_log_sig *top[10];
	(void)state;

	assert_non_null(data);
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245 + 12345;
		data[i] = (unsigned char)(x >> 16);
		if (i % 97 == 0)
			memcpy(data + i, "ERROR", i + 5 < len ? 5 : 0);
	}
	preset_rules(&r, "java");
	assert_int_equal(probe_log_scanner_init(&sc, &r), 0);
	scan_in_chunks(&sc, (const char *)data, len, 8192);
	uint64_t recs = 0;
	for (int l = 0; l < PROBE_LOG_N_LEVELS; l++)
		recs += sc.counts.records[l];
	assert_int_equal(recs + sc.counts.continuation, sc.counts.lines);
	size_t n = probe_log_sigtab_top(&sc.sigs, top, 10);
	for (size_t i = 0; i < n; i++) {
		assert_true(ep_utf8_valid(top[i]->signature, strlen(top[i]->signature)));
		assert_true(ep_utf8_valid(top[i]->sample, strlen(top[i]->sample)));
	}
	probe_log_scanner_free(&sc);
	probe_log_rules_free(&r);
	free(data);
}

static void test_levels(void **state)
{
	struct probe_log_rules r;
	char err[256];
	enum probe_log_level l;
	(void)state;

	probe_log_rules_init(&r);
	assert_int_equal(probe_log_rules_add_level(&r, "E=error", err, sizeof(err)), 0);
	assert_int_equal(probe_log_rules_add_level(&r, "INFO=warning", err, sizeof(err)), 0);
	assert_int_equal(probe_log_rules_add_level(&r, "bogus", err, sizeof(err)), -EINVAL);
	assert_int_equal(probe_log_rules_add_level(&r, "X=loud", err, sizeof(err)), -EINVAL);
	assert_int_equal(probe_log_level_parse("critical", &l), 0);
	assert_int_equal(l, PROBE_LOG_CRITICAL);
	assert_int_equal(probe_log_regex_compile(&r.header, "^(?<level>\\w+) (?<message>.*)", err,
						 sizeof(err)),
			 0);
	assert_int_equal(probe_log_rules_finish(&r, err, sizeof(err)), 0);
	struct probe_log_scanner sc;
	assert_int_equal(probe_log_scanner_init(&sc, &r), 0);
	const char *in = "E boom\ninfo chatty\nZZ what\n";
	probe_log_scan(&sc, in, strlen(in));
	assert_int_equal(sc.counts.records[PROBE_LOG_ERROR], 1);
	assert_int_equal(sc.counts.records[PROBE_LOG_WARNING], 1);
	assert_int_equal(sc.counts.records[PROBE_LOG_UNKNOWN], 1);
	probe_log_scanner_free(&sc);
	probe_log_rules_free(&r);
	/* a bad pattern is a clear error */
	struct probe_log_regex rx;
	assert_int_equal(probe_log_regex_compile(&rx, "(unclosed", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "(unclosed"));
}

/* The native fast paths agree with PCRE2: the literal-set scan finds the
 * first occurrence; the anchored prefix decides exactly when it is the
 * whole pattern and never rejects a line PCRE2 accepts. */
static void test_fast_paths(void **state)
{
	struct probe_log_regex rx;
	char err[256];
	size_t ml = 0;
	pcre2_match_data *md = pcre2_match_data_create(4, NULL);
	(void)state;

	assert_int_equal(
		probe_log_regex_compile(&rx, "ERROR|FATAL|CRITICAL|Exception", err, sizeof(err)),
		0);
	assert_int_equal(rx.n_literals, 4);
	const char *t =
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxEREREFATALxxxxxxxxxxxxxxxxxxxxxxxxxxException";
	const char *hit = probe_log_literals_find(&rx, t, t + strlen(t), &ml);
	assert_non_null(hit);
	assert_int_equal(hit - t, 39);
	assert_int_equal(ml, 5);
	hit = probe_log_literals_find(&rx, t, t + 43, &ml); /* FATAL cut by the end */
	assert_null(hit);
	probe_log_regex_free(&rx);

	static const char *const pats[] = {
		"^\\d{4}-\\d\\d-\\d\\d",
		"^\\d+ x",
		"^[A-Z][a-z]+:",
		"^\\[\\d{2}\\]",
		"^a.b$",
		"^(x|y)",
		"^x|^y",
		"^[^ ]{3} ",
		"^\\s*at ",
		"^\\w{2,}\\.",
		"^ab?c",
	};
	static const char *const lines[] = {
		"2026-11-26 x",
		"2026-1-26",
		"12 x",
		"12x",
		"Error: x",
		"error: x",
		"[42] ok",
		"[4] no",
		"axb",
		"axbc",
		"x",
		"y",
		"abc d",
		"ab d",
		"   at x",
		"at x",
		"ab.c",
		"a.c",
		"ac",
		"abc",
		"",
		"\xff\xfe",
		/* 32 bytes or more: the SIMD range check of the prefix */
		"2026-11-26 x, with enough text after it for 32 bytes",
		"2026-11-2a x, with enough text after it for 32 bytes",
		"2026/11-26 x, with enough text after it for 32 bytes",
		"Error: x, with enough text after it for 32 bytes",
		"error: x, with enough text after it for 32 bytes",
		"[42] ok, with enough text after it for 32 bytes",
		"\xb2\xb0\xb2\xb6-11-26 x, bytes above 0x80 for 32 bytes",
	};
	for (size_t p = 0; p < EP_ARRAY_SIZE(pats); p++) {
		assert_int_equal(probe_log_regex_compile(&rx, pats[p], err, sizeof(err)), 0);
		for (size_t l = 0; l < EP_ARRAY_SIZE(lines); l++) {
			int rc = pcre2_match(rx.code, (PCRE2_SPTR)lines[l], strlen(lines[l]), 0, 0,
					     md, NULL);
			bool fast = probe_log_regex_line(&rx, lines[l], strlen(lines[l]), md, NULL);
			if (fast != (rc > 0))
				fail_msg("pattern '%s' line '%s': native %d, pcre2 %d", pats[p],
					 lines[l], fast, rc);
		}
		probe_log_regex_free(&rx);
	}
	assert_int_equal(probe_log_regex_compile(&rx, "^\\d{4}-\\d\\d", err, sizeof(err)), 0);
	assert_true(rx.prefix_exact);
	assert_int_equal(rx.prefix_len, 7);
	assert_true(rx.prefix_ranges); /* each position one byte range */
	probe_log_regex_free(&rx);
	pcre2_match_data_free(md);
}

/* The native matcher (a "^" and single-byte atoms, "+" runs, a level
 * group) gives PCRE2's answer, match end and level group on every line, and
 * takes the patterns it can decide exactly, only those. */
static void test_native(void **state)
{
	struct probe_log_regex rx;
	char err[256];
	pcre2_match_data *md = pcre2_match_data_create(8, NULL);
	(void)state;

	static const struct {
		const char *pat;
		bool native;
	} pats[] = {
		{"^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d,\\d{3} \\d+ (?<level>[A-Z]+) \\S+ ",
		 true},
		{"^\\d\\d[-:](?<level>[A-Z]+) \\w+[.:]\\S+", true},
		{"^(?<level>[a-zA-Z]+):", true},
		{"^\\[\\d+\\] \\S+", true},
		{"^\\d+\\d", false}, /* "+" followed by bytes it takes */
		{"^\\w+\\d", false},
		{"^\\S+ \\S+$", false},      /* '$' */
		{"^a*b", false},             /* '*' */
		{"^\\d+? x", false},         /* lazy */
		{"^(?<lvl>[A-Z]+) ", false}, /* another group */
		{"^x|^y", false},
		{"\\d+ x", false}, /* not anchored */
	};
	static const char *const lines[] = {
		"2026-11-26 21:42:02,123 4242 ERROR erpdb odoo.http: Exception during request",
		"2026-11-26 21:42:02,123 4242 ERROR erpdb",
		"2026-11-26 21:42:02,123 4242 ERROR erpdb ",
		"2026-11-26 21:42:02,123  4242 INFO erpdb x: y",
		"2026-11-26 21:42:02,123 4242 info erpdb x: y",
		"2026-11-26 21:42:02,12 4242 INFO erpdb x: yyyyyyyyyyyyyyyyyyyyyyyyyyyy",
		"12-ERROR abc.def:xyz and more text after it, long enough for SIMD",
		"12:WARN a:b",
		"12-ERRORx abc.def:xyz",
		"12-ERROR abc.def:",
		"12-ERROR abc def:xyz",
		"Warning: disk",
		"[42] ok",
		"[42]ok",
		"[] x",
		"123 x",
		"",
		"\xff\xfe\x80 garbage \x01",
		"   at x",
	};
	for (size_t p = 0; p < EP_ARRAY_SIZE(pats); p++) {
		assert_int_equal(probe_log_regex_compile(&rx, pats[p].pat, err, sizeof(err)), 0);
		if (rx.native != pats[p].native)
			fail_msg("pattern '%s': native %d, want %d", pats[p].pat, rx.native,
				 pats[p].native);
		int lg = pcre2_substring_number_from_name(rx.code, (PCRE2_SPTR) "level");
		for (size_t l = 0; l < EP_ARRAY_SIZE(lines) && rx.native; l++) {
			size_t n = strlen(lines[l]), e = 0, gs = 0, ge = 0;
			int rc = pcre2_match(rx.code, (PCRE2_SPTR)lines[l], n, 0, 0, md, NULL);
			bool a = probe_log_native_match(&rx, lines[l], n, &e, &gs, &ge);
			if (a != (rc > 0))
				fail_msg("pattern '%s' line '%s': native %d, pcre2 %d", pats[p].pat,
					 lines[l], a, rc);
			if (!a)
				continue;
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
			assert_int_equal(ov[1], e);
			if (lg > 0) {
				assert_int_equal(ov[2 * lg], gs);
				assert_int_equal(ov[2 * lg + 1], ge);
			}
		}
		probe_log_regex_free(&rx);
	}
	/* the odoo preset's header takes the native matcher */
	struct probe_log_rules r;
	preset_rules(&r, "odoo");
	assert_true(r.header.native);
	assert_true(r.header.message_to_end);
	probe_log_rules_free(&r);
	pcre2_match_data_free(md);
}

/* Pseudo-random logs (error words, tracebacks, CRs, over-long lines, no
 * final newline) in random pieces: the fast paths (one pass for literals and
 * line counts, native header) give exactly the counts and signatures of the
 * line-by-line path with PCRE2 for everything. */
static void test_fast_equals_lines(void **state)
{
	static const char *const parts[] = {
		"2026-11-26 21:42:02,123 4242 INFO erpdb werkzeug: 10.0.0.1 GET /web 200\n",
		"2026-11-26 21:42:02,123 4242 ERROR erpdb odoo.http: Exception during request\n",
		"2026-11-26 21:42:03,001 17 CRITICAL erpdb odoo.sql_db: bad query id=42\n",
		"2026-11-26 21:42:03,001 17 WARNING erpdb odoo.models: slow 300 ms\r\n",
		"Traceback (most recent call last):\n",
		"  File \"/usr/lib/python3/odoo/http.py\", line 1589, in _serve_db\n",
		"psycopg2.errors.SerializationFailure: could not serialize access\n",
		"plain line with FATAL inside\n",
		"ERRO R split, Exceptio n split, FATA\n",
		"\n",
		"x",
		"EXCEPTION Exception ExceptionException\n",
	};
	char err[256];
	struct probe_log_rules fast[3], slow[3];
	(void)state;

	for (int i = 0; i < 3; i++)
		probe_log_rules_init(&fast[i]);
	assert_int_equal(probe_log_regex_compile(&fast[0].error, DEFAULT_ERROR, err, sizeof(err)),
			 0);
	fast[0].max_line = 300;
	assert_int_equal(probe_log_rules_finish(&fast[0], err, sizeof(err)), 0);
	assert_int_equal(probe_log_regex_compile(&fast[1].error, DEFAULT_ERROR, err, sizeof(err)),
			 0);
	assert_int_equal(probe_log_regex_compile(&fast[1].record_start, "^\\d{4}-\\d\\d-\\d\\d",
						 err, sizeof(err)),
			 0);
	fast[1].multiline = true;
	fast[1].max_line = 256;
	assert_int_equal(probe_log_rules_finish(&fast[1], err, sizeof(err)), 0);
	preset_rules(&fast[2], "odoo");
	fast[2].max_line = 400;
	assert_int_equal(probe_log_rules_finish(&fast[2], err, sizeof(err)), 0);
	for (int i = 0; i < 3; i++) {
		slow[i] = fast[i];
		slow[i].no_fast_path = true;
		slow[i].no_native = true;
	}

	size_t cap = 1 << 20, len = 0;
	char *data = malloc(cap);
	assert_non_null(data);
	uint32_t seed = 12345;
	for (int round = 0; round < 40; round++) {
		len = 0;
		while (len < cap - 4096) {
			seed = seed * 1103515245u + 12345u;
			uint32_t k = (seed >> 8) % 100;
			const char *piece;
			if (k < 55)
				piece = parts[0];
			else if (k < 95)
				piece = parts[1 + k % (EP_ARRAY_SIZE(parts) - 1)];
			else {
				/* an over-long line, sometimes holding an error word */
				size_t n = 200 + (seed >> 4) % 600;
				memset(data + len, 'a' + (int)(k % 3), n);
				if (k % 2)
					memcpy(data + len + n - 10, "ERROR", 5);
				len += n;
				data[len++] = '\n';
				continue;
			}
			size_t n = strlen(piece);
			memcpy(data + len, piece, n);
			len += n;
		}
		size_t chunk = 1 + (seed >> 3) % 70000;
		for (int i = 0; i < 3; i++) {
			struct probe_log_scanner a, b;
			assert_int_equal(probe_log_scanner_init(&a, &fast[i]), 0);
			assert_int_equal(probe_log_scanner_init(&b, &slow[i]), 0);
			scan_in_chunks(&a, data, len, chunk);
			scan_in_chunks(&b, data, len, len);
			if (memcmp(&a.counts, &b.counts, sizeof(a.counts)) != 0)
				fail_msg("rules %d round %d: fast and line-by-line counts differ",
					 i, round);
			assert_true(a.counts.records[PROBE_LOG_ERROR] > 0);
			assert_int_equal(a.sigs.n, b.sigs.n);
			const struct probe_log_sig *ta[10], *tb[10];
			size_t na = probe_log_sigtab_top(&a.sigs, ta, 10);
			assert_int_equal(probe_log_sigtab_top(&b.sigs, tb, 10), na);
			for (size_t s = 0; s < na; s++) {
				assert_string_equal(ta[s]->signature, tb[s]->signature);
				assert_int_equal(ta[s]->count, tb[s]->count);
				assert_string_equal(ta[s]->sample, tb[s]->sample);
			}
			probe_log_scanner_free(&a);
			probe_log_scanner_free(&b);
		}
	}
	free(data);
	for (int i = 0; i < 3; i++)
		probe_log_rules_free(&fast[i]);
}

/* Real trytond output read with preset odoo: no line fits (all were counted
 * as continuation lines before), the sample is the first line; with preset
 * tryton the record lines fit. */
static void test_tryton_with_odoo(void **state)
{
	size_t len;
	char *data = fixture("tryton.log", &len);
	struct probe_log_rules odoo, tryton;
	struct probe_log_fit fit;

	(void)state;
	preset_rules(&odoo, "odoo");
	preset_rules(&tryton, "tryton");
	assert_true(probe_log_has_layout(&odoo));
	assert_int_equal(probe_log_fit(&odoo, data, len, &fit), 0);
	assert_int_equal(fit.lines, 63);
	assert_int_equal(fit.format_lines, 0);
	assert_true(probe_log_mismatch(fit.lines, fit.format_lines, PROBE_LOG_CHECK_MIN_LINES));
	assert_false(probe_log_mismatch(fit.lines, fit.format_lines, 100)); /* too few lines */
	assert_string_equal(fit.unmatched, "Sun Dec 06 14:00:20 2026] INFO:server:using log.conf "
					   "as logging configuration file");
	assert_int_equal(probe_log_fit(&tryton, data, len, &fit), 0);
	assert_int_equal(fit.format_lines, 40);
	assert_string_equal(fit.unmatched, "Traceback (most recent call last):");
	assert_false(probe_log_mismatch(fit.lines, fit.format_lines, 10));

	double pct = 0;
	const struct probe_log_preset *p =
		probe_log_best_preset(data, len, PROBE_LOG_CHECK_MIN_LINES, &pct);
	assert_non_null(p);
	assert_string_equal(p->name, "tryton");
	assert_true(pct > 63.0 && pct < 64.0); /* 40 of 63 */
	free(data);
	data = fixture("tryton-upstream.log", &len);
	p = probe_log_best_preset(data, len, PROBE_LOG_CHECK_MIN_LINES, &pct);
	assert_non_null(p);
	assert_string_equal(p->name, "tryton");
	free(data);
	probe_log_rules_free(&odoo);
	probe_log_rules_free(&tryton);
}

/* Each preset fits its own fixture and is the best fit for it. */
static void test_presets_fit_their_logs(void **state)
{
	static const char *const names[] = {"odoo", "erpnext", "postgresql", "mariadb", "java"};
	(void)state;
	for (size_t i = 0; i < EP_ARRAY_SIZE(names); i++) {
		char fn[64];
		size_t len;
		double pct;
		snprintf(fn, sizeof(fn), "%s.log", names[i]);
		char *data = fixture(fn, &len);
		/* (the mariadb fixture has 9 lines) */
		const struct probe_log_preset *p = probe_log_best_preset(data, len, 5, &pct);
		assert_non_null(p);
		assert_string_equal(p->name, names[i]);
		free(data);
	}
}

/* The sample of a line that does not fit masks secrets as signatures do,
 * and is bounded. */
static void test_unmatched_sample(void **state)
{
	struct probe_log_rules odoo;
	struct probe_log_fit fit;
	char in[2048];
	(void)state;
	preset_rules(&odoo, "odoo");
	int n = snprintf(in, sizeof(in), "  indented first\nconnect password=hunter2 %0900d\n", 7);
	assert_int_equal(probe_log_fit(&odoo, in, (size_t)n, &fit), 0);
	assert_int_equal(fit.lines, 2);
	assert_null(strstr(fit.unmatched, "hunter2"));
	assert_non_null(strstr(fit.unmatched, "connect password="));
	assert_true(strlen(fit.unmatched) < sizeof(fit.unmatched));
	/* no layout: nothing to mismatch */
	struct probe_log_rules plain;
	char err[128];
	probe_log_rules_init(&plain);
	assert_int_equal(probe_log_rules_finish(&plain, err, sizeof(err)), 0);
	assert_false(probe_log_has_layout(&plain));
	probe_log_rules_free(&plain);
	probe_log_rules_free(&odoo);
}

static void test_line_time(void **state)
{
	int64_t t0, t1;
	(void)state;
#define T(s, ok, out) assert_int_equal(probe_log_line_time(s, strlen(s), out), ok)
	T("2026-12-06 13:46:40,123 4242 ERROR db x: y", true, &t0);
	T("Sun Dec 06 13:46:41 2026] ERROR:trytond:x", true, &t1);
	assert_int_equal(t1 - t0, 877);
	T("24525 140694912718528 [2026-12-06 14:00:41,037] ERROR x", true, &t1);
	assert_int_equal(t1 - t0, 14 * 60 * 1000 + 914);
	T("[2026-12-06 13:46:40 +0000] [42] [ERROR] x", true, &t1);
	assert_int_equal(t1 - t0, -123);
	T("2026-12-06T13:46:40.5Z 0 [ERROR]", true, &t1);
	T("Mon Jan  5 01:02:03 2026 x", true, &t1);
	T("Traceback (most recent call last):", false, &t1);
	T("2026-13-06 13:46:40 bad month", false, &t1);
	T("2026-12-06 25:46:40 bad hour", false, &t1);
	T("12345", false, &t1);
	T("", false, &t1);
#undef T
}

/* A first run's span: the first and last lines carrying a time, read from
 * the two ends of the region (a 5000-line file: longer than both ends). */
static void test_time_span(void **state)
{
	char path[] = "/tmp/erpulse-test-span.XXXXXX";
	int fd = mkstemp(path);
	int64_t a = 0, b = 0;
	(void)state;

	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	assert_non_null(f);
	fprintf(f, "no time here\n");
	for (int i = 0; i < 5000; i++)
		fprintf(f, "2026-12-06 %02d:%02d:%02d,000 42 INFO db x: line %d\n", 10 + i / 3600,
			i / 60 % 60, i % 60, i);
	fprintf(f, "  File \"x.py\", line 1\n");
	long size = ftell(f);
	fclose(f);
	assert_true(probe_log_time_span(path, 0, (uint64_t)size, &a, &b));
	assert_int_equal(b - a, 4999 * 1000);
	assert_false(probe_log_time_span(path, 0, 13, &a, &b)); /* "no time here" */
	assert_false(probe_log_time_span(path, 5, 5, &a, &b));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_odoo),
		cmocka_unit_test(test_postgresql),
		cmocka_unit_test(test_mariadb),
		cmocka_unit_test(test_java),
		cmocka_unit_test(test_erpnext),
		cmocka_unit_test(test_tryton),
		cmocka_unit_test(test_erp_presets),
		cmocka_unit_test(test_odoo_signatures),
		cmocka_unit_test(test_tryton_signatures),
		cmocka_unit_test(test_partial_line),
		cmocka_unit_test(test_error_pattern_edges),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_fast_paths),
		cmocka_unit_test(test_native),
		cmocka_unit_test(test_fast_equals_lines),
		cmocka_unit_test(test_tryton_with_odoo),
		cmocka_unit_test(test_presets_fit_their_logs),
		cmocka_unit_test(test_unmatched_sample),
		cmocka_unit_test(test_line_time),
		cmocka_unit_test(test_time_span),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
