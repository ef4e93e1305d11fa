/* agent/deliver.c: which answers prove a report was stored (issue 15 item
 * 3): a duplicate pointing at a far-future last_seq is not trusted, a 409
 * seq conflict carries the collector's counter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "agent/agent.h"

static void parse(const char *body, int64_t next_seq, struct agent_ack *ack)
{
	agent_ack_parse(body, strlen(body), next_seq, ack);
}

static void test_ack(void **state)
{
	(void)state;
	struct agent_ack ack;
	parse("{\"status\":\"accepted\",\"seq\":7}", 8, &ack);
	assert_true(ack.accepted);
	assert_int_equal(ack.seq, 7);
	assert_false(ack.untrusted);
	parse("{\"status\":\"duplicate\",\"seq\":7,\"last_seq\":7}", 8, &ack);
	assert_true(ack.duplicate);
	assert_false(ack.resync);
	assert_false(ack.untrusted);
	/* an older collector after a clone sent seq INT64_MAX */
	parse("{\"status\":\"duplicate\",\"seq\":8,\"last_seq\":9223372036854775807}", 9, &ack);
	assert_true(ack.untrusted);
	assert_false(ack.resync);
	parse("{\"status\":\"duplicate\",\"seq\":8,\"last_seq\":50}", 9, &ack);
	assert_true(ack.resync);
	assert_int_equal(ack.last_seq, 50);
	parse("{\"status\":\"accepted\"}", 9, &ack);
	assert_int_equal(ack.seq, -1);
}

static void test_conflict(void **state)
{
	(void)state;
	char code[32];
	int64_t last = 0;
	const char *b = "{\"error\":{\"code\":\"seq_conflict\",\"message\":\"x\"},\"seq\":3,"
			"\"last_seq\":12}";
	assert_true(agent_conflict_parse(b, strlen(b), code, sizeof(code), &last));
	assert_string_equal(code, "seq_conflict");
	assert_int_equal(last, 12);
	b = "{\"error\":{\"code\":\"seq_too_far\"},\"last_seq\":9223372036854775807}";
	assert_true(agent_conflict_parse(b, strlen(b), code, sizeof(code), &last));
	assert_int_equal(last, -1);
	b = "{\"error\":{\"code\":\"conflict\"}}";
	assert_false(agent_conflict_parse(b, strlen(b), code, sizeof(code), &last));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ack),
		cmocka_unit_test(test_conflict),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
