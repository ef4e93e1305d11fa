/* Signature, parse and identity checks of a report (ingest.h). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "collector/ingest.h"
#include "erpulse/report.h"

bool coll_agent_id_valid(const char *id)
{
	size_t n = 0;
	if (!id)
		return false;
	for (; id[n]; n++)
		if (n >= 64 || !((id[n] >= '0' && id[n] <= '9') || (id[n] >= 'a' && id[n] <= 'f')))
			return false;
	return n > 0;
}

enum coll_check coll_ingest_check(const unsigned char public_key[EP_PUBLIC_KEY_BYTES],
				  const char *agent_id, const char *sig_b64, const char *body,
				  size_t len, size_t max_bytes, json_t **ret_report,
				  int64_t *ret_seq, char *err, size_t errlen)
{
	unsigned char sig[EP_SIGNATURE_BYTES + 8];
	size_t sig_len = 0;
	json_t *report = NULL;

	if (len > max_bytes) {
		snprintf(err, errlen, "body larger than %zu bytes", max_bytes);
		return COLL_CHECK_TOO_LARGE;
	}
	/* signature first: nothing of the body is looked at before */
	if (!sig_b64 || strlen(sig_b64) >= EP_SIGNATURE_B64_SIZE + 4 ||
	    ep_base64_decode(sig_b64, strlen(sig_b64), sig, sizeof(sig), &sig_len) < 0 ||
	    sig_len != EP_SIGNATURE_BYTES || ep_verify(public_key, body, len, sig) < 0) {
		snprintf(err, errlen, "unknown agent or bad signature");
		return COLL_CHECK_UNAUTHORIZED;
	}
	if (ep_report_parse(body, len, max_bytes, &report, err, errlen) < 0)
		return COLL_CHECK_BAD_REQUEST;
	const json_t *id = json_object_get(report, "agent_id");
	if (!json_is_string(id) || strcmp(json_string_value(id), agent_id) != 0) {
		snprintf(err, errlen, "agent_id in the body differs from X-Erpulse-Agent");
		json_decref(report);
		return COLL_CHECK_BAD_REQUEST;
	}
	const json_t *seq = json_object_get(report, "seq");
	if (!json_is_integer(seq) || json_integer_value(seq) < 1) {
		snprintf(err, errlen, "seq: expected an integer >= 1");
		json_decref(report);
		return COLL_CHECK_BAD_REQUEST;
	}
	*ret_seq = json_integer_value(seq);
	*ret_report = report;
	return COLL_CHECK_OK;
}
