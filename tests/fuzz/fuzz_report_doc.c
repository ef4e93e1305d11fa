/* libFuzzer target: the monthly report's document and HTML (collector/report/
 * doc.c, chart.c, render_html.c) over what agents and users name: customer,
 * host, object and finding kind names, log signatures, and any figures.
 * Input: 16 bytes of figures, then NUL-separated strings copied into a
 * model's fixed-size fields (truncated like the store's copies).
 * Checked: both languages build; every '<' of the HTML opens one of the
 * renderer's own tags (outside text is always escaped); every string stays
 * inside its buffer (ASan). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/report/doc.h"
#include "collector/report/model.h"
#include "collector/report/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const tags[] = {
	"!DOCTYPE", "html",  "head",   "meta", "title", "style",  "body", "header", "h1",
	"h2",       "p",     "strong", "main", "div",   "b",      "span", "table",  "colgroup",
	"col",      "thead", "tbody",  "tr",   "th",    "td",     "svg",  "line",   "polyline",
	"circle",   "rect",  "text",   "ul",   "li",    "footer",
};

static void check_tags(const char *h)
{
	for (const char *p = strchr(h, '<'); p; p = strchr(p + 1, '<')) {
		const char *t = p[1] == '/' ? p + 2 : p + 1;
		size_t n = strspn(
			t, "!ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
		size_t k = 0;
		for (; k < sizeof(tags) / sizeof(tags[0]); k++)
			if (strlen(tags[k]) == n && strncmp(tags[k], t, n) == 0)
				break;
		if (k == sizeof(tags) / sizeof(tags[0]))
			abort();
	}
}

/* The next NUL-terminated piece of the input into dst (size bytes). */
static void take(const uint8_t **p, const uint8_t *end, char *dst, size_t size)
{
	const uint8_t *z = memchr(*p, 0, (size_t)(end - *p));
	size_t n = z ? (size_t)(z - *p) : (size_t)(end - *p);
	snprintf(dst, size, "%.*s", (int)n, (const char *)*p);
	*p = z ? z + 1 : end;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 16)
		return 0;
	struct coll_report_model *m = calloc(1, sizeof(*m));
	if (!m)
		return 0;
	const uint8_t *p = data + 16, *end = data + size;
	m->year = 2000 + data[0] % 100;
	m->month = 1 + data[1] % 12;
	m->from = 946684800 + (int64_t)data[2] * 86400 * 30;
	m->to = m->from + 30 * 86400;
	m->now = m->to + data[3];
	m->utc_offset = (data[4] % 27 - 13) * 3600;
	m->score = data[5] % 2 ? data[5] % 101 : -1;
	m->hosts = data[6] % 4;
	snprintf(m->band, sizeof(m->band), "%s", data[7] % 2 ? "at_risk" : "unknown");
	take(&p, end, m->customer, sizeof(m->customer));
	take(&p, end, m->time_zone, sizeof(m->time_zone));
	for (int k = 0; k < COLL_REPORT_TREND_MONTHS; k++) {
		m->trend[k] = data[8 + k] == 255 ? NAN : data[8 + k];
		m->trend_month[k] = 1 + (k + data[1]) % 12;
	}
	for (int c = 0; c < COLL_REPORT_CATEGORIES; c++) {
		m->cat[c].rating = (enum coll_rating)(data[14] >> c & 3);
		m->cat[c].score = data[15] % 102 - 1;
		m->cat[c].prev = c % 2 ? NAN : data[14];
		m->cat[c].cur = data[15];
		take(&p, end, m->cat[c].kind, sizeof(m->cat[c].kind));
		take(&p, end, m->cat[c].object, sizeof(m->cat[c].object));
		take(&p, end, m->cat[c].host, sizeof(m->cat[c].host));
	}
	m->n_risks = data[9] % (COLL_REPORT_MAX_RISKS + 1);
	for (size_t i = 0; i < m->n_risks; i++) {
		struct coll_report_risk *r = &m->risks[i];
		take(&p, end, r->host, sizeof(r->host));
		take(&p, end, r->kind, sizeof(r->kind));
		take(&p, end, r->object, sizeof(r->object));
		take(&p, end, r->state, sizeof(r->state));
		r->severity = (int)(i % 3);
		r->incident_id = (int64_t)i;
	}
	m->n_fs = data[10] % 3;
	for (size_t i = 0; i < m->n_fs; i++) {
		struct coll_report_fs *f = &m->fs[i];
		take(&p, end, f->s.host, sizeof(f->s.host));
		take(&p, end, f->s.object, sizeof(f->s.object));
		f->s.n = 1 + data[11] % COLL_REPORT_MAX_POINTS;
		for (size_t k = 0; k < f->s.n; k++) {
			f->s.t[k] = m->from + (int64_t)k * 43200;
			f->s.v[k] = (double)((data[12] + k) % 120);
		}
		f->first = f->s.v[0];
		f->last = f->s.v[f->s.n - 1];
		f->full_at = data[13] % 2 ? m->now + data[13] * 86400 : 0;
	}
	m->n_signatures = data[12] % 3;
	for (size_t i = 0; i < m->n_signatures; i++) {
		take(&p, end, m->signatures[i].text, sizeof(m->signatures[i].text));
		take(&p, end, m->signatures[i].host, sizeof(m->signatures[i].host));
		m->signatures[i].count = data[13] * 1000003LL;
	}
	m->indexes_over = data[13] % 3 - 1;
	m->maintenance_debt = data[14] % 3 - 1;
	m->index_threshold = data[15] % 2 ? NAN : 30;
	m->sla.has = data[7] % 3 == 0;
	m->sla.opened = data[8];
	m->sla.resolution_rate = data[9] / 255.0;
	m->sla.within_share = NAN;
	m->sla.p50_s = data[10] * 60 - 1;
	m->sla.p90_s = data[11] * 600;
	take(&p, end, m->sla.tier, sizeof(m->sla.tier));

	for (int l = 0; l < 2; l++) {
		struct coll_doc d;
		if (coll_doc_build(m, l ? "zh-CN" : "en", &d) < 0)
			continue;
		unsigned char *html = NULL;
		size_t len = 0;
		char err[256];
		if (coll_render_html(&d, &html, &len, err, sizeof(err)) == 0) {
			if (strlen((char *)html) > len)
				abort();
			check_tags((char *)html);
			free(html);
		}
		coll_doc_free(&d);
	}
	free(m);
	return 0;
}
