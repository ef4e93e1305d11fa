/* collector/settings.c: defaults, every documented option, errors that
 * name file and line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/http/http.h"
#include "collector/settings.h"

static char path[256];

static int write_conf(const char *text)
{
	snprintf(path, sizeof(path), "/tmp/test_coll_settings.%d.conf", (int)getpid());
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	fclose(f);
	return 0;
}

static void test_defaults(void **state)
{
	(void)state;
	struct coll_settings s;
	char err[512] = "";
	assert_int_equal(write_conf(""), 0);
	assert_int_equal(coll_settings_load(path, &s, err, sizeof(err)), 0);
	assert_string_equal(s.listen_host, "127.0.0.1");
	assert_int_equal(s.port, 8443);
	assert_true(s.tls);
	assert_int_equal(s.max_body_bytes, 1024 * 1024);
	assert_int_equal(s.connection_timeout_s, 30);
	assert_int_equal(s.request_deadline_s, 60);
	assert_string_equal(s.store_url, "sqlite:///var/lib/erpulse-collector/erpulse.db");
	assert_int_equal(s.retention_days, 30);
	assert_int_equal(s.statement_timeout_ms, 1500);
	assert_string_equal(s.webhook_format, "generic");
	assert_null(s.webhook_url);
	assert_false(s.allow_private_targets);
	assert_true(s.group_notices);          /* one message per report and channel */
	assert_int_equal(s.stale_after_s, 0);  /* = 3 report intervals */
	assert_true(s.pipeline_commits);       /* SQLite: the WAL synced by the syncer */
	assert_int_equal(s.ingest_threads, 0); /* = CPUs */
	/* [health]: the published weights and bands (docs/adoption.md) */
	assert_int_equal(s.health_weights.risk, 40);
	assert_int_equal(s.health_weights.adoption, 40);
	assert_int_equal(s.health_weights.sla, 20);
	assert_int_equal(s.adoption.login_weight, 25);
	assert_int_equal(s.adoption.modules_weight, 30);
	assert_int_equal(s.adoption.login_target_pct, 70);
	assert_int_equal(s.adoption.healthy_from, 85);
	assert_int_equal(s.adoption.at_risk_from, 60);
	coll_settings_free(&s);
	unlink(path);

	assert_int_equal(write_conf("[alerts]\ngroup_notices = no\nstale_after = 2h\n"), 0);
	assert_int_equal(coll_settings_load(path, &s, err, sizeof(err)), 0);
	assert_false(s.group_notices);
	assert_int_equal(s.stale_after_s, 7200);
	coll_settings_free(&s);
	unlink(path);
}

static void test_values(void **state)
{
	(void)state;
	struct coll_settings s;
	char err[512] = "";
	assert_int_equal(
		write_conf("[server]\nlisten = [::1]:9000\ntls = no\nmax_body_kb = 64\n"
			   "request_deadline = 2m\ningest_threads = 3\n[store]\n"
			   "url = postgresql://u@h/db\nretention_days = 7\npipeline_commits = "
			   "no\n[alerts]\nwebhook_url = https://x.example/h\n"
			   "webhook_format = dingtalk\nallow_private_targets = yes\n"),
		0);
	assert_int_equal(coll_settings_load(path, &s, err, sizeof(err)), 0);
	assert_string_equal(s.listen_host, "::1");
	assert_int_equal(s.port, 9000);
	assert_false(s.tls);
	assert_int_equal(s.max_body_bytes, 64 * 1024);
	assert_int_equal(s.request_deadline_s, 120);
	assert_string_equal(s.store_url, "postgresql://u@h/db");
	assert_int_equal(s.retention_days, 7);
	assert_int_equal(s.ingest_threads, 3);
	assert_false(s.pipeline_commits);
	assert_string_equal(s.webhook_format, "dingtalk");
	assert_true(s.allow_private_targets);
	coll_settings_free(&s);
	unlink(path);

	assert_int_equal(
		write_conf("[health]\nrisk_weight = 0\nsla_weight = 50\nlogin_target = 40\n"
			   "healthy_from = 90\nat_risk_from = 50\n"),
		0);
	assert_int_equal(coll_settings_load(path, &s, err, sizeof(err)), 0);
	assert_int_equal(s.health_weights.risk, 0);
	assert_int_equal(s.health_weights.adoption, 40);
	assert_int_equal(s.health_weights.sla, 50);
	assert_int_equal(s.adoption.login_target_pct, 40);
	assert_int_equal(coll_adoption_band_p(89, &s.adoption), COLL_ADOPTION_AT_RISK);
	assert_int_equal(coll_adoption_band_p(50, &s.adoption), COLL_ADOPTION_AT_RISK);
	assert_int_equal(coll_adoption_band_p(49, &s.adoption), COLL_ADOPTION_CHURN_WARNING);
	coll_settings_free(&s);
	unlink(path);
}

