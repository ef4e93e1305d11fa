/* The monthly report's delivery (docs/report.md, "Delivery"): the scheduler
 * tick that renders each customer's previous month on the configured day
 * and hour of its time zone, stores both formats and mails them once. Runs
 * in the collector's maintenance thread and from `report-schedule`. */
#ifndef COLL_REPORT_DELIVER_H
#define COLL_REPORT_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/notify/notify.h"
#include "collector/report/schedule.h"
#include "collector/store/reports_monthly.h"

/* What delivery needs of the configuration ([report], with [alerts] for
 * what it does not set). Strings are borrowed. */
struct coll_report_delivery {
	bool enabled;
	int day, hour;
	const char *smtp_url; /* NULL: stored only, mail retried until set */
	const char *mail_from;
	const char *dashboard_url; /* linked from the mail, may be NULL */
	struct coll_send_opts send;
	int64_t lease_s;      /* a claim's lease: a crashed sender's month is retried after */
	int64_t retry_s;      /* a failed send is retried after this */
	int64_t max_attempts; /* then given up */
	int64_t keep_months;  /* stored reports kept (0: all) */
	const char *zoneinfo; /* NULL: /usr/share/zoneinfo */
	int64_t budget_ms;    /* a pass stops after this (0: none); the next goes on */
	const struct coll_incident_ctx *incidents; /* the tiers, for the SLA section */
	char worker[96];                           /* who claims: "host:pid" */
};

struct coll_settings;
struct coll_incident_ctx;
/* d from the configuration ([report], [alerts] for the SMTP server, its
 * sender and the TLS/timeout options); worker "host:pid". Borrows cfg. */
void coll_report_delivery_init(const struct coll_settings *cfg, struct coll_report_delivery *d);

struct coll_report_tick_stats {
	size_t customers, due, sent, stored, failed, held;
	double median_ms, max_ms; /* per report delivered (sent or stored) */
	bool more;                /* stopped at budget_ms with customers left */
};

enum coll_report_outcome {
	COLL_REPORT_NOT_MINE, /* another collector holds it, or it is done */
	COLL_REPORT_SENT,     /* stored and mailed */
	COLL_REPORT_STORED,   /* stored; nobody to mail */
	COLL_REPORT_FAILED,   /* err says why; retried later (or given up) */
};

/* Claims (customer, month), renders it in both formats in the customer's
 * language, stores them and mails them. *ret: the outcome. 0, or -errno when
 * the store failed (err: why). */
int coll_report_deliver(const struct coll_report_delivery *d, struct coll_store *s,
			const struct coll_report_target *t, struct coll_month month, int64_t now,
			enum coll_report_outcome *ret, char *err, size_t errlen);

/* One pass over every customer: whose report is due at now is delivered.
 * 0, or -errno when the store failed (err says why). */
int coll_report_tick(const struct coll_report_delivery *d, struct coll_store *s, int64_t now,
		     struct coll_report_tick_stats *ret, char *err, size_t errlen);

#endif
