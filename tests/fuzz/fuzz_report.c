/* libFuzzer target: ep_report_parse (strict JSON + schema) and
 * ep_json_parse_strict on arbitrary bytes. Whatever is accepted must
 * serialize, parse again, compare equal and serialize to the same bytes,
 * which is what the agent's "serialize once, sign, send" relies on. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "erpulse/report.h"
#include "erpulse/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_round_trip(const json_t *j, bool report)
{
	char err[256];
	size_t len = 0, len2 = 0;
	char *s, *s2;
	json_t *again = NULL;
	int r;

	s = ep_report_serialize(j, &len);
	if (!s)
		abort();
	/* serializing may lengthen numbers ("1E2" -> "100.0"): the cap of the
	 * first parse does not apply to the second */
	if (report)
		r = ep_report_parse(s, len, len > EP_REPORT_MAX_BYTES ? len : EP_REPORT_MAX_BYTES,
				    &again, err, sizeof(err));
	else
		r = ep_json_parse_strict(s, len,
					 len > EP_REPORT_MAX_BYTES ? len : EP_REPORT_MAX_BYTES,
					 &again, err, sizeof(err));
	if (r != 0) {
		fprintf(stderr, "round trip rejected: %s\n%s\n", err, s);
		abort();
	}
	if (!json_equal(j, again))
		abort();
	s2 = ep_report_serialize(again, &len2);
	if (!s2 || len != len2 || memcmp(s, s2, len) != 0)
		abort();
	free(s);
	free(s2);
	json_decref(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	char err[256];
	json_t *j = NULL;
	char *str;
	time_t t;

	if (ep_report_parse(in, size, EP_REPORT_MAX_BYTES, &j, err, sizeof(err)) == 0) {
		check_round_trip(j, true);
		json_decref(j);
		j = NULL;
	}
	if (ep_json_parse_strict(in, size, EP_REPORT_MAX_BYTES, &j, err, sizeof(err)) == 0) {
		/* anything the strict parser accepts is also valid UTF-8 */
		if (!ep_utf8_valid(in, size))
			abort();
		check_round_trip(j, false);
		json_decref(j);
	}
	/* the date parser the validator uses, on a NUL-terminated copy */
	str = malloc(size + 1);
	if (!str)
		return 0;
	memcpy(str, data, size);
	str[size] = '\0';
	(void)ep_time_parse(str, &t);
	free(str);
	return 0;
}
