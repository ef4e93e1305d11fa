/* The erpulse.report.v1 document (docs/protocol.md, "Report document"):
 * the builder the agent uses, strict parsing of outside bytes and schema
 * validation for the collector. The strict parse of outside bytes is
 * lib/report_parse.c (the collector's only: the agent does not link yajl). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "erpulse/report.h"
#include "erpulse/util.h"

#ifndef EP_VERSION
#define EP_VERSION "0.0.0"
#endif

/* os-release and /proc/uptime are tiny; a larger file is not what we want */
#define HOST_FILE_MAX (64 * 1024)

static const char *const status_names[] = {
	[EP_STATUS_OK] = "ok",
	[EP_STATUS_ERROR] = "error",
	[EP_STATUS_SKIPPED] = "skipped",
};

static const char *const severity_names[] = {
	[EP_SEV_INFO] = "info",
	[EP_SEV_WARNING] = "warning",
	[EP_SEV_CRITICAL] = "critical",
};

const char *ep_probe_status_name(enum ep_probe_status s)
{
	if ((unsigned)s >= EP_ARRAY_SIZE(status_names))
		return "error";
	return status_names[s];
}

const char *ep_severity_name(enum ep_severity s)
{
	if ((unsigned)s >= EP_ARRAY_SIZE(severity_names))
		return "critical";
	return severity_names[s];
}

