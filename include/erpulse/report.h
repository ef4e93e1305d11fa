/* The erpulse.report.v1 document (docs/protocol.md): building it in the
 * agent and strict parsing plus schema validation in the collector.
 * JSON is jansson's json_t throughout; ownership follows jansson (the _new
 * setters consume their value). */
#ifndef ERPULSE_REPORT_H
#define ERPULSE_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EP_REPORT_SCHEMA       "erpulse.report.v1"
#define EP_REPORT_MAX_BYTES    (1024 * 1024) /* default body cap */
#define EP_REPORT_MAX_DEPTH    16            /* nesting of arrays/objects */
#define EP_REPORT_MAX_STRING   8192          /* bytes in any one string */
#define EP_REPORT_MAX_PROBES   256
#define EP_REPORT_MAX_FINDINGS 4096 /* per probe */

enum ep_probe_status {
	EP_STATUS_OK,
	EP_STATUS_ERROR,
	EP_STATUS_SKIPPED,
};
const char *ep_probe_status_name(enum ep_probe_status s);

enum ep_severity {
	EP_SEV_INFO,
	EP_SEV_WARNING,
	EP_SEV_CRITICAL,
};
const char *ep_severity_name(enum ep_severity s);
int ep_severity_parse(const char *s, enum ep_severity *ret);

/* One finding (DESIGN.md): what was measured, against what, how, and the fix.
 * Strings are borrowed; ep_finding_json copies them. threshold NAN = none.
 * The rule that judged the finding travels with it (docs/protocol.md,
 * "Findings"): the agent decides the severity once and every consumer uses it.
 * critical_threshold, min_size and size: 0 = not part of the rule (omitted). */
struct ep_finding {
	const char *kind;   /* "index_fragmentation", "disk_usage", ... */
	const char *object; /* "odoo/public.sale_order_pkey", "/var" */
	double value;
	const char *unit; /* "%", "bytes", "days", "count" */
	double threshold; /* the warning line */
	enum ep_severity severity;
	const char *method;        /* "pgstatindex", "statvfs", ... */
	const char *message;       /* one human sentence, may be NULL */
	const char *remediation;   /* exact statement or action, may be NULL */
	double critical_threshold; /* the critical line */
	double min_size;           /* smallest object judged, in size_unit */
	double size;               /* this object's size, in size_unit */
	const char *size_unit;     /* "pages", "bytes"; NULL with min_size/size 0 */
	bool below;                /* true: lower values are worse ("direction": "below") */
};
/* New JSON object for f, or NULL on ENOMEM. Extra fields may be added by the
 * caller to the returned object (e.g. "pages", "measured_at"). */
json_t *ep_finding_json(const struct ep_finding *f);
/* Appends finding (consumed, even on failure) to the findings array unless
 * it already holds EP_REPORT_MAX_FINDINGS. 0, -E2BIG (full) or -ENOMEM. */
int ep_findings_append(json_t *findings, json_t *finding);

/* The host block of a report, filled from uname(2), /proc/uptime and
 * /etc/os-release below root ("/" in production). */
json_t *ep_report_host_json(const char *root);

/* Starts a report: {schema, agent_id, seq, generated_at, interval_s,
 * agent_version, host, dropped_reports, probes: []}. host is consumed. */
json_t *ep_report_new(const char *agent_id, int64_t seq, time_t generated_at, int64_t interval_s,
		      json_t *host, int64_t dropped_reports);
/* Appends {name, target} to the report's "configured" list (created on first
 * use; since agent 0.2.0): one probe instance enabled in the agent's config,
 * whether or not it ran this cycle. target NULL = "". 0, -E2BIG (more than
 * EP_REPORT_MAX_PROBES), -EINVAL or -ENOMEM. */
int ep_report_add_configured(json_t *report, const char *name, const char *target);
/* Appends a probe entry {name, target, status, error, duration_ms, metrics,
 * findings}. metrics and findings are consumed (NULL = empty). 0 or -ENOMEM. */
int ep_report_add_probe(json_t *report, const char *name, const char *target,
			enum ep_probe_status status, const char *error, int64_t duration_ms,
			json_t *metrics, json_t *findings);

/* Serializes exactly as signed and sent: JSON_COMPACT | JSON_SORT_KEYS.
 * Returns a malloc'd NUL-terminated string (caller frees) or NULL. */
char *ep_report_serialize(const json_t *report, size_t *ret_len);

/* Strict parse of outside input: at most max_bytes, valid UTF-8, no NUL,
 * duplicate keys rejected, nesting at most EP_REPORT_MAX_DEPTH, strings at
 * most EP_REPORT_MAX_STRING. Any JSON value at top level. 0 with *ret owned
 * by the caller, or -EINVAL / -E2BIG with err saying what and where. */
int ep_json_parse_strict(const char *data, size_t len, size_t max_bytes, json_t **ret, char *err,
			 size_t errlen);

/* ep_json_parse_strict's accept path alone (yajl's parse building jansson's
 * values), for the tests and the fuzz target that hold it to jansson's: 0
 * with *ret owned by the caller, or -EAGAIN when the body is not plain or
 * yajl refused it (ep_json_parse_strict then asks jansson). */
int ep_json_parse_fast(const char *data, size_t len, json_t **ret);

/* Validates a parsed document against erpulse.report.v1: required fields and
 * types, schema string, seq >= 1, generated_at RFC 3339, status names,
 * severities, limits on probes and findings, the optional "configured" list. 0 or -EINVAL with err
 * naming the JSON path ("probes[2].findings[0].value: expected a number"). */
int ep_report_validate(const json_t *report, char *err, size_t errlen);

/* ep_json_parse_strict + ep_report_validate. */
int ep_report_parse(const char *data, size_t len, size_t max_bytes, json_t **ret, char *err,
		    size_t errlen);

#endif
