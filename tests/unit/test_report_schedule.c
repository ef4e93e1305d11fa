/* The monthly report's schedule (collector/report/schedule.h): months,
 * the send instant on day/hour in a customer's time zone, across DST
 * changes and year ends; and the send claim of the store
 * (collector/store/reports_monthly.h) on SQLite: a month is claimed once,
 * a failed send is retried once its retry is due, a sent one never again. */
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

#include "collector/notify/notify.h"
#include "collector/report/schedule.h"
#include "collector/store/reports_monthly.h"
#include "erpulse/util.h"

/* epoch of a UTC y-m-d h:mi */
static int64_t utc(int y, int m, int d, int h, int mi)
{
	return (int64_t)coll_date_days(y, m, d) * 86400 + h * 3600 + mi * 60;
}

static void load(const char *name, struct coll_tz *tz)
{
	char err[256];
	if (coll_tz_load(name, NULL, tz, err, sizeof(err)) < 0)
		fail_msg("%s", err);
}

static void test_months(void **state)
{
	(void)state;
	struct coll_month m;
	char buf[16];
	assert_int_equal(coll_month_parse("2026-11", &m), 0);
	assert_int_equal(m.year, 2026);
	assert_int_equal(m.month, 11);
	static const char *const bad[] = {"2026-13",    "2026-00", "2026-1",  "1999-12", "2026/11",
					  "2026-11-01", "",        "abcd-ef", "2026-1x"};
	for (size_t i = 0; i < EP_ARRAY_SIZE(bad); i++)
		assert_int_equal(coll_month_parse(bad[i], &m), -EINVAL);
	m = coll_month_prev((struct coll_month){2027, 1});
	coll_month_format(m, buf, sizeof(buf));
	assert_string_equal(buf, "2026-12");
	m = coll_month_next((struct coll_month){2026, 12});
	coll_month_format(m, buf, sizeof(buf));
	assert_string_equal(buf, "2027-01");
}

static void test_due_shanghai(void **state)
{
	(void)state;
	struct coll_tz tz;
	struct coll_month m;
	int64_t at;
	load("Asia/Shanghai", &tz);
	/* 08:00 on the 1st in Shanghai is 00:00 UTC: the year's last report */
	assert_false(coll_report_due(&tz, 1, 8, utc(2026, 12, 31, 23, 59), &m, &at));
	assert_int_equal(at, utc(2027, 1, 1, 0, 0));
	assert_int_equal(m.year, 2026);
	assert_int_equal(m.month, 12);
	assert_true(coll_report_due(&tz, 1, 8, utc(2027, 1, 1, 0, 0), &m, &at));
	assert_int_equal(m.year, 2026);
	assert_int_equal(m.month, 12);
	/* later in the month it stays due (a collector down on the 1st catches up) */
	assert_true(coll_report_due(&tz, 1, 8, utc(2027, 1, 20, 12, 0), &m, &at));
	assert_int_equal(m.month, 12);
	/* the month's bounds in the zone */
	assert_int_equal(coll_month_start(&tz, (struct coll_month){2026, 12}),
			 utc(2026, 11, 30, 16, 0));
	coll_tz_free(&tz);
}

