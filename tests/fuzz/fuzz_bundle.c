/* libFuzzer target: the bundle line parser (lib/bundle.c), which the
 * collector's import runs on files brought from customers' hosts. Any input
 * is parsed; a report line that parses is written again with
 * ep_bundle_report and must parse back to the same agent_id, seq, signature
 * and body bytes. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "erpulse/bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ep_bundle_line l, again;
	struct ep_buf out;
	char err[256];

	if (ep_bundle_parse((const char *)data, size, &l, err, sizeof(err)) < 0)
		return 0;
	if (l.kind == EP_BUNDLE_REPORT) {
		ep_buf_init(&out, EP_BUNDLE_LINE_MAX + 2);
		assert(ep_bundle_report(&out, l.agent_id, l.seq, l.signature, l.body, l.len) == 0);
		assert(out.len > 0 && out.data[out.len - 1] == '\n');
		assert(ep_bundle_parse(out.data, out.len - 1, &again, err, sizeof(err)) == 0);
		assert(again.kind == EP_BUNDLE_REPORT && again.seq == l.seq);
		assert(strcmp(again.agent_id, l.agent_id) == 0);
		assert(strcmp(again.signature, l.signature) == 0);
		assert(again.len == l.len && memcmp(again.body, l.body, l.len) == 0);
		ep_bundle_line_free(&again);
		ep_buf_free(&out);
	}
	ep_bundle_line_free(&l);
	return 0;
}
