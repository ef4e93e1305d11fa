/* The monthly report's delivery (deliver.h). Order per (customer, month):
 * claim, render, store, mail, record. The claim comes first, so two
 * collectors never both render or mail a month; the mail goes before the
 * run is marked sent, so a crash between them (milliseconds) sends it again
 * once the lease runs out, with the same Message-ID (docs/decisions.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collector/report/deliver.h"
#include "collector/report/report.h"
#include "collector/settings.h"
#include "collector/web/i18n.h"
#include "erpulse/util.h"

void coll_report_delivery_init(const struct coll_settings *cfg, struct coll_report_delivery *d)
{
	char host[64] = "";
	memset(d, 0, sizeof(*d));
	d->enabled = cfg->report_enabled;
	d->day = (int)cfg->report_day;
	d->hour = (int)cfg->report_hour;
	d->smtp_url = cfg->report_smtp_url ? cfg->report_smtp_url : cfg->smtp_url;
	d->mail_from = cfg->report_mail_from ? cfg->report_mail_from : cfg->mail_from;
	d->dashboard_url = cfg->dashboard_url;
	d->send = coll_settings_send_opts(cfg);
	d->send.timeout_ms *= 6; /* a PDF is larger than a notice */
	d->lease_s = 900;
	d->retry_s = cfg->report_retry_s;
	d->max_attempts = cfg->report_max_attempts;
	d->keep_months = cfg->report_keep_months;
	d->incidents = &cfg->service.ctx;
	gethostname(host, sizeof(host) - 1);
	snprintf(d->worker, sizeof(d->worker), "%s:%ld", host, (long)getpid());
}

/* contacts and the account manager, comma-separated ("" when nobody). */
static void recipients(const struct coll_report_settings *st, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s%s", st->contacts,
		 st->contacts[0] && st->account_manager[0] ? ", " : "", st->account_manager);
}

static int render(const struct coll_report_delivery *d, struct coll_store *s,
		  const struct coll_report_target *t, struct coll_month m, int64_t now,
		  enum coll_report_format f, unsigned char **ret, size_t *ret_len, char *err,
		  size_t errlen)
{
	struct coll_report_request rq = {
		.customer = t->id,
		.year = m.year,
		.month = m.month,
		.lang = t->settings.language,
		.time_zone = t->settings.time_zone,
		.now = now,
		.incidents = d->incidents,
	};
	char why[512] = "";
	if (coll_report_render(s, &rq, f, ret, ret_len, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "rendering the %s: %.400s",
			 f == COLL_REPORT_PDF ? "PDF" : "HTML", why);
		return -1;
	}
	return 0;
}

/* The mail of one report into *ret (malloc'd). 0 or -errno. */
static int compose(const struct coll_report_delivery *d, const struct coll_report_target *t,
		   struct coll_month m, int64_t now, const char *to, const unsigned char *pdf,
		   size_t pdf_len, const unsigned char *html, size_t html_len, char **ret)
{
	const char *lang = t->settings.language;
	char month[8], subject[512], text[2048], portal[1024] = "", file[512], mid[256];
	coll_month_format(m, month, sizeof(month));
	const char *vars[] = {"customer", t->name,  "month",
			      month,      "portal", d->dashboard_url ? d->dashboard_url : "",
			      NULL};
	coll_i18n_render(lang, "delivery.mail.subject", vars, subject, sizeof(subject));
	coll_i18n_render(lang, "delivery.mail.text", vars, text, sizeof(text));
	if (d->dashboard_url) {
		coll_i18n_render(lang, "delivery.mail.portal", vars, portal, sizeof(portal));
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "\n%s\n", portal);
	}
	if (coll_report_filename(t->name, m.year, m.month, lang, COLL_REPORT_PDF, file,
				 sizeof(file)) < 0)
		snprintf(file, sizeof(file), "erpulse-report-%s.pdf", month);
	const char *at = strrchr(d->mail_from, '@');
	snprintf(mid, sizeof(mid), "report.%s.%s.%s@%.*s", t->id, month, lang,
		 at && at[1] ? (int)strcspn(at + 1, ">") : (int)strlen("erpulse.invalid"),
		 at && at[1] ? at + 1 : "erpulse.invalid");
	struct coll_report_mail mail = {
		.from = d->mail_from,
		.to = to,
		.subject = subject,
		.text = text,
		.html = html,
		.html_len = html_len,
		.pdf = pdf,
		.pdf_len = pdf_len,
		.pdf_filename = file,
		.message_id = mid,
		.at = now,
	};
	return coll_report_mail_render(&mail, ret);
}

