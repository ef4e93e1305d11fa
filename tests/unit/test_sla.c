/* Service calendars, tiers, SLA clocks and monthly figures
 * (collector/service/{calendar,tiers,incident,sla}.h). Every time is an
 * explicit epoch second: the clock is injected, nothing sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/service/calendar.h"
#include "collector/service/incident.h"
#include "collector/service/sla.h"
#include "collector/service/tiers.h"

#define H 3600
#define M 60

/* epoch seconds of a local (+08:00) wall time */
static int64_t cst(int y, int mo, int d, int h, int mi)
{
	return (int64_t)coll_date_days(y, mo, d) * 86400 + h * H + mi * M - 8 * H;
}

static void business(struct coll_calendar *cal)
{
	memset(cal, 0, sizeof(*cal));
	cal->tz.off0 = 8 * H;
	assert_int_equal(coll_calendar_parse_hours("Mon-Fri 09:00-18:00", cal), 0);
}

static void test_dates(void **state)
{
	(void)state;
	int32_t d;
	int y, m, dd;
	assert_int_equal(coll_date_parse("1970-01-01", &d), 0);
	assert_int_equal(d, 0);
	assert_int_equal(coll_date_parse("2026-12-04", &d), 0);
	coll_date_civil(d, &y, &m, &dd);
	assert_int_equal(y * 10000 + m * 100 + dd, 20261204);
	assert_int_equal(coll_date_parse("2024-02-29", &d), 0);
	assert_int_equal(coll_date_parse("2026-02-29", &d), -EINVAL);
	assert_int_equal(coll_date_parse("2026-13-01", &d), -EINVAL);
	assert_int_equal(coll_date_parse("2026-1-01", &d), -EINVAL);
	assert_int_equal(coll_date_parse("2026-01-01x", &d), -EINVAL);
}

static void test_time_zones(void **state)
{
	(void)state;
	struct coll_tz tz;
	char err[256] = "";
	assert_int_equal(coll_tz_load("+08:00", NULL, &tz, err, sizeof(err)), 0);
	assert_int_equal(coll_tz_offset(&tz, 0), 8 * H);
	assert_int_equal(coll_tz_load("UTC-5", NULL, &tz, err, sizeof(err)), 0);
	assert_int_equal(coll_tz_offset(&tz, 0), -5 * H);
	assert_int_equal(coll_tz_load("UTC", NULL, &tz, err, sizeof(err)), 0);
	assert_int_equal(coll_tz_offset(&tz, 0), 0);
	assert_int_equal(coll_tz_load("../etc/passwd", NULL, &tz, err, sizeof(err)), -EINVAL);
	assert_int_equal(coll_tz_load("+25:00", NULL, &tz, err, sizeof(err)), -EINVAL);
	assert_int_equal(coll_tz_parse_tzif("TZif", 4, &tz), -EINVAL);
	if (access(COLL_ZONEINFO "/Europe/Berlin", R_OK) != 0) {
		skip();
		return;
	}
	assert_int_equal(coll_tz_load("Europe/Berlin", NULL, &tz, err, sizeof(err)), 0);
	assert_int_equal(coll_tz_offset(&tz, cst(2026, 1, 15, 12, 0)), 1 * H);
	assert_int_equal(coll_tz_offset(&tz, cst(2026, 7, 15, 12, 0)), 2 * H);
	/* a Berlin business day in summer opens at 07:00 UTC */
	struct coll_calendar cal = {.tz = tz};
	assert_int_equal(coll_calendar_parse_hours("Mon-Fri 09:00-18:00", &cal), 0);
	int64_t mon = (int64_t)coll_date_days(2026, 7, 13) * 86400;
	assert_int_equal(coll_calendar_next_open(&cal, mon), mon + 7 * H);
	coll_calendar_free(&cal);
	assert_int_equal(coll_tz_load("Asia/Shanghai", NULL, &tz, err, sizeof(err)), 0);
	assert_int_equal(coll_tz_offset(&tz, cst(2026, 12, 4, 18, 0)), 8 * H);
	coll_tz_free(&tz);
}

