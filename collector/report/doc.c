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
#include "collector/service/calendar.h"
#include "collector/web/i18n.h"
#include "erpulse/util.h"

#define DAY      86400
#define TEXT_MAX 2048

struct ctx {
	struct coll_doc *d;
	const struct coll_report_model *m;
	const char *lang;
	int err;
};

/* ---- formatting -------------------------------------------------------------------- */

static const char *T(const struct ctx *c, const char *key)
{
	return coll_i18n_text(c->lang, key);
}

/* key filled with vars (name, value, ..., NULL) into buf. */
static const char *fill(const struct ctx *c, char *buf, size_t size, const char *key,
			const char *const *vars)
{
	coll_i18n_render(c->lang, key, vars, buf, size);
	coll_utf8_cut(buf);
	return buf;
}
#define R(c, buf, size, key, ...) fill(c, buf, size, key, (const char *const[]){__VA_ARGS__})

/* 1234.5 -> "1,234.5" with decimals digits (both catalogs' languages group
 * by thousands with a comma and use a point). */
static const char *num(char *buf, size_t size, double v, int decimals)
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

static const char *pct(char *buf, size_t size, double share)
{
	char n[48];
	if (!isfinite(share)) {
		snprintf(buf, size, "—");
		return buf;
	}
	snprintf(buf, size, "%s%%", num(n, sizeof(n), share * 100, 1));
	return buf;
}

static const char *date(const struct ctx *c, char *buf, size_t size, int64_t t)
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
	return R(c, buf, size, "report.date", "y", ys, "d", ds, "mon", T(c, key), NULL);
}

static const char *month_name(const struct ctx *c, char *buf, size_t size, int y, int mo)
{
	char ys[8], key[32];
	snprintf(ys, sizeof(ys), "%d", y);
	snprintf(key, sizeof(key), "report.month.long.%d", mo);
	return R(c, buf, size, "report.month_year", "y", ys, "month", T(c, key), NULL);
}

static const char *duration(const struct ctx *c, char *buf, size_t size, int64_t s)
{
	char n[32];
	if (s < 0) {
		snprintf(buf, size, "—");
		return buf;
	}
	if (s < 3600)
		return R(c, buf, size, "report.duration.min", "n",
			 num(n, sizeof(n), (double)s / 60.0, 0), NULL);
	return R(c, buf, size, "report.duration.h", "n", num(n, sizeof(n), (double)s / 3600.0, 1),
		 NULL);
}

/* ---- blocks ----------------------------------------------------------------------- */

static char *dup(struct ctx *c, const char *s)
{
	char *p = strdup(s ? s : "");
	if (!p)
		c->err = -ENOMEM;
	return p;
}

static struct coll_block *block(struct ctx *c, enum coll_block_kind k)
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

static void text_block(struct ctx *c, enum coll_block_kind k, const char *s)
{
	struct coll_block *b = block(c, k);
	if (b)
		b->text = dup(c, s);
}

static void heading(struct ctx *c, const char *key)
{
	text_block(c, COLL_BLOCK_HEADING, T(c, key));
}

static void para(struct ctx *c, const char *s)
{
	text_block(c, COLL_BLOCK_TEXT, s);
}

static void nodata(struct ctx *c)
{
	text_block(c, COLL_BLOCK_NODATA, T(c, "report.nodata"));
}

/* A table of cols columns, the header from keys, weights w. */
static struct coll_block *table(struct ctx *c, size_t rows, size_t cols, const char *const *keys,
				const double *w)
{
	struct coll_block *b = block(c, COLL_BLOCK_TABLE);
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
		b->cells[k].text = dup(c, keys[k][0] ? T(c, keys[k]) : "");
		b->weight[k] = w[k];
	}
	return b;
}

static void cell(struct ctx *c, struct coll_block *b, size_t row, size_t col, const char *s)
{
	if (b)
		b->cells[(row + 1) * b->cols + col].text = dup(c, s);
}

