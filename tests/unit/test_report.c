/* lib/report.c and lib/report_parse.c: the builder over fixture roots
 * (tests/fixtures/report/), serialize -> strict parse -> validate round
 * trips, every schema rule, the parser's limits, the accept path (yajl)
 * held to jansson's parse, and the whole JSONTestSuite corpus
 * (../shared/testdata/JSONTestSuite relative to the repository). */
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cmocka.h>

#include "erpulse/report.h"
#include "erpulse/util.h"

#define AGENT_ID "9f2c0000000000000000000000000001"

static const char *srcdir(void)
{
	const char *s = getenv("ERPULSE_SRCDIR");

	return s && *s ? s : ".";
}

static void fixture(const char *name, char *out, size_t size)
{
	snprintf(out, size, "%s/tests/fixtures/report/%s", srcdir(), name);
}

/* ---- names ---- */

static void test_names(void **state)
{
	enum ep_severity s;

	(void)state;
	assert_string_equal(ep_probe_status_name(EP_STATUS_OK), "ok");
	assert_string_equal(ep_probe_status_name(EP_STATUS_ERROR), "error");
	assert_string_equal(ep_probe_status_name(EP_STATUS_SKIPPED), "skipped");
	assert_string_equal(ep_severity_name(EP_SEV_INFO), "info");
	assert_string_equal(ep_severity_name(EP_SEV_WARNING), "warning");
	assert_string_equal(ep_severity_name(EP_SEV_CRITICAL), "critical");
	assert_int_equal(ep_severity_parse("info", &s), 0);
	assert_int_equal(s, EP_SEV_INFO);
	assert_int_equal(ep_severity_parse("critical", &s), 0);
	assert_int_equal(s, EP_SEV_CRITICAL);
	assert_int_equal(ep_severity_parse("warning", &s), 0);
	assert_int_equal(s, EP_SEV_WARNING);
	assert_int_equal(ep_severity_parse("Warning", &s), -EINVAL);
	assert_int_equal(ep_severity_parse("warn", &s), -EINVAL);
	assert_int_equal(ep_severity_parse("", &s), -EINVAL);
	assert_int_equal(ep_severity_parse(NULL, &s), -EINVAL);
	assert_int_equal(s, EP_SEV_WARNING);
}

/* ---- builder ---- */

static struct ep_finding sample_finding(void)
{
	struct ep_finding f = {
		.kind = "index_fragmentation",
		.object = "odoo/public.sale_order_pkey",
		.value = 41.5,
		.unit = "%",
		.threshold = 30,
		.severity = EP_SEV_WARNING,
		.method = "pgstatindex",
		.message = "Index is 41.5% wasted space.",
		.remediation = "REINDEX INDEX CONCURRENTLY \"public\".\"sale_order_pkey\";",
	};
	return f;
}

static void test_finding_json(void **state)
{
	struct ep_finding f = sample_finding();
	char msg[] = "mutable message";
	json_t *j;

	(void)state;
	f.message = msg;
	j = ep_finding_json(&f);
	assert_non_null(j);
	msg[0] = 'X'; /* copied, not borrowed */
	assert_string_equal(json_string_value(json_object_get(j, "message")), "mutable message");
	assert_string_equal(json_string_value(json_object_get(j, "kind")), "index_fragmentation");
	assert_string_equal(json_string_value(json_object_get(j, "severity")), "warning");
	assert_true(json_real_value(json_object_get(j, "value")) == 41.5);
	assert_true(json_real_value(json_object_get(j, "threshold")) == 30.0);
	/* the caller may add fields */
	assert_int_equal(json_object_set_new(j, "pages", json_integer(12000)), 0);
	/* the rule's optional parts are absent unless set */
	assert_null(json_object_get(j, "critical_threshold"));
	assert_null(json_object_get(j, "min_size"));
	assert_null(json_object_get(j, "direction"));
	json_decref(j);

	/* the whole rule travels in the finding */
	f = sample_finding();
	f.critical_threshold = 60;
	f.min_size = 1000;
	f.size = 2959;
	f.size_unit = "pages";
	j = ep_finding_json(&f);
	assert_non_null(j);
	assert_true(json_real_value(json_object_get(j, "critical_threshold")) == 60.0);
	assert_true(json_real_value(json_object_get(j, "min_size")) == 1000.0);
	assert_true(json_real_value(json_object_get(j, "size")) == 2959.0);
	assert_string_equal(json_string_value(json_object_get(j, "size_unit")), "pages");
	assert_null(json_object_get(j, "direction"));
	json_decref(j);
	f.below = true;
	j = ep_finding_json(&f);
	assert_string_equal(json_string_value(json_object_get(j, "direction")), "below");
	json_decref(j);

	/* no threshold, no message, no remediation -> null */
	f = sample_finding();
	f.threshold = NAN;
	f.message = NULL;
	f.remediation = NULL;
	j = ep_finding_json(&f);
	assert_non_null(j);
	assert_true(json_is_null(json_object_get(j, "threshold")));
	assert_true(json_is_null(json_object_get(j, "message")));
	assert_true(json_is_null(json_object_get(j, "remediation")));
	json_decref(j);
	f.threshold = INFINITY; /* not representable: also "none" */
	j = ep_finding_json(&f);
	assert_true(json_is_null(json_object_get(j, "threshold")));
	json_decref(j);

	/* refused: non-finite value, missing required strings, bad severity,
	 * invalid UTF-8 */
	static const double bad_values[] = {NAN, INFINITY, -INFINITY};
	for (size_t i = 0; i < EP_ARRAY_SIZE(bad_values); i++) {
		f = sample_finding();
		f.value = bad_values[i];
		assert_null(ep_finding_json(&f));
	}
	f = sample_finding();
	f.kind = NULL;
	assert_null(ep_finding_json(&f));
	f = sample_finding();
	f.object = NULL;
	assert_null(ep_finding_json(&f));
	f = sample_finding();
	f.unit = NULL;
	assert_null(ep_finding_json(&f));
	f = sample_finding();
	f.method = NULL;
	assert_null(ep_finding_json(&f));
	f = sample_finding();
	f.severity = (enum ep_severity)7;
	assert_null(ep_finding_json(&f));
	f = sample_finding();
	f.message = "bad \xc0\x80 bytes";
	assert_null(ep_finding_json(&f));
	assert_null(ep_finding_json(NULL));
}