static void test_hours_parse(void **state)
{
	(void)state;
	struct coll_calendar cal = {0};
	assert_int_equal(coll_calendar_parse_hours("Mon,Wed,Fri 08:30-17:30", &cal), 0);
	assert_int_equal(cal.weekdays, 1 | 4 | 16);
	assert_int_equal(cal.open_s, 8 * H + 30 * M);
	assert_int_equal(coll_calendar_parse_hours("Mon-Sun 00:00-24:00", &cal), 0);
	assert_int_equal(cal.weekdays, 127);
	assert_int_equal(coll_calendar_parse_hours("Fri-Mon 09:00-18:00", &cal), -EINVAL);
	assert_int_equal(coll_calendar_parse_hours("Mon-Fri 18:00-09:00", &cal), -EINVAL);
	assert_int_equal(coll_calendar_parse_hours("Mon-Fri", &cal), -EINVAL);
	assert_int_equal(coll_calendar_parse_hours("Xyz 09:00-18:00", &cal), -EINVAL);
	assert_int_equal(coll_calendar_parse_hours("Mon 9:00-18:00", &cal), -EINVAL);
}

static void test_holidays_parse(void **state)
{
	(void)state;
	struct coll_calendar cal;
	char err[256] = "";
	business(&cal);
	const char *ok =
		"# China 2026\n2026-10-01\n  2026-10-02 # national day\n\n2026-10-10 work\n";
	assert_int_equal(
		coll_calendar_parse_holidays(&cal, ok, strlen(ok), "h.txt", err, sizeof(err)), 0);
	assert_int_equal(cal.n_marks, 3);
	assert_false(coll_calendar_workday(&cal, coll_date_days(2026, 10, 1)));
	assert_true(coll_calendar_workday(&cal, coll_date_days(2026, 10, 10)));  /* a Saturday */
	assert_false(coll_calendar_workday(&cal, coll_date_days(2026, 10, 11))); /* Sunday */
	assert_true(coll_calendar_workday(&cal, coll_date_days(2026, 10, 12)));  /* Monday */
	const char *bad = "2026-10-01\n2026-10-0x\n";
	assert_int_equal(
		coll_calendar_parse_holidays(&cal, bad, strlen(bad), "h.txt", err, sizeof(err)),
		-EINVAL);
	assert_string_equal(err,
			    "h.txt:2: expected 'YYYY-MM-DD' or 'YYYY-MM-DD work' (a '#' starts a "
			    "comment)");
	const char *twice = "2026-10-01\n2026-10-01 work\n";
	assert_int_equal(
		coll_calendar_parse_holidays(&cal, twice, strlen(twice), "h", err, sizeof(err)),
		-EINVAL);
	assert_string_equal(err, "h: 2026-10-01 is listed twice");
	coll_calendar_free(&cal);
}

/* The example: a silver incident raised Friday 18:00 starts its
 * clock Monday 09:00; with Monday a holiday, Tuesday 09:00. */
static void test_friday_evening(void **state)
{
	(void)state;
	struct coll_calendar cal;
	char err[256];
	business(&cal);
	int64_t fri = cst(2026, 12, 4, 18, 0);
	assert_int_equal(coll_calendar_next_open(&cal, fri), cst(2026, 12, 7, 9, 0));
	const char *hol = "2026-12-07\n";
	assert_int_equal(
		coll_calendar_parse_holidays(&cal, hol, strlen(hol), "h", err, sizeof(err)), 0);
	assert_int_equal(coll_calendar_next_open(&cal, fri), cst(2026, 12, 8, 9, 0));
	/* silver: 1 h response -> Tuesday 10:00; 8 h resolution -> Tuesday 17:00 */
	assert_int_equal(coll_calendar_add(&cal, fri, 1 * H), cst(2026, 12, 8, 10, 0));
	assert_int_equal(coll_calendar_add(&cal, fri, 8 * H), cst(2026, 12, 8, 17, 0));
	/* and the SLA clock agrees */
	struct coll_sla_target tgt = {.response_s = H, .resolution_s = 8 * H};
	struct coll_sla_clock clk = {.opened_at = fri};
	struct coll_sla_status st;
	assert_int_equal(coll_sla_evaluate(&cal, &tgt, &clk, cst(2026, 12, 7, 12, 0), &st), 0);
	assert_int_equal(st.clock_start, cst(2026, 12, 8, 9, 0));
	assert_int_equal(st.response_used_s, 0);
	assert_int_equal(st.crossed, 0);
	assert_int_equal(st.next_event_at, cst(2026, 12, 8, 9, 48)); /* 80% of 1 h */
	assert_int_equal(st.breach_at, cst(2026, 12, 8, 10, 0));
	coll_calendar_free(&cal);
}

