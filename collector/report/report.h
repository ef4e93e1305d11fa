/* The monthly health report (issue 13): one model of a customer's month,
 * rendered to PDF (cairo + pango) or to one self-contained HTML file.
 *
 * This header is the seam between the renderer (model.c, render_*.c) and
 * its users (the `report` CLI, the monthly scheduler, the reports API).
 * Both formats come from the same model, so they never disagree. */
#ifndef COLL_REPORT_H
#define COLL_REPORT_H

#include <stddef.h>
#include <stdint.h>

struct coll_store;
struct coll_incident_ctx;

enum coll_report_format {
	COLL_REPORT_PDF,
	COLL_REPORT_HTML,
};

struct coll_report_request {
	const char *customer;  /* customer id or name */
	int year;              /* e.g. 2026 */
	int month;             /* 1..12 */
	const char *lang;      /* "en" | "zh-CN" (NULL: "en") */
	const char *time_zone; /* IANA name for the month's bounds and times (NULL: "UTC") */
	int64_t now;           /* the clock (tests inject it) */
	/* the incident tiers for the SLA section (the collector's
	 * cfg->service.ctx); NULL = the built-in tiers */
	const struct coll_incident_ctx *incidents;
};

/* Renders the report into *ret (malloc'd, *ret_len bytes; the caller frees).
 * Returns 0, or -1 with a specific message in err (what, where, what to do):
 * unknown customer, month in the future, store error, rendering error. */
int coll_report_render(struct coll_store *s, const struct coll_report_request *rq,
		       enum coll_report_format format, unsigned char **ret, size_t *ret_len,
		       char *err, size_t err_size);

/* The file name a report is offered under: "erpulse-<customer>-2026-11.zh-CN.pdf". */
int coll_report_filename(const char *customer_name, int year, int month, const char *lang,
			 enum coll_report_format format, char *buf, size_t size);

#endif