static void test_due_dst(void **state)
{
	(void)state;
	struct coll_tz tz;
	struct coll_month m;
	int64_t at;
	load("Europe/Berlin", &tz);
	/* summer time (UTC+2) in April, standard time (UTC+1) in November */
	assert_int_equal(coll_report_send_at(&tz, (struct coll_month){2027, 4}, 1, 8),
			 utc(2027, 4, 1, 6, 0));
	assert_int_equal(coll_report_send_at(&tz, (struct coll_month){2026, 11}, 1, 8),
			 utc(2026, 11, 1, 7, 0));
	/* the last Sunday of March 2027 (the 28th): 08:00 is already CEST */
	assert_int_equal(coll_report_send_at(&tz, (struct coll_month){2027, 3}, 28, 8),
			 utc(2027, 3, 28, 6, 0));
	assert_false(coll_report_due(&tz, 28, 8, utc(2027, 3, 28, 5, 59), &m, &at));
	assert_true(coll_report_due(&tz, 28, 8, utc(2027, 3, 28, 6, 0), &m, &at));
	assert_int_equal(m.month, 2);
	coll_tz_free(&tz);

	load("America/New_York", &tz);
	/* 2026-11-01 is the day summer time ends (02:00 EDT -> 01:00 EST):
	 * 08:00 that day is EST, 13:00 UTC */
	assert_int_equal(coll_report_send_at(&tz, (struct coll_month){2026, 11}, 1, 8),
			 utc(2026, 11, 1, 13, 0));
	assert_false(coll_report_due(&tz, 1, 8, utc(2026, 11, 1, 12, 59), &m, &at));
	assert_true(coll_report_due(&tz, 1, 8, utc(2026, 11, 1, 13, 0), &m, &at));
	assert_int_equal(m.month, 10);
	/* 02:00 on 2027-03-14 does not exist (the clocks jump to 03:00): one of
	 * its two readings, never a day off */
	at = coll_report_send_at(&tz, (struct coll_month){2027, 3}, 14, 2);
	assert_true(at == utc(2027, 3, 14, 6, 0) || at == utc(2027, 3, 14, 7, 0));
	/* just after midnight UTC on the 1st is still the previous month in New York */
	assert_true(coll_report_due(&tz, 1, 8, utc(2027, 1, 1, 2, 0), &m, &at));
	assert_int_equal(m.year, 2026);
	assert_int_equal(m.month, 11);
	coll_tz_free(&tz);
}

static void test_due_bounds(void **state)
{
	(void)state;
	struct coll_tz tz;
	load("UTC", &tz);
	/* days past 28 are held at 28: every month has one */
	assert_int_equal(coll_report_send_at(&tz, (struct coll_month){2027, 2}, 31, 8),
			 utc(2027, 2, 28, 8, 0));
	assert_int_equal(coll_report_send_at(&tz, (struct coll_month){2027, 2}, 0, 0),
			 utc(2027, 2, 1, 0, 0));
	coll_tz_free(&tz);
}

struct fixture {
	char dir[64];
	struct coll_store *s;
	char id[COLL_ID_SIZE];
};

static int store_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char url[4200], err[512] = "";
	const char *pg = getenv("ERPULSE_TEST_PG_URL");
	struct coll_db_opts o = {.statement_timeout_ms = 5000, .busy_timeout_ms = 5000};
	if (pg && *pg) {
		snprintf(url, sizeof(url), "%s", pg);
	} else {
		snprintf(f->dir, sizeof(f->dir), "/tmp/test_report_schedule.XXXXXX");
		assert_non_null(mkdtemp(f->dir));
		snprintf(url, sizeof(url), "sqlite://%s/store.db", f->dir);
	}
	if (coll_store_open(url, &o, &f->s, err, sizeof(err)) < 0)
		fail_msg("open %s: %s", url, err);
	if (coll_db_kind(f->s->db) == COLL_DB_PG)
		assert_int_equal(coll_db_exec(f->s->db, "DROP SCHEMA public CASCADE; CREATE SCHEMA "
							"public"),
				 0);
	if (coll_store_migrate(f->s) < 0)
		fail_msg("migrate: %s", f->s->err);
	assert_int_equal(coll_store_customer_add(f->s, "Acme", 1000, f->id), 0);
	*state = f;
	return 0;
}

static int store_teardown(void **state)
{
	struct fixture *f = *state;
	coll_store_close(f->s);
	if (f->dir[0]) {
		char p[128];
		const char *suffix[] = {"", "-wal", "-shm"};
		for (size_t i = 0; i < EP_ARRAY_SIZE(suffix); i++) {
			snprintf(p, sizeof(p), "%s/store.db%s", f->dir, suffix[i]);
			unlink(p);
		}
		rmdir(f->dir);
	}
	free(f);
	return 0;
}