static void test_business_arithmetic(void **state)
{
	(void)state;
	struct coll_calendar cal;
	business(&cal);
	int64_t fri17 = cst(2026, 12, 4, 17, 0);
	/* 1 h on Friday + 7 h on Monday */
	assert_int_equal(coll_calendar_add(&cal, fri17, 8 * H), cst(2026, 12, 7, 16, 0));
	assert_int_equal(coll_calendar_elapsed(&cal, fri17, cst(2026, 12, 7, 16, 0)), 8 * H);
	assert_int_equal(
		coll_calendar_elapsed(&cal, cst(2026, 12, 5, 0, 0), cst(2026, 12, 6, 23, 0)), 0);
	/* exactly closing time */
	assert_int_equal(coll_calendar_add(&cal, cst(2026, 12, 7, 9, 0), 9 * H),
			 cst(2026, 12, 7, 18, 0));
	/* next business day: Monday 10:00 -> Tuesday 18:00; Friday 20:00 -> Tuesday 18:00 */
	assert_int_equal(coll_calendar_next_day_close(&cal, cst(2026, 12, 7, 10, 0)),
			 cst(2026, 12, 8, 18, 0));
	assert_int_equal(coll_calendar_next_day_close(&cal, cst(2026, 12, 4, 20, 0)),
			 cst(2026, 12, 8, 18, 0));
	/* 7x24 */
	struct coll_calendar all = {.always = true};
	assert_int_equal(coll_calendar_add(&all, 100, 50), 150);
	assert_int_equal(coll_calendar_elapsed(&all, 100, 50), 0);
	assert_int_equal(coll_calendar_next_open(&all, 7), 7);
}

static void test_tiers(void **state)
{
	(void)state;
	struct coll_tiers t;
	char err[512] = "";
	assert_int_equal(coll_tiers_load(NULL, NULL, &t, err, sizeof(err)), 0);
	const struct coll_tier *p = coll_tiers_find(&t, "platinum");
	assert_non_null(p);
	assert_true(p->cal.always);
	assert_int_equal(p->response_s[COLL_SEV_CRITICAL], 15 * M);
	assert_int_equal(p->resolution_s[COLL_SEV_CRITICAL], 2 * H);
	assert_int_equal(coll_tiers_find(&t, "gold")->resolution_s[COLL_SEV_WARNING], 4 * H);
	const struct coll_tier *s = coll_tiers_find(&t, "silver");
	assert_false(s->cal.always);
	assert_int_equal(s->response_s[COLL_SEV_CRITICAL], H);
	assert_int_equal(coll_tiers_find(&t, "standard")->resolution_s[COLL_SEV_CRITICAL],
			 COLL_RESOLUTION_NBD);
	assert_null(coll_tiers_find(&t, "bronze"));
	coll_tiers_free(&t);

	char dir[] = "/tmp/test_sla.XXXXXX", hol[256];
	assert_non_null(mkdtemp(dir));
	snprintf(hol, sizeof(hol), "%s/holidays", dir);
	FILE *f = fopen(hol, "w");
	assert_non_null(f);
	fputs("2026-12-07\n", f);
	fclose(f);
	char conf[1024];
	snprintf(conf, sizeof(conf),
		 "[tier.gold]\nresponse = 10m\nresolution_warning = next_business_day\n"
		 "escalation_l2 = dingtalk-l2\n"
		 "[tier.vip]\ncoverage = business\nhours = Mon-Sat 08:00-20:00\n"
		 "time_zone = UTC\nholidays = %s\nresponse = 5m\nresolution = 1h\n",
		 hol);
	struct ep_config *cfg;
	assert_int_equal(
		ep_config_load_string(conf, strlen(conf), "c.conf", &cfg, err, sizeof(err)), 0);
	assert_int_equal(coll_tiers_load(cfg, NULL, &t, err, sizeof(err)), 0);
	ep_config_free(cfg);
	const struct coll_tier *g = coll_tiers_find(&t, "gold");
	assert_int_equal(g->response_s[COLL_SEV_CRITICAL], 10 * M);
	assert_int_equal(g->resolution_s[COLL_SEV_CRITICAL], 4 * H);
	assert_int_equal(g->resolution_s[COLL_SEV_WARNING], COLL_RESOLUTION_NBD);
	assert_string_equal(g->chain[1], "dingtalk-l2");
	const struct coll_tier *v = coll_tiers_find(&t, "vip");
	assert_non_null(v);
	assert_false(v->cal.always);
	assert_int_equal(v->cal.n_marks, 1);
	assert_int_equal(v->cal.open_s, 8 * H);
	assert_int_equal(v->cal.weekdays, 63);
	assert_int_equal(v->response_s[COLL_SEV_WARNING], 5 * M);
	coll_tiers_free(&t);
	unlink(hol);
	rmdir(dir);

	static const struct {
		const char *conf, *err;
	} bad[] = {
		{"[tier.gold]\ncoverage = sometimes\n",
		 "c.conf:1: [tier.gold] coverage: 'sometimes' is not 24x7 or business"},
		{"[tier.gold]\nresolution = soon\n",
		 "c.conf:1: [tier.gold] resolution: 'soon' is not a duration (4h) or "
		 "next_business_day"},
		{"[tier.gold]\nhours = 9-5\n",
		 "c.conf:1: [tier.gold] hours: '9-5' is not like 'Mon-Fri 09:00-18:00'"},
		{"[tier.Gold]\n", NULL},
		{"[tier.gold]\ntime_zone = Mars/Olympus\n", NULL},
		{"[tier.gold]\nholidays = /nonexistent/h\n", NULL},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ep_config_load_string(bad[i].conf, strlen(bad[i].conf), "c.conf",
						       &cfg, err, sizeof(err)),
				 0);
		err[0] = '\0';
		assert_true(coll_tiers_load(cfg, NULL, &t, err, sizeof(err)) < 0);
		if (bad[i].err)
			assert_string_equal(err, bad[i].err);
		else
			assert_non_null(strstr(err, "c.conf:1: [tier."));
		ep_config_free(cfg);
	}
}

