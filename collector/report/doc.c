/* The model in words (doc.h): every text from the catalogs (report.*,
 * band.*, category.*, finding.*, incident.state.*, tier.*), numbers and
 * dates per language. The order of the sections is issue 13's. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/analysis/score.h"
#include "collector/report/doc.h"
#include "collector/report/doc_int.h"
#include "collector/service/calendar.h"
#include "collector/web/i18n.h"
#include "erpulse/util.h"

/* ---- formatting -------------------------------------------------------------------- */

const char *coll_dx_text(const struct coll_dx *c, const char *key)
{
	return coll_i18n_text(c->lang, key);
}

/* key filled with vars (name, value, ..., NULL) into buf. */
const char *coll_dx_fill(const struct coll_dx *c, char *buf, size_t size, const char *key,
			 const char *const *vars)
{
	coll_i18n_render(c->lang, key, vars, buf, size);
	coll_utf8_cut(buf);
	return buf;
}

/* 1234.5 -> "1,234.5" with decimals digits (both catalogs' languages group
 * by thousands with a comma and use a point). */
const char *coll_dx_num(char *buf, size_t size, double v, int decimals)
{
	char raw[64];
	if (!isfinite(v)) {
		snprintf(buf, size, "—");
		return buf;
	}
	snprintf(raw, sizeof(raw), "%.*f", decimals, fabs(v) < 0.5 * pow(10, -decimals) ? 0 : v);
	const char *dot = strchr(raw, '.'), *digits = raw[0] == '-' ? raw + 1 : raw;
	size_t int_len = (size_t)((dot ? dot : raw + strlen(raw)) - digits), o = 0;
	char out[96];
	if (raw[0] == '-')
		out[o++] = '-';
	for (size_t i = 0; i < int_len; i++) {
		if (i && (int_len - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	snprintf(out + o, sizeof(out) - o, "%s", dot ? dot : "");
	snprintf(buf, size, "%s", out);
	return buf;
}

const char *coll_dx_pct(char *buf, size_t size, double share)
{
	char n[48];
	if (!isfinite(share)) {
		snprintf(buf, size, "—");
		return buf;
	}
	snprintf(buf, size, "%s%%", coll_dx_num(n, sizeof(n), share * 100, 1));
	return buf;
}

const char *coll_dx_date(const struct coll_dx *c, char *buf, size_t size, int64_t t)
{
	if (t <= 0) {
		snprintf(buf, size, "—");
		return buf;
	}
	int y, mo, d;
	coll_date_civil((int32_t)((t + c->m->utc_offset) / DAY -
				  ((t + c->m->utc_offset) % DAY < 0 ? 1 : 0)),
			&y, &mo, &d);
	char ys[8], ds[4], key[32];
	snprintf(ys, sizeof(ys), "%d", y);
	snprintf(ds, sizeof(ds), "%d", d);
	snprintf(key, sizeof(key), "report.month.short.%d", mo);
	return COLL_DX_R(c, buf, size, "report.date", "y", ys, "d", ds, "mon", coll_dx_text(c, key),
			 NULL);
}

static const char *month_name(const struct coll_dx *c, char *buf, size_t size, int y, int mo)
{
	char ys[8], key[32];
	snprintf(ys, sizeof(ys), "%d", y);
	snprintf(key, sizeof(key), "report.month.long.%d", mo);
	return COLL_DX_R(c, buf, size, "report.month_year", "y", ys, "month", coll_dx_text(c, key),
			 NULL);
}

const char *coll_dx_duration(const struct coll_dx *c, char *buf, size_t size, int64_t s)
{
	char n[32];
	if (s < 0) {
		snprintf(buf, size, "—");
		return buf;
	}
	if (s < 3600)
		return COLL_DX_R(c, buf, size, "report.duration.min", "n",
				 coll_dx_num(n, sizeof(n), (double)s / 60.0, 0), NULL);
	return COLL_DX_R(c, buf, size, "report.duration.h", "n",
			 coll_dx_num(n, sizeof(n), (double)s / 3600.0, 1), NULL);
}

/* ---- blocks ----------------------------------------------------------------------- */

char *coll_dx_dup(struct coll_dx *c, const char *s)
{
	char *p = strdup(s ? s : "");
	if (!p)
		c->err = -ENOMEM;
	return p;
}

struct coll_block *coll_dx_block(struct coll_dx *c, enum coll_block_kind k)
{
	struct coll_doc *d = c->d;
	if (c->err)
		return NULL;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 32;
		struct coll_block *v = realloc(d->v, cap * sizeof(*v));
		if (!v) {
			c->err = -ENOMEM;
			return NULL;
		}
		d->v = v;
		d->cap = cap;
	}
	struct coll_block *b = &d->v[d->n++];
	memset(b, 0, sizeof(*b));
	b->kind = k;
	b->color = -1;
	return b;
}

static void text_block(struct coll_dx *c, enum coll_block_kind k, const char *s)
{
	struct coll_block *b = coll_dx_block(c, k);
	if (b)
		b->text = coll_dx_dup(c, s);
}

void coll_dx_heading(struct coll_dx *c, const char *key)
{
	text_block(c, COLL_BLOCK_HEADING, coll_dx_text(c, key));
}

void coll_dx_para(struct coll_dx *c, const char *s)
{
	text_block(c, COLL_BLOCK_TEXT, s);
}

void coll_dx_nodata(struct coll_dx *c)
{
	text_block(c, COLL_BLOCK_NODATA, coll_dx_text(c, "report.nodata"));
}

bool coll_dx_section(struct coll_dx *c, const char *key, bool has)
{
	coll_dx_heading(c, key);
	if (!has)
		coll_dx_nodata(c);
	return has;
}

/* A table of cols columns, the header from keys, weights w. */
struct coll_block *coll_dx_table(struct coll_dx *c, size_t rows, size_t cols,
				 const char *const *keys, const double *w)
{
	struct coll_block *b = coll_dx_block(c, COLL_BLOCK_TABLE);
	if (!b)
		return NULL;
	b->cols = cols;
	b->rows = rows + 1;
	b->cells = calloc(b->rows * cols, sizeof(*b->cells));
	if (!b->cells) {
		c->err = -ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < b->rows * cols; i++)
		b->cells[i].color = -1;
	for (size_t k = 0; k < cols; k++) {
		b->cells[k].text = coll_dx_dup(c, keys[k][0] ? coll_dx_text(c, keys[k]) : "");
		b->weight[k] = w[k];
	}
	return b;
}

void coll_dx_cell(struct coll_dx *c, struct coll_block *b, size_t row, size_t col, const char *s)
{
	if (b)
		b->cells[(row + 1) * b->cols + col].text = coll_dx_dup(c, s);
}

struct coll_chart *coll_dx_chart(struct coll_dx *c)
{
	struct coll_block *b = coll_dx_block(c, COLL_BLOCK_CHART);
	if (!b)
		return NULL;
	b->chart = calloc(1, sizeof(*b->chart));
	if (!b->chart) {
		c->err = -ENOMEM;
		return NULL;
	}
	b->chart->threshold = NAN;
	b->chart->y_max = NAN;
	return b->chart;
}

enum coll_color coll_dx_rating_color(enum coll_rating r)
{
	switch (r) {
	case COLL_RATING_GREEN:
		return COLL_COLOR_GREEN;
	case COLL_RATING_YELLOW:
		return COLL_COLOR_YELLOW;
	case COLL_RATING_RED:
		return COLL_COLOR_RED;
	case COLL_RATING_GREY:
		break;
	}
	return COLL_COLOR_GREY;
}

enum coll_color coll_dx_score_color(double score)
{
	return !isfinite(score) ? COLL_COLOR_GREY
	       : score >= 85    ? COLL_COLOR_GREEN
	       : score >= 60    ? COLL_COLOR_YELLOW
				: COLL_COLOR_RED;
}

/* A month's series into chart series i, dates on the x axis. */
void coll_dx_series(struct coll_dx *c, struct coll_chart *ch, const struct coll_report_series *s,
		    const char *label)
{
	if (!ch || ch->n_series >= COLL_CHART_MAX_SERIES)
		return;
	struct coll_chart_series *o = &ch->s[ch->n_series++];
	snprintf(o->label, sizeof(o->label), "%s", label);
	coll_utf8_cut(o->label);
	for (size_t i = 0; i < s->n && o->n < COLL_CHART_MAX_POINTS; i++) {
		o->x[o->n] = (double)s->t[i];
		o->y[o->n] = s->v[i];
		o->n++;
	}
	/* the whole month, whatever part of it has data */
	ch->x_min = (double)c->m->from;
	ch->x_max = (double)(c->m->to - 1);
	coll_dx_date(c, ch->x_label[0], sizeof(ch->x_label[0]), c->m->from);
	coll_dx_date(c, ch->x_label[1], sizeof(ch->x_label[1]), c->m->to - 1);
}

const char *coll_dx_title(const struct coll_dx *c, const char *kind)
{
	return coll_i18n_finding(c->lang, kind, "title");
}

/* ---- sections ----------------------------------------------------------------------- */

static void sec_overall(struct coll_dx *c)
{
	const struct coll_report_model *m = c->m;
	char buf[TEXT_MAX], a[64], key[48];
	coll_dx_heading(c, "report.section.overall");
	if (m->score < 0) {
		coll_dx_nodata(c);
	} else {
		struct coll_block *b = coll_dx_block(c, COLL_BLOCK_SCORE);
		snprintf(key, sizeof(key), "band.%s", m->band[0] ? m->band : "none");
		if (b) {
			snprintf(a, sizeof(a), "%d", m->score);
			b->text = coll_dx_dup(c, a);
			b->sub = coll_dx_dup(c, coll_dx_text(c, key));
			b->color = (int)(strcmp(m->band, "unknown") == 0
						 ? COLL_COLOR_GREY
						 : coll_dx_score_color(m->score));
		}
	}
	snprintf(a, sizeof(a), "%zu", m->hosts);
	coll_dx_para(c, COLL_DX_R(c, buf, sizeof(buf), "report.overall.hosts", "n", a, NULL));
	bool any = false;
	for (int k = 0; k < COLL_REPORT_TREND_MONTHS; k++)
		any |= isfinite(m->trend[k]);
	coll_dx_para(c, coll_dx_text(c, "report.overall.trend"));
	if (!any) {
		coll_dx_nodata(c);
		return;
	}
	struct coll_chart *ch = coll_dx_chart(c);
	if (!ch)
		return;
	ch->kind = COLL_CHART_BARS;
	ch->n_series = 1;
	ch->y_min = 0;
	ch->y_max = 100;
	ch->threshold = 85;
	snprintf(ch->threshold_label, sizeof(ch->threshold_label), "%s",
		 coll_dx_text(c, "report.overall.healthy_line"));
	for (int k = 0; k < COLL_REPORT_TREND_MONTHS; k++) {
		ch->s[0].x[k] = k;
		ch->s[0].y[k] = m->trend[k];
		ch->s[0].color[k] = coll_dx_score_color(m->trend[k]);
		char mk[40];
		snprintf(mk, sizeof(mk), "report.month.short.%d", m->trend_month[k]);
		snprintf(ch->bar_label[k], sizeof(ch->bar_label[k]), "%s", coll_dx_text(c, mk));
	}
	ch->s[0].n = COLL_REPORT_TREND_MONTHS;
}

static void sec_categories(struct coll_dx *c)
{
	static const char *const cols[] = {"report.col.category", "report.col.rating",
					   "report.col.score", "report.col.why"};
	static const double w[] = {1.2, 1.1, 0.7, 4};
	const struct coll_report_model *m = c->m;
	char buf[TEXT_MAX], key[48], s[16];
	coll_dx_heading(c, "report.section.categories");
	struct coll_block *b = coll_dx_table(c, COLL_REPORT_CATEGORIES, 4, cols, w);
	for (int k = 0; b && k < COLL_REPORT_CATEGORIES; k++) {
		const struct coll_report_category *cat = &m->cat[k];
		snprintf(key, sizeof(key), "category.%s",
			 coll_category_name((enum coll_category)k));
		coll_dx_cell(c, b, (size_t)k, 0, coll_dx_text(c, key));
		snprintf(key, sizeof(key), "report.rating.%s", coll_rating_name(cat->rating));
		coll_dx_cell(c, b, (size_t)k, 1, coll_dx_text(c, key));
		b->cells[(size_t)(k + 1) * b->cols + 1].color =
			(int)coll_dx_rating_color(cat->rating);
		snprintf(s, sizeof(s), "%d", cat->score);
		coll_dx_cell(c, b, (size_t)k, 2, cat->score >= 0 ? s : "—");
		if (cat->rating == COLL_RATING_GREY)
			coll_dx_cell(c, b, (size_t)k, 3, coll_dx_text(c, "report.why.nodata"));
		else if (!cat->kind[0])
			coll_dx_cell(c, b, (size_t)k, 3, coll_dx_text(c, "report.why.none"));
		else
			coll_dx_cell(c, b, (size_t)k, 3,
				     COLL_DX_R(c, buf, sizeof(buf),
					       strcmp(cat->object, cat->host)
						       ? "report.why.finding"
						       : "report.why.finding_host",
					       "title", coll_dx_title(c, cat->kind), "object",
					       cat->object, "host", cat->host, NULL));
	}
}

static const char *incident_text(const struct coll_dx *c, char *buf, size_t size, const char *state,
				 int64_t id)
{
	char key[64], n[24];
	if (!state[0])
		return coll_dx_text(c, "report.incident.none");
	snprintf(key, sizeof(key), "incident.state.%s", state);
	snprintf(n, sizeof(n), "%lld", (long long)id);
	return COLL_DX_R(c, buf, size, "report.incident.state", "id", n, "state",
			 coll_dx_text(c, key), NULL);
}

static void sec_risks(struct coll_dx *c)
{
	static const char *const cols[] = {"",
					   "report.col.risk",
					   "report.col.host",
					   "report.col.severity",
					   "report.col.incident",
					   "report.col.remediation"};
	static const double w[] = {0.3, 2.2, 1.2, 1.2, 1.3, 3.2};
	const struct coll_report_model *m = c->m;
	char buf[TEXT_MAX], n[24];
	coll_dx_heading(c, "report.section.risks");
	if (m->n_risks == 0) {
		if (m->hosts)
			coll_dx_para(c, coll_dx_text(c, "report.risks.none"));
		else
			coll_dx_nodata(c);
		return;
	}
	struct coll_block *b = coll_dx_table(c, m->n_risks, 6, cols, w);
	for (size_t i = 0; b && i < m->n_risks; i++) {
		const struct coll_report_risk *r = &m->risks[i];
		snprintf(n, sizeof(n), "%zu", i + 1);
		coll_dx_cell(c, b, i, 0, n);
		coll_dx_cell(c, b, i, 1,
			     COLL_DX_R(c, buf, sizeof(buf), "report.risk.what", "title",
				       coll_dx_title(c, r->kind), "object", r->object, NULL));
		coll_dx_cell(c, b, i, 2, r->host);
		coll_dx_cell(c, b, i, 3,
			     coll_dx_text(c, r->severity >= 2 ? "report.severity.critical"
							      : "report.severity.warning"));
		b->cells[(i + 1) * b->cols + 3].color =
			(int)(r->severity >= 2 ? COLL_COLOR_RED : COLL_COLOR_YELLOW);
		coll_dx_cell(c, b, i, 4,
			     incident_text(c, buf, sizeof(buf), r->state, r->incident_id));
		coll_dx_cell(c, b, i, 5, coll_i18n_finding(c->lang, r->kind, "remediation"));
	}
}

static void sec_fixed(struct coll_dx *c)
{
	static const char *const cols[] = {"report.col.problem", "report.col.host",
					   "report.col.before", "report.col.after",
					   "report.col.verified"};
	static const double w[] = {3, 1.3, 0.9, 0.9, 1.3};
	const struct coll_report_model *m = c->m;
	char buf[TEXT_MAX], v[48];
	coll_dx_heading(c, "report.section.fixed");
	if (m->n_fixes == 0) {
		coll_dx_para(c, coll_dx_text(c, "report.fixed.none"));
		return;
	}
	coll_dx_para(c, coll_dx_text(c, "report.fixed.intro"));
	struct coll_block *b = coll_dx_table(c, m->n_fixes, 5, cols, w);
	for (size_t i = 0; b && i < m->n_fixes; i++) {
		const struct coll_report_fix *f = &m->fixes[i];
		coll_dx_cell(c, b, i, 0,
			     COLL_DX_R(c, buf, sizeof(buf), "report.risk.what", "title",
				       coll_dx_title(c, f->kind), "object", f->object, NULL));
		coll_dx_cell(c, b, i, 1, f->host);
		coll_dx_cell(c, b, i, 2, coll_dx_num(v, sizeof(v), f->before, 1));
		coll_dx_cell(c, b, i, 3, coll_dx_num(v, sizeof(v), f->after, 1));
		coll_dx_cell(c, b, i, 4, coll_dx_date(c, v, sizeof(v), f->resolved_at));
	}
}

static void sec_sla(struct coll_dx *c)
{
	static const char *const cols[] = {"report.col.measure", "report.col.month",
					   "report.col.target"};
	static const double w[] = {2.6, 1.4, 2.4};
	const struct coll_report_sla *a = &c->m->sla;
	char buf[TEXT_MAX], v[64], t1[48], t2[48], key[48];
	coll_dx_heading(c, "report.section.sla");
	if (!a->has) {
		coll_dx_para(c, coll_dx_text(c, "report.sla.none"));
		return;
	}
	snprintf(key, sizeof(key), "tier.%s", a->tier);
	coll_dx_para(c, COLL_DX_R(c, buf, sizeof(buf), "report.sla.tier", "tier",
				  a->tier[0] ? coll_dx_text(c, key) : "—", NULL));
	struct coll_block *b = coll_dx_table(c, 7, 3, cols, w);
	if (!b)
		return;
	size_t r = 0;
	coll_dx_cell(c, b, r, 0, coll_dx_text(c, "report.sla.opened"));
	snprintf(v, sizeof(v), "%lld", (long long)a->opened);
	coll_dx_cell(c, b, r++, 1, v);
	coll_dx_cell(c, b, r, 0, coll_dx_text(c, "report.sla.response_p50"));
	coll_dx_cell(c, b, r, 1, coll_dx_duration(c, v, sizeof(v), a->p50_s));
	if (a->target_critical_s > 0 && a->target_critical_s == a->target_warning_s)
		coll_dx_cell(c, b, r, 2, coll_dx_duration(c, t1, sizeof(t1), a->target_critical_s));
	else if (a->target_critical_s > 0)
		coll_dx_cell(
			c, b, r, 2,
			COLL_DX_R(c, buf, sizeof(buf), "report.sla.target_response", "critical",
				  coll_dx_duration(c, t1, sizeof(t1), a->target_critical_s),
				  "warning",
				  coll_dx_duration(c, t2, sizeof(t2), a->target_warning_s), NULL));
	r++;
	coll_dx_cell(c, b, r, 0, coll_dx_text(c, "report.sla.response_p90"));
	coll_dx_cell(c, b, r++, 1, coll_dx_duration(c, v, sizeof(v), a->p90_s));
	coll_dx_cell(c, b, r, 0, coll_dx_text(c, "report.sla.within"));
	coll_dx_cell(c, b, r++, 1, coll_dx_pct(v, sizeof(v), a->within_share));
	coll_dx_cell(c, b, r, 0, coll_dx_text(c, "report.sla.resolution"));
	coll_dx_cell(c, b, r, 1, coll_dx_pct(v, sizeof(v), a->resolution_rate));
	snprintf(t1, sizeof(t1), "%d%%", COLL_REPORT_PROMISE_PCT);
	coll_dx_cell(c, b, r++, 2,
		     COLL_DX_R(c, buf, sizeof(buf), "report.sla.at_least", "n", t1, NULL));
	b->cells[r * b->cols + 1].color =
		(int)(!isfinite(a->resolution_rate)                         ? COLL_COLOR_GREY
		      : a->resolution_rate * 100 >= COLL_REPORT_PROMISE_PCT ? COLL_COLOR_GREEN
									    : COLL_COLOR_RED);
	coll_dx_cell(c, b, r, 0, coll_dx_text(c, "report.sla.breaches"));
	snprintf(v, sizeof(v), "%lld", (long long)a->breaches);
	coll_dx_cell(c, b, r++, 1, v);
	coll_dx_cell(c, b, r, 0, coll_dx_text(c, "report.sla.open"));
	snprintf(v, sizeof(v), "%lld", (long long)a->open);
	coll_dx_cell(c, b, r++, 1, v);
	if (isfinite(a->resolution_rate))
		coll_dx_para(c, coll_dx_text(c, a->resolution_rate * 100 >= COLL_REPORT_PROMISE_PCT
							? "report.sla.met"
							: "report.sla.missed"));
}

int coll_doc_build(const struct coll_report_model *m, const char *lang, struct coll_doc *ret)
{
	struct coll_doc *d = ret;
	struct coll_dx c = {d, m, coll_i18n_lang(lang), 0};
	char buf[TEXT_MAX], a[64], b[64], z[96];
	memset(d, 0, sizeof(*d));
	snprintf(d->lang, sizeof(d->lang), "%s", c.lang);
	d->title = coll_dx_dup(&c, coll_dx_text(&c, "report.title"));
	d->customer = coll_dx_dup(&c, m->customer);
	d->period = coll_dx_dup(&c, month_name(&c, buf, sizeof(buf), m->year, m->month));
	int32_t off = m->utc_offset;
	snprintf(z, sizeof(z), "%s (UTC%c%02d:%02d)", m->time_zone, off < 0 ? '-' : '+',
		 abs(off) / 3600, abs(off) % 3600 / 60);
	int64_t local = m->now + off;
	snprintf(b, sizeof(b), "%02d:%02d", (int)((local % DAY + DAY) % DAY / 3600),
		 (int)((local % DAY + DAY) % DAY % 3600 / 60));
	d->generated = coll_dx_dup(&c, COLL_DX_R(&c, buf, sizeof(buf), "report.generated", "date",
						 coll_dx_date(&c, a, sizeof(a), m->now), "time", b,
						 "zone", z, NULL));
	d->page_fmt = coll_dx_dup(&c, coll_dx_text(&c, "report.page"));
	sec_overall(&c);
	sec_categories(&c);
	sec_risks(&c);
	sec_fixed(&c);
	sec_sla(&c);
	coll_dx_state_sections(&c);
	if (c.err) {
		coll_doc_free(d);
		return c.err;
	}
	return 0;
}

void coll_doc_free(struct coll_doc *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		struct coll_block *b = &d->v[i];
		free(b->text);
		free(b->sub);
		free(b->chart);
		size_t cells = b->kind == COLL_BLOCK_BULLETS ? b->rows : b->rows * b->cols;
		for (size_t k = 0; b->cells && k < cells; k++)
			free(b->cells[k].text);
		free(b->cells);
	}
	free(d->v);
	free(d->title);
	free(d->customer);
	free(d->period);
	free(d->generated);
	free(d->page_fmt);
	memset(d, 0, sizeof(*d));
}

int coll_doc_page(const struct coll_doc *d, int n, int of, char *buf, size_t size)
{
	char a[16], b[16];
	snprintf(a, sizeof(a), "%d", n);
	snprintf(b, sizeof(b), "%d", of);
	const char *vars[] = {"n", a, "m", b, NULL};
	return coll_i18n_fill(d->page_fmt ? d->page_fmt : "{n}/{m}", vars, buf, size);
}