int coll_report_deliver(const struct coll_report_delivery *d, struct coll_store *s,
			const struct coll_report_target *t, struct coll_month m, int64_t now,
			enum coll_report_outcome *ret, char *err, size_t errlen)
{
	char month[8], to[COLL_REPORT_CONTACTS_MAX + 300], why[512] = "";
	unsigned char *pdf = NULL, *html = NULL;
	size_t pdf_len = 0, html_len = 0;
	char *message = NULL;
	bool dead = false;
	coll_month_format(m, month, sizeof(month));
	*ret = COLL_REPORT_NOT_MINE;
	int attempt = coll_store_report_claim(s, t->id, month, d->worker, now, d->lease_s);
	if (attempt <= 0) {
		if (attempt < 0)
			snprintf(err, errlen, "%.100s %s: claim: %.300s", t->name, month, s->err);
		return attempt;
	}
	int r = 0;
	if (render(d, s, t, m, now, COLL_REPORT_PDF, &pdf, &pdf_len, why, sizeof(why)) < 0 ||
	    render(d, s, t, m, now, COLL_REPORT_HTML, &html, &html_len, why, sizeof(why)) < 0)
		goto failed;
	r = coll_store_report_put(s, t->id, month, t->settings.language, "pdf", pdf, pdf_len, now);
	if (r == 0)
		r = coll_store_report_put(s, t->id, month, t->settings.language, "html", html,
					  html_len, now);
	if (r < 0) {
		snprintf(err, errlen, "%.100s %s: storing: %.300s", t->name, month, s->err);
		goto out; /* the lease runs out; the next pass tries again */
	}
	recipients(&t->settings, to, sizeof(to));
	if (!to[0]) {
		r = coll_store_report_sent(s, t->id, month, d->worker, now, "");
		*ret = COLL_REPORT_STORED;
		goto out;
	}
	if (!d->smtp_url || !d->mail_from) {
		snprintf(why, sizeof(why),
			 "no SMTP server: set [report] or [alerts] smtp_url and "
			 "mail_from");
		goto failed;
	}
	r = compose(d, t, m, now, to, pdf, pdf_len, html, html_len, &message);
	if (r < 0) {
		snprintf(why, sizeof(why), "composing the mail: %s", strerror(-r));
		r = 0;
		goto failed;
	}
	struct coll_send_result res;
	coll_mail_send(d->smtp_url, d->mail_from, to, message, &d->send, &res);
	if (res.outcome == COLL_SEND_OK) {
		r = coll_store_report_sent(s, t->id, month, d->worker, now, to);
		*ret = COLL_REPORT_SENT;
		goto out;
	}
	snprintf(why, sizeof(why), "mail to %.200s: %s", to, res.error);
	dead = res.outcome == COLL_SEND_PERMANENT;
failed:
	dead = dead || attempt >= d->max_attempts;
	snprintf(err, errlen, "%.100s %s: %.400s%s", t->name, month, why,
		 dead ? " (given up)" : "");
	*ret = COLL_REPORT_FAILED;
	r = coll_store_report_failed(s, t->id, month, d->worker, now + d->retry_s, dead, why);
out:
	if (r < 0 && *ret != COLL_REPORT_FAILED)
		snprintf(err, errlen, "%.100s %s: %.300s", t->name, month, s->err);
	free(pdf);
	free(html);
	free(message);
	return r;
}

/* A few time zones, loaded once per pass (customers mostly share one). */
struct tz_cache {
	struct coll_tz tz[16];
	size_t n;
};

