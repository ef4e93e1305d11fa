/* Report bundles: the line format of include/erpulse/bundle.h. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "erpulse/bundle.h"

#define SEQ_MAX (INT64_MAX / 8)

static int append_json(struct ep_buf *out, json_t *o)
{
	char *text;
	int r;

	if (!o)
		return -ENOMEM;
	text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	if (!text)
		return -ENOMEM;
	r = ep_buf_append(out, text, strlen(text));
	if (r == 0)
		r = ep_buf_append(out, "\n", 1);
	free(text);
	return r;
}

int ep_bundle_header(struct ep_buf *out, const char *agent_id, time_t created_at)
{
	char when[32] = "";

	ep_time_format(created_at, when, sizeof(when));
	return append_json(out,
			   json_pack("{s:s, s:s, s:s, s:s}", "format", EP_BUNDLE_FORMAT, "agent_id",
				     agent_id, "created_at", when, "agent_version", EP_VERSION));
}

int ep_bundle_report(struct ep_buf *out, const char *agent_id, int64_t seq, const char *sig_b64,
		     const char *body, size_t len)
{
	size_t cap = (len + 2) / 3 * 4 + 1;
	char *b64 = malloc(cap);
	int r;

	if (!b64)
		return -ENOMEM;
	r = ep_base64_encode(body, len, b64, cap);
	if (r < 0) {
		free(b64);
		return r;
	}
	/* the base64 text is copied into the JSON string once */
	r = append_json(out, json_pack("{s:s, s:I, s:s, s:s}", "agent_id", agent_id, "seq",
				       (json_int_t)seq, "signature", sig_b64, "body", b64));
	free(b64);
	return r;
}

int ep_bundle_end(struct ep_buf *out, int64_t reports)
{
	return append_json(out, json_pack("{s:b, s:I}", "end", 1, "reports", (json_int_t)reports));
}

static bool agent_id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= EP_BUNDLE_AGENT_MAX)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '/')
			return false;
	return true;
}

static int fail(char *err, size_t errlen, const char *what)
{
	ep_snprintf(err, errlen, "%s", what);
	return -EBADMSG;
}

int ep_bundle_parse(const char *line, size_t len, struct ep_bundle_line *ret, char *err,
		    size_t errlen)
{
	json_t *o = NULL;
	const char *aid, *sig, *body;
	json_t *seq;
	unsigned char raw[EP_SIGNATURE_BYTES];
	size_t rawlen = 0, blen;
	int r = -EBADMSG;

	memset(ret, 0, sizeof(*ret));
	if (len > EP_BUNDLE_LINE_MAX)
		return fail(err, errlen, "line too long");
	o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o)) {
		r = fail(err, errlen, "not a JSON object");
		goto out;
	}
	if (json_object_get(o, "format")) {
		const char *f = json_string_value(json_object_get(o, "format"));

		if (!f || strcmp(f, EP_BUNDLE_FORMAT) != 0) {
			r = fail(err, errlen, "not an " EP_BUNDLE_FORMAT " bundle (format)");
			goto out;
		}
		aid = json_string_value(json_object_get(o, "agent_id"));
		if (!aid || !agent_id_ok(aid)) {
			r = fail(err, errlen, "header: missing or invalid agent_id");
			goto out;
		}
		ret->kind = EP_BUNDLE_HEADER;
		ep_snprintf(ret->agent_id, sizeof(ret->agent_id), "%s", aid);
		r = 0;
		goto out;
	}
	if (json_is_true(json_object_get(o, "end"))) {
		json_t *n = json_object_get(o, "reports");

		if (!json_is_integer(n) || json_integer_value(n) < 0) {
			r = fail(err, errlen, "end: missing or invalid reports count");
			goto out;
		}
		ret->kind = EP_BUNDLE_END;
		ret->reports = (int64_t)json_integer_value(n);
		r = 0;
		goto out;
	}
	aid = json_string_value(json_object_get(o, "agent_id"));
	sig = json_string_value(json_object_get(o, "signature"));
	body = json_string_value(json_object_get(o, "body"));
	seq = json_object_get(o, "seq");
	if (!aid || !agent_id_ok(aid)) {
		r = fail(err, errlen, "report: missing or invalid agent_id");
		goto out;
	}
	if (!json_is_integer(seq) || json_integer_value(seq) < 1 ||
	    json_integer_value(seq) > SEQ_MAX) {
		r = fail(err, errlen, "report: missing or invalid seq");
		goto out;
	}
	if (!sig || strlen(sig) + 1 != EP_SIGNATURE_B64_SIZE ||
	    ep_base64_decode(sig, strlen(sig), raw, sizeof(raw), &rawlen) < 0 ||
	    rawlen != sizeof(raw)) {
		r = fail(err, errlen, "report: signature is not 64 bytes of base64");
		goto out;
	}
	if (!body) {
		r = fail(err, errlen, "report: missing body");
		goto out;
	}
	blen = strlen(body);
	if (blen > ((size_t)EP_REPORT_MAX_BYTES + 2) / 3 * 4) {
		r = fail(err, errlen, "report: body larger than a report may be");
		goto out;
	}
	ret->body = malloc(blen / 4 * 3 + 4);
	if (!ret->body) {
		r = -ENOMEM;
		goto out;
	}
	if (ep_base64_decode(body, blen, ret->body, blen / 4 * 3 + 3, &ret->len) < 0 ||
	    ret->len > EP_REPORT_MAX_BYTES) {
		free(ret->body);
		ret->body = NULL;
		r = fail(err, errlen, "report: body is not base64");
		goto out;
	}
	ret->body[ret->len] = '\0';
	ret->kind = EP_BUNDLE_REPORT;
	ep_snprintf(ret->agent_id, sizeof(ret->agent_id), "%s", aid);
	ret->seq = (int64_t)json_integer_value(seq);
	memcpy(ret->signature, sig, EP_SIGNATURE_B64_SIZE);
	r = 0;
out:
	json_decref(o);
	return r;
}

void ep_bundle_line_free(struct ep_bundle_line *l)
{
	if (!l)
		return;
	free(l->body);
	l->body = NULL;
}
