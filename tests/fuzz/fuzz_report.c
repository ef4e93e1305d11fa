/* libFuzzer target: ep_report_parse (strict JSON + schema) and
 * ep_json_parse_strict on arbitrary bytes. Whatever is accepted must
 * serialize, parse again, compare equal and serialize to the same bytes,
 * which is what the agent's "serialize once, sign, send" relies on. The
 * accept path (yajl, ep_json_parse_fast) must take nothing jansson's parse
 * refuses and build what jansson builds, key order and number types
 * included. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store/store.h"
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

/* The store's hand-written json_dumps(JSON_COMPACT) against jansson's. */
static void check_compact(const json_t *j)
{
	char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY), *got = coll_json_compact(j);
	if (!want || !got || strcmp(want, got) != 0)
		abort();
	free(want);
	free(got);
}

/* coll_store_findings_json against what it replaced: a copy of each finding
 * with its probe's name set, through json_dumps. */
static void check_findings_text(const json_t *report)
{
	json_t *want = json_array(), *p, *f;
	size_t i, k;

	json_array_foreach(json_object_get(report, "probes"), i, p)
	{
		json_array_foreach(json_object_get(p, "findings"), k, f)
		{
			json_t *g = json_copy(f);
			if (!g || json_object_set(g, "probe", json_object_get(p, "name")) < 0 ||
			    json_array_append_new(want, g) < 0)
				abort();
		}
	}
	char *w = json_dumps(want, JSON_COMPACT), *got = coll_store_findings_json(report);
	if (!w || !got || strcmp(w, got) != 0)
		abort();
	free(w);
	free(got);
	json_decref(want);
}

/* ep_json_parse_fast against jansson's own parse with the strict flags. */
static void check_fast(const char *in, size_t size)
{
	json_t *f = NULL;
	if (ep_json_parse_fast(in, size, &f) != 0)
		return;
	json_t *j =
		json_loadb(size ? in : "", size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
	if (!j)
		abort(); /* yajl's path took what jansson refuses */
	char *a = json_dumps(f, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17)),
	     *b = json_dumps(j, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
	if (!a || !b || strcmp(a, b) != 0)
		abort();
	free(a);
	free(b);
	json_decref(f);
	json_decref(j);
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
		check_findings_text(j);
		json_decref(j);
		j = NULL;
	}
	if (ep_json_parse_strict(in, size, EP_REPORT_MAX_BYTES, &j, err, sizeof(err)) == 0) {
		/* anything the strict parser accepts is also valid UTF-8 */
		if (!ep_utf8_valid(in, size))
			abort();
		check_round_trip(j, false);
		check_compact(j);
		json_decref(j);
	}
	check_fast(in, size);
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