/* gold critical: 30 min response, 4 h resolution, 7x24 */
static void test_escalation_clock(void **state)
{
	(void)state;
	struct coll_calendar cal = {.always = true};
	struct coll_sla_target tgt = {.response_s = 30 * M, .resolution_s = 4 * H};
	int64_t t0 = 1000000;
	struct coll_sla_clock clk = {.opened_at = t0};
	struct coll_sla_status st;

	assert_int_equal(coll_sla_evaluate(&cal, &tgt, &clk, t0 + 23 * M, &st), 0);
	assert_int_equal(st.crossed, 0);
	assert_int_equal(st.next_event_at, t0 + 24 * M);
	assert_int_equal(st.breach_at, t0 + 30 * M);

	assert_int_equal(coll_sla_evaluate(&cal, &tgt, &clk, t0 + 24 * M, &st), 0);
	assert_int_equal(st.crossed, COLL_SLA_RESPONSE_WARNING);
	assert_int_equal(st.next_event_at, t0 + 30 * M);

	assert_int_equal(coll_sla_evaluate(&cal, &tgt, &clk, t0 + 30 * M, &st), 0);
	assert_int_equal(st.crossed, COLL_SLA_RESPONSE_WARNING | COLL_SLA_RESPONSE_BREACH |
					     COLL_SLA_ESCALATE_L2);
	assert_int_equal(st.next_event_at, t0 + 60 * M);
	assert_true(st.response_met); /* exactly on target is within it */
	assert_int_equal(coll_sla_evaluate(&cal, &tgt, &clk, t0 + 31 * M, &st), 0);
	assert_false(st.response_met);

	assert_int_equal(coll_sla_evaluate(&cal, &tgt, &clk, t0 + 61 * M, &st), 0);
	assert_true(st.crossed & COLL_SLA_ESCALATE_L3);
	assert_int_equal(st.next_event_at, t0 + 192 * M); /* 80% of 4 h */
	assert_int_equal(st.breach_at, t0 + 30 * M);

	/* acknowledged at 20 min: no response events ever, resolution goes on */
	clk.responded_at = t0 + 20 * M;
	assert_int_equal(coll_sla_evaluate(&cal, &tgt, &clk, t0 + 61 * M, &st), 0);
	assert_int_equal(st.crossed, 0);
	assert_true(st.response_met);
	assert_int_equal(st.response_used_s, 20 * M);
	assert_int_equal(st.next_event_at, t0 + 192 * M);
	assert_int_equal(st.breach_at, t0 + 4 * H);
	assert_int_equal(coll_sla_evaluate(&cal, &tgt, &clk, t0 + 5 * H, &st), 0);
	assert_int_equal(st.crossed, COLL_SLA_RESOLUTION_WARNING | COLL_SLA_RESOLUTION_BREACH);
	assert_int_equal(st.next_event_at, 0);

	/* resolved: nothing more */
	clk.resolved_at = t0 + 3 * H;
	assert_int_equal(coll_sla_evaluate(&cal, &tgt, &clk, t0 + 5 * H, &st), 0);
	assert_int_equal(st.crossed, 0);
	assert_true(st.resolution_met);
	assert_int_equal(st.breach_at, 0);
	assert_int_equal(st.next_event_at, 0);

	/* a custom step: L2 after 10 min, L3 after 20 */
	struct coll_sla_clock c2 = {.opened_at = t0};
	tgt.step_s = 10 * M;
	assert_int_equal(coll_sla_evaluate(&cal, &tgt, &c2, t0 + 21 * M, &st), 0);
	assert_int_equal(st.crossed, COLL_SLA_ESCALATE_L2 | COLL_SLA_ESCALATE_L3);
	assert_int_equal(st.next_event_at, t0 + 24 * M);
}

