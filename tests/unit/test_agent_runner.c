/* agent/runner.c (forked probe workers with deadlines) and agent/state.c,
 * with the built-in testblock probe as the misbehaving probe. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/agent.h"

static struct ep_config *cfg;
static char dir[256];

static int setup(void **state)
{
	static const char text[] = "[testblock.ok]\nmode = ok\n"
				   "[testblock.sleep]\nmode = sleep\n"
				   "[testblock.spin]\nmode = spin\n"
				   "[testblock.crash]\nmode = crash\n"
				   "[testblock.bad]\nmode = dance\n";
	char err[512];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/ep-runner-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	return ep_config_load_string(text, sizeof(text) - 1, "test.conf", &cfg, err, sizeof(err));
}

static int teardown(void **state)
{
	pid_t pid;

	(void)state;
	ep_config_free(cfg);
	pid = fork();
	if (pid == 0) {
		execlp("rm", "rm", "-rf", dir, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
	return 0;
}

static struct agent_instance inst(const char *name)
{
	struct agent_instance in = {.probe = ep_probe_lookup("testblock")};

	in.section = ep_config_find(cfg, name);
	assert_non_null(in.section);
	snprintf(in.name, sizeof(in.name), "%s", name);
	return in;
}

static void test_ok(void **state)
{
	struct agent_instance in = inst("testblock.ok");
	struct agent_probe_outcome *o = NULL;

	(void)state;
	assert_int_equal(
		agent_run_probes(&in, 1, "/", dir, 5000, AGENT_RUN_MEASURE, NULL, NULL, &o), 0);
	assert_int_equal(o[0].status, EP_STATUS_OK);
	assert_string_equal(o[0].name, "testblock.ok");
	assert_string_equal(o[0].target, "testblock:ok");
	assert_int_equal(json_integer_value(json_object_get(o[0].metrics, "answer")), 42);
	assert_true(json_is_array(o[0].findings));
	assert_true(json_is_object(o[0].state));
	assert_true(o[0].duration_ms < 2000);
	agent_outcomes_free(o, 1);
}

/* hung, spinning and crashing probes beside a good one: all in parallel,
 * the whole run ends at the one deadline */
