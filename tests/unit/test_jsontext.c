/* collector/store/jsontext.c: coll_json_compact and coll_store_findings_json
 * write exactly what jansson's json_dumps(JSON_COMPACT) writes for the same
 * values (the store's texts were json_dumps before they were hand-written). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store/store.h"
#include "erpulse/report.h"

static void assert_same_text(const json_t *j)
{
	char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	char *got = coll_json_compact(j);

	assert_non_null(want);
	assert_non_null(got);
	if (strcmp(want, got) != 0)
		fail_msg("json_dumps: %s\ncoll_json_compact: %s", want, got);
	free(want);
	free(got);
}

static void test_compact_values(void **state)
{
	static const char *const texts[] = {
		"{}",
		"[]",
		"{\"a\":[1,-2,3.5,-0.0,1e300,5e-324,0.1,null,true,false],\"b\":{\"c\":\"d\"}}",
		"[\"quote \\\" backslash \\\\ slash / controls \\b\\f\\n\\r\\t\\u0001\\u001f\"]",
		"{\"\\u00e9t\\u00e9\":\"\\ud83d\\ude00\",\"probe\":\"x\",\"\":\"\"}",
		"[9223372036854775807,-9223372036854775808,12.5,41.07,1e17,1e16,123456789.125]",
		"\"top-level string\"",
		"42",
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		json_t *j = NULL;
		if (ep_json_parse_strict(texts[i], strlen(texts[i]), EP_REPORT_MAX_BYTES, &j, err,
					 sizeof(err)) != 0)
			fail_msg("%s: %s", texts[i], err);
		assert_same_text(j);
		json_decref(j);
	}
	/* reals from random bit patterns: every exponent, every digit count */
	srand(16);
	for (int i = 0; i < 20000; i++) {
		uint64_t bits = 0;
		double d;
		for (int k = 0; k < 4; k++)
			bits = bits << 16 | (uint64_t)(rand() & 0xFFFF);
		memcpy(&d, &bits, sizeof(d));
		if (!isfinite(d))
			continue;
		json_t *r = json_real(d);
		assert_same_text(r);
		json_decref(r);
	}
}

/* The reals %.17g is written for without printf (1e-16 <= |v| < 1e17):
 * every binary exponent of that range, and the doubles next to each power
 * of ten, where the decimal exponent is decided (json_dumps prints them
 * with %.17g: the reference) */
static void test_real_digits(void **state)
{
	uint64_t x = 0x2545F4914F6CDD1Du;
	(void)state;

	for (int i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		int lead = (int)(x % 112) - 54; /* 2^-54 .. 2^57 */
		uint64_t bits = ((uint64_t)(lead + 1023) << 52) | (x >> 12);
		double d;
		memcpy(&d, &bits, sizeof(d));
		json_t *r = json_real(i % 2 ? -d : d);
		assert_same_text(r);
		json_decref(r);
	}
	for (int k = -17; k <= 17; k++) {
		double p = pow(10, k);
		for (int n = -64; n <= 64; n++) {
			double d = p;
			for (int step = 0; step < (n < 0 ? -n : n); step++)
				d = nextafter(d, n < 0 ? 0 : INFINITY);
			json_t *r = json_real(d);
			assert_same_text(r);
			json_decref(r);
		}
	}
}

static void test_findings_text(void **state)
{
	static const char report[] =
		"{\"probes\":[{\"name\":\"postgres\",\"findings\":[{\"kind\":\"index_"
		"fragmentation\","
		"\"value\":12.5,\"threshold\":30,\"message\":\"a \\\"quoted\\\" text\\n\"},"
		"{\"kind\":\"x\",\"probe\":\"spoofed\",\"value\":1}]},{\"name\":\"disk\","
		"\"findings\":[]},{\"name\":\"journal\",\"findings\":[{}]}]}";
	char err[256];
	json_t *j = NULL, *want = json_array(), *p, *f;
	size_t i, k;

	(void)state;
	assert_int_equal(ep_json_parse_strict(report, strlen(report), EP_REPORT_MAX_BYTES, &j, err,
					      sizeof(err)),
			 0);
	/* what the store wrote before: a copy of each finding with its probe's
	 * name set, through json_dumps */
	json_array_foreach(json_object_get(j, "probes"), i, p)
	{
		json_array_foreach(json_object_get(p, "findings"), k, f)
		{
			json_t *g = json_copy(f);
			assert_int_equal(json_object_set(g, "probe", json_object_get(p, "name")),
					 0);
			assert_int_equal(json_array_append_new(want, g), 0);
		}
	}
	char *w = json_dumps(want, JSON_COMPACT), *got = coll_store_findings_json(j);
	assert_non_null(got);
	assert_string_equal(got, w);
	free(w);
	free(got);
	json_decref(want);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compact_values),
		cmocka_unit_test(test_real_digits),
		cmocka_unit_test(test_findings_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
