/* lib/bundle.c: the erpulse.bundle.v1 lines (docs/protocol.md, "Bundles"):
 * written lines parse back byte for byte, and each malformed line the
 * collector's import will meet is refused with its reason. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "erpulse/bundle.h"

/* 64 bytes 0..63, base64 */
static const char sig[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1"
			  "Njc4OTo7PD0+Pw==";

static int parse(const char *line, struct ep_bundle_line *l, char *err, size_t errlen)
{
	return ep_bundle_parse(line, strlen(line), l, err, errlen);
}

static void test_round_trip(void **state)
{
	/* a body with a NUL, a newline and bytes >= 0x80: base64 carries them all */
	const char body[] = "{\"a\":1}\n\0\xff\xfe tail";
	struct ep_buf out;
	struct ep_bundle_line l;
	char err[256], *nl;

	(void)state;
	ep_buf_init(&out, EP_BUNDLE_LINE_MAX);
	assert_int_equal(ep_bundle_header(&out, "agent-1", 1796562000), 0);
	assert_int_equal(ep_bundle_report(&out, "agent-1", 42, sig, body, sizeof(body)), 0);
	assert_int_equal(ep_bundle_end(&out, 1), 0);

	nl = strchr(out.data, '\n');
	assert_int_equal(ep_bundle_parse(out.data, (size_t)(nl - out.data), &l, err, sizeof(err)),
			 0);
	assert_int_equal(l.kind, EP_BUNDLE_HEADER);
	assert_string_equal(l.agent_id, "agent-1");

	char *line2 = nl + 1;
	nl = strchr(line2, '\n');
	assert_int_equal(ep_bundle_parse(line2, (size_t)(nl - line2), &l, err, sizeof(err)), 0);
	assert_int_equal(l.kind, EP_BUNDLE_REPORT);
	assert_int_equal(l.seq, 42);
	assert_string_equal(l.signature, sig);
	assert_int_equal(l.len, sizeof(body));
	assert_memory_equal(l.body, body, sizeof(body));
	ep_bundle_line_free(&l);

	char *line3 = nl + 1;
	nl = strchr(line3, '\n');
	assert_non_null(nl);
	assert_int_equal(nl[1], '\0'); /* three lines, each ending in '\n' */
	assert_int_equal(ep_bundle_parse(line3, (size_t)(nl - line3), &l, err, sizeof(err)), 0);
	assert_int_equal(l.kind, EP_BUNDLE_END);
	assert_int_equal(l.reports, 1);
	ep_buf_free(&out);
}

static void refused(const char *line, const char *why)
{
	struct ep_bundle_line l;
	char err[256] = "";

	assert_int_equal(parse(line, &l, err, sizeof(err)), -EBADMSG);
	if (!strstr(err, why))
		fail_msg("'%s': got '%s', want '%s'", line, err, why);
	assert_null(l.body);
}

static void test_refused(void **state)
{
	char line[512];

	(void)state;
	refused("", "not a JSON object");
	refused("[1]", "not a JSON object");
	refused("{\"format\":\"erpulse.bundle.v2\",\"agent_id\":\"a\"}", "format");
	refused("{\"format\":\"erpulse.bundle.v1\"}", "header: missing or invalid agent_id");
	refused("{\"format\":\"erpulse.bundle.v1\",\"agent_id\":\"../x\"}", "agent_id");
	refused("{\"end\":true}", "end: missing or invalid reports");
	refused("{\"end\":true,\"reports\":-1}", "end: missing or invalid reports");
	snprintf(line, sizeof(line),
		 "{\"agent_id\":\"a\",\"seq\":0,\"signature\":\"%s\",\"body\":\"e30=\"}", sig);
	refused(line, "seq");
	snprintf(line, sizeof(line),
		 "{\"agent_id\":\"a\",\"seq\":\"1\",\"signature\":\"%s\",\"body\":\"e30=\"}", sig);
	refused(line, "seq");
	snprintf(line, sizeof(line),
		 "{\"agent_id\":\"a\",\"seq\":9223372036854775807,\"signature\":\"%s\","
		 "\"body\":\"e30=\"}",
		 sig);
	refused(line, "seq");
	refused("{\"agent_id\":\"a\",\"seq\":1,\"signature\":\"AAAA\",\"body\":\"e30=\"}",
		"signature");
	snprintf(line, sizeof(line),
		 "{\"agent_id\":\"a\",\"seq\":1,\"signature\":\"%s\",\"body\":\"e30\"}", sig);
	refused(line, "body is not base64");
	snprintf(line, sizeof(line), "{\"agent_id\":\"a\",\"seq\":1,\"signature\":\"%s\"}", sig);
	refused(line, "missing body");
	snprintf(line, sizeof(line),
		 "{\"agent_id\":\"a\\u0001\",\"seq\":1,\"signature\":\"%s\",\"body\":\"e30=\"}",
		 sig);
	refused(line, "agent_id");
	/* a duplicate key could hide a second body */
	snprintf(line, sizeof(line),
		 "{\"agent_id\":\"a\",\"seq\":1,\"signature\":\"%s\",\"body\":\"e30=\","
		 "\"body\":\"e30=\"}",
		 sig);
	refused(line, "not a JSON object");
}

static void test_too_long(void **state)
{
	size_t n = EP_BUNDLE_LINE_MAX + 1;
	char *big = malloc(n);
	struct ep_bundle_line l;
	char err[128];

	(void)state;
	assert_non_null(big);
	memset(big, ' ', n);
	assert_int_equal(ep_bundle_parse(big, n, &l, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "line too long");
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_too_long),
	};

	return cmocka_run_group_tests_name("bundle", tests, NULL, NULL);
}
