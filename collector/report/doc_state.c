/* The report's state sections in words (doc.h): capacity, database,
 * patches, logs, month over month and the recommendations for next month.
 * Formatting and blocks: doc.c (doc_int.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/analysis/score.h"
#include "collector/report/doc_int.h"
#include "collector/web/i18n.h"

static void sec_capacity(struct coll_dx *c)
{
	static const char *const cols[] = {"report.col.host", "report.col.filesystem",
					   "report.col.start", "report.col.end", "report.col.full"};
	static const double w[] = {1.4, 1.4, 1, 1, 1.8};
	const struct coll_report_model *m = c->m;
	char v[64], label[COLL_CHART_LABEL];
	if (!coll_dx_section(c, "report.section.capacity", m->n_fs > 0))
		return;
	coll_dx_para(c, coll_dx_text(c, "report.capacity.chart"));
	struct coll_chart *ch = coll_dx_chart(c);
	if (ch) {
		ch->y_min = 0;
		ch->y_max = 100;
		ch->threshold = 90;
		snprintf(ch->unit, sizeof(ch->unit), "%%");
		snprintf(ch->threshold_label, sizeof(ch->threshold_label), "%s",
			 coll_dx_text(c, "report.capacity.line"));
		for (size_t i = 0; i < m->n_fs && i < COLL_CHART_MAX_SERIES; i++) {
			snprintf(label, sizeof(label), "%s %s", m->fs[i].s.host, m->fs[i].s.object);
			coll_dx_series(c, ch, &m->fs[i].s, label);
		}
	}
	struct coll_block *b = coll_dx_table(c, m->n_fs, 5, cols, w);
	for (size_t i = 0; b && i < m->n_fs; i++) {
		const struct coll_report_fs *f = &m->fs[i];
		coll_dx_cell(c, b, i, 0, f->s.host);
		coll_dx_cell(c, b, i, 1, f->s.object);
		coll_dx_cell(c, b, i, 2, coll_dx_pct(v, sizeof(v), f->first / 100));
		coll_dx_cell(c, b, i, 3, coll_dx_pct(v, sizeof(v), f->last / 100));
		coll_dx_cell(c, b, i, 4,
			     f->full_at ? coll_dx_date(c, v, sizeof(v), f->full_at)
					: coll_dx_text(c, "report.capacity.no_forecast"));
	}
}

static void sec_database(struct coll_dx *c)
{
	static const char *const cols[] = {"report.col.index", "report.col.host",
					   "report.col.start", "report.col.end"};
	static const double w[] = {3.4, 1.4, 1, 1};
	static const char *const bcols[] = {"report.col.host", "report.col.database",
					    "report.col.backup_age"};
	static const double bw[] = {1.4, 2, 1.4};
	const struct coll_report_model *m = c->m;
	char buf[TEXT_MAX], v[64], t[48];
	if (!coll_dx_section(c, "report.section.database",
			     m->n_indexes > 0 || m->indexes_over >= 0 || m->maintenance_debt >= 0 ||
				     m->n_backups > 0))
		return;
	if (m->indexes_over >= 0) {
		snprintf(v, sizeof(v), "%lld", (long long)m->indexes_over);
		if (isfinite(m->index_threshold))
			coll_dx_para(c,
				     COLL_DX_R(c, buf, sizeof(buf), "report.db.over", "n", v, "t",
					       coll_dx_num(t, sizeof(t), m->index_threshold, 0),
					       NULL));
		else
			coll_dx_para(c, COLL_DX_R(c, buf, sizeof(buf), "report.db.over_nothreshold",
						  "n", v, NULL));
	}
	if (m->maintenance_debt > 0) {
		snprintf(v, sizeof(v), "%lld", (long long)m->maintenance_debt);
		coll_dx_para(c, COLL_DX_R(c, buf, sizeof(buf), "report.db.debt", "n", v, NULL));
	} else if (m->maintenance_debt == 0) {
		coll_dx_para(c, coll_dx_text(c, "report.db.debt_none"));
	}
	if (m->n_indexes) {
		coll_dx_para(c, coll_dx_text(c, "report.db.chart"));
		struct coll_chart *ch = coll_dx_chart(c);
		if (ch) {
			ch->y_min = 0;
			ch->threshold = m->index_threshold;
			snprintf(ch->unit, sizeof(ch->unit), "%%");
			COLL_DX_R(c, ch->threshold_label, sizeof(ch->threshold_label),
				  "report.db.threshold_line", "t",
				  coll_dx_num(t, sizeof(t), m->index_threshold, 0), NULL);
			for (size_t i = 0; i < m->n_indexes && i < 3; i++)
				coll_dx_series(c, ch, &m->indexes[i], m->indexes[i].object);
		}
		struct coll_block *b = coll_dx_table(c, m->n_indexes, 4, cols, w);
		for (size_t i = 0; b && i < m->n_indexes; i++) {
			const struct coll_report_series *s = &m->indexes[i];
			coll_dx_cell(c, b, i, 0, s->object);
			coll_dx_cell(c, b, i, 1, s->host);
			coll_dx_cell(c, b, i, 2, coll_dx_pct(v, sizeof(v), s->v[0] / 100));
			coll_dx_cell(c, b, i, 3, coll_dx_pct(v, sizeof(v), s->v[s->n - 1] / 100));
		}
	}
	if (m->n_backups == 0) {
		coll_dx_para(c, coll_dx_text(c, "report.db.backups_none"));
		return;
	}
	struct coll_block *b = coll_dx_table(c, m->n_backups, 3, bcols, bw);
	for (size_t i = 0; b && i < m->n_backups; i++) {
		coll_dx_cell(c, b, i, 0, m->backups[i].host);
		coll_dx_cell(c, b, i, 1, m->backups[i].object);
		coll_dx_cell(c, b, i, 2,
			     COLL_DX_R(c, buf, sizeof(buf), "report.db.hours_ago", "n",
				       coll_dx_num(t, sizeof(t), m->backups[i].age_h, 0), NULL));
		if (m->backups[i].severity)
			b->cells[(i + 1) * b->cols + 2].color =
				(int)(m->backups[i].severity >= 2 ? COLL_COLOR_RED
								  : COLL_COLOR_YELLOW);
	}
}

static const char *yes_no(const struct coll_dx *c, int v)
{
	return coll_dx_text(c, v > 0 ? "report.yes" : v == 0 ? "report.no" : "report.unknown");
}

static void sec_patches(struct coll_dx *c)
{
	static const char *const cols[] = {"report.col.host", "report.col.security",
					   "report.col.pending_since", "report.col.reboot",
					   "report.col.eol"};
	static const double w[] = {1.5, 1.1, 1.4, 1, 1.4};
	const struct coll_report_model *m = c->m;
	char v[64];
	if (!coll_dx_section(c, "report.section.patches", m->n_patches > 0))
		return;
	struct coll_block *b = coll_dx_table(c, m->n_patches, 5, cols, w);
	for (size_t i = 0; b && i < m->n_patches; i++) {
		const struct coll_report_patch *p = &m->patches[i];
		coll_dx_cell(c, b, i, 0, p->host);
		snprintf(v, sizeof(v), "%lld", (long long)p->security);
		coll_dx_cell(c, b, i, 1, p->security >= 0 ? v : coll_dx_text(c, "report.unknown"));
		if (p->security > 0)
			b->cells[(i + 1) * b->cols + 1].color = (int)COLL_COLOR_YELLOW;
		if (p->security > 0 && p->pending_since) {
			char buf[160], days[24];
			snprintf(days, sizeof(days), "%lld",
				 (long long)((m->now - p->pending_since) / DAY));
			coll_dx_cell(c, b, i, 2,
				     COLL_DX_R(c, buf, sizeof(buf), "report.patches.since", "date",
					       coll_dx_date(c, v, sizeof(v), p->pending_since), "n",
					       days, NULL));
		} else {
			coll_dx_cell(c, b, i, 2, "—");
		}
		coll_dx_cell(c, b, i, 3, yes_no(c, p->reboot));
		coll_dx_cell(c, b, i, 4,
			     p->eol_at ? coll_dx_date(c, v, sizeof(v), p->eol_at)
				       : coll_dx_text(c, "report.unknown"));
	}
}

static void sec_logs(struct coll_dx *c)
{
	static const char *const cols[] = {"report.col.signature", "report.col.host",
					   "report.col.source", "report.col.count"};
	static const double w[] = {4, 1.3, 1, 0.8};
	const struct coll_report_model *m = c->m;
	char v[64];
	if (!coll_dx_section(c, "report.section.logs", m->errors.n > 0 || m->n_signatures > 0))
		return;
	if (m->errors.n) {
		coll_dx_para(c, coll_dx_text(c, "report.logs.chart"));
		struct coll_chart *ch = coll_dx_chart(c);
		if (ch) {
			ch->y_min = 0;
			coll_dx_series(c, ch, &m->errors, "");
		}
	}
	if (m->n_signatures == 0) {
		coll_dx_para(c, coll_dx_text(c, "report.logs.no_signatures"));
		return;
	}
	coll_dx_para(c, coll_dx_text(c, "report.logs.top"));
	struct coll_block *b = coll_dx_table(c, m->n_signatures, 4, cols, w);
	for (size_t i = 0; b && i < m->n_signatures; i++) {
		coll_dx_cell(c, b, i, 0, m->signatures[i].text);
		coll_dx_cell(c, b, i, 1, m->signatures[i].host);
		coll_dx_cell(c, b, i, 2, m->signatures[i].source);
		coll_dx_cell(c, b, i, 3,
			     coll_dx_num(v, sizeof(v), (double)m->signatures[i].count, 0));
	}
}

static void sec_mom(struct coll_dx *c)
{
	static const char *const cols[] = {"report.col.category", "report.col.previous",
					   "report.col.month", "report.col.change"};
	static const double w[] = {1.5, 1, 1, 1.5};
	const struct coll_report_model *m = c->m;
	char buf[TEXT_MAX], v[48], key[48], n1[24], n2[24];
	coll_dx_heading(c, "report.section.mom");
	struct coll_block *b = coll_dx_table(c, COLL_REPORT_CATEGORIES, 4, cols, w);
	for (int k = 0; b && k < COLL_REPORT_CATEGORIES; k++) {
		const struct coll_report_category *cat = &m->cat[k];
		snprintf(key, sizeof(key), "category.%s",
			 coll_category_name((enum coll_category)k));
		coll_dx_cell(c, b, (size_t)k, 0, coll_dx_text(c, key));
		coll_dx_cell(c, b, (size_t)k, 1, coll_dx_num(v, sizeof(v), cat->prev, 0));
		coll_dx_cell(c, b, (size_t)k, 2, coll_dx_num(v, sizeof(v), cat->cur, 0));
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
		coll_dx_cell(c, b, (size_t)k, 3, coll_dx_text(c, ch));
		b->cells[(size_t)(k + 1) * b->cols + 3].color = color;
	}
	snprintf(n1, sizeof(n1), "%lld", (long long)m->incidents_new);
	snprintf(n2, sizeof(n2), "%lld", (long long)m->incidents_resolved);
	coll_dx_para(c, COLL_DX_R(c, buf, sizeof(buf), "report.mom.incidents", "new", n1,
				  "resolved", n2, NULL));
}

/* Bullets for next month, from the figures above (docs/report.md lists the rules). */
static void sec_recommendations(struct coll_dx *c)
{
	const struct coll_report_model *m = c->m;
	char items[8][TEXT_MAX], v[64], d[64];
	size_t n = 0;
	coll_dx_heading(c, "report.section.recommendations");
	for (size_t i = 0; i < m->n_risks && n < 2; i++)
		if (m->risks[i].severity >= 2)
			COLL_DX_R(c, items[n++], TEXT_MAX,
				  strcmp(m->risks[i].object, m->risks[i].host)
					  ? "report.rec.critical"
					  : "report.rec.critical_host",
				  "title", coll_dx_title(c, m->risks[i].kind), "object",
				  m->risks[i].object, "host", m->risks[i].host, "remediation",
				  coll_i18n_finding(c->lang, m->risks[i].kind, "remediation"),
				  NULL);
	int64_t work = (m->indexes_over > 0 ? m->indexes_over : 0) +
		       (m->maintenance_debt > 0 ? m->maintenance_debt : 0);
	if (work > 0) {
		/* month-end closing of next month: the window a few days before it */
		int64_t next_end = coll_report_month_start(NULL, m->year, m->month + 2) - 4 * DAY;
		snprintf(v, sizeof(v), "%lld", (long long)work);
		COLL_DX_R(c, items[n++], TEXT_MAX, "report.rec.window", "n", v, "date",
			  coll_dx_date(c, d, sizeof(d), next_end - m->utc_offset), NULL);
	}
	for (size_t i = 0; i < m->n_patches && n < 5; i++)
		if (m->patches[i].security > 0) {
			snprintf(v, sizeof(v), "%lld", (long long)m->patches[i].security);
			COLL_DX_R(c, items[n++], TEXT_MAX, "report.rec.patches", "n", v, "host",
				  m->patches[i].host, "reboot",
				  m->patches[i].reboot > 0
					  ? coll_dx_text(c, "report.rec.patches_reboot")
					  : "",
				  NULL);
		}
	for (size_t i = 0; i < m->n_fs && n < 6; i++)
		if (m->fs[i].full_at && m->fs[i].full_at < m->now + 90 * DAY)
			COLL_DX_R(c, items[n++], TEXT_MAX, "report.rec.disk", "mount",
				  m->fs[i].s.object, "host", m->fs[i].s.host, "date",
				  coll_dx_date(c, d, sizeof(d), m->fs[i].full_at), NULL);
	if (m->sla.has && isfinite(m->sla.resolution_rate) &&
	    m->sla.resolution_rate * 100 < COLL_REPORT_PROMISE_PCT && n < 7)
		COLL_DX_R(c, items[n++], TEXT_MAX, "report.rec.sla", "rate",
			  coll_dx_pct(v, sizeof(v), m->sla.resolution_rate), NULL);
	for (size_t i = 0; i < m->n_patches && n < 8; i++)
		if (m->patches[i].eol_at && m->patches[i].eol_at < m->now + 365 * DAY)
			COLL_DX_R(c, items[n++], TEXT_MAX, "report.rec.eol", "host",
				  m->patches[i].host, "date",
				  coll_dx_date(c, d, sizeof(d), m->patches[i].eol_at), NULL);
	if (n == 0)
		snprintf(items[n++], TEXT_MAX, "%s", coll_dx_text(c, "report.rec.none"));
	struct coll_block *b = coll_dx_block(c, COLL_BLOCK_BULLETS);
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
		b->cells[i].text = coll_dx_dup(c, items[i]);
		b->cells[i].color = -1;
	}
}

void coll_dx_state_sections(struct coll_dx *c)
{
	sec_capacity(c);
	sec_database(c);
	sec_patches(c);
	sec_logs(c);
	sec_mom(c);
	sec_recommendations(c);
}