static void test_isolation(void **state)
{
	struct agent_instance in[4] = {inst("testblock.sleep"), inst("testblock.spin"),
				       inst("testblock.crash"), inst("testblock.ok")};
	struct agent_probe_outcome *o = NULL;
	int64_t t0 = ep_mono_ms(), took;

	(void)state;
	assert_int_equal(agent_run_probes(in, 4, "/", dir, 400, AGENT_RUN_MEASURE, NULL, NULL, &o),
			 0);
	took = ep_mono_ms() - t0;
	assert_true(took >= 390);
	assert_true(took < 1500);
	assert_int_equal(o[0].status, EP_STATUS_ERROR);
	assert_string_equal(o[0].error, "timed out after 400 ms");
	assert_null(o[0].state); /* nothing to persist from a killed worker */
	assert_int_equal(o[1].status, EP_STATUS_ERROR);
	assert_string_equal(o[1].error, "timed out after 400 ms");
	assert_int_equal(o[2].status, EP_STATUS_ERROR);
	assert_non_null(strstr(o[2].error, "killed by signal 11"));
	assert_int_equal(o[3].status, EP_STATUS_OK);
	assert_true(o[3].duration_ms < 400);
	agent_outcomes_free(o, 4);
	/* no worker is left: every child was reaped */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static void test_seconds_message(void **state)
{
	struct agent_instance in = inst("testblock.sleep");
	struct agent_probe_outcome *o = NULL;

	(void)state;
	assert_int_equal(
		agent_run_probes(&in, 1, "/", dir, 1000, AGENT_RUN_MEASURE, NULL, NULL, &o), 0);
	assert_string_equal(o[0].error, "timed out after 1 s");
	agent_outcomes_free(o, 1);
}

static void test_init_error(void **state)
{
	struct agent_instance in = inst("testblock.bad");
	struct agent_probe_outcome *o = NULL;

	(void)state;
	assert_int_equal(agent_run_probes(&in, 1, "/", dir, 2000, AGENT_RUN_CHECK, NULL, NULL, &o),
			 0);
	assert_int_equal(o[0].status, EP_STATUS_ERROR);
	assert_string_equal(o[0].error, "mode 'dance' is not sleep, spin, crash or ok");
	agent_outcomes_free(o, 1);
}

static int ticks;
static bool tick_stop(void *userdata)
{
	(void)userdata;
	return ++ticks >= 2;
}

static void test_tick_cancels(void **state)
{
	struct agent_instance in = inst("testblock.sleep");
	struct agent_probe_outcome *o = NULL;
	int64_t t0 = ep_mono_ms();

	(void)state;
	ticks = 0;
	assert_int_equal(
		agent_run_probes(&in, 1, "/", dir, 60000, AGENT_RUN_MEASURE, tick_stop, NULL, &o),
		-ECANCELED);
	assert_true(ep_mono_ms() - t0 < 2000);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
}

/* The 46-lost outage of issue 10: a spool that holds 4 reports, the
 * collector away for 50 cycles. Each report announces every drop no
 * accepted report has announced; acceptance takes away only what the
 * accepted report announced. */
static void test_state_drops_cumulative(void **state)
{
	struct agent_state st, back;
	char err[512];
	int64_t spool[5], n = 0;

	(void)state;
	assert_int_equal(agent_state_load(dir, &st, err, sizeof(err)), 0);
	int64_t carried[64] = {0};
	for (int64_t seq = 1; seq <= 50; seq++) {
		assert_int_equal(agent_state_report_built(&st, seq), 0);
		st.next_seq = seq + 1;
		carried[seq] = st.dropped; /* what report seq says */
		spool[n++] = seq;
		if (n > 4) { /* the oldest is dropped after the newest is spooled */
			memmove(spool, spool + 1, 4 * sizeof(spool[0]));
			n = 4;
			agent_state_count_drops(&st, 1);
		}
	}
	assert_int_equal(st.dropped, 46);
	assert_int_equal(carried[50], 45); /* 46 went after 50 was built */
	assert_int_equal(carried[47], 42);
	/* kept across a restart */
	assert_int_equal(agent_state_save(dir, &st), 0);
	assert_int_equal(agent_state_load(dir, &back, err, sizeof(err)), 0);
	assert_int_equal(back.dropped, 46);
	assert_int_equal(back.dropped_total, 46);
	assert_true(json_equal(back.drop_marks, st.drop_marks));
	agent_state_free(&st);
	/* the collector is back: 47..50 accepted in order */
	agent_state_report_accepted(&back, 47);
	assert_int_equal(back.dropped, 4); /* 43..46 went after 47 was built */
	agent_state_report_accepted(&back, 48);
	agent_state_report_accepted(&back, 49);
	agent_state_report_accepted(&back, 50);
	assert_int_equal(back.dropped, 1); /* 46: the next report announces it */
	assert_int_equal(agent_state_report_built(&back, 51), 0);
	agent_state_report_accepted(&back, 51);
	assert_int_equal(back.dropped, 0);
	assert_int_equal(back.dropped_total, 46);

	/* a drop while an older report waits: not forgotten when the older one
	 * is accepted */
	assert_int_equal(agent_state_report_built(&back, 52), 0);
	agent_state_count_drops(&back, 1); /* 53 could not be spooled */
	assert_int_equal(agent_state_report_built(&back, 54), 0);
	agent_state_report_accepted(&back, 52);
	assert_int_equal(back.dropped, 1);
	agent_state_report_accepted(&back, 54);
	assert_int_equal(back.dropped, 0);

	/* a report dropped after it was built: its announcement is kept */
	agent_state_count_drops(&back, 2);
	assert_int_equal(agent_state_report_built(&back, 55), 0); /* says 2 */
	agent_state_count_drops(&back, 1);                        /* 55 itself dropped */
	assert_int_equal(agent_state_report_built(&back, 56), 0); /* says 3 */
	assert_int_equal(back.dropped, 3);
	agent_state_forget_builds(&back); /* renumbered: announce until a new one is accepted */
	agent_state_report_accepted(&back, 56);
	assert_int_equal(back.dropped, 3);
	assert_int_equal(agent_state_report_built(&back, 57), 0);
	agent_state_report_accepted(&back, 57);
	assert_int_equal(back.dropped, 0);
	agent_state_free(&back);
	char path[4096];
	snprintf(path, sizeof(path), "%s/state", dir);
	unlink(path);
}

static void test_state_roundtrip(void **state)
{
	struct agent_state st, back;
	char err[512];

	(void)state;
	assert_int_equal(agent_state_load(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(st.next_seq, 1);
	assert_false(agent_state_enrolled(&st));
	snprintf(st.agent_id, sizeof(st.agent_id), "abc");
	snprintf(st.collector, sizeof(st.collector), "https://c.example");
	st.next_seq = 77;
	st.dropped = 3;
	json_object_set_new(st.probes, "disk", json_pack("{s:s}", "status", "ok"));
	assert_int_equal(agent_state_save(dir, &st), 0);
	assert_int_equal(agent_state_load(dir, &back, err, sizeof(err)), 0);
	assert_true(agent_state_enrolled(&back));
	assert_string_equal(back.agent_id, "abc");
	assert_string_equal(back.collector, "https://c.example");
	assert_int_equal(back.next_seq, 77);
	assert_int_equal(back.dropped, 3);
	assert_true(json_equal(back.probes, st.probes));
	agent_state_free(&st);
	agent_state_free(&back);

	/* probe state */
	json_t *ps = json_pack("{s:i}", "offset", 1234);
	assert_int_equal(agent_probe_state_save(dir, "log.odoo", ps), 0);
	json_t *got = agent_probe_state_load(dir, "log.odoo");
	assert_true(json_equal(got, ps));
	json_decref(got);
	json_decref(ps);
	got = agent_probe_state_load(dir, "never.saved");
	assert_int_equal(json_object_size(got), 0);
	json_decref(got);

	/* corrupt state: an error that says so, not a silent reset */
	char path[512];
	snprintf(path, sizeof(path), "%s/state", dir);
	assert_int_equal(ep_atomic_write(path, "{oops", 5, 0600), 0);
	assert_int_equal(agent_state_load(dir, &back, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "corrupt"));
	agent_state_free(&back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok),
		cmocka_unit_test(test_isolation),
		cmocka_unit_test(test_seconds_message),
		cmocka_unit_test(test_init_error),
		cmocka_unit_test(test_tick_cancels),
		cmocka_unit_test(test_state_drops_cumulative),
		cmocka_unit_test(test_state_roundtrip),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