static void test_pauses(void **state)
{
	(void)state;
	struct coll_calendar cal = {.always = true};
	struct coll_sla_target tgt = {.response_s = 30 * M, .resolution_s = 4 * H};
	int64_t t0 = 1000000;
	/* waiting for the customer from 1 h to 2 h, a maintenance window from
	 * 1:30 to 3 h (overlapping: counts once), the clock paused 2 h */
	struct coll_interval p[] = {{t0 + 1 * H, t0 + 2 * H}, {t0 + 90 * M, t0 + 3 * H}};
	struct coll_sla_clock clk = {
		.opened_at = t0, .responded_at = t0 + 5 * M, .pauses = p, .n_pauses = 2};
	struct coll_sla_status st;
	assert_int_equal(coll_sla_used(&cal, t0, t0 + 4 * H, p, 2), 2 * H);
	assert_int_equal(coll_sla_evaluate(&cal, &tgt, &clk, t0 + 4 * H, &st), 0);
	assert_int_equal(st.resolution_used_s, 2 * H);
	assert_false(st.paused);
	assert_int_equal(st.next_event_at, t0 + 4 * H + 72 * M); /* 80% = 3:12 used */
	assert_int_equal(coll_sla_evaluate(&cal, &tgt, &clk, t0 + 2 * H, &st), 0);
	assert_true(st.paused);
	assert_int_equal(st.resolution_used_s, 1 * H);
	/* resumes at 3 h with 1 h used: warning at 3:12 used -> 5:12 wall */
	assert_int_equal(st.next_event_at, t0 + 5 * H + 12 * M);
	/* waiting for the customer with no end: no next event */
	struct coll_interval open[] = {{t0 + 1 * H, INT64_MAX}};
	clk.pauses = open;
	clk.n_pauses = 1;
	assert_int_equal(coll_sla_evaluate(&cal, &tgt, &clk, t0 + 9 * H, &st), 0);
	assert_true(st.paused);
	assert_int_equal(st.resolution_used_s, 1 * H);
	assert_int_equal(st.next_event_at, 0);
	assert_int_equal(st.breach_at, 0);
}

static void test_windows(void **state)
{
	(void)state;
	struct coll_tz tz = {.off0 = 8 * H};
	/* every Sunday 02:00-04:00 in +08:00 */
	struct coll_window w = {
		.weekdays = 1u << 6, .start_s = 2 * H, .duration_s = 2 * H, .tz = &tz};
	struct coll_interval iv[8];
	size_t n = coll_window_expand(&w, cst(2026, 11, 30, 0, 0), cst(2026, 12, 14, 0, 0), iv, 8);
	assert_int_equal(n, 2);
	assert_int_equal(iv[0].from, cst(2026, 12, 6, 2, 0));
	assert_int_equal(iv[1].to, cst(2026, 12, 13, 4, 0));
	assert_true(coll_window_active(&w, cst(2026, 12, 6, 3, 0)));
	assert_false(coll_window_active(&w, cst(2026, 12, 6, 4, 0)));
	struct coll_window once = {.once_from = 100, .once_to = 200};
	assert_true(coll_window_active(&once, 150));
	assert_false(coll_window_active(&once, 200));
}

