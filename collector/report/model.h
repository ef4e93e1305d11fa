/* The monthly report's model (issue 13, docs/report.md): what the store
 * says about one customer's month, gathered once, with no language in it.
 * collector/report/doc.c turns it into localized blocks; both renderers
 * draw those blocks, so the PDF and the HTML never disagree. Where the
 * store has no data a part stays empty (n == 0, has_* false, NAN) and the
 * report says so: nothing is invented. */
#ifndef COLL_REPORT_MODEL_H
#define COLL_REPORT_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/store/incidents.h"
#include "collector/store/store.h"

#define COLL_REPORT_TREND_MONTHS 6
#define COLL_REPORT_CATEGORIES   5 /* database, storage, errors, patches, liveness */
#define COLL_REPORT_MAX_RISKS    5
#define COLL_REPORT_MAX_ROWS     12  /* rows of any other list */
#define COLL_REPORT_MAX_POINTS   62  /* points of a monthly series (twice a day) */
#define COLL_REPORT_MAX_HOSTS    512 /* hosts whose names (labels) the report knows */
#define COLL_REPORT_PROMISE_PCT  95  /* the resolution rate promised (docs/incidents.md) */

enum coll_rating {
	COLL_RATING_GREEN,
	COLL_RATING_YELLOW,
	COLL_RATING_RED,
	COLL_RATING_GREY, /* no fresh data */
};
const char *coll_rating_name(enum coll_rating r); /* "green", ... */

/* A series of one month: t epoch seconds, v its value (bucket mean). */
struct coll_report_series {
	char host[128];
	char object[256];
	size_t n;
	int64_t t[COLL_REPORT_MAX_POINTS];
	double v[COLL_REPORT_MAX_POINTS];
};

struct coll_report_category {
	enum coll_rating rating;
	int score;        /* worst host's category score, -1 = none */
	char kind[64];    /* the worst deduction's finding kind ("" = none) */
	char object[256]; /* and its object */
	char host[128];   /* and its host */
	double prev, cur; /* month means of the worst host's daily scores (NAN = none) */
};

struct coll_report_risk {
	char agent_id[COLL_ID_SIZE];
	char host[128], kind[64], object[256];
	int severity; /* 1 warning, 2 critical */
	int points;
	double value;        /* NAN = none */
	char state[32];      /* its incident's state, "" = no incident */
	int64_t incident_id; /* 0 = none */
};

struct coll_report_fix {
	char host[128], kind[64], object[256];
	double before, after; /* NAN = unknown */
	int64_t resolved_at;
	int64_t incident_id;
};

struct coll_report_sla {
	bool has;
	char tier[32];
	int64_t target_critical_s, target_warning_s; /* response targets, 0 = unknown */
	int64_t opened, excluded, responded, resolved, resolved_within, breaches, open;
	int64_t p50_s, p90_s;   /* -1 = none */
	double within_share;    /* 0..1, NAN = none judged */
	double resolution_rate; /* 0..1, NAN = none */
};

struct coll_report_fs {
	struct coll_report_series s; /* disk usage, % */
	double first, last;          /* NAN = none */
	int64_t full_at;             /* forecast date, 0 = none */
};

struct coll_report_patch {
	char host[128];
	int64_t security;      /* pending security updates, -1 = unknown */
	int64_t pending_since; /* first sample of the current run of > 0, 0 = unknown */
	int reboot;            /* 1 yes, 0 no, -1 unknown */
	int64_t eol_at;        /* OS end of life, 0 = unknown */
};

struct coll_report_signature {
	char host[128], source[128];
	char text[256];
	int64_t count;
};

struct coll_report_backup {
	char host[128], object[256];
	double age_h;
	int severity;
};

struct coll_report_model {
	char customer_id[COLL_ID_SIZE];
	char customer[256];
	int year, month;
	int64_t from, to, now; /* the month [from, to) in the customer's zone */
	int32_t utc_offset;    /* the zone's offset at from (display of dates) */
	char time_zone[64];
	size_t hosts;
	/* each host's name as the portal shows it: its label, else its hostname */
	size_t n_names;
	struct {
		char agent_id[COLL_ID_SIZE];
		char name[128];
	} names[COLL_REPORT_MAX_HOSTS];

	/* overall */
	int score;                              /* -1 = no score */
	char band[16];                          /* healthy | at_risk | critical | unknown | "" */
	double trend[COLL_REPORT_TREND_MONTHS]; /* monthly mean, oldest first; NAN = no data */
	int trend_year[COLL_REPORT_TREND_MONTHS], trend_month[COLL_REPORT_TREND_MONTHS];

	struct coll_report_category cat[COLL_REPORT_CATEGORIES];

	size_t n_risks;
	struct coll_report_risk risks[COLL_REPORT_MAX_RISKS];

	size_t n_fixes;
	struct coll_report_fix fixes[COLL_REPORT_MAX_ROWS];

	struct coll_report_sla sla;

	size_t n_fs;
	struct coll_report_fs fs[COLL_REPORT_MAX_ROWS];

	/* database */
	size_t n_indexes;
	struct coll_report_series indexes[COLL_REPORT_MAX_ROWS]; /* worst last value first */
	int64_t indexes_over;   /* index_fragmentation findings at warning or worse, -1 = no data */
	double index_threshold; /* the findings' threshold, NAN = unknown */
	int64_t maintenance_debt; /* maintenance findings (vacuum, statistics, ...), -1 = none */
	size_t n_backups;
	struct coll_report_backup backups[COLL_REPORT_MAX_ROWS];

	size_t n_patches;
	struct coll_report_patch patches[COLL_REPORT_MAX_ROWS];

	/* logs: error records per minute, all sources summed per bucket */
	struct coll_report_series errors;
	size_t n_signatures;
	struct coll_report_signature signatures[COLL_REPORT_MAX_ROWS];

	/* month over month (incidents) */
	int64_t incidents_new, incidents_resolved;
};

struct coll_report_request;

/* Gathers rq's customer and month from s (ctx: the incident tiers, NULL =
 * the built-in ones). *ret is filled (plain data, nothing to free).
 * 0, or -ENOENT (unknown customer), -EINVAL (bad month, month in the
 * future, bad time zone), -errno from the store; err says which. */
int coll_report_model_build(struct coll_store *s, const struct coll_report_request *rq,
			    struct coll_report_model *ret, char *err, size_t err_size);

/* Pure parts, for tests. */
/* A category's rating from its worst score, its worst deduction's severity
 * (0 none) and whether any host had fresh data for it. */
enum coll_rating coll_report_rating(int score, int worst_severity, bool fresh);
/* The start (epoch s) of local month y-m in a zone of offset function tz
 * (NULL = UTC); m may be out of 1..12 (normalized). */
int64_t coll_report_month_start(const struct coll_tz *tz, int y, int m);
/* Mean of the values of s with t in [from, to); NAN when none. */
double coll_report_series_mean(const struct coll_report_series *s, int64_t from, int64_t to);

#endif
