/* The monthly report's pure parts (collector/report/): ratings, month
 * bounds in a time zone, series means, chart scales, the document of a
 * hand-made model in both languages, the HTML renderer and the file name.
 * The store-backed model and the PDF are tested end to end by
 * tests/integration/73-report.sh. */
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

#include "collector/report/chart.h"
#include "collector/report/doc.h"
#include "collector/report/model.h"
#include "collector/report/render.h"
#include "collector/report/report.h"
#include "erpulse/util.h"

static void test_rating(void **state)
{
	(void)state;
	assert_int_equal(coll_report_rating(100, 0, true), COLL_RATING_GREEN);
	assert_int_equal(coll_report_rating(85, 0, true), COLL_RATING_GREEN);
	assert_int_equal(coll_report_rating(84, 0, true), COLL_RATING_YELLOW);
	assert_int_equal(coll_report_rating(95, 1, true), COLL_RATING_YELLOW);
	assert_int_equal(coll_report_rating(95, 2, true), COLL_RATING_RED);
	assert_int_equal(coll_report_rating(59, 0, true), COLL_RATING_RED);
	assert_int_equal(coll_report_rating(100, 0, false), COLL_RATING_GREY);
	assert_int_equal(coll_report_rating(-1, 0, true), COLL_RATING_GREY);
	assert_string_equal(coll_rating_name(COLL_RATING_GREY), "grey");
}

static void test_month_start(void **state)
{
	(void)state;
	struct coll_tz tz;
	char err[128];
	assert_int_equal(coll_tz_load("+08:00", NULL, &tz, err, sizeof(err)), 0);
	/* 2026-11-01 00:00 +08:00 = 2026-10-31 16:00 UTC */
	assert_int_equal(coll_report_month_start(&tz, 2026, 11), 1793491200 - 8 * 3600);
	/* out-of-range months roll over the year */
	assert_int_equal(coll_report_month_start(&tz, 2026, 13),
			 coll_report_month_start(&tz, 2027, 1));
	assert_int_equal(coll_report_month_start(&tz, 2026, -1),
			 coll_report_month_start(&tz, 2025, 11));
	assert_int_equal(coll_report_month_start(NULL, 2026, 11), 1793491200);
	coll_tz_free(&tz);
}

static void test_series_mean(void **state)
{
	(void)state;
	struct coll_report_series s = {.n = 4, .t = {10, 20, 30, 40}, .v = {1, 2, 3, 100}};
	assert_true(fabs(coll_report_series_mean(&s, 10, 40) - 2) < 1e-9);
	assert_true(isnan(coll_report_series_mean(&s, 50, 60)));
}

static size_t count(const struct coll_chart_layout *l, enum coll_prim_kind k, const char *text)
{
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++)
		if (l->p[i].kind == k && (!text || strcmp(l->p[i].text, text) == 0))
			n++;
	return n;
}

static void test_chart(void **state)
{
	(void)state;
	struct coll_chart *c = calloc(1, sizeof(*c));
	struct coll_chart_layout *l = malloc(sizeof(*l));
	assert_non_null(c);
	assert_non_null(l);
	c->kind = COLL_CHART_LINE;
	c->threshold = NAN;
	c->y_max = NAN;
	c->n_series = 1;
	c->s[0].n = 3;
	double y[] = {0.5, 2.3, 1.0};
	for (int i = 0; i < 3; i++) {
		c->s[0].x[i] = i * 100;
		c->s[0].y[i] = y[i];
	}
	coll_chart_layout(c, 500, 170, l);
	/* 2.3 * 1.1 / 4 -> a step of 1: ticks 0, 1, 2, 3, 4 */
	assert_int_equal(count(l, COLL_PRIM_TEXT, "4"), 1);
	assert_int_equal(count(l, COLL_PRIM_TEXT, "1"), 1);
	assert_int_equal(count(l, COLL_PRIM_POLY, NULL), 1);
	/* bars with a threshold line */
	memset(c, 0, sizeof(*c));
	c->kind = COLL_CHART_BARS;
	c->y_max = 100;
	c->threshold = 85;
	snprintf(c->threshold_label, sizeof(c->threshold_label), "healthy");
	c->n_series = 1;
	c->s[0].n = 2;
	c->s[0].y[0] = 70;
	c->s[0].y[1] = NAN; /* a month without data: no bar */
	coll_chart_layout(c, 500, 170, l);
	assert_int_equal(count(l, COLL_PRIM_RECT, NULL), 1);
	assert_int_equal(count(l, COLL_PRIM_TEXT, "70"), 1);
	assert_int_equal(count(l, COLL_PRIM_TEXT, "healthy"), 1);
	size_t dashed = 0;
	for (size_t i = 0; i < l->n; i++)
		dashed += l->p[i].dashed;
	assert_int_equal(dashed, 1);
	free(c);
	free(l);
}

