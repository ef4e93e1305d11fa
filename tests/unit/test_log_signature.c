/* Signature masking and secret masking of sample lines (probes/log/signature.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "erpulse/util.h"
#include "probes/log/signature.h"

static void check_sig(const char *in, const char *want)
{
	char out[PROBE_LOG_SIGNATURE_MAX];
	probe_log_signature(in, strlen(in), out, sizeof(out));
	if (strcmp(out, want) != 0)
		fail_msg("signature of '%s'\n got:  '%s'\n want: '%s'", in, out, want);
}

static void check_sample(const char *in, const char *want)
{
	char out[PROBE_LOG_SAMPLE_MAX];
	probe_log_sample(in, strlen(in), out, sizeof(out));
	if (strcmp(out, want) != 0)
		fail_msg("sample of '%s'\n got:  '%s'\n want: '%s'", in, out, want);
}

static void test_masks(void **state)
{
	(void)state;
	check_sig("request 42 failed after 1.5 s", "request <n> failed after <n> s");
	check_sig("user 17 from 10.0.0.5.", "user <n> from <ip>.");
	check_sig("connect to 192.168.1.20:5432 refused", "connect to <ip> refused");
	check_sig("peer fe80::1ff:fe23:4567:890a gone", "peer <ip> gone");
	check_sig("peer ::1 gone", "peer <ip> gone");
	check_sig("job 3f2504e0-4f89-11d3-9a0c-0305e82c3301 died", "job <uuid> died");
	check_sig("at 0x7ffd1234abcd in libc", "at <hex> in libc");
	check_sig("commit deadbeef42cafe00 rejected", "commit <hex> rejected");
	check_sig("cannot open /var/lib/odoo/filestore/db/ab/cdef: denied",
		  "cannot open <path>: denied");
	check_sig("File \"/opt/odoo/http.py\", line 12", "File \"<v>\", line <n>");
	check_sig("duplicate key 'res_partner_pkey' in table x", "duplicate key '<v>' in table x");
	check_sig("can't connect", "can't connect");
	check_sig("loaded C:\\erp\\bin\\x.dll ok", "loaded <path> ok");
	check_sig("  many   spaces\there  ", "many spaces here");
	check_sig("and/or stays", "and/or stays");
	check_sig("db password=s3cret rejected", "db password=*** rejected");
	check_sig("bad\x01\xff byte", "bad?? byte");
}

static void test_same_signature(void **state)
{
	char a[PROBE_LOG_SIGNATURE_MAX], b[PROBE_LOG_SIGNATURE_MAX];
	const char *x = "Timeout after 3000 ms on 10.1.2.3 for order SO0042 token=abc";
	const char *y = "Timeout after 12 ms on 10.1.2.99 for order SO7 token=zzz";
	(void)state;
	probe_log_signature(x, strlen(x), a, sizeof(a));
	probe_log_signature(y, strlen(y), b, sizeof(b));
	assert_string_equal(a, b);
}

static void test_secrets(void **state)
{
	(void)state;
	check_sample("login password=hunter2 ok", "login password=*** ok");
	check_sample("db_password: \"s3 cret\" next", "db_password: \"***\" next");
	check_sample("{\"api_key\": \"AbC123\", \"x\": 1}", "{\"api_key\": \"***\", \"x\": 1}");
	check_sample("GET /x?access_token=abc&y=2", "GET /x?access_token=***&y=2");
	check_sample("Authorization: Basic dXNlcjpwYXNz", "Authorization: ***");
	check_sample("header authorization=Bearer abc.def", "header authorization=***");
	check_sample("sent Bearer eyJhbGciOi.payload.sig now", "sent Bearer *** now");
	check_sample("url postgresql://odoo:pw123@db:5432/erp",
		     "url postgresql://odoo:***@db:5432/erp");
	check_sample("key AKIAIOSFODNN7EXAMPLE used", "key *** used");
	check_sample("session cookie abcDEF0123456789abcDEF0123456789xyz end",
		     "session cookie *** end");
	check_sample("password is wrong", "password is wrong");
	check_sample("secret=x\n", "secret=***");
}

static void test_bounds(void **state)
{
	size_t n = 5 * 1024 * 1024;
	char *big = malloc(n);
	char out[PROBE_LOG_SAMPLE_MAX], sig[PROBE_LOG_SIGNATURE_MAX];
	(void)state;
	assert_non_null(big);
	memset(big, 'a', n);
	memcpy(big, "\xc3\xa9", 2); /* é, then a cut that must not split a sequence */
	size_t k = probe_log_sample(big, n, out, sizeof(out));
	assert_true(k < sizeof(out));
	assert_string_equal(out + k - 3, "...");
	assert_true(ep_utf8_valid(out, k));
	k = probe_log_signature(big, n, sig, sizeof(sig));
	assert_true(k < sizeof(sig));
	assert_true(ep_utf8_valid(sig, k));
	/* a multi-byte sequence straddling the cut is dropped whole */
	memset(big, 'b', n);
	for (size_t i = 0; i + 2 < 600; i += 3)
		memcpy(big + i, "\xe2\x82\xac", 3); /* € */
	k = probe_log_sample(big, 600, out, sizeof(out));
	assert_true(ep_utf8_valid(out, k));
	free(big);
}

