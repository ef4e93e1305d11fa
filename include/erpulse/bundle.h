/* Report bundles (docs/protocol.md, "Bundles"): the signed reports of one
 * agent in one file, for hosts without a network path to the collector
 * (`erpulse-agent export`, `erpulse-collector import`). JSON lines:
 *
 *   {"format":"erpulse.bundle.v1","agent_id":...,"created_at":...,...}
 *   {"agent_id":...,"seq":N,"signature":BASE64,"body":BASE64}   one per report
 *   {"end":true,"reports":N}
 *
 * Each line is one compact JSON object ending in '\n'. A report line carries
 * the exact signed body bytes (base64), never a re-serialization. This file
 * writes and parses lines; it never verifies signatures (the collector does,
 * with the key it holds for agent_id). */
#ifndef ERPULSE_BUNDLE_H
#define ERPULSE_BUNDLE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "erpulse/crypto.h"
#include "erpulse/report.h"
#include "erpulse/util.h"

#define EP_BUNDLE_FORMAT    "erpulse.bundle.v1"
#define EP_BUNDLE_AGENT_MAX 80 /* agent_id bytes, NUL included */
/* The longest line a reader must accept: a body of EP_REPORT_MAX_BYTES in
 * base64 plus the other fields. */
#define EP_BUNDLE_LINE_MAX (((size_t)EP_REPORT_MAX_BYTES + 2) / 3 * 4 + 1024)

enum ep_bundle_kind {
	EP_BUNDLE_HEADER,
	EP_BUNDLE_REPORT,
	EP_BUNDLE_END,
};

/* One parsed line. For a report, body is the decoded signed bytes
 * (malloc'd, NUL-terminated, owned: ep_bundle_line_free). */
struct ep_bundle_line {
	enum ep_bundle_kind kind;
	char agent_id[EP_BUNDLE_AGENT_MAX]; /* header and report lines */
	int64_t seq;                        /* report */
	char signature[EP_SIGNATURE_B64_SIZE];
	char *body;
	size_t len;
	int64_t reports; /* end line: the number of report lines before it */
};

/* Append one line (with its '\n') to out. 0 or -ENOMEM / -E2BIG (out's cap). */
int ep_bundle_header(struct ep_buf *out, const char *agent_id, time_t created_at);
int ep_bundle_report(struct ep_buf *out, const char *agent_id, int64_t seq, const char *sig_b64,
		     const char *body, size_t len);
int ep_bundle_end(struct ep_buf *out, int64_t reports);

/* Parses one line (len bytes, without its '\n'; need not be NUL-terminated).
 * 0 with *ret filled, or -EBADMSG with err saying what is wrong: not one JSON
 * object, an unknown format, a missing or mistyped field, an agent_id that is
 * empty, too long or holds a '/' or a control character, seq outside
 * [1, INT64_MAX / 8], a signature that is not 64 bytes of base64, a body that
 * is not base64 or longer than EP_REPORT_MAX_BYTES, or a line longer than
 * EP_BUNDLE_LINE_MAX. */
int ep_bundle_parse(const char *line, size_t len, struct ep_bundle_line *ret, char *err,
		    size_t errlen);
void ep_bundle_line_free(struct ep_bundle_line *l);

#endif