/* A model by hand: one fix, no SLA incidents, nothing else. */
static struct coll_report_model *model(void)
{
	struct coll_report_model *m = calloc(1, sizeof(*m));
	assert_non_null(m);
	snprintf(m->customer, sizeof(m->customer), "Acme <&> \"Co\"");
	snprintf(m->time_zone, sizeof(m->time_zone), "UTC");
	m->year = 2026;
	m->month = 11;
	m->from = 1793491200;
	m->to = m->from + 30 * 86400;
	m->now = m->to + 3600;
	m->score = 72;
	snprintf(m->band, sizeof(m->band), "at_risk");
	for (int k = 0; k < COLL_REPORT_TREND_MONTHS; k++) {
		m->trend[k] = k == 0 ? NAN : 60 + k;
		m->trend_month[k] = 6 + k;
		m->trend_year[k] = 2026;
	}
	for (int c = 0; c < COLL_REPORT_CATEGORIES; c++) {
		m->cat[c].score = -1;
		m->cat[c].rating = COLL_RATING_GREY;
		m->cat[c].prev = m->cat[c].cur = NAN;
	}
	m->n_fixes = 1;
	snprintf(m->fixes[0].host, sizeof(m->fixes[0].host), "db1");
	snprintf(m->fixes[0].kind, sizeof(m->fixes[0].kind), "index_fragmentation");
	snprintf(m->fixes[0].object, sizeof(m->fixes[0].object), "odoo/public.x_idx");
	m->fixes[0].before = 1262.5;
	m->fixes[0].after = 4.5;
	m->fixes[0].resolved_at = m->from + 4 * 86400 + 3600;
	m->indexes_over = m->maintenance_debt = -1;
	m->index_threshold = NAN;
	return m;
}

static const char *find_text(const struct coll_doc *d, const char *needle)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct coll_block *b = &d->v[i];
		if (b->text && strstr(b->text, needle))
			return b->text;
		size_t cells = b->kind == COLL_BLOCK_BULLETS ? b->rows : b->rows * b->cols;
		for (size_t k = 0; b->cells && k < cells; k++)
			if (b->cells[k].text && strstr(b->cells[k].text, needle))
				return b->cells[k].text;
	}
	return NULL;
}

static void test_doc(void **state)
{
	(void)state;
	struct coll_report_model *m = model();
	struct coll_doc d;
	assert_int_equal(coll_doc_build(m, "zh-CN", &d), 0);
	assert_string_equal(d.period, "2026年11月");
	assert_non_null(find_text(&d, "总体评级"));
	assert_non_null(find_text(&d, "1,262.5")); /* grouped thousands */
	assert_non_null(find_text(&d, "2026年11月5日"));
	assert_non_null(find_text(&d, "本月无数据。")); /* capacity and the rest say so */
	assert_non_null(find_text(&d, "本月没有新开事件。"));
	assert_non_null(find_text(&d, "无需额外操作"));
	char page[64];
	assert_int_equal(coll_doc_page(&d, 2, 5, page, sizeof(page)), 0);
	assert_string_equal(page, "第 2 页，共 5 页");
	coll_doc_free(&d);

	assert_int_equal(coll_doc_build(m, "en", &d), 0);
	assert_string_equal(d.period, "November 2026");
	assert_non_null(find_text(&d, "5 Nov 2026"));
	assert_non_null(find_text(&d, "No data this month."));

	unsigned char *html = NULL;
	size_t len = 0;
	char err[256];
	assert_int_equal(coll_render_html(&d, &html, &len, err, sizeof(err)), 0);
	assert_int_equal(strlen((char *)html), len);
	assert_non_null(strstr((char *)html, "Acme &lt;&amp;&gt; &quot;Co&quot;"));
	assert_null(strstr((char *)html, "src="));
	assert_null(strstr((char *)html, "href="));
	assert_non_null(strstr((char *)html, "<svg"));
	free(html);
	coll_doc_free(&d);
	free(m);
}

static void test_filename(void **state)
{
	(void)state;
	char buf[128];
	assert_int_equal(coll_report_filename("Acme Co/Ltd", 2026, 11, "zh_CN.UTF-8",
					      COLL_REPORT_PDF, buf, sizeof(buf)),
			 0);
	assert_string_equal(buf, "erpulse-Acme-Co-Ltd-2026-11.zh-CN.pdf");
	assert_int_equal(
		coll_report_filename("x", 2026, 1, NULL, COLL_REPORT_HTML, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "erpulse-x-2026-01.en.html");
	assert_true(coll_report_filename("x", 2026, 1, "en", COLL_REPORT_PDF, buf, 8) < 0);
	/* a Chinese name stays readable; broken UTF-8, C1 and bidi controls do not pass */
	assert_int_equal(coll_report_filename("北京 测试/有限公司", 2026, 11, "zh-CN",
					      COLL_REPORT_PDF, buf, sizeof(buf)),
			 0);
	assert_string_equal(buf, "erpulse-北京-测试-有限公司-2026-11.zh-CN.pdf");
	assert_int_equal(coll_report_filename("a\xe5\x8c"
					      "b\xc2\x85"
					      "c\xe2\x80\xaex",
					      2026, 11, "en", COLL_REPORT_PDF, buf, sizeof(buf)),
			 0);
	assert_string_equal(buf, "erpulse-a-b-c-x-2026-11.en.pdf");
	/* a long name is cut between characters, never inside one */
	char longname[200];
	for (size_t i = 0; i < 60; i++)
		memcpy(longname + 3 * i, "京", 3);
	longname[180] = '\0';
	assert_int_equal(coll_report_filename(longname, 2026, 11, "zh-CN", COLL_REPORT_PDF, buf,
					      sizeof(buf)),
			 -ENOSPC);
	char big[400];
	assert_int_equal(coll_report_filename(longname, 2026, 11, "zh-CN", COLL_REPORT_PDF, big,
					      sizeof(big)),
			 0);
	assert_true(ep_utf8_valid(big, strlen(big)));
	assert_string_equal(big + strlen(big) - strlen("-2026-11.zh-CN.pdf"), "-2026-11.zh-CN.pdf");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rating),      cmocka_unit_test(test_month_start),
		cmocka_unit_test(test_series_mean), cmocka_unit_test(test_chart),
		cmocka_unit_test(test_doc),         cmocka_unit_test(test_filename),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