static void test_sigtab(void **state)
{
	struct probe_log_sigtab t = {0};
	const struct probe_log_sig *top[10];
	char line[64];
	(void)state;
	for (int i = 0; i < 30; i++) {
		int len = snprintf(line, sizeof(line), "error %d in A", i);
		assert_int_equal(probe_log_sigtab_add(&t, line, (size_t)len, line, (size_t)len), 0);
	}
	for (int i = 0; i < 5; i++)
		assert_int_equal(probe_log_sigtab_add(&t, "other B", 7, "other B", 7), 0);
	for (int i = 0; i < 2000; i++) {
		int len = snprintf(line, sizeof(line), "distinct%c%c%c", 'a' + i % 26,
				   'a' + (i / 26) % 26, 'a' + (i / 676) % 26);
		probe_log_sigtab_add(&t, line, (size_t)len, line, (size_t)len);
	}
	size_t n = probe_log_sigtab_top(&t, top, 10);
	assert_int_equal(n, 10);
	assert_string_equal(top[0]->signature, "error <n> in A");
	assert_int_equal(top[0]->count, 30);
	assert_string_equal(top[0]->sample, "error 0 in A");
	assert_string_equal(top[1]->signature, "other B");
	assert_int_equal(t.n, PROBE_LOG_SIGTAB_MAX);
	assert_int_equal(t.other, 2 + 2000 - PROBE_LOG_SIGTAB_MAX);
	probe_log_sigtab_free(&t);
}

/* The exception type of a traceback's last line, and "[TYPE] " before a
 * signature, cut at a UTF-8 boundary. */
static void test_exception_type(void **state)
{
	char out[32];
	(void)state;
#define X(s) probe_log_exception_type(s, strlen(s))
	assert_int_equal(X("psycopg2.errors.UniqueViolation: duplicate key value"), 31);
	assert_int_equal(X("trytond.exceptions.UserError: ('x', '')"), 28);
	assert_int_equal(X("KeyError: 'nosuchfield'"), 8);
	assert_int_equal(X("StopIteration"), 13);
	assert_int_equal(X("StopIteration\r"), 13);
	assert_int_equal(X("Traceback (most recent call last):"), 0);
	assert_int_equal(X("  File \"x.py\", line 1"), 0);
	assert_int_equal(X("During handling of the above exception, another occurred:"), 0);
	assert_int_equal(X("2fast: no"), 0);
	assert_int_equal(X("a..b: no"), 0);
	assert_int_equal(X("trailing.: no"), 0);
	assert_int_equal(X(""), 0);
	char longname[200];
	memset(longname, 'a', sizeof(longname));
	assert_int_equal(probe_log_exception_type(longname, sizeof(longname)), 0);
#undef X
	assert_int_equal(probe_log_signature_typed("KeyError", 8, "x <n>", 5, out, sizeof(out)),
			 16);
	assert_string_equal(out, "[KeyError] x <n>");
	assert_int_equal(probe_log_signature_typed(NULL, 0, "x <n>", 5, out, sizeof(out)), 5);
	/* "é" (2 bytes) across the cut: not split */
	size_t n = probe_log_signature_typed("E", 1, "01234567890123456789012345\xc3\xa9", 28, out,
					     sizeof(out));
	assert_int_equal(n, 30);
	assert_string_equal(out, "[E] 01234567890123456789012345");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exception_type), cmocka_unit_test(test_masks),
		cmocka_unit_test(test_same_signature), cmocka_unit_test(test_secrets),
		cmocka_unit_test(test_bounds),         cmocka_unit_test(test_sigtab),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