static void test_host_json(void **state)
{
	struct utsname u;
	char root[1024];
	json_t *h;

	(void)state;
	assert_int_equal(uname(&u), 0);

	fixture("debian12", root, sizeof(root));
	h = ep_report_host_json(root);
	assert_non_null(h);
	assert_string_equal(json_string_value(json_object_get(h, "hostname")), u.nodename);
	assert_string_equal(json_string_value(json_object_get(h, "kernel")), u.release);
	assert_string_equal(json_string_value(json_object_get(h, "os")),
			    "Debian GNU/Linux 12 (bookworm)");
	assert_true(json_integer_value(json_object_get(h, "uptime_s")) == 123456);
	assert_int_equal(json_object_size(h), 4);
	json_decref(h);

	/* a trailing slash on the root changes nothing */
	fixture("debian12/", root, sizeof(root));
	h = ep_report_host_json(root);
	assert_string_equal(json_string_value(json_object_get(h, "os")),
			    "Debian GNU/Linux 12 (bookworm)");
	json_decref(h);

	/* quoting, escapes, look-alike keys */
	fixture("quoted", root, sizeof(root));
	h = ep_report_host_json(root);
	assert_string_equal(json_string_value(json_object_get(h, "os")),
			    "Rocky \"Blue Onyx\" Linux 9.3");
	assert_true(json_integer_value(json_object_get(h, "uptime_s")) == 42);
	json_decref(h);

	/* /usr/lib/os-release fallback, NAME without PRETTY_NAME, no uptime */
	fixture("usrlib", root, sizeof(root));
	h = ep_report_host_json(root);
	assert_string_equal(json_string_value(json_object_get(h, "os")), "Alpine");
	assert_true(json_is_null(json_object_get(h, "uptime_s")));
	json_decref(h);

	/* nothing there at all: nulls, hostname and kernel still from uname */
	fixture("does-not-exist", root, sizeof(root));
	h = ep_report_host_json(root);
	assert_non_null(h);
	assert_true(json_is_null(json_object_get(h, "os")));
	assert_true(json_is_null(json_object_get(h, "uptime_s")));
	assert_string_equal(json_string_value(json_object_get(h, "hostname")), u.nodename);
	json_decref(h);

	/* the real machine */
	h = ep_report_host_json("/");
	assert_non_null(h);
	assert_true(json_integer_value(json_object_get(h, "uptime_s")) > 0);
	if (access("/etc/os-release", R_OK) == 0 || access("/usr/lib/os-release", R_OK) == 0)
		assert_true(json_is_string(json_object_get(h, "os")));
	json_decref(h);
}

static json_t *fixed_host(void)
{
	return json_pack("{s:s, s:s, s:s, s:i}", "hostname", "erp01", "os",
			 "Debian GNU/Linux 12 (bookworm)", "kernel", "6.1.0-26-amd64", "uptime_s",
			 123456);
}

static void test_serialize_exact(void **state)
{
	struct ep_finding f = sample_finding();
	json_t *rep, *findings;
	char *s;
	size_t len = 0;
	const char *expect =
		"{\"agent_id\":\"" AGENT_ID "\",\"agent_version\":\"" EP_VERSION "\","
		"\"dropped_reports\":2,\"generated_at\":\"2026-11-26T21:42:02Z\","
		"\"host\":{\"hostname\":\"erp01\",\"kernel\":\"6.1.0-26-amd64\","
		"\"os\":\"Debian GNU/Linux 12 (bookworm)\",\"uptime_s\":123456},"
		"\"interval_s\":300,\"probes\":[{\"duration_ms\":812,\"error\":null,"
		"\"findings\":[{\"kind\":\"index_fragmentation\","
		"\"message\":\"Index is 41.5% wasted space.\",\"method\":\"pgstatindex\","
		"\"object\":\"odoo/public.sale_order_pkey\","
		"\"remediation\":\"REINDEX INDEX CONCURRENTLY "
		"\\\"public\\\".\\\"sale_order_pkey\\\";\","
		"\"severity\":\"warning\",\"threshold\":30.0,\"unit\":\"%\",\"value\":41.5}],"
		"\"metrics\":{\"indexes\":12},\"name\":\"postgres\",\"status\":\"ok\","
		"\"target\":\"odoo@/run/postgresql\"}],"
		"\"schema\":\"erpulse.report.v1\",\"seq\":42}";

	(void)state;
	rep = ep_report_new(AGENT_ID, 42, 1795729322, 300, fixed_host(), 2);
	assert_non_null(rep);
	findings = json_array();
	assert_int_equal(json_array_append_new(findings, ep_finding_json(&f)), 0);
	assert_int_equal(ep_report_add_probe(rep, "postgres", "odoo@/run/postgresql", EP_STATUS_OK,
					     NULL, 812, json_pack("{s:i}", "indexes", 12),
					     findings),
			 0);
	s = ep_report_serialize(rep, &len);
	assert_non_null(s);
	assert_string_equal(s, expect);
	assert_int_equal(len, strlen(expect));
	free(s);
	json_decref(rep);
}

/* a report with three probes (ok with findings, error, skipped) */
static json_t *build_report(const char *root)
{
	struct ep_finding f = sample_finding();
	json_t *rep, *findings, *metrics;

	rep = ep_report_new(AGENT_ID, 7, 1795729322, 300, ep_report_host_json(root), 0);
	assert_non_null(rep);
	findings = json_array();
	assert_int_equal(json_array_append_new(findings, ep_finding_json(&f)), 0);
	f.kind = "disk_usage";
	f.object = "/var";
	f.value = 0.1 + 0.2; /* not exactly 0.3: must survive serialization */
	f.threshold = NAN;
	f.severity = EP_SEV_CRITICAL;
	f.message = NULL;
	f.remediation = NULL;
	assert_int_equal(json_array_append_new(findings, ep_finding_json(&f)), 0);
	metrics = json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:[i,i], s:{s:s}}", "indexes", 12,
			    "ratio", 0.1 + 0.2, "tiny", 5e-324, "huge", DBL_MAX, "third", 1.0 / 3,
			    "negzero", -0.0, "list", 1, 2, "nested", "k", "v");
	assert_non_null(metrics);
	assert_int_equal(ep_report_add_probe(rep, "postgres", "odoo@/run/postgresql", EP_STATUS_OK,
					     NULL, 812, metrics, findings),
			 0);
	assert_int_equal(ep_report_add_probe(rep, "odbc", "DSN=u8", EP_STATUS_ERROR,
					     "connection refused", 3, NULL, NULL),
			 0);
	assert_int_equal(
		ep_report_add_probe(rep, "journal", NULL, EP_STATUS_SKIPPED, NULL, 0, NULL, NULL),
		0);
	return rep;
}

static void assert_same_double(const json_t *a, const json_t *b)
{
	double x = json_number_value(a), y = json_number_value(b);

	assert_true(json_is_real(a) && json_is_real(b));
	assert_memory_equal(&x, &y, sizeof(x)); /* bit-identical, -0.0 included */
}

