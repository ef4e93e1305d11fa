/* libFuzzer target: the agent's reading of the collector's HTTP answers
 * (agent/deliver.c, agent/enroll.c, agent/http.c): the 2xx answer to a
 * report (accepted / duplicate with last_seq: agent_ack_parse), an error
 * answer turned into the one-line problem text (agent_describe_answer), the
 * enrollment answer (agent_enroll_answer_parse) and its refusal message
 * (agent_enroll_refusal), and the retry delay built from a Retry-After value
 * (agent_backoff_s; libcurl parses the header itself).
 * Input: the first 10 bytes give the HTTP status, an attempt number and a
 * Retry-After value; the rest is the answer body, passed as a heap copy of
 * exactly its length without a NUL so ASan catches any over-read.
 * Checked: a resynchronisation only ever targets a seq in
 * [next_seq, AGENT_SEQ_MAX] (so renumbering cannot overflow), texts that
 * reach the log or STATUS= hold no control characters and stay inside their
 * buffers, an accepted agent id is one safe token, and the delay honours
 * Retry-After (capped at an hour) and the backoff cap. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void no_controls(const char *s, size_t size)
{
	const char *end = memchr(s, '\0', size);
	if (!end)
		abort(); /* not terminated inside its buffer */
	for (; s < end; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
}

static void check_ack(const char *body, size_t len, int64_t next_seq)
{
	struct agent_ack ack;
	agent_ack_parse(body, len, next_seq, &ack);
	if (ack.resync && (!ack.duplicate || ack.last_seq < next_seq || ack.last_seq < 1 ||
			   ack.last_seq > AGENT_SEQ_MAX))
		abort();
	if (!ack.resync && ack.last_seq != 0)
		abort();
	if (ack.untrusted && !ack.duplicate)
		abort();
	/* a 409 seq conflict: the collector's counter, usable or -1 */
	char code[32];
	int64_t last = 0;
	if (agent_conflict_parse(body, len, code, sizeof(code), &last) &&
	    (last < -1 || last > AGENT_SEQ_MAX ||
	     (strcmp(code, "seq_conflict") != 0 && strcmp(code, "seq_too_far") != 0)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = {200, 201, 400, 401, 403, 404, 413, 429, 500, 503};
	if (size < 10)
		return 0;
	long status = statuses[data[0] % 10];
	unsigned attempt = data[1] % 40;
	int64_t retry_after;
	memcpy(&retry_after, data + 2, sizeof(retry_after));
	retry_after = retry_after < 0 ? -1 : retry_after;
	size_t len = size - 10;
	char *body = malloc(len ? len : 1);
	if (!body)
		return 0;
	memcpy(body, data + 10, len);

	/* the 2xx answer to a report, against a fresh agent, a busy one and one
	 * whose counter is already at the top */
	check_ack(body, len, 1);
	check_ack(body, len, 42);
	check_ack(body, len, AGENT_SEQ_MAX);
	check_ack(NULL, 0, 1);

	/* an error answer as the problem text, in a roomy and a tight buffer */
	struct agent_http_result res;
	memset(&res, 0, sizeof(res));
	res.cls = AGENT_HTTP_OK;
	res.status = status;
	res.retry_after_s = retry_after;
	res.body.data = body;
	res.body.len = len;
	char desc[1024], tiny[12];
	agent_describe_answer(&res, desc, sizeof(desc));
	no_controls(desc, sizeof(desc));
	if (strncmp(desc, "HTTP ", 5) != 0)
		abort();
	agent_describe_answer(&res, tiny, sizeof(tiny));
	no_controls(tiny, sizeof(tiny));

	/* the enrollment answer and the refusal message */
	char aid[80], cid[128], msg[1024];
	memset(aid, 'x', sizeof(aid));
	memset(cid, 'x', sizeof(cid));
	if (agent_enroll_answer_parse(body, len, aid, sizeof(aid), cid, sizeof(cid)) == 0) {
		no_controls(aid, sizeof(aid));
		if (!aid[0] || strchr(aid, '/') || !memchr(cid, '\0', sizeof(cid)))
			abort();
	}
	int rc = agent_enroll_refusal(status, body, len, msg, sizeof(msg));
	no_controls(msg, sizeof(msg));
	if (rc != AGENT_EXIT_REFUSED && rc != AGENT_EXIT_FAILURE)
		abort();
	if ((status == 429 || status >= 500) != (rc == AGENT_EXIT_FAILURE) && !strstr(msg, "token"))
		abort();

	/* the retry delay with the daemon's base and cap (5 s, 300 s) */
	int64_t d = agent_backoff_s(attempt, 5, 300, retry_after);
	int64_t ra = retry_after > 3600 ? 3600 : retry_after;
	if (d < 0 || d > (ra > 300 ? ra : 300) || (ra >= 0 && d < ra))
		abort();
	free(body);
	return 0;
}