static const struct coll_tz *tz_get(struct tz_cache *c, const char *name, const char *zoneinfo)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->tz[i].name, name) == 0)
			return &c->tz[i];
	struct coll_tz tz;
	char err[256];
	if (coll_tz_load(name, zoneinfo, &tz, err, sizeof(err)) < 0)
		return NULL;
	if (c->n == EP_ARRAY_SIZE(c->tz)) {
		coll_tz_free(&c->tz[0]);
		memmove(&c->tz[0], &c->tz[1], (c->n - 1) * sizeof(c->tz[0]));
		c->n--;
	}
	c->tz[c->n] = tz;
	return &c->tz[c->n++];
}

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int cmp_ms(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int coll_report_tick(const struct coll_report_delivery *d, struct coll_store *s, int64_t now,
		     struct coll_report_tick_stats *ret, char *err, size_t errlen)
{
	struct coll_report_target *v = NULL;
	double *ms = NULL;
	size_t n_ms = 0;
	struct tz_cache cache = {.n = 0};
	size_t n = 0;
	memset(ret, 0, sizeof(*ret));
	if (!d->enabled)
		return 0;
	int r = 0;
	if (d->keep_months > 0) {
		/* the first month kept, in UTC (a day either way does not matter) */
		struct coll_month m;
		int y, mo, dd;
		char month[8];
		int64_t deleted;
		coll_date_civil((int32_t)(now / 86400), &y, &mo, &dd);
		m = (struct coll_month){y, mo};
		for (int64_t k = 0; k < d->keep_months && m.year > 2000; k++)
			m = coll_month_prev(m);
		coll_month_format(m, month, sizeof(month));
		r = coll_store_report_expire(s, month, &deleted);
	}
	if (r == 0)
		r = coll_store_report_targets(s, &v, &n);
	if (r < 0) {
		snprintf(err, errlen, "report customers: %.400s", s->err);
		return r;
	}
	ret->customers = n;
	ms = calloc(n ? n : 1, sizeof(*ms));
	if (!ms) {
		free(v);
		return -ENOMEM;
	}
	double start = mono_ms();
	for (size_t i = 0; i < n && r == 0; i++) {
		if (d->budget_ms > 0 && mono_ms() - start > (double)d->budget_ms) {
			ret->more = true; /* the rest in the next pass: the claims skip the done */
			break;
		}
		const struct coll_tz *tz = tz_get(&cache, v[i].settings.time_zone, d->zoneinfo);
		if (!tz) /* checked when set; a zone removed since: UTC */
			tz = tz_get(&cache, "UTC", d->zoneinfo);
		struct coll_month m;
		int64_t at;
		if (!tz || !coll_report_due(tz, d->day, d->hour, now, &m, &at))
			continue;
		/* a customer added after the month: nothing to report */
		if (v[i].created_at >= coll_month_start(tz, coll_month_next(m)))
			continue;
		ret->due++;
		enum coll_report_outcome o;
		char why[512] = "";
		double t0 = mono_ms();
		r = coll_report_deliver(d, s, &v[i], m, now, &o, why, sizeof(why));
		if (o == COLL_REPORT_SENT || o == COLL_REPORT_STORED)
			ms[n_ms++] = mono_ms() - t0;
		if (r < 0) {
			snprintf(err, errlen, "%s", why);
			break;
		}
		ret->sent += o == COLL_REPORT_SENT;
		ret->stored += o == COLL_REPORT_STORED;
		ret->held += o == COLL_REPORT_NOT_MINE;
		if (o == COLL_REPORT_FAILED) {
			ret->failed++;
			snprintf(err, errlen, "%s", why); /* the last failure, for the log */
		}
	}
	if (n_ms) {
		qsort(ms, n_ms, sizeof(*ms), cmp_ms);
		ret->median_ms = n_ms % 2 ? ms[n_ms / 2] : (ms[n_ms / 2 - 1] + ms[n_ms / 2]) / 2;
		ret->max_ms = ms[n_ms - 1];
	}
	for (size_t i = 0; i < cache.n; i++)
		coll_tz_free(&cache.tz[i]);
	free(ms);
	free(v);
	return r;
}
