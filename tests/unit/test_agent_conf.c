/* agent/conf.c (the [agent] table, probe sections, every problem listed),
 * the backoff of agent/http.c and the endpoint helper of agent/deliver.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"

static char path[256];

static int write_conf(const char *text)
{
	snprintf(path, sizeof(path), "/tmp/ep-conf-%d.conf", (int)getpid());
	return ep_atomic_write(path, text, strlen(text), 0600);
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static void test_defaults(void **state)
{
	struct agent_conf *c = NULL;
	struct ep_buf problems;

	(void)state;
	ep_buf_init(&problems, 65536);
	assert_int_equal(write_conf("[agent]\n"), 0);
	assert_int_equal(agent_conf_load(path, &c, &problems), 0);
	assert_null(c->collector);
	assert_int_equal(c->interval_s, 300);
	assert_int_equal(c->jitter_s, 30);
	assert_string_equal(c->state_dir, "/var/lib/erpulse");
	assert_int_equal(c->spool_max_bytes, 64 * 1024 * 1024);
	assert_int_equal(c->spool_max_age_s, 7 * 86400);
	assert_int_equal(c->probe_timeout_s, 60);
	assert_int_equal(c->log_level, EP_LOG_INFO);
	assert_false(c->allow_root);
	assert_string_equal(c->user, "erpulse");
	/* probes on by default run without a section */
	for (size_t i = 0; i < c->n_instances; i++) {
		assert_true(c->instances[i].probe->enabled_by_default);
		assert_null(c->instances[i].section);
	}
	agent_conf_free(c);
	ep_buf_free(&problems);
}

static void test_instances(void **state)
{
	struct agent_conf *c = NULL;
	struct ep_buf problems;

	(void)state;
	ep_buf_init(&problems, 65536);
	assert_int_equal(write_conf("[agent]\ncollector = https://c.example:8443\ninterval = 5m\n"
				    "spool_max_mb = 2\nspool_max_age = 1d\nlog_level = debug\n"
				    "[testblock.one]\nmode = ok\n[testblock.two]\nmode = spin\n"),
			 0);
	assert_int_equal(agent_conf_load(path, &c, &problems), 0);
	assert_string_equal(c->collector, "https://c.example:8443");
	assert_int_equal(c->interval_s, 300);
	assert_int_equal(c->spool_max_bytes, 2 * 1024 * 1024);
	assert_int_equal(c->spool_max_age_s, 86400);
	assert_int_equal(c->log_level, EP_LOG_DEBUG);
	size_t tb = 0;
	for (size_t i = 0; i < c->n_instances; i++)
		if (strcmp(c->instances[i].probe->name, "testblock") == 0) {
			assert_string_equal(c->instances[i].name,
					    tb ? "testblock.two" : "testblock.one");
			tb++;
		}
	assert_int_equal(tb, 2);
	agent_conf_free(c);
	ep_buf_free(&problems);
}

static void test_every_problem_listed(void **state)
{
	struct agent_conf *c = NULL;
	struct ep_buf problems;

	(void)state;
	ep_buf_init(&problems, 65536);
	assert_int_equal(write_conf("[agent]\ninterval = 0\ncolour = red\nlog_level = loud\n"
				    "collector = ftp://x\nstate_dir = relative\n"
				    "[postgress]\n[testblock]\nmode = ok\nspeed = 1\nsize = 2\n"),
			 0);
	assert_int_equal(agent_conf_load(path, &c, &problems), -EINVAL);
	assert_null(c);
	const char *p = problems.data;
	assert_non_null(p);
	assert_non_null(strstr(p, "interval"));
	assert_non_null(strstr(p, "colour"));
	assert_non_null(strstr(p, "log_level: 'loud'"));
	assert_non_null(strstr(p, "must start with https://"));
	assert_non_null(strstr(p, "state_dir: 'relative' must be an absolute path"));
	assert_non_null(strstr(p,
			       "unknown section type 'postgress' (did you mean 'postgres'? known "
			       "probes: "));
	assert_non_null(strstr(p, "speed"));
	assert_non_null(strstr(p, "size"));
	/* one line per problem, each with the file */
	size_t lines = 0;
	for (const char *q = p; (q = strchr(q, '\n')); q++)
		lines++;
	assert_true(lines >= 8);
	ep_buf_free(&problems);
}

static void test_missing_file(void **state)
{
	struct agent_conf *c = NULL;
	struct ep_buf problems;

	(void)state;
	ep_buf_init(&problems, 65536);
	assert_int_equal(agent_conf_load("/nonexistent/agent.conf", &c, &problems), -ENOENT);
	assert_non_null(
		strstr(problems.data, "cannot read configuration '/nonexistent/agent.conf'"));
	ep_buf_free(&problems);
}

static void test_backoff(void **state)
{
	(void)state;
	for (unsigned attempt = 0; attempt < 40; attempt++) {
		int64_t ceiling = attempt >= 6 ? 300 : 5 << attempt;
		if (ceiling > 300)
			ceiling = 300;
		int64_t lo = INT64_MAX, hi = -1;
		for (int i = 0; i < 200; i++) {
			int64_t d = agent_backoff_s(attempt, 5, 300, -1);
			assert_true(d >= 0 && d <= ceiling);
			if (d < lo)
				lo = d;
			if (d > hi)
				hi = d;
		}
		assert_true(hi > lo); /* full jitter: spread, not a fixed step */
	}
	/* Retry-After is a floor, itself capped at an hour */
	for (int i = 0; i < 100; i++) {
		assert_true(agent_backoff_s(0, 5, 300, 120) >= 120);
		assert_true(agent_backoff_s(0, 5, 300, 120) <= 120);
		assert_int_equal(agent_backoff_s(3, 5, 300, 86400), 3600);
	}
}

static void test_jitter(void **state)
{
	struct agent_conf c = {.interval_s = 300, .jitter_s = 30};
	int64_t lo = INT64_MAX, hi = 0;

	(void)state;
	for (int i = 0; i < 2000; i++) {
		int64_t d = agent_next_cycle_ms(&c, 1000) - 1000;
		assert_true(d >= 285000 && d <= 315000);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	assert_true(lo < 290000 && hi > 310000); /* really spread */
	c.jitter_s = 0;
	assert_int_equal(agent_next_cycle_ms(&c, 5), 300005);
	c.interval_s = 1;
	c.jitter_s = 10;
	for (int i = 0; i < 100; i++)
		assert_true(agent_next_cycle_ms(&c, 0) >= 1000);
}

static void test_endpoint(void **state)
{
	char buf[256];

	(void)state;
	agent_endpoint("https://c.example:8443", "/api/v1/reports", buf, sizeof(buf));
	assert_string_equal(buf, "https://c.example:8443/api/v1/reports");
	agent_endpoint("https://c.example:8443//", "/api/v1/enroll", buf, sizeof(buf));
	assert_string_equal(buf, "https://c.example:8443/api/v1/enroll");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_defaults, teardown),
		cmocka_unit_test_teardown(test_instances, teardown),
		cmocka_unit_test_teardown(test_every_problem_listed, teardown),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_jitter),
		cmocka_unit_test(test_endpoint),
	};
	if (ep_crypto_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