static void test_errors(void **state)
{
	(void)state;
	struct coll_settings s;
	char err[512];
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"[server]\nlisten = 127.0.0.1:1\nnope = 1\n", ":3:"},
		{"[server]\nmax_body_kb = 0\n", "max_body_kb"},
		{"[serverx]\n", "unknown section"},
		{"[server]\nlisten = nowhere\n", "listen"},
		{"[server]\nlisten = 1.2.3.4:99999\n", "listen"},
		{"[alerts]\nsmtp_url = smtp://x\n", "mail_from"},
		{"[store]\nretention_days = -1\n", "retention_days"},
		{"[health]\nrisk_weight = 101\n", ":2: [health] risk_weight"},
		{"[health]\nhealthy_from = 70\nat_risk_from = 70\n",
		 ":3: [health] at_risk_from: must be below healthy_from"},
		{"[health]\nlogin_weight = 0\nmodules_weight = 0\n", ":3: [health] modules_weight"},
		{"[health]\nrisk_weight = 0\nadoption_weight = 0\nsla_weight = 0\n",
		 ":4: [health] sla_weight"},
		{"[health]\nchurn = 1\n", ":2:"},
		{"[report]\nday = 29\n", ":2: [report] day"},
		{"[report]\nhour = 24\n", "[report] hour"},
		{"[report]\nsmtp_url = smtp://x\n", "[report] smtp_url needs mail_from"},
		{"[server]\ningest_threads = 257\n", ":2: [server] ingest_threads"},
		{"[server]\ningest_threads = -1\n", "ingest_threads"},
		{"[store]\npipeline_commits = maybe\n", ":2: [store] pipeline_commits"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		assert_int_equal(write_conf(cases[i].text), 0);
		assert_int_equal(coll_settings_load(path, &s, err, sizeof(err)), -EINVAL);
		if (!strstr(err, cases[i].want))
			fail_msg("case %zu: '%s' does not mention '%s'", i, err, cases[i].want);
	}
	/* [report]: defaults, and [alerts]' SMTP server when it names none */
	assert_int_equal(write_conf("[report]\nmail_from = r@v.example\n"), 0);
	assert_int_equal(coll_settings_load(path, &s, err, sizeof(err)), 0);
	assert_true(s.report_enabled);
	assert_int_equal(s.report_day, 1);
	assert_int_equal(s.report_hour, 8);
	assert_int_equal(s.report_check_interval_s, 300);
	assert_null(s.report_smtp_url);
	coll_settings_free(&s);
	unlink(path);
	assert_true(coll_settings_load("/nonexistent/collector.conf", &s, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "/nonexistent/collector.conf"));
}

/* ingest_threads = 0: a checker per CPU, one CPU left to SQLite's single
 * batcher, never none */
static void test_default_checkers(void **state)
{
	(void)state;
	assert_int_equal(coll_http_default_checkers(8, false), 8);
	assert_int_equal(coll_http_default_checkers(8, true), 7);
	assert_int_equal(coll_http_default_checkers(2, true), 1);
	assert_int_equal(coll_http_default_checkers(1, true), 1);
	assert_int_equal(coll_http_default_checkers(1, false), 1);
	assert_int_equal(coll_http_default_checkers(-1, true), 2); /* not known */
	assert_int_equal(coll_http_default_checkers(0, false), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_default_checkers),
	};
	return cmocka_run_group_tests_name("coll_settings", tests, NULL, NULL);
}