static void test_claim(void **state)
{
	struct fixture *f = *state;
	struct coll_store *s = f->s;
	char st[16];
	int64_t sent_at;
	assert_int_equal(coll_store_report_claim(s, f->id, "2026-11", "a", 100, 900), 1);
	assert_int_equal(coll_store_report_claim(s, f->id, "2026-11", "b", 100, 900), 0);
	/* the lease holds however often b asks */
	assert_int_equal(coll_store_report_claim(s, f->id, "2026-11", "b", 999, 900), 0);
	/* a's send failed: b may retry once the retry is due */
	assert_int_equal(coll_store_report_failed(s, f->id, "2026-11", "a", 1600, false, "451"), 0);
	assert_int_equal(coll_store_report_run_state(s, f->id, "2026-11", st, &sent_at), 0);
	assert_string_equal(st, "retry");
	assert_int_equal(coll_store_report_claim(s, f->id, "2026-11", "b", 1599, 900), 0);
	assert_int_equal(coll_store_report_claim(s, f->id, "2026-11", "b", 1600, 900), 2);
	assert_int_equal(coll_store_report_claim(s, f->id, "2026-11", "a", 1600, 900), 0);
	/* a stale holder cannot mark it */
	assert_int_equal(coll_store_report_sent(s, f->id, "2026-11", "a", 1601, "x@y.example"), 0);
	assert_int_equal(coll_store_report_run_state(s, f->id, "2026-11", st, &sent_at), 0);
	assert_string_equal(st, "claimed");
	assert_int_equal(coll_store_report_sent(s, f->id, "2026-11", "b", 1602, "x@y.example"), 0);
	assert_int_equal(coll_store_report_run_state(s, f->id, "2026-11", st, &sent_at), 0);
	assert_string_equal(st, "sent");
	assert_int_equal(sent_at, 1602);
	/* sent: never claimed again, even after any lease */
	assert_int_equal(coll_store_report_claim(s, f->id, "2026-11", "c", 999999, 900), 0);
	/* a holder that died: its lease runs out, then another takes over */
	assert_int_equal(coll_store_report_claim(s, f->id, "2026-12", "a", 100, 900), 1);
	assert_int_equal(coll_store_report_claim(s, f->id, "2026-12", "b", 999, 900), 0);
	assert_int_equal(coll_store_report_claim(s, f->id, "2026-12", "b", 1000, 900), 2);
	/* given up: never again */
	assert_int_equal(coll_store_report_failed(s, f->id, "2026-12", "b", 1000, true, "550"), 0);
	assert_int_equal(coll_store_report_claim(s, f->id, "2026-12", "c", 99999, 900), 0);
	assert_int_equal(coll_store_report_run_state(s, f->id, "2026-12", st, &sent_at), 0);
	assert_string_equal(st, "dead");
}