static void test_round_trip(void **state)
{
	char root[1024], err[256];
	json_t *rep, *back = NULL;
	char *s, *s2;
	size_t len, len2;

	(void)state;
	fixture("debian12", root, sizeof(root));
	rep = build_report(root);
	assert_int_equal(ep_report_validate(rep, err, sizeof(err)), 0);
	s = ep_report_serialize(rep, &len);
	assert_non_null(s);
	/* compact: no space after separators anywhere in this document */
	assert_null(strstr(s, "\": "));
	assert_null(strstr(s, ", "));
	assert_null(strchr(s, '\n'));
	assert_true(strncmp(s, "{\"agent_id\":", 12) == 0); /* sorted keys */

	memset(err, 'x', sizeof(err));
	assert_int_equal(ep_report_parse(s, len, EP_REPORT_MAX_BYTES, &back, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_true(json_equal(rep, back));
	/* serializing the parsed document gives the same bytes */
	s2 = ep_report_serialize(back, &len2);
	assert_int_equal(len, len2);
	assert_string_equal(s, s2);

	json_t *m1 = json_object_get(json_array_get(json_object_get(rep, "probes"), 0), "metrics");
	json_t *m2 = json_object_get(json_array_get(json_object_get(back, "probes"), 0), "metrics");
	static const char *const reals[] = {"ratio", "tiny", "huge", "third", "negzero"};
	for (size_t i = 0; i < EP_ARRAY_SIZE(reals); i++)
		assert_same_double(json_object_get(m1, reals[i]), json_object_get(m2, reals[i]));
	json_t *f2 = json_array_get(
		json_object_get(json_array_get(json_object_get(back, "probes"), 0), "findings"), 1);
	assert_true(json_real_value(json_object_get(f2, "value")) == 0.1 + 0.2);
	assert_true(json_is_null(json_object_get(f2, "threshold")));

	free(s);
	free(s2);
	json_decref(back);
	json_decref(rep);

	/* a host with nulls (missing files) is valid too */
	fixture("does-not-exist", root, sizeof(root));
	rep = build_report(root);
	s = ep_report_serialize(rep, &len);
	assert_int_equal(ep_report_parse(s, len, EP_REPORT_MAX_BYTES, &back, err, sizeof(err)), 0);
	json_decref(back);
	free(s);
	json_decref(rep);
}

static void test_builder_errors(void **state)
{
	json_t *arr;

	(void)state;
	/* NULL host (ENOMEM upstream) -> NULL; the other arguments leak nothing */
	assert_null(ep_report_new(AGENT_ID, 1, 0, 300, NULL, 0));
	assert_null(ep_report_new(NULL, 1, 0, 300, fixed_host(), 0));
	/* not a report: metrics and findings are still consumed (ASan checks) */
	arr = json_array();
	assert_int_equal(ep_report_add_probe(arr, "x", NULL, EP_STATUS_OK, NULL, 0, json_object(),
					     json_array()),
			 -EINVAL);
	json_decref(arr);
	assert_null(ep_report_serialize(NULL, NULL));
}

/* ---- validation ---- */

static const char *const valid_doc =
	"{\"schema\":\"erpulse.report.v1\",\"agent_id\":\"" AGENT_ID "\",\"seq\":42,"
	"\"generated_at\":\"2026-11-26T21:42:02Z\",\"interval_s\":300,\"agent_version\":\"0.1.0\","
	"\"host\":{\"hostname\":\"erp01\",\"os\":null,\"kernel\":\"6.1.0\",\"uptime_s\":null},"
	"\"dropped_reports\":0,\"probes\":["
	"{\"name\":\"disk\",\"target\":null,\"status\":\"ok\",\"error\":null,\"duration_ms\":1,"
	"\"metrics\":{},\"findings\":[]},"
	"{\"name\":\"odbc\",\"target\":\"DSN=x\",\"status\":\"error\",\"error\":\"boom\","
	"\"duration_ms\":2,\"metrics\":{},\"findings\":[]},"
	"{\"name\":\"postgres\",\"target\":\"odoo\",\"status\":\"ok\",\"error\":null,"
	"\"duration_ms\":812,\"metrics\":{\"a\":1},\"findings\":["
	"{\"kind\":\"index_fragmentation\",\"object\":\"odoo/public.i\",\"value\":41.2,"
	"\"unit\":\"%\",\"threshold\":30,\"severity\":\"warning\",\"method\":\"pgstatindex\","
	"\"message\":\"m\",\"remediation\":\"REINDEX INDEX i;\",\"pages\":12000}]}]}";

enum where { TOP, HOST, PROBE, FINDING };

static json_t *container(json_t *doc, enum where w)
{
	json_t *probe = json_array_get(json_object_get(doc, "probes"), 2);

	switch (w) {
	case TOP:
		return doc;
	case HOST:
		return json_object_get(doc, "host");
	case PROBE:
		return probe;
	case FINDING:
		return json_array_get(json_object_get(probe, "findings"), 0);
	}
	return NULL;
}

static const char *const prefixes[] = {"", "host.", "probes[2].", "probes[2].findings[0]."};

static json_t *load_valid(void)
{
	json_error_t e;
	json_t *doc = json_loads(valid_doc, JSON_REJECT_DUPLICATES, &e);

	if (!doc)
		fail_msg("valid_doc: %s", e.text);
	return doc;
}

static void test_validate_ok(void **state)
{
	char err[256];
	json_t *doc = load_valid();

	(void)state;
	assert_int_equal(ep_report_validate(doc, err, sizeof(err)), 0);
	/* optional and nullable variants */
	json_t *f = container(doc, FINDING);
	json_object_del(f, "message");
	json_object_set_new(f, "remediation", json_null());
	json_object_set_new(f, "threshold", json_null());
	json_object_set_new(f, "value", json_integer(41));
	json_object_set_new(doc, "future_field", json_string("ignored"));
	json_object_set_new(container(doc, HOST), "arch", json_string("x86_64"));
	json_object_set_new(container(doc, HOST), "uptime_s", json_integer(5));
	json_object_set_new(container(doc, HOST), "os", json_string("Debian"));
	json_object_set_new(doc, "generated_at", json_string("2026-11-26T22:42:02.5+01:00"));
	json_object_set_new(container(doc, PROBE), "status", json_string("skipped"));
	assert_int_equal(ep_report_validate(doc, err, sizeof(err)), 0);
	json_object_set_new(doc, "probes", json_array()); /* no probes is a report too */
	assert_int_equal(ep_report_validate(doc, err, sizeof(err)), 0);
	json_decref(doc);
}

static void test_validate_fields(void **state)
{
	static const struct {
		enum where w;
		const char *key;
		const char *value; /* JSON text, NULL = remove the key */
		const char *expect;
	} cases[] = {
		{TOP, "schema", NULL, "missing"},
		{TOP, "schema", "5", "expected a string"},
		{TOP, "schema", "\"erpulse.report.v2\"", "expected \"erpulse.report.v1\""},
		{TOP, "agent_id", NULL, "missing"},
		{TOP, "agent_id", "\"\"", "expected a non-empty string"},
		{TOP, "agent_id", "7", "expected a non-empty string"},
		{TOP, "seq", NULL, "missing"},
		{TOP, "seq", "0", "expected an integer >= 1"},
		{TOP, "seq", "-1", "expected an integer >= 1"},
		{TOP, "seq", "1.5", "expected an integer >= 1"},
		{TOP, "seq", "\"42\"", "expected an integer >= 1"},
		{TOP, "generated_at", NULL, "missing"},
		{TOP, "generated_at", "1795729322", "expected a string"},
		{TOP, "generated_at", "\"yesterday\"", "expected an RFC 3339 date-time"},
		{TOP, "generated_at", "\"2026-11-26 21:42:02\"", "expected an RFC 3339 date-time"},
		{TOP, "interval_s", NULL, "missing"},
		{TOP, "interval_s", "0", "expected an integer >= 1"},
		{TOP, "interval_s", "\"300\"", "expected an integer >= 1"},
		{TOP, "agent_version", NULL, "missing"},
		{TOP, "agent_version", "null", "expected a string"},
		{TOP, "host", NULL, "missing"},
		{TOP, "host", "[]", "expected an object"},
		{TOP, "host", "\"erp01\"", "expected an object"},
		{TOP, "dropped_reports", NULL, "missing"},
		{TOP, "dropped_reports", "-1", "expected an integer >= 0"},
		{TOP, "dropped_reports", "null", "expected an integer >= 0"},
		{TOP, "probes", NULL, "missing"},
		{TOP, "probes", "{}", "expected an array"},
		{TOP, "probes", "null", "expected an array"},
		{HOST, "hostname", NULL, "missing"},
		{HOST, "hostname", "5", "expected a string"},
		{HOST, "os", NULL, "missing"},
		{HOST, "os", "5", "expected a string or null"},
		{HOST, "kernel", NULL, "missing"},
		{HOST, "kernel", "false", "expected a string"},
		{HOST, "uptime_s", NULL, "missing"},
		{HOST, "uptime_s", "-1", "expected an integer >= 0 or null"},
		{HOST, "uptime_s", "1.5", "expected an integer >= 0 or null"},
		{PROBE, "name", NULL, "missing"},
		{PROBE, "name", "\"\"", "expected a non-empty string"},
		{PROBE, "name", "5", "expected a non-empty string"},
		{PROBE, "target", NULL, "missing"},
		{PROBE, "target", "5", "expected a string or null"},
		{PROBE, "status", NULL, "missing"},
		{PROBE, "status", "5", "expected a string"},
		{PROBE, "status", "\"bad\"", "expected one of ok, error, skipped"},
		{PROBE, "status", "\"OK\"", "expected one of ok, error, skipped"},
		{PROBE, "error", NULL, "missing"},
		{PROBE, "error", "{}", "expected a string or null"},
		{PROBE, "duration_ms", NULL, "missing"},
		{PROBE, "duration_ms", "-1", "expected an integer >= 0"},
		{PROBE, "duration_ms", "8.5", "expected an integer >= 0"},
		{PROBE, "metrics", NULL, "missing"},
		{PROBE, "metrics", "[]", "expected an object"},
		{PROBE, "metrics", "null", "expected an object"},
		{PROBE, "findings", NULL, "missing"},
		{PROBE, "findings", "{}", "expected an array"},
		{FINDING, "kind", NULL, "missing"},
		{FINDING, "kind", "\"\"", "expected a non-empty string"},
		{FINDING, "object", NULL, "missing"},
		{FINDING, "object", "null", "expected a string"},
		{FINDING, "value", NULL, "missing"},
		{FINDING, "value", "\"41.2\"", "expected a number"},
		{FINDING, "value", "null", "expected a number"},
		{FINDING, "value", "true", "expected a number"},
		{FINDING, "unit", NULL, "missing"},
		{FINDING, "unit", "1", "expected a string"},
		{FINDING, "threshold", NULL, "missing"},
		{FINDING, "threshold", "\"30\"", "expected a number or null"},
		{FINDING, "severity", NULL, "missing"},
		{FINDING, "severity", "2", "expected a string"},
		{FINDING, "severity", "\"severe\"", "expected one of info, warning, critical"},
		{FINDING, "severity", "\"Warning\"", "expected one of info, warning, critical"},
		{FINDING, "method", NULL, "missing"},
		{FINDING, "method", "[]", "expected a string"},
		{FINDING, "message", "5", "expected a string or null"},
		{FINDING, "remediation", "{}", "expected a string or null"},
	};
	char err[256], expect[256];

	(void)state;
	for (size_t i = 0; i < EP_ARRAY_SIZE(cases); i++) {
		json_t *doc = load_valid(), *c = container(doc, cases[i].w);
		json_error_t e;
		int r;

		assert_non_null(c);
		if (cases[i].value) {
			json_t *v = json_loads(cases[i].value, JSON_DECODE_ANY, &e);
			assert_non_null(v);
			assert_int_equal(json_object_set_new(c, cases[i].key, v), 0);
		} else {
			assert_int_equal(json_object_del(c, cases[i].key), 0);
		}
		snprintf(expect, sizeof(expect), "%s%s: %s", prefixes[cases[i].w], cases[i].key,
			 cases[i].expect);
		r = ep_report_validate(doc, err, sizeof(err));
		if (r != -EINVAL || strcmp(err, expect) != 0)
			fail_msg("case %zu: got %d '%s', expected '%s'", i, r, err, expect);
		json_decref(doc);
	}
}

static void test_validate_shapes(void **state)
{
	char err[256];
	json_t *doc;

	(void)state;
	doc = json_array();
	assert_int_equal(ep_report_validate(doc, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "report: expected an object");
	json_decref(doc);
	assert_int_equal(ep_report_validate(NULL, err, sizeof(err)), -EINVAL);

	doc = load_valid();
	json_array_set_new(json_object_get(doc, "probes"), 1, json_string("x"));
	assert_int_equal(ep_report_validate(doc, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "probes[1]: expected an object");
	json_decref(doc);

	doc = load_valid();
	json_array_append_new(json_object_get(container(doc, PROBE), "findings"), json_integer(5));
	assert_int_equal(ep_report_validate(doc, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "probes[2].findings[1]: expected an object");
	json_decref(doc);

	/* err is optional */
	doc = json_array();
	assert_int_equal(ep_report_validate(doc, NULL, 0), -EINVAL);
	json_decref(doc);
}

static void test_validate_limits(void **state)
{
	char err[256];
	json_t *doc, *probes, *findings, *f;

	(void)state;
	doc = load_valid();
	probes = json_object_get(doc, "probes");
	while (json_array_size(probes) < EP_REPORT_MAX_PROBES)
		json_array_append_new(probes, json_deep_copy(json_array_get(probes, 0)));
	assert_int_equal(ep_report_validate(doc, err, sizeof(err)), 0);
	json_array_append_new(probes, json_deep_copy(json_array_get(probes, 0)));
	assert_int_equal(ep_report_validate(doc, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "probes: more than 256 probes");
	json_decref(doc);

	doc = load_valid();
	findings = json_object_get(container(doc, PROBE), "findings");
	f = json_array_get(findings, 0);
	while (json_array_size(findings) < EP_REPORT_MAX_FINDINGS)
		json_array_append_new(findings, json_deep_copy(f));
	assert_int_equal(ep_report_validate(doc, err, sizeof(err)), 0);
	/* such a report still fits the default body cap and parses */
	size_t len;
	char *s = ep_report_serialize(doc, &len);
	json_t *back = NULL;
	assert_true(len < EP_REPORT_MAX_BYTES);
	assert_int_equal(ep_report_parse(s, len, EP_REPORT_MAX_BYTES, &back, err, sizeof(err)), 0);
	json_decref(back);
	free(s);
	json_array_append_new(findings, json_deep_copy(f));
	assert_int_equal(ep_report_validate(doc, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "probes[2].findings: more than 4096 findings");
	json_decref(doc);
}

/* "configured" (since agent 0.2.0): optional; when present, bounded and
 * every entry {name, target}. An older report without it stays valid. */
static void test_configured(void **state)
{
	char err[256];
	json_t *doc = load_valid();

	(void)state;
	assert_null(json_object_get(doc, "configured"));
	assert_int_equal(ep_report_validate(doc, err, sizeof(err)), 0);
	assert_int_equal(ep_report_add_configured(doc, "postgres.erp", "odoo@/run/postgresql:5432"),
			 0);
	assert_int_equal(ep_report_add_configured(doc, "log.odoo", NULL), 0);
	assert_int_equal(ep_report_add_configured(doc, NULL, "x"), -EINVAL);
	json_t *c = json_object_get(doc, "configured");
	assert_int_equal(json_array_size(c), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(c, 0), "target")),
			    "odoo@/run/postgresql:5432");
	assert_string_equal(json_string_value(json_object_get(json_array_get(c, 1), "target")), "");
	assert_int_equal(ep_report_validate(doc, err, sizeof(err)), 0);
	/* round trip through the collector's strict parser */
	size_t len;
	char *text = ep_report_serialize(doc, &len);
	json_t *back = NULL;
	assert_int_equal(ep_report_parse(text, len, EP_REPORT_MAX_BYTES, &back, err, sizeof(err)),
			 0);
	assert_true(json_equal(json_object_get(back, "configured"), c));
	json_decref(back);
	free(text);
	/* target null is accepted like a probe entry's; extra keys are ignored */
	json_object_set_new(json_array_get(c, 1), "target", json_null());
	json_object_set_new(json_array_get(c, 1), "since", json_integer(3));
	assert_int_equal(ep_report_validate(doc, err, sizeof(err)), 0);
	json_object_set_new(doc, "configured", json_array());
	assert_int_equal(ep_report_validate(doc, err, sizeof(err)), 0);

	static const struct {
		const char *value, *expect;
	} bad[] = {
		{"{}", "configured: expected an array"},
		{"null", "configured: expected an array"},
		{"[\"disk\"]", "configured[0]: expected an object"},
		{"[{\"target\":\"\"}]", "configured[0].name: missing"},
		{"[{\"name\":\"\",\"target\":\"\"}]",
		 "configured[0].name: expected a non-empty string"},
		{"[{\"name\":\"disk\"}]", "configured[0].target: missing"},
		{"[{\"name\":\"disk\",\"target\":\"/\"},{\"name\":\"x\",\"target\":5}]",
		 "configured[1].target: expected a string or null"},
	};
	for (size_t i = 0; i < EP_ARRAY_SIZE(bad); i++) {
		json_error_t e;
		json_t *v = json_loads(bad[i].value, JSON_DECODE_ANY, &e);
		assert_non_null(v);
		json_object_set_new(doc, "configured", v);
		if (ep_report_validate(doc, err, sizeof(err)) != -EINVAL ||
		    strcmp(err, bad[i].expect) != 0)
			fail_msg("case %zu: got '%s', expected '%s'", i, err, bad[i].expect);
	}
	/* bounded like probes */
	json_object_del(doc, "configured");
	for (int i = 0; i < EP_REPORT_MAX_PROBES; i++)
		assert_int_equal(ep_report_add_configured(doc, "disk", "/"), 0);
	assert_int_equal(ep_report_validate(doc, err, sizeof(err)), 0);
	assert_int_equal(ep_report_add_configured(doc, "disk", "/"), -E2BIG);
	json_array_append_new(json_object_get(doc, "configured"),
			      json_pack("{s:s, s:s}", "name", "disk", "target", "/"));
	assert_int_equal(ep_report_validate(doc, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "configured: more than 256 probe instances");
	json_decref(doc);
}

/* ---- strict parsing ---- */

static int parse(const char *s, size_t len, char *err, size_t errlen)
{
	json_t *j = NULL;
	int r = ep_json_parse_strict(s, len, EP_REPORT_MAX_BYTES, &j, err, errlen);

	if (r == 0) {
		assert_non_null(j);
		json_decref(j);
	}
	return r;
}

static int parse_str(const char *s, char *err, size_t errlen)
{
	return parse(s, strlen(s), err, errlen);
}

static char *nested(size_t depth, const char *open, const char *close)
{
	size_t lo = strlen(open), lc = strlen(close);
	char *s = malloc(depth * (lo + lc) + 1), *p = s;

	assert_non_null(s);
	for (size_t i = 0; i < depth; i++, p += lo)
		memcpy(p, open, lo);
	for (size_t i = 0; i < depth; i++, p += lc)
		memcpy(p, close, lc);
	*p = '\0';
	return s;
}

static char *nested_obj(size_t depth)
{
	char *s = malloc(depth * 6 + 3), *p = s;

	assert_non_null(s);
	for (size_t i = 1; i < depth; i++, p += 5)
		memcpy(p, "{\"a\":", 5);
	memcpy(p, "{}", 2);
	p += 2;
	for (size_t i = 1; i < depth; i++)
		*p++ = '}';
	*p = '\0';
	return s;
}

static void test_parse_depth(void **state)
{
	char err[256];
	char *s;

	(void)state;
	s = nested(16, "[", "]");
	assert_int_equal(parse_str(s, err, sizeof(err)), 0);
	free(s);
	s = nested(17, "[", "]");
	assert_int_equal(parse_str(s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "nesting deeper than 16"));
	free(s);
	s = nested_obj(16); /* {"a":{"a":...{}...}}: 16 objects */
	assert_int_equal(parse_str(s, err, sizeof(err)), 0);
	free(s);
	s = nested_obj(17);
	assert_int_equal(parse_str(s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "nesting"));
	free(s);

	/* 100000 '[' never reach jansson's recursion */
	s = malloc(100001);
	assert_non_null(s);
	memset(s, '[', 100000);
	s[100000] = '\0';
	int64_t t0 = ep_mono_ms();
	assert_int_equal(parse_str(s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "offset 16: nesting deeper than 16 levels");
	assert_true(ep_mono_ms() - t0 < 1000);
	free(s);
	s = nested(100000, "[", "]");
	assert_int_equal(parse_str(s, err, sizeof(err)), -EINVAL);
	free(s);

	/* brackets inside strings are not nesting, escaped quotes included */
	assert_int_equal(parse_str("[\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"]", err, sizeof(err)),
			 0);
	assert_int_equal(
		parse_str("[\"\\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\\\"]", err, sizeof(err)),
		0);
	assert_int_equal(parse_str("{\"[[[[[[[[[[[[[[[[[[[[[[[[\":\"{{{{{{{{{{{{{{{{{{{{{{\"}", err,
				   sizeof(err)),
			 0);

	/* a report whose metrics nest one level too deep */
	json_t *doc = load_valid();
	json_t *deep = json_object_get(container(doc, PROBE), "metrics");
	/* report(1) probes(2) probe(3) metrics(4): 12 more objects reach 16 */
	for (int i = 0; i < 12; i++) {
		json_t *n = json_object();
		json_object_set_new(deep, "n", n);
		deep = n;
	}
	size_t len;
	char *body = ep_report_serialize(doc, &len);
	json_t *back = NULL;
	assert_int_equal(ep_report_parse(body, len, EP_REPORT_MAX_BYTES, &back, err, sizeof(err)),
			 0);
	json_decref(back);
	free(body);
	json_object_set_new(deep, "n", json_object());
	body = ep_report_serialize(doc, &len);
	assert_int_equal(ep_report_parse(body, len, EP_REPORT_MAX_BYTES, &back, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "nesting deeper than 16"));
	free(body);
	json_decref(doc);
}

static void test_parse_numbers(void **state)
{
	static const char *const bad[] = {
		"[1e400]",
		"[-1e400]",
		"[1.5e+9999]",
		"[99999999999999999999999]",
		"[-99999999999999999999999]",
		"[9223372036854775808]",
		"[-9223372036854775809]",
		"{\"seq\":123456789012345678901234567890}",
		"[NaN]",
		"[Infinity]",
		"[-Infinity]",
		"[01]",
		"[1.]",
		"[.5]",
		"[+1]",
		"[0x10]",
	};
	char err[256];
	json_t *j = NULL;

	(void)state;
	for (size_t i = 0; i < EP_ARRAY_SIZE(bad); i++)
		if (parse_str(bad[i], err, sizeof(err)) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
	assert_int_equal(parse_str("[1e400]", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "overflow"));
	assert_int_equal(parse_str("[99999999999999999999999]", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "too big"));

	assert_int_equal(ep_json_parse_strict("[9223372036854775807,-9223372036854775808,1e308]",
					      48, 100, &j, err, sizeof(err)),
			 0);
	assert_true(json_integer_value(json_array_get(j, 0)) == INT64_MAX);
	assert_true(json_integer_value(json_array_get(j, 1)) == INT64_MIN);
	assert_true(json_real_value(json_array_get(j, 2)) == 1e308);
	json_decref(j);
}

static void test_parse_bytes(void **state)
{
	static const struct {
		const char *s;
		size_t len;
		const char *needle;
	} bad[] = {
		{"[\"\xc0\x80\"]", 6, "UTF-8"},
		{"[\"\xed\xa0\x80\"]", 7, "UTF-8"},
		{"[\"\xf4\x90\x80\x80\"]", 8, "UTF-8"},
		{"[\"\xff\"]", 5, "UTF-8"},
		{"[\"\xe2\x82\"]", 6, "UTF-8"},
		{"[\"abc\xe9\"]", 8, "UTF-8"},
		{"[1]\0", 4, "NUL byte at offset 3"},
		{"[\"a\0b\"]", 7, "NUL byte at offset 3"},
		{"[\"a\\u0000b\"]", 12, "u0000"},
		{"{\"a\\u0000\":1}", 13, "NUL"},
		{"{\"a\":1,\"a\":2}", 13, "duplicate object key"},
		{"{\"a\":1,\"a\":1}", 13, "duplicate object key"},
		{"{\"x\":{\"b\":1,\"c\":{},\"b\":[]}}", 27, "duplicate object key"},
		{"{\"\\u0061\":1,\"a\":2}", 18, "duplicate object key"},
		{"", 0, "unexpected token"},
		{"   ", 3, ""},
		{"{}x", 3, "end of file expected"},
		{"{} {}", 5, "end of file expected"},
		{"[1,]", 4, ""},
		{"{'a':1}", 7, ""},
		{"[\"\\ud800\"]", 10, "invalid Unicode"},
		/* the byte after a backslash is checked too (the one-pass scan
		 * skips it as an escape) */
		{"[\"\\\0\"]", 6, "NUL byte at offset 3"},
		{"[\"\\\xc3\xa9\"]", 7, "invalid escape"},
		{"[\"\\\xc3\"]", 6, "UTF-8"},
		{"[\"\xe4\xb8\xad\xe6\x96\"]", 9, "UTF-8"},
		{"[\"\xe4\xb8", 4, "UTF-8"},
		{"[\"\x80\"]", 5, "UTF-8"},
		{"[\"\xf0\x9f\x98\"]", 7, "UTF-8"},
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < EP_ARRAY_SIZE(bad); i++) {
		int r = parse(bad[i].s, bad[i].len, err, sizeof(err));
		if (r != -EINVAL || !strstr(err, bad[i].needle))
			fail_msg("case %zu: got %d '%s', expected -EINVAL with '%s'", i, r, err,
				 bad[i].needle);
	}
	/* any JSON value at top level; valid multi-byte text */
	static const char *const good[] = {
		"1",
		"\"s\"",
		"null",
		"true",
		"-0.5e-3",
		" [ ] ",
		"[\"gr\xc3\xbc\xc3\x9f \xf0\x9f\x98\x80 \\ud83d\\ude00\"]",
		"{\"\xe7\xa3\x81\xe7\x9b\x98\":\"\xe4\xb8\xad\xe6\x96\x87 [{\\\"\xc3\xa9\"}",
		"{\"a\":{\"a\":1},\"b\":{\"a\":1}}"};
	for (size_t i = 0; i < EP_ARRAY_SIZE(good); i++)
		if (parse_str(good[i], err, sizeof(err)) != 0)
			fail_msg("'%s' was rejected: %s", good[i], err);
	/* err may be NULL */
	json_t *j = NULL;
	assert_int_equal(ep_json_parse_strict("{]", 2, 10, &j, NULL, 0), -EINVAL);
	assert_null(j);
}

static void test_parse_sizes(void **state)
{
	char err[256];
	json_t *j = NULL;
	char *s;
	size_t n;

	(void)state;
	/* the byte cap comes first, before any scanning */
	assert_int_equal(ep_json_parse_strict("[1, 2]", 6, 5, &j, err, sizeof(err)), -E2BIG);
	assert_string_equal(err, "body of 6 bytes exceeds the limit of 5 bytes");
	assert_int_equal(ep_json_parse_strict("[1, 2]", 6, 6, &j, err, sizeof(err)), 0);
	json_decref(j);
	j = NULL;
	n = EP_REPORT_MAX_BYTES + 1;
	s = malloc(n);
	assert_non_null(s);
	memset(s, ' ', n);
	s[0] = '1';
	assert_int_equal(ep_json_parse_strict(s, n, EP_REPORT_MAX_BYTES, &j, err, sizeof(err)),
			 -E2BIG);
	assert_int_equal(ep_report_parse(s, n, EP_REPORT_MAX_BYTES, &j, err, sizeof(err)), -E2BIG);
	assert_int_equal(ep_json_parse_strict(s, n - 1, EP_REPORT_MAX_BYTES, &j, err, sizeof(err)),
			 0); /* exactly the cap */
	json_decref(j);
	j = NULL;
	free(s);

	/* string cap: 8192 bytes fine, 8193 refused with the path */
	s = malloc(EP_REPORT_MAX_STRING + 64);
	assert_non_null(s);
	n = (size_t)snprintf(s, 64, "{\"probes\":[{\"x\":\"");
	memset(s + n, 'a', EP_REPORT_MAX_STRING);
	memcpy(s + n + EP_REPORT_MAX_STRING, "\"}]}", 5);
	assert_int_equal(parse_str(s, err, sizeof(err)), 0);
	n = (size_t)snprintf(s, 64, "{\"probes\":[1,{\"x\":\"");
	memset(s + n, 'a', EP_REPORT_MAX_STRING + 1);
	memcpy(s + n + EP_REPORT_MAX_STRING + 1, "\"}]}", 5);
	assert_int_equal(parse_str(s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "probes[1].x: string longer than 8192 bytes");
	/* bytes, not characters: 4097 two-byte characters are too long */
	n = (size_t)snprintf(s, 64, "[\"");
	for (int i = 0; i < 4097; i++, n += 2)
		memcpy(s + n, "\xc3\xa9", 2);
	memcpy(s + n, "\"]", 3);
	assert_int_equal(parse_str(s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "[0]: string longer than 8192 bytes");
	/* a key over the cap */
	n = (size_t)snprintf(s, 64, "{\"");
	memset(s + n, 'k', EP_REPORT_MAX_STRING + 1);
	memcpy(s + n + EP_REPORT_MAX_STRING + 1, "\":1}", 5);
	assert_int_equal(parse_str(s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "object key longer than 8192 bytes"));
	free(s);
	/* escapes count decoded: 8192 bytes written as 49152 are fine, one more is not */
	s = malloc(6 * (EP_REPORT_MAX_STRING + 1) + 64);
	assert_non_null(s);
	n = (size_t)snprintf(s, 64, "{\"a\":[\"");
	for (int i = 0; i < EP_REPORT_MAX_STRING; i++, n += 6)
		memcpy(s + n, "\\u0061", 6);
	memcpy(s + n, "\"]}", 4);
	assert_int_equal(parse_str(s, err, sizeof(err)), 0);
	memcpy(s + n, "\\u0061\"]}", 10);
	assert_int_equal(parse_str(s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "a[0]: string longer than 8192 bytes");
	free(s);
	/* a top-level string */
	s = malloc(EP_REPORT_MAX_STRING + 4);
	assert_non_null(s);
	s[0] = '"';
	memset(s + 1, 'z', EP_REPORT_MAX_STRING + 1);
	memcpy(s + EP_REPORT_MAX_STRING + 2, "\"", 2);
	assert_int_equal(parse_str(s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "(top level): string longer than 8192 bytes");
	free(s);
}

static void test_report_parse_invalid(void **state)
{
	char err[256];
	json_t *sentinel = json_true(); /* a jansson singleton */
	json_t *j = sentinel;

	(void)state;

	/* valid JSON, invalid report: -EINVAL, *ret untouched, path in err */
	const char *body = "{\"schema\":\"erpulse.report.v1\"}";
	assert_int_equal(ep_report_parse(body, strlen(body), 1000, &j, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "agent_id: missing");
	assert_ptr_equal(j, sentinel);
	assert_int_equal(ep_report_parse("[", 1, 1000, &j, err, sizeof(err)), -EINVAL);
	assert_ptr_equal(j, sentinel);
}

/* ---- the accept path (yajl) against jansson's parse ---- */

/* jansson's own parse of data with ep_json_parse_strict's flags, written
 * with the key order and number types it built; NULL when it refuses. */
static char *jansson_text(const char *data, size_t len)
{
	json_t *j =
		json_loadb(len ? data : "", len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
	char *s = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17)) : NULL;
	json_decref(j);
	return s;
}

/* Whatever the accept path takes, jansson takes and builds the same value
 * (keys in the same order, integers and reals as jansson has them); and
 * ep_json_parse_strict answers as jansson does. True when yajl took it. */
static bool fast_agrees(const char *what, const char *data, size_t len)
{
	json_t *f = NULL, *j = NULL;
	char err[256];
	char *want = jansson_text(data, len);
	int r = ep_json_parse_fast(data, len, &f);
	if (r == 0) {
		char *got = json_dumps(f, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
		if (!want)
			fail_msg("%s: yajl's path accepted what jansson refuses", what);
		if (!got || strcmp(got, want) != 0)
			fail_msg("%s: yajl's path built %s, jansson %s", what, got ? got : "-",
				 want);
		free(got);
		json_decref(f);
	} else {
		assert_int_equal(r, -EAGAIN);
		assert_null(f);
	}
	/* the strict parse adds its own refusals (NUL, depth, length) only */
	if (ep_json_parse_strict(data, len, EP_REPORT_MAX_BYTES, &j, err, sizeof(err)) == 0) {
		char *got = json_dumps(j, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
		if (!want || !got || strcmp(got, want) != 0)
			fail_msg("%s: the strict parse built %s, jansson %s", what, got ? got : "-",
				 want ? want : "(refused)");
		free(got);
		json_decref(j);
	}
	free(want);
	return r == 0;
}

static void test_parse_fast(void **state)
{
	(void)state;
	/* taken by yajl, built as jansson builds them */
	static const char *const taken[] = {
		"{}",
		"[]",
		"0",
		"-0",
		"1",
		"-1",
		"9223372036854775807",
		"-9223372036854775808",
		"0.0",
		"-0.0",
		"1.5",
		"1e2",
		"1E2",
		"1e+2",
		"1E-2",
		"-1.25e-3",
		"1e308",
		"2.2250738585072014e-308",
		"4.9e-324",
		"1e-400",
		"0.1",
		"123456789.123456789",
		"true",
		"false",
		"null",
		"\"\"",
		"\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"",
		" \t\r\n{ \"a\" : [ 1 , 2.5 , \"x\" , null , true , false , { } , [ ] ] } \n",
		"{\"b\":1,\"a\":2,\"c\":{\"z\":[],\"y\":{}}}",
		"[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]",
		"\"\xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80\"",
		"{\"\xe9\x94\xae\":\"\xe5\x80\xbc\"}",
		"{\"a\\nb\":1,\"a\\tb\":2}"};
	/* jansson's: a refusal of either, or not plain (scan_ok) */
	static const char *const jansson[] = {
		"",
		" ",
		"{",
		"[1,]",
		"[1 2]",
		"{\"a\":1,}",
		"{\"a\" 1}",
		"{\"a\":1,\"a\":2}",
		"{\"a\":{},\"a\":[]}",
		"01",
		"-",
		"1.",
		".5",
		"+1",
		"1e",
		"1e+",
		"0x10",
		"NaN",
		"Infinity",
		"-Infinity",
		"1e309",
		"-1e309",
		"9223372036854775808",
		"-9223372036854775809",
		"123456789012345678901234567890",
		"tru",
		"nul",
		"[true x]",
		"[1] [2]",
		"[1] x",
		"{} {}",
		"\"\\u0041\"",
		"\"\\u00e9\"",
		"\"\\ud83d\\ude00\"",
		"\"\\ud800\"",
		"\"\\u0000\"",
		"\"a\tb\"",
		"\"a\x01"
		"b\"",
		"[\f1]",
		"[\v1]",
		"[1]\f",
		"\xef\xbb\xbf[1]",
		"'a'",
		"[\"a\\x\"]",
		"[\"a\\'\"]",
		"/* c */ [1]",
		"[1] // c",
		"{\"a\":1 /* c */}",
		"\"abc",
		"[\"\\\"]",
		"[0.000000000000000000000000000000000000000000000000000000000000001]"};
	size_t n_taken = 0;
	for (size_t i = 0; i < EP_ARRAY_SIZE(taken); i++) {
		if (!fast_agrees(taken[i], taken[i], strlen(taken[i])))
			fail_msg("%s: not taken by yajl's path", taken[i]);
		n_taken++;
	}
	for (size_t i = 0; i < EP_ARRAY_SIZE(jansson); i++)
		if (fast_agrees(jansson[i], jansson[i], strlen(jansson[i])))
			fail_msg("%s: taken by yajl's path", jansson[i]);
	assert_int_equal(n_taken, EP_ARRAY_SIZE(taken));

	/* generated: every report-like value the random walk below builds, in
	 * compact and indented form, then each of its bytes changed in turn
	 * (most changes are refusals, some are other valid JSON) */
	uint64_t rng = 0x9e3779b97f4a7c15u;
	size_t fast = 0, total = 0;
	for (int round = 0; round < 300; round++) {
		json_t *root = json_object();
		for (int k = 0; k < 6; k++) {
			rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
			char key[32];
			snprintf(key, sizeof(key), "k%d_%u", k, (unsigned)(rng % 1000));
			json_t *v;
			switch (rng % 7) {
			case 0:
				v = json_integer((json_int_t)(rng >> 1) * ((rng & 2) ? -1 : 1));
				break;
			case 1:
				v = json_real((double)(int64_t)(rng % 2000001 - 1000000) / 1000.0);
				break;
			case 2:
				v = json_real(
					ldexp((double)(rng % 1000003), (int)(rng % 200) - 100));
				break;
			case 3:
				v = json_string((rng & 8) ? "l\xc3\xb6g \"x\"\n\t\\ \xe4\xb8\xad"
							  : "odoo/public.sm_state");
				break;
			case 4:
				v = json_pack("[i,f,s,n,b]", (int)(rng % 100), 0.25, "a/b", 0);
				break;
			case 5:
				v = json_pack("{s:{s:[i,i]},s:o}", "x", "y", 1, 2, "z",
					      json_boolean(rng & 16));
				break;
			default:
				v = json_null();
				break;
			}
			json_object_set_new(root, key, v);
		}
		for (int form = 0; form < 2; form++) {
			char *text = json_dumps(root, form ? JSON_INDENT(2) : JSON_COMPACT);
			size_t len = strlen(text);
			total++;
			fast += fast_agrees(text, text, len);
			for (size_t at = 0; at < len && round < 40; at += 1 + len / 60) {
				char saved = text[at];
				static const char subst[] = "0-.eE\"\\{}[],: \f\ta1u";
				text[at] = subst[(at + (size_t)round) % (sizeof(subst) - 1)];
				total++;
				fast += fast_agrees(text, text, len);
				text[at] = saved;
			}
			free(text);
		}
		json_decref(root);
	}
	print_message("# yajl's path took %zu of %zu generated bodies\n", fast, total);
	assert_true(fast >= 600); /* every unchanged body at least */
}

/* ---- JSONTestSuite ---- */

/* y_ files we reject on purpose, because docs/protocol.md is stricter than
 * RFC 8259. Each must really be rejected (checked below). */
static const struct {
	const char *file;
	const char *why;
} deliberate[] = {
	{"y_object_duplicated_key.json", "duplicate object keys are rejected"},
	{"y_object_duplicated_key_and_value.json", "duplicate object keys are rejected"},
	{"y_object_escaped_null_in_key.json", "\\u0000 (NUL) is rejected"},
	{"y_string_null_escape.json", "\\u0000 (NUL) is rejected"},
};

static bool find_suite(char *out, size_t size)
{
	const char *bases[3];
	char buf[1024];
	struct stat st;

	snprintf(buf, sizeof(buf), "%s/../shared/testdata/JSONTestSuite", srcdir());
	bases[0] = buf;
	bases[1] = "../shared/testdata/JSONTestSuite";
	bases[2] = "../../shared/testdata/JSONTestSuite";
	for (size_t i = 0; i < EP_ARRAY_SIZE(bases); i++) {
		snprintf(out, size, "%s/test_parsing", bases[i]);
		if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
			return true;
		/* one level further down (an unpacked archive: JSONTestSuite-master/) */
		DIR *d = opendir(bases[i]);
		struct dirent *e;
		bool found = false;
		if (!d)
			continue;
		while (!found && (e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(out, size, "%s/%s/test_parsing", bases[i], e->d_name);
			found = stat(out, &st) == 0 && S_ISDIR(st.st_mode);
		}
		closedir(d);
		if (found)
			return true;
	}
	return false;
}

static void test_json_test_suite(void **state)
{
	char dir[1200], path[1600], err[256];
	int ny = 0, nn = 0, ni = 0, y_ok = 0, y_rejected = 0, n_rejected = 0, i_ok = 0, fast = 0;
	DIR *d;
	struct dirent *e;

	(void)state;
	if (!find_suite(dir, sizeof(dir))) {
		print_message("# JSONTestSuite not found below %s/../shared/testdata or "
			      "../shared/testdata: skipped\n",
			      srcdir());
		skip();
	}
	d = opendir(dir);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		const char *name = e->d_name;
		char *data = NULL;
		size_t len = 0;
		json_t *j = NULL;
		int r;

		if (strlen(name) < 6 || strcmp(name + strlen(name) - 5, ".json") != 0)
			continue;
		if (name[0] != 'y' && name[0] != 'n' && name[0] != 'i')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		assert_int_equal(ep_read_file(path, 4 << 20, &data, &len), 0);
		fast += fast_agrees(name, data, len);
		r = ep_json_parse_strict(data, len, EP_REPORT_MAX_BYTES, &j, err, sizeof(err));
		if (r == 0) {
			/* whatever we accept serializes and parses again */
			size_t slen;
			char *s = ep_report_serialize(j, &slen);
			json_t *again = NULL;
			assert_non_null(s);
			if (ep_json_parse_strict(s, slen, EP_REPORT_MAX_BYTES, &again, err,
						 sizeof(err)) != 0)
				fail_msg("%s: re-serialized form rejected: %s", name, err);
			assert_true(json_equal(j, again));
			json_decref(again);
			free(s);
			json_decref(j);
		}
		free(data);

		bool exception = false;
		for (size_t k = 0; k < EP_ARRAY_SIZE(deliberate); k++)
			exception |= strcmp(name, deliberate[k].file) == 0;
		switch (name[0]) {
		case 'y':
			ny++;
			if (r == 0) {
				y_ok++;
				if (exception)
					fail_msg("%s: listed as deliberately rejected but accepted",
						 name);
			} else {
				y_rejected++;
				if (!exception)
					fail_msg("%s: valid JSON rejected: %s", name, err);
			}
			break;
		case 'n':
			nn++;
			if (r == 0)
				fail_msg("%s: invalid JSON accepted", name);
			n_rejected++;
			break;
		default:
			ni++;
			i_ok += r == 0;
			break;
		}
	}
	closedir(d);
	print_message("# JSONTestSuite %s: y %d (accepted %d, deliberately rejected %d), "
		      "n %d (all rejected), i %d (accepted %d); yajl's path took %d\n",
		      dir, ny, y_ok, y_rejected, nn, ni, i_ok, fast);
	/* the suite has 95 y_, 188 n_, 35 i_ files; a much smaller count means a
	 * broken checkout, not a passing test */
	assert_true(ny >= 90);
	assert_true(nn >= 180);
	assert_true(ni >= 30);
	assert_int_equal(y_rejected, (int)EP_ARRAY_SIZE(deliberate));
	assert_int_equal(n_rejected, nn);
	assert_true(fast >= 50); /* the plain y_ files: the accept path is in use */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),           cmocka_unit_test(test_finding_json),
		cmocka_unit_test(test_host_json),       cmocka_unit_test(test_serialize_exact),
		cmocka_unit_test(test_round_trip),      cmocka_unit_test(test_builder_errors),
		cmocka_unit_test(test_validate_ok),     cmocka_unit_test(test_validate_fields),
		cmocka_unit_test(test_validate_shapes), cmocka_unit_test(test_validate_limits),
		cmocka_unit_test(test_configured),      cmocka_unit_test(test_parse_depth),
		cmocka_unit_test(test_parse_numbers),   cmocka_unit_test(test_parse_bytes),
		cmocka_unit_test(test_parse_sizes),     cmocka_unit_test(test_report_parse_invalid),
		cmocka_unit_test(test_parse_fast),      cmocka_unit_test(test_json_test_suite),
	};

	return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