int ep_severity_parse(const char *s, enum ep_severity *ret)
{
	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < EP_ARRAY_SIZE(severity_names); i++) {
		if (strcmp(s, severity_names[i]) == 0) {
			*ret = (enum ep_severity)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- builder ------------------------------------------------------------------ */

/* A borrowed C string as JSON: NULL becomes JSON null. json_string() also
 * returns NULL for invalid UTF-8, which makes the caller fail cleanly. */
static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* kind, object, unit and method are required (NULL -> NULL result); message
 * and remediation become null when NULL; a non-finite threshold (NAN = none)
 * becomes null; a non-finite value is refused (JSON has no NaN/Infinity). */
json_t *ep_finding_json(const struct ep_finding *f)
{
	json_t *o;
	int r = 0;

	if (!f || !f->kind || !f->object || !f->unit || !f->method || !isfinite(f->value) ||
	    (unsigned)f->severity >= EP_ARRAY_SIZE(severity_names))
		return NULL;
	o = json_object();
	if (!o)
		return NULL;
	r |= json_object_set_new(o, "kind", json_string(f->kind));
	r |= json_object_set_new(o, "object", json_string(f->object));
	r |= json_object_set_new(o, "value", json_real(f->value));
	r |= json_object_set_new(o, "unit", json_string(f->unit));
	r |= json_object_set_new(o, "threshold",
				 isfinite(f->threshold) ? json_real(f->threshold) : json_null());
	r |= json_object_set_new(o, "severity", json_string(ep_severity_name(f->severity)));
	r |= json_object_set_new(o, "method", json_string(f->method));
	r |= json_object_set_new(o, "message", str_or_null(f->message));
	r |= json_object_set_new(o, "remediation", str_or_null(f->remediation));
	if (f->critical_threshold != 0 && isfinite(f->critical_threshold))
		r |= json_object_set_new(o, "critical_threshold", json_real(f->critical_threshold));
	if (f->min_size != 0 && isfinite(f->min_size))
		r |= json_object_set_new(o, "min_size", json_real(f->min_size));
	if (f->size != 0 && isfinite(f->size))
		r |= json_object_set_new(o, "size", json_real(f->size));
	if (f->size_unit && (f->min_size != 0 || f->size != 0))
		r |= json_object_set_new(o, "size_unit", json_string(f->size_unit));
	if (f->below)
		r |= json_object_set_new(o, "direction", json_string("below"));
	if (r != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int ep_findings_append(json_t *findings, json_t *finding)
{
	if (!finding)
		return -ENOMEM;
	if (json_array_size(findings) >= EP_REPORT_MAX_FINDINGS) {
		json_decref(finding);
		return -E2BIG;
	}
	return json_array_append_new(findings, finding) < 0 ? -ENOMEM : 0;
}

/* The value of KEY in an os-release file (shell-like quoting: "...", '...'
 * or bare, backslash escapes in double quotes). malloc'd or NULL. */
static char *os_release_value(const char *text, const char *key)
{
	size_t klen = strlen(key);
	const char *line = text;

	while (line && *line) {
		const char *eol = strchr(line, '\n');
		size_t llen = eol ? (size_t)(eol - line) : strlen(line);

		if (llen > klen && strncmp(line, key, klen) == 0 && line[klen] == '=') {
			const char *v = line + klen + 1, *end = line + llen;
			char *out = malloc(llen + 1), *o = out;
			char quote = 0;

			if (!out)
				return NULL;
			if (v < end && (*v == '"' || *v == '\'')) {
				quote = *v++;
			}
			while (v < end) {
				if (quote && *v == quote)
					break;
				if (quote == '"' && *v == '\\' && v + 1 < end) {
					v++;
				}
				*o++ = *v++;
			}
			*o = '\0';
			return out;
		}
		line = eol ? eol + 1 : NULL;
	}
	return NULL;
}

static char *root_path(const char *root, const char *rel)
{
	size_t rlen = strlen(root);
	char *p;

	while (rlen > 0 && root[rlen - 1] == '/')
		rlen--;
	p = malloc(rlen + strlen(rel) + 1);
	if (!p)
		return NULL;
	memcpy(p, root, rlen);
	memcpy(p + rlen, rel, strlen(rel) + 1);
	return p;
}

static json_t *host_os(const char *root)
{
	static const char *const files[] = {"/etc/os-release", "/usr/lib/os-release"};
	json_t *j = NULL;

	for (size_t i = 0; i < EP_ARRAY_SIZE(files) && !j; i++) {
		char *path = root_path(root, files[i]), *text = NULL, *v = NULL;

		if (path && ep_read_file(path, HOST_FILE_MAX, &text, NULL) == 0) {
			v = os_release_value(text, "PRETTY_NAME");
			if (!v)
				v = os_release_value(text, "NAME");
			if (v && *v && ep_utf8_valid(v, strlen(v)))
				j = json_string(v);
		}
		free(v);
		free(text);
		free(path);
	}
	return j ? j : json_null();
}

static json_t *host_uptime(const char *root)
{
	char *path = root_path(root, "/proc/uptime"), *text = NULL;
	json_t *j = NULL;

	if (path && ep_read_file(path, HOST_FILE_MAX, &text, NULL) == 0) {
		char *end;
		double up = strtod(text, &end);

		if (end != text && isfinite(up) && up >= 0 && up < 9e15)
			j = json_integer((json_int_t)up);
	}
	free(text);
	free(path);
	return j ? j : json_null();
}

/* {hostname, os, kernel, uptime_s}: os and uptime_s are null when the files
 * are missing or unreadable (a report is still worth sending). */
json_t *ep_report_host_json(const char *root)
{
	struct utsname u;
	json_t *h;
	int r = 0;

	if (!root)
		root = "/";
	if (uname(&u) != 0)
		return NULL;
	h = json_object();
	if (!h)
		return NULL;
	r |= json_object_set_new(h, "hostname", json_string(u.nodename));
	r |= json_object_set_new(h, "kernel", json_string(u.release));
	r |= json_object_set_new(h, "os", host_os(root));
	r |= json_object_set_new(h, "uptime_s", host_uptime(root));
	if (r != 0) {
		json_decref(h);
		return NULL;
	}
	return h;
}

json_t *ep_report_new(const char *agent_id, int64_t seq, time_t generated_at, int64_t interval_s,
		      json_t *host, int64_t dropped_reports)
{
	char when[64];
	json_t *rep;
	int r = 0;

	if (!host || !agent_id || ep_time_format(generated_at, when, sizeof(when)) < 0) {
		json_decref(host);
		return NULL;
	}
	rep = json_object();
	if (!rep) {
		json_decref(host);
		return NULL;
	}
	r |= json_object_set_new(rep, "schema", json_string(EP_REPORT_SCHEMA));
	r |= json_object_set_new(rep, "agent_id", json_string(agent_id));
	r |= json_object_set_new(rep, "seq", json_integer(seq));
	r |= json_object_set_new(rep, "generated_at", json_string(when));
	r |= json_object_set_new(rep, "interval_s", json_integer(interval_s));
	r |= json_object_set_new(rep, "agent_version", json_string(EP_VERSION));
	r |= json_object_set_new(rep, "host", host);
	r |= json_object_set_new(rep, "dropped_reports", json_integer(dropped_reports));
	r |= json_object_set_new(rep, "probes", json_array());
	if (r != 0) {
		json_decref(rep);
		return NULL;
	}
	return rep;
}

int ep_report_add_configured(json_t *report, const char *name, const char *target)
{
	json_t *list = json_object_get(report, "configured");

	if (!json_is_object(report) || !name)
		return -EINVAL;
	if (!list) {
		list = json_array();
		if (!list || json_object_set_new(report, "configured", list) < 0)
			return -ENOMEM;
	}
	if (!json_is_array(list))
		return -EINVAL;
	if (json_array_size(list) >= EP_REPORT_MAX_PROBES)
		return -E2BIG;
	return json_array_append_new(list, json_pack("{s:s, s:s}", "name", name, "target",
						     target ? target : "")) < 0
		       ? -ENOMEM
		       : 0;
}

int ep_report_add_probe(json_t *report, const char *name, const char *target,
			enum ep_probe_status status, const char *error, int64_t duration_ms,
			json_t *metrics, json_t *findings)
{
	json_t *probes = json_object_get(report, "probes");
	json_t *p;
	int r = 0;

	if (!metrics)
		metrics = json_object();
	if (!findings)
		findings = json_array();
	if (!json_is_array(probes) || !name || !metrics || !findings) {
		json_decref(metrics);
		json_decref(findings);
		return !json_is_array(probes) || !name ? -EINVAL : -ENOMEM;
	}
	p = json_object();
	if (!p) {
		json_decref(metrics);
		json_decref(findings);
		return -ENOMEM;
	}
	r |= json_object_set_new(p, "name", json_string(name));
	r |= json_object_set_new(p, "target", str_or_null(target));
	r |= json_object_set_new(p, "status", json_string(ep_probe_status_name(status)));
	r |= json_object_set_new(p, "error", str_or_null(error));
	r |= json_object_set_new(p, "duration_ms", json_integer(duration_ms));
	r |= json_object_set_new(p, "metrics", metrics);
	r |= json_object_set_new(p, "findings", findings);
	if (r != 0) {
		json_decref(p);
		return -ENOMEM;
	}
	if (json_array_append_new(probes, p) != 0)
		return -ENOMEM;
	return 0;
}

/* Precision 17 is what %.17g needs for every double to read back
 * bit-identical (it is also jansson's default). JSON_ENCODE_ANY lets the
 * same function write any value ep_json_parse_strict accepts. */
char *ep_report_serialize(const json_t *report, size_t *ret_len)
{
	char *s;

	if (!report)
		return NULL;
	s = json_dumps(report,
		       JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17) | JSON_ENCODE_ANY);
	if (s && ret_len)
		*ret_len = strlen(s);
	return s;
}

/* ---- schema validation ---------------------------------------------------------- */

enum field_type {
	F_STRING,     /* any string */
	F_NONEMPTY,   /* non-empty string */
	F_STR_NULL,   /* string or null */
	F_INT_POS,    /* integer >= 1 */
	F_INT_NONNEG, /* integer >= 0 */
	F_INT_NULL,   /* integer >= 0 or null */
	F_NUMBER,     /* integer or real */
	F_NUM_NULL,   /* number or null */
	F_OBJECT,
	F_ARRAY,
};

struct field {
	const char *name;
	enum field_type type;
	bool optional; /* the key may be absent */
};

static const char *type_expect(enum field_type t)
{
	switch (t) {
	case F_STRING:
		return "expected a string";
	case F_NONEMPTY:
		return "expected a non-empty string";
	case F_STR_NULL:
		return "expected a string or null";
	case F_INT_POS:
		return "expected an integer >= 1";
	case F_INT_NONNEG:
		return "expected an integer >= 0";
	case F_INT_NULL:
		return "expected an integer >= 0 or null";
	case F_NUMBER:
		return "expected a number";
	case F_NUM_NULL:
		return "expected a number or null";
	case F_OBJECT:
		return "expected an object";
	case F_ARRAY:
		return "expected an array";
	}
	return "unexpected type";
}

static bool type_ok(const json_t *v, enum field_type t)
{
	switch (t) {
	case F_STRING:
		return json_is_string(v);
	case F_NONEMPTY:
		return json_is_string(v) && json_string_length(v) > 0;
	case F_STR_NULL:
		return json_is_string(v) || json_is_null(v);
	case F_INT_POS:
		return json_is_integer(v) && json_integer_value(v) >= 1;
	case F_INT_NONNEG:
		return json_is_integer(v) && json_integer_value(v) >= 0;
	case F_INT_NULL:
		return json_is_null(v) || (json_is_integer(v) && json_integer_value(v) >= 0);
	case F_NUMBER:
		return json_is_number(v);
	case F_NUM_NULL:
		return json_is_number(v) || json_is_null(v);
	case F_OBJECT:
		return json_is_object(v);
	case F_ARRAY:
		return json_is_array(v);
	}
	return false;
}

/* prefix: "" for the top level, "probes[2]" etc. below. */
static int check_fields(const json_t *obj, const char *prefix, const struct field *fields, size_t n,
			char *err, size_t errlen)
{
	const char *dot = *prefix ? "." : "";

	for (size_t i = 0; i < n; i++) {
		const json_t *v = json_object_get(obj, fields[i].name);

		if (!v) {
			if (fields[i].optional)
				continue;
			ep_snprintf(err, errlen, "%s%s%s: missing", prefix, dot, fields[i].name);
			return -EINVAL;
		}
		if (!type_ok(v, fields[i].type)) {
			ep_snprintf(err, errlen, "%s%s%s: %s", prefix, dot, fields[i].name,
				    type_expect(fields[i].type));
			return -EINVAL;
		}
	}
	return 0;
}

static const struct field report_fields[] = {
	{"schema", F_STRING, false},      {"agent_id", F_NONEMPTY, false},
	{"seq", F_INT_POS, false},        {"generated_at", F_STRING, false},
	{"interval_s", F_INT_POS, false}, {"agent_version", F_STRING, false},
	{"host", F_OBJECT, false},        {"dropped_reports", F_INT_NONNEG, false},
	{"probes", F_ARRAY, false},       {"configured", F_ARRAY, true},
};

/* configured[i] (since agent 0.2.0): one probe instance of the agent's config. */
static const struct field configured_fields[] = {
	{"name", F_NONEMPTY, false},
	{"target", F_STR_NULL, false},
};

static const struct field host_fields[] = {
	{"hostname", F_STRING, false},
	{"os", F_STR_NULL, false},
	{"kernel", F_STRING, false},
	{"uptime_s", F_INT_NULL, false},
};

static const struct field probe_fields[] = {
	{"name", F_NONEMPTY, false},          {"target", F_STR_NULL, false},
	{"status", F_STRING, false},          {"error", F_STR_NULL, false},
	{"duration_ms", F_INT_NONNEG, false}, {"metrics", F_OBJECT, false},
	{"findings", F_ARRAY, false},
};

/* message and remediation may be absent as well as null. */
static const struct field finding_fields[] = {
	{"kind", F_NONEMPTY, false},       {"object", F_STRING, false},
	{"value", F_NUMBER, false},        {"unit", F_STRING, false},
	{"threshold", F_NUM_NULL, false},  {"severity", F_STRING, false},
	{"method", F_STRING, false},       {"message", F_STR_NULL, true},
	{"remediation", F_STR_NULL, true},
};

static int check_finding(const json_t *f, const char *prefix, char *err, size_t errlen)
{
	enum ep_severity sev;
	int r;

	if (!json_is_object(f)) {
		ep_snprintf(err, errlen, "%s: expected an object", prefix);
		return -EINVAL;
	}
	r = check_fields(f, prefix, finding_fields, EP_ARRAY_SIZE(finding_fields), err, errlen);
	if (r < 0)
		return r;
	if (ep_severity_parse(json_string_value(json_object_get(f, "severity")), &sev) < 0) {
		ep_snprintf(err, errlen, "%s.severity: expected one of info, warning, critical",
			    prefix);
		return -EINVAL;
	}
	return 0;
}

static int check_probe(const json_t *p, const char *prefix, char *err, size_t errlen)
{
	const char *status;
	const json_t *findings, *f;
	char fpath[96];
	size_t i;
	int r;

	if (!json_is_object(p)) {
		ep_snprintf(err, errlen, "%s: expected an object", prefix);
		return -EINVAL;
	}
	r = check_fields(p, prefix, probe_fields, EP_ARRAY_SIZE(probe_fields), err, errlen);
	if (r < 0)
		return r;
	status = json_string_value(json_object_get(p, "status"));
	if (strcmp(status, "ok") != 0 && strcmp(status, "error") != 0 &&
	    strcmp(status, "skipped") != 0) {
		ep_snprintf(err, errlen, "%s.status: expected one of ok, error, skipped", prefix);
		return -EINVAL;
	}
	findings = json_object_get(p, "findings");
	if (json_array_size(findings) > EP_REPORT_MAX_FINDINGS) {
		ep_snprintf(err, errlen, "%s.findings: more than %d findings", prefix,
			    EP_REPORT_MAX_FINDINGS);
		return -EINVAL;
	}
	json_array_foreach(findings, i, f)
	{
		/* the JSON path is written out only for the error: checked
		 * without a message first, then again with it */
		if (check_finding(f, "", NULL, 0) == 0)
			continue;
		(void)ep_snprintf(fpath, sizeof(fpath), "%s.findings[%zu]", prefix, i);
		return check_finding(f, fpath, err, errlen);
	}
	return 0;
}

int ep_report_validate(const json_t *report, char *err, size_t errlen)
{
	const json_t *probes, *p;
	time_t t;
	char ppath[32];
	size_t i;
	int r;

	if (err && errlen)
		err[0] = '\0';
	if (!json_is_object(report)) {
		ep_snprintf(err, errlen, "report: expected an object");
		return -EINVAL;
	}
	r = check_fields(report, "", report_fields, EP_ARRAY_SIZE(report_fields), err, errlen);
	if (r < 0)
		return r;
	if (strcmp(json_string_value(json_object_get(report, "schema")), EP_REPORT_SCHEMA) != 0) {
		ep_snprintf(err, errlen, "schema: expected \"%s\"", EP_REPORT_SCHEMA);
		return -EINVAL;
	}
	if (ep_time_parse(json_string_value(json_object_get(report, "generated_at")), &t) < 0) {
		ep_snprintf(err, errlen, "generated_at: expected an RFC 3339 date-time");
		return -EINVAL;
	}
	r = check_fields(json_object_get(report, "host"), "host", host_fields,
			 EP_ARRAY_SIZE(host_fields), err, errlen);
	if (r < 0)
		return r;
	probes = json_object_get(report, "probes");
	if (json_array_size(probes) > EP_REPORT_MAX_PROBES) {
		ep_snprintf(err, errlen, "probes: more than %d probes", EP_REPORT_MAX_PROBES);
		return -EINVAL;
	}
	json_array_foreach(probes, i, p)
	{
		if (check_probe(p, "", NULL, 0) == 0) /* as for findings */
			continue;
		(void)ep_snprintf(ppath, sizeof(ppath), "probes[%zu]", i);
		return check_probe(p, ppath, err, errlen);
	}
	probes = json_object_get(report, "configured"); /* optional */
	if (json_array_size(probes) > EP_REPORT_MAX_PROBES) {
		ep_snprintf(err, errlen, "configured: more than %d probe instances",
			    EP_REPORT_MAX_PROBES);
		return -EINVAL;
	}
	json_array_foreach(probes, i, p)
	{
		if (json_is_object(p) &&
		    check_fields(p, "", configured_fields, EP_ARRAY_SIZE(configured_fields), NULL,
				 0) == 0)
			continue; /* as for findings */
		(void)ep_snprintf(ppath, sizeof(ppath), "configured[%zu]", i);
		if (!json_is_object(p)) {
			ep_snprintf(err, errlen, "%s: expected an object", ppath);
			return -EINVAL;
		}
		return check_fields(p, ppath, configured_fields, EP_ARRAY_SIZE(configured_fields),
				    err, errlen);
	}
	return 0;
}
