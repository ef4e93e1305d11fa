/* Incidents: the state machine (collector/service/incident.h), the notice
 * texts (texts.h) and the incident queries of the store
 * (collector/store/incidents.h) against SQLite, and PostgreSQL when
 * ERPULSE_TEST_PG_URL is set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/service/incident.h"
#include "collector/service/texts.h"

static void test_transitions(void **state)
{
	(void)state;
	/* one walk through the machine: action, answer, state after */
	static const struct {
		enum coll_incident_action a;
		int r;
		enum coll_incident_state after;
	} walk[] = {
		{COLL_ACT_ACKNOWLEDGE, 0, COLL_INC_ACKNOWLEDGED},
		{COLL_ACT_ACKNOWLEDGE, 1, COLL_INC_ACKNOWLEDGED}, /* idempotent repeat */
		{COLL_ACT_ASSIGN, 0, COLL_INC_IN_PROGRESS},
		{COLL_ACT_WAIT, 0, COLL_INC_WAITING_CUSTOMER},
		{COLL_ACT_WAIT, 1, COLL_INC_WAITING_CUSTOMER},
		{COLL_ACT_RESUME, 0, COLL_INC_IN_PROGRESS},
		{COLL_ACT_CLEAR, 0, COLL_INC_RESOLVED},
		{COLL_ACT_RESOLVE, 1, COLL_INC_RESOLVED},
		{COLL_ACT_ASSIGN, -EINVAL, COLL_INC_RESOLVED},
		{COLL_ACT_SNOOZE, -EINVAL, COLL_INC_RESOLVED},
		{COLL_ACT_RECUR, 0, COLL_INC_OPEN},
		{COLL_ACT_CLOSE, 0, COLL_INC_CLOSED},
		{COLL_ACT_CLOSE, 1, COLL_INC_CLOSED},
		{COLL_ACT_RESOLVE, -EINVAL, COLL_INC_CLOSED},
		{COLL_ACT_COMMENT, 0, COLL_INC_CLOSED},
		{COLL_ACT_REOPEN, 0, COLL_INC_OPEN},
		{COLL_ACT_REOPEN, 1, COLL_INC_OPEN},
	};
	enum coll_incident_state s = COLL_INC_OPEN;
	for (size_t i = 0; i < sizeof(walk) / sizeof(walk[0]); i++) {
		enum coll_incident_state next = s;
		int r = coll_incident_transition(s, walk[i].a, &next);
		if (r != walk[i].r || (r >= 0 && next != walk[i].after))
			fail_msg("step %zu (%s in %s): %d -> %s", i,
				 coll_incident_action_name(walk[i].a), coll_incident_state_name(s),
				 r, coll_incident_state_name(next));
		if (r >= 0)
			s = next;
	}
	/* every (state, action) pair answers something sane */
	for (int st = 0; st < COLL_INC_STATE_COUNT; st++)
		for (int a = 0; a < COLL_ACT_COUNT; a++) {
			enum coll_incident_state out = COLL_INC_STATE_COUNT;
			int r = coll_incident_transition((enum coll_incident_state)st,
							 (enum coll_incident_action)a, &out);
			assert_true(r == 0 || r == 1 || r == -EINVAL);
			if (r >= 0)
				assert_true(out < COLL_INC_STATE_COUNT);
			/* a comment is always allowed and never changes the state */
			if (a == COLL_ACT_COMMENT)
				assert_true(r == 0 && out == (enum coll_incident_state)st);
		}
	assert_int_equal(coll_incident_transition(COLL_INC_STATE_COUNT, COLL_ACT_ASSIGN, &s),
			 -EINVAL);
}

static void test_names(void **state)
{
	(void)state;
	for (int i = 0; i < COLL_INC_STATE_COUNT; i++) {
		enum coll_incident_state s;
		assert_int_equal(coll_incident_state_parse(
					 coll_incident_state_name((enum coll_incident_state)i), &s),
				 0);
		assert_int_equal(s, i);
	}
	for (int i = 0; i < COLL_ACT_COUNT; i++) {
		enum coll_incident_action a;
		assert_int_equal(
			coll_incident_action_parse(
				coll_incident_action_name((enum coll_incident_action)i), &a),
			0);
		assert_int_equal(a, i);
	}
	enum coll_incident_action a;
	assert_int_equal(coll_incident_action_parse("ack", &a), 0);
	assert_int_equal(a, COLL_ACT_ACKNOWLEDGE);
	assert_int_equal(coll_incident_action_parse("delete", &a), -EINVAL);
	for (int i = 0; i < COLL_SLA_EVENT_COUNT; i++) {
		unsigned bit;
		assert_int_equal(coll_sla_event_parse(coll_sla_event_name(1u << i), &bit), 0);
		assert_int_equal(bit, 1u << i);
	}
	assert_string_equal(coll_sla_event_name(COLL_SLA_ESCALATE_L2), "escalate_l2");
	assert_true(coll_close_reason_valid("false_positive"));
	assert_true(coll_close_reason_valid("accepted_risk"));
	assert_false(coll_close_reason_valid("bored"));
	assert_true(coll_incident_action_responds(COLL_ACT_ASSIGN));
	assert_false(coll_incident_action_responds(COLL_ACT_COMMENT));
	assert_false(coll_incident_state_live(COLL_INC_RESOLVED));
	assert_true(coll_incident_state_live(COLL_INC_WAITING_CUSTOMER));
}

static void test_texts(void **state)
{
	(void)state;
	char buf[256];
	const char *vars[] = {"id",   "7",     "level",  "L2",     "rule", "index_fragmentation",
			      "host", "erp01", "target", "30 min", NULL};
	assert_int_equal(coll_text_render("incident.escalated", "en", vars, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "Incident #7 escalated to L2: index_fragmentation on erp01 not "
				 "acknowledged within 30 min");
	assert_int_equal(coll_text_render("incident.escalated", "zh-CN", vars, buf, sizeof(buf)),
			 0);
	assert_string_equal(buf, "事件 #7 已升级至 L2：erp01 上的 index_fragmentation 在 30 min "
				 "内未确认");
	/* unknown language: English; missing value: placeholder kept */
	assert_int_equal(coll_text_render("incident.acknowledged", "fr", NULL, buf, sizeof(buf)),
			 0);
	assert_string_equal(buf, "Incident #{id} acknowledged by {actor}");
	assert_int_equal(coll_text_render("no.such.key", "en", NULL, buf, sizeof(buf)), -ENOENT);
	assert_string_equal(buf, "no.such.key");
	assert_int_equal(coll_text_render("incident.escalated", "en", vars, buf, 10), -ENOSPC);
	assert_int_equal(strlen(buf), 9);
	/* every key in both languages, with the same placeholders */
	for (size_t i = 0; i < coll_text_count(); i++) {
		const char *k = coll_text_key(i), *en = coll_text(k, "en"),
			   *zh = coll_text(k, "zh-CN");
		assert_non_null(en);
		assert_non_null(zh);
		assert_string_not_equal(en, zh);
		for (const char *p = en; (p = strchr(p, '{')); p++) {
			char name[32];
			const char *e = strchr(p, '}');
			assert_non_null(e);
			snprintf(name, sizeof(name), "%.*s", (int)(e - p + 1), p);
			if (!strstr(zh, name))
				fail_msg("%s: zh-CN lacks %s", k, name);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transitions),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_texts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