/* A fixture month computed by hand (docs/incidents.md shows the same table):
 * ten incidents, response target 60 min, resolution target 4 h.
 *   response (min): 5 10 15 20 25 30 35 40 50 120  -> sorted, nearest rank:
 *     p50 = 5th = 25 min, p90 = 9th = 50 min, within 60 min: 9 of 10
 *   resolution (h): 1 2 3 3.5 5(late) 2 4(on target: within) 1, open at 6 h
 *   (late), 3; plus one false positive (excluded).
 * resolution rate = resolved within target / (opened - excluded) = 8 / 10;
 * breaches: the 5 h resolution, the open one, the 120 min answer = 3. */
static void test_month_figures(void **state)
{
	(void)state;
	const int64_t R = 60 * M, T = 4 * H;
	struct coll_sla_item it[] = {
		{0, false, true, true, 5 * M, 1 * H, R, T},
		{0, false, true, true, 10 * M, 2 * H, R, T},
		{0, false, true, true, 15 * M, 3 * H, R, T},
		{0, false, true, true, 20 * M, 3 * H + 30 * M, R, T},
		{0, false, true, true, 25 * M, 5 * H, R, T}, /* resolved late */
		{0, false, true, true, 30 * M, 2 * H, R, T},
		{0, false, true, true, 35 * M, 4 * H, R, T}, /* exactly on target: within */
		{0, false, true, true, 40 * M, 1 * H, R, T},
		{0, false, true, false, 50 * M, 6 * H, R, T}, /* open, already late */
		{0, false, true, true, 120 * M, 3 * H, R, T}, /* answered late */
		{0, true, true, true, 1 * M, 1 * M, R, T},    /* false positive */
	};
	struct coll_sla_figures f;
	assert_int_equal(coll_sla_compute(it, sizeof(it) / sizeof(it[0]), 6 * H, &f), 0);
	assert_int_equal(f.opened, 11);
	assert_int_equal(f.excluded, 1);
	assert_int_equal(f.responded, 10);
	assert_int_equal(f.response_p50_s, 25 * M);
	assert_int_equal(f.response_p90_s, 50 * M);
	assert_int_equal(f.response_within, 9);
	assert_int_equal(f.response_judged, 10);
	assert_true(fabs(f.response_within_share - 0.9) < 1e-9);
	assert_int_equal(f.resolved, 9);
	assert_int_equal(f.resolved_within, 8);
	assert_true(fabs(f.resolution_rate - 8.0 / 10.0) < 1e-9);
	assert_int_equal(f.mtta_s, (5 + 10 + 15 + 20 + 25 + 30 + 35 + 40 + 50 + 120) * M / 10);
	assert_int_equal(f.mttr_s, (1 * H + 2 * H + 3 * H + 3 * H + 30 * M + 5 * H + 2 * H + 4 * H +
				    1 * H + 3 * H) /
					   9);
	assert_int_equal(f.breaches, 3);
	assert_int_equal(f.open, 1);
	assert_int_equal(f.open_by_age[1], 1); /* 6 h old */

	struct coll_sla_figures none;
	assert_int_equal(coll_sla_compute(NULL, 0, 0, &none), 0);
	assert_int_equal(none.response_p90_s, -1);
	assert_true(isnan(none.resolution_rate));

	int64_t v[] = {1, 2, 3, 4};
	assert_int_equal(coll_percentile(v, 4, 50), 2);
	assert_int_equal(coll_percentile(v, 4, 90), 4);
	assert_int_equal(coll_percentile(v, 1, 90), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dates),          cmocka_unit_test(test_time_zones),
		cmocka_unit_test(test_hours_parse),    cmocka_unit_test(test_holidays_parse),
		cmocka_unit_test(test_friday_evening), cmocka_unit_test(test_business_arithmetic),
		cmocka_unit_test(test_tiers),          cmocka_unit_test(test_escalation_clock),
		cmocka_unit_test(test_pauses),         cmocka_unit_test(test_windows),
		cmocka_unit_test(test_month_figures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