static struct coll_chart *chart(struct ctx *c)
{
	struct coll_block *b = block(c, COLL_BLOCK_CHART);
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

static enum coll_color rating_color(enum coll_rating r)
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

static enum coll_color score_color(double score)
{
	return !isfinite(score) ? COLL_COLOR_GREY
	       : score >= 85    ? COLL_COLOR_GREEN
	       : score >= 60    ? COLL_COLOR_YELLOW
				: COLL_COLOR_RED;
}

/* A month's series into chart series i, dates on the x axis. */
static void series_into(struct ctx *c, struct coll_chart *ch, const struct coll_report_series *s,
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
	date(c, ch->x_label[0], sizeof(ch->x_label[0]), c->m->from);
	date(c, ch->x_label[1], sizeof(ch->x_label[1]), c->m->to - 1);
}

static const char *finding_title(const struct ctx *c, const char *kind)
{
	return coll_i18n_finding(c->lang, kind, "title");
}

/* ---- sections ----------------------------------------------------------------------- */

static void sec_overall(struct ctx *c)
{
	const struct coll_report_model *m = c->m;
	char buf[TEXT_MAX], a[64], key[48];
	heading(c, "report.section.overall");
	if (m->score < 0) {
		nodata(c);
	} else {
		struct coll_block *b = block(c, COLL_BLOCK_SCORE);
		snprintf(key, sizeof(key), "band.%s", m->band[0] ? m->band : "none");
		if (b) {
			snprintf(a, sizeof(a), "%d", m->score);
			b->text = dup(c, a);
			b->sub = dup(c, T(c, key));
			b->color = (int)(strcmp(m->band, "unknown") == 0 ? COLL_COLOR_GREY
									 : score_color(m->score));
		}
	}
	snprintf(a, sizeof(a), "%zu", m->hosts);
	para(c, R(c, buf, sizeof(buf), "report.overall.hosts", "n", a, NULL));
	bool any = false;
	for (int k = 0; k < COLL_REPORT_TREND_MONTHS; k++)
		any |= isfinite(m->trend[k]);
	para(c, T(c, "report.overall.trend"));
	if (!any) {
		nodata(c);
		return;
	}
	struct coll_chart *ch = chart(c);
	if (!ch)
		return;
	ch->kind = COLL_CHART_BARS;
	ch->n_series = 1;
	ch->y_min = 0;
	ch->y_max = 100;
	ch->threshold = 85;
	snprintf(ch->threshold_label, sizeof(ch->threshold_label), "%s",
		 T(c, "report.overall.healthy_line"));
	for (int k = 0; k < COLL_REPORT_TREND_MONTHS; k++) {
		ch->s[0].x[k] = k;
		ch->s[0].y[k] = m->trend[k];
		ch->s[0].color[k] = score_color(m->trend[k]);
		char mk[40];
		snprintf(mk, sizeof(mk), "report.month.short.%d", m->trend_month[k]);
		snprintf(ch->bar_label[k], sizeof(ch->bar_label[k]), "%s", T(c, mk));
	}
	ch->s[0].n = COLL_REPORT_TREND_MONTHS;
}

static void sec_categories(struct ctx *c)
{
	static const char *const cols[] = {"report.col.category", "report.col.rating",
					   "report.col.score", "report.col.why"};
	static const double w[] = {1.2, 1.1, 0.7, 4};
	const struct coll_report_model *m = c->m;
	char buf[TEXT_MAX], key[48], s[16];
	heading(c, "report.section.categories");
	struct coll_block *b = table(c, COLL_REPORT_CATEGORIES, 4, cols, w);
	for (int k = 0; b && k < COLL_REPORT_CATEGORIES; k++) {
		const struct coll_report_category *cat = &m->cat[k];
		snprintf(key, sizeof(key), "category.%s",
			 coll_category_name((enum coll_category)k));
		cell(c, b, (size_t)k, 0, T(c, key));
		snprintf(key, sizeof(key), "report.rating.%s", coll_rating_name(cat->rating));
		cell(c, b, (size_t)k, 1, T(c, key));
		b->cells[(size_t)(k + 1) * b->cols + 1].color = (int)rating_color(cat->rating);
		snprintf(s, sizeof(s), "%d", cat->score);
		cell(c, b, (size_t)k, 2, cat->score >= 0 ? s : "—");
		if (cat->rating == COLL_RATING_GREY)
			cell(c, b, (size_t)k, 3, T(c, "report.why.nodata"));
		else if (!cat->kind[0])
			cell(c, b, (size_t)k, 3, T(c, "report.why.none"));
		else
			cell(c, b, (size_t)k, 3,
			     R(c, buf, sizeof(buf),
			       strcmp(cat->object, cat->host) ? "report.why.finding"
							      : "report.why.finding_host",
			       "title", finding_title(c, cat->kind), "object", cat->object, "host",
			       cat->host, NULL));
	}
}

static const char *incident_text(const struct ctx *c, char *buf, size_t size, const char *state,
				 int64_t id)
{
	char key[64], n[24];
	if (!state[0])
		return T(c, "report.incident.none");
	snprintf(key, sizeof(key), "incident.state.%s", state);
	snprintf(n, sizeof(n), "%lld", (long long)id);
	return R(c, buf, size, "report.incident.state", "id", n, "state", T(c, key), NULL);
}

static void sec_risks(struct ctx *c)
{
	static const char *const cols[] = {"",
					   "report.col.risk",
					   "report.col.host",
					   "report.col.severity",
					   "report.col.incident",
					   "report.col.remediation"};
	static const double w[] = {0.3, 2.2, 1.2, 1.2, 1.3, 3.2};
	const struct coll_report_model *m = c->m;
	char buf[TEXT_MAX], n[16];
	heading(c, "report.section.risks");
	if (m->n_risks == 0) {
		if (m->hosts)
			para(c, T(c, "report.risks.none"));
		else
			nodata(c);
		return;
	}
	struct coll_block *b = table(c, m->n_risks, 6, cols, w);
	for (size_t i = 0; b && i < m->n_risks; i++) {
		const struct coll_report_risk *r = &m->risks[i];
		snprintf(n, sizeof(n), "%zu", i + 1);
		cell(c, b, i, 0, n);
		cell(c, b, i, 1,
		     R(c, buf, sizeof(buf), "report.risk.what", "title", finding_title(c, r->kind),
		       "object", r->object, NULL));
		cell(c, b, i, 2, r->host);
		cell(c, b, i, 3,
		     T(c,
		       r->severity >= 2 ? "report.severity.critical" : "report.severity.warning"));
		b->cells[(i + 1) * b->cols + 3].color =
			(int)(r->severity >= 2 ? COLL_COLOR_RED : COLL_COLOR_YELLOW);
		cell(c, b, i, 4, incident_text(c, buf, sizeof(buf), r->state, r->incident_id));
		cell(c, b, i, 5, coll_i18n_finding(c->lang, r->kind, "remediation"));
	}
}

static void sec_fixed(struct ctx *c)
{
	static const char *const cols[] = {"report.col.problem", "report.col.host",
					   "report.col.before", "report.col.after",
					   "report.col.verified"};
	static const double w[] = {3, 1.3, 0.9, 0.9, 1.3};
	const struct coll_report_model *m = c->m;
	char buf[TEXT_MAX], v[48];
	heading(c, "report.section.fixed");
	if (m->n_fixes == 0) {
		para(c, T(c, "report.fixed.none"));
		return;
	}
	para(c, T(c, "report.fixed.intro"));
	struct coll_block *b = table(c, m->n_fixes, 5, cols, w);
	for (size_t i = 0; b && i < m->n_fixes; i++) {
		const struct coll_report_fix *f = &m->fixes[i];
		cell(c, b, i, 0,
		     R(c, buf, sizeof(buf), "report.risk.what", "title", finding_title(c, f->kind),
		       "object", f->object, NULL));
		cell(c, b, i, 1, f->host);
		cell(c, b, i, 2, num(v, sizeof(v), f->before, 1));
		cell(c, b, i, 3, num(v, sizeof(v), f->after, 1));
		cell(c, b, i, 4, date(c, v, sizeof(v), f->resolved_at));
	}
}

static void sec_sla(struct ctx *c)
{
	static const char *const cols[] = {"report.col.measure", "report.col.month",
					   "report.col.target"};
	static const double w[] = {2.6, 1.4, 2.4};
	const struct coll_report_sla *a = &c->m->sla;
	char buf[TEXT_MAX], v[64], t1[48], t2[48], key[48];
	heading(c, "report.section.sla");
	if (!a->has) {
		para(c, T(c, "report.sla.none"));
		return;
	}
	snprintf(key, sizeof(key), "tier.%s", a->tier);
	para(c,
	     R(c, buf, sizeof(buf), "report.sla.tier", "tier", a->tier[0] ? T(c, key) : "—", NULL));
	struct coll_block *b = table(c, 7, 3, cols, w);
	if (!b)
		return;
	size_t r = 0;
	cell(c, b, r, 0, T(c, "report.sla.opened"));
	snprintf(v, sizeof(v), "%lld", (long long)a->opened);
	cell(c, b, r++, 1, v);
	cell(c, b, r, 0, T(c, "report.sla.response_p50"));
	cell(c, b, r, 1, duration(c, v, sizeof(v), a->p50_s));
	if (a->target_critical_s > 0 && a->target_critical_s == a->target_warning_s)
		cell(c, b, r, 2, duration(c, t1, sizeof(t1), a->target_critical_s));
	else if (a->target_critical_s > 0)
		cell(c, b, r, 2,
		     R(c, buf, sizeof(buf), "report.sla.target_response", "critical",
		       duration(c, t1, sizeof(t1), a->target_critical_s), "warning",
		       duration(c, t2, sizeof(t2), a->target_warning_s), NULL));
	r++;
	cell(c, b, r, 0, T(c, "report.sla.response_p90"));
	cell(c, b, r++, 1, duration(c, v, sizeof(v), a->p90_s));
	cell(c, b, r, 0, T(c, "report.sla.within"));
	cell(c, b, r++, 1, pct(v, sizeof(v), a->within_share));
	cell(c, b, r, 0, T(c, "report.sla.resolution"));
	cell(c, b, r, 1, pct(v, sizeof(v), a->resolution_rate));
	snprintf(t1, sizeof(t1), "%d%%", COLL_REPORT_PROMISE_PCT);
	cell(c, b, r++, 2, R(c, buf, sizeof(buf), "report.sla.at_least", "n", t1, NULL));
	b->cells[r * b->cols + 1].color =
		(int)(!isfinite(a->resolution_rate)                         ? COLL_COLOR_GREY
		      : a->resolution_rate * 100 >= COLL_REPORT_PROMISE_PCT ? COLL_COLOR_GREEN
									    : COLL_COLOR_RED);
	cell(c, b, r, 0, T(c, "report.sla.breaches"));
	snprintf(v, sizeof(v), "%lld", (long long)a->breaches);
	cell(c, b, r++, 1, v);
	cell(c, b, r, 0, T(c, "report.sla.open"));
	snprintf(v, sizeof(v), "%lld", (long long)a->open);
	cell(c, b, r++, 1, v);
	if (isfinite(a->resolution_rate))
		para(c, T(c, a->resolution_rate * 100 >= COLL_REPORT_PROMISE_PCT
				     ? "report.sla.met"
				     : "report.sla.missed"));
}

static void sec_capacity(struct ctx *c)
{
	static const char *const cols[] = {"report.col.host", "report.col.filesystem",
					   "report.col.start", "report.col.end", "report.col.full"};
	static const double w[] = {1.4, 1.4, 1, 1, 1.8};
	const struct coll_report_model *m = c->m;
	char v[64], label[COLL_CHART_LABEL];
	heading(c, "report.section.capacity");
	if (m->n_fs == 0) {
		nodata(c);
		return;
	}
	para(c, T(c, "report.capacity.chart"));
	struct coll_chart *ch = chart(c);
	if (ch) {
		ch->y_min = 0;
		ch->y_max = 100;
		ch->threshold = 90;
		snprintf(ch->unit, sizeof(ch->unit), "%%");
		snprintf(ch->threshold_label, sizeof(ch->threshold_label), "%s",
			 T(c, "report.capacity.line"));
		for (size_t i = 0; i < m->n_fs && i < COLL_CHART_MAX_SERIES; i++) {
			snprintf(label, sizeof(label), "%s %s", m->fs[i].s.host, m->fs[i].s.object);
			series_into(c, ch, &m->fs[i].s, label);
		}
	}
	struct coll_block *b = table(c, m->n_fs, 5, cols, w);
	for (size_t i = 0; b && i < m->n_fs; i++) {
		const struct coll_report_fs *f = &m->fs[i];
		cell(c, b, i, 0, f->s.host);
		cell(c, b, i, 1, f->s.object);
		cell(c, b, i, 2, pct(v, sizeof(v), f->first / 100));
		cell(c, b, i, 3, pct(v, sizeof(v), f->last / 100));
		cell(c, b, i, 4,
		     f->full_at ? date(c, v, sizeof(v), f->full_at)
				: T(c, "report.capacity.no_forecast"));
	}
}

static void sec_database(struct ctx *c)
{
	static const char *const cols[] = {"report.col.index", "report.col.host",
					   "report.col.start", "report.col.end"};
	static const double w[] = {3.4, 1.4, 1, 1};
	static const char *const bcols[] = {"report.col.host", "report.col.database",
					    "report.col.backup_age"};
	static const double bw[] = {1.4, 2, 1.4};
	const struct coll_report_model *m = c->m;
	char buf[TEXT_MAX], v[64], t[48];
	heading(c, "report.section.database");
	if (m->n_indexes == 0 && m->indexes_over < 0 && m->maintenance_debt < 0 &&
	    m->n_backups == 0) {
		nodata(c);
		return;
	}
	if (m->indexes_over >= 0) {
		snprintf(v, sizeof(v), "%lld", (long long)m->indexes_over);
		if (isfinite(m->index_threshold))
			para(c, R(c, buf, sizeof(buf), "report.db.over", "n", v, "t",
				  num(t, sizeof(t), m->index_threshold, 0), NULL));
		else
			para(c, R(c, buf, sizeof(buf), "report.db.over_nothreshold", "n", v, NULL));
	}
	if (m->maintenance_debt > 0) {
		snprintf(v, sizeof(v), "%lld", (long long)m->maintenance_debt);
		para(c, R(c, buf, sizeof(buf), "report.db.debt", "n", v, NULL));
	} else if (m->maintenance_debt == 0) {
		para(c, T(c, "report.db.debt_none"));
	}
	if (m->n_indexes) {
		para(c, T(c, "report.db.chart"));
		struct coll_chart *ch = chart(c);
		if (ch) {
			ch->y_min = 0;
			ch->threshold = m->index_threshold;
			snprintf(ch->unit, sizeof(ch->unit), "%%");
			R(c, ch->threshold_label, sizeof(ch->threshold_label),
			  "report.db.threshold_line", "t", num(t, sizeof(t), m->index_threshold, 0),
			  NULL);
			for (size_t i = 0; i < m->n_indexes && i < 3; i++)
				series_into(c, ch, &m->indexes[i], m->indexes[i].object);
		}
		struct coll_block *b = table(c, m->n_indexes, 4, cols, w);
		for (size_t i = 0; b && i < m->n_indexes; i++) {
			const struct coll_report_series *s = &m->indexes[i];
			cell(c, b, i, 0, s->object);
			cell(c, b, i, 1, s->host);
			cell(c, b, i, 2, pct(v, sizeof(v), s->v[0] / 100));
			cell(c, b, i, 3, pct(v, sizeof(v), s->v[s->n - 1] / 100));
		}
	}
	if (m->n_backups == 0) {
		para(c, T(c, "report.db.backups_none"));
		return;
	}
	struct coll_block *b = table(c, m->n_backups, 3, bcols, bw);
	for (size_t i = 0; b && i < m->n_backups; i++) {
		cell(c, b, i, 0, m->backups[i].host);
		cell(c, b, i, 1, m->backups[i].object);
		cell(c, b, i, 2,
		     R(c, buf, sizeof(buf), "report.db.hours_ago", "n",
		       num(t, sizeof(t), m->backups[i].age_h, 0), NULL));
		if (m->backups[i].severity)
			b->cells[(i + 1) * b->cols + 2].color =
				(int)(m->backups[i].severity >= 2 ? COLL_COLOR_RED
								  : COLL_COLOR_YELLOW);
	}
}

static const char *yes_no(const struct ctx *c, int v)
{
	return T(c, v > 0 ? "report.yes" : v == 0 ? "report.no" : "report.unknown");
}

static void sec_patches(struct ctx *c)
{
	static const char *const cols[] = {"report.col.host", "report.col.security",
					   "report.col.pending_since", "report.col.reboot",
					   "report.col.eol"};
	static const double w[] = {1.5, 1.1, 1.4, 1, 1.4};
	const struct coll_report_model *m = c->m;
	char v[64];
	heading(c, "report.section.patches");
	if (m->n_patches == 0) {
		nodata(c);
		return;
	}
	struct coll_block *b = table(c, m->n_patches, 5, cols, w);
	for (size_t i = 0; b && i < m->n_patches; i++) {
		const struct coll_report_patch *p = &m->patches[i];
		cell(c, b, i, 0, p->host);
		snprintf(v, sizeof(v), "%lld", (long long)p->security);
		cell(c, b, i, 1, p->security >= 0 ? v : T(c, "report.unknown"));
		if (p->security > 0)
			b->cells[(i + 1) * b->cols + 1].color = (int)COLL_COLOR_YELLOW;
		if (p->security > 0 && p->pending_since) {
			char buf[160], days[24];
			snprintf(days, sizeof(days), "%lld",
				 (long long)((m->now - p->pending_since) / DAY));
			cell(c, b, i, 2,
			     R(c, buf, sizeof(buf), "report.patches.since", "date",
			       date(c, v, sizeof(v), p->pending_since), "n", days, NULL));
		} else {
			cell(c, b, i, 2, "—");
		}
		cell(c, b, i, 3, yes_no(c, p->reboot));
		cell(c, b, i, 4,
		     p->eol_at ? date(c, v, sizeof(v), p->eol_at) : T(c, "report.unknown"));
	}
}

static void sec_logs(struct ctx *c)
{
	static const char *const cols[] = {"report.col.signature", "report.col.host",
					   "report.col.source", "report.col.count"};
	static const double w[] = {4, 1.3, 1, 0.8};
	const struct coll_report_model *m = c->m;
	char v[64];
	heading(c, "report.section.logs");
	if (m->errors.n == 0 && m->n_signatures == 0) {
		nodata(c);
		return;
	}
	if (m->errors.n) {
		para(c, T(c, "report.logs.chart"));
		struct coll_chart *ch = chart(c);
		if (ch) {
			ch->y_min = 0;
			series_into(c, ch, &m->errors, "");
		}
	}
	if (m->n_signatures == 0) {
		para(c, T(c, "report.logs.no_signatures"));
		return;
	}
	para(c, T(c, "report.logs.top"));
	struct coll_block *b = table(c, m->n_signatures, 4, cols, w);
	for (size_t i = 0; b && i < m->n_signatures; i++) {
		cell(c, b, i, 0, m->signatures[i].text);
		cell(c, b, i, 1, m->signatures[i].host);
		cell(c, b, i, 2, m->signatures[i].source);
		cell(c, b, i, 3, num(v, sizeof(v), (double)m->signatures[i].count, 0));
	}
}

static void sec_mom(struct ctx *c)
{
	static const char *const cols[] = {"report.col.category", "report.col.previous",
					   "report.col.month", "report.col.change"};
	static const double w[] = {1.5, 1, 1, 1.5};
	const struct coll_report_model *m = c->m;
	char buf[TEXT_MAX], v[48], key[48], n1[24], n2[24];
	heading(c, "report.section.mom");
	struct coll_block *b = table(c, COLL_REPORT_CATEGORIES, 4, cols, w);
	for (int k = 0; b && k < COLL_REPORT_CATEGORIES; k++) {
		const struct coll_report_category *cat = &m->cat[k];
		snprintf(key, sizeof(key), "category.%s",
			 coll_category_name((enum coll_category)k));
		cell(c, b, (size_t)k, 0, T(c, key));
		cell(c, b, (size_t)k, 1, num(v, sizeof(v), cat->prev, 0));
		cell(c, b, (size_t)k, 2, num(v, sizeof(v), cat->cur, 0));
		const char *ch = "report.change.nodata";
		int color = -1;
		if (isfinite(cat->prev) && isfinite(cat->cur)) {
			double dlt = cat->cur - cat->prev;
			ch = dlt >= 5    ? "report.change.improved"
			     : dlt <= -5 ? "report.change.regressed"
					 : "report.change.same";
			color = dlt >= 5 ? COLL_COLOR_GREEN : dlt <= -5 ? COLL_COLOR_RED : -1;
		} else if (isfinite(cat->cur)) {
			ch = "report.change.new";
		}
		cell(c, b, (size_t)k, 3, T(c, ch));
		b->cells[(size_t)(k + 1) * b->cols + 3].color = color;
	}
	snprintf(n1, sizeof(n1), "%lld", (long long)m->incidents_new);
	snprintf(n2, sizeof(n2), "%lld", (long long)m->incidents_resolved);
	para(c, R(c, buf, sizeof(buf), "report.mom.incidents", "new", n1, "resolved", n2, NULL));
}

/* Bullets for next month, from the figures above (docs/report.md lists the rules). */
static void sec_recommendations(struct ctx *c)
{
	const struct coll_report_model *m = c->m;
	char items[8][TEXT_MAX], v[64], d[64];
	size_t n = 0;
	heading(c, "report.section.recommendations");
	for (size_t i = 0; i < m->n_risks && n < 2; i++)
		if (m->risks[i].severity >= 2)
			R(c, items[n++], TEXT_MAX,
			  strcmp(m->risks[i].object, m->risks[i].host) ? "report.rec.critical"
								       : "report.rec.critical_host",
			  "title", finding_title(c, m->risks[i].kind), "object", m->risks[i].object,
			  "host", m->risks[i].host, "remediation",
			  coll_i18n_finding(c->lang, m->risks[i].kind, "remediation"), NULL);
	int64_t work = (m->indexes_over > 0 ? m->indexes_over : 0) +
		       (m->maintenance_debt > 0 ? m->maintenance_debt : 0);
	if (work > 0) {
		/* month-end closing of next month: the window a few days before it */
		int64_t next_end = coll_report_month_start(NULL, m->year, m->month + 2) - 4 * DAY;
		snprintf(v, sizeof(v), "%lld", (long long)work);
		R(c, items[n++], TEXT_MAX, "report.rec.window", "n", v, "date",
		  date(c, d, sizeof(d), next_end - m->utc_offset), NULL);
	}
	for (size_t i = 0; i < m->n_patches && n < 5; i++)
		if (m->patches[i].security > 0) {
			snprintf(v, sizeof(v), "%lld", (long long)m->patches[i].security);
			R(c, items[n++], TEXT_MAX, "report.rec.patches", "n", v, "host",
			  m->patches[i].host, "reboot",
			  m->patches[i].reboot > 0 ? T(c, "report.rec.patches_reboot") : "", NULL);
		}
	for (size_t i = 0; i < m->n_fs && n < 6; i++)
		if (m->fs[i].full_at && m->fs[i].full_at < m->now + 90 * DAY)
			R(c, items[n++], TEXT_MAX, "report.rec.disk", "mount", m->fs[i].s.object,
			  "host", m->fs[i].s.host, "date", date(c, d, sizeof(d), m->fs[i].full_at),
			  NULL);
	if (m->sla.has && isfinite(m->sla.resolution_rate) &&
	    m->sla.resolution_rate * 100 < COLL_REPORT_PROMISE_PCT && n < 7)
		R(c, items[n++], TEXT_MAX, "report.rec.sla", "rate",
		  pct(v, sizeof(v), m->sla.resolution_rate), NULL);
	for (size_t i = 0; i < m->n_patches && n < 8; i++)
		if (m->patches[i].eol_at && m->patches[i].eol_at < m->now + 365 * DAY)
			R(c, items[n++], TEXT_MAX, "report.rec.eol", "host", m->patches[i].host,
			  "date", date(c, d, sizeof(d), m->patches[i].eol_at), NULL);
	if (n == 0)
		snprintf(items[n++], TEXT_MAX, "%s", T(c, "report.rec.none"));
	struct coll_block *b = block(c, COLL_BLOCK_BULLETS);
	if (!b)
		return;
	b->cols = 1;
	b->rows = n;
	b->cells = calloc(n, sizeof(*b->cells));
	if (!b->cells) {
		c->err = -ENOMEM;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		b->cells[i].text = dup(c, items[i]);
		b->cells[i].color = -1;
	}
}

int coll_doc_build(const struct coll_report_model *m, const char *lang, struct coll_doc *ret)
{
	struct coll_doc *d = ret;
	struct ctx c = {d, m, coll_i18n_lang(lang), 0};
	char buf[TEXT_MAX], a[64], b[64], z[96];
	memset(d, 0, sizeof(*d));
	snprintf(d->lang, sizeof(d->lang), "%s", c.lang);
	d->title = dup(&c, T(&c, "report.title"));
	d->customer = dup(&c, m->customer);
	d->period = dup(&c, month_name(&c, buf, sizeof(buf), m->year, m->month));
	int32_t off = m->utc_offset;
	snprintf(z, sizeof(z), "%s (UTC%c%02d:%02d)", m->time_zone, off < 0 ? '-' : '+',
		 abs(off) / 3600, abs(off) % 3600 / 60);
	int64_t local = m->now + off;
	snprintf(b, sizeof(b), "%02d:%02d", (int)((local % DAY + DAY) % DAY / 3600),
		 (int)((local % DAY + DAY) % DAY % 3600 / 60));
	d->generated = dup(&c, R(&c, buf, sizeof(buf), "report.generated", "date",
				 date(&c, a, sizeof(a), m->now), "time", b, "zone", z, NULL));
	d->page_fmt = dup(&c, T(&c, "report.page"));
	sec_overall(&c);
	sec_categories(&c);
	sec_risks(&c);
	sec_fixed(&c);
	sec_sla(&c);
	sec_capacity(&c);
	sec_database(&c);
	sec_patches(&c);
	sec_logs(&c);
	sec_mom(&c);
	sec_recommendations(&c);
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