static void test_stored(void **state)
{
	struct fixture *f = *state;
	struct coll_store *s = f->s;
	struct coll_scope vendor = {.customer_id = NULL},
			  other = {.customer_id = "ffffffffffffffff"}, own = {.customer_id = f->id};
	static const unsigned char pdf[] = {'%', 'P', 'D', 'F', '-', 0, 1, 2, 0xff, 0xfe};
	unsigned char *data = NULL;
	size_t len = 0;
	char lang[8];
	json_t *list = NULL;
	assert_int_equal(
		coll_store_report_put(s, f->id, "2026-11", "zh-CN", "pdf", pdf, sizeof(pdf), 5), 0);
	assert_int_equal(
		coll_store_report_get(s, &own, f->id, "2026-11", NULL, "pdf", &data, &len, lang),
		0);
	assert_int_equal(len, sizeof(pdf));
	assert_memory_equal(data, pdf, sizeof(pdf));
	assert_string_equal(lang, "zh-CN");
	free(data);
	assert_int_equal(
		coll_store_report_get(s, &other, f->id, "2026-11", NULL, "pdf", &data, &len, lang),
		-ENOENT);
	assert_int_equal(
		coll_store_report_get(s, &vendor, f->id, "2026-11", "en", "pdf", &data, &len, lang),
		-ENOENT);
	assert_int_equal(coll_store_report_list(s, &other, f->id, &list), -ENOENT);
	assert_int_equal(coll_store_report_list(s, &own, f->id, &list), 0);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	/* retention: months before the first kept one go */
	int64_t deleted = -1;
	assert_int_equal(coll_store_report_expire(s, "2026-11", &deleted), 0);
	assert_int_equal(deleted, 0);
	assert_int_equal(coll_store_report_expire(s, "2026-12", &deleted), 0);
	assert_int_equal(deleted, 1);
	assert_int_equal(
		coll_store_report_get(s, &own, f->id, "2026-11", NULL, "pdf", &data, &len, lang),
		-ENOENT);
}

/* The report mail's framing (the MIME is taken apart by Python's email
 * package in tests/integration/74-report-delivery.sh). */
static void test_mail(void **state)
{
	(void)state;
	static const unsigned char pdf[] = "%PDF-1.4\n%%EOF\n";
	char to[2048] = "";
	for (int i = 0; i < 60; i++) /* a long list: folded, one address a line */
		snprintf(to + strlen(to), sizeof(to) - strlen(to), "%scontact-%02d@acme.example",
			 i ? ", " : "", i);
	struct coll_report_mail m = {
		.from = "reports@vendor.example",
		.to = to,
		.subject = "月度健康报告 2026-11：北京测试",
		.text = "附件是月度健康报告。\n",
		.html = (const unsigned char *)"<html></html>",
		.html_len = 13,
		.pdf = pdf,
		.pdf_len = sizeof(pdf) - 1,
		.pdf_filename = "erpulse-北京测试-2026-11.zh-CN.pdf",
		.message_id = "report.x.2026-11.zh-CN@vendor.example",
		.at = 1796083200,
	};
	char *msg = NULL;
	assert_int_equal(coll_report_mail_render(&m, &msg), 0);
	size_t col = 0;
	for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
		assert_true(*p < 0x80);
		col = *p == '\n' ? 0 : col + 1;
		assert_true(col <= 998);
	}
	assert_non_null(strstr(msg, "Subject: =?UTF-8?B?"));
	assert_non_null(strstr(msg, "To: contact-00@acme.example,\r\n contact-01@acme.example"));
	assert_non_null(strstr(msg, "Content-Type: multipart/mixed; boundary="));
	assert_non_null(strstr(msg, "filename*0*=UTF-8''erpulse-%E5%8C%97%E4%BA%AC"));
	assert_non_null(strstr(msg, "Message-ID: <report.x.2026-11.zh-CN@vendor.example>"));
	free(msg);
	m.to = "a@b.example\r\nBcc: evil@x.example";
	assert_int_equal(coll_report_mail_render(&m, &msg), -EINVAL);
	char *cd = NULL;
	assert_int_equal(coll_content_disposition("erpulse-Acme-2026-11.en.pdf", &cd), 0);
	assert_string_equal(cd, "attachment; filename=\"erpulse-Acme-2026-11.en.pdf\"");
	free(cd);
	assert_int_equal(coll_content_disposition("北京.pdf", &cd), 0);
	assert_string_equal(
		cd, "attachment; filename=\"__.pdf\"; filename*=UTF-8''%E5%8C%97%E4%BA%AC.pdf");
	free(cd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_months),
		cmocka_unit_test(test_due_shanghai),
		cmocka_unit_test(test_due_dst),
		cmocka_unit_test(test_due_bounds),
		cmocka_unit_test(test_mail),
		cmocka_unit_test_setup_teardown(test_claim, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_stored, store_setup, store_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
